//! The GPU device: kernels compiled to WGSL (validated by naga) and run through wgpu on Vulkan, Metal
//! or DX12 — including Mesa's lavapipe software Vulkan driver on machines without a GPU.
//!
//! Every wgpu call that can fail runs inside error scopes, and uncaptured errors are recorded instead of
//! panicking, so validation errors, out-of-memory and device loss come back as [`RuntimeError`]s.

mod adapter;
mod bandwidth;
mod grid;
mod launch;
mod timing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tilevm_vm::verify::VerifiedKernel;
use tilevm_wgsl::GpuCaps;

use crate::buffer::{DeviceBuffer, Memory};
use crate::{Backend, CompiledKernel, Device, RuntimeError, RuntimeResult};

use adapter::AdapterChoice;
pub use adapter::{ADAPTER_ENV, AdapterSummary, adapter_from_env, list_adapters};

/// Features a device leaves unused even where the adapter has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// Keep f16 values in `u32` words (the path of adapters without `SHADER_F16`).
    pub no_native_f16: bool,
    /// The most iterations one execution of a `while` loop may run; `None` means
    /// [`crate::DEFAULT_WHILE_LIMIT`]. Passed at launch, so it does not change the shader.
    pub while_limit: Option<u32>,
    /// Have naga add its own bounds check to every buffer access of the generated shaders, on top of
    /// tilevm's masking (off by default: the masking covers every access; see `launch::shader_module`).
    pub shader_bounds_checks: bool,
}

/// A wgpu device opened on one adapter, with a cache of compiled pipelines. `Send + Sync`: launches may
/// come from many threads; wgpu's queue orders them.
///
/// On a headless Linux machine without `XDG_RUNTIME_DIR`, Mesa's device-select Vulkan layer makes
/// libwayland print `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` whenever an
/// instance is created; a host program switches the layer off with `NODEVICE_SELECT=1` (the `tilevm`
/// program does so itself, `src/main.rs`), since a library cannot safely change the environment.
pub struct GpuDevice {
    shared: Arc<Shared>,
}

/// What compiled kernels share with their device.
struct Shared {
    device: wgpu::Device,
    queue: wgpu::Queue,
    summary: AdapterSummary,
    caps: GpuCaps,
    limits: wgpu::Limits,
    timestamps: bool,
    /// [`GpuOptions::while_limit`], resolved.
    while_limit: u32,
    /// [`GpuOptions::shader_bounds_checks`].
    shader_bounds_checks: bool,
    /// Errors nobody captured in a scope (wgpu would otherwise panic), and the device-lost reason.
    uncaptured: Arc<Mutex<Vec<String>>>,
    /// Compiled pipelines keyed by WGSL text: the same kernel and specialisation compile once.
    pipelines: Mutex<HashMap<String, Arc<launch::Pipeline>>>,
}

/// The memory of a [`DeviceBuffer`] on a GPU: a storage buffer padded to whole words, and the device
/// it belongs to (a buffer binds only on its own device).
pub(crate) struct GpuMemory {
    buffer: wgpu::Buffer,
    /// The address of the owning device's [`Shared`].
    owner: usize,
}

impl std::fmt::Debug for GpuDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuDevice").field("adapter", &self.shared.summary.name).finish()
    }
}

impl GpuDevice {
    /// Opens the adapter whose name or backend contains `adapter`, else the one `$TILEVM_ADAPTER`
    /// names, else the preferred one: the CLI's and the tests' way (see [`GpuDevice::open_with`] for
    /// one that reads no environment).
    ///
    /// # Errors
    /// `Unsupported` when there is no (matching) adapter, `Device` when the device cannot be created.
    pub fn open(adapter: Option<&str>) -> RuntimeResult<GpuDevice> {
        let from_env = adapter_from_env();
        GpuDevice::open_with(adapter.or(from_env.as_deref()), GpuOptions::default())
    }

    /// Opens the adapter whose name or backend contains `adapter`, or the preferred one, with
    /// features switched off by `options` (to test the fallback paths on an adapter that has the
    /// feature). Reads no environment variable.
    ///
    /// # Errors
    /// As [`GpuDevice::open`].
    pub fn open_with(adapter: Option<&str>, options: GpuOptions) -> RuntimeResult<GpuDevice> {
        let choice = adapter.map_or(AdapterChoice::Preferred, AdapterChoice::Named);
        let chosen = adapter::choose(choice)?.ok_or_else(|| RuntimeError::Unsupported {
            device: "gpu".to_string(),
            what: "no GPU adapter found".to_string(),
        })?;
        GpuDevice::on_adapter(&chosen, options)
    }

    /// Opens the most preferred hardware adapter (what `auto` device choice takes); `Ok(None)` when
    /// there are only software rasterizers, or no adapter at all. Reads no environment variable.
    ///
    /// # Errors
    /// `Device` when the device cannot be created.
    pub fn open_hardware(options: GpuOptions) -> RuntimeResult<Option<GpuDevice>> {
        match adapter::choose(AdapterChoice::Hardware) {
            Ok(Some(chosen)) => GpuDevice::on_adapter(&chosen, options).map(Some),
            // No adapter at all: the caller falls back as for software ones.
            Ok(None) | Err(RuntimeError::Unsupported { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn on_adapter(chosen: &wgpu::Adapter, options: GpuOptions) -> RuntimeResult<GpuDevice> {
        let summary = adapter::summary(chosen);
        let mut features = chosen.features() & adapter::wanted_features();
        if options.no_native_f16 {
            features.remove(wgpu::Features::SHADER_F16);
        }
        let limits = chosen.limits();
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("tilevm"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(chosen.request_device(&descriptor))
            .map_err(|error| RuntimeError::Device(format!("cannot open {}: {error}", summary.name)))?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&uncaptured);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut errors) = sink.lock() {
                errors.push(error.to_string());
            }
        }));
        let lost = Arc::clone(&uncaptured);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut errors) = lost.lock() {
                errors.push(format!("device lost ({reason:?}): {message}"));
            }
        });
        let info = chosen.get_info();
        let caps = GpuCaps {
            has_f16: features.contains(wgpu::Features::SHADER_F16),
            subgroup_size: features.contains(wgpu::Features::SUBGROUP).then_some(info.subgroup_min_size),
            max_shared_bytes: limits.max_compute_workgroup_storage_size,
            max_workgroup_threads: limits
                .max_compute_invocations_per_workgroup
                .min(limits.max_compute_workgroup_size_x),
            max_storage_buffers: limits.max_storage_buffers_per_shader_stage,
        };
        Ok(GpuDevice {
            shared: Arc::new(Shared {
                device,
                queue,
                summary,
                caps,
                limits,
                timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
                while_limit: options.while_limit.unwrap_or(crate::DEFAULT_WHILE_LIMIT),
                shader_bounds_checks: options.shader_bounds_checks,
                uncaptured,
                pipelines: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The capabilities code generation targets.
    pub fn caps(&self) -> GpuCaps {
        self.shared.caps
    }

    /// The adapter this device runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.shared.summary
    }

    /// The number of distinct pipelines compiled so far.
    pub fn cached_pipelines(&self) -> usize {
        self.shared.pipelines.lock().map(|pipelines| pipelines.len()).unwrap_or(0)
    }
}

impl Device for GpuDevice {
    fn backend(&self) -> Backend {
        Backend::Gpu
    }

    fn name(&self) -> String {
        format!("{} ({})", self.shared.summary.name, self.shared.summary.backend)
    }

    fn compile(&self, kernel: &VerifiedKernel) -> RuntimeResult<Box<dyn CompiledKernel>> {
        let compiled = tilevm_wgsl::compile(kernel, &self.shared.caps)
            .map_err(|error| self.shared.compile_error(error))?;
        let cached =
            self.shared.pipelines.lock().ok().and_then(|pipelines| pipelines.get(&compiled.source).cloned());
        let pipeline = match cached {
            Some(pipeline) => pipeline,
            None => {
                let pipeline = Arc::new(launch::Pipeline::new(&self.shared, &compiled)?);
                if let Ok(mut pipelines) = self.shared.pipelines.lock() {
                    pipelines.insert(compiled.source.clone(), Arc::clone(&pipeline));
                }
                pipeline
            }
        };
        Ok(Box::new(launch::GpuKernel::new(Arc::clone(&self.shared), kernel.kernel().clone(), pipeline)))
    }

    fn alloc_zeroed(&self, len: usize) -> RuntimeResult<DeviceBuffer> {
        // wgpu zeroes new buffers.
        self.shared.new_buffer(len, None)
    }

    fn upload(&self, bytes: &[u8]) -> RuntimeResult<DeviceBuffer> {
        self.shared.new_buffer(bytes.len(), Some(bytes))
    }

    fn download(&self, buffer: &DeviceBuffer) -> RuntimeResult<Vec<u8>> {
        let shared = &self.shared;
        let memory = shared.own_buffer(buffer, "the buffer to read back")?;
        let scopes = launch::Scopes::push(&shared.device);
        let mut encoder =
            shared.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        let staging = launch::copy_for_reading(&shared.device, &mut encoder, memory);
        shared.queue.submit([encoder.finish()]);
        scopes.finish(shared, "reading a buffer back")?;
        let mut bytes = launch::read_bytes(shared, &staging)?;
        bytes.truncate(buffer.len());
        Ok(bytes)
    }
}

impl Shared {
    fn device_name(&self) -> String {
        format!("{} ({})", self.summary.name, self.summary.backend)
    }

    fn compile_error(&self, error: tilevm_wgsl::Error) -> RuntimeError {
        let device = self.device_name();
        match error {
            tilevm_wgsl::Error::Unsupported { what, kernel } => {
                RuntimeError::Unsupported { device, what: format!("kernel `{kernel}`: {what}") }
            }
            tilevm_wgsl::Error::Limit { what, kernel } => {
                RuntimeError::Limit { device, what: format!("kernel `{kernel}`: {what}") }
            }
            // A verified kernel is never malformed: this is a tilevm bug, not the caller's.
            tilevm_wgsl::Error::Malformed { .. } => RuntimeError::Internal(error.to_string()),
            other => RuntimeError::Internal(other.to_string()),
        }
    }

    /// A storage buffer of `len` bytes, zeroed or holding `bytes`.
    fn new_buffer(self: &Arc<Shared>, len: usize, bytes: Option<&[u8]>) -> RuntimeResult<DeviceBuffer> {
        let size = launch::padded_size(len);
        if size > self.limits.max_buffer_size {
            return Err(RuntimeError::Limit {
                device: self.device_name(),
                what: format!(
                    "a buffer of {len} bytes (the device's largest is {})",
                    self.limits.max_buffer_size
                ),
            });
        }
        let scopes = launch::Scopes::push(&self.device);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: launch::STORAGE_USAGE,
            mapped_at_creation: false,
        });
        if let Some(bytes) = bytes {
            // `write_buffer` takes whole words; the tail of the last word stays zero.
            let whole = bytes.len() / 4 * 4;
            self.queue.write_buffer(&buffer, 0, &bytes[..whole]);
            if whole < bytes.len() {
                let mut tail = [0u8; 4];
                tail[..bytes.len() - whole].copy_from_slice(&bytes[whole..]);
                self.queue.write_buffer(&buffer, whole as u64, &tail);
            }
        }
        scopes.finish(self, &format!("allocating a buffer of {len} bytes"))?;
        let owner = Arc::as_ptr(self) as usize;
        Ok(DeviceBuffer::new(Memory::Gpu(Arc::new(GpuMemory { buffer, owner })), len))
    }

    /// The wgpu buffer of `buffer` when it belongs to this device; `what` names it in the error
    /// otherwise.
    fn own_buffer<'a>(&self, buffer: &'a DeviceBuffer, what: &str) -> RuntimeResult<&'a wgpu::Buffer> {
        match &buffer.memory {
            Memory::Gpu(memory) if memory.owner == std::ptr::from_ref(self) as usize => Ok(&memory.buffer),
            Memory::Gpu(_) => Err(RuntimeError::InvalidLaunch(format!(
                "{what} lives on another GPU device than {}",
                self.device_name()
            ))),
            Memory::Host(_) => Err(RuntimeError::InvalidLaunch(format!(
                "{what} lives in host memory, not on {}; upload it to this device first",
                self.device_name()
            ))),
        }
    }

    /// Takes the errors recorded outside error scopes.
    fn take_uncaptured(&self) -> Option<String> {
        let mut errors = self.uncaptured.lock().ok()?;
        if errors.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut *errors).join("\n"))
    }
}
