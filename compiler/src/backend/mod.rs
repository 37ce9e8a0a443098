//! Code generators: VM IR to target code.

pub mod clif;
