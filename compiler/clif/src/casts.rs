//! Conversions between dtypes, generic over the float format parameters, by integer bit manipulation.
//!
// Every cast goes through one of three intermediate forms: an `i64` integer value (sign- or
// zero-extended), an `f32` value (every tilevm float format decodes exactly into f32), or, for
// integer-to-minifloat, an f32 rounded *to odd* from the integer, which makes the final rounding to a
// format of at most 22 significand bits correct (round-to-odd double rounding is innocuous when the
// intermediate has two more bits than the target). The encoder rounds a finite f32 to the target format
// by shifting the 24-bit significand right by `23 - M` (plus the subnormal distance) and applying round to
// nearest even (or toward zero) to the shifted-out bits; the carry of the increment walks into the exponent
// field by itself. Overflow, infinities and NaN then follow the format's NaN encoding (see the lowp
// README: IEEE formats overflow to inf, `fn`/`fnuz` to NaN, formats without NaN saturate).
//
// Formats this scheme does not describe (unsigned floats such as e8m0fnu, formats without mantissa bits or
// beyond f32's range) and stochastic rounding call `Helper::Cast`, the runtime's `dtype::cast`.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value, types};
use tilevm_vm::dtype::{DataType, FloatType, NanEncoding};
use tilevm_vm::ir::Rounding;

use super::abi::{self, Helper};
use super::frame::slot_type;
use super::lowerer::{ClifLowerer, to_u64_bits};
use super::{ClifError, ClifResult};

/// Whether the generic CLIF codec handles a float format (otherwise casts call [`Helper::Cast`]).
pub(super) fn clif_codec_handles(float: FloatType) -> bool {
    let e = i32::from(float.exponent_bits);
    let m = i32::from(float.mantissa_bits);
    // IEEE formats spend the all-ones exponent on inf and NaN.
    let top_exponent = (1 << e) - if float.nan == NanEncoding::Ieee { 2 } else { 1 };
    float.signed
        && (1..=8).contains(&e)
        && (1..=23).contains(&m)
        // Normal exponents map into f32's normal range, subnormals stay exactly representable.
        && 1 - float.bias + 127 >= 1
        && top_exponent - float.bias + 127 <= 254
        && 1 - float.bias - m >= -149
}

fn bits_of(float: FloatType) -> u32 {
    u32::from(float.exponent_bits) + u32::from(float.mantissa_bits)
}

impl ClifLowerer<'_> {
    /// Converts `value` (in `from`'s slot type) to `to` (in its slot type) as `dtype::cast` does; `index`
    /// (an `i64`) is the element index stochastic rounding draws its bits from.
    pub(super) fn cast(
        &mut self,
        from: DataType,
        to: DataType,
        value: Value,
        rounding: Rounding,
        index: Value,
    ) -> ClifResult<Value> {
        if from == to {
            return Ok(value);
        }
        let needs_helper = matches!(rounding, Rounding::Stochastic { .. }) && to.is_float()
            || matches!(from, DataType::Float(float) if from != DataType::F32 && !clif_codec_handles(float))
            || matches!(to, DataType::Float(float) if to != DataType::F32 && !clif_codec_handles(float))
            || matches!(from, DataType::Int(int) if int.bits == 0 || int.bits > 64)
            || matches!(to, DataType::Int(int) if int.bits == 0 || int.bits > 64);
        if needs_helper {
            return Ok(self.cast_by_helper(from, to, value, rounding, index));
        }
        let toward_zero = rounding == Rounding::TowardZero;
        match (from, to) {
            (DataType::Float(_), DataType::Float(target)) => {
                let single = self.float_to_f32(from, value)?;
                if to == DataType::F32 {
                    return Ok(single);
                }
                let code = self.encode_float(target, single, toward_zero);
                Ok(self.code_to_slot(code, types::I32, to))
            }
            (DataType::Float(_), _) => {
                let single = self.float_to_f32(from, value)?;
                Ok(self.f32_to_int(single, to))
            }
            (_, DataType::Float(target)) => {
                let (integer, signed) = self.int_value(from, value);
                if to == DataType::F32 {
                    return Ok(self.int_to_f32(integer, signed, toward_zero, false));
                }
                let single = self.int_to_f32(integer, signed, toward_zero, true);
                let code = self.encode_float(target, single, toward_zero);
                Ok(self.code_to_slot(code, types::I32, to))
            }
            _ => {
                let (integer, _) = self.int_value(from, value);
                Ok(self.code_to_slot(integer, types::I64, to))
            }
        }
    }

    fn cast_by_helper(
        &mut self,
        from: DataType,
        to: DataType,
        value: Value,
        rounding: Rounding,
        index: Value,
    ) -> Value {
        let (mode, seed) = match rounding {
            Rounding::NearestEven => (abi::ROUNDING_NEAREST, 0),
            Rounding::TowardZero => (abi::ROUNDING_TOWARD_ZERO, 0),
            Rounding::Stochastic { seed } => (abi::ROUNDING_STOCHASTIC, seed as i64),
        };
        let from_bits = self.builder.ins().iconst(types::I64, abi::encode_dtype(from) as i64);
        let to_bits = self.builder.ins().iconst(types::I64, abi::encode_dtype(to) as i64);
        let code = to_u64_bits(&mut self.builder, value);
        let mode = self.builder.ins().iconst(types::I64, mode);
        let seed = self.builder.ins().iconst(types::I64, seed);
        let result = self.call_helper(Helper::Cast, &[from_bits, to_bits, code, mode, seed, index]);
        super::lowerer::from_u64_bits(&mut self.builder, slot_type(to), result)
    }

    /// An integer or bool code as an `i64` value, with whether it is signed.
    fn int_value(&mut self, dtype: DataType, value: Value) -> (Value, bool) {
        let (signed, bits) = match dtype {
            DataType::Int(int) => (int.signed, u32::from(int.bits)),
            _ => (false, 1),
        };
        let ty = self.builder.func.dfg.value_type(value);
        let wide = if ty == types::I64 { value } else { self.builder.ins().uextend(types::I64, value) };
        if bits >= 64 {
            return (wide, signed);
        }
        let unused = i64::from(64 - bits);
        let up = self.builder.ins().ishl_imm_u(wide, unused);
        let extended = if signed {
            self.builder.ins().sshr_imm_s(up, unused)
        } else {
            self.builder.ins().ushr_imm_u(up, unused)
        };
        (extended, signed)
    }

    /// The low bits of an integer `code` (of type `ty`) as a slot of `to`.
    fn code_to_slot(&mut self, code: Value, ty: Type, to: DataType) -> Value {
        let slot = slot_type(to);
        let bits = to.bits();
        let masked = if bits < ty.bits() {
            self.builder.ins().band_imm_u(code, ((1u64 << bits) - 1) as i64)
        } else {
            code
        };
        if slot == ty {
            masked
        } else if slot.bits() < ty.bits() {
            self.builder.ins().ireduce(slot, masked)
        } else {
            self.builder.ins().uextend(slot, masked)
        }
    }

    /// Any float slot (f32 value or format code) as an f32 value.
    fn float_to_f32(&mut self, dtype: DataType, value: Value) -> ClifResult<Value> {
        match dtype {
            DataType::Float(_) if dtype == DataType::F32 => Ok(value),
            DataType::Float(float) => {
                let ty = self.builder.func.dfg.value_type(value);
                let code =
                    if ty == types::I32 { value } else { self.builder.ins().uextend(types::I32, value) };
                Ok(self.decode_float(float, code))
            }
            _ => Err(ClifError::Malformed(format!("{dtype} is not a float"))),
        }
    }

    /// `f16`/`bf16` code to f32 (exact).
    pub(super) fn half_to_f32(&mut self, dtype: DataType, code: Value) -> ClifResult<Value> {
        self.float_to_f32(dtype, code)
    }

    /// f32 to an `f16`/`bf16` code, rounding to nearest even.
    pub(super) fn f32_to_half(&mut self, dtype: DataType, value: Value) -> ClifResult<Value> {
        let DataType::Float(float) = dtype else {
            return Err(ClifError::Malformed(format!("{dtype} is not a float")));
        };
        let code = self.encode_float(float, value, false);
        Ok(self.code_to_slot(code, types::I32, dtype))
    }

    /// Decodes a code (an `i32` holding `bits_of(float) + 1` bits) of a format [`clif_codec_handles`] into an
    /// f32 value.
    pub(super) fn decode_float(&mut self, float: FloatType, code: Value) -> Value {
        let e = u32::from(float.exponent_bits);
        let m = u32::from(float.mantissa_bits);
        let width = e + m;
        let sign = self.builder.ins().ushr_imm_u(code, i64::from(width));
        let sign = self.builder.ins().band_imm_u(sign, 1);
        let sign_bit = self.builder.ins().ishl_imm_u(sign, 31);
        let magnitude = self.builder.ins().band_imm_u(code, ((1i64) << width) - 1);
        let exponent = self.builder.ins().ushr_imm_u(magnitude, i64::from(m));
        let mantissa = self.builder.ins().band_imm_u(magnitude, (1i64 << m) - 1);
        // Normal: rebias the exponent, left-align the mantissa.
        let rebiased = self.builder.ins().iadd_imm_s(exponent, i64::from(127 - float.bias));
        let exponent_field = self.builder.ins().ishl_imm_u(rebiased, 23);
        let fraction = self.builder.ins().ishl_imm_u(mantissa, i64::from(23 - m));
        let normal = self.builder.ins().bor(exponent_field, fraction);
        let normal = self.builder.ins().bor(normal, sign_bit);
        // Subnormal: mantissa * 2^(1 - bias - m), in two exact steps when the scale is below f32's normals.
        let scale = 1 - float.bias - m as i32;
        let mut sub = self.builder.ins().fcvt_from_uint(types::F32, mantissa);
        let first = scale.max(-126);
        let factor = self.builder.ins().f32const(f32::from_bits(((first + 127) as u32) << 23));
        sub = self.builder.ins().fmul(sub, factor);
        if scale < -126 {
            let rest = scale - first;
            let factor = self.builder.ins().f32const(f32::from_bits(((rest + 127) as u32) << 23));
            sub = self.builder.ins().fmul(sub, factor);
        }
        let sub_bits = self.builder.ins().bitcast(types::I32, MemFlagsData::new(), sub);
        let sub_bits = self.builder.ins().bor(sub_bits, sign_bit);
        let is_sub = self.builder.ins().icmp_imm_s(IntCC::Equal, exponent, 0);
        let mut bits = self.builder.ins().select(is_sub, sub_bits, normal);
        // NaNs keep their sign; IEEE formats also keep their payload, left-aligned (as `dtype` does).
        let quiet_nan = self.builder.ins().bor_imm_u(sign_bit, 0x7fc0_0000);
        let all_ones = (1i64 << e) - 1;
        match float.nan {
            NanEncoding::Ieee => {
                let top = self.builder.ins().icmp_imm_s(IntCC::Equal, exponent, all_ones);
                let inf = self.builder.ins().bor_imm_u(sign_bit, 0x7f80_0000);
                let nan = self.builder.ins().bor(inf, fraction);
                let mantissa_zero = self.builder.ins().icmp_imm_s(IntCC::Equal, mantissa, 0);
                let nan_or_inf = self.builder.ins().select(mantissa_zero, inf, nan);
                bits = self.builder.ins().select(top, nan_or_inf, bits);
            }
            NanEncoding::Fn => {
                let is_nan = self.builder.ins().icmp_imm_s(IntCC::Equal, magnitude, (1i64 << width) - 1);
                bits = self.builder.ins().select(is_nan, quiet_nan, bits);
            }
            NanEncoding::Fnuz => {
                let masked = self.builder.ins().band_imm_u(code, (1i64 << (width + 1)) - 1);
                let is_nan = self.builder.ins().icmp_imm_s(IntCC::Equal, masked, 1i64 << width);
                bits = self.builder.ins().select(is_nan, quiet_nan, bits);
            }
            NanEncoding::None => {}
        }
        self.builder.ins().bitcast(types::F32, MemFlagsData::new(), bits)
    }

    /// Encodes an f32 value into a format [`clif_codec_handles`], rounding to nearest even or toward zero;
    /// returns the code in an `i32`.
    pub(super) fn encode_float(&mut self, float: FloatType, value: Value, toward_zero: bool) -> Value {
        let e = u32::from(float.exponent_bits);
        let m = u32::from(float.mantissa_bits);
        let width = bits_of(float);
        let all_ones_exponent = (1i64 << e) - 1;
        let full_magnitude = (1i64 << width) - 1;
        let inf_magnitude = all_ones_exponent << m;
        let max_magnitude = match float.nan {
            NanEncoding::Ieee => inf_magnitude - 1,
            NanEncoding::Fn => full_magnitude - 1,
            NanEncoding::Fnuz | NanEncoding::None => full_magnitude,
        };
        let x = self.builder.ins().bitcast(types::I32, MemFlagsData::new(), value);
        let sign = self.builder.ins().ushr_imm_u(x, 31);
        let abs = self.builder.ins().band_imm_u(x, 0x7fff_ffff);
        let field = self.builder.ins().ushr_imm_u(abs, 23);
        let fraction = self.builder.ins().band_imm_u(abs, 0x7f_ffff);
        let is_normal = self.builder.ins().icmp_imm_s(IntCC::NotEqual, field, 0);
        let is_normal = self.builder.ins().uextend(types::I32, is_normal);
        let implicit = self.builder.ins().ishl_imm_u(is_normal, 23);
        let significand = self.builder.ins().bor(fraction, implicit);
        let one = self.builder.ins().iconst(types::I32, 1);
        let field = self.builder.ins().smax(field, one);
        // The target exponent field (unclamped, signed).
        let target_exponent = self.builder.ins().iadd_imm_s(field, i64::from(float.bias - 127));
        let below = self.builder.ins().isub(one, target_exponent);
        let zero = self.builder.ins().iconst(types::I32, 0);
        let below = self.builder.ins().smax(below, zero);
        let shift = self.builder.ins().iadd_imm_s(below, i64::from(23 - m));
        let limit = self.builder.ins().iconst(types::I32, 31);
        let shift = self.builder.ins().umin(shift, limit);
        let kept = self.builder.ins().ushr(significand, shift);
        let unit = self.builder.ins().ishl(one, shift);
        let lost_mask = self.builder.ins().iadd_imm_s(unit, -1);
        let lost = self.builder.ins().band(significand, lost_mask);
        let half = self.builder.ins().ushr_imm_u(unit, 1);
        let base = self.builder.ins().smax(target_exponent, one);
        let base = self.builder.ins().iadd_imm_s(base, -1);
        let base = self.builder.ins().ishl_imm_u(base, i64::from(m));
        let mut magnitude = self.builder.ins().iadd(base, kept);
        if !toward_zero {
            let above_half = self.builder.ins().icmp(IntCC::UnsignedGreaterThan, lost, half);
            let at_half = self.builder.ins().icmp(IntCC::Equal, lost, half);
            let odd = self.builder.ins().band_imm_u(kept, 1);
            let odd = self.builder.ins().ireduce(types::I8, odd);
            let nonzero_shift = self.builder.ins().icmp_imm_s(IntCC::NotEqual, shift, 0);
            let tie_up = self.builder.ins().band(at_half, odd);
            let tie_up = self.builder.ins().band(tie_up, nonzero_shift);
            let round_up = self.builder.ins().bor(above_half, tie_up);
            let round_up = self.builder.ins().uextend(types::I32, round_up);
            magnitude = self.builder.ins().iadd(magnitude, round_up);
        }
        // Finite overflow.
        let overflow = self.builder.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, magnitude, max_magnitude);
        let overflow_magnitude = if toward_zero {
            max_magnitude
        } else {
            match float.nan {
                NanEncoding::Ieee => inf_magnitude,
                NanEncoding::Fn => full_magnitude,
                NanEncoding::Fnuz => 0, // replaced by the NaN code below
                NanEncoding::None => max_magnitude,
            }
        };
        let overflow_value = self.builder.ins().iconst(types::I32, overflow_magnitude);
        magnitude = self.builder.ins().select(overflow, overflow_value, magnitude);
        let sign_shifted = self.builder.ins().ishl_imm_u(sign, i64::from(width));
        let mut code = self.builder.ins().bor(sign_shifted, magnitude);
        let is_inf = self.builder.ins().icmp_imm_s(IntCC::Equal, abs, 0x7f80_0000);
        let is_nan = self.builder.ins().fcmp(FloatCC::Unordered, value, value);
        let fnuz_nan = self.builder.ins().iconst(types::I32, 1i64 << width);
        match float.nan {
            NanEncoding::Ieee => {
                let inf = self.builder.ins().bor_imm_u(sign_shifted, inf_magnitude);
                code = self.builder.ins().select(is_inf, inf, code);
                // The NaN keeps the top `m` bits of its payload, or becomes quiet when they are all zero.
                let payload = self.builder.ins().ushr_imm_u(fraction, i64::from(23 - m));
                let payload_zero = self.builder.ins().icmp_imm_s(IntCC::Equal, payload, 0);
                let quiet = self.builder.ins().iconst(types::I32, 1i64 << (m - 1));
                let payload = self.builder.ins().select(payload_zero, quiet, payload);
                let nan = self.builder.ins().bor_imm_u(sign_shifted, inf_magnitude);
                let nan = self.builder.ins().bor(nan, payload);
                code = self.builder.ins().select(is_nan, nan, code);
            }
            NanEncoding::Fn => {
                let nan = self.builder.ins().bor_imm_u(sign_shifted, full_magnitude);
                let special = self.builder.ins().bor(is_inf, is_nan);
                code = self.builder.ins().select(special, nan, code);
            }
            NanEncoding::Fnuz => {
                // No negative zero; overflow, inf and NaN become the one NaN code.
                let magnitude_zero = self.builder.ins().icmp_imm_s(IntCC::Equal, magnitude, 0);
                let not_overflow = self.builder.ins().bxor_imm_u(overflow, 1);
                let true_zero = self.builder.ins().band(magnitude_zero, not_overflow);
                code = self.builder.ins().select(true_zero, zero, code);
                let special = self.builder.ins().bor(is_inf, is_nan);
                let special = if toward_zero { special } else { self.builder.ins().bor(special, overflow) };
                code = self.builder.ins().select(special, fnuz_nan, code);
            }
            NanEncoding::None => {
                let saturated = self.builder.ins().bor_imm_u(sign_shifted, max_magnitude);
                code = self.builder.ins().select(is_inf, saturated, code);
                // NaN becomes a zero whose sign is the inverse of the NaN's.
                let flipped = self.builder.ins().bxor_imm_u(sign, 1);
                let nan = self.builder.ins().ishl_imm_u(flipped, i64::from(width));
                code = self.builder.ins().select(is_nan, nan, code);
            }
        }
        code
    }

    /// An f32 value to an integer or bool code: truncation toward zero, saturation, NaN to 0.
    fn f32_to_int(&mut self, value: Value, to: DataType) -> Value {
        let (signed, bits) = match to {
            DataType::Int(int) => (int.signed, u32::from(int.bits)),
            _ => (false, 1),
        };
        let integer = if bits == 64 {
            if signed {
                self.builder.ins().fcvt_to_sint_sat(types::I64, value)
            } else {
                self.builder.ins().fcvt_to_uint_sat(types::I64, value)
            }
        } else {
            let wide = self.builder.ins().fcvt_to_sint_sat(types::I64, value);
            let (low, high) = if signed {
                (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
            } else {
                (0, (1i64 << bits) - 1)
            };
            let low = self.builder.ins().iconst(types::I64, low);
            let high = self.builder.ins().iconst(types::I64, high);
            let clamped = self.builder.ins().smax(wide, low);
            self.builder.ins().smin(clamped, high)
        };
        self.code_to_slot(integer, types::I64, to)
    }

    /// An `i64` integer to f32: rounded to nearest even, toward zero, or to odd (`to_odd`, for a second
    /// rounding to a narrower format).
    fn int_to_f32(&mut self, integer: Value, signed: bool, toward_zero: bool, to_odd: bool) -> Value {
        if !toward_zero && !to_odd {
            return if signed {
                self.builder.ins().fcvt_from_sint(types::F32, integer)
            } else {
                self.builder.ins().fcvt_from_uint(types::F32, integer)
            };
        }
        let negative = if signed {
            self.builder.ins().icmp_imm_s(IntCC::SignedLessThan, integer, 0)
        } else {
            self.builder.ins().iconst(types::I8, 0)
        };
        let negated = self.builder.ins().ineg(integer);
        let magnitude = self.builder.ins().select(negative, negated, integer);
        // Keep the top 24 significant bits (shift = bit length - 24, at least 0).
        let leading = self.builder.ins().clz(magnitude);
        let forty = self.builder.ins().iconst(types::I64, 40);
        let shift = self.builder.ins().isub(forty, leading);
        let zero = self.builder.ins().iconst(types::I64, 0);
        let shift = self.builder.ins().smax(shift, zero);
        let kept = self.builder.ins().ushr(magnitude, shift);
        let kept = if to_odd && !toward_zero {
            let one = self.builder.ins().iconst(types::I64, 1);
            let unit = self.builder.ins().ishl(one, shift);
            let mask = self.builder.ins().iadd_imm_s(unit, -1);
            let lost = self.builder.ins().band(magnitude, mask);
            let sticky = self.builder.ins().icmp_imm_s(IntCC::NotEqual, lost, 0);
            let sticky = self.builder.ins().uextend(types::I64, sticky);
            self.builder.ins().bor(kept, sticky)
        } else {
            kept
        };
        let single = self.builder.ins().fcvt_from_uint(types::F32, kept);
        // Scale by 2^shift (exact: shift <= 40) by adding to the exponent field.
        let shift32 = self.builder.ins().ireduce(types::I32, shift);
        let scale_field = self.builder.ins().iadd_imm_s(shift32, 127);
        let scale_bits = self.builder.ins().ishl_imm_u(scale_field, 23);
        let scale = self.builder.ins().bitcast(types::F32, MemFlagsData::new(), scale_bits);
        let scaled = self.builder.ins().fmul(single, scale);
        let flipped = self.builder.ins().fneg(scaled);
        self.builder.ins().select(negative, flipped, scaled)
    }

    /// Rounds an f64 to f32 *to odd*: exact values stay, inexact ones get the odd neighbour toward zero.
    pub(super) fn f64_to_f32_odd(&mut self, value: Value) -> Value {
        let nearest = self.builder.ins().fdemote(types::F32, value);
        let back = self.builder.ins().fpromote(types::F64, nearest);
        let exact = self.builder.ins().fcmp(FloatCC::Equal, back, value);
        let is_nan = self.builder.ins().fcmp(FloatCC::Unordered, value, value);
        let keep = self.builder.ins().bor(exact, is_nan);
        let abs_back = self.builder.ins().fabs(back);
        let abs_value = self.builder.ins().fabs(value);
        let rounded_away = self.builder.ins().fcmp(FloatCC::GreaterThan, abs_back, abs_value);
        let bits = self.builder.ins().bitcast(types::I32, MemFlagsData::new(), nearest);
        let minus_one = self.builder.ins().iadd_imm_s(bits, -1);
        let truncated = self.builder.ins().select(rounded_away, minus_one, bits);
        let odd = self.builder.ins().bor_imm_u(truncated, 1);
        let chosen = self.builder.ins().select(keep, bits, odd);
        self.builder.ins().bitcast(types::F32, MemFlagsData::new(), chosen)
    }
}
