//! ggml's tensor types (the `ggml_type` of a GGUF tensor) and their blocks: which types tilevm reads
//! (`types`), how each block's bytes become affine group weights (`blocks`), and the reference
//! quantizers whose bytes equal ggml's (`quantize`). Block layouts follow ggml's `src/ggml-common.h`
//! and `dequantize_row_*` in `src/ggml-quants.c`; `docs/formats.md` summarises them.

mod blocks;
mod quantize;
mod types;

pub(crate) use blocks::e8m0;
pub use blocks::to_affine;
pub use quantize::quantize;
pub use types::GgmlType;
