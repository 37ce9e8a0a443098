//! tilevm's Rust host API: compile `.tile` kernels from text or files, make tensors of any dtype on a
//! device, and launch kernels by parameter name, from as many threads as you like.
//!
//! The pieces, each in a module of its own: a [`Runtime`] is one device (GPU, CPU or interpreter) with
//! its cache of compiled kernels; a [`Program`] is `.tile` source, and [`Program::kernel`] instantiates
//! one of its kernels with compile-time parameters into a [`Kernel`]; a [`Tensor`] lives on a runtime's
//! device between launches; [`Args`] names a launch's tensors and typed scalars; every failure is one
//! [`Error`].
//!
//! ```
//! use tilevm_host::{Args, Program, Runtime, Tensor};
//! let program = Program::from_source("double.tile", r#"
//!     kernel double<BLOCK: u32 = 256>(x: global f32[n], y: global mut f32[n], n: u32)
//!         grid(cdiv(n, BLOCK)) threads(64)
//!     {
//!         let start = block_index(0) * BLOCK;
//!         store(y, load(x, [start], [BLOCK]) * 2.0, [start]);
//!     }
//! "#)?;
//! let runtime = Runtime::auto()?;
//! let double = program.kernel("double").set("BLOCK", 128u32).compile(&runtime)?;
//! let x = Tensor::from_slice(&runtime, &vec![1.5f32; 1000], &[1000])?;
//! let args = Args::new().tensor("x", &x).scalar("n", 1000u32);
//! let y = double.output("y", &args)?;
//! let stats = double.launch(&args.tensor("y", &y))?;
//! assert!(y.to_vec::<f32>()?.iter().all(|&v| v == 3.0));
//! println!("{} on {} in {:?}", double.name(), runtime.name(), stats.kernel_time);
//! # Ok::<(), tilevm_host::Error>(())
//! ```

mod element;
mod error;
mod kernel;
mod print;
mod program;
mod runtime;
mod tensor;
mod value;

pub use element::Element;
pub use error::{Error, Result};
pub use kernel::{Args, Kernel, Param, ParamRole};
pub use print::PrintSink;
pub use program::{Instantiation, Program};
pub use runtime::{DeviceChoice, Runtime, RuntimeOptions};
pub use tensor::Tensor;
pub use tilevm_runtime::{Backend, RunStats};
pub use tilevm_vm::{DataType, Rounding};
pub use value::Value;
