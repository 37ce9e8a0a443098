//! [`GgmlType`]: the ggml tensor types a GGUF file may hold, with their ids, names and block sizes.

use std::fmt;

/// A ggml tensor type (`enum ggml_type`). Only the types tilevm reads are variants; others are named by
/// their id in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    /// 32-bit float.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16.
    BF16,
    /// 32 weights: an f16 scale and 16 bytes of nibbles (element j low, j + 16 high), value (q - 8) d.
    Q4_0,
    /// 32 weights: an f16 scale and 32 signed bytes, value q d.
    Q8_0,
    /// 256 weights: 16 groups of 16 2-bit codes with 4-bit scales and mins under f16 `d` and `dmin`.
    Q2K,
    /// 256 weights: 16 groups of 16 3-bit codes (2-bit plane and a high-bit mask) with 6-bit scales.
    Q3K,
    /// 256 weights: 8 groups of 32 4-bit codes with 6-bit scales and mins under f16 `d` and `dmin`.
    Q4K,
    /// 256 weights: as Q4_K with a fifth bit per code.
    Q5K,
    /// 256 weights: 16 groups of 16 6-bit codes (4-bit and 2-bit planes) minus 32, 8-bit scales.
    Q6K,
    /// 32 weights: an f16 scale and nibbles indexing the 16-entry codebook `kvalues_iq4nl`.
    IQ4NL,
    /// 32 weights: an E8M0 exponent and 16 bytes of e2m1 nibbles (split halves as Q4_0).
    MXFP4,
    /// 64 weights: four UE4M3 scales (one per 16) and 32 bytes of e2m1 nibbles.
    NVFP4,
}

impl GgmlType {
    /// Every type tilevm reads.
    pub const ALL: [GgmlType; 13] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q8_0,
        GgmlType::Q2K,
        GgmlType::Q3K,
        GgmlType::Q4K,
        GgmlType::Q5K,
        GgmlType::Q6K,
        GgmlType::IQ4NL,
        GgmlType::MXFP4,
        GgmlType::NVFP4,
    ];

    /// The type of a `ggml_type` id, if tilevm reads it.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        GgmlType::ALL.into_iter().find(|ty| ty.id() == id)
    }

    /// The type of a name as ggml spells it (`q4_0`, `Q4_K`, `iq4_nl`, `mxfp4`; any case).
    pub fn from_name(name: &str) -> Option<GgmlType> {
        GgmlType::ALL.into_iter().find(|ty| ty.name().eq_ignore_ascii_case(name))
    }

    /// The `ggml_type` id.
    pub fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_0 => 2,
            GgmlType::Q8_0 => 8,
            GgmlType::Q2K => 10,
            GgmlType::Q3K => 11,
            GgmlType::Q4K => 12,
            GgmlType::Q5K => 13,
            GgmlType::Q6K => 14,
            GgmlType::IQ4NL => 20,
            GgmlType::BF16 => 30,
            GgmlType::MXFP4 => 39,
            GgmlType::NVFP4 => 40,
        }
    }

    /// ggml's name (`ggml_type_name`).
    pub fn name(self) -> &'static str {
        match self {
            GgmlType::F32 => "f32",
            GgmlType::F16 => "f16",
            GgmlType::BF16 => "bf16",
            GgmlType::Q4_0 => "q4_0",
            GgmlType::Q8_0 => "q8_0",
            GgmlType::Q2K => "q2_K",
            GgmlType::Q3K => "q3_K",
            GgmlType::Q4K => "q4_K",
            GgmlType::Q5K => "q5_K",
            GgmlType::Q6K => "q6_K",
            GgmlType::IQ4NL => "iq4_nl",
            GgmlType::MXFP4 => "mxfp4",
            GgmlType::NVFP4 => "nvfp4",
        }
    }

    /// Weights per block.
    pub fn block_weights(self) -> usize {
        match self {
            GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => 1,
            GgmlType::Q4_0 | GgmlType::Q8_0 | GgmlType::IQ4NL | GgmlType::MXFP4 => 32,
            GgmlType::NVFP4 => 64,
            GgmlType::Q2K | GgmlType::Q3K | GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            GgmlType::F32 => 4,
            GgmlType::F16 | GgmlType::BF16 => 2,
            GgmlType::Q4_0 | GgmlType::IQ4NL => 18,
            GgmlType::Q8_0 => 34,
            GgmlType::MXFP4 => 17,
            GgmlType::NVFP4 => 36,
            GgmlType::Q2K => 84,
            GgmlType::Q3K => 110,
            GgmlType::Q4K => 144,
            GgmlType::Q5K => 176,
            GgmlType::Q6K => 210,
        }
    }

    /// Whether the type is a plain float (no blocks).
    pub fn is_float(self) -> bool {
        matches!(self, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
    }

    /// Bytes of `count` weights, when `count` is a whole number of blocks.
    pub fn bytes_for(self, count: u64) -> Option<u64> {
        let per = self.block_weights() as u64;
        count
            .is_multiple_of(per)
            .then(|| count / per)
            .and_then(|blocks| blocks.checked_mul(self.block_bytes() as u64))
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
