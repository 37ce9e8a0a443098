//! JIT compilation of a lowered kernel with `cranelift-jit` for the host ISA.

use cranelift_codegen::Context;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module, default_libcall_names};
use tilevm_clif::abi::{ArgSlot, BlockContext, Helper};
use tilevm_clif::{ClifError, ClifKernel};
use tilevm_vm::verify::VerifiedKernel;

use super::{CpuOptions, helpers};
use crate::RuntimeError;

/// The per-block entry point.
pub(super) type KernelFn = unsafe extern "C" fn(*const BlockContext, *const ArgSlot, *mut u8) -> i32;
/// The grid entry point.
pub(super) type GridFn = unsafe extern "C" fn(*const ArgSlot, *mut [u32; 3]) -> i32;

/// A kernel compiled to native code; the module owns the code and must outlive every call.
pub(super) struct JitKernel {
    _module: JITModule,
    pub(super) kernel_fn: KernelFn,
    pub(super) grid_fn: GridFn,
    pub(super) scratch_bytes: usize,
    pub(super) assert_messages: Vec<String>,
}

// SAFETY: after `finalize_definitions` the module is only kept alive (never mutated), and the compiled
// functions are plain machine code that may run on any thread.
unsafe impl Send for JitKernel {}
unsafe impl Sync for JitKernel {}

/// The host ISA with speed optimisations.
pub(super) fn host_isa() -> Result<OwnedTargetIsa, RuntimeError> {
    let mut flags = settings::builder();
    let settings = [("opt_level", "speed"), ("use_colocated_libcalls", "false"), ("is_pic", "false")];
    for (name, value) in settings {
        flags
            .set(name, value)
            .map_err(|error| RuntimeError::Internal(format!("cranelift flag {name}: {error}")))?;
    }
    let isa_builder = cranelift_native::builder()
        .map_err(|error| RuntimeError::Unsupported { device: "cpu".into(), what: error.to_string() })?;
    isa_builder.finish(settings::Flags::new(flags)).map_err(|error| RuntimeError::Internal(error.to_string()))
}

/// Maps a lowering error to the runtime's error.
fn lowering_error(error: ClifError) -> RuntimeError {
    match error {
        ClifError::Unsupported(what) => RuntimeError::Unsupported { device: "cpu".into(), what },
        ClifError::Limit(what) => RuntimeError::Limit { device: "cpu".into(), what },
        // Both are tilevm bugs: a verified kernel is never malformed, and selection and emission agree.
        ClifError::Malformed(_) | ClifError::Internal(_) => RuntimeError::Internal(error.to_string()),
    }
}

/// Lowers `kernel` for `isa` with the lowering choices `options` make.
pub(super) fn lower_for(
    kernel: &VerifiedKernel,
    isa: &dyn TargetIsa,
    options: CpuOptions,
) -> Result<ClifKernel, RuntimeError> {
    tilevm_clif::lower_kernel(kernel, target_for(isa, options)).map_err(lowering_error)
}

/// The target `isa` with the choices `options` make.
pub(super) fn target_for(isa: &dyn TargetIsa, options: CpuOptions) -> tilevm_clif::ClifTarget {
    let mut target = tilevm_clif::ClifTarget::of(isa);
    target.features.byte_multiply_add &= !options.portable_simd;
    target.features.software_prefetch = options.prefetch;
    target
}

/// The disassembly of `kernel`'s per-block function for the host.
pub(super) fn disassemble(kernel: &VerifiedKernel, options: CpuOptions) -> Result<String, RuntimeError> {
    let isa = host_isa()?;
    let lowered = lower_for(kernel, isa.as_ref(), options)?;
    let mut context = Context::for_function(lowered.kernel_fn);
    context.set_disasm(true);
    let compiled = context
        .compile(isa.as_ref(), &mut ControlPlane::default())
        .map_err(|error| RuntimeError::Internal(format!("{:?}", error.inner)))?;
    let text = compiled.vcode.clone().unwrap_or_default();
    Ok(format!(
        "; kernel `{}` ({} bytes of machine code)\n{text}",
        kernel.name,
        compiled.code_info().total_size
    ))
}

/// Lowers `kernel` for the host and JIT-compiles it.
pub(super) fn compile(kernel: &VerifiedKernel, options: CpuOptions) -> Result<JitKernel, RuntimeError> {
    let isa = host_isa()?;
    let lowered = lower_for(kernel, isa.as_ref(), options)?;
    let call_conv = isa.default_call_conv();
    let mut jit_builder = JITBuilder::with_isa(isa, default_libcall_names());
    for helper in Helper::ALL {
        jit_builder.symbol(helper.symbol(), helpers::address(helper));
    }
    let mut module = JITModule::new(jit_builder);
    let internal = |error: cranelift_module::ModuleError| RuntimeError::Internal(format!("{error:?}"));
    // Helpers first, in `Helper::ALL` order, so that helper `h` is function id `h` (see `abi`).
    for helper in Helper::ALL {
        module
            .declare_function(helper.symbol(), Linkage::Import, &helper.signature(call_conv))
            .map_err(internal)?;
    }
    let kernel_id = module
        .declare_function("tilevm_kernel", Linkage::Local, &lowered.kernel_fn.signature)
        .map_err(internal)?;
    let grid_id = module
        .declare_function("tilevm_grid", Linkage::Local, &lowered.grid_fn.signature)
        .map_err(internal)?;
    let mut context = module.make_context();
    context.func = lowered.kernel_fn;
    module.define_function(kernel_id, &mut context).map_err(internal)?;
    module.clear_context(&mut context);
    context.func = lowered.grid_fn;
    module.define_function(grid_id, &mut context).map_err(internal)?;
    module.clear_context(&mut context);
    module.finalize_definitions().map_err(internal)?;
    let kernel_ptr = module.get_finalized_function(kernel_id);
    let grid_ptr = module.get_finalized_function(grid_id);
    // SAFETY: both functions were defined with exactly these signatures (`abi::kernel_signature` and
    // `abi::grid_signature`) under the host's default calling convention, which is `extern "C"`.
    let (kernel_fn, grid_fn) = unsafe {
        (
            std::mem::transmute::<*const u8, KernelFn>(kernel_ptr),
            std::mem::transmute::<*const u8, GridFn>(grid_ptr),
        )
    };
    Ok(JitKernel {
        _module: module,
        kernel_fn,
        grid_fn,
        scratch_bytes: lowered.scratch_bytes,
        assert_messages: lowered.assert_messages,
    })
}
