//! Cast-into-dot fusion: which `Cast`s of small integer codes to f32 or i32 the lowerer skips, because
//! their only reader is a `Dot` that converts the codes itself.
//
// A GEMV-like loop body loads packed weights into a tile of codes, casts them to an f32 tile and takes a
// dot product with it. Materialising the f32 tile costs a store and a load per element; the dot can instead
// read the codes and convert them in registers (`simd::vector_dot`, with `DotOperand::Codes`). That is only
// unobservable when the f32 tile `w` is
//   - written by exactly one instruction, the `Cast { dst: w, src: codes }`, and read by exactly one, a
//     `Dot { a: w, .. }` later in the same statement list, with no statement in between that is not a plain
//     instruction or that redefines `codes` (so the dot sees the codes the cast would have converted);
//   - of a shape and dtypes the fused vector dot handles (checked here, so that the dot never has to fall
//     back after its cast was skipped).
// An integer dot (`i32` operands) fuses the cast of its `b` operand from i8 codes as well, under the same
// conditions, so that it can multiply bytes by bytes (`byte_dot`).
// The analysis is one walk over the kernel, counting each tile's reads and writes, then one walk per
// statement list looking for such pairs.

use std::collections::{HashMap, HashSet};

use tilevm_vm::dtype::{DataType, IntType};
use tilevm_vm::ir::{Expr, ExprKind, GlobalId, Inst, Kernel, Rounding, Stmt, StmtKind, TileId};

/// The fused pairs of a kernel.
#[derive(Debug, Clone, Default)]
pub(super) struct Fusions {
    /// f32 tiles whose `Cast` is skipped, mapped to the codes tile and its integer type.
    codes_of: HashMap<TileId, (TileId, IntType)>,
    /// Codes tiles whose `LoadGlobal` is skipped too: the fused dot reads them from global memory.
    loads: HashMap<TileId, FusedLoad>,
    /// i32 `b` operands of integer dots whose `Cast` from i8 codes is skipped, mapped to the codes tile.
    byte_operands: HashMap<TileId, TileId>,
    /// Accumulators of fused integer dots whose every `AllocRegister` fills zeros and is followed, before
    /// anything else touches the tile, by such a dot into it (`dst` = `acc`): the fill is skipped and the
    /// dot stores its sums without reading the accumulator.
    zero_accumulators: HashSet<TileId>,
}

/// A `LoadGlobal` that a fused dot performs itself.
#[derive(Debug, Clone)]
pub(super) struct FusedLoad {
    /// The view read.
    pub(super) src: GlobalId,
    /// The load's offsets (evaluated at the dot: nothing in between can change them).
    pub(super) offsets: Vec<Expr>,
    /// The load's dims.
    pub(super) dims: Vec<usize>,
}

impl Fusions {
    /// Finds the fusable cast/dot pairs of `kernel`.
    pub(super) fn analyse(kernel: &Kernel) -> Fusions {
        let mut uses: HashMap<TileId, usize> = HashMap::new();
        count_uses(&kernel.body, &mut uses);
        let mut fusions = Fusions::default();
        let mut zeroed: HashMap<TileId, usize> = HashMap::new();
        fusions.find_pairs(kernel, &kernel.body, &uses, &mut zeroed);
        let mut allocations: HashMap<TileId, usize> = HashMap::new();
        kernel.for_each_inst(|inst| {
            if let Inst::AllocRegister { dst, .. } = inst {
                *allocations.entry(*dst).or_default() += 1;
            }
        });
        fusions.zero_accumulators = zeroed
            .into_iter()
            .filter(|(tile, count)| allocations.get(tile) == Some(count))
            .map(|(t, _)| t)
            .collect();
        fusions
    }

    /// Whether `tile` is the accumulator of fused integer dots whose zero fills are skipped.
    pub(super) fn zero_accumulator(&self, tile: TileId) -> bool {
        self.zero_accumulators.contains(&tile)
    }

    /// The codes tile a dot operand `a` stands for, when its cast was skipped.
    pub(super) fn codes_of(&self, tile: TileId) -> Option<(TileId, IntType)> {
        self.codes_of.get(&tile).copied()
    }

    /// The i8 codes tile an integer dot's `b` operand stands for, when its cast was skipped.
    pub(super) fn byte_operand_of(&self, tile: TileId) -> Option<TileId> {
        self.byte_operands.get(&tile).copied()
    }

    /// The load a fused dot performs for the codes tile `codes`, when the load was fused too.
    pub(super) fn load_of(&self, codes: TileId) -> Option<&FusedLoad> {
        self.loads.get(&codes)
    }

    fn find_pairs(
        &mut self,
        kernel: &Kernel,
        body: &[Stmt],
        uses: &HashMap<TileId, usize>,
        zeroed: &mut HashMap<TileId, usize>,
    ) {
        for (index, stmt) in body.iter().enumerate() {
            match &stmt.kind {
                StmtKind::Inst(Inst::Cast { dst, src, rounding }) => {
                    if let Some(int) = fusable_cast(kernel, *dst, *src, *rounding, uses) {
                        let codes = *src;
                        for (offset, next) in body[index + 1..].iter().enumerate() {
                            let StmtKind::Inst(inst) = &next.kind else { break };
                            if let Inst::Dot { dst: out, a, b, acc } = inst
                                && *a == *dst
                            {
                                let dot_index = index + 1 + offset;
                                let dtype = kernel.tiles.get(dst.index()).map(|decl| decl.dtype);
                                let rhs = match dtype {
                                    Some(DataType::F32) => Some(None),
                                    _ => byte_operand(kernel, body, *b, dot_index, uses).map(Some),
                                };
                                if let (Some(rhs), Some(dtype)) = (rhs, dtype)
                                    && fusable_dot(kernel, dtype, *out, codes, *b, *acc)
                                {
                                    self.codes_of.insert(*dst, (codes, int));
                                    if let Some(b_codes) = rhs {
                                        self.byte_operands.insert(*b, b_codes);
                                        if out == acc && zero_filled_before(body, *acc, dot_index) {
                                            *zeroed.entry(*acc).or_default() += 1;
                                        }
                                    }
                                    if let Some(load) = fusable_load(body, codes, index, dot_index, uses) {
                                        self.loads.insert(codes, load);
                                    }
                                }
                                break;
                            }
                            if inst.defined_tile() == Some(codes) {
                                break;
                            }
                        }
                    }
                }
                StmtKind::For { body, .. } | StmtKind::While { body, .. } => {
                    self.find_pairs(kernel, body, uses, zeroed)
                }
                StmtKind::If { then_body, else_body, .. } => {
                    self.find_pairs(kernel, then_body, uses, zeroed);
                    self.find_pairs(kernel, else_body, uses, zeroed);
                }
                _ => {}
            }
        }
    }
}

/// The integer type of a cast `src -> dst` from codes of at most 8 bits to an f32 tile used only by it and
/// by one reader.
fn fusable_cast(
    kernel: &Kernel,
    dst: TileId,
    src: TileId,
    rounding: Rounding,
    uses: &HashMap<TileId, usize>,
) -> Option<IntType> {
    let dst_decl = kernel.tiles.get(dst.index())?;
    let src_decl = kernel.tiles.get(src.index())?;
    let DataType::Int(int) = src_decl.dtype else { return None };
    let exact = matches!(rounding, Rounding::NearestEven | Rounding::TowardZero);
    let used_twice = uses.get(&dst).copied() == Some(2);
    // The integer dot multiplies unsigned bytes by signed ones without overflowing 16 bits.
    let target_fits = match dst_decl.dtype {
        DataType::F32 => int.bits <= 8,
        DataType::I32 => !int.signed && int.bits <= 7,
        _ => false,
    };
    (dst != src && target_fits && exact && used_twice).then_some(int)
}

/// The i8 codes whose `Cast` into the i32 tile `b` an integer dot at `dot_index` may perform itself: the
/// most recent instruction before the dot that writes `b` is that cast, `b` has no other use, and nothing
/// between the cast and the dot is a statement other than an instruction or writes the codes.
fn byte_operand(
    kernel: &Kernel,
    body: &[Stmt],
    b: TileId,
    dot_index: usize,
    uses: &HashMap<TileId, usize>,
) -> Option<TileId> {
    if uses.get(&b).copied() != Some(2) || kernel.tiles.get(b.index())?.dtype != DataType::I32 {
        return None;
    }
    let cast_index = body[..dot_index]
        .iter()
        .rposition(|stmt| !matches!(&stmt.kind, StmtKind::Inst(inst) if inst.defined_tile() != Some(b)))?;
    let StmtKind::Inst(Inst::Cast { dst, src, .. }) = &body[cast_index].kind else { return None };
    let quiet = body[cast_index + 1..dot_index]
        .iter()
        .all(|stmt| matches!(&stmt.kind, StmtKind::Inst(inst) if inst.defined_tile() != Some(*src)));
    let bytes = kernel.tiles.get(src.index())?.dtype == DataType::Int(IntType { signed: true, bits: 8 });
    (*dst == b && *src != b && quiet && bytes).then_some(*src)
}

/// The `LoadGlobal` of `codes` before the cast at `cast_index`, when the dot at `dot_index` may perform it:
/// `codes` has no other use, and nothing between the load and the dot is a statement other than an
/// instruction, stores to global memory, or redefines the view.
fn fusable_load(
    body: &[Stmt],
    codes: TileId,
    cast_index: usize,
    dot_index: usize,
    uses: &HashMap<TileId, usize>,
) -> Option<FusedLoad> {
    if uses.get(&codes).copied() != Some(2) {
        return None;
    }
    let load_index = body[..cast_index].iter().rposition(
        |stmt| !matches!(&stmt.kind, StmtKind::Inst(inst) if inst.defined_tile() != Some(codes)),
    )?;
    let StmtKind::Inst(Inst::LoadGlobal { dst, src, offsets, dims }) = &body[load_index].kind else {
        return None;
    };
    let quiet = body[load_index + 1..dot_index].iter().all(|stmt| match &stmt.kind {
        StmtKind::Inst(Inst::StoreGlobal { .. }) => false,
        StmtKind::Inst(Inst::ViewGlobal { dst: view, .. }) => view != src,
        StmtKind::Inst(_) => true,
        _ => false,
    });
    (*dst == codes && quiet).then(|| FusedLoad { src: *src, offsets: offsets.clone(), dims: dims.clone() })
}

/// Whether `dst = acc + a · b` with `a` of the codes' shape `[M, K]` and `b`, `acc`, `dst` of `dtype` (the
/// type `a` is cast to) suits the fused vector dot.
fn fusable_dot(kernel: &Kernel, dtype: DataType, dst: TileId, codes: TileId, b: TileId, acc: TileId) -> bool {
    let decl = |tile: TileId| kernel.tiles.get(tile.index());
    let (Some(dst_decl), Some(codes_decl), Some(b_decl), Some(acc_decl)) =
        (decl(dst), decl(codes), decl(b), decl(acc))
    else {
        return false;
    };
    let [rows, depth] = codes_decl.layout.shape()[..] else { return false };
    // The integer dot unrolls its K loop (`byte_dot`), so its depth is bounded.
    let depth_fits = dtype != DataType::I32 || depth <= super::byte_dot::MAX_DEPTH;
    depth_fits
        && [dst_decl, b_decl, acc_decl].iter().all(|decl| decl.dtype == dtype)
        && dst != b
        && depth > 0
        && depth.is_multiple_of(16)
        && b_decl.layout.shape() == [depth, 1]
        && dst_decl.layout.shape() == [rows, 1]
        && acc_decl.layout.shape() == [rows, 1]
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
            _ => {}
        }
    }
}

/// Whether the last statement before `body[index]` that touches `tile` is an `AllocRegister` of it filling
/// zeros (the integer dot's accumulator is i32), with only plain instructions in between.
fn zero_filled_before(body: &[Stmt], tile: TileId, index: usize) -> bool {
    for stmt in body[..index].iter().rev() {
        let StmtKind::Inst(inst) = &stmt.kind else { return false };
        if !tiles_of(inst).contains(&tile) {
            continue;
        }
        // No `init` fills zero bits, which is the integer 0 (the `.tile` front end's `zeros`).
        return matches!(
            inst,
            Inst::AllocRegister { dst, init: None | Some(Expr { kind: ExprKind::Const(0), .. }) } if *dst == tile
        );
    }
    false
}

/// Every register tile an instruction reads or writes.
pub(super) fn tiles_of(inst: &Inst) -> Vec<TileId> {
    let mut tiles: Vec<TileId> = inst.defined_tile().into_iter().collect();
    tiles.extend(inst.read_tiles());
    tiles
}

#[cfg(test)]
mod tests {
    use tilevm_vm::ir::{KernelBuilder, Operand};
    use tilevm_vm::layout::local;

    use super::*;

    /// Loads u4 codes `[4, 32]`, casts them, loads x, and takes the dot; `second_reader` adds another use of
    /// the f32 tile.
    fn kernel(second_reader: bool) -> (Kernel, TileId, TileId) {
        let u4 = DataType::Int(IntType { signed: false, bits: 4 });
        let mut builder = KernelBuilder::new("fusable", 1);
        let w = builder.global_param("w", u4, false);
        let x = builder.global_param("x", DataType::F32, false);
        builder.grid(vec![Expr::u32(1)]);
        let pair = |a: u32, b: u32| vec![Expr::u32(a), Expr::u32(b)];
        let w_view = builder.view_global("w", w, u4, pair(4, 32), pair(32, 1), Expr::u32(0));
        let x_view = builder.view_global("x", x, DataType::F32, pair(32, 1), pair(1, 1), Expr::u32(0));
        let codes = builder.tile("codes", u4, local(&[4, 32]).unwrap());
        let values = builder.tile("values", DataType::F32, local(&[4, 32]).unwrap());
        let x_tile = builder.tile("x", DataType::F32, local(&[32, 1]).unwrap());
        let y = builder.tile("y", DataType::F32, local(&[4, 1]).unwrap());
        let origin = pair(0, 0);
        builder.inst(Inst::LoadGlobal { dst: codes, src: w_view, offsets: origin.clone(), dims: vec![0, 1] });
        builder.inst(Inst::Cast { dst: values, src: codes, rounding: Rounding::NearestEven });
        builder.inst(Inst::LoadGlobal { dst: x_tile, src: x_view, offsets: origin, dims: vec![0, 1] });
        builder.inst(Inst::AllocRegister { dst: y, init: Some(Expr::f32(0.0)) });
        builder.inst(Inst::Dot { dst: y, a: values, b: x_tile, acc: y });
        if second_reader {
            let copy = builder.tile("copy", DataType::F32, local(&[4, 32]).unwrap());
            builder.inst(Inst::Elementwise {
                dst: copy,
                op: tilevm_vm::ir::ElementwiseOp::Unary(tilevm_vm::ir::UnaryOp::Neg),
                operands: vec![Operand::Tile(values)],
            });
        }
        (builder.finish(), codes, values)
    }

    #[test]
    fn a_load_cast_dot_chain_fuses_and_a_second_reader_prevents_it() {
        let (fusable, codes, values) = kernel(false);
        let fusions = Fusions::analyse(&fusable);
        assert_eq!(fusions.codes_of(values).map(|(tile, _)| tile), Some(codes));
        assert!(fusions.load_of(codes).is_some());
        let (shared, _, values) = kernel(true);
        let fusions = Fusions::analyse(&shared);
        assert!(fusions.codes_of(values).is_none());
        assert!(fusions.load_of(codes).is_none());
    }

    /// `acc = init; acc = acc + i32(u4 codes) . i32(i8 codes)`, with `reader` reading `acc` between the fill
    /// and the dot.
    fn integer_dot(init: Option<Expr>, reader: bool) -> (Kernel, TileId) {
        let u4 = DataType::Int(IntType { signed: false, bits: 4 });
        let mut builder = KernelBuilder::new("integer", 1);
        let w = builder.global_param("w", u4, false);
        let q = builder.global_param("q", DataType::I8, false);
        builder.grid(vec![Expr::u32(1)]);
        let pair = |a: u32, b: u32| vec![Expr::u32(a), Expr::u32(b)];
        let w_view = builder.view_global("w", w, u4, pair(4, 32), pair(32, 1), Expr::u32(0));
        let q_view = builder.view_global("q", q, DataType::I8, pair(32, 1), pair(1, 1), Expr::u32(0));
        let codes = builder.tile("codes", u4, local(&[4, 32]).unwrap());
        let ints = builder.tile("ints", DataType::I32, local(&[4, 32]).unwrap());
        let q_codes = builder.tile("q8", DataType::I8, local(&[32, 1]).unwrap());
        let q_ints = builder.tile("q", DataType::I32, local(&[32, 1]).unwrap());
        let acc = builder.tile("acc", DataType::I32, local(&[4, 1]).unwrap());
        let copy = builder.tile("copy", DataType::I32, local(&[4, 1]).unwrap());
        builder.inst(Inst::AllocRegister { dst: acc, init });
        if reader {
            builder.inst(Inst::Assign { dst: copy, src: acc });
        }
        builder.inst(Inst::LoadGlobal { dst: codes, src: w_view, offsets: pair(0, 0), dims: vec![0, 1] });
        builder.inst(Inst::Cast { dst: ints, src: codes, rounding: Rounding::NearestEven });
        builder.inst(Inst::LoadGlobal { dst: q_codes, src: q_view, offsets: pair(0, 0), dims: vec![0, 1] });
        builder.inst(Inst::Cast { dst: q_ints, src: q_codes, rounding: Rounding::NearestEven });
        builder.inst(Inst::Dot { dst: acc, a: ints, b: q_ints, acc });
        (builder.finish(), acc)
    }

    #[test]
    fn a_zero_fill_right_before_a_fused_integer_dot_is_left_to_the_dot() {
        // An explicit 0, or no `init` (zero bits, as `.tile`'s `zeros` allocates).
        for init in [Some(Expr::i32(0)), None] {
            let (direct, acc) = integer_dot(init.clone(), false);
            assert!(Fusions::analyse(&direct).zero_accumulator(acc), "{init:?}");
            let (read_between, acc) = integer_dot(init, true);
            assert!(!Fusions::analyse(&read_between).zero_accumulator(acc));
        }
        let (ones, acc) = integer_dot(Some(Expr::i32(1)), false);
        assert!(!Fusions::analyse(&ones).zero_accumulator(acc), "a fill of ones is kept");
    }
}
