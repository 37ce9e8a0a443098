//! `fma` on the GPU rounds as the IR defines it (`TernaryOp::Fma`): `f32` against `f32::mul_add` on edge
//! values (zeros, subnormals, infinities, NaN, the largest values), cancellation, overflow, underflow,
//! half-way products and random bit patterns; `f16` and `bf16` against the exact value rounded to `f64`
//! and then once to the format by `dtype`'s encoder.
//!
//! FIXME(interp): `interp::eval_ternary` converts that `f64` with the `half` crate, which is not correctly
//! rounded (through `f32` on hosts with F16C, by truncating 32 bits otherwise), so it is not the
//! reference here; the test reports how often it differs.

use crate::gpu_common::{BLOCK, gpu_device, pack, stream_layout, unpack};
use crate::rng::Rng;
use tilevm::runtime::{Device, KernelArg};
use tilevm::vm::DataType;
use tilevm::vm::dtype::FloatType;
use tilevm::vm::interp::eval_ternary;
use tilevm::vm::ir::{BinaryOp, ElementwiseOp, Expr, Inst, KernelBuilder, Operand, TernaryOp};
use tilevm::vm::verify::VerifiedKernel;

/// `d[i] = fma(a[i], b[i], c[i])` for `i < n`.
fn fma_kernel(dtype: DataType) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("fma", 64);
    let n = builder.scalar_param("n", DataType::I32);
    let params: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, name)| builder.global_param(name, dtype, i == 3))
        .collect();
    builder.grid(vec![Expr::binary(
        BinaryOp::Div,
        Expr::binary(BinaryOp::Add, n.clone(), Expr::i32(BLOCK as i32 - 1)),
        Expr::i32(BLOCK as i32),
    )]);
    let offset = builder.let_var(
        "offset",
        Expr::binary(BinaryOp::Mul, Expr::block_index(0).cast(DataType::I32), Expr::i32(BLOCK as i32)),
    );
    let mut tiles = Vec::new();
    let mut views = Vec::new();
    for (param, name) in params.into_iter().zip(["a", "b", "c", "d"]) {
        views.push(builder.view_global(
            name,
            param,
            dtype,
            vec![n.clone()],
            vec![Expr::i32(1)],
            Expr::i32(0),
        ));
        tiles.push(builder.tile(name, dtype, stream_layout()));
    }
    for k in 0..3 {
        builder.inst(Inst::LoadGlobal {
            dst: tiles[k],
            src: views[k],
            offsets: vec![offset.clone()],
            dims: vec![0],
        });
    }
    builder.inst(Inst::Elementwise {
        dst: tiles[3],
        op: ElementwiseOp::Ternary(TernaryOp::Fma),
        operands: (0..3).map(|k| Operand::Tile(tiles[k])).collect(),
    });
    builder.inst(Inst::StoreGlobal { dst: views[3], src: tiles[3], offsets: vec![offset], dims: vec![0] });
    builder.finish().unwrap()
}

/// The GPU's `fma` of each triple of codes.
fn run_fma(device: &dyn Device, dtype: DataType, triples: &[[u32; 3]]) -> Vec<u32> {
    let compiled = device.compile(&fma_kernel(dtype)).unwrap_or_else(|error| panic!("compile: {error}"));
    let bits = dtype.bits();
    let mut args = vec![KernelArg::Scalar(triples.len() as u64)];
    for k in 0..3 {
        let codes: Vec<u32> = triples.iter().map(|triple| triple[k]).collect();
        args.push(KernelArg::Buffer(pack(&codes, bits)));
    }
    args.push(KernelArg::Buffer(vec![0; (triples.len() * bits as usize).div_ceil(8)]));
    compiled.run(&mut args).unwrap_or_else(|error| panic!("run: {error}"));
    match &args[4] {
        KernelArg::Buffer(bytes) => unpack(bytes, bits, triples.len()),
        KernelArg::Scalar(_) => panic!("the output is a buffer"),
    }
}

/// A random finite f32 with exponent field in `low..=high` and a random sign.
fn f32_in(rng: &mut Rng, low: u32, high: u32) -> f32 {
    let exponent = low + rng.next() % (high - low + 1);
    f32::from_bits((rng.next() & 0x807f_ffff) | (exponent << 23))
}

fn f32_triples() -> Vec<[u32; 3]> {
    let edges: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        1.0 + f32::EPSILON,
        1.5,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::from_bits(0x8000_0001),
        f32::from_bits(0x007f_ffff),
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        2f32.powi(-75),
        2f32.powi(64),
        -2f32.powi(-100),
    ];
    let mut triples = Vec::new();
    for &a in &edges {
        for &b in &edges {
            for &c in &edges {
                triples.push([a.to_bits(), b.to_bits(), c.to_bits()]);
            }
        }
    }
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for _ in 0..20_000 {
        // Ordinary magnitudes, and c cancelling the product exactly, nearly, or far below its last bit.
        let a = f32_in(&mut rng, 100, 154);
        let b = f32_in(&mut rng, 100, 154);
        let product = a * b;
        let tiny = f32_in(&mut rng, 1, 120);
        for c in [f32_in(&mut rng, 90, 164), -product, -product + tiny, product * -1.000_000_1, tiny, -tiny] {
            triples.push([a.to_bits(), b.to_bits(), c.to_bits()]);
        }
        // Products that overflow or land among the subnormals, with small and large addends.
        let (big_a, big_b) = (f32_in(&mut rng, 190, 254), f32_in(&mut rng, 190, 254));
        let (small_a, small_b) = (f32_in(&mut rng, 0, 70), f32_in(&mut rng, 0, 90));
        for (a, b) in [(big_a, big_b), (small_a, small_b), (small_a, big_b)] {
            for c in [f32_in(&mut rng, 0, 10), f32_in(&mut rng, 0, 254), -(a * b), f32::MAX] {
                triples.push([a.to_bits(), b.to_bits(), c.to_bits()]);
            }
        }
        triples.push([rng.next(), rng.next(), rng.next()]);
    }
    // Half-way products: a = 1 + 2^-12 squared is 1 + 2^-11 + 2^-24, whose last bit a tiny c tips.
    let a = 1.0 + 2f32.powi(-12);
    for c in [2f32.powi(-60), -(2f32.powi(-60)), 2f32.powi(-149), -(2f32.powi(-149)), 0.0] {
        triples.push([a.to_bits(), a.to_bits(), c.to_bits()]);
        triples.push([a.to_bits(), (-a).to_bits(), c.to_bits()]);
    }
    triples
}

#[test]
fn f32_fma_is_correctly_rounded() {
    let Some(device) = gpu_device() else { return };
    let triples = f32_triples();
    let actual = run_fma(&device, DataType::F32, &triples);
    let mut failures = Vec::new();
    for (triple, &got) in triples.iter().zip(&actual) {
        let [a, b, c] = triple.map(f32::from_bits);
        let expected = a.mul_add(b, c);
        // The interpreter canonicalises NaN results; so does the backend.
        let expected = if expected.is_nan() { f32::from_bits(0x7fc0_0000) } else { expected };
        let ok = got == expected.to_bits();
        if !ok && failures.len() < 12 {
            failures.push(format!(
                "fma({a:e}, {b:e}, {c:e}) = {:e} ({got:#010x}), expected {expected:e} ({:#010x})",
                f32::from_bits(got),
                expected.to_bits()
            ));
        }
    }
    assert!(failures.is_empty(), "of {} triples:\n{}", triples.len(), failures.join("\n"));
}

/// `a * b + c` for codes of `float`: the product is exact in `f64`, the sum rounds once to `f64`, and the
/// result once to the format; NaN results are the canonical quiet NaN.
fn reference_fma(float: FloatType, a: u32, b: u32, c: u32) -> u32 {
    let [x, y, z] = [a, b, c].map(|code| float.decode_f64(code));
    let value = x * y + z;
    let value = if value.is_nan() { f64::from(f32::from_bits(0x7fc0_0000)) } else { value };
    float.encode_f64_at(value, tilevm::vm::Rounding::NearestEven, 0)
}

#[test]
fn f16_and_bf16_fma_round_the_f64_result_once() {
    let Some(device) = gpu_device() else { return };
    let mut rng = Rng(0xfeed_f00d_1234_5678);
    for dtype in [DataType::F16, DataType::BF16] {
        let float = dtype.as_float().expect("a float dtype");
        let code = |value: f32| float.encode_f32(value, tilevm::vm::Rounding::NearestEven);
        // Half-way products with a tiny addend: a single rounding goes up, rounding through f32 ties.
        let mut triples = vec![
            [code(1.5), code(683.0 / 1024.0), code(2f32.powi(-24))],
            [code(1.125), code(29.0 / 32.0), code(2f32.powi(-60))],
            [code(1.125), code(29.0 / 32.0), code(-(2f32.powi(-60)))],
        ];
        let mask = (1u32 << dtype.bits()) - 1;
        for _ in 0..60_000 {
            triples.push([rng.next() & mask, rng.next() & mask, rng.next() & mask]);
            // Products near the addend's magnitude, and tiny addends.
            let a = rng.next() & mask;
            let b = rng.next() & mask;
            let product = float.decode_f32(a) * float.decode_f32(b);
            triples.push([a, b, code(-product)]);
            triples.push([a, b, rng.next() & (mask >> 3)]);
        }
        let actual = run_fma(&device, dtype, &triples);
        let mut failures = Vec::new();
        let mut interpreter_differs = 0;
        for (&[a, b, c], &got) in triples.iter().zip(&actual) {
            let expected = reference_fma(float, a, b, c);
            if got != expected && failures.len() < 12 {
                failures
                    .push(format!("{dtype} fma({a:#x}, {b:#x}, {c:#x}) = {got:#x}, expected {expected:#x}"));
            }
            let interpreted = eval_ternary(TernaryOp::Fma, dtype, a.into(), b.into(), c.into()) as u32;
            interpreter_differs += usize::from(interpreted != expected);
        }
        eprintln!(
            "{dtype}: the interpreter differs from the reference on {interpreter_differs} of {}",
            triples.len()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
