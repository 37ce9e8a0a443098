//! The corpus is deterministic, complete, and every case verifies.

use std::collections::BTreeSet;

use super::{CorpusCase, generate_corpus};
use crate::interp::KernelArg;
use crate::ir::{Inst, ParamKind, StmtKind};
use crate::verify::{dtype_name, verify_kernel};

#[test]
fn every_case_verifies() {
    let cases = generate_corpus(7, 300);
    assert_eq!(cases.len(), 300, "some template failed to build a case");
    for case in &cases {
        if let Err(errors) = verify_kernel(&case.kernel) {
            panic!("case {} does not verify:\n{errors}", case.name);
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_cases() {
    assert_eq!(generate_corpus(42, 40), generate_corpus(42, 40));
    assert_ne!(generate_corpus(42, 40), generate_corpus(43, 40));
}

#[test]
fn cases_are_small_and_arguments_match_parameters() {
    for case in generate_corpus(3, 200) {
        let kernel = &case.kernel;
        assert!(kernel.tiles.iter().all(|tile| tile.layout.shape().iter().product::<usize>() <= 1024));
        let blocks: u64 = kernel
            .grid
            .iter()
            .map(|expr| match expr.kind {
                crate::ir::ExprKind::Const(code) => code,
                _ => u64::MAX,
            })
            .product();
        assert!(blocks <= 8, "{}: {blocks} blocks", case.name);
        assert_eq!(case.args.len(), kernel.params.len());
        assert!(!case.outputs.is_empty());
        for &output in &case.outputs {
            assert!(matches!(kernel.params[output].kind, ParamKind::Global { mutable: true, .. }));
            assert!(matches!(case.args[output], KernelArg::Buffer(_)));
        }
    }
}

#[test]
fn the_corpus_covers_every_width_and_instruction() {
    let cases = generate_corpus(11, 400);
    let mut dtypes = BTreeSet::new();
    let mut instructions = BTreeSet::new();
    let mut threads = BTreeSet::new();
    for CorpusCase { kernel, .. } in &cases {
        threads.insert(kernel.num_threads);
        dtypes.extend(kernel.tiles.iter().map(|tile| dtype_name(tile.dtype)));
        crate::verify::walk_stmts(&kernel.body, &mut |stmt, _| match &stmt.kind {
            StmtKind::Inst(inst) => {
                let name = format!("{inst:?}");
                instructions.insert(name.split([' ', '{']).next().unwrap_or_default().to_string());
            }
            other => {
                let name = format!("{other:?}");
                instructions.insert(name.split([' ', '{']).next().unwrap_or_default().to_string());
            }
        });
    }
    let mut wanted: Vec<String> = (1..=8).map(|bits| format!("u{bits}")).collect();
    wanted.extend((2..=8).map(|bits| format!("i{bits}")));
    wanted.extend(
        ["f4e2m1fn", "f6e2m3fn", "f6e3m2fn", "f8e4m3fn", "f8e5m2", "f8e4m3fnuz", "f8e8m0fnu", "f16", "bf16"]
            .map(String::from),
    );
    wanted.extend(["f32", "i32", "u32", "bool"].map(String::from));
    for dtype in &wanted {
        assert!(dtypes.contains(dtype), "no tile of dtype {dtype}; seen {dtypes:?}");
    }
    for inst in [
        "AllocRegister",
        "AllocShared",
        "FreeShared",
        "ViewGlobal",
        "LoadGlobal",
        "StoreGlobal",
        "LoadShared",
        "StoreShared",
        "CopyGlobalToShared",
        "CopyWait",
        "Sync",
        "View",
        "Cast",
        "Elementwise",
        "Iota",
        "Dot",
        "Reduce",
        "Permute",
        "Broadcast",
        "Slice",
        "For",
        "While",
        "If",
        "Break",
        "Assign",
    ] {
        assert!(instructions.contains(inst), "no {inst} in the corpus; seen {instructions:?}");
    }
    assert_eq!(threads, BTreeSet::from([1, 32, 64]));
}

#[test]
fn views_between_widths_keep_bits_per_thread() {
    let mut views = 0;
    let mut scattered = 0;
    for case in generate_corpus(5, 90) {
        crate::verify::walk_stmts(&case.kernel.body, &mut |stmt, _| {
            if let StmtKind::Inst(Inst::View { dst, src }) = &stmt.kind {
                let (from, to) = (case.kernel.tile(*src), case.kernel.tile(*dst));
                assert_ne!(from.dtype, to.dtype);
                views += 1;
                // Thread 0's last slot on another row than its first: the slots are not consecutive in
                // row-major order, which takes backends off their thread-major paths.
                let last_slot = from.layout.map(0, from.layout.local_size() - 1).ok();
                scattered += usize::from(last_slot.is_some_and(|index| index[0] != 0));
            }
        });
    }
    assert!(views >= 5);
    assert!(scattered >= 1, "no view between layouts whose slots are spread over rows");
}
