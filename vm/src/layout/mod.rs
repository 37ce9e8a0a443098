//! The layout algebra: which thread holds which element of a register tile, where a shared tile's
//! elements live, and how a global view addresses a packed bit stream.
//!
//! - [`RegisterLayout`] (`register`): the canonical value, its map and inverse; built by the primitives
//!   (`primitives`) and combined by the operations in `transform` and `divide`.
//! - [`mma`]: the fragment layouts of tensor-core MMA instructions, by name.
//! - [`SharedLayout`] (`shared`) and [`GlobalLayout`] (`global`): logical index → offset.
//! - [`text`]: the one text syntax for layouts, parser and printer.

mod divide;
mod error;
mod global;
pub mod mma;
mod primitives;
mod register;
mod shared;
pub mod text;
mod transform;

#[cfg(test)]
mod laws;
#[cfg(test)]
mod tests;

pub use error::{LayoutError, LayoutResult, Span};
pub use global::GlobalLayout;
pub use primitives::{
    PrimitiveKind, auto_local_spatial, auto_spatial_local, column_local, column_spatial, local, primitive,
    replicated, spatial,
};
pub use register::RegisterLayout;
pub use shared::{SharedForm, SharedLayout, swizzle_offset};
pub use text::{
    parse_register_layout, parse_register_layout_with, parse_shared_layout, parse_shared_layout_with,
};

/// `repeat(shape...)`, Tilus's alias of [`local`].
///
/// # Errors
/// As [`local`].
pub fn repeat(shape: &[usize]) -> LayoutResult<RegisterLayout> {
    local(shape)
}

/// The general form `register_layout(shape, mode_shape, spatial_modes, local_modes)`; see
/// [`RegisterLayout::new`].
///
/// # Errors
/// As [`RegisterLayout::new`].
pub fn register_layout(
    shape: &[usize],
    mode_shape: &[usize],
    spatial_modes: &[isize],
    local_modes: &[usize],
) -> LayoutResult<RegisterLayout> {
    RegisterLayout::new(shape.to_vec(), mode_shape.to_vec(), spatial_modes.to_vec(), local_modes.to_vec())
}
