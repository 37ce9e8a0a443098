//! Prints of backends that run blocks in parallel. Each `print` instruction of a kernel is a numbered
//! [`PrintSite`]; a backend hands the values one block printed to a [`PrintLog`] as codes, and
//! [`PrintLog::lines`] formats them as the interpreter does, in the interpreter's order (blocks x
//! fastest, then y, then z; a block's prints in the order it ran them), so every backend prints the
//! same text.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::print::{format_scalars, format_tile};
use super::tiles::RegisterTile;
use crate::dtype::DataType;
use crate::ir::{Inst, Kernel};
use crate::verify::walk_insts;

/// The most prints one launch keeps; the rest are counted and reported in one last line.
pub const MAX_PRINTS_PER_LAUNCH: usize = 1 << 20;

/// One `print` instruction: its label and what it prints.
#[derive(Clone, Debug, PartialEq)]
pub struct PrintSite {
    /// The label printed first.
    pub label: String,
    /// The values.
    pub values: PrintValues,
}

/// What a print site prints.
#[derive(Clone, Debug, PartialEq)]
pub enum PrintValues {
    /// Block-uniform scalars of these dtypes (`print("n", n, i)`).
    Scalars(Vec<DataType>),
    /// A register tile: its dtype and logical shape (codes row-major).
    Tile {
        /// Element dtype.
        dtype: DataType,
        /// Logical shape.
        shape: Vec<usize>,
    },
}

/// The print sites of a kernel, numbered in pre-order of the body.
#[derive(Clone, Debug, Default)]
pub struct PrintSites {
    sites: Vec<PrintSite>,
    /// The address of each site's instruction in the kernel the table was made from.
    addresses: Vec<usize>,
}

impl PrintSites {
    /// The print sites of `kernel`.
    pub fn of(kernel: &Kernel) -> PrintSites {
        let mut table = PrintSites::default();
        walk_insts(&kernel.body, &mut |inst, _| {
            let site = match inst {
                Inst::PrintScalars { label, values } => PrintSite {
                    label: label.clone(),
                    values: PrintValues::Scalars(values.iter().map(|value| value.dtype).collect()),
                },
                Inst::PrintTile { label, tile } => {
                    let Some(decl) = kernel.tiles.get(tile.index()) else { return };
                    PrintSite {
                        label: label.clone(),
                        values: PrintValues::Tile { dtype: decl.dtype, shape: decl.layout.shape().to_vec() },
                    }
                }
                _ => return,
            };
            table.sites.push(site);
            table.addresses.push(std::ptr::from_ref(inst) as usize);
        });
        table
    }

    /// The number of `inst`, an instruction of the kernel this table was made from.
    pub fn index_of(&self, inst: &Inst) -> Option<u32> {
        let address = std::ptr::from_ref(inst) as usize;
        self.addresses.iter().position(|&site| site == address).map(|index| index as u32)
    }

    /// The site numbered `index`.
    pub fn get(&self, index: u32) -> Option<&PrintSite> {
        self.sites.get(index as usize)
    }

    /// Whether the kernel prints at all.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }
}

/// What one block printed at one site.
#[derive(Clone, Debug)]
struct Record {
    /// The block's position in the interpreter's order.
    block_order: u64,
    block: [u32; 3],
    /// Orders a block's own prints (blocks print from one thread each, in order).
    sequence: u64,
    site: u32,
    codes: Vec<u64>,
}

/// The prints of one launch, recorded from any thread.
#[derive(Debug)]
pub struct PrintLog {
    sites: PrintSites,
    grid: [u32; 3],
    records: Mutex<Vec<Record>>,
    sequence: AtomicU64,
    dropped: AtomicU64,
}

impl PrintLog {
    /// An empty log for a launch of a kernel with `sites` over `grid`.
    pub fn new(sites: PrintSites, grid: [u32; 3]) -> PrintLog {
        PrintLog {
            sites,
            grid,
            records: Mutex::new(Vec::new()),
            sequence: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Records that `block` printed `codes` (one per scalar, or the tile's elements row-major) at
    /// site `site`. A block's prints must be recorded in the order it ran them.
    pub fn record(&self, block: [u32; 3], site: u32, codes: Vec<u64>) {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let [gx, gy, _] = self.grid.map(u64::from);
        let block_order = u64::from(block[0]) + gx * (u64::from(block[1]) + gy * u64::from(block[2]));
        let mut records = self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if records.len() >= MAX_PRINTS_PER_LAUNCH {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        records.push(Record { block_order, block, sequence, site, codes });
    }

    /// The sites this log formats.
    pub fn sites(&self) -> &PrintSites {
        &self.sites
    }

    /// The lines printed so far, in the interpreter's order; the log is empty afterwards.
    pub fn take_lines(&self) -> Vec<String> {
        let mut records =
            std::mem::take(&mut *self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        records.sort_by_key(|record| (record.block_order, record.sequence));
        let mut lines: Vec<String> = records
            .into_iter()
            .filter_map(|record| {
                let site = self.sites.get(record.site)?;
                Some(match &site.values {
                    PrintValues::Scalars(dtypes) => {
                        let values: Vec<(DataType, u64)> =
                            dtypes.iter().zip(&record.codes).map(|(&dtype, &code)| (dtype, code)).collect();
                        format_scalars(record.block, &site.label, &values)
                    }
                    PrintValues::Tile { dtype, shape } => {
                        let tile = RegisterTile { dtype: *dtype, shape: shape.clone(), codes: record.codes };
                        format_tile(record.block, &site.label, &tile)
                    }
                })
            })
            .collect();
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            lines.push(format!("... {dropped} more prints dropped (a launch keeps {MAX_PRINTS_PER_LAUNCH})"));
        }
        lines
    }
}
