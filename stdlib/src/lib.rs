//! tilevm standard library: quantized-LLM kernels with typed Rust wrappers.
//!
//! The kernels are written in the `.tile` language under `stdlib/kernels/`; each wrapper compiles its
//! kernel through the front end (`kernels`) with the sizes and dtypes it is given, so a kernel is
//! specialised to its shapes as a JIT would specialise it.

pub use tilevm_runtime as runtime;

mod error;
pub mod gemv;
pub mod gemv_q8;
mod kernels;
pub mod linear;
pub mod weight_layout;

pub use error::StdlibError;
