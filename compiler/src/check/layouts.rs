//! Layouts: the checker's one door to the layout module (parsing layout text, inferring defaults).

use tilevm_vm::RegisterLayout;
use tilevm_vm::ir::SharedLayout;

/// A layout error: a message and the byte range of the layout text at fault (relative to the text).
pub(crate) struct LayoutTextError {
    pub message: String,
    pub range: std::ops::Range<usize>,
}

/// Parses and evaluates a register layout expression; `environment` resolves kernel constants.
pub(crate) fn parse_register(
    text: &str,
    environment: &dyn Fn(&str) -> Option<i64>,
) -> Result<RegisterLayout, LayoutTextError> {
    // Stand-in until the layout module's text parser lands: a single `spatial(...)` or `local(...)`.
    let whole = 0..text.len();
    let open = text.find('(').ok_or_else(|| LayoutTextError {
        message: "expected a layout expression such as `spatial(8, 4)`".to_string(),
        range: whole.clone(),
    })?;
    let name = text[..open].trim();
    let inner = text[open + 1..].strip_suffix(')').ok_or_else(|| LayoutTextError {
        message: "only a single layout primitive is supported yet".to_string(),
        range: whole.clone(),
    })?;
    let mut shape = Vec::new();
    for part in inner.split(',') {
        let part = part.trim();
        let value = part.parse::<i64>().ok().or_else(|| environment(part));
        match value.and_then(|value| usize::try_from(value).ok()).filter(|&value| value > 0) {
            Some(value) => shape.push(value),
            None => {
                return Err(LayoutTextError {
                    message: format!("layout argument `{part}` is not a positive integer"),
                    range: whole,
                });
            }
        }
    }
    match name {
        "spatial" => Ok(RegisterLayout::spatial(&shape)),
        "local" => Ok(RegisterLayout::local(&shape)),
        _ => Err(LayoutTextError { message: format!("unknown layout primitive `{name}`"), range: 0..open }),
    }
}

/// The layout a register tile gets when none is written: `local(...).spatial(...)` with the threads on
/// the innermost dimensions (consecutive threads hold consecutive elements), leftover threads as replicas.
pub(crate) fn default_register(shape: &[usize], num_threads: usize) -> Result<RegisterLayout, String> {
    let mut remaining = num_threads.max(1);
    let mut local = shape.to_vec();
    let mut spatial = vec![1; shape.len()];
    for dim in (0..shape.len()).rev() {
        let here = gcd(remaining, local[dim]);
        spatial[dim] = here;
        remaining /= here;
        local[dim] /= here;
    }
    let mut mode_shape = Vec::new();
    let mut spatial_modes: Vec<isize> = Vec::new();
    let mut local_modes = Vec::new();
    if remaining > 1 {
        spatial_modes.push(-(remaining as isize));
    }
    for dim in 0..shape.len() {
        if local[dim] > 1 {
            local_modes.push(mode_shape.len());
            mode_shape.push(local[dim]);
        }
        if spatial[dim] > 1 {
            spatial_modes.push(mode_shape.len() as isize);
            mode_shape.push(spatial[dim]);
        }
    }
    Ok(RegisterLayout::from_modes_unchecked(shape.to_vec(), mode_shape, spatial_modes, local_modes))
}

/// The layout of a shared tile when none is written: row-major.
pub(crate) fn default_shared(shape: &[usize]) -> Result<SharedLayout, String> {
    Ok(SharedLayout::row_major(shape))
}

/// Parses a shared layout expression.
pub(crate) fn parse_shared(
    text: &str,
    _environment: &dyn Fn(&str) -> Option<i64>,
    shape: &[usize],
) -> Result<SharedLayout, LayoutTextError> {
    match text.trim() {
        "row_major" => Ok(SharedLayout::row_major(shape)),
        _ => Err(LayoutTextError {
            message: "only `row_major` shared layouts are supported yet".to_string(),
            range: 0..text.len(),
        }),
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}
