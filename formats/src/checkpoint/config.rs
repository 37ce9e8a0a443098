//! [`QuantScheme`]: the quantization settings a checkpoint's layers need, from the Hugging Face config
//! beside the file (`config.json`'s `quantization_config`, or AutoGPTQ's `quantize_config.json`) or the
//! command line.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{FormatError, Result};

/// How a checkpoint's layers are quantized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantScheme {
    /// AutoGPTQ (`v2: false`, zero points stored minus one) or GPTQModel's `gptq_v2` (stored as they
    /// are): `qweight` packed along k, `qzeros` along n, `scales`, optional `g_idx`. `group` `None` is
    /// one group per column (`group_size: -1`).
    Gptq {
        /// Bits per weight: 2, 3, 4 or 8.
        bits: u8,
        /// Inputs per group.
        group: Option<usize>,
        /// Whether zero points are stored without GPTQ v1's minus one.
        v2: bool,
    },
    /// AutoAWQ GEMM: `qweight` and `qzeros` packed along n in AWQ's column order, `scales`.
    Awq {
        /// Bits per weight (4).
        bits: u8,
        /// Inputs per group.
        group: usize,
    },
    /// compressed-tensors `pack-quantized`: `weight_packed` (codes plus 2^(bits-1), packed along k),
    /// `weight_scale`, optional `weight_zero_point` and `weight_g_idx`. `group` `None` is one scale per
    /// output channel.
    PackQuantized {
        /// Bits per weight, 1 to 8.
        bits: u8,
        /// Inputs per group.
        group: Option<usize>,
    },
    /// OCP MXFP4: compressed-tensors `mxfp4-pack-quantized` (`weight_packed`, `weight_scale`) or gpt-oss
    /// (`_blocks`, `_scales`), told apart by the tensors present.
    Mxfp4,
    /// compressed-tensors `nvfp4-pack-quantized`: `weight_packed`, `weight_scale` (f8e4m3fn per 16),
    /// `weight_global_scale`.
    Nvfp4,
}

impl QuantScheme {
    /// The scheme a command line names: `--format gptq|gptq-v2|awq|pack-quantized|mxfp4|nvfp4` with
    /// `--bits` and `--group-size` (a group size of -1 or 0 is one group per column).
    ///
    /// # Errors
    /// [`FormatError::Input`] for an unknown format or missing bits.
    pub fn from_cli(format: &str, bits: Option<u8>, group: Option<i64>) -> Result<QuantScheme> {
        let group = group.and_then(|g| usize::try_from(g).ok()).filter(|&g| g > 0);
        let need_bits = || bits.ok_or_else(|| FormatError::Input(format!("--format {format} needs --bits")));
        Ok(match format {
            "gptq" => QuantScheme::Gptq { bits: need_bits()?, group, v2: false },
            "gptq-v2" | "gptq_v2" => QuantScheme::Gptq { bits: need_bits()?, group, v2: true },
            "awq" => QuantScheme::Awq { bits: bits.unwrap_or(4), group: group.unwrap_or(128) },
            "pack-quantized" => QuantScheme::PackQuantized { bits: need_bits()?, group },
            "mxfp4" => QuantScheme::Mxfp4,
            "nvfp4" => QuantScheme::Nvfp4,
            other => {
                return Err(FormatError::Input(format!(
                    "unknown checkpoint format `{other}` (gptq, gptq-v2, awq, pack-quantized, mxfp4, nvfp4)"
                )));
            }
        })
    }

    /// The scheme of a `quantization_config` object (or a whole `quantize_config.json`); `file` names it
    /// in errors.
    ///
    /// # Errors
    /// [`FormatError::Unsupported`] for a method or setting tilevm does not read.
    pub fn from_json(config: &Value, file: &str) -> Result<QuantScheme> {
        let unsupported = |message: String| FormatError::Unsupported(format!("{file}: {message}"));
        let int = |key: &str| config.get(key).and_then(Value::as_i64);
        let bits = |keys: &[&str]| -> Result<u8> {
            keys.iter()
                .find_map(|key| int(key))
                .and_then(|b| u8::try_from(b).ok())
                .ok_or_else(|| unsupported(format!("no `{}` setting", keys[0])))
        };
        let group = |keys: &[&str]| {
            keys.iter().find_map(|key| int(key)).and_then(|g| usize::try_from(g).ok()).filter(|&g| g > 0)
        };
        // AutoGPTQ's quantize_config.json has no quant_method; it is GPTQ.
        let method = config.get("quant_method").and_then(Value::as_str).unwrap_or("gptq");
        match method {
            "gptq" => {
                let format = config.get("checkpoint_format").and_then(Value::as_str).unwrap_or("gptq");
                Ok(QuantScheme::Gptq {
                    bits: bits(&["bits"])?,
                    group: group(&["group_size"]),
                    v2: format == "gptq_v2",
                })
            }
            "awq" => {
                let version = config.get("version").and_then(Value::as_str).unwrap_or("gemm");
                if !version.eq_ignore_ascii_case("gemm") {
                    return Err(unsupported(format!("AWQ version `{version}` (tilevm reads GEMM)")));
                }
                let group = group(&["group_size", "q_group_size"])
                    .ok_or_else(|| unsupported("no `group_size`".into()))?;
                Ok(QuantScheme::Awq { bits: bits(&["bits", "w_bit"])?, group })
            }
            "mxfp4" => Ok(QuantScheme::Mxfp4),
            "compressed-tensors" => compressed_tensors(config, file),
            other => Err(unsupported(format!("quantization method `{other}`"))),
        }
    }
}

/// compressed-tensors: the format (top level, or of the first config group) and that group's weights.
fn compressed_tensors(config: &Value, file: &str) -> Result<QuantScheme> {
    let unsupported = |message: String| FormatError::Unsupported(format!("{file}: {message}"));
    let first_group =
        config.get("config_groups").and_then(Value::as_object).and_then(|groups| groups.values().next());
    let format = first_group
        .and_then(|g| g.get("format"))
        .or_else(|| config.get("format"))
        .and_then(Value::as_str)
        .ok_or_else(|| unsupported("no compressed-tensors `format`".into()))?;
    let weights = first_group.and_then(|g| g.get("weights"));
    let setting = |key: &str| weights.and_then(|w| w.get(key)).and_then(Value::as_i64);
    match format {
        "pack-quantized" => {
            let bits = setting("num_bits")
                .and_then(|b| u8::try_from(b).ok())
                .ok_or_else(|| unsupported("no `num_bits` in the first config group's weights".into()))?;
            let group = setting("group_size").and_then(|g| usize::try_from(g).ok()).filter(|&g| g > 0);
            Ok(QuantScheme::PackQuantized { bits, group })
        }
        "mxfp4-pack-quantized" => Ok(QuantScheme::Mxfp4),
        "nvfp4-pack-quantized" => Ok(QuantScheme::Nvfp4),
        other => Err(unsupported(format!("compressed-tensors format `{other}`"))),
    }
}

/// The settings in `dir`: `config.json`'s `quantization_config`, else `quantize_config.json`, else none.
pub(crate) fn find_beside(dir: &Path) -> Result<(Option<QuantScheme>, Option<PathBuf>)> {
    for (file, key) in [("config.json", Some("quantization_config")), ("quantize_config.json", None)] {
        let path = dir.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let name = path.display().to_string();
        let json: Value = serde_json::from_str(&text)
            .map_err(|error| FormatError::corrupt(&name, 0, None, format!("not valid JSON: {error}")))?;
        let config = match key {
            Some(key) => match json.get(key) {
                Some(config) => config,
                None => continue,
            },
            None => &json,
        };
        return Ok((Some(QuantScheme::from_json(config, &name)?), Some(path)));
    }
    Ok((None, None))
}
