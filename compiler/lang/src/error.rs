//! The crate's one public error type.

use crate::diagnostic::Diagnostic;

/// Why compilation failed.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// User error: the source has mistakes, each described by a diagnostic (render them with
    /// [`crate::render_to_string`]).
    #[error("{} error{} in the kernel source", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Diagnostics(Vec<Diagnostic>),
}

impl From<Vec<Diagnostic>> for CompileError {
    fn from(diagnostics: Vec<Diagnostic>) -> CompileError {
        CompileError::Diagnostics(diagnostics)
    }
}

/// A result whose error is [`CompileError`].
pub type CompileResult<T> = Result<T, CompileError>;
