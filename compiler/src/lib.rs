//! tilevm compiler: the `.tile` language, lowering to the VM IR, passes, and the WGSL and Cranelift
//! code generators. It does no I/O: source text goes in, IR or target text comes out.
//!
//! The front end runs in stages: [`syntax`] (lexer, grammar, AST) → `check` (names, types, shapes,
//! layouts; driving `lower`, which emits the IR) → a [`vm::ir::Module`]. Errors are [`Diagnostic`]s with
//! spans into a [`SourceSet`], rendered only by the caller ([`render_to_string`], [`render_json`]).
#![warn(missing_docs)]

pub mod backend;

mod check;
pub mod diagnostic;
mod error;
mod frontend;
mod lower;
pub mod syntax;

pub use diagnostic::{Diagnostic, FileId, SourceSet, Span, render_json, render_to_string};
pub use error::{CompileError, CompileResult};
pub use frontend::{
    CompileOptions, Loader, NoImports, ParsedProgram, check_program, compile, compile_sources, parse_program,
};
pub use tilevm_vm as vm;
