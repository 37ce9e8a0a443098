//! The WGSL backend's choices, made in one step before any text is written: for every instruction, which
//! of the writer's forms it takes ([`GpuOp`]), chosen by an ordered rule table over the adapter's
//! capabilities. The writer only matches on the result.
//
// The choices today: whether a global load or store moves whole words of a thread's contiguous run
// (`vector_memory`) or goes element by element, and whether a tile instruction reads each source from
// the invocation's own slots (`layout_index::local_gather`) or exchanges it through the workgroup scratch
// array, and whether float results need canonical NaNs (not where nothing reads the payloads). Rules for
// the adapter's own instructions (subgroup reductions, packed dots, native f16) go into `RULES`, gated by
// the [`GpuFeature`]s they need.

use std::fmt;

use tilevm_vm::analysis::HiddenPayloads;
use tilevm_vm::ir::{Inst, Kernel, Operand, TileId};
use tilevm_vm::layout::RegisterLayout;
use tilevm_vm::text::print_inst;

use super::GpuCaps;
use super::layout_index::local_gather;
use super::vector_memory::{RunPlan, plan_runs};

/// A capability of the adapter that a rule's emitted code needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpuFeature {
    /// `SHADER_F16`: native `f16` arithmetic.
    ShaderF16,
    /// Subgroup operations.
    Subgroups,
}

impl GpuFeature {
    fn present(self, caps: &GpuCaps) -> bool {
        match self {
            GpuFeature::ShaderF16 => caps.has_f16,
            GpuFeature::Subgroups => caps.subgroup_size.is_some(),
        }
    }
}

/// What the writer emits for one instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GpuOp {
    /// The writer's one form of this instruction.
    Direct,
    /// A global load or store.
    Global(GlobalAccess),
    /// A register-tile instruction.
    Tile(TileOp),
}

/// How a register-tile instruction reads its sources and rounds its results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileOp {
    /// Where each tile source is read from, in the order the writer reads them: operands in order; for
    /// `dot`, `a`, `b`, then `acc`.
    pub sources: Vec<Source>,
    /// What float results that are NaN look like.
    pub nans: NanResults,
}

/// The NaN results of an instruction's float arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NanResults {
    /// The canonical quiet NaN, as the interpreter gives (a check and a select per result).
    Canonical,
    /// Whatever payload the hardware gives: nothing reads the destination's payloads
    /// (`tilevm_vm::analysis::HiddenPayloads`).
    AnyPayload,
}

/// How a global load or store moves a tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalAccess {
    /// Every slot checked and moved on its own.
    PerElement,
    /// Each invocation's contiguous runs moved as whole words, `chunk` codes at a time, where a uniform
    /// check finds the view's stride 1 and the chunk in bounds (per element otherwise).
    Runs {
        /// Consecutive codes per chunk.
        chunk: usize,
        /// Words a chunk's window may touch.
        window_words: usize,
    },
}

/// Where a tile instruction reads one source from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The invocation's own slots: destination slot `l` reads slot `gather[l]` (`None`: slot `l`).
    OwnSlots {
        /// The source slot of each destination slot, when it is not the same slot.
        gather: Option<Vec<u32>>,
    },
    /// Staged through the workgroup scratch array between two barriers, read in row-major order.
    Exchange,
}

/// How a destination element's index maps to the source element it reads, when known at compile time.
#[derive(Clone, Debug)]
pub(super) enum IndexMap {
    /// The same index.
    Identity,
    /// Size-1 (and missing leading) source dimensions read coordinate 0.
    Broadcast,
    /// `src[j]` with `j[dims[d]] = i[d]`.
    Permute(Vec<usize>),
}

impl IndexMap {
    /// The source index of destination index `index`.
    pub(super) fn apply(&self, src_shape: &[usize], index: &[usize]) -> Option<Vec<usize>> {
        match self {
            IndexMap::Identity => Some(index.to_vec()),
            IndexMap::Broadcast => {
                let skip = index.len().checked_sub(src_shape.len())?;
                Some(
                    src_shape
                        .iter()
                        .enumerate()
                        .map(|(d, &extent)| if extent == 1 { 0 } else { index[d + skip] })
                        .collect(),
                )
            }
            IndexMap::Permute(dims) => {
                let mut source = vec![0; dims.len()];
                for (d, &dim) in dims.iter().enumerate() {
                    *source.get_mut(dim)? = *index.get(d)?;
                }
                Some(source)
            }
        }
    }
}

/// One way of emitting instructions.
struct GpuRule {
    name: &'static str,
    requires: &'static [GpuFeature],
    select: fn(&Cx, &Inst) -> Option<GpuOp>,
}

/// What the rules look at besides the instruction.
struct Cx<'k> {
    kernel: &'k Kernel,
    hidden_payloads: HiddenPayloads,
}

/// The rules, in the order they are tried.
const RULES: &[GpuRule] = &[
    GpuRule { name: "global-runs", requires: &[], select: global_runs },
    GpuRule { name: "global-per-element", requires: &[], select: global_per_element },
    GpuRule { name: "tile-sources", requires: &[], select: tile_sources },
    GpuRule { name: "direct", requires: &[], select: |_, _| Some(GpuOp::Direct) },
];

/// The operation of every instruction, in pre-order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuSelection {
    ops: Vec<(GpuOp, &'static str)>,
}

impl GpuSelection {
    /// The operation of instruction `index` (pre-order).
    pub fn get(&self, index: usize) -> Option<&GpuOp> {
        self.ops.get(index).map(|(op, _)| op)
    }

    /// The operations and the names of the rules that chose them, in pre-order.
    pub fn ops(&self) -> impl Iterator<Item = (&GpuOp, &'static str)> {
        self.ops.iter().map(|(op, rule)| (op, *rule))
    }
}

/// Selects an operation for every instruction of `kernel` on an adapter with `caps`.
pub fn select(kernel: &Kernel, caps: &GpuCaps) -> GpuSelection {
    let cx = Cx { kernel, hidden_payloads: HiddenPayloads::analyse(kernel) };
    let ops = kernel
        .instructions()
        .into_iter()
        .map(|inst| {
            RULES
                .iter()
                .filter(|rule| rule.requires.iter().all(|feature| feature.present(caps)))
                .find_map(|rule| (rule.select)(&cx, inst).map(|op| (op, rule.name)))
                .unwrap_or((GpuOp::Direct, "direct"))
        })
        .collect();
    GpuSelection { ops }
}

fn layout_of(kernel: &Kernel, tile: TileId) -> Option<&RegisterLayout> {
    kernel.tiles.get(tile.index()).map(|decl| &decl.layout)
}

/// The layout and code width of a global load's or store's tile, and whether it is a store.
fn global_access(kernel: &Kernel, inst: &Inst) -> Option<(RegisterLayout, u32, bool)> {
    let (tile, view, store) = match inst {
        Inst::LoadGlobal { dst, src, .. } => (*dst, *src, false),
        Inst::StoreGlobal { dst, src, .. } => (*src, *dst, true),
        _ => return None,
    };
    let bits = kernel.globals.get(view.index())?.dtype.bits();
    Some((layout_of(kernel, tile)?.clone(), bits, store))
}

/// Runs of at least two codes per invocation; stores of 32-bit codes already write one word each (and
/// measured slower in chunks on lavapipe).
fn global_runs(cx: &Cx, inst: &Inst) -> Option<GpuOp> {
    let (layout, bits, store) = global_access(cx.kernel, inst)?;
    let RunPlan { chunk, window_words } = plan_runs(&layout, bits).filter(|_| !store || bits < 32)?;
    Some(GpuOp::Global(GlobalAccess::Runs { chunk, window_words }))
}

fn global_per_element(cx: &Cx, inst: &Inst) -> Option<GpuOp> {
    global_access(cx.kernel, inst).map(|_| GpuOp::Global(GlobalAccess::PerElement))
}

/// Where each tile source of a register-tile instruction is read from.
fn tile_sources(cx: &Cx, inst: &Inst) -> Option<GpuOp> {
    let kernel = cx.kernel;
    let own_or_exchange = |dst: TileId, src: TileId, map: IndexMap| -> Option<Source> {
        let dst_layout = layout_of(kernel, dst)?;
        let src_layout = layout_of(kernel, src)?;
        let src_shape = src_layout.shape().to_vec();
        let source_of = |index: &[usize]| map.apply(&src_shape, index).unwrap_or_default();
        Some(match local_gather(dst_layout, src_layout, &source_of) {
            Some(slots) if slots.iter().enumerate().all(|(i, &slot)| i == slot) => {
                Source::OwnSlots { gather: None }
            }
            Some(slots) => Source::OwnSlots { gather: Some(slots.iter().map(|&slot| slot as u32).collect()) },
            None => Source::Exchange,
        })
    };
    let sources = match inst {
        Inst::Cast { dst, src, .. } => vec![own_or_exchange(*dst, *src, IndexMap::Identity)?],
        Inst::Elementwise { dst, operands, .. } => operands
            .iter()
            .filter_map(|operand| match operand {
                Operand::Tile(tile) => Some(own_or_exchange(*dst, *tile, IndexMap::Broadcast)),
                Operand::Scalar(_) => None,
            })
            .collect::<Option<Vec<_>>>()?,
        Inst::Permute { dst, src, dims } => {
            vec![own_or_exchange(*dst, *src, IndexMap::Permute(dims.clone()))?]
        }
        Inst::Broadcast { dst, src } => vec![own_or_exchange(*dst, *src, IndexMap::Broadcast)?],
        Inst::Assign { dst, src } if dst == src => vec![],
        Inst::Assign { dst, src } => vec![own_or_exchange(*dst, *src, IndexMap::Identity)?],
        // The window's offsets are known only at run time.
        Inst::Slice { .. } | Inst::Reduce { .. } => vec![Source::Exchange],
        Inst::Dot { dst, acc, .. } => {
            vec![Source::Exchange, Source::Exchange, own_or_exchange(*dst, *acc, IndexMap::Identity)?]
        }
        _ => return None,
    };
    let nans = match inst {
        Inst::Elementwise { dst, .. } | Inst::Dot { dst, .. } if cx.hidden_payloads.hidden(*dst) => {
            NanResults::AnyPayload
        }
        _ => NanResults::Canonical,
    };
    Some(GpuOp::Tile(TileOp { sources, nans }))
}

impl fmt::Display for GpuOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuOp::Direct => Ok(()),
            GpuOp::Global(GlobalAccess::PerElement) => write!(f, ": per element"),
            GpuOp::Global(GlobalAccess::Runs { chunk, window_words }) => {
                write!(f, ": runs of {chunk} codes ({window_words}-word windows) | per element")
            }
            GpuOp::Tile(TileOp { sources, nans }) => {
                let names: Vec<String> = sources
                    .iter()
                    .map(|source| match source {
                        Source::OwnSlots { gather: None } => "own slots".to_string(),
                        Source::OwnSlots { gather: Some(_) } => "own slots (gathered)".to_string(),
                        Source::Exchange => "scratch exchange".to_string(),
                    })
                    .collect();
                write!(f, ": {}", names.join(", "))?;
                match nans {
                    NanResults::Canonical => Ok(()),
                    NanResults::AnyPayload => write!(f, "; NaN payloads unobserved"),
                }
            }
        }
    }
}

/// The selection of `kernel` as text: per instruction, its index and text form, then the rule and the
/// operation.
pub fn selection_text(kernel: &Kernel, selection: &GpuSelection) -> String {
    let mut out = format!("kernel {}\n", kernel.name);
    for (index, (inst, (op, rule))) in kernel.instructions().iter().zip(selection.ops()).enumerate() {
        out.push_str(&format!("  #{index:<3} {}\n       -> {rule}{op}\n", print_inst(inst)));
    }
    out
}
