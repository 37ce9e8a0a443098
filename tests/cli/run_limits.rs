//! `tilevm run` on input that asks too much: memory it cannot have and an `--output` it cannot write
//! fail at once with status 2 and a message, never an abort or a wasted run.

use std::process::{Command, Output};

use crate::run::{assert_input_error, scratch, text};

/// Runs `tilevm ARGS` in a shell whose address space is capped at `kib` KiB (`ulimit -v`).
fn tilevm_with_memory_cap(kib: u64, args: &[&str]) -> Output {
    let quoted: Vec<String> = args.iter().map(|arg| format!("'{arg}'")).collect();
    let script = format!("ulimit -v {kib} && exec '{}' {}", env!("CARGO_BIN_EXE_tilevm"), quoted.join(" "));
    Command::new("sh").arg("-c").arg(script).output().expect("runs sh")
}

#[test]
fn a_random_tensor_larger_than_the_memory_is_an_error_not_an_abort() {
    // 46341^2 u4 codes are 1.0 GiB packed: under the 4 GiB size guard, over a 512 MiB address space.
    // (Collecting one u64 per element first needed 16 GiB and aborted the process.)
    let file = scratch("memory").join("big.tile");
    std::fs::write(
        &file,
        "kernel big(x: global u4[n, n], y: global mut f32[32], n: u32 = 46341) threads(32) { }",
    )
    .expect("writes the kernel");
    let path = file.to_str().expect("a UTF-8 path");
    let output = tilevm_with_memory_cap(512 * 1024, &["run", path, "--backend", "interp", "--random"]);
    assert_input_error(&output, "cannot allocate 1.0 GiB for buffer `x`");
}

const VECTOR_ADD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/vector_add_f16.tile");

#[test]
fn an_unwritable_output_fails_before_the_kernel_runs() {
    let missing_directory = scratch("output").join("no-such-directory").join("out.safetensors");
    let output = Command::new(env!("CARGO_BIN_EXE_tilevm"))
        .args(["run", VECTOR_ADD, "--backend", "interp", "--random", "--output"])
        .arg(&missing_directory)
        .output()
        .expect("runs tilevm");
    assert_input_error(&output, "--output ");
    assert!(!text(&output).contains("kernel time"), "the kernel ran first: {}", text(&output));
}

#[test]
fn a_failed_run_leaves_no_output_file_behind() {
    let directory = scratch("failed");
    let kernel = directory.join("fails.tile");
    std::fs::write(&kernel, "kernel fails(y: global mut f32[32]) threads(32) { assert(false, \"stop\"); }")
        .expect("writes the kernel");
    let target = directory.join("out.safetensors");
    let output = Command::new(env!("CARGO_BIN_EXE_tilevm"))
        .args(["run", "--backend", "interp", "--output"])
        .arg(&target)
        .arg(&kernel)
        .output()
        .expect("runs tilevm");
    assert_ne!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("stop"), "{}", text(&output));
    assert!(!target.exists(), "an empty output file was left behind");
}
