//! The IR verifier: rejects malformed kernels with precise, located messages, and never panics.
//!
//! A kernel that passes [`verify_kernel`] can be interpreted and compiled without any backend working types,
//! shapes or definitions out again. The verifier collects *every* error it finds rather than stopping at
//! the first; each [`VerifyError`] names the kernel, a [`Location`] (a declaration, a grid axis, or a
//! statement path with its source [`Span`]) and a message.
//!
//! # Invariants checked, by category
//!
//! ## Handles (`handles.rs`, checked first; later checks run only when every handle is valid)
//! - Every `VarId`, `TileId`, `SharedId`, `GlobalId` and `ParamId` in declarations, the grid and the body
//!   indexes its kernel table.
//! - A scalar parameter's variable and a global view's parameter exist; a view's parameter is a pointer.
//!
//! ## Types (`types.rs`)
//! - Every expression node's dtype is consistent with its operator: constants fit their dtype, a variable
//!   read has the variable's dtype, operands of arithmetic share the result dtype, comparisons give `bool`,
//!   shift amounts are `u32`, `Select` conditions are `bool`, float-only operators get floats, bitwise
//!   operators get integers or `bool`, block index and grid size are `u32` with an axis below 3.
//! - Scalar expressions, variables and scalar parameters have compute dtypes; a sub-32-bit integer or a
//!   minifloat in arithmetic is an error that says to `cast` first.
//! - Assignments match the variable's dtype; `for` bounds and step have the loop variable's integer dtype;
//!   `if`/`while`/`assert` conditions are `bool`; the grid has one to three `u32`/`i32` expressions.
//! - Instruction typing rules from the [`Inst`] docs: allocation initialisers have the tile's compute dtype;
//!   view shapes, strides, offsets and window offsets are integers; loads, stores and copies keep the dtype;
//!   elementwise operands have the operator's arity and dtypes; `iota` and arg-reductions give integers;
//!   `dot` takes compute dtypes with the accumulator in the result dtype; `reduce`, `permute`,
//!   `broadcast`, `slice` and `assign` keep the dtype.
//!
//! ## Layouts and shapes (`layouts.rs`)
//! - `num_threads` is positive, and every register layout spans exactly `num_threads` threads.
//! - Global views have rank >= 1 and a consistent rank; loads, stores and copies give one offset per view
//!   dimension and list the tile's rank of distinct, increasing view dimensions.
//! - Shared windows have the shared tile's rank and fit inside it; `cast` and `assign` keep the shape;
//!   elementwise tile operands and `broadcast` sources broadcast to the destination's shape; `dot` has
//!   shapes `[.., M, K] x [.., K, N] -> [.., M, N]`; `reduce` removes (or keeps as 1) its dimension; `permute`
//!   takes a permutation and permutes the shape; `slice` windows fit their source; `iota`'s dimension exists.
//! - `view` keeps the thread count and the bits each thread holds (`local_size * bits`).
//!
//! ## Memory and control flow (`memory.rs`)
//! - Variables, register tiles and global views are defined before they are read, on every path
//!   (`if` merges what both branches define; a loop body may run zero times).
//! - Shared tiles are allocated before use, freed in LIFO order, never used or freed after being freed,
//!   never allocated twice while live; both branches of an `if` and every loop iteration leave the same
//!   allocations; live shared bytes (each tile rounded up to 32-bit words) stay within `shared_limit_bytes`.
//! - Stores go only to `mutable` pointer parameters; `break` appears only inside a loop.
//!
//! [`verify_module`] also checks that kernel names are unique.

mod handles;
mod layouts;
mod memory;
mod names;
mod types;
mod uses;
mod verified;

#[cfg(test)]
mod tests;

use std::fmt;

use crate::ir::{GlobalId, Inst, Kernel, Module, ParamId, SharedId, Span, Stmt, StmtKind, TileId, VarId};

pub(crate) use names::{dtype_from_name, dtype_name, shape_text};
pub use verified::{VerifiedKernel, VerifiedModule};

/// Checks every invariant listed in the module doc on one kernel, and returns it as a [`VerifiedKernel`]
/// (a copy; [`VerifiedKernel::new`] takes the kernel instead).
///
/// # Errors
/// Every violation found, in the order of the checks.
pub fn verify_kernel(kernel: &Kernel) -> Result<VerifiedKernel, VerifyErrors> {
    VerifiedKernel::new(kernel.clone())
}

/// Verifies every kernel of a module and checks that kernel names are unique.
///
/// # Errors
/// Every violation found in every kernel.
pub fn verify_module(module: &Module) -> Result<VerifiedModule, VerifyErrors> {
    VerifiedModule::new(module.clone())
}

/// Every violation of one kernel, in the order of the checks.
fn verify_kernel_errors(kernel: &Kernel) -> Result<(), VerifyErrors> {
    let mut report = Report::new(kernel);
    handles::check(&mut report);
    // Later checks index tables freely; they only run on a kernel whose handles are all valid.
    if report.errors.is_empty() {
        types::check(&mut report);
        layouts::check(&mut report);
        memory::check(&mut report);
    }
    report.finish()
}

/// Every violation of every kernel of a module, and repeated kernel names.
fn verify_module_errors(module: &Module) -> Result<(), VerifyErrors> {
    let mut errors = Vec::new();
    for (position, kernel) in module.kernels.iter().enumerate() {
        if module.kernels[..position].iter().any(|earlier| earlier.name == kernel.name) {
            errors.push(VerifyError {
                kernel: kernel.name.clone(),
                location: Location::Kernel,
                message: format!("a kernel named `{}` is already defined in this module", kernel.name),
            });
        }
        if let Err(VerifyErrors(kernel_errors)) = verify_kernel_errors(kernel) {
            errors.extend(kernel_errors);
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(VerifyErrors(errors)) }
}

/// Every error the verifier found. A verifier error after a compiler pass is a compiler bug.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct VerifyErrors(pub Vec<VerifyError>);

impl fmt::Display for VerifyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, error) in self.0.iter().enumerate() {
            if position > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl VerifyErrors {
    /// Whether some error's message contains `text` (a convenience for tests and tools).
    pub fn mentions(&self, text: &str) -> bool {
        self.0.iter().any(|error| error.message.contains(text))
    }
}

/// One violated invariant: a malformed program (a user error for hand-built IR, a bug after a pass).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("kernel `{kernel}`, {location}: {message}")]
pub struct VerifyError {
    /// The kernel's name.
    pub kernel: String,
    /// Where the problem is.
    pub location: Location,
    /// What is wrong, and where it helps, what to do about it.
    pub message: String,
}

/// Where in a kernel a verifier error was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The kernel as a whole (its attributes, or its name in a module).
    Kernel,
    /// A parameter declaration.
    Param(ParamId),
    /// A variable declaration.
    Var(VarId),
    /// A register tile declaration.
    Tile(TileId),
    /// A shared tile declaration.
    Shared(SharedId),
    /// A global view declaration.
    Global(GlobalId),
    /// One axis of the grid.
    Grid(usize),
    /// A statement of the body.
    Stmt {
        /// Which statement, from the body down.
        path: StmtPath,
        /// The source span recorded on the statement.
        span: Span,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Kernel => write!(f, "kernel attributes"),
            Location::Param(param) => write!(f, "parameter {param}"),
            Location::Var(var) => write!(f, "variable {var}"),
            Location::Tile(tile) => write!(f, "tile {tile}"),
            Location::Shared(shared) => write!(f, "shared tile {shared}"),
            Location::Global(global) => write!(f, "global view {global}"),
            Location::Grid(axis) => write!(f, "grid axis {axis}"),
            Location::Stmt { path, span } => {
                write!(f, "{path}")?;
                if *span != Span::default() {
                    write!(f, " (bytes {}..{})", span.start, span.end)?;
                }
                Ok(())
            }
        }
    }
}

/// The path from the kernel body to a statement, e.g. `body[3].loop[0].else[1]`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StmtPath(pub Vec<PathSegment>);

/// One step of a [`StmtPath`]: a statement's position in one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathSegment {
    /// Which block of the enclosing statement (or the kernel body).
    pub block: BlockKind,
    /// The statement's position in that block.
    pub index: usize,
}

/// The kinds of statement block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// The kernel body.
    Body,
    /// The body of a `for` or `while`.
    Loop,
    /// The `then` block of an `if`.
    Then,
    /// The `else` block of an `if`.
    Else,
}

impl fmt::Display for StmtPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            if position > 0 {
                write!(f, ".")?;
            }
            let block = match segment.block {
                BlockKind::Body => "body",
                BlockKind::Loop => "loop",
                BlockKind::Then => "then",
                BlockKind::Else => "else",
            };
            write!(f, "{block}[{}]", segment.index)?;
        }
        Ok(())
    }
}

/// The errors found so far in one kernel.
pub(crate) struct Report<'k> {
    pub(crate) kernel: &'k Kernel,
    errors: Vec<VerifyError>,
}

impl<'k> Report<'k> {
    fn new(kernel: &'k Kernel) -> Report<'k> {
        Report { kernel, errors: Vec::new() }
    }

    /// Records an error at `location`.
    pub(crate) fn error(&mut self, location: Location, message: impl Into<String>) {
        self.errors.push(VerifyError { kernel: self.kernel.name.clone(), location, message: message.into() });
    }

    fn finish(self) -> Result<(), VerifyErrors> {
        if self.errors.is_empty() { Ok(()) } else { Err(VerifyErrors(self.errors)) }
    }
}

/// The location of statement `stmt` at `path`.
pub(crate) fn stmt_location(path: &StmtPath, stmt: &Stmt) -> Location {
    Location::Stmt { path: path.clone(), span: stmt.span }
}

/// Calls `visit` on every statement of `body` (pre-order) with its path.
pub(crate) fn walk_stmts(body: &[Stmt], visit: &mut impl FnMut(&Stmt, &StmtPath)) {
    let mut path = StmtPath::default();
    walk_block(body, BlockKind::Body, &mut path, visit);
}

fn walk_block(
    block: &[Stmt],
    kind: BlockKind,
    path: &mut StmtPath,
    visit: &mut impl FnMut(&Stmt, &StmtPath),
) {
    for (index, stmt) in block.iter().enumerate() {
        path.0.push(PathSegment { block: kind, index });
        visit(stmt, path);
        match &stmt.kind {
            StmtKind::For { body, .. } | StmtKind::While { body, .. } => {
                walk_block(body, BlockKind::Loop, path, visit)
            }
            StmtKind::If { then_body, else_body, .. } => {
                walk_block(then_body, BlockKind::Then, path, visit);
                walk_block(else_body, BlockKind::Else, path, visit);
            }
            StmtKind::Assign { .. } | StmtKind::Break | StmtKind::Inst(_) => {}
        }
        path.0.pop();
    }
}

/// Calls `visit` on every instruction of `body` with its location.
pub(crate) fn walk_insts(body: &[Stmt], visit: &mut impl FnMut(&Inst, Location)) {
    walk_stmts(body, &mut |stmt, path| {
        if let StmtKind::Inst(inst) = &stmt.kind {
            visit(inst, stmt_location(path, stmt));
        }
    });
}
