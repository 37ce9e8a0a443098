//! The runtime's error type.

/// What went wrong while compiling or running a kernel on a device.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The kernel or its arguments are wrong (a user error): wrong argument count or kind, a buffer too
    /// small, a grid that does not evaluate.
    #[error("invalid launch: {0}")]
    InvalidLaunch(String),
    /// The kernel needs a feature the device does not have.
    #[error("unsupported on {device}: {what}")]
    Unsupported {
        /// The device.
        device: String,
        /// The missing feature.
        what: String,
    },
    /// The kernel needs more of a resource than the device offers.
    #[error("limit exceeded on {device}: {what}")]
    Limit {
        /// The device.
        device: String,
        /// The resource and the amounts.
        what: String,
    },
    /// The kernel failed while running (an assertion, an interpreter-detected error).
    #[error("kernel failed: {0}")]
    KernelFailed(String),
    /// The device failed (lost, out of memory, driver error).
    #[error("device error: {0}")]
    Device(String),
    /// A code generator produced invalid output. This always represents a bug in tilevm.
    #[error("internal compiler error (a tilevm bug): {0}")]
    Internal(String),
}

/// A result with a [`RuntimeError`].
pub type RuntimeResult<T> = Result<T, RuntimeError>;
