//! The ml_dtypes golden vectors (`tests/data/lowp/`): every format of `formats.tsv` parses to a type with
//! the table's parameters, and every row of every decode and encode table matches the codecs.

use std::fs;
use std::path::{Path, PathBuf};

use tilevm::vm::dtype::{DataType, FloatType, NanEncoding, Overflow, Rounding};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lowp/vectors")
}

/// The rows of a TSV file after its header, split into columns.
fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.lines().skip(1).map(|line| line.split('\t').map(str::to_owned).collect()).collect()
}

fn hex(text: &str) -> u32 {
    let digits = text.strip_prefix("0x").unwrap_or_else(|| panic!("not hex: {text}"));
    u32::from_str_radix(digits, 16).unwrap_or_else(|error| panic!("{text}: {error}"))
}

struct Format {
    name: String,
    float: FloatType,
    row: Vec<String>,
}

fn formats() -> Vec<Format> {
    rows(&vectors().join("formats.tsv"))
        .into_iter()
        .map(|row| {
            let dt: DataType = row[0].parse().unwrap_or_else(|error| panic!("{}: {error}", row[0]));
            let float = dt.as_float().unwrap_or_else(|| panic!("{} is not a float", row[0]));
            Format { name: row[0].clone(), float, row }
        })
        .collect()
}

#[test]
fn every_format_of_the_table_parses_with_its_parameters() {
    let formats = formats();
    assert_eq!(formats.len(), 13);
    for Format { name, float, row } in formats {
        let column = |index: usize| row[index].as_str();
        assert_eq!(float.bits().to_string(), column(1), "{name} total_bits");
        assert_eq!(float.exponent_bits.to_string(), column(2), "{name} exponent_bits");
        assert_eq!(float.mantissa_bits.to_string(), column(3), "{name} mantissa_bits");
        assert_eq!(float.bias.to_string(), column(4), "{name} exponent_bias");
        assert_eq!(float.has_inf().to_string(), column(5), "{name} has_inf");
        let nan = match float.nan {
            NanEncoding::Ieee => "ieee",
            NanEncoding::Fn => "fn",
            NanEncoding::Fnuz => "fnuz",
            NanEncoding::None => "none",
        };
        assert_eq!(nan, column(6), "{name} nan_encoding");
        assert_eq!(float.has_negative_zero().to_string(), column(7), "{name} has_negative_zero");
        assert_eq!(f64::from(float.max_finite()), column(8).parse::<f64>().unwrap(), "{name} max_finite");
        assert_eq!(
            f64::from(float.min_subnormal()),
            column(9).parse::<f64>().unwrap(),
            "{name} min_subnormal"
        );
        let overflow = match float.overflow() {
            Overflow::Inf => "inf",
            Overflow::Nan => "nan",
            Overflow::Saturate => "saturate",
        };
        assert_eq!(overflow, column(10), "{name} overflow");
        assert_eq!(DataType::Float(float).ml_dtypes_name(), name);
        // The overflow column is what NearestEven gives for +inf and the largest f32.
        for value in [f32::INFINITY, f32::MAX] {
            let code = float.encode_f32(value, Rounding::NearestEven);
            let decoded = float.decode_f32(code);
            let expected = match float.overflow() {
                Overflow::Inf => decoded == f32::INFINITY,
                Overflow::Nan => decoded.is_nan(),
                Overflow::Saturate => decoded == float.max_finite(),
            };
            assert!(expected, "{name}: {value:e} → {code:#x}");
        }
    }
}

#[test]
fn every_decode_row_matches() {
    let mut checked = 0;
    for Format { name, float, .. } in formats() {
        let path = vectors().join(format!("{name}.decode.tsv"));
        if !path.exists() {
            continue;
        }
        let table = rows(&path);
        assert_eq!(table.len(), 1 << float.bits(), "{name}: one row per code");
        for row in table {
            let code = hex(&row[0]);
            let decoded = float.decode_f32(code);
            if row[1] == "nan" {
                assert!(
                    decoded.is_nan() && float.is_nan(code),
                    "{name} {}: expected NaN, got {decoded:e}",
                    row[0]
                );
            } else {
                assert_eq!(decoded.to_bits(), hex(&row[1]), "{name} {}: got {decoded:e}", row[0]);
            }
            checked += 1;
        }
    }
    assert!(checked > 130_000, "{checked}");
}

#[test]
fn every_encode_row_matches() {
    let mut checked = 0;
    for Format { name, float, .. } in formats() {
        let path = vectors().join(format!("{name}.encode.tsv"));
        if !path.exists() {
            continue;
        }
        for row in rows(&path) {
            let input = f32::from_bits(hex(&row[0]));
            let code = float.encode_f32(input, Rounding::NearestEven);
            if row[1] == "nan" {
                assert!(float.is_nan(code), "{name} {} ({}): expected NaN, got {code:#x}", row[0], row[2]);
            } else {
                assert_eq!(code, hex(&row[1]), "{name} {} ({}): {input:e}", row[0], row[2]);
            }
            checked += 1;
        }
    }
    assert!(checked > 380_000, "{checked}");
}

/// Round-to-nearest by brute force over the format's value table, with ml_dtypes' overflow, NaN and -0
/// rules, as an independent oracle for signed formats (with or without vector files).
fn nearest_by_search(float: FloatType, input: f32) -> Option<f64> {
    if input.is_nan() {
        // Formats without NaN give a zero with the inverted sign.
        return (float.nan == NanEncoding::None).then_some(if input.is_sign_negative() { 0.0 } else { -0.0 });
    }
    let overflow = |sign: f64| match float.overflow() {
        Overflow::Inf => Some(sign * f64::INFINITY),
        Overflow::Nan => None,
        Overflow::Saturate => Some(sign * f64::from(float.max_finite())),
    };
    let sign = if input.is_sign_negative() { -1.0 } else { 1.0 };
    let magnitude = f64::from(input.abs());
    let max_code = float.max_finite_code();
    let max = float.decode_f64(max_code);
    // The value one step above max finite on the unbounded grid, and the tie between them.
    let beyond = max + (max - float.decode_f64(max_code - 1));
    let tie = (max + beyond) / 2.0;
    if magnitude > tie || (magnitude == tie && max_code & 1 == 1) || input.is_infinite() {
        return overflow(sign);
    }
    let mut best = (f64::INFINITY, 0u32);
    for code in 0..=max_code {
        if float.is_nan(code) {
            continue;
        }
        let value = float.decode_f64(code);
        let distance = (value - magnitude).abs();
        if distance < best.0 || (distance == best.0 && code & 1 == 0) {
            best = (distance, code);
        }
    }
    let value = float.decode_f64(best.1);
    Some(if value == 0.0 && !float.has_negative_zero() { 0.0 } else { sign * value })
}

#[test]
fn every_signed_8_bit_or_narrower_format_matches_a_brute_force_oracle() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let inputs: Vec<f32> = (0..3000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Log-uniform magnitudes over the formats' ranges, and arbitrary bit patterns.
            if state & 1 == 0 {
                let exponent = ((state >> 8) % 60) as i32 - 30;
                let mantissa = f32::from_bits(0x3f80_0000 | (state >> 40) as u32 & 0x7f_ffff);
                let value = mantissa * 2f32.powi(exponent);
                if state & 2 == 0 { value } else { -value }
            } else {
                f32::from_bits((state >> 32) as u32)
            }
        })
        .collect();
    for Format { name, float, .. } in formats() {
        if !float.signed || float.bits() > 8 {
            continue;
        }
        // Every value of the format, every midpoint between neighbours, and one f32 step either side.
        let mut cases = inputs.clone();
        for code in 0..float.max_finite_code() {
            let (low, high) = (float.decode_f32(code), float.decode_f32(code + 1));
            let middle = ((f64::from(low) + f64::from(high)) / 2.0) as f32;
            for value in
                [low, middle, f32::from_bits(middle.to_bits() + 1), f32::from_bits(middle.to_bits() - 1)]
            {
                cases.extend([value, -value]);
            }
        }
        for input in cases.iter().copied() {
            let code = float.encode_f32(input, Rounding::NearestEven);
            let decoded = float.decode_f32(code);
            match nearest_by_search(float, input) {
                None => assert!(decoded.is_nan(), "{name}: {input:e} → {code:#x}, expected NaN"),
                Some(expected) => {
                    assert_eq!(f64::from(decoded), expected, "{name}: {input:e} → {code:#x}");
                    assert_eq!(
                        decoded.is_sign_negative(),
                        expected.is_sign_negative(),
                        "{name}: {input:e} sign"
                    );
                }
            }
        }
    }
}

#[test]
fn formats_without_vector_files_keep_their_generic_properties() {
    for Format { name, float, .. } in formats() {
        if vectors().join(format!("{name}.decode.tsv")).exists() {
            continue;
        }
        let mut previous = f32::NEG_INFINITY;
        for code in 0..=float.magnitude_mask() {
            if float.is_nan(code) {
                continue;
            }
            let value = float.decode_f32(code);
            assert!(value > previous || value == 0.0, "{name}: {code:#x} not increasing");
            previous = value;
            let negative = code | float.sign_mask();
            assert_eq!(float.decode_f32(negative), -value, "{name}: sign symmetry at {code:#x}");
        }
        for code in 0..1 << float.bits() {
            let value = float.decode_f32(code);
            assert_eq!(float.encode_f32(value, Rounding::NearestEven), code, "{name}: {code:#x} round trip");
        }
        assert_eq!(float.decode_f32(float.min_normal_code()), 2f32.powi(1 - float.bias), "{name} min normal");
    }
}
