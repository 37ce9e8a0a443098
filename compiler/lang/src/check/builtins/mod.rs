//! Builtin functions: the tile instructions and scalar intrinsics of the language, by name.
//!
//! `memory.rs` has allocation and data movement (`register`, `shared`, `load`, `store`, `copy_async`,
//! `view_global`), `compute.rs` the rest (`cast`, `view`, `dot`, reductions, shape operations, math,
//! `print`, `assert`). This file dispatches by name and holds the argument helpers they share.

mod compute;
pub(crate) mod memory;

use tilevm_vm::RegisterLayout;
use tilevm_vm::ir::Expr as IrExpr;

use super::Checker;
use super::args::{self, Bound, Signature};
use super::expr::SpannedValue;
use super::layouts;
use super::value::{Tile, Value, shape_text};
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::{Arg, Expr, Ident};

/// The most elements one register or shared tile may have.
pub(crate) const MAX_TILE_ELEMENTS: usize = 1 << 20;

/// The names of every builtin (helpers may not reuse them).
pub(crate) const BUILTIN_NAMES: &[&str] = &[
    "register",
    "zeros",
    "shared",
    "iota",
    "view_global",
    "load",
    "store",
    "copy_async",
    "copy_wait",
    "sync",
    "view",
    "cast",
    "dot",
    "sum",
    "prod",
    "reduce_max",
    "reduce_min",
    "argmax",
    "argmin",
    "permute",
    "broadcast",
    "slice",
    "convert_layout",
    "where",
    "fma",
    "min",
    "max",
    "abs",
    "exp",
    "exp2",
    "log",
    "log2",
    "sqrt",
    "rsqrt",
    "sin",
    "cos",
    "tanh",
    "floor",
    "ceil",
    "round",
    "trunc",
    "block_index",
    "grid_size",
    "cdiv",
    "bits",
    "print",
    "assert",
];

impl Checker<'_> {
    /// Checks and lowers a call: a builtin, or an inlined helper function.
    pub(crate) fn call(&mut self, callee: &Ident, args: &[Arg], span: Span, dest: Option<&Tile>) -> Value {
        let name = callee.name.as_str();
        if let Some(value) = self.memory_builtin(name, args, span, dest) {
            return value;
        }
        if let Some(value) = self.compute_builtin(name, args, span, dest) {
            return value;
        }
        if let Some(def) = self.program.fns.get(name).copied() {
            return self.inline_call(def, args, span, dest);
        }
        self.error(
            Diagnostic::error(format!("cannot find function `{name}`"))
                .with_label(callee.span, "not a builtin or a `fn` of this file or its imports"),
        )
    }

    /// Binds arguments to a signature, reporting a mismatch.
    pub(crate) fn bind_args<'e>(
        &mut self,
        signature: &Signature,
        span: Span,
        args: &'e [Arg],
    ) -> Option<Bound<'e>> {
        match args::bind(signature, span, args) {
            Ok(bound) => Some(bound),
            Err(diagnostic) => {
                self.error(diagnostic);
                None
            }
        }
    }

    /// A compile-time tile shape: a list of positive integer constants.
    pub(crate) fn shape_arg(&mut self, expr: &Expr) -> Option<Vec<usize>> {
        let value = self.eval(expr);
        let Value::List(items) = value else {
            if !matches!(value, Value::Poison) {
                self.error(
                    Diagnostic::error(format!(
                        "expected a shape such as `[64, 32]`, found {}",
                        value.describe()
                    ))
                    .with_label(expr.span, "not a list of sizes"),
                );
            }
            return None;
        };
        let mut shape = Vec::with_capacity(items.len());
        for (item, item_span) in &items {
            match item.const_int() {
                Some(extent) if extent >= 1 && extent <= MAX_TILE_ELEMENTS as i128 => {
                    shape.push(extent as usize)
                }
                _ if matches!(item, Value::Poison) => return None,
                Some(extent) => {
                    self.error(
                        Diagnostic::error(format!("tile dimension {extent} is out of range"))
                            .with_label(*item_span, format!("must be in 1..={MAX_TILE_ELEMENTS}")),
                    );
                    return None;
                }
                None => {
                    self.error(
                        Diagnostic::error("tile shapes must be compile-time constants")
                            .with_label(*item_span, format!("this is {}", item.describe()))
                            .with_note("use compile-time parameters (`BLOCK_N: u32 = 64`) for tile sizes"),
                    );
                    return None;
                }
            }
        }
        if shape.is_empty() {
            self.error(
                Diagnostic::error("a tile shape needs at least one dimension")
                    .with_label(expr.span, "empty shape"),
            );
            return None;
        }
        let elements = shape.iter().try_fold(1usize, |total, &extent| total.checked_mul(extent));
        if elements.is_none_or(|elements| elements > MAX_TILE_ELEMENTS) {
            self.error(
                Diagnostic::error(format!("tile {} is too large", shape_text(&shape)))
                    .with_label(expr.span, format!("at most {MAX_TILE_ELEMENTS} elements")),
            );
            return None;
        }
        Some(shape)
    }

    /// A list of run-time integer scalars (offsets).
    pub(crate) fn offsets_arg(&mut self, expr: &Expr, what: &str) -> Option<Vec<IrExpr>> {
        self.scalar_list(expr, what, Checker::int_scalar)
    }

    /// A list of sizes (`[m, n]`) as `u32`, none a negative constant.
    pub(crate) fn sizes_arg(&mut self, expr: &Expr, what: &str) -> Option<Vec<IrExpr>> {
        self.scalar_list(expr, what, Checker::size)
    }

    /// A list argument, each item checked by `item`.
    fn scalar_list(
        &mut self,
        expr: &Expr,
        what: &str,
        item: fn(&mut Self, &SpannedValue, &str) -> Option<IrExpr>,
    ) -> Option<Vec<IrExpr>> {
        let items = self.list_arg(expr, what)?;
        items.iter().map(|value| item(self, value, what)).collect()
    }

    /// The items of a list argument such as `[i, 0]`.
    fn list_arg(&mut self, expr: &Expr, what: &str) -> Option<Vec<SpannedValue>> {
        let value = self.eval(expr);
        let Value::List(items) = value else {
            if !matches!(value, Value::Poison) {
                self.error(
                    Diagnostic::error(format!(
                        "expected a list of {what} such as `[i, 0]`, found {}",
                        value.describe()
                    ))
                    .with_label(expr.span, "not a list"),
                );
            }
            return None;
        };
        Some(items)
    }

    /// A list of non-negative compile-time integers (dimension indices).
    pub(crate) fn dims_arg(&mut self, expr: &Expr) -> Option<Vec<usize>> {
        let value = self.eval(expr);
        let items = match value {
            Value::List(items) => items,
            Value::Poison => return None,
            single => vec![(single, expr.span)],
        };
        let mut dims = Vec::with_capacity(items.len());
        for (item, item_span) in &items {
            match item.const_int() {
                Some(dim) if (0..64).contains(&dim) => dims.push(dim as usize),
                _ => {
                    self.error(
                        Diagnostic::error("dimension indices must be small non-negative constants")
                            .with_label(*item_span, format!("this is {}", item.describe())),
                    );
                    return None;
                }
            }
        }
        Some(dims)
    }

    /// One dimension index below `rank`.
    pub(crate) fn dim_arg(&mut self, expr: &Expr, rank: usize) -> Option<usize> {
        let value = self.eval(expr);
        match value.const_int() {
            Some(dim) if dim >= 0 && (dim as u128) < rank as u128 => Some(dim as usize),
            _ if matches!(value, Value::Poison) => None,
            _ => {
                self.error(
                    Diagnostic::error(format!("expected a dimension index below {rank}"))
                        .with_label(expr.span, format!("this is {}", value.describe())),
                );
                None
            }
        }
    }

    /// The register tile an argument evaluates to.
    pub(crate) fn tile_arg(&mut self, expr: &Expr, builtin: &str) -> Option<Tile> {
        match self.eval(expr) {
            Value::Tile(tile) => Some(tile),
            Value::Poison => None,
            other => {
                self.error(
                    Diagnostic::error(format!(
                        "`{builtin}` expects a register tile, found {}",
                        other.describe()
                    ))
                    .with_label(expr.span, "expected a register tile"),
                );
                None
            }
        }
    }

    /// The dtype an argument denotes.
    pub(crate) fn dtype_arg(&mut self, expr: &Expr) -> Option<tilevm_vm::DataType> {
        if let Some(name) = expr.as_name() {
            let ident = Ident { name: name.to_string(), span: expr.span };
            return self.dtype_of_ident(&ident);
        }
        match self.eval(expr) {
            Value::Dtype(dtype) => Some(dtype),
            Value::Poison => None,
            other => {
                self.error(
                    Diagnostic::error(format!("expected a dtype, found {}", other.describe()))
                        .with_label(expr.span, "not a dtype"),
                );
                None
            }
        }
    }

    /// The register layout for a tile of `shape`: the `layout = ...` argument when given (checked
    /// against the shape and the block's threads), else the inferred default.
    pub(crate) fn layout_arg(
        &mut self,
        expr: Option<&Expr>,
        shape: &[usize],
        span: Span,
    ) -> Option<RegisterLayout> {
        let Some(expr) = expr else { return self.default_layout(shape, span) };
        let layout = self.parse_layout(expr)?;
        self.check_layout(&layout, shape, expr.span)?;
        Some(layout)
    }

    /// Parses the text of a layout expression, resolving compile-time constants.
    pub(crate) fn parse_layout(&mut self, expr: &Expr) -> Option<RegisterLayout> {
        let text = self.text(expr.span);
        let result = layouts::parse_register(text, &|name| self.const_of_name(name));
        match result {
            Ok(layout) => Some(layout),
            Err(error) => {
                let start = expr.span.start as usize + error.range.start;
                let end = (expr.span.start as usize + error.range.end).max(start);
                let span = Span::new(expr.span.file, start, end);
                self.error(
                    Diagnostic::error(format!("invalid layout: {}", error.message))
                        .with_label(span, "in this layout expression")
                        .with_note(
                            "layouts combine `local(...)`, `spatial(...)`, `column_local(...)` and \
                             `column_spatial(...)`, e.g. `spatial(8, 4).local(2, 2)` (see docs/layouts.md)",
                        ),
                );
                None
            }
        }
    }

    /// Checks that a written layout has the tile's shape and the block's thread count.
    pub(crate) fn check_layout(
        &mut self,
        layout: &RegisterLayout,
        shape: &[usize],
        span: Span,
    ) -> Option<()> {
        if layout.shape() != shape {
            self.error(
                Diagnostic::error(format!(
                    "layout shape {} does not match the tile shape {}",
                    shape_text(layout.shape()),
                    shape_text(shape)
                ))
                .with_label(span, format!("this layout covers {}", shape_text(layout.shape()))),
            );
            return None;
        }
        let threads = layout.num_threads();
        if threads != self.num_threads {
            self.error(
                Diagnostic::error(format!(
                    "layout spans {threads} threads, but the kernel runs {} threads per block",
                    self.num_threads
                ))
                .with_label(span, format!("{threads} threads"))
                .with_note(format!(
                    "every register layout must use exactly threads({}); change the spatial factors or the \
                     kernel's `threads(...)`",
                    self.num_threads
                )),
            );
            return None;
        }
        Some(())
    }

    /// A destination tile: `dest` when it fits (same dtype and shape), else a fresh tile with `layout`.
    pub(crate) fn dest_or_new(
        &mut self,
        dest: Option<&Tile>,
        dtype: tilevm_vm::DataType,
        shape: Vec<usize>,
        layout: impl FnOnce(&mut Self) -> Option<RegisterLayout>,
    ) -> Option<Tile> {
        if let Some(dest) = dest.filter(|dest| dest.dtype == dtype && dest.shape == shape) {
            return Some(dest.clone());
        }
        let layout = layout(self)?;
        Some(self.new_tile(dtype, shape, layout))
    }
}

/// A signature constant.
pub(crate) const fn sig(
    name: &'static str,
    params: &'static [&'static str],
    required: usize,
    usage: &'static str,
) -> Signature {
    Signature { name, params, required, usage }
}
