//! One test per class of run-time error of the reference interpreter, checking the variant and that the
//! message names the kernel, the statement (with its span) and what went wrong.

use tilevm_vm::DataType;
use tilevm_vm::interp::{InterpError, KernelArg, RunOptions, run_kernel, run_kernel_with, run_unverified};
use tilevm_vm::ir::{BinaryOp, Expr, Inst, Kernel, KernelBuilder, SharedId, Span, TileId};
use tilevm_vm::layout::{SharedLayout, parse_register_layout, replicated};

fn shared_layout(shape: &[usize]) -> SharedLayout {
    SharedLayout::row_major(shape).expect("a valid layout")
}

/// A 4-thread kernel with a u32 shared tile `%s0` of 4 elements and a spatial tile `%t0` = iota.
/// Unverified: several of these kernels break rules the verifier checks statically, and the tests are of
/// the interpreter's own run-time defences.
fn with_shared(build: impl FnOnce(&mut KernelBuilder, SharedId, TileId)) -> Kernel {
    let mut builder = KernelBuilder::new("errors", 4);
    let shared = builder.shared("s", DataType::U32, shared_layout(&[4]));
    let tile = builder.tile("t", DataType::U32, parse_register_layout("spatial(4)").expect("a layout"));
    builder.inst(Inst::Iota { dst: tile, dim: 0 });
    builder.set_span(Span { start: 100, end: 120 });
    builder.inst(Inst::AllocShared { dst: shared, init: None });
    build(&mut builder, shared, tile);
    builder.finish_unverified()
}

fn run_err(kernel: &Kernel, args: &mut [KernelArg]) -> InterpError {
    match run_unverified(kernel, args, &mut RunOptions::default()) {
        Ok(()) => panic!("kernel `{}` was expected to fail", kernel.name),
        Err(error) => error,
    }
}

#[test]
fn data_race_names_both_instructions() {
    let kernel = with_shared(|builder, shared, tile| {
        builder.set_span(Span { start: 10, end: 20 });
        builder.inst(Inst::StoreShared { dst: shared, src: tile, offsets: vec![Expr::i32(0)] });
        // Every thread reads every element without a sync: threads 1..4 read what thread 0 wrote.
        let all = builder.tile("all", DataType::U32, replicated(&[4], 4).expect("a layout"));
        builder.set_span(Span { start: 30, end: 40 });
        builder.inst(Inst::LoadShared { dst: all, src: shared, offsets: vec![Expr::i32(0)] });
    });
    let error = run_err(&kernel, &mut []);
    assert!(
        matches!(&error, InterpError::DataRace { tile: SharedId(0), index, .. } if index == &[0]),
        "{error}"
    );
    let message = error.to_string();
    for part in [
        "data race",
        "kernel `errors`",
        "%t1 = load_shared %s0` at 30..40",
        "store_shared %s0 <- %t0` at 10..20",
        "since the last `sync`",
    ] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn out_of_bounds_shared_access() {
    let kernel = with_shared(|builder, shared, tile| {
        builder.set_span(Span { start: 50, end: 60 });
        builder.inst(Inst::StoreShared { dst: shared, src: tile, offsets: vec![Expr::i32(2)] });
    });
    let error = run_err(&kernel, &mut []);
    assert!(
        matches!(&error, InterpError::SharedOutOfBounds { index, shape, .. } if index == &[4] && shape == &[4]),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("index [4] is outside shared tile %s0 of shape [4]") && message.contains("50..60"),
        "{message}"
    );
}

#[test]
fn use_of_a_freed_shared_tile() {
    let kernel = with_shared(|builder, shared, tile| {
        builder.inst(Inst::FreeShared { tile: shared });
        builder.inst(Inst::StoreShared { dst: shared, src: tile, offsets: vec![Expr::i32(0)] });
    });
    let error = run_err(&kernel, &mut []);
    assert!(matches!(error, InterpError::SharedUseAfterFree { tile: SharedId(0), .. }), "{error}");
    assert!(error.to_string().contains("shared tile %s0 is used after it was freed"), "{error}");
}

#[test]
fn shared_free_order_limit_and_uninitialised_reads() {
    let kernel = with_shared(|builder, shared, _| {
        let second = builder.shared("second", DataType::U32, shared_layout(&[2]));
        builder.inst(Inst::AllocShared { dst: second, init: None });
        builder.inst(Inst::FreeShared { tile: shared });
    });
    let error = run_err(&kernel, &mut []);
    assert!(
        error.to_string().contains("freed out of LIFO order (the most recent live allocation is %s1)"),
        "{error}"
    );

    let kernel = with_shared(|builder, _, _| {
        builder.shared_limit_bytes(16);
        let second = builder.shared("second", DataType::U32, shared_layout(&[1]));
        builder.inst(Inst::AllocShared { dst: second, init: None });
    });
    // `shared_limit_bytes` applies to the whole kernel; the first allocation of 16 bytes fits exactly.
    let error = run_err(&kernel, &mut []);
    assert!(matches!(error, InterpError::SharedLimit { needed: 20, limit: 16, .. }), "{error}");

    let kernel = with_shared(|builder, shared, _| {
        let one = builder.tile("one", DataType::U32, replicated(&[1], 4).expect("a layout"));
        builder.inst(Inst::LoadShared { dst: one, src: shared, offsets: vec![Expr::i32(3)] });
    });
    let error = run_err(&kernel, &mut []);
    assert!(matches!(&error, InterpError::SharedUninitialized { index, .. } if index == &[3]), "{error}");
}

#[test]
fn wrong_argument_count() {
    let mut builder = KernelBuilder::new("two_params", 1);
    builder.global_param("x", DataType::F32, false);
    builder.scalar_param("n", DataType::U32);
    let error = run_err(&builder.finish().unwrap(), &mut [KernelArg::Scalar(3)]);
    assert!(matches!(error, InterpError::ArgumentCount { expected: 2, got: 1, .. }), "{error}");
    assert_eq!(error.to_string(), "kernel `two_params` takes 2 arguments, got 1");
}

#[test]
fn failed_assert_reports_message_and_block() {
    let mut builder = KernelBuilder::new("asserting", 1);
    let n = builder.scalar_param("n", DataType::U32);
    builder.grid(vec![n]);
    builder.set_span(Span { start: 5, end: 9 });
    let cond = Expr::binary(BinaryOp::Lt, Expr::block_index(0), Expr::u32(2));
    builder.inst(Inst::Assert { cond, message: "block index below 2".to_string() });
    let kernel = builder.finish().unwrap();
    assert!(run_kernel(&kernel, &mut [KernelArg::Scalar(2)]).is_ok());
    let error = run_err(&kernel, &mut [KernelArg::Scalar(3)]);
    assert!(
        matches!(&error, InterpError::AssertFailed { block: [2, 0, 0], message, .. } if message == "block index below 2"),
        "{error}"
    );
    assert!(error.to_string().contains("at 5..9"), "{error}");
}

#[test]
fn endless_loop_stops_at_the_step_budget() {
    let mut builder = KernelBuilder::new("spin", 1);
    let var = builder.var("i", DataType::U32);
    builder.assign(var, Expr::u32(0));
    builder.set_span(Span { start: 7, end: 30 });
    builder.while_loop(Expr::bool(true), |body| {
        body.assign(var, Expr::binary(BinaryOp::Add, Expr::var(var, DataType::U32), Expr::u32(1)));
    });
    let kernel = builder.finish().unwrap();
    let mut options = RunOptions { max_steps: Some(10_000), ..RunOptions::default() };
    let error =
        run_kernel_with(&kernel, &mut [], &mut options).expect_err("an endless loop must stop with an error");
    assert!(matches!(error, InterpError::StepLimit { limit: 10_000, .. }), "{error:?}");
    assert!(error.to_string().contains("kernel `spin`"), "{error}");
}
