//! `print(...)` on the CPU and GPU backends against the interpreter: the same lines, in the same order
//! (blocks x fastest, each block's prints in order), for scalars of every compute dtype the GPU has,
//! tiles of compute and storage dtypes, prints in loops and branches, a 2-D grid of blocks that run in
//! parallel, and prints made before an assertion stops the kernel. The host's `PrintSink` receives
//! them on every backend.

use std::sync::{Arc, Mutex};

use tilevm::runtime::{CpuDevice, CpuOptions, Device, KernelArg};
use tilevm::vm::interp::{self, RunOptions};
use tilevm::vm::verify::VerifiedKernel;
use tilevm::{Args, PrintSink, Program, Runtime, Tensor};

use crate::gpu_common::gpu_device;
use crate::rng::Rng;

/// A kernel that prints a little of everything over a `[gx, gy]` grid.
const PRINTS: &str = r#"
kernel prints(x: global f16[m, 8], q: global u4[m, 8], n: u32 = 3, scale: f32 = -0.75, m: u32 = 24)
    grid(cdiv(m, 4), 2) threads(8)
{
    let row = block_index(0) * 4;
    let t = load(x, [row, 0], [4, 8]);
    let codes = load(q, [row, 0], [4, 8]);
    print("scalars", row, n, scale, row > 4, cast(row, i32) - 9, cast(scale, f16), cast(scale, bf16));
    print("tile", t);
    print("codes", codes);
    for i in 0..n {
        if i % 2 == block_index(1) {
            print("loop", i, block_index(1));
            print("codes again", codes);
        }
    }
    print("sum", cast(t, f32) * scale + 1.0);
}
"#;

fn compile(source: &str, name: &str) -> VerifiedKernel {
    Program::from_source("prints.tile", source).unwrap().kernel(name).verify().unwrap()
}

fn args(kernel: &VerifiedKernel, seed: u64) -> Vec<KernelArg> {
    let mut rng = Rng(seed | 1);
    let mut bytes = |length: usize| (0..length).map(|_| rng.next() as u8).collect::<Vec<u8>>();
    // Scalars take their defaults: m = 24 rows, so 6 x 2 blocks.
    let mut args = vec![KernelArg::Buffer(bytes(24 * 8 * 2)), KernelArg::Buffer(bytes(24 * 8 / 2))];
    for param in &kernel.params[2..] {
        let tilevm::vm::ir::ParamKind::Scalar { default: Some(code), .. } = param.kind else { panic!() };
        args.push(KernelArg::Scalar(code));
    }
    args
}

fn interpreter_lines(kernel: &VerifiedKernel, args: &[KernelArg]) -> (Vec<String>, Result<(), String>) {
    let mut lines = Vec::new();
    let mut sink = |line: &str| lines.push(line.to_string());
    let mut options = RunOptions { print: Some(&mut sink), ..RunOptions::default() };
    let result = interp::run_kernel_with(kernel, &mut args.to_vec(), &mut options).map_err(|e| e.to_string());
    (lines, result)
}

fn device_lines(
    device: &dyn Device,
    kernel: &VerifiedKernel,
    args: &[KernelArg],
) -> (Vec<String>, Result<(), String>) {
    let compiled = device.compile(kernel).unwrap();
    let mut lines = Vec::new();
    let result = compiled
        .run_printing(&mut args.to_vec(), &mut |line| lines.push(line.to_string()))
        .map(|_| ())
        .map_err(|e| e.to_string());
    (lines, result)
}

#[test]
fn the_cpu_prints_what_the_interpreter_prints() {
    let kernel = compile(PRINTS, "prints");
    // Several workers, so blocks print from several threads at once.
    let device = CpuDevice::new_with(Some(4), CpuOptions::default()).unwrap();
    for seed in [1, 2, 3] {
        let args = args(&kernel, seed);
        let (expected, result) = interpreter_lines(&kernel, &args);
        result.unwrap();
        assert_eq!(
            expected.len(),
            12 * 4 + 6 * 3 * 2,
            "every block prints 4 lines, and the loop 6 per 2 blocks"
        );
        let (actual, result) = device_lines(&device, &kernel, &args);
        result.unwrap();
        assert_eq!(actual, expected, "seed {seed}");
    }
}

#[test]
fn the_gpu_prints_what_the_interpreter_prints() {
    let Some(gpu) = gpu_device() else { return };
    let kernel = compile(PRINTS, "prints");
    for seed in [4, 5] {
        let args = args(&kernel, seed);
        let (expected, result) = interpreter_lines(&kernel, &args);
        result.unwrap();
        let (actual, result) = device_lines(&gpu, &kernel, &args);
        result.unwrap();
        assert_eq!(actual, expected, "seed {seed}");
    }
}

#[test]
fn prints_before_a_failed_assertion_are_delivered() {
    let source = r#"
    kernel stops(n: u32 = 5) grid(4) threads(4) {
        print("before", block_index(0));
        assert(block_index(0) < 2, "block 2 stops");
        print("after", block_index(0));
    }"#;
    let kernel = compile(source, "stops");
    let args = vec![KernelArg::Scalar(5)];
    let (expected, result) = interpreter_lines(&kernel, &args);
    assert!(result.is_err_and(|error| error.contains("block 2 stops")));
    let device = CpuDevice::new_with(Some(1), CpuOptions::default()).unwrap();
    let (actual, result) = device_lines(&device, &kernel, &args);
    assert!(result.is_err_and(|error| error.contains("block 2 stops")));
    // One worker runs the blocks in order, so it stops where the interpreter stops.
    assert_eq!(actual, expected);
    assert!(actual.contains(&"[block 2, 0, 0] before: 2".to_string()), "{actual:?}");
    // The GPU runs every block: each prints `before`, the ones the assertion lets through `after`.
    if let Some(gpu) = gpu_device() {
        let (lines, result) = device_lines(&gpu, &kernel, &args);
        assert!(result.is_err_and(|error| error.contains("block 2 stops")));
        assert!(lines.contains(&"[block 3, 0, 0] before: 3".to_string()), "{lines:?}");
        assert!(lines.contains(&"[block 1, 0, 0] after: 1".to_string()), "{lines:?}");
    }
}

#[test]
fn the_host_print_sink_receives_the_lines_on_every_backend() {
    let program = Program::from_source("prints.tile", PRINTS).unwrap();
    let mut runtimes = vec![Runtime::interp(), Runtime::cpu().unwrap()];
    if let Some(gpu) = gpu_device() {
        runtimes.push(Runtime::on_device(Box::new(gpu)));
    }
    let mut by_backend = Vec::new();
    for runtime in runtimes {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let collected = Arc::clone(&lines);
        runtime.set_print_sink(PrintSink::Lines(Arc::new(move |line: &str| {
            collected.lock().unwrap().push(line.to_string());
        })));
        let kernel = program.kernel("prints").compile(&runtime).unwrap();
        let x = Tensor::zeros(&runtime, "f16".parse().unwrap(), &[24, 8]).unwrap();
        let q = Tensor::zeros(&runtime, "u4".parse().unwrap(), &[24, 8]).unwrap();
        kernel.launch(&Args::new().tensor("x", &x).tensor("q", &q)).unwrap();
        let lines = lines.lock().unwrap().clone();
        by_backend.push((runtime.backend(), lines));
    }
    let (_, interpreted) = &by_backend[0];
    assert_eq!(interpreted[0], "[block 0, 0, 0] scalars: 0, 3, -0.75, false, -9, -0.75, -0.75");
    for (backend, lines) in &by_backend[1..] {
        assert_eq!(lines, interpreted, "{backend}");
    }
}
