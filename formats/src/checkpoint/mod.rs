//! Quantized safetensors checkpoints, as the Hugging Face hub serves them: a memory-mapped
//! `.safetensors` file, the quantization settings from the `config.json` (`quantization_config`) or
//! `quantize_config.json` beside it (or given explicitly, [`QuantScheme`]), and a layer named by its
//! prefix (`model.layers.0.mlp.up_proj`) read into affine group form ([`Checkpoint::layer`]).
//!
//! Each scheme has a module: `gptq` (AutoGPTQ v1 and GPTQModel's `gptq_v2`, with `g_idx` act-order),
//! `awq` (AutoAWQ GEMM), `compressed` (compressed-tensors `pack-quantized`, `mxfp4-pack-quantized`,
//! `nvfp4-pack-quantized`) and `gpt_oss` (OCP MXFP4 as HF gpt-oss stores it).

mod awq;
mod compressed;
mod config;
mod gpt_oss;
mod gptq;
mod tensors;

use std::path::{Path, PathBuf};

pub use config::QuantScheme;
pub(crate) use tensors::TensorSet;

use crate::affine::AffineWeights;
use crate::error::{FormatError, Result};

/// A safetensors file and the quantization settings that apply to it.
#[derive(Debug)]
pub struct Checkpoint {
    tensors: TensorSet,
    scheme: Option<QuantScheme>,
    config_path: Option<PathBuf>,
}

impl Checkpoint {
    /// Maps `path` and reads the quantization settings beside it: `config.json`'s
    /// `quantization_config`, else `quantize_config.json` (none is not an error: a layer then needs
    /// [`Checkpoint::with_scheme`]).
    ///
    /// # Errors
    /// [`FormatError::Io`] when the file cannot be mapped; [`FormatError::Corrupt`] when it is not
    /// safetensors or a config beside it is not valid JSON or names settings tilevm cannot read.
    pub fn open(path: impl AsRef<Path>) -> Result<Checkpoint> {
        let path = path.as_ref();
        let tensors = TensorSet::open(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let (scheme, config_path) = config::find_beside(dir)?;
        Ok(Checkpoint { tensors, scheme, config_path })
    }

    /// Safetensors bytes held in memory, named `name` in errors, with no settings.
    ///
    /// # Errors
    /// [`FormatError::Corrupt`] when they are not safetensors.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Checkpoint> {
        Ok(Checkpoint { tensors: TensorSet::from_bytes(name, bytes)?, scheme: None, config_path: None })
    }

    /// Replaces the settings (command-line `--format`, `--bits`, `--group-size`).
    pub fn with_scheme(mut self, scheme: QuantScheme) -> Checkpoint {
        self.scheme = Some(scheme);
        self
    }

    /// The settings, if any were found or given.
    pub fn scheme(&self) -> Option<&QuantScheme> {
        self.scheme.as_ref()
    }

    /// The config file the settings came from.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// The file's tensors: name, safetensors dtype and shape, sorted by name.
    pub fn tensor_infos(&self) -> Vec<(String, safetensors::Dtype, Vec<usize>)> {
        self.tensors.infos()
    }

    /// The quantized layers in the file: the prefixes of their `qweight`, `weight_packed` or `_blocks`
    /// tensors, sorted.
    pub fn layer_prefixes(&self) -> Vec<String> {
        let mut prefixes: Vec<String> = self
            .tensors
            .infos()
            .into_iter()
            .filter_map(|(name, ..)| {
                let suffixes = [".qweight", ".weight_packed", "_blocks"];
                suffixes.iter().find_map(|suffix| name.strip_suffix(suffix).map(str::to_string))
            })
            .collect();
        prefixes.sort();
        prefixes
    }

    /// The layer at `prefix` in affine group form: rows are the layer's outputs, so `y = x · Wᵀ`.
    ///
    /// # Errors
    /// [`FormatError::Unsupported`] when no settings were found or given; [`FormatError::NoSuchTensor`]
    /// for a missing part; [`FormatError::Shape`] naming the tensor whose dtype or shape does not fit.
    pub fn layer(&self, prefix: &str) -> Result<AffineWeights> {
        let Some(scheme) = &self.scheme else {
            return Err(FormatError::Unsupported(format!(
                "{}: no quantization settings (no config.json with a quantization_config or \
                 quantize_config.json beside it); give --format, --bits and --group-size",
                self.tensors.name()
            )));
        };
        match *scheme {
            QuantScheme::Gptq { bits, group, v2 } => gptq::layer(&self.tensors, prefix, bits, group, v2),
            QuantScheme::Awq { bits, group } => awq::layer(&self.tensors, prefix, bits, group),
            QuantScheme::PackQuantized { bits, group } => {
                compressed::pack_quantized(&self.tensors, prefix, bits, group)
            }
            QuantScheme::Mxfp4 if self.tensors.contains(&format!("{prefix}_blocks")) => {
                gpt_oss::layer(&self.tensors, prefix)
            }
            QuantScheme::Mxfp4 => compressed::mxfp4(&self.tensors, prefix),
            QuantScheme::Nvfp4 => compressed::nvfp4(&self.tensors, prefix),
        }
    }
}

/// Bits `[index * bits, index * bits + bits)` of the little-endian bit stream whose 32-bit words are
/// `word(0), word(1), ...` (codes may straddle two words, as GPTQ's 3-bit and compressed-tensors' dense
/// packing have them).
pub(crate) fn stream_code(word: impl Fn(usize) -> u32, index: usize, bits: u8) -> u32 {
    let bit = index * usize::from(bits);
    let (w, shift) = (bit / 32, bit % 32);
    let low = u64::from(word(w)) >> shift;
    let window =
        if shift + usize::from(bits) > 32 { low | (u64::from(word(w + 1)) << (32 - shift)) } else { low };
    (window & ((1u64 << bits) - 1)) as u32
}

/// Sorts the inputs by group for weights whose groups are not runs of consecutive inputs (GPTQ's
/// act-order `g_idx`): the stored order (inputs grouped, each group's in increasing order) and the group
/// size it gives, when every group but the last has `group` members.
///
/// # Errors
/// [`FormatError::Shape`] naming `tensor` when the groups are not of one size.
pub(crate) fn grouped_order(g_idx: &[u32], group: usize, tensor: &str) -> Result<Vec<u32>> {
    let mut order: Vec<u32> = (0..g_idx.len() as u32).collect();
    order.sort_by_key(|&k| g_idx[k as usize]);
    for (j, &k) in order.iter().enumerate() {
        if g_idx[k as usize] as usize != j / group {
            return Err(FormatError::Shape {
                tensor: tensor.to_string(),
                message: format!(
                    "groups of unequal size: input {k} is in group {}, but sorted by group it is the \
                     {j}th input, which groups of {group} put in group {}",
                    g_idx[k as usize],
                    j / group
                ),
            });
        }
    }
    Ok(order)
}
