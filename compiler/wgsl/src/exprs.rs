//! Values and scalar expressions: WGSL value types of compute dtypes, code ↔ value conversion, and the
//! scalar operators (shared by block-uniform expressions and elementwise tile instructions).
//
// Compute dtypes map to WGSL value types: `bool`, `i32`, `u32`, and `f32` for `f32`, `f16` and `bf16`.
// An `f16`/`bf16` value is an f32 that is exactly representable in its format: every operator computes
// in f32 and rounds once to the format (the IR's definition), so no native `f16` is needed. Integer
// operators rely on WGSL's defined integer semantics, which equal the IR's: wrapping `+ - *`,
// `x / 0 == x`, `x % 0 == 0`, `MIN / -1 == MIN`, shift amounts modulo 32 (made explicit here so that
// constant folding never sees an oversized shift).

use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{BinaryOp, Expr, ExprKind, Rounding, TernaryOp, UnaryOp};

use super::select::NanResults;
use super::writer::Ctx;
use super::{META_GRID_SIZE, WgslResult};
use super::{codec, fma};

impl Ctx<'_> {
    /// The WGSL type of values of a compute dtype.
    pub(super) fn value_type(&self, dtype: DataType) -> WgslResult<&'static str> {
        match dtype {
            DataType::Bool => Ok("bool"),
            DataType::I32 => Ok("i32"),
            DataType::U32 => Ok("u32"),
            DataType::F32 | DataType::F16 | DataType::BF16 => Ok("f32"),
            DataType::I64 | DataType::U64 => {
                Err(self.unsupported(format!("{dtype} arithmetic (WGSL has no 64-bit integers)")))
            }
            _ => Err(self.malformed(format!("{dtype} used as a compute dtype"))),
        }
    }

    /// The value of a code held in a `u32`.
    pub(super) fn decode_value(&mut self, dtype: DataType, code: &str) -> WgslResult<String> {
        Ok(match dtype {
            DataType::Bool => format!("({code} != 0u)"),
            DataType::I32 => format!("bitcast<i32>({code})"),
            DataType::U32 => code.to_string(),
            DataType::F32 => format!("bitcast<f32>({code})"),
            DataType::Float(format) if dtype == DataType::F16 || dtype == DataType::BF16 => {
                format!("bitcast<f32>({}({code}))", codec::require_decode(&mut self.prelude, &format))
            }
            _ => {
                self.value_type(dtype)?;
                return Err(self.malformed(format!("{dtype} used as a compute dtype")));
            }
        })
    }

    /// The code (in a `u32`) of a value.
    pub(super) fn encode_value(&mut self, dtype: DataType, value: &str) -> WgslResult<String> {
        Ok(match dtype {
            DataType::Bool => format!("select(0u, 1u, {value})"),
            DataType::I32 | DataType::F32 => format!("bitcast<u32>({value})"),
            DataType::U32 => value.to_string(),
            DataType::Float(format) if dtype == DataType::F16 || dtype == DataType::BF16 => {
                format!(
                    "{}(bitcast<u32>({value}), 0u, 0u)",
                    codec::require_encode(&mut self.prelude, &format)
                )
            }
            _ => {
                self.value_type(dtype)?;
                return Err(self.malformed(format!("{dtype} used as a compute dtype")));
            }
        })
    }

    /// `value`, an arithmetic result, with NaNs canonical and rounded to `dtype` when `dtype` is computed in a
    /// wider type (`f16`, `bf16`).
    fn rounded(&mut self, dtype: DataType, value: String) -> WgslResult<String> {
        // NaN results are the canonical quiet NaN, as in the interpreter (GPUs keep or alter payloads at
        // will).
        let value = match self.nans {
            NanResults::AnyPayload => value,
            NanResults::Canonical => {
                let nan = self.is_nan("x");
                self.prelude.require("canonical_nan", || {
                    format!("fn canonical_nan(x: f32) -> f32 {{\n    return select(x, bitcast<f32>(0x7fc00000u), {nan});\n}}\n")
                });
                format!("canonical_nan({value})")
            }
        };
        if dtype == DataType::F16 || dtype == DataType::BF16 {
            let code = self.encode_value(dtype, &value)?;
            self.decode_value(dtype, &code)
        } else {
            Ok(value)
        }
    }

    /// A constant of a compute dtype, from its code.
    pub(super) fn constant(&mut self, dtype: DataType, code: u64) -> WgslResult<String> {
        let low = (code & 0xffff_ffff) as u32;
        Ok(match dtype {
            DataType::Bool => (low & 1 == 1).to_string(),
            DataType::I32 => {
                if (low as i32) < 0 {
                    format!("bitcast<i32>({low}u)")
                } else {
                    format!("{low}i")
                }
            }
            DataType::U32 => format!("{low}u"),
            _ => {
                // Opaque to the shader compiler (`META_ZERO`), so that it keeps the IR's float arithmetic.
                let code = format!("({low}u | opaque_zero)");
                return self.decode_value(dtype, &code);
            }
        })
    }

    /// A block-uniform scalar expression as a WGSL value expression.
    pub(super) fn expr(&mut self, expr: &Expr) -> WgslResult<String> {
        let dtype = expr.dtype;
        match &expr.kind {
            ExprKind::Const(code) => self.constant(dtype, *code),
            ExprKind::Var(var) => {
                self.value_type(dtype)?;
                self.var_names
                    .get(var.index())
                    .cloned()
                    .ok_or_else(|| self.malformed(format!("unknown variable {var}")))
            }
            ExprKind::Unary(op, operand) => {
                let value = self.expr(operand)?;
                self.unary(*op, dtype, &value)
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let a = self.expr(lhs)?;
                let b = self.expr(rhs)?;
                self.binary(*op, lhs.dtype, &a, &b)
            }
            ExprKind::Ternary(op, a, b, c) => {
                let (a, b, c) = (self.expr(a)?, self.expr(b)?, self.expr(c)?);
                self.ternary(*op, dtype, &a, &b, &c)
            }
            ExprKind::Cast(operand) => {
                let value = self.expr(operand)?;
                self.cast_value(operand.dtype, dtype, &value, Rounding::NearestEven)
            }
            ExprKind::BlockIndex(axis) => Ok(format!("block.{}", axis_name(*axis))),
            ExprKind::GridSize(axis) => Ok(self.meta_word(META_GRID_SIZE + usize::from((*axis).min(2)))),
        }
    }

    /// Converts a value of `from` to a value of `to` (through codes, with `dtype::cast`'s semantics).
    pub(super) fn cast_value(
        &mut self,
        from: DataType,
        to: DataType,
        value: &str,
        rounding: Rounding,
    ) -> WgslResult<String> {
        if from == to {
            return Ok(value.to_string());
        }
        let code = self.encode_value(from, value)?;
        let cast = self.cast_code(from, to, &code, rounding)?;
        self.decode_value(to, &cast)
    }

    /// Converts a code of `from` to a code of `to` (as element 0 for stochastic rounding).
    pub(super) fn cast_code(
        &mut self,
        from: DataType,
        to: DataType,
        code: &str,
        rounding: Rounding,
    ) -> WgslResult<String> {
        self.cast_code_at(from, to, code, rounding, "0u")
    }

    /// Converts a code of `from` to a code of `to`; `index` (a `u32` expression) is the element index
    /// that stochastic rounding hashes.
    pub(super) fn cast_code_at(
        &mut self,
        from: DataType,
        to: DataType,
        code: &str,
        rounding: Rounding,
        index: &str,
    ) -> WgslResult<String> {
        for dtype in [from, to] {
            if dtype.bits() > 32 {
                return Err(self.unsupported(format!("{dtype} values (WGSL has no 64-bit integers)")));
            }
        }
        Ok(codec::cast_code(&mut self.prelude, from, to, code, rounding, index))
    }

    /// An integer value as an `i32` expression (for indices and offsets).
    pub(super) fn as_i32(&self, dtype: DataType, value: &str) -> WgslResult<String> {
        match dtype {
            DataType::I32 => Ok(value.to_string()),
            DataType::U32 => Ok(format!("bitcast<i32>({value})")),
            DataType::I64 | DataType::U64 => Err(self.unsupported("64-bit index arithmetic".to_string())),
            _ => Err(self.malformed(format!("index of dtype {dtype}"))),
        }
    }

    /// `op(value)` for a value of `dtype`.
    pub(super) fn unary(&mut self, op: UnaryOp, dtype: DataType, value: &str) -> WgslResult<String> {
        self.value_type(dtype)?;
        let is_float = dtype.is_float();
        // Negation and absolute value of a float are exact and keep NaN payloads: no rounding.
        let result = match op {
            UnaryOp::Neg if is_float => {
                return Ok(format!("bitcast<f32>(bitcast<u32>({value}) ^ 0x80000000u)"));
            }
            UnaryOp::Neg if dtype == DataType::U32 => format!("(0u - {value})"),
            UnaryOp::Neg => format!("(-{value})"),
            UnaryOp::Not if dtype == DataType::Bool => format!("(!{value})"),
            UnaryOp::Not => format!("(~{value})"),
            UnaryOp::Abs if is_float => {
                return Ok(format!("bitcast<f32>(bitcast<u32>({value}) & 0x7fffffffu)"));
            }
            // The identity, written out: `abs` of a `u32` came out as the signed absolute value on Mesa's
            // llvmpipe through wgpu's GL backend.
            UnaryOp::Abs if matches!(dtype, DataType::Int(int) if !int.signed) => format!("({value})"),
            UnaryOp::Abs => format!("abs({value})"),
            _ if !is_float => return Err(self.malformed(format!("{op:?} on {dtype}"))),
            UnaryOp::Exp => format!("exp({value})"),
            UnaryOp::Exp2 => format!("exp2({value})"),
            UnaryOp::Log => format!("log({value})"),
            UnaryOp::Log2 => format!("log2({value})"),
            UnaryOp::Sqrt => format!("sqrt({value})"),
            UnaryOp::Rsqrt => format!("inverseSqrt({value})"),
            UnaryOp::Sin => format!("sin({value})"),
            UnaryOp::Cos => format!("cos({value})"),
            UnaryOp::Tanh => {
                // llvmpipe's `tanh` (through wgpu's GL backend) clamps its argument, which turns a NaN into -1.
                let nan = self.is_nan("x");
                self.prelude.require("tanh_nan", || {
                    format!("fn tanh_nan(x: f32) -> f32 {{\n    if ({nan}) {{ return x; }}\n    return tanh(x);\n}}\n")
                });
                format!("tanh_nan({value})")
            }
            UnaryOp::Floor => format!("floor({value})"),
            UnaryOp::Ceil => format!("ceil({value})"),
            UnaryOp::Round => format!("round({value})"),
            UnaryOp::Trunc => format!("trunc({value})"),
        };
        if is_float { self.rounded(dtype, result) } else { Ok(result) }
    }

    /// `a op b` for operands of `dtype` (the result is `bool` for comparisons).
    pub(super) fn binary(&mut self, op: BinaryOp, dtype: DataType, a: &str, b: &str) -> WgslResult<String> {
        self.value_type(dtype)?;
        let is_float = dtype.is_float();
        let is_bool = dtype == DataType::Bool;
        let result = match op {
            BinaryOp::Add => format!("({a} + {b})"),
            BinaryOp::Sub => format!("({a} - {b})"),
            BinaryOp::Mul => format!("({a} * {b})"),
            BinaryOp::Div => format!("({a} / {b})"),
            BinaryOp::Rem if matches!(dtype, DataType::Int(int) if int.signed) => {
                // Through magnitudes: a signed `%` of some negative operands came out wrong on Mesa's
                // llvmpipe through wgpu's GL backend (-442001300 % -1545345239 as a - b), and the
                // unsigned `%` is exact. A zero divisor gives 0, as naga's guard and the interpreter do.
                self.prelude.require("rem_i32", || {
                    "fn rem_i32(a: i32, b: i32) -> i32 {\n    let m = bitcast<i32>(u32(abs(a)) % u32(abs(b)));\n    return select(m, -m, a < 0i);\n}\n".to_string()
                });
                format!("rem_i32({a}, {b})")
            }
            BinaryOp::Rem => format!("({a} % {b})"),
            BinaryOp::Min if is_float => {
                self.require_nan_aware_minmax();
                format!("fmin_nan({a}, {b})")
            }
            BinaryOp::Max if is_float => {
                self.require_nan_aware_minmax();
                format!("fmax_nan({a}, {b})")
            }
            BinaryOp::Min if is_bool => format!("({a} && {b})"),
            BinaryOp::Max if is_bool => format!("({a} || {b})"),
            BinaryOp::Min => format!("min({a}, {b})"),
            BinaryOp::Max => format!("max({a}, {b})"),
            BinaryOp::And if is_bool => format!("({a} && {b})"),
            BinaryOp::Or if is_bool => format!("({a} || {b})"),
            BinaryOp::Xor if is_bool => format!("({a} != {b})"),
            BinaryOp::And | BinaryOp::Or | BinaryOp::Xor | BinaryOp::Shl | BinaryOp::Shr if is_float => {
                return Err(self.malformed(format!("{op:?} on {dtype}")));
            }
            BinaryOp::And => format!("({a} & {b})"),
            BinaryOp::Or => format!("({a} | {b})"),
            BinaryOp::Xor => format!("({a} ^ {b})"),
            BinaryOp::Shl => format!("({a} << ({b} & 31u))"),
            BinaryOp::Shr => format!("({a} >> ({b} & 31u))"),
            BinaryOp::Eq => return Ok(format!("({a} == {b})")),
            BinaryOp::Ne => return Ok(format!("({a} != {b})")),
            BinaryOp::Lt => return Ok(format!("({a} < {b})")),
            BinaryOp::Le => return Ok(format!("({a} <= {b})")),
            BinaryOp::Gt => return Ok(format!("({a} > {b})")),
            BinaryOp::Ge => return Ok(format!("({a} >= {b})")),
        };
        if is_bool
            && matches!(
                op,
                BinaryOp::Add
                    | BinaryOp::Sub
                    | BinaryOp::Mul
                    | BinaryOp::Div
                    | BinaryOp::Rem
                    | BinaryOp::Shl
                    | BinaryOp::Shr
            )
        {
            return Err(self.malformed(format!("{op:?} on bool")));
        }
        if is_float { self.rounded(dtype, result) } else { Ok(result) }
    }

    /// `op(a, b, c)`; `dtype` is the result's.
    pub(super) fn ternary(
        &mut self,
        op: TernaryOp,
        dtype: DataType,
        a: &str,
        b: &str,
        c: &str,
    ) -> WgslResult<String> {
        self.value_type(dtype)?;
        match op {
            TernaryOp::Select => Ok(format!("select({c}, {b}, {a})")),
            // WGSL's `fma` may round twice: emulate the interpreter's single rounding with integers.
            TernaryOp::Fma if dtype == DataType::F32 => {
                Ok(format!("{}({a}, {b}, {c})", fma::require_fma_f32(&mut self.prelude)))
            }
            TernaryOp::Fma if dtype.is_float() => {
                let DataType::Float(format) = dtype else {
                    return Err(self.malformed(format!("fma on {dtype}")));
                };
                let code = format!("{}({a}, {b}, {c})", fma::require_fma_code(&mut self.prelude, &format));
                self.decode_value(dtype, &code)
            }
            TernaryOp::Fma => Ok(format!("({a} * {b} + {c})")),
        }
    }

    fn require_nan_aware_minmax(&mut self) {
        let (a_nan, b_nan) = (self.is_nan("a"), self.is_nan("b"));
        // Equal operands are equal bits except for zeros of both signs, where `min` takes `-0` (the OR of
        // the bits) and `max` `+0` (their AND), as the interpreter does; WGSL's builtins may take either.
        // Selects, not branches: in a loop over a tile (a reduction) llvmpipe runs every branch under a
        // lane mask, and the branchy form made a 64-wide row maximum 18x slower than the rest of its kernel.
        for (name, builtin, zeros) in [("fmin_nan", "min", "|"), ("fmax_nan", "max", "&")] {
            self.prelude.require(name, || {
                format!(
                    "fn {name}(a: f32, b: f32) -> f32 {{\n    let m = select({builtin}(a, b), bitcast<f32>(bitcast<u32>(a) {zeros} bitcast<u32>(b)), a == b);\n    return select(select(m, a, {b_nan}), b, {a_nan});\n}}\n"
                )
            });
        }
    }

    /// Whether the f32 value `x` is a NaN, tested on its bits, which no fast-math assumption about NaNs can
    /// fold away (as `x != x` may be).
    pub(super) fn is_nan(&mut self, x: &str) -> String {
        self.prelude.require("is_nan_bits", || {
            "fn is_nan_bits(x: f32) -> bool {\n    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;\n}\n"
                .to_string()
        });
        format!("is_nan_bits({x})")
    }
}

/// `x`, `y` or `z`.
pub(super) fn axis_name(axis: u8) -> &'static str {
    match axis {
        0 => "x",
        1 => "y",
        _ => "z",
    }
}
