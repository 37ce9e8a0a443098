//! `tilevm devices`: every GPU adapter wgpu can see (name, backend, type, driver, key features and
//! limits), then the CPU backend and the reference interpreter.

use tilevm_runtime::list_adapters;

use super::CliResult;

/// Arguments of `tilevm devices`.
#[derive(clap::Args)]
pub struct DevicesArgs {}

/// Runs `tilevm devices`.
pub fn run(_args: &DevicesArgs) -> CliResult {
    let adapters = list_adapters();
    println!(
        "GPU adapters (wgpu; pick one with --adapter NAME or {}=NAME):",
        tilevm_runtime::gpu::ADAPTER_ENV
    );
    if adapters.is_empty() {
        println!("  none found (without a GPU on Linux, install mesa-vulkan-drivers for lavapipe)");
    }
    for (index, adapter) in adapters.iter().enumerate() {
        println!("  [{index}] {adapter}");
    }
    let cores = std::thread::available_parallelism().map(|cores| cores.get()).unwrap_or(1);
    println!("CPU backend (Cranelift): {} {}, {cores} threads", std::env::consts::ARCH, std::env::consts::OS);
    println!("Reference interpreter: always available");
    Ok(())
}
