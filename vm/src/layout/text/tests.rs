//! Tests of the layout text syntax: what it accepts, what it rejects and where errors point.

use super::*;
use crate::layout::{local, spatial};

fn error_at(text: &str) -> (usize, String) {
    let error = parse_register_layout(text).unwrap_err();
    let span = error.span().unwrap_or_else(|| panic!("{text}: error without a span: {error}"));
    (span.column(text), error.to_string())
}

#[test]
fn arithmetic_and_environment_in_arguments() {
    let environment = |name: &str| (name == "BLOCK_N").then_some(64);
    let layout = parse_register_layout_with(
        "spatial(BLOCK_N / 4, 4).local(BLOCK_N // 32 + 1 - 1, 2 * 3 % 4)",
        &environment,
    )
    .unwrap();
    assert_eq!(layout, spatial(&[16, 4]).unwrap().product(&local(&[2, 2]).unwrap()).unwrap());
    let (column, message) = error_at("spatial(BLOCK_N, 4)");
    assert_eq!(column, 9);
    assert!(message.contains("unknown name `BLOCK_N`"), "{message}");
    assert!(error_at("local(7 / 2)").1.contains("not an integer"));
    assert!(error_at("local(7 % 0)").1.contains("division by zero"));
}

#[test]
fn keywords_lists_methods_and_infix_operators() {
    let a = parse_register_layout("local(2, 1) * spatial(8, 4) * local(1, 2)").unwrap();
    let b = parse_register_layout("compose(local(2, 1), spatial(8, 4)).local(1, 2)").unwrap();
    let c = parse_register_layout("(local(2, 1).spatial(8, 4) * local(1, 4)) / local(1, 2)").unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(parse_register_layout("local([2, 3])").unwrap(), local(&[2, 3]).unwrap());
    assert_eq!(
        parse_register_layout("spatial(2, 3).reduce(dims=[1], keepdims=False)").unwrap(),
        parse_register_layout("reduce(spatial(2, 3), [1])").unwrap()
    );
    assert_eq!(
        parse_register_layout("local(2, 3).permute([1, 0])").unwrap(),
        parse_register_layout("column_local(3, 2)").unwrap()
    );
    assert_eq!(parse_register_layout("divide(local(6), local(3))").unwrap(), local(&[2]).unwrap());
    assert_eq!(parse_register_layout("reshape(local(2, 3), [6])").unwrap(), local(&[6]).unwrap());
    assert_eq!(parse_register_layout("local(6).reshape(2, 3)").unwrap(), local(&[2, 3]).unwrap());
}

#[test]
fn errors_point_at_the_column() {
    assert_eq!(error_at("local(2, 3) $").0, 13);
    assert_eq!(error_at("local(2, 3").0, 11);
    assert_eq!(error_at("locl(2)").0, 1);
    let (column, message) = error_at("local(2).spatial(3, 4) / local(5)");
    assert_eq!(column, 1);
    assert!(message.contains("cannot divide"), "{message}");
    let (column, message) = error_at("reduce(local(2), dims=[3])");
    assert_eq!(column, 1);
    assert!(message.contains("out of range"), "{message}");
    assert_eq!(error_at("local(2, ranks=[0], ranks=[0])").0, 21);
    assert_eq!(error_at("local(2, foo=1)").0, 10);
    assert_eq!(error_at("local(-2)").0, 7);
    assert_eq!(error_at("2 * 3").0, 1);
    assert!(error_at("mma.m1").1.contains("unknown MMA fragment"));
    assert!(error_at("local(99999999999999999999)").1.contains("too large"));
    assert!(error_at("local(1 << 2)").1.contains("unexpected character"));
    assert!(error_at("local(4000000000, 4000000000, 4000000000)").1.contains("too large"));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for text in [
        format!("{}local(2){}", "(".repeat(100_000), ")".repeat(100_000)),
        format!("local({}1)", "-".repeat(100_000)),
        format!("local({}1{})", "[".repeat(100_000), "]".repeat(100_000)),
        format!("local(1){}", ".local(1)".repeat(1000)),
        format!("local(1){}", " * local(1)".repeat(1000)),
        format!("local(1 {})", "+ 1 ".repeat(1000)),
    ] {
        let error = parse_register_layout(&text).unwrap_err();
        assert!(error.to_string().contains("nests deeper"), "{error}");
    }
    let fine = format!("local(1){}", ".local(1)".repeat(MAX_DEPTH / 2));
    assert_eq!(parse_register_layout(&fine).unwrap(), local(&[1]).unwrap());
}

#[test]
fn shared_layouts_parse_and_print_back() {
    for text in [
        "row_major(16, 32)",
        "column_major(4, 8)",
        "padded(8, 8, pad=1)",
        "strided(shape=[4, 4], strides=[1, 8])",
        "swizzle(row_major(8, 64), bits=3, base=3, shift=3)",
        "row_major(2, 2) * column_major(4, 8)",
    ] {
        let layout = parse_shared_layout(text).unwrap();
        assert_eq!(parse_shared_layout(&layout.to_string()).unwrap(), layout, "{text}");
    }
    let layout = parse_shared_layout("padded(8, 8, pad=1)").unwrap();
    assert_eq!(layout.offset(&[1, 0]).unwrap(), 9);
    assert!(parse_shared_layout("local(2)").is_err());
    assert!(parse_register_layout("row_major(2)").is_err());
    assert!(parse_shared_layout("swizzle(local(2), bits=1, base=0, shift=1)").is_err());
}
