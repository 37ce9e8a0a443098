//! `print` instructions: the values go to the runtime through `Helper::Print`, which records them in
//! the launch's print log (`vm::interp::PrintLog`) for the host; nothing is formatted in JIT code.

use cranelift_codegen::ir::{InstBuilder, StackSlotData, StackSlotKind, types};
use tilevm_vm::ir::{Expr, Inst, TileId};

use super::abi::Helper;
use super::lowerer::{ClifLowerer, to_u64_bits};
use super::{ClifError, ClifResult};

/// Bytes each scalar of a `print` takes in the block of values `Helper::Print` reads.
pub const PRINT_SCALAR_BYTES: u32 = 8;

impl ClifLowerer<'_> {
    /// `print(label, values...)`: each value's bits, zero-extended to 8 bytes, in a stack slot.
    pub(super) fn print_scalars(&mut self, inst: &Inst, values: &[Expr]) -> ClifResult<()> {
        let site = self.print_site(inst)?;
        let bytes = PRINT_SCALAR_BYTES * (values.len() as u32).max(1);
        let slot =
            self.builder.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, bytes, 3));
        for (index, value) in values.iter().enumerate() {
            let value = self.expr(value)?;
            let bits = to_u64_bits(&mut self.builder, value);
            self.builder.ins().stack_store(
                types::I64,
                bits,
                slot,
                (index as u32 * PRINT_SCALAR_BYTES) as i32,
            );
        }
        let data = self.builder.ins().stack_addr(types::I64, slot, 0);
        self.call_print(site, data);
        Ok(())
    }

    /// `print(label, tile)`: the tile's slots, already in logical row-major order in the frame.
    pub(super) fn print_tile(&mut self, inst: &Inst, tile: TileId) -> ClifResult<()> {
        let site = self.print_site(inst)?;
        let tile = self.tile_ref(tile)?;
        let data = self.builder.ins().iadd_imm_s(self.scratch_ptr, i64::from(tile.offset));
        self.call_print(site, data);
        Ok(())
    }

    fn print_site(&self, inst: &Inst) -> ClifResult<i64> {
        self.print_sites
            .index_of(inst)
            .map(i64::from)
            .ok_or_else(|| ClifError::Internal("a print instruction has no print site".to_string()))
    }

    fn call_print(&mut self, site: i64, data: cranelift_codegen::ir::Value) {
        let site = self.builder.ins().iconst(types::I64, site);
        let func_ref = self.helper(Helper::Print);
        let ctx = self.ctx_ptr;
        self.builder.ins().call(func_ref, &[ctx, site, data]);
    }
}
