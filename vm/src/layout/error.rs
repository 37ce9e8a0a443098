//! Errors of the layout algebra and of the layout text syntax.

use std::fmt;

/// A byte range `start..end` in a layout expression's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte of the range.
    pub start: usize,
    /// One past the last byte of the range.
    pub end: usize,
}

impl Span {
    /// The range `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest range that covers both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// The 1-based column (in characters) of `start` within `text`, counted from the last line break.
    pub fn column(self, text: &str) -> usize {
        let start = self.start.min(text.len());
        let prefix = text.get(..start).unwrap_or(text);
        let line_start = prefix.rfind('\n').map_or(0, |position| position + 1);
        prefix[line_start..].chars().count() + 1
    }
}

impl fmt::Display for Span {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}..{}", self.start, self.end)
    }
}

/// What went wrong in a layout operation or while reading a layout expression.
///
/// Every variant is a user error: bad arguments to an operation, or bad text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// User error: the arguments of an operation do not fit (mismatched shapes, bad dims, a zero size...).
    #[error("{message}")]
    Invalid {
        /// What is wrong, in words.
        message: String,
    },
    /// User error: `dividend / divisor` has no solution `z` with `z * divisor == dividend`.
    #[error("cannot divide {dividend} by {divisor}")]
    NotDivisible {
        /// The layout being divided, as text.
        dividend: String,
        /// The layout it was divided by, as text.
        divisor: String,
    },
    /// User error: a thread, local slot or logical index outside the layout.
    #[error("{what} {value} is out of range (must be below {bound})")]
    OutOfRange {
        /// Which kind of index (`thread`, `local slot`, `index`).
        what: &'static str,
        /// The index given.
        value: usize,
        /// The exclusive upper bound.
        bound: usize,
    },
    /// User error: a layout expression that cannot be read or evaluated, with the byte span at fault.
    #[error("{message}")]
    Syntax {
        /// The bytes at fault.
        span: Span,
        /// What is wrong, in words.
        message: String,
    },
}

impl LayoutError {
    /// An [`LayoutError::Invalid`] with the given message.
    pub fn invalid(message: impl Into<String>) -> LayoutError {
        LayoutError::Invalid { message: message.into() }
    }

    /// A [`LayoutError::Syntax`] at `span`.
    pub fn syntax(span: Span, message: impl Into<String>) -> LayoutError {
        LayoutError::Syntax { span, message: message.into() }
    }

    /// The byte span at fault, for errors that come from text.
    pub fn span(&self) -> Option<Span> {
        match self {
            LayoutError::Syntax { span, .. } => Some(*span),
            _ => None,
        }
    }

    /// Attaches `span` to an error that has none, so that evaluation errors point at the call at fault.
    pub fn at(self, span: Span) -> LayoutError {
        match self {
            LayoutError::Syntax { .. } => self,
            other => LayoutError::Syntax { span, message: other.to_string() },
        }
    }
}

/// The result of a layout operation.
pub type LayoutResult<T> = Result<T, LayoutError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_from_the_line_start() {
        assert_eq!(Span::new(0, 1).column("abc"), 1);
        assert_eq!(Span::new(2, 3).column("abc"), 3);
        assert_eq!(Span::new(5, 6).column("ab\ncde"), 3);
    }

    #[test]
    fn errors_stay_small() {
        assert!(std::mem::size_of::<LayoutError>() <= 64);
    }
}
