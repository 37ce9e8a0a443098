//! Checker behaviours not covered by the diagnostics snapshots: instantiation, inference, aliasing.

use tilevm_lang::vm::ir::{Expr, Inst, Kernel, StmtKind};
use tilevm_lang::{CompileOptions, Diagnostic, compile};

fn errors(source: &str, sets: &[(&str, &str)]) -> Vec<Diagnostic> {
    let options = CompileOptions {
        kernel: None,
        sets: sets.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
    };
    match compile(source, &options) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics,
    }
}

#[test]
fn a_parameter_without_default_needs_a_set_value() {
    let source = "kernel k<B: u32>(y: global mut f32[B]) threads(32) { store(y, zeros(f32, [B]), [0]); }";
    let found = errors(source, &[]);
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("no value for the compile-time parameter `B`"));
    assert!(errors(source, &[("B", "64")]).is_empty());
    assert!(
        errors(source, &[("C", "64")])
            .iter()
            .any(|error| error.message.contains("no compile-time parameter `C`"))
    );
}

#[test]
fn integer_set_values_must_fit_their_type() {
    let source = "kernel k<B: u32 = 4>() threads(32) { }";
    assert!(errors(source, &[("B", "-1")])[0].message.contains("does not fit in u32"));
    assert!(errors(source, &[("B", "x")])[0].message.contains("not an integer"));
}

#[test]
fn recursion_is_reported_not_followed() {
    let source = "fn f(x) { f(x) }\nkernel k() threads(32) { let a = f(1); }";
    assert!(errors(source, &[])[0].message.contains("calls itself"));
}

#[test]
fn several_errors_are_reported_in_one_file() {
    let source = "kernel k(x: global f32[n], n: u32) threads(32) { let a = b; let c = d; n = 1; }";
    assert_eq!(errors(source, &[]).len(), 3);
}

#[test]
fn binding_a_mutable_tile_copies_it() {
    let source = "kernel k(y: global mut f32[32]) threads(32) {
        let mut acc = zeros(f32, [32]);
        let snapshot = acc;
        acc += 1.0;
        store(y, snapshot, [0]);
    }";
    let module =
        compile(source, &CompileOptions::default()).unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"));
    let kernel = &module.kernels()[0];
    let assigns =
        kernel.body.iter().filter(|stmt| matches!(stmt.kind, StmtKind::Inst(Inst::Assign { .. }))).count();
    assert_eq!(assigns, 1, "`let snapshot = acc` copies the tile");
}

fn compile_one(source: &str, sets: &[(&str, &str)]) -> tilevm_lang::vm::verify::VerifiedKernel {
    let options = CompileOptions {
        kernel: None,
        sets: sets.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
    };
    let module = compile(source, &options).unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"));
    module.into_kernels().into_iter().next().expect("one kernel")
}

#[test]
fn a_helpers_value_goes_to_the_assigned_tile() {
    // As with a builtin, `acc = twice_plus(acc, t)` updates `acc` in place: no copy of the helper's result.
    let source = "fn twice_plus(acc, t) { fma(t, 2.0, acc) }
    kernel k(x: global f32[32], y: global mut f32[32]) threads(32) {
        let t = load(x, [0], [32]);
        let mut acc = zeros(f32, [32]);
        acc = twice_plus(acc, t);
        let other = twice_plus(acc, t);
        store(y, other, [0]);
    }";
    let kernel = compile_one(source, &[]);
    let insts: Vec<&Inst> = kernel
        .body
        .iter()
        .filter_map(|stmt| match &stmt.kind {
            StmtKind::Inst(inst) => Some(inst),
            _ => None,
        })
        .collect();
    assert!(!insts.iter().any(|inst| matches!(inst, Inst::Assign { .. })), "{insts:?}");
    let fmas: Vec<_> = insts
        .iter()
        .filter_map(|inst| match inst {
            Inst::Elementwise { dst, operands, .. } => Some((*dst, operands.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(fmas.len(), 2);
    let acc = fmas[0].0;
    assert!(fmas[0].1.iter().any(|operand| format!("{operand:?}").contains(&format!("{acc:?}"))), "in place");
    assert_ne!(fmas[1].0, acc, "a `let` of the helper's value is a new tile");
}

#[test]
fn bits_gives_a_dtypes_width_at_compile_time() {
    let source = "kernel k<W: dtype = u4>(w: global u8[8 * bits(W)], y: global mut f32[64]) threads(32) {
        store(y, cast(load(view_global(w, W, [64]), [0], [64]), f32), [0]);
    }";
    let view_extent = |kernel: &Kernel| match &kernel.body[0].kind {
        StmtKind::Inst(Inst::ViewGlobal { shape, .. }) => shape[0].clone(),
        other => panic!("expected the parameter's view, found {other:?}"),
    };
    assert_eq!(view_extent(&compile_one(source, &[])), Expr::u32(32));
    assert_eq!(view_extent(&compile_one(source, &[("W", "f6e3m2fn")])), Expr::u32(48));
    let wrong = "kernel k(y: global mut f32[bits(3)]) threads(32) { }";
    assert!(errors(wrong, &[])[0].message.contains("dtype"), "{:?}", errors(wrong, &[]));
}

#[test]
fn view_shapes_and_default_strides_are_folded_to_constants() {
    // The CPU backend does a view's bounds checks in 64 bits only when these are constants.
    let source = "kernel k<R: u32 = 4, C: u32 = 16>(w: global u8[R * C], y: global mut u8[16]) threads(32) {
        let tiles = view_global(w, u4, [R, 2, C], offset = R * 1 + 0);
        store(y, cast(load(tiles, [0, 0, 0], [16]), u8), [0]);
    }";
    let kernel = compile_one(source, &[]);
    let views: Vec<_> = kernel
        .body
        .iter()
        .filter_map(|stmt| match &stmt.kind {
            StmtKind::Inst(Inst::ViewGlobal { shape, strides, offset, .. }) => Some((shape, strides, offset)),
            _ => None,
        })
        .collect();
    let (shape, strides, offset) = views.last().expect("the view_global");
    assert_eq!(**shape, [Expr::u32(4), Expr::u32(2), Expr::u32(16)]);
    assert_eq!(**strides, [Expr::u32(32), Expr::u32(16), Expr::u32(1)]);
    assert_eq!(**offset, Expr::u32(4));
}

#[test]
fn elementwise_results_take_their_operands_layout() {
    let source = "kernel k(x: global f32[64], y: global mut f32[64]) threads(32) {
        let t = load(x, [0], [64], layout = local(2).spatial(32));
        store(y, t * 2.0, [0]);
    }";
    let module =
        compile(source, &CompileOptions::default()).unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"));
    let tiles = &module.kernels()[0].tiles;
    assert_eq!(tiles.len(), 2);
    assert_eq!(tiles[0].layout, tiles[1].layout);
}

#[test]
fn shared_tiles_inside_loops_are_rejected() {
    let source = "kernel k() threads(32) { for i in 0..4 { let s = shared(f32, [32]); } }";
    assert!(errors(source, &[])[0].message.contains("top level"));
}

/// Compiles `root` with imports resolved from `files` (name → text).
fn compile_with_files(root: &str, files: &[(&str, &str)]) -> Result<usize, Vec<Diagnostic>> {
    use tilevm_lang::{SourceSet, compile_sources};
    let loader = |_importer: &str, path: &str| {
        files
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(name, text)| (name.to_string(), text.to_string()))
            .ok_or_else(|| format!("no file `{path}`"))
    };
    let mut sources = SourceSet::new();
    let id = sources.add("root.tile", root);
    compile_sources(&mut sources, id, &loader, &CompileOptions::default())
        .map(|module| module.kernels().len())
}

const USES_DOUBLE: &str = "import \"a.tile\";\nkernel k(x: global f32[32], y: global mut f32[32]) threads(32) {\n    store(y, quadruple(load(x, [0], [32])), [0]);\n}\n";

#[test]
fn imports_are_followed_transitively_and_cycles_end() {
    // a imports b and b imports a again: each file is read once, and helpers of both are visible.
    let files = [
        ("a.tile", "import \"b.tile\";\nfn quadruple(t) { double(double(t)) }\n"),
        ("b.tile", "import \"a.tile\";\nimport \"root.tile\";\nfn double(t) { t + t }\n"),
        ("root.tile", USES_DOUBLE),
    ];
    assert_eq!(compile_with_files(USES_DOUBLE, &files).expect("compiles"), 1);
}

#[test]
fn a_missing_import_is_a_diagnostic_at_the_import() {
    let files = [("a.tile", "import \"gone.tile\";\nfn quadruple(t) { t }\n")];
    let diagnostics = compile_with_files(USES_DOUBLE, &files).expect_err("the import fails");
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(diagnostics[0].message.contains("cannot import `gone.tile`"), "{diagnostics:?}");
    assert!(diagnostics[0].labels[0].1.contains("no file `gone.tile`"), "{diagnostics:?}");
}

#[test]
fn a_syntax_error_in_an_imported_file_is_reported() {
    let files = [("a.tile", "fn quadruple(t) { t + }\n")];
    let diagnostics = compile_with_files(USES_DOUBLE, &files).expect_err("the import does not parse");
    assert!(!diagnostics.is_empty());
}
