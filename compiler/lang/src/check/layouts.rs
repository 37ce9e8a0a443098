//! Layouts: the checker's one door to the layout module (parsing layout text, inferring defaults).
//!
//! Layout expressions are not parsed by the `.tile` grammar's rules of meaning: the checker hands the
//! expression's source text to [`tilevm_vm::layout::parse_register_layout_with`], so the language and
//! the `tilevm layout` command share one syntax.

use tilevm_vm::layout::{self, LayoutError, RegisterLayout, SharedLayout};

/// A layout error: a message and the byte range of the layout text at fault (relative to the text).
pub(crate) struct LayoutTextError {
    pub message: String,
    pub range: std::ops::Range<usize>,
}

fn text_error(error: LayoutError, text: &str) -> LayoutTextError {
    let range = error.span().map_or(0..text.len(), |span| span.start..span.end);
    let message = match &error {
        LayoutError::Syntax { message, .. } => message.clone(),
        other => other.to_string(),
    };
    LayoutTextError { message, range }
}

/// Parses and evaluates a register layout expression; `environment` resolves kernel constants.
pub(crate) fn parse_register(
    text: &str,
    environment: &dyn Fn(&str) -> Option<i64>,
) -> Result<RegisterLayout, LayoutTextError> {
    layout::parse_register_layout_with(text, environment).map_err(|error| text_error(error, text))
}

/// The layout a register tile gets when none is written: `spatial(...).local(...)` with the threads on
/// the outermost dimensions, so each thread holds a contiguous block with a run of consecutive elements
/// along the last dimension (whole-word loads of low-bit codes on the GPU), leftover threads as replicas.
pub(crate) fn default_register(shape: &[usize], num_threads: usize) -> Result<RegisterLayout, String> {
    layout::auto_spatial_local(num_threads, shape).map_err(|error| error.to_string())
}

/// The layout of a shared tile when none is written: row-major.
pub(crate) fn default_shared(shape: &[usize]) -> Result<SharedLayout, String> {
    SharedLayout::row_major(shape).map_err(|error| error.to_string())
}

/// Parses a shared layout expression and checks it has the tile's shape.
pub(crate) fn parse_shared(
    text: &str,
    environment: &dyn Fn(&str) -> Option<i64>,
    shape: &[usize],
) -> Result<SharedLayout, LayoutTextError> {
    let parsed =
        layout::parse_shared_layout_with(text, environment).map_err(|error| text_error(error, text))?;
    if parsed.shape() != shape {
        return Err(LayoutTextError {
            message: format!("the layout has shape {:?}, the tile {:?}", parsed.shape(), shape),
            range: 0..text.len(),
        });
    }
    Ok(parsed)
}
