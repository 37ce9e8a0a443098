//! The GEMV with activations quantized to 8 bits (`stdlib::gemv_q8`, written in `stdlib/kernels/gemv_q8.tile`):
//! the quantization and the integer dot agree bit for bit with the reference interpreter on the CPU (with and
//! without `x86_pmaddubsw`) and on the GPU (small tiles), for
//! every weight width the fast paths distinguish (4-bit nibbles, other widths, ragged row
//! counts that take the staged path), and the result is close to the exact a16 product.

use crate::gpu_common;
use crate::rng::Rng;
use tilevm::runtime::{CpuDevice, CpuOptions, Device, KernelArg};
use tilevm::stdlib::gemv_q8::{Q8_ROWS, gemv_q8_wx_kernel, quantize_q8_kernel};
use tilevm::stdlib::weight_layout::{pack_q8_weights, tile_scales};
use tilevm::vm::DataType;
use tilevm::vm::dtype::{FloatType, IntType, Rounding};
use tilevm::vm::interp;

const GROUP: u32 = 128;

/// Roughly normal, with a few large outliers (as activations have).
fn activation(rng: &mut Rng) -> f32 {
    let sum: f32 = (0..4).map(|_| rng.next() as f32 / u32::MAX as f32 - 0.5).sum();
    if rng.next().is_multiple_of(97) { sum * 40.0 } else { sum }
}

fn f16_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| (FloatType::F16.encode_f32(v, Rounding::NearestEven) as u16).to_le_bytes())
        .collect()
}

fn f16_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(2)
        .map(|pair| FloatType::F16.decode_f32(u32::from(u16::from_le_bytes([pair[0], pair[1]]))))
        .collect()
}

/// The inputs of one case: activations (with an all-zero group), weights, scales.
struct Case {
    bits: u8,
    /// Weights per scale (and activations per i8 scale).
    group: u32,
    n: u32,
    k: u32,
    x: Vec<f32>,
    weights: Vec<u64>,
    scales: Vec<f32>,
}

impl Case {
    fn new(bits: u8, n: u32, k: u32, seed: u64) -> Case {
        Case::with_group(bits, n, k, GROUP, seed)
    }

    fn with_group(bits: u8, n: u32, k: u32, group: u32, seed: u64) -> Case {
        let mut rng = Rng(seed | 1);
        let mut x: Vec<f32> = (0..k).map(|_| activation(&mut rng)).collect();
        if k >= 2 * group {
            x[group as usize..2 * group as usize].fill(0.0);
        }
        let weights = (0..n * k).map(|_| u64::from(rng.next()) % (1 << bits)).collect();
        let scales = (0..n * (k / group)).map(|_| (rng.next() % 64) as f32 / 512.0 + 0.01).collect();
        Case { bits, group, n, k, x, weights, scales }
    }

    fn dtype(&self) -> DataType {
        DataType::Int(IntType { signed: false, bits: self.bits })
    }

    /// The quantization's arguments: `x`, `xq`, `xd`.
    fn quantize_args(&self) -> Vec<KernelArg> {
        vec![
            KernelArg::Buffer(f16_bytes(&self.x)),
            KernelArg::Buffer(vec![0x5a; self.k as usize]),
            KernelArg::Buffer(vec![0x5a; 4 * (self.k / self.group) as usize]),
        ]
    }

    /// The GEMV's arguments for blocks of `rows`, given the quantization's outputs.
    fn gemv_args(&self, quantized: &[KernelArg], rows: usize) -> Vec<KernelArg> {
        let (n, k) = (self.n as usize, self.k as usize);
        let group = self.group as usize;
        let weights = pack_q8_weights(self.bits, &self.weights, n, k, group, rows);
        vec![
            quantized[1].clone(),
            quantized[2].clone(),
            KernelArg::Buffer(weights),
            KernelArg::Buffer(f16_bytes(&tile_scales(&self.scales, n, k / group, rows))),
            KernelArg::Buffer(vec![0xa5; 2 * self.n as usize]),
        ]
    }
}

fn buffer(arg: &KernelArg) -> &[u8] {
    match arg {
        KernelArg::Buffer(bytes) => bytes,
        KernelArg::Scalar(_) => panic!("expected a buffer"),
    }
}

/// Runs both kernels of `case` on `device` and on the interpreter; asserts equal bits for every output.
fn check_against_interpreter(device: &dyn Device, case: &Case, rows: usize, what: &str) {
    let quantize = quantize_q8_kernel(case.k, case.group).unwrap();
    let gemv = gemv_q8_wx_kernel(case.dtype(), case.n, case.k, case.group, rows).unwrap();
    let mut expected_q = case.quantize_args();
    interp::run_kernel(&quantize, &mut expected_q).unwrap();
    let mut actual_q = case.quantize_args();
    device.compile(&quantize).unwrap().run(&mut actual_q).unwrap();
    for index in [1, 2] {
        assert_eq!(buffer(&actual_q[index]), buffer(&expected_q[index]), "{what}: quantize output {index}");
    }
    let mut expected = case.gemv_args(&expected_q, rows);
    interp::run_kernel(&gemv, &mut expected).unwrap();
    let mut actual = case.gemv_args(&expected_q, rows);
    device.compile(&gemv).unwrap().run(&mut actual).unwrap();
    assert_eq!(buffer(&actual[4]), buffer(&expected[4]), "{what}: u{} n={} k={}", case.bits, case.n, case.k);
}

/// Widths and shapes: 1, 2 and 4 bits take the bit-plane path, 3, 5 and 6 bits two planes, 7 bits the
/// unpacking path, and n = 70, 40 or 33 leaves
/// a last block whose rows run past the end (padding rows of the tiled weights, masked scales and outputs).
const CASES: [(u8, u32, u32); 8] = [
    (4, 128, 512),
    (4, 70, 256),
    (2, 64, 256),
    (1, 40, 384),
    (3, 64, 384),
    (5, 33, 256),
    (6, 64, 256),
    (7, 64, 128),
];

#[test]
fn the_cpu_agrees_bit_for_bit_with_the_interpreter() {
    for options in [
        CpuOptions::default(),
        CpuOptions { portable_simd: true, ..CpuOptions::default() },
        CpuOptions { prefetch: true, ..CpuOptions::default() },
    ] {
        let device = CpuDevice::new_with(Some(2), options).unwrap();
        for (i, (bits, n, k)) in CASES.into_iter().enumerate() {
            check_against_interpreter(
                &device,
                &Case::new(bits, n, k, i as u64 + 11),
                Q8_ROWS,
                &format!("cpu {options:?}"),
            );
        }
    }
}

#[test]
fn software_prefetch_is_an_option_that_adds_the_helper_calls() {
    let kernel =
        gemv_q8_wx_kernel(DataType::Int(IntType { signed: false, bits: 4 }), 256, 1024, GROUP, Q8_ROWS)
            .unwrap();
    let calls = |options: CpuOptions| CpuDevice::asm_text(&kernel, options).unwrap().matches("call").count();
    let without = calls(CpuOptions::default());
    assert!(calls(CpuOptions { prefetch: true, ..CpuOptions::default() }) > without, "{without} calls");
}

#[test]
fn blocks_whose_rows_are_not_a_multiple_of_four_agree_too() {
    // The integer dot takes rows four at a time, then the rest one by one.
    for options in [
        CpuOptions::default(),
        CpuOptions { portable_simd: true, ..CpuOptions::default() },
        CpuOptions { prefetch: true, ..CpuOptions::default() },
    ] {
        let device = CpuDevice::new_with(Some(2), options).unwrap();
        for (i, (bits, n, k)) in [(4u8, 13u32, 256u32), (3, 7, 128), (6, 10, 256)].into_iter().enumerate() {
            let case = Case::new(bits, n, k, i as u64 + 31);
            check_against_interpreter(&device, &case, 6, &format!("cpu {options:?}, 6 rows"));
        }
    }
}

#[test]
fn the_gpu_agrees_bit_for_bit_with_the_interpreter_on_small_tiles() {
    // The kernels are CPU-shaped: one thread holds a block's whole `[rows, group]` tiles, which the GPU
    // backend keeps in per-invocation arrays that its shader compilers take seconds over at the CPU's
    // sizes. Small tiles run the same `.tile` source through the WGSL backend.
    let Some(device) = gpu_common::gpu_device() else { return };
    for (i, bits) in [4u8, 3].into_iter().enumerate() {
        let case = Case::with_group(bits, 24, 128, 32, i as u64 + 41);
        check_against_interpreter(&device, &case, 4, "gpu, 4 rows, groups of 32");
    }
}

/// The q8 GEMV of `bits`-bit weights against the exact product of the f16 activations with the weights.
fn check_close_to_the_f16_activation_product(device: &CpuDevice, bits: u8) {
    let mut case = Case::new(bits, 64, 1024, 5);
    // Without outliers, so that the worst-case bound below is tight enough to mean something.
    case.x.iter_mut().for_each(|v| *v = v.clamp(-2.0, 2.0));
    let x = f16_values(&f16_bytes(&case.x));
    let scales = f16_values(&f16_bytes(&case.scales));
    let mut quantized = case.quantize_args();
    device.compile(&quantize_q8_kernel(case.k, GROUP).unwrap()).unwrap().run(&mut quantized).unwrap();
    let mut args = case.gemv_args(&quantized, Q8_ROWS);
    device
        .compile(&gemv_q8_wx_kernel(case.dtype(), case.n, case.k, GROUP, Q8_ROWS).unwrap())
        .unwrap()
        .run(&mut args)
        .unwrap();
    let y = f16_values(buffer(&args[4]));
    let k = case.k as usize;
    let groups = k / GROUP as usize;
    let group_max: Vec<f64> = x
        .chunks(GROUP as usize)
        .map(|chunk| chunk.iter().fold(0.0, |max: f64, &v| max.max(f64::from(v).abs())))
        .collect();
    let (mut errors, mut sizes) = (0.0f64, 0.0f64);
    for (row, &got) in y.iter().enumerate() {
        let (mut exact, mut bound) = (0.0f64, 0.0f64);
        for col in 0..k {
            let weight =
                case.weights[row * k + col] as f64 * f64::from(scales[row * groups + col / GROUP as usize]);
            exact += f64::from(x[col]) * weight;
            // 8-bit activations: each is off by at most half a step of its group, max|x| / 254.
            bound += group_max[col / GROUP as usize] / 254.0 * weight;
        }
        // Plus the f32 arithmetic and the final rounding to f16.
        let bound = bound * 1.01 + exact.abs() / 1024.0 + 1e-3;
        assert!(
            (f64::from(got) - exact).abs() <= bound,
            "u{bits} row {row}: {got} vs {exact} (bound {bound})"
        );
        errors += (f64::from(got) - exact).powi(2);
        sizes += exact.powi(2);
    }
    // Typically far inside the bound: the 8-bit rounding errors of the activations are independent.
    assert!(errors.sqrt() < sizes.sqrt() / 100.0, "u{bits}: relative error {}", (errors / sizes).sqrt());
}

#[test]
fn the_result_is_close_to_the_f16_activation_product() {
    // Every weight layout: one plane of 4 or 7 bits, two planes of 3, 5 and 6 bits.
    let device = CpuDevice::new(Some(2)).unwrap();
    for bits in [4, 3, 5, 6, 7] {
        check_close_to_the_f16_activation_product(&device, bits);
    }
}
