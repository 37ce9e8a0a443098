//! Every ggml block type against ggml itself: `data/ggml/TYPE.bin` is what ggml's `quantize_row_*_ref`
//! made of `input.f32` and `TYPE.f32` what its `dequantize_row_*` made of those bytes (`generate.c`, built
//! against ggml's `src/ggml-quants.c`; see `data/ggml/README.md`). tilevm's affine form must give
//! ggml's values, and its quantizers ggml's bytes.

use tilevm_formats::ggml::{GgmlType, quantize, to_affine};

use super::support::{f32s, ggml_data};

const K: usize = 4096;

/// Equal values (a zero's sign aside: ggml's integer-times-scale gives -0 where tilevm's code gives +0).
fn assert_same_values(ty: GgmlType, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{ty}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(g == w || (g.is_nan() && w.is_nan()), "{ty}: weight {i} is {g}, ggml says {w}");
    }
}

#[test]
fn dequantized_values_equal_ggml_for_every_block_type() {
    let quantized = [
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
    for ty in quantized {
        let bytes = ggml_data(&format!("{}.bin", ty.name()));
        let want = f32s(&ggml_data(&format!("{}.f32", ty.name())));
        // As one row and as 4096 / 256 rows, so row starts inside the bit stream are exercised too.
        for (n, k) in [(1, K), (K / 256, 256)] {
            let weights = to_affine(ty, &bytes, n, k, "golden").unwrap();
            assert_same_values(ty, &weights.dequantize(), &want);
        }
    }
}

#[test]
fn quantizers_write_ggml_bytes() {
    let input = f32s(&ggml_data("input.f32"));
    for ty in [GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::MXFP4, GgmlType::NVFP4] {
        let want = ggml_data(&format!("{}.bin", ty.name()));
        let got = quantize(ty, &input).unwrap();
        assert_eq!(got.len(), want.len(), "{ty}: length");
        if let Some(block) = (0..got.len() / ty.block_bytes()).find(|b| {
            got[b * ty.block_bytes()..][..ty.block_bytes()]
                != want[b * ty.block_bytes()..][..ty.block_bytes()]
        }) {
            let range = block * ty.block_bytes()..(block + 1) * ty.block_bytes();
            panic!("{ty}: block {block} is {:02x?}, ggml wrote {:02x?}", &got[range.clone()], &want[range]);
        }
    }
}

#[test]
fn float_types_round_trip() {
    let input = f32s(&ggml_data("input.f32"));
    for ty in [GgmlType::F32, GgmlType::F16, GgmlType::BF16] {
        let bytes = quantize(ty, &input).unwrap();
        let weights = to_affine(ty, &bytes, 16, K / 16, "floats").unwrap();
        let want: Vec<f32> = match ty {
            GgmlType::F16 => input.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect(),
            GgmlType::BF16 => input.iter().map(|&v| half::bf16::from_f32(v).to_f32()).collect(),
            _ => input.clone(),
        };
        assert_same_values(ty, &weights.dequantize(), &want);
    }
}

#[test]
fn wrong_sizes_are_errors_naming_the_tensor() {
    let bytes = ggml_data("q4_0.bin");
    let short = to_affine(GgmlType::Q4_0, &bytes[..bytes.len() - 1], 1, K, "blk.0.ffn_up").unwrap_err();
    assert!(
        short.to_string().contains("blk.0.ffn_up") && short.to_string().contains("2303 bytes"),
        "{short}"
    );
    let ragged = to_affine(GgmlType::Q4_0, &bytes, 1, 4008, "w").unwrap_err();
    assert!(ragged.to_string().contains("not whole q4_0 blocks"), "{ragged}");
    let unsupported = quantize(GgmlType::Q4K, &[0.0; 256]).unwrap_err();
    assert!(unsupported.to_string().contains("q4_K"), "{unsupported}");
    assert!(quantize(GgmlType::Q8_0, &[0.0; 33]).is_err());
}
