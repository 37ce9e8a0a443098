//! `tilevm compile FILE --emit clif` prints the Cranelift IR of every kernel of a `.tile` file.

use std::process::Command;

#[test]
fn compile_emits_clif_for_every_kernel() {
    let output = Command::new(env!("CARGO_BIN_EXE_tilevm"))
        .args(["compile", concat!(env!("CARGO_MANIFEST_DIR"), "/examples/gemv_a16w4.tile"), "--emit", "clif"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    // One grid function and one per-block function, the latter with checked packed loads.
    assert_eq!(text.matches("function %tilevm_").count(), 2, "{text}");
    assert!(text.contains("_grid("), "{text}");
    assert!(text.contains("uload8") || text.contains("load.i64"), "no global loads in:\n{text}");
}
