//! tilevm core: everything that defines what a tilevm program *means*, with no GPU or JIT dependency.
//!
//! - [`dtype`]: the [`DataType`] value (integers and minifloats of every width), its names, codecs and
//!   [`cast`](dtype::cast()), the one definition of conversion.
//! - [`packing`]: little-endian bit streams of b-bit codes and the typed [`PackedTensor`].
//! - [`layout`]: the layout algebra — register layouts (thread, slot) → logical index, shared layouts.
//!
//! The crates above this one (compiler, runtime) lower and run what is defined here.
#![warn(missing_docs)]

pub mod dtype;
pub mod layout;
pub mod packing;

pub use dtype::{DataType, Rounding};
pub use layout::RegisterLayout;
pub use packing::PackedTensor;
