//! What an instruction reads, writes, defines and evaluates, so each check can walk operands uniformly.

use crate::ir::{Expr, GlobalId, Inst, Operand, SharedId, TileId};

/// The operands of one instruction, sorted by role.
#[derive(Default)]
pub(crate) struct InstUses<'a> {
    /// Register tiles read (in operand order).
    pub(crate) tiles_read: Vec<TileId>,
    /// The register tile defined, if any.
    pub(crate) tile_defined: Option<TileId>,
    /// Shared tiles read or written (not allocated or freed).
    pub(crate) shared_used: Vec<SharedId>,
    /// The shared tile allocated, if any.
    pub(crate) shared_allocated: Option<SharedId>,
    /// The shared tile freed, if any.
    pub(crate) shared_freed: Option<SharedId>,
    /// Global views read or written (not defined).
    pub(crate) globals_used: Vec<GlobalId>,
    /// The global view defined, if any.
    pub(crate) global_defined: Option<GlobalId>,
    /// Scalar expressions evaluated.
    pub(crate) exprs: Vec<&'a Expr>,
}

/// Sorts the operands of `inst` by role.
pub(crate) fn inst_uses(inst: &Inst) -> InstUses<'_> {
    let mut uses =
        InstUses { tiles_read: inst.read_tiles(), tile_defined: inst.defined_tile(), ..InstUses::default() };
    match inst {
        Inst::AllocRegister { init, .. } => uses.exprs.extend(init.iter()),
        Inst::AllocShared { dst, init } => {
            uses.shared_allocated = Some(*dst);
            uses.exprs.extend(init.iter());
        }
        Inst::FreeShared { tile } => uses.shared_freed = Some(*tile),
        Inst::ViewGlobal { dst, shape, strides, offset } => {
            uses.global_defined = Some(*dst);
            uses.exprs.extend(shape.iter().chain(strides).chain(std::iter::once(offset)));
        }
        Inst::LoadGlobal { src, offsets, .. } => {
            uses.globals_used.push(*src);
            uses.exprs.extend(offsets);
        }
        Inst::StoreGlobal { dst, offsets, .. } => {
            uses.globals_used.push(*dst);
            uses.exprs.extend(offsets);
        }
        Inst::LoadShared { src, offsets, .. } => {
            uses.shared_used.push(*src);
            uses.exprs.extend(offsets);
        }
        Inst::StoreShared { dst, offsets, .. } => {
            uses.shared_used.push(*dst);
            uses.exprs.extend(offsets);
        }
        Inst::CopyGlobalToShared { dst, src, offsets, .. } => {
            uses.shared_used.push(*dst);
            uses.globals_used.push(*src);
            uses.exprs.extend(offsets);
        }
        Inst::CopyWait
        | Inst::Sync
        | Inst::Iota { .. }
        | Inst::View { .. }
        | Inst::Cast { .. }
        | Inst::Reduce { .. }
        | Inst::Permute { .. }
        | Inst::Broadcast { .. }
        | Inst::Assign { .. }
        | Inst::Dot { .. }
        | Inst::PrintTile { .. } => {}
        Inst::Slice { offsets, .. } => uses.exprs.extend(offsets),
        Inst::Elementwise { operands, .. } => {
            uses.exprs.extend(operands.iter().filter_map(|operand| match operand {
                Operand::Scalar(expr) => Some(expr),
                Operand::Tile(_) => None,
            }))
        }
        Inst::PrintScalars { values, .. } => uses.exprs.extend(values),
        Inst::Assert { cond, .. } => uses.exprs.push(cond),
    }
    uses
}

/// Calls `visit` on every node of `expr` (pre-order).
pub(crate) fn walk_expr<'a>(expr: &'a Expr, visit: &mut impl FnMut(&'a Expr)) {
    use crate::ir::ExprKind;
    visit(expr);
    match &expr.kind {
        ExprKind::Unary(_, operand) | ExprKind::Cast(operand) => walk_expr(operand, visit),
        ExprKind::Binary(_, lhs, rhs) => {
            walk_expr(lhs, visit);
            walk_expr(rhs, visit);
        }
        ExprKind::Ternary(_, a, b, c) => {
            walk_expr(a, visit);
            walk_expr(b, visit);
            walk_expr(c, visit);
        }
        ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::BlockIndex(_) | ExprKind::GridSize(_) => {}
    }
}

/// The scalar expressions a statement evaluates itself (not those of nested statements).
pub(crate) fn stmt_exprs(kind: &crate::ir::StmtKind) -> Vec<&Expr> {
    use crate::ir::StmtKind;
    match kind {
        StmtKind::Assign { value, .. } => vec![value],
        StmtKind::For { start, end, step, .. } => vec![start, end, step],
        StmtKind::While { cond, .. } | StmtKind::If { cond, .. } => vec![cond],
        StmtKind::Break => Vec::new(),
        StmtKind::Inst(inst) => inst_uses(inst).exprs,
    }
}
