//! Device selection: one entry point that opens the device a backend name asks for.

use crate::cpu::CpuDevice;
use crate::gpu::GpuDevice;
use crate::{Backend, Device, InterpreterDevice, RuntimeResult};

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
