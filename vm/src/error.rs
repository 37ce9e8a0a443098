//! The crate's one public error type: each module keeps a small error of its own, and this enum wraps
//! them for callers that handle every `vm` failure alike (the CLI, the runtime).

use crate::dtype::DtypeError;
use crate::interp::InterpError;
use crate::layout::LayoutError;
use crate::packing::PackError;
use crate::text::TextError;
use crate::verify::VerifyErrors;

/// Any error of the `vm` crate. Every variant is a user error (bad input, a malformed program or launch);
/// the wrapped error says where.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A bad dtype name or format.
    #[error(transparent)]
    Dtype(#[from] DtypeError),
    /// A bad packed tensor (shape, strides, codes, buffer size).
    #[error(transparent)]
    Pack(#[from] PackError),
    /// A bad layout expression or layout operation.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A program the verifier rejects.
    #[error(transparent)]
    Verify(#[from] VerifyErrors),
    /// Malformed IR text.
    #[error(transparent)]
    Text(#[from] TextError),
    /// A launch or run-time error of the reference interpreter.
    #[error(transparent)]
    Interp(#[from] InterpError),
}

/// A result with a [`VmError`].
pub type VmResult<T> = Result<T, VmError>;
