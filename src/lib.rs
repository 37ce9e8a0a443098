//! tilevm: a virtual machine and kernel compiler for arbitrary low-precision computation on GPUs and CPUs.
//!
//! This facade re-exports the public API of the workspace crates. It is an API boundary: the `tilevm`
//! binary (`src/main.rs`) is a thin layer over it.

pub use tilevm_clif as clif;
pub use tilevm_formats as formats;
pub use tilevm_host as host;
pub use tilevm_lang as lang;
pub use tilevm_runtime as runtime;
pub use tilevm_stdlib as stdlib;
pub use tilevm_vm as vm;
pub use tilevm_wgsl as wgsl;

pub use tilevm_host::{
    Args, Backend, DeviceChoice, Element, Error, Instantiation, Kernel, Param, ParamRole, PrintSink, Program,
    Result, RunStats, Runtime, RuntimeOptions, Tensor, Value,
};
pub use tilevm_vm::{DataType, PackedTensor, RegisterLayout, Rounding};
