//! Kernel instantiation: binds compile-time parameters (`--set` values, else defaults), declares the
//! run-time parameters and their global views, evaluates the block attributes, then checks the body.

use tilevm_vm::DataType;
use tilevm_vm::interp::fold_constants;
use tilevm_vm::ir::{Expr as IrExpr, ExprKind as IrExprKind, Inst, Kernel};

use super::builtins::memory::row_major_strides;
use super::dtypes::{dtype_from_name, dtype_name, is_int};
use super::value::{GlobalView, Value};
use super::{Binding, Checker, Origin};
use crate::diagnostic::Diagnostic;
use crate::lower::Emitter;
use crate::syntax::ast::{ConstParam, Expr, KernelDef, Param, ParamType};

/// The most threads a block may have.
const MAX_THREADS: i128 = 1024;

/// Threads per block when the kernel has no `threads(...)` attribute.
const DEFAULT_THREADS: usize = 128;

/// Checks and lowers one kernel with the given `--set` values; `None` when it has errors.
pub(crate) fn instantiate(
    checker: &mut Checker<'_>,
    def: &KernelDef,
    sets: &[(String, String)],
) -> Option<Kernel> {
    let errors_before = checker.diagnostics.len();
    for param in &def.consts {
        let set = sets.iter().rev().find(|(key, _)| *key == param.name.name).map(|(_, value)| value.as_str());
        let value = checker.const_value(param, set);
        checker
            .bind(&param.name.name, Binding::Value { value, origin: Origin::Const, span: param.name.span });
    }
    let num_threads = checker.threads_attr(def);
    checker.num_threads = num_threads;
    checker.emit = Emitter::new(&def.name.name, num_threads as u32);
    if let Some(attr) = def.attrs.iter().find(|attr| attr.name.name == "shared_limit")
        && let [arg] = attr.args.as_slice()
    {
        let value = checker.eval(arg);
        match value.const_int().and_then(|bytes| u32::try_from(bytes).ok()) {
            Some(bytes) => checker.emit.shared_limit_bytes(bytes),
            None => {
                checker.error(
                    Diagnostic::error("`shared_limit` takes a byte count")
                        .with_label(arg.span, "not a constant"),
                );
            }
        }
    }
    checker.declare_params(def);
    checker.grid_attr(def);
    for attr in &def.attrs {
        if !matches!(attr.name.name.as_str(), "grid" | "threads" | "shared_limit") {
            checker.error(
                Diagnostic::error(format!("unknown block attribute `{}`", attr.name.name))
                    .with_label(attr.name.span, "not an attribute")
                    .with_note(
                        "block attributes are `grid(x, y, z)`, `threads(n)` and `shared_limit(bytes)`",
                    ),
            );
        }
    }
    let value = checker.check_block(&def.body, None);
    if let (Some(tail), false) = (&def.body.tail, matches!(value, Value::Unit | Value::Poison)) {
        checker.error(
            Diagnostic::error("a kernel body cannot produce a value")
                .with_label(tail.span, "this value is unused")
                .with_note("end the expression with `;`"),
        );
    }
    while let Some((shared, _)) = checker.shared_live.pop() {
        checker.emit.inst(Inst::FreeShared { tile: shared }, def.body.span);
    }
    let emit = std::mem::replace(&mut checker.emit, Emitter::new("", 1));
    (checker.diagnostics.len() == errors_before).then(|| emit.finish())
}

impl Checker<'_> {
    /// The value of a compile-time parameter: its `--set` text, else its default.
    fn const_value(&mut self, param: &ConstParam, set: Option<&str>) -> Value {
        let is_dtype = param.ty.name == "dtype";
        let int_dtype = if is_dtype { None } else { dtype_from_name(&param.ty.name) };
        if !is_dtype && !int_dtype.is_some_and(|dtype| is_int(dtype) && dtype.is_compute()) {
            return self.error(
                Diagnostic::error(format!(
                    "compile-time parameters are `dtype` or an integer type, not `{}`",
                    param.ty.name
                ))
                .with_label(param.ty.span, "unsupported parameter type")
                .with_note("write `W: dtype = u4` or `BLOCK_N: u32 = 64`"),
            );
        }
        if let Some(text) = set {
            return self.set_value(param, text, int_dtype);
        }
        let Some(default) = &param.default else {
            return self.error(
                Diagnostic::error(format!("no value for the compile-time parameter `{}`", param.name.name))
                    .with_label(param.span, "declared without a default")
                    .with_note(format!("pass `--set {}=VALUE` or give it a default", param.name.name)),
            );
        };
        let value = self.eval(default);
        match (value, int_dtype) {
            (Value::Dtype(dtype), None) => Value::Dtype(dtype),
            (Value::Poison, _) => Value::Poison,
            (value, Some(dtype)) if !matches!(value, Value::Dtype(_)) => {
                self.coerce_scalar(&(value, default.span), dtype).map_or(Value::Poison, Value::Scalar)
            }
            (value, _) => self.error(
                Diagnostic::error(format!("the default of `{}` is {}", param.name.name, value.describe()))
                    .with_label(
                        default.span,
                        format!("expected {}", if is_dtype { "a dtype" } else { "an integer" }),
                    ),
            ),
        }
    }

    /// Parses a `--set NAME=VALUE` value; errors point at the parameter's declaration.
    fn set_value(&mut self, param: &ConstParam, text: &str, int_dtype: Option<DataType>) -> Value {
        let text = text.trim();
        match int_dtype {
            None => match dtype_from_name(text) {
                Some(dtype) => Value::Dtype(dtype),
                None => self.error(
                    Diagnostic::error(format!("`--set {}={text}`: `{text}` is not a dtype", param.name.name))
                        .with_label(param.span, "this parameter is a dtype")
                        .with_note("dtypes are `bool`, `u1`..`u32`, `u64`, `i1`..`i32`, `i64`, `f32`, `f16`, `bf16` and minifloats such as `f8e4m3fn`"),
                ),
            },
            Some(dtype) => {
                let parsed = text.parse::<i128>().ok();
                match parsed {
                    Some(value) => {
                        let span = param.span;
                        match self.int_const(value, dtype, span) {
                            Some(expr) => Value::Scalar(expr),
                            None => Value::Poison,
                        }
                    }
                    None => self.error(
                        Diagnostic::error(format!(
                            "`--set {}={text}`: `{text}` is not an integer",
                            param.name.name
                        ))
                        .with_label(param.span, format!("this parameter is {}", dtype_name(dtype))),
                    ),
                }
            }
        }
    }

    /// Threads per block from `threads(n)` (a compile-time constant in `1..=1024`).
    fn threads_attr(&mut self, def: &KernelDef) -> usize {
        let Some(attr) = def.attrs.iter().find(|attr| attr.name.name == "threads") else {
            return DEFAULT_THREADS;
        };
        let [arg] = attr.args.as_slice() else {
            self.error(
                Diagnostic::error("`threads` takes one argument")
                    .with_label(attr.span, "e.g. `threads(128)`"),
            );
            return DEFAULT_THREADS;
        };
        let value = self.eval(arg);
        match value.const_int() {
            Some(threads) if (1..=MAX_THREADS).contains(&threads) => threads as usize,
            _ => {
                if !matches!(value, Value::Poison) {
                    self.error(
                        Diagnostic::error("`threads` must be a compile-time constant in 1..=1024")
                            .with_label(arg.span, format!("this is {}", value.describe())),
                    );
                }
                DEFAULT_THREADS
            }
        }
    }

    /// Declares the run-time parameters in call order; global views get their shapes once every scalar
    /// parameter is in scope (a shape may name a later parameter: `x: global f16[k], k: u32`).
    fn declare_params(&mut self, def: &KernelDef) {
        let mut globals = Vec::new();
        for param in &def.params {
            if self
                .lookup(&param.name.name)
                .is_some_and(|binding| matches!(binding, Binding::Value { origin: Origin::Param, .. }))
            {
                self.error(
                    Diagnostic::error(format!("parameter `{}` is declared twice", param.name.name))
                        .with_label(param.name.span, "declared again here"),
                );
                continue;
            }
            match &param.ty {
                ParamType::Scalar(ty) => {
                    let Some(dtype) = self.dtype_of_ident(ty) else {
                        self.bind(
                            &param.name.name,
                            Binding::Value { value: Value::Poison, origin: Origin::Param, span: param.span },
                        );
                        continue;
                    };
                    if !dtype.is_compute() {
                        self.error(
                            Diagnostic::error(format!(
                                "scalar parameters need a compute dtype, not {}",
                                dtype_name(dtype)
                            ))
                            .with_label(ty.span, "storage-only dtype")
                            .with_note("pass it as `u32` or `i32` and convert inside the kernel"),
                        );
                    }
                    let default =
                        param.default.as_ref().and_then(|default| self.param_default(param, default, dtype));
                    let expr = self.emit.scalar_param(&param.name.name, dtype, default);
                    self.bind(
                        &param.name.name,
                        Binding::Value {
                            value: Value::Scalar(expr),
                            origin: Origin::Param,
                            span: param.name.span,
                        },
                    );
                }
                ParamType::Global { mutable, dtype, shape } => {
                    if let Some(default) = &param.default {
                        self.error(
                            Diagnostic::error(format!(
                                "the tensor parameter `{}` cannot have a default",
                                param.name.name
                            ))
                            .with_label(default.span, "only scalar parameters take defaults"),
                        );
                    }
                    let resolved = self.dtype_of_ident(dtype);
                    let id =
                        self.emit.global_param(&param.name.name, resolved.unwrap_or(DataType::U8), *mutable);
                    // Bound as poison until the view exists, so uses inside other shapes are reported once.
                    self.bind(
                        &param.name.name,
                        Binding::Value { value: Value::Poison, origin: Origin::Param, span: param.name.span },
                    );
                    globals.push((param, id, resolved, *mutable, shape));
                }
            }
        }
        for (param, id, resolved, mutable, shape) in globals {
            let mut extents = Vec::with_capacity(shape.len());
            for extent in shape {
                let value = self.eval(extent);
                if let Some(expr) = self.size(&(value, extent.span), "a tensor size") {
                    extents.push(expr);
                }
            }
            let Some(dtype) = resolved else { continue };
            if extents.len() != shape.len() || shape.is_empty() {
                if shape.is_empty() {
                    self.error(
                        Diagnostic::error("a global tensor needs a shape")
                            .with_label(param.span, "e.g. `global f16[n]`"),
                    );
                }
                continue;
            }
            let strides = row_major_strides(&extents);
            let rank = extents.len();
            let view = self.emit.global(&param.name.name, id, dtype);
            self.emit.inst(
                Inst::ViewGlobal { dst: view, shape: extents, strides, offset: IrExpr::u32(0) },
                param.span,
            );
            let value = Value::Global(GlobalView {
                id: view,
                param: id,
                dtype,
                rank,
                mutable,
                name: param.name.name.clone(),
            });
            self.bind(
                &param.name.name,
                Binding::Value { value, origin: Origin::Param, span: param.name.span },
            );
        }
    }

    /// A scalar parameter's default: a compile-time constant of its dtype, as a bit pattern.
    fn param_default(&mut self, param: &Param, default: &Expr, dtype: DataType) -> Option<u64> {
        let value = self.eval(default);
        let expr = fold_constants(&self.coerce_scalar(&(value, default.span), dtype)?);
        match expr.kind {
            IrExprKind::Const(code) => Some(code),
            _ => {
                self.error(
                    Diagnostic::error(format!(
                        "the default of `{}` must be a compile-time constant",
                        param.name.name
                    ))
                    .with_label(default.span, "this depends on run-time values")
                    .with_note("write a literal, or an expression of literals and compile-time parameters"),
                );
                None
            }
        }
    }

    /// The grid from `grid(x, y, z)`: one to three `u32` expressions (one block when absent).
    fn grid_attr(&mut self, def: &KernelDef) {
        let Some(attr) = def.attrs.iter().find(|attr| attr.name.name == "grid") else {
            self.emit.grid(vec![IrExpr::u32(1)]);
            return;
        };
        if attr.args.is_empty() || attr.args.len() > 3 {
            self.error(
                Diagnostic::error("`grid` takes one to three sizes")
                    .with_label(attr.span, "e.g. `grid(cdiv(n, BLOCK_N))`"),
            );
            return;
        }
        let mut grid = Vec::with_capacity(attr.args.len());
        for arg in &attr.args {
            let value = self.eval(arg);
            let Some(expr) = self.size(&(value, arg.span), "a grid size") else { continue };
            grid.push(expr);
        }
        self.emit.grid(grid);
    }
}
