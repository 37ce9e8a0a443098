//! The stdlib's error type.

use tilevm_vm::LayoutError;

/// Why a stdlib kernel could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StdlibError {
    /// A kernel built with `KernelBuilder` asked for an invalid layout (a zero size).
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A `.tile` kernel did not compile with the given parameters.
    #[error("stdlib kernel `{kernel}` does not compile with these parameters:\n{message}")]
    Compile {
        /// The kernel.
        kernel: String,
        /// The rendered diagnostics.
        message: String,
    },
}
