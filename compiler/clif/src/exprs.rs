//! Block-uniform scalar expressions, and the scalar operators that elementwise tile instructions share.
//!
//! Values are held in their slot types (see `frame::slot_type`): `bool` as `i8` 0/1, 32- and 64-bit
//! integers natively, `f32` natively, `f16` and `bf16` as 16-bit codes that each operator decodes to `f32`,
//! computes on and rounds back once (`vm::interp::scalar`: f16/bf16 arithmetic is f32 arithmetic rounded once).
//! Integer division follows `vm/src/ir/expr.rs`: `x / 0 == x`, `x % 0 == 0`, `MIN / -1 == MIN`,
//! `MIN % -1 == 0`; the guards keep Cranelift's trapping divisions from ever trapping.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{InstBuilder, Value, types};
use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{BinaryOp, Expr, ExprKind, Rounding, TernaryOp, UnaryOp};

use super::abi::{self, Helper};
use super::lowerer::{ClifLowerer, mem, value_type};
use super::{ClifError, ClifResult};

/// How a compute dtype is held and computed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    /// `bool` as `i8`.
    Bool,
    /// An integer, signed or not, as `i32`/`i64`.
    Int { signed: bool },
    /// `f32`.
    F32,
    /// `f16`/`bf16` codes, computed on in `f32`.
    Half,
}

/// The family of a compute dtype.
pub(super) fn family(dtype: DataType) -> ClifResult<Family> {
    match dtype {
        DataType::Bool => Ok(Family::Bool),
        DataType::Int(int) if int.bits == 32 || int.bits == 64 => Ok(Family::Int { signed: int.signed }),
        _ if dtype == DataType::F32 => Ok(Family::F32),
        _ if dtype == DataType::F16 || dtype == DataType::BF16 => Ok(Family::Half),
        _ => Err(ClifError::Malformed(format!("arithmetic on the storage dtype {dtype}"))),
    }
}

impl ClifLowerer<'_> {
    /// Lowers a scalar expression to a value of its dtype's slot type.
    pub(super) fn expr(&mut self, expr: &Expr) -> ClifResult<Value> {
        match &expr.kind {
            ExprKind::Const(code) => Ok(self.constant(expr.dtype, *code)),
            ExprKind::Var(var) => {
                let variable = self.variable(*var)?;
                Ok(self.builder.use_var(variable))
            }
            ExprKind::Unary(op, operand) => {
                let value = self.expr(operand)?;
                self.unary(*op, operand.dtype, value)
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let lhs_value = self.expr(lhs)?;
                let rhs_value = self.expr(rhs)?;
                self.binary(*op, lhs.dtype, rhs.dtype, lhs_value, rhs_value)
            }
            ExprKind::Ternary(op, a, b, c) => {
                let a_value = self.expr(a)?;
                let b_value = self.expr(b)?;
                let c_value = self.expr(c)?;
                self.ternary(*op, b.dtype, a_value, b_value, c_value)
            }
            ExprKind::Cast(operand) => {
                let value = self.expr(operand)?;
                let index = self.builder.ins().iconst(types::I64, 0);
                self.cast(operand.dtype, expr.dtype, value, Rounding::NearestEven, index)
            }
            ExprKind::BlockIndex(axis) | ExprKind::GridSize(axis) => {
                if *axis > 2 {
                    return Err(ClifError::Malformed(format!("grid axis {axis}")));
                }
                let base = if matches!(expr.kind, ExprKind::GridSize(_)) { abi::GRID_SIZE_OFFSET } else { 0 };
                Ok(self.builder.ins().load(types::I32, mem(), self.ctx_ptr, base + 4 * i32::from(*axis)))
            }
        }
    }

    /// A constant of `dtype` from its code.
    pub(super) fn constant(&mut self, dtype: DataType, code: u64) -> Value {
        let ty = value_type(dtype);
        if ty == types::F32 {
            return self.builder.ins().f32const(f32::from_bits(code as u32));
        }
        let bits = dtype.bits().min(64);
        let masked = if bits >= 64 { code } else { code & ((1u64 << bits) - 1) };
        self.builder.ins().iconst(ty, masked as i64)
    }

    /// `op(value)` for a value of `dtype`.
    pub(super) fn unary(&mut self, op: UnaryOp, dtype: DataType, value: Value) -> ClifResult<Value> {
        match family(dtype)? {
            Family::Bool => match op {
                UnaryOp::Not => Ok(self.builder.ins().bxor_imm_u(value, 1)),
                _ => Err(ClifError::Malformed(format!("{op:?} on bool"))),
            },
            Family::Int { signed } => match op {
                UnaryOp::Neg => Ok(self.builder.ins().ineg(value)),
                UnaryOp::Not => Ok(self.builder.ins().bnot(value)),
                UnaryOp::Abs if signed => Ok(self.builder.ins().iabs(value)),
                // `abs` of an unsigned value is the value.
                UnaryOp::Abs => Ok(value),
                _ => Err(ClifError::Malformed(format!("{op:?} on an integer"))),
            },
            Family::F32 => self.unary_f32(op, value),
            // The sign bit of `f16` and `bf16` codes is bit 15; flipping or clearing it keeps NaN payloads.
            Family::Half if op == UnaryOp::Neg => Ok(self.builder.ins().bxor_imm_u(value, 0x8000)),
            Family::Half if op == UnaryOp::Abs => Ok(self.builder.ins().band_imm_u(value, 0x7fff)),
            Family::Half => {
                let wide = self.half_to_f32(dtype, value)?;
                let result = self.unary_f32(op, wide)?;
                self.f32_to_half(dtype, result)
            }
        }
    }

    /// `value`, or the canonical quiet NaN when it is a NaN: the interpreter's arithmetic results (the
    /// hardware and the helpers keep an operand's payload).
    pub(super) fn canonical_f32(&mut self, value: Value) -> Value {
        let nan = self.builder.ins().fcmp(FloatCC::Unordered, value, value);
        let canonical = self.builder.ins().f32const(f32::from_bits(0x7fc0_0000));
        self.builder.ins().select(nan, canonical, value)
    }

    fn unary_f32(&mut self, op: UnaryOp, value: Value) -> ClifResult<Value> {
        let ins = self.builder.ins();
        let result = match op {
            // Sign-bit operations keep every code, NaN payloads included.
            UnaryOp::Neg => return Ok(ins.fneg(value)),
            UnaryOp::Abs => return Ok(ins.fabs(value)),
            UnaryOp::Sqrt => ins.sqrt(value),
            UnaryOp::Rsqrt => {
                let root = ins.sqrt(value);
                let one = self.builder.ins().f32const(1.0);
                self.builder.ins().fdiv(one, root)
            }
            UnaryOp::Floor => ins.floor(value),
            UnaryOp::Ceil => ins.ceil(value),
            UnaryOp::Round => ins.nearest(value),
            UnaryOp::Trunc => ins.trunc(value),
            UnaryOp::Exp => self.call_helper(Helper::Exp, &[value]),
            UnaryOp::Exp2 => self.call_helper(Helper::Exp2, &[value]),
            UnaryOp::Log => self.call_helper(Helper::Log, &[value]),
            UnaryOp::Log2 => self.call_helper(Helper::Log2, &[value]),
            UnaryOp::Sin => self.call_helper(Helper::Sin, &[value]),
            UnaryOp::Cos => self.call_helper(Helper::Cos, &[value]),
            UnaryOp::Tanh => self.call_helper(Helper::Tanh, &[value]),
            UnaryOp::Not => return Err(ClifError::Malformed("`not` on a float".to_string())),
        };
        Ok(self.canonical_f32(result))
    }

    /// `lhs op rhs` for operands of `dtype` (the shift amount of `Shl`/`Shr` is of `rhs_dtype`).
    pub(super) fn binary(
        &mut self,
        op: BinaryOp,
        dtype: DataType,
        rhs_dtype: DataType,
        lhs: Value,
        rhs: Value,
    ) -> ClifResult<Value> {
        match family(dtype)? {
            Family::Bool => self.binary_bool(op, lhs, rhs),
            Family::Int { signed } => self.binary_int(op, signed, rhs_dtype, lhs, rhs),
            Family::F32 => self.binary_f32(op, lhs, rhs),
            Family::Half => {
                let lhs = self.half_to_f32(dtype, lhs)?;
                let rhs = self.half_to_f32(dtype, rhs)?;
                let result = self.binary_f32(op, lhs, rhs)?;
                if op.is_comparison() { Ok(result) } else { self.f32_to_half(dtype, result) }
            }
        }
    }

    fn binary_bool(&mut self, op: BinaryOp, lhs: Value, rhs: Value) -> ClifResult<Value> {
        let ins = self.builder.ins();
        Ok(match op {
            BinaryOp::And | BinaryOp::Min => ins.band(lhs, rhs),
            BinaryOp::Or | BinaryOp::Max => ins.bor(lhs, rhs),
            BinaryOp::Xor => ins.bxor(lhs, rhs),
            _ if op.is_comparison() => {
                let cc = int_cc(op, false);
                let result = ins.icmp(cc, lhs, rhs);
                return Ok(result);
            }
            _ => return Err(ClifError::Malformed(format!("{op:?} on bool"))),
        })
    }

    fn binary_int(
        &mut self,
        op: BinaryOp,
        signed: bool,
        rhs_dtype: DataType,
        lhs: Value,
        rhs: Value,
    ) -> ClifResult<Value> {
        let ty = self.builder.func.dfg.value_type(lhs);
        let result = match op {
            BinaryOp::Add => self.builder.ins().iadd(lhs, rhs),
            BinaryOp::Sub => self.builder.ins().isub(lhs, rhs),
            BinaryOp::Mul => self.builder.ins().imul(lhs, rhs),
            BinaryOp::Div | BinaryOp::Rem => self.divide(op == BinaryOp::Div, signed, lhs, rhs),
            BinaryOp::Min if signed => self.builder.ins().smin(lhs, rhs),
            BinaryOp::Min => self.builder.ins().umin(lhs, rhs),
            BinaryOp::Max if signed => self.builder.ins().smax(lhs, rhs),
            BinaryOp::Max => self.builder.ins().umax(lhs, rhs),
            BinaryOp::And => self.builder.ins().band(lhs, rhs),
            BinaryOp::Or => self.builder.ins().bor(lhs, rhs),
            BinaryOp::Xor => self.builder.ins().bxor(lhs, rhs),
            BinaryOp::Shl | BinaryOp::Shr => {
                // Amounts are taken modulo the width (Cranelift's shifts do that already); make the amount
                // the value's width so that no extension question arises.
                let amount = self.resize_int(rhs, value_type(rhs_dtype), ty);
                match (op, signed) {
                    (BinaryOp::Shl, _) => self.builder.ins().ishl(lhs, amount),
                    (_, true) => self.builder.ins().sshr(lhs, amount),
                    (_, false) => self.builder.ins().ushr(lhs, amount),
                }
            }
            _ => self.builder.ins().icmp(int_cc(op, signed), lhs, rhs),
        };
        Ok(result)
    }

    /// Integer division or remainder with the IR's total semantics.
    fn divide(&mut self, quotient: bool, signed: bool, lhs: Value, rhs: Value) -> Value {
        let ty = self.builder.func.dfg.value_type(lhs);
        let zero = self.builder.ins().iconst(ty, 0);
        let one = self.builder.ins().iconst(ty, 1);
        let divisor_zero = self.builder.ins().icmp_imm_s(IntCC::Equal, rhs, 0);
        if !signed {
            let safe = self.builder.ins().select(divisor_zero, one, rhs);
            return if quotient {
                let q = self.builder.ins().udiv(lhs, safe);
                self.builder.ins().select(divisor_zero, lhs, q)
            } else {
                let r = self.builder.ins().urem(lhs, safe);
                self.builder.ins().select(divisor_zero, zero, r)
            };
        }
        let divisor_minus_one = self.builder.ins().icmp_imm_s(IntCC::Equal, rhs, -1);
        let special = self.builder.ins().bor(divisor_zero, divisor_minus_one);
        let safe = self.builder.ins().select(special, one, rhs);
        if quotient {
            let q = self.builder.ins().sdiv(lhs, safe);
            let negated = self.builder.ins().ineg(lhs);
            let q = self.builder.ins().select(divisor_minus_one, negated, q);
            self.builder.ins().select(divisor_zero, lhs, q)
        } else {
            let r = self.builder.ins().srem(lhs, safe);
            self.builder.ins().select(special, zero, r)
        }
    }

    fn binary_f32(&mut self, op: BinaryOp, lhs: Value, rhs: Value) -> ClifResult<Value> {
        let result = match op {
            BinaryOp::Add => self.builder.ins().fadd(lhs, rhs),
            BinaryOp::Sub => self.builder.ins().fsub(lhs, rhs),
            BinaryOp::Mul => self.builder.ins().fmul(lhs, rhs),
            BinaryOp::Div => self.builder.ins().fdiv(lhs, rhs),
            BinaryOp::Rem => self.call_helper(Helper::Rem, &[lhs, rhs]),
            BinaryOp::Min | BinaryOp::Max => {
                // A NaN operand yields the other operand.
                let extreme = if op == BinaryOp::Min {
                    self.builder.ins().fmin(lhs, rhs)
                } else {
                    self.builder.ins().fmax(lhs, rhs)
                };
                let lhs_nan = self.builder.ins().fcmp(FloatCC::Unordered, lhs, lhs);
                let rhs_nan = self.builder.ins().fcmp(FloatCC::Unordered, rhs, rhs);
                let pick = self.builder.ins().select(rhs_nan, lhs, extreme);
                self.builder.ins().select(lhs_nan, rhs, pick)
            }
            BinaryOp::Eq => return Ok(self.builder.ins().fcmp(FloatCC::Equal, lhs, rhs)),
            BinaryOp::Ne => return Ok(self.builder.ins().fcmp(FloatCC::NotEqual, lhs, rhs)),
            BinaryOp::Lt => return Ok(self.builder.ins().fcmp(FloatCC::LessThan, lhs, rhs)),
            BinaryOp::Le => return Ok(self.builder.ins().fcmp(FloatCC::LessThanOrEqual, lhs, rhs)),
            BinaryOp::Gt => return Ok(self.builder.ins().fcmp(FloatCC::GreaterThan, lhs, rhs)),
            BinaryOp::Ge => return Ok(self.builder.ins().fcmp(FloatCC::GreaterThanOrEqual, lhs, rhs)),
            _ => return Err(ClifError::Malformed(format!("{op:?} on a float"))),
        };
        Ok(self.canonical_f32(result))
    }

    /// `op(a, b, c)` where `b` and `c` are of `dtype`.
    pub(super) fn ternary(
        &mut self,
        op: TernaryOp,
        dtype: DataType,
        a: Value,
        b: Value,
        c: Value,
    ) -> ClifResult<Value> {
        match op {
            TernaryOp::Select => Ok(self.builder.ins().select(a, b, c)),
            TernaryOp::Fma => match family(dtype)? {
                Family::F32 => {
                    let result = self.builder.ins().fma(a, b, c);
                    Ok(self.canonical_f32(result))
                }
                Family::Half => {
                    // Exact product in f64, one rounding: f64 -> f32 rounding to odd keeps the final
                    // rounding to 16 bits correct.
                    let mut wide = Vec::with_capacity(3);
                    for value in [a, b, c] {
                        let single = self.half_to_f32(dtype, value)?;
                        wide.push(self.builder.ins().fpromote(types::F64, single));
                    }
                    let exact = self.builder.ins().fma(wide[0], wide[1], wide[2]);
                    let single = self.f64_to_f32_odd(exact);
                    let single = self.canonical_f32(single);
                    self.f32_to_half(dtype, single)
                }
                Family::Int { .. } => {
                    let product = self.builder.ins().imul(a, b);
                    Ok(self.builder.ins().iadd(product, c))
                }
                Family::Bool => Err(ClifError::Malformed("fma on bool".to_string())),
            },
        }
    }

    /// Zero-extends or truncates an integer value between types.
    pub(super) fn resize_int(
        &mut self,
        value: Value,
        from: cranelift_codegen::ir::Type,
        to: cranelift_codegen::ir::Type,
    ) -> Value {
        if from == to {
            value
        } else if from.bits() < to.bits() {
            self.builder.ins().uextend(to, value)
        } else {
            self.builder.ins().ireduce(to, value)
        }
    }
}

fn int_cc(op: BinaryOp, signed: bool) -> IntCC {
    match (op, signed) {
        (BinaryOp::Eq, _) => IntCC::Equal,
        (BinaryOp::Ne, _) => IntCC::NotEqual,
        (BinaryOp::Lt, true) => IntCC::SignedLessThan,
        (BinaryOp::Lt, false) => IntCC::UnsignedLessThan,
        (BinaryOp::Le, true) => IntCC::SignedLessThanOrEqual,
        (BinaryOp::Le, false) => IntCC::UnsignedLessThanOrEqual,
        (BinaryOp::Gt, true) => IntCC::SignedGreaterThan,
        (BinaryOp::Gt, false) => IntCC::UnsignedGreaterThan,
        (BinaryOp::Ge, true) => IntCC::SignedGreaterThanOrEqual,
        _ => IntCC::UnsignedGreaterThanOrEqual,
    }
}
