//! Diagnostics: the one error shape of the front end, the source files they point into, and rendering
//! (plain text through codespan-reporting, or JSON for editors).
//!
//! Every phase (lexer, parser, checker) reports [`Diagnostic`]s; only the edge (the CLI, or an API caller)
//! renders them, with [`render_to_string`] or [`render_json`].

use codespan_reporting::diagnostic::{Diagnostic as CodespanDiagnostic, Label};
use codespan_reporting::files::{Files, SimpleFiles};
use codespan_reporting::term;

use crate::excerpt::Excerpts;
use serde::Serialize;

/// A source file in a [`SourceSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// The span `start..end` of `file` (offsets beyond `u32::MAX` are clamped).
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        let clamp = |offset: usize| u32::try_from(offset).unwrap_or(u32::MAX);
        Span { file, start: clamp(start), end: clamp(end) }
    }

    /// The smallest span covering `self` and `other` (same file).
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// The IR's span type (which has no file).
    pub fn to_ir(self) -> tilevm_vm::ir::Span {
        tilevm_vm::ir::Span { start: self.start, end: self.end }
    }
}

/// How the message of an internal error starts.
const INTERNAL_PREFIX: &str = "internal compiler error";

/// A user-facing error: a message, labelled spans (the first is the primary one) and notes saying how
/// to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// One line saying what is wrong.
    pub message: String,
    /// Spans with a short label each; the first is where the error is.
    pub labels: Vec<(Span, String)>,
    /// Hints (`help: ...`), printed after the source excerpt.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with a message and no labels yet.
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic { message: message.into(), labels: Vec::new(), notes: Vec::new() }
    }

    /// An error that is tilevm's fault, not the source's (the front end produced IR the verifier rejects).
    pub fn internal(message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(format!("{INTERNAL_PREFIX}: {}", message.into()))
            .with_note("this is a bug in tilevm; please report it with the kernel source")
    }

    /// Whether this reports a bug in tilevm rather than a mistake in the source.
    pub fn is_internal(&self) -> bool {
        self.message.starts_with(INTERNAL_PREFIX)
    }

    /// Adds a labelled span (the first one added is the primary label).
    pub fn with_label(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.labels.push((span, label.into()));
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The primary span, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|(span, _)| *span)
    }
}

/// The source files of one compilation: the root file and everything it imports.
#[derive(Debug, Default)]
pub struct SourceSet {
    files: SimpleFiles<String, String>,
    count: u32,
}

impl SourceSet {
    /// An empty set.
    pub fn new() -> SourceSet {
        SourceSet::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.files.add(name.into(), text.into());
        self.count += 1;
        FileId(self.count - 1)
    }

    /// The text of a file (empty for an unknown id).
    pub fn text(&self, file: FileId) -> &str {
        self.files.get(file.0 as usize).map(|file| file.source().as_str()).unwrap_or("")
    }

    /// The name of a file, as given to [`SourceSet::add`].
    pub fn name(&self, file: FileId) -> &str {
        self.files.get(file.0 as usize).map(|file| file.name().as_str()).unwrap_or("")
    }

    /// The files as codespan-reporting reads them.
    pub(crate) fn files(&self) -> &SimpleFiles<String, String> {
        &self.files
    }

    /// The ids of all files, in the order they were added.
    pub fn ids(&self) -> impl Iterator<Item = FileId> {
        (0..self.count).map(FileId)
    }

    /// The text a span covers (empty when out of range).
    pub fn slice(&self, span: Span) -> &str {
        self.text(span.file).get(span.start as usize..span.end as usize).unwrap_or("")
    }

    /// One-based line and column of a byte offset.
    pub fn line_column(&self, file: FileId, offset: u32) -> (usize, usize) {
        let id = file.0 as usize;
        let text = self.text(file);
        let offset = (offset as usize).min(text.len());
        match self.files.line_index(id, offset) {
            Ok(line) => {
                let column = self.files.column_number(id, line, offset).unwrap_or(1);
                (line + 1, column)
            }
            Err(_) => (1, 1),
        }
    }
}

/// Renders diagnostics as plain text (no colour), each as codespan-reporting prints it.
pub fn render_to_string(diagnostics: &[Diagnostic], sources: &SourceSet) -> String {
    let config = term::Config::default();
    let mut out = String::new();
    for diagnostic in diagnostics {
        let excerpts = Excerpts::new(sources, diagnostic);
        let rendered = to_codespan(diagnostic, &excerpts);
        match term::emit_into_string(&config, &excerpts, &rendered) {
            Ok(text) => out.push_str(&text),
            // A span outside its file is a front-end bug; still show the message.
            Err(_) => {
                out.push_str(&format!("error: {}\n", diagnostic.message));
            }
        }
    }
    out
}

fn to_codespan(diagnostic: &Diagnostic, excerpts: &Excerpts) -> CodespanDiagnostic<usize> {
    let labels = diagnostic
        .labels
        .iter()
        .enumerate()
        .map(|(index, (span, message))| {
            let range = excerpts.range(*span);
            let label = if index == 0 {
                Label::primary(span.file.0 as usize, range)
            } else {
                Label::secondary(span.file.0 as usize, range)
            };
            label.with_message(message.clone())
        })
        .collect();
    CodespanDiagnostic::error()
        .with_message(diagnostic.message.clone())
        .with_labels(labels)
        .with_notes(diagnostic.notes.iter().map(|note| format!("help: {note}")).collect())
}

/// A diagnostic in the JSON form of `--message-format json` (one object per line).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    /// Always `"error"`.
    pub severity: &'static str,
    /// The message.
    pub message: String,
    /// The labelled spans, primary first.
    pub labels: Vec<JsonLabel>,
    /// The notes.
    pub notes: Vec<String>,
    /// The rendered text, as `render_to_string` prints it.
    pub rendered: String,
}

/// A labelled span in JSON form, with one-based line and column of its start and end.
#[derive(Debug, Serialize)]
pub struct JsonLabel {
    /// The file name.
    pub file: String,
    /// First byte.
    pub byte_start: u32,
    /// One past the last byte.
    pub byte_end: u32,
    /// Line of the first byte.
    pub line_start: usize,
    /// Column of the first byte.
    pub column_start: usize,
    /// Line of the end.
    pub line_end: usize,
    /// Column of the end.
    pub column_end: usize,
    /// The label.
    pub message: String,
    /// Whether this is the primary label.
    pub primary: bool,
}

/// Converts diagnostics to their JSON form.
pub fn to_json(diagnostics: &[Diagnostic], sources: &SourceSet) -> Vec<JsonDiagnostic> {
    diagnostics
        .iter()
        .map(|diagnostic| JsonDiagnostic {
            severity: "error",
            message: diagnostic.message.clone(),
            labels: diagnostic
                .labels
                .iter()
                .enumerate()
                .map(|(index, (span, message))| {
                    let (line_start, column_start) = sources.line_column(span.file, span.start);
                    let (line_end, column_end) = sources.line_column(span.file, span.end);
                    JsonLabel {
                        file: sources.name(span.file).to_string(),
                        byte_start: span.start,
                        byte_end: span.end,
                        line_start,
                        column_start,
                        line_end,
                        column_end,
                        message: message.clone(),
                        primary: index == 0,
                    }
                })
                .collect(),
            notes: diagnostic.notes.clone(),
            rendered: render_to_string(std::slice::from_ref(diagnostic), sources),
        })
        .collect()
}

/// Renders diagnostics as JSON lines (one object per diagnostic, each on its own line).
pub fn render_json(diagnostics: &[Diagnostic], sources: &SourceSet) -> String {
    let mut out = String::new();
    for json in to_json(diagnostics, sources) {
        if let Ok(line) = serde_json::to_string(&json) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_and_notes() {
        let mut sources = SourceSet::new();
        let file = sources.add("k.tile", "let x = 1;\nlet y = z;\n");
        let diagnostic = Diagnostic::error("undefined name `z`")
            .with_label(Span::new(file, 19, 20), "not found in this scope")
            .with_note("declare it with `let`");
        let text = render_to_string(std::slice::from_ref(&diagnostic), &sources);
        assert!(text.contains("k.tile:2:9"), "{text}");
        assert!(text.contains("help: declare it"), "{text}");
        let json = render_json(&[diagnostic], &sources);
        assert!(json.contains("\"line_start\":2") && json.contains("\"column_start\":9"), "{json}");
    }
}
