//! Instruction-level tests through `run_kernel`: tiny kernels built with `KernelBuilder`.

use super::*;
use crate::dtype::{DataType, IntType};
use crate::ir::{
    BinaryOp, ElementwiseOp, Expr, Inst, KernelBuilder, Operand, ReduceOp, SharedLayout, TileId,
};
use crate::layout::{RegisterLayout, parse_register_layout};

const U4: DataType = DataType::Int(IntType { signed: false, bits: 4 });

fn layout(text: &str) -> RegisterLayout {
    parse_register_layout(text).expect("a valid layout")
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn u32_values(bytes: &[u8]) -> Vec<u32> {
    bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn buffer(args: &[KernelArg], index: usize) -> &[u8] {
    match &args[index] {
        KernelArg::Buffer(bytes) => bytes,
        KernelArg::Scalar(_) => &[],
    }
}

/// `y[0..8] = x[0..8] * 2` over a view of `n` elements: elements past `n` load 0 and are not stored.
#[test]
fn global_load_and_store_are_masked() {
    let mut builder = KernelBuilder::new("masked", 4);
    let x = builder.global_param("x", DataType::F32, false);
    let y = builder.global_param("y", DataType::F32, true);
    let n = builder.scalar_param("n", DataType::U32);
    let x_view =
        builder.view_global("x", x, DataType::F32, vec![n.clone()], vec![Expr::u32(1)], Expr::u32(0));
    let y_view = builder.view_global("y", y, DataType::F32, vec![n], vec![Expr::u32(1)], Expr::u32(0));
    let tile = builder.tile("t", DataType::F32, layout("spatial(4).local(2)"));
    let out = builder.tile("out", DataType::F32, layout("local(2).spatial(4)"));
    builder.inst(Inst::LoadGlobal { dst: tile, src: x_view, offsets: vec![Expr::i32(0)], dims: vec![0] });
    let double = ElementwiseOp::Binary(BinaryOp::Mul);
    let operands = vec![Operand::Tile(tile), Operand::Scalar(Expr::f32(2.0))];
    builder.inst(Inst::Elementwise { dst: out, op: double, operands });
    builder.inst(Inst::StoreGlobal { dst: y_view, src: out, offsets: vec![Expr::i32(0)], dims: vec![0] });
    let kernel = builder.finish().unwrap();
    let x_values: Vec<f32> = (1..=8).map(|v| v as f32).collect();
    let mut args = vec![
        KernelArg::Buffer(f32_bytes(&x_values)),
        KernelArg::Buffer(f32_bytes(&[-1.0; 8])),
        KernelArg::Scalar(6),
    ];
    run_kernel(&kernel, &mut args).expect("the kernel runs");
    assert_eq!(f32_values(buffer(&args, 1)), [2.0, 4.0, 6.0, 8.0, 10.0, 12.0, -1.0, -1.0]);
}

/// u4 elements are packed eight per 32-bit word, element 0 in the lowest bits; `view` and a u4 global view
/// agree on that order.
#[test]
fn u4_loads_and_views_agree() {
    let mut builder = KernelBuilder::new("nibbles", 1);
    let words = builder.global_param("w", DataType::U32, false);
    let out = builder.global_param("out", DataType::U32, true);
    let as_u4 = builder.view_global("w4", words, U4, vec![Expr::u32(8)], vec![Expr::u32(1)], Expr::u32(0));
    let as_u32 = builder.view_global(
        "w32",
        words,
        DataType::U32,
        vec![Expr::u32(1)],
        vec![Expr::u32(1)],
        Expr::u32(0),
    );
    let out_view =
        builder.view_global("o", out, DataType::U32, vec![Expr::u32(16)], vec![Expr::u32(1)], Expr::u32(0));
    let loaded = builder.tile("loaded", U4, layout("local(8)"));
    let word = builder.tile("word", DataType::U32, layout("local(1)"));
    let viewed = builder.tile("viewed", U4, layout("local(8)"));
    let (wide_loaded, wide_viewed) = (
        builder.tile("a", DataType::U32, layout("local(8)")),
        builder.tile("b", DataType::U32, layout("local(8)")),
    );
    builder.inst(Inst::LoadGlobal { dst: loaded, src: as_u4, offsets: vec![Expr::i32(0)], dims: vec![0] });
    builder.inst(Inst::LoadGlobal { dst: word, src: as_u32, offsets: vec![Expr::i32(0)], dims: vec![0] });
    builder.inst(Inst::View { dst: viewed, src: word });
    for (dst, src, offset) in [(wide_loaded, loaded, 0), (wide_viewed, viewed, 8)] {
        builder.inst(Inst::Cast { dst, src, rounding: crate::ir::Rounding::NearestEven });
        builder.inst(Inst::StoreGlobal {
            dst: out_view,
            src: dst,
            offsets: vec![Expr::i32(offset)],
            dims: vec![0],
        });
    }
    let kernel = builder.finish().unwrap();
    let mut args =
        vec![KernelArg::Buffer(0x8765_4321u32.to_le_bytes().to_vec()), KernelArg::Buffer(vec![0; 64])];
    run_kernel(&kernel, &mut args).expect("the kernel runs");
    let expected: Vec<u32> = (1..=8).chain(1..=8).collect();
    assert_eq!(u32_values(buffer(&args, 1)), expected);
}

/// Scalar control flow and prints: a `for` with a step, `while`, `if` and `break`.
#[test]
fn control_flow_and_prints() {
    let mut builder = KernelBuilder::new("flow", 1);
    let total = builder.var("total", DataType::I32);
    builder.assign(total, Expr::i32(0));
    let total_expr = Expr::var(total, DataType::I32);
    builder.for_range("i", Expr::i32(10), Expr::i32(0), Expr::i32(-3), |builder, i| {
        builder.assign(total, Expr::binary(BinaryOp::Add, total_expr.clone(), i));
    });
    builder.inst(Inst::PrintScalars { label: "for".into(), values: vec![total_expr.clone()] });
    builder.while_loop(Expr::bool(true), |builder| {
        builder.assign(total, Expr::binary(BinaryOp::Mul, total_expr.clone(), Expr::i32(2)));
        let big = Expr::binary(BinaryOp::Gt, total_expr.clone(), Expr::i32(100));
        builder.if_else(big, |builder| builder.break_loop(), |_| {});
    });
    builder.inst(Inst::PrintScalars { label: "while".into(), values: vec![total_expr, Expr::f32(0.5)] });
    let kernel = builder.finish().unwrap();
    let mut lines = Vec::new();
    let mut sink = |line: &str| lines.push(line.to_string());
    let mut options = RunOptions { print: Some(&mut sink), ..RunOptions::default() };
    run_kernel_with(&kernel, &mut [], &mut options).expect("the kernel runs");
    // 10 + 7 + 4 + 1 = 22, then doubled until above 100: 176.
    assert_eq!(lines, ["[block 0, 0, 0] for: 22", "[block 0, 0, 0] while: 176, 0.5"]);
}

/// Every block of a 2-D grid stores `x + 10 * y` at `out[y, x]`; the grid can be overridden.
#[test]
fn grid_from_parameters_and_override() {
    let mut builder = KernelBuilder::new("grid", 1);
    let out = builder.global_param("out", DataType::U32, true);
    let width = builder.scalar_param("width", DataType::U32);
    builder.grid(vec![width.clone(), Expr::u32(2)]);
    let view = builder.view_global(
        "o",
        out,
        DataType::U32,
        vec![Expr::u32(2), width.clone()],
        vec![width, Expr::u32(1)],
        Expr::u32(0),
    );
    let value = Expr::binary(
        BinaryOp::Add,
        Expr::block_index(0),
        Expr::binary(BinaryOp::Mul, Expr::block_index(1), Expr::u32(10)),
    );
    let tile = builder.tile("v", DataType::U32, layout("local(1, 1)"));
    builder.inst(Inst::AllocRegister { dst: tile, init: Some(value) });
    let offsets = vec![Expr::block_index(1), Expr::block_index(0)];
    builder.inst(Inst::StoreGlobal { dst: view, src: tile, offsets, dims: vec![0, 1] });
    let kernel = builder.finish().unwrap();
    let mut args = vec![KernelArg::Buffer(vec![0xff; 24]), KernelArg::Scalar(3)];
    run_kernel(&kernel, &mut args).expect("the kernel runs");
    assert_eq!(u32_values(buffer(&args, 0)), [0, 1, 2, 10, 11, 12]);
    let mut args = vec![KernelArg::Buffer(vec![0xff; 24]), KernelArg::Scalar(3)];
    run_kernel_with(&kernel, &mut args, &mut RunOptions { grid: Some([1, 1, 1]), ..RunOptions::default() })
        .expect("runs");
    assert_eq!(u32_values(buffer(&args, 0)), [0, u32::MAX, u32::MAX, u32::MAX, u32::MAX, u32::MAX]);
}

/// Builds `shared[4] <- spatial tile; (sync); replicated tile <- shared; sum` and returns the result.
fn shared_exchange(with_sync: bool) -> Result<Vec<u32>, InterpError> {
    let mut builder = KernelBuilder::new("exchange", 4);
    let out = builder.global_param("out", DataType::U32, true);
    let view =
        builder.view_global("o", out, DataType::U32, vec![Expr::u32(1)], vec![Expr::u32(1)], Expr::u32(0));
    let shared = builder.shared("s", DataType::U32, SharedLayout::row_major(&[4]).expect("a layout"));
    let spread = builder.tile("spread", DataType::U32, layout("spatial(4)"));
    let everywhere =
        builder.tile("everywhere", DataType::U32, crate::layout::replicated(&[4], 4).expect("a layout"));
    let sum = builder.tile("sum", DataType::U32, crate::layout::replicated(&[1], 4).expect("a layout"));
    builder.inst(Inst::AllocShared { dst: shared, init: None });
    builder.inst(Inst::Iota { dst: spread, dim: 0 });
    builder.inst(Inst::StoreShared { dst: shared, src: spread, offsets: vec![Expr::i32(0)] });
    if with_sync {
        builder.inst(Inst::Sync);
    }
    builder.inst(Inst::LoadShared { dst: everywhere, src: shared, offsets: vec![Expr::i32(0)] });
    builder.inst(Inst::Reduce { dst: sum, src: everywhere, dim: 0, op: ReduceOp::Sum });
    builder.inst(Inst::StoreGlobal { dst: view, src: sum, offsets: vec![Expr::i32(0)], dims: vec![0] });
    builder.inst(Inst::FreeShared { tile: shared });
    let kernel = builder.finish().unwrap();
    let mut args = vec![KernelArg::Buffer(vec![0; 4])];
    run_kernel(&kernel, &mut args)?;
    Ok(u32_values(buffer(&args, 0)))
}

#[test]
fn shared_memory_exchange_needs_a_sync() {
    assert_eq!(shared_exchange(true).expect("no race with a sync"), [6]);
    let error = shared_exchange(false).expect_err("a race without the sync");
    assert!(matches!(error, InterpError::DataRace { .. }), "{error}");
}

/// `copy_async` data is readable only after `copy_wait` and `sync`.
fn async_copy(wait: bool, sync: bool) -> Result<Vec<u32>, InterpError> {
    let mut builder = KernelBuilder::new("copy", 2);
    let input = builder.global_param("in", DataType::U32, false);
    let out = builder.global_param("out", DataType::U32, true);
    let in_view =
        builder.view_global("i", input, DataType::U32, vec![Expr::u32(3)], vec![Expr::u32(1)], Expr::u32(0));
    let out_view =
        builder.view_global("o", out, DataType::U32, vec![Expr::u32(4)], vec![Expr::u32(1)], Expr::u32(0));
    let shared = builder.shared("s", DataType::U32, SharedLayout::row_major(&[4]).expect("a layout"));
    let tile = builder.tile("t", DataType::U32, layout("spatial(2).local(2)"));
    builder.inst(Inst::AllocShared { dst: shared, init: None });
    builder.inst(Inst::CopyGlobalToShared {
        dst: shared,
        src: in_view,
        offsets: vec![Expr::i32(0)],
        dims: vec![0],
    });
    if wait {
        builder.inst(Inst::CopyWait);
    }
    if sync {
        builder.inst(Inst::Sync);
    }
    builder.inst(Inst::LoadShared { dst: tile, src: shared, offsets: vec![Expr::i32(0)] });
    builder.inst(Inst::StoreGlobal { dst: out_view, src: tile, offsets: vec![Expr::i32(0)], dims: vec![0] });
    let kernel = builder.finish().unwrap();
    let words: Vec<u8> = [7u32, 8, 9].iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut args = vec![KernelArg::Buffer(words), KernelArg::Buffer(vec![0xff; 16])];
    run_kernel(&kernel, &mut args)?;
    Ok(u32_values(buffer(&args, 1)))
}

#[test]
fn async_copies_land_after_wait_and_sync() {
    assert_eq!(async_copy(true, true).expect("waited and synced"), [7, 8, 9, 0], "the masked element is 0");
    for (wait, sync) in [(false, true), (true, false), (false, false)] {
        let error = async_copy(wait, sync).expect_err("a race");
        assert!(matches!(error, InterpError::DataRace { .. }), "wait {wait}, sync {sync}: {error}");
    }
}

/// Runs a kernel the verifier would reject, on the interpreter's unverified entry.
fn run_malformed(builder: KernelBuilder, args: &mut [KernelArg]) -> Result<(), InterpError> {
    run_unverified(&builder.finish_unverified(), args, &mut RunOptions::default())
}

#[test]
fn malformed_kernels_are_errors_not_panics() {
    // A layout spanning 8 threads in a 4-thread kernel.
    let mut builder = KernelBuilder::new("threads", 4);
    let tile = builder.tile("t", DataType::U32, layout("spatial(8)"));
    builder.inst(Inst::AllocRegister { dst: tile, init: None });
    let error = run_malformed(builder, &mut []).expect_err("wrong thread count");
    assert!(
        matches!(&error, InterpError::Invalid { message, .. } if message.contains("8 threads")),
        "{error}"
    );

    // A handle out of range, and a tile read before it is defined.
    let mut builder = KernelBuilder::new("handles", 1);
    let tile = builder.tile("t", DataType::U32, layout("local(2)"));
    builder.inst(Inst::Assign { dst: tile, src: TileId(9) });
    let error = run_malformed(builder, &mut []).expect_err("bad handle");
    assert!(error.to_string().contains("no register tile %t9"), "{error}");
    let mut builder = KernelBuilder::new("undefined", 1);
    let (a, b) = (
        builder.tile("a", DataType::U32, layout("local(2)")),
        builder.tile("b", DataType::U32, layout("local(2)")),
    );
    builder.inst(Inst::Assign { dst: a, src: b });
    let error = run_malformed(builder, &mut []).expect_err("undefined tile");
    assert!(error.to_string().contains("read before it is defined"), "{error}");

    // A `for` step of zero.
    let mut builder = KernelBuilder::new("step", 1);
    builder.for_range("i", Expr::i32(0), Expr::i32(4), Expr::i32(0), |_, _| {});
    let error = run_malformed(builder, &mut []).expect_err("zero step");
    assert!(error.to_string().contains("step is 0"), "{error}");

    // A store through a parameter that is not mutable.
    let mut builder = KernelBuilder::new("immutable", 1);
    let x = builder.global_param("x", DataType::U32, false);
    let view =
        builder.view_global("x", x, DataType::U32, vec![Expr::u32(1)], vec![Expr::u32(1)], Expr::u32(0));
    let tile = builder.tile("t", DataType::U32, layout("local(1)"));
    builder.inst(Inst::AllocRegister { dst: tile, init: None });
    builder.inst(Inst::StoreGlobal { dst: view, src: tile, offsets: vec![Expr::i32(0)], dims: vec![0] });
    let error = run_malformed(builder, &mut [KernelArg::Buffer(vec![0; 4])]).expect_err("immutable");
    assert!(error.to_string().contains("not mutable"), "{error}");
}

#[test]
fn argument_kinds_are_checked() {
    let mut builder = KernelBuilder::new("kinds", 1);
    builder.global_param("x", DataType::U32, false);
    builder.scalar_param("n", DataType::U32);
    let kernel = builder.finish().unwrap();
    let error = run_kernel(&kernel, &mut [KernelArg::Scalar(1), KernelArg::Scalar(1)])
        .expect_err("a scalar for a buffer");
    assert!(matches!(&error, InterpError::ArgumentKind { index: 0, expected: "a buffer", .. }), "{error}");
    let error = run_kernel(&kernel, &mut [KernelArg::Buffer(vec![]), KernelArg::Buffer(vec![])])
        .expect_err("a buffer for a scalar");
    assert!(error.to_string().contains("argument 1 (`n`) must be a scalar"), "{error}");
}

#[test]
fn tile_permute_slice_and_broadcast_in_a_kernel() {
    let mut builder = KernelBuilder::new("shapes", 1);
    let out = builder.global_param("out", DataType::I32, true);
    let view =
        builder.view_global("o", out, DataType::I32, vec![Expr::u32(6)], vec![Expr::u32(1)], Expr::u32(0));
    let rows = builder.tile("rows", DataType::I32, layout("local(2, 3)"));
    let columns = builder.tile("columns", DataType::I32, layout("local(3, 2)"));
    let corner = builder.tile("corner", DataType::I32, layout("local(2, 1)"));
    let wide = builder.tile("wide", DataType::I32, layout("local(2, 3)"));
    let flat = builder.tile("flat", DataType::I32, layout("local(6)"));
    builder.inst(Inst::Iota { dst: rows, dim: 1 });
    builder.inst(Inst::Permute { dst: columns, src: rows, dims: vec![1, 0] });
    builder.inst(Inst::Slice { dst: corner, src: columns, offsets: vec![Expr::i32(1), Expr::i32(0)] });
    builder.inst(Inst::Broadcast { dst: wide, src: corner });
    let add = ElementwiseOp::Binary(BinaryOp::Add);
    builder.inst(Inst::Elementwise {
        dst: wide,
        op: add,
        operands: vec![Operand::Tile(wide), Operand::Tile(rows)],
    });
    builder.inst(Inst::View { dst: flat, src: wide });
    builder.inst(Inst::StoreGlobal { dst: view, src: flat, offsets: vec![Expr::i32(0)], dims: vec![0] });
    let kernel = builder.finish().unwrap();
    let mut args = vec![KernelArg::Buffer(vec![0; 24])];
    run_kernel(&kernel, &mut args).expect("the kernel runs");
    // rows = [[0,1,2],[0,1,2]]; columns = rows^T; corner = columns[1..3, 0] = [1, 2]; wide = corner + rows.
    assert_eq!(u32_values(buffer(&args, 0)), [1, 2, 3, 2, 3, 4]);
}
