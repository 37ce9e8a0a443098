//! Kernels, their declarations (parameters, variables, tiles, views) and structured statements.

use std::fmt;

use super::{Expr, Inst, SharedLayout};
use crate::dtype::DataType;
use crate::layout::RegisterLayout;

/// A compilation unit: a list of kernels with distinct names.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Module {
    /// The kernels, in source order. Names are unique.
    pub kernels: Vec<Kernel>,
}

/// One kernel: a thread-block-level program run once per block of its grid.
///
/// Every handle used in `body` indexes one of the tables below. Invariants (checked by the verifier):
/// a variable or tile is defined (by `Let`, an allocation or an instruction writing it) before it is read
/// on every path; shared tiles are freed in LIFO order of allocation and never used after being freed.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// The kernel's name, unique in its module.
    pub name: String,
    /// Parameters in call order.
    pub params: Vec<Param>,
    /// The grid: one to three scalar expressions of the scalar parameters (`u32` or `i32`), x first.
    pub grid: Vec<Expr>,
    /// Threads per block. Every register layout in the kernel spans exactly this many threads.
    pub num_threads: u32,
    /// The most shared memory, in bytes, the kernel may have allocated at once.
    pub shared_limit_bytes: u32,
    /// Scalar variables (including scalar parameters), indexed by [`VarId`].
    pub vars: Vec<VarDecl>,
    /// Register tiles, indexed by [`TileId`].
    pub tiles: Vec<TileDecl>,
    /// Shared tiles, indexed by [`SharedId`].
    pub shared: Vec<SharedDecl>,
    /// Global views, indexed by [`GlobalId`].
    pub globals: Vec<GlobalDecl>,
    /// The body, run by every block.
    pub body: Vec<Stmt>,
}

/// A kernel parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The name as written in source.
    pub name: String,
    /// What is passed.
    pub kind: ParamKind,
}

/// What a parameter passes.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamKind {
    /// A block-uniform scalar of a compute dtype, readable as the variable `var`.
    Scalar {
        /// The variable that holds the value inside the kernel.
        var: VarId,
        /// The value a launch uses when none is given, as a bit pattern of the variable's dtype (the
        /// language's `n: u32 = 4096`). Backends never read it: hosts fill it in before launching.
        default: Option<u64>,
    },
    /// A buffer of global memory holding a packed bit stream of `dtype` elements.
    Global {
        /// Element type of the buffer (views may reinterpret it).
        dtype: DataType,
        /// Whether the kernel may store to it.
        mutable: bool,
    },
}

/// A scalar variable.
#[derive(Clone, Debug, PartialEq)]
pub struct VarDecl {
    /// A name for printing (not necessarily unique).
    pub name: String,
    /// A compute dtype.
    pub dtype: DataType,
}

/// A register tile variable: its type. The shape is the layout's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct TileDecl {
    /// A name for printing (not necessarily unique).
    pub name: String,
    /// Element type (any dtype; arithmetic needs a compute dtype).
    pub dtype: DataType,
    /// How the tile's elements are distributed over the block's threads.
    pub layout: RegisterLayout,
}

/// A shared tile: its type. The shape is the layout's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedDecl {
    /// A name for printing (not necessarily unique).
    pub name: String,
    /// Element type; elements are stored packed at `layout.offset(index) * dtype.bits()` bits.
    pub dtype: DataType,
    /// Where each element lives.
    pub layout: SharedLayout,
}

/// A global view: a strided tensor over a pointer parameter's bit stream.
///
/// Element `idx` (a multi-index, each coordinate in `0..shape[d]`) lives at element offset
/// `offset + sum(idx[d] * strides[d])`, i.e. at bits `[e * b, e * b + b)` with `b = dtype.bits()`.
/// Accesses outside `shape`, and elements not wholly inside the buffer passed for `param`, are masked:
/// loads read 0 and stores are dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalDecl {
    /// A name for printing (not necessarily unique).
    pub name: String,
    /// The pointer parameter whose buffer this view reads or writes.
    pub param: ParamId,
    /// Element type of the view (any width; may differ from the parameter's dtype).
    pub dtype: DataType,
}

macro_rules! define_handle {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            /// The index into the kernel's table.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!("%", $prefix, "{}"), self.0)
            }
        }
    };
}

define_handle!(
    /// A scalar variable: an index into [`Kernel::vars`]; printed `%v0`.
    VarId, "v"
);
define_handle!(
    /// A register tile: an index into [`Kernel::tiles`]; printed `%t0`.
    TileId, "t"
);
define_handle!(
    /// A shared tile: an index into [`Kernel::shared`]; printed `%s0`.
    SharedId, "s"
);
define_handle!(
    /// A global view: an index into [`Kernel::globals`]; printed `%g0`.
    GlobalId, "g"
);
define_handle!(
    /// A parameter: an index into [`Kernel::params`]; printed `%p0`.
    ParamId, "p"
);

/// A byte range in the source a statement was lowered from (`0..0` when built by hand).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

/// A statement with the source span it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What the statement does.
    pub kind: StmtKind,
    /// Where it was written (for diagnostics from the verifier, interpreter and backends).
    pub span: Span,
}

/// Scalar statements and control flow. All conditions are block-uniform.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// Defines (or redefines) a variable: `var = value`. The value's dtype equals the variable's.
    Assign {
        /// The variable written.
        var: VarId,
        /// Its new value.
        value: Expr,
    },
    /// `for var in start..end step step { body }`: `var` takes `start, start+step, ...` while `< end`
    /// (`> end` when `step` is negative). `start`, `end` and `step` are evaluated once, before the first
    /// iteration, in the variable's integer dtype; `step` must not be 0 (a runtime error in the interpreter).
    For {
        /// The loop variable (an integer variable).
        var: VarId,
        /// First value.
        start: Expr,
        /// Exclusive bound.
        end: Expr,
        /// Increment.
        step: Expr,
        /// The loop body.
        body: Vec<Stmt>,
    },
    /// `while cond { body }`; `cond` is `bool`.
    While {
        /// Evaluated before each iteration.
        cond: Expr,
        /// The loop body.
        body: Vec<Stmt>,
    },
    /// `if cond { then_body } else { else_body }`; `cond` is `bool`.
    If {
        /// The condition.
        cond: Expr,
        /// Run when `cond` is true.
        then_body: Vec<Stmt>,
        /// Run otherwise (may be empty).
        else_body: Vec<Stmt>,
    },
    /// Leaves the innermost `for` or `while`. Only valid inside a loop.
    Break,
    /// A tile instruction.
    Inst(Inst),
}

impl Kernel {
    /// A kernel with no parameters and an empty body.
    pub fn new(name: impl Into<String>, num_threads: u32) -> Kernel {
        Kernel {
            name: name.into(),
            params: Vec::new(),
            grid: Vec::new(),
            num_threads,
            shared_limit_bytes: 32 * 1024,
            vars: Vec::new(),
            tiles: Vec::new(),
            shared: Vec::new(),
            globals: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Every instruction of the body in pre-order (program order, loop and branch bodies included): the
    /// numbering the code generators' selection stages index by.
    pub fn instructions(&self) -> Vec<&Inst> {
        let mut insts = Vec::new();
        fn walk<'k>(body: &'k [Stmt], insts: &mut Vec<&'k Inst>) {
            for stmt in body {
                match &stmt.kind {
                    StmtKind::Inst(inst) => insts.push(inst),
                    StmtKind::For { body, .. } | StmtKind::While { body, .. } => walk(body, insts),
                    StmtKind::If { then_body, else_body, .. } => {
                        walk(then_body, insts);
                        walk(else_body, insts);
                    }
                    StmtKind::Assign { .. } | StmtKind::Break => {}
                }
            }
        }
        walk(&self.body, &mut insts);
        insts
    }

    /// Calls `visit` on every instruction of the body, in program order, loop and branch bodies included.
    pub fn for_each_inst(&self, mut visit: impl FnMut(&Inst)) {
        fn walk(body: &[Stmt], visit: &mut dyn FnMut(&Inst)) {
            for stmt in body {
                match &stmt.kind {
                    StmtKind::Inst(inst) => visit(inst),
                    StmtKind::For { body, .. } | StmtKind::While { body, .. } => walk(body, visit),
                    StmtKind::If { then_body, else_body, .. } => {
                        walk(then_body, visit);
                        walk(else_body, visit);
                    }
                    StmtKind::Assign { .. } | StmtKind::Break => {}
                }
            }
        }
        walk(&self.body, &mut visit);
    }

    /// The declaration of a variable. Handles are valid for the kernel that made them (checked by the verifier).
    pub fn var(&self, var: VarId) -> &VarDecl {
        &self.vars[var.index()]
    }

    /// The declaration of a register tile.
    pub fn tile(&self, tile: TileId) -> &TileDecl {
        &self.tiles[tile.index()]
    }

    /// The declaration of a shared tile.
    pub fn shared_tile(&self, shared: SharedId) -> &SharedDecl {
        &self.shared[shared.index()]
    }

    /// The declaration of a global view.
    pub fn global(&self, global: GlobalId) -> &GlobalDecl {
        &self.globals[global.index()]
    }

    /// A parameter.
    pub fn param(&self, param: ParamId) -> &Param {
        &self.params[param.index()]
    }
}
