//! The example kernels run on the reference interpreter and agree with plain-Rust computations.

use std::path::Path;

use half::f16;
use tilevm_lang::vm::interp::{KernelArg, run_kernel};
use tilevm_lang::vm::verify::VerifiedKernel;
use tilevm_lang::{CompileOptions, compile};

fn compile_example(name: &str, sets: &[(&str, &str)]) -> VerifiedKernel {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
    let source = std::fs::read_to_string(&path).expect("example exists");
    let options = CompileOptions {
        kernel: None,
        sets: sets.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
    };
    let module = compile(&source, &options).unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"));
    module.into_kernels().remove(0)
}

/// A small deterministic generator (xorshift).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A float in [-1, 1) with few mantissa bits, so f16 holds it exactly.
    fn small_float(&mut self) -> f32 {
        (self.next() % 64) as f32 / 32.0 - 1.0
    }
}

fn f16_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|&value| f16::from_f32(value).to_le_bytes()).collect()
}

fn read_f16(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(2).map(|pair| f16::from_le_bytes([pair[0], pair[1]]).to_f32()).collect()
}

#[test]
fn gemv_matches_a_plain_rust_computation_for_every_weight_width() {
    // n is not a multiple of BLOCK_N, so the last block's loads and stores are masked.
    let (n, k, group) = (37usize, 256usize, 128usize);
    for bits in [3usize, 4, 5, 6, 8] {
        let width = format!("u{bits}");
        let kernel = compile_example("gemv_a16w4.tile", &[("W", &width)]);
        let mut random = Random(0x5EED + bits as u64);
        let x: Vec<f32> = (0..k).map(|_| random.small_float()).collect();
        let weights: Vec<u64> = (0..n * k).map(|_| random.next() % (1 << bits)).collect();
        let scales: Vec<f32> = (0..n * (k / group)).map(|_| random.small_float() / 8.0).collect();
        let mut args = vec![
            KernelArg::Buffer(f16_bytes(&x)),
            KernelArg::Buffer(tilevm_lang::vm::packing::pack(bits as u32, &weights)),
            KernelArg::Buffer(f16_bytes(&scales)),
            KernelArg::Buffer(vec![0; 2 * n]),
            KernelArg::Scalar(n as u64),
            KernelArg::Scalar(k as u64),
        ];
        run_kernel(&kernel, &mut args).unwrap_or_else(|error| panic!("{width}: {error}"));
        let KernelArg::Buffer(output) = &args[3] else { panic!("y is a buffer") };
        let y = read_f16(output);
        for row in 0..n {
            let expected: f64 = (0..k)
                .map(|col| {
                    let scale = f64::from(f16::from_f32(scales[row * (k / group) + col / group]).to_f32());
                    f64::from(x[col]) * weights[row * k + col] as f64 * scale
                })
                .sum();
            let tolerance = 1e-2 * expected.abs().max(1.0);
            assert!(
                (f64::from(y[row]) - expected).abs() <= tolerance,
                "{width}: y[{row}] = {}, expected {expected}",
                y[row]
            );
        }
    }
}

#[test]
fn vector_add_matches() {
    let kernel = compile_example("vector_add_f16.tile", &[("BLOCK", "256")]);
    let n = 1000;
    let mut random = Random(7);
    let a: Vec<f32> = (0..n).map(|_| random.small_float()).collect();
    let b: Vec<f32> = (0..n).map(|_| random.small_float()).collect();
    let mut args = vec![
        KernelArg::Buffer(f16_bytes(&a)),
        KernelArg::Buffer(f16_bytes(&b)),
        KernelArg::Buffer(vec![0; 2 * n]),
        KernelArg::Scalar(n as u64),
    ];
    run_kernel(&kernel, &mut args).unwrap_or_else(|error| panic!("{error}"));
    let KernelArg::Buffer(output) = &args[2] else { panic!("c is a buffer") };
    let c = read_f16(output);
    for index in 0..n {
        // Both inputs are multiples of 1/32 in [-1, 1), so the f16 sum is exact.
        assert_eq!(c[index], a[index] + b[index], "c[{index}]");
    }
}

#[test]
fn unpack_view_splits_bytes_into_nibbles() {
    let kernel = compile_example("unpack_view.tile", &[]);
    let n = 100;
    let bytes: Vec<u8> = (0..n).map(|index| (index * 37 + 11) as u8).collect();
    let mut args = vec![
        KernelArg::Buffer(bytes.clone()),
        KernelArg::Buffer(vec![0; 4 * n]),
        KernelArg::Scalar(n as u64),
    ];
    run_kernel(&kernel, &mut args).unwrap_or_else(|error| panic!("{error}"));
    let KernelArg::Buffer(output) = &args[1] else { panic!("y is a buffer") };
    let y = read_f16(output);
    for (index, byte) in bytes.iter().enumerate() {
        assert_eq!(y[2 * index], f32::from(byte & 0xF), "low nibble of byte {index}");
        assert_eq!(y[2 * index + 1], f32::from(byte >> 4), "high nibble of byte {index}");
    }
}
