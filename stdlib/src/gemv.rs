//! The a16wX GEMV benchmark kernel, written in `stdlib/kernels/gemv.tile`: f16 activations cast to f32,
//! an f32 dot per group of weights, the group's scale applied once per group.

use tilevm_vm::DataType;
use tilevm_vm::verify::VerifiedKernel;

use crate::StdlibError;
use crate::kernels::{GEMV, instantiate};

/// Output rows per block.
pub const ROWS: usize = 32;

/// The GEMV kernel for `n` outputs, `k` inputs and one scale per `group` weights along k.
///
/// Parameters, in order: `x: f16[k]`, `w: weight_dtype[n, k]` (row-major, packed), `scale: f16[n, k/group]`,
/// `y: f16[n]` (written).
///
/// # Errors
/// [`StdlibError::Compile`] when `group` is 0.
pub fn gemv_a16wx(weight_dtype: DataType, n: u32, k: u32, group: u32) -> Result<VerifiedKernel, StdlibError> {
    let sets = [
        ("W", weight_dtype.to_string()),
        ("N", n.to_string()),
        ("K", k.to_string()),
        ("GROUP", group.to_string()),
        ("ROWS", ROWS.to_string()),
    ];
    instantiate(GEMV, "gemv_a16", &sets)
}
