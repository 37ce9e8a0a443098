//! GPTQ layers (AutoGPTQ's `qlinear_cuda_old` packing; FORMATS in `docs/formats.md`):
//! `qweight` i32 `[k bits / 32, n]` holds each column's codes as one little-endian bit stream down the
//! column (3-bit codes straddle words), `qzeros` i32 `[groups, n bits / 32]` each group's zero points
//! as a stream along the row, `scales` `[groups, n]`, optional `g_idx` i32 `[k]`.
//! `w[n, k] = scale[g, n] * (q[k, n] - zero[g, n])` with `g = g_idx[k]` (else `k / group`), and
//! `zero = stored + 1` in v1 checkpoints. In affine form the codes stay unsigned, the scale is the
//! group's and the offset `-scale * zero` (exact in f32: an f16 scale times an integer of at most nine
//! bits); with act-order the inputs are stored sorted by group ([`AffineWeights::input_order`]).

use safetensors::Dtype;
use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;

use super::tensors::SCALE_DTYPES;
use super::{TensorSet, grouped_order, stream_code};
use crate::affine::AffineWeights;
use crate::error::{FormatError, Result};

pub(crate) fn layer(
    tensors: &TensorSet,
    prefix: &str,
    bits: u8,
    group: Option<usize>,
    v2: bool,
) -> Result<AffineWeights> {
    if !matches!(bits, 2 | 3 | 4 | 8) {
        return Err(FormatError::Unsupported(format!("GPTQ with {bits} bits (tilevm reads 2, 3, 4 and 8)")));
    }
    let qweight = tensors.get(&format!("{prefix}.qweight"))?;
    qweight.expect(&[Dtype::I32, Dtype::U32], 2)?;
    let (rows, n) = (qweight.shape[0], qweight.shape[1]);
    if !(rows * 32).is_multiple_of(usize::from(bits)) {
        return Err(qweight.error(format!("{rows} rows of 32 bits are not whole {bits}-bit codes")));
    }
    let k = rows * 32 / usize::from(bits);
    let scales = tensors.get(&format!("{prefix}.scales"))?;
    scales.expect(&SCALE_DTYPES, 2)?;
    let groups = scales.shape[0];
    scales.expect_shape(&[groups, n])?;
    let qzeros = tensors.get(&format!("{prefix}.qzeros"))?;
    qzeros.expect(&[Dtype::I32, Dtype::U32], 2)?;
    qzeros.expect_shape(&[groups, (n * usize::from(bits)).div_ceil(32)])?;
    let group = group.unwrap_or(k);
    let g_idx = match tensors.optional(&format!("{prefix}.g_idx")) {
        Some(g_idx) => {
            g_idx.expect(&[Dtype::I32, Dtype::I64], 1)?;
            g_idx.expect_shape(&[k])?;
            let values = g_idx.ints()?;
            let mut out = Vec::with_capacity(k);
            for (i, &g) in values.iter().enumerate() {
                match u32::try_from(g) {
                    Ok(g) if (g as usize) < groups => out.push(g),
                    _ => {
                        return Err(
                            g_idx.error(format!("input {i} is in group {g}, but there are {groups} groups"))
                        );
                    }
                }
            }
            Some(out)
        }
        None => None,
    };
    let trivial = g_idx.as_ref().is_none_or(|g| g.iter().enumerate().all(|(i, &g)| g as usize == i / group));
    if trivial && k.div_ceil(group) != groups {
        return Err(scales.error(format!(
            "{groups} groups, but {k} inputs in groups of {group} make {}",
            k.div_ceil(group)
        )));
    }
    let order = match (&g_idx, trivial) {
        (Some(g_idx), false) => Some(grouped_order(g_idx, group, &format!("{prefix}.g_idx"))?),
        _ => None,
    };
    let scale_values = scales.floats()?;
    let codes = DataType::Int(IntType { signed: false, bits });
    let mut weights = AffineWeights::zeros(n, k, group, codes, true)?;
    let mask = (1u32 << bits) - 1;
    for out in 0..n {
        for j in 0..k {
            let input = order.as_ref().map_or(j, |o| o[j] as usize);
            let q = stream_code(|r| qweight.word(r * n + out), input, bits);
            weights.set_code(out, j, u64::from(q));
        }
        for g in 0..groups {
            let stored = stream_code(|w| qzeros.word(g * qzeros.shape[1] + w), out, bits);
            // v1 stores zero - 1, so a stored all-ones is the zero point 2^bits.
            let zero = if v2 { stored } else { (stored & mask) + 1 };
            let scale = scale_values[g * n + out];
            if g < weights.groups() {
                weights.set_scale(out, g, scale);
                weights.set_offset(out, g, -(scale * zero as f32));
            }
        }
    }
    if let Some(order) = order {
        weights.set_input_order(order)?;
    }
    Ok(weights)
}
