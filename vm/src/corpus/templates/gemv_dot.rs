//! The GEMV-shaped dots the CPU backend fuses: `y = acc + cast(codes) · cast(x)` over `[M, K] · [K, 1]`.
//
// Integer dots take u1..u7 codes against i8 activations into i32 (the backend's byte dot), f32 dots take
// 1..8-bit codes, signed or not, against f32 activations (its fused f32 dot). Row counts are often not a
// multiple of four, K is a multiple of 16 (sometimes of 128, which every bit-plane width divides), the
// last block's rows run past the view (the dot's staged, masked path), and now and then an instruction in
// between must keep part of the chain from fusing: a second reader of the cast tile (no fusion at all), a
// second reader of the codes (the cast fuses, the load does not), or an accumulator filled with a nonzero
// value (no zero accumulator).

use super::{Case, Tolerance, block_start};
use crate::corpus::{CorpusCase, SplitMix64};
use crate::dtype::{DataType, IntType};
use crate::ir::{ElementwiseOp, Expr, Inst, Operand, Rounding, UnaryOp};

/// What keeps part of a chain from fusing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Blocker {
    None,
    /// The cast tile is read twice.
    CastReadTwice,
    /// The codes are read twice.
    CodesReadTwice,
    /// The accumulator starts at one.
    NonzeroAccumulator,
}

pub(super) fn gemv_dot(rng: &mut SplitMix64, name: &str) -> Option<CorpusCase> {
    let integer = rng.chance(1, 2);
    let bits = if integer { rng.range(1, 7) } else { rng.range(1, 8) } as u8;
    let signed = !integer && bits >= 2 && rng.chance(1, 3);
    let codes_dtype = DataType::Int(IntType { signed, bits });
    let (operand, activation) =
        if integer { (DataType::I32, DataType::I8) } else { (DataType::F32, DataType::F32) };
    // At most 7 x 128 codes: the corpus keeps tiles within 1024 elements.
    let m = rng.pick(&[1usize, 3, 4, 5, 6, 7]);
    let k = rng.pick(&[16usize, 32, 48, 64, 128]);
    let blocker = rng.pick(&[
        Blocker::None,
        Blocker::None,
        Blocker::None,
        Blocker::CastReadTwice,
        Blocker::CodesReadTwice,
        Blocker::NonzeroAccumulator,
    ]);
    let rounding = if rng.chance(1, 2) { Rounding::NearestEven } else { Rounding::TowardZero };
    let blocks = rng.range(1, 3) as usize;
    // The last block's rows run past the view now and then.
    let height = (blocks * m - rng.below(m as u64) as usize).max(1);
    let mut case = Case::new(rng, name, 1);
    case.builder.grid(vec![Expr::u32(blocks as u32)]);
    let w_view = case.buffer("w", codes_dtype, &[height, k], false);
    let x_view = case.buffer("x", activation, &[k, 1], false);
    let y_view = case.buffer("y", operand, &[height, 1], true);
    let local = |rows: usize, cols: usize| format!("local({rows}, {cols})");
    let codes = case.tile("codes", codes_dtype, &local(m, k))?;
    let a = case.tile("a", operand, &local(m, k))?;
    let b = case.tile("b", operand, &local(k, 1))?;
    let acc = case.tile("acc", operand, &local(m, 1))?;
    let rows = block_start(0, m, 0);
    let origin = vec![Expr::i32(0), Expr::i32(0)];
    let w_offsets = vec![rows.clone(), Expr::i32(0)];
    case.inst(Inst::LoadGlobal { dst: codes, src: w_view, offsets: w_offsets, dims: vec![0, 1] });
    if integer {
        let x_codes = case.tile("x_codes", activation, &local(k, 1))?;
        case.inst(Inst::LoadGlobal { dst: x_codes, src: x_view, offsets: origin, dims: vec![0, 1] });
        case.inst(Inst::Cast { dst: b, src: x_codes, rounding: Rounding::NearestEven });
    } else {
        case.inst(Inst::LoadGlobal { dst: b, src: x_view, offsets: origin, dims: vec![0, 1] });
    }
    case.inst(Inst::Cast { dst: a, src: codes, rounding });
    if blocker == Blocker::CodesReadTwice {
        let again = case.tile("again", codes_dtype, &local(m, k))?;
        case.inst(Inst::Assign { dst: again, src: codes });
    }
    let init = match blocker {
        Blocker::NonzeroAccumulator if integer => Some(Expr::i32(1)),
        Blocker::NonzeroAccumulator => Some(Expr::f32(1.0)),
        _ if integer && case.rng.chance(1, 2) => Some(Expr::i32(0)),
        _ if !integer => Some(Expr::f32(0.0)),
        // Zero bits, as the `.tile` front end's `zeros` allocates.
        _ => None,
    };
    case.inst(Inst::AllocRegister { dst: acc, init });
    case.inst(Inst::Dot { dst: acc, a, b, acc });
    if blocker == Blocker::CastReadTwice {
        let negated = case.tile("negated", operand, &local(m, k))?;
        case.elementwise(negated, ElementwiseOp::Unary(UnaryOp::Neg), vec![Operand::Tile(a)]);
    }
    case.inst(Inst::StoreGlobal {
        dst: y_view,
        src: acc,
        offsets: vec![rows, Expr::i32(0)],
        dims: vec![0, 1],
    });
    // The f32 dots sum in another order than the interpreter (as the IR allows); the integer ones wrap,
    // so they are exact in any order.
    let tolerance = if integer { Tolerance::Exact } else { Tolerance::Close { abs: 1e-2, rel: 1e-4 } };
    case.finish(name, tolerance)
}
