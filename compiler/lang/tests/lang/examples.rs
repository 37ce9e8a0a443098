//! Every example kernel of the repository checks and lowers.

use std::path::{Path, PathBuf};

use tilevm_lang::{CompileOptions, SourceSet, compile_sources, render_to_string};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Loads imports relative to the importing file.
fn load_relative(importer: &str, path: &str) -> Result<(String, String), String> {
    let base = Path::new(importer).parent().unwrap_or(Path::new("."));
    let resolved = base.join(path);
    let text =
        std::fs::read_to_string(&resolved).map_err(|error| format!("{}: {error}", resolved.display()))?;
    Ok((resolved.display().to_string(), text))
}

/// Compiles a file, panicking with the rendered diagnostics on failure.
pub fn check(path: &Path, options: &CompileOptions) -> tilevm_lang::vm::verify::VerifiedModule {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut sources = SourceSet::new();
    let root = sources.add(path.display().to_string(), text);
    match compile_sources(&mut sources, root, &load_relative, options) {
        // The front end verified the lowered IR (`VerifiedModule`).
        Ok(module) => module,
        Err(diagnostics) => panic!("{}", render_to_string(&diagnostics, &sources)),
    }
}

#[test]
fn every_example_checks_and_lowers() {
    let mut count = 0;
    for entry in std::fs::read_dir(examples_dir()).expect("examples/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|extension| extension == "tile") {
            let module = check(&path, &CompileOptions::default());
            assert!(!module.kernels().is_empty(), "{} has no kernel", path.display());
            count += 1;
        }
    }
    assert!(count >= 3, "expected the example kernels, found {count}");
}

#[test]
fn gemv_instantiates_for_every_weight_width() {
    let path = examples_dir().join("gemv_a16w4.tile");
    for width in ["u3", "u4", "u5", "u6", "u8", "i4"] {
        let options = CompileOptions { kernel: None, sets: vec![("W".into(), width.into())] };
        let module = check(&path, &options);
        let kernel = &module.kernels()[0];
        let tilevm_lang::vm::ir::ParamKind::Global { dtype, .. } = &kernel.params[1].kind else {
            panic!("w is not a global parameter")
        };
        assert_eq!(dtype.bits(), width[1..].parse::<u32>().unwrap());
    }
}
