//! The quantized linear layer's kernels, written in `stdlib/kernels/linear.tile`: `y = x · Wᵀ` for `M`
//! rows of activations, the weights in the affine group form `w[n, k] = scale[n, g] * code[n, k] +
//! offset[n, g]` (`g = k / group`) that every weight format is brought into. [`linear`] gives a launcher
//! for one shape on one runtime; [`linear_kernel`] the verified kernel.
//!
//! Which kernel a backend gets is data, [`LinearForm`]: the CPU backend runs a block's tiles as loop
//! nests, so it takes one thread per block and an f32 dot per group (its fused load-cast-dot path); a GPU
//! wants its invocations busy, so it takes 128 per block, dequantizing each weight and reducing along k
//! once at the end. The two round differently (a per-group dot, then the scale; or each weight scaled),
//! each within the f32 bound of the exact product.

use tilevm_host::{Args, Kernel, RunStats, Runtime, Tensor};
use tilevm_runtime::Backend;
use tilevm_vm::DataType;
use tilevm_vm::verify::VerifiedKernel;

use crate::StdlibError;
use crate::kernels::{LINEAR, instantiate};

/// How the layer's kernel is shaped for a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinearForm {
    /// `linear` / `linear_affine`: one thread per block, `rows` outputs per block, an f32 dot product of
    /// each `[rows, group]` weight tile with the `[group, M]` activations, then the group's scale.
    Blocked {
        /// Output rows per block.
        rows: u32,
    },
    /// `linear_dequant` / `linear_dequant_affine`: 128 threads per block, each weight dequantized and
    /// multiplied into an f32 accumulator, one reduction along k at the end.
    Dequantized {
        /// Output rows per block.
        rows: u32,
    },
}

impl LinearForm {
    /// The form `backend` runs fastest: blocked loop nests on the CPU and the interpreter, dequantized
    /// tiles across a workgroup on a GPU.
    pub fn for_backend(backend: Backend) -> LinearForm {
        match backend {
            Backend::Gpu => LinearForm::Dequantized { rows: 32 },
            Backend::Cpu | Backend::Interp => LinearForm::Blocked { rows: 32 },
        }
    }

    fn kernel_name(self, affine: bool) -> &'static str {
        match (self, affine) {
            (LinearForm::Blocked { .. }, false) => "linear",
            (LinearForm::Blocked { .. }, true) => "linear_affine",
            (LinearForm::Dequantized { .. }, false) => "linear_dequant",
            (LinearForm::Dequantized { .. }, true) => "linear_dequant_affine",
        }
    }

    fn rows(self) -> u32 {
        match self {
            LinearForm::Blocked { rows } | LinearForm::Dequantized { rows } => rows,
        }
    }
}

/// The dtypes and sizes of one instantiation of the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearSpec {
    /// The activations' dtype (`f32`, `f16`, `bf16`).
    pub activations: DataType,
    /// The weight codes' dtype (any integer of 1..=8 bits, or a minifloat).
    pub codes: DataType,
    /// The dtype of the scales and offsets (`f32` or `f16`).
    pub scales: DataType,
    /// Whether the form has offsets.
    pub affine: bool,
    /// Activation rows.
    pub m: u32,
    /// Outputs (rows of W).
    pub n: u32,
    /// Inputs (columns of W).
    pub k: u32,
    /// Weights per scale along k.
    pub group: u32,
}

/// The verified kernel of `spec` in `form`.
///
/// Parameters, in order: `x: activations[m, k]`, `w: codes[n, k]` (row-major, packed), `scale:
/// scales[n, ceil(k / group)]`, with `affine` `offset` of the same shape, and `y: f32[m, n]` (written).
///
/// # Errors
/// [`StdlibError::Compile`] when a size is 0 or a dtype does not fit its place.
pub fn linear_kernel(form: LinearForm, spec: &LinearSpec) -> Result<VerifiedKernel, StdlibError> {
    let sets = [
        ("X", spec.activations.to_string()),
        ("W", spec.codes.to_string()),
        ("S", spec.scales.to_string()),
        ("M", spec.m.to_string()),
        ("N", spec.n.to_string()),
        ("K", spec.k.to_string()),
        ("GROUP", spec.group.to_string()),
        ("ROWS", form.rows().to_string()),
    ];
    instantiate(LINEAR, form.kernel_name(spec.affine), &sets)
}

/// The layer's kernel for `spec`, compiled for `runtime` in the form its backend runs fastest.
///
/// ```
/// use tilevm_host::{Rounding, Runtime, Tensor};
/// use tilevm_stdlib::linear::{LinearSpec, linear};
/// let runtime = Runtime::cpu()?;
/// let dtype = |name: &str| name.parse::<tilevm_vm::DataType>().unwrap();
/// let spec = LinearSpec {
///     activations: dtype("f32"), codes: dtype("i4"), scales: dtype("f32"), affine: false,
///     m: 2, n: 8, k: 64, group: 32,
/// };
/// let layer = linear(&runtime, &spec)?;
/// let x = Tensor::from_slice(&runtime, &vec![1.0f32; 2 * 64], &[2, 64])?;
/// let w = Tensor::quantize(&runtime, &vec![-3.0f32; 8 * 64], &[8, 64], dtype("i4"), Rounding::NearestEven)?;
/// let scale = Tensor::from_slice(&runtime, &vec![0.5f32; 8 * 2], &[8, 2])?;
/// let y = layer.call(&x, &w, &scale, None)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![-96.0; 2 * 8]); // 64 * -3 * 0.5
/// # Ok::<(), tilevm_stdlib::StdlibError>(())
/// ```
///
/// # Errors
/// As [`linear_kernel`]; [`StdlibError::Host`] when the backend cannot compile it.
pub fn linear(runtime: &Runtime, spec: &LinearSpec) -> Result<Linear, StdlibError> {
    let form = LinearForm::for_backend(runtime.backend());
    let kernel = Kernel::from_verified(runtime, linear_kernel(form, spec)?)?;
    Ok(Linear { kernel, spec: *spec, form })
}

/// A compiled linear layer kernel ([`linear`]). Cheap to clone, `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Linear {
    kernel: Kernel,
    spec: LinearSpec,
    form: LinearForm,
}

impl Linear {
    /// Computes `y = x · Wᵀ` into `y: f32[m, n]`; `offset` is required exactly when the spec is affine.
    ///
    /// # Errors
    /// [`StdlibError::Input`] for an offset given to a form without one or missing from one with it;
    /// [`StdlibError::Host`] naming the tensor whose dtype, shape or runtime is wrong, or a failed launch.
    pub fn run(
        &self,
        x: &Tensor,
        w: &Tensor,
        scale: &Tensor,
        offset: Option<&Tensor>,
        y: &Tensor,
    ) -> Result<RunStats, StdlibError> {
        let args = Args::new().tensor("x", x).tensor("w", w).tensor("scale", scale).tensor("y", y);
        let args = match (offset, self.spec.affine) {
            (Some(offset), true) => args.tensor("offset", offset),
            (None, false) => args,
            (Some(_), false) => return Err(StdlibError::Input("this linear kernel takes no offsets".into())),
            (None, true) => return Err(StdlibError::Input("this linear kernel needs its offsets".into())),
        };
        Ok(self.kernel.launch(&args)?)
    }

    /// `x · Wᵀ` as a new `f32[m, n]` tensor.
    ///
    /// # Errors
    /// As [`Linear::run`].
    pub fn call(
        &self,
        x: &Tensor,
        w: &Tensor,
        scale: &Tensor,
        offset: Option<&Tensor>,
    ) -> Result<Tensor, StdlibError> {
        let y = self.kernel.output("y", &Args::new())?;
        self.run(x, w, scale, offset, &y)?;
        Ok(y)
    }

    /// The instantiation's dtypes and sizes.
    pub fn spec(&self) -> &LinearSpec {
        &self.spec
    }

    /// The kernel form the runtime's backend got.
    pub fn form(&self) -> LinearForm {
        self.form
    }

    /// The compiled kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }
}
