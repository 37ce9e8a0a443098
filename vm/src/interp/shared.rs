//! A block's shared memory: LIFO allocation against the kernel's limit, element storage through the
//! tile's shared layout, and the race bookkeeping of every element.
//!
//! A tile's storage is `layout.size()` elements of `dtype.bits()` bits, counted against the limit rounded
//! up to 32-bit words. Elements never written (and not initialised at allocation) are undefined: reading one
//! is an error. An initialised allocation is complete when `alloc_shared` ends (a backend follows the
//! initialisation with a barrier), so its values may be read by any thread without a `sync`.

use super::races::{ElementAccess, Race, Threads};
use super::tiles::{MAX_TILE_ELEMENTS, element_count};
use crate::dtype::DataType;
use crate::ir::{SharedDecl, SharedId, Stmt};

/// Why a shared-memory operation failed; the caller adds the tile and the statement.
#[derive(Debug)]
pub(crate) enum SharedFault<'k> {
    OutOfBounds { index: Vec<i128>, shape: Vec<usize> },
    Uninitialized { index: Vec<usize> },
    UseAfterFree,
    NotAllocated,
    AlreadyLive,
    FreeOrder { expected: Option<SharedId> },
    Limit { needed: u64 },
    Race { race: Race<'k>, index: Vec<usize> },
    Invalid(String),
}

/// One live shared tile.
#[derive(Debug)]
struct SharedTile<'k> {
    decl: &'k SharedDecl,
    values: Vec<Option<u64>>,
    access: Vec<ElementAccess<'k>>,
    bytes: u64,
}

#[derive(Debug)]
enum Slot<'k> {
    Unallocated,
    Live(SharedTile<'k>),
    Freed,
}

/// The shared memory of one block.
#[derive(Debug)]
pub(crate) struct SharedMemory<'k> {
    slots: Vec<Slot<'k>>,
    stack: Vec<SharedId>,
    live_bytes: u64,
    limit: u32,
    epoch: u64,
}

impl<'k> SharedMemory<'k> {
    /// Empty shared memory for a kernel with `tiles` shared declarations and the given limit in bytes.
    pub fn new(tiles: usize, limit: u32) -> SharedMemory<'k> {
        SharedMemory {
            slots: (0..tiles).map(|_| Slot::Unallocated).collect(),
            stack: Vec::new(),
            live_bytes: 0,
            limit,
            epoch: 0,
        }
    }

    /// Allocates `id` (declared by `decl`), every element set to `init` when given.
    pub fn alloc(
        &mut self,
        id: SharedId,
        decl: &'k SharedDecl,
        init: Option<u64>,
    ) -> Result<(), SharedFault<'k>> {
        let size = decl.layout.size();
        if size > MAX_TILE_ELEMENTS || element_count(decl.layout.shape()).is_err() {
            return Err(SharedFault::Invalid(format!("shared tile of {size} elements is too large")));
        }
        let bits = size as u64 * u64::from(decl.dtype.bits());
        let bytes = bits.div_ceil(32) * 4;
        let slot = self
            .slots
            .get_mut(id.index())
            .ok_or_else(|| SharedFault::Invalid(format!("no shared tile {id}")))?;
        if matches!(slot, Slot::Live(_)) {
            return Err(SharedFault::AlreadyLive);
        }
        let needed = self.live_bytes + bytes;
        if needed > u64::from(self.limit) {
            return Err(SharedFault::Limit { needed });
        }
        *slot = Slot::Live(SharedTile {
            decl,
            values: vec![init; size],
            access: vec![ElementAccess::default(); size],
            bytes,
        });
        self.live_bytes = needed;
        self.stack.push(id);
        Ok(())
    }

    /// Frees `id`, which must be the most recent live allocation.
    pub fn free(&mut self, id: SharedId) -> Result<(), SharedFault<'k>> {
        self.live(id)?;
        if self.stack.last() != Some(&id) {
            return Err(SharedFault::FreeOrder { expected: self.stack.last().copied() });
        }
        self.stack.pop();
        if let Some(slot) = self.slots.get_mut(id.index()) {
            if let Slot::Live(tile) = slot {
                self.live_bytes -= tile.bytes;
            }
            *slot = Slot::Freed;
        }
        Ok(())
    }

    /// The shape and dtype of live tile `id`.
    pub fn shape(&self, id: SharedId) -> Result<(&'k [usize], DataType), SharedFault<'k>> {
        let tile =
            self.slots.get(id.index()).ok_or_else(|| SharedFault::Invalid(format!("no shared tile {id}")))?;
        match tile {
            Slot::Live(tile) => Ok((tile.decl.layout.shape(), tile.decl.dtype)),
            Slot::Freed => Err(SharedFault::UseAfterFree),
            Slot::Unallocated => Err(SharedFault::NotAllocated),
        }
    }

    /// Reads element `index` of `id` for `threads`.
    pub fn read(
        &mut self,
        id: SharedId,
        index: &[i128],
        threads: Option<Threads>,
        stmt: &'k Stmt,
    ) -> Result<u64, SharedFault<'k>> {
        let epoch = self.epoch;
        let tile = self.live(id)?;
        let (offset, index) = tile.locate(index)?;
        if let Some(threads) = threads {
            tile.access[offset]
                .read(epoch, threads, stmt)
                .map_err(|race| SharedFault::Race { race, index: index.clone() })?;
        }
        tile.values[offset].ok_or(SharedFault::Uninitialized { index })
    }

    /// Writes `code` to element `index` of `id` for `threads` (`asynchronous` for `copy_async`).
    pub fn write(
        &mut self,
        id: SharedId,
        index: &[i128],
        code: u64,
        threads: Option<Threads>,
        stmt: &'k Stmt,
        asynchronous: bool,
    ) -> Result<(), SharedFault<'k>> {
        let epoch = self.epoch;
        let tile = self.live(id)?;
        let (offset, index) = tile.locate(index)?;
        if let Some(threads) = threads {
            tile.access[offset]
                .write(epoch, threads, stmt, asynchronous)
                .map_err(|race| SharedFault::Race { race, index })?;
        }
        tile.values[offset] = Some(code);
        Ok(())
    }

    /// `sync`: starts a new epoch.
    pub fn sync(&mut self) {
        self.epoch += 1;
    }

    /// `copy_wait`: every pending asynchronous copy has landed.
    pub fn copy_wait(&mut self) {
        for slot in &mut self.slots {
            if let Slot::Live(tile) = slot {
                tile.access.iter_mut().for_each(ElementAccess::land_copy);
            }
        }
    }

    fn live(&mut self, id: SharedId) -> Result<&mut SharedTile<'k>, SharedFault<'k>> {
        match self.slots.get_mut(id.index()) {
            Some(Slot::Live(tile)) => Ok(tile),
            Some(Slot::Freed) => Err(SharedFault::UseAfterFree),
            Some(Slot::Unallocated) => Err(SharedFault::NotAllocated),
            None => Err(SharedFault::Invalid(format!("no shared tile {id}"))),
        }
    }
}

impl SharedTile<'_> {
    /// The storage offset of a logical index, checked against the shape and the storage.
    fn locate<'f>(&self, index: &[i128]) -> Result<(usize, Vec<usize>), SharedFault<'f>> {
        let shape = self.decl.layout.shape();
        let out_of_bounds = || SharedFault::OutOfBounds { index: index.to_vec(), shape: shape.to_vec() };
        if index.len() != shape.len() {
            return Err(out_of_bounds());
        }
        let mut logical = Vec::with_capacity(index.len());
        for (&coordinate, &extent) in index.iter().zip(shape) {
            match usize::try_from(coordinate) {
                Ok(coordinate) if coordinate < extent => logical.push(coordinate),
                _ => return Err(out_of_bounds()),
            }
        }
        let offset =
            self.decl.layout.offset(&logical).map_err(|error| SharedFault::Invalid(error.to_string()))?;
        if offset >= self.values.len() {
            return Err(SharedFault::Invalid(format!(
                "shared layout maps {logical:?} to offset {offset}, outside its {} elements",
                self.values.len()
            )));
        }
        Ok((offset, logical))
    }
}
