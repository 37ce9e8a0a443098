//! Conversions of whole tiles with vectors: integer codes of at most 8 bits, `i32` and `f16` to `f32`, and
//! `f32` to 8-bit integers, bit-exact with `dtype::cast`.

use super::frame::element_count;
use super::isel::VectorCast;
use super::lowerer::ClifLowerer;
use super::simd::{VECTOR_BYTES, lane_order, vector_mem};
use super::tiles::TileRef;
use super::{ClifError, ClifResult};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};

impl ClifLowerer<'_> {
    /// `Cast` of `from` into `to` with vectors (`CpuOp::VectorCast`: same shape, an element count that
    /// is a whole number of steps).
    pub(super) fn vector_cast(&mut self, from: &TileRef, to: &TileRef, cast: VectorCast) -> ClifResult<()> {
        let count = element_count(&from.shape);
        if let VectorCast::F32ToBytes { signed } = cast {
            return self.vector_f32_to_bytes(from, to, count, signed);
        }
        let src = self.builder.ins().iadd_imm_s(self.scratch_ptr, i64::from(from.offset));
        let dst = self.builder.ins().iadd_imm_s(self.scratch_ptr, i64::from(to.offset));
        match cast {
            VectorCast::IntCodesToF32(int) => {
                let mask = self.unsigned_code_mask(int);
                self.short_loop((count / 16) as i64, &mut |lowerer, group| {
                    let offset = lowerer.builder.ins().imul_imm_s(group, VECTOR_BYTES);
                    let from_address = lowerer.builder.ins().iadd(src, offset);
                    let codes = lowerer.builder.ins().load(types::I8X16, vector_mem(), from_address, 0);
                    let out_offset = lowerer.builder.ins().imul_imm_s(group, 4 * VECTOR_BYTES);
                    let to_address = lowerer.builder.ins().iadd(dst, out_offset);
                    let values = lowerer.codes_to_f32x4(codes, int, mask);
                    for (q, quad) in values.into_iter().enumerate() {
                        let at = q as i32 * VECTOR_BYTES as i32;
                        lowerer.builder.ins().store(vector_mem(), quad, to_address, at);
                    }
                    Ok(())
                })
            }
            // `fcvt_from_sint` rounds to nearest even, as `dtype::cast` does under that rounding.
            VectorCast::I32ToF32 => self.short_loop((count / 4) as i64, &mut |lowerer, group| {
                let offset = lowerer.builder.ins().imul_imm_s(group, VECTOR_BYTES);
                let from_address = lowerer.builder.ins().iadd(src, offset);
                let ints = lowerer.builder.ins().load(types::I32X4, vector_mem(), from_address, 0);
                let values = lowerer.builder.ins().fcvt_from_sint(types::F32X4, ints);
                let to_address = lowerer.builder.ins().iadd(dst, offset);
                lowerer.builder.ins().store(vector_mem(), values, to_address, 0);
                Ok(())
            }),
            VectorCast::F16ToF32 => {
                self.short_loop((count / 8) as i64, &mut |lowerer, group| {
                    let offset = lowerer.builder.ins().imul_imm_s(group, VECTOR_BYTES);
                    let from_address = lowerer.builder.ins().iadd(src, offset);
                    let codes = lowerer.builder.ins().load(types::I16X8, vector_mem(), from_address, 0);
                    let out_offset = lowerer.builder.ins().imul_imm_s(group, 2 * VECTOR_BYTES);
                    let to_address = lowerer.builder.ins().iadd(dst, out_offset);
                    // Scales and activations are almost always normal numbers, which convert with a
                    // rebias alone; zeros, subnormals, infinities and NaNs take the full decoder.
                    let normal = lowerer.f16x8_all_normal(codes);
                    let (fast, full, done) = (
                        lowerer.builder.create_block(),
                        lowerer.builder.create_block(),
                        lowerer.builder.create_block(),
                    );
                    lowerer.builder.ins().brif(normal, fast, &[], full, &[]);
                    for (block, all_normal) in [(fast, true), (full, false)] {
                        lowerer.builder.switch_to_block(block);
                        for h in 0..2 {
                            let values = if all_normal {
                                lowerer.normal_f16x4_to_f32x4(codes, h == 1)
                            } else {
                                let half = match h {
                                    0 => lowerer.builder.ins().uwiden_low(codes),
                                    _ => lowerer.builder.ins().uwiden_high(codes),
                                };
                                lowerer.f16x4_to_f32x4(half)
                            };
                            let at = h * VECTOR_BYTES as i32;
                            lowerer.builder.ins().store(vector_mem(), values, to_address, at);
                        }
                        lowerer.builder.ins().jump(done, &[]);
                    }
                    lowerer.builder.switch_to_block(done);
                    Ok(())
                })
            }
            VectorCast::F32ToBytes { .. } => Err(ClifError::Internal("f32 to bytes dispatched above".into())),
        }
    }

    /// `Cast` of the f32 tile `from` into the `i8` (`signed`) or `u8` tile `to`, 16 elements per step.
    /// Float to integer truncates toward zero whatever the rounding, saturates and takes NaN to 0
    /// (`dtype::cast`): so does `fcvt_to_sint_sat`, and the two narrowings saturate on to the byte's range.
    fn vector_f32_to_bytes(
        &mut self,
        from: &TileRef,
        to: &TileRef,
        count: u64,
        signed: bool,
    ) -> ClifResult<()> {
        let src = self.builder.ins().iadd_imm_s(self.scratch_ptr, i64::from(from.offset));
        let dst = self.builder.ins().iadd_imm_s(self.scratch_ptr, i64::from(to.offset));
        self.short_loop((count / 16) as i64, &mut |lowerer, group| {
            let in_offset = lowerer.builder.ins().imul_imm_s(group, 4 * VECTOR_BYTES);
            let from_address = lowerer.builder.ins().iadd(src, in_offset);
            let ints: Vec<Value> = (0..4)
                .map(|q| {
                    let at = q * VECTOR_BYTES as i32;
                    let values = lowerer.builder.ins().load(types::F32X4, vector_mem(), from_address, at);
                    lowerer.builder.ins().fcvt_to_sint_sat(types::I32X4, values)
                })
                .collect();
            let low = lowerer.builder.ins().snarrow(ints[0], ints[1]);
            let high = lowerer.builder.ins().snarrow(ints[2], ints[3]);
            let bytes = if signed {
                lowerer.builder.ins().snarrow(low, high)
            } else {
                lowerer.builder.ins().unarrow(low, high)
            };
            let out_offset = lowerer.builder.ins().imul_imm_s(group, VECTOR_BYTES);
            let to_address = lowerer.builder.ins().iadd(dst, out_offset);
            lowerer.builder.ins().store(vector_mem(), bytes, to_address, 0);
            Ok(())
        })
    }

    /// Whether all eight f16 codes of an `I16X8` vector are normal numbers (exponent neither 0 nor 31), as an
    /// `i8` truth value.
    fn f16x8_all_normal(&mut self, codes: Value) -> Value {
        let exponent_mask = self.vector_const(types::I16X8, &0x7c00u16.to_le_bytes().repeat(8));
        let step = self.vector_const(types::I16X8, &0x0400u16.to_le_bytes().repeat(8));
        let exponent = self.builder.ins().band(codes, exponent_mask);
        // Exponents 1..=30 move to 0x0800..=0x7c00; 0 to 0x0400, and 31 wraps to -0x8000.
        let moved = self.builder.ins().iadd(exponent, step);
        let normal = self.builder.ins().icmp(IntCC::SignedGreaterThan, moved, step);
        // All sixteen bytes of the lane mask set (`pmovmskb` and a compare on x64).
        let normal = self.builder.ins().bitcast(types::I8X16, lane_order(), normal);
        let bits = self.builder.ins().vhigh_bits(types::I32, normal);
        self.builder.ins().icmp_imm_s(IntCC::Equal, bits, 0xffff)
    }

    /// The low (or `high`) four of eight f16 codes of normal numbers (`I16X8`) as f32 values: the sign moves
    /// to bit 31, exponent and mantissa 13 bits up, and the exponent is rebiased from 15 to 127.
    fn normal_f16x4_to_f32x4(&mut self, codes: Value, high: bool) -> Value {
        let fields = self.i32x4_splat(0x8fff_e000);
        let rebias = self.i32x4_splat(0x3800_0000);
        // Each code into the top half of a 32-bit lane, in one interleave with zeros (`punpck*wd` on x64).
        let zero = self.vector_const(types::I8X16, &[0; 16]);
        let codes = self.builder.ins().bitcast(types::I8X16, lane_order(), codes);
        let first = if high { 4 } else { 0 };
        let interleave: Vec<u8> = (0..4u8)
            .flat_map(|lane| {
                let code = 16 + 2 * (first + lane);
                [2 * (first + lane), 2 * (first + lane) + 1, code, code + 1]
            })
            .collect();
        let interleave = self.builder.func.dfg.immediates.push(interleave.as_slice().into());
        let up = self.builder.ins().shuffle(zero, codes, interleave);
        let up = self.builder.ins().bitcast(types::I32X4, lane_order(), up);
        // The arithmetic shift copies the sign into bits 28..31, of which the mask keeps bit 31.
        let spread = self.builder.ins().sshr_imm_u(up, 3);
        let bits = self.builder.ins().band(spread, fields);
        let bits = self.builder.ins().iadd(bits, rebias);
        self.builder.ins().bitcast(types::F32X4, lane_order(), bits)
    }

    /// Four f16 codes (the low halves of `I32X4` lanes) as f32 values, bit-exact with the scalar decoder.
    fn f16x4_to_f32x4(&mut self, codes: Value) -> Value {
        let sign_mask = self.i32x4_splat(0x8000);
        let magnitude_mask = self.i32x4_splat(0x7fff);
        let exponent_mask = self.i32x4_splat(0x0f80_0000);
        let rebias = self.i32x4_splat(0x3800_0000);
        let implicit_one = self.i32x4_splat(0x0080_0000);
        let zero = self.i32x4_splat(0);
        let magic = self.i32x4_splat(0x3880_0000);
        let ins = &mut self.builder;
        let sign = ins.ins().band(codes, sign_mask);
        let sign = ins.ins().ishl_imm_u(sign, 16);
        let magnitude = ins.ins().band(codes, magnitude_mask);
        let shifted = ins.ins().ishl_imm_u(magnitude, 13);
        let exponent = ins.ins().band(shifted, exponent_mask);
        let normal = ins.ins().iadd(shifted, rebias);
        // Infinities and NaNs: the exponent goes all the way to f32's all-ones.
        let is_top = ins.ins().icmp(IntCC::Equal, exponent, exponent_mask);
        let top_fix = ins.ins().band(is_top, rebias);
        let normal = ins.ins().iadd(normal, top_fix);
        // Zeros and subnormals: 2^-14 * (1 + m/1024) - 2^-14 is exact in f32.
        let is_small = ins.ins().icmp(IntCC::Equal, exponent, zero);
        let biased = ins.ins().iadd(normal, implicit_one);
        let biased = ins.ins().bitcast(types::F32X4, lane_order(), biased);
        let magic = ins.ins().bitcast(types::F32X4, lane_order(), magic);
        let small = ins.ins().fsub(biased, magic);
        let small = ins.ins().bitcast(types::I32X4, lane_order(), small);
        let bits = ins.ins().bitselect(is_small, small, normal);
        let bits = ins.ins().bor(bits, sign);
        ins.ins().bitcast(types::F32X4, lane_order(), bits)
    }
}
