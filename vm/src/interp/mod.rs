//! The reference interpreter: executes a kernel on a grid over host buffers, bit-exactly. It defines
//! what every instruction means.

use crate::ir::Kernel;

/// An argument of a kernel launch, in parameter order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelArg {
    /// A scalar parameter's value as a bit pattern of its dtype.
    Scalar(u64),
    /// A global buffer's bytes (a packed little-endian bit stream), updated in place by stores.
    Buffer(Vec<u8>),
}

/// A run-time error of the interpreter, naming the kernel and the place.
#[derive(Debug, thiserror::Error)]
pub enum InterpError {
    /// The interpreter is not written yet.
    #[error("the reference interpreter cannot run kernel `{0}` yet")]
    NotImplemented(String),
}

/// Runs `kernel` over its whole grid.
///
/// # Errors
/// Argument mismatches and run-time errors (out-of-bounds shared access, data races, failed asserts).
pub fn run_kernel(kernel: &Kernel, _args: &mut [KernelArg]) -> Result<(), InterpError> {
    Err(InterpError::NotImplemented(kernel.name.clone()))
}
