//! Device selection: one entry point that opens the device a backend name asks for.

use crate::cpu::CpuDevice;
use crate::gpu::GpuDevice;
use crate::gpu::GpuOptions;
use crate::{Backend, Device, InterpreterDevice, RuntimeError, RuntimeResult};

pub use crate::gpu::{AdapterSummary, list_adapters};

/// Opens a device for `backend`; `adapter` picks a GPU adapter by name or backend substring (default:
/// `$TILEVM_ADAPTER`, else the preferred adapter).
///
/// # Errors
/// `Unsupported` when the backend is not available here (no GPU adapter, no JIT for the host ISA),
/// `Device` when opening fails. The CPU device's thread count comes from `TILEVM_CPU_THREADS`.
pub fn open_device(backend: Backend, adapter: Option<&str>) -> RuntimeResult<Box<dyn Device>> {
    match backend {
        Backend::Gpu => Ok(Box::new(GpuDevice::open(adapter)?)),
        Backend::Interp => Ok(Box::new(InterpreterDevice)),
        Backend::Cpu => Ok(Box::new(CpuDevice::new(None)?)),
    }
}

/// Opens the fastest device that is here: a hardware GPU, else the CPU backend, else the interpreter.
/// Software rasterizers (lavapipe, llvmpipe, SwiftShader, WARP) are used only when `adapter` (or
/// `$TILEVM_ADAPTER`) names one, since the CPU backend outruns them; an `adapter` that matches
/// nothing is an error, not a fallback.
///
/// # Errors
/// `Unsupported` when `adapter` matches no adapter, `Device` when opening the GPU fails.
pub fn open_auto(adapter: Option<&str>) -> RuntimeResult<Box<dyn Device>> {
    if adapter.is_some() {
        return Ok(Box::new(GpuDevice::open(adapter)?));
    }
    if let Some(gpu) = GpuDevice::open_hardware(GpuOptions::default())? {
        return Ok(Box::new(gpu));
    }
    match CpuDevice::new(None) {
        Ok(cpu) => Ok(Box::new(cpu)),
        // No JIT for this host ISA.
        Err(RuntimeError::Unsupported { .. }) => Ok(Box::new(InterpreterDevice)),
        Err(error) => Err(error),
    }
}

/// Whether `error` says a device cannot run a kernel (it needs more than the device has, or a
/// feature it lacks), so that another device may: what `--backend auto` falls back from.
pub fn exceeds_device(error: &RuntimeError) -> bool {
    matches!(error, RuntimeError::Limit { .. } | RuntimeError::Unsupported { .. })
}
