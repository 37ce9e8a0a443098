//! The a16wX GEMV with activations quantized on the fly to 8 bits (llama.cpp's `Q8` scheme), so that
//! the inner product is an exact integer dot: two kernels, written in `stdlib/kernels/gemv_q8.tile`.
//!
//! [`quantize_q8`] turns each group of `group` f16 activations into i8 codes and one f32 scale:
//! `d = max|x| / 127`, `q = round_half_even(x * (127 / max|x|))` (all zero for an all-zero group).
//! [`gemv_q8_wx`] then computes `y[n] = sum_g d[g] * scale[n, g] * sum_{k in g} q[k] * w[n, k]`, the inner
//! sum in i32 (exact, so every backend agrees bit for bit), the rest in f32. The `.tile` file says why.

use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;
use tilevm_vm::verify::VerifiedKernel;

use crate::StdlibError;
use crate::kernels::{GEMV_Q8, instantiate};
use crate::weight_layout::weight_planes;

/// Output rows per block of [`gemv_q8_wx`] that suit the CPU backend (the GPU backend stages a block's
/// `[rows, group]` weights through workgroup memory, so fewer rows fit there).
pub const Q8_ROWS: usize = 128;

/// The quantization kernel: `x: f16[k]` in, `xq: i8[k]` and `xd: f32[k / group]` out, one block per group.
///
/// # Errors
/// [`StdlibError::Compile`] when `group` is 0.
pub fn quantize_q8(k: u32, group: u32) -> Result<VerifiedKernel, StdlibError> {
    instantiate(GEMV_Q8, "quantize_q8", &[("K", k.to_string()), ("GROUP", group.to_string())])
}

/// The integer-dot GEMV for `n` outputs, `k` inputs and one scale per `group` weights along k, `rows`
/// outputs per block: `gemv_q8` of the `.tile` file, or `gemv_q8_planes` for the widths that
/// [`weight_planes`] splits.
///
/// Parameters, in order: `xq: i8[k]` and `xd: f32[k / group]` (from [`quantize_q8`]), `w` (the weight
/// codes as [`pack_q8_weights`](crate::weight_layout::pack_q8_weights) lays them out: tiled, in bit planes, packed), `scale` (the f16 scales of
/// the row-major `[n, k / group]` matrix in the block order of [`tile_scales`](crate::weight_layout::tile_scales)), `y: f16[n]` (written).
///
/// # Errors
/// [`StdlibError::Compile`] when `group` or `rows` is 0.
pub fn gemv_q8_wx(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_the_kernels_reject_are_errors_with_the_diagnostics() {
        let u4 = DataType::Int(IntType { signed: false, bits: 4 });
        for (built, what) in [
            (quantize_q8(1024, 0), "quantize, group 0"),
            (gemv_q8_wx(u4, 256, 1024, 0, Q8_ROWS), "gemv, group 0"),
            (gemv_q8_wx(u4, 256, 1024, 128, 0), "gemv, 0 rows"),
        ] {
            let Err(StdlibError::Compile { error, .. }) = built else { panic!("{what}: expected an error") };
            assert!(
                error.to_string().contains("gemv_q8.tile"),
                "{what}: the diagnostic points into the source: {error}"
            );
        }
        assert!(
            gemv_q8_wx(DataType::Int(IntType { signed: false, bits: 3 }), 256, 1024, 128, Q8_ROWS).is_ok()
        );
    }
}
