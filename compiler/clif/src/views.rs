//! `View`: the one instruction defined per thread, lowered through the register layouts' `map`.
//!
// Each thread concatenates the codes of its local slots (slot 0 lowest) and splits the bits into its
// slots of the destination. Laying the threads' bit strings end to end gives one *stream* per tile,
// thread-major, and the view becomes a reinterpretation of the whole stream: destination element `j` of
// the stream holds stream bits `[j*bd, j*bd + bd)`. The stream is cut into groups of `lcm(bs, bd)` bits
// (an integral number per thread, since every thread holds `Ls*bs == Ld*bd` bits); a loop runs over the
// groups and the shifts inside one group are unrolled.
//
// When a layout is *thread-major* (slot `l` of thread `t` holds logical element `t*L + l`, no replicas),
// its tile already is its stream. Otherwise the elements are gathered into (or scattered from) a stream in
// a frame temporary by straight-line code generated from `map` at compile time.

use cranelift_codegen::ir::{InstBuilder, Value, types};
use tilevm_vm::ir::{RegisterLayout, TileId};

use super::frame::slot_type;
use super::lowerer::{ClifLowerer, from_u64_bits, mem, to_u64_bits};
use super::tiles::TileRef;
use super::{ClifError, ClifResult};

/// The most elements a non-thread-major `View` may gather or scatter with straight-line code.
const MAX_UNROLLED_ELEMENTS: usize = 1 << 16;

impl ClifLowerer<'_> {
    /// `View` of `src` as `dst` (`CpuOp::View`: whether each side is already in thread order).
    pub(super) fn view(
        &mut self,
        dst: TileId,
        src: TileId,
        src_in_order: bool,
        dst_in_order: bool,
    ) -> ClifResult<()> {
        let dst_layout = self.layout(dst)?;
        let src_layout = self.layout(src)?;
        let dst_tile = self.tile_ref(dst)?;
        let src_tile = self.tile_ref(src)?;
        let threads = src_layout.num_threads();
        let src_bits = src_tile.dtype.bits() as usize;
        let dst_bits = dst_tile.dtype.bits() as usize;
        if dst_layout.num_threads() != threads
            || src_layout.local_size() * src_bits != dst_layout.local_size() * dst_bits
        {
            return Err(ClifError::Malformed(format!("view {dst} = {src} with mismatched threads or bits")));
        }
        let src_stream_len = threads * src_layout.local_size();
        let dst_stream_len = threads * dst_layout.local_size();
        let src_stream = if src_in_order {
            src_tile.clone()
        } else {
            let stream =
                TileRef { offset: self.frame.temp(0), dtype: src_tile.dtype, shape: vec![src_stream_len] };
            self.gather(&src_layout, &src_tile, &stream)?;
            stream
        };
        let dst_direct = dst_in_order;
        let dst_stream = if dst_direct {
            dst_tile.clone()
        } else {
            TileRef { offset: self.frame.temp(1), dtype: dst_tile.dtype, shape: vec![dst_stream_len] }
        };
        self.reinterpret_stream(&src_stream, src_stream_len, &dst_stream)?;
        if !dst_direct {
            self.scatter(&dst_layout, &dst_stream, &dst_tile)?;
        }
        Ok(())
    }

    fn layout(&self, tile: TileId) -> ClifResult<RegisterLayout> {
        self.kernel
            .tiles
            .get(tile.index())
            .map(|decl| decl.layout.clone())
            .ok_or_else(|| ClifError::Malformed(format!("undeclared register tile {tile}")))
    }

    /// `stream[t*L + l] = tile[map(t, l)]`.
    fn gather(&mut self, layout: &RegisterLayout, tile: &TileRef, stream: &TileRef) -> ClifResult<()> {
        self.copy_slots(layout, tile, stream, SlotCopy::TileToStream)
    }

    /// `tile[map(t, l)] = stream[t*L + l]` (replicas write equal values).
    fn scatter(&mut self, layout: &RegisterLayout, stream: &TileRef, tile: &TileRef) -> ClifResult<()> {
        self.copy_slots(layout, tile, stream, SlotCopy::StreamToTile)
    }

    /// Copies every element between its logical place in `tile` and its (thread, slot) place in `stream`.
    fn copy_slots(
        &mut self,
        layout: &RegisterLayout,
        tile: &TileRef,
        stream: &TileRef,
        direction: SlotCopy,
    ) -> ClifResult<()> {
        let slot = slot_type(tile.dtype);
        let bytes = slot.bytes() as usize;
        for (position, logical) in stream_positions(layout, &tile.shape)?.into_iter().enumerate() {
            let in_tile = (tile.offset as usize + logical * bytes) as i32;
            let in_stream = (stream.offset as usize + position * bytes) as i32;
            let (from, to) = match direction {
                SlotCopy::TileToStream => (in_tile, in_stream),
                SlotCopy::StreamToTile => (in_stream, in_tile),
            };
            let value = self.builder.ins().load(slot, mem(), self.scratch_ptr, from);
            self.builder.ins().store(mem(), value, self.scratch_ptr, to);
        }
        Ok(())
    }

    /// Reinterprets `count` elements of `from` as the elements of `to` (same total bits).
    fn reinterpret_stream(&mut self, from: &TileRef, count: usize, to: &TileRef) -> ClifResult<()> {
        let from_bits = from.dtype.bits() as usize;
        let to_bits = to.dtype.bits() as usize;
        let group_bits = lcm(from_bits, to_bits);
        let groups = count * from_bits / group_bits;
        let from_per_group = group_bits / from_bits;
        let to_per_group = group_bits / to_bits;
        if from_per_group + to_per_group > MAX_UNROLLED_ELEMENTS {
            return Err(ClifError::Limit(format!(
                "a view between {from_bits}-bit and {to_bits}-bit elements"
            )));
        }
        let from_slot = from.slot();
        let to_slot = to.slot();
        let from_bytes = i64::from(from_slot.bytes());
        let to_bytes = i64::from(to_slot.bytes());
        self.each_index(&[groups], &mut |lowerer, coords| {
            let from_address =
                lowerer.builder.ins().imul_imm_s(coords[0], from_bytes * from_per_group as i64);
            let from_address = lowerer.builder.ins().iadd(lowerer.scratch_ptr, from_address);
            let to_address = lowerer.builder.ins().imul_imm_s(coords[0], to_bytes * to_per_group as i64);
            let to_address = lowerer.builder.ins().iadd(lowerer.scratch_ptr, to_address);
            let mut codes: Vec<Value> = Vec::with_capacity(from_per_group);
            for k in 0..from_per_group {
                let offset = from.offset as i64 + k as i64 * from_bytes;
                let value = lowerer.builder.ins().load(from_slot, mem(), from_address, offset as i32);
                codes.push(to_u64_bits(&mut lowerer.builder, value));
            }
            for u in 0..to_per_group {
                let mut code = lowerer.builder.ins().iconst(types::I64, 0);
                let start = u * to_bits;
                let end = start + to_bits;
                let mut position = start;
                while position < end {
                    let k = position / from_bits;
                    let low = position % from_bits;
                    let take = (from_bits - low).min(end - position);
                    let piece = lowerer.builder.ins().ushr_imm_u(codes[k], low as i64);
                    let piece = if take >= 64 {
                        piece
                    } else {
                        lowerer.builder.ins().band_imm_u(piece, ((1u64 << take) - 1) as i64)
                    };
                    let piece = lowerer.builder.ins().ishl_imm_u(piece, (position - start) as i64);
                    code = lowerer.builder.ins().bor(code, piece);
                    position += take;
                }
                let value = from_u64_bits(&mut lowerer.builder, to_slot, code);
                let offset = to.offset as i64 + u as i64 * to_bytes;
                lowerer.builder.ins().store(mem(), value, to_address, offset as i32);
            }
            Ok(())
        })
    }
}

/// For each stream position `t*L + l`, the row-major logical index `map(t, l)`.
fn stream_positions(layout: &RegisterLayout, shape: &[usize]) -> ClifResult<Vec<usize>> {
    let threads = layout.num_threads();
    let locals = layout.local_size();
    if threads.saturating_mul(locals) > MAX_UNROLLED_ELEMENTS {
        return Err(ClifError::Limit(format!(
            "a view of a tile with {threads} threads x {locals} slots in a layout that is not thread-major"
        )));
    }
    let mut positions = Vec::with_capacity(threads * locals);
    for thread in 0..threads {
        for local in 0..locals {
            let index = layout
                .map(thread, local)
                .map_err(|error| ClifError::Malformed(format!("register layout: {error}")))?;
            positions.push(linearize(&index, shape));
        }
    }
    Ok(positions)
}

fn linearize(index: &[usize], shape: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (&i, &extent)| acc * extent + i)
}

/// Whether slot `l` of thread `t` holds logical element `t*L + l` for every thread and slot, with no replicas.
pub(crate) fn is_thread_major(layout: &RegisterLayout) -> bool {
    let shape = layout.shape().to_vec();
    let threads = layout.num_threads();
    let locals = layout.local_size();
    let elements: usize = shape.iter().product();
    if threads.saturating_mul(locals) != elements || elements > MAX_UNROLLED_ELEMENTS * 16 {
        return false;
    }
    (0..threads).all(|thread| {
        (0..locals).all(|local| {
            layout.map(thread, local).is_ok_and(|index| linearize(&index, &shape) == thread * locals + local)
        })
    })
}

fn lcm(a: usize, b: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    a / gcd(a, b).max(1) * b
}

/// Which way [`ClifLowerer::copy_slots`] copies.
#[derive(Clone, Copy)]
enum SlotCopy {
    TileToStream,
    StreamToTile,
}
