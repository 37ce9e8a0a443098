use super::*;
use crate::ir::UnaryOp;

fn f32_tile(shape: &[usize], values: &[f32]) -> RegisterTile {
    let codes = values.iter().map(|v| u64::from(v.to_bits())).collect();
    RegisterTile { dtype: DataType::F32, shape: shape.to_vec(), codes }
}

fn i32_tile(shape: &[usize], values: &[i32]) -> RegisterTile {
    let codes = values.iter().map(|&v| u64::from(v as u32)).collect();
    RegisterTile { dtype: DataType::I32, shape: shape.to_vec(), codes }
}

fn f32s(codes: &[u64]) -> Vec<f32> {
    codes.iter().map(|&code| f32::from_bits(code as u32)).collect()
}

#[test]
fn elementwise_broadcasts_tiles_and_scalars() {
    let row = f32_tile(&[1, 3], &[1.0, 2.0, 3.0]);
    let column = f32_tile(&[2, 1], &[10.0, 20.0]);
    let operands = [OperandValue::Tile(&row), OperandValue::Tile(&column)];
    let op = ElementwiseOp::Binary(BinaryOp::Add);
    let sum = elementwise(op, &operands, DataType::F32, &[2, 3]).unwrap_or_default();
    assert_eq!(f32s(&sum), [11.0, 12.0, 13.0, 21.0, 22.0, 23.0]);
    let scaled = [OperandValue::Tile(&row), OperandValue::Scalar(u64::from(2f32.to_bits()), DataType::F32)];
    let product = elementwise(ElementwiseOp::Binary(BinaryOp::Mul), &scaled, DataType::F32, &[1, 3]);
    assert_eq!(f32s(&product.unwrap_or_default()), [2.0, 4.0, 6.0]);
    let less = elementwise(ElementwiseOp::Binary(BinaryOp::Lt), &operands, DataType::BOOL, &[2, 3]);
    assert_eq!(less.unwrap_or_default(), [1; 6]);
    let negated = elementwise(ElementwiseOp::Unary(UnaryOp::Neg), &operands[..1], DataType::F32, &[1, 3]);
    assert_eq!(f32s(&negated.unwrap_or_default()), [-1.0, -2.0, -3.0]);
    assert!(
        elementwise(op, &operands, DataType::F32, &[3, 3]).is_err(),
        "[2, 1] does not broadcast to [3, 3]"
    );
    assert!(elementwise(op, &operands[..1], DataType::F32, &[2, 3]).is_err(), "too few operands");
}

#[test]
fn select_picks_by_condition() {
    let cond = RegisterTile { dtype: DataType::BOOL, shape: vec![3], codes: vec![1, 0, 1] };
    let a = i32_tile(&[3], &[1, 2, 3]);
    let b = OperandValue::Scalar(u64::from(-1i32 as u32), DataType::I32);
    let operands = [OperandValue::Tile(&cond), OperandValue::Tile(&a), b];
    let result = elementwise(ElementwiseOp::Ternary(TernaryOp::Select), &operands, DataType::I32, &[3]);
    assert_eq!(result.unwrap_or_default(), [1, u64::from(u32::MAX), 3]);
}

#[test]
fn dot_accumulates_in_f64_and_rounds_once() {
    // Σ 1 + 2^-30 * 8 ... in f32 step by step would lose the small terms; in f64 they survive.
    let a = f32_tile(&[1, 3], &[1.0, 1.0, 1.0]);
    let b = f32_tile(&[3, 1], &[1.0, 2f32.powi(-24), 2f32.powi(-24)]);
    let acc = f32_tile(&[1, 1], &[0.0]);
    let result = dot(&a, &b, &acc, DataType::F32, &[1, 1]).unwrap_or_default();
    assert_eq!(f32s(&result), [1.0 + 2f32.powi(-23)]);
    let a = f32_tile(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let b = f32_tile(&[2, 2], &[5.0, 6.0, 7.0, 8.0]);
    let acc = f32_tile(&[2, 2], &[1.0, 1.0, 1.0, 1.0]);
    let result = dot(&a, &b, &acc, DataType::F32, &[2, 2]).unwrap_or_default();
    assert_eq!(f32s(&result), [20.0, 23.0, 44.0, 51.0]);
    assert!(dot(&a, &b, &acc, DataType::F32, &[2, 3]).is_err());
}

#[test]
fn dot_of_integers_wraps() {
    let a = i32_tile(&[1, 2], &[i32::MAX, 1]);
    let b = i32_tile(&[2, 1], &[2, 5]);
    let acc = i32_tile(&[1, 1], &[0]);
    let result = dot(&a, &b, &acc, DataType::I32, &[1, 1]).unwrap_or_default();
    assert_eq!(result, [u64::from(i32::MAX.wrapping_mul(2).wrapping_add(5) as u32)]);
}

#[test]
fn reductions() {
    let tile = f32_tile(&[2, 3], &[1.0, 5.0, f32::NAN, -2.0, 4.0, 4.0]);
    let max = reduce(&tile, 1, ReduceOp::Max, DataType::F32, &[2]).unwrap_or_default();
    assert_eq!(f32s(&max), [5.0, 4.0]);
    let argmax = reduce(&tile, 1, ReduceOp::ArgMax, DataType::I32, &[2, 1]).unwrap_or_default();
    assert_eq!(argmax, [1, 1], "first index of the maximum, NaN ignored");
    let argmin = reduce(&tile, 0, ReduceOp::ArgMin, DataType::U32, &[3]).unwrap_or_default();
    assert_eq!(argmin, [1, 1, 1], "a NaN is never the minimum");
    let ints = i32_tile(&[2, 2], &[i32::MAX, 1, 3, 4]);
    let sum = reduce(&ints, 0, ReduceOp::Sum, DataType::I32, &[2]).unwrap_or_default();
    assert_eq!(sum, [u64::from(i32::MAX.wrapping_add(3) as u32), 5]);
    let prod = reduce(&ints, 1, ReduceOp::Prod, DataType::I32, &[2]).unwrap_or_default();
    assert_eq!(prod, [u64::from(i32::MAX as u32), 12]);
    let small = f32_tile(&[3], &[1.0, 2f32.powi(-24), 2f32.powi(-24)]);
    let sum = reduce(&small, 0, ReduceOp::Sum, DataType::F32, &[1]).unwrap_or_default();
    assert_eq!(f32s(&sum), [1.0 + 2f32.powi(-23)], "summed in f64, rounded once");
    assert!(reduce(&small, 1, ReduceOp::Sum, DataType::F32, &[1]).is_err());
    assert!(reduce(&small, 0, ReduceOp::Sum, DataType::I32, &[1]).is_err());
}

#[test]
fn permute_broadcast_slice() {
    let tile = i32_tile(&[2, 3], &[0, 1, 2, 3, 4, 5]);
    assert_eq!(permute(&tile, &[1, 0], &[3, 2]).unwrap_or_default(), [0, 3, 1, 4, 2, 5]);
    assert!(permute(&tile, &[0, 0], &[2, 2]).is_err());
    let row = i32_tile(&[3], &[7, 8, 9]);
    assert_eq!(broadcast(&row, &[2, 3]).unwrap_or_default(), [7, 8, 9, 7, 8, 9]);
    assert!(broadcast(&row, &[2, 2]).is_err());
    assert_eq!(slice(&tile, &[1, 1], &[1, 2]).unwrap_or_default(), [4, 5]);
    assert!(slice(&tile, &[1, 2], &[1, 2]).is_err(), "window past the edge");
    assert!(slice(&tile, &[-1, 0], &[1, 2]).is_err());
}

#[test]
fn iota_and_cast() {
    assert_eq!(iota(DataType::I32, &[2, 3], 1).unwrap_or_default(), [0, 1, 2, 0, 1, 2]);
    let floats = iota(DataType::F32, &[2, 1], 0).unwrap_or_default();
    assert_eq!(f32s(&floats), [0.0, 1.0]);
    let tile = f32_tile(&[2], &[1.5, -2.5]);
    assert_eq!(
        cast(&tile, DataType::I32, &[2], Rounding::NearestEven).unwrap_or_default(),
        [1, u64::from(-2i32 as u32)]
    );
    assert!(cast(&tile, DataType::I32, &[3], Rounding::NearestEven).is_err());
}

#[test]
fn view_reinterprets_bits_per_thread() -> Result<(), crate::layout::LayoutError> {
    use crate::layout::register_layout;
    let u4 = DataType::Int(crate::dtype::IntType { signed: false, bits: 4 });
    // Two threads, each holding two u8 elements; viewed as four u4 elements per thread.
    let src_layout = register_layout(&[4], &[2, 2], &[0], &[1])?;
    let dst_layout = register_layout(&[8], &[2, 4], &[0], &[1])?;
    let src = RegisterTile { dtype: DataType::U8, shape: vec![4], codes: vec![0x21, 0x43, 0x65, 0x87] };
    let result = view(&src, &src_layout, u4, &dst_layout).unwrap_or_default();
    assert_eq!(result, [1, 2, 3, 4, 5, 6, 7, 8]);
    // A thread-major source viewed as a slot-major destination with other ownership moves nothing between threads.
    let spread = register_layout(&[8], &[4, 2], &[1], &[0])?;
    let result = view(&src, &src_layout, u4, &spread).unwrap_or_default();
    assert_eq!(result, [1, 5, 2, 6, 3, 7, 4, 8]);
    let wrong_bits = register_layout(&[6], &[2, 3], &[0], &[1])?;
    assert!(view(&src, &src_layout, u4, &wrong_bits).is_err());
    Ok(())
}
