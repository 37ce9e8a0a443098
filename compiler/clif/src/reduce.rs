//! `Reduce` as a loop nest per result element (in f32 for f16/bf16), in the interpreter's order; the
//! order-free reductions have a vector form in `vector_reduce`.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{InstBuilder, Value, types};
use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{ReduceOp, TileId};

use super::exprs::{Family, family};
use super::lowerer::ClifLowerer;
use super::{ClifError, ClifResult};

impl ClifLowerer<'_> {
    /// `Reduce` as a loop nest.
    pub(super) fn reduce(&mut self, dst: TileId, src: TileId, dim: usize, op: ReduceOp) -> ClifResult<()> {
        let target = self.tile_ref(dst)?;
        let source = self.tile_ref(src)?;
        if dim >= source.shape.len() {
            return Err(ClifError::Malformed(format!("reduce along missing dimension {dim}")));
        }
        let keep_dims = target.shape.len() == source.shape.len();
        let extent = source.shape[dim];
        let source_strides = source.byte_strides();
        let compute = family(source.dtype)?;
        let src_dtype = source.dtype;
        let value_type = if compute == Family::Half { types::F32 } else { source.slot() };
        self.map_into(dst, &[src], &mut |lowerer, coords, dst_tile| {
            let mut src_coords: Vec<Value> = coords.to_vec();
            let zero = lowerer.builder.ins().iconst(types::I64, 0);
            if keep_dims {
                src_coords[dim] = zero;
            } else {
                src_coords.insert(dim, zero);
            }
            let first = lowerer.load_element(&source, &source_strides, &src_coords);
            let first = lowerer.widen_accumulator(src_dtype, compute, first)?;
            let loop_block = lowerer.builder.create_block();
            let exit = lowerer.builder.create_block();
            let index = lowerer.builder.append_block_param(loop_block, types::I64);
            let best = lowerer.builder.append_block_param(loop_block, value_type);
            let best_index = lowerer.builder.append_block_param(loop_block, types::I64);
            let final_value = lowerer.builder.append_block_param(exit, value_type);
            let final_index = lowerer.builder.append_block_param(exit, types::I64);
            if extent <= 1 {
                lowerer.builder.ins().jump(exit, &[first.into(), zero.into()]);
            } else {
                let one = lowerer.builder.ins().iconst(types::I64, 1);
                lowerer.builder.ins().jump(loop_block, &[one.into(), first.into(), zero.into()]);
            }
            lowerer.builder.switch_to_block(loop_block);
            src_coords[dim] = index;
            let value = lowerer.load_element(&source, &source_strides, &src_coords);
            let value = lowerer.widen_accumulator(src_dtype, compute, value)?;
            let (next, next_index) =
                lowerer.reduce_step(op, src_dtype, compute, best, best_index, value, index)?;
            let next_counter = lowerer.builder.ins().iadd_imm_s(index, 1);
            let more = lowerer.builder.ins().icmp_imm_s(IntCC::UnsignedLessThan, next_counter, extent as i64);
            lowerer.builder.ins().brif(
                more,
                loop_block,
                &[next_counter.into(), next.into(), next_index.into()],
                exit,
                &[next.into(), next_index.into()],
            );
            lowerer.builder.switch_to_block(exit);
            match op {
                ReduceOp::ArgMax | ReduceOp::ArgMin => Ok(lowerer.int_from_i64(final_index, dst_tile.dtype)),
                _ => lowerer.narrow_accumulator(src_dtype, compute, final_value),
            }
        })
    }

    /// One step of a reduction: the new accumulator and the index of the extreme so far.
    #[allow(clippy::too_many_arguments)]
    fn reduce_step(
        &mut self,
        op: ReduceOp,
        dtype: DataType,
        compute: Family,
        best: Value,
        best_index: Value,
        value: Value,
        index: Value,
    ) -> ClifResult<(Value, Value)> {
        use tilevm_vm::ir::BinaryOp;
        let arithmetic_dtype = if compute == Family::Half { DataType::F32 } else { dtype };
        let combine = |lowerer: &mut Self, op: BinaryOp| {
            lowerer.binary(op, arithmetic_dtype, arithmetic_dtype, best, value)
        };
        Ok(match op {
            ReduceOp::Sum => (combine(self, BinaryOp::Add)?, best_index),
            ReduceOp::Prod => (combine(self, BinaryOp::Mul)?, best_index),
            ReduceOp::Max => (combine(self, BinaryOp::Max)?, best_index),
            ReduceOp::Min => (combine(self, BinaryOp::Min)?, best_index),
            ReduceOp::ArgMax | ReduceOp::ArgMin => {
                let compare = if op == ReduceOp::ArgMax { BinaryOp::Gt } else { BinaryOp::Lt };
                let mut better = self.binary(compare, arithmetic_dtype, arithmetic_dtype, value, best)?;
                if arithmetic_dtype == DataType::F32 {
                    // NaNs are skipped: a number after NaNs only replaces them (the interpreter's rule).
                    let best_nan = self.builder.ins().fcmp(FloatCC::Unordered, best, best);
                    let number = self.builder.ins().fcmp(FloatCC::Ordered, value, value);
                    let replaces = self.builder.ins().band(best_nan, number);
                    better = self.builder.ins().bor(better, replaces);
                }
                let next = self.builder.ins().select(better, value, best);
                let next_index = self.builder.ins().select(better, index, best_index);
                (next, next_index)
            }
        })
    }
}
