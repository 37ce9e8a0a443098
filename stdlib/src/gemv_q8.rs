//! The a16wX GEMV with activations quantized on the fly to 8 bits (llama.cpp's `Q8` scheme), so that
//! the inner product is an exact integer dot: two kernels, built with `KernelBuilder`.
//!
//! `quantize_q8` turns each group of `group` f16 activations into i8 codes and one f32 scale:
//! `d = max|x| / 127`, `q = round_half_even(x * (127 / max|x|))` (all zero for an all-zero group).
//! `gemv_q8_wx` then computes `y[n] = sum_g d[g] * scale[n, g] * sum_{k in g} q[k] * w[n, k]`, the inner sum
//! in i32 (exact, so every backend agrees bit for bit), the rest in f32.
//
// Why a second GEMV: with f16 activations each weight costs an int-to-float conversion and an f32
// multiply-add, and a 2-core CPU with 128-bit vectors cannot do that as fast as memory delivers 4-bit
// weights. With i8 activations a vector multiply-add of bytes handles 16 weights per instruction. The price
// is the activations' rounding to 8 bits (relative error up to 1/254 of the group's largest value), the
// trade llama.cpp makes for its CPU matrix-vector products.

use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;
use tilevm_vm::ir::{
    BinaryOp, ElementwiseOp, Expr, Inst, Kernel, KernelBuilder, Operand, ReduceOp, Rounding, TernaryOp,
    UnaryOp,
};
use tilevm_vm::layout::{LayoutError, local};

use crate::gemv::{load_as, store_as};
use crate::weight_layout::weight_planes;

/// Output rows per block of [`gemv_q8_wx`] that suit the CPU backend (the GPU backend stages a block's
/// `[rows, group]` weights through workgroup memory, so fewer rows fit there).
pub const Q8_ROWS: usize = 128;

/// The quantization kernel: `x: f16[k]` in, `xq: i8[k]` and `xd: f32[k / group]` out, one block per group.
///
/// # Errors
/// A [`LayoutError`] when `group` is 0.
pub fn quantize_q8(k: u32, group: u32) -> Result<Kernel, LayoutError> {
    let group_len = group as usize;
    let groups = k.div_ceil(group.max(1));
    let mut builder = KernelBuilder::new("quantize_q8", 1);
    let x = builder.global_param("x", DataType::F16, false);
    let xq = builder.global_param("xq", DataType::I8, true);
    let xd = builder.global_param("xd", DataType::F32, true);
    builder.grid(vec![Expr::u32(groups)]);
    let row = |len: u32| vec![Expr::u32(1), Expr::u32(len)];
    let unit = vec![Expr::u32(k.max(1)), Expr::u32(1)];
    let x_view = builder.view_global("x", x, DataType::F16, row(k), unit.clone(), Expr::u32(0));
    let q_view = builder.view_global("xq", xq, DataType::I8, row(k), unit, Expr::u32(0));
    let d_view = builder.view_global(
        "xd",
        xd,
        DataType::F32,
        row(groups),
        vec![Expr::u32(groups), Expr::u32(1)],
        Expr::u32(0),
    );
    let values = local(&[1, group_len])?;
    let one = local(&[1, 1])?;
    let x16 = builder.tile("x16", DataType::F16, values.clone());
    let xf = builder.tile("x", DataType::F32, values.clone());
    let magnitude = builder.tile("magnitude", DataType::F32, values.clone());
    let amax = builder.tile("amax", DataType::F32, one.clone());
    let inverse = builder.tile("inverse", DataType::F32, one.clone());
    let nonzero = builder.tile("nonzero", DataType::BOOL, one.clone());
    let d = builder.tile("d", DataType::F32, one);
    let scaled = builder.tile("scaled", DataType::F32, values.clone());
    let q = builder.tile("q", DataType::I8, values);
    let start = builder.let_var("start", Expr::binary(BinaryOp::Mul, Expr::block_index(0), Expr::u32(group)));
    let origin = vec![Expr::u32(0), start];
    let binary = |op| ElementwiseOp::Binary(op);
    let tile = Operand::Tile;
    let f32 = |value: f32| Operand::Scalar(Expr::f32(value));
    builder.inst(Inst::LoadGlobal { dst: x16, src: x_view, offsets: origin.clone(), dims: vec![0, 1] });
    builder.inst(Inst::Cast { dst: xf, src: x16, rounding: Rounding::NearestEven });
    builder.inst(Inst::Elementwise {
        dst: magnitude,
        op: ElementwiseOp::Unary(UnaryOp::Abs),
        operands: vec![tile(xf)],
    });
    builder.inst(Inst::Reduce { dst: amax, src: magnitude, dim: 1, op: ReduceOp::Max });
    builder.inst(Inst::Elementwise {
        dst: d,
        op: binary(BinaryOp::Div),
        operands: vec![tile(amax), f32(127.0)],
    });
    builder.inst(Inst::Elementwise {
        dst: nonzero,
        op: binary(BinaryOp::Gt),
        operands: vec![tile(amax), f32(0.0)],
    });
    builder.inst(Inst::Elementwise {
        dst: inverse,
        op: binary(BinaryOp::Div),
        operands: vec![f32(127.0), tile(amax)],
    });
    builder.inst(Inst::Elementwise {
        dst: inverse,
        op: ElementwiseOp::Ternary(TernaryOp::Select),
        operands: vec![tile(nonzero), tile(inverse), f32(0.0)],
    });
    builder.inst(Inst::Elementwise {
        dst: scaled,
        op: binary(BinaryOp::Mul),
        operands: vec![tile(xf), tile(inverse)],
    });
    builder.inst(Inst::Elementwise {
        dst: scaled,
        op: ElementwiseOp::Unary(UnaryOp::Round),
        operands: vec![tile(scaled)],
    });
    // |scaled| <= 127 (up to the rounding of the product), and the cast saturates besides.
    builder.inst(Inst::Cast { dst: q, src: scaled, rounding: Rounding::NearestEven });
    builder.inst(Inst::StoreGlobal { dst: q_view, src: q, offsets: origin, dims: vec![0, 1] });
    builder.inst(Inst::StoreGlobal {
        dst: d_view,
        src: d,
        offsets: vec![Expr::u32(0), Expr::block_index(0)],
        dims: vec![0, 1],
    });
    Ok(builder.finish())
}

/// The integer-dot GEMV for `n` outputs, `k` inputs and one scale per `group` weights along k, `rows`
/// outputs per block.
///
/// Parameters, in order: `xq: i8[k]` and `xd: f32[k / group]` (from [`quantize_q8`]), `w` (the weight
/// codes as [`pack_q8_weights`](crate::weight_layout::pack_q8_weights) lays them out: tiled, in bit planes, packed), `scale` (the f16 scales of
/// the row-major `[n, k / group]` matrix in the block order of [`tile_scales`](crate::weight_layout::tile_scales)), `y: f16[n]` (written).
///
/// # Errors
/// A [`LayoutError`] when `group` or `rows` is 0.
pub fn gemv_q8_wx(
    weight_dtype: DataType,
    n: u32,
    k: u32,
    group: u32,
    rows: usize,
) -> Result<Kernel, LayoutError> {
    let group_len = group as usize;
    let groups = k.div_ceil(group.max(1));
    let mut builder = KernelBuilder::new(format!("gemv_q8_w{}", weight_dtype.bits()), 1);
    let xq = builder.global_param("xq", DataType::I8, false);
    let xd = builder.global_param("xd", DataType::F32, false);
    let w = builder.global_param("w", DataType::U8, false);
    let scale = builder.global_param("scale", DataType::F16, false);
    let y = builder.global_param("y", DataType::F16, true);
    let blocks = n.div_ceil(rows as u32);
    builder.grid(vec![Expr::u32(blocks)]);
    let pair = |a: u32, b: u32| vec![Expr::u32(a), Expr::u32(b)];
    let q_view = builder.view_global("xq", xq, DataType::I8, pair(k, 1), pair(1, 1), Expr::u32(0));
    let d_view = builder.view_global("xd", xd, DataType::F32, pair(1, groups), pair(groups, 1), Expr::u32(0));
    // One view per bit plane, low plane first; a tile holds its high plane, then its low plane
    // (`weight_layout`).
    let planes = weight_planes(weight_dtype.bits() as u8, rows, group_len);
    let tile_bits = rows as u32 * group * weight_dtype.bits();
    let high_bits = planes.high.map_or(0, |bits| rows as u32 * group * u32::from(bits));
    let mut plane_views = Vec::new();
    for (plane_bits, start_bits) in [(Some(planes.low), high_bits), (planes.high, 0)] {
        let Some(plane_bits) = plane_bits.map(u32::from) else { continue };
        let dtype = DataType::Int(IntType { signed: false, bits: plane_bits as u8 });
        let tile = tile_bits / plane_bits;
        let view = builder.view_global(
            "w",
            w,
            dtype,
            vec![Expr::u32(blocks), Expr::u32(groups), Expr::u32(rows as u32), Expr::u32(group)],
            vec![Expr::u32(groups * tile), Expr::u32(tile), Expr::u32(group), Expr::u32(1)],
            Expr::u32(start_bits / plane_bits),
        );
        plane_views.push((view, dtype));
    }
    // The scales of a block are contiguous, group after group (`tile_scales`).
    let s_view = builder.view_global(
        "scale",
        scale,
        DataType::F16,
        vec![Expr::u32(blocks), Expr::u32(groups), Expr::u32(rows as u32), Expr::u32(1)],
        vec![Expr::u32(groups * rows as u32), Expr::u32(rows as u32), Expr::u32(1), Expr::u32(1)],
        Expr::u32(0),
    );
    let y_view = builder.view_global("y", y, DataType::F16, pair(n, 1), pair(1, 1), Expr::u32(0));
    let column = local(&[rows, 1])?;
    let acc = builder.tile("acc", DataType::F32, column.clone());
    let dot = builder.tile("dot", DataType::I32, column.clone());
    let part = builder.tile("part", DataType::F32, column.clone());
    let s16 = builder.tile("s16", DataType::F16, column.clone());
    let s = builder.tile("s", DataType::F32, column.clone());
    let y16 = builder.tile("y16", DataType::F16, column);
    let d = builder.tile("d", DataType::F32, local(&[1, 1])?);
    let mut plane_tiles = Vec::new();
    for &(view, dtype) in &plane_views {
        let codes = builder.tile("wq", dtype, local(&[rows, group_len])?);
        let ints = builder.tile("w", DataType::I32, local(&[rows, group_len])?);
        // Each dot casts its own copy of the activations, so that both casts fuse into their dots.
        let q_ints = builder.tile("q", DataType::I32, local(&[group_len, 1])?);
        plane_tiles.push((view, codes, ints, q_ints));
    }
    let q_codes = builder.tile("q8", DataType::I8, local(&[group_len, 1])?);
    let row =
        builder.let_var("row", Expr::binary(BinaryOp::Mul, Expr::block_index(0), Expr::u32(rows as u32)));
    let tile = Operand::Tile;
    builder.inst(Inst::AllocRegister { dst: acc, init: Some(Expr::f32(0.0)) });
    builder.for_range("k0", Expr::u32(0), Expr::u32(k), Expr::u32(group), |builder, k0| {
        let g = builder.let_var("g", Expr::binary(BinaryOp::Div, k0.clone(), Expr::u32(group)));
        let tile_at = vec![Expr::block_index(0), g.clone(), Expr::u32(0), Expr::u32(0)];
        builder.inst(Inst::LoadGlobal {
            dst: q_codes,
            src: q_view,
            offsets: vec![k0, Expr::u32(0)],
            dims: vec![0, 1],
        });
        builder.inst(Inst::AllocRegister { dst: dot, init: Some(Expr::i32(0)) });
        // The high plane first: its dot is scaled by 2^low before the low plane's adds to it.
        for (i, &(view, codes, ints, q_ints)) in plane_tiles.iter().enumerate().rev() {
            load_as(builder, codes, ints, view, tile_at.clone(), vec![2, 3]);
            builder.inst(Inst::Cast { dst: q_ints, src: q_codes, rounding: Rounding::NearestEven });
            builder.inst(Inst::Dot { dst: dot, a: ints, b: q_ints, acc: dot });
            if i > 0 {
                builder.inst(Inst::Elementwise {
                    dst: dot,
                    op: ElementwiseOp::Binary(BinaryOp::Mul),
                    operands: vec![tile(dot), Operand::Scalar(Expr::i32(1 << planes.low))],
                });
            }
        }
        builder.inst(Inst::Cast { dst: part, src: dot, rounding: Rounding::NearestEven });
        // The block's scales of group `g` are one contiguous run (`tile_scales`).
        load_as(builder, s16, s, s_view, tile_at.clone(), vec![2, 3]);
        builder.inst(Inst::LoadGlobal {
            dst: d,
            src: d_view,
            offsets: vec![Expr::u32(0), g],
            dims: vec![0, 1],
        });
        builder.inst(Inst::Elementwise {
            dst: s,
            op: ElementwiseOp::Binary(BinaryOp::Mul),
            operands: vec![tile(s), tile(d)],
        });
        builder.inst(Inst::Elementwise {
            dst: acc,
            op: ElementwiseOp::Ternary(TernaryOp::Fma),
            operands: vec![tile(part), tile(s), tile(acc)],
        });
    });
    store_as(&mut builder, acc, y16, y_view, row);
    Ok(builder.finish())
}
