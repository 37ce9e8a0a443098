//! GPU runs of hand-built kernels against plain-Rust expectations: f16 vector add over a ragged size,
//! u4 dequantisation, shared-memory round trips with layout changes, reductions and dot products,
//! assertions, unsupported features and the pipeline cache.

use crate::gpu_common::{BLOCK, cast_kernel, gpu_device, pack, stream_layout};
use half::f16;
use tilevm::runtime::{Device, KernelArg, RuntimeError};
use tilevm::vm::DataType;
use tilevm::vm::dtype::IntType;
use tilevm::vm::ir::{
    BinaryOp, ElementwiseOp, Expr, Inst, KernelBuilder, Operand, ReduceOp, RegisterLayout, Rounding,
    SharedLayout,
};
use tilevm::vm::layout::spatial;

fn buffer(args: &[KernelArg], index: usize) -> Vec<u8> {
    match &args[index] {
        KernelArg::Buffer(bytes) => bytes.clone(),
        KernelArg::Scalar(_) => panic!("argument {index} is a scalar"),
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[test]
fn f16_vector_add_over_a_ragged_size() {
    let Some(device) = gpu_device() else { return };
    let dtype = DataType::F16;
    let mut builder = KernelBuilder::new("vector_add", 64);
    let n = builder.scalar_param("n", DataType::I32);
    let a = builder.global_param("a", dtype, false);
    let b = builder.global_param("b", dtype, false);
    let c = builder.global_param("c", dtype, true);
    builder.grid(vec![Expr::binary(
        BinaryOp::Div,
        Expr::binary(BinaryOp::Add, n.clone(), Expr::i32(BLOCK as i32 - 1)),
        Expr::i32(BLOCK as i32),
    )]);
    let views: Vec<_> = [("a", a), ("b", b), ("c", c)]
        .into_iter()
        .map(|(name, param)| {
            builder.view_global(name, param, dtype, vec![n.clone()], vec![Expr::i32(1)], Expr::i32(0))
        })
        .collect();
    let offset = builder.let_var(
        "offset",
        Expr::binary(BinaryOp::Mul, Expr::block_index(0).cast(DataType::I32), Expr::i32(BLOCK as i32)),
    );
    let ta = builder.tile("ta", dtype, stream_layout());
    let tb = builder.tile("tb", dtype, stream_layout());
    let tc = builder.tile("tc", dtype, stream_layout());
    builder.inst(Inst::LoadGlobal { dst: ta, src: views[0], offsets: vec![offset.clone()], dims: vec![0] });
    builder.inst(Inst::LoadGlobal { dst: tb, src: views[1], offsets: vec![offset.clone()], dims: vec![0] });
    builder.inst(Inst::Elementwise {
        dst: tc,
        op: ElementwiseOp::Binary(BinaryOp::Add),
        operands: vec![Operand::Tile(ta), Operand::Tile(tb)],
    });
    builder.inst(Inst::StoreGlobal { dst: views[2], src: tc, offsets: vec![offset], dims: vec![0] });
    let kernel = builder.finish().unwrap();
    let count = 1000;
    let xs: Vec<f16> = (0..count).map(|i| f16::from_f32((i as f32 * 0.37).sin() * 100.0)).collect();
    let ys: Vec<f16> = (0..count).map(|i| f16::from_f32((i as f32 * 0.11).cos() * 3.0e-3)).collect();
    let bytes = |values: &[f16]| values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    // One element more than n: the kernel must leave it alone.
    let mut args = vec![
        KernelArg::Scalar(count as u64),
        KernelArg::Buffer(bytes(&xs)),
        KernelArg::Buffer(bytes(&ys)),
        KernelArg::Buffer(vec![0x55; 2 * count + 2]),
    ];
    let compiled = device.compile(&kernel).expect("compiles");
    compiled.run(&mut args).expect("runs");
    let out = buffer(&args, 3);
    for i in 0..count {
        let actual = f16::from_le_bytes([out[2 * i], out[2 * i + 1]]);
        let expected = f16::from_f32(xs[i].to_f32() + ys[i].to_f32());
        assert_eq!(actual.to_bits(), expected.to_bits(), "element {i}");
    }
    assert_eq!(&out[2 * count..], &[0x55, 0x55], "the element past n was written");
}

#[test]
fn u4_dequantisation_with_a_scale() {
    let Some(device) = gpu_device() else { return };
    let u4 = DataType::Int(IntType { signed: false, bits: 4 });
    let mut builder = KernelBuilder::new("dequant", 64);
    let n = builder.scalar_param("n", DataType::I32);
    let scale = builder.scalar_param("scale", DataType::F32);
    let q = builder.global_param("q", u4, false);
    let out = builder.global_param("out", DataType::F32, true);
    builder.grid(vec![Expr::binary(
        BinaryOp::Div,
        Expr::binary(BinaryOp::Add, n.clone(), Expr::i32(255)),
        Expr::i32(256),
    )]);
    let q_view = builder.view_global("q", q, u4, vec![n.clone()], vec![Expr::i32(1)], Expr::i32(0));
    let out_view = builder.view_global("out", out, DataType::F32, vec![n], vec![Expr::i32(1)], Expr::i32(0));
    let offset = builder.let_var(
        "offset",
        Expr::binary(BinaryOp::Mul, Expr::block_index(0).cast(DataType::I32), Expr::i32(256)),
    );
    let codes = builder.tile("codes", u4, stream_layout());
    let values = builder.tile("values", DataType::F32, stream_layout());
    builder.inst(Inst::LoadGlobal { dst: codes, src: q_view, offsets: vec![offset.clone()], dims: vec![0] });
    builder.inst(Inst::Cast { dst: values, src: codes, rounding: Rounding::NearestEven });
    builder.inst(Inst::Elementwise {
        dst: values,
        op: ElementwiseOp::Binary(BinaryOp::Mul),
        operands: vec![Operand::Tile(values), Operand::Scalar(scale)],
    });
    builder.inst(Inst::StoreGlobal { dst: out_view, src: values, offsets: vec![offset], dims: vec![0] });
    let kernel = builder.finish().unwrap();
    let count = 777;
    let quantised: Vec<u32> = (0..count).map(|i| (i * 7 + 3) as u32 % 16).collect();
    let mut args = vec![
        KernelArg::Scalar(count as u64),
        KernelArg::Scalar(u64::from(0.125f32.to_bits())),
        KernelArg::Buffer(pack(&quantised, 4)),
        KernelArg::Buffer(vec![0; 4 * count]),
    ];
    device.compile(&kernel).expect("compiles").run(&mut args).expect("runs");
    let result = f32s(&buffer(&args, 3));
    for (i, (&code, &value)) in quantised.iter().zip(&result).enumerate() {
        assert_eq!(value, code as f32 * 0.125, "element {i}");
    }
}

#[test]
fn shared_round_trip_transpose_reduce_and_dot() {
    let Some(device) = gpu_device() else { return };
    // An 8x8 f32 tile is loaded with one layout, round-tripped through shared memory into another layout,
    // transposed (data moves between invocations), row-summed, and multiplied by a ones matrix.
    let mut builder = KernelBuilder::new("mix", 32);
    let x = builder.global_param("x", DataType::F32, false);
    let out = builder.global_param("out", DataType::F32, true);
    let sums = builder.global_param("sums", DataType::F32, true);
    let two_d = |builder: &mut KernelBuilder, name: &str, param| {
        builder.view_global(
            name,
            param,
            DataType::F32,
            vec![Expr::i32(8), Expr::i32(8)],
            vec![Expr::i32(8), Expr::i32(1)],
            Expr::i32(0),
        )
    };
    let x_view = two_d(&mut builder, "x", x);
    let out_view = two_d(&mut builder, "out", out);
    let sums_view = builder.view_global(
        "sums",
        sums,
        DataType::F32,
        vec![Expr::i32(8)],
        vec![Expr::i32(1)],
        Expr::i32(0),
    );
    let rows = RegisterLayout::new(vec![8, 8], vec![8, 4, 2], vec![0, 1], vec![2]).expect("layout");
    let columns = RegisterLayout::new(vec![8, 8], vec![4, 2, 8], vec![2, 0], vec![1]).expect("layout");
    let loaded = builder.tile("loaded", DataType::F32, rows.clone());
    let reread = builder.tile("reread", DataType::F32, columns.clone());
    let transposed = builder.tile("transposed", DataType::F32, rows.clone());
    let ones = builder.tile("ones", DataType::F32, rows.clone());
    let zeros = builder.tile("zeros", DataType::F32, rows.clone());
    let product = builder.tile("product", DataType::F32, rows.clone());
    let row_sums = builder.tile("row_sums", DataType::F32, rows.reduce(&[1], false).expect("layout"));
    let staging = builder.shared("staging", DataType::F32, SharedLayout::row_major(&[8, 8]).expect("layout"));
    builder.inst(Inst::LoadGlobal {
        dst: loaded,
        src: x_view,
        offsets: vec![Expr::i32(0), Expr::i32(0)],
        dims: vec![0, 1],
    });
    builder.inst(Inst::AllocShared { dst: staging, init: None });
    builder.inst(Inst::StoreShared { dst: staging, src: loaded, offsets: vec![Expr::i32(0), Expr::i32(0)] });
    builder.inst(Inst::Sync);
    builder.inst(Inst::LoadShared { dst: reread, src: staging, offsets: vec![Expr::i32(0), Expr::i32(0)] });
    builder.inst(Inst::FreeShared { tile: staging });
    builder.inst(Inst::Permute { dst: transposed, src: reread, dims: vec![1, 0] });
    builder.inst(Inst::Reduce { dst: row_sums, src: transposed, dim: 1, op: ReduceOp::Sum });
    builder.inst(Inst::AllocRegister { dst: ones, init: Some(Expr::f32(1.0)) });
    builder.inst(Inst::AllocRegister { dst: zeros, init: None });
    builder.inst(Inst::Dot { dst: product, a: transposed, b: ones, acc: zeros });
    builder.inst(Inst::StoreGlobal {
        dst: out_view,
        src: transposed,
        offsets: vec![Expr::i32(0), Expr::i32(0)],
        dims: vec![0, 1],
    });
    builder.inst(Inst::StoreGlobal {
        dst: sums_view,
        src: row_sums,
        offsets: vec![Expr::i32(0)],
        dims: vec![0],
    });
    let kernel = builder.finish().unwrap();
    let input: Vec<f32> = (0..64).map(|i| i as f32 * 0.5 - 3.0).collect();
    let mut args = vec![
        KernelArg::Buffer(input.iter().flat_map(|v| v.to_le_bytes()).collect()),
        KernelArg::Buffer(vec![0; 256]),
        KernelArg::Buffer(vec![0; 32]),
    ];
    device.compile(&kernel).expect("compiles").run(&mut args).expect("runs");
    let transposed_out = f32s(&buffer(&args, 1));
    let sums_out = f32s(&buffer(&args, 2));
    for i in 0..8 {
        for j in 0..8 {
            assert_eq!(transposed_out[i * 8 + j], input[j * 8 + i], "transposed[{i}][{j}]");
        }
        let expected: f32 = (0..8).map(|j| input[j * 8 + i]).sum();
        assert!((sums_out[i] - expected).abs() <= 1e-4, "sum {i}: {} vs {expected}", sums_out[i]);
    }
}

#[test]
fn dot_product_matches_a_host_matmul() {
    let Some(device) = gpu_device() else { return };
    let (m, k, n) = (4usize, 16usize, 8usize);
    let mut builder = KernelBuilder::new("matmul", 32);
    let a = builder.global_param("a", DataType::F16, false);
    let b = builder.global_param("b", DataType::F16, false);
    let c = builder.global_param("c", DataType::F32, true);
    let view = |builder: &mut KernelBuilder, name: &str, param, dtype, rows: usize, cols: usize| {
        builder.view_global(
            name,
            param,
            dtype,
            vec![Expr::i32(rows as i32), Expr::i32(cols as i32)],
            vec![Expr::i32(cols as i32), Expr::i32(1)],
            Expr::i32(0),
        )
    };
    let a_view = view(&mut builder, "a", a, DataType::F16, m, k);
    let b_view = view(&mut builder, "b", b, DataType::F16, k, n);
    let c_view = view(&mut builder, "c", c, DataType::F32, m, n);
    let a_tile = builder.tile(
        "a",
        DataType::F16,
        RegisterLayout::new(vec![m, k], vec![4, 8, 2], vec![0, 1], vec![2]).expect("layout"),
    );
    let b_tile = builder.tile(
        "b",
        DataType::F16,
        RegisterLayout::new(vec![k, n], vec![16, 2, 4], vec![0, 1], vec![2]).expect("layout"),
    );
    let c_tile = builder.tile("c", DataType::F32, spatial(&[m, n]).expect("layout"));
    let zero = builder.tile("zero", DataType::F32, spatial(&[m, n]).expect("layout"));
    builder.inst(Inst::LoadGlobal {
        dst: a_tile,
        src: a_view,
        offsets: vec![Expr::i32(0), Expr::i32(0)],
        dims: vec![0, 1],
    });
    builder.inst(Inst::LoadGlobal {
        dst: b_tile,
        src: b_view,
        offsets: vec![Expr::i32(0), Expr::i32(0)],
        dims: vec![0, 1],
    });
    builder.inst(Inst::AllocRegister { dst: zero, init: None });
    builder.inst(Inst::Dot { dst: c_tile, a: a_tile, b: b_tile, acc: zero });
    builder.inst(Inst::StoreGlobal {
        dst: c_view,
        src: c_tile,
        offsets: vec![Expr::i32(0), Expr::i32(0)],
        dims: vec![0, 1],
    });
    let kernel = builder.finish().unwrap();
    let a_values: Vec<f16> = (0..m * k).map(|i| f16::from_f32(((i * 13) % 7) as f32 - 3.0)).collect();
    let b_values: Vec<f16> = (0..k * n).map(|i| f16::from_f32(((i * 5) % 11) as f32 * 0.25)).collect();
    let bytes = |values: &[f16]| values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    let mut args = vec![
        KernelArg::Buffer(bytes(&a_values)),
        KernelArg::Buffer(bytes(&b_values)),
        KernelArg::Buffer(vec![0; 4 * m * n]),
    ];
    device.compile(&kernel).expect("compiles").run(&mut args).expect("runs");
    let result = f32s(&buffer(&args, 2));
    for i in 0..m {
        for j in 0..n {
            // Small integers and quarters: every partial sum is exact, so summation order does not matter.
            let expected: f32 =
                (0..k).map(|p| a_values[i * k + p].to_f32() * b_values[p * n + j].to_f32()).sum();
            assert_eq!(result[i * n + j], expected, "c[{i}][{j}]");
        }
    }
}

#[test]
fn failed_assertion_is_a_kernel_error() {
    let Some(device) = gpu_device() else { return };
    let mut builder = KernelBuilder::new("checks", 32);
    let n = builder.scalar_param("n", DataType::I32);
    builder.inst(Inst::Assert {
        cond: Expr::binary(BinaryOp::Lt, n, Expr::i32(10)),
        message: "n must be below 10".to_string(),
    });
    let compiled = device.compile(&builder.finish().unwrap()).expect("compiles");
    assert!(compiled.run(&mut [KernelArg::Scalar(3)]).is_ok());
    match compiled.run(&mut [KernelArg::Scalar(12)]) {
        Err(RuntimeError::KernelFailed(message)) => {
            assert!(message.contains("n must be below 10"), "{message}")
        }
        other => panic!("expected KernelFailed, got {other:?}"),
    }
}

#[test]
fn sixty_four_bit_kernels_are_unsupported_with_a_clear_error() {
    let Some(device) = gpu_device() else { return };
    let mut builder = KernelBuilder::new("wide_sum", 32);
    let x = builder.scalar_param("x", DataType::I64);
    builder.let_var("y", Expr::binary(BinaryOp::Add, x, Expr::constant(DataType::I64, 1)));
    match device.compile(&builder.finish().unwrap()) {
        Err(RuntimeError::Unsupported { what, .. }) => {
            assert!(what.contains("wide_sum") && what.contains("64-bit"), "{what}");
        }
        Err(other) => panic!("expected Unsupported, got {other}"),
        Ok(_) => panic!("expected Unsupported, got a compiled kernel"),
    }
}

#[test]
fn the_same_kernel_compiles_once() {
    let Some(device) = gpu_device() else { return };
    let kernel = cast_kernel(DataType::U8, DataType::F32, Rounding::NearestEven);
    let before = device.cached_pipelines();
    device.compile(&kernel).expect("compiles");
    device.compile(&kernel).expect("compiles");
    assert_eq!(device.cached_pipelines(), before + 1);
}
