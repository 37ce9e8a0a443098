//! OCP MXFP4 as Hugging Face's gpt-oss stores it: `{prefix}_blocks` u8 `[.., groups, 16]` (32 e2m1 codes
//! a block, element `2i` in the low nibble of byte `i`) and `{prefix}_scales` u8 `[.., groups]` (E8M0):
//! `w = e2m1 * 2^(e - 127)`. Every dimension before the last two is a row (gpt-oss's experts stack
//! their matrices: `[experts, n, groups, 16]` is `experts * n` rows of `32 groups` weights).

use safetensors::Dtype;
use tilevm_vm::DataType;

use super::TensorSet;
use crate::affine::AffineWeights;
use crate::error::Result;
use crate::ggml::e8m0;

pub(crate) fn layer(tensors: &TensorSet, prefix: &str) -> Result<AffineWeights> {
    let blocks = tensors.get(&format!("{prefix}_blocks"))?;
    let scales = tensors.get(&format!("{prefix}_scales"))?;
    blocks.expect(&[Dtype::U8], blocks.shape.len().max(2))?;
    scales.expect(&[Dtype::U8, Dtype::F8_E8M0], scales.shape.len().max(1))?;
    let rank = blocks.shape.len();
    if rank < 2 || blocks.shape[rank - 1] != 16 {
        return Err(blocks.error(format!("shape {:?}, expected [.., groups, 16]", blocks.shape)));
    }
    scales.expect_shape(&blocks.shape[..rank - 1])?;
    let groups = blocks.shape[rank - 2];
    let n: usize = blocks.shape[..rank - 2].iter().product();
    let k = groups * 32;
    let e2m1: DataType = "f4e2m1fn".parse().expect("a dtype");
    let mut weights = AffineWeights::zeros(n, k, 32, e2m1, false)?;
    for row in 0..n {
        for col in 0..k {
            let byte = blocks.data[row * groups * 16 + col / 2];
            weights.set_code(row, col, u64::from(if col % 2 == 0 { byte & 15 } else { byte >> 4 }));
        }
        for g in 0..groups {
            weights.set_scale(row, g, e8m0(scales.data[row * groups + g]));
        }
    }
    Ok(weights)
}
