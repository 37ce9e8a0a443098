//! Handle checks: every handle indexes its kernel's table. Run first, so later checks can index freely.

use super::uses::{inst_uses, stmt_exprs, walk_expr};
use super::{Location, Report, stmt_location, walk_stmts};
use crate::ir::{ExprKind, ParamKind, StmtKind};

/// Records every out-of-range handle in `report`'s kernel.
pub(crate) fn check(report: &mut Report<'_>) {
    let kernel = report.kernel;
    let counts = Counts {
        vars: kernel.vars.len(),
        tiles: kernel.tiles.len(),
        shared: kernel.shared.len(),
        globals: kernel.globals.len(),
    };
    for (index, param) in kernel.params.iter().enumerate() {
        let ParamKind::Scalar { var, default } = param.kind else { continue };
        let location = Location::Param(crate::ir::ParamId(index as u32));
        let Some(decl) = kernel.vars.get(var.index()) else {
            report.error(
                location,
                format!("scalar parameter `{}` refers to missing variable {var}", param.name),
            );
            continue;
        };
        let bits = decl.dtype.bits();
        if let Some(code) = default
            && bits < 64
            && code >> bits != 0
        {
            report.error(
                location,
                format!("the default {code:#x} of `{}` has bits above its dtype's {bits}", param.name),
            );
        }
    }
    for (index, global) in kernel.globals.iter().enumerate() {
        let location = Location::Global(crate::ir::GlobalId(index as u32));
        match kernel.params.get(global.param.index()) {
            None => {
                report.error(location, format!("global view refers to missing parameter {}", global.param))
            }
            Some(param) if !matches!(param.kind, ParamKind::Global { .. }) => report.error(
                location,
                format!(
                    "global view is over {} (`{}`), which is not a pointer parameter",
                    global.param, param.name
                ),
            ),
            Some(_) => {}
        }
    }
    for (axis, expr) in kernel.grid.iter().enumerate() {
        let mut missing = Vec::new();
        walk_expr(expr, &mut |node| {
            if let ExprKind::Var(var) = node.kind
                && var.index() >= counts.vars
            {
                missing.push(var);
            }
        });
        for var in missing {
            report.error(Location::Grid(axis), format!("expression reads missing variable {var}"));
        }
    }
    walk_stmts(&kernel.body, &mut |stmt, path| {
        let mut problems = Vec::new();
        let check_var = |var: crate::ir::VarId, problems: &mut Vec<String>| {
            if var.index() >= counts.vars {
                problems.push(format!("variable {var} does not exist ({} declared)", counts.vars));
            }
        };
        match &stmt.kind {
            StmtKind::Assign { var, .. } | StmtKind::For { var, .. } => check_var(*var, &mut problems),
            StmtKind::Inst(inst) => {
                let uses = inst_uses(inst);
                for tile in uses.tiles_read.iter().chain(uses.tile_defined.iter()) {
                    if tile.index() >= counts.tiles {
                        problems.push(format!("tile {tile} does not exist ({} declared)", counts.tiles));
                    }
                }
                let shared = uses.shared_used.iter().chain(&uses.shared_allocated).chain(&uses.shared_freed);
                for tile in shared {
                    if tile.index() >= counts.shared {
                        problems
                            .push(format!("shared tile {tile} does not exist ({} declared)", counts.shared));
                    }
                }
                for global in uses.globals_used.iter().chain(&uses.global_defined) {
                    if global.index() >= counts.globals {
                        problems.push(format!(
                            "global view {global} does not exist ({} declared)",
                            counts.globals
                        ));
                    }
                }
            }
            StmtKind::While { .. } | StmtKind::If { .. } | StmtKind::Break => {}
        }
        for expr in stmt_exprs(&stmt.kind) {
            walk_expr(expr, &mut |node| {
                if let ExprKind::Var(var) = node.kind {
                    check_var(var, &mut problems);
                }
            });
        }
        for problem in problems {
            report.error(stmt_location(path, stmt), problem);
        }
    });
}

struct Counts {
    vars: usize,
    tiles: usize,
    shared: usize,
    globals: usize,
}
