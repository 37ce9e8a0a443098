//! A small timing harness (not a benchmark with assertions on time): a u4 → f32 dequantisation of an
//! `N`×`N` matrix with a scale, and a u4 → u4 copy, checked against the host, with the median kernel
//! time printed.
//! `TILEVM_GPU_TIMING_N` (default 256) and `TILEVM_GPU_TIMING_RUNS` (default 1) choose the size and the
//! number of timed runs; `--nocapture` shows the result, e.g.
//! `TILEVM_GPU_TIMING_N=4096 TILEVM_GPU_TIMING_RUNS=7 cargo test --test backends gpu_timing -- --nocapture`.

use std::time::Duration;

use crate::gpu_common::{gpu_device, pack};
use tilevm::runtime::{Device, KernelArg};
use tilevm::vm::DataType;
use tilevm::vm::ir::{BinaryOp, ElementwiseOp, Expr, Inst, KernelBuilder, Operand, Rounding};
use tilevm::vm::layout::{local, spatial};
use tilevm::vm::verify::VerifiedKernel;

/// Rows and columns of one block's tile: 128 threads, each holding 8 consecutive codes of a row.
const TILE_ROWS: i32 = 8;
const TILE_COLS: i32 = 128;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// `out[r, c] = f32(q[r, c]) * scale` over an `n`×`n` matrix (`out[r, c] = q[r, c]` when `out_dtype` is
/// `code_dtype`).
/// With `decode_only`, the output view is 1×1, so that every element is decoded but only one is stored.
fn dequant_kernel(code_dtype: DataType, out_dtype: DataType, decode_only: bool) -> VerifiedKernel {
    let layout = spatial(&[8, 16]).and_then(|outer| outer.product(&local(&[1, 8])?)).expect("a valid layout");
    let mut builder = KernelBuilder::new("dequant", 128);
    let n = builder.scalar_param("n", DataType::I32);
    let scale = builder.scalar_param("scale", DataType::F32);
    let q = builder.global_param("q", code_dtype, false);
    let out = builder.global_param("out", out_dtype, true);
    let blocks = |extent: i32| {
        Expr::binary(
            BinaryOp::Div,
            Expr::binary(BinaryOp::Add, n.clone(), Expr::i32(extent - 1)),
            Expr::i32(extent),
        )
    };
    builder.grid(vec![blocks(TILE_COLS), blocks(TILE_ROWS)]);
    let shape = vec![n.clone(), n.clone()];
    let strides = vec![n.clone(), Expr::i32(1)];
    let q_view = builder.view_global("q", q, code_dtype, shape.clone(), strides.clone(), Expr::i32(0));
    let out_shape = if decode_only { vec![Expr::i32(1), Expr::i32(1)] } else { shape.clone() };
    let out_view = builder.view_global("out", out, out_dtype, out_shape, strides, Expr::i32(0));
    let row = builder.let_var(
        "row",
        Expr::binary(BinaryOp::Mul, Expr::block_index(1).cast(DataType::I32), Expr::i32(TILE_ROWS)),
    );
    let column = builder.let_var(
        "column",
        Expr::binary(BinaryOp::Mul, Expr::block_index(0).cast(DataType::I32), Expr::i32(TILE_COLS)),
    );
    let codes = builder.tile("codes", code_dtype, layout.clone());
    let values = builder.tile("values", out_dtype, layout);
    let offsets = vec![row, column];
    builder.inst(Inst::LoadGlobal { dst: codes, src: q_view, offsets: offsets.clone(), dims: vec![0, 1] });
    builder.inst(Inst::Cast { dst: values, src: codes, rounding: Rounding::NearestEven });
    if out_dtype.is_float() {
        builder.inst(Inst::Elementwise {
            dst: values,
            op: ElementwiseOp::Binary(BinaryOp::Mul),
            operands: vec![Operand::Tile(values), Operand::Scalar(scale)],
        });
    }
    builder.inst(Inst::StoreGlobal { dst: out_view, src: values, offsets, dims: vec![0, 1] });
    builder.finish().unwrap()
}

/// Runs the kernel from `code_dtype` (u4) to `out_dtype` `TILEVM_GPU_TIMING_RUNS` times; returns the
/// output bytes, the codes and the sorted kernel times.
fn timed(
    code_dtype: DataType,
    out_dtype: DataType,
    decode_only: bool,
) -> Option<(Vec<u8>, Vec<u32>, Vec<Duration>)> {
    let device = gpu_device()?;
    let n = env_usize("TILEVM_GPU_TIMING_N", 256);
    let runs = env_usize("TILEVM_GPU_TIMING_RUNS", 1).max(1);
    let compiled = device
        .compile(&dequant_kernel(code_dtype, out_dtype, decode_only))
        .unwrap_or_else(|error| panic!("{error}"));
    let codes: Vec<u32> =
        (0..n * n).map(|i| ((i * 7 + i / 5) % 16) as u32 & ((1 << code_dtype.bits()) - 1)).collect();
    let mut args = vec![
        KernelArg::Scalar(n as u64),
        KernelArg::Scalar(u64::from(0.5f32.to_bits())),
        KernelArg::Buffer(pack(&codes, code_dtype.bits())),
        KernelArg::Buffer(vec![0; (n * n * out_dtype.bits() as usize).div_ceil(8)]),
    ];
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| compiled.run(&mut args).unwrap_or_else(|error| panic!("{error}")).kernel_time)
        .collect();
    times.sort();
    let KernelArg::Buffer(bytes) = &args[3] else { panic!("the output is a buffer") };
    eprintln!(
        "{code_dtype} -> {out_dtype}{} {n}x{n}: median {:?} of {runs} runs (min {:?}, max {:?})",
        if decode_only { " (decode only)" } else { "" },
        times[runs / 2],
        times[0],
        times[runs - 1]
    );
    Some((bytes.clone(), codes, times))
}

#[test]
fn u4_copy_is_correct_and_timed() {
    let u4: DataType = "u4".parse().expect("u4");
    let Some((bytes, codes, _)) = timed(u4, u4, false) else { return };
    assert!(bytes == pack(&codes, 4), "the copy differs");
}

#[test]
fn u4_dequantisation_is_correct_and_timed() {
    let u4: DataType = "u4".parse().expect("u4");
    let Some((bytes, codes, _)) = timed(u4, DataType::F32, false) else { return };
    for (i, (chunk, &code)) in bytes.chunks_exact(4).zip(&codes).enumerate() {
        let value = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        assert_eq!(value, code as f32 * 0.5, "element {i}");
    }
}

#[test]
fn f4_dequantisation_is_correct_and_timed() {
    let f4: DataType = "f4e2m1fn".parse().expect("f4e2m1fn");
    let float = f4.as_float().expect("a float format");
    let Some((bytes, codes, _)) = timed(f4, DataType::F32, false) else { return };
    for (i, (chunk, &code)) in bytes.chunks_exact(4).zip(&codes).enumerate() {
        let value = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        assert_eq!(value, float.decode_f32(code) * 0.5, "element {i}");
    }
    // Decoding alone (the 1×1 output keeps only element 0; the rest of the buffer stays zero).
    let Some((bytes, codes, _)) = timed(f4, DataType::F32, true) else { return };
    assert_eq!(
        f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        float.decode_f32(codes[0]) * 0.5
    );
    assert!(bytes[4..].iter().all(|&byte| byte == 0));
}
