//! Run-time parameters: scalar defaults (`n: u32 = 4096`) and sizes that must not be negative.

use tilevm_lang::vm::ir::ParamKind;
use tilevm_lang::{CompileOptions, Diagnostic, compile};

fn compiled(source: &str, sets: &[(&str, &str)]) -> Result<tilevm_lang::vm::ir::Kernel, Vec<Diagnostic>> {
    let options = CompileOptions {
        kernel: None,
        sets: sets.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
    };
    let module = compile(source, &options)?;
    Ok(module.kernels()[0].kernel().clone())
}

fn one_error(source: &str) -> Diagnostic {
    match compiled(source, &[]) {
        Ok(_) => panic!("compiled: {source}"),
        Err(mut diagnostics) => {
            assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
            diagnostics.remove(0)
        }
    }
}

/// The default of every scalar parameter, in order.
fn defaults(kernel: &tilevm_lang::vm::ir::Kernel) -> Vec<Option<u64>> {
    kernel
        .params
        .iter()
        .filter_map(|param| match param.kind {
            ParamKind::Scalar { default, .. } => Some(default),
            ParamKind::Global { .. } => None,
        })
        .collect()
}

#[test]
fn scalar_defaults_are_constants_of_the_parameters_dtype() {
    let source = "kernel k<B: u32 = 64>(y: global mut f32[n], n: u32 = B * 4, m: i32 = -3, x: f32 = -0.5,
        h: f16 = 1.5, flag: bool = true, plain: u32) threads(32) { }";
    let kernel = compiled(source, &[]).unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"));
    assert_eq!(
        defaults(&kernel),
        [
            Some(256),
            Some(0xffff_fffd),
            Some(u64::from((-0.5f32).to_bits())),
            Some(u64::from(half::f16::from_f32(1.5).to_bits())),
            Some(1),
            None
        ]
    );
    // A default that depends on a compile-time parameter follows its `--set` value.
    let kernel = compiled(source, &[("B", "8")]).unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"));
    assert_eq!(defaults(&kernel)[0], Some(32));
}

#[test]
fn a_default_out_of_range_is_an_error_at_the_default() {
    let source = "kernel k(n: u32 = -1) threads(32) { }";
    let error = one_error(source);
    assert!(error.message.contains("does not fit in u32"), "{}", error.message);
    let span = error.labels[0].0;
    assert_eq!(&source[span.start as usize..span.end as usize], "-1");
}

#[test]
fn a_default_must_be_a_compile_time_constant() {
    let error = one_error("kernel k(n: u32, m: u32 = n) threads(32) { }");
    assert!(
        error.message.contains("the default of `m` must be a compile-time constant"),
        "{}",
        error.message
    );
    let error = one_error("kernel k(n: u32 = 2.5) threads(32) { }");
    assert!(error.message.contains("expected a scalar of type u32"), "{}", error.message);
}

#[test]
fn a_tensor_parameter_has_no_default() {
    let error = one_error("kernel k(x: global f32[4] = 1) threads(32) { }");
    assert!(error.message.contains("the tensor parameter `x` cannot have a default"), "{}", error.message);
}

#[test]
fn negative_sizes_are_rejected_where_they_are_written() {
    for (source, what, written) in [
        ("kernel k(x: global f32[-5]) threads(32) { }", "a tensor size cannot be negative, found -5", "-5"),
        (
            "kernel k(x: global f32[4, 2 - 3]) threads(32) { }",
            "a tensor size cannot be negative, found -1",
            "2 - 3",
        ),
        ("kernel k() grid(-2) threads(32) { }", "a grid size cannot be negative, found -2", "-2"),
        (
            "kernel k(x: global f32[8]) threads(32) { let v = view_global(x, f32, [4, -1]); }",
            "view sizes cannot be negative, found -1",
            "-1",
        ),
    ] {
        let error = one_error(source);
        assert!(error.message.contains(what), "{source}: {}", error.message);
        let span = error.labels[0].0;
        assert_eq!(&source[span.start as usize..span.end as usize], written, "{source}");
    }
}
