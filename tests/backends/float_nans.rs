//! NaN results agree bit for bit with the interpreter on the CPU backend's scalar paths (tiles whose size
//! no vector path takes) and on the GPU: arithmetic gives the canonical quiet NaN whatever the operands'
//! payloads, negation and absolute value keep every payload, for `f32`, `f16` and `bf16`, elementwise and
//! in reductions (arg reductions skip NaNs). The corpus draws such specials too (`vm::corpus`).

use crate::gpu_common;
use tilevm::runtime::{CpuDevice, Device, GpuDevice, GpuOptions, KernelArg};
use tilevm::vm::DataType;
use tilevm::vm::interp;
use tilevm::vm::ir::{
    BinaryOp, ElementwiseOp, Expr, Inst, KernelBuilder, Operand, ReduceOp, TernaryOp, UnaryOp,
};
use tilevm::vm::layout;
use tilevm::vm::verify::VerifiedKernel;

/// Elements per tile: not a multiple of 4, so that the scalar loops run.
const LEN: u32 = 7;

/// Codes of `dtype`: NaNs of both signs, quiet and signalling, with payloads; infinities; zeros; numbers.
fn codes(dtype: DataType) -> Vec<u64> {
    match dtype {
        DataType::F32 => {
            vec![0x7fc0_1234, 0xff80_0001, 0x7f80_0000, 0x8000_0000, 0x3fc0_0000, 0xffc0_0000, 0]
        }
        DataType::F16 => vec![0x7e01, 0xfc01, 0x7c00, 0x8000, 0x3e00, 0xfe00, 0],
        _ => vec![0x7fc1, 0xff81, 0x7f80, 0x8000, 0x3fc0, 0xffc0, 0],
    }
}

fn bytes(dtype: DataType, codes: &[u64]) -> Vec<u8> {
    let width = dtype.bits() as usize / 8;
    codes.iter().flat_map(|code| code.to_le_bytes()[..width].to_vec()).collect()
}

/// `out = op(a, b, c)` elementwise on `[LEN]` tiles (or `out[0] = reduce(a)` for a reduction).
fn kernel(dtype: DataType, op: Option<ElementwiseOp>, reduce: Option<ReduceOp>) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("nan", 1);
    builder.grid(vec![Expr::u32(1)]);
    let tile_layout = layout::local(&[LEN as usize]).unwrap();
    let mut tiles = Vec::new();
    for name in ["a", "b", "c"] {
        let param = builder.global_param(name, dtype, false);
        let view =
            builder.view_global(name, param, dtype, vec![Expr::u32(LEN)], vec![Expr::u32(1)], Expr::u32(0));
        let tile = builder.tile(name, dtype, tile_layout.clone());
        builder.inst(Inst::LoadGlobal { dst: tile, src: view, offsets: vec![Expr::u32(0)], dims: vec![0] });
        tiles.push(tile);
    }
    // Arg reductions give a `u32` index.
    let out_dtype = match reduce {
        Some(ReduceOp::ArgMax | ReduceOp::ArgMin) => DataType::U32,
        _ => dtype,
    };
    let out = builder.global_param("out", out_dtype, true);
    let out_view =
        builder.view_global("out", out, out_dtype, vec![Expr::u32(LEN)], vec![Expr::u32(1)], Expr::u32(0));
    let result = match (op, reduce) {
        (Some(op), _) => {
            let arity = match op {
                ElementwiseOp::Unary(_) => 1,
                ElementwiseOp::Binary(_) => 2,
                ElementwiseOp::Ternary(_) => 3,
            };
            let operands = tiles[..arity].iter().map(|&tile| Operand::Tile(tile)).collect();
            let result = builder.tile("r", dtype, tile_layout);
            builder.inst(Inst::Elementwise { dst: result, op, operands });
            result
        }
        (None, reduce) => {
            let result = builder.tile("r", out_dtype, layout::local(&[1]).unwrap());
            let op = reduce.expect("an operation or a reduction");
            builder.inst(Inst::Reduce { dst: result, src: tiles[0], dim: 0, op });
            result
        }
    };
    builder.inst(Inst::StoreGlobal {
        dst: out_view,
        src: result,
        offsets: vec![Expr::u32(0)],
        dims: vec![0],
    });
    builder.finish().unwrap()
}

fn check(
    device: &dyn Device,
    dtype: DataType,
    op: Option<ElementwiseOp>,
    reduce: Option<ReduceOp>,
    inputs: [&[u64]; 3],
) {
    let kernel = kernel(dtype, op, reduce);
    let width = dtype.bits() as usize / 8;
    let mut args: Vec<KernelArg> =
        inputs.iter().map(|codes| KernelArg::Buffer(bytes(dtype, codes))).collect();
    args.push(KernelArg::Buffer(vec![0x5a; LEN as usize * 4.max(width)]));
    let mut expected = args.clone();
    interp::run_kernel(&kernel, &mut expected).unwrap();
    device.compile(&kernel).unwrap().run(&mut args).unwrap();
    assert_eq!(args[3], expected[3], "{}: {dtype} {op:?} {reduce:?}", device.name());
}

fn check_all(device: &dyn Device) {
    let ops = [
        ElementwiseOp::Unary(UnaryOp::Neg),
        ElementwiseOp::Unary(UnaryOp::Abs),
        ElementwiseOp::Unary(UnaryOp::Sqrt),
        ElementwiseOp::Unary(UnaryOp::Floor),
        ElementwiseOp::Unary(UnaryOp::Ceil),
        ElementwiseOp::Unary(UnaryOp::Round),
        ElementwiseOp::Unary(UnaryOp::Trunc),
        ElementwiseOp::Binary(BinaryOp::Add),
        ElementwiseOp::Binary(BinaryOp::Sub),
        ElementwiseOp::Binary(BinaryOp::Mul),
        ElementwiseOp::Binary(BinaryOp::Div),
        ElementwiseOp::Binary(BinaryOp::Min),
        ElementwiseOp::Binary(BinaryOp::Max),
        ElementwiseOp::Ternary(TernaryOp::Fma),
    ];
    for dtype in [DataType::F32, DataType::F16, DataType::BF16] {
        let a = codes(dtype);
        // The operands rotated against each other, so that NaNs meet NaNs, numbers and infinities.
        let b: Vec<u64> = a.iter().cycle().skip(1).take(a.len()).copied().collect();
        let c: Vec<u64> = a.iter().cycle().skip(3).take(a.len()).copied().collect();
        for op in ops {
            check(device, dtype, Some(op), None, [&a, &b, &c]);
        }
        let nans = [a[0], a[1], a[0], a[5], a[1], a[0], a[5]];
        // Arg reductions skip NaNs, also when the row starts with them.
        for reduce in [ReduceOp::Max, ReduceOp::Min, ReduceOp::Sum, ReduceOp::ArgMax, ReduceOp::ArgMin] {
            check(device, dtype, None, Some(reduce), [&a, &b, &c]);
            check(device, dtype, None, Some(reduce), [&nans, &b, &c]);
        }
    }
}

#[test]
fn cpu_float_results_are_the_interpreters_nans() {
    check_all(&CpuDevice::new(Some(1)).unwrap());
}

#[test]
fn gpu_float_results_are_the_interpreters_nans() {
    if let Some(device) = gpu_common::gpu_device() {
        check_all(&device);
        // Again through the `u32`-word f16 path, which adapters with native f16 otherwise leave unused.
        let words = GpuDevice::open_with(None, GpuOptions { no_native_f16: true, ..GpuOptions::default() })
            .expect("opens the adapter again");
        check_all(&words);
    }
}
