//! Tile instructions: allocation, memory movement, views, casts, elementwise math, dot and reductions.
//!
//! Register tiles are read and written as whole tiles. Unless an instruction says otherwise, its meaning
//! is defined on *logical* elements (the interpreter keeps one value per logical index); how the elements
//! are spread over threads is the layout's business, and a backend must move data between threads when an
//! instruction needs an element that the executing thread does not hold (for instance through shared
//! memory). Replica threads always hold equal values.

use super::{Expr, GlobalId, Rounding, SharedId, TileId};

/// A tile instruction. Each variant lists its operands, results, typing rules and the interpreter
/// function that defines it.
#[derive(Clone, Debug, PartialEq)]
pub enum Inst {
    /// Defines register tile `dst`, every element set to `init` (or to zero bits when `None`).
    ///
    /// ## Typing rules
    /// `init` has `dst`'s dtype, which must then be a compute dtype.
    /// Interpreter: `interp::exec_alloc_register`.
    AllocRegister {
        /// The tile defined.
        dst: TileId,
        /// The value of every element.
        init: Option<Expr>,
    },
    /// Allocates shared tile `dst` (its storage is `dst`'s layout size times its dtype's bits, rounded up
    /// to 32-bit words), every element set to `init` when given (otherwise its contents are undefined until
    /// written: reading them is an interpreter error).
    ///
    /// ## Typing rules
    /// The total of live shared allocations must fit `Kernel::shared_limit_bytes`; allocations are freed in
    /// LIFO order by [`Inst::FreeShared`].
    AllocShared {
        /// The shared tile allocated.
        dst: SharedId,
        /// The value of every element.
        init: Option<Expr>,
    },
    /// Frees shared tile `tile`, which must be the most recently allocated live one.
    FreeShared {
        /// The shared tile freed.
        tile: SharedId,
    },
    /// Defines global view `dst` over its parameter's buffer: `shape` and `strides` (in elements of the
    /// view's dtype) and a base `offset` (in elements), evaluated now.
    ///
    /// ## Typing rules
    /// `shape`, `strides` have equal length (the view's rank, >= 1); all expressions are `i32`, `u32`,
    /// `i64` or `u64`.
    ViewGlobal {
        /// The view defined.
        dst: GlobalId,
        /// Extent of each dimension.
        shape: Vec<Expr>,
        /// Distance in elements between neighbours along each dimension.
        strides: Vec<Expr>,
        /// Element offset of index (0, ..., 0).
        offset: Expr,
    },
    /// Loads register tile `dst` from global view `src`: tile element `i` comes from view index
    /// `offsets + scatter(i, dims)`, where tile dimension `j` runs along view dimension `dims[j]` and the
    /// other view dimensions stay at `offsets`. Out-of-range elements (see [`super::GlobalDecl`]) read 0.
    ///
    /// ## Typing rules
    /// `offsets.len()` is the view's rank; `dims` lists `dst`'s rank distinct view dimensions in
    /// increasing order; `dst` and `src` have the same dtype. Offsets are integer expressions (negative
    /// offsets are allowed and masked).
    LoadGlobal {
        /// The tile defined.
        dst: TileId,
        /// The view read.
        src: GlobalId,
        /// View index of tile element (0, ..., 0).
        offsets: Vec<Expr>,
        /// Which view dimension each tile dimension runs along.
        dims: Vec<usize>,
    },
    /// Stores register tile `src` into global view `dst` (the mirror of [`Inst::LoadGlobal`]); out-of-range
    /// elements are dropped. When replicas or overlapping strides make several elements land on one place,
    /// the one with the largest row-major tile index wins.
    ///
    /// ## Typing rules
    /// As `LoadGlobal`; `dst`'s parameter is `mutable`.
    StoreGlobal {
        /// The view written.
        dst: GlobalId,
        /// The tile stored.
        src: TileId,
        /// View index of tile element (0, ..., 0).
        offsets: Vec<Expr>,
        /// Which view dimension each tile dimension runs along.
        dims: Vec<usize>,
    },
    /// Loads register tile `dst` from the window of shared tile `src` starting at `offsets`.
    ///
    /// ## Typing rules
    /// Same dtype and rank; the window must lie inside `src` (checked at run time by the interpreter).
    LoadShared {
        /// The tile defined.
        dst: TileId,
        /// The shared tile read.
        src: SharedId,
        /// Index in `src` of tile element (0, ..., 0).
        offsets: Vec<Expr>,
    },
    /// Stores register tile `src` into the window of shared tile `dst` starting at `offsets`.
    StoreShared {
        /// The shared tile written.
        dst: SharedId,
        /// The tile stored.
        src: TileId,
        /// Index in `dst` of tile element (0, ..., 0).
        offsets: Vec<Expr>,
    },
    /// Starts copying a window of global view `src` into the whole of shared tile `dst` (as
    /// [`Inst::LoadGlobal`] followed by [`Inst::StoreShared`], with the same masking). The data is only
    /// guaranteed to be in `dst` after the next [`Inst::CopyWait`] and [`Inst::Sync`].
    CopyGlobalToShared {
        /// The shared tile written.
        dst: SharedId,
        /// The view read.
        src: GlobalId,
        /// View index of element (0, ..., 0).
        offsets: Vec<Expr>,
        /// Which view dimension each shared-tile dimension runs along.
        dims: Vec<usize>,
    },
    /// Waits until every copy started by this block has landed.
    CopyWait,
    /// Block-level barrier: shared-memory writes before it are visible to every thread after it.
    Sync,
    /// Reinterprets bits: each thread concatenates the codes of its local slots of `src` (slot 0 in the
    /// lowest bits) and splits the result into the slots of `dst`. Nothing moves between threads.
    ///
    /// ## Typing rules
    /// Both layouts have the same number of threads, and `src.local_size * src.bits ==
    /// dst.local_size * dst.bits`. Example: `u8[16]` held as `local(16)` viewed as `u4[32]` `local(32)`.
    View {
        /// The tile defined.
        dst: TileId,
        /// The tile whose bits are reinterpreted.
        src: TileId,
    },
    /// Converts every element of `src` to `dst`'s dtype with `crate::dtype::cast`; `rounding` applies to
    /// float results (stochastic rounding draws its bits from the element's row-major logical index).
    ///
    /// ## Typing rules
    /// Same shape. Any dtypes.
    Cast {
        /// The tile defined.
        dst: TileId,
        /// The tile converted.
        src: TileId,
        /// How float results are rounded.
        rounding: Rounding,
    },
    /// Elementwise `dst[i] = op(operands[k][bcast(i)]...)`. A tile operand whose dimension has size 1 is
    /// broadcast along that dimension (lower-rank operands are padded with leading size-1 dims); scalar
    /// operands are broadcast everywhere. `dst` may also be an operand (update in place).
    ///
    /// ## Typing rules
    /// As the scalar operator (see [`ElementwiseOp`]); every operand's dtype is a compute dtype; every tile
    /// operand's shape broadcasts to `dst`'s shape.
    Elementwise {
        /// The tile defined.
        dst: TileId,
        /// The operator.
        op: ElementwiseOp,
        /// One, two or three operands, as the operator needs.
        operands: Vec<Operand>,
    },
    /// `dst[i] = i[dim]`: each element's own coordinate along `dim` (an integer `dst`).
    Iota {
        /// The tile defined.
        dst: TileId,
        /// The dimension whose coordinate is taken.
        dim: usize,
    },
    /// Matrix multiply-accumulate: `dst[m, n] = acc[m, n] + sum_k a[m, k] * b[k, n]`, computed in `dst`'s
    /// dtype (operands are converted to it exactly first). Summation order is unspecified.
    ///
    /// ## Typing rules
    /// `a: [M, K]`, `b: [K, N]`, `acc` and `dst: [M, N]` (with optional equal leading batch dims); compute
    /// dtypes; `acc` has `dst`'s dtype (`acc` may be `dst`).
    Dot {
        /// The tile defined.
        dst: TileId,
        /// Left operand.
        a: TileId,
        /// Right operand.
        b: TileId,
        /// The accumulator added.
        acc: TileId,
    },
    /// Reduces `src` along `dim` with `op`; `dst` has `src`'s shape with `dim` removed (or kept as size 1
    /// when `dst` has `src`'s rank). `ArgMax`/`ArgMin` produce the first index of the extreme value as an
    /// integer `dst`.
    Reduce {
        /// The tile defined.
        dst: TileId,
        /// The tile reduced.
        src: TileId,
        /// The dimension collapsed.
        dim: usize,
        /// The reduction.
        op: ReduceOp,
    },
    /// `dst = permute(src, dims)`: `dst` index `i` holds `src` element `j` with `j[dims[d]] = i[d]`.
    Permute {
        /// The tile defined.
        dst: TileId,
        /// The tile permuted.
        src: TileId,
        /// The permutation.
        dims: Vec<usize>,
    },
    /// `dst[i] = src[bcast(i)]`: expands size-1 dimensions (and leading missing ones) of `src`.
    Broadcast {
        /// The tile defined.
        dst: TileId,
        /// The tile broadcast.
        src: TileId,
    },
    /// `dst[i] = src[offsets + i]`: a window of a register tile (same rank); the window must lie inside
    /// `src`.
    Slice {
        /// The tile defined.
        dst: TileId,
        /// The tile sliced.
        src: TileId,
        /// Index in `src` of `dst`'s element (0, ..., 0).
        offsets: Vec<Expr>,
    },
    /// `dst = src` converted to `dst`'s layout (same dtype and shape). The layout change may move data
    /// between threads.
    Assign {
        /// The tile defined.
        dst: TileId,
        /// The tile copied.
        src: TileId,
    },
    /// Debug print of a tile in every block, prefixed by the block index, with a label.
    PrintTile {
        /// A label printed first.
        label: String,
        /// The tile printed.
        tile: TileId,
    },
    /// Debug print of scalar values, with a label.
    PrintScalars {
        /// A label printed first.
        label: String,
        /// The values printed.
        values: Vec<Expr>,
    },
    /// Stops the kernel with an error carrying `message` when `cond` is false.
    Assert {
        /// A `bool` condition.
        cond: Expr,
        /// The message reported.
        message: String,
    },
}

/// An operand of an elementwise instruction.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// A register tile (broadcast to the destination's shape).
    Tile(TileId),
    /// A block-uniform scalar.
    Scalar(Expr),
}

/// The operator of an elementwise instruction: the scalar operators lifted to tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementwiseOp {
    /// A one-operand operator.
    Unary(super::UnaryOp),
    /// A two-operand operator.
    Binary(super::BinaryOp),
    /// A three-operand operator (`Select` is `where(cond, a, b)`).
    Ternary(super::TernaryOp),
}

/// A reduction operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum (order unspecified for floats).
    Sum,
    /// Product (order unspecified for floats).
    Prod,
    /// Maximum.
    Max,
    /// Minimum.
    Min,
    /// First index of the maximum.
    ArgMax,
    /// First index of the minimum.
    ArgMin,
}

/// Helpers shared by the verifier and the backends.
impl Inst {
    /// The register tile this instruction defines, if any.
    pub fn defined_tile(&self) -> Option<TileId> {
        match self {
            Inst::AllocRegister { dst, .. }
            | Inst::LoadGlobal { dst, .. }
            | Inst::LoadShared { dst, .. }
            | Inst::View { dst, .. }
            | Inst::Cast { dst, .. }
            | Inst::Elementwise { dst, .. }
            | Inst::Iota { dst, .. }
            | Inst::Dot { dst, .. }
            | Inst::Reduce { dst, .. }
            | Inst::Permute { dst, .. }
            | Inst::Broadcast { dst, .. }
            | Inst::Slice { dst, .. }
            | Inst::Assign { dst, .. } => Some(*dst),
            Inst::AllocShared { .. }
            | Inst::FreeShared { .. }
            | Inst::ViewGlobal { .. }
            | Inst::StoreGlobal { .. }
            | Inst::StoreShared { .. }
            | Inst::CopyGlobalToShared { .. }
            | Inst::CopyWait
            | Inst::Sync
            | Inst::PrintTile { .. }
            | Inst::PrintScalars { .. }
            | Inst::Assert { .. } => None,
        }
    }

    /// The register tiles this instruction reads (a `Dot`'s `a`, `b` and `acc`; an elementwise
    /// instruction's tile operands, in order), repeats included.
    pub fn read_tiles(&self) -> Vec<TileId> {
        match self {
            Inst::StoreGlobal { src, .. }
            | Inst::StoreShared { src, .. }
            | Inst::View { src, .. }
            | Inst::Cast { src, .. }
            | Inst::Reduce { src, .. }
            | Inst::Permute { src, .. }
            | Inst::Broadcast { src, .. }
            | Inst::Slice { src, .. }
            | Inst::Assign { src, .. } => vec![*src],
            Inst::PrintTile { tile, .. } => vec![*tile],
            Inst::Dot { a, b, acc, .. } => vec![*a, *b, *acc],
            Inst::Elementwise { operands, .. } => operands
                .iter()
                .filter_map(|operand| match operand {
                    Operand::Tile(tile) => Some(*tile),
                    Operand::Scalar(_) => None,
                })
                .collect(),
            Inst::AllocRegister { .. }
            | Inst::AllocShared { .. }
            | Inst::FreeShared { .. }
            | Inst::ViewGlobal { .. }
            | Inst::LoadGlobal { .. }
            | Inst::LoadShared { .. }
            | Inst::CopyGlobalToShared { .. }
            | Inst::CopyWait
            | Inst::Sync
            | Inst::Iota { .. }
            | Inst::PrintScalars { .. }
            | Inst::Assert { .. } => Vec::new(),
        }
    }
}
