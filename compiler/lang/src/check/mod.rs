//! Semantic checking: names, types, shapes, layouts, memory spaces and mutability of one instantiated
//! kernel, reporting every error it finds as a [`Diagnostic`].
//!
//! A kernel is checked per *instantiation*: compile-time parameters (`BLOCK_N: u32 = 64`, `W: dtype`)
//! are bound to concrete values first (`kernel.rs`), so every register and shared tile has a concrete
//! shape, while global tensors keep symbolic shapes (scalar expressions of the run-time parameters).
//! Helper `fn`s are inlined at each call: their bodies are checked with the arguments' values, so a
//! helper works for every dtype and shape it is called with.
//!
//! The walk is split by concern: `stmt.rs` (statements and scopes), `expr.rs` (operators, literals,
//! scalar typing and constant folding), `builtins.rs` (the tile instructions), `args.rs` (call
//! arguments), `dtypes.rs` and `layouts.rs` (the doors to the dtype and layout modules).
//! Every construct is emitted to the IR through `crate::lower::Emitter` as soon as it is checked; an
//! expression that fails becomes [`value::Value::Poison`], which silences errors that would only
//! repeat the first one.

mod args;
mod builtins;
mod dtypes;
mod expr;
mod kernel;
mod layouts;
mod stmt;
mod value;

use std::collections::HashMap;

use tilevm_vm::DataType;
use tilevm_vm::ir::VarId;
use tilevm_vm::verify::VerifiedModule;

use crate::diagnostic::{Diagnostic, SourceSet, Span};
use crate::frontend::CompileOptions;
use crate::lower::{self, Emitter};
use crate::syntax::ast::{FnDef, KernelDef};
use value::Value;

/// How many helper calls may be inlined inside each other (recursion is reported, not followed).
const MAX_INLINE_DEPTH: u32 = 16;

/// The items visible to a kernel: every helper `fn` of the root file and its imports, and the kernels
/// to instantiate.
#[derive(Debug, Default)]
pub(crate) struct Program<'a> {
    /// Helper functions by name.
    pub fns: HashMap<String, &'a FnDef>,
    /// Kernels of the root file, in source order.
    pub kernels: Vec<&'a KernelDef>,
}

/// Checks and lowers every kernel selected by `options`.
///
/// # Errors
/// Every diagnostic found, in source order per kernel.
pub(crate) fn check_program(
    program: &Program<'_>,
    sources: &SourceSet,
    options: &CompileOptions,
) -> Result<VerifiedModule, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let selected: Vec<&KernelDef> = match &options.kernel {
        Some(name) => program.kernels.iter().copied().filter(|kernel| &kernel.name.name == name).collect(),
        None => program.kernels.clone(),
    };
    if let Some(name) = &options.kernel
        && selected.is_empty()
    {
        let known: Vec<&str> = program.kernels.iter().map(|kernel| kernel.name.name.as_str()).collect();
        diagnostics.push(
            Diagnostic::error(format!("no kernel named `{name}`"))
                .with_note(format!("the file defines: {}", known.join(", "))),
        );
    }
    for (key, _) in &options.sets {
        let known = selected.iter().any(|kernel| kernel.consts.iter().any(|param| &param.name.name == key));
        if !known && !selected.is_empty() {
            let mut diagnostic =
                Diagnostic::error(format!("`--set {key}=...`: no compile-time parameter `{key}`"));
            for kernel in &selected {
                diagnostic = diagnostic.with_label(kernel.name.span, "this kernel has no such parameter");
            }
            diagnostics.push(diagnostic);
        }
    }
    let mut kernels = Vec::new();
    for kernel in selected {
        let mut checker = Checker::new(program, sources);
        let lowered = kernel::instantiate(&mut checker, kernel, &options.sets);
        diagnostics.append(&mut checker.diagnostics);
        if let Some(lowered) = lowered {
            kernels.push(lowered);
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    lower::finish(kernels).map_err(|diagnostic| vec![diagnostic])
}

/// What a name is bound to.
#[derive(Clone, Debug)]
pub(crate) enum Binding {
    /// An immutable value (constants, tiles, views, immutable scalars, parameters).
    Value {
        /// The value.
        value: Value,
        /// What kind of thing it is, for messages about assignment.
        origin: Origin,
        /// Where it was declared.
        span: Span,
    },
    /// `let mut` scalar: an IR variable.
    MutVar {
        /// The variable.
        var: VarId,
        /// Its dtype.
        dtype: DataType,
    },
    /// `let mut` tile: assignments overwrite this tile.
    MutTile {
        /// The tile.
        tile: value::Tile,
    },
}

/// Where an immutable binding came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `let` without `mut`, loop variables, helper parameters.
    Local,
    /// A compile-time parameter.
    Const,
    /// A run-time parameter.
    Param,
}

/// The state of checking one kernel instantiation.
pub(crate) struct Checker<'a> {
    program: &'a Program<'a>,
    sources: &'a SourceSet,
    pub(crate) diagnostics: Vec<Diagnostic>,
    emit: Emitter,
    scopes: Vec<HashMap<String, Binding>>,
    /// The first scope visible from the code being checked (a helper sees only its own scopes).
    scope_base: usize,
    /// Loops enclosing the current statement, within the current helper.
    loop_depth: u32,
    /// Helper calls being inlined, innermost last (for recursion and depth errors).
    inline_stack: Vec<String>,
    /// Loop and branch bodies enclosing the current statement (shared tiles are allocated at 0 only).
    nesting: u32,
    /// Live shared tiles, in allocation order (freed in reverse at the end of the kernel).
    shared_live: Vec<(tilevm_vm::ir::SharedId, u64)>,
    num_threads: usize,
}

impl<'a> Checker<'a> {
    fn new(program: &'a Program<'a>, sources: &'a SourceSet) -> Checker<'a> {
        Checker {
            program,
            sources,
            diagnostics: Vec::new(),
            emit: Emitter::new("", 1),
            scopes: vec![HashMap::new()],
            scope_base: 0,
            loop_depth: 0,
            inline_stack: Vec::new(),
            nesting: 0,
            shared_live: Vec::new(),
            num_threads: 1,
        }
    }

    /// Records a diagnostic and returns [`Value::Poison`] for convenience.
    fn error(&mut self, diagnostic: Diagnostic) -> Value {
        self.diagnostics.push(diagnostic);
        Value::Poison
    }

    /// Looks a name up in the visible scopes, innermost first.
    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.scopes[self.scope_base..].iter().rev().find_map(|scope| scope.get(name))
    }

    /// Binds a name in the innermost scope.
    fn bind(&mut self, name: &str, binding: Binding) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), binding);
        }
    }

    fn push_scope(&mut self) {
        self.scopes.push(HashMap::new());
    }

    fn pop_scope(&mut self) {
        if self.scopes.len() > 1 {
            self.scopes.pop();
        }
    }

    /// The compile-time integer a name denotes (for layout expressions such as `spatial(BLOCK_N / 4, 4)`).
    fn const_of_name(&self, name: &str) -> Option<i64> {
        match self.lookup(name)? {
            Binding::Value { value, .. } => value.const_int().and_then(|value| i64::try_from(value).ok()),
            _ => None,
        }
    }

    /// The source text of a span.
    fn text(&self, span: Span) -> &'a str {
        self.sources.slice(span)
    }
}

/// Whether `name` is a builtin function (helpers may not reuse builtin names).
pub(crate) fn is_builtin(name: &str) -> bool {
    builtins::BUILTIN_NAMES.contains(&name)
}
