//! Scalar operator semantics: the one definition of every unary, binary and ternary operator and of casts,
//! on codes. Elementwise tile instructions and scalar expressions both use these; backends test against them.
//!
//! Integers (and `bool`, a 1-bit unsigned integer) wrap at their width: `x / 0 == x`, `x % 0 == 0`,
//! `MIN / -1 == MIN`, `MIN % -1 == 0`, division truncates toward zero, shift amounts are taken modulo the
//! width and `Shr` is arithmetic for signed types. Floats of every format compute in `f32` and round once to
//! their format (exact for `f32`; correctly rounded for `+ - * / sqrt` on `f16`/`bf16`); `Neg` and `Abs`
//! flip and clear the sign bit. `Min`/`Max` of a NaN and a number return the number, and prefer `-0` / `+0`
//! when the operands are zeros of both signs. NaN results are the format's canonical quiet NaN.
//!
//! An operator applied to a dtype it is not defined on (bitwise operators on floats, transcendental
//! functions on integers) is a verifier error; the interpreter returns the first operand unchanged.

use super::codec::{
    float_from_f32, float_from_f64, float_to_f32, float_to_f64, int_shape, mask, sign_bit, sign_extend,
};
use crate::dtype::{DataType, FloatType};
use crate::ir::{BinaryOp, Rounding, TernaryOp, UnaryOp};

/// `op(code)` for an operand and result of `dtype`.
pub fn eval_unary(op: UnaryOp, dtype: DataType, code: u64) -> u64 {
    match dtype {
        DataType::Float(float) => float_unary(op, float, code),
        _ => int_unary(op, dtype, code),
    }
}

/// `lhs op rhs` for operands of `dtype` (the shift amount of `Shl`/`Shr` is a `u32`). Comparisons give a
/// `bool` code (0 or 1); every other operator a code of `dtype`.
pub fn eval_binary(op: BinaryOp, dtype: DataType, lhs: u64, rhs: u64) -> u64 {
    match dtype {
        DataType::Float(float) => float_binary(op, float, lhs, rhs),
        _ => int_binary(op, dtype, lhs, rhs),
    }
}

/// `op(a, b, c)`: `dtype` is the type of `b` and `c` (and of `a` for `Fma`); `Select`'s `a` is a `bool`.
///
/// `Fma` is `a * b + c` rounded once: with `f32::mul_add` for `f32`; for other float formats the product is
/// exact in `f64`, the sum is rounded to `f64` and then once to the format; integers wrap.
pub fn eval_ternary(op: TernaryOp, dtype: DataType, a: u64, b: u64, c: u64) -> u64 {
    match op {
        TernaryOp::Select => {
            if a & 1 != 0 {
                b
            } else {
                c
            }
        }
        TernaryOp::Fma => match dtype {
            DataType::Float(float) if dtype == DataType::F32 => {
                let result = float_to_f32(float, a).mul_add(float_to_f32(float, b), float_to_f32(float, c));
                float_from_f32(float, result)
            }
            DataType::Float(float) => {
                let result = float_to_f64(float, a) * float_to_f64(float, b) + float_to_f64(float, c);
                float_from_f64(float, result)
            }
            _ => {
                let (_, bits) = int_shape(dtype);
                a.wrapping_mul(b).wrapping_add(c) & mask(bits)
            }
        },
    }
}

/// Converts `code` from `from` to `to`: exactly [`crate::dtype::cast`], the one definition of conversion
/// (float → integer truncates toward zero and saturates, NaN gives 0; integer → integer wraps; every float
/// result is rounded once with `rounding`). `index` is the counter that stochastic rounding draws its random
/// bits from (the element's row-major logical index in a tile).
pub fn eval_cast(from: DataType, to: DataType, code: u64, rounding: Rounding, index: u64) -> u64 {
    crate::dtype::cast(from, to, code, rounding, index)
}

fn int_unary(op: UnaryOp, dtype: DataType, code: u64) -> u64 {
    let (signed, bits) = int_shape(dtype);
    let value = code & mask(bits);
    let result = match op {
        UnaryOp::Neg => value.wrapping_neg(),
        UnaryOp::Not => !value,
        UnaryOp::Abs if signed && sign_extend(value, bits) < 0 => value.wrapping_neg(),
        _ => value,
    };
    result & mask(bits)
}

fn float_unary(op: UnaryOp, float: FloatType, code: u64) -> u64 {
    let x = float_to_f32(float, code);
    let result = match op {
        UnaryOp::Neg => return code ^ sign_bit(float),
        UnaryOp::Abs => return code & !sign_bit(float),
        UnaryOp::Not => return code,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Exp2 => x.exp2(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Log2 => x.log2(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => 1.0 / x.sqrt(),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Floor => x.floor(),
        UnaryOp::Ceil => x.ceil(),
        UnaryOp::Round => x.round_ties_even(),
        UnaryOp::Trunc => x.trunc(),
    };
    float_from_f32(float, result)
}

fn float_binary(op: BinaryOp, float: FloatType, lhs: u64, rhs: u64) -> u64 {
    let (a, b) = (float_to_f32(float, lhs), float_to_f32(float, rhs));
    let result = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Rem => a % b,
        BinaryOp::Min => min_number(a, b),
        BinaryOp::Max => -min_number(-a, -b),
        BinaryOp::Eq => return u64::from(a == b),
        BinaryOp::Ne => return u64::from(a != b),
        BinaryOp::Lt => return u64::from(a < b),
        BinaryOp::Le => return u64::from(a <= b),
        BinaryOp::Gt => return u64::from(a > b),
        BinaryOp::Ge => return u64::from(a >= b),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Xor | BinaryOp::Shl | BinaryOp::Shr => return lhs,
    };
    float_from_f32(float, result)
}

/// IEEE minNum with `-0 < +0`: a NaN operand yields the other one.
fn min_number(a: f32, b: f32) -> f32 {
    if a.is_nan() {
        b
    } else if b.is_nan() || a < b {
        a
    } else if b < a {
        b
    } else if a.is_sign_negative() {
        a
    } else {
        b
    }
}

fn int_binary(op: BinaryOp, dtype: DataType, lhs: u64, rhs: u64) -> u64 {
    let (signed, bits) = int_shape(dtype);
    let (a, b) = (lhs & mask(bits), rhs & mask(bits));
    let (sa, sb) = (sign_extend(a, bits), sign_extend(b, bits));
    let less = |x: u64, y: u64| if signed { sign_extend(x, bits) < sign_extend(y, bits) } else { x < y };
    let shift = (rhs % u64::from(bits)) as u32;
    let result = match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::Div if b == 0 => a,
        BinaryOp::Div if signed => sa.wrapping_div(sb) as u64,
        BinaryOp::Div => a / b,
        BinaryOp::Rem if b == 0 => 0,
        BinaryOp::Rem if signed => sa.wrapping_rem(sb) as u64,
        BinaryOp::Rem => a % b,
        BinaryOp::Min => {
            if less(b, a) {
                b
            } else {
                a
            }
        }
        BinaryOp::Max => {
            if less(a, b) {
                b
            } else {
                a
            }
        }
        BinaryOp::And => a & b,
        BinaryOp::Or => a | b,
        BinaryOp::Xor => a ^ b,
        BinaryOp::Shl => a << shift,
        BinaryOp::Shr if signed => (sa >> shift) as u64,
        BinaryOp::Shr => a >> shift,
        BinaryOp::Eq => return u64::from(a == b),
        BinaryOp::Ne => return u64::from(a != b),
        BinaryOp::Lt => return u64::from(less(a, b)),
        BinaryOp::Le => return u64::from(!less(b, a)),
        BinaryOp::Gt => return u64::from(less(b, a)),
        BinaryOp::Ge => return u64::from(!less(a, b)),
    };
    result & mask(bits)
}

#[cfg(test)]
#[path = "scalar_tests.rs"]
mod tests;
