//! WGSL generation tests: representative kernels are translated and validated by naga (no GPU needed).

use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{
    BinaryOp, ElementwiseOp, Expr, Inst, KernelBuilder, Operand, ReduceOp, RegisterLayout, Rounding,
    SharedLayout,
};

use tilevm_vm::layout::spatial;

use super::{Error, GpuCaps, compile};

fn vector_add(dtype: DataType) -> tilevm_vm::verify::VerifiedKernel {
    let mut builder = KernelBuilder::new("vector_add", 64);
    let n = builder.scalar_param("n", DataType::I32);
    let a = builder.global_param("a", dtype, false);
    let b = builder.global_param("b", dtype, false);
    let c = builder.global_param("c", dtype, true);
    builder.grid(vec![Expr::binary(
        BinaryOp::Div,
        Expr::binary(BinaryOp::Add, n.clone(), Expr::i32(255)),
        Expr::i32(256),
    )]);
    let layout = RegisterLayout::new(vec![256], vec![64, 4], vec![0], vec![1]).expect("layout");
    let views: Vec<_> = [("a", a), ("b", b), ("c", c)]
        .into_iter()
        .map(|(name, param)| {
            builder.view_global(name, param, dtype, vec![n.clone()], vec![Expr::i32(1)], Expr::i32(0))
        })
        .collect();
    let offset = builder.let_var(
        "offset",
        Expr::binary(BinaryOp::Mul, Expr::block_index(0).cast(DataType::I32), Expr::i32(256)),
    );
    let ta = builder.tile("ta", dtype, layout.clone());
    let tb = builder.tile("tb", dtype, layout.clone());
    let tc = builder.tile("tc", dtype, layout);
    builder.inst(Inst::LoadGlobal { dst: ta, src: views[0], offsets: vec![offset.clone()], dims: vec![0] });
    builder.inst(Inst::LoadGlobal { dst: tb, src: views[1], offsets: vec![offset.clone()], dims: vec![0] });
    builder.inst(Inst::Elementwise {
        dst: tc,
        op: ElementwiseOp::Binary(BinaryOp::Add),
        operands: vec![Operand::Tile(ta), Operand::Tile(tb)],
    });
    builder.inst(Inst::StoreGlobal { dst: views[2], src: tc, offsets: vec![offset], dims: vec![0] });
    builder.finish().unwrap()
}

#[test]
fn vector_add_validates_for_every_compute_float() {
    for dtype in [DataType::F32, DataType::F16, DataType::BF16, DataType::I32] {
        let source = compile(&vector_add(dtype), &GpuCaps::default()).map(|kernel| kernel.source);
        assert!(source.is_ok(), "{dtype}: {}", source.err().map(|e| e.to_string()).unwrap_or_default());
    }
}

#[test]
fn casts_between_all_families_validate() {
    let e4m3 = DataType::Float(tilevm_vm::dtype::FloatType {
        exponent_bits: 4,
        mantissa_bits: 3,
        bias: 7,
        signed: true,
        nan: tilevm_vm::dtype::NanEncoding::Fn,
    });
    let e8m0 = DataType::Float(tilevm_vm::dtype::FloatType {
        exponent_bits: 8,
        mantissa_bits: 0,
        bias: 127,
        signed: false,
        nan: tilevm_vm::dtype::NanEncoding::Fn,
    });
    let u4 = DataType::Int(tilevm_vm::dtype::IntType { signed: false, bits: 4 });
    let i3 = DataType::Int(tilevm_vm::dtype::IntType { signed: true, bits: 3 });
    let types = [
        e4m3,
        e8m0,
        u4,
        i3,
        DataType::F32,
        DataType::F16,
        DataType::BF16,
        DataType::I32,
        DataType::U32,
        DataType::BOOL,
    ];
    let mut builder = KernelBuilder::new("casts", 32);
    let layout = spatial(&[32]).expect("layout");
    let tiles: Vec<_> = types.iter().map(|&dtype| builder.tile("t", dtype, layout.clone())).collect();
    // Every tile defined first, so that each cast reads a defined tile.
    for &tile in &tiles {
        builder.inst(Inst::AllocRegister { dst: tile, init: None });
    }
    builder.inst(Inst::AllocRegister { dst: tiles[4], init: Some(Expr::f32(1.5)) });
    for (i, &from) in tiles.iter().enumerate() {
        for (j, &to) in tiles.iter().enumerate() {
            if i != j {
                builder.inst(Inst::Cast { dst: to, src: from, rounding: Rounding::NearestEven });
                builder.inst(Inst::Cast { dst: to, src: from, rounding: Rounding::TowardZero });
            }
        }
    }
    let result = compile(&builder.finish().unwrap(), &GpuCaps::default());
    assert!(result.is_ok(), "{}", result.err().map(|e| e.to_string()).unwrap_or_default());
}

#[test]
fn shared_round_trip_reduce_and_dot_validate() {
    let mut builder = KernelBuilder::new("mixed", 32);
    let out = builder.global_param("out", DataType::F32, true);
    let view = builder.view_global(
        "out",
        out,
        DataType::F32,
        vec![Expr::i32(8), Expr::i32(8)],
        vec![Expr::i32(8), Expr::i32(1)],
        Expr::i32(0),
    );
    let tiled = RegisterLayout::new(vec![8, 8], vec![8, 4, 2], vec![0, 1], vec![2]).expect("layout");
    let index = builder.tile("index", DataType::I32, tiled.clone());
    let a = builder.tile("a", DataType::F32, tiled.clone());
    let b = builder.tile("b", DataType::F32, tiled.clone());
    let shared = builder.shared("s", DataType::F16, SharedLayout::row_major(&[8, 8]).expect("layout"));
    let half = builder.tile("h", DataType::F16, tiled.clone());
    let row = builder.tile("row", DataType::F32, tiled.reduce(&[1], false).expect("layout"));
    let c = builder.tile("c", DataType::F32, tiled.clone());
    builder.inst(Inst::Iota { dst: index, dim: 1 });
    builder.inst(Inst::Cast { dst: a, src: index, rounding: Rounding::NearestEven });
    builder.inst(Inst::AllocRegister { dst: b, init: Some(Expr::f32(0.5)) });
    builder.inst(Inst::AllocShared { dst: shared, init: None });
    builder.inst(Inst::Cast { dst: half, src: a, rounding: Rounding::NearestEven });
    builder.inst(Inst::StoreShared { dst: shared, src: half, offsets: vec![Expr::i32(0), Expr::i32(0)] });
    builder.inst(Inst::Sync);
    builder.inst(Inst::LoadShared { dst: half, src: shared, offsets: vec![Expr::i32(0), Expr::i32(0)] });
    builder.inst(Inst::FreeShared { tile: shared });
    builder.inst(Inst::Reduce { dst: row, src: a, dim: 1, op: ReduceOp::Max });
    builder.inst(Inst::Dot { dst: c, a, b, acc: a });
    builder.inst(Inst::StoreGlobal {
        dst: view,
        src: c,
        offsets: vec![Expr::i32(0), Expr::i32(0)],
        dims: vec![0, 1],
    });
    let result = compile(&builder.finish().unwrap(), &GpuCaps::default());
    assert!(result.is_ok(), "{}", result.err().map(|e| e.to_string()).unwrap_or_default());
}

#[test]
fn sixty_four_bit_arithmetic_is_unsupported() {
    let mut builder = KernelBuilder::new("wide", 32);
    builder.let_var(
        "x",
        Expr::binary(BinaryOp::Add, Expr::constant(DataType::I64, 1), Expr::constant(DataType::I64, 2)),
    );
    match compile(&builder.finish().unwrap(), &GpuCaps::default()) {
        Err(Error::Unsupported { kernel, what }) => {
            assert_eq!(kernel, "wide");
            assert!(what.contains("64-bit"), "{what}");
            // The dtype is named as the language writes it, not as Rust's Debug prints it.
            assert!(what.contains("i64 ") && !what.contains("Int("), "{what}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn too_many_threads_is_a_limit() {
    let builder = KernelBuilder::new("huge", 4096);
    assert!(matches!(compile(&builder.finish().unwrap(), &GpuCaps::default()), Err(Error::Limit { .. })));
}

#[test]
fn invalid_wgsl_names_the_kernel_and_numbers_lines() {
    let error = super::validate("broken", "fn main( {", &GpuCaps::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("kernel `broken`"), "{error}");
    assert!(error.contains("    1 | fn main( {"), "{error}");
}

#[test]
fn stochastic_key_folds_the_seed_steps_of_stochastic_bits() {
    use super::codec::{pcg_hash, stochastic_key};
    use tilevm_vm::dtype::stochastic_bits;
    for seed in [0u64, 1, 42, 0x0123_4567_89ab_cdef, u64::MAX] {
        let key = stochastic_key(seed);
        for index in [0u64, 1, 2, 255, 4096, 0xdead_beef, u64::from(u32::MAX)] {
            assert_eq!(
                pcg_hash(key ^ index as u32),
                stochastic_bits(seed, index),
                "seed {seed} index {index}"
            );
        }
    }
}
