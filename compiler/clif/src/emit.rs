//! Emission of one instruction: the operation instruction selection chose for it (`isel`), matched
//! and handed to its emitter. Nothing here decides which path an instruction takes.

use tilevm_vm::ir::{Inst, TileId};

use super::isel::{CpuOp, InstIndex, Lanes};
use super::lowerer::ClifLowerer;
use super::simd::DotOperand;
use super::tiles::broadcast_strides;
use super::{ClifError, ClifResult};

impl ClifLowerer<'_> {
    /// Lowers the next instruction of the body (instructions come in pre-order, as selection numbered
    /// them).
    pub(super) fn inst(&mut self, inst: &Inst) -> ClifResult<()> {
        let index = InstIndex(self.next_inst);
        self.next_inst += 1;
        let op =
            self.selection.get(index).map(|selected| selected.op.clone()).ok_or_else(|| {
                ClifError::Internal(format!("no operation selected for instruction {index}"))
            })?;
        match (inst, op) {
            // A fused dot does the work (`isel::chains`).
            (_, CpuOp::Absorbed { .. }) => Ok(()),
            (Inst::AllocRegister { dst, init }, CpuOp::VectorFill) => {
                let tile = self.tile_ref(*dst)?;
                self.vector_fill(&tile, init.as_ref())
            }
            (Inst::AllocRegister { dst, init }, _) => {
                let tile = self.tile_ref(*dst)?;
                self.fill(&tile, init.as_ref())
            }
            (Inst::AllocShared { dst, init }, _) => match init {
                Some(init) => {
                    let tile = self.shared_ref(*dst)?;
                    self.fill(&tile, Some(init))
                }
                None => Ok(()),
            },
            (Inst::FreeShared { .. } | Inst::CopyWait | Inst::Sync, _) => Ok(()),
            (Inst::PrintScalars { values, .. }, _) => self.print_scalars(inst, values),
            (Inst::PrintTile { tile, .. }, _) => self.print_tile(inst, *tile),
            (Inst::Assert { cond, message }, _) => {
                let cond = self.expr(cond)?;
                self.assert(cond, message);
                Ok(())
            }
            (Inst::ViewGlobal { dst, shape, strides, offset }, _) => {
                self.view_global(*dst, shape, strides, offset)
            }
            (Inst::LoadGlobal { dst, src, offsets, dims }, CpuOp::Load(paths)) => {
                let tile = self.tile_ref(*dst)?;
                self.load_global(&tile, *src, offsets, dims, paths)
            }
            (Inst::CopyGlobalToShared { dst, src, offsets, dims }, CpuOp::Load(paths)) => {
                let tile = self.shared_ref(*dst)?;
                self.load_global(&tile, *src, offsets, dims, paths)
            }
            (Inst::StoreGlobal { dst, src, offsets, dims }, CpuOp::Store(paths)) => {
                let tile = self.tile_ref(*src)?;
                self.store_global(&tile, *dst, offsets, dims, paths)
            }
            (Inst::LoadShared { dst, src, offsets }, _) => {
                let window = self.tile_ref(*dst)?;
                let shared = self.shared_ref(*src)?;
                self.window_copy(&shared, &window, offsets, true)
            }
            (Inst::StoreShared { dst, src, offsets }, _) => {
                let window = self.tile_ref(*src)?;
                let shared = self.shared_ref(*dst)?;
                self.window_copy(&shared, &window, offsets, false)
            }
            (Inst::Slice { dst, src, .. }, _) if dst == src => Ok(()),
            (Inst::Slice { dst, src, offsets }, _) => {
                let window = self.tile_ref(*dst)?;
                let whole = self.tile_ref(*src)?;
                self.window_copy(&whole, &window, offsets, true)
            }
            (Inst::View { dst, src }, CpuOp::View { src_in_order, dst_in_order }) => {
                self.view(*dst, *src, src_in_order, dst_in_order)
            }
            (Inst::Cast { dst, src, .. }, CpuOp::VectorCast(cast)) => {
                let from = self.tile_ref(*src)?;
                let to = self.tile_ref(*dst)?;
                self.vector_cast(&from, &to, cast)
            }
            (Inst::Cast { dst, src, rounding }, CpuOp::Generic) => {
                let rounding = *rounding;
                let from = self.tile_ref(*src)?;
                self.map_into(*dst, &[*src], &mut |lowerer, coords, dst_tile| {
                    let value = lowerer.load_element(&from, &from.byte_strides(), coords);
                    let index = lowerer.linear_index(&dst_tile.shape, coords);
                    lowerer.cast(from.dtype, dst_tile.dtype, value, rounding, index)
                })
            }
            (Inst::Elementwise { dst, op, operands }, CpuOp::VectorElementwise { lanes, canonical_nans }) => {
                self.vector_elementwise(*dst, *op, operands, lanes == Lanes::F32, canonical_nans)
            }
            (Inst::Elementwise { dst, op, operands }, CpuOp::Generic) => {
                self.elementwise(*dst, *op, operands)
            }
            (Inst::Iota { dst, dim }, _) => {
                let dim = *dim;
                self.map_into(*dst, &[], &mut |lowerer, coords, dst_tile| {
                    let coord = *coords
                        .get(dim)
                        .ok_or_else(|| ClifError::Malformed(format!("iota along missing dimension {dim}")))?;
                    Ok(lowerer.int_from_i64(coord, dst_tile.dtype))
                })
            }
            (Inst::Dot { dst, b, acc, .. }, CpuOp::FusedDot(fused)) => self.fused_dot(&fused, *dst, *b, *acc),
            (Inst::Dot { dst, a, b, acc }, CpuOp::VectorDot) => {
                let (target, a, b, acc) =
                    (self.tile_ref(*dst)?, self.tile_ref(*a)?, self.tile_ref(*b)?, self.tile_ref(*acc)?);
                self.vector_dot(&target, DotOperand::F32(&a), &b, &acc)
            }
            (Inst::Dot { dst, a, b, acc }, CpuOp::Generic) => self.dot(*dst, *a, *b, *acc),
            (Inst::Reduce { dst, src, op, .. }, CpuOp::VectorReduce(lanes)) => {
                let (target, source) = (self.tile_ref(*dst)?, self.tile_ref(*src)?);
                self.vector_reduce(&target, &source, *op, lanes == Lanes::F32)
            }
            (Inst::Reduce { dst, src, dim, op }, CpuOp::Generic) => self.reduce(*dst, *src, *dim, *op),
            (Inst::Permute { dst, src, dims }, _) => {
                let from = self.tile_ref(*src)?;
                let src_strides = from.byte_strides();
                let dims = dims.clone();
                self.map_into(*dst, &[*src], &mut |lowerer, coords, _| {
                    // dst index i holds src element j with j[dims[d]] = i[d].
                    let mut src_coords = coords.to_vec();
                    for (d, &source_dim) in dims.iter().enumerate() {
                        if let (Some(slot), Some(&coord)) = (src_coords.get_mut(source_dim), coords.get(d)) {
                            *slot = coord;
                        }
                    }
                    Ok(lowerer.load_element(&from, &src_strides, &src_coords))
                })
            }
            (Inst::Broadcast { dst, src }, _) => {
                let from = self.tile_ref(*src)?;
                let dst_rank = self.tile_ref(*dst)?.shape.len();
                let strides = broadcast_strides(&from, dst_rank)?;
                self.map_into(*dst, &[*src], &mut |lowerer, coords, _| {
                    Ok(lowerer.load_element(&from, &strides, coords))
                })
            }
            (Inst::Assign { dst, src }, _) if dst == src => Ok(()),
            (Inst::Assign { dst, src }, _) => self.copy_into(*dst, *src),
            (inst, op) => Err(ClifError::Internal(format!(
                "selection chose `{op}` for instruction {index}, which its emitter does not lower: {}",
                tilevm_vm::text::print_inst(inst)
            ))),
        }
    }

    /// `dst = src`, slot by slot.
    fn copy_into(&mut self, dst: TileId, src: TileId) -> ClifResult<()> {
        let from = self.tile_ref(src)?;
        let strides = from.byte_strides();
        self.map_into(dst, &[], &mut |lowerer, coords, _| Ok(lowerer.load_element(&from, &strides, coords)))
    }
}
