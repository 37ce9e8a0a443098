//! [`QuantizedLinear`]: `y = x · Wᵀ` for affine group weights on a runtime, through the stdlib's
//! `linear` kernels. The weights are uploaded once (codes as packed tensors, scales as f16 when every
//! scale and offset is an f16 value — GGUF's Q4_0, Q8_0 and IQ4_NL, GPTQ's — else f32); each call uploads
//! the activations and reads `y` back.
//!
//! Activation rows are taken eight at a time, each launch sharing the weight loads between its rows (the
//! batched decode GEMV); more rows loop over launches of eight until the prefill GEMM exists.

use std::collections::HashMap;
use std::sync::Mutex;

use half::f16;
use tilevm_host::{Element, Runtime, Tensor};
use tilevm_stdlib::linear::{Linear, LinearSpec, linear};
use tilevm_vm::DataType;

use crate::affine::AffineWeights;
use crate::error::{FormatError, Result};

/// Activation rows one launch takes.
pub const ROWS_PER_LAUNCH: usize = 8;

/// A linear layer's weights on a runtime, with its compiled kernels.
#[derive(Debug)]
pub struct QuantizedLinear {
    runtime: Runtime,
    n: usize,
    k: usize,
    group: usize,
    codes: Tensor,
    scales: Tensor,
    offsets: Option<Tensor>,
    input_order: Option<Vec<u32>>,
    /// Kernels by (activation rows, activation dtype), compiled on first use.
    kernels: Mutex<HashMap<(usize, DataType), Linear>>,
}

fn fits_f16(values: &[f32]) -> bool {
    values.iter().all(|&v| f16::from_f32(v).to_f32().to_bits() == v.to_bits())
}

impl QuantizedLinear {
    /// Uploads `weights` to `runtime`.
    ///
    /// # Errors
    /// [`FormatError::Host`] when the device cannot hold them.
    pub fn new(runtime: &Runtime, weights: &AffineWeights) -> Result<QuantizedLinear> {
        let (n, k, groups) = (weights.n(), weights.k(), weights.groups());
        let codes = Tensor::from_packed(runtime, weights.codes_dtype(), &[n, k], weights.codes())?;
        let half = fits_f16(weights.scales()) && weights.offsets().is_none_or(fits_f16);
        let upload = |values: &[f32]| -> Result<Tensor> {
            Ok(if half {
                let values: Vec<f16> = values.iter().map(|&v| f16::from_f32(v)).collect();
                Tensor::from_slice(runtime, &values, &[n, groups])?
            } else {
                Tensor::from_slice(runtime, values, &[n, groups])?
            })
        };
        let scales = upload(weights.scales())?;
        let offsets = weights.offsets().map(upload).transpose()?;
        Ok(QuantizedLinear {
            runtime: runtime.clone(),
            n,
            k,
            group: weights.group(),
            codes,
            scales,
            offsets,
            input_order: weights.input_order().map(<[u32]>::to_vec),
            kernels: Mutex::new(HashMap::new()),
        })
    }

    /// Outputs.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Inputs.
    pub fn k(&self) -> usize {
        self.k
    }

    /// `x · Wᵀ` for `x` row-major `[m, k]` (`f32`, `half::f16` or `half::bf16`), as row-major f32
    /// `[m, n]`.
    ///
    /// # Errors
    /// [`FormatError::Input`] when `x` is not whole rows of `k`; [`FormatError::Host`] or
    /// [`FormatError::Stdlib`] when a kernel cannot compile or launch.
    pub fn forward<T: Element>(&self, x: &[T]) -> Result<Vec<f32>> {
        if self.k == 0 || !x.len().is_multiple_of(self.k) {
            return Err(FormatError::Input(format!(
                "{} activations are not whole rows of k = {}",
                x.len(),
                self.k
            )));
        }
        if !T::DTYPE.is_float() {
            return Err(FormatError::Input(format!("activations of {} are not floats", T::DTYPE)));
        }
        let m = x.len() / self.k;
        let mut y = Vec::with_capacity(m * self.n);
        let mut row = Vec::new();
        for chunk in x.chunks(ROWS_PER_LAUNCH * self.k) {
            let rows = chunk.len() / self.k;
            let chunk = match &self.input_order {
                Some(order) => {
                    row.clear();
                    row.extend(chunk.chunks(self.k).flat_map(|r| order.iter().map(|&i| r[i as usize])));
                    &row[..]
                }
                None => chunk,
            };
            let x = Tensor::from_slice(&self.runtime, chunk, &[rows, self.k])?;
            let kernel = self.kernel(rows, T::DTYPE)?;
            let out = kernel.call(&x, &self.codes, &self.scales, self.offsets.as_ref())?;
            y.extend(out.to_vec::<f32>()?);
        }
        Ok(y)
    }

    fn kernel(&self, m: usize, activations: DataType) -> Result<Linear> {
        let mut kernels = self.kernels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(kernel) = kernels.get(&(m, activations)) {
            return Ok(kernel.clone());
        }
        let size = |v: usize, what: &str| {
            u32::try_from(v).map_err(|_| FormatError::Input(format!("{what} = {v} does not fit in 32 bits")))
        };
        let spec = LinearSpec {
            activations,
            codes: self.codes.dtype(),
            scales: self.scales.dtype(),
            affine: self.offsets.is_some(),
            m: size(m, "m")?,
            n: size(self.n, "n")?,
            k: size(self.k, "k")?,
            group: size(self.group, "the group size")?,
        };
        let kernel = linear(&self.runtime, &spec)?;
        kernels.insert((m, activations), kernel.clone());
        Ok(kernel)
    }
}
