//! Integer dots of bytes: `dst = acc + a · b` for `a: [M, K]` unsigned codes of at most 7 bits (their cast
//! to i32 fused) and `b: [K, 1]` i8 codes (their cast fused too), exact in i32.
//
// Every product fits 16 bits (127 · 128) and the sum is taken modulo 2^32 like the interpreter's wrapping
// i32 arithmetic, so the result is bit-exact whatever the order of summation.
//
// `b` is rearranged once per dot into a stack slot, in the order in which the loop decodes `a`, so the
// per-row loop only loads it:
//   - 4-bit codes from memory, 32 per 16-byte load: the low nibbles are the even codes and the high
//     nibbles the odd ones, so each 32-code chunk of `b` is stored as its 16 even then its 16 odd codes.
//     With `x86_pmaddubsw` (unsigned bytes times signed bytes, adjacent pairs summed into 16 bits) the
//     nibbles multiply `b` directly; otherwise both sides widen to 16 bits first.
//   - other widths (unpacked by `simd::unpack_halves`, 16 codes per step) and codes already in slots:
//     `b` in natural order, widened to i16, multiplied pairwise into i32 (`pmaddwd` on x64).
// The K loop is unrolled (K is a compile-time tile extent), leaving one loop over the rows.

use cranelift_codegen::ir::{InstBuilder, StackSlotData, StackSlotKind, Value, types};
use tilevm_vm::dtype::DataType;

use super::ClifResult;
use super::lowerer::ClifLowerer;
use super::simd::{DotOperand, VECTOR_BYTES, lane_order, vector_mem};
use super::tiles::TileRef;

/// How `b` is laid out for the loop, and how `a` is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ByteDotPlan {
    /// 4-bit codes from memory, nibbles against even/odd bytes of `b` with `x86_pmaddubsw`.
    NibblesBytes,
    /// 4-bit codes from memory, nibbles widened against even/odd 16-bit `b`.
    NibblesWide,
    /// Codes of other widths from memory, or codes in slots, 16 per step against 16-bit `b`.
    Wide,
}

/// The most vectors of prepared `b` kept in registers across the row loop (x64 has 16 vector registers;
/// the loop needs a few more for the codes, masks and sums).
const RESIDENT_VECTORS: usize = 8;

/// Steps of `pmaddubsw` pairs summed in 16 bits before widening: each adds at most 2 · 2 · 15 · 128 = 7680
/// in magnitude to a lane, and four such are 30720 < 2^15.
const NARROW_STEPS: usize = 4;

/// The deepest dot lowered (its K loop is unrolled: at most 256 steps of 16 codes); `fuse` fuses no deeper
/// ones, so that a fused dot always applies.
pub(super) const MAX_DEPTH: usize = 4096;

impl<'a> ClifLowerer<'a> {
    /// Lowers the integer dot; returns whether it applied (the shapes and types `fuse` checked).
    pub(super) fn byte_dot(
        &mut self,
        dst: &TileRef,
        a: DotOperand<'_>,
        b: &TileRef,
        acc: &TileRef,
    ) -> ClifResult<bool> {
        let (a_tile, int) = match a {
            DotOperand::Codes(tile, int) | DotOperand::Packed { tile, int, .. } => (tile, int),
            DotOperand::F32(_) => return Ok(false),
        };
        let [rows, depth] = a_tile.shape[..] else { return Ok(false) };
        let i32_result = [dst, acc].iter().all(|tile| tile.dtype == DataType::I32);
        let fits = b.shape == [depth, 1] && dst.shape == [rows, 1] && acc.shape == dst.shape;
        let codes_fit = !int.signed && int.bits <= 7 && a_tile.slot() == types::I8 && b.slot() == types::I8;
        let aliased = dst.offset == b.offset;
        if !i32_result
            || !fits
            || !codes_fit
            || aliased
            || rows == 0
            || depth == 0
            || !depth.is_multiple_of(16)
            || depth > MAX_DEPTH
        {
            return Ok(false);
        }
        let nibbles = matches!(a, DotOperand::Packed { .. }) && int.bits == 4 && depth.is_multiple_of(32);
        let plan = match (nibbles, self.byte_multiply_add) {
            (true, true) => ByteDotPlan::NibblesBytes,
            (true, false) => ByteDotPlan::NibblesWide,
            (false, _) => ByteDotPlan::Wide,
        };
        let codes_per_step = if nibbles { 32 } else { 16 };
        let steps = depth / codes_per_step;
        let prepared = self.prepare_bytes(b, depth, plan);
        let code_mask = self.builder.ins().iconst(types::I16, (1i64 << int.bits) - 1);
        let code_mask = self.builder.ins().splat(types::I16X8, code_mask);
        let nibble_mask = self.builder.ins().iconst(types::I8, 0x0f);
        let nibble_mask = self.builder.ins().splat(types::I8X16, nibble_mask);
        let unpack = match a {
            DotOperand::Packed { int, .. } if !nibbles => Some(self.unpack_constants(u32::from(int.bits))),
            _ => None,
        };
        let a_row_bytes = depth as i64;
        // With few enough vectors of `b`, they are loaded once, before the row loop, and stay in registers.
        let resident: Option<Vec<Value>> =
            (plan == ByteDotPlan::NibblesBytes && 2 * steps <= RESIDENT_VECTORS).then(|| {
                (0..2 * steps)
                    .map(|v| self.builder.ins().load(types::I8X16, vector_mem(), prepared, 16 * v as i32))
                    .collect()
            });
        self.counted_loop(rows as i64, &mut |lowerer, row| {
            let a_row = lowerer.dot_row_address(a, row, a_row_bytes);
            let zero = lowerer.builder.ins().iconst(types::I32, 0);
            let mut sum = lowerer.builder.ins().splat(types::I32X4, zero);
            // `pmaddubsw` pairs of one step, summed in 16 bits for up to `NARROW_STEPS` steps.
            let mut narrow: Option<Value> = None;
            for step in 0..steps {
                let b_at = |lane_bytes: usize, vector: usize| {
                    (step * codes_per_step * lane_bytes + vector * 16) as i32
                };
                match (plan, unpack) {
                    (ByteDotPlan::NibblesBytes, _) => {
                        let (low, high) = lowerer.split_nibbles(a_row, step, nibble_mask);
                        let mut b_vector = |v: usize| match &resident {
                            Some(vectors) => vectors[2 * step + v],
                            None => {
                                lowerer.builder.ins().load(types::I8X16, vector_mem(), prepared, b_at(1, v))
                            }
                        };
                        let (even, odd) = (b_vector(0), b_vector(1));
                        let even = lowerer.builder.ins().x86_pmaddubsw(even, low);
                        let odd = lowerer.builder.ins().x86_pmaddubsw(odd, high);
                        // Each lane is at most 2 · 15 · 128 per half, so `NARROW_STEPS` steps fit 16 bits.
                        let pairs = lowerer.builder.ins().iadd(even, odd);
                        let total = match narrow {
                            Some(partial) => lowerer.builder.ins().iadd(partial, pairs),
                            None => pairs,
                        };
                        narrow = Some(total);
                        if (step + 1) % NARROW_STEPS == 0 || step + 1 == steps {
                            let low = lowerer.builder.ins().swiden_low(total);
                            let high = lowerer.builder.ins().swiden_high(total);
                            let products = lowerer.builder.ins().iadd_pairwise(low, high);
                            sum = lowerer.builder.ins().iadd(sum, products);
                            narrow = None;
                        }
                    }
                    (ByteDotPlan::NibblesWide, _) => {
                        let (low, high) = lowerer.split_nibbles(a_row, step, nibble_mask);
                        let halves = [
                            lowerer.builder.ins().uwiden_low(low),
                            lowerer.builder.ins().uwiden_high(low),
                            lowerer.builder.ins().uwiden_low(high),
                            lowerer.builder.ins().uwiden_high(high),
                        ];
                        sum = lowerer.wide_products(sum, &halves, prepared, b_at(2, 0));
                    }
                    (ByteDotPlan::Wide, Some(constants)) => {
                        let at = (step as i64 * 2 * i64::from(int.bits)) as i32;
                        let bytes = lowerer.builder.ins().load(types::I8X16, vector_mem(), a_row, at);
                        let halves = lowerer.unpack_halves(bytes, constants);
                        let halves = halves.map(|half| lowerer.builder.ins().band(half, code_mask));
                        sum = lowerer.wide_products(sum, &halves, prepared, b_at(2, 0));
                    }
                    (ByteDotPlan::Wide, None) => {
                        let at = (step * 16) as i32;
                        let codes = lowerer.builder.ins().load(types::I8X16, vector_mem(), a_row, at);
                        let halves = [
                            lowerer.builder.ins().uwiden_low(codes),
                            lowerer.builder.ins().uwiden_high(codes),
                        ];
                        let halves = halves.map(|half| lowerer.builder.ins().band(half, code_mask));
                        sum = lowerer.wide_products(sum, &halves, prepared, b_at(2, 0));
                    }
                }
            }
            lowerer.store_dot_row(sum, row, acc, dst);
            Ok(())
        })?;
        Ok(true)
    }

    /// The low and high nibbles of the 16 bytes of step `step` of the row at `a_row`, each in the low four
    /// bits of a byte lane: the even and the odd codes of the step's 32.
    fn split_nibbles(&mut self, a_row: Value, step: usize, nibble_mask: Value) -> (Value, Value) {
        let bytes = self.builder.ins().load(types::I8X16, vector_mem(), a_row, (step * 16) as i32);
        let low = self.builder.ins().band(bytes, nibble_mask);
        let wide = self.builder.ins().bitcast(types::I16X8, lane_order(), bytes);
        let shifted = self.builder.ins().ushr_imm_u(wide, 4);
        let shifted = self.builder.ins().bitcast(types::I8X16, lane_order(), shifted);
        (low, self.builder.ins().band(shifted, nibble_mask))
    }

    /// `sum + sum_i halves[i] · b16[i]` with `I32X4` pairwise sums, `b16[i]` the `I16X8` vector of the
    /// prepared `b` at `at + 16 i`.
    fn wide_products(&mut self, mut sum: Value, halves: &[Value], prepared: Value, at: i32) -> Value {
        for (i, &half) in halves.iter().enumerate() {
            let b = self.builder.ins().load(types::I16X8, vector_mem(), prepared, at + 16 * i as i32);
            let products = self.pairwise_products(half, b);
            sum = self.builder.ins().iadd(sum, products);
        }
        sum
    }

    /// `[x0 y0 + x1 y1, ..., x6 y6 + x7 y7]` of two `I16X8` vectors as `I32X4`: the pattern that x64
    /// lowers to one `pmaddwd` (and other targets to their widening multiplies).
    fn pairwise_products(&mut self, x: Value, y: Value) -> Value {
        let (x_low, y_low) = (self.builder.ins().swiden_low(x), self.builder.ins().swiden_low(y));
        let (x_high, y_high) = (self.builder.ins().swiden_high(x), self.builder.ins().swiden_high(y));
        let low = self.builder.ins().imul(x_low, y_low);
        let high = self.builder.ins().imul(x_high, y_high);
        self.builder.ins().iadd_pairwise(low, high)
    }

    /// Copies the i8 codes of `b` into a fresh stack slot in the order and width `plan` needs; returns its
    /// address.
    fn prepare_bytes(&mut self, b: &TileRef, depth: usize, plan: ByteDotPlan) -> Value {
        let wide = plan != ByteDotPlan::NibblesBytes;
        let size = (depth * if wide { 2 } else { 1 }) as u32;
        let slot =
            self.builder.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 4));
        let prepared = self.builder.ins().stack_addr(types::I64, slot, 0);
        let source = self.builder.ins().iadd_imm_s(self.scratch_ptr, i64::from(b.offset));
        let even_odd: Vec<u8> = (0..16).map(|i| 2 * i).chain((0..16).map(|i| 2 * i + 1)).collect();
        let even_mask = self.builder.func.dfg.immediates.push(even_odd[..16].to_vec().into());
        let odd_mask = self.builder.func.dfg.immediates.push(even_odd[16..].to_vec().into());
        let chunk = VECTOR_BYTES as usize;
        for start in (0..depth).step_by(2 * chunk) {
            let first = self.builder.ins().load(types::I8X16, vector_mem(), source, start as i32);
            let vectors = if plan == ByteDotPlan::Wide {
                let second = if start + chunk < depth {
                    Some(self.builder.ins().load(types::I8X16, vector_mem(), source, (start + chunk) as i32))
                } else {
                    None
                };
                [Some(first), second]
            } else {
                let second =
                    self.builder.ins().load(types::I8X16, vector_mem(), source, (start + chunk) as i32);
                let even = self.builder.ins().shuffle(first, second, even_mask);
                let odd = self.builder.ins().shuffle(first, second, odd_mask);
                [Some(even), Some(odd)]
            };
            for (v, vector) in vectors.into_iter().enumerate() {
                let Some(vector) = vector else { continue };
                let at = start + v * chunk;
                if wide {
                    let low = self.builder.ins().swiden_low(vector);
                    let high = self.builder.ins().swiden_high(vector);
                    self.builder.ins().store(vector_mem(), low, prepared, (2 * at) as i32);
                    self.builder.ins().store(vector_mem(), high, prepared, (2 * at + 16) as i32);
                } else {
                    self.builder.ins().store(vector_mem(), vector, prepared, at as i32);
                }
            }
        }
        prepared
    }
}
