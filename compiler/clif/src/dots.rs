//! `Dot`: the generic loop nest (accumulating in f32 for f16/bf16), and the dispatch of fused dots to the
//! f32 vector dot (`simd`) or the integer dot of bytes (`byte_dot`), reading their codes from the frame or
//! straight from global memory (`global_memory::load_dot`).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};
use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::TileId;

use super::exprs::{Family, family};
use super::isel::{BytePlan, FusedDot, FusedRhs};
use super::lowerer::ClifLowerer;
use super::simd::DotOperand;
use super::tiles::TileRef;
use super::{ClifError, ClifResult};

impl<'a> ClifLowerer<'a> {
    /// `Dot` as a loop nest per result element.
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

    /// A fused dot (`CpuOp::FusedDot`): `dst = acc + f(codes) · b`, the codes read from global memory when
    /// the load was fused, else from the frame.
    pub(super) fn fused_dot(
        &mut self,
        fused: &FusedDot,
        dst: TileId,
        b: TileId,
        acc: TileId,
    ) -> ClifResult<()> {
        let target = self.tile_ref(dst)?;
        let codes = self.tile_ref(fused.codes)?;
        let acc = self.tile_ref(acc)?;
        let rhs = match fused.rhs {
            FusedRhs::F32 => self.tile_ref(b)?,
            FusedRhs::Bytes { codes, .. } => self.tile_ref(codes)?,
        };
        match &fused.load {
            Some(load) => self.load_dot(fused, load, &codes, &target, &rhs, &acc),
            None => self.dot_of_codes(fused, DotOperand::Codes(&codes, fused.int), &target, &rhs, &acc),
        }
    }

    /// The fused dot of codes `a` (in the frame, or packed in a buffer) with `rhs`.
    pub(super) fn dot_of_codes(
        &mut self,
        fused: &FusedDot,
        a: DotOperand<'_>,
        dst: &TileRef,
        rhs: &TileRef,
        acc: &TileRef,
    ) -> ClifResult<()> {
        // A zero accumulator whose fill the dot absorbed is not read.
        let acc = (!fused.zero_accumulator).then_some(acc);
        match (fused.rhs, a) {
            (FusedRhs::F32, _) => {
                let acc =
                    acc.ok_or_else(|| ClifError::Internal("an f32 dot without accumulator".to_string()))?;
                self.vector_dot(dst, a, rhs, acc)
            }
            (FusedRhs::Bytes { direct, .. }, DotOperand::Packed { .. }) => {
                self.byte_dot(dst, a, rhs, acc, direct)
            }
            (FusedRhs::Bytes { .. }, _) => self.byte_dot(dst, a, rhs, acc, BytePlan::SlotsWide),
        }
    }

    /// An element of `dtype` as an accumulator value (f32 for f16/bf16).
    pub(super) fn widen_accumulator(
        &mut self,
        dtype: DataType,
        compute: Family,
        value: Value,
    ) -> ClifResult<Value> {
        if compute == Family::Half { self.half_to_f32(dtype, value) } else { Ok(value) }
    }

    pub(super) fn narrow_accumulator(
        &mut self,
        dtype: DataType,
        compute: Family,
        value: Value,
    ) -> ClifResult<Value> {
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
}
