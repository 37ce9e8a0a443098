//! The stdlib's error type.

/// Why a stdlib kernel could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StdlibError {
    /// A `.tile` kernel did not compile with the given parameters.
    #[error("stdlib kernel `{kernel}` does not compile with these parameters:\n{error}")]
    Compile {
        /// The kernel.
        kernel: String,
        /// The diagnostics and the kernel's source (it renders itself).
        #[source]
        error: tilevm_lang::CompileError,
    },
    /// A launcher could not compile, allocate or launch (its message names the kernel and argument).
    #[error(transparent)]
    Host(#[from] tilevm_host::Error),
    /// Host data of the wrong length for a launcher's sizes.
    #[error("{0}")]
    Input(String),
    /// The `.tile` source has no kernel of the wrapper's name (a stdlib bug).
    #[error("stdlib source has no kernel `{0}`")]
    NoSuchKernel(String),
}
