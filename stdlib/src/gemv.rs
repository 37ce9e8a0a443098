//! The a16wX GEMV, written in `stdlib/kernels/gemv.tile`: f16 activations cast to f32, an f32 dot per
//! group of weights, the group's scale applied once per group. [`gemv_a16wx`] gives a launcher called
//! with device tensors; [`gemv_a16wx_kernel`] the verified kernel, for tools that drive a device
//! themselves.

use tilevm_host::{Args, Kernel, RunStats, Runtime, Tensor};
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
pub fn gemv_a16wx_kernel(
    weight_dtype: DataType,
    n: u32,
    k: u32,
    group: u32,
) -> Result<VerifiedKernel, StdlibError> {
    let sets = [
        ("W", weight_dtype.to_string()),
        ("N", n.to_string()),
        ("K", k.to_string()),
        ("GROUP", group.to_string()),
        ("ROWS", ROWS.to_string()),
    ];
    instantiate(GEMV, "gemv_a16", &sets)
}

/// The a16wX GEMV compiled for `runtime`: `y = W x` for `n` outputs, `k` inputs and one f16 scale per
/// `group` weights of a row.
///
/// ```
/// use half::f16;
/// use tilevm_host::{Rounding, Runtime, Tensor};
/// let runtime = Runtime::cpu()?;
/// let u4: tilevm_vm::DataType = "u4".parse().unwrap();
/// let gemv = tilevm_stdlib::gemv::gemv_a16wx(&runtime, u4, 64, 256, 128)?;
/// let x = Tensor::from_slice(&runtime, &vec![f16::ONE; 256], &[256])?;
/// let w = Tensor::quantize(&runtime, &vec![3.0f32; 64 * 256], &[64, 256], u4, Rounding::NearestEven)?;
/// let scale = Tensor::from_slice(&runtime, &vec![f16::from_f32(0.5); 64 * 2], &[64, 2])?;
/// let y = gemv.call(&x, &w, &scale)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![384.0; 64]); // 256 * 3 * 0.5
/// # Ok::<(), tilevm_stdlib::StdlibError>(())
/// ```
///
/// # Errors
/// [`StdlibError::Compile`] when `group` is 0; [`StdlibError::Host`] when the backend cannot compile it.
pub fn gemv_a16wx(
    runtime: &Runtime,
    weight_dtype: DataType,
    n: u32,
    k: u32,
    group: u32,
) -> Result<GemvA16, StdlibError> {
    let kernel = Kernel::from_verified(runtime, gemv_a16wx_kernel(weight_dtype, n, k, group)?)?;
    Ok(GemvA16 { kernel })
}

/// A compiled a16wX GEMV ([`gemv_a16wx`]): call it with tensors. Cheap to clone, `Send + Sync`.
#[derive(Clone, Debug)]
pub struct GemvA16 {
    kernel: Kernel,
}

impl GemvA16 {
    /// Computes `y = W x` into `y`: `x: f16[k]`, `w: weight_dtype[n, k]`, `scale: f16[n, k / group]`,
    /// `y: f16[n]`.
    ///
    /// # Errors
    /// [`StdlibError::Host`] naming the tensor whose dtype, shape or runtime is wrong, or a failed launch.
    pub fn run(&self, x: &Tensor, w: &Tensor, scale: &Tensor, y: &Tensor) -> Result<RunStats, StdlibError> {
        let args = Args::new().tensor("x", x).tensor("w", w).tensor("scale", scale).tensor("y", y);
        Ok(self.kernel.launch(&args)?)
    }

    /// `W x` as a new `f16[n]` tensor.
    ///
    /// # Errors
    /// As [`GemvA16::run`].
    pub fn call(&self, x: &Tensor, w: &Tensor, scale: &Tensor) -> Result<Tensor, StdlibError> {
        let y = self.kernel.output("y", &Args::new())?;
        self.run(x, w, scale, &y)?;
        Ok(y)
    }

    /// The compiled kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }
}
