//! tilevm core: everything that defines what a tilevm program *means*, with no GPU or JIT dependency.
//!
//! - [`dtype`]: the [`DataType`] value (integers and minifloats of every width), its names and codecs.
//! - [`layout`]: the layout algebra — register layouts (thread, slot) → logical index, MMA fragments, shared
//!   layouts and global views, and their text syntax.
//! - [`ir`]: the tile IR (kernels, tiles, instructions) that front ends produce and backends consume.
//!
//! The crates above this one (compiler, runtime) lower and run what is defined here.
#![warn(missing_docs)]

pub mod corpus;
pub mod dtype;
pub mod interp;
pub mod ir;
pub mod layout;
pub mod text;
pub mod verify;

pub use dtype::DataType;
pub use layout::{LayoutError, RegisterLayout, SharedLayout};
