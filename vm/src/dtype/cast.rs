//! Conversion between any two data types: the one definition that the interpreter and every backend share.

use super::codec::ExactValue;
use super::{DataType, IntType, Rounding};

/// Converts `code` (its low `from.bits()` bits; higher bits are ignored) from type `from` to type `to` and
/// returns the code of the result in the low `to.bits()` bits.
///
/// `rounding` applies to float results only, and `index` is the element index that
/// [`Rounding::Stochastic`] hashes ([`stochastic_bits`](super::stochastic_bits)); integer results
/// ignore both.
///
/// The rules, by kind of source and target:
/// - **same type**: the code itself (every rule below gives that too, NaN payloads included).
/// - **float → float**: the exact value ([`FloatType::decode_f32`](super::FloatType::decode_f32), exact
///   for every format), then one rounding to the target
///   ([`FloatType::encode_f32_at`](super::FloatType::encode_f32_at)): overflow, NaN, -0 and the `fnu`
///   rules exactly as ml_dtypes `astype` under [`Rounding::NearestEven`] (see [`codec`](super::codec)).
/// - **integer → float**: the exact integer value (sign-extended from a signed source), rounded once.
/// - **float → integer**: truncation toward zero, saturated to the target's range, NaN → 0 (Rust's `as`
///   semantics, applied to narrow types too: `u4` saturates to 0..=15, `i3` to -4..=3); ±inf saturate.
/// - **integer → integer**: two's complement wrap: the source's value (sign-extended when signed) keeps its
///   low `to.bits()` bits (`i4` -1 → `u8` 255, `u8` 200 → `i4` -8).
/// - **→ `bool`**: true when the source is nonzero: an integer code ≠ 0, a float ≠ 0.0 (NaN → true,
///   ±0 → false).
/// - **`bool` →**: 0 or 1 as an unsigned integer, then the rules above (`bool` → `i1` gives code 1, -1).
pub fn cast(from: DataType, to: DataType, code: u64, rounding: Rounding, index: u64) -> u64 {
    let code = from.truncate(code);
    if from == to {
        return code;
    }
    match (from, to) {
        (DataType::Float(source), DataType::Bool) => u64::from(source.decode_f32(code as u32) != 0.0),
        (_, DataType::Bool) => u64::from(code != 0),
        (DataType::Float(source), DataType::Float(target)) => {
            u64::from(target.encode_f32_at(source.decode_f32(code as u32), rounding, index))
        }
        (DataType::Float(source), DataType::Int(target)) => {
            target.saturating_code(source.decode_f64(code as u32))
        }
        (DataType::Int(IntType { signed: true, .. }), DataType::Float(target)) => {
            u64::from(target.encode_exact(ExactValue::from_i64(from.to_i64(code)), rounding, index))
        }
        (DataType::Int(_) | DataType::Bool, DataType::Float(target)) => {
            u64::from(target.encode_exact(ExactValue::from_u64(code), rounding, index))
        }
        (DataType::Int(_) | DataType::Bool, DataType::Int(_)) => to.truncate(from.sign_extend(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(name: &str) -> DataType {
        name.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    fn nearest(from: &str, to: &str, code: u64) -> u64 {
        cast(dt(from), dt(to), code, Rounding::NearestEven, 0)
    }

    #[test]
    fn integer_to_integer_wraps() {
        assert_eq!(nearest("i4", "u8", 0xf), 0xff);
        assert_eq!(nearest("u8", "i4", 200), 0x8);
        assert_eq!(nearest("i4", "i32", 0x8), 0xffff_fff8);
        assert_eq!(nearest("u4", "i32", 0x8), 0x8);
        assert_eq!(nearest("i32", "i64", 0x8000_0000), 0xffff_ffff_8000_0000);
        assert_eq!(nearest("u64", "u3", u64::MAX), 0x7);
        assert_eq!(nearest("bool", "i1", 1), 1);
        assert_eq!(nearest("bool", "i32", 1), 1);
        assert_eq!(nearest("i4", "bool", 0x8), 1);
        assert_eq!(nearest("i4", "bool", 0x10), 0, "bits above the source width are ignored");
    }

    #[test]
    fn float_to_integer_truncates_and_saturates() {
        let f32_code = |value: f32| u64::from(value.to_bits());
        assert_eq!(nearest("f32", "u4", f32_code(15.9)), 15);
        assert_eq!(nearest("f32", "u4", f32_code(16.0)), 15);
        assert_eq!(nearest("f32", "u4", f32_code(-0.9)), 0);
        assert_eq!(nearest("f32", "u4", f32_code(-5.0)), 0);
        assert_eq!(nearest("f32", "i3", f32_code(-9.0)), 0x4);
        assert_eq!(nearest("f32", "i3", f32_code(-2.5)), 0x6);
        assert_eq!(nearest("f32", "i3", f32_code(f32::INFINITY)), 0x3);
        assert_eq!(nearest("f32", "i32", f32_code(f32::NAN)), 0);
        assert_eq!(nearest("f32", "i64", f32_code(-1e30)), i64::MIN as u64);
        assert_eq!(nearest("f32", "u64", f32_code(1e30)), u64::MAX);
        assert_eq!(nearest("f8e4m3fn", "i32", 0xfe), (-448i64) as u32 as u64);
        assert_eq!(nearest("f8e4m3fn", "u8", 0x7f), 0, "NaN → 0");
        for value in [0.0f32, -0.0, 0.5, -1.5, 2.5e9, -2.5e9, 3e38, f32::NEG_INFINITY, f32::NAN, 123.456] {
            assert_eq!(nearest("f32", "i32", f32_code(value)), value as i32 as u32 as u64, "{value}");
            assert_eq!(nearest("f32", "u32", f32_code(value)), u64::from(value as u32), "{value}");
            assert_eq!(nearest("f32", "i64", f32_code(value)), value as i64 as u64, "{value}");
        }
    }

    #[test]
    fn to_and_from_bool() {
        assert_eq!(nearest("f16", "bool", 0x8000), 0, "-0 is false");
        assert_eq!(nearest("f16", "bool", 0x7e00), 1, "NaN is true");
        assert_eq!(nearest("f4e2m1fn", "bool", 0x1), 1);
        assert_eq!(nearest("bool", "f16", 1), 0x3c00);
        assert_eq!(nearest("bool", "f8e8m0fnu", 0), 0xff, "0 has no e8m0 code: NaN");
    }

    #[test]
    fn integer_to_float_rounds_once() {
        assert_eq!(nearest("i64", "f32", i64::MIN as u64), u64::from((i64::MIN as f32).to_bits()));
        assert_eq!(nearest("u64", "f32", u64::MAX), u64::from((u64::MAX as f32).to_bits()));
        assert_eq!(nearest("i4", "f4e2m1fn", 0x9), 0xf, "-7 saturates to -6");
        assert_eq!(nearest("i32", "f16", 2049), 0x6800, "2049 ties to 2048");
        assert_eq!(nearest("i32", "f16", 2051), 0x6802);
        assert_eq!(nearest("u32", "f8e4m3fn", 1000), 0x7f, "overflow is NaN");
        assert_eq!(cast(dt("u32"), dt("f16"), 2049, Rounding::TowardZero, 0), 0x6800);
        // One rounding from the exact integer: 2^24 + 2^16 + 1 is above the bf16 midpoint 2^24 + 2^16, but
        // the f32 nearest to it is that midpoint, which would then tie to even.
        assert_eq!(nearest("u32", "bf16", (1 << 24) + (1 << 16) + 1), 0x4b81);
        assert_eq!(nearest("u32", "bf16", (1 << 24) + (1 << 16)), 0x4b80);
    }

    #[test]
    fn float_to_float_is_decode_then_one_rounding() {
        assert_eq!(nearest("f16", "f8e4m3fn", 0x5c00), 0x78, "256 → 256");
        assert_eq!(nearest("f16", "f8e4m3fn", 0x5f40), 0x7e, "464 ties to 448");
        assert_eq!(nearest("f16", "f8e4m3fn", 0x5f41), 0x7f, "above the tie: NaN");
        assert_eq!(nearest("f16", "f4e2m1fn", 0x7c00), 0x7, "inf saturates");
        assert_eq!(nearest("bf16", "f32", 0x7fa1), 0x7fa1_0000, "widening keeps NaN payloads");
        assert_eq!(nearest("f32", "bf16", 0x7fa1_0000), 0x7fa1);
        assert_eq!(nearest("f8e4m3fnuz", "f16", 0x80), 0xfe00, "the fnuz NaN is a negative quiet NaN");
        assert_eq!(nearest("f16", "f8e4m3fnuz", 0x8000), 0x00, "fnuz has no -0");
        assert_eq!(nearest("f8e8m0fnu", "bf16", 0x00), 0x0040, "2^-127 is a bf16 subnormal");
        let seeded = |index| cast(dt("f16"), dt("f4e2m1fn"), 0x3c80, Rounding::Stochastic { seed: 3 }, index);
        let ups = (0..4096).filter(|&index| seeded(index) == 0x3).count();
        assert!((900..1150).contains(&ups), "1.125 rounds up to 1.5 a quarter of the time: {ups}");
    }

    #[test]
    fn same_type_and_round_trips_keep_every_code() {
        for name in ["f16", "bf16", "f8e4m3fn", "f8e5m2fnuz", "f6e3m2fn", "f8e8m0fnu", "f7e3m3"] {
            let float = dt(name);
            for code in 0..1u64 << float.bits() {
                assert_eq!(nearest(name, name, code), code);
                let wide = nearest(name, "f32", code);
                assert_eq!(nearest("f32", name, wide), code, "{name} {code:#x} via f32");
            }
        }
        for code in 0..1u64 << 16 {
            assert_eq!(nearest("f32", "f16", nearest("f16", "f32", code)), code);
        }
    }
}
