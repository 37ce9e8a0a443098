//! The float tiles whose NaN payloads nothing can observe, so that the arithmetic writing them may leave a
//! NaN result with whatever payload the hardware gives it instead of making it canonical (the CPU backend's
//! vector arithmetic, the WGSL backend's elementwise operations and dots).
//
// A payload is observable through anything that copies or converts bits (stores, casts, views, selects,
// negation and absolute value, dots, whose NaN results are not canonicalised) and invisible through float
// arithmetic whose own NaN results are canonical (`+ - * /`, `fma`, square roots and roundings, `min`/`max`,
// which return the other operand or a canonical NaN), comparisons, and reductions (canonical results, or
// indices that skip NaNs). A tile is hidden when every instruction of the kernel that reads it is of the
// second kind; the writer's choice of payload then cannot change any output.

use std::collections::HashSet;

use crate::ir::{BinaryOp, ElementwiseOp, Inst, Kernel, TernaryOp, TileId, UnaryOp};

/// The tiles whose NaN payloads are unobservable.
#[derive(Debug, Clone, Default)]
pub struct HiddenPayloads(HashSet<TileId>);

impl HiddenPayloads {
    /// Finds them in `kernel`.
    pub fn analyse(kernel: &Kernel) -> HiddenPayloads {
        let mut read = HashSet::new();
        let mut observed = HashSet::new();
        kernel.for_each_inst(|inst| {
            let target = if hides_payloads(inst) { &mut read } else { &mut observed };
            target.extend(inst.read_tiles());
        });
        HiddenPayloads(read.difference(&observed).copied().collect())
    }

    /// Whether nothing observes the NaN payloads of `tile`.
    pub fn hidden(&self, tile: TileId) -> bool {
        self.0.contains(&tile)
    }
}

/// Whether the instruction's results are the same whatever the payloads of the NaNs it reads.
fn hides_payloads(inst: &Inst) -> bool {
    match inst {
        Inst::Elementwise { op, .. } => match op {
            ElementwiseOp::Unary(op) => !matches!(op, UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Not),
            ElementwiseOp::Binary(op) => {
                !matches!(op, BinaryOp::And | BinaryOp::Or | BinaryOp::Xor | BinaryOp::Shl | BinaryOp::Shr)
            }
            ElementwiseOp::Ternary(op) => *op == TernaryOp::Fma,
        },
        Inst::Reduce { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataType;
    use crate::ir::{Expr, KernelBuilder, Operand};
    use crate::layout::local;

    #[test]
    fn only_tiles_read_by_canonicalising_arithmetic_are_hidden() {
        let mut builder = KernelBuilder::new("k", 1);
        let out = builder.global_param("out", DataType::F32, true);
        builder.grid(vec![Expr::u32(1)]);
        let view = builder.view_global(
            "out",
            out,
            DataType::F32,
            vec![Expr::u32(4)],
            vec![Expr::u32(1)],
            Expr::u32(0),
        );
        let layout = local(&[4]).unwrap();
        let [a, product, sum, negated] =
            ["a", "p", "s", "n"].map(|name| builder.tile(name, DataType::F32, layout.clone()));
        builder.inst(Inst::AllocRegister { dst: a, init: Some(Expr::f32(1.0)) });
        let mul = ElementwiseOp::Binary(BinaryOp::Mul);
        builder.inst(Inst::Elementwise {
            dst: product,
            op: mul,
            operands: vec![Operand::Tile(a), Operand::Tile(a)],
        });
        let add = ElementwiseOp::Binary(BinaryOp::Add);
        builder.inst(Inst::Elementwise {
            dst: sum,
            op: add,
            operands: vec![Operand::Tile(product), Operand::Tile(a)],
        });
        let neg = ElementwiseOp::Unary(UnaryOp::Neg);
        builder.inst(Inst::Elementwise { dst: negated, op: neg, operands: vec![Operand::Tile(sum)] });
        builder.inst(Inst::StoreGlobal {
            dst: view,
            src: negated,
            offsets: vec![Expr::u32(0)],
            dims: vec![0],
        });
        let hidden = HiddenPayloads::analyse(&builder.finish().unwrap());
        // `product` is read by an add only; `a` by the multiply and the add; `sum` by a negation, which keeps
        // payloads; `negated` by a store.
        assert!(hidden.hidden(product));
        assert!(hidden.hidden(a));
        assert!(!hidden.hidden(sum));
        assert!(!hidden.hidden(negated));
    }
}
