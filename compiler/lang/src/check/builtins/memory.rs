//! Allocation and data movement: `register`, `zeros`, `shared`, `iota`, `view_global`, `load`,
//! `store`, `copy_async`, `copy_wait`, `sync`.

use tilevm_vm::DataType;
use tilevm_vm::interp::fold_constants;
use tilevm_vm::ir::{BinaryOp as IrBinary, Expr as IrExpr, Inst};

use super::super::Checker;
use super::super::dtypes::{dtype_name, is_int};
use super::super::layouts;
use super::super::value::{GlobalView, SharedTile, Tile, Value, shape_text};
use super::sig;
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::{Arg, Expr};

impl Checker<'_> {
    /// The memory builtins; `None` when `name` is not one of them.
    pub(crate) fn memory_builtin(
        &mut self,
        name: &str,
        args: &[Arg],
        span: Span,
        dest: Option<&Tile>,
    ) -> Option<Value> {
        let value = match name {
            "register" | "zeros" => self.alloc_register(name, args, span, dest),
            "shared" => self.alloc_shared(args, span),
            "iota" => self.iota(args, span, dest),
            "view_global" => self.view_global(args, span),
            "load" => self.load(args, span, dest),
            "store" => self.store(args, span),
            "copy_async" => self.copy_async(args, span),
            "copy_wait" | "sync" => {
                let signature = if name == "sync" {
                    sig("sync", &[], 0, "sync()")
                } else {
                    sig("copy_wait", &[], 0, "copy_wait()")
                };
                if self.bind_args(&signature, span, args).is_some() {
                    self.emit.inst(if name == "sync" { Inst::Sync } else { Inst::CopyWait }, span);
                }
                Some(Value::Unit)
            }
            _ => return None,
        };
        Some(value.unwrap_or(Value::Poison))
    }

    fn alloc_register(&mut self, name: &str, args: &[Arg], span: Span, dest: Option<&Tile>) -> Option<Value> {
        let signature = if name == "zeros" {
            sig("zeros", &["dtype", "shape", "layout"], 2, "zeros(dtype, [shape], layout = ...)")
        } else {
            sig(
                "register",
                &["dtype", "shape", "init", "layout"],
                2,
                "register(dtype, [shape], init, layout = ...)",
            )
        };
        let bound = self.bind_args(&signature, span, args)?;
        let dtype = self.dtype_arg(bound.get("dtype")?)?;
        let shape = self.shape_arg(bound.get("shape")?)?;
        let init = self.init_arg(bound.get("init"), dtype)?;
        let layout_expr = bound.get("layout");
        let tile = self.dest_or_new(dest, dtype, shape.clone(), |checker| {
            checker.layout_arg(layout_expr, &shape, span)
        })?;
        self.emit.inst(Inst::AllocRegister { dst: tile.id, init }, span);
        Some(Value::Tile(tile))
    }

    /// The optional `init` argument of an allocation as a scalar of `dtype`, which must then be a compute
    /// type: `Some(None)` without one, `None` after reporting a bad one.
    fn init_arg(&mut self, init_expr: Option<&Expr>, dtype: DataType) -> Option<Option<IrExpr>> {
        let Some(init_expr) = init_expr else { return Some(None) };
        let value = self.eval(init_expr);
        if !dtype.is_compute() {
            self.error(storage_init(dtype, init_expr.span));
            return None;
        }
        Some(Some(self.coerce_scalar(&(value, init_expr.span), dtype)?))
    }

    fn alloc_shared(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let signature = sig(
            "shared",
            &["dtype", "shape", "init", "layout"],
            2,
            "shared(dtype, [shape], init, layout = row_major)",
        );
        let bound = self.bind_args(&signature, span, args)?;
        let dtype = self.dtype_arg(bound.get("dtype")?)?;
        let shape = self.shape_arg(bound.get("shape")?)?;
        let init = self.init_arg(bound.get("init"), dtype)?;
        if self.nesting > 0 {
            self.error(
                Diagnostic::error("shared tiles are allocated at the top level of the kernel body")
                    .with_label(span, "inside a loop or branch")
                    .with_note("allocate it before the loop and reuse it"),
            );
            return None;
        }
        let layout = match bound.get("layout") {
            Some(layout_expr) => {
                let text = self.text(layout_expr.span);
                match layouts::parse_shared(text, &|name| self.const_of_name(name), &shape) {
                    Ok(layout) => layout,
                    Err(error) => {
                        self.error(
                            Diagnostic::error(format!("invalid shared layout: {}", error.message))
                                .with_label(layout_expr.span, "in this layout expression"),
                        );
                        return None;
                    }
                }
            }
            None => match layouts::default_shared(&shape) {
                Ok(layout) => layout,
                Err(message) => {
                    self.error(Diagnostic::error(message).with_label(span, "for this shared tile"));
                    return None;
                }
            },
        };
        let bytes = (layout.size() as u64 * u64::from(dtype.bits())).div_ceil(32) * 4;
        let live: u64 = self.shared_live.iter().map(|(_, bytes)| bytes).sum::<u64>() + bytes;
        let limit = u64::from(self.emit.kernel().shared_limit_bytes);
        if live > limit {
            self.error(
                Diagnostic::error(format!(
                    "shared memory exhausted: {live} bytes live, the limit is {limit}"
                ))
                .with_label(span, format!("this tile needs {bytes} bytes"))
                .with_note("use smaller tiles, or raise the limit with the `shared_limit(bytes)` attribute"),
            );
            return None;
        }
        let id = self.emit.shared("s", dtype, layout);
        self.emit.inst(Inst::AllocShared { dst: id, init }, span);
        self.shared_live.push((id, bytes));
        Some(Value::Shared(SharedTile { id, dtype, shape }))
    }

    fn iota(&mut self, args: &[Arg], span: Span, dest: Option<&Tile>) -> Option<Value> {
        let signature =
            sig("iota", &["dtype", "shape", "dim", "layout"], 3, "iota(dtype, [shape], dim, layout = ...)");
        let bound = self.bind_args(&signature, span, args)?;
        let dtype = self.dtype_arg(bound.get("dtype")?)?;
        let shape = self.shape_arg(bound.get("shape")?)?;
        let dim = self.dim_arg(bound.get("dim")?, shape.len())?;
        if !is_int(dtype) || !dtype.is_compute() {
            self.error(
                Diagnostic::error(format!("`iota` makes integer tiles, not {}", dtype_name(dtype)))
                    .with_label(span, "use i32 or u32, then `cast`"),
            );
            return None;
        }
        let layout_expr = bound.get("layout");
        let tile = self.dest_or_new(dest, dtype, shape.clone(), |checker| {
            checker.layout_arg(layout_expr, &shape, span)
        })?;
        self.emit.inst(Inst::Iota { dst: tile.id, dim }, span);
        Some(Value::Tile(tile))
    }

    /// The global view an argument names.
    fn global_arg(&mut self, expr: &Expr, builtin: &str) -> Option<GlobalView> {
        match self.eval(expr) {
            Value::Global(view) => Some(view),
            Value::Poison => None,
            other => {
                self.error(
                    Diagnostic::error(format!(
                        "`{builtin}` expects a global tensor, found {}",
                        other.describe()
                    ))
                    .with_label(expr.span, "expected a `global` parameter or a `view_global`"),
                );
                None
            }
        }
    }

    /// `u32` scalars for view shapes, strides and offsets (other integer dtypes are converted).
    fn u32_list(&mut self, expr: &Expr, what: &str) -> Option<Vec<IrExpr>> {
        let exprs = self.offsets_arg(expr, what)?;
        Some(exprs.into_iter().map(as_u32).collect())
    }

    fn view_global(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let signature = sig(
            "view_global",
            &["tensor", "dtype", "shape", "strides", "offset"],
            3,
            "view_global(tensor, dtype, [shape], strides = [...], offset = 0)",
        );
        let bound = self.bind_args(&signature, span, args)?;
        let base = self.global_arg(bound.get("tensor")?, "view_global")?;
        let dtype = self.dtype_arg(bound.get("dtype")?)?;
        let shape = self.sizes_arg(bound.get("shape")?, "view sizes")?;
        let strides = match bound.get("strides") {
            Some(strides_expr) => {
                let strides = self.u32_list(strides_expr, "strides")?;
                if strides.len() != shape.len() {
                    self.error(
                        Diagnostic::error(format!(
                            "{} strides for a view of rank {}",
                            strides.len(),
                            shape.len()
                        ))
                        .with_label(strides_expr.span, "one stride per dimension"),
                    );
                    return None;
                }
                strides
            }
            None => row_major_strides(&shape),
        };
        let offset = match bound.get("offset") {
            Some(offset_expr) => {
                let value = self.eval(offset_expr);
                as_u32(self.int_scalar(&(value, offset_expr.span), "a view offset")?)
            }
            None => IrExpr::u32(0),
        };
        let rank = shape.len();
        let id = self.emit.global(&base.name, base.param, dtype);
        self.emit.inst(Inst::ViewGlobal { dst: id, shape, strides, offset }, span);
        Some(Value::Global(GlobalView { id, dtype, rank, ..base }))
    }

    /// Checks `dims` for a tile of rank `tile_rank` in a view of rank `view_rank` (default: the last ones).
    fn view_dims(
        &mut self,
        dims_expr: Option<&Expr>,
        tile_rank: usize,
        view_rank: usize,
        span: Span,
    ) -> Option<Vec<usize>> {
        let Some(dims_expr) = dims_expr else {
            if tile_rank > view_rank {
                self.error(
                    Diagnostic::error(format!(
                        "a tile of rank {tile_rank} does not fit a tensor of rank {view_rank}"
                    ))
                    .with_label(span, "too many tile dimensions"),
                );
                return None;
            }
            return Some((view_rank - tile_rank..view_rank).collect());
        };
        let dims = self.dims_arg(dims_expr)?;
        let increasing = dims.windows(2).all(|pair| pair[0] < pair[1]);
        if dims.len() != tile_rank || !increasing || dims.iter().any(|&dim| dim >= view_rank) {
            self.error(
                Diagnostic::error(format!(
                    "`dims` must list {tile_rank} increasing dimensions of the tensor (rank {view_rank})"
                ))
                .with_label(dims_expr.span, "invalid dimension list"),
            );
            return None;
        }
        Some(dims)
    }

    fn check_rank(&mut self, count: usize, rank: usize, expr: &Expr, what: &str) -> Option<()> {
        if count == rank {
            return Some(());
        }
        self.error(
            Diagnostic::error(format!("{count} offsets for {what} of rank {rank}"))
                .with_label(expr.span, format!("expected {rank} offsets, one per dimension")),
        );
        None
    }

    fn load(&mut self, args: &[Arg], span: Span, dest: Option<&Tile>) -> Option<Value> {
        let signature = sig(
            "load",
            &["src", "offsets", "shape", "dims", "layout"],
            3,
            "load(src, [offsets], [shape], dims = [...], layout = ...)",
        );
        let bound = self.bind_args(&signature, span, args)?;
        let src_expr = bound.get("src")?;
        let src = self.eval(src_expr);
        let offsets_expr = bound.get("offsets")?;
        let offsets = self.offsets_arg(offsets_expr, "offsets")?;
        let shape = self.shape_arg(bound.get("shape")?)?;
        let layout_expr = bound.get("layout");
        match src {
            Value::Global(view) => {
                self.check_rank(offsets.len(), view.rank, offsets_expr, "a tensor")?;
                let dims = self.view_dims(bound.get("dims"), shape.len(), view.rank, span)?;
                let tile = self.dest_or_new(dest, view.dtype, shape.clone(), |checker| {
                    checker.layout_arg(layout_expr, &shape, span)
                })?;
                self.emit.inst(Inst::LoadGlobal { dst: tile.id, src: view.id, offsets, dims }, span);
                Some(Value::Tile(tile))
            }
            Value::Shared(shared) => {
                self.check_rank(offsets.len(), shared.shape.len(), offsets_expr, "a shared tile")?;
                if let Some(dims_expr) = bound.get("dims") {
                    self.error(
                        Diagnostic::error("`dims` applies to global loads only")
                            .with_label(dims_expr.span, "shared loads take a window of the same rank"),
                    );
                    return None;
                }
                self.check_window(&shared.shape, &offsets, &shape, span)?;
                let tile = self.dest_or_new(dest, shared.dtype, shape.clone(), |checker| {
                    checker.layout_arg(layout_expr, &shape, span)
                })?;
                self.emit.inst(Inst::LoadShared { dst: tile.id, src: shared.id, offsets }, span);
                Some(Value::Tile(tile))
            }
            Value::Poison => None,
            other => {
                self.error(
                    Diagnostic::error(format!(
                        "`load` reads global tensors and shared tiles, not {}",
                        other.describe()
                    ))
                    .with_label(src_expr.span, "cannot load from this"),
                );
                None
            }
        }
    }

    /// Checks a window (`offsets`, `window` shape) of a tile of `shape`, where the offsets are constants.
    pub(crate) fn check_window(
        &mut self,
        shape: &[usize],
        offsets: &[IrExpr],
        window: &[usize],
        span: Span,
    ) -> Option<()> {
        if window.len() != shape.len() {
            self.error(
                Diagnostic::error(format!(
                    "a window of rank {} in a tile of rank {}",
                    window.len(),
                    shape.len()
                ))
                .with_label(span, "ranks differ"),
            );
            return None;
        }
        for dim in 0..shape.len() {
            let start = super::super::value::const_int_of(&offsets[dim]).unwrap_or(0);
            if start < 0 || start as u128 + window[dim] as u128 > shape[dim] as u128 {
                self.error(
                    Diagnostic::error(format!(
                        "window {} at dimension {dim} does not fit in {}",
                        shape_text(window),
                        shape_text(shape)
                    ))
                    .with_label(span, "out of bounds"),
                );
                return None;
            }
        }
        Some(())
    }

    fn store(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let signature = sig(
            "store",
            &["dst", "value", "offsets", "dims"],
            3,
            "store(dst, tile, [offsets], dims = [...])",
        );
        let bound = self.bind_args(&signature, span, args)?;
        let dst_expr = bound.get("dst")?;
        let dst = self.eval(dst_expr);
        let value_expr = bound.get("value")?;
        let tile = self.tile_arg(value_expr, "store")?;
        let offsets_expr = bound.get("offsets")?;
        let offsets = self.offsets_arg(offsets_expr, "offsets")?;
        match dst {
            Value::Global(view) => {
                if !view.mutable {
                    self.error(
                        Diagnostic::error(format!("cannot store to the input tensor `{}`", view.name))
                            .with_label(dst_expr.span, "this parameter is read-only")
                            .with_note(format!("declare it as an output: `{}: global mut ...`", view.name)),
                    );
                    return None;
                }
                self.same_dtype(view.dtype, tile.dtype, value_expr.span)?;
                self.check_rank(offsets.len(), view.rank, offsets_expr, "a tensor")?;
                let dims = self.view_dims(bound.get("dims"), tile.shape.len(), view.rank, span)?;
                self.emit.inst(Inst::StoreGlobal { dst: view.id, src: tile.id, offsets, dims }, span);
            }
            Value::Shared(shared) => {
                self.same_dtype(shared.dtype, tile.dtype, value_expr.span)?;
                self.check_rank(offsets.len(), shared.shape.len(), offsets_expr, "a shared tile")?;
                self.check_window(&shared.shape, &offsets, &tile.shape, span)?;
                self.emit.inst(Inst::StoreShared { dst: shared.id, src: tile.id, offsets }, span);
            }
            Value::Poison => return None,
            other => {
                self.error(
                    Diagnostic::error(format!(
                        "`store` writes global tensors and shared tiles, not {}",
                        other.describe()
                    ))
                    .with_label(dst_expr.span, "cannot store to this"),
                );
                return None;
            }
        }
        Some(Value::Unit)
    }

    fn same_dtype(&mut self, expected: DataType, found: DataType, span: Span) -> Option<()> {
        if expected == found {
            return Some(());
        }
        self.error(
            Diagnostic::error(format!(
                "mismatched dtypes: the destination holds {}, the tile holds {}",
                dtype_name(expected),
                dtype_name(found)
            ))
            .with_label(span, format!("this tile holds {}", dtype_name(found)))
            .with_note(format!("convert it first: `cast(tile, {})`", dtype_name(expected))),
        );
        None
    }

    fn copy_async(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let signature = sig(
            "copy_async",
            &["dst", "src", "offsets", "dims"],
            3,
            "copy_async(shared, global, [offsets], dims = [...])",
        );
        let bound = self.bind_args(&signature, span, args)?;
        let dst_expr = bound.get("dst")?;
        let shared = match self.eval(dst_expr) {
            Value::Shared(shared) => shared,
            Value::Poison => return None,
            other => {
                self.error(
                    Diagnostic::error(format!(
                        "`copy_async` copies into a shared tile, not {}",
                        other.describe()
                    ))
                    .with_label(dst_expr.span, "expected a shared tile"),
                );
                return None;
            }
        };
        let src_expr = bound.get("src")?;
        let view = self.global_arg(src_expr, "copy_async")?;
        self.same_dtype(shared.dtype, view.dtype, src_expr.span)?;
        let offsets_expr = bound.get("offsets")?;
        let offsets = self.offsets_arg(offsets_expr, "offsets")?;
        self.check_rank(offsets.len(), view.rank, offsets_expr, "a tensor")?;
        let dims = self.view_dims(bound.get("dims"), shared.shape.len(), view.rank, span)?;
        self.emit.inst(Inst::CopyGlobalToShared { dst: shared.id, src: view.id, offsets, dims }, span);
        Some(Value::Unit)
    }
}

/// An integer size, stride, offset or grid extent as `u32`: converted from another integer dtype, and
/// folded when it is a constant (`fold_constants`), because backends specialise on constant views.
pub(crate) fn as_u32(expr: IrExpr) -> IrExpr {
    let expr = if expr.dtype == DataType::U32 { expr } else { expr.cast(DataType::U32) };
    fold_constants(&expr)
}

/// Row-major strides for a view of `shape`: the last stride is 1.
pub(crate) fn row_major_strides(shape: &[IrExpr]) -> Vec<IrExpr> {
    let mut strides = vec![IrExpr::u32(1); shape.len()];
    for dim in (0..shape.len().saturating_sub(1)).rev() {
        let inner = shape[dim + 1].clone();
        strides[dim] = match (super::super::value::const_int_of(&strides[dim + 1]), &inner) {
            (Some(1), _) => inner,
            _ => fold_constants(&IrExpr::binary(IrBinary::Mul, strides[dim + 1].clone(), inner)),
        };
    }
    strides
}

fn storage_init(dtype: DataType, span: Span) -> Diagnostic {
    Diagnostic::error(format!("cannot initialise a tile of the storage-only dtype {}", dtype_name(dtype)))
        .with_label(span, "initial values need a compute dtype")
        .with_note("allocate it without `init` (all bits zero), or allocate a compute dtype and `cast`")
}
