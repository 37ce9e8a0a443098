//! The differential test of the CPU backend: every kernel of the seeded corpus runs on the CPU device and
//! on the reference interpreter, and the outputs agree bit for bit, or within the case's tolerance where it
//! allows summation-order and transcendental differences.

use tilevm::runtime::{CpuDevice, Device, KernelArg};
use tilevm::vm::corpus::{CorpusCase, generate_corpus};
use tilevm::vm::interp::run_kernel;

/// Compares one case; returns a description of the first disagreement.
fn check(device: &CpuDevice, case: &CorpusCase) -> Result<(), String> {
    let mut expected = case.args.clone();
    run_kernel(&case.kernel, &mut expected).map_err(|error| format!("interpreter: {error}"))?;
    let compiled = device.compile(&case.kernel).map_err(|error| format!("compile: {error}"))?;
    let mut actual = case.args.clone();
    compiled.run(&mut actual).map_err(|error| format!("run: {error}"))?;
    for &output in &case.outputs {
        let (KernelArg::Buffer(want), KernelArg::Buffer(got)) = (&expected[output], &actual[output]) else {
            return Err(format!("output {output} is not a buffer"));
        };
        case.compare_output(output, got, want)?;
    }
    Ok(())
}

/// The seed of the CPU corpus.
pub const SEED: u64 = 0x5eed;

/// How many cases the CPU corpus draws: 160, or `TILEVM_CORPUS_CASES` for a deeper run by hand (from the
/// same seed).
pub fn cases() -> usize {
    std::env::var("TILEVM_CORPUS_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(160)
}

#[test]
fn cpu_backend_agrees_with_the_interpreter_on_the_corpus() {
    let device = CpuDevice::new(Some(2)).unwrap();
    let count = cases();
    let cases = generate_corpus(SEED, count);
    assert!(cases.len() >= count / 2, "the corpus shrank to {} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| check(&device, case).err().map(|error| format!("{}: {error}", case.name)))
        .collect();
    assert!(failures.is_empty(), "{} of {} cases disagree: {failures:#?}", failures.len(), cases.len());
}
