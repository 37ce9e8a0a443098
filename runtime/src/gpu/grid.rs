//! Host evaluation of a kernel's grid: integer expressions of its scalar parameters.

use std::collections::HashMap;

use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{BinaryOp, Expr, ExprKind, Kernel, ParamKind, TernaryOp, UnaryOp, VarId};

use crate::{RuntimeError, RuntimeResult};

/// The grid size along x, y and z (missing axes are 1).
///
/// # Errors
/// `InvalidLaunch` when an expression is not an integer expression of scalar parameters, or a size is
/// negative or does not fit 32 bits.
/// `scalars` holds each parameter's code, `None` for buffers.
pub(super) fn grid_size(kernel: &Kernel, scalars: &[Option<u64>]) -> RuntimeResult<[u32; 3]> {
    let mut values = HashMap::new();
    for (param, scalar) in kernel.params.iter().zip(scalars) {
        if let (ParamKind::Scalar { var, .. }, Some(code)) = (&param.kind, scalar) {
            values.insert(*var, *code);
        }
    }
    let mut grid = [1u32; 3];
    for (axis, expr) in kernel.grid.iter().enumerate().take(3) {
        let value = eval(expr, &values)?;
        let value = if is_signed(expr.dtype) { sign_extend(value, expr.dtype.bits()) } else { value as i128 };
        grid[axis] = u32::try_from(value).map_err(|_| {
            RuntimeError::InvalidLaunch(format!("grid size {value} along axis {axis} of `{}`", kernel.name))
        })?;
    }
    Ok(grid)
}

fn is_signed(dtype: DataType) -> bool {
    matches!(dtype, DataType::Int(int) if int.signed)
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

fn sign_extend(code: u64, bits: u32) -> i128 {
    let shift = 128 - bits.clamp(1, 64);
    ((code as i128) << shift) >> shift
}

/// Evaluates an integer (or bool) expression to its code.
fn eval(expr: &Expr, values: &HashMap<VarId, u64>) -> RuntimeResult<u64> {
    let dtype = expr.dtype;
    let bits = dtype.bits();
    if dtype.is_float() {
        return Err(RuntimeError::InvalidLaunch("the grid must be computed with integers".to_string()));
    }
    let signed = is_signed(dtype);
    let value = |code: u64| if signed { sign_extend(code, bits) } else { i128::from(code) };
    let wrap = |value: i128| (value as u64) & mask(bits);
    Ok(match &expr.kind {
        ExprKind::Const(code) => code & mask(bits),
        ExprKind::Var(var) => {
            *values.get(var).ok_or_else(|| {
                RuntimeError::InvalidLaunch(format!("the grid reads {var}, which is not a scalar parameter"))
            })? & mask(bits)
        }
        ExprKind::Unary(op, operand) => {
            let x = value(eval(operand, values)?);
            match op {
                UnaryOp::Neg => wrap(-x),
                UnaryOp::Not if dtype == DataType::Bool => u64::from(x == 0),
                UnaryOp::Not => wrap(!x),
                UnaryOp::Abs => wrap(x.abs()),
                _ => return Err(RuntimeError::InvalidLaunch(format!("{op:?} in a grid expression"))),
            }
        }
        ExprKind::Binary(op, lhs, rhs) => {
            let operand_signed = is_signed(lhs.dtype);
            let operand_bits = lhs.dtype.bits();
            let get = |e: &Expr| -> RuntimeResult<i128> {
                let code = eval(e, values)?;
                Ok(if operand_signed { sign_extend(code, operand_bits) } else { i128::from(code) })
            };
            let (a, b) = (get(lhs)?, get(rhs)?);
            let min = if operand_signed { -(1i128 << (operand_bits - 1)) } else { 0 };
            match op {
                BinaryOp::Add => wrap(a + b),
                BinaryOp::Sub => wrap(a - b),
                BinaryOp::Mul => wrap(a.wrapping_mul(b)),
                BinaryOp::Div if b == 0 => wrap(a),
                BinaryOp::Div if a == min && b == -1 => wrap(a),
                BinaryOp::Div => wrap(a / b),
                BinaryOp::Rem if b == 0 || (a == min && b == -1) => 0,
                BinaryOp::Rem => wrap(a % b),
                BinaryOp::Min => wrap(a.min(b)),
                BinaryOp::Max => wrap(a.max(b)),
                BinaryOp::And => wrap(a & b),
                BinaryOp::Or => wrap(a | b),
                BinaryOp::Xor => wrap(a ^ b),
                BinaryOp::Shl => wrap(a << (b as u32 % operand_bits)),
                BinaryOp::Shr => wrap(a >> (b as u32 % operand_bits)),
                BinaryOp::Eq => u64::from(a == b),
                BinaryOp::Ne => u64::from(a != b),
                BinaryOp::Lt => u64::from(a < b),
                BinaryOp::Le => u64::from(a <= b),
                BinaryOp::Gt => u64::from(a > b),
                BinaryOp::Ge => u64::from(a >= b),
            }
        }
        ExprKind::Ternary(TernaryOp::Select, cond, a, b) => {
            if eval(cond, values)? != 0 {
                eval(a, values)?
            } else {
                eval(b, values)?
            }
        }
        ExprKind::Ternary(TernaryOp::Fma, a, b, c) => {
            let (a, b, c) = (value(eval(a, values)?), value(eval(b, values)?), value(eval(c, values)?));
            wrap(a.wrapping_mul(b) + c)
        }
        ExprKind::Cast(operand) => {
            if operand.dtype.is_float() {
                return Err(RuntimeError::InvalidLaunch(
                    "the grid must be computed with integers".to_string(),
                ));
            }
            let code = eval(operand, values)?;
            let x = if is_signed(operand.dtype) {
                sign_extend(code, operand.dtype.bits())
            } else {
                i128::from(code)
            };
            if dtype == DataType::Bool { u64::from(x != 0) } else { wrap(x) }
        }
        ExprKind::BlockIndex(_) | ExprKind::GridSize(_) => {
            return Err(RuntimeError::InvalidLaunch("the grid cannot depend on block indices".to_string()));
        }
    })
}
