//! Every minifloat, bf16 and f16 conversion on the GPU against the golden vectors (ml_dtypes) in
//! `tests/data/lowp/vectors`: decode of every code, and encode of every listed f32, through packed
//! loads and stores of each width.

use crate::gpu_common::{cast_kernel, gpu_device, pack, unpack};
use crate::lowp_support::{VECTORS, vector_formats};
use tilevm::runtime::{Device, KernelArg};
use tilevm::vm::DataType;
use tilevm::vm::ir::Rounding;

struct Format {
    name: String,
    dtype: DataType,
}

fn formats() -> Vec<Format> {
    vector_formats().into_iter().map(|(name, dtype)| Format { name, dtype }).collect()
}

fn rows(name: &str, kind: &str) -> Option<Vec<(u32, Option<u32>)>> {
    let text = std::fs::read_to_string(format!("{VECTORS}/{name}.{kind}.tsv")).ok()?;
    let hex = |field: &str| u32::from_str_radix(field.trim_start_matches("0x"), 16).ok();
    Some(
        text.lines()
            .skip(1)
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                (hex(fields[0]).expect("hex input"), hex(fields[1]))
            })
            .collect(),
    )
}

fn run_cast(device: &dyn Device, from: DataType, to: DataType, codes: &[u32]) -> Vec<u32> {
    let kernel = cast_kernel(from, to, Rounding::NearestEven);
    let compiled =
        device.compile(&kernel).unwrap_or_else(|error| panic!("compile {from:?} -> {to:?}: {error}"));
    let output_bytes = (codes.len() * to.bits() as usize).div_ceil(8);
    let mut args = vec![
        KernelArg::Scalar(codes.len() as u64),
        KernelArg::Buffer(pack(codes, from.bits())),
        KernelArg::Buffer(vec![0xa5; output_bytes]),
    ];
    compiled.run(&mut args).unwrap_or_else(|error| panic!("run {from:?} -> {to:?}: {error}"));
    match &args[2] {
        KernelArg::Buffer(bytes) => unpack(bytes, to.bits(), codes.len()),
        KernelArg::Scalar(_) => panic!("the output is a buffer"),
    }
}

fn is_f32_nan(bits: u32) -> bool {
    bits & 0x7fff_ffff > 0x7f80_0000
}

#[test]
fn every_format_decodes_and_encodes_like_ml_dtypes() {
    let Some(device) = gpu_device() else { return };
    let mut checked = 0;
    for format in formats() {
        let Some(decode) = rows(&format.name, "decode") else { continue };
        let codes: Vec<u32> = decode.iter().map(|(code, _)| *code).collect();
        let decoded = run_cast(&device, format.dtype, DataType::F32, &codes);
        for ((code, expected), actual) in decode.iter().zip(&decoded) {
            match expected {
                Some(bits) => assert_eq!(*actual, *bits, "{} decode {code:#x}", format.name),
                None => {
                    assert!(is_f32_nan(*actual), "{} decode {code:#x} gave {actual:#x}, not NaN", format.name)
                }
            }
        }
        let Some(encode) = rows(&format.name, "encode") else { continue };
        let inputs: Vec<u32> = encode.iter().map(|(input, _)| *input).collect();
        let encoded = run_cast(&device, DataType::F32, format.dtype, &inputs);
        // NaN results are checked by decoding them back with the (already verified) decoder.
        let back = run_cast(&device, format.dtype, DataType::F32, &encoded);
        let mut failures = Vec::new();
        for (((input, expected), actual), actual_value) in encode.iter().zip(&encoded).zip(&back) {
            let ok = match expected {
                Some(code) => actual == code,
                None => is_f32_nan(*actual_value),
            };
            if !ok && failures.len() < 10 {
                failures.push(format!("{input:#010x} -> {actual:#x}, expected {expected:?}"));
            }
        }
        assert!(failures.is_empty(), "{} encode mismatches:\n{}", format.name, failures.join("\n"));
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} formats had vectors");
}
