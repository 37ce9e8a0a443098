//! The device interface every backend implements: compile a kernel once, run it many times.

use std::fmt;
use std::time::Duration;

use tilevm_vm::interp::KernelArg;
use tilevm_vm::verify::VerifiedKernel;

use crate::{DeviceBuffer, LaunchArg, RuntimeResult};

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

/// A place kernels run. Devices are `Send + Sync`: one device may compile and launch from many threads.
pub trait Device: Send + Sync {
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
    /// A buffer of `len` zero bytes on this device.
    ///
    /// # Errors
    /// `Limit` when the device cannot hold it (an allocation that fails is an error, never an abort).
    fn alloc_zeroed(&self, len: usize) -> RuntimeResult<DeviceBuffer>;
    /// A buffer on this device holding a copy of `bytes`.
    ///
    /// # Errors
    /// As [`Device::alloc_zeroed`].
    fn upload(&self, bytes: &[u8]) -> RuntimeResult<DeviceBuffer>;
    /// A copy of a buffer's bytes on the host (after every launch submitted before has finished).
    ///
    /// # Errors
    /// `InvalidLaunch` when the buffer belongs to another device; device failures.
    fn download(&self, buffer: &DeviceBuffer) -> RuntimeResult<Vec<u8>>;
}

/// A kernel compiled for one device; like devices, `Send + Sync`.
pub trait CompiledKernel: Send + Sync {
    /// Runs the kernel over its whole grid. `args` follow the kernel's parameters: scalars as codes,
    /// global buffers as packed bytes, which are updated in place for mutable parameters.
    ///
    /// # Errors
    /// Argument mismatches, device errors, and run-time errors the backend detects.
    fn run(&self, args: &mut [KernelArg]) -> RuntimeResult<RunStats>;
    /// Runs the kernel over its whole grid on buffers that live on its device; mutable parameters'
    /// buffers are written in place and nothing is copied back to the host.
    ///
    /// # Errors
    /// As [`CompiledKernel::run`]; also `InvalidLaunch` for a buffer of another device, or a buffer a
    /// kernel writes that is passed to another parameter too.
    fn launch(&self, args: &[LaunchArg]) -> RuntimeResult<RunStats>;
    /// As [`CompiledKernel::launch`], with each line the kernel's `print` instructions produce passed
    /// to `print`, in the interpreter's order (blocks x fastest, each block's prints in order), also
    /// when the launch then fails.
    ///
    /// # Errors
    /// As [`CompiledKernel::launch`].
    fn launch_printing(&self, args: &[LaunchArg], print: &mut dyn FnMut(&str)) -> RuntimeResult<RunStats>;
    /// As [`CompiledKernel::run`], printing as [`CompiledKernel::launch_printing`] does.
    ///
    /// # Errors
    /// As [`CompiledKernel::run`].
    fn run_printing(&self, args: &mut [KernelArg], print: &mut dyn FnMut(&str)) -> RuntimeResult<RunStats>;
}

/// What one run measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunStats {
    /// Time spent executing the kernel (GPU timestamps where available, else wall clock).
    pub kernel_time: Duration,
}
