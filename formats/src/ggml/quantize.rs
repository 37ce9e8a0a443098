//! ggml's reference quantizers (`quantize_row_*_ref` in `src/ggml-quants.c`), whose bytes llama.cpp's
//! tools write into model files: tilevm's output equals theirs byte for byte, so a file tilevm writes is
//! the file `llama-quantize` would have written from the same f32 weights. The float types are plain
//! conversions (round to nearest even).

use half::{bf16, f16};

use super::GgmlType;
use super::blocks::e8m0;
use crate::error::{FormatError, Result};

/// ggml's `kvalues_mxfp4`: e2m1 values doubled.
const E2M1_DOUBLED: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// `values` (rows of `k`, whole blocks) in type `ty`, as ggml's reference quantizer writes them.
///
/// # Errors
/// [`FormatError::Input`] when `values` is not whole blocks of `ty`; [`FormatError::Unsupported`] for
/// the k-quants and IQ4_NL, whose ggml quantizers search scales with importance weights (not yet ported).
pub fn quantize(ty: GgmlType, values: &[f32]) -> Result<Vec<u8>> {
    let per = ty.block_weights();
    if !values.len().is_multiple_of(per) {
        return Err(FormatError::Input(format!(
            "{} values are not whole {ty} blocks of {per} weights",
            values.len()
        )));
    }
    let mut out = Vec::with_capacity(values.len() / per * ty.block_bytes());
    for block in values.chunks_exact(per) {
        match ty {
            GgmlType::F32 => out.extend_from_slice(&block[0].to_le_bytes()),
            GgmlType::F16 => out.extend_from_slice(&f16::from_f32(block[0]).to_le_bytes()),
            GgmlType::BF16 => out.extend_from_slice(&bf16::from_f32(block[0]).to_le_bytes()),
            GgmlType::Q4_0 => quantize_q4_0(block, &mut out),
            GgmlType::Q8_0 => quantize_q8_0(block, &mut out),
            GgmlType::MXFP4 => quantize_mxfp4(block, &mut out),
            GgmlType::NVFP4 => quantize_nvfp4(block, &mut out),
            GgmlType::Q2K
            | GgmlType::Q3K
            | GgmlType::Q4K
            | GgmlType::Q5K
            | GgmlType::Q6K
            | GgmlType::IQ4NL => {
                return Err(FormatError::Unsupported(format!(
                    "quantizing to {ty} is not supported yet (ggml's quantizer searches scales with \
                     importance weights); quantize to q4_0, q8_0, mxfp4 or nvfp4"
                )));
            }
        }
    }
    Ok(out)
}

/// `quantize_row_q4_0_ref`: the scale is the signed value of largest magnitude over -8.
fn quantize_q4_0(x: &[f32], out: &mut Vec<u8>) {
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    // `MIN(15, (int8_t)(x * id + 8.5f))`: truncation toward zero, as C's conversion.
    let code = |v: f32| ((v * id + 8.5) as i8).min(15) as u8;
    for j in 0..16 {
        out.push(code(x[j]) | (code(x[j + 16]) << 4));
    }
}

/// `quantize_row_q8_0_ref`: absmax over 127, codes rounded half away from zero (`roundf`).
fn quantize_q8_0(x: &[f32], out: &mut Vec<u8>) {
    let amax = x.iter().fold(0.0f32, |amax, v| amax.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    out.extend(x.iter().map(|&v| (v * id).round() as i8 as u8));
}

/// `best_index_mxfp4`: the e2m1 code whose doubled value times `d` is nearest `x` (the first on ties).
fn best_e2m1(x: f32, d: f32) -> u8 {
    let mut best = (0u8, (f32::from(E2M1_DOUBLED[0]) * d - x).abs());
    for i in 1..16u8 {
        let err = (f32::from(E2M1_DOUBLED[usize::from(i)]) * d - x).abs();
        if err < best.1 {
            best = (i, err);
        }
    }
    best.0
}

/// `quantize_row_mxfp4_ref`: the exponent `floor(log2(amax)) - 2`, so the largest value lands near 4.
fn quantize_mxfp4(x: &[f32], out: &mut Vec<u8>) {
    let amax = x.iter().fold(0.0f32, |amax, v| if amax < v.abs() { v.abs() } else { amax });
    let e = if amax > 0.0 { (amax.log2().floor() - 2.0 + 127.0) as u8 } else { 0 };
    // ggml's `GGML_E8M0_TO_FP32_HALF`: half the scale, for its doubled table.
    let d = if e < 2 { f32::from_bits(0x0020_0000 << e) } else { e8m0(e - 1) };
    out.push(e);
    for j in 0..16 {
        out.push(best_e2m1(x[j], d) | (best_e2m1(x[j + 16], d) << 4));
    }
}

/// `ggml_fp32_to_ue4m3`: a positive f32 to UE4M3, rounding half up on the mantissa, saturating at 448.
fn to_ue4m3(x: f32) -> u8 {
    // Zero, negative and NaN inputs all give a zero scale, as ggml's `!(x > 0.0f)`.
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    let x = x.min(448.0);
    let bits = x.to_bits();
    let exp = ((bits >> 23) & 0xff) as i32 - 127 + 7;
    let man = ((bits >> 20) & 7) as i32;
    if exp <= 0 {
        let man = ((x * 512.0 + 0.5) as i32).min(7);
        return if man < 1 { 0 } else { man as u8 };
    }
    if exp >= 15 {
        return 0x7e;
    }
    let (mut exp, mut man) = (exp, man + ((bits >> 19) & 1) as i32);
    if man > 7 {
        man = 0;
        exp += 1;
        if exp >= 15 {
            return 0x7e;
        }
    }
    ((exp << 3) | man) as u8
}

/// `quantize_row_nvfp4_ref`: per 16 weights a UE4M3 scale of `amax / 6`, then the nearest e2m1 codes.
fn quantize_nvfp4(x: &[f32], out: &mut Vec<u8>) {
    let mut scales = [0u8; 4];
    let mut codes = [0u8; 32];
    for s in 0..4 {
        let sub = &x[16 * s..16 * s + 16];
        let amax = sub.iter().fold(0.0f32, |amax, v| if amax < v.abs() { v.abs() } else { amax });
        scales[s] = to_ue4m3(amax / 6.0);
        // ggml's `ggml_ue4m3_to_fp32` returns half the scale, for its doubled table.
        let d = super::blocks::ue4m3(scales[s]) * 0.5;
        for j in 0..8 {
            codes[8 * s + j] = best_e2m1(sub[j], d) | (best_e2m1(sub[8 + j], d) << 4);
        }
    }
    out.extend_from_slice(&scales);
    out.extend_from_slice(&codes);
}
