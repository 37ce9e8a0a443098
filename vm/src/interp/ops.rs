//! Register-tile computations: elementwise math, casts, iota, dot, reductions, permutes, broadcasts, slices
//! and views. Each takes tile values and returns the destination's codes (row-major), or a message when the
//! operands break the instruction's typing rules.
//!
//! `dot` computes every output element as `acc + Σ_k a·b` with the operands first converted to the
//! destination dtype; for floats the products and the sum are `f64` (summed in increasing `k`) and the
//! result is rounded once, for integers they wrap in 64 bits and the result wraps to the destination width.
//! `reduce` sums and multiplies floats the same way (`f64`, increasing index, one rounding); `max`/`min`
//! are the scalar operators; `argmax`/`argmin` give the first index of the extreme non-NaN value (0 when
//! all are NaN). Backends match `dot` and float `sum`/`prod` up to summation order.

use super::codec::{float_from_f64, float_to_f64, int_value, mask};
use super::scalar::{eval_binary, eval_cast, eval_ternary, eval_unary};
use super::tiles::{RegisterTile, broadcast_position, element_count, ravel, unravel};
use crate::dtype::DataType;
use crate::ir::{BinaryOp, ElementwiseOp, ReduceOp, Rounding, TernaryOp};
use crate::layout::RegisterLayout;

/// An evaluated elementwise operand.
pub(crate) enum OperandValue<'a> {
    /// A register tile, broadcast to the destination's shape.
    Tile(&'a RegisterTile),
    /// A scalar code of a dtype.
    Scalar(u64, DataType),
}

impl OperandValue<'_> {
    fn dtype(&self) -> DataType {
        match self {
            OperandValue::Tile(tile) => tile.dtype,
            OperandValue::Scalar(_, dtype) => *dtype,
        }
    }
}

/// `dst[i] = op(operands[k][bcast(i)]...)`.
pub(crate) fn elementwise(
    op: ElementwiseOp,
    operands: &[OperandValue<'_>],
    dtype: DataType,
    shape: &[usize],
) -> Result<Vec<u64>, String> {
    let needed = match op {
        ElementwiseOp::Unary(_) => 1,
        ElementwiseOp::Binary(_) => 2,
        ElementwiseOp::Ternary(_) => 3,
    };
    if operands.len() != needed {
        return Err(format!("{op:?} takes {needed} operands, got {}", operands.len()));
    }
    for operand in operands {
        if let OperandValue::Tile(tile) = operand
            && broadcast_position(&tile.shape, shape, &vec![0; shape.len()]).is_none()
        {
            return Err(format!("operand of shape {:?} does not broadcast to {shape:?}", tile.shape));
        }
    }
    let count = element_count(shape)?;
    let result_mask = mask(dtype.bits());
    let mut index = Vec::new();
    let mut codes = Vec::with_capacity(count);
    for position in 0..count {
        unravel(position, shape, &mut index);
        let value = |k: usize| match &operands[k] {
            OperandValue::Tile(tile) => broadcast_position(&tile.shape, shape, &index)
                .and_then(|p| tile.codes.get(p))
                .copied()
                .unwrap_or(0),
            OperandValue::Scalar(code, _) => *code,
        };
        let code = match op {
            ElementwiseOp::Unary(op) => eval_unary(op, operands[0].dtype(), value(0)),
            ElementwiseOp::Binary(op) => eval_binary(op, operands[0].dtype(), value(0), value(1)),
            ElementwiseOp::Ternary(op) => {
                let operand_dtype =
                    if op == TernaryOp::Select { operands[1].dtype() } else { operands[0].dtype() };
                eval_ternary(op, operand_dtype, value(0), value(1), value(2))
            }
        };
        codes.push(code & result_mask);
    }
    Ok(codes)
}

/// Converts every element to `dtype`; the stochastic-rounding counter is the row-major position.
pub(crate) fn cast(
    src: &RegisterTile,
    dtype: DataType,
    shape: &[usize],
    rounding: Rounding,
) -> Result<Vec<u64>, String> {
    same_shape(&src.shape, shape)?;
    let codes = src.codes.iter().enumerate();
    Ok(codes.map(|(position, &code)| eval_cast(src.dtype, dtype, code, rounding, position as u64)).collect())
}

/// `dst[i] = i[dim]`, converted to `dtype`.
pub(crate) fn iota(dtype: DataType, shape: &[usize], dim: usize) -> Result<Vec<u64>, String> {
    if dim >= shape.len() {
        return Err(format!("iota dimension {dim} is not below the rank {}", shape.len()));
    }
    let mut index = Vec::new();
    let codes = (0..element_count(shape)?).map(|position| {
        unravel(position, shape, &mut index);
        eval_cast(DataType::U64, dtype, index[dim] as u64, Rounding::NearestEven, 0)
    });
    Ok(codes.collect())
}

/// `dst[.., m, n] = acc[.., m, n] + Σ_k a[.., m, k] · b[.., k, n]`, rounded once to `dtype`.
pub(crate) fn dot(
    a: &RegisterTile,
    b: &RegisterTile,
    acc: &RegisterTile,
    dtype: DataType,
    shape: &[usize],
) -> Result<Vec<u64>, String> {
    let rank = shape.len();
    let ranks_agree = rank >= 2 && a.shape.len() == rank && b.shape.len() == rank;
    if !ranks_agree || acc.shape != shape || acc.dtype != dtype {
        return Err(format!(
            "dot needs a: [.., M, K], b: [.., K, N], acc and dst: [.., M, N] of dst's dtype; got {:?}, {:?}, {:?} -> {shape:?}",
            a.shape, b.shape, acc.shape
        ));
    }
    let (m, n, k) = (shape[rank - 2], shape[rank - 1], a.shape[rank - 1]);
    let batch = &shape[..rank - 2];
    if a.shape[..rank - 2] != *batch
        || b.shape[..rank - 2] != *batch
        || a.shape[rank - 2] != m
        || b.shape[rank - 2] != k
        || b.shape[rank - 1] != n
    {
        return Err(format!("dot shapes {:?} x {:?} do not give {shape:?}", a.shape, b.shape));
    }
    // Convert the operands to the destination dtype once (exact when it is wider).
    let convert = |tile: &RegisterTile| -> Vec<u64> {
        tile.codes.iter().map(|&code| eval_cast(tile.dtype, dtype, code, Rounding::NearestEven, 0)).collect()
    };
    let (a_codes, b_codes) = (convert(a), convert(b));
    let batches = element_count(batch)?;
    let mut codes = Vec::with_capacity(acc.codes.len());
    for batch_index in 0..batches {
        let (a_base, b_base) = (batch_index * m * k, batch_index * k * n);
        for row in 0..m {
            for column in 0..n {
                let acc_code = acc.codes[(batch_index * m + row) * n + column];
                let pairs = (0..k)
                    .map(|inner| (a_codes[a_base + row * k + inner], b_codes[b_base + inner * n + column]));
                codes.push(match dtype {
                    DataType::Float(float) => {
                        let sum = pairs.fold(float_to_f64(float, acc_code), |sum, (x, y)| {
                            sum + float_to_f64(float, x) * float_to_f64(float, y)
                        });
                        float_from_f64(float, sum)
                    }
                    _ => {
                        let sum = pairs.fold(int_value(dtype, acc_code) as i64, |sum, (x, y)| {
                            sum.wrapping_add(
                                (int_value(dtype, x) as i64).wrapping_mul(int_value(dtype, y) as i64),
                            )
                        });
                        sum as u64 & mask(dtype.bits())
                    }
                });
            }
        }
    }
    Ok(codes)
}

/// Reduces `src` along `dim` into a tile of `dtype` and `shape` (`dim` removed, or kept with size 1).
pub(crate) fn reduce(
    src: &RegisterTile,
    dim: usize,
    op: ReduceOp,
    dtype: DataType,
    shape: &[usize],
) -> Result<Vec<u64>, String> {
    let rank = src.shape.len();
    if dim >= rank {
        return Err(format!("reduce dimension {dim} is not below the rank {rank}"));
    }
    let mut kept: Vec<usize> = src.shape.clone();
    kept[dim] = 1;
    let removed: Vec<usize> =
        src.shape.iter().enumerate().filter(|&(d, _)| d != dim).map(|(_, &e)| e).collect();
    if shape != kept.as_slice() && shape != removed.as_slice() {
        return Err(format!(
            "reducing {:?} along {dim} gives {kept:?} or {removed:?}, not {shape:?}",
            src.shape
        ));
    }
    let is_arg = matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin);
    if !is_arg && dtype != src.dtype {
        return Err(format!("reduce {op:?} keeps the dtype, but {} becomes {dtype}", src.dtype));
    }
    let extent = src.shape[dim];
    let mut index = Vec::new();
    let mut codes = Vec::new();
    for position in 0..element_count(&kept)? {
        unravel(position, &kept, &mut index);
        let mut values = Vec::with_capacity(extent);
        for along in 0..extent {
            index[dim] = along;
            values.push(ravel(&index, &src.shape).and_then(|p| src.codes.get(p)).copied().unwrap_or(0));
        }
        codes.push(reduce_values(&values, src.dtype, op, dtype));
    }
    Ok(codes)
}

fn reduce_values(values: &[u64], src: DataType, op: ReduceOp, dtype: DataType) -> u64 {
    let fold_float = |start: f64, combine: fn(f64, f64) -> f64, float| {
        float_from_f64(
            float,
            values.iter().fold(start, |total, &code| combine(total, float_to_f64(float, code))),
        )
    };
    let fold_int = |start: i64, combine: fn(i64, i64) -> i64| {
        values.iter().fold(start, |total, &code| combine(total, int_value(src, code) as i64)) as u64
            & mask(dtype.bits())
    };
    match (op, src) {
        (ReduceOp::Sum, DataType::Float(float)) => fold_float(0.0, |x, y| x + y, float),
        (ReduceOp::Prod, DataType::Float(float)) => fold_float(1.0, |x, y| x * y, float),
        (ReduceOp::Sum, _) => fold_int(0, i64::wrapping_add),
        (ReduceOp::Prod, _) => fold_int(1, i64::wrapping_mul),
        (ReduceOp::Max | ReduceOp::Min, _) => {
            let binary = if op == ReduceOp::Max { BinaryOp::Max } else { BinaryOp::Min };
            let mut rest = values.iter();
            let first = rest.next().copied().unwrap_or(0);
            rest.fold(first, |best, &code| eval_binary(binary, src, best, code))
        }
        (ReduceOp::ArgMax | ReduceOp::ArgMin, _) => {
            let better = if op == ReduceOp::ArgMax { BinaryOp::Gt } else { BinaryOp::Lt };
            let is_nan = |code: u64| eval_binary(BinaryOp::Ne, src, code, code) != 0;
            let mut best: Option<(usize, u64)> = None;
            for (position, &code) in values.iter().enumerate() {
                if is_nan(code) {
                    continue;
                }
                if best.is_none_or(|(_, best_code)| eval_binary(better, src, code, best_code) != 0) {
                    best = Some((position, code));
                }
            }
            let position = best.map_or(0, |(position, _)| position);
            eval_cast(DataType::U64, dtype, position as u64, Rounding::NearestEven, 0)
        }
    }
}

/// `dst[i] = src[j]` with `j[dims[d]] = i[d]`.
pub(crate) fn permute(src: &RegisterTile, dims: &[usize], shape: &[usize]) -> Result<Vec<u64>, String> {
    let rank = src.shape.len();
    let mut seen = vec![false; rank];
    let valid =
        dims.len() == rank && dims.iter().all(|&d| d < rank && !std::mem::replace(&mut seen[d], true));
    if !valid || shape.len() != rank || dims.iter().zip(shape).any(|(&d, &e)| src.shape[d] != e) {
        return Err(format!("permutation {dims:?} does not take {:?} to {shape:?}", src.shape));
    }
    let (mut index, mut source) = (Vec::new(), vec![0; rank]);
    let codes = (0..element_count(shape)?).map(|position| {
        unravel(position, shape, &mut index);
        for (d, &from) in dims.iter().enumerate() {
            source[from] = index[d];
        }
        ravel(&source, &src.shape).and_then(|p| src.codes.get(p)).copied().unwrap_or(0)
    });
    Ok(codes.collect())
}

/// `dst[i] = src[bcast(i)]`.
pub(crate) fn broadcast(src: &RegisterTile, shape: &[usize]) -> Result<Vec<u64>, String> {
    let mut index = Vec::new();
    (0..element_count(shape)?)
        .map(|position| {
            unravel(position, shape, &mut index);
            broadcast_position(&src.shape, shape, &index)
                .and_then(|p| src.codes.get(p).copied())
                .ok_or_else(|| format!("shape {:?} does not broadcast to {shape:?}", src.shape))
        })
        .collect()
}

/// `dst[i] = src[offsets + i]`.
pub(crate) fn slice(src: &RegisterTile, offsets: &[i128], shape: &[usize]) -> Result<Vec<u64>, String> {
    let inside = offsets.len() == src.shape.len()
        && shape.len() == src.shape.len()
        && offsets
            .iter()
            .zip(shape)
            .zip(&src.shape)
            .all(|((&offset, &extent), &whole)| offset >= 0 && offset + extent as i128 <= whole as i128);
    if !inside {
        return Err(format!(
            "slice window {shape:?} at {offsets:?} is not inside the tile of shape {:?}",
            src.shape
        ));
    }
    let (mut index, mut source) = (Vec::new(), Vec::new());
    let codes = (0..element_count(shape)?).map(|position| {
        unravel(position, shape, &mut index);
        source.clear();
        source.extend(index.iter().zip(offsets).map(|(&i, &offset)| i + offset as usize));
        ravel(&source, &src.shape).and_then(|p| src.codes.get(p)).copied().unwrap_or(0)
    });
    Ok(codes.collect())
}

/// Reinterprets bits per thread: thread `t` concatenates the codes of its `src` slots (slot 0 lowest) and
/// splits them into its `dst` slots.
pub(crate) fn view(
    src: &RegisterTile,
    src_layout: &RegisterLayout,
    dtype: DataType,
    dst_layout: &RegisterLayout,
) -> Result<Vec<u64>, String> {
    let threads = src_layout.num_threads();
    let (src_bits, dst_bits) = (src.dtype.bits() as usize, dtype.bits() as usize);
    let (src_slots, dst_slots) = (src_layout.local_size(), dst_layout.local_size());
    if dst_layout.num_threads() != threads || src_slots * src_bits != dst_slots * dst_bits {
        return Err(format!(
            "view needs equal threads and bits per thread: {threads} x {src_slots} x {src_bits} bits vs {} x {dst_slots} x {dst_bits} bits",
            dst_layout.num_threads()
        ));
    }
    let shape = dst_layout.shape();
    let mut written: Vec<Option<u64>> = vec![None; element_count(shape)?];
    let mut bits = vec![0u8; (src_slots * src_bits).div_ceil(8)];
    for thread in 0..threads {
        for slot in 0..src_slots {
            let index = src_layout.map(thread, slot).map_err(|error| error.to_string())?;
            let code = ravel(&index, &src.shape).and_then(|p| src.codes.get(p)).copied();
            let code = code
                .ok_or_else(|| format!("source layout maps thread {thread}, slot {slot} outside the tile"))?;
            super::memory::write_bits(&mut bits, (slot * src_bits) as u64, src_bits as u32, code);
        }
        for slot in 0..dst_slots {
            let code = super::memory::read_bits(&bits, (slot * dst_bits) as u64, dst_bits as u32);
            let index = dst_layout.map(thread, slot).map_err(|error| error.to_string())?;
            let element = ravel(&index, shape).and_then(|p| written.get_mut(p));
            let element = element
                .ok_or_else(|| format!("layout maps thread {thread}, slot {slot} outside the tile"))?;
            match element {
                Some(previous) if *previous != code => {
                    return Err(format!("view gives replicas of element {index:?} different values"));
                }
                _ => *element = Some(code),
            }
        }
    }
    Ok(written.into_iter().map(|code| code.unwrap_or(0)).collect())
}

fn same_shape(source: &[usize], target: &[usize]) -> Result<(), String> {
    if source == target { Ok(()) } else { Err(format!("shape {source:?} differs from {target:?}")) }
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
