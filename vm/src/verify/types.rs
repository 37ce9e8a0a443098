//! Type checks: expression dtypes agree with their operators, arithmetic uses compute dtypes only, and
//! every instruction follows the typing rules written on [`Inst`].

use super::names::operator_name;
use super::uses::{stmt_exprs, walk_expr};
use super::{Location, Report, dtype_name, stmt_location, walk_stmts};
use crate::dtype::DataType;
use crate::ir::{
    BinaryOp, ElementwiseOp, Expr, ExprKind, Inst, Kernel, Operand, ReduceOp, StmtKind, TernaryOp, TileId,
    UnaryOp,
};

/// The compute dtypes, for messages.
const COMPUTE_DTYPES: &str = "bool, i32, u32, i64, u64, f32, f16, bf16";

/// Records every type error of `report`'s kernel.
pub(crate) fn check(report: &mut Report<'_>) {
    let kernel = report.kernel;
    for (index, var) in kernel.vars.iter().enumerate() {
        if !var.dtype.is_compute() {
            report.error(
                Location::Var(crate::ir::VarId(index as u32)),
                format!(
                    "variable `{}` has storage dtype {}; scalar variables need a compute dtype ({COMPUTE_DTYPES})",
                    var.name,
                    dtype_name(var.dtype)
                ),
            );
        }
    }
    if kernel.grid.is_empty() || kernel.grid.len() > 3 {
        report.error(
            Location::Kernel,
            format!("the grid has {} axes; it needs one to three", kernel.grid.len()),
        );
    }
    for (axis, expr) in kernel.grid.iter().enumerate() {
        let mut problems = Vec::new();
        check_expr(kernel, expr, &mut problems);
        if expr.dtype != DataType::U32 && expr.dtype != DataType::I32 {
            problems.push(format!("a grid size must be u32 or i32, not {}", dtype_name(expr.dtype)));
        }
        for problem in problems {
            report.error(Location::Grid(axis), problem);
        }
    }
    walk_stmts(&kernel.body, &mut |stmt, path| {
        let mut problems = Vec::new();
        for expr in stmt_exprs(&stmt.kind) {
            check_expr(kernel, expr, &mut problems);
        }
        check_stmt(kernel, &stmt.kind, &mut problems);
        for problem in problems {
            report.error(stmt_location(path, stmt), problem);
        }
    });
}

fn check_stmt(kernel: &Kernel, kind: &StmtKind, problems: &mut Vec<String>) {
    match kind {
        StmtKind::Assign { var, value } => {
            let declared = kernel.var(*var).dtype;
            if value.dtype != declared {
                problems.push(format!(
                    "cannot assign a {} value to {var} of dtype {}",
                    dtype_name(value.dtype),
                    dtype_name(declared)
                ));
            }
        }
        StmtKind::For { var, start, end, step, .. } => {
            let declared = kernel.var(*var).dtype;
            if !is_index(declared) {
                problems.push(format!(
                    "loop variable {var} has dtype {}; it must be i32, u32, i64 or u64",
                    dtype_name(declared)
                ));
            }
            for (role, expr) in [("start", start), ("end", end), ("step", step)] {
                if expr.dtype != declared {
                    problems.push(format!(
                        "loop {role} has dtype {} but loop variable {var} is {}",
                        dtype_name(expr.dtype),
                        dtype_name(declared)
                    ));
                }
            }
        }
        StmtKind::While { cond, .. } | StmtKind::If { cond, .. } => expect_bool("condition", cond, problems),
        StmtKind::Break => {}
        StmtKind::Inst(inst) => check_inst(kernel, inst, problems),
    }
}

fn check_inst(kernel: &Kernel, inst: &Inst, problems: &mut Vec<String>) {
    let tile_dtype = |tile: TileId| kernel.tile(tile).dtype;
    match inst {
        Inst::AllocRegister { dst, init: Some(init) } => {
            expect_same(&format!("initial value of {dst}"), init.dtype, tile_dtype(*dst), problems)
        }
        Inst::AllocShared { dst, init: Some(init) } => expect_same(
            &format!("initial value of {dst}"),
            init.dtype,
            kernel.shared_tile(*dst).dtype,
            problems,
        ),
        Inst::AllocRegister { init: None, .. } | Inst::AllocShared { init: None, .. } => {}
        Inst::FreeShared { .. } | Inst::CopyWait | Inst::Sync | Inst::View { .. } | Inst::Cast { .. } => {}
        Inst::ViewGlobal { shape, strides, offset, .. } => {
            for expr in shape.iter().chain(strides).chain(std::iter::once(offset)) {
                expect_index("view shapes, strides and offsets", expr, problems);
            }
        }
        Inst::LoadGlobal { dst: tile, src: global, offsets, .. }
        | Inst::StoreGlobal { dst: global, src: tile, offsets, .. } => {
            let view = kernel.global(*global).dtype;
            expect_same(
                &format!("tile {tile} moved to or from view {global}"),
                tile_dtype(*tile),
                view,
                problems,
            );
            offsets.iter().for_each(|expr| expect_index("offsets", expr, problems));
        }
        Inst::LoadShared { dst: tile, src: shared, offsets }
        | Inst::StoreShared { dst: shared, src: tile, offsets } => {
            let stored = kernel.shared_tile(*shared).dtype;
            expect_same(
                &format!("tile {tile} moved to or from shared tile {shared}"),
                tile_dtype(*tile),
                stored,
                problems,
            );
            offsets.iter().for_each(|expr| expect_index("offsets", expr, problems));
        }
        Inst::CopyGlobalToShared { dst, src, offsets, .. } => {
            let view = kernel.global(*src).dtype;
            let stored = kernel.shared_tile(*dst).dtype;
            expect_same(&format!("shared tile {dst} copied from view {src}"), stored, view, problems);
            offsets.iter().for_each(|expr| expect_index("offsets", expr, problems));
        }
        Inst::Elementwise { dst, op, operands } => check_elementwise(kernel, *dst, *op, operands, problems),
        Inst::Iota { dst, .. } => {
            if !is_index(tile_dtype(*dst)) {
                problems.push(format!(
                    "iota defines {dst} of dtype {}; it must be i32, u32, i64 or u64",
                    dtype_name(tile_dtype(*dst))
                ));
            }
        }
        Inst::Dot { dst, a, b, acc } => {
            for tile in [*a, *b, *acc, *dst] {
                expect_numeric_tile(tile, tile_dtype(tile), "dot", problems);
            }
            expect_same(
                &format!("accumulator {acc} of dot into {dst}"),
                tile_dtype(*acc),
                tile_dtype(*dst),
                problems,
            );
        }
        Inst::Reduce { dst, src, op, .. } => {
            expect_numeric_tile(*src, tile_dtype(*src), "reduce", problems);
            match op {
                ReduceOp::ArgMax | ReduceOp::ArgMin => {
                    if !is_index(tile_dtype(*dst)) {
                        problems.push(format!(
                            "{op:?} defines {dst} of dtype {}; an index result must be i32, u32, i64 or u64",
                            dtype_name(tile_dtype(*dst))
                        ));
                    }
                }
                ReduceOp::Sum | ReduceOp::Prod | ReduceOp::Max | ReduceOp::Min => expect_same(
                    &format!("reduction of {src} into {dst}"),
                    tile_dtype(*dst),
                    tile_dtype(*src),
                    problems,
                ),
            }
        }
        Inst::Permute { dst, src, .. } | Inst::Broadcast { dst, src } | Inst::Assign { dst, src } => {
            expect_same(&format!("{dst} defined from {src}"), tile_dtype(*dst), tile_dtype(*src), problems)
        }
        Inst::Slice { dst, src, offsets } => {
            expect_same(&format!("{dst} sliced from {src}"), tile_dtype(*dst), tile_dtype(*src), problems);
            offsets.iter().for_each(|expr| expect_index("slice offsets", expr, problems));
        }
        Inst::PrintTile { .. } | Inst::PrintScalars { .. } => {}
        Inst::Assert { cond, .. } => expect_bool("assert condition", cond, problems),
    }
}

fn check_elementwise(
    kernel: &Kernel,
    dst: TileId,
    op: ElementwiseOp,
    operands: &[Operand],
    problems: &mut Vec<String>,
) {
    let arity = match op {
        ElementwiseOp::Unary(_) => 1,
        ElementwiseOp::Binary(_) => 2,
        ElementwiseOp::Ternary(_) => 3,
    };
    if operands.len() != arity {
        problems.push(format!(
            "elementwise `{}` takes {arity} operands, not {}",
            operator_name(op),
            operands.len()
        ));
        return;
    }
    let mut dtypes = Vec::with_capacity(arity);
    for operand in operands {
        match operand {
            Operand::Tile(tile) => {
                let dtype = kernel.tile(*tile).dtype;
                if !dtype.is_compute() {
                    problems.push(format!(
                        "elementwise operand {tile} has storage dtype {}; arithmetic needs a compute dtype \
                         ({COMPUTE_DTYPES}): `cast` it first",
                        dtype_name(dtype)
                    ));
                    return;
                }
                dtypes.push(dtype);
            }
            Operand::Scalar(expr) => dtypes.push(expr.dtype),
        }
    }
    let result = kernel.tile(dst).dtype;
    if !result.is_compute() {
        problems.push(format!(
            "elementwise result {dst} has storage dtype {}; compute in a compute dtype ({COMPUTE_DTYPES}) and \
             `cast` the result",
            dtype_name(result)
        ));
        return;
    }
    check_operator(op, &dtypes, result, problems);
}

/// Checks one scalar expression node by node.
fn check_expr(kernel: &Kernel, expr: &Expr, problems: &mut Vec<String>) {
    walk_expr(expr, &mut |node| {
        if !node.dtype.is_compute() {
            problems.push(format!(
                "scalar expression has storage dtype {}; arithmetic needs a compute dtype ({COMPUTE_DTYPES}): \
                 `cast` to one first",
                dtype_name(node.dtype)
            ));
            return;
        }
        match &node.kind {
            ExprKind::Const(code) => {
                let bits = node.dtype.bits();
                if bits < 64 && code >> bits != 0 {
                    problems.push(format!("constant {code:#x} does not fit in {}", dtype_name(node.dtype)));
                }
            }
            ExprKind::Var(var) => {
                let declared = kernel.var(*var).dtype;
                if declared != node.dtype {
                    problems.push(format!(
                        "read of {var} has dtype {} but the variable is {}",
                        dtype_name(node.dtype),
                        dtype_name(declared)
                    ));
                }
            }
            ExprKind::Unary(op, operand) => {
                check_operator(ElementwiseOp::Unary(*op), &[operand.dtype], node.dtype, problems)
            }
            ExprKind::Binary(op, lhs, rhs) => {
                check_operator(ElementwiseOp::Binary(*op), &[lhs.dtype, rhs.dtype], node.dtype, problems)
            }
            ExprKind::Ternary(op, a, b, c) => check_operator(
                ElementwiseOp::Ternary(*op),
                &[a.dtype, b.dtype, c.dtype],
                node.dtype,
                problems,
            ),
            ExprKind::Cast(_) => {}
            ExprKind::BlockIndex(axis) | ExprKind::GridSize(axis) => {
                if *axis >= 3 {
                    problems.push(format!("grid axis {axis} does not exist (axes are 0, 1, 2)"));
                }
                if node.dtype != DataType::U32 {
                    problems
                        .push(format!("block index and grid size are u32, not {}", dtype_name(node.dtype)));
                }
            }
        }
    });
}

/// The typing rule of a scalar operator (also lifted to tiles): operand dtypes and the result's.
fn check_operator(op: ElementwiseOp, operands: &[DataType], result: DataType, problems: &mut Vec<String>) {
    let same = |dtypes: &[DataType], want: DataType, problems: &mut Vec<String>| {
        if let Some(other) = dtypes.iter().find(|&&dtype| dtype != want) {
            problems.push(format!(
                "`{}` needs operands of dtype {}, got {}",
                operator_name(op),
                dtype_name(want),
                dtype_name(*other)
            ));
            false
        } else {
            true
        }
    };
    let class = |allowed: bool, what: &str, dtype: DataType, problems: &mut Vec<String>| {
        if !allowed {
            problems.push(format!(
                "`{}` needs {what} operands, got {}",
                operator_name(op),
                dtype_name(dtype)
            ));
        }
    };
    match op {
        ElementwiseOp::Unary(unary) => {
            let [operand] = operands else { return };
            if !same(&[*operand], result, problems) {
                return;
            }
            match unary {
                UnaryOp::Neg | UnaryOp::Abs => class(is_numeric(result), "numeric", result, problems),
                UnaryOp::Not => class(!result.is_float(), "integer or bool", result, problems),
                _ => class(result.is_float(), "float", result, problems),
            }
        }
        ElementwiseOp::Binary(binary) => {
            let [lhs, rhs] = operands else { return };
            if binary.is_comparison() {
                if result != DataType::BOOL {
                    problems.push(format!(
                        "comparison `{}` gives bool, not {}",
                        operator_name(op),
                        dtype_name(result)
                    ));
                }
                if same(&[*rhs], *lhs, problems) && !matches!(binary, BinaryOp::Eq | BinaryOp::Ne) {
                    class(is_numeric(*lhs), "numeric", *lhs, problems);
                }
                return;
            }
            match binary {
                BinaryOp::Shl | BinaryOp::Shr => {
                    if same(&[*lhs], result, problems) {
                        class(is_integer(result), "integer", result, problems);
                    }
                    if *rhs != DataType::U32 {
                        problems.push(format!("shift amounts are u32, not {}", dtype_name(*rhs)));
                    }
                }
                BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => {
                    if same(&[*lhs, *rhs], result, problems) {
                        class(!result.is_float(), "integer or bool", result, problems);
                    }
                }
                _ => {
                    if same(&[*lhs, *rhs], result, problems) {
                        class(is_numeric(result), "numeric", result, problems);
                    }
                }
            }
        }
        ElementwiseOp::Ternary(ternary) => {
            let [a, b, c] = operands else { return };
            match ternary {
                TernaryOp::Fma => {
                    if same(&[*a, *b, *c], result, problems) {
                        class(is_numeric(result), "numeric", result, problems);
                    }
                }
                TernaryOp::Select => {
                    if *a != DataType::BOOL {
                        problems.push(format!("`select` condition must be bool, not {}", dtype_name(*a)));
                    }
                    same(&[*b, *c], result, problems);
                }
            }
        }
    }
}

fn expect_same(what: &str, got: DataType, want: DataType, problems: &mut Vec<String>) {
    if got != want {
        problems.push(format!("dtype mismatch: {what}: {} vs {}", dtype_name(got), dtype_name(want)));
    }
}

fn expect_bool(what: &str, expr: &Expr, problems: &mut Vec<String>) {
    if expr.dtype != DataType::BOOL {
        problems.push(format!("{what} must be bool, not {}", dtype_name(expr.dtype)));
    }
}

fn expect_index(what: &str, expr: &Expr, problems: &mut Vec<String>) {
    if !is_index(expr.dtype) {
        problems.push(format!("{what} must be i32, u32, i64 or u64, not {}", dtype_name(expr.dtype)));
    }
}

fn expect_numeric_tile(tile: TileId, dtype: DataType, inst: &str, problems: &mut Vec<String>) {
    if !dtype.is_compute() {
        problems.push(format!(
            "{inst} operand {tile} has storage dtype {}; arithmetic needs a compute dtype ({COMPUTE_DTYPES}): \
             `cast` it first",
            dtype_name(dtype)
        ));
    } else if !is_numeric(dtype) {
        problems.push(format!("{inst} operand {tile} must be numeric, not {}", dtype_name(dtype)));
    }
}

/// A compute integer that can index: i32, u32, i64, u64.
fn is_index(dtype: DataType) -> bool {
    dtype.is_compute() && is_integer(dtype)
}

fn is_integer(dtype: DataType) -> bool {
    matches!(dtype, DataType::Int(_))
}

fn is_numeric(dtype: DataType) -> bool {
    dtype != DataType::BOOL
}
