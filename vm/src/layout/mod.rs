//! The layout algebra: which thread holds which element of a register tile, and where a shared tile's
//! elements live.

mod register;

pub use register::RegisterLayout;
