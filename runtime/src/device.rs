//! The device interface every backend implements: compile a kernel once, run it many times.

use std::fmt;
use std::time::Duration;

use tilevm_vm::interp::KernelArg;
use tilevm_vm::verify::VerifiedKernel;

use crate::RuntimeResult;

/// Which backend runs a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// WGSL through wgpu (Vulkan, Metal, DX12).
    Gpu,
    /// Native code through Cranelift.
    Cpu,
    /// The reference interpreter.
    Interp,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Gpu => "gpu",
            Backend::Cpu => "cpu",
            Backend::Interp => "interp",
        })
    }
}

/// The most iterations one execution of a `while` loop runs on the CPU and GPU backends before the
/// launch stops with an error (the interpreter bounds whole launches, `vm::interp::RunOptions::max_steps`):
/// a loop that never ends fails instead of hanging or, on a GPU, being cut short silently.
/// `CpuOptions::while_limit` and `GpuOptions::while_limit` change it.
pub const DEFAULT_WHILE_LIMIT: u32 = 1 << 28;

/// A place kernels run.
pub trait Device {
    /// The backend.
    fn backend(&self) -> Backend;
    /// A human-readable name (adapter name, CPU model, `interpreter`).
    fn name(&self) -> String;
    /// Compiles a verified kernel for this device (implementations cache by kernel).
    ///
    /// # Errors
    /// `RuntimeError::Unsupported` or `Limit` when the kernel needs what the device lacks; other variants
    /// for compiler bugs and device failures.
    fn compile(&self, kernel: &VerifiedKernel) -> RuntimeResult<Box<dyn CompiledKernel>>;
}

/// A kernel compiled for one device.
pub trait CompiledKernel {
    /// Runs the kernel over its whole grid. `args` follow the kernel's parameters: scalars as codes,
    /// global buffers as packed bytes, which are updated in place for mutable parameters.
    ///
    /// # Errors
    /// Argument mismatches, device errors, and run-time errors the backend detects.
    fn run(&self, args: &mut [KernelArg]) -> RuntimeResult<RunStats>;
}

/// What one run measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunStats {
    /// Time spent executing the kernel (GPU timestamps where available, else wall clock).
    pub kernel_time: Duration,
}
