//! Float and integer code helpers the interpreter's arithmetic is written with.
//!
//! A *code* is a `u64` holding a value's bit pattern in its low `dtype.bits()` bits.
//! Floats of the compute types (`f32`, `f16`, `bf16`) decode exactly to `f32`/`f64`; results are encoded
//! back with one rounding (to nearest, ties to even). Any NaN result is encoded as the format's canonical
//! quiet NaN (sign clear), so that the interpreter gives the same bits on every host; backends may produce
//! other NaN payloads and tests compare NaNs as equal.
//! Formats other than `f32`/`f16`/`bf16` go through `crate::dtype`'s generic codecs.

use crate::dtype::{DataType, FloatType, Rounding};

/// All-ones in the low `bits` bits.
pub(crate) fn mask(bits: u32) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

/// `value << amount`, 0 when the amount is 64 or more (dtypes built by hand may have odd field widths).
fn shift_left(value: u64, amount: u32) -> u64 {
    value.checked_shl(amount).unwrap_or(0)
}

/// Sign-extends the low `bits` bits of `code`.
pub(crate) fn sign_extend(code: u64, bits: u32) -> i64 {
    let bits = bits.clamp(1, 64);
    let shift = 64 - bits;
    ((code << shift) as i64) >> shift
}

/// Signedness and width of an integer or `bool` dtype (`bool` is an unsigned 1-bit integer).
pub(crate) fn int_shape(dtype: DataType) -> (bool, u32) {
    match dtype {
        DataType::Bool => (false, 1),
        DataType::Int(int) => (int.signed, u32::from(int.bits).clamp(1, 64)),
        DataType::Float(_) => (false, dtype.bits().clamp(1, 64)),
    }
}

/// The value of an integer or `bool` code, sign-extended for signed types.
pub(crate) fn int_value(dtype: DataType, code: u64) -> i128 {
    let (signed, bits) = int_shape(dtype);
    if signed { i128::from(sign_extend(code, bits)) } else { i128::from(code & mask(bits)) }
}

/// Decodes a float code exactly.
pub(crate) fn float_to_f64(float: FloatType, code: u64) -> f64 {
    let dtype = DataType::Float(float);
    if dtype == DataType::F32 {
        f64::from(f32::from_bits(code as u32))
    } else if dtype == DataType::F16 {
        half::f16::from_bits(code as u16).to_f64()
    } else if dtype == DataType::BF16 {
        half::bf16::from_bits(code as u16).to_f64()
    } else {
        float.decode_f64(code as u32)
    }
}

/// Decodes a float code to `f32` (exact for every format of at most 8 exponent and 23 mantissa bits).
pub(crate) fn float_to_f32(float: FloatType, code: u64) -> f32 {
    float_to_f64(float, code) as f32
}

/// Encodes `value` in `float`, rounding once to nearest even.
pub(crate) fn float_from_f64(float: FloatType, value: f64) -> u64 {
    let dtype = DataType::Float(float);
    if value.is_nan() {
        return canonical_nan(float);
    }
    // `as f32` rounds once; `half`'s `from_f64` may go through `f32` (with F16C), rounding twice, so
    // `f16`/`bf16` go through the dtype encoder like every other format.
    if dtype == DataType::F32 {
        u64::from((value as f32).to_bits())
    } else {
        u64::from(float.encode_f64_at(value, Rounding::NearestEven, 0))
    }
}

/// Encodes an `f32` value in `float`, rounding once to nearest even.
pub(crate) fn float_from_f32(float: FloatType, value: f32) -> u64 {
    if DataType::Float(float) == DataType::F32 {
        if value.is_nan() { canonical_nan(float) } else { u64::from(value.to_bits()) }
    } else {
        float_from_f64(float, f64::from(value))
    }
}

/// The sign bit of a float format's code (0 for unsigned formats).
pub(crate) fn sign_bit(float: FloatType) -> u64 {
    if float.signed { shift_left(1, DataType::Float(float).bits().saturating_sub(1)) } else { 0 }
}

/// The quiet NaN with clear sign and the top mantissa bit set.
fn canonical_nan(float: FloatType) -> u64 {
    let exponent = shift_left(mask(u32::from(float.exponent_bits)), u32::from(float.mantissa_bits));
    let quiet = if float.mantissa_bits > 0 { shift_left(1, u32::from(float.mantissa_bits) - 1) } else { 0 };
    exponent | quiet
}
