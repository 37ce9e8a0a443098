//! tilevm runtime: devices (wgpu GPU, Cranelift CPU, the reference interpreter), buffers, the compiled
//! kernel cache, launch and timing. The only crate that touches devices.

mod buffer;
pub mod cpu;
mod device;
mod error;
mod fingerprint;
pub mod gpu;
mod interp_device;
pub mod select;

pub use buffer::{DeviceBuffer, LaunchArg};
pub use cpu::{CpuDevice, CpuOptions};
pub use device::{Backend, CompiledKernel, DEFAULT_WHILE_LIMIT, Device, RunStats};
pub use error::{RuntimeError, RuntimeResult};
pub use fingerprint::KernelFingerprint;
pub use gpu::{GpuDevice, GpuOptions};
pub use interp_device::InterpreterDevice;
pub use select::{
    DeviceOptions, exceeds_device, list_adapters, open_auto, open_auto_with, open_device, open_device_with,
};
pub use tilevm_clif as clif;
pub use tilevm_vm::interp::KernelArg;
pub use tilevm_wgsl as wgsl;
