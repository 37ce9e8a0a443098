//! The Cranelift backend: VM IR kernels to Cranelift IR (CLIF) functions that a JIT turns into native code.
//!
//! The compiler only produces [`cranelift_codegen::ir::Function`]s; the runtime (`runtime/src/cpu/`) owns the
//! JIT module, the helper symbols of [`abi::Helper`] and the thread pool. The calling convention between the
//! two halves is fixed in [`abi`].
//!
//! A block does not emulate GPU threads one by one: every register tile is a block-local array in logical
//! row-major order in the per-block scratch memory, tile instructions become loop nests over elements, shared
//! tiles are further scratch arrays and `Sync` is just the order between loop nests. The only instruction
//! defined per thread, `View`, goes through the register layouts' `map`.

pub mod abi;
mod bits;
mod casts;
mod exprs;
mod frame;
mod lowerer;
mod tiles;
mod views;

use cranelift_codegen::ir::Function;
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::FunctionBuilderContext;
use tilevm_vm::ir::Kernel;

pub use frame::Frame;
pub use lowerer::ClifLowerer;

/// Why a kernel could not be lowered to CLIF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClifError {
    /// The kernel uses something this backend does not implement (a target limitation, not a user error).
    #[error("the Cranelift backend does not support {0}")]
    Unsupported(String),
    /// The kernel needs more of a resource than the backend allows (scratch memory, unrolled code size).
    #[error("the Cranelift backend's limit is exceeded: {0}")]
    Limit(String),
    /// The kernel is malformed in a way the verifier should have rejected. This always represents a bug
    /// (in the producer of the kernel, or in the verifier).
    #[error("malformed kernel (the verifier should have rejected it): {0}")]
    Malformed(String),
}

/// A result with a [`ClifError`].
pub type ClifResult<T> = Result<T, ClifError>;

/// A kernel lowered to CLIF: the per-block function, the grid function and what the runtime needs to call
/// them.
#[derive(Debug, Clone)]
pub struct ClifKernel {
    /// `fn(ctx: *const BlockContext, args: *const ArgSlot, scratch: *mut u8) -> i32`, run once per block
    /// (see [`abi`]); returns [`abi::STATUS_OK`] or a failure status.
    pub kernel_fn: Function,
    /// `fn(args: *const ArgSlot, grid: *mut [u32; 3]) -> i32`: evaluates the kernel's grid expressions.
    pub grid_fn: Function,
    /// Bytes of scratch memory (16-byte aligned) each concurrently running block needs.
    pub scratch_bytes: usize,
    /// The message of each `Assert`, indexed by `status - abi::STATUS_ASSERT_BASE`.
    pub assert_messages: Vec<String>,
}

/// Lowers `kernel` for a target (calling convention and pointer width; the pointer width must be 64 bits).
///
/// # Errors
/// [`ClifError::Unsupported`] or [`ClifError::Limit`] for kernels beyond this backend, and
/// [`ClifError::Malformed`] for kernels the verifier would reject.
pub fn lower_kernel(kernel: &Kernel, target: TargetFrontendConfig) -> ClifResult<ClifKernel> {
    let frame = Frame::plan(kernel)?;
    let mut kernel_fn = Function::new();
    let mut func_ctx = FunctionBuilderContext::new();
    let assert_messages = {
        let mut lowerer = ClifLowerer::new(kernel, &frame, target, &mut kernel_fn, &mut func_ctx)?;
        lowerer.lower_kernel()?;
        lowerer.finish()
    };
    let mut grid_fn = Function::new();
    lowerer::lower_grid(kernel, target, &mut grid_fn)?;
    Ok(ClifKernel { kernel_fn, grid_fn, scratch_bytes: frame.size_bytes(), assert_messages })
}

/// The CLIF text of a lowered kernel (both functions), as `tilevm compile --emit clif` prints it.
pub fn to_clif_text(clif: &ClifKernel) -> String {
    format!("{}\n{}", clif.grid_fn.display(), clif.kernel_fn.display())
}
