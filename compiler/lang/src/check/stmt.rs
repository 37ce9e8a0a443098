//! Statements and scopes: `let`, assignment, `for`, `while`, `if`, `break`, and helper inlining.

use tilevm_vm::DataType;
use tilevm_vm::ir::{Expr as IrExpr, Inst, StmtKind as IrStmt};

use super::dtypes::{dtype_from_name, dtype_name, is_int};
use super::value::{Tile, Value, const_int_of};
use super::{Binding, Checker, MAX_INLINE_DEPTH, Origin};
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::{Arg, Block, Expr, FnDef, Ident, Stmt, StmtKind};

impl Checker<'_> {
    /// Checks the statements of a block in a new scope; returns the tail expression's value.
    pub(crate) fn check_block(&mut self, block: &Block, dest: Option<&Tile>) -> Value {
        self.push_scope();
        for stmt in &block.stmts {
            self.check_stmt(stmt);
        }
        let value = match &block.tail {
            Some(tail) => self.eval_into(tail, dest),
            None => Value::Unit,
        };
        self.pop_scope();
        value
    }

    /// Checks a nested block (loop or branch body) and returns its lowered statements.
    fn nested_block(&mut self, block: &Block) -> Vec<tilevm_vm::ir::Stmt> {
        self.emit.open_block();
        self.nesting += 1;
        let value = self.check_block(block, None);
        self.nesting -= 1;
        if let (Some(tail), false) = (&block.tail, matches!(value, Value::Unit | Value::Poison)) {
            self.error(
                Diagnostic::error("a loop or branch body cannot produce a value")
                    .with_label(tail.span, "this value is unused")
                    .with_note("end the expression with `;`"),
            );
        }
        self.emit.close_block()
    }

    fn check_stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Let { mutable, name, ty, value } => {
                self.check_let(*mutable, name, ty.as_ref(), value, stmt.span)
            }
            StmtKind::Assign { target, op, value } => self.check_assign(target, *op, value, stmt.span),
            StmtKind::Expr(expr) => {
                self.eval(expr);
            }
            StmtKind::For { var, start, end, step, body } => {
                self.check_for(var, start, end, step.as_ref(), body, stmt.span)
            }
            StmtKind::While { cond, body } => {
                let cond = self.condition(cond);
                self.loop_depth += 1;
                let body = self.nested_block(body);
                self.loop_depth -= 1;
                if let Some(cond) = cond {
                    self.emit.push(IrStmt::While { cond, body }, stmt.span);
                }
            }
            StmtKind::If { cond, then_body, else_body } => {
                let cond = self.condition(cond);
                let then_body = self.nested_block(then_body);
                let else_body = match else_body {
                    Some(block) => self.nested_block(block),
                    None => Vec::new(),
                };
                if let Some(cond) = cond {
                    self.emit.push(IrStmt::If { cond, then_body, else_body }, stmt.span);
                }
            }
            StmtKind::Break => {
                if self.loop_depth == 0 {
                    self.error(
                        Diagnostic::error("`break` outside of a loop")
                            .with_label(stmt.span, "cannot `break` here"),
                    );
                } else {
                    self.emit.push(IrStmt::Break, stmt.span);
                }
            }
        }
    }

    /// A `bool` scalar condition.
    fn condition(&mut self, cond: &Expr) -> Option<IrExpr> {
        let value = self.eval(cond);
        if matches!(value, Value::Tile(_)) {
            self.error(
                Diagnostic::error("conditions must be block-uniform scalars, found a tile")
                    .with_label(cond.span, "a tile has one value per element")
                    .with_note("reduce the tile to a scalar first, or use `where(cond, a, b)` per element"),
            );
            return None;
        }
        self.coerce_scalar(&(value, cond.span), DataType::BOOL)
    }

    fn check_let(&mut self, mutable: bool, name: &Ident, ty: Option<&Ident>, value_expr: &Expr, span: Span) {
        let tiles_before = self.emit.kernel().tiles.len();
        let mut value = self.eval(value_expr);
        if let Some(ty) = ty {
            let Some(dtype) = self.dtype_of_ident(ty) else {
                self.bind(
                    &name.name,
                    Binding::Value { value: Value::Poison, origin: Origin::Local, span: name.span },
                );
                return;
            };
            value = match value {
                Value::Tile(tile) if tile.dtype != dtype => self.error(
                    Diagnostic::error(format!(
                        "mismatched types: expected {}, found a tile of {}",
                        dtype_name(dtype),
                        dtype_name(tile.dtype)
                    ))
                    .with_label(value_expr.span, "this tile")
                    .with_note("convert it with `cast`"),
                ),
                tile @ Value::Tile(_) => tile,
                other => match self.coerce_scalar(&(other, value_expr.span), dtype) {
                    Some(expr) => Value::Scalar(expr),
                    None => Value::Poison,
                },
            };
        }
        let binding = match value {
            Value::Tile(tile) => {
                // A tile that existed before this `let` may be a `let mut` tile assigned later: copy it,
                // so that the new name does not change with it.
                let tile = if tile.id.index() < tiles_before { self.copy_tile(&tile, span) } else { tile };
                if mutable {
                    Binding::MutTile { tile }
                } else {
                    Binding::Value { value: Value::Tile(tile), origin: Origin::Local, span: name.span }
                }
            }
            Value::IntLit(_) | Value::FloatLit(_) | Value::Scalar(_) => {
                let is_constant = match &value {
                    Value::IntLit(_) | Value::FloatLit(_) => true,
                    Value::Scalar(expr) => const_int_of(expr).is_some(),
                    _ => false,
                };
                if !mutable && is_constant {
                    Binding::Value { value, origin: Origin::Local, span: name.span }
                } else {
                    let Some(expr) = self.scalar(&(value, value_expr.span)) else {
                        self.bind(
                            &name.name,
                            Binding::Value { value: Value::Poison, origin: Origin::Local, span },
                        );
                        return;
                    };
                    let var = self.emit.var(&name.name, expr.dtype);
                    let dtype = expr.dtype;
                    self.emit.push(IrStmt::Assign { var, value: expr }, span);
                    if mutable {
                        Binding::MutVar { var, dtype }
                    } else {
                        Binding::Value {
                            value: Value::Scalar(IrExpr::var(var, dtype)),
                            origin: Origin::Local,
                            span: name.span,
                        }
                    }
                }
            }
            Value::Unit => {
                self.error(
                    Diagnostic::error("this expression has no value")
                        .with_label(value_expr.span, "returns nothing")
                        .with_note("only scalars, tiles, views and dtypes can be bound with `let`"),
                );
                Binding::Value { value: Value::Poison, origin: Origin::Local, span: name.span }
            }
            other => {
                if mutable && !matches!(other, Value::Poison) {
                    self.error(
                        Diagnostic::error(format!(
                            "only scalars and register tiles can be `mut`, found {}",
                            other.describe()
                        ))
                        .with_label(name.span, "declared `mut` here"),
                    );
                }
                Binding::Value { value: other, origin: Origin::Local, span: name.span }
            }
        };
        self.bind(&name.name, binding);
    }

    /// Copies a tile into a fresh one with the same layout.
    pub(crate) fn copy_tile(&mut self, tile: &Tile, span: Span) -> Tile {
        let layout = self.emit.kernel().tile(tile.id).layout.clone();
        let copy = self.new_tile(tile.dtype, tile.shape.clone(), layout);
        self.emit.inst(Inst::Assign { dst: copy.id, src: tile.id }, span);
        copy
    }

    fn check_assign(
        &mut self,
        target: &Ident,
        op: Option<crate::syntax::ast::BinaryOp>,
        value: &Expr,
        span: Span,
    ) {
        let Some(binding) = self.lookup(&target.name).cloned() else {
            self.eval(value);
            self.error(
                Diagnostic::error(format!("cannot find `{}` in this scope", target.name))
                    .with_label(target.span, "not found in this scope"),
            );
            return;
        };
        match binding {
            Binding::Value { value: Value::Poison, .. } => {}
            Binding::Value { origin, span: declared, value: bound } => {
                self.eval(value);
                let diagnostic = match origin {
                    Origin::Param => {
                        let what = if let Value::Global(_) = bound { "input tensor" } else { "parameter" };
                        Diagnostic::error(format!("cannot assign to the {what} `{}`", target.name))
                            .with_label(target.span, "parameters are read-only")
                            .with_label(declared, "declared here")
                            .with_note("write outputs with `store(...)` into a `global mut` parameter")
                    }
                    Origin::Const => Diagnostic::error(format!(
                        "cannot assign to the compile-time parameter `{}`",
                        target.name
                    ))
                    .with_label(target.span, "fixed when the kernel is instantiated")
                    .with_label(declared, "declared here"),
                    Origin::Local => Diagnostic::error(format!(
                        "cannot assign twice to immutable variable `{}`",
                        target.name
                    ))
                    .with_label(target.span, "cannot assign twice")
                    .with_label(declared, "first bound here")
                    .with_note(format!("make it mutable: `let mut {}`", target.name)),
                };
                self.error(diagnostic);
            }
            Binding::MutVar { var, dtype, .. } => {
                let rhs = self.eval(value);
                let rhs = match op {
                    Some(op) => {
                        let current = (Value::Scalar(IrExpr::var(var, dtype)), target.span);
                        self.binary_op(op, current, (rhs, value.span), span, None)
                    }
                    None => rhs,
                };
                if let Some(expr) = self.coerce_scalar(&(rhs, value.span), dtype) {
                    self.emit.push(IrStmt::Assign { var, value: expr }, span);
                }
            }
            Binding::MutTile { tile, .. } => {
                let result = match op {
                    Some(op) => {
                        let rhs = self.eval(value);
                        self.binary_op(
                            op,
                            (Value::Tile(tile.clone()), target.span),
                            (rhs, value.span),
                            span,
                            Some(&tile),
                        )
                    }
                    None => self.eval_into(value, Some(&tile)),
                };
                self.store_into_tile(&tile, result, value.span, span);
            }
        }
    }

    /// Makes `tile` hold `result` (a tile of the same dtype and shape, or a scalar to fill it with).
    fn store_into_tile(&mut self, tile: &Tile, result: Value, value_span: Span, span: Span) {
        match result {
            Value::Poison => {}
            Value::Tile(result) if result.id == tile.id => {}
            Value::Tile(result) => {
                if result.dtype != tile.dtype || result.shape != tile.shape {
                    self.error(
                        Diagnostic::error("mismatched tile types in assignment")
                            .with_label(
                                value_span,
                                format!("this is {}", Value::Tile(result.clone()).describe()),
                            )
                            .with_note(format!("the variable is {}", Value::Tile(tile.clone()).describe())),
                    );
                } else {
                    self.emit.inst(Inst::Assign { dst: tile.id, src: result.id }, span);
                }
            }
            other => {
                if let Some(init) = self.coerce_scalar(&(other, value_span), tile.dtype) {
                    self.emit.inst(Inst::AllocRegister { dst: tile.id, init: Some(init) }, span);
                }
            }
        }
    }

    fn check_for(
        &mut self,
        var: &Ident,
        start: &Expr,
        end: &Expr,
        step: Option<&Expr>,
        body: &Block,
        span: Span,
    ) {
        let start_value = (self.eval(start), start.span);
        let end_value = (self.eval(end), end.span);
        let step_value = step.map(|step| (self.eval(step), step.span));
        let dtype = [&start_value, &end_value]
            .into_iter()
            .chain(step_value.as_ref())
            .find_map(|(value, _)| if let Value::Scalar(expr) = value { Some(expr.dtype) } else { None })
            .unwrap_or(DataType::I32);
        let mut ok = true;
        if !is_int(dtype) {
            ok = false;
            self.error(
                Diagnostic::error(format!("`for` ranges must be integers, found {}", dtype_name(dtype)))
                    .with_label(start.span.to(end.span), "not an integer range"),
            );
        }
        let start_expr = self.coerce_scalar(&start_value, dtype);
        let end_expr = self.coerce_scalar(&end_value, dtype);
        let step_expr = match &step_value {
            Some(step_value) => self.coerce_scalar(step_value, dtype),
            None => self.int_const(1, dtype, span),
        };
        if let (Some(step_expr), Some((_, step_span))) = (&step_expr, &step_value)
            && const_int_of(step_expr) == Some(0)
        {
            ok = false;
            self.error(
                Diagnostic::error("`for` step is zero").with_label(*step_span, "the loop would never end"),
            );
        }
        let loop_var = self.emit.var(&var.name, dtype);
        self.push_scope();
        self.bind(
            &var.name,
            Binding::Value {
                value: Value::Scalar(IrExpr::var(loop_var, dtype)),
                origin: Origin::Local,
                span: var.span,
            },
        );
        self.loop_depth += 1;
        let body = self.nested_block(body);
        self.loop_depth -= 1;
        self.pop_scope();
        if let (true, Some(start), Some(end), Some(step)) = (ok, start_expr, end_expr, step_expr) {
            self.emit.push(IrStmt::For { var: loop_var, start, end, step, body }, span);
        }
    }

    /// The dtype a name denotes (a dtype name or a dtype parameter), with a diagnostic otherwise.
    pub(crate) fn dtype_of_ident(&mut self, ident: &Ident) -> Option<DataType> {
        match self.lookup(&ident.name) {
            Some(Binding::Value { value: Value::Dtype(dtype), .. }) => return Some(*dtype),
            Some(Binding::Value { value: Value::Poison, .. }) => return None,
            _ => {}
        }
        if let Some(dtype) = dtype_from_name(&ident.name) {
            return Some(dtype);
        }
        self.error(unknown_dtype(ident));
        None
    }

    /// Inlines a call of a helper function; its value goes to `dest` where it fits, as a builtin's would
    /// (so `acc = helper(acc, ...)` updates `acc` in place, without a copy).
    pub(crate) fn inline_call(
        &mut self,
        def: &FnDef,
        args: &[Arg],
        span: Span,
        dest: Option<&Tile>,
    ) -> Value {
        let name = &def.name.name;
        if self.inline_stack.iter().any(|active| active == name)
            || self.inline_stack.len() as u32 >= MAX_INLINE_DEPTH
        {
            return self.error(
                Diagnostic::error(format!(
                    "`{name}` calls itself (helpers are inlined, so recursion is not allowed)"
                ))
                .with_label(span, "recursive call")
                .with_label(def.name.span, "defined here"),
            );
        }
        if let Some(keyword) = args.iter().find_map(|arg| arg.name.as_ref()) {
            return self.error(
                Diagnostic::error("helper functions take positional arguments only")
                    .with_label(keyword.span, "keyword argument"),
            );
        }
        if args.len() != def.params.len() {
            return self.error(
                Diagnostic::error(format!(
                    "`{name}` takes {} argument{} but {} {} given",
                    def.params.len(),
                    if def.params.len() == 1 { "" } else { "s" },
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" }
                ))
                .with_label(span, "wrong number of arguments")
                .with_label(def.name.span, "defined here"),
            );
        }
        let mut values = Vec::with_capacity(args.len());
        for (param, arg) in def.params.iter().zip(args) {
            let mut value = self.eval(&arg.value);
            if let Some(ty) = &param.ty {
                let Some(dtype) = self.dtype_of_ident(ty) else { return Value::Poison };
                value = match value {
                    Value::Tile(tile) if tile.dtype == dtype => Value::Tile(tile),
                    other => match self.coerce_scalar(&(other, arg.value.span), dtype) {
                        Some(expr) => Value::Scalar(expr),
                        None => return Value::Poison,
                    },
                };
            }
            values.push(value);
        }
        let saved_base = self.scope_base;
        let saved_loops = self.loop_depth;
        self.push_scope();
        self.scope_base = self.scopes.len() - 1;
        self.loop_depth = 0;
        self.inline_stack.push(name.clone());
        for (param, value) in def.params.iter().zip(values) {
            self.bind(
                &param.name.name,
                Binding::Value { value, origin: Origin::Local, span: param.name.span },
            );
        }
        let result = self.check_block(&def.body, dest);
        self.inline_stack.pop();
        self.loop_depth = saved_loops;
        self.scope_base = saved_base;
        self.pop_scope();
        result
    }
}

/// The diagnostic for a name that is not a dtype.
pub(crate) fn unknown_dtype(ident: &Ident) -> Diagnostic {
    Diagnostic::error(format!("unknown dtype `{}`", ident.name))
        .with_label(ident.span, "not a dtype")
        .with_note(
            "dtypes are `bool`, `u1`..`u32`, `u64`, `i1`..`i32`, `i64`, `f32`, `f16`, `bf16` and minifloats such as `f8e4m3fn`",
        )
}
