//! The host API's one error type.

use tilevm_lang::CompileError;
use tilevm_runtime::RuntimeError;

/// Everything that can go wrong between `.tile` text and a finished launch. `Display` gives the whole
/// story: a compile error renders its diagnostics with their source excerpts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source does not compile (or an instantiation's parameters make no valid kernel).
    #[error("{0}")]
    Compile(CompileError),
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        message: String,
    },
    /// No kernel of that name in the program.
    #[error("no kernel named `{name}` in {program} (it defines: {defined})")]
    NoSuchKernel {
        /// The name asked for.
        name: String,
        /// The program's root file.
        program: String,
        /// The kernels it does define, comma-separated.
        defined: String,
    },
    /// A compile-time parameter value, or a scalar argument, that does not fit its parameter.
    #[error("{0}")]
    Value(String),
    /// A launch argument that does not match its parameter: a wrong name, dtype, shape, device or
    /// count. The message names the kernel and the argument.
    #[error("{0}")]
    Argument(String),
    /// Tensor data that does not fit its dtype and shape (a slice of the wrong length, a shape whose
    /// size overflows, a tensor of another runtime).
    #[error("{0}")]
    Tensor(String),
    /// The device refused or failed (compile, allocation, launch, a run-time failure of the kernel).
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
}

/// A result with the host API's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
