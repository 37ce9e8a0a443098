//! The instruction chains a dot may absorb: `LoadGlobal` → `Cast` → `Dot` (and, for integer dots, the
//! cast of `b` from i8 codes and the zero fill of the accumulator), found by their structure alone.
//
// A GEMV-like loop body loads packed weights into a tile of codes, casts them to an f32 (or i32) tile and
// takes a dot product with it. Materialising the cast tile costs a store and a load per element; the dot
// can instead read the codes and convert them in registers. That is only unobservable when the cast tile
// `w` is
//   - written by exactly one instruction, the `Cast { dst: w, src: codes }`, and read by exactly one, a
//     `Dot { a: w, .. }` later in the same statement list, with no statement in between that is not a plain
//     instruction or that redefines `codes` (so the dot sees the codes the cast would have converted);
//   - and, for the load, when `codes` has no other use and nothing between the load and the dot stores to
//     global memory or redefines the view.
// This module finds such chains; whether a dot of that shape and those dtypes has a fused form on the
// target is the rule table's question (`rules`), asked once.

use std::collections::HashMap;

use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{Expr, ExprKind, GlobalId, Inst, Kernel, Rounding, Stmt, StmtKind, TileId};

use super::ops::InstIndex;

/// A dot and the instructions before it that it could take over.
#[derive(Clone, Debug)]
pub(super) struct Chain {
    /// The `Cast { dst: a, src: codes }`.
    pub(super) cast: InstIndex,
    /// The integer codes cast.
    pub(super) codes: TileId,
    /// The cast's rounding.
    pub(super) rounding: Rounding,
    /// The `LoadGlobal` of the codes, when it could be fused too.
    pub(super) load: Option<ChainLoad>,
    /// For an i32 `a`: the `Cast` of `b` from its i8 codes, and those codes.
    pub(super) bytes: Option<(InstIndex, TileId)>,
    /// For an integer dot into its own accumulator: the zero fill right before it.
    pub(super) zero_fill: Option<InstIndex>,
}

/// A load a chain may absorb.
#[derive(Clone, Debug)]
pub(super) struct ChainLoad {
    pub(super) index: InstIndex,
    pub(super) src: GlobalId,
    pub(super) offsets: Vec<Expr>,
    pub(super) dims: Vec<usize>,
}

/// The chains of `kernel`, by the index of their dot.
pub(super) fn find_chains(kernel: &Kernel) -> HashMap<InstIndex, Chain> {
    let mut uses: HashMap<TileId, usize> = HashMap::new();
    count_uses(&kernel.body, &mut uses);
    let mut finder = Finder { kernel, uses, next: 0, chains: HashMap::new() };
    finder.block(&kernel.body);
    finder.chains
}

struct Finder<'k> {
    kernel: &'k Kernel,
    uses: HashMap<TileId, usize>,
    /// The index of the next instruction in pre-order.
    next: usize,
    chains: HashMap<InstIndex, Chain>,
}

impl Finder<'_> {
    fn block(&mut self, body: &[Stmt]) {
        for (position, stmt) in body.iter().enumerate() {
            match &stmt.kind {
                StmtKind::Inst(inst) => {
                    let index = InstIndex(self.next);
                    self.next += 1;
                    if let Inst::Cast { dst, src, rounding } = inst {
                        self.cast(body, position, index, (*dst, *src, *rounding));
                    }
                }
                StmtKind::For { body, .. } | StmtKind::While { body, .. } => self.block(body),
                StmtKind::If { then_body, else_body, .. } => {
                    self.block(then_body);
                    self.block(else_body);
                }
                StmtKind::Assign { .. } | StmtKind::Break => {}
            }
        }
    }

    /// Looks for the dot that reads the cast at `body[position]` (instruction `index`). Every statement
    /// between them is a plain instruction, so their indices are consecutive.
    fn cast(&mut self, body: &[Stmt], position: usize, index: InstIndex, cast: (TileId, TileId, Rounding)) {
        let (dst, codes, rounding) = cast;
        let tile_dtype = |tile: TileId| self.kernel.tiles.get(tile.index()).map(|decl| decl.dtype);
        if dst == codes
            || self.uses.get(&dst) != Some(&2)
            || !matches!(tile_dtype(codes), Some(DataType::Int(_)))
        {
            return;
        }
        for (offset, next) in body[position + 1..].iter().enumerate() {
            let StmtKind::Inst(inst) = &next.kind else { return };
            if let Inst::Dot { dst: out, a, b, acc } = inst
                && *a == dst
            {
                let dot_position = position + 1 + offset;
                let dot = InstIndex(index.0 + 1 + offset);
                let at = |position: usize| InstIndex(dot.0 - (dot_position - position));
                let bytes = match tile_dtype(dst) {
                    Some(DataType::I32) => match self.byte_operand(body, *b, dot_position) {
                        Some((position, b_codes)) => Some((at(position), b_codes)),
                        None => return,
                    },
                    _ => None,
                };
                let zero_fill = if bytes.is_some() && out == acc {
                    zero_fill_before(body, *acc, dot_position).map(at)
                } else {
                    None
                };
                let load = self.load(body, codes, position, dot_position).map(|(position, mut load)| {
                    load.index = at(position);
                    load
                });
                self.chains.insert(dot, Chain { cast: index, codes, rounding, load, bytes, zero_fill });
                return;
            }
            if inst.defined_tile() == Some(codes) {
                return;
            }
        }
    }

    /// The position of the `Cast` into the i32 tile `b` from i8 codes that the dot at `dot_position` may
    /// perform itself, and those codes: the most recent instruction before the dot that writes `b` is that
    /// cast, `b` has no other use, and nothing between the cast and the dot is a statement other than an
    /// instruction or writes the codes.
    fn byte_operand(&self, body: &[Stmt], b: TileId, dot_position: usize) -> Option<(usize, TileId)> {
        if self.uses.get(&b) != Some(&2) || self.kernel.tiles.get(b.index())?.dtype != DataType::I32 {
            return None;
        }
        let cast_position = body[..dot_position].iter().rposition(
            |stmt| !matches!(&stmt.kind, StmtKind::Inst(inst) if inst.defined_tile() != Some(b)),
        )?;
        let StmtKind::Inst(Inst::Cast { dst, src, .. }) = &body[cast_position].kind else { return None };
        let quiet = body[cast_position + 1..dot_position]
            .iter()
            .all(|stmt| matches!(&stmt.kind, StmtKind::Inst(inst) if inst.defined_tile() != Some(*src)));
        let bytes = self.kernel.tiles.get(src.index())?.dtype == DataType::I8;
        (*dst == b && *src != b && quiet && bytes).then_some((cast_position, *src))
    }

    /// The position of the `LoadGlobal` of `codes` before the cast at `cast_position`, and the load (its
    /// index still to be set), when the dot at `dot_position` may perform it: `codes` has no other use, and
    /// nothing between the load and the dot is a statement other than an instruction, stores to global
    /// memory, or redefines the view.
    fn load(
        &self,
        body: &[Stmt],
        codes: TileId,
        cast_position: usize,
        dot_position: usize,
    ) -> Option<(usize, ChainLoad)> {
        if self.uses.get(&codes) != Some(&2) {
            return None;
        }
        let load_position = body[..cast_position].iter().rposition(
            |stmt| !matches!(&stmt.kind, StmtKind::Inst(inst) if inst.defined_tile() != Some(codes)),
        )?;
        let StmtKind::Inst(Inst::LoadGlobal { dst, src, offsets, dims }) = &body[load_position].kind else {
            return None;
        };
        let quiet = body[load_position + 1..dot_position].iter().all(|stmt| match &stmt.kind {
            StmtKind::Inst(Inst::StoreGlobal { .. }) => false,
            StmtKind::Inst(Inst::ViewGlobal { dst: view, .. }) => view != src,
            StmtKind::Inst(_) => true,
            _ => false,
        });
        let load = ChainLoad { index: InstIndex(0), src: *src, offsets: offsets.clone(), dims: dims.clone() };
        (*dst == codes && quiet).then_some((load_position, load))
    }
}

/// Counts, for every register tile, the instructions that read or write it.
fn count_uses(body: &[Stmt], uses: &mut HashMap<TileId, usize>) {
    for stmt in body {
        match &stmt.kind {
            StmtKind::Inst(inst) => {
                let mut tiles = tiles_of(inst);
                tiles.sort();
                tiles.dedup();
                for tile in tiles {
                    *uses.entry(tile).or_default() += 1;
                }
            }
            StmtKind::For { body, .. } | StmtKind::While { body, .. } => count_uses(body, uses),
            StmtKind::If { then_body, else_body, .. } => {
                count_uses(then_body, uses);
                count_uses(else_body, uses);
            }
            StmtKind::Assign { .. } | StmtKind::Break => {}
        }
    }
}

/// The position of the zero fill of `tile` that is the last statement before `body[position]` touching
/// it, with only plain instructions in between.
fn zero_fill_before(body: &[Stmt], tile: TileId, position: usize) -> Option<usize> {
    for (at, stmt) in body[..position].iter().enumerate().rev() {
        let StmtKind::Inst(inst) = &stmt.kind else { return None };
        if !tiles_of(inst).contains(&tile) {
            continue;
        }
        // No `init` fills zero bits, which is the integer 0 (the `.tile` front end's `zeros`).
        let zero = matches!(
            inst,
            Inst::AllocRegister { dst, init: None | Some(Expr { kind: ExprKind::Const(0), .. }) } if *dst == tile
        );
        return zero.then_some(at);
    }
    None
}

/// Every register tile an instruction reads or writes.
fn tiles_of(inst: &Inst) -> Vec<TileId> {
    let mut tiles: Vec<TileId> = inst.defined_tile().into_iter().collect();
    tiles.extend(inst.read_tiles());
    tiles
}
