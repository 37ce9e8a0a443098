//! Evaluates a parsed layout expression: integer arithmetic, lists, and the layout functions.

use super::parser::{Arg, Expr, ExprKind};
use crate::layout::error::{LayoutError, LayoutResult, Span};
use crate::layout::mma::fragment_layout;
use crate::layout::primitives::{
    PrimitiveKind, auto_local_spatial, auto_spatial_local, primitive, replicated,
};
use crate::layout::register::RegisterLayout;
use crate::layout::shared::SharedLayout;

/// Resolves a name in layout text (a kernel constant such as `BLOCK_N`) to an integer.
pub type Environment<'a> = &'a dyn Fn(&str) -> Option<i64>;

/// The value of an expression.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Int(i64),
    Bool(bool),
    List(Vec<Value>),
    Register(RegisterLayout),
    Shared(SharedLayout),
}

impl Value {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::List(_) => "a list",
            Value::Register(_) => "a register layout",
            Value::Shared(_) => "a shared layout",
        }
    }
}

/// Evaluates `expr` with `environment` resolving free names.
pub(crate) fn evaluate(expr: &Expr, environment: Environment<'_>) -> LayoutResult<Value> {
    Evaluator { environment }.eval(expr)
}

struct Evaluator<'a> {
    environment: Environment<'a>,
}

impl Evaluator<'_> {
    fn eval(&self, expr: &Expr) -> LayoutResult<Value> {
        let span = expr.span;
        match &expr.kind {
            ExprKind::Int(value) => Ok(Value::Int(*value)),
            ExprKind::Name(name) => match name.as_str() {
                "True" | "true" => Ok(Value::Bool(true)),
                "False" | "false" => Ok(Value::Bool(false)),
                _ => (self.environment)(name).map(Value::Int).ok_or_else(|| {
                    let hint = if FUNCTIONS.contains(&name.as_str()) {
                        format!(": `{name}` needs arguments")
                    } else {
                        String::new()
                    };
                    LayoutError::syntax(span, format!("unknown name `{name}`{hint}"))
                }),
            },
            ExprKind::Member { base, name } => match &base.kind {
                ExprKind::Name(library) if library == "mma" => fragment_layout(name)
                    .map(Value::Register)
                    .ok_or_else(|| LayoutError::syntax(span, format!("unknown MMA fragment `mma.{name}`"))),
                _ => {
                    Err(LayoutError::syntax(span, format!("`.{name}` needs arguments, as in `.{name}(...)`")))
                }
            },
            ExprKind::List(items) => {
                items.iter().map(|item| self.eval(item)).collect::<LayoutResult<_>>().map(Value::List)
            }
            ExprKind::Neg(operand) => match self.eval(operand)? {
                Value::Int(value) => value
                    .checked_neg()
                    .map(Value::Int)
                    .ok_or_else(|| LayoutError::syntax(span, "integer overflow")),
                other => Err(LayoutError::syntax(span, format!("cannot negate {}", other.kind()))),
            },
            ExprKind::Binary { op, lhs, rhs } => self.binary(op, self.eval(lhs)?, self.eval(rhs)?, span),
            ExprKind::Call { receiver, name, name_span, args } => {
                let receiver = receiver
                    .as_ref()
                    .map(|receiver| Ok((self.eval(receiver)?, receiver.span)))
                    .transpose()?;
                self.call(receiver, name, *name_span, args, span)
            }
        }
    }

    fn binary(&self, op: &str, lhs: Value, rhs: Value, span: Span) -> LayoutResult<Value> {
        let overflow = || LayoutError::syntax(span, "integer overflow");
        match (lhs, rhs) {
            (Value::Int(a), Value::Int(b)) => {
                let value = match op {
                    "+" => a.checked_add(b),
                    "-" => a.checked_sub(b),
                    "*" => a.checked_mul(b),
                    "/" | "//" | "%" if b == 0 => return Err(LayoutError::syntax(span, "division by zero")),
                    "/" if a % b != 0 => {
                        return Err(LayoutError::syntax(
                            span,
                            format!("{a} / {b} is not an integer; write `//` to round down"),
                        ));
                    }
                    "/" => a.checked_div(b),
                    "//" => a.checked_div_euclid(b),
                    _ => a.checked_rem_euclid(b),
                };
                value.map(Value::Int).ok_or_else(overflow)
            }
            (Value::Register(a), Value::Register(b)) => match op {
                "*" => a.product(&b).map(Value::Register).map_err(|error| error.at(span)),
                "/" => a.divide(&b).map(Value::Register).map_err(|error| error.at(span)),
                _ => Err(LayoutError::syntax(
                    span,
                    format!("`{op}` does not apply to layouts (use `*` or `/`)"),
                )),
            },
            (Value::Shared(a), Value::Shared(b)) if op == "*" => {
                a.product(&b).map(Value::Shared).map_err(|error| error.at(span))
            }
            (lhs, rhs) => Err(LayoutError::syntax(
                span,
                format!("`{op}` does not apply to {} and {}", lhs.kind(), rhs.kind()),
            )),
        }
    }

    fn call(
        &self,
        receiver: Option<(Value, Span)>,
        name: &str,
        name_span: Span,
        args: &[Arg],
        span: Span,
    ) -> LayoutResult<Value> {
        let mut positional = Vec::new();
        let mut keywords = Vec::new();
        for arg in args {
            let value = (self.eval(&arg.value)?, arg.value.span);
            match &arg.keyword {
                Some((keyword, keyword_span)) => {
                    if keywords
                        .iter()
                        .any(|(existing, _, _): &(String, Span, (Value, Span))| existing == keyword)
                    {
                        return Err(LayoutError::syntax(
                            *keyword_span,
                            format!("`{keyword}` is given twice"),
                        ));
                    }
                    keywords.push((keyword.clone(), *keyword_span, value));
                }
                None => {
                    if let Some((_, keyword_span, _)) = keywords.first() {
                        return Err(LayoutError::syntax(
                            arg.value.span,
                            format!("positional argument after a keyword argument at {keyword_span}"),
                        ));
                    }
                    positional.push(value);
                }
            }
        }
        // Primitives used as methods multiply the receiver; other methods take it as the first argument.
        let product_with = match (receiver, primitive_kind(name)) {
            (Some((Value::Register(layout), _)), Some(_)) => Some(layout),
            (Some(receiver), _) => {
                positional.insert(0, receiver);
                None
            }
            (None, _) => None,
        };
        let mut call = CallArgs { name, name_span, positional, keywords };
        let result = call.apply().map_err(|error| error.at(span))?;
        call.finish()?;
        match (product_with, result) {
            (Some(outer), Value::Register(inner)) => {
                outer.product(&inner).map(Value::Register).map_err(|error| error.at(span))
            }
            (_, result) => Ok(result),
        }
        .map_err(|error| error.at(span))
    }
}

/// The names of the functions, for error messages.
const FUNCTIONS: &[&str] = &[
    "local",
    "repeat",
    "spatial",
    "column_local",
    "column_spatial",
    "replicated",
    "reduce",
    "permute",
    "squeeze",
    "unsqueeze",
    "reshape",
    "concat",
    "compose",
    "divide",
    "auto_local_spatial",
    "auto_spatial_local",
    "register_layout",
    "row_major",
    "column_major",
    "padded",
    "strided",
    "swizzle",
];

fn primitive_kind(name: &str) -> Option<(PrimitiveKind, bool)> {
    match name {
        "local" | "repeat" => Some((PrimitiveKind::Local, false)),
        "spatial" => Some((PrimitiveKind::Spatial, false)),
        "column_local" => Some((PrimitiveKind::Local, true)),
        "column_spatial" => Some((PrimitiveKind::Spatial, true)),
        _ => None,
    }
}

/// The arguments of one call, consumed by the function as it reads them.
struct CallArgs<'a> {
    name: &'a str,
    name_span: Span,
    positional: Vec<(Value, Span)>,
    keywords: Vec<(String, Span, (Value, Span))>,
}

impl CallArgs<'_> {
    /// Runs the function called `self.name`.
    fn apply(&mut self) -> LayoutResult<Value> {
        if let Some((kind, column)) = primitive_kind(self.name) {
            let shape = self.rest_as_sizes()?;
            let ranks = self.keyword("ranks").map(|value| sizes(&value)).transpose()?;
            let ranks = match (ranks, column) {
                (Some(_), true) => return Err(self.error(format!("`{}` takes no `ranks=`", self.name))),
                (None, true) => Some((0..shape.len()).rev().collect()),
                (ranks, false) => ranks,
            };
            return self.layout(primitive(kind, &shape, ranks.as_deref()));
        }
        match self.name {
            "replicated" => {
                let shape = self.rest_as_sizes()?;
                let workers = self.required_keyword("num_workers")?;
                let workers = size_or_zero(&workers)?;
                self.layout(replicated(&shape, workers))
            }
            "reduce" => {
                let layout = self.register("layout")?;
                let dims = self.argument("dims")?;
                let keepdims = match self.keyword("keepdims") {
                    None => false,
                    Some((Value::Bool(flag), _)) => flag,
                    Some((other, span)) => {
                        return Err(LayoutError::syntax(
                            span,
                            format!("`keepdims` must be a boolean, not {}", other.kind()),
                        ));
                    }
                };
                self.layout(layout.reduce(&sizes(&dims)?, keepdims))
            }
            "permute" | "squeeze" | "unsqueeze" | "reshape" => {
                let layout = self.register("layout")?;
                let argument_name = if self.name == "reshape" { "shape" } else { "dims" };
                let list = match self.keyword(argument_name) {
                    Some(value) => sizes(&value)?,
                    None => self.rest_as_sizes()?,
                };
                let result = match self.name {
                    "permute" => layout.permute(&list),
                    "squeeze" => layout.squeeze(&list),
                    "unsqueeze" => layout.unsqueeze(&list),
                    _ => layout.reshape(&list),
                };
                self.layout(result)
            }
            "concat" | "divide" => {
                let lhs = self.register("lhs")?;
                let rhs = self.register("rhs")?;
                self.layout(if self.name == "concat" { lhs.concat(&rhs) } else { lhs.divide(&rhs) })
            }
            "compose" => {
                let outer = self.argument("outer")?;
                let inner = self.argument("inner")?;
                match (outer, inner) {
                    ((Value::Register(a), _), (Value::Register(b), _)) => self.layout(a.product(&b)),
                    ((Value::Shared(a), _), (Value::Shared(b), _)) => a.product(&b).map(Value::Shared),
                    ((a, span), (b, _)) => Err(LayoutError::syntax(
                        span,
                        format!("`compose` needs two layouts of one kind, not {} and {}", a.kind(), b.kind()),
                    )),
                }
            }
            "auto_local_spatial" => {
                let threads = size_or_zero(&self.argument("num_threads")?)?;
                let shape = sizes(&self.argument("shape")?)?;
                self.layout(auto_local_spatial(threads, &shape))
            }
            "auto_spatial_local" => {
                let threads = size_or_zero(&self.argument("num_threads")?)?;
                let shape = sizes(&self.argument("shape")?)?;
                self.layout(auto_spatial_local(threads, &shape))
            }
            "register_layout" => {
                let shape = sizes(&self.argument("shape")?)?;
                let mode_shape = sizes(&self.argument("mode_shape")?)?;
                let spatial_modes = integers(&self.argument("spatial_modes")?)?
                    .into_iter()
                    .map(|entry| isize::try_from(entry).map_err(|_| self.error("spatial mode out of range")))
                    .collect::<LayoutResult<Vec<isize>>>()?;
                let local_modes = sizes(&self.argument("local_modes")?)?;
                self.layout(RegisterLayout::new(shape, mode_shape, spatial_modes, local_modes))
            }
            "row_major" | "column_major" => {
                let shape = self.rest_as_sizes()?;
                let layout = if self.name == "row_major" {
                    SharedLayout::row_major(&shape)
                } else {
                    SharedLayout::column_major(&shape)
                };
                layout.map(Value::Shared)
            }
            "padded" => {
                let shape = self.rest_as_sizes()?;
                let pad = size_or_zero(&self.required_keyword("pad")?)?;
                SharedLayout::padded(&shape, pad).map(Value::Shared)
            }
            "strided" => {
                let shape = sizes(&self.argument("shape")?)?;
                let strides = sizes(&self.argument("strides")?)?;
                SharedLayout::strided(&shape, &strides).map(Value::Shared)
            }
            "swizzle" => {
                let inner = match self.argument("layout")? {
                    (Value::Shared(layout), _) => layout,
                    (other, span) => {
                        return Err(LayoutError::syntax(
                            span,
                            format!("`swizzle` needs a shared layout, not {}", other.kind()),
                        ));
                    }
                };
                let mut bit_count = |name: &str| -> LayoutResult<u32> {
                    let (value, span) = self.argument(name)?;
                    u32::try_from(size_or_zero(&(value, span))?)
                        .map_err(|_| LayoutError::syntax(span, "too large"))
                };
                let bits = bit_count("bits")?;
                let base = bit_count("base")?;
                let shift = bit_count("shift")?;
                SharedLayout::swizzle(inner, bits, base, shift).map(Value::Shared)
            }
            name => Err(LayoutError::syntax(self.name_span, format!("unknown function `{name}`"))),
        }
    }

    fn error(&self, message: impl Into<String>) -> LayoutError {
        LayoutError::syntax(self.name_span, message)
    }

    fn layout(&self, result: LayoutResult<RegisterLayout>) -> LayoutResult<Value> {
        result.map(Value::Register)
    }

    /// Takes the keyword argument `name`, if given.
    fn keyword(&mut self, name: &str) -> Option<(Value, Span)> {
        let position = self.keywords.iter().position(|(keyword, _, _)| keyword == name)?;
        Some(self.keywords.remove(position).2)
    }

    fn required_keyword(&mut self, name: &str) -> LayoutResult<(Value, Span)> {
        self.keyword(name).ok_or_else(|| self.error(format!("`{}` needs `{name}=`", self.name)))
    }

    /// Takes the next positional argument, or the keyword argument `name`.
    fn argument(&mut self, name: &str) -> LayoutResult<(Value, Span)> {
        if let Some(value) = self.keyword(name) {
            return Ok(value);
        }
        if self.positional.is_empty() {
            return Err(self.error(format!("`{}` is missing its argument `{name}`", self.name)));
        }
        Ok(self.positional.remove(0))
    }

    fn register(&mut self, name: &str) -> LayoutResult<RegisterLayout> {
        match self.argument(name)? {
            (Value::Register(layout), _) => Ok(layout),
            (other, span) => Err(LayoutError::syntax(
                span,
                format!("`{}` needs a register layout, not {}", self.name, other.kind()),
            )),
        }
    }

    /// The remaining positional arguments as sizes: either integers, or one list of integers.
    fn rest_as_sizes(&mut self) -> LayoutResult<Vec<usize>> {
        let rest = std::mem::take(&mut self.positional);
        match rest.as_slice() {
            [(Value::List(_), _)] => sizes(&rest[0]),
            _ => rest.iter().map(size_or_zero).collect(),
        }
    }

    /// Fails on arguments nobody took.
    fn finish(&self) -> LayoutResult<()> {
        if let Some((_, span)) = self.positional.first() {
            return Err(LayoutError::syntax(*span, format!("too many arguments to `{}`", self.name)));
        }
        if let Some((keyword, span, _)) = self.keywords.first() {
            return Err(LayoutError::syntax(*span, format!("`{}` takes no argument `{keyword}`", self.name)));
        }
        Ok(())
    }
}

/// A non-negative integer (zero is left to the operations to reject, with their own message).
fn size_or_zero((value, span): &(Value, Span)) -> LayoutResult<usize> {
    match value {
        Value::Int(integer) => usize::try_from(*integer).map_err(|_| {
            LayoutError::syntax(*span, format!("expected a non-negative integer, found {integer}"))
        }),
        other => Err(LayoutError::syntax(*span, format!("expected an integer, found {}", other.kind()))),
    }
}

/// A list of non-negative integers (a single integer counts as a list of one).
fn sizes(argument: &(Value, Span)) -> LayoutResult<Vec<usize>> {
    match &argument.0 {
        Value::List(items) => items.iter().map(|item| size_or_zero(&(item.clone(), argument.1))).collect(),
        Value::Int(_) => Ok(vec![size_or_zero(argument)?]),
        other => Err(LayoutError::syntax(
            argument.1,
            format!("expected a list of integers, found {}", other.kind()),
        )),
    }
}

/// A list of integers of any sign.
fn integers((value, span): &(Value, Span)) -> LayoutResult<Vec<i64>> {
    match value {
        Value::List(items) => items
            .iter()
            .map(|item| match item {
                Value::Int(integer) => Ok(*integer),
                other => {
                    Err(LayoutError::syntax(*span, format!("expected an integer, found {}", other.kind())))
                }
            })
            .collect(),
        other => {
            Err(LayoutError::syntax(*span, format!("expected a list of integers, found {}", other.kind())))
        }
    }
}
