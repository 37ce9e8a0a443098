//! Block-uniform scalar expressions, and the operator enums shared with elementwise tile instructions.

use super::VarId;
use crate::dtype::DataType;

/// A scalar expression tree. Every node carries its result dtype (a compute dtype), set by whoever built
/// it and checked by the verifier, so that backends never work types out again.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// The operation.
    pub kind: ExprKind,
    /// The result's dtype.
    pub dtype: DataType,
}

/// Scalar operations.
///
/// ## Typing rules
/// - `Const(code)`: `code` holds the value's bit pattern in the low `dtype.bits()` bits.
/// - `Var`: the variable's dtype.
/// - `Unary`/`Binary`/`Ternary`: see each operator; operands share the result's dtype except for
///   comparisons (result `bool`), shifts (amount is `u32`) and `Select` (condition `bool`).
/// - `Cast`: any compute dtype to any compute dtype, with the semantics of `crate::dtype::cast`
///   (round to nearest even).
/// - `BlockIndex(axis)` and `GridSize(axis)`: `u32`, `axis` in `0..3` (a missing grid axis has size 1).
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A constant, as a bit pattern of the node's dtype.
    Const(u64),
    /// The current value of a variable.
    Var(VarId),
    /// `op(operand)`.
    Unary(UnaryOp, Box<Expr>),
    /// `lhs op rhs`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `op(a, b, c)`.
    Ternary(TernaryOp, Box<Expr>, Box<Expr>, Box<Expr>),
    /// Conversion of the operand to the node's dtype.
    Cast(Box<Expr>),
    /// The index of the running block along an axis.
    BlockIndex(u8),
    /// The number of blocks of the grid along an axis.
    GridSize(u8),
}

/// One-operand operators. Float-only operators reject integers in the verifier.
///
/// Exactness: `Neg`, `Abs`, `Not`, `Floor`, `Ceil`, `Round` (half to even), `Trunc` and `Sqrt` are exact
/// (IEEE); the transcendental ones (`Exp`, `Exp2`, `Log`, `Log2`, `Sin`, `Cos`, `Tanh`, `Rsqrt`) may differ
/// between backends within a few ulp, and tests compare them with a tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x` (integers wrap).
    Neg,
    /// Bitwise not for integers, logical not for `bool`.
    Not,
    /// `|x|` (integers wrap: `abs(MIN) == MIN`).
    Abs,
    /// e^x.
    Exp,
    /// 2^x.
    Exp2,
    /// Natural logarithm.
    Log,
    /// Base-2 logarithm.
    Log2,
    /// Square root (correctly rounded).
    Sqrt,
    /// 1 / sqrt(x).
    Rsqrt,
    /// Sine.
    Sin,
    /// Cosine.
    Cos,
    /// Hyperbolic tangent.
    Tanh,
    /// Round toward -inf.
    Floor,
    /// Round toward +inf.
    Ceil,
    /// Round to nearest, ties to even.
    Round,
    /// Round toward zero.
    Trunc,
}

/// Two-operand operators.
///
/// Integer semantics (defined once, in the interpreter): `+ - *` wrap; `x / 0 == x` and `x % 0 == 0`;
/// `MIN / -1 == MIN` and `MIN % -1 == 0`; division truncates toward zero and `%` has the sign of `x`;
/// shift amounts are taken modulo the bit width; `Shr` is arithmetic for signed types.
/// Float semantics: IEEE binary32 with round-to-nearest-even; `f16`/`bf16` compute in `f32` and round
/// once. `Min`/`Max` of a NaN and a number return the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// Addition.
    Add,
    /// Subtraction.
    Sub,
    /// Multiplication.
    Mul,
    /// Division.
    Div,
    /// Remainder.
    Rem,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Bitwise and (logical for `bool`).
    And,
    /// Bitwise or (logical for `bool`).
    Or,
    /// Bitwise xor (logical for `bool`).
    Xor,
    /// Shift left.
    Shl,
    /// Shift right.
    Shr,
    /// `==` (result `bool`; NaN is unequal to everything).
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

/// Three-operand operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TernaryOp {
    /// `a * b + c`: for `f32` with a single rounding; for `f16`/`bf16` the product is exact in `f64`, the sum
    /// is rounded to `f64` and then once more to the format (exact unless the sum needs more than 53 bits).
    Fma,
    /// `if a { b } else { c }`; `a` is `bool`.
    Select,
}

impl BinaryOp {
    /// Whether the result is `bool` whatever the operands are.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
}

impl Expr {
    /// A constant of `dtype` with the given bit pattern.
    pub fn constant(dtype: DataType, code: u64) -> Expr {
        Expr { kind: ExprKind::Const(code), dtype }
    }

    /// An `i32` constant.
    pub fn i32(value: i32) -> Expr {
        Expr::constant(DataType::I32, u64::from(value as u32))
    }

    /// A `u32` constant.
    pub fn u32(value: u32) -> Expr {
        Expr::constant(DataType::U32, u64::from(value))
    }

    /// An `f32` constant.
    pub fn f32(value: f32) -> Expr {
        Expr::constant(DataType::F32, u64::from(value.to_bits()))
    }

    /// A `bool` constant.
    pub fn bool(value: bool) -> Expr {
        Expr::constant(DataType::BOOL, u64::from(value))
    }

    /// Reads a variable of the given dtype.
    pub fn var(var: VarId, dtype: DataType) -> Expr {
        Expr { kind: ExprKind::Var(var), dtype }
    }

    /// `op(self)`, of the operand's dtype.
    pub fn unary(op: UnaryOp, operand: Expr) -> Expr {
        let dtype = operand.dtype;
        Expr { kind: ExprKind::Unary(op, Box::new(operand)), dtype }
    }

    /// `lhs op rhs`: `bool` for comparisons, else the left operand's dtype.
    pub fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
        let dtype = if op.is_comparison() { DataType::BOOL } else { lhs.dtype };
        Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), dtype }
    }

    /// `op(a, b, c)`: the dtype of `b` (the first value operand of `Select`, or `Fma`'s).
    pub fn ternary(op: TernaryOp, a: Expr, b: Expr, c: Expr) -> Expr {
        let dtype = b.dtype;
        Expr { kind: ExprKind::Ternary(op, Box::new(a), Box::new(b), Box::new(c)), dtype }
    }

    /// Converts to `dtype`.
    pub fn cast(self, dtype: DataType) -> Expr {
        Expr { kind: ExprKind::Cast(Box::new(self)), dtype }
    }

    /// The index of the running block along `axis`.
    pub fn block_index(axis: u8) -> Expr {
        Expr { kind: ExprKind::BlockIndex(axis), dtype: DataType::U32 }
    }

    /// The grid's size along `axis`.
    pub fn grid_size(axis: u8) -> Expr {
        Expr { kind: ExprKind::GridSize(axis), dtype: DataType::U32 }
    }
}
