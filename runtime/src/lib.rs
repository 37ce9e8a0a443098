//! tilevm runtime: devices (wgpu GPU, Cranelift CPU, the reference interpreter), buffers, the compiled
//! kernel cache, launch and timing. The only crate that touches devices.

pub use tilevm_compiler as compiler;
