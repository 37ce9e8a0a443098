//! tilevm's weight formats: the files people's quantized checkpoints come in, read into the one
//! [`AffineWeights`] form the stdlib's linear kernels consume, written, quantized and dequantized, and
//! run as a quantized linear layer ([`QuantizedLinear`]) on any runtime.
//!
//! - [`ggml`]: ggml's block types (Q4_0, Q8_0, the k-quants, IQ4_NL, MXFP4, NVFP4) to affine form, and
//!   ggml's reference quantizers;
//! - [`gguf`]: the GGUF container, memory-mapped, with every malformed byte a [`FormatError`] that
//!   names the offset and the tensor, and a writer;
//! - [`checkpoint`]: quantized safetensors checkpoints (GPTQ, AWQ, compressed-tensors, gpt-oss MXFP4)
//!   with their Hugging Face quantization config;
//! - [`linear`]: `y = x · Wᵀ` over affine weights on a [`tilevm_host::Runtime`].
//!
//! `docs/formats.md` describes every format's bytes and how each becomes affine form.

mod affine;
pub mod checkpoint;
mod error;
pub mod ggml;
pub mod gguf;
pub mod linear;

pub use affine::AffineWeights;
pub use error::{FormatError, Result};
pub use linear::QuantizedLinear;

/// Up to eight names, then how many more: what an error lists when a name is not found.
pub(crate) fn names_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    match names.len() {
        0 => "no tensors".to_string(),
        n if n <= 8 => names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
        n => format!(
            "{}, and {} more",
            names[..8].iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
            n - 8
        ),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed into place.
pub(crate) fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let io = |source| FormatError::Io { path: path.to_path_buf(), source };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, bytes).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        io(error)
    })
}
