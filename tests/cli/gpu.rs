//! `tilevm devices` through the binary: lists every adapter and the CPU backend.

use crate::gpu_common;
use std::process::Command;

#[test]
fn devices_lists_adapters_and_the_cpu_backend() {
    let output = Command::new(env!("CARGO_BIN_EXE_tilevm")).arg("devices").output().expect("runs tilevm");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("GPU adapters"), "{stdout}");
    assert!(stdout.contains("CPU backend"), "{stdout}");
    if let Some(device) = gpu_common::gpu_device() {
        assert!(stdout.contains(&device.adapter().name), "{stdout}");
        assert!(stdout.contains("threads/block"), "{stdout}");
    }
}
