//! Every kernel of the seeded corpus compiles on the CPU backend (its CLIF passes Cranelift's verifier,
//! which the JIT runs) and runs to completion on the corpus arguments without touching memory outside them.
//!
//! FIXME: compare the outputs with `vm::interp::run_kernel` once the interpreter lands on main; today it is
//! a placeholder that returns an error.

use tilevm::runtime::{CpuDevice, Device};
use tilevm::vm::corpus::generate_corpus;

#[test]
fn corpus_kernels_compile_and_run() {
    let device = CpuDevice::new(Some(2)).unwrap();
    let cases = generate_corpus(0x5eed, 64);
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in cases {
        let compiled = match device.compile(&case.kernel) {
            Ok(compiled) => compiled,
            Err(error) => {
                failures.push(format!("{}: compile: {error}", case.name));
                continue;
            }
        };
        let mut args = case.args.clone();
        if let Err(error) = compiled.run(&mut args) {
            failures.push(format!("{}: run: {error}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} failures: {failures:#?}", failures.len());
}
