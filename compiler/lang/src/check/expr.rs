//! Expressions: names, literals, operators on scalars (typed, constant-folded) and on tiles
//! (elementwise instructions with broadcasting and layout propagation).

use tilevm_vm::DataType;
use tilevm_vm::ir::{BinaryOp as IrBinary, ElementwiseOp, Expr as IrExpr, Inst, Operand, UnaryOp as IrUnary};

use super::dtypes::{dtype_from_name, dtype_name, is_int, is_signed_int};
use super::layouts;
use super::value::{Tile, Value, const_int_of, shape_text};
use super::{Binding, Checker};
use crate::diagnostic::{Diagnostic, Span};
use crate::excerpt::quoted;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, UnaryOp};

/// An operand of an elementwise operation, with the span it came from.
pub(crate) type SpannedValue = (Value, Span);

impl Checker<'_> {
    /// Checks and lowers an expression.
    pub(crate) fn eval(&mut self, expr: &Expr) -> Value {
        self.eval_into(expr, None)
    }

    /// Checks and lowers an expression; a tile result is written into `dest` when the instruction that
    /// makes it can write there directly (used by assignments to `let mut` tiles).
    pub(crate) fn eval_into(&mut self, expr: &Expr, dest: Option<&Tile>) -> Value {
        match &expr.kind {
            ExprKind::Int(value) => Value::IntLit(i128::from(*value)),
            ExprKind::Float(value) => Value::FloatLit(*value),
            ExprKind::Bool(value) => Value::Scalar(IrExpr::bool(*value)),
            ExprKind::Str(text) => Value::Str(text.clone()),
            ExprKind::Name(name) => self.eval_name(name, expr.span),
            ExprKind::Paren(inner) => self.eval_into(inner, dest),
            ExprKind::List(items) => {
                Value::List(items.iter().map(|item| (self.eval(item), item.span)).collect())
            }
            ExprKind::Unary(op, operand) => {
                let value = self.eval(operand);
                self.unary(*op, (value, operand.span), expr.span, dest)
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let lhs_value = self.eval(lhs);
                let rhs_value = self.eval(rhs);
                self.binary_op(*op, (lhs_value, lhs.span), (rhs_value, rhs.span), expr.span, dest)
            }
            ExprKind::Call { callee, args } => self.call(callee, args, expr.span, dest),
            ExprKind::Method { method, .. } => self.error(
                Diagnostic::error(format!("method call `.{}(...)` outside a layout expression", method.name))
                    .with_label(expr.span, "methods only chain layout primitives")
                    .with_note("layout expressions are written as `layout = spatial(8, 4).local(2, 2)`"),
            ),
            ExprKind::Field { name, .. } => self.error(
                Diagnostic::error(format!("field access `.{}` outside a layout expression", name.name))
                    .with_label(expr.span, "not a value"),
            ),
        }
    }

    fn eval_name(&mut self, name: &str, span: Span) -> Value {
        match self.lookup(name) {
            Some(Binding::Value { value, .. }) => value.clone(),
            Some(Binding::MutVar { var, dtype, .. }) => Value::Scalar(IrExpr::var(*var, *dtype)),
            Some(Binding::MutTile { tile, .. }) => Value::Tile(tile.clone()),
            None => match dtype_from_name(name) {
                Some(dtype) => Value::Dtype(dtype),
                None => self.error(
                    Diagnostic::error(format!("cannot find `{}` in this scope", quoted(name)))
                        .with_label(span, "not found in this scope"),
                ),
            },
        }
    }

    /// A scalar of `dtype` from a value: literals take the dtype, scalars must already have it.
    pub(crate) fn coerce_scalar(&mut self, (value, span): &SpannedValue, dtype: DataType) -> Option<IrExpr> {
        match value {
            Value::Poison => None,
            Value::IntLit(literal) => self.int_const(*literal, dtype, *span),
            Value::FloatLit(literal) if dtype.is_float() => Some(float_const(*literal, dtype)),
            Value::Scalar(expr) if expr.dtype == dtype => Some(expr.clone()),
            Value::Scalar(expr) => {
                self.error(
                    Diagnostic::error(format!(
                        "mismatched types: expected {}, found {}",
                        dtype_name(dtype),
                        dtype_name(expr.dtype)
                    ))
                    .with_label(*span, format!("this is {}", dtype_name(expr.dtype)))
                    .with_note(format!("convert it with `cast(..., {})`", dtype_name(dtype))),
                );
                None
            }
            other => {
                let description = other.describe();
                self.error(
                    Diagnostic::error(format!(
                        "expected a scalar of type {}, found {description}",
                        dtype_name(dtype)
                    ))
                    .with_label(*span, "expected a scalar here"),
                );
                None
            }
        }
    }

    /// A scalar from a value, giving literals their default dtype (`i32`, `f32`).
    pub(crate) fn scalar(&mut self, spanned: &SpannedValue) -> Option<IrExpr> {
        match &spanned.0 {
            Value::IntLit(_) => self.coerce_scalar(spanned, DataType::I32),
            Value::FloatLit(_) => self.coerce_scalar(spanned, DataType::F32),
            Value::Scalar(expr) => Some(expr.clone()),
            Value::Poison => None,
            other => {
                let description = other.describe();
                self.error(
                    Diagnostic::error(format!("expected a scalar, found {description}"))
                        .with_label(spanned.1, "expected a scalar here"),
                );
                None
            }
        }
    }

    /// An integer scalar (any integer dtype; literals become `i32`).
    pub(crate) fn int_scalar(&mut self, spanned: &SpannedValue, what: &str) -> Option<IrExpr> {
        let expr = self.scalar(spanned)?;
        if is_int(expr.dtype) {
            Some(expr)
        } else {
            self.error(
                Diagnostic::error(format!("{what} must be an integer, found {}", dtype_name(expr.dtype)))
                    .with_label(spanned.1, "not an integer"),
            );
            None
        }
    }

    /// A size (a tensor extent or a grid size) as `u32`: an integer scalar that, when it is a constant,
    /// is not negative — `f32[-5]` would otherwise be read as 4294967291.
    pub(crate) fn size(&mut self, spanned: &SpannedValue, what: &str) -> Option<IrExpr> {
        let expr = self.int_scalar(spanned, what)?;
        if let Some(value) = super::value::const_int_of(&expr)
            && value < 0
        {
            self.error(
                Diagnostic::error(format!("{what} cannot be negative, found {value}"))
                    .with_label(spanned.1, "a negative size"),
            );
            return None;
        }
        Some(super::builtins::memory::as_u32(expr))
    }

    /// A constant of an integer (or bool) dtype, checked to fit.
    pub(crate) fn int_const(&mut self, literal: i128, dtype: DataType, span: Span) -> Option<IrExpr> {
        if dtype.is_float() {
            return Some(float_const(literal as f64, dtype));
        }
        let bits = dtype.bits();
        let (low, high) = if is_signed_int(dtype) {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        };
        if literal < low || literal > high || dtype == DataType::BOOL {
            self.error(
                Diagnostic::error(format!("integer {literal} does not fit in {}", dtype_name(dtype)))
                    .with_label(span, format!("{} holds {low}..={high}", dtype_name(dtype))),
            );
            return None;
        }
        let mask = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
        Some(IrExpr::constant(dtype, (literal as u64) & mask))
    }

    fn unary(&mut self, op: UnaryOp, operand: SpannedValue, span: Span, dest: Option<&Tile>) -> Value {
        let ir_op = match op {
            UnaryOp::Neg => IrUnary::Neg,
            UnaryOp::Not => IrUnary::Not,
        };
        match (&operand.0, op) {
            (Value::IntLit(value), UnaryOp::Neg) => Value::IntLit(-value),
            (Value::FloatLit(value), UnaryOp::Neg) => Value::FloatLit(-value),
            (Value::Tile(_), _) => self.elementwise(ElementwiseOp::Unary(ir_op), vec![operand], span, dest),
            _ => self.scalar_unary(ir_op, &operand, span),
        }
    }

    /// `op(operand)` on a scalar, checking the operand's dtype.
    pub(crate) fn scalar_unary(&mut self, op: IrUnary, operand: &SpannedValue, span: Span) -> Value {
        let Some(expr) = self.scalar(operand) else { return Value::Poison };
        let float_only = !matches!(op, IrUnary::Neg | IrUnary::Not | IrUnary::Abs);
        let ok = match op {
            IrUnary::Not => is_int(expr.dtype) || expr.dtype == DataType::BOOL,
            IrUnary::Neg | IrUnary::Abs => expr.dtype != DataType::BOOL,
            _ => expr.dtype.is_float(),
        };
        if !ok {
            let needs = if float_only { "a float" } else { "a number" };
            return self.error(
                Diagnostic::error(format!("`{op:?}` needs {needs}, found {}", dtype_name(expr.dtype)))
                    .with_label(operand.1, format!("this is {}", dtype_name(expr.dtype)))
                    .with_note("convert it with `cast(..., f32)`"),
            );
        }
        if let (IrUnary::Neg, Some(value)) = (op, const_int_of(&expr)) {
            return self.fold(-value, expr.dtype, span);
        }
        Value::Scalar(IrExpr::unary(op, expr))
    }

    pub(crate) fn binary_op(
        &mut self,
        op: BinaryOp,
        lhs: SpannedValue,
        rhs: SpannedValue,
        span: Span,
        dest: Option<&Tile>,
    ) -> Value {
        let ir_op = ir_binary(op);
        if matches!(lhs.0, Value::Tile(_)) || matches!(rhs.0, Value::Tile(_)) {
            if matches!(op, BinaryOp::AndAnd | BinaryOp::OrOr) {
                return self.error(
                    Diagnostic::error(format!("`{}` on tiles", op.symbol()))
                        .with_label(span, "short-circuit operators work on scalars")
                        .with_note(format!(
                            "use `{}` for elementwise logic",
                            if op == BinaryOp::AndAnd { "&" } else { "|" }
                        )),
                );
            }
            return self.elementwise(ElementwiseOp::Binary(ir_op), vec![lhs, rhs], span, dest);
        }
        if let (Value::IntLit(a), Value::IntLit(b)) = (&lhs.0, &rhs.0) {
            return match fold_int(ir_op, *a, *b) {
                Some(Folded::Int(value)) => Value::IntLit(value),
                Some(Folded::Bool(value)) => Value::Scalar(IrExpr::bool(value)),
                None => self.error(
                    Diagnostic::error(format!("cannot evaluate `{a} {} {b}` at compile time", op.symbol()))
                        .with_label(span, "overflow or division by zero"),
                ),
            };
        }
        if let (Value::FloatLit(a), Value::FloatLit(b)) = (&lhs.0, &rhs.0)
            && let Some(value) = fold_float(ir_op, *a, *b)
        {
            return Value::FloatLit(value);
        }
        self.scalar_binary(ir_op, &lhs, &rhs, span, op.symbol())
    }

    /// `lhs op rhs` on scalars: unifies dtypes (literals adapt), checks the operator, folds constants.
    pub(crate) fn scalar_binary(
        &mut self,
        op: IrBinary,
        lhs: &SpannedValue,
        rhs: &SpannedValue,
        span: Span,
        symbol: &str,
    ) -> Value {
        let lhs_is_literal = matches!(lhs.0, Value::IntLit(_) | Value::FloatLit(_));
        let (lhs_expr, rhs_expr) = if matches!(op, IrBinary::Shl | IrBinary::Shr) {
            let Some(lhs_expr) = self.scalar(lhs) else { return Value::Poison };
            let Some(rhs_expr) = self.coerce_scalar(rhs, DataType::U32) else { return Value::Poison };
            (lhs_expr, rhs_expr)
        } else if lhs_is_literal {
            let Some(rhs_expr) = self.scalar(rhs) else { return Value::Poison };
            let Some(lhs_expr) = self.coerce_scalar(lhs, rhs_expr.dtype) else { return Value::Poison };
            (lhs_expr, rhs_expr)
        } else {
            let Some(lhs_expr) = self.scalar(lhs) else { return Value::Poison };
            let Some(rhs_expr) = self.coerce_scalar(rhs, lhs_expr.dtype) else { return Value::Poison };
            (lhs_expr, rhs_expr)
        };
        let dtype = lhs_expr.dtype;
        if let Some(problem) = operator_rejects(op, dtype) {
            return self.error(
                Diagnostic::error(format!("`{symbol}` cannot be applied to {}", dtype_name(dtype)))
                    .with_label(span, problem),
            );
        }
        if let (Some(a), Some(b)) = (const_int_of(&lhs_expr), const_int_of(&rhs_expr))
            && dtype != DataType::BOOL
        {
            match fold_int(op, a, b) {
                Some(Folded::Int(value)) => return self.fold(value, dtype, span),
                Some(Folded::Bool(value)) => return Value::Scalar(IrExpr::bool(value)),
                None => {}
            }
        }
        Value::Scalar(IrExpr::binary(op, lhs_expr, rhs_expr))
    }

    /// A folded integer constant, wrapped to `dtype` as the interpreter would.
    fn fold(&mut self, value: i128, dtype: DataType, _span: Span) -> Value {
        let bits = dtype.bits();
        let mask = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
        Value::Scalar(IrExpr::constant(dtype, (value as u64) & mask))
    }

    /// An elementwise instruction over tile and scalar operands (at least one tile): checks dtypes,
    /// broadcasts shapes, picks the result's layout and emits the instruction.
    pub(crate) fn elementwise(
        &mut self,
        op: ElementwiseOp,
        operands: Vec<SpannedValue>,
        span: Span,
        dest: Option<&Tile>,
    ) -> Value {
        if operands.iter().any(|(value, _)| matches!(value, Value::Poison)) {
            return Value::Poison;
        }
        let tiles: Vec<(&Tile, Span)> = operands
            .iter()
            .filter_map(|(value, span)| match value {
                Value::Tile(tile) => Some((tile, *span)),
                _ => None,
            })
            .collect();
        for (tile, tile_span) in &tiles {
            if !tile.dtype.is_compute() {
                let name = dtype_name(tile.dtype);
                return self.error(
                    Diagnostic::error(format!("arithmetic on the storage-only dtype {name}"))
                        .with_label(*tile_span, format!("this tile holds {name}, a storage type"))
                        .with_note(format!(
                            "{name} can only be loaded, stored, viewed and cast; convert it first: `cast(tile, f32)`"
                        )),
                );
            }
        }
        // The value dtype: `Select`'s second operand, else the first tile's (a `bool` condition
        // aside); shift amounts are u32.
        let value_index = if op == ElementwiseOp::Ternary(tilevm_vm::ir::TernaryOp::Select) { 1 } else { 0 };
        let Some(value_dtype) = operands
            .get(value_index..)
            .and_then(|rest| {
                rest.iter().find_map(
                    |(value, _)| if let Value::Tile(tile) = value { Some(tile.dtype) } else { None },
                )
            })
            .or_else(|| tiles.first().map(|(tile, _)| tile.dtype))
        else {
            return Value::Poison;
        };
        let Some(shape) = self.broadcast_shapes(&tiles, span) else { return Value::Poison };
        let mut ir_operands = Vec::with_capacity(operands.len());
        for (index, operand) in operands.iter().enumerate() {
            let wanted = operand_dtype(op, index, value_dtype);
            match &operand.0 {
                Value::Tile(tile) => {
                    if tile.dtype != wanted {
                        return self.error(
                            Diagnostic::error(format!(
                                "mismatched tile dtypes: expected {}, found {}",
                                dtype_name(wanted),
                                dtype_name(tile.dtype)
                            ))
                            .with_label(operand.1, format!("this tile holds {}", dtype_name(tile.dtype)))
                            .with_note(format!("convert it with `cast(..., {})`", dtype_name(wanted))),
                        );
                    }
                    ir_operands.push(Operand::Tile(tile.id));
                }
                _ => match self.coerce_scalar(operand, wanted) {
                    Some(expr) => ir_operands.push(Operand::Scalar(expr)),
                    None => return Value::Poison,
                },
            }
        }
        let result_dtype = match op {
            ElementwiseOp::Binary(binary) if binary.is_comparison() => DataType::BOOL,
            _ => value_dtype,
        };
        if let ElementwiseOp::Binary(binary) = op
            && let Some(problem) = operator_rejects(binary, value_dtype)
        {
            return self.error(
                Diagnostic::error(format!(
                    "`{binary:?}` cannot be applied to {} tiles",
                    dtype_name(value_dtype)
                ))
                .with_label(span, problem),
            );
        }
        if let ElementwiseOp::Unary(unary) = op
            && !unary_accepts(unary, value_dtype)
        {
            return self.error(
                Diagnostic::error(format!(
                    "`{unary:?}` cannot be applied to {} tiles",
                    dtype_name(value_dtype)
                ))
                .with_label(span, "wrong dtype for this operation")
                .with_note("convert it with `cast(..., f32)`"),
            );
        }
        let layout_source = tiles.iter().find(|(tile, _)| tile.shape == shape).map(|(tile, _)| tile.id);
        let dst = match dest.filter(|dest| dest.dtype == result_dtype && dest.shape == shape) {
            Some(dest) => dest.clone(),
            None => {
                let layout = match layout_source {
                    Some(id) => self.emit.kernel().tile(id).layout.clone(),
                    None => match self.default_layout(&shape, span) {
                        Some(layout) => layout,
                        None => return Value::Poison,
                    },
                };
                self.new_tile(result_dtype, shape, layout)
            }
        };
        self.emit.inst(Inst::Elementwise { dst: dst.id, op, operands: ir_operands }, span);
        Value::Tile(dst)
    }

    /// The broadcast of tile shapes (right-aligned; a dimension of 1 stretches).
    fn broadcast_shapes(&mut self, tiles: &[(&Tile, Span)], span: Span) -> Option<Vec<usize>> {
        let rank = tiles.iter().map(|(tile, _)| tile.shape.len()).max().unwrap_or(0);
        let mut shape = vec![1usize; rank];
        for (tile, _) in tiles {
            let offset = rank - tile.shape.len();
            for (dim, &extent) in tile.shape.iter().enumerate() {
                let current = &mut shape[offset + dim];
                if *current == 1 {
                    *current = extent;
                } else if extent != 1 && extent != *current {
                    let mut diagnostic = Diagnostic::error("tile shapes do not broadcast together");
                    for (tile, tile_span) in tiles {
                        diagnostic =
                            diagnostic.with_label(*tile_span, format!("shape {}", shape_text(&tile.shape)));
                    }
                    self.error(
                        diagnostic
                            .with_label(span, "in this operation")
                            .with_note("dimensions must be equal or 1 (compared from the right)"),
                    );
                    return None;
                }
            }
        }
        Some(shape)
    }

    /// Declares a fresh register tile.
    pub(crate) fn new_tile(
        &mut self,
        dtype: DataType,
        shape: Vec<usize>,
        layout: tilevm_vm::RegisterLayout,
    ) -> Tile {
        let id = self.emit.tile("t", dtype, layout);
        Tile { id, dtype, shape }
    }

    /// The inferred layout of a tile of `shape`, or a diagnostic at `span`.
    pub(crate) fn default_layout(
        &mut self,
        shape: &[usize],
        span: Span,
    ) -> Option<tilevm_vm::RegisterLayout> {
        match layouts::default_register(shape, self.num_threads) {
            Ok(layout) => Some(layout),
            Err(message) => {
                self.error(
                    Diagnostic::error(format!(
                        "cannot infer a layout for a tile of shape {}",
                        shape_text(shape)
                    ))
                    .with_label(span, message)
                    .with_note("write one with `layout = ...`"),
                );
                None
            }
        }
    }
}

/// The dtype operand `index` of `op` must have, given the operation's value dtype.
fn operand_dtype(op: ElementwiseOp, index: usize, value_dtype: DataType) -> DataType {
    match (op, index) {
        (ElementwiseOp::Ternary(tilevm_vm::ir::TernaryOp::Select), 0) => DataType::BOOL,
        (ElementwiseOp::Binary(IrBinary::Shl | IrBinary::Shr), 1) => DataType::U32,
        _ => value_dtype,
    }
}

fn unary_accepts(op: IrUnary, dtype: DataType) -> bool {
    match op {
        IrUnary::Not => is_int(dtype) || dtype == DataType::BOOL,
        IrUnary::Neg | IrUnary::Abs => dtype != DataType::BOOL,
        _ => dtype.is_float(),
    }
}

/// Why `op` cannot take operands of `dtype`, if it cannot.
fn operator_rejects(op: IrBinary, dtype: DataType) -> Option<&'static str> {
    let is_bool = dtype == DataType::BOOL;
    match op {
        IrBinary::And | IrBinary::Or | IrBinary::Xor if dtype.is_float() => {
            Some("bitwise operators need integers or bool")
        }
        IrBinary::Shl | IrBinary::Shr if !is_int(dtype) => Some("shifts need an integer"),
        IrBinary::Add
        | IrBinary::Sub
        | IrBinary::Mul
        | IrBinary::Div
        | IrBinary::Rem
        | IrBinary::Min
        | IrBinary::Max
            if is_bool =>
        {
            Some("arithmetic needs numbers, not bool")
        }
        IrBinary::Lt | IrBinary::Le | IrBinary::Gt | IrBinary::Ge if is_bool => {
            Some("ordering needs numbers")
        }
        _ => None,
    }
}

fn ir_binary(op: BinaryOp) -> IrBinary {
    match op {
        BinaryOp::OrOr | BinaryOp::BitOr => IrBinary::Or,
        BinaryOp::AndAnd | BinaryOp::BitAnd => IrBinary::And,
        BinaryOp::BitXor => IrBinary::Xor,
        BinaryOp::Eq => IrBinary::Eq,
        BinaryOp::Ne => IrBinary::Ne,
        BinaryOp::Lt => IrBinary::Lt,
        BinaryOp::Le => IrBinary::Le,
        BinaryOp::Gt => IrBinary::Gt,
        BinaryOp::Ge => IrBinary::Ge,
        BinaryOp::Shl => IrBinary::Shl,
        BinaryOp::Shr => IrBinary::Shr,
        BinaryOp::Add => IrBinary::Add,
        BinaryOp::Sub => IrBinary::Sub,
        BinaryOp::Mul => IrBinary::Mul,
        BinaryOp::Div => IrBinary::Div,
        BinaryOp::Rem => IrBinary::Rem,
    }
}

enum Folded {
    Int(i128),
    Bool(bool),
}

/// Folds an integer operation exactly (callers wrap to the dtype); `None` on overflow or division by zero.
fn fold_int(op: IrBinary, a: i128, b: i128) -> Option<Folded> {
    let value = match op {
        IrBinary::Add => a.checked_add(b)?,
        IrBinary::Sub => a.checked_sub(b)?,
        IrBinary::Mul => a.checked_mul(b)?,
        IrBinary::Div if b != 0 => a.checked_div(b)?,
        IrBinary::Rem if b != 0 => a.checked_rem(b)?,
        IrBinary::Min => a.min(b),
        IrBinary::Max => a.max(b),
        IrBinary::And => a & b,
        IrBinary::Or => a | b,
        IrBinary::Xor => a ^ b,
        IrBinary::Shl if (0..64).contains(&b) => a.checked_shl(b as u32)?,
        IrBinary::Shr if (0..64).contains(&b) => a >> b,
        IrBinary::Eq => return Some(Folded::Bool(a == b)),
        IrBinary::Ne => return Some(Folded::Bool(a != b)),
        IrBinary::Lt => return Some(Folded::Bool(a < b)),
        IrBinary::Le => return Some(Folded::Bool(a <= b)),
        IrBinary::Gt => return Some(Folded::Bool(a > b)),
        IrBinary::Ge => return Some(Folded::Bool(a >= b)),
        _ => return None,
    };
    (value.unsigned_abs() < (1u128 << 64)).then_some(Folded::Int(value))
}

fn fold_float(op: IrBinary, a: f64, b: f64) -> Option<f64> {
    match op {
        IrBinary::Add => Some(a + b),
        IrBinary::Sub => Some(a - b),
        IrBinary::Mul => Some(a * b),
        IrBinary::Div => Some(a / b),
        _ => None,
    }
}

/// A float constant of a float dtype (`f16`/`bf16` as an `f32` constant cast once, round to nearest even).
pub(crate) fn float_const(value: f64, dtype: DataType) -> IrExpr {
    let single = IrExpr::f32(value as f32);
    if dtype == DataType::F32 { single } else { single.cast(dtype) }
}
