//! Splits layout text into tokens with byte spans.

use crate::layout::error::{LayoutError, LayoutResult, Span};

/// One token of layout text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// A non-negative integer literal.
    Int(i64),
    /// A name: letters, digits and `_`, not starting with a digit.
    Ident(String),
    /// One of `( ) [ ] , . = + - * / // %`.
    Punct(&'static str),
    /// The end of the text.
    End,
}

/// The tokens of `text`, each with its span, ending with [`Token::End`].
pub(crate) fn tokenize(text: &str) -> LayoutResult<Vec<(Token, Span)>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let byte = bytes[position];
        let start = position;
        if byte.is_ascii_whitespace() {
            position += 1;
            continue;
        }
        if byte.is_ascii_digit() {
            while position < bytes.len() && (bytes[position].is_ascii_digit() || bytes[position] == b'_') {
                position += 1;
            }
            let span = Span::new(start, position);
            let digits: String = text[start..position].chars().filter(|&c| c != '_').collect();
            let value = digits.parse::<i64>().map_err(|_| {
                LayoutError::syntax(span, format!("integer `{}` is too large", &text[start..position]))
            })?;
            tokens.push((Token::Int(value), span));
            continue;
        }
        if byte.is_ascii_alphabetic() || byte == b'_' {
            while position < bytes.len()
                && (bytes[position].is_ascii_alphanumeric() || bytes[position] == b'_')
            {
                position += 1;
            }
            tokens.push((Token::Ident(text[start..position].to_string()), Span::new(start, position)));
            continue;
        }
        if text[start..].starts_with("//") {
            tokens.push((Token::Punct("//"), Span::new(start, start + 2)));
            position += 2;
            continue;
        }
        let punct = match byte {
            b'(' => "(",
            b')' => ")",
            b'[' => "[",
            b']' => "]",
            b',' => ",",
            b'.' => ".",
            b'=' => "=",
            b'+' => "+",
            b'-' => "-",
            b'*' => "*",
            b'/' => "/",
            b'%' => "%",
            _ => {
                let character = text[start..].chars().next().unwrap_or('?');
                let span = Span::new(start, start + character.len_utf8());
                return Err(LayoutError::syntax(span, format!("unexpected character `{character}`")));
            }
        };
        tokens.push((Token::Punct(punct), Span::new(start, start + 1)));
        position += 1;
    }
    tokens.push((Token::End, Span::new(text.len(), text.len())));
    Ok(tokens)
}
