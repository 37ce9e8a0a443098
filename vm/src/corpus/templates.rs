//! The case templates: each draws one small kernel and its arguments from a random stream.

use super::layouts::{
    REPLICATED32_8X8, THREADS1_4X8, THREADS32_4X32, THREADS32_8X8, THREADS64_16X16, layout,
};
use super::{CorpusCase, SplitMix64, Tolerance, named, random_buffer, random_code};
use crate::dtype::DataType;
use crate::interp::KernelArg;
use crate::ir::{
    BinaryOp, ElementwiseOp, Expr, GlobalId, Inst, KernelBuilder, Operand, ReduceOp, Rounding, SharedLayout,
    TernaryOp, TileId, UnaryOp,
};

mod gemv_dot;

/// A template: draws a case named `name`, or `None` when one of its constant names does not parse.
pub(super) type Template = fn(&mut SplitMix64, &str) -> Option<CorpusCase>;

/// Every template with its name, in the order [`super::generate_corpus`] cycles through them.
pub(super) const TEMPLATES: &[(&str, Template)] = &[
    ("cast_chain", cast_chain),
    ("view_bits", view_bits),
    ("shared_round_trip", shared_round_trip),
    ("reduce", reduce),
    ("dot", dot),
    ("iota_where_permute", iota_where_permute),
    ("control_flow", control_flow),
    ("int_ops", int_ops),
    ("float_ops", float_ops),
    ("gemv_dot", gemv_dot::gemv_dot),
];

/// Every storage and compute dtype the cast chains draw from.
const DTYPES: &[&str] = &[
    "u1",
    "u2",
    "u3",
    "u4",
    "u5",
    "u6",
    "u7",
    "u8",
    "i2",
    "i3",
    "i4",
    "i5",
    "i6",
    "i7",
    "i8",
    "u16",
    "i16",
    "u24",
    "f4e2m1fn",
    "f6e2m3fn",
    "f6e3m2fn",
    "f8e3m4",
    "f8e4m3",
    "f8e4m3fn",
    "f8e4m3fnuz",
    "f8e4m3b11fnuz",
    "f8e5m2",
    "f8e5m2fnuz",
    "f8e8m0fnu",
    "f16",
    "bf16",
    "f32",
    "i32",
    "u32",
];

/// A layout family: threads per block, tile rows and columns, and layouts of that tile.
type Family = (u32, usize, usize, &'static [&'static str]);

const FAMILIES: &[Family] = &[
    (32, 8, 8, THREADS32_8X8),
    (32, 4, 32, THREADS32_4X32),
    (64, 16, 16, THREADS64_16X16),
    (1, 4, 8, THREADS1_4X8),
];

/// The state of one case being drawn: the kernel, its arguments and outputs.
struct Case<'r> {
    rng: &'r mut SplitMix64,
    builder: KernelBuilder,
    args: Vec<KernelArg>,
    outputs: Vec<usize>,
}

/// How a tile walks a ragged 2-D view: block `(x, y)` reads rows `x*rows + shift.0..` and columns
/// `y*cols + shift.1..`; the view is `height x width`, not a multiple of the tile.
struct Tiling {
    rows: usize,
    cols: usize,
    height: usize,
    width: usize,
    shift: (i32, i32),
}

impl<'r> Case<'r> {
    fn new(rng: &'r mut SplitMix64, name: &str, threads: u32) -> Case<'r> {
        Case { rng, builder: KernelBuilder::new(name, threads), args: Vec::new(), outputs: Vec::new() }
    }

    /// Draws a grid of up to 8 blocks and a ragged view around it, with masked shifts when `shifted`.
    fn tiling(&mut self, rows: usize, cols: usize, shifted: bool) -> Tiling {
        let blocks_x = self.rng.range(1, 4) as usize;
        let blocks_y = self.rng.range(1, 2) as usize;
        self.builder.grid(vec![Expr::u32(blocks_x as u32), Expr::u32(blocks_y as u32)]);
        let height = (blocks_x * rows - self.rng.below(rows as u64) as usize).max(1);
        let width = (blocks_y * cols - self.rng.below(cols as u64) as usize).max(1);
        let shift =
            if shifted { (self.rng.range(-1, 1) as i32, self.rng.range(-2, 2) as i32) } else { (0, 0) };
        Tiling { rows, cols, height, width, shift }
    }

    /// The view offsets of the running block's tile.
    fn offsets(&self, tiling: &Tiling) -> Vec<Expr> {
        vec![block_start(0, tiling.rows, tiling.shift.0), block_start(1, tiling.cols, tiling.shift.1)]
    }

    /// A buffer parameter with random contents and a row-major view of `shape` over it.
    fn buffer(&mut self, name: &str, dtype: DataType, shape: &[usize], mutable: bool) -> GlobalId {
        let count: usize = shape.iter().product();
        let mut bytes = (count * dtype.bits() as usize).div_ceil(8);
        // Now and then the buffer ends inside the view: elements not wholly inside it are masked.
        if bytes > 1 && self.rng.chance(1, 6) {
            bytes -= 1;
        }
        let param = self.builder.global_param(name, dtype, mutable);
        if mutable {
            self.outputs.push(self.args.len());
        }
        self.args.push(KernelArg::Buffer(random_buffer(self.rng, dtype, count, bytes)));
        let mut strides = vec![1usize; shape.len()];
        for dim in (0..shape.len().saturating_sub(1)).rev() {
            strides[dim] = strides[dim + 1] * shape[dim + 1];
        }
        let to_exprs = |values: &[usize]| values.iter().map(|&value| Expr::i32(value as i32)).collect();
        self.builder.view_global(name, param, dtype, to_exprs(shape), to_exprs(&strides), Expr::i32(0))
    }

    fn tile(&mut self, name: &str, dtype: DataType, layout_text: &str) -> Option<TileId> {
        Some(self.builder.tile(name, dtype, layout(layout_text)?))
    }

    fn inst(&mut self, inst: Inst) {
        self.builder.inst(inst);
    }

    fn elementwise(&mut self, dst: TileId, op: ElementwiseOp, operands: Vec<Operand>) {
        self.builder.inst(Inst::Elementwise { dst, op, operands });
    }

    fn finish(self, name: &str, tolerance: Tolerance) -> Option<CorpusCase> {
        // A template that builds IR the verifier rejects is a bug in the generator, not a case to skip.
        let kernel = match self.builder.finish() {
            Ok(kernel) => kernel,
            Err(errors) => panic!("corpus template `{name}` built a kernel the verifier rejects: {errors}"),
        };
        Some(CorpusCase { name: name.to_string(), kernel, args: self.args, outputs: self.outputs, tolerance })
    }
}

/// `block_index(axis) * extent + shift`, as `i32`.
fn block_start(axis: u8, extent: usize, shift: i32) -> Expr {
    let block = Expr::block_index(axis).cast(DataType::I32);
    let start = Expr::binary(BinaryOp::Mul, block, Expr::i32(extent as i32));
    Expr::binary(BinaryOp::Add, start, Expr::i32(shift))
}

/// A scalar constant of a compute dtype from an `f64` (floats) or its integer value.
fn constant(dtype: DataType, value: f64) -> Expr {
    Expr::constant(dtype, dtype.from_f64(value, Rounding::NearestEven))
}

fn binary(op: BinaryOp) -> ElementwiseOp {
    ElementwiseOp::Binary(op)
}

fn unary(op: UnaryOp) -> ElementwiseOp {
    ElementwiseOp::Unary(op)
}

fn pick_rounding(rng: &mut SplitMix64) -> Rounding {
    match rng.below(4) {
        0 => Rounding::TowardZero,
        1 => Rounding::Stochastic { seed: rng.next_u64() },
        _ => Rounding::NearestEven,
    }
}

/// load (any dtype) → cast to a compute dtype → `x * k + b` → cast (any rounding) → store (any dtype).
fn cast_chain(rng: &mut SplitMix64, name: &str) -> Option<CorpusCase> {
    let source = named(rng.pick(DTYPES))?;
    let target = named(rng.pick(DTYPES))?;
    let compute = if source.is_float() {
        rng.pick(&[DataType::F32, DataType::F32, DataType::F16, DataType::BF16])
    } else {
        rng.pick(&[DataType::I32, DataType::U32])
    };
    let (threads, rows, cols, layouts) = rng.pick(FAMILIES);
    let layout_text = rng.pick(layouts);
    let rounding = pick_rounding(rng);
    let mut case = Case::new(rng, name, threads);
    let tiling = case.tiling(rows, cols, true);
    let input = case.buffer("x", source, &[tiling.height, tiling.width], false);
    let output = case.buffer("y", target, &[tiling.height, tiling.width], true);
    let loaded = case.tile("loaded", source, layout_text)?;
    let value = case.tile("value", compute, layout_text)?;
    let result = case.tile("result", target, layout_text)?;
    let offsets = case.offsets(&tiling);
    case.inst(Inst::LoadGlobal { dst: loaded, src: input, offsets: offsets.clone(), dims: vec![0, 1] });
    case.inst(Inst::Cast { dst: value, src: loaded, rounding: Rounding::NearestEven });
    let (scale, bias) = if compute.is_float() { (1.5, 0.25) } else { (3.0, 1.0) };
    let value_operand = Operand::Tile(value);
    case.elementwise(
        value,
        binary(BinaryOp::Mul),
        vec![value_operand.clone(), Operand::Scalar(constant(compute, scale))],
    );
    case.elementwise(
        value,
        binary(BinaryOp::Add),
        vec![value_operand, Operand::Scalar(constant(compute, bias))],
    );
    case.inst(Inst::Cast { dst: result, src: value, rounding });
    case.inst(Inst::StoreGlobal { dst: output, src: result, offsets, dims: vec![0, 1] });
    case.finish(name, Tolerance::Exact)
}

/// A tile of one width viewed as another (`u8` as `u4`, `u3`, ...), stored raw and cast to a compute type.
fn view_bits(rng: &mut SplitMix64, name: &str) -> Option<CorpusCase> {
    // (source dtype, target dtype, source slots per thread); the target has slots * bits / bits' slots.
    const PAIRS: &[(&str, &str, usize)] = &[
        ("u8", "u4", 4),
        ("u8", "u2", 2),
        ("u8", "u1", 1),
        ("u8", "f4e2m1fn", 4),
        ("u8", "i4", 2),
        ("u8", "u3", 3),
        ("u8", "i5", 5),
        ("u8", "f6e3m2fn", 3),
        ("u8", "i7", 7),
        ("u32", "u8", 1),
        ("u4", "u8", 4),
        ("u16", "f8e4m3fn", 2),
        ("u16", "f16", 1),
        ("i4", "i2", 2),
    ];
    let (source_name, target_name, source_slots) = rng.pick(PAIRS);
    let (source, target) = (named(source_name)?, named(target_name)?);
    let target_slots = source_slots * source.bits() as usize / target.bits() as usize;
    // Row strips (thread t holds consecutive elements of one row) or column strips (thread t holds a
    // [4, slots] block spread over all four rows: its slots are not consecutive in row-major order, which
    // takes backends off their thread-major fast paths).
    let column_strips = rng.chance(1, 3);
    let threads_per_row = if column_strips { 32 } else { 8 };
    let layout_of = |slots: usize| {
        if column_strips {
            format!("local(4, 1).spatial(1, 32).local(1, {slots})")
        } else {
            format!("spatial(4, 8).local(1, {slots})")
        }
    };
    let (source_cols, target_cols) = (threads_per_row * source_slots, threads_per_row * target_slots);
    let mut case = Case::new(rng, name, 32);
    let tiling = case.tiling(4, source_cols, false);
    let blocks_y = tiling.width.div_ceil(source_cols);
    let source_width = blocks_y * source_cols;
    let target_width = blocks_y * target_cols;
    let row_shift = case.rng.range(-1, 1) as i32;
    let input = case.buffer("x", source, &[tiling.height, source_width], false);
    let raw = case.buffer("raw", target, &[tiling.height, target_width], true);
    let compute = if target.is_float() { DataType::F32 } else { DataType::I32 };
    let converted = case.buffer("converted", compute, &[tiling.height, target_width], true);
    let loaded = case.tile("loaded", source, &layout_of(source_slots))?;
    let viewed = case.tile("viewed", target, &layout_of(target_slots))?;
    let value = case.tile("value", compute, &layout_of(target_slots))?;
    let rows = block_start(0, 4, row_shift);
    let source_offsets = vec![rows.clone(), block_start(1, source_cols, 0)];
    let target_offsets = vec![rows, block_start(1, target_cols, 0)];
    case.inst(Inst::LoadGlobal { dst: loaded, src: input, offsets: source_offsets, dims: vec![0, 1] });
    case.inst(Inst::View { dst: viewed, src: loaded });
    case.inst(Inst::StoreGlobal { dst: raw, src: viewed, offsets: target_offsets.clone(), dims: vec![0, 1] });
    case.inst(Inst::Cast { dst: value, src: viewed, rounding: Rounding::NearestEven });
    case.inst(Inst::StoreGlobal { dst: converted, src: value, offsets: target_offsets, dims: vec![0, 1] });
    case.finish(name, Tolerance::Exact)
}

/// Global → registers (layout A) → shared → registers (layout B) → global, or an async copy to shared.
fn shared_round_trip(rng: &mut SplitMix64, name: &str) -> Option<CorpusCase> {
    let dtype = named(rng.pick(DTYPES))?;
    let (threads, rows, cols, layouts) = rng.pick(&FAMILIES[..3]);
    let store_layout = rng.pick(layouts);
    let load_layout =
        if rows == 8 && rng.chance(1, 3) { rng.pick(REPLICATED32_8X8) } else { rng.pick(layouts) };
    let async_copy = rng.chance(1, 3);
    let pad = if async_copy { 0 } else { rng.pick(&[0usize, 4]) };
    let mut case = Case::new(rng, name, threads);
    let tiling = case.tiling(rows, cols, true);
    let input = case.buffer("x", dtype, &[tiling.height, tiling.width], false);
    let output = case.buffer("y", dtype, &[tiling.height, tiling.width], true);
    let shared = case.builder.shared("staging", dtype, SharedLayout::row_major(&[rows, cols + pad]).ok()?);
    let loaded = case.tile("loaded", dtype, load_layout)?;
    let offsets = case.offsets(&tiling);
    let window = vec![Expr::i32(0), Expr::i32(pad as i32)];
    case.inst(Inst::AllocShared { dst: shared, init: None });
    if async_copy {
        case.inst(Inst::CopyGlobalToShared {
            dst: shared,
            src: input,
            offsets: offsets.clone(),
            dims: vec![0, 1],
        });
        case.inst(Inst::CopyWait);
    } else {
        let staged = case.tile("staged", dtype, store_layout)?;
        case.inst(Inst::LoadGlobal { dst: staged, src: input, offsets: offsets.clone(), dims: vec![0, 1] });
        case.inst(Inst::StoreShared { dst: shared, src: staged, offsets: window.clone() });
    }
    case.inst(Inst::Sync);
    case.inst(Inst::LoadShared { dst: loaded, src: shared, offsets: window });
    case.inst(Inst::Sync);
    case.inst(Inst::FreeShared { tile: shared });
    case.inst(Inst::StoreGlobal { dst: output, src: loaded, offsets, dims: vec![0, 1] });
    case.finish(name, Tolerance::Exact)
}

/// A reduction along one dimension, dropping it or keeping it as size 1, into a replicated tile.
fn reduce(rng: &mut SplitMix64, name: &str) -> Option<CorpusCase> {
    let dtype = rng.pick(&[DataType::F32, DataType::F16, DataType::I32, DataType::U32]);
    let mut ops = vec![ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin];
    if !dtype.is_float() {
        ops.push(ReduceOp::Prod);
    }
    let op = rng.pick(&ops);
    let (threads, rows, cols, layouts) = rng.pick(FAMILIES);
    let layout_text = rng.pick(layouts);
    let dim = rng.below(2) as usize;
    let keep = rng.chance(1, 2);
    let mut case = Case::new(rng, name, threads);
    let tiling = case.tiling(rows, cols, true);
    let result_dtype = if matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin) { DataType::I32 } else { dtype };
    let input = case.buffer("x", dtype, &[tiling.height, tiling.width], false);
    let blocks_x = tiling.height.div_ceil(rows);
    let (result_shape, view_shape, offsets, dims) = match (dim, keep) {
        // Blocks along axis 1 reduce different column blocks: each writes its own output column, so no two
        // blocks store to one element (their order is unspecified on parallel devices).
        (1, keep) => {
            let blocks_y = tiling.width.div_ceil(cols);
            let offsets = vec![block_start(0, rows, tiling.shift.0), block_start(1, 1, 0)];
            let (shape, dims) = if keep { (vec![rows, 1], vec![0, 1]) } else { (vec![rows], vec![0]) };
            (shape, vec![tiling.height, blocks_y], offsets, dims)
        }
        (_, keep) => {
            let offsets = vec![block_start(0, 1, 0), block_start(1, cols, tiling.shift.1)];
            let (shape, dims) = if keep { (vec![1, cols], vec![0, 1]) } else { (vec![cols], vec![1]) };
            (shape, vec![blocks_x, tiling.width], offsets, dims)
        }
    };
    let output = case.buffer("y", result_dtype, &view_shape, true);
    let sizes: Vec<String> = result_shape.iter().map(usize::to_string).collect();
    let result_layout = if threads == 1 {
        format!("local({})", sizes.join(", "))
    } else {
        format!("replicated({}, num_workers={threads})", sizes.join(", "))
    };
    let loaded = case.tile("loaded", dtype, layout_text)?;
    let result = case.tile("result", result_dtype, &result_layout)?;
    let load_offsets = case.offsets(&tiling);
    case.inst(Inst::LoadGlobal { dst: loaded, src: input, offsets: load_offsets, dims: vec![0, 1] });
    case.inst(Inst::Reduce { dst: result, src: loaded, dim, op });
    case.inst(Inst::StoreGlobal { dst: output, src: result, offsets, dims });
    let tolerance = match (op, dtype) {
        (ReduceOp::Sum, DataType::F16) => Tolerance::Close { abs: 1.0, rel: 1e-2 },
        (ReduceOp::Sum, DataType::F32) => Tolerance::Close { abs: 1e-4, rel: 1e-5 },
        _ => Tolerance::Exact,
    };
    case.finish(name, tolerance)
}

/// `c = acc + a . b`, with `b` optionally dequantized from a narrow dtype first.
fn dot(rng: &mut SplitMix64, name: &str) -> Option<CorpusCase> {
    let (operand, accumulate) = rng.pick(&[
        (DataType::F16, DataType::F32),
        (DataType::BF16, DataType::F32),
        (DataType::F32, DataType::F32),
        (DataType::I32, DataType::I32),
    ]);
    let weights = if operand.is_float() && rng.chance(1, 2) {
        named(rng.pick(&["i4", "u4", "f4e2m1fn", "f8e4m3fn", "i8"]))?
    } else {
        operand
    };
    let single_thread = rng.chance(1, 3);
    let (threads, m, k, n) = if single_thread { (1, 4, 8, 4) } else { (32, 8, 8, 8) };
    let pick_layout = |rng: &mut SplitMix64, rows: usize, cols: usize| -> String {
        if single_thread {
            format!("local({rows}, {cols})")
        } else if rng.chance(1, 4) {
            rng.pick(REPLICATED32_8X8).to_string()
        } else {
            rng.pick(THREADS32_8X8).to_string()
        }
    };
    let layouts = [pick_layout(rng, m, k), pick_layout(rng, k, n), pick_layout(rng, m, n)];
    let load_accumulator = rng.chance(1, 2);
    let mut case = Case::new(rng, name, threads);
    let tiling = case.tiling(m, n, true);
    let a_view = case.buffer("a", operand, &[tiling.height, k], false);
    // Blocks along axis 1 own different output columns, so no block reads what another writes.
    let b_view = case.buffer("b", weights, &[k, tiling.width], false);
    let c_view = case.buffer("c", accumulate, &[tiling.height, tiling.width], true);
    let a = case.tile("a", operand, &layouts[0])?;
    let b = case.tile("b", operand, &layouts[1])?;
    let c = case.tile("c", accumulate, &layouts[2])?;
    let rows = block_start(0, m, tiling.shift.0);
    case.inst(Inst::LoadGlobal {
        dst: a,
        src: a_view,
        offsets: vec![rows.clone(), Expr::i32(0)],
        dims: vec![0, 1],
    });
    let columns = block_start(1, n, tiling.shift.1);
    let b_offsets = vec![Expr::i32(0), columns.clone()];
    if weights == operand {
        case.inst(Inst::LoadGlobal { dst: b, src: b_view, offsets: b_offsets, dims: vec![0, 1] });
    } else {
        let packed = case.tile("packed", weights, &layouts[1])?;
        case.inst(Inst::LoadGlobal { dst: packed, src: b_view, offsets: b_offsets, dims: vec![0, 1] });
        case.inst(Inst::Cast { dst: b, src: packed, rounding: Rounding::NearestEven });
    }
    let c_offsets = vec![rows, columns];
    if load_accumulator {
        case.inst(Inst::LoadGlobal { dst: c, src: c_view, offsets: c_offsets.clone(), dims: vec![0, 1] });
    } else {
        case.inst(Inst::AllocRegister { dst: c, init: Some(constant(accumulate, 0.0)) });
    }
    case.inst(Inst::Dot { dst: c, a, b, acc: c });
    case.inst(Inst::StoreGlobal { dst: c_view, src: c, offsets: c_offsets, dims: vec![0, 1] });
    let tolerance =
        if accumulate.is_float() { Tolerance::Close { abs: 1e-2, rel: 1e-4 } } else { Tolerance::Exact };
    case.finish(name, tolerance)
}

/// `where(iota < block-dependent bound, x, broadcast(row))`, then `permute` and `slice`.
fn iota_where_permute(rng: &mut SplitMix64, name: &str) -> Option<CorpusCase> {
    let main_layout = rng.pick(THREADS32_8X8);
    let permuted_layout = rng.pick(THREADS32_8X8);
    let dim = rng.below(2) as usize;
    let bound = rng.range(0, 8) as i32;
    let slice_row = rng.range(0, 4) as i32;
    let mut case = Case::new(rng, name, 32);
    let tiling = case.tiling(8, 8, false);
    let blocks_x = tiling.height.div_ceil(8);
    let blocks_y = tiling.width.div_ceil(8);
    let input = case.buffer("x", DataType::F32, &[tiling.height, tiling.width], false);
    let row_input = case.buffer("row", DataType::F32, &[blocks_x, tiling.width], false);
    let permuted_out = case.buffer("permuted", DataType::F32, &[blocks_x * 8, blocks_y * 8], true);
    let slice_out = case.buffer("sliced", DataType::F32, &[blocks_x * 4, blocks_y * 8], true);
    let index = case.tile("index", DataType::I32, main_layout)?;
    let mask = case.tile("mask", DataType::BOOL, main_layout)?;
    let x = case.tile("x", DataType::F32, main_layout)?;
    let row = case.tile("row", DataType::F32, "spatial(1, 8) * replicated(1, 1, num_workers=4)")?;
    let spread = case.tile("spread", DataType::F32, main_layout)?;
    let chosen = case.tile("chosen", DataType::F32, main_layout)?;
    let permuted = case.tile("permuted", DataType::F32, permuted_layout)?;
    let sliced = case.tile("sliced", DataType::F32, "spatial(4, 8)")?;
    let offsets = case.offsets(&tiling);
    case.inst(Inst::Iota { dst: index, dim });
    let limit = Expr::binary(BinaryOp::Add, Expr::block_index(0).cast(DataType::I32), Expr::i32(bound));
    case.elementwise(mask, binary(BinaryOp::Lt), vec![Operand::Tile(index), Operand::Scalar(limit)]);
    case.inst(Inst::LoadGlobal { dst: x, src: input, offsets: offsets.clone(), dims: vec![0, 1] });
    let row_offsets = vec![block_start(0, 1, 0), block_start(1, 8, 0)];
    case.inst(Inst::LoadGlobal { dst: row, src: row_input, offsets: row_offsets, dims: vec![0, 1] });
    case.inst(Inst::Broadcast { dst: spread, src: row });
    case.elementwise(
        chosen,
        ElementwiseOp::Ternary(TernaryOp::Select),
        vec![Operand::Tile(mask), Operand::Tile(x), Operand::Tile(spread)],
    );
    case.inst(Inst::Permute { dst: permuted, src: chosen, dims: vec![1, 0] });
    case.inst(Inst::Slice { dst: sliced, src: permuted, offsets: vec![Expr::i32(slice_row), Expr::i32(0)] });
    let out_offsets = vec![block_start(0, 8, 0), block_start(1, 8, 0)];
    case.inst(Inst::StoreGlobal { dst: permuted_out, src: permuted, offsets: out_offsets, dims: vec![0, 1] });
    let slice_offsets = vec![block_start(0, 4, 0), block_start(1, 8, 0)];
    case.inst(Inst::StoreGlobal { dst: slice_out, src: sliced, offsets: slice_offsets, dims: vec![0, 1] });
    case.finish(name, Tolerance::Exact)
}

/// A `for` loop accumulating tiles, an `if` on the block index, a `while` with `break`, a counting-down loop.
fn control_flow(rng: &mut SplitMix64, name: &str) -> Option<CorpusCase> {
    let dtype = rng.pick(&[DataType::F32, DataType::I32]);
    let (threads, rows, cols, layouts) = rng.pick(&[FAMILIES[1], FAMILIES[3]]);
    let layout_text = rng.pick(layouts);
    let chunks = rng.range(1, 3) as usize;
    let break_at = rng.range(1, 4) as i32;
    let mut case = Case::new(rng, name, threads);
    let tiling = case.tiling(rows, cols, true);
    let input = case.buffer("x", dtype, &[tiling.height, chunks * cols], false);
    let output = case.buffer("y", dtype, &[tiling.height, cols], true);
    let acc = case.tile("acc", dtype, layout_text)?;
    let chunk = case.tile("chunk", dtype, layout_text)?;
    let rows_start = block_start(0, rows, tiling.shift.0);
    case.inst(Inst::AllocRegister { dst: acc, init: Some(constant(dtype, 0.0)) });
    let accumulate = |builder: &mut KernelBuilder, op: BinaryOp, value: f64| {
        let operands = vec![Operand::Tile(acc), Operand::Scalar(constant(dtype, value))];
        builder.inst(Inst::Elementwise { dst: acc, op: binary(op), operands });
    };
    let loop_rows = rows_start.clone();
    case.builder.for_range("k", Expr::i32(0), Expr::i32(chunks as i32), Expr::i32(1), |builder, k| {
        let column = Expr::binary(BinaryOp::Mul, k, Expr::i32(cols as i32));
        builder.inst(Inst::LoadGlobal {
            dst: chunk,
            src: input,
            offsets: vec![loop_rows, column],
            dims: vec![0, 1],
        });
        let operands = vec![Operand::Tile(acc), Operand::Tile(chunk)];
        builder.inst(Inst::Elementwise { dst: acc, op: binary(BinaryOp::Add), operands });
    });
    let parity = Expr::binary(BinaryOp::Rem, Expr::block_index(0), Expr::u32(2));
    let even = Expr::binary(BinaryOp::Eq, parity, Expr::u32(0));
    case.builder.if_else(
        even,
        |builder| accumulate(builder, BinaryOp::Mul, 2.0),
        |builder| accumulate(builder, BinaryOp::Add, 1.0),
    );
    let counter = case.builder.var("i", DataType::I32);
    case.builder.assign(counter, Expr::i32(0));
    let count = Expr::var(counter, DataType::I32);
    case.builder.while_loop(Expr::binary(BinaryOp::Lt, count.clone(), Expr::i32(5)), |builder| {
        accumulate(builder, BinaryOp::Add, 3.0);
        builder.assign(counter, Expr::binary(BinaryOp::Add, count.clone(), Expr::i32(1)));
        let stop = Expr::binary(BinaryOp::Eq, count.clone(), Expr::i32(break_at));
        builder.if_else(stop, |builder| builder.break_loop(), |_| {});
    });
    case.builder.for_range("j", Expr::i32(3), Expr::i32(0), Expr::i32(-1), |builder, _| {
        accumulate(builder, BinaryOp::Sub, 1.0);
    });
    case.inst(Inst::StoreGlobal {
        dst: output,
        src: acc,
        offsets: vec![rows_start, Expr::i32(0)],
        dims: vec![0, 1],
    });
    case.finish(name, Tolerance::Exact)
}

/// Integer elementwise operators (wrapping, division by zero, shifts), a unary one and a comparison.
fn int_ops(rng: &mut SplitMix64, name: &str) -> Option<CorpusCase> {
    use BinaryOp::*;
    let dtype = rng.pick(&[DataType::I32, DataType::U32]);
    let op = rng.pick(&[Add, Sub, Mul, Div, Rem, Min, Max, And, Or, Xor, Shl, Shr]);
    let after = rng.pick(&[UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Not]);
    let scalar_rhs = rng.chance(1, 3);
    let scalar_value = random_code(rng, dtype);
    let (threads, rows, cols, layouts) = rng.pick(FAMILIES);
    let layout_text = rng.pick(layouts);
    let mut case = Case::new(rng, name, threads);
    let tiling = case.tiling(rows, cols, true);
    let shift = matches!(op, Shl | Shr);
    let rhs_dtype = if shift { DataType::U32 } else { dtype };
    let lhs_view = case.buffer("x", dtype, &[tiling.height, tiling.width], false);
    let rhs_view = case.buffer("y", rhs_dtype, &[tiling.height, tiling.width], false);
    let output = case.buffer("z", dtype, &[tiling.height, tiling.width], true);
    let lhs = case.tile("x", dtype, layout_text)?;
    let rhs = case.tile("y", rhs_dtype, layout_text)?;
    let result = case.tile("z", dtype, layout_text)?;
    let bigger = case.tile("bigger", DataType::BOOL, layout_text)?;
    let offsets = case.offsets(&tiling);
    case.inst(Inst::LoadGlobal { dst: lhs, src: lhs_view, offsets: offsets.clone(), dims: vec![0, 1] });
    case.inst(Inst::LoadGlobal { dst: rhs, src: rhs_view, offsets: offsets.clone(), dims: vec![0, 1] });
    let rhs_operand = if scalar_rhs {
        Operand::Scalar(Expr::constant(rhs_dtype, scalar_value))
    } else {
        Operand::Tile(rhs)
    };
    case.elementwise(result, binary(op), vec![Operand::Tile(lhs), rhs_operand]);
    case.elementwise(result, unary(after), vec![Operand::Tile(result)]);
    case.elementwise(bigger, binary(Gt), vec![Operand::Tile(result), Operand::Tile(lhs)]);
    case.elementwise(
        result,
        ElementwiseOp::Ternary(TernaryOp::Select),
        vec![Operand::Tile(bigger), Operand::Tile(result), Operand::Tile(lhs)],
    );
    case.inst(Inst::StoreGlobal { dst: output, src: result, offsets, dims: vec![0, 1] });
    case.finish(name, Tolerance::Exact)
}

/// Float elementwise operators in `f32`, `f16` and `bf16`: exact ones, `fma`, and transcendentals.
fn float_ops(rng: &mut SplitMix64, name: &str) -> Option<CorpusCase> {
    use BinaryOp::*;
    use UnaryOp::*;
    let dtype = rng.pick(&[DataType::F32, DataType::F16, DataType::BF16]);
    let op = rng.pick(&[Add, Sub, Mul, Div, Min, Max]);
    let exact_unary = [Neg, Abs, Floor, Ceil, Round, Trunc, Sqrt];
    let transcendental = [Exp, Exp2, Log, Log2, Sin, Cos, Tanh, Rsqrt];
    let after = if rng.chance(1, 2) { rng.pick(&exact_unary) } else { rng.pick(&transcendental) };
    let fused = rng.chance(1, 2);
    let (threads, rows, cols, layouts) = rng.pick(FAMILIES);
    let layout_text = rng.pick(layouts);
    let mut case = Case::new(rng, name, threads);
    let tiling = case.tiling(rows, cols, true);
    let x_view = case.buffer("x", dtype, &[tiling.height, tiling.width], false);
    let y_view = case.buffer("y", dtype, &[tiling.height, tiling.width], false);
    let output = case.buffer("z", dtype, &[tiling.height, tiling.width], true);
    let [x, y, z] =
        ["x", "y", "z"].map(|tile| layout(layout_text).map(|layout| case.builder.tile(tile, dtype, layout)));
    let (x, y, z) = (x?, y?, z?);
    let offsets = case.offsets(&tiling);
    case.inst(Inst::LoadGlobal { dst: x, src: x_view, offsets: offsets.clone(), dims: vec![0, 1] });
    case.inst(Inst::LoadGlobal { dst: y, src: y_view, offsets: offsets.clone(), dims: vec![0, 1] });
    // `|y| + 1` keeps division, square roots and logarithms away from zero and negative numbers.
    case.elementwise(y, unary(Abs), vec![Operand::Tile(y)]);
    case.elementwise(y, binary(Add), vec![Operand::Tile(y), Operand::Scalar(constant(dtype, 1.0))]);
    case.elementwise(z, binary(op), vec![Operand::Tile(x), Operand::Tile(y)]);
    if fused {
        let operands = vec![Operand::Tile(z), Operand::Tile(y), Operand::Tile(x)];
        case.elementwise(z, ElementwiseOp::Ternary(TernaryOp::Fma), operands);
    }
    if matches!(after, Sqrt | Log | Log2 | Rsqrt) {
        case.elementwise(z, unary(Abs), vec![Operand::Tile(z)]);
        case.elementwise(z, binary(Add), vec![Operand::Tile(z), Operand::Scalar(constant(dtype, 1.0))]);
    }
    case.elementwise(z, unary(after), vec![Operand::Tile(z)]);
    case.inst(Inst::StoreGlobal { dst: output, src: z, offsets, dims: vec![0, 1] });
    let tolerance = if transcendental.contains(&after) {
        let rel = if dtype == DataType::F32 { 1e-5 } else { 1e-2 };
        Tolerance::Close { abs: 1e-6, rel }
    } else {
        Tolerance::Exact
    };
    case.finish(name, tolerance)
}
