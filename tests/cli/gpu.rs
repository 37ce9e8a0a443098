//! `tilevm devices` and device choice through the binary: every adapter and the CPU backend listed,
//! `--backend auto` taking a hardware GPU or else the CPU (never a software rasterizer unless named),
//! a kernel beyond the GPU's limits moved to the CPU with a note, an `--adapter` that matches nothing
//! refused, and no window-system noise on a headless machine.

use crate::gpu_common;
use std::process::{Command, Output};

fn tilevm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tilevm"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("TILEVM_ADAPTER")
        .output()
        .expect("runs tilevm")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A small vector add that any device runs.
const VECTOR_ADD: [&str; 6] =
    ["run", "examples/vector_add_f16.tile", "--arg", "n=1000", "--random", "--check"];

#[test]
fn devices_lists_adapters_and_the_cpu_backend() {
    let output = tilevm(&["devices"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", text(&output));
    assert!(stdout.contains("GPU adapters"), "{stdout}");
    assert!(stdout.contains("CPU backend"), "{stdout}");
    if let Some(device) = gpu_common::gpu_device() {
        assert!(stdout.contains(&device.adapter().name), "{stdout}");
        assert!(stdout.contains("threads/block"), "{stdout}");
    }
}

#[test]
fn a_headless_machine_prints_no_window_system_errors() {
    for args in [&["devices"][..], &VECTOR_ADD[..], &[&VECTOR_ADD[..], &["--backend", "gpu"]].concat()] {
        let output = tilevm(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("XDG_RUNTIME_DIR"), "tilevm {args:?}:\n{stderr}");
    }
}

#[test]
fn auto_takes_a_hardware_gpu_or_else_the_cpu() {
    let output = tilevm(&VECTOR_ADD);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let device = tilevm(&["devices"]);
    let listing = String::from_utf8_lossy(&device.stdout);
    // Adapter lines read `NAME [BACKEND TYPE] driver: ...`; software rasterizers have type `cpu`.
    let hardware = listing.lines().any(|line| {
        line.trim_start().starts_with('[') && line.contains(" driver:") && !line.contains(" cpu] driver:")
    });
    if hardware {
        assert!(
            stdout.contains("(gpu)"),
            "a hardware adapter is listed:\n{listing}\nbut auto ran:\n{stdout}"
        );
    } else {
        assert!(
            stdout.contains("(cpu)"),
            "only software adapters are listed:\n{listing}\nbut auto ran:\n{stdout}"
        );
    }
}

#[test]
fn an_adapter_that_matches_nothing_is_an_error() {
    for backend in ["auto", "gpu"] {
        let output = tilevm(
            &[&VECTOR_ADD[..], &["--backend", backend, "--adapter", "no-such-adapter-anywhere"]].concat(),
        );
        assert_eq!(output.status.code(), Some(2), "--backend {backend}: {}", text(&output));
        assert!(text(&output).contains("no adapter matches `no-such-adapter-anywhere`"), "{}", text(&output));
    }
}

#[test]
fn auto_runs_a_kernel_beyond_the_gpus_limits_on_the_cpu() {
    let Some(device) = gpu_common::gpu_device() else { return };
    // The q8 GEMV exchanges 66 KB of register tiles through workgroup memory at these sizes.
    let name = device.adapter().name.clone();
    let args = [
        "run",
        "stdlib/kernels/gemv_q8.tile",
        "--kernel",
        "gemv_q8_planes",
        "--set",
        "N=256",
        "--set",
        "K=1024",
        "--random",
        "--check",
        "--adapter",
        &name,
    ];
    let output = tilevm(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    if device.adapter().max_shared_bytes < 66_048 {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("running it on the CPU backend"), "{stderr}");
        assert!(stdout.contains("(cpu)"), "{stdout}");
        // Asked for the GPU backend, the same kernel is an error there, not a silent move.
        let output = tilevm(&[&args[..], &["--backend", "gpu"]].concat());
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    }
}
