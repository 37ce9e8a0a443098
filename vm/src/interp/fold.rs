//! Constant folding of scalar expressions, with the interpreter's own semantics.
//
// Folding evaluates constant subtrees with `eval_expr`, the definition of what they mean, so a folded
// expression is equal to the original by construction. Producers of IR (the `.tile` front end) fold the
// expressions they build from constants, such as the row-major strides of a view, so that backends see
// constants where they specialise on them (the CPU backend's 64-bit view bounds, `view_bounds`).

use super::eval::{Scope, eval_expr};
use crate::ir::{Expr, ExprKind};

/// `expr` with every subtree that depends on neither a variable nor the block's position replaced by
/// its value.
pub fn fold_constants(expr: &Expr) -> Expr {
    let folded_kind = match &expr.kind {
        ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::BlockIndex(_) | ExprKind::GridSize(_) => {
            return expr.clone();
        }
        ExprKind::Unary(op, operand) => ExprKind::Unary(*op, Box::new(fold_constants(operand))),
        ExprKind::Binary(op, lhs, rhs) => {
            ExprKind::Binary(*op, Box::new(fold_constants(lhs)), Box::new(fold_constants(rhs)))
        }
        ExprKind::Ternary(op, a, b, c) => ExprKind::Ternary(
            *op,
            Box::new(fold_constants(a)),
            Box::new(fold_constants(b)),
            Box::new(fold_constants(c)),
        ),
        ExprKind::Cast(operand) => ExprKind::Cast(Box::new(fold_constants(operand))),
    };
    let folded = Expr { kind: folded_kind, dtype: expr.dtype };
    let operands_constant = match &folded.kind {
        ExprKind::Unary(_, operand) | ExprKind::Cast(operand) => is_const(operand),
        ExprKind::Binary(_, lhs, rhs) => is_const(lhs) && is_const(rhs),
        ExprKind::Ternary(_, a, b, c) => is_const(a) && is_const(b) && is_const(c),
        _ => false,
    };
    if !operands_constant {
        return folded;
    }
    let scope = Scope { vars: &[], block: [0; 3], grid: [1; 3] };
    match eval_expr(&folded, &scope) {
        Ok(code) => Expr::constant(folded.dtype, code),
        Err(_) => folded,
    }
}

fn is_const(expr: &Expr) -> bool {
    matches!(expr.kind, ExprKind::Const(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataType;
    use crate::ir::BinaryOp;

    #[test]
    fn constant_subtrees_fold_and_the_rest_stays() {
        let product = Expr::binary(BinaryOp::Mul, Expr::u32(128), Expr::u32(64));
        assert_eq!(fold_constants(&product), Expr::u32(8192));
        let wrapped = Expr::binary(BinaryOp::Add, Expr::u32(u32::MAX), Expr::u32(2));
        assert_eq!(fold_constants(&wrapped), Expr::u32(1), "wraps as the interpreter does");
        assert_eq!(fold_constants(&Expr::i32(-1).cast(DataType::U32)), Expr::u32(u32::MAX));
        let row = Expr::binary(BinaryOp::Mul, Expr::block_index(0), product);
        let folded = fold_constants(&row);
        assert_eq!(folded, Expr::binary(BinaryOp::Mul, Expr::block_index(0), Expr::u32(8192)));
    }
}
