//! Loop builders for the emitters: a counted loop over `0..count`, and its unrolled form for short counts.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};

use super::ClifResult;
use super::lowerer::ClifLowerer;

/// The most iterations [`ClifLowerer::short_loop`] repeats the body for instead of looping.
const SHORT_LOOP_MAX: i64 = 32;

impl<'a> ClifLowerer<'a> {
    /// Runs `body(i)` for `i` in `0..count`, like [`Self::counted_loop`], but with the body repeated and
    /// `i` a constant when there are at most `SHORT_LOOP_MAX` iterations: for the small loops of vector
    /// elementwise work on `[rows, 1]` tiles, the index arithmetic and the loop test cost as much as the work.
    pub(super) fn short_loop(
        &mut self,
        count: i64,
        body: &mut dyn FnMut(&mut ClifLowerer<'a>, Value) -> ClifResult<()>,
    ) -> ClifResult<()> {
        if count > SHORT_LOOP_MAX {
            return self.counted_loop(count, body);
        }
        for i in 0..count {
            let index = self.builder.ins().iconst(types::I64, i);
            body(self, index)?;
        }
        Ok(())
    }

    /// Runs `body(i)` for `i` in `0..count` (`i64`); emits nothing when `count` is 0.
    pub(super) fn counted_loop(
        &mut self,
        count: i64,
        body: &mut dyn FnMut(&mut ClifLowerer<'a>, Value) -> ClifResult<()>,
    ) -> ClifResult<()> {
        if count <= 0 {
            return Ok(());
        }
        let loop_block = self.builder.create_block();
        let exit = self.builder.create_block();
        let index = self.builder.append_block_param(loop_block, types::I64);
        let zero = self.builder.ins().iconst(types::I64, 0);
        self.builder.ins().jump(loop_block, &[zero.into()]);
        self.builder.switch_to_block(loop_block);
        body(self, index)?;
        let next = self.builder.ins().iadd_imm_s(index, 1);
        let more = self.builder.ins().icmp_imm_s(IntCC::UnsignedLessThan, next, count);
        self.builder.ins().brif(more, loop_block, &[next.into()], exit, &[]);
        self.builder.switch_to_block(exit);
        Ok(())
    }
}
