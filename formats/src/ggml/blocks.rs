//! Each ggml block type's bytes as affine group weights ([`to_affine`]): which dtype its codes become,
//! how many weights share a scale, and the scale and offset of each group, read the way ggml's
//! `dequantize_row_*` reads them. The codes keep their bits wherever the format's value is an integer or
//! e2m1 code times a scale: Q4_0's nibble minus 8 is an i4 code, Q6_K's six bits minus 32 an i6 code,
//! Q3_K's two low bits minus 4 unless the high bit is set an i3 code.

use half::f16;
use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;

use super::GgmlType;
use crate::affine::AffineWeights;
use crate::error::{FormatError, Result};

/// `kvalues_iq4nl`: IQ4_NL's codebook.
pub(crate) const IQ4NL_VALUES: [i8; 16] =
    [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/// The codes dtype and group size a type's blocks take in affine form, and whether it has offsets.
fn affine_shape(ty: GgmlType, k: usize) -> (DataType, usize, bool) {
    let int = |signed, bits| DataType::Int(IntType { signed, bits });
    let e2m1: DataType = "f4e2m1fn".parse().expect("f4e2m1fn is a dtype");
    match ty {
        GgmlType::F32 => (DataType::F32, k.max(1), false),
        GgmlType::F16 => (DataType::F16, k.max(1), false),
        GgmlType::BF16 => (DataType::BF16, k.max(1), false),
        GgmlType::Q4_0 => (int(true, 4), 32, false),
        GgmlType::Q8_0 | GgmlType::IQ4NL => (int(true, 8), 32, false),
        GgmlType::Q2K => (int(false, 2), 16, true),
        GgmlType::Q3K => (int(true, 3), 16, false),
        GgmlType::Q4K => (int(false, 4), 32, true),
        GgmlType::Q5K => (int(false, 5), 32, true),
        GgmlType::Q6K => (int(true, 6), 16, false),
        GgmlType::MXFP4 => (e2m1, 32, false),
        GgmlType::NVFP4 => (e2m1, 16, false),
    }
}

/// The `[n, k]` tensor `data` of type `ty` (rows of `k` weights, as ggml lays a 2-D tensor out) in affine
/// group form. `tensor` names it in errors.
///
/// # Errors
/// [`FormatError::Shape`] when `k` is not a whole number of blocks or `data` is not exactly the tensor's
/// bytes.
pub fn to_affine(ty: GgmlType, data: &[u8], n: usize, k: usize, tensor: &str) -> Result<AffineWeights> {
    let shape_error = |message: String| FormatError::Shape { tensor: tensor.to_string(), message };
    let per_block = ty.block_weights();
    if !k.is_multiple_of(per_block) {
        return Err(shape_error(format!("rows of {k} weights are not whole {ty} blocks of {per_block}")));
    }
    let blocks_per_row = k / per_block;
    let expected = (n as u64)
        .checked_mul(blocks_per_row as u64)
        .and_then(|blocks| blocks.checked_mul(ty.block_bytes() as u64));
    if expected != Some(data.len() as u64) {
        return Err(shape_error(format!(
            "{} bytes of data, but [{n}, {k}] in {ty} takes {}",
            data.len(),
            expected.map_or("more than 2^64".to_string(), |bytes| bytes.to_string())
        )));
    }
    let (dtype, group, affine) = affine_shape(ty, k);
    let mut weights =
        AffineWeights::zeros(n, k, group, dtype, affine).map_err(|error| shape_error(error.to_string()))?;
    let mut block = Block::new(per_block, group);
    for row in 0..n {
        for b in 0..blocks_per_row {
            let start = (row * blocks_per_row + b) * ty.block_bytes();
            block.decode(ty, &data[start..start + ty.block_bytes()]);
            let first_col = b * per_block;
            for (i, &code) in block.codes.iter().enumerate() {
                weights.set_code(row, first_col + i, code);
            }
            let first_group = first_col / group;
            for (g, (&scale, &offset)) in block.scales.iter().zip(&block.offsets).enumerate() {
                weights.set_scale(row, first_group + g, scale);
                weights.set_offset(row, first_group + g, offset);
            }
        }
    }
    Ok(weights)
}

/// One block's codes (as codes of the affine dtype) and each of its groups' scale and offset.
struct Block {
    codes: Vec<u64>,
    scales: Vec<f32>,
    offsets: Vec<f32>,
}

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K block.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// Q3_K's sixteen 6-bit scales from their 12 packed bytes, minus 32 (ggml's `aux` shuffle).
fn q3k_scales(packed: &[u8]) -> [i32; 16] {
    let word = |i: usize| {
        u32::from_le_bytes([packed[4 * i], packed[4 * i + 1], packed[4 * i + 2], packed[4 * i + 3]])
    };
    let (low, high) = (0x0f0f_0f0f_u32, 0x0303_0303_u32);
    let (a0, a1, tmp) = (word(0), word(1), word(2));
    let aux = [
        (a0 & low) | ((tmp & high) << 4),
        (a1 & low) | (((tmp >> 2) & high) << 4),
        ((a0 >> 4) & low) | (((tmp >> 4) & high) << 4),
        ((a1 >> 4) & low) | (((tmp >> 6) & high) << 4),
    ];
    let mut scales = [0i32; 16];
    for (i, scale) in scales.iter_mut().enumerate() {
        *scale = i32::from(aux[i / 4].to_le_bytes()[i % 4] as i8) - 32;
    }
    scales
}

/// The scale of a UE4M3 byte as NVFP4 defines it: bit 7 ignored, 0 and 0x7f zero (ggml's
/// `ggml_ue4m3_to_fp32` without its halving, which compensates its doubled e2m1 table).
pub(crate) fn ue4m3(x: u8) -> f32 {
    if x == 0 || x == 0x7f {
        return 0.0;
    }
    let (exp, man) = (i32::from((x >> 3) & 0xf), f32::from(x & 7));
    if exp == 0 { man * 2f32.powi(-9) } else { (1.0 + man / 8.0) * 2f32.powi(exp - 7) }
}

/// The scale of an E8M0 byte: `2^(e - 127)`, NaN for 0xff (as OCP MX defines it; ggml leaves 0xff
/// unhandled).
pub(crate) fn e8m0(e: u8) -> f32 {
    match e {
        0xff => f32::NAN,
        0 => f32::from_bits(0x0040_0000),
        e => f32::from_bits(u32::from(e) << 23),
    }
}

impl Block {
    fn new(weights: usize, group: usize) -> Block {
        let groups = weights.div_ceil(group);
        Block { codes: vec![0; weights], scales: vec![0.0; groups], offsets: vec![0.0; groups] }
    }

    /// Two's-complement code of `value` in `bits` bits.
    fn signed(value: i32, bits: u32) -> u64 {
        (value as i64 as u64) & ((1u64 << bits) - 1)
    }

    fn decode(&mut self, ty: GgmlType, b: &[u8]) {
        match ty {
            GgmlType::F32 => {
                self.codes[0] = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                self.scales[0] = 1.0;
            }
            GgmlType::F16 | GgmlType::BF16 => {
                self.codes[0] = u64::from(u16::from_le_bytes([b[0], b[1]]));
                self.scales[0] = 1.0;
            }
            GgmlType::Q4_0 => {
                self.scales[0] = f16_at(b, 0);
                for j in 0..16 {
                    self.codes[j] = Block::signed(i32::from(b[2 + j] & 0xf) - 8, 4);
                    self.codes[j + 16] = Block::signed(i32::from(b[2 + j] >> 4) - 8, 4);
                }
            }
            GgmlType::Q8_0 => {
                self.scales[0] = f16_at(b, 0);
                for j in 0..32 {
                    self.codes[j] = u64::from(b[2 + j]);
                }
            }
            GgmlType::IQ4NL => {
                self.scales[0] = f16_at(b, 0);
                for j in 0..16 {
                    self.codes[j] = Block::signed(i32::from(IQ4NL_VALUES[usize::from(b[2 + j] & 0xf)]), 8);
                    self.codes[j + 16] =
                        Block::signed(i32::from(IQ4NL_VALUES[usize::from(b[2 + j] >> 4)]), 8);
                }
            }
            GgmlType::MXFP4 => {
                self.scales[0] = e8m0(b[0]);
                for j in 0..16 {
                    self.codes[j] = u64::from(b[1 + j] & 0xf);
                    self.codes[j + 16] = u64::from(b[1 + j] >> 4);
                }
            }
            GgmlType::NVFP4 => {
                for s in 0..4 {
                    self.scales[s] = ue4m3(b[s]);
                    for j in 0..8 {
                        let byte = b[4 + 8 * s + j];
                        self.codes[16 * s + j] = u64::from(byte & 0xf);
                        self.codes[16 * s + 8 + j] = u64::from(byte >> 4);
                    }
                }
            }
            GgmlType::Q2K => self.decode_q2k(b),
            GgmlType::Q3K => self.decode_q3k(b),
            GgmlType::Q4K | GgmlType::Q5K => self.decode_q45k(ty, b),
            GgmlType::Q6K => self.decode_q6k(b),
        }
    }

    /// `scales[16]`, `qs[64]`, `d`, `dmin`: element `128 h + 32 j + 16 half + l` is bits `2 j` of
    /// `qs[32 h + 16 half + l]`, in group `8 h + 2 j + half`.
    fn decode_q2k(&mut self, b: &[u8]) {
        let (d, min) = (f16_at(b, 80), f16_at(b, 82));
        for (g, &sc) in b[..16].iter().enumerate() {
            self.scales[g] = d * f32::from(sc & 0xf);
            self.offsets[g] = -(min * f32::from(sc >> 4));
        }
        for e in 0..256 {
            let (h, j, rest) = (e / 128, (e % 128) / 32, e % 32);
            self.codes[e] = u64::from((b[16 + 32 * h + rest] >> (2 * j)) & 3);
        }
    }

    /// `hmask[32]`, `qs[64]`, `scales[12]`, `d`: element `128 h + 32 j + 16 half + l` is bits `2 j` of
    /// `qs[32 h + 16 half + l]`, minus 4 unless bit `4 h + j` of `hmask[16 half + l]` is set.
    fn decode_q3k(&mut self, b: &[u8]) {
        let d = f16_at(b, 108);
        for (g, scale) in q3k_scales(&b[96..108]).into_iter().enumerate() {
            self.scales[g] = d * scale as f32;
        }
        for e in 0..256 {
            let (h, j, rest) = (e / 128, (e % 128) / 32, e % 32);
            let low = i32::from((b[32 + 32 * h + rest] >> (2 * j)) & 3);
            let high_set = b[rest] & (1 << (4 * h + j)) != 0;
            self.codes[e] = Block::signed(if high_set { low } else { low - 4 }, 3);
        }
    }

    /// `d`, `dmin`, `scales[12]`, (Q5_K: `qh[32]`,) `qs[128]`: element `64 c + 32 half + l` is the low
    /// (half 0) or high nibble of `qs[32 c + l]`, plus 16 when bit `2 c + half` of `qh[l]` is set.
    fn decode_q45k(&mut self, ty: GgmlType, b: &[u8]) {
        let (d, min) = (f16_at(b, 0), f16_at(b, 2));
        let scales = &b[4..16];
        for g in 0..8 {
            let (sc, m) = scale_min_k4(g, scales);
            self.scales[g] = d * f32::from(sc);
            self.offsets[g] = -(min * f32::from(m));
        }
        let (qh, qs) =
            if ty == GgmlType::Q5K { (Some(&b[16..48]), &b[48..176]) } else { (None, &b[16..144]) };
        for e in 0..256 {
            let (c, half, l) = (e / 64, (e % 64) / 32, e % 32);
            let byte = qs[32 * c + l];
            let low = if half == 0 { byte & 0xf } else { byte >> 4 };
            let high = qh.map_or(0, |qh| if qh[l] & (1 << (2 * c + half)) != 0 { 16 } else { 0 });
            self.codes[e] = u64::from(low + high);
        }
    }

    /// `ql[128]`, `qh[64]`, `scales[16]` (i8), `d`: element `128 h + 32 t + l` takes the low (t even) or
    /// high nibble of `ql[64 h + 32 (t % 2) + l]` and bits `2 t` of `qh[32 h + l]` above them, minus 32;
    /// its group is `element / 16`.
    fn decode_q6k(&mut self, b: &[u8]) {
        let d = f16_at(b, 208);
        for g in 0..16 {
            self.scales[g] = d * f32::from(b[192 + g] as i8);
        }
        for e in 0..256 {
            let (h, t, l) = (e / 128, (e % 128) / 32, e % 32);
            let byte = b[64 * h + 32 * (t % 2) + l];
            let low = if t < 2 { byte & 0xf } else { byte >> 4 };
            let high = (b[128 + 32 * h + l] >> (2 * t)) & 3;
            self.codes[e] = Block::signed(i32::from(low | (high << 4)) - 32, 6);
        }
    }
}
