//! The verifier never panics: it runs on corpus kernels mutated at random (handles swapped, dtypes
//! changed, statements dropped) and must answer, deterministically, every time.

use proptest::prelude::*;
use tilevm_vm::DataType;
use tilevm_vm::corpus::generate_corpus;
use tilevm_vm::dtype::IntType;
use tilevm_vm::ir::{
    Expr, ExprKind, GlobalId, Inst, Kernel, Operand, ParamId, SharedId, Stmt, StmtKind, TileId, VarId,
};
use tilevm_vm::verify::verify_kernel;

const DTYPES: [DataType; 8] = [
    DataType::F32,
    DataType::F16,
    DataType::I32,
    DataType::U32,
    DataType::BOOL,
    DataType::U8,
    DataType::Int(IntType { signed: true, bits: 4 }),
    DataType::I64,
];

/// Calls `visit(block, index)` on the `n`-th statement (pre-order, every nesting level, wrapping around).
fn with_nth(body: &mut Vec<Stmt>, n: usize, visit: &mut impl FnMut(&mut Vec<Stmt>, usize)) {
    let total = count(body);
    if total > 0 {
        let mut remaining = n % total;
        find(body, &mut remaining, visit);
    }
}

fn count(block: &[Stmt]) -> usize {
    block.iter().map(|stmt| 1 + nested(stmt).iter().map(|inner| count(inner)).sum::<usize>()).sum()
}

fn nested(stmt: &Stmt) -> Vec<&Vec<Stmt>> {
    match &stmt.kind {
        StmtKind::For { body, .. } | StmtKind::While { body, .. } => vec![body],
        StmtKind::If { then_body, else_body, .. } => vec![then_body, else_body],
        _ => Vec::new(),
    }
}

fn find(block: &mut Vec<Stmt>, remaining: &mut usize, visit: &mut impl FnMut(&mut Vec<Stmt>, usize)) -> bool {
    for index in 0..block.len() {
        if *remaining == 0 {
            visit(block, index);
            return true;
        }
        *remaining -= 1;
        let found = match &mut block[index].kind {
            StmtKind::For { body, .. } | StmtKind::While { body, .. } => find(body, remaining, visit),
            StmtKind::If { then_body, else_body, .. } => {
                find(then_body, remaining, visit) || find(else_body, remaining, visit)
            }
            _ => false,
        };
        if found {
            return true;
        }
    }
    false
}

/// Applies mutation `kind` with random choice `choice` to the kernel.
fn mutate(kernel: &mut Kernel, kind: u8, choice: usize) {
    let tiles = kernel.tiles.len() as u32 + 2;
    match kind % 6 {
        0 => {
            with_nth(&mut kernel.body, choice, &mut |block, index| {
                if let StmtKind::Inst(inst) = &mut block[index].kind {
                    swap_tiles(inst, TileId((choice as u32 / 7) % tiles));
                }
            });
        }
        1 => {
            let count = kernel.tiles.len().max(1);
            if let Some(tile) = kernel.tiles.get_mut(choice % count) {
                tile.dtype = DTYPES[choice / 3 % DTYPES.len()];
            }
        }
        2 => {
            with_nth(&mut kernel.body, choice, &mut |block, index| {
                block.remove(index);
            });
        }
        3 => {
            let count = kernel.vars.len().max(1);
            if let Some(var) = kernel.vars.get_mut(choice % count) {
                var.dtype = DTYPES[choice / 5 % DTYPES.len()];
            }
        }
        4 => {
            let count = kernel.globals.len().max(1);
            if let Some(global) = kernel.globals.get_mut(choice % count) {
                global.param = ParamId((choice / 11) as u32 % (kernel.params.len() as u32 + 1));
            }
        }
        _ => {
            with_nth(&mut kernel.body, choice, &mut |block, index| {
                mutate_stmt_exprs(&mut block[index].kind, choice)
            });
        }
    }
}

fn swap_tiles(inst: &mut Inst, replacement: TileId) {
    match inst {
        Inst::Elementwise { operands, .. } => {
            for operand in operands {
                if let Operand::Tile(tile) = operand {
                    *tile = replacement;
                }
            }
        }
        Inst::LoadGlobal { dst, src, .. } => {
            *dst = replacement;
            *src = GlobalId(replacement.0);
        }
        Inst::StoreGlobal { src, .. } | Inst::View { src, .. } | Inst::Cast { src, .. } => *src = replacement,
        Inst::Dot { a, .. } => *a = replacement,
        Inst::Reduce { dst, .. } | Inst::Iota { dst, .. } | Inst::Permute { dst, .. } => *dst = replacement,
        Inst::AllocShared { dst, .. } => *dst = SharedId(replacement.0),
        Inst::FreeShared { tile } => *tile = SharedId(replacement.0 + 1),
        _ => {}
    }
}

fn mutate_stmt_exprs(kind: &mut StmtKind, choice: usize) {
    let dtype = DTYPES[choice % DTYPES.len()];
    let expr: Option<&mut Expr> = match kind {
        StmtKind::Assign { value, .. } => Some(value),
        StmtKind::For { start, .. } => Some(start),
        StmtKind::While { cond, .. } | StmtKind::If { cond, .. } => Some(cond),
        StmtKind::Inst(Inst::LoadGlobal { offsets, .. }) => offsets.first_mut(),
        StmtKind::Inst(Inst::ViewGlobal { shape, .. }) => {
            shape.pop();
            None
        }
        _ => None,
    };
    if let Some(expr) = expr {
        expr.dtype = dtype;
        if choice.is_multiple_of(2) {
            expr.kind = ExprKind::Var(VarId(choice as u32 % 9));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_verifier_never_panics_on_mutated_kernels(
        seed in any::<u64>(),
        mutations in proptest::collection::vec((any::<u8>(), any::<usize>()), 1..4),
    ) {
        let cases = generate_corpus(seed, 9);
        for case in cases {
            let mut kernel = case.kernel.into_kernel();
            prop_assert!(verify_kernel(&kernel).is_ok(), "unmutated case {} fails", case.name);
            for &(kind, choice) in &mutations {
                mutate(&mut kernel, kind, choice);
            }
            let first = verify_kernel(&kernel);
            prop_assert_eq!(&first, &verify_kernel(&kernel));
            if let Err(errors) = first {
                prop_assert!(!errors.0.is_empty());
                prop_assert!(errors.0.iter().all(|error| error.kernel == kernel.name && !error.message.is_empty()));
            }
        }
    }
}

#[test]
fn an_out_of_range_tile_is_caught_in_a_corpus_kernel() {
    let mut kernel = generate_corpus(1, 1).remove(0).kernel.into_kernel();
    let missing = TileId(kernel.tiles.len() as u32 + 5);
    let position = kernel.body.iter().position(|stmt| matches!(stmt.kind, StmtKind::Inst(Inst::Cast { .. })));
    let position = position.unwrap_or_else(|| panic!("the first corpus case is a cast chain"));
    if let StmtKind::Inst(inst) = &mut kernel.body[position].kind {
        swap_tiles(inst, missing);
    }
    let errors = verify_kernel(&kernel).err().unwrap_or_else(|| panic!("accepted"));
    assert!(errors.mentions(&format!("tile {missing} does not exist")), "{errors}");
}
