//! The rule table: for each instruction, the first rule whose target features are present and whose
//! predicate accepts the instruction gives its [`CpuOp`]. The predicates are the only statement of when a
//! fast path applies; its emitter assumes them.

use tilevm_vm::dtype::{DataType, IntType};
use tilevm_vm::ir::{BinaryOp, ElementwiseOp, Inst, Kernel, ReduceOp, Rounding, TernaryOp, TileId, UnaryOp};

use super::chains::Chain;
use super::ops::{
    BytePlan, CpuOp, FusedDot, FusedLoad, FusedRhs, Lanes, LoadPaths, RunCopy, StorePaths, VectorCast,
};
use super::{Feature, TargetFeatures};
use crate::frame::{element_count, slot_type};
use tilevm_vm::analysis::HiddenPayloads;

/// One way of lowering instructions.
pub(super) struct Rule {
    /// The name the text form prints.
    pub(super) name: &'static str,
    /// The target features the emitted code needs.
    pub(super) requires: &'static [Feature],
    /// The operation for `inst`, when the rule applies to it.
    pub(super) select: fn(&Cx<'_>, &Inst, Option<&Chain>) -> Option<CpuOp>,
}

/// What the predicates may consult.
pub(super) struct Cx<'k> {
    pub(super) kernel: &'k Kernel,
    pub(super) target: TargetFeatures,
    pub(super) hidden_payloads: HiddenPayloads,
}

/// The deepest integer dot (its K loop is unrolled: at most 256 steps of 16 codes).
pub(crate) const MAX_BYTE_DOT_DEPTH: usize = 4096;

/// The widest element a single unaligned 64-bit word read can extract at any bit offset.
pub(crate) const WORD_READ_MAX_BITS: u32 = 57;

/// Tiles smaller than this are not worth a prefetch call.
const PREFETCH_MIN_BYTES: usize = 1024;

/// The rules, in the order they are tried.
pub(super) const RULES: &[Rule] = &[
    Rule {
        name: "byte-dot.bit-planes.pmaddubsw",
        requires: &[Feature::Vector128, Feature::ByteMultiplyAdd],
        select: |cx, inst, chain| byte_dot(cx, inst, chain, Decode::Planes, true),
    },
    Rule {
        name: "byte-dot.bit-planes.pmaddwd",
        requires: &[Feature::Vector128],
        select: |cx, inst, chain| byte_dot(cx, inst, chain, Decode::Planes, false),
    },
    Rule {
        name: "byte-dot.unpacked.pmaddubsw",
        requires: &[Feature::Vector128, Feature::ByteMultiplyAdd],
        select: |cx, inst, chain| byte_dot(cx, inst, chain, Decode::Unpacked, true),
    },
    Rule {
        name: "byte-dot.unpacked.pmaddwd",
        requires: &[Feature::Vector128],
        select: |cx, inst, chain| byte_dot(cx, inst, chain, Decode::Unpacked, false),
    },
    Rule {
        name: "byte-dot.slots.pmaddwd",
        requires: &[Feature::Vector128],
        select: |cx, inst, chain| byte_dot(cx, inst, chain, Decode::Slots, false),
    },
    Rule { name: "fused-f32-dot", requires: &[Feature::Vector128], select: fused_f32_dot },
    Rule { name: "vector-f32-dot", requires: &[Feature::Vector128], select: vector_f32_dot },
    Rule { name: "vector-cast", requires: &[Feature::Vector128], select: vector_cast },
    Rule { name: "vector-elementwise", requires: &[Feature::Vector128], select: vector_elementwise },
    Rule { name: "vector-reduce", requires: &[Feature::Vector128], select: vector_reduce },
    Rule { name: "vector-fill", requires: &[Feature::Vector128], select: vector_fill },
    Rule { name: "global-load", requires: &[], select: global_load },
    Rule { name: "global-store", requires: &[], select: global_store },
    Rule { name: "view", requires: &[], select: view },
    Rule { name: "generic", requires: &[], select: |_, _, _| Some(CpuOp::Generic) },
];

impl Cx<'_> {
    fn dtype(&self, tile: TileId) -> Option<DataType> {
        self.kernel.tiles.get(tile.index()).map(|decl| decl.dtype)
    }

    fn shape(&self, tile: TileId) -> Option<&[usize]> {
        self.kernel.tiles.get(tile.index()).map(|decl| decl.layout.shape())
    }

    /// The paths of a load of `bits`-bit codes into slots of `dtype` and `shape`.
    fn load_paths(&self, bits: u32, dtype: DataType, shape: &[usize]) -> LoadPaths {
        let vector = self.target.has(Feature::Vector128).then(|| run_copy(bits, dtype, shape)).flatten();
        LoadPaths { vector, word: bits <= WORD_READ_MAX_BITS }
    }
}

/// How a byte dot rule decodes `a`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decode {
    /// Bit planes of 1-, 2- and 4-bit codes read from the buffer.
    Planes,
    /// Codes of other widths read from the buffer, unpacked 16 at a time.
    Unpacked,
    /// Codes in the frame (their load not fused).
    Slots,
}

/// The `[M, K] · [K, 1]` shapes of a dot whose `a` has the shape of `a_tile`: `(M, K)` with both positive.
fn gemv_shape(cx: &Cx<'_>, a_tile: TileId, b: TileId, dst: TileId, acc: TileId) -> Option<(usize, usize)> {
    let [rows, depth] = cx.shape(a_tile)?[..] else { return None };
    let fits = cx.shape(b)? == [depth, 1] && cx.shape(dst)? == [rows, 1] && cx.shape(acc)? == [rows, 1];
    (fits && rows > 0 && depth > 0).then_some((rows, depth))
}

/// The codes of a chain and their integer type, when the cast into `a` converts exactly.
fn exact_codes(cx: &Cx<'_>, chain: &Chain) -> Option<IntType> {
    let DataType::Int(int) = cx.dtype(chain.codes)? else { return None };
    matches!(chain.rounding, Rounding::NearestEven | Rounding::TowardZero).then_some(int)
}

/// The fused load of a chain's codes, with the slack its direct read needs.
fn fused_load(cx: &Cx<'_>, chain: &Chain, int: IntType, slack: i64) -> Option<FusedLoad> {
    let load = chain.load.as_ref()?;
    let shape = cx.shape(chain.codes)?;
    Some(FusedLoad {
        src: load.src,
        offsets: load.offsets.clone(),
        dims: load.dims.clone(),
        staged: cx.load_paths(u32::from(int.bits), DataType::Int(int), shape),
        slack,
    })
}

/// Whether a fused dot streaming `rows · depth` codes of `int` from a buffer asks for a later tile.
fn prefetches(cx: &Cx<'_>, load: &Option<FusedLoad>, int: IntType, rows: usize, depth: usize) -> bool {
    let tile_bits = rows * depth * usize::from(int.bits);
    cx.target.has(Feature::SoftwarePrefetch)
        && load.is_some()
        && tile_bits >= PREFETCH_MIN_BYTES * 8
        && tile_bits.is_multiple_of(8)
}

/// How many codes of `int` one byte holds when a dot `depth` deep splits bytes into bit planes (1-, 2- and
/// 4-bit codes, `depth` a whole number of 16-byte loads): that path reads each row exactly, nothing past
/// its last byte.
pub(crate) fn bit_planes(int: IntType, depth: usize) -> Option<usize> {
    let per_byte = match int.bits {
        1 | 2 | 4 => 8 / usize::from(int.bits),
        _ => return None,
    };
    depth.is_multiple_of(16 * per_byte).then_some(per_byte)
}

/// An integer dot `i32 = i32 + i32(u<=7 codes) · i32(i8 codes)` with both casts absorbed.
fn byte_dot(
    cx: &Cx<'_>,
    inst: &Inst,
    chain: Option<&Chain>,
    decode: Decode,
    pmaddubsw: bool,
) -> Option<CpuOp> {
    let (Inst::Dot { dst, a, b, acc }, Some(chain)) = (inst, chain) else { return None };
    let (_, b_codes) = chain.bytes?;
    let int = exact_codes(cx, chain)?;
    let (rows, depth) = gemv_shape(cx, chain.codes, *b, *dst, *acc)?;
    let i32s = [*a, *b, *dst, *acc].iter().all(|&tile| cx.dtype(tile) == Some(DataType::I32));
    // Every product of an unsigned 7-bit code and a signed byte fits 16 bits.
    let codes_fit = !int.signed && int.bits <= 7;
    if !i32s || !codes_fit || dst == b || !depth.is_multiple_of(16) || depth > MAX_BYTE_DOT_DEPTH {
        return None;
    }
    let planes = bit_planes(int, depth).is_some();
    let direct = match (decode, chain.load.is_some(), planes, pmaddubsw) {
        (Decode::Planes, true, true, true) => BytePlan::PlanesBytes,
        (Decode::Planes, true, true, false) => BytePlan::PlanesWide,
        (Decode::Unpacked, true, false, true) => BytePlan::UnpackedBytes,
        (Decode::Unpacked, true, false, false) => BytePlan::UnpackedWide,
        (Decode::Slots, false, _, false) => BytePlan::SlotsWide,
        _ => return None,
    };
    // The bit-plane path reads whole rows and nothing past them, so the tile may end where the buffer does.
    let slack = if direct.planes() { 1 } else { 16 };
    let load = fused_load(cx, chain, int, slack);
    let prefetch = prefetches(cx, &load, int, rows, depth);
    Some(CpuOp::FusedDot(FusedDot {
        codes: chain.codes,
        int,
        load,
        rhs: FusedRhs::Bytes { codes: b_codes, direct },
        zero_accumulator: chain.zero_fill.is_some(),
        prefetch,
    }))
}

/// `f32 = f32 + f32(<=8-bit codes) · f32` with the cast of the codes absorbed.
fn fused_f32_dot(cx: &Cx<'_>, inst: &Inst, chain: Option<&Chain>) -> Option<CpuOp> {
    let (Inst::Dot { dst, a, b, acc }, Some(chain)) = (inst, chain) else { return None };
    let int = exact_codes(cx, chain)?;
    let (rows, depth) = gemv_shape(cx, chain.codes, *b, *dst, *acc)?;
    let f32s = [*a, *b, *dst, *acc].iter().all(|&tile| cx.dtype(tile) == Some(DataType::F32));
    if !f32s || int.bits > 8 || dst == b || !depth.is_multiple_of(16) {
        return None;
    }
    let load = fused_load(cx, chain, int, 16);
    let prefetch = prefetches(cx, &load, int, rows, depth);
    Some(CpuOp::FusedDot(FusedDot {
        codes: chain.codes,
        int,
        load,
        rhs: FusedRhs::F32,
        zero_accumulator: false,
        prefetch,
    }))
}

/// `f32 = f32 + f32 · f32` for `[M, K] · [K, 1]` tiles in the frame, `K` a multiple of 4.
fn vector_f32_dot(cx: &Cx<'_>, inst: &Inst, _: Option<&Chain>) -> Option<CpuOp> {
    let Inst::Dot { dst, a, b, acc } = inst else { return None };
    let (_, depth) = gemv_shape(cx, *a, *b, *dst, *acc)?;
    let f32s = [*a, *b, *dst, *acc].iter().all(|&tile| cx.dtype(tile) == Some(DataType::F32));
    (f32s && dst != a && dst != b && depth.is_multiple_of(4)).then_some(CpuOp::VectorDot)
}

/// Casts of whole tiles: small integer codes, i32 and f16 to f32, and f32 to bytes.
fn vector_cast(cx: &Cx<'_>, inst: &Inst, _: Option<&Chain>) -> Option<CpuOp> {
    let Inst::Cast { dst, src, rounding } = inst else { return None };
    let (from, to) = (cx.dtype(*src)?, cx.dtype(*dst)?);
    let count = element_count(cx.shape(*src)?);
    if dst == src || cx.shape(*src)? != cx.shape(*dst)? || count == 0 {
        return None;
    }
    let cast = match (from, to) {
        // Float to integer truncates whatever the rounding.
        (DataType::F32, DataType::Int(IntType { signed, bits: 8 })) if count.is_multiple_of(16) => {
            VectorCast::F32ToBytes { signed }
        }
        (DataType::F32, _) => return None,
        (_, DataType::F32) if !matches!(rounding, Rounding::NearestEven | Rounding::TowardZero) => {
            return None;
        }
        (DataType::Int(int), DataType::F32) if int.bits <= 8 && count.is_multiple_of(16) => {
            VectorCast::IntCodesToF32(int)
        }
        // `fcvt_from_sint` rounds to nearest even, as `dtype::cast` does under that rounding.
        (DataType::I32, DataType::F32) if count.is_multiple_of(4) && *rounding == Rounding::NearestEven => {
            VectorCast::I32ToF32
        }
        (DataType::F16, DataType::F32) if count.is_multiple_of(8) => VectorCast::F16ToF32,
        _ => return None,
    };
    Some(CpuOp::VectorCast(cast))
}

/// Elementwise f32 `+ - * /`, `fma`, negation, absolute value, `sqrt` and roundings, and i32 `+ - *`,
/// negation and absolute value, on operands of the result's shape, single elements and scalars.
fn vector_elementwise(cx: &Cx<'_>, inst: &Inst, _: Option<&Chain>) -> Option<CpuOp> {
    let Inst::Elementwise { dst, op, operands } = inst else { return None };
    let dtype = cx.dtype(*dst)?;
    let shape = cx.shape(*dst)?;
    let lanes = match dtype {
        DataType::F32 => Lanes::F32,
        DataType::I32 => Lanes::I32,
        _ => return None,
    };
    let float = lanes == Lanes::F32;
    let supported = match op {
        ElementwiseOp::Binary(BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul)
        | ElementwiseOp::Unary(UnaryOp::Neg | UnaryOp::Abs) => true,
        ElementwiseOp::Binary(BinaryOp::Div)
        | ElementwiseOp::Ternary(TernaryOp::Fma)
        | ElementwiseOp::Unary(
            UnaryOp::Sqrt | UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round | UnaryOp::Trunc,
        ) => float,
        _ => false,
    };
    let count = element_count(shape);
    let operands_fit = operands.iter().all(|operand| match operand {
        tilevm_vm::ir::Operand::Scalar(expr) => expr.dtype == dtype,
        tilevm_vm::ir::Operand::Tile(tile) => {
            cx.dtype(*tile) == Some(dtype)
                && cx.shape(*tile).is_some_and(|own| own == shape || element_count(own) == 1)
        }
    });
    if !supported || count == 0 || !count.is_multiple_of(4) || !operands_fit {
        return None;
    }
    // Sign-bit operations give every code, NaN payloads included, as the interpreter does.
    let sign_only = matches!(op, ElementwiseOp::Unary(UnaryOp::Neg | UnaryOp::Abs));
    let canonical_nans = float && !sign_only && !cx.hidden_payloads.hidden(*dst);
    Some(CpuOp::VectorElementwise { lanes, canonical_nans })
}

/// f32 and i32 `max`/`min` and i32 `sum` along the last dimension, whose extent is a multiple of 4 up to
/// 256 (unrolled).
fn vector_reduce(cx: &Cx<'_>, inst: &Inst, _: Option<&Chain>) -> Option<CpuOp> {
    let Inst::Reduce { dst, src, dim, op } = inst else { return None };
    let dtype = cx.dtype(*src)?;
    let lanes = match dtype {
        DataType::F32 => Lanes::F32,
        DataType::I32 => Lanes::I32,
        _ => return None,
    };
    let order_free = matches!((op, lanes), (ReduceOp::Max | ReduceOp::Min, _) | (ReduceOp::Sum, Lanes::I32));
    let src_shape = cx.shape(*src)?;
    let (&extent, outer) = src_shape.split_last()?;
    let dst_shape = cx.shape(*dst)?;
    let kept = [outer, &[1]].concat();
    let shape_fits = dst_shape == outer || dst_shape == kept.as_slice();
    let vectors_fit = extent >= 4 && extent.is_multiple_of(4) && extent <= 256;
    let fits = order_free && cx.dtype(*dst) == Some(dtype) && *dim + 1 == src_shape.len() && shape_fits;
    (fits && vectors_fit).then_some(CpuOp::VectorReduce(lanes))
}

/// Register fills whose slots make whole 16-byte vectors.
fn vector_fill(cx: &Cx<'_>, inst: &Inst, _: Option<&Chain>) -> Option<CpuOp> {
    let Inst::AllocRegister { dst, init } = inst else { return None };
    let dtype = cx.dtype(*dst)?;
    let slot = slot_type(dtype);
    let bytes = element_count(cx.shape(*dst)?) * u64::from(slot.bytes());
    // The fill value is splatted: it must be a value of the slot's type.
    let value_fits = init.as_ref().is_none_or(|init| slot_type(init.dtype) == slot);
    (bytes > 0 && bytes.is_multiple_of(16) && value_fits).then_some(CpuOp::VectorFill)
}

/// Loads from global memory: the vector and word paths where the tile's shape and width allow them.
fn global_load(cx: &Cx<'_>, inst: &Inst, _: Option<&Chain>) -> Option<CpuOp> {
    let (view, dtype, shape) = match inst {
        Inst::LoadGlobal { dst, src, .. } => (*src, cx.dtype(*dst)?, cx.shape(*dst)?),
        Inst::CopyGlobalToShared { dst, src, .. } => {
            let decl = cx.kernel.shared.get(dst.index())?;
            (*src, decl.dtype, decl.layout.shape())
        }
        _ => return None,
    };
    let bits = cx.kernel.globals.get(view.index())?.dtype.bits();
    Some(CpuOp::Load(cx.load_paths(bits, dtype, shape)))
}

/// Stores to global memory: whole vectors of codes that fill their slots.
fn global_store(cx: &Cx<'_>, inst: &Inst, _: Option<&Chain>) -> Option<CpuOp> {
    let Inst::StoreGlobal { dst, src, .. } = inst else { return None };
    let bits = cx.kernel.globals.get(dst.index())?.dtype.bits();
    let vector = match run_copy(bits, cx.dtype(*src)?, cx.shape(*src)?) {
        Some(copy @ RunCopy::Copy { .. }) if cx.target.has(Feature::Vector128) => Some(copy),
        _ => None,
    };
    Some(CpuOp::Store(StorePaths { vector }))
}

/// `View`: which sides are already in thread order.
fn view(cx: &Cx<'_>, inst: &Inst, _: Option<&Chain>) -> Option<CpuOp> {
    let Inst::View { dst, src } = inst else { return None };
    let layout = |tile: TileId| cx.kernel.tiles.get(tile.index()).map(|decl| &decl.layout);
    Some(CpuOp::View {
        src_in_order: crate::views::is_thread_major(layout(*src)?),
        dst_in_order: crate::views::is_thread_major(layout(*dst)?),
    })
}

/// The vector copy of runs of `bits`-bit codes into slots of `dtype` and `shape`, if there is one: each
/// innermost run a whole number of vectors.
pub(crate) fn run_copy(bits: u32, dtype: DataType, shape: &[usize]) -> Option<RunCopy> {
    let slot_bits = slot_type(dtype).bits();
    let plan = match (bits, slot_bits) {
        (1..=7, 8) => RunCopy::Unpack { bits },
        (8, 8) | (16, 16) | (32, 32) => RunCopy::Copy { lanes: 128 / slot_bits as usize },
        _ => return None,
    };
    let inner = *shape.get(innermost_dim(shape)?)?;
    (inner > 0 && inner.is_multiple_of(plan.lanes()) && element_count(shape) > 0).then_some(plan)
}

/// The innermost dimension whose extent is not 1 (trailing extents of 1 do not break contiguity), or the
/// last one; `None` for a rank-0 shape.
pub(crate) fn innermost_dim(shape: &[usize]) -> Option<usize> {
    let last = shape.len().checked_sub(1)?;
    Some(shape.iter().rposition(|&extent| extent != 1).unwrap_or(last))
}
