//! [`AffineWeights`]: the one form every weight format is brought into, and the stdlib's linear kernels
//! consume — `w[n, k] = scale[n, g] * code[n, k] + offset[n, g]` with `g = k / group`, the codes of any
//! tilevm storage dtype packed row-major in tilevm's bit stream.
//!
//! Most formats are this form already, up to where the bits sit: GGUF Q4_0 is i4 codes (the stored
//! nibble minus 8) with one f16 scale per 32, Q4_K u4 codes with the scale `d * sc` and the offset
//! `-dmin * m` per 32, MXFP4 f4e2m1fn codes with the scale `2^(e - 127)`. Bringing a format in is a
//! repack of its bits, done once when a model is loaded; the values it defines are unchanged, because each
//! format's own definition computes `scale * code + offset` (or `scale * code`) in f32 with these same
//! scales, which is what [`AffineWeights::weight`] computes. Tables that are not affine (IQ4_NL's
//! codebook) become i8 codes of the table's integers.

use tilevm_vm::DataType;
use tilevm_vm::packing::{read_bits, write_bits};

use crate::error::{FormatError, Result};

/// A `[n, k]` weight matrix in affine group form.
#[derive(Clone, Debug, PartialEq)]
pub struct AffineWeights {
    n: usize,
    k: usize,
    group: usize,
    codes_dtype: DataType,
    codes: Vec<u8>,
    scales: Vec<f32>,
    offsets: Option<Vec<f32>>,
    input_order: Option<Vec<u32>>,
}

impl AffineWeights {
    /// All-zero codes, scales and (with `affine`) offsets for `n` rows of `k` weights, one scale per
    /// `group` weights of a row.
    ///
    /// # Errors
    /// [`FormatError::Input`] for a zero group, a codes dtype wider than 32 bits, or a size whose bytes
    /// do not fit in memory.
    pub fn zeros(
        n: usize,
        k: usize,
        group: usize,
        codes_dtype: DataType,
        affine: bool,
    ) -> Result<AffineWeights> {
        if group == 0 {
            return Err(FormatError::Input("the group size must be at least 1".into()));
        }
        if codes_dtype.bits() > 32 {
            return Err(FormatError::Input(format!("weight codes of {codes_dtype} are wider than 32 bits")));
        }
        let bits =
            n.checked_mul(k).and_then(|count| count.checked_mul(codes_dtype.bits() as usize)).ok_or_else(
                || FormatError::Input(format!("a [{n}, {k}] weight matrix does not fit in memory")),
            )?;
        let scale_count = n * k.div_ceil(group);
        Ok(AffineWeights {
            n,
            k,
            group,
            codes_dtype,
            codes: vec![0; bits.div_ceil(8)],
            scales: vec![0.0; scale_count],
            offsets: affine.then(|| vec![0.0; scale_count]),
            input_order: None,
        })
    }

    /// Rows (outputs).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Columns (inputs).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Weights per scale along a row.
    pub fn group(&self) -> usize {
        self.group
    }

    /// Scales per row.
    pub fn groups(&self) -> usize {
        self.k.div_ceil(self.group)
    }

    /// The dtype of the codes.
    pub fn codes_dtype(&self) -> DataType {
        self.codes_dtype
    }

    /// The packed codes, row-major `[n, k]`.
    pub fn codes(&self) -> &[u8] {
        &self.codes
    }

    /// The scales, row-major `[n, groups]`.
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// The offsets, row-major `[n, groups]`, when the form has them.
    pub fn offsets(&self) -> Option<&[f32]> {
        self.offsets.as_deref()
    }

    /// For weights stored in another order than the inputs' (GPTQ's act-order): stored column `j` is
    /// input `input_order[j]`, so `y = x[:, input_order] · Wᵀ`.
    pub fn input_order(&self) -> Option<&[u32]> {
        self.input_order.as_deref()
    }

    /// The code of stored element `(row, col)`.
    pub fn code(&self, row: usize, col: usize) -> u64 {
        let bits = self.codes_dtype.bits();
        read_bits(&self.codes, ((row * self.k + col) as u64) * u64::from(bits), bits)
    }

    /// Sets the code of stored element `(row, col)` (its low bits, the dtype's width).
    pub fn set_code(&mut self, row: usize, col: usize, code: u64) {
        let bits = self.codes_dtype.bits();
        let mask = (1u64 << bits) - 1;
        write_bits(&mut self.codes, ((row * self.k + col) as u64) * u64::from(bits), bits, code & mask);
    }

    /// Sets the scale of group `g` of `row`.
    pub fn set_scale(&mut self, row: usize, g: usize, scale: f32) {
        let groups = self.groups();
        self.scales[row * groups + g] = scale;
    }

    /// Sets the offset of group `g` of `row` (ignored by a form without offsets).
    pub fn set_offset(&mut self, row: usize, g: usize, offset: f32) {
        let groups = self.groups();
        if let Some(offsets) = &mut self.offsets {
            offsets[row * groups + g] = offset;
        }
    }

    /// Declares that stored column `j` is input `order[j]` (a permutation of `0..k`).
    ///
    /// # Errors
    /// [`FormatError::Input`] when `order` is not a permutation of `0..k`.
    pub fn set_input_order(&mut self, order: Vec<u32>) -> Result<()> {
        let mut seen = vec![false; self.k];
        let valid = order.len() == self.k
            && order
                .iter()
                .all(|&i| (i as usize) < self.k && !std::mem::replace(&mut seen[i as usize], true));
        if !valid {
            return Err(FormatError::Input(format!("the input order is not a permutation of 0..{}", self.k)));
        }
        self.input_order = Some(order);
        Ok(())
    }

    /// The value of stored element `(row, col)`: `scale * code + offset` in f32, one rounding each (a
    /// form without offsets adds 0.0, so the sign of a zero weight may differ from a format's own
    /// dequantizer: compare values, not bits).
    pub fn weight(&self, row: usize, col: usize) -> f32 {
        let index = row * self.groups() + col / self.group;
        let value = self.codes_dtype.to_f64(self.code(row, col)) as f32;
        let offset = self.offsets.as_ref().map_or(0.0, |offsets| offsets[index]);
        self.scales[index] * value + offset
    }

    /// The matrix as row-major f32 `[n, k]`, columns in input order.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0.0f32; self.n * self.k];
        for row in 0..self.n {
            let out_row = &mut out[row * self.k..(row + 1) * self.k];
            for col in 0..self.k {
                let input = self.input_order.as_ref().map_or(col, |order| order[col] as usize);
                out_row[input] = self.weight(row, col);
            }
        }
        out
    }

    /// Bytes of codes, scales and offsets (what a device holds for it, with f32 scales).
    pub fn bytes(&self) -> usize {
        self.codes.len() + 4 * (self.scales.len() + self.offsets.as_ref().map_or(0, Vec::len))
    }
}
