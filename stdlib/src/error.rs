//! The stdlib's error type.

/// Why a stdlib kernel could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StdlibError {
    /// A `.tile` kernel did not compile with the given parameters.
    #[error("stdlib kernel `{kernel}` does not compile with these parameters:\n{message}")]
    Compile {
        /// The kernel.
        kernel: String,
        /// The rendered diagnostics.
        message: String,
    },
}
