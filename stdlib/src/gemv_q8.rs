//! The a16wX GEMV with activations quantized on the fly to 8 bits (llama.cpp's `Q8` scheme), so that
//! the inner product is an exact integer dot: two kernels, written in `stdlib/kernels/gemv_q8.tile`.
//!
//! [`quantize_q8_kernel`] turns each group of `group` f16 activations into i8 codes and one f32 scale:
//! `d = max|x| / 127`, `q = round_half_even(x * (127 / max|x|))` (all zero for an all-zero group).
//! [`gemv_q8_wx_kernel`] then computes `y[n] = sum_g d[g] * scale[n, g] * sum_{k in g} q[k] * w[n, k]`, the inner
//! sum in i32 (exact, so every backend agrees bit for bit), the rest in f32. The `.tile` file says why.
//! [`gemv_q8_wx`] gives a launcher that runs both on device tensors and lays out the weights for them.

use half::f16;
use tilevm_host::{Args, Kernel, RunStats, Runtime, Tensor};
use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;
use tilevm_vm::verify::VerifiedKernel;

use crate::StdlibError;
use crate::kernels::{GEMV_Q8, instantiate};
use crate::weight_layout::{pack_q8_weights, tile_scales, weight_planes};

/// Output rows per block of [`gemv_q8_wx_kernel`] that suit the CPU backend (the GPU backend stages a block's
/// `[rows, group]` weights through workgroup memory, so fewer rows fit there).
pub const Q8_ROWS: usize = 128;

/// The quantization kernel: `x: f16[k]` in, `xq: i8[k]` and `xd: f32[k / group]` out, one block per group.
///
/// # Errors
/// [`StdlibError::Compile`] when `group` is 0.
pub fn quantize_q8_kernel(k: u32, group: u32) -> Result<VerifiedKernel, StdlibError> {
    instantiate(GEMV_Q8, "quantize_q8", &[("K", k.to_string()), ("GROUP", group.to_string())])
}

/// The integer-dot GEMV for `n` outputs, `k` inputs and one scale per `group` weights along k, `rows`
/// outputs per block: `gemv_q8` of the `.tile` file, or `gemv_q8_planes` for the widths that
/// [`weight_planes`] splits.
///
/// Parameters, in order: `xq: i8[k]` and `xd: f32[k / group]` (from [`quantize_q8_kernel`]), `w` (the weight
/// codes as [`pack_q8_weights`](crate::weight_layout::pack_q8_weights) lays them out: tiled, in bit planes, packed), `scale` (the f16 scales of
/// the row-major `[n, k / group]` matrix in the block order of [`tile_scales`](crate::weight_layout::tile_scales)), `y: f16[n]` (written).
///
/// # Errors
/// [`StdlibError::Compile`] when `group` or `rows` is 0.
pub fn gemv_q8_wx_kernel(
    weight_dtype: DataType,
    n: u32,
    k: u32,
    group: u32,
    rows: usize,
) -> Result<VerifiedKernel, StdlibError> {
    let mut sets = vec![
        ("N", n.to_string()),
        ("K", k.to_string()),
        ("GROUP", group.to_string()),
        ("ROWS", rows.to_string()),
    ];
    let unsigned = |bits: u8| DataType::Int(IntType { signed: false, bits }).to_string();
    let planes = weight_planes(weight_dtype.bits() as u8, rows, group as usize);
    let kernel = match planes.high {
        Some(high) => {
            sets.extend([("HIGH", unsigned(high)), ("LOW", unsigned(planes.low))]);
            "gemv_q8_planes"
        }
        None => {
            sets.push(("W", weight_dtype.to_string()));
            "gemv_q8"
        }
    };
    instantiate(GEMV_Q8, kernel, &sets)
}

/// The q8 GEMV compiled for `runtime` ([`Q8_ROWS`] rows per block): `y = W x` for `n` outputs, `k`
/// inputs, one f16 scale per `group` weights of a row, the activations quantized per `group` on the way.
///
/// ```
/// use half::f16;
/// use tilevm_host::{Runtime, Tensor};
/// let runtime = Runtime::cpu()?;
/// let u4: tilevm_vm::DataType = "u4".parse().unwrap();
/// let gemv = tilevm_stdlib::gemv_q8::gemv_q8_wx(&runtime, u4, 64, 256, 128)?;
/// let weights = gemv.weights(&vec![3; 64 * 256], &vec![f16::from_f32(0.5); 64 * 2])?;
/// let x = Tensor::from_slice(&runtime, &vec![f16::ONE; 256], &[256])?;
/// let y = gemv.call(&x, &weights)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![384.0; 64]); // 256 * 3 * 0.5
/// # Ok::<(), tilevm_stdlib::StdlibError>(())
/// ```
///
/// # Errors
/// [`StdlibError::Compile`] when `group` is 0 or the width is one the kernels reject;
/// [`StdlibError::Host`] when the backend cannot compile them.
pub fn gemv_q8_wx(
    runtime: &Runtime,
    weight_dtype: DataType,
    n: u32,
    k: u32,
    group: u32,
) -> Result<GemvQ8, StdlibError> {
    let quantize = Kernel::from_verified(runtime, quantize_q8_kernel(k, group)?)?;
    let gemv = Kernel::from_verified(runtime, gemv_q8_wx_kernel(weight_dtype, n, k, group, Q8_ROWS)?)?;
    Ok(GemvQ8 { quantize, gemv, weight_dtype, n, k, group })
}

/// A compiled q8 GEMV ([`gemv_q8_wx`]): lay out the weights once with [`GemvQ8::weights`], then call it
/// with activations. Cheap to clone, `Send + Sync`.
#[derive(Clone, Debug)]
pub struct GemvQ8 {
    quantize: Kernel,
    gemv: Kernel,
    weight_dtype: DataType,
    n: u32,
    k: u32,
    group: u32,
}

/// Weights and scales on the device in the block order [`GemvQ8`] reads (`stdlib::weight_layout`).
#[derive(Clone, Debug)]
pub struct Q8Weights {
    w: Tensor,
    scale: Tensor,
}

impl GemvQ8 {
    /// Uploads row-major `[n, k]` weight codes (each the low bits of its `u64`) and `[n, k / group]`
    /// f16 scales in this kernel's layout.
    ///
    /// # Errors
    /// [`StdlibError::Input`] when `codes` or `scales` has the wrong length; [`StdlibError::Host`] when
    /// the device cannot hold them.
    pub fn weights(&self, codes: &[u64], scales: &[f16]) -> Result<Q8Weights, StdlibError> {
        let (n, k, group) = (self.n as usize, self.k as usize, self.group as usize);
        let groups = k.div_ceil(group);
        if codes.len() != n * k || scales.len() != n * groups {
            return Err(StdlibError::Input(format!(
                "the q8 GEMV takes {} weight codes and {} scales ([{n}, {k}] and [{n}, {groups}]), given {} and {}",
                n * k,
                n * groups,
                codes.len(),
                scales.len()
            )));
        }
        let bits = self.weight_dtype.bits() as u8;
        let runtime = self.gemv.runtime();
        // Both shapes are the kernel's declared ones (rows padded to whole blocks; planes as bytes).
        let shape = |name: &str| -> Result<Vec<usize>, StdlibError> {
            Ok(self.gemv.declared_shape(name, &Args::new())?.unwrap_or_default())
        };
        let w_dtype = self.gemv.params().iter().find(|param| param.name == "w").map(|param| param.dtype);
        let packed = pack_q8_weights(bits, codes, n, k, group, Q8_ROWS);
        let w = Tensor::from_packed(runtime, w_dtype.unwrap_or(DataType::U8), &shape("w")?, &packed)?;
        let scale = Tensor::from_slice(runtime, &tile_scales(scales, n, groups, Q8_ROWS), &shape("scale")?)?;
        Ok(Q8Weights { w, scale })
    }

    /// Computes `y = W x` into `y` (`x: f16[k]`, `y: f16[n]`): quantizes `x`, then the integer-dot GEMV.
    /// The time is both kernels'.
    ///
    /// # Errors
    /// [`StdlibError::Host`] naming the tensor whose dtype, shape or runtime is wrong, or a failed launch.
    pub fn run(&self, x: &Tensor, weights: &Q8Weights, y: &Tensor) -> Result<RunStats, StdlibError> {
        let quantize_args = Args::new().tensor("x", x);
        let xq = self.quantize.output("xq", &quantize_args)?;
        let xd = self.quantize.output("xd", &quantize_args)?;
        let first = self.quantize.launch(&quantize_args.tensor("xq", &xq).tensor("xd", &xd))?;
        let args = Args::new().tensor("xq", &xq).tensor("xd", &xd);
        let args = args.tensor("w", &weights.w).tensor("scale", &weights.scale).tensor("y", y);
        let second = self.gemv.launch(&args)?;
        Ok(RunStats { kernel_time: first.kernel_time + second.kernel_time })
    }

    /// `W x` as a new `f16[n]` tensor.
    ///
    /// # Errors
    /// As [`GemvQ8::run`].
    pub fn call(&self, x: &Tensor, weights: &Q8Weights) -> Result<Tensor, StdlibError> {
        let y = self.gemv.output("y", &Args::new())?;
        self.run(x, weights, &y)?;
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_the_kernels_reject_are_errors_with_the_diagnostics() {
        let u4 = DataType::Int(IntType { signed: false, bits: 4 });
        for (built, what) in [
            (quantize_q8_kernel(1024, 0), "quantize, group 0"),
            (gemv_q8_wx_kernel(u4, 256, 1024, 0, Q8_ROWS), "gemv, group 0"),
            (gemv_q8_wx_kernel(u4, 256, 1024, 128, 0), "gemv, 0 rows"),
        ] {
            let Err(StdlibError::Compile { error, .. }) = built else { panic!("{what}: expected an error") };
            assert!(
                error.to_string().contains("gemv_q8.tile"),
                "{what}: the diagnostic points into the source: {error}"
            );
        }
        assert!(
            gemv_q8_wx_kernel(DataType::Int(IntType { signed: false, bits: 3 }), 256, 1024, 128, Q8_ROWS)
                .is_ok()
        );
    }
}
