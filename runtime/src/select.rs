//! Device selection: the device a backend name asks for, and the one `auto` means.
//!
//! [`open_device_with`] and [`open_auto_with`] read no environment variable; [`open_device`] and
//! [`open_auto`] are the CLI's versions, which take `$TILEVM_ADAPTER`, `$TILEVM_CPU_THREADS` and
//! `$TILEVM_CPU_PREFETCH` where the caller leaves a choice open.

use crate::cpu::{CpuDevice, CpuOptions, threads_from_env};
use crate::gpu::{GpuDevice, GpuOptions, adapter_from_env};
use crate::{Backend, Device, InterpreterDevice, RuntimeError, RuntimeResult};

pub use crate::gpu::{AdapterSummary, list_adapters};

/// Everything a device is opened with: the adapter and both backends' options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceOptions {
    /// A GPU adapter, by a substring of its name or backend (`None`: the preferred one, or for
    /// `auto` the most preferred hardware one).
    pub adapter: Option<String>,
    /// The CPU backend's worker threads (`None`: one per core).
    pub cpu_threads: Option<usize>,
    /// The CPU backend's lowering choices.
    pub cpu: CpuOptions,
    /// The GPU backend's choices.
    pub gpu: GpuOptions,
}

impl DeviceOptions {
    /// The defaults, with `$TILEVM_ADAPTER`, `$TILEVM_CPU_THREADS` and `$TILEVM_CPU_PREFETCH` applied.
    ///
    /// # Errors
    /// `InvalidLaunch` when `$TILEVM_CPU_THREADS` is not a positive number.
    pub fn from_env() -> RuntimeResult<DeviceOptions> {
        Ok(DeviceOptions {
            adapter: adapter_from_env(),
            cpu_threads: threads_from_env()?,
            cpu: CpuOptions::from_env(),
            gpu: GpuOptions::default(),
        })
    }
}

/// Opens a device for `backend` with `options`.
///
/// # Errors
/// `Unsupported` when the backend is not available here (no GPU adapter, no JIT for the host ISA),
/// `Device` when opening fails, `InvalidLaunch` for zero CPU threads.
pub fn open_device_with(backend: Backend, options: &DeviceOptions) -> RuntimeResult<Box<dyn Device>> {
    match backend {
        Backend::Gpu => Ok(Box::new(GpuDevice::open_with(options.adapter.as_deref(), options.gpu)?)),
        Backend::Interp => Ok(Box::new(InterpreterDevice)),
        Backend::Cpu => Ok(Box::new(CpuDevice::new_with(options.cpu_threads, options.cpu)?)),
    }
}

/// Opens the fastest device that is here: a hardware GPU, else the CPU backend, else the interpreter.
/// Software rasterizers (lavapipe, llvmpipe, SwiftShader, WARP) are used only when `options.adapter`
/// names one, since the CPU backend outruns them; an adapter that matches nothing is an error, not a
/// fallback.
///
/// # Errors
/// `Unsupported` when the adapter matches none, `Device` when opening the GPU fails.
pub fn open_auto_with(options: &DeviceOptions) -> RuntimeResult<Box<dyn Device>> {
    if let Some(adapter) = &options.adapter {
        return Ok(Box::new(GpuDevice::open_with(Some(adapter), options.gpu)?));
    }
    if let Some(gpu) = GpuDevice::open_hardware(options.gpu)? {
        return Ok(Box::new(gpu));
    }
    match CpuDevice::new_with(options.cpu_threads, options.cpu) {
        Ok(cpu) => Ok(Box::new(cpu)),
        // No JIT for this host ISA.
        Err(RuntimeError::Unsupported { .. }) => Ok(Box::new(InterpreterDevice)),
        Err(error) => Err(error),
    }
}

/// [`open_device_with`] with `adapter`, else [`DeviceOptions::from_env`].
///
/// # Errors
/// As [`open_device_with`] and [`DeviceOptions::from_env`].
pub fn open_device(backend: Backend, adapter: Option<&str>) -> RuntimeResult<Box<dyn Device>> {
    open_device_with(backend, &env_options(adapter)?)
}

/// [`open_auto_with`] with `adapter`, else [`DeviceOptions::from_env`].
///
/// # Errors
/// As [`open_auto_with`] and [`DeviceOptions::from_env`].
pub fn open_auto(adapter: Option<&str>) -> RuntimeResult<Box<dyn Device>> {
    open_auto_with(&env_options(adapter)?)
}

fn env_options(adapter: Option<&str>) -> RuntimeResult<DeviceOptions> {
    let mut options = DeviceOptions::from_env()?;
    if let Some(adapter) = adapter {
        options.adapter = Some(adapter.to_string());
    }
    Ok(options)
}

/// Whether `error` says a device cannot run a kernel (it needs more than the device has, or a
/// feature it lacks), so that another device may: what `auto` falls back from.
pub fn exceeds_device(error: &RuntimeError) -> bool {
    matches!(error, RuntimeError::Limit { .. } | RuntimeError::Unsupported { .. })
}
