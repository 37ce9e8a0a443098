//! Elementwise arithmetic on whole tiles with 4-lane vectors: f32 `+ - * /`, `fma`, negation, absolute
//! value, square root and rounding to integers (`F32X4`), i32 `+ - *`, negation and absolute value
//! (`I32X4`).
//
// Applies when the result and every tile operand are tiles of one dtype and one shape (row-major slots, so
// the operands line up lane for lane) or single-element tiles (broadcast), the other operands are scalars of
// that dtype, and the element count is a multiple of 4. The f32 vector instructions round exactly like the
// scalar ones (IEEE binary32, one rounding for `fma`; `sqrt` is correctly rounded and the roundings are
// exact), and NaN results are made canonical as the interpreter makes them, except for f32 negation and
// absolute value, which flip and clear the sign bit of any code; i32 arithmetic wraps, as the
// interpreter's does. So the result is bit for bit the interpreter's. Each lane reads only its own index of
// the result, so updating in place is safe, as in the scalar nest.

use cranelift_codegen::ir::{InstBuilder, Value, types};
use tilevm_vm::ir::{BinaryOp, ElementwiseOp, Expr, Operand, TernaryOp, TileId, UnaryOp};

use super::ClifResult;
use super::frame::element_count;
use super::lowerer::{ClifLowerer, mem};
use super::simd::{VECTOR_BYTES, vector_mem};

/// An operand the vector path accepts.
enum Source<'e> {
    /// An f32 scalar expression.
    Scalar(&'e Expr),
    /// A tile of the result's shape, at this scratch offset.
    Whole(u32),
    /// A single-element tile, at this scratch offset, broadcast.
    Single(u32),
}

/// Where one lane group of an operand comes from.
enum Lanes {
    /// The same value in every lane (a scalar, or a single-element tile read once).
    Splat(Value),
    /// Four consecutive slots of a tile of the result's shape.
    Tile(u32),
}

impl ClifLowerer<'_> {
    /// Lowers `dst = op(operands)` with vectors (`CpuOp::VectorElementwise`: `float` for f32 lanes, else
    /// i32; `canonical_nans` unless nothing observes the NaN payloads of `dst`).
    pub(super) fn vector_elementwise(
        &mut self,
        dst: TileId,
        op: ElementwiseOp,
        operands: &[Operand],
        float: bool,
        canonical_nans: bool,
    ) -> ClifResult<()> {
        let target = self.tile_ref(dst)?;
        let (scalar_type, vector_type) =
            if float { (types::F32, types::F32X4) } else { (types::I32, types::I32X4) };
        let count = element_count(&target.shape);
        let mut sources = Vec::with_capacity(operands.len());
        for operand in operands {
            sources.push(match operand {
                Operand::Scalar(expr) => Source::Scalar(expr),
                Operand::Tile(tile) => {
                    let tile = self.tile_ref(*tile)?;
                    if tile.shape == target.shape {
                        Source::Whole(tile.offset)
                    } else {
                        Source::Single(tile.offset)
                    }
                }
            });
        }
        let mut lanes = Vec::with_capacity(sources.len());
        for source in sources {
            let splat = match source {
                Source::Whole(offset) => {
                    lanes.push(Lanes::Tile(offset));
                    continue;
                }
                Source::Single(offset) => {
                    self.builder.ins().load(scalar_type, mem(), self.scratch_ptr, offset as i32)
                }
                Source::Scalar(expr) => self.expr(expr)?,
            };
            lanes.push(Lanes::Splat(self.builder.ins().splat(vector_type, splat)));
        }
        // A NaN whose payload nothing reads may keep the hardware's (`vm::analysis::HiddenPayloads`).
        let canonical = canonical_nans.then(|| {
            let canonical = self.builder.ins().f32const(f32::from_bits(0x7fc0_0000));
            self.builder.ins().splat(types::F32X4, canonical)
        });
        self.short_loop((count / 4) as i64, &mut |lowerer, group| {
            let offset = lowerer.builder.ins().imul_imm_s(group, VECTOR_BYTES);
            let base = lowerer.builder.ins().iadd(lowerer.scratch_ptr, offset);
            let values: Vec<Value> = lanes
                .iter()
                .map(|lane| match lane {
                    Lanes::Splat(value) => *value,
                    Lanes::Tile(at) => {
                        lowerer.builder.ins().load(vector_type, vector_mem(), base, *at as i32)
                    }
                })
                .collect();
            let ins = lowerer.builder.ins();
            let result = match (op, values.as_slice(), float) {
                (ElementwiseOp::Binary(BinaryOp::Add), [x, y], true) => ins.fadd(*x, *y),
                (ElementwiseOp::Binary(BinaryOp::Sub), [x, y], true) => ins.fsub(*x, *y),
                (ElementwiseOp::Binary(BinaryOp::Mul), [x, y], true) => ins.fmul(*x, *y),
                (ElementwiseOp::Binary(BinaryOp::Div), [x, y], true) => ins.fdiv(*x, *y),
                (ElementwiseOp::Ternary(TernaryOp::Fma), [x, y, z], true) => ins.fma(*x, *y, *z),
                (ElementwiseOp::Binary(BinaryOp::Add), [x, y], false) => ins.iadd(*x, *y),
                (ElementwiseOp::Binary(BinaryOp::Sub), [x, y], false) => ins.isub(*x, *y),
                (ElementwiseOp::Binary(BinaryOp::Mul), [x, y], false) => ins.imul(*x, *y),
                (ElementwiseOp::Unary(UnaryOp::Neg), [x], true) => ins.fneg(*x),
                (ElementwiseOp::Unary(UnaryOp::Abs), [x], true) => ins.fabs(*x),
                (ElementwiseOp::Unary(UnaryOp::Sqrt), [x], true) => ins.sqrt(*x),
                (ElementwiseOp::Unary(UnaryOp::Floor), [x], true) => ins.floor(*x),
                (ElementwiseOp::Unary(UnaryOp::Ceil), [x], true) => ins.ceil(*x),
                (ElementwiseOp::Unary(UnaryOp::Round), [x], true) => ins.nearest(*x),
                (ElementwiseOp::Unary(UnaryOp::Trunc), [x], true) => ins.trunc(*x),
                (ElementwiseOp::Unary(UnaryOp::Neg), [x], false) => ins.ineg(*x),
                (ElementwiseOp::Unary(UnaryOp::Abs), [x], false) => ins.iabs(*x),
                _ => {
                    return Err(super::ClifError::Internal(format!(
                        "a vector {op:?} of {} operands",
                        values.len()
                    )));
                }
            };
            let result = match canonical {
                // NaN results are the canonical quiet NaN, as in the interpreter (the hardware keeps
                // payloads).
                Some(canonical) => {
                    let nan = lowerer.nan_lanes(result);
                    lowerer.builder.ins().bitselect(nan, canonical, result)
                }
                None => result,
            };
            lowerer.builder.ins().store(vector_mem(), result, base, target.offset as i32);
            Ok(())
        })
    }
}
