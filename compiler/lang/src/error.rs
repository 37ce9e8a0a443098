//! The crate's one public error type: the diagnostics of a failed compilation together with the sources
//! they point into, so that the error renders itself.

use std::fmt;

use crate::diagnostic::{Diagnostic, SourceSet, render_to_string};

/// Why compilation failed: every diagnostic found, and the files they point into. `Display` renders them
/// with their source excerpts, as `tilevm check` prints them.
#[derive(Debug)]
pub struct CompileError {
    /// The diagnostics, the first label of each its primary location.
    pub diagnostics: Vec<Diagnostic>,
    /// The root file and its imports.
    pub sources: SourceSet,
}

impl CompileError {
    /// Whether some diagnostic reports a bug in tilevm rather than a mistake in the source.
    pub fn is_internal(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_internal)
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(render_to_string(&self.diagnostics, &self.sources).trim_end())
    }
}

impl std::error::Error for CompileError {}

/// A result whose error is [`CompileError`].
pub type CompileResult<T> = Result<T, CompileError>;
