//! The front end never panics and never hangs: random token streams, mutated valid kernels and deep
//! nesting all end in `Ok` or diagnostics.

use proptest::prelude::*;
use tilevm_lang::{CompileOptions, compile};

const VALID: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/gemv_a16w4.tile"));

/// Tokens (and token-like fragments) the mutators and the random streams draw from.
const VOCABULARY: &[&str] = &[
    "kernel",
    "fn",
    "import",
    "let",
    "mut",
    "for",
    "in",
    "step",
    "while",
    "if",
    "else",
    "break",
    "global",
    "true",
    "false",
    "x",
    "acc",
    "BLOCK",
    "u4",
    "f16",
    "f32",
    "dtype",
    "0",
    "1",
    "128",
    "1.5",
    "\"s\"",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ":",
    ".",
    "..",
    "=",
    "+=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "!",
    "&&",
    "||",
    "<<",
    ">>",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "->",
    "load",
    "store",
    "dot",
    "cast",
    "sum",
    "zeros",
    "shared",
    "view",
    "layout",
    "spatial(4, 32)",
    "threads(128)",
    "grid(1)",
    "$",
    "@",
];

/// Splits source text into whitespace-separated pieces (a rough tokenisation, good for mutating),
/// leaving out comments (joined on one line they would swallow the rest of the kernel).
fn pieces(text: &str) -> Vec<&str> {
    text.lines().map(|line| line.split("//").next().unwrap_or("")).flat_map(str::split_whitespace).collect()
}

/// Compiles and asserts that the result is verifier-clean IR or diagnostics, each with a message.
fn compiles_or_reports(source: &str) -> bool {
    match compile(source, &CompileOptions::default()) {
        // What the front end accepts is a `VerifiedModule`: the type says the IR passed the verifier.
        Ok(_) => true,
        Err(diagnostics) => {
            if let Some(internal) = diagnostics.iter().find(|diagnostic| diagnostic.is_internal()) {
                panic!("accepted source lowers to IR the verifier rejects: {internal:?}\nsource: {source}");
            }
            assert!(!diagnostics.is_empty(), "an error without diagnostics");
            assert!(diagnostics.iter().all(|diagnostic| !diagnostic.message.is_empty()));
            false
        }
    }
}

/// A deterministic mutation of the valid kernel: delete, duplicate or swap pieces, or insert one.
fn mutate(seed: u64) -> String {
    let mut words: Vec<&str> = pieces(VALID);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound.max(1) as u64) as usize
    };
    let edits = 1 + next(3);
    for _ in 0..edits {
        let at = next(words.len());
        match next(4) {
            0 => {
                words.remove(at);
            }
            1 => {
                let word = words[at];
                words.insert(at, word);
            }
            2 => {
                let other = next(words.len());
                words.swap(at, other);
            }
            _ => words.insert(at, VOCABULARY[next(VOCABULARY.len())]),
        }
    }
    words.join(" ")
}

#[test]
fn ten_thousand_mutated_kernels_give_diagnostics_not_panics() {
    let mut rejected = 0;
    for seed in 0..10_000 {
        if !compiles_or_reports(&mutate(seed)) {
            rejected += 1;
        }
    }
    // Most mutations break the kernel; the few that survive (e.g. swapping two equal words) compile.
    assert!(rejected > 8_000, "only {rejected} of 10000 mutations were rejected");
}

#[test]
fn ten_thousand_parentheses_are_an_error_not_a_stack_overflow() {
    let source = format!("fn f(a) {{ {}a{} }}", "(".repeat(10_000), ")".repeat(10_000));
    let Err(diagnostics) = compile(&source, &CompileOptions::default()) else { panic!("accepted") };
    assert!(diagnostics[0].message.contains("nested more than"), "{:?}", diagnostics[0]);
}

#[test]
fn long_chains_of_operators_are_an_error() {
    let source = format!("kernel k() threads(32) {{ let a = {}; }}", vec!["1"; 20_000].join(" + "));
    assert!(!compiles_or_reports(&source));
    let unary = format!("kernel k() threads(32) {{ let a = {}1; }}", "-".repeat(20_000));
    assert!(!compiles_or_reports(&unary));
}

#[test]
fn a_flat_chain_of_257_terms_is_called_a_chain_not_nesting() {
    let errors = |terms: usize| {
        let source = format!("kernel k() threads(32) {{ let a = {}; }}", vec!["1"; terms].join(" + "));
        match compile(&source, &CompileOptions::default()) {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics,
        }
    };
    assert!(errors(200).is_empty(), "{:?}", errors(200));
    let found = errors(257);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].message.contains("an operator chain of more than 256 terms"), "{}", found[0].message);
    assert!(!found[0].message.contains("nested"), "{}", found[0].message);
}

#[test]
fn the_valid_kernel_compiles() {
    assert!(compiles_or_reports(VALID));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_token_streams_do_not_panic(indices in proptest::collection::vec(0..VOCABULARY.len(), 0..64)) {
        let source: Vec<&str> = indices.iter().map(|&index| VOCABULARY[index]).collect();
        compiles_or_reports(&source.join(" "));
    }

    #[test]
    fn random_bytes_do_not_panic(text in "\\PC{0,200}") {
        compiles_or_reports(&text);
    }

    #[test]
    fn mutated_kernels_do_not_panic(seed in any::<u64>()) {
        compiles_or_reports(&mutate(seed));
    }

    #[test]
    fn random_kernel_bodies_do_not_panic(indices in proptest::collection::vec(0..VOCABULARY.len(), 0..48)) {
        let body: Vec<&str> = indices.iter().map(|&index| VOCABULARY[index]).collect();
        let source = format!(
            "kernel k<BLOCK: u32 = 128>(x: global f16[n], y: global mut f16[n], n: u32) threads(128) {{ {} }}",
            body.join(" ")
        );
        compiles_or_reports(&source);
    }
}

#[test]
fn a_five_megabyte_line_is_not_echoed_in_the_diagnostic() {
    // An unexpected 5 MB token on a 5 MB line: quoted shortened in the message, cut in the excerpt.
    let source = format!("kernel k() threads(32) {{ let b = 1 {} }}", "a".repeat(5_000_000));
    let mut sources = tilevm_lang::SourceSet::new();
    let root = sources.add("long.tile", source);
    let loader = |_: &str, path: &str| Err(format!("no imports ({path})"));
    let Err(diagnostics) =
        tilevm_lang::compile_sources(&mut sources, root, &loader, &CompileOptions::default())
    else {
        panic!("accepted")
    };
    let rendered = tilevm_lang::render_to_string(&diagnostics, &sources);
    assert!(rendered.len() < 2_000, "{} bytes rendered", rendered.len());
    assert!(rendered.contains("long.tile:1:36") && rendered.contains("unexpected `aaa"), "{rendered}");
}
