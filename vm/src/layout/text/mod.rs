//! The text syntax of layouts, shared by the `.tile` language and the CLI: parser, evaluator, printer.
//!
//! The syntax is Tilus's Python spelling: `local(2, 1).spatial(8, 4).local(1, 2)`, `a * b`, `a / b`,
//! `reduce(x, dims=[0], keepdims=True)`, `mma.m16n8k16_f16_a`, integer arithmetic in arguments
//! (`spatial(BLOCK_N / 4, 4)` with `BLOCK_N` from an environment), and the shared layouts `row_major(...)`,
//! `column_major(...)`, `padded(..., pad=p)`, `strided(shape=[...], strides=[...])`, `swizzle(x, bits=,
//! base=, shift=)`. `Display` on [`RegisterLayout`] and [`SharedLayout`] prints text that parses back.

mod eval;
mod lexer;
mod parser;
mod print;

pub use eval::Environment;
pub use parser::MAX_DEPTH;

use eval::Value;

use super::error::{LayoutError, LayoutResult};
use super::register::RegisterLayout;
use super::shared::SharedLayout;

/// Parses and evaluates a register layout expression.
///
/// # Errors
/// [`LayoutError::Syntax`] with the byte span at fault, for bad text and for bad arguments alike.
pub fn parse_register_layout(text: &str) -> LayoutResult<RegisterLayout> {
    parse_register_layout_with(text, &|_| None)
}

/// Like [`parse_register_layout`], with `environment` resolving names such as `BLOCK_N` to integers.
///
/// # Errors
/// [`LayoutError::Syntax`] with the byte span at fault.
pub fn parse_register_layout_with(text: &str, environment: Environment<'_>) -> LayoutResult<RegisterLayout> {
    let expr = parser::parse(text)?;
    match eval::evaluate(&expr, environment)? {
        Value::Register(layout) => Ok(layout),
        other => {
            Err(LayoutError::syntax(expr.span, format!("expected a register layout, found {}", other.kind())))
        }
    }
}

/// Parses and evaluates a shared layout expression.
///
/// # Errors
/// [`LayoutError::Syntax`] with the byte span at fault.
pub fn parse_shared_layout(text: &str) -> LayoutResult<SharedLayout> {
    parse_shared_layout_with(text, &|_| None)
}

/// Like [`parse_shared_layout`], with `environment` resolving names to integers.
///
/// # Errors
/// [`LayoutError::Syntax`] with the byte span at fault.
pub fn parse_shared_layout_with(text: &str, environment: Environment<'_>) -> LayoutResult<SharedLayout> {
    let expr = parser::parse(text)?;
    match eval::evaluate(&expr, environment)? {
        Value::Shared(layout) => Ok(layout),
        other => {
            Err(LayoutError::syntax(expr.span, format!("expected a shared layout, found {}", other.kind())))
        }
    }
}

#[cfg(test)]
mod tests;
