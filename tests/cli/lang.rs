//! `tilevm check` and `tilevm compile` end to end: exit statuses, `--set`, `--emit`, JSON diagnostics.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tilevm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tilevm"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the tilevm binary runs")
}

fn repo_file(path: &str) -> String {
    let full: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    full.display().to_string()
}

#[test]
fn check_exits_0_for_a_clean_file() {
    let output = tilevm(&["check", &repo_file("examples/gemv_a16w4.tile")]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn check_exits_1_with_rendered_diagnostics() {
    let output = tilevm(&["check", &repo_file("compiler/lang/tests/diagnostics/missing_cast.tile")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing_cast.tile:3:14"), "{stderr}");
    assert!(stderr.contains("storage-only dtype u4"), "{stderr}");
}

#[test]
fn check_exits_2_for_an_unreadable_file() {
    let output = tilevm(&["check", "does/not/exist.tile"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn json_diagnostics_have_line_and_column() {
    let output = tilevm(&[
        "check",
        &repo_file("compiler/lang/tests/diagnostics/wrong_dtype.tile"),
        "--message-format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().next().expect("one JSON line");
    let json: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
    assert_eq!(json["message"], "unknown dtype `f17`");
    assert_eq!(json["labels"][0]["line_start"], 1);
    assert_eq!(json["labels"][0]["column_start"], 20);
}

#[test]
fn compile_sets_parameters_and_emits_ir() {
    let file = repo_file("examples/gemv_a16w4.tile");
    let output = tilevm(&[
        "compile",
        &file,
        "--kernel",
        "gemv",
        "--set",
        "W=u3",
        "--set",
        "BLOCK_N=64",
        "--emit",
        "ir",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("kernel @gemv"), "{stdout}");
    assert!(stdout.contains("global u3"), "the weights are u3: {stdout}");
    // No layout is written in the example: the inferred ones are shown, sized by BLOCK_N = 64 (the weight
    // tile's loads spread over the 128 threads with the threads on the rows first, each thread holding a run
    // of 64 consecutive codes of one row).
    assert!(stdout.contains("u3 spatial(64, 2).local(1, 64)"), "the inferred weight layout: {stdout}");
    assert!(stdout.contains("f32 spatial(64, 2).local(1, 64)"), "the inferred accumulator layout: {stdout}");
}

#[test]
fn compile_reports_bad_set_values_at_the_parameter() {
    let file = repo_file("examples/gemv_a16w4.tile");
    let output = tilevm(&["compile", &file, "--set", "W=u99", "--emit", "ir"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`u99` is not a dtype"), "{stderr}");
    assert!(stderr.contains("gemv_a16w4.tile:11:13"), "points at the declaration of W: {stderr}");
}

#[test]
fn compile_emits_the_ast() {
    let output = tilevm(&["compile", &repo_file("examples/vector_add_f16.tile"), "--emit", "ast"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("KernelDef"));
}
