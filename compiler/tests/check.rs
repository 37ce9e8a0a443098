//! Checker behaviours not covered by the diagnostics snapshots: instantiation, inference, aliasing.

use tilevm_compiler::vm::ir::{Inst, StmtKind};
use tilevm_compiler::{CompileOptions, Diagnostic, compile};

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
    let kernel = &module.kernels[0];
    let assigns =
        kernel.body.iter().filter(|stmt| matches!(stmt.kind, StmtKind::Inst(Inst::Assign { .. }))).count();
    assert_eq!(assigns, 1, "`let snapshot = acc` copies the tile");
}

#[test]
fn elementwise_results_take_their_operands_layout() {
    let source = "kernel k(x: global f32[64], y: global mut f32[64]) threads(32) {
        let t = load(x, [0], [64], layout = local(2).spatial(32));
        store(y, t * 2.0, [0]);
    }";
    let module =
        compile(source, &CompileOptions::default()).unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"));
    let tiles = &module.kernels[0].tiles;
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
    use tilevm_compiler::{SourceSet, compile_sources};
    let loader = |_importer: &str, path: &str| {
        files
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(name, text)| (name.to_string(), text.to_string()))
            .ok_or_else(|| format!("no file `{path}`"))
    };
    let mut sources = SourceSet::new();
    let id = sources.add("root.tile", root);
    compile_sources(&mut sources, id, &loader, &CompileOptions::default()).map(|module| module.kernels.len())
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
