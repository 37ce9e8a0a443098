//! tilevm standard library: quantized-LLM kernels written in the `.tile` language (`stdlib/kernels/`),
//! with typed Rust wrappers.

pub use tilevm_runtime as runtime;

pub mod gemv;
