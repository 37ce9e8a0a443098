//! Software prefetch for dots that stream through tiled weights: a hint call, since Cranelift has no
//! prefetch instruction.
//
// A tile read by a fused dot that is one contiguous run of bytes is most likely part of a tiled layout
// that the enclosing loop walks forward, tile after tile. The CPUs' own prefetchers follow such a stream
// only a few lines ahead, and a dot of a few dozen instructions per cache line keeps too few lines in
// flight to hide memory latency, so the lowerer asks for a tile further on (`Helper::Prefetch`).
// That holds where memory latency bounds the kernel (a Zen 3 VM: 15 % faster); where the kernel already
// runs near the read bandwidth (a Zen 5 VM: u4 1.4-1.7x slower with it) the extra requests cost more than
// they hide, so it is a target option, off by default (`TargetFeatures::software_prefetch`); selection
// decides which dots prefetch (`FusedDot::prefetch`).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};

use super::abi;
use super::lowerer::ClifLowerer;

/// How many tiles ahead a streaming dot prefetches: the next tile is then already on its way (measured on
/// the 2-core development VM: 2 beat 1 and 3).
const PREFETCH_TILES_AHEAD: i64 = 2;

impl ClifLowerer<'_> {
    /// When the in-bounds `shape` tile of `bits`-bit codes at element `base` of the buffer at `pointer`
    /// (`length` bytes) is one contiguous run of bytes (`row_stride` equal to its row length), asks the
    /// caches for the run of the same length `PREFETCH_TILES_AHEAD` runs further on, clamped to the buffer.
    pub(super) fn prefetch_next_tile(
        &mut self,
        pointer: Value,
        length: Value,
        base: Value,
        row_stride: Value,
        bits: u32,
        shape: &[usize],
    ) {
        let [rows, inner] = shape[..] else { return };
        let tile_bits = (rows * inner) as i64 * i64::from(bits);
        let tile_bytes = tile_bits / 8;
        let call = self.builder.create_block();
        let done = self.builder.create_block();
        let contiguous = self.builder.ins().icmp_imm_s(IntCC::Equal, row_stride, inner as i64);
        let base_bit = self.builder.ins().imul_imm_s(base, i64::from(bits));
        let start = self.builder.ins().ushr_imm_u(base_bit, 3);
        let next = self.builder.ins().iadd_imm_s(start, PREFETCH_TILES_AHEAD * tile_bytes);
        // `next` may lie past the end: then nothing is left to ask for.
        let past_end = self.builder.ins().icmp(IntCC::UnsignedGreaterThan, next, length);
        let left = self.builder.ins().isub(length, next);
        let zero = self.builder.ins().iconst(types::I64, 0);
        let left = self.builder.ins().select(past_end, zero, left);
        let wanted = self.builder.ins().iconst(types::I64, tile_bytes);
        let bytes = self.builder.ins().umin(left, wanted);
        self.builder.ins().brif(contiguous, call, &[], done, &[]);
        self.builder.switch_to_block(call);
        let address = self.builder.ins().iadd(pointer, next);
        let func_ref = self.helper(abi::Helper::Prefetch);
        self.builder.ins().call(func_ref, &[address, bytes]);
        self.builder.ins().jump(done, &[]);
        self.builder.switch_to_block(done);
    }
}
