//! Definition, allocation and control-flow checks, by a forward walk over the structured body.
//!
// The walk carries a `State`: which variables, register tiles and global views are defined on every path
// to here, and the stack of live shared allocations. An `if` merges its branches (a name is defined after
// it only when both branches define it; both must leave the same allocations). A loop body may run zero
// times, so the state after a loop is the state before it; every later iteration starts from a superset of
// the first iteration's definitions, so checking the body once, from the entry state, is exact enough.
// `break` ends a path: the branch that breaks does not take part in the merge, and it must leave the
// allocations the loop started with.

use super::uses::{inst_uses, stmt_exprs, walk_expr};
use super::{BlockKind, Location, PathSegment, Report, StmtPath};
use crate::ir::{ExprKind, Inst, Kernel, ParamKind, SharedId, Stmt, StmtKind};

/// Records every definition, allocation and control-flow error of `report`'s kernel.
pub(crate) fn check(report: &mut Report<'_>) {
    let kernel = report.kernel;
    let mut state = State {
        vars: vec![false; kernel.vars.len()],
        tiles: vec![false; kernel.tiles.len()],
        globals: vec![false; kernel.globals.len()],
        live_shared: Vec::new(),
        freed: vec![false; kernel.shared.len()],
        reachable: true,
    };
    for param in &kernel.params {
        if let ParamKind::Scalar { var, .. } = param.kind {
            state.vars[var.index()] = true;
        }
    }
    for (axis, expr) in kernel.grid.iter().enumerate() {
        walk_expr(expr, &mut |node| {
            if let ExprKind::Var(var) = node.kind
                && !state.vars[var.index()]
            {
                report.error(
                    Location::Grid(axis),
                    format!("the grid reads {var}, which is not a scalar parameter"),
                );
            }
        });
    }
    let mut walker = Walker { report, loops: Vec::new(), path: StmtPath::default() };
    walker.block(&kernel.body, BlockKind::Body, &mut state);
}

#[derive(Clone)]
struct State {
    vars: Vec<bool>,
    tiles: Vec<bool>,
    globals: Vec<bool>,
    /// Live shared allocations, oldest first.
    live_shared: Vec<SharedId>,
    /// Shared tiles freed on some path (for messages).
    freed: Vec<bool>,
    /// False after a `break` on this path.
    reachable: bool,
}

impl State {
    /// The state after an `if` whose branches ended in `self` and `other`; returns whether the branches
    /// disagree on live shared allocations.
    fn merge(&mut self, other: State) -> bool {
        for (position, freed) in other.freed.iter().enumerate() {
            self.freed[position] |= freed;
        }
        if !other.reachable {
            return false;
        }
        if !self.reachable {
            let freed = std::mem::take(&mut self.freed);
            *self = other;
            self.freed = freed;
            return false;
        }
        let and = |mine: &mut Vec<bool>, theirs: &[bool]| {
            mine.iter_mut().zip(theirs).for_each(|(mine, theirs)| *mine &= theirs)
        };
        and(&mut self.vars, &other.vars);
        and(&mut self.tiles, &other.tiles);
        and(&mut self.globals, &other.globals);
        self.live_shared != other.live_shared
    }
}

struct Walker<'r, 'k> {
    report: &'r mut Report<'k>,
    /// The live shared allocations at the entry of each enclosing loop, innermost last.
    loops: Vec<Vec<SharedId>>,
    path: StmtPath,
}

impl Walker<'_, '_> {
    fn block(&mut self, block: &[Stmt], kind: BlockKind, state: &mut State) {
        for (index, stmt) in block.iter().enumerate() {
            self.path.0.push(PathSegment { block: kind, index });
            self.stmt(stmt, state);
            self.path.0.pop();
        }
    }

    fn error(&mut self, stmt: &Stmt, message: String) {
        self.report.error(Location::Stmt { path: self.path.clone(), span: stmt.span }, message);
    }

    fn stmt(&mut self, stmt: &Stmt, state: &mut State) {
        let kernel = self.report.kernel;
        for expr in stmt_exprs(&stmt.kind) {
            let mut undefined = Vec::new();
            walk_expr(expr, &mut |node| {
                if let ExprKind::Var(var) = node.kind
                    && !state.vars[var.index()]
                    && !undefined.contains(&var)
                {
                    undefined.push(var);
                }
            });
            for var in undefined {
                let name = &kernel.var(var).name;
                self.error(stmt, format!("variable {var} (`{name}`) may be read before it is defined"));
            }
        }
        match &stmt.kind {
            StmtKind::Assign { var, .. } => state.vars[var.index()] = true,
            StmtKind::For { var, body, .. } => {
                let mut inner = state.clone();
                inner.vars[var.index()] = true;
                self.loop_body(stmt, body, inner, state);
            }
            StmtKind::While { body, .. } => {
                let inner = state.clone();
                self.loop_body(stmt, body, inner, state);
            }
            StmtKind::If { then_body, else_body, .. } => {
                let mut then_state = state.clone();
                self.block(then_body, BlockKind::Then, &mut then_state);
                let mut else_state = state.clone();
                self.block(else_body, BlockKind::Else, &mut else_state);
                if then_state.merge(else_state) {
                    self.error(
                        stmt,
                        "the branches of this `if` leave different shared tiles allocated".to_string(),
                    );
                }
                *state = then_state;
            }
            StmtKind::Break => {
                match self.loops.last() {
                    None => self.error(stmt, "`break` outside a loop".to_string()),
                    Some(entry) if *entry != state.live_shared => self.error(
                        stmt,
                        "`break` leaves shared tiles allocated that the loop did not start with".to_string(),
                    ),
                    Some(_) => {}
                }
                state.reachable = false;
            }
            StmtKind::Inst(inst) => self.inst(stmt, inst, state),
        }
    }

    fn loop_body(&mut self, stmt: &Stmt, body: &[Stmt], mut inner: State, state: &mut State) {
        self.loops.push(state.live_shared.clone());
        self.block(body, BlockKind::Loop, &mut inner);
        self.loops.pop();
        if inner.reachable && inner.live_shared != state.live_shared {
            self.error(
                stmt,
                "an iteration of this loop changes which shared tiles are allocated".to_string(),
            );
        }
        for (position, freed) in inner.freed.iter().enumerate() {
            state.freed[position] |= freed;
        }
    }

    fn inst(&mut self, stmt: &Stmt, inst: &Inst, state: &mut State) {
        let kernel: &Kernel = self.report.kernel;
        let uses = inst_uses(inst);
        let mut problems = Vec::new();
        for tile in &uses.tiles_read {
            if !state.tiles[tile.index()] {
                let name = &kernel.tile(*tile).name;
                problems.push(format!("tile {tile} (`{name}`) may be read before it is defined"));
            }
        }
        for global in &uses.globals_used {
            if !state.globals[global.index()] {
                let name = &kernel.global(*global).name;
                problems.push(format!("global view {global} (`{name}`) may be used before it is defined"));
            }
        }
        for shared in &uses.shared_used {
            if !state.live_shared.contains(shared) {
                problems.push(not_live(kernel, *shared, state, "used"));
            }
        }
        if let Inst::StoreGlobal { dst, .. } = inst {
            let param_id = kernel.global(*dst).param;
            let param = kernel.param(param_id);
            if !matches!(param.kind, ParamKind::Global { mutable: true, .. }) {
                problems.push(format!(
                    "store to view {dst} over {param_id} (`{}`), which is not a mutable parameter",
                    param.name
                ));
            }
        }
        if let Some(tile) = uses.tile_defined {
            state.tiles[tile.index()] = true;
        }
        if let Some(global) = uses.global_defined {
            state.globals[global.index()] = true;
        }
        if let Some(shared) = uses.shared_allocated {
            if state.live_shared.contains(&shared) {
                problems.push(format!("shared tile {shared} is allocated again while still live"));
            } else {
                state.live_shared.push(shared);
                state.freed[shared.index()] = false;
                let live: u64 = state.live_shared.iter().map(|&tile| shared_bytes(kernel, tile)).sum();
                if live > u64::from(kernel.shared_limit_bytes) {
                    problems.push(format!(
                        "allocating shared tile {shared} ({} bytes) brings live shared memory to {live} bytes, \
                         over the kernel's limit of {} bytes",
                        shared_bytes(kernel, shared),
                        kernel.shared_limit_bytes
                    ));
                }
            }
        }
        if let Some(shared) = uses.shared_freed {
            match state.live_shared.last() {
                Some(&top) if top == shared => {
                    state.live_shared.pop();
                    state.freed[shared.index()] = true;
                }
                Some(&top) if state.live_shared.contains(&shared) => problems.push(format!(
                    "shared tile {shared} is freed out of order: {top} was allocated after it and is still live \
                     (shared tiles are freed in LIFO order)"
                )),
                _ => problems.push(not_live(kernel, shared, state, "freed")),
            }
        }
        for problem in problems {
            self.error(stmt, problem);
        }
    }
}

fn not_live(kernel: &Kernel, shared: SharedId, state: &State, verb: &str) -> String {
    let name = &kernel.shared_tile(shared).name;
    if state.freed[shared.index()] {
        format!("shared tile {shared} (`{name}`) is {verb} after it was freed")
    } else {
        format!("shared tile {shared} (`{name}`) is {verb} before it is allocated")
    }
}

/// Bytes a shared tile occupies: its elements' bits rounded up to 32-bit words.
pub(crate) fn shared_bytes(kernel: &Kernel, shared: SharedId) -> u64 {
    let decl = kernel.shared_tile(shared);
    let bits = decl.layout.size() as u64 * u64::from(decl.dtype.bits());
    bits.div_ceil(32) * 4
}
