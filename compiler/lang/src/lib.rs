//! tilevm's `.tile` language: lexer, grammar, checker, diagnostics and lowering to the VM IR. It does no
//! I/O: source text goes in, IR comes out. The code generators are crates of their own (`tilevm-wgsl`,
//! `tilevm-clif`), so the front end depends on neither naga nor Cranelift.
//!
//! The front end runs in stages: [`syntax`] (lexer, grammar, AST) → `check` (names, types, shapes,
//! layouts; driving `lower`, which emits the IR) → a [`vm::ir::Module`]. Errors are [`Diagnostic`]s with
//! spans into a [`SourceSet`], rendered only by the caller ([`render_to_string`], [`render_json`]).
#![warn(missing_docs)]

mod check;
pub mod diagnostic;
mod error;
mod excerpt;
mod frontend;
mod lower;
pub mod syntax;

pub use diagnostic::{Diagnostic, FileId, SourceSet, Span, render_json, render_to_string};
pub use error::{CompileError, CompileResult};
pub use frontend::{
    CompileOptions, Loader, NoImports, ParsedProgram, check_program, compile, compile_sources, parse_program,
};
pub use tilevm_vm as vm;
