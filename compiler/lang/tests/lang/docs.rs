//! Every ```` ```tile ```` block of `docs/language.md` compiles, and lowers to IR the verifier accepts.

use std::path::Path;

use tilevm_lang::{CompileOptions, SourceSet, compile_sources, render_to_string};

/// The one file the imports example imports.
fn load_helpers(_importer: &str, path: &str) -> Result<(String, String), String> {
    match path {
        "helpers.tile" => Ok(("helpers.tile".to_string(), "fn double(t) { t + t }".to_string())),
        other => Err(format!("no such file in the docs test: {other}")),
    }
}

fn tile_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (number, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim() == "```tile" => current = Some((number + 1, String::new())),
            Some(_) if line.trim() == "```" => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn every_tile_block_in_the_language_reference_compiles() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/language.md");
    let markdown = std::fs::read_to_string(&path).expect("docs/language.md exists");
    let blocks = tile_blocks(&markdown);
    assert!(blocks.len() >= 15, "expected an example per construct, found {}", blocks.len());
    let mut failures = String::new();
    for (line, text) in blocks {
        let mut sources = SourceSet::new();
        let root = sources.add(format!("language.md:{line}"), text.clone());
        match compile_sources(&mut sources, root, &load_helpers, &CompileOptions::default()) {
            // A `VerifiedModule`: the front end verified the lowered IR.
            Ok(_) => {}
            Err(diagnostics) => failures.push_str(&render_to_string(&diagnostics, &sources)),
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
