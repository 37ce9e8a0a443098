//! Computation builtins: `cast`, `view`, `dot`, reductions, shape operations (`permute`, `broadcast`,
//! `slice`, `convert_layout`), elementwise math and scalar intrinsics, `print` and `assert`.

use tilevm_vm::DataType;
use tilevm_vm::ir::{
    BinaryOp as IrBinary, ElementwiseOp, Expr as IrExpr, Inst, ReduceOp, Rounding, TernaryOp,
    UnaryOp as IrUnary,
};

use super::super::Checker;
use super::super::dtypes::{dtype_name, is_int};
use super::super::value::{Tile, Value, shape_text};
use super::sig;
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::{Arg, Expr, ExprKind};

impl Checker<'_> {
    /// The computation builtins; `None` when `name` is not one of them.
    pub(crate) fn compute_builtin(
        &mut self,
        name: &str,
        args: &[Arg],
        span: Span,
        dest: Option<&Tile>,
    ) -> Option<Value> {
        let value = match name {
            "cast" => self.cast(args, span, dest),
            "view" => self.view(args, span),
            "dot" => self.dot(args, span, dest),
            "sum" | "prod" | "reduce_max" | "reduce_min" | "argmax" | "argmin" => {
                self.reduce(name, args, span)
            }
            "permute" => self.permute(args, span),
            "broadcast" => self.broadcast(args, span),
            "slice" => self.slice(args, span),
            "convert_layout" => self.convert_layout(args, span),
            "where" | "fma" => self.ternary(name, args, span, dest),
            "min" | "max" => self.min_max(name, args, span, dest),
            "abs" | "exp" | "exp2" | "log" | "log2" | "sqrt" | "rsqrt" | "sin" | "cos" | "tanh" | "floor"
            | "ceil" | "round" | "trunc" => self.math(name, args, span, dest),
            "block_index" | "grid_size" => self.block_query(name, args, span),
            "cdiv" => self.cdiv(args, span),
            "bits" => self.bits_of(args, span),
            "print" => self.print(args, span),
            "assert" => self.assert(args, span),
            _ => return None,
        };
        Some(value.unwrap_or(Value::Poison))
    }

    fn cast(&mut self, args: &[Arg], span: Span, dest: Option<&Tile>) -> Option<Value> {
        let signature =
            sig("cast", &["value", "dtype", "rounding"], 2, "cast(value, dtype, rounding = nearest_even)");
        let bound = self.bind_args(&signature, span, args)?;
        let value_expr = bound.get("value")?;
        let value = self.eval(value_expr);
        let dtype = self.dtype_arg(bound.get("dtype")?)?;
        let rounding = match bound.get("rounding") {
            Some(rounding_expr) => self.rounding_arg(rounding_expr)?,
            None => Rounding::NearestEven,
        };
        match value {
            Value::Tile(src) => {
                let layout = self.emit.kernel().tile(src.id).layout.clone();
                let dst = self.dest_or_new(dest, dtype, src.shape.clone(), |_| Some(layout))?;
                self.emit.inst(Inst::Cast { dst: dst.id, src: src.id, rounding }, span);
                Some(Value::Tile(dst))
            }
            Value::IntLit(_) | Value::FloatLit(_) if dtype.is_compute() => {
                Some(Value::Scalar(self.coerce_scalar(&(value, value_expr.span), dtype)?))
            }
            Value::Poison => None,
            other => {
                let expr = self.scalar(&(other, value_expr.span))?;
                if !dtype.is_compute() {
                    self.error(
                        Diagnostic::error(format!(
                            "scalars cannot be cast to the storage-only dtype {}",
                            dtype_name(dtype)
                        ))
                        .with_label(span, "scalars are always compute dtypes"),
                    );
                    return None;
                }
                if bound.get("rounding").is_some() {
                    self.error(
                        Diagnostic::error("`rounding` applies to tile casts only")
                            .with_label(span, "scalar casts round to nearest even"),
                    );
                    return None;
                }
                Some(Value::Scalar(if expr.dtype == dtype { expr } else { expr.cast(dtype) }))
            }
        }
    }

    fn rounding_arg(&mut self, expr: &Expr) -> Option<Rounding> {
        match &expr.kind {
            ExprKind::Name(name) if name == "nearest_even" => return Some(Rounding::NearestEven),
            ExprKind::Name(name) if name == "toward_zero" => return Some(Rounding::TowardZero),
            ExprKind::Call { callee, args } if callee.name == "stochastic" && args.len() == 1 => {
                let seed = self.eval(&args[0].value);
                if let Some(seed) = seed.const_int().and_then(|seed| u64::try_from(seed).ok()) {
                    return Some(Rounding::Stochastic { seed });
                }
            }
            _ => {}
        }
        self.error(
            Diagnostic::error("unknown rounding mode")
                .with_label(expr.span, "not a rounding mode")
                .with_note("use `nearest_even`, `toward_zero` or `stochastic(seed)` with a constant seed"),
        );
        None
    }

    fn view(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let signature =
            sig("view", &["tile", "dtype", "shape", "layout"], 2, "view(tile, dtype, [shape], layout = ...)");
        let bound = self.bind_args(&signature, span, args)?;
        let src = self.tile_arg(bound.get("tile")?, "view")?;
        let dtype = self.dtype_arg(bound.get("dtype")?)?;
        let shape = match bound.get("shape") {
            Some(shape_expr) => Some(self.shape_arg(shape_expr)?),
            None => None,
        };
        let src_layout = self.emit.kernel().tile(src.id).layout.clone();
        let layout = match bound.get("layout") {
            Some(layout_expr) => {
                let layout = self.parse_layout(layout_expr)?;
                let shape = shape.clone().unwrap_or_else(|| layout.shape().to_vec());
                self.check_layout(&layout, &shape, layout_expr.span)?;
                layout
            }
            None if dtype.bits() == src.dtype.bits()
                && shape.as_ref().is_none_or(|shape| *shape == src.shape) =>
            {
                src_layout.clone()
            }
            None => {
                self.error(
                    Diagnostic::error("`view` to a different width or shape needs the result's layout")
                        .with_label(span, "write `layout = ...`")
                        .with_note(
                            "a view keeps each thread's bits in place: the result's layout must give every thread \
                             the same number of bits as the source's",
                        ),
                );
                return None;
            }
        };
        let src_bits = src_layout.local_size() as u64 * u64::from(src.dtype.bits());
        let dst_bits = layout.local_size() as u64 * u64::from(dtype.bits());
        if src_bits != dst_bits {
            self.error(
                Diagnostic::error(format!(
                    "`view` must keep the bits each thread holds: {src_bits} bits per thread before, {dst_bits} after"
                ))
                .with_label(span, "the layouts do not match")
                .with_note(format!(
                    "the source holds {} local {} elements per thread; the result needs {} elements of {}",
                    src_layout.local_size(),
                    dtype_name(src.dtype),
                    src_bits / u64::from(dtype.bits().max(1)),
                    dtype_name(dtype)
                )),
            );
            return None;
        }
        let dst = self.new_tile(dtype, layout.shape().to_vec(), layout);
        self.emit.inst(Inst::View { dst: dst.id, src: src.id }, span);
        Some(Value::Tile(dst))
    }

    fn dot(&mut self, args: &[Arg], span: Span, dest: Option<&Tile>) -> Option<Value> {
        let signature = sig("dot", &["a", "b", "acc"], 3, "dot(a, b, acc)");
        let bound = self.bind_args(&signature, span, args)?;
        let (a_expr, b_expr, acc_expr) = (bound.get("a")?, bound.get("b")?, bound.get("acc")?);
        let a = self.tile_arg(a_expr, "dot")?;
        let b = self.tile_arg(b_expr, "dot")?;
        let acc = self.tile_arg(acc_expr, "dot")?;
        for (tile, tile_span) in [(&a, a_expr.span), (&b, b_expr.span), (&acc, acc_expr.span)] {
            if !tile.dtype.is_compute() {
                self.error(
                    Diagnostic::error(format!("`dot` on the storage-only dtype {}", dtype_name(tile.dtype)))
                        .with_label(tile_span, "cast this tile first")
                        .with_note("convert it with `cast(tile, f16)` or `cast(tile, f32)`"),
                );
                return None;
            }
            if tile.shape.len() < 2 {
                self.error(
                    Diagnostic::error(format!(
                        "`dot` takes matrices, found shape {}",
                        shape_text(&tile.shape)
                    ))
                    .with_label(tile_span, "rank must be at least 2"),
                );
                return None;
            }
        }
        let rank = a.shape.len();
        let (m, k) = (a.shape[rank - 2], a.shape[rank - 1]);
        let brank = b.shape.len();
        let (k2, n) = (b.shape[brank - 2], b.shape[brank - 1]);
        if k != k2 || a.shape[..rank - 2] != b.shape[..brank - 2] {
            self.error(
                Diagnostic::error(format!(
                    "shape mismatch in `dot`: {} x {}",
                    shape_text(&a.shape),
                    shape_text(&b.shape)
                ))
                .with_label(a_expr.span, format!("[M, K] = {}", shape_text(&a.shape)))
                .with_label(b_expr.span, format!("[K, N] = {}", shape_text(&b.shape)))
                .with_note("the last dimension of `a` must equal the second to last of `b`"),
            );
            return None;
        }
        let mut expected = a.shape[..rank - 2].to_vec();
        expected.extend([m, n]);
        if acc.shape != expected {
            self.error(
                Diagnostic::error(format!(
                    "`dot` accumulator has shape {}, expected {}",
                    shape_text(&acc.shape),
                    shape_text(&expected)
                ))
                .with_label(acc_expr.span, "wrong accumulator shape"),
            );
            return None;
        }
        let layout = self.emit.kernel().tile(acc.id).layout.clone();
        let dst = self.dest_or_new(dest, acc.dtype, expected, |_| Some(layout))?;
        self.emit.inst(Inst::Dot { dst: dst.id, a: a.id, b: b.id, acc: acc.id }, span);
        Some(Value::Tile(dst))
    }

    fn reduce(&mut self, name: &str, args: &[Arg], span: Span) -> Option<Value> {
        let signature = sig("reduce", &["tile", "dim", "keepdim"], 2, "sum(tile, dim, keepdim = false)");
        let bound = self.bind_args(&signature, span, args)?;
        let tile_expr = bound.get("tile")?;
        let src = self.tile_arg(tile_expr, name)?;
        let dim = self.dim_arg(bound.get("dim")?, src.shape.len())?;
        let keepdim = match bound.get("keepdim") {
            Some(keep_expr) => match &keep_expr.kind {
                ExprKind::Bool(keep) => *keep,
                _ => {
                    self.error(
                        Diagnostic::error("`keepdim` must be `true` or `false`")
                            .with_label(keep_expr.span, "here"),
                    );
                    return None;
                }
            },
            None => false,
        };
        if !src.dtype.is_compute() {
            self.error(
                Diagnostic::error(format!("`{name}` on the storage-only dtype {}", dtype_name(src.dtype)))
                    .with_label(tile_expr.span, "cast this tile first")
                    .with_note("convert it with `cast(tile, f32)`"),
            );
            return None;
        }
        let op = match name {
            "sum" => ReduceOp::Sum,
            "prod" => ReduceOp::Prod,
            "reduce_max" => ReduceOp::Max,
            "reduce_min" => ReduceOp::Min,
            "argmax" => ReduceOp::ArgMax,
            _ => ReduceOp::ArgMin,
        };
        let dtype = if matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin) { DataType::I32 } else { src.dtype };
        let mut shape = src.shape.clone();
        if keepdim {
            shape[dim] = 1;
        } else {
            shape.remove(dim);
        }
        let layout = self.default_layout(&shape, span)?;
        let dst = self.new_tile(dtype, shape, layout);
        self.emit.inst(Inst::Reduce { dst: dst.id, src: src.id, dim, op }, span);
        Some(Value::Tile(dst))
    }

    fn permute(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let bound =
            self.bind_args(&sig("permute", &["tile", "dims"], 2, "permute(tile, [dims])"), span, args)?;
        let src = self.tile_arg(bound.get("tile")?, "permute")?;
        let dims_expr = bound.get("dims")?;
        let dims = self.dims_arg(dims_expr)?;
        let mut sorted = dims.clone();
        sorted.sort_unstable();
        if sorted != (0..src.shape.len()).collect::<Vec<_>>() {
            self.error(
                Diagnostic::error(format!("`permute` needs a permutation of 0..{}", src.shape.len()))
                    .with_label(dims_expr.span, "not a permutation"),
            );
            return None;
        }
        let shape: Vec<usize> = dims.iter().map(|&dim| src.shape[dim]).collect();
        let layout = self.default_layout(&shape, span)?;
        let dst = self.new_tile(src.dtype, shape, layout);
        self.emit.inst(Inst::Permute { dst: dst.id, src: src.id, dims }, span);
        Some(Value::Tile(dst))
    }

    fn broadcast(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let bound =
            self.bind_args(&sig("broadcast", &["tile", "shape"], 2, "broadcast(tile, [shape])"), span, args)?;
        let src = self.tile_arg(bound.get("tile")?, "broadcast")?;
        let shape_expr = bound.get("shape")?;
        let shape = self.shape_arg(shape_expr)?;
        let fits = src.shape.len() <= shape.len()
            && src.shape.iter().rev().zip(shape.iter().rev()).all(|(&from, &to)| from == to || from == 1);
        if !fits {
            self.error(
                Diagnostic::error(format!(
                    "cannot broadcast {} to {}",
                    shape_text(&src.shape),
                    shape_text(&shape)
                ))
                .with_label(shape_expr.span, "dimensions must be equal or 1 (compared from the right)"),
            );
            return None;
        }
        let layout = self.default_layout(&shape, span)?;
        let dst = self.new_tile(src.dtype, shape, layout);
        self.emit.inst(Inst::Broadcast { dst: dst.id, src: src.id }, span);
        Some(Value::Tile(dst))
    }

    fn slice(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let bound = self.bind_args(
            &sig("slice", &["tile", "offsets", "shape"], 3, "slice(tile, [offsets], [shape])"),
            span,
            args,
        )?;
        let src = self.tile_arg(bound.get("tile")?, "slice")?;
        let offsets = self.offsets_arg(bound.get("offsets")?, "offsets")?;
        let shape = self.shape_arg(bound.get("shape")?)?;
        if offsets.len() != src.shape.len() {
            self.error(
                Diagnostic::error(format!(
                    "{} offsets for a tile of rank {}",
                    offsets.len(),
                    src.shape.len()
                ))
                .with_label(span, "one offset per dimension"),
            );
            return None;
        }
        self.check_window(&src.shape, &offsets, &shape, span)?;
        let layout = self.default_layout(&shape, span)?;
        let dst = self.new_tile(src.dtype, shape, layout);
        self.emit.inst(Inst::Slice { dst: dst.id, src: src.id, offsets }, span);
        Some(Value::Tile(dst))
    }

    fn convert_layout(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let bound = self.bind_args(
            &sig("convert_layout", &["tile", "layout"], 2, "convert_layout(tile, layout)"),
            span,
            args,
        )?;
        let src = self.tile_arg(bound.get("tile")?, "convert_layout")?;
        let layout = self.layout_arg(bound.get("layout"), &src.shape, span)?;
        let dst = self.new_tile(src.dtype, src.shape.clone(), layout);
        self.emit.inst(Inst::Assign { dst: dst.id, src: src.id }, span);
        Some(Value::Tile(dst))
    }

    fn eval_args(
        &mut self,
        args: &[Arg],
        name: &'static str,
        params: &'static [&'static str],
        usage: &'static str,
        span: Span,
    ) -> Option<Vec<(Value, Span)>> {
        let bound = self.bind_args(&sig(name, params, params.len(), usage), span, args)?;
        let mut values = Vec::with_capacity(params.len());
        for param in params {
            let expr = bound.get(param)?;
            values.push((self.eval(expr), expr.span));
        }
        Some(values)
    }

    fn ternary(&mut self, name: &str, args: &[Arg], span: Span, dest: Option<&Tile>) -> Option<Value> {
        let (op, values) = if name == "where" {
            (
                TernaryOp::Select,
                self.eval_args(args, "where", &["cond", "a", "b"], "where(cond, a, b)", span)?,
            )
        } else {
            (TernaryOp::Fma, self.eval_args(args, "fma", &["a", "b", "c"], "fma(a, b, c)", span)?)
        };
        if values.iter().any(|(value, _)| matches!(value, Value::Tile(_))) {
            return Some(self.elementwise(ElementwiseOp::Ternary(op), values, span, dest));
        }
        let [first, second, third] = <[(Value, Span); 3]>::try_from(values).ok()?;
        if op == TernaryOp::Select {
            let cond = self.coerce_scalar(&first, DataType::BOOL)?;
            let a = self.scalar_pair(&second, &third)?;
            return Some(Value::Scalar(IrExpr::ternary(op, cond, a.0, a.1)));
        }
        let a = self.scalar(&first)?;
        let b = self.coerce_scalar(&second, a.dtype)?;
        let c = self.coerce_scalar(&third, a.dtype)?;
        if !a.dtype.is_float() {
            self.error(Diagnostic::error("`fma` needs floats").with_label(span, "integer operands"));
            return None;
        }
        Some(Value::Scalar(IrExpr::ternary(op, a, b, c)))
    }

    /// Two scalars of one dtype (literals adapt to the other operand).
    fn scalar_pair(&mut self, first: &(Value, Span), second: &(Value, Span)) -> Option<(IrExpr, IrExpr)> {
        if matches!(first.0, Value::IntLit(_) | Value::FloatLit(_)) && matches!(second.0, Value::Scalar(_)) {
            let b = self.scalar(second)?;
            let a = self.coerce_scalar(first, b.dtype)?;
            return Some((a, b));
        }
        let a = self.scalar(first)?;
        let b = self.coerce_scalar(second, a.dtype)?;
        Some((a, b))
    }

    fn min_max(&mut self, name: &str, args: &[Arg], span: Span, dest: Option<&Tile>) -> Option<Value> {
        let values = if name == "min" {
            self.eval_args(args, "min", &["a", "b"], "min(a, b)", span)?
        } else {
            self.eval_args(args, "max", &["a", "b"], "max(a, b)", span)?
        };
        let op = if name == "min" { IrBinary::Min } else { IrBinary::Max };
        if values.iter().any(|(value, _)| matches!(value, Value::Tile(_))) {
            return Some(self.elementwise(ElementwiseOp::Binary(op), values, span, dest));
        }
        if let (Some(a), Some(b)) = (values[0].0.const_int(), values[1].0.const_int())
            && matches!(values[0].0, Value::IntLit(_))
            && matches!(values[1].0, Value::IntLit(_))
        {
            return Some(Value::IntLit(if op == IrBinary::Min { a.min(b) } else { a.max(b) }));
        }
        Some(self.scalar_binary(op, &values[0], &values[1], span, name))
    }

    fn math(&mut self, name: &str, args: &[Arg], span: Span, dest: Option<&Tile>) -> Option<Value> {
        let op = match name {
            "abs" => IrUnary::Abs,
            "exp" => IrUnary::Exp,
            "exp2" => IrUnary::Exp2,
            "log" => IrUnary::Log,
            "log2" => IrUnary::Log2,
            "sqrt" => IrUnary::Sqrt,
            "rsqrt" => IrUnary::Rsqrt,
            "sin" => IrUnary::Sin,
            "cos" => IrUnary::Cos,
            "tanh" => IrUnary::Tanh,
            "floor" => IrUnary::Floor,
            "ceil" => IrUnary::Ceil,
            "round" => IrUnary::Round,
            _ => IrUnary::Trunc,
        };
        let bound = self.bind_args(&sig("math", &["x"], 1, "exp(x)"), span, args)?;
        let expr = bound.get("x")?;
        let value = self.eval(expr);
        match value {
            Value::Tile(_) => {
                Some(self.elementwise(ElementwiseOp::Unary(op), vec![(value, expr.span)], span, dest))
            }
            Value::FloatLit(_) => {
                let scalar = self.coerce_scalar(&(value, expr.span), DataType::F32)?;
                Some(self.scalar_unary(op, &(Value::Scalar(scalar), expr.span), span))
            }
            other => Some(self.scalar_unary(op, &(other, expr.span), span)),
        }
    }

    fn block_query(&mut self, name: &str, args: &[Arg], span: Span) -> Option<Value> {
        let bound = self.bind_args(&sig("block_index", &["axis"], 0, "block_index(axis = 0)"), span, args)?;
        let axis = match bound.get("axis") {
            Some(axis_expr) => self.dim_arg(axis_expr, 3)? as u8,
            None => 0,
        };
        Some(Value::Scalar(if name == "block_index" {
            IrExpr::block_index(axis)
        } else {
            IrExpr::grid_size(axis)
        }))
    }

    /// `bits(dtype)`: the dtype's width, a compile-time integer (for sizes written with dtype parameters).
    fn bits_of(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let bound = self.bind_args(&sig("bits", &["dtype"], 1, "bits(dtype)"), span, args)?;
        let dtype = self.dtype_arg(bound.get("dtype")?)?;
        Some(Value::IntLit(i128::from(dtype.bits())))
    }

    fn cdiv(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let values = self.eval_args(args, "cdiv", &["a", "b"], "cdiv(a, b): (a + b - 1) / b", span)?;
        if let (Value::IntLit(a), Value::IntLit(b)) = (&values[0].0, &values[1].0) {
            if *b <= 0 {
                self.error(Diagnostic::error("`cdiv` by a non-positive constant").with_label(span, "here"));
                return None;
            }
            return Some(Value::IntLit((a + b - 1).div_euclid(*b)));
        }
        let (a, b) = self.scalar_pair(&values[0], &values[1])?;
        if !is_int(a.dtype) {
            self.error(Diagnostic::error("`cdiv` needs integers").with_label(span, dtype_name(a.dtype)));
            return None;
        }
        let one = (Value::IntLit(1), span);
        let sum = self.scalar_binary(
            IrBinary::Add,
            &(Value::Scalar(a), span),
            &(Value::Scalar(b.clone()), span),
            span,
            "+",
        );
        let less = self.scalar_binary(IrBinary::Sub, &(sum, span), &one, span, "-");
        Some(self.scalar_binary(IrBinary::Div, &(less, span), &(Value::Scalar(b), span), span, "/"))
    }

    fn print(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let Some((label_arg, rest)) = args.split_first() else {
            self.error(
                Diagnostic::error("`print` needs a label")
                    .with_label(span, "usage: print(\"label\", tile) or print(\"label\", a, b, ...)"),
            );
            return None;
        };
        let label = match self.eval(&label_arg.value) {
            Value::Str(label) => label,
            other => {
                self.error(
                    Diagnostic::error(format!(
                        "the first argument of `print` is a string label, found {}",
                        other.describe()
                    ))
                    .with_label(label_arg.value.span, "expected a string"),
                );
                return None;
            }
        };
        let values: Vec<(Value, Span)> =
            rest.iter().map(|arg| (self.eval(&arg.value), arg.value.span)).collect();
        if let [(Value::Tile(tile), _)] = values.as_slice() {
            self.emit.inst(Inst::PrintTile { label, tile: tile.id }, span);
            return Some(Value::Unit);
        }
        let mut exprs = Vec::with_capacity(values.len());
        for value in &values {
            exprs.push(self.scalar(value)?);
        }
        self.emit.inst(Inst::PrintScalars { label, values: exprs }, span);
        Some(Value::Unit)
    }

    fn assert(&mut self, args: &[Arg], span: Span) -> Option<Value> {
        let bound =
            self.bind_args(&sig("assert", &["cond", "message"], 2, "assert(cond, \"message\")"), span, args)?;
        let cond_expr = bound.get("cond")?;
        let cond_value = self.eval(cond_expr);
        let cond = self.coerce_scalar(&(cond_value, cond_expr.span), DataType::BOOL)?;
        let message_expr = bound.get("message")?;
        let Value::Str(message) = self.eval(message_expr) else {
            self.error(
                Diagnostic::error("the message of `assert` must be a string")
                    .with_label(message_expr.span, "here"),
            );
            return None;
        };
        self.emit.inst(Inst::Assert { cond, message }, span);
        Some(Value::Unit)
    }
}
