//! The tile IR: the program form every front end lowers to and every backend consumes.
//!
//! A tour, from the outside in:
//!
//! - A [`Module`] is a list of [`Kernel`]s.
//! - A [`Kernel`] runs once per *block* of a grid (like a CUDA thread block or a WGSL workgroup).
//!   It has typed [`Param`]s (scalars, and pointers to global memory), a grid (one to three scalar
//!   expressions of the parameters), a number of threads per block, and a structured body of [`Stmt`]s.
//! - Scalar values ([`Expr`], variables [`VarId`]) are *block-uniform*: every thread of a block sees the
//!   same value, so all control flow is uniform and a barrier is legal anywhere.
//! - Tiles live in three memories:
//!   - register tiles ([`TileId`], declared in [`Kernel::tiles`]) are distributed over the block's threads
//!     by a [`RegisterLayout`]: thread `t` holds, in its local slot `l`, the element `layout.map(t, l)`;
//!   - shared tiles ([`SharedId`], [`Kernel::shared`]) live in the block's shared memory at the offsets a
//!     [`SharedLayout`] gives;
//!   - global views ([`GlobalId`], [`Kernel::globals`]) describe a strided tensor of any element width over
//!     a pointer parameter's packed bit stream (element `i` of a `b`-bit view occupies bits `[i*b, i*b+b)`).
//! - Instructions ([`Inst`]) read and write tiles; statements ([`StmtKind`]) add scalar variables and
//!   control flow around them.
//!
//! Every handle indexes a table of its [`Kernel`]; `Display` on a handle matches the text form
//! (`%t3`, `%s0`, `%g1`, `%v2`). The interpreter in `crate::interp` defines what every instruction means.

mod builder;
mod expr;
mod inst;
mod kernel;

pub use builder::KernelBuilder;

pub use expr::{BinaryOp, Expr, ExprKind, TernaryOp, UnaryOp};
pub use inst::{ElementwiseOp, Inst, Operand, ReduceOp};
pub use kernel::{
    GlobalDecl, GlobalId, Kernel, Module, Param, ParamId, ParamKind, SharedDecl, SharedId, Span, Stmt,
    StmtKind, TileDecl, TileId, VarDecl, VarId,
};

pub use crate::dtype::Rounding;
pub use crate::layout::{RegisterLayout, SharedLayout};
