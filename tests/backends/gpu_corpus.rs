//! The seeded corpus (`vm::corpus`) on the GPU backend: every case translates to WGSL that naga accepts,
//! runs on the GPU without device errors, and — where the reference interpreter runs it — agrees with it
//! (bit for bit, or within the case's tolerance).

use crate::gpu_common;
use tilevm::runtime::{Device, GpuDevice, GpuOptions, KernelArg, RuntimeError};
use tilevm::vm::DataType;
use tilevm::vm::corpus::generate_corpus;
use tilevm::vm::interp;
use tilevm::vm::ir::{Inst, Kernel, Rounding, Stmt, StmtKind};
use tilevm::wgsl::{self, GpuCaps};

const SEED: u64 = 7;
const CASES: usize = 120;

/// The corpus size: [`CASES`], or `TILEVM_CORPUS_CASES` for a deeper run by hand.
fn cases() -> usize {
    std::env::var("TILEVM_CORPUS_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(CASES)
}

/// Why a case may legitimately not run on the GPU backend.
fn is_documented_gap(what: &str) -> bool {
    what.contains("64-bit")
}

#[test]
fn every_corpus_kernel_translates_to_valid_wgsl() {
    let caps = GpuCaps { max_shared_bytes: 32 * 1024, max_workgroup_threads: 1024, ..GpuCaps::default() };
    let mut failures = Vec::new();
    for case in generate_corpus(SEED, cases()) {
        match wgsl::compile(&case.kernel, &caps) {
            Ok(_) => {}
            Err(wgsl::Error::Unsupported { what, .. }) if is_documented_gap(&what) => {}
            Err(error) => failures.push(format!("{}: {error}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n\n"));
}

/// Whether any instruction of `body` (nested bodies included) satisfies `predicate`.
fn uses(body: &[Stmt], predicate: &dyn Fn(&Inst) -> bool) -> bool {
    body.iter().any(|stmt| match &stmt.kind {
        StmtKind::Inst(inst) => predicate(inst),
        StmtKind::For { body, .. } | StmtKind::While { body, .. } => uses(body, predicate),
        StmtKind::If { then_body, else_body, .. } => uses(then_body, predicate) || uses(else_body, predicate),
        _ => false,
    })
}

fn uses_stochastic_rounding(kernel: &Kernel) -> bool {
    uses(&kernel.body, &|inst| matches!(inst, Inst::Cast { rounding: Rounding::Stochastic { .. }, .. }))
}

/// Whether `kernel` holds f16 or bf16 values anywhere (the cases the `u32` fallback changes).
fn uses_half(kernel: &Kernel) -> bool {
    let half = |dtype: DataType| matches!(dtype, DataType::F16 | DataType::BF16);
    kernel.tiles.iter().any(|tile| half(tile.dtype))
        || kernel.vars.iter().any(|var| half(var.dtype))
        || kernel.globals.iter().any(|view| half(view.dtype))
}

#[test]
fn corpus_runs_on_the_gpu_and_matches_the_interpreter() {
    let Some(device) = gpu_common::gpu_device() else { return };
    corpus_matches_the_interpreter(&device, &|_| true);
}

/// The corpus cases with f16 or bf16 values again, with f16 kept in `u32` words: the path of adapters
/// without `SHADER_F16`.
#[test]
fn corpus_matches_the_interpreter_without_native_f16() {
    if gpu_common::gpu_device().is_none() {
        return;
    }
    let device = GpuDevice::open_with(None, GpuOptions { no_native_f16: true, ..GpuOptions::default() })
        .expect("opens the adapter again");
    assert!(!device.caps().has_f16);
    corpus_matches_the_interpreter(&device, &uses_half);
}

fn corpus_matches_the_interpreter(device: &GpuDevice, select: &dyn Fn(&Kernel) -> bool) {
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut selected = 0;
    let mut stochastic = 0;
    // The GEMV-shaped dots are CPU-shaped (one thread holding `[M, K]` tiles of up to 13 x 256 codes):
    // lavapipe takes minutes over them, and the GPU runs that pattern at small tiles in `gemv_q8.rs`.
    let gpu_shaped = |case: &tilevm::vm::corpus::CorpusCase| !case.name.starts_with("gemv_dot");
    for case in
        generate_corpus(SEED, cases()).into_iter().filter(|case| gpu_shaped(case) && select(&case.kernel))
    {
        selected += 1;
        let compiled = match device.compile(&case.kernel) {
            Ok(compiled) => compiled,
            Err(RuntimeError::Unsupported { what, .. }) if is_documented_gap(&what) => continue,
            Err(error) => {
                failures.push(format!("{}: {error}", case.name));
                continue;
            }
        };
        let mut gpu_args = case.args.clone();
        if let Err(error) = compiled.run(&mut gpu_args) {
            failures.push(format!("{}: {error}", case.name));
            continue;
        }
        let mut reference: Vec<KernelArg> = case.args.clone();
        if let Err(error) = interp::run_kernel(&case.kernel, &mut reference) {
            failures.push(format!("{}: the interpreter failed: {error}", case.name));
            continue;
        }
        compared += 1;
        stochastic += usize::from(uses_stochastic_rounding(&case.kernel));
        for &index in &case.outputs {
            if let (KernelArg::Buffer(actual), KernelArg::Buffer(expected)) =
                (&gpu_args[index], &reference[index])
                && let Err(message) = case.compare_output(index, actual, expected)
            {
                failures.push(message);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures ({compared} compared):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(stochastic > 0, "no case with stochastic rounding was compared");
    // Only the 64-bit cases may be skipped: a skip that grows silently would hollow the test out.
    assert!(selected >= 10, "only {selected} cases selected");
    assert!(compared * 10 >= selected * 9, "only {compared} of {selected} selected cases were compared");
}
