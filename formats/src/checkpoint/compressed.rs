//! compressed-tensors layers (`compressors/pack_quantized`, `mxfp4`, `nvfp4`).
//!
//! `pack-quantized`: `weight_packed` i32 `[n, words]` holds each row's codes plus `2^(bits - 1)` as one
//! dense little-endian bit stream (`words = ceil(k bits / 32)`, codes straddling words; older releases
//! packed `32 / bits` codes per word without straddling, `words = ceil(k / (32 / bits))`, which the shape
//! tells apart for 3, 5, 6 and 7 bits at every real layer size; where both give the same count, as for
//! some k below 100, the dense packing is read), `weight_scale` `[n, groups]`, optional `weight_zero_point`
//! `[n, groups]` and `weight_g_idx` `[k]`, and `weight_shape` `[n, k]`; `w = scale * (q - zero)`. The
//! stored code minus `2^(bits - 1)` is the code's signed value, so the codes become iB codes with the
//! group's scale, and the offset `-scale * zero` when there are zero points.
//!
//! `mxfp4-pack-quantized`: `weight_packed` u8 `[n, k / 2]` (element `2i` in the low nibble) of e2m1
//! codes and `weight_scale` u8 E8M0 `[n, k / 32]`: `w = e2m1 * 2^(e - 127)`.
//! `nvfp4-pack-quantized`: the same codes with `weight_scale` f8e4m3fn `[n, k / 16]` and
//! `weight_global_scale` f32 `[1]`: `w = e2m1 * (scale / global_scale)`, the quotient rounded once to f32.

use safetensors::Dtype;
use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;

use super::tensors::{RawTensor, SCALE_DTYPES};
use super::{TensorSet, grouped_order, stream_code};
use crate::affine::AffineWeights;
use crate::error::{FormatError, Result};
use crate::ggml::e8m0;

/// `[n, k]` from `weight_shape`, else from the packed tensor.
fn layer_shape(tensors: &TensorSet, prefix: &str, fallback: (usize, usize)) -> Result<(usize, usize)> {
    let Some(shape) = tensors.optional(&format!("{prefix}.weight_shape")) else { return Ok(fallback) };
    let values = shape.ints()?;
    match values[..] {
        [n, k] if n > 0 && k > 0 => Ok((n as usize, k as usize)),
        _ => Err(shape.error(format!("{values:?} is not a shape [n, k]"))),
    }
}

pub(crate) fn pack_quantized(
    tensors: &TensorSet,
    prefix: &str,
    bits: u8,
    group: Option<usize>,
) -> Result<AffineWeights> {
    if !(1..=8).contains(&bits) {
        return Err(FormatError::Unsupported(format!(
            "pack-quantized with {bits} bits (1 to 8 are defined)"
        )));
    }
    let packed = tensors.get(&format!("{prefix}.weight_packed"))?;
    packed.expect(&[Dtype::I32, Dtype::U32], 2)?;
    let (rows, words) = (packed.shape[0], packed.shape[1]);
    let (n, k) = layer_shape(tensors, prefix, (rows, words * 32 / usize::from(bits)))?;
    let per_word = 32 / usize::from(bits);
    let dense = (k * usize::from(bits)).div_ceil(32);
    let unstraddled = k.div_ceil(per_word);
    if rows != n || (words != dense && words != unstraddled) {
        return Err(packed.error(format!(
            "shape {:?} does not hold [{n}, {k}] {bits}-bit codes ({dense} words a row, or {unstraddled} in the older packing)",
            packed.shape
        )));
    }
    let code_of = |row: usize, col: usize| -> u32 {
        let word = |w: usize| packed.word(row * words + w);
        if words == dense {
            stream_code(word, col, bits)
        } else {
            (word(col / per_word) >> (usize::from(bits) * (col % per_word))) & ((1 << bits) - 1)
        }
    };
    let scale = tensors.get(&format!("{prefix}.weight_scale"))?;
    scale.expect(&SCALE_DTYPES, 2)?;
    let groups = scale.shape[1];
    scale.expect_shape(&[n, groups])?;
    let group = group.unwrap_or(k);
    let scales = scale.floats()?;
    let zeros = match tensors.optional(&format!("{prefix}.weight_zero_point")) {
        Some(zero) => Some(zero_points(&zero, n, groups, bits)?),
        None => None,
    };
    let order = match tensors.optional(&format!("{prefix}.weight_g_idx")) {
        Some(g_idx) => {
            g_idx.expect(&[Dtype::I32, Dtype::I64], 1)?;
            g_idx.expect_shape(&[k])?;
            let values: Vec<u32> =
                g_idx.ints()?.into_iter().map(|g| u32::try_from(g).unwrap_or(u32::MAX)).collect();
            let trivial = values.iter().enumerate().all(|(i, &g)| g as usize == i / group);
            (!trivial).then(|| grouped_order(&values, group, &g_idx.name)).transpose()?
        }
        None => None,
    };
    if k.div_ceil(group) != groups {
        return Err(scale.error(format!(
            "{groups} groups, but {k} inputs in groups of {group} make {}",
            k.div_ceil(group)
        )));
    }
    let codes = DataType::Int(IntType { signed: true, bits });
    let mut weights = AffineWeights::zeros(n, k, group, codes, zeros.is_some())?;
    let flip = 1u64 << (bits - 1);
    for row in 0..n {
        for j in 0..k {
            let input = order.as_ref().map_or(j, |o| o[j] as usize);
            // stored - 2^(bits-1) in two's complement is the stored code with its top bit flipped.
            weights.set_code(row, j, u64::from(code_of(row, input)) ^ flip);
        }
        for g in 0..groups {
            let s = scales[row * groups + g];
            weights.set_scale(row, g, s);
            if let Some(zeros) = &zeros {
                weights.set_offset(row, g, -(s * zeros[row * groups + g] as f32));
            }
        }
    }
    if let Some(order) = order {
        weights.set_input_order(order)?;
    }
    Ok(weights)
}

/// Zero points as integers: unpacked `[n, groups]` integers, or packed i32 `[ceil(n bits / 32), groups]`
/// (codes plus `2^(bits - 1)` down each column, as compressed-tensors packs them along dimension 0).
fn zero_points(zero: &RawTensor<'_>, n: usize, groups: usize, bits: u8) -> Result<Vec<i64>> {
    zero.expect(&[Dtype::I8, Dtype::I16, Dtype::I32, Dtype::I64], 2)?;
    if zero.shape == [n, groups] {
        return zero.ints();
    }
    zero.expect(&[Dtype::I32], 2)?;
    let packed_rows = (n * usize::from(bits)).div_ceil(32);
    zero.expect_shape(&[packed_rows, groups])?;
    let offset = 1i64 << (bits - 1);
    let mut out = vec![0i64; n * groups];
    for g in 0..groups {
        for row in 0..n {
            let code = stream_code(|w| zero.word(w * groups + g), row, bits);
            out[row * groups + g] = i64::from(code) - offset;
        }
    }
    Ok(out)
}

/// `[n, k]` e2m1 codes from `weight_packed` u8 `[n, k / 2]`, element `2i` in the low nibble.
fn e2m1_codes(
    tensors: &TensorSet,
    prefix: &str,
    group: usize,
    scales: &RawTensor<'_>,
) -> Result<AffineWeights> {
    let packed = tensors.get(&format!("{prefix}.weight_packed"))?;
    packed.expect(&[Dtype::U8], 2)?;
    let (n, k) = layer_shape(tensors, prefix, (packed.shape[0], packed.shape[1] * 2))?;
    packed.expect_shape(&[n, k / 2])?;
    scales.expect_shape(&[n, k.div_ceil(group)])?;
    let e2m1: DataType = "f4e2m1fn".parse().expect("a dtype");
    let mut weights = AffineWeights::zeros(n, k, group, e2m1, false)?;
    for row in 0..n {
        for col in 0..k {
            let byte = packed.data[row * (k / 2) + col / 2];
            weights.set_code(row, col, u64::from(if col % 2 == 0 { byte & 15 } else { byte >> 4 }));
        }
    }
    Ok(weights)
}

pub(crate) fn mxfp4(tensors: &TensorSet, prefix: &str) -> Result<AffineWeights> {
    let scale = tensors.get(&format!("{prefix}.weight_scale"))?;
    scale.expect(&[Dtype::U8, Dtype::F8_E8M0], 2)?;
    let mut weights = e2m1_codes(tensors, prefix, 32, &scale)?;
    let groups = weights.groups();
    for row in 0..weights.n() {
        for g in 0..groups {
            weights.set_scale(row, g, e8m0(scale.data[row * groups + g]));
        }
    }
    Ok(weights)
}

pub(crate) fn nvfp4(tensors: &TensorSet, prefix: &str) -> Result<AffineWeights> {
    let scale = tensors.get(&format!("{prefix}.weight_scale"))?;
    scale.expect(&[Dtype::F8_E4M3, Dtype::U8], 2)?;
    let global = tensors.get(&format!("{prefix}.weight_global_scale"))?;
    global.expect(&[Dtype::F32], 1)?;
    global.expect_shape(&[1])?;
    let global = global.floats()?[0];
    let mut weights = e2m1_codes(tensors, prefix, 16, &scale)?;
    let e4m3: DataType = "f8e4m3fn".parse().expect("a dtype");
    let groups = weights.groups();
    for row in 0..weights.n() {
        for g in 0..groups {
            let s = e4m3.to_f64(u64::from(scale.data[row * groups + g])) as f32;
            weights.set_scale(row, g, s / global);
        }
    }
    Ok(weights)
}
