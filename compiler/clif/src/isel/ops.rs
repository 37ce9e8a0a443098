//! The CPU backend's own operations: what instruction selection turns each IR instruction into, and
//! the only thing emission matches on.
//
// Everything here is plain data decided before any CLIF is emitted, from the kernel and the target
// alone. Choices that depend on run-time values (whether a tile lies inside its view, whether a row
// starts on a byte boundary) stay in the emitted code, but the paths those checks choose between are
// listed here, so that the text form (`tilevm compile --emit isel`) shows every path a kernel can take.

use std::fmt;

use tilevm_vm::dtype::IntType;
use tilevm_vm::ir::{Expr, GlobalId, TileId};

/// The pre-order position of an instruction in its kernel's body (loop and branch bodies included, as
/// `Kernel::for_each_inst` visits them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstIndex(pub usize);

impl fmt::Display for InstIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What the CPU backend emits for one instruction.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuOp {
    /// The general lowering: one loop nest over the destination's elements (`tiles`, `dots`, `casts`);
    /// for global loads and stores, the masked per-element path only.
    Generic,
    /// Nothing: the fused dot at `dot` does this instruction's work.
    Absorbed {
        /// The fused dot.
        dot: InstIndex,
        /// What the dot takes over.
        role: AbsorbedRole,
    },
    /// `AllocRegister` with 16-byte stores of the fill value.
    VectorFill,
    /// `LoadGlobal` or `CopyGlobalToShared`.
    Load(LoadPaths),
    /// `StoreGlobal`.
    Store(StorePaths),
    /// `Cast` with vectors.
    VectorCast(VectorCast),
    /// `Elementwise` on 4-lane vectors.
    VectorElementwise {
        /// The lanes' type.
        lanes: Lanes,
        /// Whether NaN results are made canonical (false where nothing observes their payloads).
        canonical_nans: bool,
    },
    /// `Reduce` along the last dimension on 4-lane vectors.
    VectorReduce(Lanes),
    /// `Dot` of f32 tiles in the frame, `[M, K] · [K, 1]`, four vector accumulators along K.
    VectorDot,
    /// `Dot` whose `a` operand is a cast of integer codes that the dot converts itself.
    FusedDot(FusedDot),
    /// `View` through the layouts' thread maps: whether each side is already in thread order.
    View {
        /// The source is thread-major, so it is its own stream (no gather).
        src_in_order: bool,
        /// The destination is thread-major, so the stream is written in place (no scatter).
        dst_in_order: bool,
    },
}

/// The instruction a fused dot takes over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbsorbedRole {
    /// The `LoadGlobal` of the codes: the dot reads them from the buffer.
    LoadOfCodes,
    /// The `Cast` of the codes into `a`: the dot converts them in registers.
    CastOfCodes,
    /// The `Cast` of i8 codes into the i32 `b` of an integer dot: the dot multiplies the bytes.
    CastOfBytes,
    /// The zero fill of the accumulator right before an integer dot: the dot stores its sums unread.
    ZeroFill,
}

/// The lanes of a 4-lane vector operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lanes {
    /// `F32X4`.
    F32,
    /// `I32X4`.
    I32,
}

/// The paths a global load tries at run time, in order; the masked per-element path always comes last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadPaths {
    /// 16-byte loads of whole rows, when the tile is inside with 16 bytes of slack, its innermost non-1
    /// dimension has unit stride and every row starts on a byte boundary.
    pub vector: Option<RunCopy>,
    /// One unaligned 64-bit read per element, when the tile is inside with 8 bytes of slack.
    pub word: bool,
}

/// The paths a global store tries at run time; the masked per-element path always comes last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorePaths {
    /// 16-byte stores of codes held whole in their slots, when the tile is inside.
    pub vector: Option<RunCopy>,
}

/// How a contiguous run of codes becomes tile slots, one 16-byte vector at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunCopy {
    /// Codes of 1..=7 bits unpacked into one `i8` slot each, 16 codes per vector.
    Unpack {
        /// The codes' width.
        bits: u32,
    },
    /// Codes as wide as their slot (8, 16 or 32 bits): a plain copy, `lanes` codes per vector.
    Copy {
        /// Codes per vector.
        lanes: usize,
    },
}

impl RunCopy {
    /// Codes per 16-byte vector of slots.
    pub fn lanes(self) -> usize {
        match self {
            RunCopy::Unpack { .. } => 16,
            RunCopy::Copy { lanes } => lanes,
        }
    }
}

/// A vectorised `Cast`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorCast {
    /// Integer codes of at most 8 bits to f32, 16 per step.
    IntCodesToF32(IntType),
    /// i32 to f32 (nearest even), 4 per step.
    I32ToF32,
    /// f16 codes to f32, 8 per step (a rebias alone when all eight are normal numbers).
    F16ToF32,
    /// f32 to i8 or u8 (truncating, saturating, NaN to 0), 16 per step.
    F32ToBytes {
        /// Whether the bytes are i8.
        signed: bool,
    },
}

/// A dot `dst = acc + f(codes) · b` whose cast of the codes (and maybe their load) it performs itself.
#[derive(Clone, Debug, PartialEq)]
pub struct FusedDot {
    /// The codes `a` is a cast of, and their integer type.
    pub codes: TileId,
    /// The codes' type.
    pub int: IntType,
    /// The fused load of the codes: in bounds, the dot reads them from the buffer; otherwise it loads the
    /// codes tile first (masked) and converts it from the frame. `None`: the codes are in the frame.
    pub load: Option<FusedLoad>,
    /// What `b` is and how the products are taken.
    pub rhs: FusedRhs,
    /// Whether the accumulator's zero fill was absorbed, so the dot stores its sums without reading it.
    pub zero_accumulator: bool,
    /// Whether the dot asks the caches for the tile after next of a contiguous code stream (`prefetch`).
    pub prefetch: bool,
}

/// The load a fused dot performs.
#[derive(Clone, Debug, PartialEq)]
pub struct FusedLoad {
    /// The view read.
    pub src: GlobalId,
    /// The load's offsets (evaluated at the dot: nothing in between can change them).
    pub offsets: Vec<Expr>,
    /// The load's dims.
    pub dims: Vec<usize>,
    /// The paths of the masked load that stages the codes when the direct read does not apply.
    pub staged: LoadPaths,
    /// Bytes that must be readable past the tile's last code for the direct read (1: whole rows only).
    pub slack: i64,
}

/// The `b` operand of a fused dot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusedRhs {
    /// An f32 `[K, 1]` tile: codes are converted to f32 and multiplied in f32 (`simd::vector_dot`).
    F32,
    /// The i8 codes `[K, 1]` of an i32 operand whose cast was absorbed too: exact i32 sums of byte
    /// products (`byte_dot`). `direct` is how codes read from the buffer are multiplied; codes in the
    /// frame always take [`BytePlan::SlotsWide`].
    Bytes {
        /// The i8 codes tile.
        codes: TileId,
        /// The plan for codes read straight from global memory.
        direct: BytePlan,
    },
}

/// How an integer dot of bytes decodes `a` and lays out `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BytePlan {
    /// 1-, 2- or 4-bit codes from memory, bit planes against plane-ordered bytes of `b` with
    /// `x86_pmaddubsw`.
    PlanesBytes,
    /// 1-, 2- or 4-bit codes from memory, bit planes widened against plane-ordered 16-bit `b`.
    PlanesWide,
    /// Codes of other widths from memory, unpacked 16 per step to bytes against `b` with `x86_pmaddubsw`.
    UnpackedBytes,
    /// Codes of other widths from memory, unpacked 16 per step and widened against 16-bit `b`.
    UnpackedWide,
    /// Codes already in slots, 16 per step widened against 16-bit `b`.
    SlotsWide,
}

impl BytePlan {
    /// Whether the plan multiplies against 16-bit `b` (`pmaddwd`) rather than bytes (`pmaddubsw`).
    pub fn wide(self) -> bool {
        matches!(self, BytePlan::PlanesWide | BytePlan::UnpackedWide | BytePlan::SlotsWide)
    }

    /// Whether the plan splits bytes of codes into bit planes.
    pub fn planes(self) -> bool {
        matches!(self, BytePlan::PlanesBytes | BytePlan::PlanesWide)
    }
}

impl fmt::Display for CpuOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpuOp::Generic => write!(f, "generic"),
            CpuOp::Absorbed { dot, role } => write!(f, "absorbed into {dot} ({role:?})"),
            CpuOp::VectorFill => write!(f, "vector fill"),
            CpuOp::Load(paths) => {
                write!(f, "load:")?;
                if let Some(run) = paths.vector {
                    write!(f, " vector {run:?} |")?;
                }
                if paths.word {
                    write!(f, " word |")?;
                }
                write!(f, " masked")
            }
            CpuOp::Store(paths) => match paths.vector {
                Some(run) => write!(f, "store: vector {run:?} | masked"),
                None => write!(f, "store: masked"),
            },
            CpuOp::VectorCast(cast) => write!(f, "vector cast {cast:?}"),
            CpuOp::VectorElementwise { lanes, canonical_nans } => {
                write!(f, "vector elementwise {lanes:?}")?;
                if *lanes == Lanes::F32 && !canonical_nans {
                    write!(f, ", hardware NaN payloads")?;
                }
                Ok(())
            }
            CpuOp::VectorReduce(lanes) => write!(f, "vector reduce {lanes:?}"),
            CpuOp::VectorDot => write!(f, "vector dot f32"),
            CpuOp::FusedDot(dot) => {
                let int = dot.int;
                let sign = if int.signed { 'i' } else { 'u' };
                write!(f, "fused dot of {sign}{} codes {}", int.bits, dot.codes)?;
                match dot.rhs {
                    FusedRhs::F32 => write!(f, " · f32")?,
                    FusedRhs::Bytes { codes, direct } => write!(f, " · i8 {codes}, {direct:?}")?,
                }
                if let Some(load) = &dot.load {
                    write!(f, ", loads {} (slack {}; staged", load.src, load.slack)?;
                    if let Some(run) = load.staged.vector {
                        write!(f, " vector {run:?} |")?;
                    }
                    if load.staged.word {
                        write!(f, " word |")?;
                    }
                    write!(f, " masked)")?;
                }
                if dot.zero_accumulator {
                    write!(f, ", zero accumulator")?;
                }
                if dot.prefetch {
                    write!(f, ", prefetch")?;
                }
                Ok(())
            }
            CpuOp::View { src_in_order, dst_in_order } => {
                let side = |in_order: bool| if in_order { "in order" } else { "through the stream" };
                write!(f, "view: source {}, destination {}", side(*src_in_order), side(*dst_in_order))
            }
        }
    }
}
