//! Integer dots of bytes: `dst = acc + a · b` for `a: [M, K]` unsigned codes of at most 7 bits (their cast
//! to i32 fused) and `b: [K, 1]` i8 codes (their cast fused too), exact in i32.
//
// Every product fits 16 bits (127 · 128) and the sum is taken modulo 2^32 like the interpreter's wrapping
// i32 arithmetic, so the result is bit-exact whatever the order of summation.
//
// `b` is rearranged once per dot into a stack slot, in the order in which the loop decodes `a`, so the
// per-row loop only loads it (or keeps it in registers):
//   - 1-, 2- and 4-bit codes from memory, `8 / bits` per byte, `128 / bits` per 16-byte load: shift and mask
//     split a load into `8 / bits` bit planes, plane `p` holding the codes `p, p + 8/bits, ...` of the
//     load's run, so each run of `b` is stored plane by plane (for 4 bits: its 16 even, then its 16 odd
//     codes). With `x86_pmaddubsw` (unsigned bytes times signed bytes, adjacent pairs summed into 16 bits)
//     the planes multiply `b` directly; otherwise both sides widen to 16 bits first.
//   - other widths (unpacked by `simd::unpack_halves`, 16 codes per step): narrowed to bytes against `b` in
//     natural order with `x86_pmaddubsw`, or widened against 16-bit `b` (`pmaddwd` on x64); codes already
//     in slots take the 16-bit path too.
// `pmaddubsw` sums stay in 16 bits for as many steps as cannot overflow. The K loop is unrolled (K is a
// compile-time tile extent), leaving one loop over the rows, four rows per iteration.

use cranelift_codegen::ir::{InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value, types};

use super::isel::BytePlan;
use super::isel::rules::bit_planes;
use super::lowerer::ClifLowerer;
use super::simd::{DotOperand, UnpackConstants, VECTOR_BYTES, code_loads, lane_order, vector_mem};
use super::tiles::TileRef;
use super::{ClifError, ClifResult};

/// How `b` is laid out for the loop and how `a` is decoded (`isel::BytePlan`), with the unpacking
/// constants of the unpacked plans.
#[derive(Clone, Copy, Debug)]
enum Plan {
    PlanesBytes,
    PlanesWide,
    UnpackedBytes(UnpackConstants),
    UnpackedWide(UnpackConstants),
    SlotsWide,
}

impl Plan {
    /// Whether the plan multiplies against 16-bit `b` (`pmaddwd`) rather than bytes (`pmaddubsw`).
    fn wide(self) -> bool {
        matches!(self, Plan::PlanesWide | Plan::UnpackedWide(_) | Plan::SlotsWide)
    }
}

/// What the row loop of one byte dot needs, created once before it.
struct RowDot<'r> {
    plan: Plan,
    bits: u8,
    steps: usize,
    /// The address of the prepared `b`.
    prepared: Value,
    /// The prepared `b` in registers, when it is small enough (`RESIDENT_VECTORS`).
    resident: Option<&'r [Value]>,
    /// Codes per byte of the bit-plane plans (1 otherwise).
    per_byte: usize,
    code_mask: Value,
    /// The code mask in every byte lane.
    byte_mask: Value,
    /// Steps whose 16-bit sums are added up before widening (`narrow_steps`).
    narrow_steps: usize,
    /// An `I32X4` zero.
    zero: Value,
    /// The flags of the loads of `a`'s codes (`simd::code_loads`).
    loads: MemFlagsData,
}

/// The most vectors of prepared `b` kept in registers across the row loop (x64 has 16 vector registers;
/// the loop needs a few more for the codes, masks and sums).
const RESIDENT_VECTORS: usize = 8;

/// Steps of `pmaddubsw` sums added up in 16 bits before widening: as many as cannot overflow. A bit-plane
/// step adds one `pmaddubsw` result per plane, each at most 2 · (2^bits - 1) · 128 in magnitude per lane
/// (for 4 bits, four steps fit); an unpacked step one (which itself fits 16 bits for up to 7 bits).
fn narrow_steps(plan: Plan, bits: u8, per_byte: usize) -> usize {
    let largest_code = (1i64 << bits) - 1;
    let per_step = match plan {
        Plan::PlanesBytes => per_byte as i64 * 2 * largest_code * 128,
        Plan::UnpackedBytes(_) => 2 * largest_code * 128,
        Plan::PlanesWide | Plan::UnpackedWide(_) | Plan::SlotsWide => return 1,
    };
    (i64::from(i16::MAX) / per_step).max(1) as usize
}

impl<'a> ClifLowerer<'a> {
    /// Lowers the integer dot with `plan` (`CpuOp::FusedDot` with `FusedRhs::Bytes`: `rows > 0`, `depth` a
    /// multiple of 16 up to `MAX_BYTE_DOT_DEPTH`, unsigned codes of at most 7 bits and i8 `b`); `acc` is
    /// `None` for a zero accumulator the dot does not read.
    pub(super) fn byte_dot(
        &mut self,
        dst: &TileRef,
        a: DotOperand<'_>,
        b: &TileRef,
        acc: Option<&TileRef>,
        plan: BytePlan,
    ) -> ClifResult<()> {
        let (a_tile, int) = match a {
            DotOperand::Codes(tile, int) | DotOperand::Packed { tile, int, .. } => (tile, int),
            DotOperand::F32(_) => return Err(ClifError::Internal("a byte dot of f32 operands".to_string())),
        };
        let [rows, depth] = a_tile.shape[..] else {
            return Err(ClifError::Internal("a byte dot of a tile that is not a matrix".to_string()));
        };
        let planes = if plan.planes() { bit_planes(int, depth) } else { None };
        let plan = match plan {
            BytePlan::PlanesBytes => Plan::PlanesBytes,
            BytePlan::PlanesWide => Plan::PlanesWide,
            BytePlan::UnpackedBytes => Plan::UnpackedBytes(self.unpack_constants(u32::from(int.bits))),
            BytePlan::UnpackedWide => Plan::UnpackedWide(self.unpack_constants(u32::from(int.bits))),
            BytePlan::SlotsWide => Plan::SlotsWide,
        };
        let per_byte = planes.unwrap_or(1);
        let steps = depth / (16 * per_byte);
        let prepared = self.prepare_bytes(b, depth, plan, per_byte);
        let code_mask = self.builder.ins().iconst(types::I16, (1i64 << int.bits) - 1);
        let code_mask = self.builder.ins().splat(types::I16X8, code_mask);
        let byte_mask = self.builder.ins().iconst(types::I8, (1i64 << int.bits) - 1);
        let byte_mask = self.builder.ins().splat(types::I8X16, byte_mask);
        let a_row_bytes = depth as i64;
        // With few enough vectors of `b`, they are loaded once, before the row loop, and stay in registers.
        let b_vectors = match plan {
            Plan::PlanesBytes => per_byte * steps,
            Plan::UnpackedBytes(_) => steps,
            Plan::PlanesWide | Plan::UnpackedWide(_) | Plan::SlotsWide => usize::MAX,
        };
        let resident: Option<Vec<Value>> = (b_vectors <= RESIDENT_VECTORS).then(|| {
            (0..b_vectors)
                .map(|v| self.builder.ins().load(types::I8X16, vector_mem(), prepared, 16 * v as i32))
                .collect()
        });
        let a_rows = self.dot_rows(a, a_row_bytes);
        let zero = self.builder.ins().iconst(types::I32, 0);
        let zero = self.builder.ins().splat(types::I32X4, zero);
        let row_dot = RowDot {
            plan,
            bits: int.bits,
            steps,
            prepared,
            resident: resident.as_deref(),
            per_byte,
            code_mask,
            byte_mask,
            narrow_steps: narrow_steps(plan, int.bits, per_byte),
            zero,
            loads: code_loads(a),
        };
        let accumulator = acc;
        // Four rows per iteration, reduced together; then the rows left over one by one.
        let quads = rows / 4;
        self.counted_loop(quads as i64, &mut |lowerer, quad| {
            let first = lowerer.builder.ins().imul_imm_s(quad, 4);
            // The other three rows at constant distances from the first (with a constant row stride),
            // which fold into the loads' displacements.
            let first_row = lowerer.dot_row_address(a_rows, first);
            let sums = [0, 1, 2, 3].map(|j| {
                let a_row = if j == 0 {
                    first_row
                } else {
                    let distance = lowerer.builder.ins().imul_imm_s(a_rows.1, j);
                    lowerer.builder.ins().iadd(first_row, distance)
                };
                lowerer.byte_row_sum(&row_dot, a_row)
            });
            lowerer.store_dot_rows4(sums, first, accumulator, dst);
            Ok(())
        })?;
        self.counted_loop((rows % 4) as i64, &mut |lowerer, rest| {
            let row = lowerer.builder.ins().iadd_imm_s(rest, (quads * 4) as i64);
            let a_row = lowerer.dot_row_address(a_rows, row);
            let sum = lowerer.byte_row_sum(&row_dot, a_row);
            lowerer.store_dot_row(sum, row, accumulator, dst);
            Ok(())
        })
    }

    /// The four `I32X4` partial sums of one row's dot, whose lanes add up to the row's result.
    fn byte_row_sum(&mut self, dot: &RowDot<'_>, a_row: Value) -> Value {
        let mut sum = dot.zero;
        // 16-bit sums of products, added up for up to `narrow_steps` steps.
        let mut narrow: Option<Value> = None;
        for step in 0..dot.steps {
            // Where the step's `b` starts among the prepared 16-bit values.
            let wide_at = (step * 16 * dot.per_byte * 2) as i32;
            match dot.plan {
                Plan::PlanesBytes => {
                    let planes = self.split_planes(dot, a_row, step);
                    let mut pairs: Option<Value> = None;
                    for (p, plane) in planes.into_iter().enumerate() {
                        let b = self.prepared_bytes(dot, dot.per_byte * step + p);
                        let products = self.builder.ins().x86_pmaddubsw(b, plane);
                        pairs = Some(match pairs {
                            Some(pairs) => self.builder.ins().iadd(pairs, products),
                            None => products,
                        });
                    }
                    let pairs = pairs.expect("at least one plane");
                    (sum, narrow) = self.add_narrow(dot, step, sum, narrow, pairs);
                }
                Plan::UnpackedBytes(constants) => {
                    // Each half holds its codes below bit 8 of a 16-bit lane, so the saturating narrowing
                    // keeps them, with the neighbours' bits above each code for the mask to clear.
                    let [low, high] = self.unpack_step(dot, a_row, step, constants);
                    let codes = self.builder.ins().unarrow(low, high);
                    let codes = self.builder.ins().band(codes, dot.byte_mask);
                    let b = self.prepared_bytes(dot, step);
                    let pairs = self.builder.ins().x86_pmaddubsw(b, codes);
                    (sum, narrow) = self.add_narrow(dot, step, sum, narrow, pairs);
                }
                Plan::PlanesWide => {
                    let planes = self.split_planes(dot, a_row, step);
                    let halves: Vec<Value> = planes
                        .into_iter()
                        .flat_map(|plane| {
                            [self.builder.ins().uwiden_low(plane), self.builder.ins().uwiden_high(plane)]
                        })
                        .collect();
                    sum = self.wide_products(sum, &halves, dot.prepared, wide_at);
                }
                Plan::UnpackedWide(constants) => {
                    let halves = self.unpack_step(dot, a_row, step, constants);
                    let halves = halves.map(|half| self.builder.ins().band(half, dot.code_mask));
                    sum = self.wide_products(sum, &halves, dot.prepared, wide_at);
                }
                Plan::SlotsWide => {
                    let at = (step * 16) as i32;
                    let codes = self.builder.ins().load(types::I8X16, dot.loads, a_row, at);
                    let halves =
                        [self.builder.ins().uwiden_low(codes), self.builder.ins().uwiden_high(codes)];
                    let halves = halves.map(|half| self.builder.ins().band(half, dot.code_mask));
                    sum = self.wide_products(sum, &halves, dot.prepared, wide_at);
                }
            }
        }
        sum
    }

    /// Vector `v` of the prepared bytes of `b`: from registers when they are resident.
    fn prepared_bytes(&mut self, dot: &RowDot<'_>, v: usize) -> Value {
        match dot.resident {
            Some(vectors) => vectors[v],
            None => self.builder.ins().load(types::I8X16, vector_mem(), dot.prepared, 16 * v as i32),
        }
    }

    /// The 16 packed codes of step `step` of the row at `a_row`, unpacked into two `I16X8` halves
    /// (`simd::unpack_halves`: each code in the low bits of its lane, neighbouring bits above it).
    fn unpack_step(
        &mut self,
        dot: &RowDot<'_>,
        a_row: Value,
        step: usize,
        constants: UnpackConstants,
    ) -> [Value; 2] {
        let at = (step as i64 * 2 * i64::from(dot.bits)) as i32;
        let bytes = self.builder.ins().load(types::I8X16, dot.loads, a_row, at);
        self.unpack_halves(bytes, constants)
    }

    /// Adds one step's `I16X8` sums of products to the 16-bit partial sum, and every `narrow_steps` steps
    /// (and after the last) the partial sum, widened by `pmaddwd` with ones, to the `I32X4` sum.
    fn add_narrow(
        &mut self,
        dot: &RowDot<'_>,
        step: usize,
        sum: Value,
        narrow: Option<Value>,
        pairs: Value,
    ) -> (Value, Option<Value>) {
        let total = match narrow {
            Some(partial) => self.builder.ins().iadd(partial, pairs),
            None => pairs,
        };
        if !(step + 1).is_multiple_of(dot.narrow_steps) && step + 1 != dot.steps {
            return (sum, Some(total));
        }
        let low = self.builder.ins().swiden_low(total);
        let high = self.builder.ins().swiden_high(total);
        let products = self.builder.ins().iadd_pairwise(low, high);
        let sum = if step < dot.narrow_steps { products } else { self.builder.ins().iadd(sum, products) };
        (sum, None)
    }

    /// The bit planes of the 16 bytes of step `step` of the row at `a_row`: plane `p` holds, in the low bits
    /// of each byte lane, the codes at bits `p * bits ..` of each byte.
    fn split_planes(&mut self, dot: &RowDot<'_>, a_row: Value, step: usize) -> Vec<Value> {
        let bytes = self.builder.ins().load(types::I8X16, dot.loads, a_row, (step * 16) as i32);
        let wide = self.builder.ins().bitcast(types::I16X8, lane_order(), bytes);
        (0..dot.per_byte)
            .map(|p| {
                let shifted = if p == 0 {
                    bytes
                } else {
                    // Bits shifted in from the neighbouring byte are above the code, and masked off.
                    let shifted = self.builder.ins().ushr_imm_u(wide, (p * usize::from(dot.bits)) as i64);
                    self.builder.ins().bitcast(types::I8X16, lane_order(), shifted)
                };
                self.builder.ins().band(shifted, dot.byte_mask)
            })
            .collect()
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

    /// Copies the i8 codes of `b` into a fresh stack slot in the order and width `plan` needs (plane by
    /// plane for the bit-plane plans, `per_byte` planes per run of `16 * per_byte` codes); returns its address.
    fn prepare_bytes(&mut self, b: &TileRef, depth: usize, plan: Plan, per_byte: usize) -> Value {
        let wide = plan.wide();
        let by_plane = matches!(plan, Plan::PlanesBytes | Plan::PlanesWide);
        let size = (depth * if wide { 2 } else { 1 }) as u32;
        let slot =
            self.builder.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 4));
        let prepared = self.builder.ins().stack_addr(types::I64, slot, 0);
        let source = self.builder.ins().iadd_imm_s(self.scratch_ptr, i64::from(b.offset));
        let chunk = VECTOR_BYTES as usize;
        let run = if by_plane { chunk * per_byte } else { chunk };
        for start in (0..depth).step_by(run) {
            let inputs: Vec<Value> = (0..run / chunk)
                .map(|s| {
                    self.builder.ins().load(types::I8X16, vector_mem(), source, (start + s * chunk) as i32)
                })
                .collect();
            let vectors = if by_plane { self.gather_planes(&inputs) } else { inputs };
            for (v, vector) in vectors.into_iter().enumerate() {
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

    /// The `n` bit planes of a run of `16 n` bytes (`inputs`, 16 each): plane `p` is bytes `p, p + n, ...`,
    /// gathered from every input with byte swizzles (out-of-range indices give 0) and ORed together.
    fn gather_planes(&mut self, inputs: &[Value]) -> Vec<Value> {
        let n = inputs.len();
        (0..n)
            .map(|p| {
                let mut plane: Option<Value> = None;
                for (s, &input) in inputs.iter().enumerate() {
                    // Output byte i takes run byte n i + p, which is in input s when it is 16 s + j.
                    let indices: Vec<u8> = (0..16)
                        .map(|i| {
                            let byte = n * i + p;
                            if byte / 16 == s { (byte % 16) as u8 } else { 0x80 }
                        })
                        .collect();
                    if indices.iter().all(|&index| index == 0x80) {
                        continue;
                    }
                    let indices = self.vector_const(types::I8X16, &indices);
                    let part = self.builder.ins().swizzle(input, indices);
                    plane = Some(match plane {
                        Some(plane) => self.builder.ins().bor(plane, part),
                        None => part,
                    });
                }
                plane.expect("every plane takes bytes from some input")
            })
            .collect()
    }
}
