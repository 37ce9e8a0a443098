//! Reductions along a tile's last dimension with 4-lane vectors: `Max` and `Min` of f32 and i32, and `Sum`
//! of i32.
//
// These are the reductions whose result does not depend on the order in which elements are combined: f32
// `Max`/`Min` are the interpreter's maxNum/minNum (a NaN operand yields the other one, `+0` is above `-0`,
// NaN only when every element is NaN), i32 ones are exact and the i32 sum wraps. So four lane-wise partial
// results, combined at the end by the scalar operator, give the interpreter's bits exactly. (f32 sums and
// products may be reordered by the IR's rules, but the scalar loop keeps the interpreter's order.)

use cranelift_codegen::ir::{InstBuilder, Value, types};
use tilevm_vm::ir::{BinaryOp, ReduceOp};

use super::lowerer::{ClifLowerer, mem};
use super::simd::{VECTOR_BYTES, vector_mem};
use super::tiles::TileRef;
use super::{ClifError, ClifResult};

impl ClifLowerer<'_> {
    /// Lowers `dst = reduce(src)` along the last dimension with vectors (`CpuOp::VectorReduce`: `float`
    /// for f32 lanes, else i32; an order-free operator; the extent a multiple of 4 up to 256).
    pub(super) fn vector_reduce(
        &mut self,
        dst: &TileRef,
        src: &TileRef,
        op: ReduceOp,
        float: bool,
    ) -> ClifResult<()> {
        let vector_type = if float { types::F32X4 } else { types::I32X4 };
        let binary = match op {
            ReduceOp::Max => BinaryOp::Max,
            ReduceOp::Min => BinaryOp::Min,
            ReduceOp::Sum if !float => BinaryOp::Add,
            _ => return Err(ClifError::Internal(format!("a vector reduction by {op:?}"))),
        };
        let Some((&extent, outer_shape)) = src.shape.split_last() else {
            return Err(ClifError::Internal("a vector reduction of a scalar".to_string()));
        };
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
        })
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
