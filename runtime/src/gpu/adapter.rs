//! Adapter discovery and choice: the adapters wgpu can see, ordered hardware first, then software.

use std::fmt;

use crate::{RuntimeError, RuntimeResult};

/// The environment variable that picks an adapter by name or backend substring.
pub const ADAPTER_ENV: &str = "TILEVM_ADAPTER";

/// What `tilevm devices` shows about one adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSummary {
    /// The adapter's name (`llvmpipe (LLVM 19.1.7, 256 bits)`).
    pub name: String,
    /// The graphics API (`vulkan`, `metal`, `dx12`, `gl`).
    pub backend: String,
    /// Discrete, integrated, virtual, cpu or other.
    pub device_type: String,
    /// Driver name and details.
    pub driver: String,
    /// Optional features tilevm uses that the adapter has (`shader-f16`, `subgroup`, `timestamp-query`).
    pub features: Vec<String>,
    /// Workgroup memory in bytes.
    pub max_shared_bytes: u32,
    /// Invocations per workgroup.
    pub max_workgroup_threads: u32,
    /// Largest storage-buffer binding in bytes.
    pub max_storage_binding_bytes: u64,
    /// Subgroup sizes (min, max) when subgroups are supported.
    pub subgroup_sizes: Option<(u32, u32)>,
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{} {}] driver: {}", self.name, self.backend, self.device_type, self.driver)?;
        write!(
            f,
            "\n    shared memory {} KiB, {} threads/block, storage binding {} MiB",
            self.max_shared_bytes / 1024,
            self.max_workgroup_threads,
            self.max_storage_binding_bytes >> 20
        )?;
        if let Some((min, max)) = self.subgroup_sizes {
            write!(f, ", subgroups {min}..{max}")?;
        }
        let features = if self.features.is_empty() { "none".to_string() } else { self.features.join(", ") };
        write!(f, "\n    features: {features}")
    }
}

/// The optional features tilevm requests when an adapter has them.
pub(super) fn wanted_features() -> wgpu::Features {
    wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP | wgpu::Features::TIMESTAMP_QUERY
}

/// Which adapter a GPU device opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AdapterChoice<'a> {
    /// The most preferred adapter, software rasterizers included (`--backend gpu`).
    Preferred,
    /// The most preferred hardware adapter: software rasterizers (lavapipe, llvmpipe, SwiftShader,
    /// WARP; wgpu's device type `Cpu`) are left out, since the CPU backend outruns them (`--backend auto`).
    Hardware,
    /// The first adapter whose name or backend contains this text (case-insensitive); none matching
    /// is an error, never a fallback.
    Named(&'a str),
}

/// The graphics APIs looked at first. OpenGL comes only when they give no adapter (or one is asked
/// for by name): creating its EGL instance beside Vulkan made Mesa print
/// `error: XDG_RUNTIME_DIR is invalid or not set` on headless machines, and a compute-only device
/// needs no window system.
const FIRST_BACKENDS: wgpu::Backends = wgpu::Backends::PRIMARY;

/// An instance over `backends`, unless `WGPU_BACKEND` names others.
fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if std::env::var_os("WGPU_BACKEND").is_none() || descriptor.backends.is_empty() {
        descriptor.backends = backends;
    }
    wgpu::Instance::new(descriptor)
}

/// The adapters of one instance, most preferred first: discrete, integrated, virtual, then software (CPU).
fn enumerate(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters.sort_by_key(|adapter| match adapter.get_info().device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    });
    adapters
}

/// The adapters of the first backends, or of OpenGL when `fallback` says they are not enough.
fn adapters(fallback: impl Fn(&[wgpu::Adapter]) -> bool) -> Vec<wgpu::Adapter> {
    let first = enumerate(&instance(FIRST_BACKENDS));
    if fallback(&first) {
        let mut all = first;
        all.extend(enumerate(&instance(wgpu::Backends::GL)));
        return all;
    }
    first
}

fn matches(adapter: &wgpu::Adapter, wanted: &str) -> bool {
    let info = adapter.get_info();
    info.name.to_lowercase().contains(wanted) || backend_name(info.backend).contains(wanted)
}

/// `$TILEVM_ADAPTER` when it is set and not empty: the adapter the CLI uses unless `--adapter` names
/// one (the library reads it only through the `from_env` constructors).
pub fn adapter_from_env() -> Option<String> {
    std::env::var(ADAPTER_ENV).ok().filter(|value| !value.is_empty())
}

/// The adapter `choice` asks for; `Ok(None)` when `Hardware` finds only software adapters.
///
/// # Errors
/// `Unsupported` when no adapter exists or none matches the name.
pub(super) fn choose(choice: AdapterChoice<'_>) -> RuntimeResult<Option<wgpu::Adapter>> {
    let wanted = match choice {
        AdapterChoice::Named(name) => Some(name.to_lowercase()),
        AdapterChoice::Preferred | AdapterChoice::Hardware => None,
    };
    let adapters = adapters(|first| match &wanted {
        Some(wanted) => !first.iter().any(|adapter| matches(adapter, wanted)),
        None => first.is_empty(),
    });
    if adapters.is_empty() {
        return Err(RuntimeError::Unsupported {
            device: "gpu".to_string(),
            what: "no GPU adapter found (install a Vulkan, Metal or DX12 driver; on Linux without a GPU: mesa-vulkan-drivers)".to_string(),
        });
    }
    match choice {
        AdapterChoice::Preferred => Ok(adapters.into_iter().next()),
        AdapterChoice::Hardware => {
            Ok(adapters.into_iter().find(|adapter| adapter.get_info().device_type != wgpu::DeviceType::Cpu))
        }
        AdapterChoice::Named(name) => {
            let wanted = name.to_lowercase();
            let names: Vec<String> = adapters.iter().map(|adapter| summary(adapter).to_string()).collect();
            let found = adapters.into_iter().find(|adapter| matches(adapter, &wanted));
            found.map(Some).ok_or_else(|| RuntimeError::Unsupported {
                device: "gpu".to_string(),
                what: format!("no adapter matches `{name}`; adapters:\n{}", names.join("\n")),
            })
        }
    }
}

pub(super) fn backend_name(backend: wgpu::Backend) -> String {
    match backend {
        wgpu::Backend::Vulkan => "vulkan",
        wgpu::Backend::Metal => "metal",
        wgpu::Backend::Dx12 => "dx12",
        wgpu::Backend::Gl => "gl",
        wgpu::Backend::BrowserWebGpu => "webgpu",
        wgpu::Backend::Noop => "noop",
    }
    .to_string()
}

/// The summary of one adapter.
pub(super) fn summary(adapter: &wgpu::Adapter) -> AdapterSummary {
    let info = adapter.get_info();
    let limits = adapter.limits();
    let features = adapter.features();
    let mut names = Vec::new();
    for (feature, name) in [
        (wgpu::Features::SHADER_F16, "shader-f16"),
        (wgpu::Features::SUBGROUP, "subgroup"),
        (wgpu::Features::TIMESTAMP_QUERY, "timestamp-query"),
    ] {
        if features.contains(feature) {
            names.push(name.to_string());
        }
    }
    let driver = if info.driver_info.is_empty() {
        info.driver.clone()
    } else {
        format!("{} ({})", info.driver, info.driver_info)
    };
    AdapterSummary {
        name: info.name.clone(),
        backend: backend_name(info.backend),
        device_type: format!("{:?}", info.device_type).to_lowercase(),
        driver,
        features: names,
        max_shared_bytes: limits.max_compute_workgroup_storage_size,
        max_workgroup_threads: limits
            .max_compute_invocations_per_workgroup
            .min(limits.max_compute_workgroup_size_x),
        max_storage_binding_bytes: limits.max_storage_buffer_binding_size,
        subgroup_sizes: features
            .contains(wgpu::Features::SUBGROUP)
            .then_some((info.subgroup_min_size, info.subgroup_max_size)),
    }
}

/// Every adapter of the graphics APIs tilevm looks at first (OpenGL's too when they have none), most
/// preferred first.
pub fn list_adapters() -> Vec<AdapterSummary> {
    adapters(<[wgpu::Adapter]>::is_empty).iter().map(summary).collect()
}
