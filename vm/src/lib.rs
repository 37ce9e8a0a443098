//! tilevm core: everything that defines what a tilevm program *means*, with no GPU or JIT dependency.
//!
//! - [`dtype`]: the [`DataType`] value (integers and minifloats of every width), its names, codecs and
//!   [`cast`](dtype::cast()), the one definition of conversion.
//! - [`packing`]: little-endian bit streams of b-bit codes and the typed [`PackedTensor`].
//! - [`layout`]: the layout algebra — register layouts (thread, slot) → logical index, MMA fragments, shared
//!   layouts and global views, and their text syntax.
//! - [`ir`]: the tile IR (kernels, tiles, instructions) that front ends produce and backends consume.
//! - [`verify`]: the verifier; [`text`]: the IR's text form; [`interp`]: the reference interpreter, which
//!   defines what programs mean; [`compare`]: output comparison against the interpreter within a
//!   [`Tolerance`](compare::Tolerance); [`corpus`]: seeded test kernels for differential testing.
//!
//! The crates above this one (compiler, runtime) lower and run what is defined here.
#![warn(missing_docs)]

pub mod analysis;
pub mod compare;
pub mod corpus;
pub mod dtype;
mod error;
pub mod interp;
pub mod ir;
pub mod layout;
pub mod packing;
pub mod text;
pub mod verify;

pub use dtype::{DataType, Rounding};
pub use error::{VmError, VmResult};
pub use layout::{LayoutError, RegisterLayout, SharedLayout};
pub use packing::PackedTensor;
