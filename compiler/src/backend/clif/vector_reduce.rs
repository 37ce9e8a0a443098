//! Reductions along a tile's last dimension with 4-lane vectors: `Max` and `Min` of f32 and i32, and `Sum`
//! of i32.
//
// These are the reductions whose result does not depend on the order in which elements are combined: f32
// `Max`/`Min` are the interpreter's maxNum/minNum (a NaN operand yields the other one, `+0` is above `-0`,
// NaN only when every element is NaN), i32 ones are exact and the i32 sum wraps. So four lane-wise partial
// results, combined at the end by the scalar operator, give the interpreter's bits exactly. (f32 sums and
// products may be reordered by the IR's rules, but the scalar loop keeps the interpreter's order.)

use cranelift_codegen::ir::{InstBuilder, Value, types};
use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{BinaryOp, ReduceOp};

use super::ClifResult;
use super::lowerer::{ClifLowerer, mem};
use super::simd::{VECTOR_BYTES, vector_mem};
use super::tiles::TileRef;

impl ClifLowerer<'_> {
    /// Lowers `dst = reduce(src)` along `dim` with vectors; returns whether it applied (`dim` the last
    /// dimension, its extent a multiple of 4 up to 256, an operator and dtype above).
    pub(super) fn vector_reduce(
        &mut self,
        dst: &TileRef,
        src: &TileRef,
        dim: usize,
        op: ReduceOp,
    ) -> ClifResult<bool> {
        let (float, vector_type) = match src.dtype {
            DataType::F32 => (true, types::F32X4),
            DataType::I32 => (false, types::I32X4),
            _ => return Ok(false),
        };
        let binary = match (op, float) {
            (ReduceOp::Max, _) => BinaryOp::Max,
            (ReduceOp::Min, _) => BinaryOp::Min,
            (ReduceOp::Sum, false) => BinaryOp::Add,
            _ => return Ok(false),
        };
        let Some((&extent, outer_shape)) = src.shape.split_last() else { return Ok(false) };
        let kept = [outer_shape, &[1]].concat();
        let shape_fits = dst.shape == outer_shape || dst.shape == kept;
        // Whole vectors along the row, which is unrolled: up to 64 of them.
        let vectors_fit = extent >= 4 && extent.is_multiple_of(4) && extent <= 256;
        if dst.dtype != src.dtype || dim + 1 != src.shape.len() || !shape_fits || !vectors_fit {
            return Ok(false);
        }
        let outer: usize = outer_shape.iter().product();
        let row_bytes = extent as i64 * 4;
        let vectors = extent / 4;
        let dtype = src.dtype;
        // Rows of `src` are `extent` slots apart, and the results of consecutive rows consecutive slots.
        self.counted_loop(outer as i64, &mut |lowerer, row| {
            let offset = lowerer.builder.ins().imul_imm_s(row, row_bytes);
            let source = lowerer.builder.ins().iadd(lowerer.scratch_ptr, offset);
            let mut acc = lowerer.builder.ins().load(vector_type, vector_mem(), source, src.offset as i32);
            for v in 1..vectors {
                let at = src.offset as i32 + (v as i64 * VECTOR_BYTES) as i32;
                let next = lowerer.builder.ins().load(vector_type, vector_mem(), source, at);
                acc = lowerer.lane_combine(binary, float, acc, next);
            }
            let mut result = lowerer.builder.ins().extractlane(acc, 0);
            for lane in 1..4 {
                let value = lowerer.builder.ins().extractlane(acc, lane);
                result = lowerer.binary(binary, dtype, dtype, result, value)?;
            }
            let out = lowerer.builder.ins().imul_imm_s(row, 4);
            let out = lowerer.builder.ins().iadd(lowerer.scratch_ptr, out);
            lowerer.builder.ins().store(mem(), result, out, dst.offset as i32);
            Ok(())
        })?;
        Ok(true)
    }

    /// `op` lane by lane: the interpreter's maxNum/minNum for f32 (its NaN lanes, if any, are all that
    /// remain of NaNs, and the scalar combination makes them canonical), wrapping or exact for i32.
    fn lane_combine(&mut self, op: BinaryOp, float: bool, a: Value, b: Value) -> Value {
        if !float {
            let ins = self.builder.ins();
            return match op {
                BinaryOp::Max => ins.smax(a, b),
                BinaryOp::Min => ins.smin(a, b),
                _ => ins.iadd(a, b),
            };
        }
        // A NaN lane takes the other operand's value, so that `fmax`/`fmin` (NaN-propagating, `-0 < +0`)
        // see a NaN only where both lanes are NaN.
        let a_nan = self.nan_lanes(a);
        let a = self.builder.ins().bitselect(a_nan, b, a);
        let b_nan = self.nan_lanes(b);
        let b = self.builder.ins().bitselect(b_nan, a, b);
        match op {
            BinaryOp::Max => self.builder.ins().fmax(a, b),
            _ => self.builder.ins().fmin(a, b),
        }
    }
}
