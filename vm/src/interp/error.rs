//! The interpreter's error type, and the short rendering of the statement an error happened at.

use std::fmt;

use crate::ir::{Inst, Kernel, SharedId, Span, Stmt, StmtKind};

/// Where in a kernel something happened: the kernel, the statement's source span and a short rendering of
/// the statement (such as `store_shared %s0 <- %t2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The kernel's name.
    pub kernel: String,
    /// The statement's source span (`0..0` for kernels built by hand).
    pub span: Span,
    /// A short rendering of the statement.
    pub statement: String,
}

impl Location {
    /// The location of `stmt` in `kernel`.
    pub fn of(kernel: &Kernel, stmt: &Stmt) -> Location {
        Location { kernel: kernel.name.clone(), span: stmt.span, statement: describe(&stmt.kind) }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kernel `{}`, statement `{}` at {}..{}",
            self.kernel, self.statement, self.span.start, self.span.end
        )
    }
}

/// A launch or run-time error of the interpreter.
///
/// The argument and launch variants are user errors in the launch. `AssertFailed` is the kernel's own
/// report. The shared-memory variants and `DataRace` are bugs in the kernel that a GPU would not report
/// (it would compute garbage). `Invalid` is a kernel the verifier rejects, reaching the interpreter anyway.
#[derive(Debug, thiserror::Error)]
pub enum InterpError {
    /// The number of arguments differs from the number of parameters (a user error).
    #[error("kernel `{kernel}` takes {expected} arguments, got {got}")]
    ArgumentCount {
        /// The kernel.
        kernel: String,
        /// Its number of parameters.
        expected: usize,
        /// The number of arguments passed.
        got: usize,
    },
    /// An argument's kind (scalar or buffer) differs from its parameter's (a user error).
    #[error("kernel `{kernel}`: argument {index} (`{name}`) must be {expected}")]
    ArgumentKind {
        /// The kernel.
        kernel: String,
        /// The argument's position.
        index: usize,
        /// The parameter's name.
        name: String,
        /// What the parameter needs: `a scalar` or `a buffer`.
        expected: &'static str,
    },
    /// The launch cannot start: the grid does not evaluate to one to three block counts that fit `u32` (a
    /// user error), or a parameter is malformed.
    #[error("kernel `{kernel}` cannot launch: {message}")]
    Launch {
        /// The kernel.
        kernel: String,
        /// What is wrong.
        message: String,
    },
    /// An `assert` instruction's condition was false.
    #[error("{at}: assertion failed in block {block:?}: {message}")]
    AssertFailed {
        /// The assert.
        at: Box<Location>,
        /// The block index (x, y, z).
        block: [u32; 3],
        /// The assert's message.
        message: String,
    },
    /// Two threads accessed one shared element between two `sync`s, at least one of them writing (a kernel
    /// bug), or data copied asynchronously was used before `copy_wait` and `sync`.
    #[error(
        "{at}: data race on element {index:?} of shared tile {tile} in block {block:?}: {conflict}; the other access is {other}"
    )]
    DataRace {
        /// The later access.
        at: Box<Location>,
        /// The earlier access.
        other: Box<Location>,
        /// The shared tile.
        tile: SharedId,
        /// The element's logical index.
        index: Vec<usize>,
        /// The block index (x, y, z).
        block: [u32; 3],
        /// What kind of conflict.
        conflict: String,
    },
    /// A shared-tile access outside the tile's shape (a kernel bug).
    #[error("{at}: index {index:?} is outside shared tile {tile} of shape {shape:?}")]
    SharedOutOfBounds {
        /// The access.
        at: Box<Location>,
        /// The shared tile.
        tile: SharedId,
        /// The index accessed.
        index: Vec<i128>,
        /// The tile's shape.
        shape: Vec<usize>,
    },
    /// A shared element read before anything was written to it (a kernel bug).
    #[error("{at}: element {index:?} of shared tile {tile} is read before it is written")]
    SharedUninitialized {
        /// The read.
        at: Box<Location>,
        /// The shared tile.
        tile: SharedId,
        /// The element's logical index.
        index: Vec<usize>,
    },
    /// A shared tile used after `free_shared` (a kernel bug).
    #[error("{at}: shared tile {tile} is used after it was freed")]
    SharedUseAfterFree {
        /// The use.
        at: Box<Location>,
        /// The shared tile.
        tile: SharedId,
    },
    /// A shared tile used before `alloc_shared`, or allocated twice (a kernel bug).
    #[error("{at}: shared tile {tile} is {problem}")]
    SharedNotLive {
        /// The use.
        at: Box<Location>,
        /// The shared tile.
        tile: SharedId,
        /// `used before it is allocated` or `allocated while already live`.
        problem: &'static str,
    },
    /// A `free_shared` that is not of the most recent live allocation (a kernel bug).
    #[error(
        "{at}: shared tile {tile} is freed out of LIFO order (the most recent live allocation is {expected})"
    )]
    SharedFreeOrder {
        /// The free.
        at: Box<Location>,
        /// The shared tile freed.
        tile: SharedId,
        /// The tile that should have been freed first, or `none`.
        expected: String,
    },
    /// Live shared allocations exceed the kernel's `shared_limit_bytes` (a resource limit).
    #[error(
        "{at}: shared memory limit exceeded: {needed} bytes would be live, the kernel's limit is {limit}"
    )]
    SharedLimit {
        /// The allocation.
        at: Box<Location>,
        /// Bytes live with this allocation.
        needed: u64,
        /// The kernel's limit.
        limit: u32,
    },
    /// The kernel breaks a rule of the IR (what the verifier rejects), or a run-time condition such as a
    /// `for` step of zero or a slice window outside its tile.
    #[error("{at}: {message}")]
    Invalid {
        /// The statement.
        at: Box<Location>,
        /// What is wrong.
        message: String,
    },
    /// The launch executed more statements than its budget ([`super::RunOptions::max_steps`]): most likely a
    /// loop that never ends. The interpreter stops instead of hanging.
    #[error("{at}: the launch ran more than {limit} statements; stopped (an endless loop?)")]
    StepLimit {
        /// The statement that exceeded the budget.
        at: Box<Location>,
        /// The budget.
        limit: u64,
    },
}

/// A short rendering of a statement for error messages: its operation and the handles it touches.
pub fn describe(kind: &StmtKind) -> String {
    match kind {
        StmtKind::Assign { var, .. } => format!("{var} = ..."),
        StmtKind::For { var, .. } => format!("for {var} in ..."),
        StmtKind::While { .. } => "while ...".to_string(),
        StmtKind::If { .. } => "if ...".to_string(),
        StmtKind::Break => "break".to_string(),
        StmtKind::Inst(inst) => describe_inst(inst),
    }
}

fn describe_inst(inst: &Inst) -> String {
    match inst {
        Inst::AllocRegister { dst, .. } => format!("{dst} = alloc_register"),
        Inst::AllocShared { dst, .. } => format!("{dst} = alloc_shared"),
        Inst::FreeShared { tile } => format!("free_shared {tile}"),
        Inst::ViewGlobal { dst, .. } => format!("{dst} = view_global"),
        Inst::LoadGlobal { dst, src, .. } => format!("{dst} = load_global {src}"),
        Inst::StoreGlobal { dst, src, .. } => format!("store_global {dst} <- {src}"),
        Inst::LoadShared { dst, src, .. } => format!("{dst} = load_shared {src}"),
        Inst::StoreShared { dst, src, .. } => format!("store_shared {dst} <- {src}"),
        Inst::CopyGlobalToShared { dst, src, .. } => format!("copy_async {dst} <- {src}"),
        Inst::CopyWait => "copy_wait".to_string(),
        Inst::Sync => "sync".to_string(),
        Inst::View { dst, src } => format!("{dst} = view {src}"),
        Inst::Cast { dst, src, .. } => format!("{dst} = cast {src}"),
        Inst::Elementwise { dst, op, .. } => format!("{dst} = elementwise {op:?}"),
        Inst::Iota { dst, dim } => format!("{dst} = iota {dim}"),
        Inst::Dot { dst, a, b, acc } => format!("{dst} = dot {a}, {b}, {acc}"),
        Inst::Reduce { dst, src, dim, op } => format!("{dst} = reduce {op:?} {src} dim {dim}"),
        Inst::Permute { dst, src, .. } => format!("{dst} = permute {src}"),
        Inst::Broadcast { dst, src } => format!("{dst} = broadcast {src}"),
        Inst::Slice { dst, src, .. } => format!("{dst} = slice {src}"),
        Inst::Assign { dst, src } => format!("{dst} = assign {src}"),
        Inst::PrintTile { label, tile } => format!("print {label:?} {tile}"),
        Inst::PrintScalars { label, .. } => format!("print {label:?}"),
        Inst::Assert { message, .. } => format!("assert {message:?}"),
    }
}
