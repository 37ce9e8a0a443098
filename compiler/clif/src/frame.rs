//! The per-block scratch memory: where each register tile, shared tile and temporary lives.
//!
//! Every register tile gets its own array of element slots in logical row-major order, every shared tile an
//! array indexed by its layout's offsets. Elements are stored one per slot of [`slot_type`] (codes for
//! storage dtypes, native values for `f32`), not bit-packed: nothing observes the packing of on-chip tiles
//! except `View`, which the lowerer implements explicitly. Two temporaries serve instructions whose
//! destination is also a source, and the thread-order streams of `View`.

use cranelift_codegen::ir::{Type, types};
use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{Inst, Kernel, SharedId, Stmt, StmtKind, TileId};

use super::{ClifError, ClifResult};

/// The most scratch memory one block may use.
pub const MAX_SCRATCH_BYTES: u64 = 256 << 20;

/// Offsets of everything a block keeps in scratch memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    tile_offsets: Vec<u32>,
    shared_offsets: Vec<u32>,
    temp_offsets: [u32; 2],
    size: u32,
}

/// The Cranelift type one element of `dtype` occupies in a tile: `i8` for `bool` and codes up to 8 bits,
/// `i16`/`i32`/`i64` for wider codes, `f32` for `f32` values (`f16` and `bf16` stay codes).
pub fn slot_type(dtype: DataType) -> Type {
    if dtype == DataType::F32 {
        return types::F32;
    }
    match dtype.bits() {
        0..=8 => types::I8,
        9..=16 => types::I16,
        17..=32 => types::I32,
        _ => types::I64,
    }
}

/// Number of elements of a shape.
pub fn element_count(shape: &[usize]) -> u64 {
    shape.iter().map(|&extent| extent as u64).product()
}

impl Frame {
    /// Lays out the scratch memory of `kernel`.
    ///
    /// # Errors
    /// [`ClifError::Limit`] when the block would need more than [`MAX_SCRATCH_BYTES`].
    pub fn plan(kernel: &Kernel) -> ClifResult<Frame> {
        let mut size: u64 = 0;
        let mut place = |bytes: u64| -> ClifResult<u32> {
            let offset = size;
            size = (size + bytes + 15) & !15;
            if size > MAX_SCRATCH_BYTES {
                return Err(ClifError::Limit(format!(
                    "kernel `{}` needs more than {MAX_SCRATCH_BYTES} bytes of scratch memory per block",
                    kernel.name
                )));
            }
            Ok(offset as u32)
        };
        let mut largest_temp: u64 = 16;
        let mut tile_offsets = Vec::with_capacity(kernel.tiles.len());
        for tile in &kernel.tiles {
            let bytes = element_count(tile.layout.shape()) * u64::from(slot_type(tile.dtype).bytes());
            largest_temp = largest_temp.max(bytes);
            tile_offsets.push(place(bytes)?);
        }
        let mut shared_offsets = Vec::with_capacity(kernel.shared.len());
        for shared in &kernel.shared {
            let bytes = shared.layout.size() as u64 * u64::from(slot_type(shared.dtype).bytes());
            shared_offsets.push(place(bytes)?);
        }
        // `View` streams hold threads * local slots elements, replicas included.
        let mut views = Vec::new();
        collect_views(&kernel.body, &mut views);
        for (dst, src) in &views {
            for tile in [dst, src] {
                let Some(decl) = kernel.tiles.get(tile.index()) else { continue };
                let slots = decl.layout.num_threads() as u64 * decl.layout.local_size() as u64;
                largest_temp = largest_temp.max(slots * u64::from(slot_type(decl.dtype).bytes()));
            }
        }
        let temp_offsets = [place(largest_temp)?, place(largest_temp)?];
        Ok(Frame { tile_offsets, shared_offsets, temp_offsets, size: size as u32 })
    }

    /// Byte offset of a register tile's first element.
    pub fn tile(&self, tile: TileId) -> ClifResult<u32> {
        self.tile_offsets
            .get(tile.index())
            .copied()
            .ok_or_else(|| ClifError::Malformed(format!("undeclared register tile {tile}")))
    }

    /// Byte offset of a shared tile's first slot.
    pub fn shared(&self, shared: SharedId) -> ClifResult<u32> {
        self.shared_offsets
            .get(shared.index())
            .copied()
            .ok_or_else(|| ClifError::Malformed(format!("undeclared shared tile {shared}")))
    }

    /// Byte offset of temporary `which` (0 or 1); each is as large as the largest tile or `View` stream.
    pub fn temp(&self, which: usize) -> u32 {
        self.temp_offsets[which.min(1)]
    }

    /// Total bytes, a multiple of 16.
    pub fn size_bytes(&self) -> usize {
        self.size as usize
    }
}

fn collect_views(body: &[Stmt], views: &mut Vec<(TileId, TileId)>) {
    for stmt in body {
        match &stmt.kind {
            StmtKind::Inst(Inst::View { dst, src }) => views.push((*dst, *src)),
            StmtKind::For { body, .. } | StmtKind::While { body, .. } => collect_views(body, views),
            StmtKind::If { then_body, else_body, .. } => {
                collect_views(then_body, views);
                collect_views(else_body, views);
            }
            _ => {}
        }
    }
}
