//! `QuantizedLinear` on the interpreter, the CPU and the GPU against an f64 reference computed from the
//! dequantized weights, for every ggml block type, 1 to 9 activation rows (more than one launch) and
//! f32, f16 and bf16 activations; within the f32 rounding bound of the kernels' sums.

use half::{bf16, f16};
use tilevm_formats::ggml::{GgmlType, to_affine};
use tilevm_formats::{AffineWeights, QuantizedLinear};
use tilevm_host::{Element, Runtime};

use super::support::{Rng, ggml_data, runtimes};

const N: usize = 16;
const K: usize = 256;

/// `y = x · Wᵀ` in f64 and, per output, the bound `(K + 8) 2^-24 Σ_k |x_k| (|scale code| + |offset|)`
/// on an f32 evaluation's error.
fn reference(weights: &AffineWeights, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let m = x.len() / K;
    let dense = weights.dequantize();
    let (mut y, mut bound) = (vec![0.0; m * N], vec![0.0; m * N]);
    for r in 0..m {
        for n in 0..N {
            for col in 0..K {
                let input = weights.input_order().map_or(col, |order| order[col] as usize);
                let g = n * weights.groups() + col / weights.group();
                let value = weights.codes_dtype().to_f64(weights.code(n, col));
                let offset = weights.offsets().map_or(0.0, |o| f64::from(o[g]));
                let xv = x[r * K + input];
                y[r * N + n] += xv * f64::from(dense[n * K + input]);
                bound[r * N + n] +=
                    xv.abs() * ((f64::from(weights.scales()[g]) * value).abs() + offset.abs());
            }
            bound[r * N + n] *= (K + 8) as f64 * 2f64.powi(-24);
        }
    }
    (y, bound)
}

fn check<T: Element>(
    runtime: &Runtime,
    layer: &QuantizedLinear,
    weights: &AffineWeights,
    x: &[T],
    what: &str,
) {
    let values: Vec<f64> = x.iter().map(|v| T::DTYPE.to_f64(v.to_code())).collect();
    let (want, bound) = reference(weights, &values);
    let got = layer.forward(x).unwrap_or_else(|error| panic!("{what} on {}: {error}", runtime.name()));
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, ((g, w), b)) in got.iter().zip(&want).zip(&bound).enumerate() {
        assert!(
            (f64::from(*g) - w).abs() <= *b,
            "{what} on {}: y[{i}] = {g}, reference {w} (bound {b})",
            runtime.name()
        );
    }
}

fn activations(rng: &mut Rng, m: usize) -> Vec<f32> {
    (0..m * K).map(|_| rng.unit() * 2.0).collect()
}

#[test]
fn every_block_type_on_every_backend() {
    let types = [
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
    let mut rng = Rng(0x11ea_0001);
    for runtime in runtimes() {
        for ty in types {
            let weights = to_affine(ty, &ggml_data(&format!("{}.bin", ty.name())), N, K, "w").unwrap();
            let layer = QuantizedLinear::new(&runtime, &weights).unwrap();
            for m in [1, 3] {
                check(&runtime, &layer, &weights, &activations(&mut rng, m), &format!("{ty}, m = {m}"));
            }
        }
    }
}

#[test]
fn many_rows_half_activations_and_input_order() {
    let mut rng = Rng(0x11ea_0002);
    for runtime in runtimes() {
        let mut weights = to_affine(GgmlType::Q4K, &ggml_data("q4_K.bin"), N, K, "w").unwrap();
        let layer = QuantizedLinear::new(&runtime, &weights).unwrap();
        // Nine rows: a launch of eight and one of one.
        check(&runtime, &layer, &weights, &activations(&mut rng, 9), "q4_K, m = 9");
        let x = activations(&mut rng, 2);
        let halves: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
        check(&runtime, &layer, &weights, &halves, "q4_K, f16 activations");
        let brains: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
        check(&runtime, &layer, &weights, &brains, "q4_K, bf16 activations");
        // Stored column j is input (37 j) mod K, as GPTQ's act-order stores them.
        weights.set_input_order((0..K as u32).map(|j| (37 * j) % K as u32).collect()).unwrap();
        let layer = QuantizedLinear::new(&runtime, &weights).unwrap();
        check(&runtime, &layer, &weights, &activations(&mut rng, 2), "q4_K, input order");
        let error = layer.forward(&[0.0f32; K + 1]).unwrap_err().to_string();
        assert!(error.contains("not whole rows of k = 256"), "{error}");
    }
}

#[test]
fn input_orders_must_be_permutations() {
    let mut weights = AffineWeights::zeros(2, 4, 2, "u4".parse().unwrap(), false).unwrap();
    assert!(weights.set_input_order(vec![0, 1, 1, 3]).is_err());
    assert!(weights.set_input_order(vec![0, 1, 2]).is_err());
    assert!(weights.set_input_order(vec![0, 1, 2, 4]).is_err());
    weights.set_input_order(vec![3, 2, 1, 0]).unwrap();
    assert!(AffineWeights::zeros(2, 4, 0, "u4".parse().unwrap(), false).is_err());
}
