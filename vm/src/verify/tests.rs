//! One test per class of verifier error, each asserting the message, plus kernels that must pass.

use super::{BlockKind, Location, PathSegment, StmtPath, verify_kernel, verify_module};
use crate::dtype::{DataType, IntType};
use crate::ir::{
    BinaryOp, ElementwiseOp, Expr, Inst, Kernel, KernelBuilder, Module, Operand, ParamId, Rounding,
    SharedLayout, StmtKind, TileId, UnaryOp,
};
use crate::layout::RegisterLayout;

fn local(shape: &[usize]) -> RegisterLayout {
    crate::layout::local(shape).expect("a valid local layout")
}

fn spatial(shape: &[usize]) -> RegisterLayout {
    crate::layout::spatial(shape).expect("a valid spatial layout")
}

fn row_major(shape: &[usize]) -> SharedLayout {
    SharedLayout::row_major(shape).expect("a valid shared layout")
}

const U4: DataType = DataType::Int(IntType { signed: false, bits: 4 });

/// `out[i] = a[i] + b[i]` over 32 f32 elements, one per thread of one block.
fn vector_add(mutable_out: bool) -> Kernel {
    let mut builder = KernelBuilder::new("vector_add", 32);
    builder.grid(vec![Expr::u32(1)]);
    let a = builder.global_param("a", DataType::F32, false);
    let b = builder.global_param("b", DataType::F32, false);
    let out = builder.global_param("out", DataType::F32, mutable_out);
    let layout = spatial(&[32]);
    let [ta, tb, tc] = ["ta", "tb", "tc"].map(|name| builder.tile(name, DataType::F32, layout.clone()));
    let views = [("va", a), ("vb", b), ("vout", out)].map(|(name, param)| {
        builder.view_global(name, param, DataType::F32, vec![Expr::i32(32)], vec![Expr::i32(1)], Expr::i32(0))
    });
    builder.inst(Inst::LoadGlobal { dst: ta, src: views[0], offsets: vec![Expr::i32(0)], dims: vec![0] });
    builder.inst(Inst::LoadGlobal { dst: tb, src: views[1], offsets: vec![Expr::i32(0)], dims: vec![0] });
    builder.inst(Inst::Elementwise {
        dst: tc,
        op: ElementwiseOp::Binary(BinaryOp::Add),
        operands: vec![Operand::Tile(ta), Operand::Tile(tb)],
    });
    builder.inst(Inst::StoreGlobal { dst: views[2], src: tc, offsets: vec![Expr::i32(0)], dims: vec![0] });
    builder.finish_unverified()
}

/// A one-thread kernel with a grid of one block, for building small bad programs.
fn single_thread() -> KernelBuilder {
    let mut builder = KernelBuilder::new("bad", 1);
    builder.grid(vec![Expr::u32(1)]);
    builder
}

#[track_caller]
fn assert_rejects(kernel: &Kernel, needle: &str) {
    match verify_kernel(kernel) {
        Ok(_) => panic!("kernel was accepted, expected an error mentioning {needle:?}"),
        Err(errors) => {
            assert!(errors.mentions(needle), "no error mentions {needle:?}; errors:\n{errors}");
        }
    }
}

#[test]
fn a_well_formed_kernel_passes() {
    assert_eq!(verify_kernel(&vector_add(true)).map(|_| ()), Ok(()));
}

#[test]
fn type_mismatch_in_elementwise() {
    let mut builder = single_thread();
    let layout = local(&[4]);
    let float_tile = builder.tile("x", DataType::F32, layout.clone());
    let int_tile = builder.tile("y", DataType::I32, layout.clone());
    let sum = builder.tile("z", DataType::F32, layout);
    builder.inst(Inst::AllocRegister { dst: float_tile, init: Some(Expr::f32(1.0)) });
    builder.inst(Inst::AllocRegister { dst: int_tile, init: Some(Expr::i32(1)) });
    builder.inst(Inst::Elementwise {
        dst: sum,
        op: ElementwiseOp::Binary(BinaryOp::Add),
        operands: vec![Operand::Tile(float_tile), Operand::Tile(int_tile)],
    });
    assert_rejects(&builder.finish_unverified(), "`add` needs operands of dtype f32, got i32");
}

#[test]
fn type_mismatch_in_scalar_assignment_and_condition() {
    let mut builder = single_thread();
    let var = builder.var("x", DataType::I32);
    builder.assign(var, Expr::f32(2.0));
    builder.if_else(Expr::i32(1), |_| {}, |_| {});
    let kernel = builder.finish_unverified();
    assert_rejects(&kernel, "cannot assign a f32 value to %v0 of dtype i32");
    assert_rejects(&kernel, "condition must be bool, not i32");
}

#[test]
fn storage_dtype_in_arithmetic_says_to_cast() {
    let mut builder = single_thread();
    let layout = local(&[8]);
    let packed = builder.tile("w", U4, layout.clone());
    let doubled = builder.tile("w2", U4, layout);
    builder.inst(Inst::AllocRegister { dst: packed, init: None });
    builder.inst(Inst::Elementwise {
        dst: doubled,
        op: ElementwiseOp::Binary(BinaryOp::Add),
        operands: vec![Operand::Tile(packed), Operand::Tile(packed)],
    });
    let small = Expr::constant(DataType::U8, 3);
    builder.let_var("s", Expr::binary(BinaryOp::Add, small.clone(), small));
    let kernel = builder.finish_unverified();
    assert_rejects(&kernel, "elementwise operand %t0 has storage dtype u4");
    assert_rejects(&kernel, "`cast` it first");
    assert_rejects(&kernel, "scalar expression has storage dtype u8");
}

#[test]
fn dot_shape_mismatch() {
    let mut builder = single_thread();
    let a = builder.tile("a", DataType::F32, local(&[4, 8]));
    let b = builder.tile("b", DataType::F32, local(&[4, 2]));
    let c = builder.tile("c", DataType::F32, local(&[4, 2]));
    for tile in [a, b, c] {
        builder.inst(Inst::AllocRegister { dst: tile, init: Some(Expr::f32(0.0)) });
    }
    builder.inst(Inst::Dot { dst: c, a, b, acc: c });
    assert_rejects(&builder.finish_unverified(), "shape mismatch in dot: %t0 [4, 8] x %t1 [4, 2]");
}

#[test]
fn elementwise_shape_mismatch() {
    let mut builder = single_thread();
    let x = builder.tile("x", DataType::F32, local(&[4, 3]));
    let y = builder.tile("y", DataType::F32, local(&[4, 8]));
    builder.inst(Inst::AllocRegister { dst: x, init: Some(Expr::f32(0.0)) });
    builder.inst(Inst::Elementwise {
        dst: y,
        op: ElementwiseOp::Unary(UnaryOp::Neg),
        operands: vec![Operand::Tile(x)],
    });
    assert_rejects(
        &builder.finish_unverified(),
        "elementwise operand %t0 of shape [4, 3] does not broadcast to %t1",
    );
}

#[test]
fn broadcasting_operands_are_accepted() {
    let mut builder = single_thread();
    let row = builder.tile("row", DataType::F32, local(&[1, 8]));
    let column = builder.tile("column", DataType::F32, local(&[4, 1]));
    let sum = builder.tile("sum", DataType::F32, local(&[4, 8]));
    builder.inst(Inst::AllocRegister { dst: row, init: Some(Expr::f32(1.0)) });
    builder.inst(Inst::AllocRegister { dst: column, init: Some(Expr::f32(2.0)) });
    builder.inst(Inst::Elementwise {
        dst: sum,
        op: ElementwiseOp::Binary(BinaryOp::Add),
        operands: vec![Operand::Tile(row), Operand::Tile(column)],
    });
    assert_eq!(verify_kernel(&builder.finish_unverified()).map(|_| ()), Ok(()));
}

#[test]
fn view_bit_count_mismatch() {
    let mut builder = single_thread();
    let bytes = builder.tile("bytes", DataType::U8, local(&[16]));
    let good = builder.tile("nibbles", U4, local(&[32]));
    let bad = builder.tile("too_many", U4, local(&[40]));
    builder.inst(Inst::AllocRegister { dst: bytes, init: None });
    builder.inst(Inst::View { dst: good, src: bytes });
    builder.inst(Inst::View { dst: bad, src: bytes });
    let errors = verify_kernel(&builder.finish_unverified()).err().unwrap_or_else(|| panic!("view accepted"));
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert!(errors.0[0].message.contains("16 slots x 8 bits = 128 vs 40 slots x 4 bits = 160"), "{errors}");
}

#[test]
fn use_before_definition() {
    let mut builder = single_thread();
    let flag = builder.var("flag", DataType::BOOL);
    let counter = builder.var("counter", DataType::I32);
    let tile = builder.tile("t", DataType::F32, local(&[2]));
    let copy = builder.tile("u", DataType::F32, local(&[2]));
    builder.assign(flag, Expr::bool(true));
    // Defined on one branch only: still undefined after the `if`.
    builder.if_else(
        Expr::var(flag, DataType::BOOL),
        |builder| {
            builder.inst(Inst::AllocRegister { dst: tile, init: None });
            builder.assign(counter, Expr::i32(0));
        },
        |_| {},
    );
    builder.inst(Inst::Assign { dst: copy, src: tile });
    builder.let_var("next", Expr::binary(BinaryOp::Add, Expr::var(counter, DataType::I32), Expr::i32(1)));
    let kernel = builder.finish_unverified();
    assert_rejects(&kernel, "tile %t0 (`t`) may be read before it is defined");
    assert_rejects(&kernel, "variable %v1 (`counter`) may be read before it is defined");
    let errors = verify_kernel(&kernel).err().unwrap_or_else(|| panic!("accepted"));
    let tile_error = errors.0.iter().find(|error| error.message.contains("%t0")).unwrap_or_else(|| panic!());
    let expected_path = StmtPath(vec![PathSegment { block: BlockKind::Body, index: 2 }]);
    assert_eq!(tile_error.location, Location::Stmt { path: expected_path, span: Default::default() });
    assert!(tile_error.to_string().starts_with("kernel `bad`, body[2]: tile %t0"), "{tile_error}");
}

#[test]
fn definitions_on_both_branches_count() {
    let mut builder = single_thread();
    let value = builder.var("value", DataType::I32);
    builder.if_else(
        Expr::bool(true),
        |builder| builder.assign(value, Expr::i32(1)),
        |builder| builder.assign(value, Expr::i32(2)),
    );
    builder.let_var("copy", Expr::var(value, DataType::I32));
    assert_eq!(verify_kernel(&builder.finish_unverified()).map(|_| ()), Ok(()));
}

#[test]
fn wrong_thread_count_for_a_layout() {
    let mut builder = KernelBuilder::new("threads", 32);
    builder.grid(vec![Expr::u32(1)]);
    builder.tile("t", DataType::F32, spatial(&[64]));
    let errors = verify_kernel(&builder.finish_unverified()).err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!(errors.0[0].location, Location::Tile(TileId(0)));
    assert!(errors.mentions("the layout of `t` spans 64 threads but the kernel has 32 threads per block"));
}

#[test]
fn shared_tile_over_the_limit() {
    let mut builder = single_thread();
    builder.shared_limit_bytes(1024);
    let small = builder.shared("small", DataType::F32, row_major(&[128]));
    let large = builder.shared("large", DataType::F32, row_major(&[256]));
    builder.inst(Inst::AllocShared { dst: small, init: None });
    builder.inst(Inst::AllocShared { dst: large, init: None });
    builder.inst(Inst::FreeShared { tile: large });
    builder.inst(Inst::FreeShared { tile: small });
    assert_rejects(
        &builder.finish_unverified(),
        "allocating shared tile %s1 (1024 bytes) brings live shared memory to 1536 bytes, over the kernel's limit \
         of 1024 bytes",
    );
}

#[test]
fn shared_tiles_are_freed_lifo_and_not_used_after_free() {
    let mut builder = single_thread();
    let first = builder.shared("first", DataType::F32, row_major(&[4]));
    let second = builder.shared("second", DataType::F32, row_major(&[4]));
    let tile = builder.tile("t", DataType::F32, local(&[4]));
    builder.inst(Inst::AllocShared { dst: first, init: Some(Expr::f32(0.0)) });
    builder.inst(Inst::AllocShared { dst: second, init: None });
    builder.inst(Inst::FreeShared { tile: first });
    builder.inst(Inst::FreeShared { tile: second });
    builder.inst(Inst::FreeShared { tile: first });
    builder.inst(Inst::LoadShared { dst: tile, src: first, offsets: vec![Expr::i32(0)] });
    let kernel = builder.finish_unverified();
    assert_rejects(&kernel, "shared tile %s0 is freed out of order: %s1 was allocated after it");
    assert_rejects(&kernel, "shared tile %s0 (`first`) is used after it was freed");
}

#[test]
fn store_to_an_immutable_parameter() {
    assert_rejects(
        &vector_add(false),
        "store to view %g2 over %p2 (`out`), which is not a mutable parameter",
    );
}

#[test]
fn break_outside_a_loop() {
    let mut builder = single_thread();
    builder.for_range("i", Expr::i32(0), Expr::i32(4), Expr::i32(1), |builder, _| builder.break_loop());
    builder.break_loop();
    let errors = verify_kernel(&builder.finish_unverified()).err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert!(errors.mentions("`break` outside a loop"));
}

#[test]
fn bad_handles_are_reported_and_stop_later_checks() {
    let mut kernel = vector_add(true);
    if let StmtKind::Inst(Inst::Elementwise { operands, .. }) = &mut kernel.body[5].kind {
        operands[1] = Operand::Tile(TileId(17));
    }
    kernel.globals[0].param = ParamId(9);
    let errors = verify_kernel(&kernel).err().unwrap_or_else(|| panic!("accepted"));
    assert!(errors.mentions("tile %t17 does not exist (3 declared)"), "{errors}");
    assert!(errors.mentions("global view refers to missing parameter %p9"), "{errors}");
    assert_eq!(errors.0.len(), 2, "{errors}");
}

#[test]
fn duplicate_kernel_names_in_a_module() {
    let module = Module { kernels: vec![vector_add(true), vector_add(true)] };
    let errors = verify_module(&module).err().unwrap_or_else(|| panic!("accepted"));
    assert!(errors.mentions("a kernel named `vector_add` is already defined"));
}

#[test]
fn cast_keeps_shape() {
    let mut builder = single_thread();
    let source = builder.tile("s", DataType::F32, local(&[4]));
    let target = builder.tile("d", DataType::F16, local(&[8]));
    builder.inst(Inst::AllocRegister { dst: source, init: None });
    builder.inst(Inst::Cast { dst: target, src: source, rounding: Rounding::NearestEven });
    assert_rejects(&builder.finish_unverified(), "shape mismatch: %t1 is [8] but %t0 is [4]");
}

#[test]
fn a_scalar_default_must_fit_its_dtype() {
    let mut builder = single_thread();
    builder.scalar_param_with_default("x", DataType::F16, Some(0x1_0000));
    assert_rejects(&builder.finish_unverified(), "the default 0x10000 of `x` has bits above its dtype's 16");
    let mut builder = single_thread();
    builder.scalar_param_with_default("x", DataType::F16, Some(0xffff));
    assert_eq!(verify_kernel(&builder.finish_unverified()).map(|_| ()), Ok(()));
}
