//! Which global views can do their index arithmetic in 64 bits: a pass over the kernel's `ViewGlobal`s.
//
// In general an access's bounds check is computed in i128, because the products of 64-bit starts and
// strides can overflow 64 bits. When every definition of a view has constant extents, strides and offset,
// `|offset| + sum_d extent_d * |stride_d|` bounds every element offset the check computes once the starts
// are in range, so if that bound (in bits) fits comfortably in 63 bits the whole check can be done in i64:
// a start out of range makes the check fail whatever the (wrapping) products are. Kernels built with
// fixed sizes, as the stdlib's are, get checks of a few instructions instead of a hundred.

use tilevm_vm::DataType;
use tilevm_vm::ir::{Expr, ExprKind, Inst, Kernel};

/// Element-offset bounds (times the element's bits) below this make a view narrow.
const NARROW_LIMIT: i128 = 1 << 56;

/// For each global view of `kernel` (by index), whether its accesses may use 64-bit index arithmetic.
pub(super) fn narrow_views(kernel: &Kernel) -> Vec<bool> {
    let mut narrow = vec![true; kernel.globals.len()];
    kernel.for_each_inst(|inst| {
        if let Inst::ViewGlobal { dst, shape, strides, offset } = inst {
            let bits = kernel.globals.get(dst.index()).map_or(64, |decl| i128::from(decl.dtype.bits()));
            let fits = offset_bound(shape, strides, offset)
                .and_then(|bound| bound.checked_mul(bits.max(1)))
                .is_some_and(|bound_bits| bound_bits < NARROW_LIMIT);
            if let Some(slot) = narrow.get_mut(dst.index()) {
                *slot &= fits;
            }
        }
    });
    narrow
}

/// `|offset| + sum_d shape_d * |stride_d|` when every expression is a constant (and the shape is not
/// negative), else `None`.
fn offset_bound(shape: &[Expr], strides: &[Expr], offset: &Expr) -> Option<i128> {
    let mut bound = constant(offset)?.abs();
    for (extent, stride) in shape.iter().zip(strides) {
        let extent = constant(extent)?;
        if extent < 0 {
            return None;
        }
        bound = bound.checked_add(extent.checked_mul(constant(stride)?.abs())?)?;
    }
    Some(bound)
}

/// The value of a constant integer expression, as its dtype reads it.
fn constant(expr: &Expr) -> Option<i128> {
    let ExprKind::Const(code) = expr.kind else { return None };
    match expr.dtype {
        DataType::I32 => Some(i128::from(code as u32 as i32)),
        DataType::U32 => Some(i128::from(code as u32)),
        DataType::I64 => Some(i128::from(code as i64)),
        DataType::U64 => Some(i128::from(code)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_views_within_the_limit_are_narrow() {
        let c = |v: u32| Expr::u32(v);
        assert_eq!(offset_bound(&[c(8), c(16)], &[c(16), c(1)], &c(4)), Some(4 + 128 + 16));
        assert_eq!(offset_bound(&[c(8)], &[Expr::i32(-3)], &c(0)), Some(24));
        let huge = Expr::constant(DataType::U64, u64::MAX);
        let huge = std::slice::from_ref(&huge);
        assert_eq!(offset_bound(huge, huge, &c(0)), None, "the product overflows i128");
        assert_eq!(offset_bound(&[Expr::i32(-1)], &[c(1)], &c(0)), None);
    }
}
