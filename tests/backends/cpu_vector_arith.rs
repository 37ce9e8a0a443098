//! The CPU backend's vector arithmetic and reductions against the reference interpreter, bit for bit: f32
//! and i32 elementwise operators on whole tiles (NaN payloads, infinities, subnormals, wrapping integers),
//! order-independent reductions along the last dimension, and intermediates whose NaN payloads nothing
//! observes.

use crate::cpu_support::run;
use tilevm::runtime::KernelArg;
use tilevm::vm::DataType;
use tilevm::vm::ir::{BinaryOp, Expr, Inst, KernelBuilder, Rounding};
use tilevm::vm::layout;
use tilevm::vm::verify::VerifiedKernel;

/// `out = op(a[, b[, c]])` on `[64, 1]` tiles of `dtype` (f32 or i32), `b` a single broadcast element when
/// `broadcast_b`, and a scalar `0.75` as the last operand of `fma` when `scalar_c`; then `i32 → f32` of
/// `ints` into `cast`.
fn arith_kernel(
    op: tilevm::vm::ir::ElementwiseOp,
    dtype: DataType,
    broadcast_b: bool,
    scalar_c: bool,
) -> VerifiedKernel {
    use tilevm::vm::ir::Operand;
    let mut builder = KernelBuilder::new("arith", 1);
    let names = ["a", "b", "c", "ints", "out", "cast"];
    let params: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let dtype = match *name {
                "ints" => DataType::I32,
                "cast" => DataType::F32,
                _ => dtype,
            };
            builder.global_param(name, dtype, i >= 4)
        })
        .collect();
    builder.grid(vec![Expr::u32(1)]);
    let column = layout::local(&[64, 1]).unwrap();
    let mut tiles = Vec::new();
    for (i, (&param, name)) in params.iter().zip(names).enumerate() {
        let dtype = match name {
            "ints" => DataType::I32,
            "cast" => DataType::F32,
            _ => dtype,
        };
        let rows = if name == "b" && broadcast_b { 1 } else { 64 };
        let shape = vec![Expr::u32(rows), Expr::u32(1)];
        let view =
            builder.view_global(name, param, dtype, shape, vec![Expr::u32(1), Expr::u32(1)], Expr::u32(0));
        let tile_layout = if rows == 1 { layout::local(&[1, 1]).unwrap() } else { column.clone() };
        let tile = builder.tile(name, dtype, tile_layout);
        if i < 4 {
            builder.inst(Inst::LoadGlobal {
                dst: tile,
                src: view,
                offsets: vec![Expr::u32(0); 2],
                dims: vec![0, 1],
            });
        }
        tiles.push((tile, view));
    }
    let (a, b, c) = (tiles[0].0, tiles[1].0, tiles[2].0);
    let mut operands = vec![Operand::Tile(a)];
    if !matches!(op, tilevm::vm::ir::ElementwiseOp::Unary(_)) {
        operands.push(Operand::Tile(b));
    }
    if matches!(op, tilevm::vm::ir::ElementwiseOp::Ternary(_)) {
        operands.push(if scalar_c { Operand::Scalar(Expr::f32(0.75)) } else { Operand::Tile(c) });
    }
    builder.inst(Inst::Elementwise { dst: tiles[4].0, op, operands });
    builder.inst(Inst::Cast { dst: tiles[5].0, src: tiles[3].0, rounding: Rounding::NearestEven });
    for (tile, view) in &tiles[4..] {
        builder.inst(Inst::StoreGlobal {
            dst: *view,
            src: *tile,
            offsets: vec![Expr::u32(0); 2],
            dims: vec![0, 1],
        });
    }
    builder.finish().unwrap()
}

#[test]
fn vector_arithmetic_and_int_casts_match_the_interpreter_bit_for_bit() {
    use tilevm::vm::interp;
    use tilevm::vm::ir::{ElementwiseOp, TernaryOp, UnaryOp};
    // Zeros of both signs, subnormals, infinities, NaNs with payloads, huge and tiny values, cancellation.
    let specials =
        [0.0f32, -0.0, 1e-45, -3e-39, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, 1e-30, 3.0, -3.0];
    let bits = |seed: u32| -> Vec<u8> {
        (0..64u32)
            .map(|i| match i % 5 {
                0 => specials[(i / 5 % 10) as usize].to_bits(),
                1 => 0x7fc0_0000 | seed.wrapping_mul(i + 1) & 0x3f_ffff,
                _ => (i.wrapping_mul(2_654_435_761) ^ seed).rotate_left(i % 32),
            })
            .flat_map(u32::to_le_bytes)
            .collect()
    };
    let ints: Vec<u8> =
        (0..64i32).flat_map(|i| (i.wrapping_mul(-1_640_531_527) >> (i % 24)).to_le_bytes()).collect();
    let ops = [
        ElementwiseOp::Binary(BinaryOp::Add),
        ElementwiseOp::Binary(BinaryOp::Sub),
        ElementwiseOp::Binary(BinaryOp::Mul),
        ElementwiseOp::Unary(UnaryOp::Neg),
        ElementwiseOp::Unary(UnaryOp::Abs),
        ElementwiseOp::Binary(BinaryOp::Div),
        ElementwiseOp::Ternary(TernaryOp::Fma),
        ElementwiseOp::Unary(UnaryOp::Sqrt),
        ElementwiseOp::Unary(UnaryOp::Floor),
        ElementwiseOp::Unary(UnaryOp::Ceil),
        ElementwiseOp::Unary(UnaryOp::Round),
        ElementwiseOp::Unary(UnaryOp::Trunc),
    ];
    // i32 arithmetic wraps: products and sums of these overflow, and `i32::MIN` is its own negation.
    let wrapping = |seed: u32| -> Vec<u8> {
        (0..64u32)
            .map(|i| {
                if i == 5 { 0x8000_0000 } else { (i.wrapping_mul(2_654_435_761) ^ seed).rotate_left(i % 32) }
            })
            .flat_map(u32::to_le_bytes)
            .collect()
    };
    let cases =
        ops.iter().map(|&op| (op, DataType::F32)).chain(ops[..5].iter().map(|&op| (op, DataType::I32)));
    for (op, dtype) in cases {
        let values = |seed: u32| if dtype == DataType::F32 { bits(seed) } else { wrapping(seed) };
        for (broadcast_b, scalar_c) in [(false, false), (true, false), (false, true)] {
            let kernel = arith_kernel(op, dtype, broadcast_b, scalar_c);
            let args = vec![
                KernelArg::Buffer(values(1)),
                KernelArg::Buffer(values(7)),
                KernelArg::Buffer(values(13)),
                KernelArg::Buffer(ints.clone()),
                KernelArg::Buffer(vec![0; 256]),
                KernelArg::Buffer(vec![0; 256]),
            ];
            let mut expected = args.clone();
            interp::run_kernel(&kernel, &mut expected).unwrap();
            let mut actual = args;
            run(&kernel, &mut actual).unwrap();
            for index in [4, 5] {
                let (KernelArg::Buffer(got), KernelArg::Buffer(want)) = (&actual[index], &expected[index])
                else {
                    unreachable!()
                };
                assert_eq!(
                    got, want,
                    "{op:?} {dtype} broadcast {broadcast_b} scalar {scalar_c}: output {index}"
                );
            }
        }
    }
}

/// `out = reduce(a)` along the last dimension of an `[rows, extent]` tile of `dtype`, into `[rows, 1]`
/// (`keep`) or `[rows]`.
fn reduce_kernel(
    op: tilevm::vm::ir::ReduceOp,
    dtype: DataType,
    rows: u32,
    extent: u32,
    keep: bool,
) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("reduce", 1);
    let a = builder.global_param("a", dtype, false);
    let out = builder.global_param("out", dtype, true);
    builder.grid(vec![Expr::u32(1)]);
    let a_view = builder.view_global(
        "a",
        a,
        dtype,
        vec![Expr::u32(rows), Expr::u32(extent)],
        vec![Expr::u32(extent), Expr::u32(1)],
        Expr::u32(0),
    );
    let out_view =
        builder.view_global("out", out, dtype, vec![Expr::u32(rows)], vec![Expr::u32(1)], Expr::u32(0));
    let tile = builder.tile("a", dtype, layout::local(&[rows as usize, extent as usize]).unwrap());
    let reduced_shape: &[usize] = if keep { &[rows as usize, 1] } else { &[rows as usize] };
    let reduced = builder.tile("r", dtype, layout::local(reduced_shape).unwrap());
    builder.inst(Inst::LoadGlobal {
        dst: tile,
        src: a_view,
        offsets: vec![Expr::u32(0); 2],
        dims: vec![0, 1],
    });
    builder.inst(Inst::Reduce { dst: reduced, src: tile, dim: 1, op });
    let dims = if keep { vec![0, 1] } else { vec![0] };
    let offsets = vec![Expr::u32(0); dims.len()];
    let out_view = if keep {
        builder.view_global(
            "out2",
            out,
            dtype,
            vec![Expr::u32(rows), Expr::u32(1)],
            vec![Expr::u32(1), Expr::u32(1)],
            Expr::u32(0),
        )
    } else {
        out_view
    };
    builder.inst(Inst::StoreGlobal { dst: out_view, src: reduced, offsets, dims });
    builder.finish().unwrap()
}

#[test]
fn vector_reductions_match_the_interpreter_bit_for_bit() {
    use tilevm::vm::interp;
    use tilevm::vm::ir::ReduceOp;
    let (rows, extent) = (6u32, 128u32);
    let nan = 0x7fc0_1234u32;
    let mut state = 0x9e37_79b9u32;
    let mut floats = Vec::new();
    for row in 0..rows {
        for i in 0..extent {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let bits = match row {
                // Every element NaN (payloads and signs differ).
                0 => nan ^ (i << 3) | (i % 2) << 31,
                // Zeros of both signs only, then zeros and NaNs.
                1 => (i % 2) << 31,
                2 => {
                    if i % 3 == 0 {
                        nan
                    } else {
                        (i % 2) << 31
                    }
                }
                // -inf, NaNs and one number at the end.
                3 => {
                    if i == extent - 1 {
                        1.5f32.to_bits()
                    } else if i % 2 == 0 {
                        nan
                    } else {
                        f32::NEG_INFINITY.to_bits()
                    }
                }
                // Arbitrary bit patterns (NaNs among them), and values with infinities.
                4 => state,
                _ => {
                    if i == 17 {
                        f32::INFINITY.to_bits()
                    } else {
                        ((state % 2000) as f32).to_bits() ^ (i % 2) << 31
                    }
                }
            };
            floats.push(bits);
        }
    }
    let ints: Vec<u32> =
        floats.iter().enumerate().map(|(i, &bits)| if i == 3 { 0x8000_0000 } else { bits }).collect();
    let cases = [
        (ReduceOp::Max, DataType::F32, &floats),
        (ReduceOp::Min, DataType::F32, &floats),
        (ReduceOp::Max, DataType::I32, &ints),
        (ReduceOp::Min, DataType::I32, &ints),
        (ReduceOp::Sum, DataType::I32, &ints),
    ];
    for (op, dtype, values) in cases {
        for keep in [true, false] {
            let kernel = reduce_kernel(op, dtype, rows, extent, keep);
            let args = vec![
                KernelArg::Buffer(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
                KernelArg::Buffer(vec![0x5a; 4 * rows as usize]),
            ];
            let mut expected = args.clone();
            interp::run_kernel(&kernel, &mut expected).unwrap();
            let mut actual = args;
            run(&kernel, &mut actual).unwrap();
            assert_eq!(actual[1], expected[1], "{op:?} {dtype} keep {keep}");
        }
    }
}

#[test]
fn vector_intermediates_with_unobservable_nans_still_give_the_interpreters_outputs() {
    use tilevm::vm::interp;
    use tilevm::vm::ir::{ElementwiseOp, Operand, TernaryOp};
    // `t = a * b` is read only by the fma, so its NaNs keep the hardware's payloads; `out = fma(t, b, a)`
    // is stored, so its NaNs are canonical.
    let mut builder = KernelBuilder::new("chain", 1);
    builder.grid(vec![Expr::u32(1)]);
    let column = layout::local(&[64, 1]).unwrap();
    let shape = || vec![Expr::u32(64), Expr::u32(1)];
    let strides = || vec![Expr::u32(1), Expr::u32(1)];
    let mut tiles = Vec::new();
    for name in ["a", "b"] {
        let param = builder.global_param(name, DataType::F32, false);
        let view = builder.view_global(name, param, DataType::F32, shape(), strides(), Expr::u32(0));
        let tile = builder.tile(name, DataType::F32, column.clone());
        builder.inst(Inst::LoadGlobal {
            dst: tile,
            src: view,
            offsets: vec![Expr::u32(0); 2],
            dims: vec![0, 1],
        });
        tiles.push(tile);
    }
    let out = builder.global_param("out", DataType::F32, true);
    let out_view = builder.view_global("out", out, DataType::F32, shape(), strides(), Expr::u32(0));
    let (a, b) = (tiles[0], tiles[1]);
    let t = builder.tile("t", DataType::F32, column.clone());
    let r = builder.tile("r", DataType::F32, column);
    builder.inst(Inst::Elementwise {
        dst: t,
        op: ElementwiseOp::Binary(BinaryOp::Mul),
        operands: vec![Operand::Tile(a), Operand::Tile(b)],
    });
    builder.inst(Inst::Elementwise {
        dst: r,
        op: ElementwiseOp::Ternary(TernaryOp::Fma),
        operands: vec![Operand::Tile(t), Operand::Tile(b), Operand::Tile(a)],
    });
    builder.inst(Inst::StoreGlobal {
        dst: out_view,
        src: r,
        offsets: vec![Expr::u32(0); 2],
        dims: vec![0, 1],
    });
    let kernel = builder.finish().unwrap();
    let values = |seed: u32| -> Vec<u8> {
        (0..64u32)
            .map(|i| match i % 4 {
                0 => 0x7f80_0001 | seed.wrapping_mul(i + 1) & 0x3f_ffff,
                1 => 0xffc0_0000 | seed.wrapping_mul(i + 7) & 0x3f_ffff,
                2 => f32::INFINITY.to_bits() ^ (i % 8 / 4) << 31,
                _ => (i as f32 * 0.5 - 3.0).to_bits(),
            })
            .flat_map(u32::to_le_bytes)
            .collect()
    };
    let args =
        vec![KernelArg::Buffer(values(3)), KernelArg::Buffer(values(11)), KernelArg::Buffer(vec![0; 256])];
    let mut expected = args.clone();
    interp::run_kernel(&kernel, &mut expected).unwrap();
    let mut actual = args;
    run(&kernel, &mut actual).unwrap();
    assert_eq!(actual[2], expected[2]);
}
