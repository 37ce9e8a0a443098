//! tilevm standard library: quantized-LLM kernels with typed Rust wrappers.
//!
//! For now it holds the a16wX GEMV that `tilevm bench` measures, built with the IR's `KernelBuilder`
//! (`gemv`); kernels written in the `.tile` language, under `stdlib/kernels/`, come with the stdlib issue.

pub use tilevm_runtime as runtime;

pub mod gemv;
pub mod gemv_q8;
pub mod weight_layout;
