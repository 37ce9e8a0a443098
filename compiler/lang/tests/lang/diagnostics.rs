//! One kernel-author mistake per file in `tests/diagnostics/`, each snapshotted as rendered text.

use std::path::Path;

use tilevm_lang::{CompileOptions, SourceSet, compile_sources, render_to_string};

/// Compiles `tests/diagnostics/<name>.tile` and returns the rendered diagnostics (panics if it compiles).
fn check(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics").join(format!("{name}.tile"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut sources = SourceSet::new();
    let root = sources.add(format!("{name}.tile"), text);
    let loader = |_: &str, path: &str| Err(format!("no imports in diagnostics tests ({path})"));
    match compile_sources(&mut sources, root, &loader, &CompileOptions::default()) {
        Ok(_) => panic!("{name}.tile compiled without diagnostics"),
        Err(diagnostics) => render_to_string(&diagnostics, &sources),
    }
}

macro_rules! diagnostic_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                insta::assert_snapshot!(stringify!($name), check(stringify!($name)));
            }
        )*

        #[test]
        fn every_file_has_a_test() {
            let names = [$(stringify!($name)),*];
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
            for entry in std::fs::read_dir(dir).expect("tests/diagnostics exists") {
                let path = entry.expect("entry").path();
                if path.extension().is_some_and(|extension| extension == "tile") {
                    let stem = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or_default().to_string();
                    assert!(names.contains(&stem.as_str()), "{stem}.tile has no test in diagnostics.rs");
                }
            }
        }
    };
}

diagnostic_tests!(
    wrong_dtype,
    dot_shape_mismatch,
    layout_threads,
    assign_to_input,
    store_to_input,
    missing_cast,
    unknown_layout_primitive,
    undefined_name,
    wrong_arg_count,
    parse_error,
    several_errors,
);
