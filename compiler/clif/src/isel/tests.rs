//! Selection on small hand-built kernels: which chains fuse, what blocks them, and how target features
//! change the rule.

use tilevm_vm::dtype::{DataType, IntType};
use tilevm_vm::ir::{ElementwiseOp, Expr, Inst, KernelBuilder, Operand, Rounding, UnaryOp};
use tilevm_vm::layout::local;
use tilevm_vm::verify::VerifiedKernel;

use super::*;

const U4: DataType = DataType::Int(IntType { signed: false, bits: 4 });

/// Loads u4 codes `[4, 32]`, casts them, loads x, and takes the dot; `second_reader` adds another use of
/// the f32 tile.
fn f32_dot(second_reader: bool) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("fusable", 1);
    let w = builder.global_param("w", U4, false);
    let x = builder.global_param("x", DataType::F32, false);
    builder.grid(vec![Expr::u32(1)]);
    let pair = |a: u32, b: u32| vec![Expr::u32(a), Expr::u32(b)];
    let w_view = builder.view_global("w", w, U4, pair(4, 32), pair(32, 1), Expr::u32(0));
    let x_view = builder.view_global("x", x, DataType::F32, pair(32, 1), pair(1, 1), Expr::u32(0));
    let codes = builder.tile("codes", U4, local(&[4, 32]).unwrap());
    let values = builder.tile("values", DataType::F32, local(&[4, 32]).unwrap());
    let x_tile = builder.tile("x", DataType::F32, local(&[32, 1]).unwrap());
    let y = builder.tile("y", DataType::F32, local(&[4, 1]).unwrap());
    let origin = pair(0, 0);
    builder.inst(Inst::LoadGlobal { dst: codes, src: w_view, offsets: origin.clone(), dims: vec![0, 1] });
    builder.inst(Inst::Cast { dst: values, src: codes, rounding: Rounding::NearestEven });
    builder.inst(Inst::LoadGlobal { dst: x_tile, src: x_view, offsets: origin, dims: vec![0, 1] });
    builder.inst(Inst::AllocRegister { dst: y, init: Some(Expr::f32(0.0)) });
    builder.inst(Inst::Dot { dst: y, a: values, b: x_tile, acc: y });
    if second_reader {
        let copy = builder.tile("copy", DataType::F32, local(&[4, 32]).unwrap());
        builder.inst(Inst::Elementwise {
            dst: copy,
            op: ElementwiseOp::Unary(UnaryOp::Neg),
            operands: vec![Operand::Tile(values)],
        });
    }
    builder.finish().unwrap()
}

fn op(selection: &Selection, index: usize) -> &CpuOp {
    &selection.get(InstIndex(index)).unwrap().op
}

#[test]
fn a_load_cast_dot_chain_fuses_and_a_second_reader_prevents_it() {
    let selection = select(&f32_dot(false), TargetFeatures::X86_64_SSSE3);
    // #0 and #1 are the views, #2 the load, #3 the cast, #4 the load of x, #5 the fill, #6 the dot.
    assert_eq!(op(&selection, 2), &CpuOp::Absorbed { dot: InstIndex(6), role: AbsorbedRole::LoadOfCodes });
    assert_eq!(op(&selection, 3), &CpuOp::Absorbed { dot: InstIndex(6), role: AbsorbedRole::CastOfCodes });
    let CpuOp::FusedDot(dot) = op(&selection, 6) else { panic!("not fused: {:?}", op(&selection, 6)) };
    assert!(dot.load.is_some() && dot.rhs == FusedRhs::F32 && !dot.zero_accumulator);
    assert_eq!(selection.get(InstIndex(6)).unwrap().rule, "fused-f32-dot");

    let selection = select(&f32_dot(true), TargetFeatures::X86_64_SSSE3);
    assert!(matches!(op(&selection, 2), CpuOp::Load(_)));
    assert!(matches!(op(&selection, 3), CpuOp::VectorCast(_)));
    assert_eq!(op(&selection, 6), &CpuOp::VectorDot);
}

#[test]
fn without_vectors_everything_is_generic_or_masked() {
    let scalar = TargetFeatures { vector_bytes: 8, byte_multiply_add: false, software_prefetch: false };
    let selection = select(&f32_dot(false), scalar);
    for selected in selection.ops() {
        assert!(
            matches!(selected.op, CpuOp::Generic | CpuOp::Load(LoadPaths { vector: None, .. })),
            "{selected:?}"
        );
    }
}

/// `acc = init; acc = acc + i32(u4 codes) . i32(i8 codes)`, with `reader` reading `acc` between the fill
/// and the dot.
fn integer_dot(init: Option<Expr>, reader: bool) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("integer", 1);
    let w = builder.global_param("w", U4, false);
    let q = builder.global_param("q", DataType::I8, false);
    builder.grid(vec![Expr::u32(1)]);
    let pair = |a: u32, b: u32| vec![Expr::u32(a), Expr::u32(b)];
    let w_view = builder.view_global("w", w, U4, pair(4, 32), pair(32, 1), Expr::u32(0));
    let q_view = builder.view_global("q", q, DataType::I8, pair(32, 1), pair(1, 1), Expr::u32(0));
    let codes = builder.tile("codes", U4, local(&[4, 32]).unwrap());
    let ints = builder.tile("ints", DataType::I32, local(&[4, 32]).unwrap());
    let q_codes = builder.tile("q8", DataType::I8, local(&[32, 1]).unwrap());
    let q_ints = builder.tile("q", DataType::I32, local(&[32, 1]).unwrap());
    let acc = builder.tile("acc", DataType::I32, local(&[4, 1]).unwrap());
    let copy = builder.tile("copy", DataType::I32, local(&[4, 1]).unwrap());
    builder.inst(Inst::AllocRegister { dst: acc, init });
    if reader {
        builder.inst(Inst::Assign { dst: copy, src: acc });
    }
    builder.inst(Inst::LoadGlobal { dst: codes, src: w_view, offsets: pair(0, 0), dims: vec![0, 1] });
    builder.inst(Inst::Cast { dst: ints, src: codes, rounding: Rounding::NearestEven });
    builder.inst(Inst::LoadGlobal { dst: q_codes, src: q_view, offsets: pair(0, 0), dims: vec![0, 1] });
    builder.inst(Inst::Cast { dst: q_ints, src: q_codes, rounding: Rounding::NearestEven });
    builder.inst(Inst::Dot { dst: acc, a: ints, b: q_ints, acc });
    builder.finish().unwrap()
}

/// The fused dot of a selection, and the index of the dot.
fn fused(selection: &Selection) -> (usize, &FusedDot, &'static str) {
    selection
        .ops()
        .iter()
        .enumerate()
        .find_map(|(index, selected)| match &selected.op {
            CpuOp::FusedDot(dot) => Some((index, dot, selected.rule)),
            _ => None,
        })
        .expect("a fused dot")
}

#[test]
fn a_zero_fill_right_before_a_fused_integer_dot_is_absorbed() {
    // An explicit 0, or no `init` (zero bits, as `.tile`'s `zeros` allocates).
    for init in [Some(Expr::i32(0)), None] {
        let selection = select(&integer_dot(init.clone(), false), TargetFeatures::X86_64_SSSE3);
        let (index, dot, rule) = fused(&selection);
        assert!(dot.zero_accumulator, "{init:?}");
        assert_eq!(rule, "byte-dot.bit-planes.pmaddubsw");
        // #0 and #1 are the views, #2 the fill.
        assert_eq!(
            op(&selection, 2),
            &CpuOp::Absorbed { dot: InstIndex(index), role: AbsorbedRole::ZeroFill }
        );
        let read_between = select(&integer_dot(init, true), TargetFeatures::X86_64_SSSE3);
        assert!(!fused(&read_between).1.zero_accumulator);
        assert_eq!(op(&read_between, 2), &CpuOp::VectorFill);
    }
    let ones = select(&integer_dot(Some(Expr::i32(1)), false), TargetFeatures::X86_64_SSSE3);
    assert!(!fused(&ones).1.zero_accumulator, "a fill of ones is kept");
}

#[test]
fn without_pmaddubsw_the_byte_dot_widens() {
    let portable = TargetFeatures { byte_multiply_add: false, ..TargetFeatures::X86_64_SSSE3 };
    let selection = select(&integer_dot(None, false), portable);
    let (_, dot, rule) = fused(&selection);
    assert_eq!(rule, "byte-dot.bit-planes.pmaddwd");
    assert!(matches!(dot.rhs, FusedRhs::Bytes { direct: BytePlan::PlanesWide, .. }));
    let prefetching = TargetFeatures { software_prefetch: true, ..TargetFeatures::X86_64_SSSE3 };
    // 4 x 32 u4 codes are 64 bytes: too small to prefetch.
    assert!(!fused(&select(&integer_dot(None, false), prefetching)).1.prefetch);
}
