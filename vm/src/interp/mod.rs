//! The reference interpreter: executes a kernel on a grid over host buffers, bit-exactly. It defines
//! what every instruction means.
//!
//! Blocks run one after another (block x fastest, then y, then z); a correct kernel does not depend on the
//! order. Inside a block, instructions are defined on logical tile elements (see `crate::ir::inst`), except
//! `view`, which works per thread through the layouts, and race detection, which asks the layouts which
//! threads hold an element. The modules, by concept:
//!
//! - [`scalar`]: the one definition of every scalar operator and cast ([`eval_unary`], [`eval_binary`],
//!   [`eval_ternary`], [`eval_cast`]);
//! - `eval`: block-uniform scalar expressions;
//! - `tiles` and `ops`: register tiles as logical arrays of codes, and the instructions computing on them
//!   (including how `dot` and `reduce` round);
//! - `memory`: global views and masked access; `shared`: shared memory and its allocation rules;
//!   `races`: data-race detection between barriers;
//! - [`param_shapes`]: the declared shapes of buffer parameters, for launchers that size buffers;
//! - [`PrintLog`]: prints recorded by backends that run blocks in parallel, formatted as the
//!   interpreter prints them;
//! - `exec`: statements and instructions of a block (`transfer`: the data-moving ones); `error`:
//!   [`InterpError`] and [`Location`].

mod codec;
mod error;
mod eval;
mod exec;
mod fold;
mod memory;
mod ops;
mod print;
mod print_log;
mod races;
pub mod scalar;
mod shapes;
mod shared;
mod tiles;

pub use error::{InterpError, Location, describe};
pub use fold::fold_constants;
pub use print_log::{MAX_PRINTS_PER_LAUNCH, PrintLog, PrintSite, PrintSites, PrintValues};
pub use scalar::{eval_binary, eval_cast, eval_ternary, eval_unary};
pub use shapes::param_shapes;

use crate::ir::{Kernel, ParamKind};
use crate::verify::VerifiedKernel;
use eval::{Scope, eval_int};

/// An argument of a kernel launch, in parameter order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelArg {
    /// A scalar parameter's value as a bit pattern of its dtype.
    Scalar(u64),
    /// A global buffer's bytes (a packed little-endian bit stream), updated in place by stores.
    Buffer(Vec<u8>),
}

/// Options of [`run_kernel_with`].
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Receives one line per `print` instruction; prints are dropped when `None` (the `vm` crate never
    /// prints by itself).
    pub print: Option<&'a mut dyn FnMut(&str)>,
    /// Runs this grid (x, y, z) instead of evaluating the kernel's.
    pub grid: Option<[u32; 3]>,
    /// The most statements the whole launch may execute before it stops with
    /// [`InterpError::StepLimit`]; `None` means [`DEFAULT_MAX_STEPS`].
    pub max_steps: Option<u64>,
    /// Runs the blocks in reverse order (z, y, x descending). The order of blocks is unspecified on parallel
    /// devices, so a kernel whose result changes with it has a cross-block race; tests use this to find one.
    pub reverse_blocks: bool,
}

/// The default statement budget of a launch: far more than any test kernel needs, small enough that an
/// endless loop stops within seconds instead of hanging a test or the CLI.
pub const DEFAULT_MAX_STEPS: u64 = 100_000_000;

/// Runs `kernel` over its whole grid; prints are dropped.
///
/// # Errors
/// Argument mismatches and run-time errors (out-of-bounds shared access, data races, failed asserts); see
/// [`InterpError`].
pub fn run_kernel(kernel: &VerifiedKernel, args: &mut [KernelArg]) -> Result<(), InterpError> {
    run_kernel_with(kernel, args, &mut RunOptions::default())
}

/// Runs `kernel` over its grid (or `options.grid`), sending prints to `options.print`.
///
/// # Errors
/// As [`run_kernel`].
pub fn run_kernel_with(
    kernel: &VerifiedKernel,
    args: &mut [KernelArg],
    options: &mut RunOptions<'_>,
) -> Result<(), InterpError> {
    run_unverified(kernel, args, options)
}

/// Runs a kernel the verifier has not seen: what the interpreter's own robustness tests and fuzzing use.
/// A malformed kernel gives [`InterpError::Invalid`] (or the run-time error it provokes), never a panic.
///
/// # Errors
/// As [`run_kernel`], and [`InterpError::Invalid`] for what the verifier would have rejected.
pub fn run_unverified(
    kernel: &Kernel,
    args: &mut [KernelArg],
    options: &mut RunOptions<'_>,
) -> Result<(), InterpError> {
    let initial_vars = bind_params(kernel, args)?;
    let grid = match options.grid {
        Some(grid) => grid,
        None => eval_grid(kernel, &initial_vars)?,
    };
    let mut drop_prints = |_: &str| {};
    let print: &mut dyn FnMut(&str) = match options.print.as_mut() {
        Some(print) => *print,
        None => &mut drop_prints,
    };
    let step_limit = options.max_steps.unwrap_or(DEFAULT_MAX_STEPS);
    let mut machine = exec::Machine::new(kernel, args, print, grid, step_limit);
    let blocks =
        (0..grid[2]).flat_map(|z| (0..grid[1]).flat_map(move |y| (0..grid[0]).map(move |x| [x, y, z])));
    if options.reverse_blocks {
        for block in blocks.collect::<Vec<_>>().into_iter().rev() {
            machine.run_block(block, &initial_vars)?;
        }
    } else {
        for block in blocks {
            machine.run_block(block, &initial_vars)?;
        }
    }
    Ok(())
}

/// Checks the arguments against the parameters and returns the initial variables (scalar parameters set).
fn bind_params(kernel: &Kernel, args: &[KernelArg]) -> Result<Vec<Option<u64>>, InterpError> {
    if args.len() != kernel.params.len() {
        return Err(InterpError::ArgumentCount {
            kernel: kernel.name.clone(),
            expected: kernel.params.len(),
            got: args.len(),
        });
    }
    let mut vars = vec![None; kernel.vars.len()];
    for (index, (param, arg)) in kernel.params.iter().zip(args).enumerate() {
        let kind_error = |expected| InterpError::ArgumentKind {
            kernel: kernel.name.clone(),
            index,
            name: param.name.clone(),
            expected,
        };
        match (&param.kind, arg) {
            (ParamKind::Scalar { var, .. }, KernelArg::Scalar(code)) => {
                let decl = kernel.vars.get(var.index());
                let (Some(decl), Some(slot)) = (decl, vars.get_mut(var.index())) else {
                    return Err(InterpError::Launch {
                        kernel: kernel.name.clone(),
                        message: format!("parameter `{}` names no variable ({var})", param.name),
                    });
                };
                *slot = Some(code & codec::mask(decl.dtype.bits()));
            }
            (ParamKind::Scalar { .. }, KernelArg::Buffer(_)) => return Err(kind_error("a scalar")),
            (ParamKind::Global { .. }, KernelArg::Buffer(_)) => {}
            (ParamKind::Global { .. }, KernelArg::Scalar(_)) => return Err(kind_error("a buffer")),
        }
    }
    Ok(vars)
}

/// Evaluates the grid from the scalar parameters; missing axes are 1.
fn eval_grid(kernel: &Kernel, vars: &[Option<u64>]) -> Result<[u32; 3], InterpError> {
    let error = |message: String| InterpError::Launch { kernel: kernel.name.clone(), message };
    if kernel.grid.len() > 3 {
        return Err(error(format!("the grid has {} axes, at most 3 allowed", kernel.grid.len())));
    }
    let scope = Scope { vars, block: [0; 3], grid: [1; 3] };
    let mut grid = [1u32; 3];
    for (axis, expr) in kernel.grid.iter().enumerate() {
        let value = eval_int(expr, &scope).map_err(&error)?;
        grid[axis] =
            u32::try_from(value).map_err(|_| error(format!("grid axis {axis} has {value} blocks")))?;
    }
    Ok(grid)
}

#[cfg(test)]
mod tests;
