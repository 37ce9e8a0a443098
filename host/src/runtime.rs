//! [`Runtime`]: one device, opened explicitly or automatically, with its cache of compiled kernels.
//! Cheap to clone and `Send + Sync`, so a serving engine shares one across its threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tilevm_runtime::{
    Backend, CompiledKernel, CpuOptions, Device, DeviceOptions, GpuOptions, KernelFingerprint,
    open_auto_with, open_device_with,
};
use tilevm_vm::verify::VerifiedKernel;

use crate::{Error, PrintSink, Result};

/// Which device a [`Runtime`] opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// A hardware GPU, else the CPU backend, else the interpreter; software rasterizers (lavapipe,
    /// llvmpipe, WARP) only when [`RuntimeOptions::adapter`] names one.
    #[default]
    Auto,
    /// A GPU adapter through wgpu (Vulkan, Metal, DX12), software ones included.
    Gpu,
    /// Native code through Cranelift.
    Cpu,
    /// The reference interpreter, which defines what kernels mean.
    Interp,
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;

    /// `auto`, `gpu`, `cpu` or `interp`, as the CLI's `--backend` spells them.
    fn from_str(text: &str) -> Result<DeviceChoice> {
        match text {
            "auto" => Ok(DeviceChoice::Auto),
            "gpu" => Ok(DeviceChoice::Gpu),
            "cpu" => Ok(DeviceChoice::Cpu),
            "interp" => Ok(DeviceChoice::Interp),
            other => Err(Error::Value(format!("unknown device `{other}` (auto, gpu, cpu or interp)"))),
        }
    }
}

/// How a [`Runtime`] is opened. Nothing here is read from the environment unless
/// [`RuntimeOptions::from_env`] is asked to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// The device.
    pub device: DeviceChoice,
    /// A GPU adapter by a substring of its name or backend (`"lavapipe"`, `"vulkan"`).
    pub adapter: Option<String>,
    /// Worker threads of the CPU backend (`None`: one per core).
    pub cpu_threads: Option<usize>,
    /// Software prefetch in the CPU backend's streaming dots (faster where memory latency bounds a
    /// GEMV, slower where it runs near the read bandwidth).
    pub cpu_prefetch: bool,
}

impl RuntimeOptions {
    /// The defaults with the CLI's environment variables applied: `TILEVM_ADAPTER`,
    /// `TILEVM_CPU_THREADS`, `TILEVM_CPU_PREFETCH=1`.
    ///
    /// # Errors
    /// When `TILEVM_CPU_THREADS` is not a positive number.
    pub fn from_env() -> Result<RuntimeOptions> {
        let env = DeviceOptions::from_env()?;
        Ok(RuntimeOptions {
            device: DeviceChoice::Auto,
            adapter: env.adapter,
            cpu_threads: env.cpu_threads,
            cpu_prefetch: env.cpu.prefetch,
        })
    }

    fn device_options(&self) -> DeviceOptions {
        DeviceOptions {
            adapter: self.adapter.clone(),
            cpu_threads: self.cpu_threads,
            cpu: CpuOptions { prefetch: self.cpu_prefetch, ..CpuOptions::default() },
            gpu: GpuOptions::default(),
        }
    }
}

/// One device and the kernels compiled for it.
///
/// ```
/// let runtime = tilevm_host::Runtime::cpu()?;
/// assert_eq!(runtime.backend(), tilevm_host::Backend::Cpu);
/// let shared = runtime.clone(); // the same device and cache
/// std::thread::spawn(move || shared.name()).join().unwrap();
/// # Ok::<(), tilevm_host::Error>(())
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    device: Box<dyn Device>,
    /// Compiled kernels by the fingerprint of the verified kernel; the device is fixed, so that is
    /// the whole key.
    compiled: Mutex<HashMap<KernelFingerprint, Arc<dyn CompiledKernel>>>,
    /// Where the kernels' prints go.
    prints: Mutex<PrintSink>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("device", &self.name()).field("backend", &self.backend()).finish()
    }
}

impl Runtime {
    /// Opens the device `options` ask for.
    ///
    /// # Errors
    /// [`Error::Runtime`] when that device is not here or cannot be opened.
    pub fn open(options: &RuntimeOptions) -> Result<Runtime> {
        let device_options = options.device_options();
        let device = match options.device {
            DeviceChoice::Auto => open_auto_with(&device_options)?,
            DeviceChoice::Gpu => open_device_with(Backend::Gpu, &device_options)?,
            DeviceChoice::Cpu => open_device_with(Backend::Cpu, &device_options)?,
            DeviceChoice::Interp => open_device_with(Backend::Interp, &device_options)?,
        };
        Ok(Runtime::on_device(device))
    }

    /// Sends the lines of every later launch's `print(...)` to `sink` (standard output by default;
    /// [`PrintSink`] shows one collected by the host).
    ///
    /// ```
    /// let runtime = tilevm_host::Runtime::interp();
    /// runtime.set_print_sink(tilevm_host::PrintSink::Discard); // a serving engine's quiet default
    /// ```
    pub fn set_print_sink(&self, sink: PrintSink) {
        *self.inner.prints.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = sink;
    }

    /// Where the kernels' prints go now.
    pub(crate) fn print_sink(&self) -> PrintSink {
        self.inner.prints.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The fastest device here ([`DeviceChoice::Auto`]).
    ///
    /// # Errors
    /// As [`Runtime::open`].
    pub fn auto() -> Result<Runtime> {
        Runtime::open(&RuntimeOptions::default())
    }

    /// The preferred GPU adapter, software rasterizers included.
    ///
    /// # Errors
    /// As [`Runtime::open`]; `Unsupported` when there is no adapter.
    pub fn gpu() -> Result<Runtime> {
        Runtime::open(&RuntimeOptions { device: DeviceChoice::Gpu, ..RuntimeOptions::default() })
    }

    /// The CPU backend with one thread per core.
    ///
    /// # Errors
    /// As [`Runtime::open`]; `Unsupported` when Cranelift has no backend for this ISA.
    pub fn cpu() -> Result<Runtime> {
        Runtime::open(&RuntimeOptions { device: DeviceChoice::Cpu, ..RuntimeOptions::default() })
    }

    /// The reference interpreter.
    pub fn interp() -> Runtime {
        Runtime::on_device(Box::new(tilevm_runtime::InterpreterDevice))
    }

    /// A runtime over a device opened by hand (a `GpuDevice` with test options, say).
    pub fn on_device(device: Box<dyn Device>) -> Runtime {
        let inner =
            Inner { device, compiled: Mutex::new(HashMap::new()), prints: Mutex::new(PrintSink::default()) };
        Runtime { inner: Arc::new(inner) }
    }

    /// The backend of the device.
    pub fn backend(&self) -> Backend {
        self.inner.device.backend()
    }

    /// The device's name (the adapter, the CPU and its threads, or `reference interpreter`).
    pub fn name(&self) -> String {
        self.inner.device.name()
    }

    /// The device itself, for what the runtime crate offers beyond this API.
    pub fn device(&self) -> &dyn Device {
        self.inner.device.as_ref()
    }

    /// Whether `self` and `other` are clones of one runtime (one device, one cache).
    pub fn same_as(&self, other: &Runtime) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The number of distinct kernels compiled so far.
    pub fn compiled_kernels(&self) -> usize {
        self.inner.compiled.lock().map(|compiled| compiled.len()).unwrap_or(0)
    }

    /// `kernel` compiled for this device, from the cache when the same verified kernel was compiled
    /// before (a second compile of one instantiation costs a hash).
    pub(crate) fn compiled(&self, kernel: &VerifiedKernel) -> Result<Arc<dyn CompiledKernel>> {
        let key = KernelFingerprint::of(kernel);
        if let Some(found) = self.inner.compiled.lock().ok().and_then(|compiled| compiled.get(&key).cloned())
        {
            return Ok(found);
        }
        // Compiled outside the lock, so other threads' launches are not held up; two threads that race
        // to compile one kernel both compile it and one result is kept.
        let compiled: Arc<dyn CompiledKernel> = Arc::from(self.inner.device.compile(kernel)?);
        let mut cache = self.inner.compiled.lock().map_err(|_| {
            Error::Runtime(tilevm_runtime::RuntimeError::Device("the kernel cache lock was poisoned".into()))
        })?;
        Ok(Arc::clone(cache.entry(key).or_insert(compiled)))
    }
}
