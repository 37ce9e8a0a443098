//! The text form of the IR: a stable, human-readable printer and a parser that reads it back exactly.
//!
//! `parse_module(&print_module(&module)) == Ok(module)` for every module whose dtypes have canonical names.
//! The form, by example:
//!
//! ```text
//! kernel @scale threads=32 shared_limit=32768 grid=[1:u32] {
//!   param %p0 "x" global f32
//!   param %p1 "y" global mut f32
//!   param %p2 "k" scalar %v0
//!   var %v0 "k" f32
//!   tile %t0 "t" f32 spatial(32)
//!   global %g0 "vx" f32 %p0
//!   %g0 = view_global shape=[32:i32], strides=[1:i32], offset=0:i32
//!   %t0 = load_global %g0, offsets=[0:i32], dims=[0]
//!   %t0 = mul %t0, %v0:f32
//!   for %v1 in 0:i32 .. 4:i32 step 1:i32 {
//!     sync
//!   }
//! }
//! ```
//!
//! Declarations (parameters, variables, register tiles with dtype and layout, shared tiles, global views)
//! come first, in handle order; then the body, one statement per line, nested blocks in braces and
//! indented by two spaces. Scalar expressions carry their dtype on every node: `5:i32`, `%v0:f32`,
//! `add:i32(%v0:i32, 1:i32)`, `block_index:u32(0)`; float constants print their bit pattern in hex. A
//! statement with a source span ends in `@start..end`. Handles print as their `Display` (`%t3`), kernels as
//! `@name`, dtypes by canonical name and layouts in the layout text syntax.

mod cursor;
mod parse;
mod print;

pub use parse::parse_module;
pub use print::{print_inst, print_kernel_text, print_module};

/// A syntax error in IR text, with the 1-based line and column where it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The text does not follow the grammar (a user error).
    #[error("{line}:{column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What was expected or is wrong.
        message: String,
    },
}

/// The text names of elementwise operators, reductions and rounding modes, shared by printer and parser.
pub(crate) mod names {
    use crate::ir::{BinaryOp, ElementwiseOp, ReduceOp, TernaryOp, UnaryOp};

    /// Every elementwise operator with its name.
    pub(crate) const OPERATORS: &[(&str, ElementwiseOp)] = &[
        ("neg", ElementwiseOp::Unary(UnaryOp::Neg)),
        ("not", ElementwiseOp::Unary(UnaryOp::Not)),
        ("abs", ElementwiseOp::Unary(UnaryOp::Abs)),
        ("exp", ElementwiseOp::Unary(UnaryOp::Exp)),
        ("exp2", ElementwiseOp::Unary(UnaryOp::Exp2)),
        ("log", ElementwiseOp::Unary(UnaryOp::Log)),
        ("log2", ElementwiseOp::Unary(UnaryOp::Log2)),
        ("sqrt", ElementwiseOp::Unary(UnaryOp::Sqrt)),
        ("rsqrt", ElementwiseOp::Unary(UnaryOp::Rsqrt)),
        ("sin", ElementwiseOp::Unary(UnaryOp::Sin)),
        ("cos", ElementwiseOp::Unary(UnaryOp::Cos)),
        ("tanh", ElementwiseOp::Unary(UnaryOp::Tanh)),
        ("floor", ElementwiseOp::Unary(UnaryOp::Floor)),
        ("ceil", ElementwiseOp::Unary(UnaryOp::Ceil)),
        ("round", ElementwiseOp::Unary(UnaryOp::Round)),
        ("trunc", ElementwiseOp::Unary(UnaryOp::Trunc)),
        ("add", ElementwiseOp::Binary(BinaryOp::Add)),
        ("sub", ElementwiseOp::Binary(BinaryOp::Sub)),
        ("mul", ElementwiseOp::Binary(BinaryOp::Mul)),
        ("div", ElementwiseOp::Binary(BinaryOp::Div)),
        ("rem", ElementwiseOp::Binary(BinaryOp::Rem)),
        ("min", ElementwiseOp::Binary(BinaryOp::Min)),
        ("max", ElementwiseOp::Binary(BinaryOp::Max)),
        ("and", ElementwiseOp::Binary(BinaryOp::And)),
        ("or", ElementwiseOp::Binary(BinaryOp::Or)),
        ("xor", ElementwiseOp::Binary(BinaryOp::Xor)),
        ("shl", ElementwiseOp::Binary(BinaryOp::Shl)),
        ("shr", ElementwiseOp::Binary(BinaryOp::Shr)),
        ("eq", ElementwiseOp::Binary(BinaryOp::Eq)),
        ("ne", ElementwiseOp::Binary(BinaryOp::Ne)),
        ("lt", ElementwiseOp::Binary(BinaryOp::Lt)),
        ("le", ElementwiseOp::Binary(BinaryOp::Le)),
        ("gt", ElementwiseOp::Binary(BinaryOp::Gt)),
        ("ge", ElementwiseOp::Binary(BinaryOp::Ge)),
        ("fma", ElementwiseOp::Ternary(TernaryOp::Fma)),
        ("select", ElementwiseOp::Ternary(TernaryOp::Select)),
    ];

    /// Every reduction with its name.
    pub(crate) const REDUCTIONS: &[(&str, ReduceOp)] = &[
        ("sum", ReduceOp::Sum),
        ("prod", ReduceOp::Prod),
        ("max", ReduceOp::Max),
        ("min", ReduceOp::Min),
        ("argmax", ReduceOp::ArgMax),
        ("argmin", ReduceOp::ArgMin),
    ];

    /// The name of an operator.
    pub(crate) fn operator(op: ElementwiseOp) -> &'static str {
        OPERATORS.iter().find(|(_, candidate)| *candidate == op).map_or("?", |(name, _)| name)
    }

    /// The name of a reduction.
    pub(crate) fn reduction(op: ReduceOp) -> &'static str {
        REDUCTIONS.iter().find(|(_, candidate)| *candidate == op).map_or("?", |(name, _)| name)
    }
}

#[cfg(test)]
mod tests;
