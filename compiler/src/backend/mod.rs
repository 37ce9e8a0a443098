//! Code generators: one writer per target, each consuming the verified VM IR.

pub mod clif;
pub mod wgsl;
