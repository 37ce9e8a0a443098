//! Parser errors carry line and column; small hand-written inputs parse as expected.

use super::{TextError, parse_module, print_module};
use crate::dtype::DataType;
use crate::ir::{ExprKind, Inst, StmtKind};

#[track_caller]
fn syntax_error(text: &str) -> (usize, usize, String) {
    match parse_module(text) {
        Err(TextError::Syntax { line, column, message }) => (line, column, message),
        Ok(module) => panic!("parsed:\n{}", print_module(&module)),
    }
}

const SMALL: &str = "kernel @k threads=1 shared_limit=64 grid=[1:u32] {
  var %v0 \"x\" i32
  tile %t0 \"t\" f32 local(4)
  %v0 = add:i32(-1:i32, block_index:u32(0)) @3..9
  %t0 = alloc_register 0x3f800000:f32
  %t0 = mul %t0, %t0
}
";

#[test]
fn a_small_kernel_parses() {
    let module = parse_module(SMALL).unwrap_or_else(|error| panic!("{error}"));
    let kernel = &module.kernels[0];
    assert_eq!(kernel.name, "k");
    assert_eq!(kernel.shared_limit_bytes, 64);
    assert_eq!(kernel.body.len(), 3);
    assert_eq!(kernel.body[0].span.start, 3);
    let StmtKind::Assign { value, .. } = &kernel.body[0].kind else { panic!("not an assignment") };
    let ExprKind::Binary(_, lhs, _) = &value.kind else { panic!("not a binary expression") };
    assert_eq!(lhs.kind, ExprKind::Const(0xffff_ffff));
    let StmtKind::Inst(Inst::AllocRegister { init: Some(init), .. }) = &kernel.body[1].kind else { panic!() };
    assert_eq!(init.dtype, DataType::F32);
    assert_eq!(init.kind, ExprKind::Const(0x3f80_0000));
    assert_eq!(parse_module(&print_module(&module)), Ok(module));
}

#[test]
fn errors_carry_line_and_column() {
    let (line, column, message) = syntax_error(&SMALL.replace("mul %t0", "mull %t0"));
    assert_eq!((line, column), (6, 9));
    assert!(message.contains("unknown instruction `mull`"), "{message}");

    let (line, column, message) = syntax_error(&SMALL.replace("f32 local(4)", "f33 local(4)"));
    assert_eq!((line, column), (3, 16));
    assert!(message.contains("unknown dtype `f33`"), "{message}");

    let (line, _, message) = syntax_error(&SMALL.replace("local(4)", "lokal(4)"));
    assert_eq!(line, 3);
    assert!(message.contains("bad register layout"), "{message}");

    let (line, column, message) = syntax_error(&SMALL.replace("tile %t0", "tile %t1"));
    assert_eq!((line, column), (3, 8));
    assert!(message.contains("expected %t0"), "{message}");

    let (line, _, message) = syntax_error(&SMALL.replace("}\n", ""));
    assert_eq!(line, 7);
    assert!(message.contains("expected `}`"), "{message}");
}

#[test]
fn deeply_nested_input_is_an_error_not_a_crash() {
    let nested = "neg:i32(".repeat(10_000);
    let text = format!("kernel @k threads=1 shared_limit=0 grid=[{nested}] {{\n}}\n");
    let (line, _, message) = syntax_error(&text);
    assert_eq!(line, 1);
    assert!(message.contains("nested too deeply"), "{message}");
}

const WITH_DEFAULT: &str = "kernel @k threads=1 shared_limit=0 grid=[1:u32] {
  param %p0 \"n\" scalar %v0 default 4096:u32
  param %p1 \"m\" scalar %v1 default -3:i32
  param %p2 \"plain\" scalar %v2
  var %v0 \"n\" u32
  var %v1 \"m\" i32
  var %v2 \"plain\" u32
}
";

#[test]
fn scalar_defaults_round_trip() {
    use crate::ir::ParamKind;
    let module = parse_module(WITH_DEFAULT).unwrap_or_else(|error| panic!("{error}"));
    let defaults: Vec<Option<u64>> = module.kernels[0]
        .params
        .iter()
        .map(|param| match param.kind {
            ParamKind::Scalar { default, .. } => default,
            ParamKind::Global { .. } => panic!("a scalar"),
        })
        .collect();
    assert_eq!(defaults, [Some(4096), Some(0xffff_fffd), None]);
    assert_eq!(print_module(&module), WITH_DEFAULT);
}

#[test]
fn a_default_of_another_dtype_or_not_a_constant_is_an_error() {
    let (line, column, message) = syntax_error(&WITH_DEFAULT.replace("4096:u32", "4096:i32"));
    assert_eq!((line, column), (2, 36));
    assert!(message.contains("the default is i32 but %v0 is u32"), "{message}");
    let (line, _, message) = syntax_error(&WITH_DEFAULT.replace("4096:u32", "%v1:u32"));
    assert_eq!(line, 2);
    assert!(message.contains("a parameter's default is a constant"), "{message}");
}
