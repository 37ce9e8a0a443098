//! The stdlib's typed launchers (`stdlib::gemv::gemv_a16wx`, `stdlib::gemv_q8::gemv_q8_wx`) on the
//! interpreter and the CPU: called with device tensors, they agree with an f64 product of the same codes
//! and scales, and a tensor of the wrong shape or data of the wrong length is named in the error.
//!
//! Not on the GPU: the stdlib's tiles are CPU-shaped (`threads(1)`, 32 to 128 rows a block) and take
//! lavapipe over a minute to compile (the GPU-speed issue makes them GPU-shaped); `gemv_q8.rs` runs
//! the same kernels on the GPU with small tiles.

use half::f16;
use tilevm::stdlib::gemv::gemv_a16wx;
use tilevm::stdlib::gemv_q8::gemv_q8_wx;
use tilevm::{DataType, Runtime, Tensor};

use crate::rng::Rng;

fn runtimes() -> Vec<Runtime> {
    vec![Runtime::interp(), Runtime::cpu().expect("the CPU backend")]
}

/// Row-major `[n, k]` codes of `bits` bits, `[n, k / group]` scales and `k` activations.
struct Problem {
    n: usize,
    k: usize,
    group: usize,
    dtype: DataType,
    codes: Vec<u64>,
    scales: Vec<f16>,
    x: Vec<f16>,
}

impl Problem {
    fn new(bits: u8, n: usize, k: usize, seed: u64) -> Problem {
        let group = 128;
        let mut rng = Rng(seed | 1);
        let codes = (0..n * k).map(|_| u64::from(rng.next()) & ((1 << bits) - 1)).collect();
        let scales = (0..n * k / group).map(|_| f16::from_f32((rng.next() % 64) as f32 / 256.0)).collect();
        let x = (0..k).map(|_| f16::from_f32((rng.next() % 200) as f32 / 100.0 - 1.0)).collect();
        let dtype = format!("u{bits}").parse().expect("a dtype");
        Problem { n, k, group, dtype, codes, scales, x }
    }

    /// `y[row] = sum_k x[k] * code[row, k] * scale[row, k / group]` in f64.
    fn reference(&self) -> Vec<f64> {
        (0..self.n)
            .map(|row| {
                (0..self.k)
                    .map(|col| {
                        let scale = f64::from(self.scales[row * (self.k / self.group) + col / self.group]);
                        f64::from(self.x[col]) * self.codes[row * self.k + col] as f64 * scale
                    })
                    .sum()
            })
            .collect()
    }

    /// Per row, the most the q8 kernel may be off: each activation is rounded to 8 bits of its
    /// group's largest magnitude (an error of at most `max|x| / 254`), times its weight and scale.
    fn q8_bounds(&self) -> Vec<f64> {
        let group_max: Vec<f64> = self
            .x
            .chunks(self.group)
            .map(|group| group.iter().fold(0.0f64, |max, &x| max.max(f64::from(x).abs())))
            .collect();
        (0..self.n)
            .map(|row| {
                (0..self.k)
                    .map(|col| {
                        let scale = f64::from(self.scales[row * (self.k / self.group) + col / self.group]);
                        group_max[col / self.group] / 254.0 * self.codes[row * self.k + col] as f64 * scale
                    })
                    .sum()
            })
            .collect()
    }

    /// Checks `y` against the f64 product, allowing `bounds[row]` plus f16 rounding of the output.
    #[track_caller]
    fn assert_close(&self, y: &[f32], bounds: &[f64], what: &str) {
        assert_eq!(y.len(), self.n, "{what}");
        for (row, (&got, want)) in y.iter().zip(self.reference()).enumerate() {
            let error = (f64::from(got) - want).abs();
            let allowed = bounds[row] + want.abs() / 1024.0 + 1e-3;
            assert!(error <= allowed, "{what}: y[{row}] = {got}, want {want} (within {allowed})");
        }
    }
}

#[test]
fn the_a16_launcher_computes_the_product_on_the_interpreter_and_the_cpu() {
    // 70 rows: the last block of 32 is ragged.
    let problem = Problem::new(4, 70, 256, 11);
    for runtime in runtimes() {
        let (n, k) = (problem.n as u32, problem.k as u32);
        let gemv = gemv_a16wx(&runtime, problem.dtype, n, k, problem.group as u32).unwrap();
        let codes: Vec<u32> = problem.codes.iter().map(|&code| code as u32).collect();
        let w =
            Tensor::quantize(&runtime, &codes, &[problem.n, problem.k], problem.dtype, Default::default());
        let w = w.unwrap();
        let scale = Tensor::from_slice(&runtime, &problem.scales, &[problem.n, problem.k / problem.group]);
        let x = Tensor::from_slice(&runtime, &problem.x, &[problem.k]).unwrap();
        let y = gemv.call(&x, &w, &scale.unwrap()).unwrap();
        // f32 sums, one f16 rounding of the output.
        let exact = vec![0.0; problem.n];
        problem.assert_close(&y.to_vec::<f32>().unwrap(), &exact, &format!("a16 on {runtime:?}"));

        let short = Tensor::from_slice(&runtime, &problem.x[..100], &[100]).unwrap();
        let message = gemv.call(&short, &w, &w).unwrap_err().to_string();
        assert!(message.contains("`x` must be f16[256], given f16[100]"), "{message}");
    }
}

#[test]
fn the_q8_launcher_lays_out_weights_and_computes_the_product_on_the_interpreter_and_the_cpu() {
    // u4 takes the one-plane kernel, u3 the two-plane one; 70 rows pad to one block of 128.
    for bits in [4, 3] {
        let problem = Problem::new(bits, 70, 256, u64::from(bits));
        for runtime in runtimes() {
            let (n, k) = (problem.n as u32, problem.k as u32);
            let gemv = gemv_q8_wx(&runtime, problem.dtype, n, k, problem.group as u32).unwrap();
            let weights = gemv.weights(&problem.codes, &problem.scales).unwrap();
            let x = Tensor::from_slice(&runtime, &problem.x, &[problem.k]).unwrap();
            let y = gemv.call(&x, &weights).unwrap();
            // The activations are rounded to 8 bits per group: about 1/127 of each group's largest.
            let bounds = problem.q8_bounds();
            problem.assert_close(&y.to_vec::<f32>().unwrap(), &bounds, &format!("q8 u{bits} on {runtime:?}"));

            let message = gemv.weights(&problem.codes[1..], &problem.scales).unwrap_err().to_string();
            assert!(message.contains("takes 17920 weight codes"), "{message}");
        }
    }
}
