//! `tilevm run` and `tilevm compile --emit wgsl` through the binary: the example kernels on the
//! interpreter and (where an adapter exists) the GPU with `--check`, a safetensors round trip checked
//! against plain Rust, and the errors that exit with status 2.

use crate::gpu_common;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use half::f16;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

fn tilevm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tilevm"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs tilevm")
}

pub(crate) fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[track_caller]
fn assert_success(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", text(output));
}

#[track_caller]
pub(crate) fn assert_input_error(output: &Output, message: &str) {
    assert_eq!(output.status.code(), Some(2), "{}", text(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(message), "expected `{message}` in:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A fresh directory for one test's files.
pub(crate) fn scratch(test: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("tilevm-cli-run-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("creates a scratch directory");
    directory
}

const GEMV: &str = "examples/gemv_a16w4.tile";
const VECTOR_ADD: &str = "examples/vector_add_f16.tile";

#[test]
fn the_gemv_runs_on_the_interpreter_with_random_data() {
    let output = tilevm(&[
        "run",
        GEMV,
        "--backend",
        "interp",
        "--random",
        "--seed",
        "1",
        "--arg",
        "n=64",
        "--arg",
        "k=256",
        "--check",
    ]);
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("kernel `gemv` on reference interpreter"), "{stdout}");
    assert!(stdout.contains("kernel time:"), "{stdout}");
    assert!(stdout.contains("check: `y` matches the reference interpreter (64 elements"), "{stdout}");
}

/// Every example kernel with arguments that make its grid ragged (sizes not multiples of its blocks).
const EXAMPLE_RUNS: [&[&str]; 7] = [
    &["examples/dequant_u4.tile", "--arg", "n=40", "--arg", "k=320"],
    &["examples/dequant_u4.tile", "--set", "W=u3", "--arg", "n=17", "--arg", "k=192"],
    &["examples/relu_rows.tile", "--arg", "m=37"],
    &["examples/shared_stage.tile", "--arg", "n=1000"],
    &["examples/unpack_view.tile", "--arg", "n=200"],
    &[GEMV, "--set", "W=u5", "--arg", "n=45", "--arg", "k=256"],
    &[VECTOR_ADD, "--arg", "n=2500"],
];

/// Every `examples/*.tile`, as found on disk.
fn example_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir("examples")
        .expect("the examples directory")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "tile"))
        .map(|path| path.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    files
}

/// Runs every example file with `--random --check` and nothing else: its scalars' defaults size it.
fn every_example_runs_with_its_defaults_on(backend: &str) {
    for file in example_files() {
        let output = tilevm(&["run", &file, "--backend", backend, "--random", "--check"]);
        assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("matches the reference interpreter"), "{file} on {backend}: {stdout}");
    }
}

#[test]
fn every_example_runs_with_its_defaults_on_every_backend() {
    every_example_runs_with_its_defaults_on("interp");
    every_example_runs_with_its_defaults_on("cpu");
    if gpu_common::gpu_device().is_some() {
        every_example_runs_with_its_defaults_on("gpu");
    }
}

/// Every example file says in a comment what it computes and which sizes it takes.
#[test]
fn every_example_says_what_it_computes_and_its_sizes() {
    for file in example_files() {
        let text = std::fs::read_to_string(&file).expect("readable");
        assert!(text.starts_with("// "), "{file} starts with a comment saying what it computes");
        let header: String = text.lines().take_while(|line| line.starts_with("//")).collect();
        assert!(header.contains("Sizes:") && header.contains("Default"), "{file}: {header}");
    }
}

/// Runs every example on `backend` with `--check` and demands a match with the interpreter.
fn every_example_checks_on(backend: &str) {
    let tag = format!("({backend})");
    for run in EXAMPLE_RUNS {
        let mut args = vec!["run", "--backend", backend, "--random", "--seed", "5", "--check"];
        args.extend_from_slice(run);
        let output = tilevm(&args);
        assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains(&tag) && stdout.contains("matches the reference interpreter"),
            "{args:?}: {stdout}"
        );
    }
}

#[test]
fn every_example_checks_on_the_gpu() {
    if gpu_common::gpu_device().is_none() {
        return;
    }
    every_example_checks_on("gpu");
}

#[test]
fn every_example_checks_on_the_cpu() {
    every_example_checks_on("cpu");
}

#[test]
fn the_gemv_and_vector_add_check_on_the_gpu() {
    if gpu_common::gpu_device().is_none() {
        return;
    }
    let runs: [&[&str]; 4] = [
        &[GEMV, "--arg", "n=100", "--arg", "k=512"],
        &[GEMV, "--set", "W=u3", "--arg", "n=70", "--arg", "k=384"],
        &[GEMV, "--set", "W=u6", "--arg", "n=33", "--arg", "k=256"],
        &[VECTOR_ADD, "--arg", "n=3000"],
    ];
    for run in runs {
        let mut args = vec!["run", "--backend", "gpu", "--random", "--seed", "3", "--check", "--repeat", "2"];
        args.extend_from_slice(run);
        let output = tilevm(&args);
        assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("(gpu)") && stdout.contains("matches the reference interpreter"), "{stdout}");
    }
}

/// Writes `a` and `b` (f16, length `n`) to a safetensors file.
fn write_vector_add_inputs(path: &PathBuf, a: &[f16], b: &[f16], b_shape: Vec<usize>) {
    let a_bytes: Vec<u8> = a.iter().flat_map(|value| value.to_le_bytes()).collect();
    let b_bytes: Vec<u8> = b.iter().flat_map(|value| value.to_le_bytes()).collect();
    let tensors = vec![
        ("a", TensorView::new(Dtype::F16, vec![a.len()], &a_bytes).expect("a view")),
        ("b", TensorView::new(Dtype::F16, b_shape, &b_bytes).expect("b view")),
    ];
    let file = safetensors::serialize(tensors, None::<HashMap<String, String>>).expect("serialises");
    std::fs::write(path, file).expect("writes the inputs");
}

#[test]
fn vector_add_round_trips_through_safetensors() {
    let directory = scratch("round-trip");
    let n = 1500;
    let a: Vec<f16> = (0..n).map(|i| f16::from_f64(((i * 37) % 101) as f64 / 50.0 - 1.0)).collect();
    let b: Vec<f16> = (0..n).map(|i| f16::from_f64(((i * 53) % 97) as f64 / 13.0 - 3.5)).collect();
    let inputs = directory.join("in.safetensors");
    write_vector_add_inputs(&inputs, &a, &b, vec![n]);
    let mut backends = vec!["interp"];
    if gpu_common::gpu_device().is_some() {
        backends.push("gpu");
    }
    for backend in backends {
        let outputs = directory.join(format!("out-{backend}.safetensors"));
        let output = tilevm(&[
            "run",
            VECTOR_ADD,
            "--backend",
            backend,
            "--arg",
            "n=1500",
            "--inputs",
            inputs.to_str().expect("a UTF-8 path"),
            "--output",
            outputs.to_str().expect("a UTF-8 path"),
        ]);
        assert_success(&output);
        let bytes = std::fs::read(&outputs).expect("the output file exists");
        let file = SafeTensors::deserialize(&bytes).expect("a safetensors file");
        assert_eq!(file.names(), vec!["c"], "only the mutable buffer is written");
        let c = file.tensor("c").expect("tensor c");
        assert_eq!((c.dtype(), c.shape()), (Dtype::F16, &[n][..]));
        for (index, chunk) in c.data().chunks_exact(2).enumerate() {
            let got = f16::from_le_bytes([chunk[0], chunk[1]]);
            // The sum of two f16s is exact in f64, so this is the correctly rounded f16 sum.
            // The IR adds f16 in f32 and rounds once to f16.
            let want = f16::from_f32(a[index].to_f32() + b[index].to_f32());
            assert_eq!(got.to_bits(), want.to_bits(), "{backend}: c[{index}] = {got}, want {want}");
        }
    }
}

/// Copies a `u4` tensor: packed sub-byte buffers in and out of safetensors.
const COPY_U4: &str = "
kernel copy4<BLOCK: u32 = 256>(x: global u4[n], y: global mut u4[n], n: u32) grid(cdiv(n, BLOCK)) threads(64) {
    let start = block_index(0) * BLOCK;
    store(y, load(x, [start], [BLOCK]), [start]);
}
";

#[test]
fn packed_buffers_are_stored_as_bytes_both_ways() {
    let directory = scratch("packed");
    let kernel = directory.join("copy4.tile");
    std::fs::write(&kernel, COPY_U4).expect("writes the kernel");
    // 301 nibbles take 151 bytes; the last byte's high nibble is padding and stays 0.
    let mut x: Vec<u8> = (0..151u32).map(|i| (i * 97 + 13) as u8).collect();
    x[150] &= 0x0f;
    let inputs = directory.join("in.safetensors");
    let tensors = vec![("x", TensorView::new(Dtype::U8, vec![151], &x).expect("x view"))];
    let file = safetensors::serialize(tensors, None::<HashMap<String, String>>).expect("serialises");
    std::fs::write(&inputs, file).expect("writes the inputs");
    let mut backends = vec!["interp"];
    if gpu_common::gpu_device().is_some() {
        backends.push("gpu");
    }
    for backend in backends {
        let outputs = directory.join(format!("out-{backend}.safetensors"));
        let output = tilevm(&[
            "run",
            kernel.to_str().expect("a UTF-8 path"),
            "--backend",
            backend,
            "--arg",
            "n=301",
            "--inputs",
            inputs.to_str().expect("a UTF-8 path"),
            "--output",
            outputs.to_str().expect("a UTF-8 path"),
            "--check",
        ]);
        assert_success(&output);
        let bytes = std::fs::read(&outputs).expect("the output file exists");
        let file = SafeTensors::deserialize(&bytes).expect("a safetensors file");
        let y = file.tensor("y").expect("tensor y");
        assert_eq!((y.dtype(), y.shape()), (Dtype::U8, &[151][..]), "{backend}");
        assert_eq!(y.data(), &x[..], "{backend}");
        let (_, metadata) = SafeTensors::read_metadata(&bytes).expect("a header");
        let dtypes = metadata.metadata().clone().unwrap_or_default();
        assert_eq!(dtypes.get("y").map(String::as_str), Some("u4"), "{backend}");
    }
}

#[test]
fn bad_inputs_exit_with_status_2_and_a_clear_message() {
    let interp = ["--backend", "interp", "--random"];
    let run = |extra: &[&str]| {
        let mut args = vec!["run", VECTOR_ADD];
        args.extend_from_slice(&interp);
        args.extend_from_slice(extra);
        tilevm(&args)
    };
    let unknown = run(&["--kernel", "nope", "--arg", "n=8"]);
    assert_input_error(&unknown, "has no kernel named `nope` (it defines: vector_add)");
    assert!(!String::from_utf8_lossy(&unknown.stderr).contains("does not compile"), "{}", text(&unknown));
    // Every missing scalar in one message; one with a default is not missing.
    let no_defaults = scratch("no-defaults").join("scalars.tile");
    std::fs::write(
        &no_defaults,
        "kernel scalars(y: global mut f32[n], n: u32, k: i32, m: u32 = 3) threads(32) { }",
    )
    .expect("write the kernel");
    let missing = tilevm(&["run", no_defaults.to_str().expect("UTF-8"), "--backend", "interp"]);
    assert_input_error(&missing, "missing --arg n=VALUE (`n: u32`), --arg k=VALUE (`k: i32`)");
    assert!(!text(&missing).contains("m=VALUE"), "{}", text(&missing));
    assert_input_error(&run(&["--arg", "n=abc"]), "--arg n=abc: `abc` is not an integer (u32)");
    assert_input_error(&run(&["--arg", "n=8", "--arg", "m=2"]), "has no scalar parameter `m`");
    assert_input_error(&tilevm(&["run", "examples/missing.tile"]), "examples/missing.tile");
    assert_input_error(
        &tilevm(&["run", VECTOR_ADD, "--backend", "interp", "--arg", "n=8"]),
        "no data for input `a`",
    );

    let directory = scratch("bad-shape");
    let inputs = directory.join("in.safetensors");
    let values: Vec<f16> = (0..8).map(|i| f16::from_f64(f64::from(i))).collect();
    write_vector_add_inputs(&inputs, &values, &values, vec![2, 4]);
    let path = inputs.to_str().expect("a UTF-8 path");
    assert_input_error(
        &tilevm(&["run", VECTOR_ADD, "--backend", "interp", "--arg", "n=8", "--inputs", path]),
        "tensor `b` is F16[2, 4], but parameter `b: f16[8]` needs F16[8]",
    );
    assert_input_error(
        &tilevm(&["run", VECTOR_ADD, "--backend", "interp", "--arg", "n=6", "--inputs", path]),
        "tensor `a` is F16[8]",
    );
}

#[test]
fn compile_emits_validated_wgsl() {
    let output = tilevm(&["compile", GEMV, "--set", "W=u3", "--emit", "wgsl"]);
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("// kernel `gemv` for "), "{stdout}");
    assert!(stdout.contains("@compute @workgroup_size(128"), "{stdout}");
}

#[test]
fn run_prints_what_the_kernel_prints_on_every_backend() {
    let file = scratch("prints").join("prints.tile");
    std::fs::write(&file, "kernel show(n: u32 = 9) grid(2) threads(4) { print(\"n\", n, block_index(0)); }")
        .expect("writes the kernel");
    let mut backends = vec!["interp", "cpu"];
    if gpu_common::gpu_device().is_some() {
        backends.push("gpu");
    }
    for backend in backends {
        let output = tilevm(&["run", file.to_str().expect("UTF-8"), "--backend", backend, "--repeat", "3"]);
        assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        // Once, from the first of the three runs, in block order.
        assert!(
            stdout.starts_with("[block 0, 0, 0] n: 9, 0\n[block 1, 0, 0] n: 9, 1\nkernel `show`"),
            "{stdout}"
        );
    }
}
