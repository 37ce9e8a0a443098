//! Evaluation of block-uniform scalar expressions.

use super::codec::{int_value, mask};
use super::scalar::{eval_binary, eval_cast, eval_ternary, eval_unary};
use crate::dtype::DataType;
use crate::ir::{Expr, ExprKind, Rounding, TernaryOp};

/// What an expression can see: the variables and the block's position in the grid.
pub(crate) struct Scope<'a> {
    /// The current value of every variable (`None` before its first assignment).
    pub vars: &'a [Option<u64>],
    /// The running block's index (x, y, z).
    pub block: [u32; 3],
    /// The grid's size (x, y, z).
    pub grid: [u32; 3],
}

/// Evaluates `expr` to a code of its dtype.
///
/// # Errors
/// A message for what the verifier rejects: an unknown or unassigned variable, an axis outside `0..3`.
pub(crate) fn eval_expr(expr: &Expr, scope: &Scope<'_>) -> Result<u64, String> {
    let code = match &expr.kind {
        ExprKind::Const(code) => *code,
        ExprKind::Var(var) => match scope.vars.get(var.index()) {
            Some(Some(code)) => *code,
            Some(None) => return Err(format!("variable {var} is read before it is assigned")),
            None => return Err(format!("no variable {var}")),
        },
        ExprKind::Unary(op, operand) => eval_unary(*op, operand.dtype, eval_expr(operand, scope)?),
        ExprKind::Binary(op, lhs, rhs) => {
            let lhs_code = eval_expr(lhs, scope)?;
            let rhs_code = eval_expr(rhs, scope)?;
            eval_binary(*op, lhs.dtype, lhs_code, rhs_code)
        }
        ExprKind::Ternary(op, a, b, c) => {
            let operand_dtype = if *op == TernaryOp::Select { b.dtype } else { a.dtype };
            let (a, b, c) = (eval_expr(a, scope)?, eval_expr(b, scope)?, eval_expr(c, scope)?);
            eval_ternary(*op, operand_dtype, a, b, c)
        }
        ExprKind::Cast(operand) => {
            eval_cast(operand.dtype, expr.dtype, eval_expr(operand, scope)?, Rounding::NearestEven, 0)
        }
        ExprKind::BlockIndex(axis) => u64::from(*axis_of(&scope.block, *axis)?),
        ExprKind::GridSize(axis) => u64::from(*axis_of(&scope.grid, *axis)?),
    };
    Ok(code & mask(expr.dtype.bits()))
}

/// Evaluates an integer expression to its value.
///
/// # Errors
/// As [`eval_expr`], and when the expression is not an integer.
pub(crate) fn eval_int(expr: &Expr, scope: &Scope<'_>) -> Result<i128, String> {
    if !matches!(expr.dtype, DataType::Int(_)) {
        return Err(format!("expected an integer expression, found one of dtype {}", expr.dtype));
    }
    Ok(int_value(expr.dtype, eval_expr(expr, scope)?))
}

/// Evaluates a list of integer expressions.
pub(crate) fn eval_ints(exprs: &[Expr], scope: &Scope<'_>) -> Result<Vec<i128>, String> {
    exprs.iter().map(|expr| eval_int(expr, scope)).collect()
}

/// Evaluates a `bool` condition.
pub(crate) fn eval_condition(expr: &Expr, scope: &Scope<'_>) -> Result<bool, String> {
    if expr.dtype != DataType::BOOL {
        return Err(format!("a condition must be `bool`, found dtype {}", expr.dtype));
    }
    Ok(eval_expr(expr, scope)? & 1 != 0)
}

fn axis_of(values: &[u32; 3], axis: u8) -> Result<&u32, String> {
    values.get(usize::from(axis)).ok_or_else(|| format!("grid axis {axis} is not in 0..3"))
}
