//! Type names: the canonical spelling (`Display`) and parsing (`FromStr`), which also accepts the ml_dtypes
//! spellings as aliases.
//!
//! Canonical names: `bool`; `u1`..`u32`, `u64`, `i1`..`i32`, `i64`; `f32`, `f16`, `bf16`; and minifloats
//! `f<N>e<E>m<M>[b<B>][fn|fnuz|fnu]`, where `N` is the total width (sign + `E` + `M`), `bB` an explicit
//! bias (written only when it is not the default, see [`FloatType::default_bias`]) and the suffix the NaN
//! convention (none: IEEE; `fn`: finite, [`FloatType::fn_convention`]; `fnuz`; `fnu`: unsigned).
//! Examples: `f8e4m3fn`, `f6e3m2fn`, `f4e2m1fn`, `f8e8m0fnu`, `f8e4m3b11fnuz`, `f7e3m3`.
//!
//! Aliases: `float32`, `float16`, `bfloat16`, `int<N>`, `uint<N>`, and `float<N>_e<E>m<M>[b<B>][suffix]`
//! (`float8_e4m3fn`, `float4_e2m1fn`, `float8_e4m3b11fnuz`). A minifloat name that happens to describe
//! `f16` or `bf16` (`f16e5m10`) parses to that type, so every type has exactly one canonical name and
//! `name.parse::<DataType>()?.to_string()` is it.

use std::fmt;
use std::str::FromStr;

use super::{DataType, DtypeError, FloatFormatError, FloatType, IntType, NanEncoding};

/// What names are allowed, for error messages.
pub(crate) const ALLOWED: &str = "expected bool, u1..u32, u64, i1..i32, i64, f32, f16, bf16, \
    or a minifloat f<N>e<E>m<M>[b<bias>][fn|fnuz|fnu] with 1..=8 exponent bits, 0..=10 mantissa bits and \
    N = sign + E + M in 3..=16 (f8e4m3fn, f4e2m1fn, f8e8m0fnu, f8e4m3b11fnuz, f7e3m3), \
    or an ml_dtypes name (float8_e4m3fn, bfloat16, float16, float32, int4, uint2)";

impl FromStr for DataType {
    type Err = DtypeError;

    fn from_str(name: &str) -> Result<DataType, DtypeError> {
        let unknown = || DtypeError::Unknown { name: name.to_owned() };
        match name {
            "bool" => return Ok(DataType::Bool),
            "f32" | "float32" => return Ok(DataType::F32),
            "f16" | "float16" => return Ok(DataType::F16),
            "bf16" | "bfloat16" => return Ok(DataType::BF16),
            _ => {}
        }
        let integer = [("uint", false), ("int", true), ("u", false), ("i", true)]
            .into_iter()
            .find_map(|(prefix, signed)| Some((signed, number(name.strip_prefix(prefix)?)?)));
        if let Some((signed, bits)) = integer {
            let int = IntType { signed, bits: u8::try_from(bits).unwrap_or(u8::MAX) };
            return if int.is_valid() {
                Ok(DataType::Int(int))
            } else {
                Err(DtypeError::IntWidth { name: name.to_owned(), bits })
            };
        }
        let minifloat = name
            .strip_prefix("float")
            .and_then(|rest| rest.split_once("_e"))
            .or_else(|| name.strip_prefix('f').and_then(|rest| rest.split_once('e')))
            .ok_or_else(unknown)?;
        parse_minifloat(name, minifloat).ok_or_else(unknown)?.map(DataType::Float)
    }
}

/// Parses `<N>` and `<E>m<M>[b<B>][suffix]` of a minifloat name: `None` when it is not of that shape,
/// `Some(Err)` when it is but the format is invalid.
fn parse_minifloat(name: &str, (width, rest): (&str, &str)) -> Option<Result<FloatType, DtypeError>> {
    let declared = number(width)?;
    let (exponent, rest) = rest.split_once('m')?;
    let exponent = number(exponent)?;
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (mantissa, rest) = rest.split_at(digits);
    let mantissa = number(mantissa)?;
    let (bias, suffix) = match rest.strip_prefix('b') {
        Some(rest) => {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            let (bias, suffix) = rest.split_at(digits);
            (Some(number(bias)?), suffix)
        }
        None => (None, rest),
    };
    let signed = suffix != "fnu";
    let actual = u32::from(signed) + exponent + mantissa;
    let nan = match suffix {
        "" => NanEncoding::Ieee,
        "fn" => FloatType::fn_convention(actual),
        "fnuz" => NanEncoding::Fnuz,
        "fnu" => NanEncoding::Fn,
        _ => return None,
    };
    let exponent_bits = u8::try_from(exponent).unwrap_or(u8::MAX);
    let mantissa_bits = u8::try_from(mantissa).unwrap_or(u8::MAX);
    let invalid = |reason| DtypeError::Float { name: name.to_owned(), reason };
    if !(1..=8).contains(&exponent_bits) {
        return Some(Err(invalid(FloatFormatError::ExponentBits(exponent_bits))));
    }
    if mantissa_bits > 10 {
        return Some(Err(invalid(FloatFormatError::MantissaBits(mantissa_bits))));
    }
    if declared != actual {
        return Some(Err(DtypeError::DeclaredWidth { name: name.to_owned(), declared, actual }));
    }
    let float = FloatType {
        exponent_bits,
        mantissa_bits,
        bias: bias.map_or(FloatType::default_bias(exponent_bits, nan), |bias| bias as i32),
        signed,
        nan,
    };
    Some(float.validate().map(|()| float).map_err(invalid))
}

/// A decimal number of at most 4 digits without sign or leading zero (except `0` itself).
fn number(text: &str) -> Option<u32> {
    let well_formed = !text.is_empty()
        && text.len() <= 4
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    well_formed.then(|| text.parse().ok()).flatten()
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Bool => f.write_str("bool"),
            DataType::Int(int) => int.fmt(f),
            DataType::Float(float) => float.fmt(f),
        }
    }
}

impl fmt::Display for IntType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", if self.signed { 'i' } else { 'u' }, self.bits)
    }
}

impl fmt::Display for FloatType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FloatType::F32 => f.write_str("f32"),
            FloatType::F16 => f.write_str("f16"),
            FloatType::BF16 => f.write_str("bf16"),
            float => write!(f, "f{}{}", float.bits(), float.parameters()),
        }
    }
}

impl FloatType {
    /// `e<E>m<M>[b<B>][suffix]`, the part of the name after the width.
    fn parameters(self) -> String {
        let mut parameters = format!("e{}m{}", self.exponent_bits, self.mantissa_bits);
        if self.bias != FloatType::default_bias(self.exponent_bits, self.nan) {
            parameters += &format!("b{}", self.bias);
        }
        parameters += match (self.signed, self.nan) {
            (false, _) => "fnu",
            (true, NanEncoding::Ieee) => "",
            (true, NanEncoding::Fn | NanEncoding::None) => "fn",
            (true, NanEncoding::Fnuz) => "fnuz",
        };
        parameters
    }
}

impl DataType {
    /// The ml_dtypes (numpy) name of the type: `float8_e4m3fn`, `bfloat16`, `float16`, `float32`, `int4`,
    /// `uint2`, `bool`.
    pub fn ml_dtypes_name(self) -> String {
        match self {
            DataType::Bool => "bool".to_owned(),
            DataType::Int(int) => format!("{}int{}", if int.signed { "" } else { "u" }, int.bits),
            DataType::Float(FloatType::F32) => "float32".to_owned(),
            DataType::Float(FloatType::F16) => "float16".to_owned(),
            DataType::Float(FloatType::BF16) => "bfloat16".to_owned(),
            DataType::Float(float) => format!("float{}_{}", float.bits(), float.parameters()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(name: &str, canonical: &str) {
        let dt: DataType = name.parse().unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(dt.to_string(), canonical, "{name}");
        assert_eq!(canonical.parse::<DataType>(), Ok(dt));
        assert_eq!(dt.ml_dtypes_name().parse::<DataType>(), Ok(dt));
    }

    #[test]
    fn canonical_names_and_aliases() {
        for name in ["bool", "u1", "u4", "i3", "u32", "i64", "u64", "f32", "f16", "bf16", "f7e3m3"] {
            check(name, name);
        }
        for name in ["f8e4m3fn", "f6e3m2fn", "f4e2m1fn", "f8e8m0fnu", "f8e4m3b11fnuz", "f8e4m3fnuz"] {
            check(name, name);
        }
        check("float8_e4m3fn", "f8e4m3fn");
        check("float4_e2m1fn", "f4e2m1fn");
        check("float8_e4m3b11fnuz", "f8e4m3b11fnuz");
        check("float8_e8m0fnu", "f8e8m0fnu");
        check("bfloat16", "bf16");
        check("float16", "f16");
        check("float32", "f32");
        check("int4", "i4");
        check("uint2", "u2");
        check("f16e5m10", "f16");
        check("f16e8m7", "bf16");
        check("f8e4m3b8fnuz", "f8e4m3fnuz");
        check("f8e4m3b7fnuz", "f8e4m3b7fnuz");
    }

    #[test]
    fn conventions_from_suffixes() {
        let float = |name: &str| match name.parse() {
            Ok(DataType::Float(float)) => float,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(float("f8e4m3fn").nan, NanEncoding::Fn);
        assert_eq!(float("f6e3m2fn").nan, NanEncoding::None);
        assert_eq!(float("f8e5m2fnuz").bias, 16);
        let e8m0 = float("f8e8m0fnu");
        assert_eq!((e8m0.signed, e8m0.nan, e8m0.bias), (false, NanEncoding::Fn, 127));
        assert_eq!(float("f7e3m3").nan, NanEncoding::Ieee);
    }

    #[test]
    fn rejected_names_say_what_is_allowed() {
        for (name, expected) in [
            ("f9e9m9", "exponent bits must be 1..=8, not 9"),
            ("u0", "integer types have 1..=32 bits"),
            ("i33", "not 33"),
            ("int48", "not 48"),
            ("f8e4m2fn", "declares 8 bits, but its sign, exponent and mantissa take 7"),
            ("f12e1m11", "mantissa bits must be 0..=10, not 11"),
            ("f4e3m0", "IEEE"),
            ("f2e1m0fn", "3..=16 bits in all, not 2"),
            ("f17e8m8", "3..=16 bits in all, not 17"),
            ("f16e8m7fn", "outside f32's exact range"),
            ("f8e4m3b200fn", "bias 200"),
            ("f64", "unknown data type `f64`"),
            ("F16", "unknown"),
            ("", "unknown"),
            ("u04", "unknown"),
            ("u+4", "unknown"),
            ("f8e4m3xyz", "unknown"),
            ("float8e4m3fn", "unknown"),
            ("f8e4m3b-1fn", "unknown"),
        ] {
            let message = match name.parse::<DataType>() {
                Err(error) => error.to_string(),
                Ok(dt) => panic!("{name} parsed as {dt:?}"),
            };
            assert!(message.contains(expected), "{name}: {message}");
            assert!(message.contains("expected bool, u1..u32"), "{name}: {message}");
        }
    }

    #[test]
    fn every_valid_minifloat_round_trips_through_its_names() {
        for float in super::super::every_minifloat() {
            check(&float.to_string(), &float.to_string());
            assert_eq!(float.to_string().parse(), Ok(DataType::Float(float)));
        }
    }
}
