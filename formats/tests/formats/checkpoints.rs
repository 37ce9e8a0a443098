//! Quantized safetensors checkpoints packed by test helpers that follow each format's reference packing
//! code (AutoGPTQ's `pack` loops, AutoAWQ's order map, compressed-tensors' `pack_to_int32`, gpt-oss's
//! blocks), loaded through `Checkpoint` and compared with `w[n, k]` computed in f64 from the unpacked
//! integers and scales.

use std::collections::HashMap;

use half::f16;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use tilevm_formats::AffineWeights;
use tilevm_formats::checkpoint::{Checkpoint, QuantScheme};

use super::support::Rng;

/// A safetensors file of `(name, dtype, shape, bytes)`.
fn safetensors_file(tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: HashMap<String, TensorView<'_>> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            (name.clone(), TensorView::new(*dtype, shape.clone(), data).unwrap())
        })
        .collect();
    safetensors::serialize(&views, None).unwrap()
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn halves(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect()
}

fn assert_weights(got: &AffineWeights, want: &[f64], what: &str) {
    let dense = got.dequantize();
    assert_eq!(dense.len(), want.len(), "{what}: size");
    for (i, (g, w)) in dense.iter().zip(want).enumerate() {
        assert!(
            f64::from(*g) == *w,
            "{what}: weight {i} (row {}, input {}) is {g}, expected {w}",
            i / got.k(),
            i % got.k()
        );
    }
}

/// AutoGPTQ's `QuantLinear.pack` for `intweight[k][n]` (codes along k into `[k bits / 32, n]`), its
/// loops kept as they are written there.
#[allow(clippy::needless_range_loop)]
fn gptq_pack_qweight(intweight: &[Vec<u32>], bits: u32) -> Vec<Vec<u32>> {
    let (k, n) = (intweight.len(), intweight[0].len());
    let mut qweight = vec![vec![0u32; n]; k * bits as usize / 32];
    let (mut i, mut row) = (0, 0);
    while row < qweight.len() {
        if bits != 3 {
            for j in i..i + (32 / bits as usize) {
                for c in 0..n {
                    qweight[row][c] |= intweight[j][c] << (bits as usize * (j - i));
                }
            }
            i += 32 / bits as usize;
            row += 1;
        } else {
            for c in 0..n {
                let w = |j: usize| intweight[j][c];
                let (mut r, mut ii) = (row, i);
                for j in ii..ii + 10 {
                    qweight[r][c] |= w(j) << (3 * (j - ii));
                }
                ii += 10;
                qweight[r][c] |= w(ii) << 30;
                r += 1;
                qweight[r][c] |= (w(ii) >> 2) & 1;
                ii += 1;
                for j in ii..ii + 10 {
                    qweight[r][c] |= w(j) << (3 * (j - ii) + 1);
                }
                ii += 10;
                qweight[r][c] |= w(ii) << 31;
                r += 1;
                qweight[r][c] |= (w(ii) >> 1) & 3;
                ii += 1;
                for j in ii..ii + 10 {
                    qweight[r][c] |= w(j) << (3 * (j - ii) + 2);
                }
            }
            i += 32;
            row += 3;
        }
    }
    qweight
}

/// AutoGPTQ's packing of zero points along n (`qzeros[g][n bits / 32]`): the same loops along columns.
fn gptq_pack_qzeros(zeros: &[Vec<u32>], bits: u32) -> Vec<Vec<u32>> {
    let transposed: Vec<Vec<u32>> =
        (0..zeros[0].len()).map(|c| zeros.iter().map(|row| row[c]).collect()).collect();
    let packed = gptq_pack_qweight(&transposed, bits);
    (0..zeros.len()).map(|g| packed.iter().map(|row| row[g]).collect()).collect()
}

fn flatten(rows: &[Vec<u32>]) -> Vec<u32> {
    rows.iter().flatten().copied().collect()
}

#[test]
fn gptq_v1_and_v2_every_width_with_and_without_act_order() {
    let mut rng = Rng(0x6970_7471);
    // n a multiple of 32: AutoGPTQ's 3-bit loops pack zero points 32 columns at a time.
    let (n, k, group) = (64, 96, 32);
    let groups = k / group;
    for bits in [2u32, 3, 4, 8] {
        for v2 in [false, true] {
            for act_order in [false, true] {
                let max = (1u32 << bits) - 1;
                let intweight: Vec<Vec<u32>> =
                    (0..k).map(|_| (0..n).map(|_| (rng.next() as u32) & max).collect()).collect();
                // v1 stores zero - 1, so its zero points run 1..=2^bits; v2's 0..2^bits.
                let zeros: Vec<Vec<u32>> = (0..groups)
                    .map(|_| (0..n).map(|_| (rng.next() as u32) % (max + 1) + u32::from(!v2)).collect())
                    .collect();
                let stored: Vec<Vec<u32>> = zeros
                    .iter()
                    .map(|row| row.iter().map(|&z| if v2 { z } else { (z - 1) & max }).collect())
                    .collect();
                let scales: Vec<f32> =
                    (0..groups * n).map(|_| f16::from_f32(rng.unit() * 0.1).to_f32()).collect();
                let g_idx: Vec<u32> = if act_order {
                    // A permutation's groups: input i is in group (7 i mod k) / group.
                    (0..k).map(|i| ((7 * i) % k / group) as u32).collect()
                } else {
                    (0..k).map(|i| (i / group) as u32).collect()
                };
                let prefix = "model.layers.0.mlp.up_proj";
                let file = safetensors_file(&[
                    (
                        format!("{prefix}.qweight"),
                        Dtype::I32,
                        vec![k * bits as usize / 32, n],
                        words(&flatten(&gptq_pack_qweight(&intweight, bits))),
                    ),
                    (
                        format!("{prefix}.qzeros"),
                        Dtype::I32,
                        vec![groups, n * bits as usize / 32],
                        words(&flatten(&gptq_pack_qzeros(&stored, bits))),
                    ),
                    (format!("{prefix}.scales"), Dtype::F16, vec![groups, n], halves(&scales)),
                    (format!("{prefix}.g_idx"), Dtype::I32, vec![k], words(&g_idx)),
                ]);
                let scheme = QuantScheme::Gptq { bits: bits as u8, group: Some(group), v2 };
                let checkpoint =
                    Checkpoint::from_bytes("gptq.safetensors", file).unwrap().with_scheme(scheme);
                assert_eq!(checkpoint.layer_prefixes(), vec![prefix.to_string()]);
                let weights = checkpoint.layer(prefix).unwrap();
                assert_eq!(weights.input_order().is_some(), act_order);
                let want: Vec<f64> = (0..n * k)
                    .map(|i| {
                        let (out, input) = (i / k, i % k);
                        let g = g_idx[input] as usize;
                        f64::from(scales[g * n + out])
                            * (f64::from(intweight[input][out]) - f64::from(zeros[g][out]))
                    })
                    .collect();
                assert_weights(&weights, &want, &format!("gptq {bits} bits, v2 {v2}, act-order {act_order}"));
            }
        }
    }
}

#[test]
fn awq_gemm_column_order() {
    let mut rng = Rng(0xa3_0001);
    let (n, k, group) = (32, 64, 16);
    let groups = k / group;
    let order = [0usize, 2, 4, 6, 1, 3, 5, 7];
    let q: Vec<Vec<u32>> = (0..k).map(|_| (0..n).map(|_| (rng.next() & 15) as u32).collect()).collect();
    let z: Vec<Vec<u32>> = (0..groups).map(|_| (0..n).map(|_| (rng.next() & 15) as u32).collect()).collect();
    // AutoAWQ: qweight[:, col] |= intweight[:, col * 8 + order_map[i]] << (i * 4).
    let pack = |rows: &[Vec<u32>]| -> Vec<u32> {
        rows.iter()
            .flat_map(|row| {
                (0..n / 8).map(move |col| (0..8).fold(0u32, |w, i| w | (row[col * 8 + order[i]] << (4 * i))))
            })
            .collect()
    };
    let scales: Vec<f32> = (0..groups * n).map(|_| f16::from_f32(rng.unit()).to_f32()).collect();
    let file = safetensors_file(&[
        ("l.qweight".into(), Dtype::I32, vec![k, n / 8], words(&pack(&q))),
        ("l.qzeros".into(), Dtype::I32, vec![groups, n / 8], words(&pack(&z))),
        ("l.scales".into(), Dtype::F16, vec![groups, n], halves(&scales)),
    ]);
    let checkpoint = Checkpoint::from_bytes("awq.safetensors", file)
        .unwrap()
        .with_scheme(QuantScheme::Awq { bits: 4, group });
    let want: Vec<f64> = (0..n * k)
        .map(|i| {
            let (out, input) = (i / k, i % k);
            let g = input / group;
            f64::from(scales[g * n + out]) * (f64::from(q[input][out]) - f64::from(z[g][out]))
        })
        .collect();
    assert_weights(&checkpoint.layer("l").unwrap(), &want, "awq");
}

/// compressed-tensors' `pack_to_int32` (dense: each row one bit stream, codes straddling words), or
/// its older form of `32 / bits` codes per word.
fn pack_int32(rows: &[Vec<u32>], bits: u32, dense: bool) -> (usize, Vec<u32>) {
    let k = rows[0].len();
    let per_word = 32 / bits as usize;
    let width = if dense { (k * bits as usize).div_ceil(32) } else { k.div_ceil(per_word) };
    let mut out = vec![0u32; rows.len() * width];
    for (r, row) in rows.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            if dense {
                let bit = c * bits as usize;
                let wide = u64::from(v) << (bit % 32);
                out[r * width + bit / 32] |= wide as u32;
                if bit % 32 + bits as usize > 32 {
                    out[r * width + bit / 32 + 1] |= (wide >> 32) as u32;
                }
            } else {
                out[r * width + c / per_word] |= v << (bits as usize * (c % per_word));
            }
        }
    }
    (width, out)
}

#[test]
fn pack_quantized_every_width_both_packings_and_zero_points() {
    let mut rng = Rng(0xc0_0001);
    // k = 96: the two packings differ in words per row for 3, 5, 6 and 7 bits (9/10, 15/16, 18/20, 21/24).
    let (n, k, group) = (24, 96, 16);
    let groups = k / group;
    for bits in 1u32..=8 {
        for dense in [true, false] {
            for with_zero in [false, true] {
                let offset = 1i64 << (bits - 1);
                let q: Vec<Vec<i64>> = (0..n)
                    .map(|_| (0..k).map(|_| (rng.next() % (1 << bits)) as i64 - offset).collect())
                    .collect();
                let stored: Vec<Vec<u32>> =
                    q.iter().map(|row| row.iter().map(|&v| (v + offset) as u32).collect()).collect();
                let (width, packed) = pack_int32(&stored, bits, dense);
                let scales: Vec<f32> = (0..n * groups).map(|_| f16::from_f32(rng.unit()).to_f32()).collect();
                let zeros: Vec<i64> =
                    (0..n * groups).map(|_| (rng.next() % (1 << bits)) as i64 - offset).collect();
                let mut tensors = vec![
                    ("p.weight_packed".to_string(), Dtype::I32, vec![n, width], words(&packed)),
                    ("p.weight_scale".to_string(), Dtype::F16, vec![n, groups], halves(&scales)),
                    (
                        "p.weight_shape".to_string(),
                        Dtype::I64,
                        vec![2],
                        [n as i64, k as i64].iter().flat_map(|v| v.to_le_bytes()).collect(),
                    ),
                ];
                if with_zero {
                    let z: Vec<u8> = zeros.iter().map(|&z| z as i8 as u8).collect();
                    tensors.push(("p.weight_zero_point".to_string(), Dtype::I8, vec![n, groups], z));
                }
                let scheme = QuantScheme::PackQuantized { bits: bits as u8, group: Some(group) };
                let checkpoint = Checkpoint::from_bytes("ct.safetensors", safetensors_file(&tensors))
                    .unwrap()
                    .with_scheme(scheme);
                let want: Vec<f64> = (0..n * k)
                    .map(|i| {
                        let (row, col) = (i / k, i % k);
                        let g = row * groups + col / group;
                        let zero = if with_zero { zeros[g] } else { 0 };
                        f64::from(scales[g]) * (q[row][col] - zero) as f64
                    })
                    .collect();
                let what = format!("pack-quantized {bits} bits, dense {dense}, zero points {with_zero}");
                if !dense && bits.is_power_of_two() {
                    continue; // the two packings are the same bytes
                }
                assert_weights(&checkpoint.layer("p").unwrap(), &want, &what);
            }
        }
    }
}

/// The e2m1 value of a code.
fn e2m1(code: u8) -> f64 {
    let magnitude = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0][usize::from(code & 7)];
    if code & 8 != 0 { -magnitude } else { magnitude }
}

#[test]
fn mxfp4_and_nvfp4_in_compressed_tensors_and_gpt_oss() {
    let mut rng = Rng(0xf4_0001);
    let (n, k) = (8, 64);
    let codes: Vec<u8> = (0..n * k).map(|_| (rng.next() & 15) as u8).collect();
    let pairs: Vec<u8> = codes.chunks(2).map(|p| p[0] | (p[1] << 4)).collect();
    // MXFP4: exponents around 127, one 0 (2^-127) and one 255 (NaN).
    let mut exponents: Vec<u8> = (0..n * k / 32).map(|_| 120 + (rng.next() % 16) as u8).collect();
    exponents[1] = 0;
    exponents[2] = 255;
    let mx_want: Vec<f64> = (0..n * k)
        .map(|i| match exponents[i / 32] {
            255 => f64::NAN,
            e => e2m1(codes[i]) * 2f64.powi(i32::from(e) - 127),
        })
        .collect();
    let compressed = safetensors_file(&[
        ("m.weight_packed".into(), Dtype::U8, vec![n, k / 2], pairs.clone()),
        ("m.weight_scale".into(), Dtype::U8, vec![n, k / 32], exponents.clone()),
    ]);
    let gpt_oss = safetensors_file(&[
        ("m_blocks".into(), Dtype::U8, vec![2, n / 2, k / 32, 16], pairs.clone()),
        ("m_scales".into(), Dtype::U8, vec![2, n / 2, k / 32], exponents.clone()),
    ]);
    for (file, what) in [(compressed, "compressed-tensors mxfp4"), (gpt_oss, "gpt-oss mxfp4")] {
        let weights = Checkpoint::from_bytes("mx.safetensors", file)
            .unwrap()
            .with_scheme(QuantScheme::Mxfp4)
            .layer("m")
            .unwrap();
        let dense = weights.dequantize();
        for (i, (g, w)) in dense.iter().zip(&mx_want).enumerate() {
            assert!(
                f64::from(*g) == *w || (g.is_nan() && w.is_nan()),
                "{what}: weight {i} is {g}, expected {w}"
            );
        }
    }
    // NVFP4: f8e4m3fn scales per 16 and a global scale.
    let e4m3: tilevm_vm::DataType = "f8e4m3fn".parse().unwrap();
    let scale_codes: Vec<u8> = (0..n * k / 16).map(|_| 0x30 + (rng.next() % 32) as u8).collect();
    let global = 3.0f32;
    let file = safetensors_file(&[
        ("v.weight_packed".into(), Dtype::U8, vec![n, k / 2], pairs),
        ("v.weight_scale".into(), Dtype::F8_E4M3, vec![n, k / 16], scale_codes.clone()),
        ("v.weight_global_scale".into(), Dtype::F32, vec![1], global.to_le_bytes().to_vec()),
    ]);
    let want: Vec<f64> = (0..n * k)
        .map(|i| {
            f64::from(e2m1(codes[i]) as f32 * ((e4m3.to_f64(u64::from(scale_codes[i / 16])) as f32) / global))
        })
        .collect();
    let weights = Checkpoint::from_bytes("nv.safetensors", file)
        .unwrap()
        .with_scheme(QuantScheme::Nvfp4)
        .layer("v")
        .unwrap();
    assert_weights(&weights, &want, "nvfp4");
}

#[test]
fn settings_come_from_the_config_beside_the_file() {
    let dir = std::env::temp_dir().join(format!("tilevm-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let file = safetensors_file(&[("x.weight".into(), Dtype::F16, vec![2], halves(&[1.0, 2.0]))]);
    std::fs::write(&path, &file).unwrap();
    assert_eq!(Checkpoint::open(&path).unwrap().scheme(), None);
    let cases = [
        (
            r#"{"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": true, "checkpoint_format": "gptq_v2"}}"#,
            QuantScheme::Gptq { bits: 4, group: Some(128), v2: true },
        ),
        (
            r#"{"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 64, "zero_point": true, "version": "gemm"}}"#,
            QuantScheme::Awq { bits: 4, group: 64 },
        ),
        (
            r#"{"quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized",
             "config_groups": {"group_0": {"weights": {"num_bits": 3, "group_size": 32, "symmetric": true}, "format": "pack-quantized"}}}}"#,
            QuantScheme::PackQuantized { bits: 3, group: Some(32) },
        ),
        (
            r#"{"quantization_config": {"quant_method": "compressed-tensors", "config_groups": {"g": {"format": "nvfp4-pack-quantized", "weights": {"num_bits": 4}}}}}"#,
            QuantScheme::Nvfp4,
        ),
        (r#"{"quantization_config": {"quant_method": "mxfp4"}}"#, QuantScheme::Mxfp4),
    ];
    for (config, scheme) in cases {
        std::fs::write(dir.join("config.json"), config).unwrap();
        assert_eq!(Checkpoint::open(&path).unwrap().scheme(), Some(&scheme), "{config}");
    }
    std::fs::remove_file(dir.join("config.json")).unwrap();
    std::fs::write(dir.join("quantize_config.json"), r#"{"bits": 8, "group_size": -1, "desc_act": false}"#)
        .unwrap();
    assert_eq!(
        Checkpoint::open(&path).unwrap().scheme(),
        Some(&QuantScheme::Gptq { bits: 8, group: None, v2: false })
    );
    std::fs::write(dir.join("quantize_config.json"), "{ not json").unwrap();
    let error = Checkpoint::open(&path).unwrap_err().to_string();
    assert!(error.contains("quantize_config.json") && error.contains("not valid JSON"), "{error}");
    std::fs::write(dir.join("config.json"), r#"{"quantization_config": {"quant_method": "bitsandbytes"}}"#)
        .unwrap();
    let error = Checkpoint::open(&path).unwrap_err().to_string();
    assert!(error.contains("bitsandbytes"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn broken_checkpoints_name_the_tensor() {
    let scheme = QuantScheme::Gptq { bits: 4, group: Some(32), v2: false };
    let no_settings = Checkpoint::from_bytes(
        "a.safetensors",
        safetensors_file(&[("l.qweight".into(), Dtype::I32, vec![4, 8], vec![0; 128])]),
    )
    .unwrap();
    assert!(no_settings.layer("l").unwrap_err().to_string().contains("no quantization settings"));
    let missing = no_settings.with_scheme(scheme).layer("l").unwrap_err().to_string();
    assert!(missing.contains("l.scales"), "{missing}");
    let wrong_dtype = Checkpoint::from_bytes(
        "b.safetensors",
        safetensors_file(&[("l.qweight".into(), Dtype::F32, vec![4, 8], vec![0; 128])]),
    )
    .unwrap()
    .with_scheme(scheme)
    .layer("l")
    .unwrap_err()
    .to_string();
    assert!(wrong_dtype.contains("l.qweight") && wrong_dtype.contains("dtype F32"), "{wrong_dtype}");
    let mut corrupt = safetensors_file(&[("l.qweight".into(), Dtype::I32, vec![4, 8], vec![0; 128])]);
    corrupt.truncate(corrupt.len() - 3);
    let error = Checkpoint::from_bytes("c.safetensors", corrupt).unwrap_err().to_string();
    assert!(error.contains("c.safetensors") && error.contains("not a valid safetensors file"), "{error}");
}
