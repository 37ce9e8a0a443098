//! Keeps `docs/layouts.md` true: every ```` ```layout ```` block is followed by a ```` ```text ```` block
//! that must equal what `tilevm layout` prints for it.

use std::process::Command;

/// The (expression, expected output) pairs of the document, in order.
fn examples(document: &str) -> Vec<(String, String)> {
    let mut examples = Vec::new();
    let mut rest = document;
    while let Some(start) = rest.find("```layout\n") {
        let after = &rest[start + "```layout\n".len()..];
        let end = after.find("\n```").expect("a closed layout block");
        let expression = after[..end].to_string();
        let after = &after[end + "\n```".len()..];
        let text_start = after.find("```text\n").expect("a text block after each layout block");
        assert!(after[..text_start].trim().is_empty(), "the text block must follow `{expression}` directly");
        let output_start = &after[text_start + "```text\n".len()..];
        let output_end = output_start.find("```").expect("a closed text block");
        examples.push((expression, output_start[..output_end].to_string()));
        rest = &output_start[output_end..];
    }
    examples
}

#[test]
fn every_picture_in_the_layout_guide_is_what_tilevm_layout_prints() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/layouts.md");
    let document = std::fs::read_to_string(path).expect("docs/layouts.md exists");
    let examples = examples(&document);
    assert!(examples.len() >= 10, "only {} examples found", examples.len());
    for (expression, expected) in examples {
        let output = Command::new(env!("CARGO_BIN_EXE_tilevm"))
            .args(["layout", &expression])
            .output()
            .expect("the tilevm binary runs");
        assert!(output.status.success(), "{expression}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            expected,
            "the picture of `{expression}` drifted"
        );
    }
}
