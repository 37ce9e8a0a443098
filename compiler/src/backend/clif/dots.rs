//! `Dot` and `Reduce`: loop nests that accumulate (in f32 for f16/bf16), with the vector dots of `simd` and
//! `byte_dot` first.

/// The `b` operand of a dot whose `a` operand's cast was fused.
#[derive(Clone, Copy, Debug)]
pub(super) enum DotRhs<'t> {
    /// An f32 `[K, 1]` tile: the dot accumulates in f32 (`simd::vector_dot`).
    F32(&'t TileRef),
    /// The i8 codes `[K, 1]` of an i32 operand whose cast was fused too: exact in i32 (`byte_dot`).
    Bytes(&'t TileRef),
}

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{InstBuilder, Value, types};
use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{ReduceOp, TileId};

use super::exprs::{Family, family};
use super::lowerer::ClifLowerer;
use super::simd::DotOperand;
use super::tiles::TileRef;
use super::{ClifError, ClifResult};

impl<'a> ClifLowerer<'a> {
    pub(super) fn dot(&mut self, dst: TileId, a: TileId, b: TileId, acc: TileId) -> ClifResult<()> {
        let target = self.tile_ref(dst)?;
        let a_tile = self.tile_ref(a)?;
        let b_tile = self.tile_ref(b)?;
        let acc_tile = self.tile_ref(acc)?;
        let rank = target.shape.len();
        if rank < 2
            || a_tile.shape.len() != rank
            || b_tile.shape.len() != rank
            || acc_tile.shape != target.shape
        {
            return Err(ClifError::Malformed("dot operands of mismatched ranks".to_string()));
        }
        if let Some((codes, int)) = self.fusions.codes_of(a) {
            let codes_tile = self.tile_ref(codes)?;
            let b_codes = match self.fusions.byte_operand_of(b) {
                Some(b_codes) => Some(self.tile_ref(b_codes)?),
                None => None,
            };
            let rhs = match &b_codes {
                Some(b_codes) => DotRhs::Bytes(b_codes),
                None => DotRhs::F32(&b_tile),
            };
            if let Some(load) = self.fusions.load_of(codes).cloned() {
                return self.load_dot(&load, &codes_tile, int, &target, rhs, &acc_tile);
            }
            if self.fused_dot(&target, DotOperand::Codes(&codes_tile, int), rhs, &acc_tile)? {
                return Ok(());
            }
            return Err(ClifError::Malformed(format!("dot of {a} fused with its cast but not vectorisable")));
        }
        if self.vector_dot(&target, DotOperand::F32(&a_tile), &b_tile, &acc_tile)? {
            return Ok(());
        }
        let k_extent = a_tile.shape[rank - 1];
        let compute = family(target.dtype)?;
        let a_strides = a_tile.byte_strides();
        let b_strides = b_tile.byte_strides();
        let acc_strides = acc_tile.byte_strides();
        let accumulate_type = match compute {
            Family::F32 | Family::Half => types::F32,
            _ => target.slot(),
        };
        let dtype = target.dtype;
        self.map_into(dst, &[a, b], &mut |lowerer, coords, _| {
            let initial = lowerer.load_element(&acc_tile, &acc_strides, coords);
            let initial = lowerer.widen_accumulator(dtype, compute, initial)?;
            let loop_block = lowerer.builder.create_block();
            let exit = lowerer.builder.create_block();
            let k = lowerer.builder.append_block_param(loop_block, types::I64);
            let sum = lowerer.builder.append_block_param(loop_block, accumulate_type);
            let result = lowerer.builder.append_block_param(exit, accumulate_type);
            if k_extent == 0 {
                lowerer.builder.ins().jump(exit, &[initial.into()]);
            } else {
                let zero = lowerer.builder.ins().iconst(types::I64, 0);
                lowerer.builder.ins().jump(loop_block, &[zero.into(), initial.into()]);
            }
            lowerer.builder.switch_to_block(loop_block);
            let mut a_coords = coords.to_vec();
            a_coords[rank - 1] = k;
            let mut b_coords = coords.to_vec();
            b_coords[rank - 2] = k;
            let a_value = lowerer.load_element(&a_tile, &a_strides, &a_coords);
            let a_value = lowerer.operand_to_accumulator(a_tile.dtype, dtype, compute, a_value)?;
            let b_value = lowerer.load_element(&b_tile, &b_strides, &b_coords);
            let b_value = lowerer.operand_to_accumulator(b_tile.dtype, dtype, compute, b_value)?;
            let next_sum = match compute {
                Family::F32 | Family::Half => lowerer.builder.ins().fma(a_value, b_value, sum),
                Family::Bool => {
                    let product = lowerer.builder.ins().band(a_value, b_value);
                    lowerer.builder.ins().bor(sum, product)
                }
                Family::Int { .. } => {
                    let product = lowerer.builder.ins().imul(a_value, b_value);
                    lowerer.builder.ins().iadd(sum, product)
                }
            };
            let next_k = lowerer.builder.ins().iadd_imm_s(k, 1);
            let more = lowerer.builder.ins().icmp_imm_s(IntCC::UnsignedLessThan, next_k, k_extent as i64);
            lowerer.builder.ins().brif(
                more,
                loop_block,
                &[next_k.into(), next_sum.into()],
                exit,
                &[next_sum.into()],
            );
            lowerer.builder.switch_to_block(exit);
            lowerer.narrow_accumulator(dtype, compute, result)
        })
    }

    /// A dot whose `a` operand's cast was fused: the f32 vector dot or the integer dot of bytes.
    pub(super) fn fused_dot(
        &mut self,
        dst: &TileRef,
        a: DotOperand<'_>,
        rhs: DotRhs<'_>,
        acc: &TileRef,
    ) -> ClifResult<bool> {
        match rhs {
            DotRhs::F32(b) => self.vector_dot(dst, a, b, acc),
            DotRhs::Bytes(b) => self.byte_dot(dst, a, b, acc),
        }
    }

    /// An element of `dtype` as an accumulator value (f32 for f16/bf16).
    fn widen_accumulator(&mut self, dtype: DataType, compute: Family, value: Value) -> ClifResult<Value> {
        if compute == Family::Half { self.half_to_f32(dtype, value) } else { Ok(value) }
    }

    fn narrow_accumulator(&mut self, dtype: DataType, compute: Family, value: Value) -> ClifResult<Value> {
        if compute == Family::Half { self.f32_to_half(dtype, value) } else { Ok(value) }
    }

    /// A dot operand of `from` converted exactly to the accumulator of `to`.
    fn operand_to_accumulator(
        &mut self,
        from: DataType,
        to: DataType,
        compute: Family,
        value: Value,
    ) -> ClifResult<Value> {
        let zero = self.builder.ins().iconst(types::I64, 0);
        let converted = self.cast(from, to, value, tilevm_vm::ir::Rounding::NearestEven, zero)?;
        self.widen_accumulator(to, compute, converted)
    }

    pub(super) fn reduce(&mut self, dst: TileId, src: TileId, dim: usize, op: ReduceOp) -> ClifResult<()> {
        let target = self.tile_ref(dst)?;
        let source = self.tile_ref(src)?;
        if dim >= source.shape.len() {
            return Err(ClifError::Malformed(format!("reduce along missing dimension {dim}")));
        }
        if self.vector_reduce(&target, &source, dim, op)? {
            return Ok(());
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
