//! Three realistic kernels built with `KernelBuilder`, run on the reference interpreter and checked against
//! plain Rust on seeded random data: an f16 vector add, a 4-bit weight dequantize with per-group f16 scales,
//! and an f32 GEMV with a shared-memory reduction across threads.

use half::f16;
use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;
use tilevm_vm::interp::{KernelArg, run_kernel};
use tilevm_vm::ir::{
    BinaryOp, ElementwiseOp, Expr, Inst, KernelBuilder, Operand, ReduceOp, Rounding, TernaryOp,
};
use tilevm_vm::layout::{RegisterLayout, parse_register_layout, replicated};
use tilevm_vm::verify::VerifiedKernel;

const U4: DataType = DataType::Int(IntType { signed: false, bits: 4 });

/// SplitMix64: a tiny seeded generator, so the data is the same on every run.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A float in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

fn layout(text: &str) -> RegisterLayout {
    parse_register_layout(text).expect("a valid layout")
}

/// `local` tile `inner` held by `replicas` threads each.
fn replicated_product(replicas: usize, inner: &str) -> RegisterLayout {
    let rank = layout(inner).shape().len();
    replicated(&vec![1; rank], replicas)
        .and_then(|outer| outer.product(&layout(inner)))
        .expect("a valid layout")
}

fn bytes_of<T: Copy>(values: &[T], to_bytes: impl Fn(T) -> Vec<u8>) -> Vec<u8> {
    values.iter().flat_map(|&value| to_bytes(value)).collect()
}

fn buffer(args: &[KernelArg], index: usize) -> &[u8] {
    match &args[index] {
        KernelArg::Buffer(bytes) => bytes,
        KernelArg::Scalar(_) => &[],
    }
}

fn f16_values(bytes: &[u8]) -> Vec<f16> {
    bytes.chunks_exact(2).map(|c| f16::from_le_bytes([c[0], c[1]])).collect()
}

fn view_1d(
    builder: &mut KernelBuilder,
    name: &str,
    param: tilevm_vm::ir::ParamId,
    dtype: DataType,
    n: Expr,
) -> tilevm_vm::ir::GlobalId {
    builder.view_global(name, param, dtype, vec![n], vec![Expr::u32(1)], Expr::u32(0))
}

/// `c = a + b` in f16, 64 elements per block of 32 threads, grid `ceil(n / 64)`.
fn vector_add_f16() -> VerifiedKernel {
    const BLOCK: u32 = 64;
    let mut builder = KernelBuilder::new("vector_add_f16", 32);
    let (a, b) =
        (builder.global_param("a", DataType::F16, false), builder.global_param("b", DataType::F16, false));
    let c = builder.global_param("c", DataType::F16, true);
    let n = builder.scalar_param("n", DataType::U32);
    let blocks = Expr::binary(
        BinaryOp::Div,
        Expr::binary(BinaryOp::Add, n.clone(), Expr::u32(BLOCK - 1)),
        Expr::u32(BLOCK),
    );
    builder.grid(vec![blocks]);
    let (a_view, b_view) = (
        view_1d(&mut builder, "a", a, DataType::F16, n.clone()),
        view_1d(&mut builder, "b", b, DataType::F16, n.clone()),
    );
    let c_view = view_1d(&mut builder, "c", c, DataType::F16, n);
    let start = builder.let_var("start", Expr::binary(BinaryOp::Mul, Expr::block_index(0), Expr::u32(BLOCK)));
    let tile_layout = layout("local(2).spatial(32)");
    let (a_tile, b_tile, c_tile) = (
        builder.tile("a", DataType::F16, tile_layout.clone()),
        builder.tile("b", DataType::F16, tile_layout.clone()),
        builder.tile("c", DataType::F16, tile_layout),
    );
    for (dst, src) in [(a_tile, a_view), (b_tile, b_view)] {
        builder.inst(Inst::LoadGlobal { dst, src, offsets: vec![start.clone()], dims: vec![0] });
    }
    let operands = vec![Operand::Tile(a_tile), Operand::Tile(b_tile)];
    builder.inst(Inst::Elementwise { dst: c_tile, op: ElementwiseOp::Binary(BinaryOp::Add), operands });
    builder.inst(Inst::StoreGlobal { dst: c_view, src: c_tile, offsets: vec![start], dims: vec![0] });
    builder.finish().unwrap()
}

#[test]
fn vector_add_in_f16_with_a_ragged_tail() {
    let mut random = SplitMix64(1);
    let n = 1000usize; // not a multiple of 64
    let a: Vec<f16> = (0..n).map(|_| f16::from_f32(random.unit() * 100.0)).collect();
    let b: Vec<f16> = (0..n).map(|_| f16::from_f32(random.unit() * 100.0)).collect();
    let mut args = vec![
        KernelArg::Buffer(bytes_of(&a, |v| v.to_le_bytes().to_vec())),
        KernelArg::Buffer(bytes_of(&b, |v| v.to_le_bytes().to_vec())),
        KernelArg::Buffer(vec![0xff; n * 2]),
        KernelArg::Scalar(n as u64),
    ];
    run_kernel(&vector_add_f16(), &mut args).expect("the kernel runs");
    let expected: Vec<u16> =
        a.iter().zip(&b).map(|(x, y)| f16::from_f32(x.to_f32() + y.to_f32()).to_bits()).collect();
    let got: Vec<u16> = f16_values(buffer(&args, 2)).iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, expected);
}

/// `out[r, c] = f16(w[r, c] * scale[r, c / 32])` with u4 weights packed eight per u32 word (element 0 in
/// the low bits). A block handles 4 rows by 64 columns (two groups of 32), seen as a [4, 2, 32] tile.
fn dequantize_u4() -> VerifiedKernel {
    let mut builder = KernelBuilder::new("dequantize_u4", 32);
    let weights = builder.global_param("weights", DataType::U32, false);
    let scales = builder.global_param("scales", DataType::F16, false);
    let out = builder.global_param("out", DataType::F16, true);
    let rows = builder.scalar_param("rows", DataType::U32);
    let cols = builder.scalar_param("cols", DataType::U32);
    let groups = builder.let_var("groups", Expr::binary(BinaryOp::Div, cols.clone(), Expr::u32(32)));
    let ceil_div = |x: Expr, d: u32| {
        Expr::binary(BinaryOp::Div, Expr::binary(BinaryOp::Add, x, Expr::u32(d - 1)), Expr::u32(d))
    };
    builder.grid(vec![ceil_div(cols.clone(), 64), ceil_div(rows.clone(), 4)]);
    let grouped = |builder: &mut KernelBuilder, name: &str, param, dtype, inner: u32| {
        let shape = vec![rows.clone(), groups.clone(), Expr::u32(inner)];
        let strides = vec![
            Expr::binary(BinaryOp::Mul, groups.clone(), Expr::u32(inner)),
            Expr::u32(inner),
            Expr::u32(1),
        ];
        builder.view_global(name, param, dtype, shape, strides, Expr::u32(0))
    };
    let w_view = grouped(&mut builder, "w", weights, U4, 32);
    let s_view = grouped(&mut builder, "s", scales, DataType::F16, 1);
    let o_view = grouped(&mut builder, "o", out, DataType::F16, 32);
    let offsets = vec![
        Expr::binary(BinaryOp::Mul, Expr::block_index(1), Expr::u32(4)),
        Expr::binary(BinaryOp::Mul, Expr::block_index(0), Expr::u32(2)),
        Expr::u32(0),
    ];
    let w_layout = layout("spatial(4, 2, 4).local(1, 1, 8)");
    let s_layout = replicated_product(4, "spatial(4, 2, 1)");
    let w_tile = builder.tile("w", U4, w_layout.clone());
    let s_tile = builder.tile("s", DataType::F16, s_layout.clone());
    let (w_f32, s_f32) =
        (builder.tile("wf", DataType::F32, w_layout.clone()), builder.tile("sf", DataType::F32, s_layout));
    let product = builder.tile("product", DataType::F32, w_layout.clone());
    let result = builder.tile("result", DataType::F16, w_layout);
    builder.inst(Inst::LoadGlobal {
        dst: w_tile,
        src: w_view,
        offsets: offsets.clone(),
        dims: vec![0, 1, 2],
    });
    builder.inst(Inst::LoadGlobal {
        dst: s_tile,
        src: s_view,
        offsets: offsets.clone(),
        dims: vec![0, 1, 2],
    });
    builder.inst(Inst::Cast { dst: w_f32, src: w_tile, rounding: Rounding::NearestEven });
    builder.inst(Inst::Cast { dst: s_f32, src: s_tile, rounding: Rounding::NearestEven });
    let operands = vec![Operand::Tile(w_f32), Operand::Tile(s_f32)];
    builder.inst(Inst::Elementwise { dst: product, op: ElementwiseOp::Binary(BinaryOp::Mul), operands });
    builder.inst(Inst::Cast { dst: result, src: product, rounding: Rounding::NearestEven });
    builder.inst(Inst::StoreGlobal { dst: o_view, src: result, offsets, dims: vec![0, 1, 2] });
    builder.finish().unwrap()
}

#[test]
fn dequantize_u4_with_group_scales() {
    let mut random = SplitMix64(2);
    let (rows, cols) = (10usize, 128usize); // 10 rows: the last block of 4 rows is ragged
    let words: Vec<u32> = (0..rows * cols / 8).map(|_| random.next() as u32).collect();
    let scales: Vec<f16> = (0..rows * cols / 32).map(|_| f16::from_f32(random.unit() * 3.0)).collect();
    let mut args = vec![
        KernelArg::Buffer(bytes_of(&words, |w| w.to_le_bytes().to_vec())),
        KernelArg::Buffer(bytes_of(&scales, |s| s.to_le_bytes().to_vec())),
        KernelArg::Buffer(vec![0xff; rows * cols * 2]),
        KernelArg::Scalar(rows as u64),
        KernelArg::Scalar(cols as u64),
    ];
    run_kernel(&dequantize_u4(), &mut args).expect("the kernel runs");
    let expected: Vec<u16> = (0..rows * cols)
        .map(|i| {
            let nibble = (words[i / 8] >> (4 * (i % 8))) & 0xf;
            let scale = scales[(i / cols) * (cols / 32) + (i % cols) / 32];
            f16::from_f32(nibble as f32 * scale.to_f32()).to_bits()
        })
        .collect();
    let got: Vec<u16> = f16_values(buffer(&args, 2)).iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, expected);
}

/// `y[n] = Σ_k W[n, k] x[k]` in f32. A block of 32 threads handles 8 rows; thread (r, s) accumulates the
/// partial sum of row r over the k slice `[s * K/4, (s + 1) * K/4)` eight lanes at a time, the partials go
/// through a [8, 4] shared tile, and after a `sync` four replicas per row reduce them.
fn gemv_f32(k: u32) -> VerifiedKernel {
    let slice = k / 4;
    let mut builder = KernelBuilder::new("gemv_f32", 32);
    let w = builder.global_param("w", DataType::F32, false);
    let x = builder.global_param("x", DataType::F32, false);
    let y = builder.global_param("y", DataType::F32, true);
    let n = builder.scalar_param("n", DataType::U32);
    let ceil_rows =
        Expr::binary(BinaryOp::Div, Expr::binary(BinaryOp::Add, n.clone(), Expr::u32(7)), Expr::u32(8));
    builder.grid(vec![ceil_rows]);
    let w_view = builder.view_global(
        "w",
        w,
        DataType::F32,
        vec![n.clone(), Expr::u32(4), Expr::u32(slice)],
        vec![Expr::u32(k), Expr::u32(slice), Expr::u32(1)],
        Expr::u32(0),
    );
    let x_view = builder.view_global(
        "x",
        x,
        DataType::F32,
        vec![Expr::u32(4), Expr::u32(slice)],
        vec![Expr::u32(slice), Expr::u32(1)],
        Expr::u32(0),
    );
    let y_view = builder.view_global("y", y, DataType::F32, vec![n], vec![Expr::u32(1)], Expr::u32(0));
    let row0 = builder.let_var("row0", Expr::binary(BinaryOp::Mul, Expr::block_index(0), Expr::u32(8)));

    let lanes = layout("spatial(8, 4, 1).local(1, 1, 8)");
    let acc = builder.tile("acc", DataType::F32, lanes.clone());
    let w_tile = builder.tile("w", DataType::F32, lanes);
    let x_tile = builder.tile("x", DataType::F32, replicated_product(8, "spatial(4, 1).local(1, 8)"));
    builder.inst(Inst::AllocRegister { dst: acc, init: Some(Expr::f32(0.0)) });
    builder.for_range("kk", Expr::u32(0), Expr::u32(slice), Expr::u32(8), |builder, kk| {
        let offsets = vec![row0.clone(), Expr::u32(0), kk.clone()];
        builder.inst(Inst::LoadGlobal { dst: w_tile, src: w_view, offsets, dims: vec![0, 1, 2] });
        builder.inst(Inst::LoadGlobal {
            dst: x_tile,
            src: x_view,
            offsets: vec![Expr::u32(0), kk],
            dims: vec![0, 1],
        });
        let operands = vec![Operand::Tile(w_tile), Operand::Tile(x_tile), Operand::Tile(acc)];
        builder.inst(Inst::Elementwise { dst: acc, op: ElementwiseOp::Ternary(TernaryOp::Fma), operands });
    });
    // Each thread sums its own eight lanes, then the four partials of a row meet in shared memory.
    let partial = builder.tile("partial", DataType::F32, layout("spatial(8, 4)"));
    builder.inst(Inst::Reduce { dst: partial, src: acc, dim: 2, op: ReduceOp::Sum });
    let shared_layout = tilevm_vm::layout::SharedLayout::row_major(&[8, 4]).expect("a layout");
    let partials = builder.shared("partials", DataType::F32, shared_layout);
    builder.inst(Inst::AllocShared { dst: partials, init: None });
    builder.inst(Inst::StoreShared {
        dst: partials,
        src: partial,
        offsets: vec![Expr::u32(0), Expr::u32(0)],
    });
    builder.inst(Inst::Sync);
    let row_layout =
        layout("spatial(8, 1)").product(&replicated(&[1, 4], 4).expect("a layout")).expect("a layout");
    let rows = builder.tile("rows", DataType::F32, row_layout);
    builder.inst(Inst::LoadShared { dst: rows, src: partials, offsets: vec![Expr::u32(0), Expr::u32(0)] });
    let y_layout = layout("spatial(8)").product(&replicated(&[1], 4).expect("a layout")).expect("a layout");
    let y_tile = builder.tile("y", DataType::F32, y_layout);
    builder.inst(Inst::Reduce { dst: y_tile, src: rows, dim: 1, op: ReduceOp::Sum });
    builder.inst(Inst::FreeShared { tile: partials });
    builder.inst(Inst::StoreGlobal { dst: y_view, src: y_tile, offsets: vec![row0], dims: vec![0] });
    builder.finish().unwrap()
}

#[test]
fn gemv_with_a_shared_memory_reduction() {
    let mut random = SplitMix64(3);
    let (n, k) = (37usize, 256usize); // 37 rows: the last block of 8 is ragged
    let w: Vec<f32> = (0..n * k).map(|_| random.unit()).collect();
    let x: Vec<f32> = (0..k).map(|_| random.unit()).collect();
    let mut args = vec![
        KernelArg::Buffer(bytes_of(&w, |v| v.to_le_bytes().to_vec())),
        KernelArg::Buffer(bytes_of(&x, |v| v.to_le_bytes().to_vec())),
        KernelArg::Buffer(vec![0xff; n * 4]),
        KernelArg::Scalar(n as u64),
    ];
    run_kernel(&gemv_f32(k as u32), &mut args).expect("the kernel runs");
    let got: Vec<f32> =
        buffer(&args, 2).chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    for (row, &value) in got.iter().enumerate() {
        let exact: f64 = (0..k).map(|i| f64::from(w[row * k + i]) * f64::from(x[i])).sum();
        let magnitude: f64 = (0..k).map(|i| (f64::from(w[row * k + i]) * f64::from(x[i])).abs()).sum();
        let error = (f64::from(value) - exact).abs();
        assert!(error <= 1e-6 * magnitude, "row {row}: got {value}, expected {exact} (error {error:e})");
    }
}
