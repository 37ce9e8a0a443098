//! Device selection: one entry point that opens the device a backend name asks for.

use crate::gpu::GpuDevice;
use crate::{Backend, Device, InterpreterDevice, RuntimeError, RuntimeResult};

pub use crate::gpu::{AdapterSummary, list_adapters};

/// Opens a device for `backend`; `adapter` picks a GPU adapter by name or backend substring (default:
/// `$TILEVM_ADAPTER`, else the preferred adapter).
///
/// # Errors
/// `Unsupported` when the backend is not available here (no GPU adapter, CPU backend not built yet),
/// `Device` when opening fails.
pub fn open_device(backend: Backend, adapter: Option<&str>) -> RuntimeResult<Box<dyn Device>> {
    match backend {
        Backend::Gpu => Ok(Box::new(GpuDevice::open(adapter)?)),
        Backend::Interp => Ok(Box::new(InterpreterDevice)),
        Backend::Cpu => Err(RuntimeError::Unsupported {
            device: "cpu".to_string(),
            what: "the Cranelift CPU backend is not available in this build".to_string(),
        }),
    }
}
