use super::*;

const I32: DataType = DataType::I32;
const U32: DataType = DataType::U32;
const F32: DataType = DataType::F32;
const F16: DataType = DataType::F16;

fn i32_code(value: i32) -> u64 {
    u64::from(value as u32)
}

fn f32_code(value: f32) -> u64 {
    u64::from(value.to_bits())
}

fn f16_code(value: f32) -> u64 {
    u64::from(half::f16::from_f32(value).to_bits())
}

#[test]
fn integer_division_edge_cases() {
    assert_eq!(eval_binary(BinaryOp::Div, I32, i32_code(7), 0), i32_code(7));
    assert_eq!(eval_binary(BinaryOp::Rem, I32, i32_code(7), 0), 0);
    assert_eq!(eval_binary(BinaryOp::Div, I32, i32_code(i32::MIN), i32_code(-1)), i32_code(i32::MIN));
    assert_eq!(eval_binary(BinaryOp::Rem, I32, i32_code(i32::MIN), i32_code(-1)), 0);
    assert_eq!(eval_binary(BinaryOp::Div, I32, i32_code(-7), i32_code(2)), i32_code(-3));
    assert_eq!(eval_binary(BinaryOp::Rem, I32, i32_code(-7), i32_code(2)), i32_code(-1));
    assert_eq!(eval_binary(BinaryOp::Div, U32, u64::from(u32::MAX), 2), u64::from(u32::MAX / 2));
    let i64_min = i64::MIN as u64;
    assert_eq!(eval_binary(BinaryOp::Div, DataType::I64, i64_min, u64::MAX), i64_min);
}

#[test]
fn integer_arithmetic_wraps_at_width() {
    assert_eq!(eval_binary(BinaryOp::Add, I32, i32_code(i32::MAX), i32_code(1)), i32_code(i32::MIN));
    assert_eq!(eval_binary(BinaryOp::Mul, U32, 0x1_0000, 0x1_0000), 0);
    assert_eq!(eval_unary(UnaryOp::Neg, I32, i32_code(i32::MIN)), i32_code(i32::MIN));
    assert_eq!(eval_unary(UnaryOp::Abs, I32, i32_code(i32::MIN)), i32_code(i32::MIN));
    assert_eq!(eval_unary(UnaryOp::Abs, I32, i32_code(-5)), i32_code(5));
    assert_eq!(eval_unary(UnaryOp::Not, U32, 0), u64::from(u32::MAX));
    assert_eq!(eval_unary(UnaryOp::Not, DataType::BOOL, 1), 0);
}

#[test]
fn shifts_take_the_amount_modulo_the_width() {
    assert_eq!(eval_binary(BinaryOp::Shl, U32, 1, 33), 2);
    assert_eq!(eval_binary(BinaryOp::Shr, I32, i32_code(-8), 1), i32_code(-4));
    assert_eq!(eval_binary(BinaryOp::Shr, U32, u64::from(0x8000_0000u32), 31), 1);
    assert_eq!(eval_binary(BinaryOp::Shr, U32, 8, 32), 8);
}

#[test]
fn integer_comparisons_respect_signedness() {
    assert_eq!(eval_binary(BinaryOp::Lt, I32, i32_code(-1), i32_code(0)), 1);
    assert_eq!(eval_binary(BinaryOp::Lt, U32, u64::from(u32::MAX), 0), 0);
    assert_eq!(eval_binary(BinaryOp::Max, I32, i32_code(-1), i32_code(3)), i32_code(3));
    assert_eq!(eval_binary(BinaryOp::Min, U32, u64::from(u32::MAX), 3), 3);
}

#[test]
fn float_min_max_ignore_one_nan() {
    let nan = f32_code(f32::NAN);
    assert_eq!(eval_binary(BinaryOp::Min, F32, nan, f32_code(2.0)), f32_code(2.0));
    assert_eq!(eval_binary(BinaryOp::Max, F32, f32_code(2.0), nan), f32_code(2.0));
    assert_eq!(eval_binary(BinaryOp::Min, F32, f32_code(0.0), f32_code(-0.0)), f32_code(-0.0));
    assert_eq!(eval_binary(BinaryOp::Max, F32, f32_code(-0.0), f32_code(0.0)), f32_code(0.0));
    assert_eq!(eval_binary(BinaryOp::Eq, F32, nan, nan), 0);
    assert_eq!(eval_binary(BinaryOp::Ne, F32, nan, nan), 1);
}

#[test]
fn f16_arithmetic_rounds_once_from_f32() {
    // 1 + 2^-11 is a tie between 1 and 1 + 2^-10 in f16; ties go to even (1.0).
    let tiny = f16_code(2f32.powi(-11));
    assert_eq!(eval_binary(BinaryOp::Add, F16, f16_code(1.0), tiny), f16_code(1.0));
    let third = eval_binary(BinaryOp::Div, F16, f16_code(1.0), f16_code(3.0));
    assert_eq!(third, u64::from(half::f16::from_f32(1.0 / 3.0).to_bits()));
    assert_eq!(
        eval_binary(BinaryOp::Add, F16, f16_code(65504.0), f16_code(65504.0)),
        f16_code(f32::INFINITY)
    );
}

#[test]
fn float_unary_ops() {
    assert_eq!(eval_unary(UnaryOp::Round, F32, f32_code(2.5)), f32_code(2.0));
    assert_eq!(eval_unary(UnaryOp::Round, F32, f32_code(3.5)), f32_code(4.0));
    assert_eq!(eval_unary(UnaryOp::Round, F32, f32_code(-2.5)), f32_code(-2.0));
    assert_eq!(eval_unary(UnaryOp::Floor, F32, f32_code(-1.5)), f32_code(-2.0));
    assert_eq!(eval_unary(UnaryOp::Neg, F16, f16_code(1.5)), f16_code(-1.5));
    assert_eq!(eval_unary(UnaryOp::Abs, F32, f32_code(-0.0)), f32_code(0.0));
    assert_eq!(eval_unary(UnaryOp::Sqrt, F32, f32_code(2.0)), f32_code(2f32.sqrt()));
    let nan = eval_unary(UnaryOp::Sqrt, F32, f32_code(-1.0));
    assert_eq!(nan, 0x7fc0_0000, "NaN results are canonical");
}

#[test]
fn fma_rounds_once() {
    let eps = 2f32.powi(-23);
    let (a, b, c) = (1.0 + eps, 1.0 - eps, -1.0f32);
    let fused = eval_ternary(TernaryOp::Fma, F32, f32_code(a), f32_code(b), f32_code(c));
    assert_eq!(fused, f32_code(-eps * eps));
    assert_ne!(f32_code(a * b + c), fused, "the unfused result differs, so the test can tell them apart");
    assert_eq!(eval_ternary(TernaryOp::Select, I32, 1, 5, 6), 5);
    assert_eq!(eval_ternary(TernaryOp::Select, I32, 0, 5, 6), 6);
}

#[test]
fn casts() {
    let nearest = Rounding::NearestEven;
    assert_eq!(eval_cast(F32, I32, f32_code(-3.9), nearest, 0), i32_code(-3));
    assert_eq!(eval_cast(F32, I32, f32_code(1e20), nearest, 0), i32_code(i32::MAX));
    assert_eq!(eval_cast(F32, U32, f32_code(-5.0), nearest, 0), 0);
    assert_eq!(eval_cast(F32, I32, f32_code(f32::NAN), nearest, 0), 0);
    assert_eq!(eval_cast(I32, DataType::U8, i32_code(-1), nearest, 0), 0xff);
    assert_eq!(eval_cast(I32, DataType::I64, i32_code(-1), nearest, 0), u64::MAX);
    assert_eq!(eval_cast(U32, F32, 16_777_217, nearest, 0), f32_code(16_777_216.0));
    assert_eq!(eval_cast(F32, F16, f32_code(1.0 / 3.0), nearest, 0), f16_code(1.0 / 3.0));
    // 1 + 0.75 ulp(f16) rounds up to nearest and down toward zero.
    let above_one = 1.0 + 3.0 * 2f32.powi(-12);
    assert_eq!(eval_cast(F32, F16, f32_code(above_one), nearest, 0), f16_code(1.0 + 2f32.powi(-10)));
    assert_eq!(eval_cast(F32, F16, f32_code(above_one), Rounding::TowardZero, 0), f16_code(1.0));
    assert_eq!(eval_cast(F32, F16, f32_code(-above_one), Rounding::TowardZero, 0), f16_code(-1.0));
    assert_eq!(eval_cast(F32, F16, f32_code(1e6), Rounding::TowardZero, 0), f16_code(65504.0));
    let u4 = DataType::Int(crate::dtype::IntType { signed: false, bits: 4 });
    assert_eq!(eval_cast(u4, F32, 13, nearest, 0), f32_code(13.0));
}

#[test]
fn f16_fma_rounds_once_from_the_exact_value() {
    use crate::ir::TernaryOp;
    let f16 = |value: f32| u64::from(half::f16::from_f32(value).to_bits());
    // x * y = 2^-11 - 2^-31, so z + x * y lies 2^-31 below the midpoint between 1 + 2^-10 and 1 + 2^-9.
    // Rounded to f32 first it would land on the midpoint and tie to even (1 + 2^-9, 0x3c02); rounded
    // once it stays below the midpoint: 1 + 2^-10 (0x3c01).
    let x = f16(2f32.powi(-6) * (1.0 + 2f32.powi(-10)));
    let y = f16(2f32.powi(-5) * (1.0 - 2f32.powi(-10)));
    let z = f16(1.0 + 2f32.powi(-10));
    assert_eq!(eval_ternary(TernaryOp::Fma, DataType::F16, x, y, z), 0x3c01);
}
