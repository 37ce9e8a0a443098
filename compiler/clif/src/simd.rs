//! 128-bit SIMD building blocks: unpacking contiguous runs of packed codes, small integer codes to f32,
//! and the f32 vector dot.
// Every routine here serves an operation instruction selection chose (`isel`) for tiles whose shape and
// dtypes allow it, and is bit-exact with the scalar loop nest of `tiles`/`global_memory` except
// `vector_dot`, which only reorders the summation (as the IR allows for dot products).
//
// Unpacking b-bit codes (1 <= b <= 7), 16 codes at a time from a byte-aligned start: the 16 codes occupy
// 2b bytes, read with one 16-byte load. A byte shuffle puts the two bytes holding code i (the bytes at
// bit i*b and the next) into 16-bit lane i, for codes 0..8 and 8..16 separately; multiplying lane i by
// 2^(8 - (i*b mod 8)) moves the code's first bit to bit 8, so a logical shift right by 8 leaves the code
// in the low bits (plus higher neighbours' bits, masked off after narrowing both halves to bytes). Codes of
// 8, 16 and 32 bits are plain vector copies.
//
// Casts to f32: codes of at most 8 bits widen to 32-bit lanes (sign-extended from bit b-1 for signed
// types) and convert exactly with `fcvt_from_sint`. f16 codes convert by the classic bit manipulation:
// shift the magnitude into place, rebias the exponent, fix up infinities/NaNs (payload kept,
// left-aligned, as the scalar codec does) and subnormals (renormalised by an exact f32 subtraction).

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    BlockArg, ConstantData, Endianness, Immediate, InstBuilder, MemFlagsData, Type, Value, types,
};
use tilevm_vm::dtype::IntType;

use super::isel::RunCopy;
use super::lowerer::{ClifLowerer, mem};
use super::tiles::TileRef;
use super::{ClifError, ClifResult};

/// Bytes of one SIMD vector.
pub(super) const VECTOR_BYTES: i64 = 16;

/// The `a` operand of a vector dot: an f32 tile, or integer codes converted on the fly (their cast fused).
#[derive(Clone, Copy, Debug)]
pub(super) enum DotOperand<'t> {
    /// An f32 tile.
    F32(&'t TileRef),
    /// A tile of integer codes of at most 8 bits, in `i8` slots.
    Codes(&'t TileRef, IntType),
    /// The codes of `tile` read straight from global memory (its load and cast fused into the dot): row `r`
    /// starts, byte-aligned, at element `base + r * row_stride` of the buffer at `pointer`, and 16 bytes are
    /// readable at the first byte of every 16 codes (the caller checked both). `read_only`: the buffer is
    /// a parameter the kernel cannot store to, so its loads may be scheduled freely (see `code_loads`).
    Packed {
        tile: &'t TileRef,
        int: IntType,
        pointer: Value,
        base: Value,
        row_stride: Value,
        read_only: bool,
    },
}

/// The memory flags of vector loads of a dot's codes from `a`'s memory. Codes of a read-only buffer are
/// loaded as `readonly` and `can_move`, which makes the loads pure: Cranelift then places each where its
/// row's arithmetic needs it, instead of keeping every load of an unrolled block of rows in program order
/// (which kept all of them live at once and spilled). Moving them is safe because their address depends on
/// the row loop's index, so they can never rise above the loop, which the bounds check dominates.
pub(super) fn code_loads(a: DotOperand<'_>) -> MemFlagsData {
    match a {
        DotOperand::Packed { read_only: true, .. } => vector_mem().with_readonly().with_can_move(),
        _ => vector_mem(),
    }
}

/// Memory flags of vector accesses (proven in bounds, little-endian lanes).
pub(super) fn vector_mem() -> MemFlagsData {
    mem().with_endianness(Endianness::Little)
}

/// The flags of vector-to-vector bitcasts: lanes in little-endian order.
pub(super) fn lane_order() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// What unpacking codes of one width needs, created once per loop nest.
#[derive(Clone, Copy, Debug)]
pub(super) struct UnpackConstants {
    masks: [Immediate; 2],
    multipliers: Value,
}

/// The shuffle masks (codes 0..8 and 8..16) and lane multipliers of unpacking `bits`-bit codes.
fn unpack_tables(bits: u32) -> ([u8; 16], [u8; 16], [u8; 16]) {
    let mut low = [0u8; 16];
    let mut high = [0u8; 16];
    let mut multipliers = [0u8; 16];
    for lane in 0..8u32 {
        let bit = lane * bits;
        let byte = (bit / 8) as u8;
        let index = 2 * lane as usize;
        low[index] = byte;
        low[index + 1] = byte + 1;
        high[index] = byte + bits as u8;
        high[index + 1] = byte + bits as u8 + 1;
        let multiplier = 1u16 << (8 - bit % 8);
        multipliers[index..index + 2].copy_from_slice(&multiplier.to_le_bytes());
    }
    (low, high, multipliers)
}

impl<'a> ClifLowerer<'a> {
    /// The shuffle masks and the lane multipliers of unpacking `bits`-bit codes.
    pub(super) fn unpack_constants(&mut self, bits: u32) -> UnpackConstants {
        let (low_mask, high_mask, multipliers) = unpack_tables(bits);
        let low_mask = self.builder.func.dfg.immediates.push(ConstantData::from(low_mask.to_vec()));
        let high_mask = self.builder.func.dfg.immediates.push(ConstantData::from(high_mask.to_vec()));
        let multipliers = self.vector_const(types::I16X8, &multipliers);
        UnpackConstants { masks: [low_mask, high_mask], multipliers }
    }

    /// The 16 codes at the start of `bytes` as two `I16X8` vectors (codes 0..8 and 8..16), each code in the
    /// low bits of its lane with its higher neighbours' bits above it.
    pub(super) fn unpack_halves(&mut self, bytes: Value, constants: UnpackConstants) -> [Value; 2] {
        constants.masks.map(|mask| {
            let pairs = self.builder.ins().shuffle(bytes, bytes, mask);
            let lanes = self.builder.ins().bitcast(types::I16X8, lane_order(), pairs);
            let moved = self.builder.ins().imul(lanes, constants.multipliers);
            self.builder.ins().ushr_imm_u(moved, 8)
        })
    }

    /// A vector constant of type `ty` from its little-endian bytes.
    pub(super) fn vector_const(&mut self, ty: Type, bytes: &[u8]) -> Value {
        let constant = self.builder.func.dfg.constants.insert(ConstantData::from(bytes.to_vec()));
        self.builder.ins().vconst(ty, constant)
    }

    /// All-ones in the lanes of the `F32X4` value that are NaN, as an `F32X4` mask (for `bitselect`).
    pub(super) fn nan_lanes(&mut self, value: Value) -> Value {
        let nan = self.builder.ins().fcmp(FloatCC::Unordered, value, value);
        self.builder.ins().bitcast(types::F32X4, lane_order(), nan)
    }

    /// An `I32X4` constant with `value` in every lane.
    pub(super) fn i32x4_splat(&mut self, value: u32) -> Value {
        let bytes: Vec<u8> = (0..4).flat_map(|_| value.to_le_bytes()).collect();
        self.vector_const(types::I32X4, &bytes)
    }

    /// Copies `count` codes (a multiple of `plan.lanes()`) from global memory at `src` (byte-aligned; 16
    /// bytes readable at every vector's first byte) into the slots at `dst`. A [`RunCopy::Copy`] copies
    /// whole 16-byte vectors and so also serves the other way, slots into global memory.
    pub(super) fn copy_run(&mut self, plan: RunCopy, src: Value, dst: Value, count: usize) -> ClifResult<()> {
        let groups = (count / plan.lanes()) as i64;
        match plan {
            RunCopy::Copy { .. } => self.short_loop(groups, &mut |lowerer, group| {
                let offset = lowerer.builder.ins().imul_imm_s(group, VECTOR_BYTES);
                let from = lowerer.builder.ins().iadd(src, offset);
                let to = lowerer.builder.ins().iadd(dst, offset);
                let vector = lowerer.builder.ins().load(types::I8X16, vector_mem(), from, 0);
                lowerer.builder.ins().store(vector_mem(), vector, to, 0);
                Ok(())
            }),
            RunCopy::Unpack { bits } => {
                let constants = self.unpack_constants(bits);
                let code_mask = self.vector_const(types::I8X16, &[((1u32 << bits) - 1) as u8; 16]);
                self.short_loop(groups, &mut |lowerer, group| {
                    let offset = lowerer.builder.ins().imul_imm_s(group, 2 * i64::from(bits));
                    let from = lowerer.builder.ins().iadd(src, offset);
                    let bytes = lowerer.builder.ins().load(types::I8X16, vector_mem(), from, 0);
                    let halves = lowerer.unpack_halves(bytes, constants);
                    let narrowed = lowerer.builder.ins().unarrow(halves[0], halves[1]);
                    let codes = lowerer.builder.ins().band(narrowed, code_mask);
                    let offset = lowerer.builder.ins().imul_imm_s(group, VECTOR_BYTES);
                    let to = lowerer.builder.ins().iadd(dst, offset);
                    lowerer.builder.ins().store(vector_mem(), codes, to, 0);
                    Ok(())
                })
            }
        }
    }

    /// The `I16X8` mask of `int`'s code bits when it is unsigned, `None` when it is signed: the `mask` of
    /// [`Self::codes_to_f32x4`].
    pub(super) fn unsigned_code_mask(&mut self, int: IntType) -> Option<Value> {
        (!int.signed)
            .then(|| self.vector_const(types::I16X8, &((1u16 << int.bits) - 1).to_le_bytes().repeat(8)))
    }

    /// Sixteen integer codes (`i8` slots, at most 8 bits) as four vectors of f32 values, exactly; `mask` is
    /// the `I16X8` code mask of unsigned types (`None` sign-extends from the type's top bit).
    pub(super) fn codes_to_f32x4(&mut self, codes: Value, int: IntType, mask: Option<Value>) -> [Value; 4] {
        let halves = [self.builder.ins().uwiden_low(codes), self.builder.ins().uwiden_high(codes)];
        self.halves_to_f32x4(halves, int, mask)
    }

    /// Two `I16X8` vectors holding codes in their low bits (higher bits are ignored) as four vectors of f32.
    fn halves_to_f32x4(&mut self, halves: [Value; 2], int: IntType, mask: Option<Value>) -> [Value; 4] {
        let unused = 16 - i64::from(int.bits);
        let mut quads = [halves[0]; 4];
        for (h, half) in halves.into_iter().enumerate() {
            let pair = match mask {
                Some(mask) => {
                    let masked = self.builder.ins().band(half, mask);
                    [self.builder.ins().uwiden_low(masked), self.builder.ins().uwiden_high(masked)]
                }
                None => {
                    let up = self.builder.ins().ishl_imm_u(half, unused);
                    let extended = self.builder.ins().sshr_imm_u(up, unused);
                    [self.builder.ins().swiden_low(extended), self.builder.ins().swiden_high(extended)]
                }
            };
            for (q, quad) in pair.into_iter().enumerate() {
                quads[2 * h + q] = self.builder.ins().fcvt_from_sint(types::F32X4, quad);
            }
        }
        quads
    }

    /// The byte address of row 0 of a dot's `a` operand and the bytes from one row to the next (`row_bytes`
    /// apart in scratch), computed once before a loop over the rows: row `r` starts at `first + r * step`.
    pub(super) fn dot_rows(&mut self, a: DotOperand<'_>, row_bytes: i64) -> (Value, Value) {
        match a {
            DotOperand::Packed { int, pointer, base, row_stride, .. } => {
                // Every row starts on a byte boundary (the caller checked), so both divide exactly; the
                // stride may be negative.
                let bits = i64::from(int.bits);
                let base_bit = self.builder.ins().imul_imm_s(base, bits);
                let base_byte = self.builder.ins().ushr_imm_u(base_bit, 3);
                let first = self.builder.ins().iadd(pointer, base_byte);
                let stride_bits = self.builder.ins().imul_imm_s(row_stride, bits);
                (first, self.builder.ins().sshr_imm_s(stride_bits, 3))
            }
            DotOperand::F32(tile) | DotOperand::Codes(tile, _) => {
                let first = self.builder.ins().iadd_imm_s(self.scratch_ptr, i64::from(tile.offset));
                (first, self.builder.ins().iconst(types::I64, row_bytes))
            }
        }
    }

    /// The address of row `row` of rows laid out as [`Self::dot_rows`] returned them.
    pub(super) fn dot_row_address(&mut self, (first, step): (Value, Value), row: Value) -> Value {
        let offset = self.builder.ins().imul(row, step);
        self.builder.ins().iadd(first, offset)
    }

    /// `dst = acc + a · b` for `a: [M, K]`, `b: f32[K, 1]`, with 4-wide vectors and independent accumulators
    /// along K (`CpuOp::VectorDot`, or a fused f32 `CpuOp::FusedDot`: `K` a multiple of 4, or of 16 for
    /// codes; `dst` aliasing neither `a` nor `b`).
    pub(super) fn vector_dot(
        &mut self,
        dst: &TileRef,
        a: DotOperand<'_>,
        b: &TileRef,
        acc: &TileRef,
    ) -> ClifResult<()> {
        let a_tile = match a {
            DotOperand::F32(tile) | DotOperand::Codes(tile, _) | DotOperand::Packed { tile, .. } => tile,
        };
        let [rows, depth] = a_tile.shape[..] else {
            return Err(ClifError::Internal("a vector dot of a tile that is not a matrix".to_string()));
        };
        let vectors = (depth / 4) as i64;
        // Vectors of `b` per loop step, each with its own accumulator.
        let unroll: i64 = match a {
            DotOperand::F32(_) => [4, 2, 1].into_iter().find(|u| vectors % u == 0).unwrap_or(1),
            DotOperand::Codes(..) | DotOperand::Packed { .. } => 4,
        };
        let slot_bytes = i64::from(a_tile.slot().bytes());
        let a_row_bytes = slot_bytes * depth as i64;
        let a_step_bytes = match a {
            DotOperand::Packed { int, .. } => 2 * i64::from(int.bits),
            _ => slot_bytes * 4 * unroll,
        };
        let unpack = match a {
            DotOperand::Packed { int, .. } if int.bits < 8 => {
                Some(self.unpack_constants(u32::from(int.bits)))
            }
            _ => None,
        };
        let code_mask = match a {
            DotOperand::Codes(_, int) | DotOperand::Packed { int, .. } => self.unsigned_code_mask(int),
            DotOperand::F32(_) => None,
        };
        let a_rows = self.dot_rows(a, a_row_bytes);
        self.counted_loop(rows as i64, &mut |lowerer, row| {
            let a_row = lowerer.dot_row_address(a_rows, row);
            let b_start = lowerer.builder.ins().iadd_imm_s(lowerer.scratch_ptr, i64::from(b.offset));
            let zero = lowerer.builder.ins().f32const(0.0);
            let zero = lowerer.builder.ins().splat(types::F32X4, zero);
            let loop_block = lowerer.builder.create_block();
            let exit = lowerer.builder.create_block();
            let step = lowerer.builder.append_block_param(loop_block, types::I64);
            let sums: Vec<Value> =
                (0..unroll).map(|_| lowerer.builder.append_block_param(loop_block, types::F32X4)).collect();
            let finals: Vec<Value> =
                (0..unroll).map(|_| lowerer.builder.append_block_param(exit, types::F32X4)).collect();
            let start = lowerer.builder.ins().iconst(types::I64, 0);
            let mut entry_args: Vec<BlockArg> = vec![start.into()];
            entry_args.extend((0..unroll).map(|_| BlockArg::from(zero)));
            lowerer.builder.ins().jump(loop_block, &entry_args);
            lowerer.builder.switch_to_block(loop_block);
            let a_offset = lowerer.builder.ins().imul_imm_s(step, a_step_bytes);
            let a_address = lowerer.builder.ins().iadd(a_row, a_offset);
            let b_offset = lowerer.builder.ins().imul_imm_s(step, unroll * VECTOR_BYTES);
            let b_address = lowerer.builder.ins().iadd(b_start, b_offset);
            let a_vectors: Vec<Value> = match a {
                DotOperand::F32(_) => (0..unroll)
                    .map(|u| {
                        let at = u as i32 * VECTOR_BYTES as i32;
                        lowerer.builder.ins().load(types::F32X4, vector_mem(), a_address, at)
                    })
                    .collect(),
                DotOperand::Codes(_, int) => {
                    let codes = lowerer.builder.ins().load(types::I8X16, vector_mem(), a_address, 0);
                    lowerer.codes_to_f32x4(codes, int, code_mask).to_vec()
                }
                DotOperand::Packed { int, .. } => {
                    let bytes = lowerer.builder.ins().load(types::I8X16, vector_mem(), a_address, 0);
                    let halves = match unpack {
                        Some(constants) => lowerer.unpack_halves(bytes, constants),
                        None => [
                            lowerer.builder.ins().uwiden_low(bytes),
                            lowerer.builder.ins().uwiden_high(bytes),
                        ],
                    };
                    lowerer.halves_to_f32x4(halves, int, code_mask).to_vec()
                }
            };
            let mut next_sums = Vec::with_capacity(sums.len());
            for (u, (&sum, &a_values)) in sums.iter().zip(&a_vectors).enumerate() {
                let at = u as i32 * VECTOR_BYTES as i32;
                let b_values = lowerer.builder.ins().load(types::F32X4, vector_mem(), b_address, at);
                next_sums.push(lowerer.builder.ins().fma(a_values, b_values, sum));
            }
            let next_step = lowerer.builder.ins().iadd_imm_s(step, 1);
            let more = lowerer.builder.ins().icmp_imm_s(IntCC::UnsignedLessThan, next_step, vectors / unroll);
            let mut loop_args: Vec<BlockArg> = vec![next_step.into()];
            loop_args.extend(next_sums.iter().map(|&sum| BlockArg::from(sum)));
            let exit_args: Vec<BlockArg> = next_sums.iter().map(|&sum| sum.into()).collect();
            lowerer.builder.ins().brif(more, loop_block, &loop_args, exit, &exit_args);
            lowerer.builder.switch_to_block(exit);
            let mut total = finals[0];
            for &other in &finals[1..] {
                total = lowerer.builder.ins().fadd(total, other);
            }
            lowerer.store_dot_row(total, row, Some(acc), dst);
            Ok(())
        })
    }

    /// `dst[first + j] = acc[first + j] + (the sum of the lanes of `sums[j]`)` (`acc` `None`: zero) for `j` in
    /// `0..4`, for `[M, 1]` i32 tiles: three pairwise adds (`phaddd`) leave the four totals in one vector,
    /// exact in any order.
    pub(super) fn store_dot_rows4(
        &mut self,
        sums: [Value; 4],
        first: Value,
        acc: Option<&TileRef>,
        dst: &TileRef,
    ) {
        let low = self.builder.ins().iadd_pairwise(sums[0], sums[1]);
        let high = self.builder.ins().iadd_pairwise(sums[2], sums[3]);
        let totals = self.builder.ins().iadd_pairwise(low, high);
        let element_offset = self.builder.ins().imul_imm_s(first, 4);
        let element = self.builder.ins().iadd(self.scratch_ptr, element_offset);
        let result = match acc {
            Some(acc) => {
                let initial = self.builder.ins().load(types::I32X4, vector_mem(), element, acc.offset as i32);
                self.builder.ins().iadd(initial, totals)
            }
            None => totals,
        };
        self.builder.ins().store(vector_mem(), result, element, dst.offset as i32);
    }

    /// `dst[row] = acc[row] + (the sum of the four lanes of `sums`)` (`acc` `None`: zero, integers only), for
    /// `[M, 1]` tiles of f32 (`sums` an `F32X4`) or i32 (an `I32X4`).
    pub(super) fn store_dot_row(&mut self, sums: Value, row: Value, acc: Option<&TileRef>, dst: &TileRef) {
        let float = self.builder.func.dfg.value_type(sums) == types::F32X4;
        let add = |lowerer: &mut Self, x: Value, y: Value| {
            if float { lowerer.builder.ins().fadd(x, y) } else { lowerer.builder.ins().iadd(x, y) }
        };
        let total = if float {
            // In lane order, as the other float dots sum.
            let mut total = self.builder.ins().extractlane(sums, 0);
            for lane in 1..4u8 {
                let value = self.builder.ins().extractlane(sums, lane);
                total = add(self, total, value);
            }
            total
        } else {
            // Exact in any order: two pairwise adds (`phaddd`) leave the total in every lane.
            let pairs = self.builder.ins().iadd_pairwise(sums, sums);
            let total = self.builder.ins().iadd_pairwise(pairs, pairs);
            self.builder.ins().extractlane(total, 0)
        };
        let element_offset = self.builder.ins().imul_imm_s(row, 4);
        let element = self.builder.ins().iadd(self.scratch_ptr, element_offset);
        let scalar_type = if float { types::F32 } else { types::I32 };
        let result = match acc {
            Some(acc) => {
                let initial = self.builder.ins().load(scalar_type, mem(), element, acc.offset as i32);
                add(self, initial, total)
            }
            // An integer dot from a zero accumulator: `0 + total` is `total` (for floats `+0 + -0` is not).
            None => total,
        };
        self.builder.ins().store(mem(), result, element, dst.offset as i32);
    }
}
