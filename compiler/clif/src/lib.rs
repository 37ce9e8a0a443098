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
//!
//! Lowering has two stages: instruction selection ([`isel`]) turns every instruction into one of the
//! backend's own operations ([`isel::CpuOp`]: 128-bit SIMD paths for loads, casts, arithmetic and dots,
//! load → cast → dot chains fused into one dot), chosen by one ordered rule table over the target's
//! features; emission (`emit` and the emitters it calls) then only matches on those operations.

pub mod abi;
mod byte_dot;
mod casts;
mod dots;
mod emit;
mod exprs;
mod frame;
mod global_memory;
pub mod isel;
mod loops;
mod lowerer;
mod prefetch;
mod prints;
mod reduce;
mod simd;
mod tiles;
mod vector_arith;
mod vector_casts;
mod vector_reduce;
mod view_bounds;
mod views;

use cranelift_codegen::ir::Function;
use cranelift_codegen::isa::{TargetFrontendConfig, TargetIsa};
use cranelift_frontend::FunctionBuilderContext;
use tilevm_vm::verify::VerifiedKernel;

pub use frame::Frame;
pub use isel::{Feature, Selection, TargetFeatures, select, selection_text};
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
    /// Instruction selection and emission disagree. This always represents a bug in this backend.
    #[error("internal error of the Cranelift backend: {0}")]
    Internal(String),
}

/// A result with a [`ClifError`].
pub type ClifResult<T> = Result<T, ClifError>;

/// What lowering needs to know of the target: its calling convention and pointer width, and the features
/// instruction selection may use.
#[derive(Clone, Copy)]
pub struct ClifTarget {
    /// Calling convention and pointer width (64 bits required).
    pub frontend: TargetFrontendConfig,
    /// Vector width and target-specific instructions (`isel`).
    pub features: TargetFeatures,
}

impl std::fmt::Debug for ClifTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClifTarget")
            .field("pointer_bits", &self.frontend.pointer_bits())
            .field("features", &self.features)
            .finish()
    }
}

impl ClifTarget {
    /// x86-64 System V with SSSE3 and without prefetch, whatever the host: the fixed target of the golden
    /// tests and of `--emit isel` output meant to be compared across machines.
    pub fn x86_64_ssse3() -> ClifTarget {
        ClifTarget {
            frontend: TargetFrontendConfig {
                default_call_conv: cranelift_codegen::isa::CallConv::SystemV,
                pointer_width: target_lexicon::PointerWidth::U64,
                page_size_align_log2: 12,
            },
            features: TargetFeatures::X86_64_SSSE3,
        }
    }

    /// The target of `isa`: 128-bit vectors (Cranelift 0.135 has no wider ones), `x86_pmaddubsw` where
    /// it lowers, no prefetch.
    pub fn of(isa: &dyn TargetIsa) -> ClifTarget {
        ClifTarget {
            frontend: isa.frontend_config(),
            features: TargetFeatures {
                vector_bytes: 16,
                byte_multiply_add: isa.has_x86_pmaddubsw_lowering(),
                software_prefetch: false,
            },
        }
    }
}

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

/// Lowers `kernel` for a target (calling convention and pointer width; the pointer width must be 64 bits):
/// selects its operations (`isel::select`), then emits them.
///
/// # Errors
/// [`ClifError::Unsupported`] or [`ClifError::Limit`] for kernels beyond this backend;
/// [`ClifError::Malformed`] and [`ClifError::Internal`] are bugs.
pub fn lower_kernel(kernel: &VerifiedKernel, target: ClifTarget) -> ClifResult<ClifKernel> {
    let frame = Frame::plan(kernel)?;
    let selection = isel::select(kernel, target.features);
    let mut kernel_fn = Function::new();
    let mut func_ctx = FunctionBuilderContext::new();
    let assert_messages = {
        let mut lowerer = ClifLowerer::new(kernel, &frame, selection, target, &mut kernel_fn, &mut func_ctx)?;
        lowerer.lower_kernel()?;
        lowerer.finish()
    };
    let mut grid_fn = Function::new();
    lowerer::lower_grid(kernel, target.frontend, &mut grid_fn)?;
    Ok(ClifKernel { kernel_fn, grid_fn, scratch_bytes: frame.size_bytes(), assert_messages })
}

/// The CLIF text of a lowered kernel (both functions), as `tilevm compile --emit clif` prints it.
pub fn to_clif_text(clif: &ClifKernel) -> String {
    format!("{}\n{}", clif.grid_fn.display(), clif.kernel_fn.display())
}

#[cfg(test)]
mod tests {
    use cranelift_codegen::settings;
    use tilevm_vm::DataType;
    use tilevm_vm::dtype::IntType;
    use tilevm_vm::ir::{Expr, Inst, KernelBuilder, Rounding};
    use tilevm_vm::layout::local;

    use super::*;

    /// x86-64 System V (Cranelift's own triple parser, so no extra dependency).
    fn target() -> ClifTarget {
        let builder = cranelift_codegen::isa::lookup_by_name("x86_64-unknown-linux-gnu").unwrap();
        let isa = builder.finish(settings::Flags::new(settings::builder())).unwrap();
        ClifTarget::of(isa.as_ref())
    }

    #[test]
    fn a_load_cast_packed_store_kernel_passes_the_cranelift_verifier() {
        let u4 = DataType::Int(IntType { signed: false, bits: 4 });
        let mut builder = KernelBuilder::new("unpack", 1);
        let src = builder.global_param("src", DataType::F16, false);
        let dst = builder.global_param("dst", u4, true);
        builder.grid(vec![Expr::u32(4)]);
        let shape = vec![Expr::u32(256)];
        let src_view =
            builder.view_global("s", src, DataType::F16, shape.clone(), vec![Expr::u32(1)], Expr::u32(0));
        let dst_view = builder.view_global("d", dst, u4, shape, vec![Expr::u32(1)], Expr::u32(0));
        let codes = builder.tile("codes", u4, local(&[64]).unwrap());
        let halves = builder.tile("halves", DataType::F16, local(&[64]).unwrap());
        let offset = Expr::binary(tilevm_vm::ir::BinaryOp::Mul, Expr::block_index(0), Expr::u32(64));
        builder.inst(Inst::LoadGlobal {
            dst: halves,
            src: src_view,
            offsets: vec![offset.clone()],
            dims: vec![0],
        });
        builder.inst(Inst::Cast { dst: codes, src: halves, rounding: Rounding::NearestEven });
        builder.inst(Inst::StoreGlobal { dst: dst_view, src: codes, offsets: vec![offset], dims: vec![0] });
        let kernel = builder.finish().unwrap();
        let lowered = lower_kernel(&kernel, target()).unwrap();
        let flags = settings::Flags::new(settings::builder());
        for function in [&lowered.kernel_fn, &lowered.grid_fn] {
            if let Err(errors) = cranelift_codegen::verify_function(function, &flags) {
                panic!("verifier errors: {errors}\n{}", function.display());
            }
        }
        assert!(to_clif_text(&lowered).contains("atomic_rmw"), "sub-byte stores must be atomic per byte");
    }
}
