//! tilevm standard library: quantized-LLM kernels with typed Rust wrappers.
//!
//! The kernels are written in the `.tile` language under `stdlib/kernels/` (`kernels` compiles them with
//! the parameters a wrapper is given); the a16wX GEMV that `tilevm bench` compares with is still built
//! with the IR's `KernelBuilder` (`gemv`).

pub use tilevm_runtime as runtime;

mod error;
pub mod gemv;
pub mod gemv_q8;
mod kernels;
pub mod weight_layout;

pub use error::StdlibError;
