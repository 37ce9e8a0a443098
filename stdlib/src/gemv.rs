//! The a16wX GEMV benchmark kernel, built with `KernelBuilder` (the same computation as
//! `examples/gemv_a16w4.tile`, with the scale applied once per group rather than per weight).
//!
//! `y[n] = sum_k x[k] * w[n, k] * scale[n, k / group]`, with `x`, `scale` and `y` in f16 and `w` packed
//! `weight_dtype` codes (any integer width). Tilus-style structure: each block owns `ROWS` output rows;
//! for each group of `group` weights along k it loads a `[ROWS, group]` weight tile and a `[group, 1]`
//! activation tile, casts both to f32, takes their dot product, and accumulates it times the group's scale
//! (one scale multiply per group, not per weight).

use tilevm_vm::DataType;
use tilevm_vm::ir::{
    BinaryOp, ElementwiseOp, Expr, GlobalId, Inst, Kernel, KernelBuilder, Operand, Rounding, TernaryOp,
    TileId,
};
use tilevm_vm::layout::local;

use crate::StdlibError;

/// Emits `values = cast(load(view at offsets))` through the codes tile `codes` (`dims` as `LoadGlobal`'s).
fn load_as(
    builder: &mut KernelBuilder,
    codes: TileId,
    values: TileId,
    view: GlobalId,
    offsets: Vec<Expr>,
    dims: Vec<usize>,
) {
    builder.inst(Inst::LoadGlobal { dst: codes, src: view, offsets, dims });
    builder.inst(Inst::Cast { dst: values, src: codes, rounding: Rounding::NearestEven });
}

/// Emits `store(y at [row, 0], cast(values))` through the codes tile `codes`: a GEMV's `[rows, 1]` outputs,
/// rounded to the nearest even code.
fn store_as(builder: &mut KernelBuilder, values: TileId, codes: TileId, y: GlobalId, row: Expr) {
    builder.inst(Inst::Cast { dst: codes, src: values, rounding: Rounding::NearestEven });
    builder.inst(Inst::StoreGlobal {
        dst: y,
        src: codes,
        offsets: vec![row, Expr::u32(0)],
        dims: vec![0, 1],
    });
}

/// Output rows per block.
pub const ROWS: usize = 32;

/// The GEMV kernel for `n` outputs, `k` inputs and one scale per `group` weights along k.
///
/// Parameters, in order: `x: f16[k]`, `w: weight_dtype[n, k]` (row-major, packed), `scale: f16[n, k/group]`,
/// `y: f16[n]` (written).
///
/// # Errors
/// [`StdlibError::Layout`] when a tile shape is not a valid layout (`group` of 0).
pub fn gemv_a16wx(weight_dtype: DataType, n: u32, k: u32, group: u32) -> Result<Kernel, StdlibError> {
    let group_len = group as usize;
    let mut builder = KernelBuilder::new(format!("gemv_a16w{}", weight_dtype.bits()), 1);
    let x = builder.global_param("x", DataType::F16, false);
    let w = builder.global_param("w", weight_dtype, false);
    let scale = builder.global_param("scale", DataType::F16, false);
    let y = builder.global_param("y", DataType::F16, true);
    builder.grid(vec![Expr::u32(n.div_ceil(ROWS as u32))]);
    let groups = k.div_ceil(group.max(1));
    let x_view = builder.view_global(
        "x",
        x,
        DataType::F16,
        vec![Expr::u32(k), Expr::u32(1)],
        vec![Expr::u32(1), Expr::u32(1)],
        Expr::u32(0),
    );
    let w_view = builder.view_global(
        "w",
        w,
        weight_dtype,
        vec![Expr::u32(n), Expr::u32(k)],
        vec![Expr::u32(k), Expr::u32(1)],
        Expr::u32(0),
    );
    let s_view = builder.view_global(
        "scale",
        scale,
        DataType::F16,
        vec![Expr::u32(n), Expr::u32(groups)],
        vec![Expr::u32(groups), Expr::u32(1)],
        Expr::u32(0),
    );
    let y_view = builder.view_global(
        "y",
        y,
        DataType::F16,
        vec![Expr::u32(n), Expr::u32(1)],
        vec![Expr::u32(1), Expr::u32(1)],
        Expr::u32(0),
    );
    let column = local(&[ROWS, 1])?;
    let acc = builder.tile("acc", DataType::F32, column.clone());
    let part = builder.tile("part", DataType::F32, column.clone());
    let s_codes = builder.tile("s16", DataType::F16, column.clone());
    let s_values = builder.tile("s", DataType::F32, column.clone());
    let y_codes = builder.tile("y16", DataType::F16, column);
    let w_codes = builder.tile("wq", weight_dtype, local(&[ROWS, group_len])?);
    let w_values = builder.tile("w", DataType::F32, local(&[ROWS, group_len])?);
    let x_codes = builder.tile("x16", DataType::F16, local(&[group_len, 1])?);
    let x_values = builder.tile("x", DataType::F32, local(&[group_len, 1])?);
    let row =
        builder.let_var("row", Expr::binary(BinaryOp::Mul, Expr::block_index(0), Expr::u32(ROWS as u32)));
    builder.inst(Inst::AllocRegister { dst: acc, init: Some(Expr::f32(0.0)) });
    builder.for_range("k0", Expr::u32(0), Expr::u32(k), Expr::u32(group), |builder, k0| {
        let g = Expr::binary(BinaryOp::Div, k0.clone(), Expr::u32(group));
        load_as(builder, w_codes, w_values, w_view, vec![row.clone(), k0.clone()], vec![0, 1]);
        load_as(builder, x_codes, x_values, x_view, vec![k0, Expr::u32(0)], vec![0, 1]);
        builder.inst(Inst::AllocRegister { dst: part, init: Some(Expr::f32(0.0)) });
        builder.inst(Inst::Dot { dst: part, a: w_values, b: x_values, acc: part });
        load_as(builder, s_codes, s_values, s_view, vec![row.clone(), g], vec![0, 1]);
        builder.inst(Inst::Elementwise {
            dst: acc,
            op: ElementwiseOp::Ternary(TernaryOp::Fma),
            operands: vec![Operand::Tile(part), Operand::Tile(s_values), Operand::Tile(acc)],
        });
    });
    store_as(&mut builder, acc, y_codes, y_view, row);
    Ok(builder.finish())
}
