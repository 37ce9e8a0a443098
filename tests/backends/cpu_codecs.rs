//! The CPU backend's generic minifloat codecs (CLIF bit manipulation) against the ml_dtypes golden vectors
//! in `tests/data/lowp/vectors/`: every decode row, and every encode row (NaN payloads not compared).

use crate::cpu_support::{cast_kernel, pack, run, unpack};
use crate::lowp_support::{VECTORS, vector_formats};
use tilevm::runtime::KernelArg;
use tilevm::vm::DataType;
use tilevm::vm::dtype::{FloatType, NanEncoding};
use tilevm::vm::ir::Rounding;

/// The formats of `formats.tsv` the CLIF codec handles (signed, with mantissa bits).
fn formats() -> Vec<(String, FloatType)> {
    vector_formats()
        .into_iter()
        .filter_map(|(name, dtype)| dtype.as_float().map(|float| (name, float)))
        .filter(|(_, float)| float.signed && float.mantissa_bits > 0)
        .collect()
}

fn hex(text: &str) -> u64 {
    u64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap()
}

fn is_nan_code(float: FloatType, code: u64) -> bool {
    let width = u32::from(float.exponent_bits) + u32::from(float.mantissa_bits);
    let magnitude = code & ((1 << width) - 1);
    match float.nan {
        NanEncoding::Ieee => {
            magnitude >> float.mantissa_bits == (1 << float.exponent_bits) - 1
                && magnitude & ((1 << float.mantissa_bits) - 1) != 0
        }
        NanEncoding::Fn => magnitude == (1 << width) - 1,
        NanEncoding::Fnuz => code == 1 << width,
        NanEncoding::None => false,
    }
}

#[test]
fn decode_matches_the_golden_vectors() {
    let formats = formats();
    assert!(formats.len() >= 10, "expected most formats to be handled, got {}", formats.len());
    for (name, float) in formats {
        let dtype = DataType::Float(float);
        let bits = dtype.bits();
        // Some formats of the table have no vector files (they are not part of the copied set).
        let Ok(text) = std::fs::read_to_string(format!("{VECTORS}/{name}.decode.tsv")) else { continue };
        let rows: Vec<(u64, Option<u32>)> = text
            .lines()
            .skip(1)
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                (hex(fields[0]), (fields[1] != "nan").then(|| hex(fields[1]) as u32))
            })
            .collect();
        let codes: Vec<u64> = rows.iter().map(|row| row.0).collect();
        let n = codes.len();
        let mut args = vec![
            KernelArg::Buffer(pack(&codes, bits)),
            KernelArg::Buffer(vec![0; 4 * n]),
            KernelArg::Scalar(n as u64),
        ];
        run(&cast_kernel(dtype, DataType::F32, Rounding::NearestEven), &mut args).unwrap();
        let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
        for (i, (code, expected)) in rows.iter().enumerate() {
            let got = u32::from_le_bytes(out[4 * i..4 * i + 4].try_into().unwrap());
            match expected {
                Some(expected) => assert_eq!(got, *expected, "{name}: decode {code:#x}"),
                None => assert!(f32::from_bits(got).is_nan(), "{name}: decode {code:#x} should be NaN"),
            }
        }
    }
}

#[test]
fn encode_matches_the_golden_vectors() {
    for (name, float) in formats() {
        let dtype = DataType::Float(float);
        let bits = dtype.bits();
        // Some formats of the table have no vector files (they are not part of the copied set).
        let Ok(text) = std::fs::read_to_string(format!("{VECTORS}/{name}.encode.tsv")) else { continue };
        let rows: Vec<(u32, Option<u64>)> = text
            .lines()
            .skip(1)
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                (hex(fields[0]) as u32, (fields[1] != "nan").then(|| hex(fields[1])))
            })
            .collect();
        let input: Vec<u8> = rows.iter().flat_map(|row| row.0.to_le_bytes()).collect();
        let n = rows.len();
        let mut args = vec![
            KernelArg::Buffer(input),
            KernelArg::Buffer(vec![0; (n * bits as usize).div_ceil(8)]),
            KernelArg::Scalar(n as u64),
        ];
        run(&cast_kernel(DataType::F32, dtype, Rounding::NearestEven), &mut args).unwrap();
        let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
        let codes = unpack(out, bits, n);
        let mut mismatches = Vec::new();
        for ((input, expected), &got) in rows.iter().zip(&codes) {
            let ok = match expected {
                Some(expected) => got == *expected,
                None => is_nan_code(float, got),
            };
            if !ok {
                mismatches.push(format!("{input:#010x} -> {got:#x}, expected {expected:?}"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{name}: {} mismatches, first: {:?}",
            mismatches.len(),
            &mismatches[..mismatches.len().min(5)]
        );
    }
}

/// Codes of every format and a spread of f32 bit patterns (NaN payloads, both signs, every exponent), cast
/// both ways with both deterministic roundings: bit for bit what `dtype::cast` gives.
#[test]
fn casts_agree_bit_for_bit_with_dtype_cast() {
    let mut patterns: Vec<u32> = Vec::new();
    for exponent in 0..256u32 {
        for fraction in [0u32, 1, 0x40_0000, 0x7f_ffff, 0x12_3457, 0x00_1000, 0x3f_f000, 0x7f_e001] {
            for sign in [0u32, 1] {
                patterns.push(sign << 31 | exponent << 23 | fraction);
            }
        }
    }
    let n = patterns.len();
    let input: Vec<u8> = patterns.iter().flat_map(|bits| bits.to_le_bytes()).collect();
    for (name, float) in formats() {
        let dtype = DataType::Float(float);
        let bits = dtype.bits();
        for rounding in [Rounding::NearestEven, Rounding::TowardZero] {
            let mut args = vec![
                KernelArg::Buffer(input.clone()),
                KernelArg::Buffer(vec![0; (n * bits as usize).div_ceil(8)]),
                KernelArg::Scalar(n as u64),
            ];
            run(&cast_kernel(DataType::F32, dtype, rounding), &mut args).unwrap();
            let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
            for (&pattern, got) in patterns.iter().zip(unpack(out, bits, n)) {
                let want = tilevm::vm::dtype::cast(DataType::F32, dtype, u64::from(pattern), rounding, 0);
                assert_eq!(got, want, "{name} {rounding:?}: encode {pattern:#010x}");
            }
        }
        let codes: Vec<u64> = (0..1u64 << bits).collect();
        let count = codes.len();
        let mut args = vec![
            KernelArg::Buffer(pack(&codes, bits)),
            KernelArg::Buffer(vec![0; 4 * count]),
            KernelArg::Scalar(count as u64),
        ];
        run(&cast_kernel(dtype, DataType::F32, Rounding::NearestEven), &mut args).unwrap();
        let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
        for (code, chunk) in codes.iter().zip(out.chunks(4)) {
            let got = u64::from(u32::from_le_bytes(chunk.try_into().unwrap()));
            let want = tilevm::vm::dtype::cast(dtype, DataType::F32, *code, Rounding::NearestEven, 0);
            assert_eq!(got, want, "{name}: decode {code:#x}");
        }
    }
}
