//! The formats crate's one error type.

use std::path::PathBuf;

/// Why a weight file could not be read, written, converted or run.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The operating system refused to open, map, read or write a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A file's bytes do not follow its container's rules: where (the byte offset, and the tensor or
    /// metadata key being read) and what.
    #[error("{file}: at byte {offset}{}: {message}", context.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Corrupt {
        /// The file (its path, or a name for bytes in memory).
        file: String,
        /// The byte offset where reading failed.
        offset: u64,
        /// The tensor or metadata key being read, when there is one.
        context: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A tensor's data does not fit the shape and format it claims (its byte count, its block size).
    #[error("tensor `{tensor}`: {message}")]
    Shape {
        /// The tensor.
        tensor: String,
        /// What does not fit.
        message: String,
    },
    /// A format, type or setting tilevm does not support.
    #[error("{0}")]
    Unsupported(String),
    /// No tensor of that name (with the names that do exist, shortened).
    #[error("no tensor `{name}` (the file has {available})")]
    NoSuchTensor {
        /// The name asked for.
        name: String,
        /// A description of the names present.
        available: String,
    },
    /// A value the caller passed is unusable (a wrong length, a zero group size).
    #[error("{0}")]
    Input(String),
    /// The host API failed (allocation, compilation, a launch).
    #[error(transparent)]
    Host(#[from] tilevm_host::Error),
    /// A stdlib kernel could not be built.
    #[error(transparent)]
    Stdlib(#[from] tilevm_stdlib::StdlibError),
}

impl FormatError {
    /// A [`FormatError::Corrupt`] at `offset` of `file`.
    pub(crate) fn corrupt(
        file: &str,
        offset: u64,
        context: Option<&str>,
        message: impl Into<String>,
    ) -> FormatError {
        FormatError::Corrupt {
            file: file.to_string(),
            offset,
            context: context.map(str::to_string),
            message: message.into(),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = FormatError> = std::result::Result<T, E>;
