//! The IR text form round-trips on the whole corpus, and a few printed kernels are snapshotted.

use proptest::prelude::*;
use tilevm_vm::corpus::generate_corpus;
use tilevm_vm::ir::{Module, Span};
use tilevm_vm::text::{parse_module, print_module};

#[track_caller]
fn assert_round_trips(module: &Module) {
    let text = print_module(module);
    match parse_module(&text) {
        Ok(parsed) => {
            assert_eq!(&parsed, module, "the text did not read back equal:\n{text}");
            assert_eq!(print_module(&parsed), text);
        }
        Err(error) => panic!("printed text does not parse: {error}\n{text}"),
    }
}

#[test]
fn the_whole_corpus_round_trips_as_one_module() {
    let kernels = generate_corpus(2024, 90).into_iter().map(|case| case.kernel.into_kernel()).collect();
    assert_round_trips(&Module { kernels });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn corpus_kernels_round_trip_with_spans(seed in any::<u64>(), span_start in 0u32..10_000) {
        for (position, case) in generate_corpus(seed, 9).into_iter().enumerate() {
            let mut kernel = case.kernel.into_kernel();
            if position % 2 == 0 {
                for stmt in &mut kernel.body {
                    stmt.span = Span { start: span_start, end: span_start + 7 };
                }
            }
            kernel.name = format!("{} \"quoted\\ name\"", kernel.name);
            assert_round_trips(&Module { kernels: vec![kernel] });
        }
    }
}

/// The first case of each template, as printed text.
#[test]
fn printed_kernels_snapshots() {
    for case in generate_corpus(1, 9) {
        let template =
            case.name.rsplit_once('_').map_or(case.name.as_str(), |(template, _)| template).to_string();
        let module = Module { kernels: vec![case.kernel.into_kernel()] };
        insta::assert_snapshot!(template, print_module(&module));
    }
}
