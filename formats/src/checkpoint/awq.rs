//! AutoAWQ GEMM layers: `qweight` i32 `[k, n / 8]` and `qzeros` i32 `[k / group, n / 8]`, packed along
//! n with nibble `i` of a word holding column `AWQ_ORDER[i]` of its eight, and `scales` `[k / group,
//! n]`; `w[n, k] = scale * (q - zero)`, no minus-one. In affine form: unsigned codes, the group's scale,
//! the offset `-scale * zero`.

use safetensors::Dtype;
use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;

use super::TensorSet;
use super::tensors::SCALE_DTYPES;
use crate::affine::AffineWeights;
use crate::error::{FormatError, Result};

/// The column of its group of eight that nibble `i` holds (AutoAWQ's `AWQ_ORDER`).
pub(crate) const AWQ_ORDER: [usize; 8] = [0, 2, 4, 6, 1, 3, 5, 7];

/// The nibble holding column `c` of a group of eight.
fn nibble_of(c: usize) -> usize {
    AWQ_ORDER.iter().position(|&o| o == c).expect("a column of eight")
}

pub(crate) fn layer(tensors: &TensorSet, prefix: &str, bits: u8, group: usize) -> Result<AffineWeights> {
    if bits != 4 {
        return Err(FormatError::Unsupported(format!("AWQ with {bits} bits (AWQ GEMM packs 4)")));
    }
    let qweight = tensors.get(&format!("{prefix}.qweight"))?;
    qweight.expect(&[Dtype::I32, Dtype::U32], 2)?;
    let (k, words) = (qweight.shape[0], qweight.shape[1]);
    let n = words * 8;
    let groups = k.div_ceil(group);
    let qzeros = tensors.get(&format!("{prefix}.qzeros"))?;
    qzeros.expect(&[Dtype::I32, Dtype::U32], 2)?;
    qzeros.expect_shape(&[groups, words])?;
    let scales = tensors.get(&format!("{prefix}.scales"))?;
    scales.expect(&SCALE_DTYPES, 2)?;
    scales.expect_shape(&[groups, n])?;
    let scale_values = scales.floats()?;
    let nibble = |word: u32, column: usize| (word >> (4 * nibble_of(column % 8))) & 15;
    let mut weights =
        AffineWeights::zeros(n, k, group, DataType::Int(IntType { signed: false, bits: 4 }), true)?;
    for out in 0..n {
        for input in 0..k {
            weights.set_code(out, input, u64::from(nibble(qweight.word(input * words + out / 8), out)));
        }
        for g in 0..groups {
            let zero = nibble(qzeros.word(g * words + out / 8), out);
            let scale = scale_values[g * n + out];
            weights.set_scale(out, g, scale);
            weights.set_offset(out, g, -(scale * zero as f32));
        }
    }
    Ok(weights)
}
