//! The GGUF container (ggml's `docs/gguf.md`, versions 2 and 3): a header, key/value metadata, tensor
//! infos, and the tensors' data at aligned offsets. [`GgufFile`] reads one, memory-mapped, checking every
//! count, length and offset against the bytes that are there; [`GgufWriter`] writes one.

mod read;
mod value;
mod write;

pub use read::{GgufFile, GgufTensor};
pub use value::MetaValue;
pub use write::GgufWriter;

/// `"GGUF"` as the little-endian u32 that starts every file.
pub(crate) const MAGIC: u32 = u32::from_le_bytes(*b"GGUF");

/// The data section's alignment when `general.alignment` does not say.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// ggml's `GGML_MAX_DIMS`: a tensor has at most four dimensions.
pub(crate) const MAX_DIMS: u32 = 4;
