//! tilevm: a virtual machine and kernel compiler for arbitrary low-precision computation on GPUs and CPUs.
//!
//! This facade re-exports the public API of the workspace crates. It is an API boundary: the `tilevm`
//! binary (`src/main.rs`) is a thin layer over it.

pub use tilevm_compiler as compiler;
pub use tilevm_runtime as runtime;
pub use tilevm_stdlib as stdlib;
pub use tilevm_vm as vm;

pub use tilevm_vm::{DataType, PackedTensor, RegisterLayout, Rounding};
