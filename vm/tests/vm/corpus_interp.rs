//! Every case of the seeded differential corpus runs on the reference interpreter, deterministically.
//!
//! Backends compare against these runs, so a case the interpreter rejects would silently test nothing.

use tilevm_vm::corpus::generate_corpus;
use tilevm_vm::interp::{RunOptions, run_kernel, run_kernel_with};

#[test]
fn every_corpus_case_runs_on_the_interpreter() {
    let cases = generate_corpus(7, 300);
    assert_eq!(cases.len(), 300);
    let mut failures = Vec::new();
    for case in &cases {
        let mut args = case.args.clone();
        if let Err(error) = run_kernel(&case.kernel, &mut args) {
            failures.push(format!("{}: {error}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn interpreter_runs_are_deterministic_and_write_outputs() {
    let mut changed = 0;
    for case in generate_corpus(11, 60) {
        let mut first = case.args.clone();
        let mut second = case.args.clone();
        run_kernel(&case.kernel, &mut first).unwrap_or_else(|error| panic!("{}: {error}", case.name));
        run_kernel(&case.kernel, &mut second).unwrap_or_else(|error| panic!("{}: {error}", case.name));
        assert_eq!(first, second, "{} is not deterministic", case.name);
        if case.outputs.iter().any(|&output| first[output] != case.args[output]) {
            changed += 1;
        }
    }
    // Random initial bytes make an unchanged output buffer a sign that stores went nowhere.
    assert!(changed >= 50, "only {changed} of 60 cases changed an output buffer");
}

#[test]
fn corpus_results_do_not_depend_on_block_order() {
    // Parallel devices run blocks in any order: a case whose blocks read what others write would make
    // every backend comparison flaky, so the corpus must be free of cross-block races.
    for case in generate_corpus(7, 300) {
        let mut forward = case.args.clone();
        let mut backward = case.args.clone();
        run_kernel(&case.kernel, &mut forward).unwrap_or_else(|error| panic!("{}: {error}", case.name));
        let mut options = RunOptions { reverse_blocks: true, ..RunOptions::default() };
        run_kernel_with(&case.kernel, &mut backward, &mut options)
            .unwrap_or_else(|error| panic!("{}: {error}", case.name));
        assert_eq!(forward, backward, "{} depends on the order of its blocks", case.name);
    }
}
