//! Layout and shape checks: thread counts, ranks, and the shape rule of every instruction.

use std::collections::HashMap;

use super::{Location, Report, shape_text, walk_insts};
use crate::ir::{Expr, ExprKind, GlobalId, Inst, Kernel, Operand, TileId};

/// Records every layout and shape error of `report`'s kernel.
pub(crate) fn check(report: &mut Report<'_>) {
    let kernel = report.kernel;
    if kernel.num_threads == 0 {
        report.error(Location::Kernel, "a kernel needs at least one thread per block");
    }
    for (index, tile) in kernel.tiles.iter().enumerate() {
        let threads = tile.layout.num_threads();
        if threads != kernel.num_threads as usize {
            report.error(
                Location::Tile(TileId(index as u32)),
                format!(
                    "the layout of `{}` spans {threads} threads but the kernel has {} threads per block",
                    tile.name, kernel.num_threads
                ),
            );
        }
    }
    let ranks = view_ranks(report);
    walk_insts(&kernel.body, &mut |inst, location| {
        let mut problems = Vec::new();
        check_inst(kernel, &ranks, inst, &mut problems);
        for problem in problems {
            report.error(location.clone(), problem);
        }
    });
}

/// The rank of every global view defined by a `ViewGlobal`, checking that each definition is consistent.
fn view_ranks(report: &mut Report<'_>) -> HashMap<GlobalId, usize> {
    let kernel = report.kernel;
    let mut ranks = HashMap::new();
    walk_insts(&kernel.body, &mut |inst, location| {
        let Inst::ViewGlobal { dst, shape, strides, .. } = inst else { return };
        if shape.len() != strides.len() {
            report.error(
                location.clone(),
                format!("view {dst} has {} extents but {} strides", shape.len(), strides.len()),
            );
        }
        if shape.is_empty() {
            report.error(location, format!("view {dst} needs rank 1 or more"));
            return;
        }
        match ranks.get(dst) {
            Some(&rank) if rank != shape.len() => report.error(
                location,
                format!("view {dst} is defined with rank {} here and rank {rank} elsewhere", shape.len()),
            ),
            Some(_) => {}
            None => {
                ranks.insert(*dst, shape.len());
            }
        }
    });
    ranks
}

fn check_inst(kernel: &Kernel, ranks: &HashMap<GlobalId, usize>, inst: &Inst, problems: &mut Vec<String>) {
    let shape = |tile: TileId| kernel.tile(tile).layout.shape().to_vec();
    match inst {
        Inst::LoadGlobal { dst: tile, src: global, offsets, dims }
        | Inst::StoreGlobal { dst: global, src: tile, offsets, dims } => {
            if let Some(&rank) = ranks.get(global) {
                check_view_window(
                    *global,
                    rank,
                    offsets,
                    dims,
                    shape(*tile).len(),
                    &format!("tile {tile}"),
                    problems,
                );
            }
        }
        Inst::CopyGlobalToShared { dst, src, offsets, dims } => {
            if let Some(&rank) = ranks.get(src) {
                let shared_rank = kernel.shared_tile(*dst).layout.shape().len();
                check_view_window(
                    *src,
                    rank,
                    offsets,
                    dims,
                    shared_rank,
                    &format!("shared tile {dst}"),
                    problems,
                );
            }
        }
        Inst::LoadShared { dst: tile, src: shared, offsets }
        | Inst::StoreShared { dst: shared, src: tile, offsets } => {
            let outer = kernel.shared_tile(*shared).layout.shape().to_vec();
            check_window(&format!("shared tile {shared}"), &outer, &shape(*tile), offsets, problems);
        }
        Inst::Slice { dst, src, offsets } => {
            check_window(&format!("tile {src}"), &shape(*src), &shape(*dst), offsets, problems);
        }
        Inst::View { dst, src } => {
            let (from, to) = (&kernel.tile(*src), &kernel.tile(*dst));
            let from_threads = from.layout.num_threads();
            let to_threads = to.layout.num_threads();
            if from_threads != to_threads {
                problems.push(format!(
                    "view of {src} as {dst} changes the thread count from {from_threads} to {to_threads}"
                ));
            }
            let from_bits = from.layout.local_size() as u64 * u64::from(from.dtype.bits());
            let to_bits = to.layout.local_size() as u64 * u64::from(to.dtype.bits());
            if from_bits != to_bits {
                problems.push(format!(
                    "view of {src} as {dst} needs equal bits per thread: {} slots x {} bits = {from_bits} vs {} \
                     slots x {} bits = {to_bits}",
                    from.layout.local_size(),
                    from.dtype.bits(),
                    to.layout.local_size(),
                    to.dtype.bits()
                ));
            }
        }
        Inst::Cast { dst, src, .. } | Inst::Assign { dst, src } => {
            if shape(*dst) != shape(*src) {
                problems.push(format!(
                    "shape mismatch: {dst} is {} but {src} is {}",
                    shape_text(&shape(*dst)),
                    shape_text(&shape(*src))
                ));
            }
        }
        Inst::Broadcast { dst, src } => {
            if !broadcasts_to(&shape(*src), &shape(*dst)) {
                problems.push(format!(
                    "shape mismatch: {src} of shape {} does not broadcast to {dst} of shape {}",
                    shape_text(&shape(*src)),
                    shape_text(&shape(*dst))
                ));
            }
        }
        Inst::Elementwise { dst, operands, .. } => {
            for operand in operands {
                if let Operand::Tile(tile) = operand
                    && !broadcasts_to(&shape(*tile), &shape(*dst))
                {
                    problems.push(format!(
                        "shape mismatch: elementwise operand {tile} of shape {} does not broadcast to {dst} of \
                         shape {}",
                        shape_text(&shape(*tile)),
                        shape_text(&shape(*dst))
                    ));
                }
            }
        }
        Inst::Iota { dst, dim } => {
            if *dim >= shape(*dst).len() {
                problems.push(format!(
                    "iota dimension {dim} does not exist in {dst} of rank {}",
                    shape(*dst).len()
                ));
            }
        }
        Inst::Dot { dst, a, b, acc } => check_dot(kernel, *dst, *a, *b, *acc, problems),
        Inst::Reduce { dst, src, dim, .. } => {
            let from = shape(*src);
            if *dim >= from.len() {
                problems
                    .push(format!("reduce dimension {dim} does not exist in {src} of rank {}", from.len()));
                return;
            }
            let mut removed = from.clone();
            removed.remove(*dim);
            let mut kept = from.clone();
            kept[*dim] = 1;
            let to = shape(*dst);
            if to != removed && to != kept {
                problems.push(format!(
                    "shape mismatch: reducing {src} of shape {} along {dim} gives {} or {}, but {dst} is {}",
                    shape_text(&from),
                    shape_text(&removed),
                    shape_text(&kept),
                    shape_text(&to)
                ));
            }
        }
        Inst::Permute { dst, src, dims } => {
            let from = shape(*src);
            let mut sorted = dims.clone();
            sorted.sort_unstable();
            if sorted != (0..from.len()).collect::<Vec<_>>() {
                problems.push(format!(
                    "permute of {src} (rank {}) needs a permutation, not {dims:?}",
                    from.len()
                ));
                return;
            }
            let permuted: Vec<usize> = dims.iter().map(|&dim| from[dim]).collect();
            if shape(*dst) != permuted {
                problems.push(format!(
                    "shape mismatch: permuting {src} by {dims:?} gives {}, but {dst} is {}",
                    shape_text(&permuted),
                    shape_text(&shape(*dst))
                ));
            }
        }
        Inst::AllocRegister { .. }
        | Inst::AllocShared { .. }
        | Inst::FreeShared { .. }
        | Inst::ViewGlobal { .. }
        | Inst::CopyWait
        | Inst::Sync
        | Inst::PrintTile { .. }
        | Inst::PrintScalars { .. }
        | Inst::Assert { .. } => {}
    }
}

fn check_dot(kernel: &Kernel, dst: TileId, a: TileId, b: TileId, acc: TileId, problems: &mut Vec<String>) {
    let shape = |tile: TileId| kernel.tile(tile).layout.shape().to_vec();
    let (a_shape, b_shape, acc_shape, dst_shape) = (shape(a), shape(b), shape(acc), shape(dst));
    let rank = dst_shape.len();
    let ranks_agree = [&a_shape, &b_shape, &acc_shape].iter().all(|shape| shape.len() == rank);
    let mismatch = format!(
        "shape mismatch in dot: {a} {} x {b} {} + {acc} {} -> {dst} {}; need [.., M, K] x [.., K, N] + [.., M, N] \
         -> [.., M, N]",
        shape_text(&a_shape),
        shape_text(&b_shape),
        shape_text(&acc_shape),
        shape_text(&dst_shape)
    );
    if rank < 2 || !ranks_agree {
        problems.push(mismatch);
        return;
    }
    let batch = rank - 2;
    let (m, n) = (dst_shape[batch], dst_shape[batch + 1]);
    let ok = a_shape[..batch] == dst_shape[..batch]
        && b_shape[..batch] == dst_shape[..batch]
        && a_shape[batch] == m
        && b_shape[batch + 1] == n
        && a_shape[batch + 1] == b_shape[batch]
        && acc_shape == dst_shape;
    if !ok {
        problems.push(mismatch);
    }
}

/// Checks `offsets`/`dims` of a load, store or copy between a view of rank `view_rank` and a tile.
fn check_view_window(
    global: GlobalId,
    view_rank: usize,
    offsets: &[Expr],
    dims: &[usize],
    tile_rank: usize,
    tile: &str,
    problems: &mut Vec<String>,
) {
    if offsets.len() != view_rank {
        problems.push(format!("view {global} has rank {view_rank} but {} offsets are given", offsets.len()));
    }
    if dims.len() != tile_rank {
        problems.push(format!("{tile} has rank {tile_rank} but {} view dimensions are listed", dims.len()));
    }
    if dims.windows(2).any(|pair| pair[0] >= pair[1]) || dims.iter().any(|&dim| dim >= view_rank) {
        problems.push(format!(
            "view dimensions {dims:?} must be distinct, increasing and below the rank {view_rank} of view {global}"
        ));
    }
}

/// Checks a window of `inner` shape at `offsets` inside `outer` (ranks, sizes, and constant offsets).
fn check_window(
    outer_name: &str,
    outer: &[usize],
    inner: &[usize],
    offsets: &[Expr],
    problems: &mut Vec<String>,
) {
    if inner.len() != outer.len() || offsets.len() != outer.len() {
        problems.push(format!(
            "a window of {outer_name} (rank {}) needs its rank and as many offsets: got shape {} and {} offsets",
            outer.len(),
            shape_text(inner),
            offsets.len()
        ));
        return;
    }
    for (dim, ((&extent, &size), offset)) in outer.iter().zip(inner).zip(offsets).enumerate() {
        let start = constant(offset).unwrap_or(0);
        if size > extent || start < 0 || start.saturating_add(size as i128) > extent as i128 {
            problems.push(format!(
                "a window of shape {} does not fit in {outer_name} of shape {} along dimension {dim}",
                shape_text(inner),
                shape_text(outer)
            ));
            return;
        }
    }
}

/// The value of a constant integer expression (signed dtypes sign-extended).
fn constant(expr: &Expr) -> Option<i128> {
    let ExprKind::Const(code) = expr.kind else { return None };
    let crate::dtype::DataType::Int(int) = expr.dtype else { return None };
    let bits = u32::from(int.bits).min(64);
    if int.signed && bits > 0 && bits < 128 {
        let shift = 128 - bits;
        Some((i128::from(code) << shift) >> shift)
    } else {
        Some(i128::from(code))
    }
}

/// Whether `from` broadcasts to `to` (trailing alignment; size-1 dimensions stretch).
fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len()
        && from.iter().rev().zip(to.iter().rev()).all(|(&source, &target)| source == target || source == 1)
}
