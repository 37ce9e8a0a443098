//! tilevm compiler: the `.tile` language, lowering to the VM IR, passes, and the WGSL and Cranelift
//! code generators. It does no I/O: source text goes in, IR or target text comes out.
#![warn(missing_docs)]

pub mod backend;

pub use tilevm_vm as vm;
