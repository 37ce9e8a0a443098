//! tilevm compiler: the `.tile` language, lowering to the VM IR, passes, and the WGSL and Cranelift
//! code generators. It does no I/O: source text goes in, IR or target text comes out.
#![warn(missing_docs)]

pub mod diagnostic;
pub mod syntax;

pub use diagnostic::{Diagnostic, FileId, SourceSet, Span, render_json, render_to_string};
pub use tilevm_vm as vm;
