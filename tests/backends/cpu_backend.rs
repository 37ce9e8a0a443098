//! The CPU (Cranelift) backend against plain-Rust expectations: masked loads and stores of packed
//! sub-byte data, integer semantics, dot products and reductions, views, and adversarial offsets.

use crate::cpu_support::{BLOCK, cast_kernel, pack, run, unpack};
use tilevm::runtime::KernelArg;
use tilevm::vm::DataType;
use tilevm::vm::dtype::IntType;
use tilevm::vm::ir::{BinaryOp, ElementwiseOp, Expr, Inst, KernelBuilder, Operand, ReduceOp, Rounding};
use tilevm::vm::layout;

const U4: DataType = DataType::Int(IntType { signed: false, bits: 4 });
const I3: DataType = DataType::Int(IntType { signed: true, bits: 3 });

#[test]
fn u4_to_f32_loads_are_masked_at_the_end() {
    let n = 150usize; // not a multiple of the block size: the last block is masked
    let codes: Vec<u64> = (0..n as u64).map(|i| (i * 7 + 3) % 16).collect();
    let mut args = vec![
        KernelArg::Buffer(pack(&codes, 4)),
        KernelArg::Buffer(vec![0xAB; 4 * n + 8]),
        KernelArg::Scalar(n as u64),
    ];
    run(&cast_kernel(U4, DataType::F32, Rounding::NearestEven), &mut args).unwrap();
    let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
    for (i, &code) in codes.iter().enumerate() {
        let value = f32::from_le_bytes(out[4 * i..4 * i + 4].try_into().unwrap());
        assert_eq!(value, code as f32, "element {i}");
    }
    assert!(out[4 * n..].iter().all(|&byte| byte == 0xAB), "bytes past the view were written");
}

#[test]
fn i32_to_i3_stores_pack_neighbouring_elements_from_parallel_blocks() {
    let n = 1000usize;
    let values: Vec<i32> = (0..n as i32).map(|i| (i * 5) % 11 - 5).collect();
    let input: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let out_len = (n * 3).div_ceil(8);
    let mut args =
        vec![KernelArg::Buffer(input), KernelArg::Buffer(vec![0; out_len]), KernelArg::Scalar(n as u64)];
    run(&cast_kernel(DataType::I32, I3, Rounding::NearestEven), &mut args).unwrap();
    let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
    let expected: Vec<u64> = values.iter().map(|&v| (v as u64) & 7).collect();
    assert_eq!(unpack(out, 3, n), expected);
}

#[test]
fn f32_to_int_saturates_and_maps_nan_to_zero() {
    let inputs = [1.9f32, -1.9, 300.0, -300.0, f32::NAN, f32::INFINITY, -0.0, 127.5];
    let bytes: Vec<u8> = inputs.iter().flat_map(|v| v.to_le_bytes()).collect();
    let i8_type = DataType::Int(IntType { signed: true, bits: 8 });
    let mut args = vec![KernelArg::Buffer(bytes), KernelArg::Buffer(vec![0; 8]), KernelArg::Scalar(8)];
    run(&cast_kernel(DataType::F32, i8_type, Rounding::NearestEven), &mut args).unwrap();
    let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
    let got: Vec<i8> = out.iter().map(|&b| b as i8).collect();
    assert_eq!(got, vec![1, -1, 127, -128, 0, 127, 0, 127]);
}

/// `c = op(a, b)` on i32 vectors of length `BLOCK`.
fn binary_i32(op: BinaryOp, a: &[i32], b: &[i32]) -> Vec<i32> {
    let mut builder = KernelBuilder::new("binary", 1);
    let params: Vec<_> =
        ["a", "b", "c"].iter().map(|name| builder.global_param(name, DataType::I32, *name == "c")).collect();
    builder.grid(vec![Expr::u32(1)]);
    let layout = layout::local(&[BLOCK as usize]).unwrap();
    let mut tiles = Vec::new();
    for (i, &param) in params.iter().enumerate() {
        let view = builder.view_global(
            "v",
            param,
            DataType::I32,
            vec![Expr::u32(BLOCK)],
            vec![Expr::u32(1)],
            Expr::u32(0),
        );
        let tile = builder.tile("t", DataType::I32, layout.clone());
        if i < 2 {
            builder.inst(Inst::LoadGlobal {
                dst: tile,
                src: view,
                offsets: vec![Expr::u32(0)],
                dims: vec![0],
            });
        }
        tiles.push((view, tile));
    }
    builder.inst(Inst::Elementwise {
        dst: tiles[2].1,
        op: ElementwiseOp::Binary(op),
        operands: vec![Operand::Tile(tiles[0].1), Operand::Tile(tiles[1].1)],
    });
    builder.inst(Inst::StoreGlobal {
        dst: tiles[2].0,
        src: tiles[2].1,
        offsets: vec![Expr::u32(0)],
        dims: vec![0],
    });
    let kernel = builder.finish().unwrap();
    let to_bytes = |values: &[i32]| values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    let mut args = vec![
        KernelArg::Buffer(to_bytes(a)),
        KernelArg::Buffer(to_bytes(b)),
        KernelArg::Buffer(vec![0; 4 * BLOCK as usize]),
    ];
    run(&kernel, &mut args).unwrap();
    let KernelArg::Buffer(out) = &args[2] else { unreachable!() };
    out.chunks(4).map(|chunk| i32::from_le_bytes(chunk.try_into().unwrap())).collect()
}

#[test]
fn integer_division_follows_the_ir_rules() {
    let mut a: Vec<i32> = vec![7, -7, i32::MIN, i32::MIN, 5, -9, 0, 100];
    let mut b: Vec<i32> = vec![2, 2, -1, -1, 0, 0, 3, -7];
    a.resize(BLOCK as usize, 1);
    b.resize(BLOCK as usize, 1);
    let quotient = binary_i32(BinaryOp::Div, &a, &b);
    let remainder = binary_i32(BinaryOp::Rem, &a, &b);
    for i in 0..BLOCK as usize {
        let (x, y) = (a[i], b[i]);
        let (q, r) = match y {
            0 => (x, 0),
            -1 => (x.wrapping_neg(), 0),
            _ => (x / y, x % y),
        };
        assert_eq!((quotient[i], remainder[i]), (q, r), "{x} / {y}");
    }
}

#[test]
fn dot_and_reduce_match_plain_loops() {
    let (m, k, n) = (4usize, 8usize, 2usize);
    let mut builder = KernelBuilder::new("dot", 1);
    let a_param = builder.global_param("a", DataType::F32, false);
    let b_param = builder.global_param("b", DataType::F32, false);
    let c_param = builder.global_param("c", DataType::F32, true);
    let r_param = builder.global_param("r", DataType::F32, true);
    builder.grid(vec![Expr::u32(1)]);
    let u = |value: usize| Expr::u32(value as u32);
    let a_view = builder.view_global("a", a_param, DataType::F32, vec![u(m), u(k)], vec![u(k), u(1)], u(0));
    let b_view = builder.view_global("b", b_param, DataType::F32, vec![u(k), u(n)], vec![u(n), u(1)], u(0));
    let c_view = builder.view_global("c", c_param, DataType::F32, vec![u(m), u(n)], vec![u(n), u(1)], u(0));
    let r_view = builder.view_global("r", r_param, DataType::F32, vec![u(m)], vec![u(1)], u(0));
    let a = builder.tile("a", DataType::F32, layout::local(&[m, k]).unwrap());
    let b = builder.tile("b", DataType::F32, layout::local(&[k, n]).unwrap());
    let c = builder.tile("c", DataType::F32, layout::local(&[m, n]).unwrap());
    let r = builder.tile("r", DataType::F32, layout::local(&[m]).unwrap());
    builder.inst(Inst::LoadGlobal { dst: a, src: a_view, offsets: vec![u(0), u(0)], dims: vec![0, 1] });
    builder.inst(Inst::LoadGlobal { dst: b, src: b_view, offsets: vec![u(0), u(0)], dims: vec![0, 1] });
    builder.inst(Inst::AllocRegister { dst: c, init: Some(Expr::f32(0.5)) });
    builder.inst(Inst::Dot { dst: c, a, b, acc: c });
    builder.inst(Inst::Reduce { dst: r, src: a, dim: 1, op: ReduceOp::Max });
    builder.inst(Inst::StoreGlobal { dst: c_view, src: c, offsets: vec![u(0), u(0)], dims: vec![0, 1] });
    builder.inst(Inst::StoreGlobal { dst: r_view, src: r, offsets: vec![u(0)], dims: vec![0] });
    let kernel = builder.finish().unwrap();
    let a_values: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
    let b_values: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
    let bytes = |values: &[f32]| values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    let mut args = vec![
        KernelArg::Buffer(bytes(&a_values)),
        KernelArg::Buffer(bytes(&b_values)),
        KernelArg::Buffer(vec![0; 4 * m * n]),
        KernelArg::Buffer(vec![0; 4 * m]),
    ];
    run(&kernel, &mut args).unwrap();
    let floats = |arg: &KernelArg| match arg {
        KernelArg::Buffer(bytes) => {
            bytes.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<f32>>()
        }
        KernelArg::Scalar(_) => Vec::new(),
    };
    let c_out = floats(&args[2]);
    let r_out = floats(&args[3]);
    for i in 0..m {
        for j in 0..n {
            let expected: f32 = 0.5 + (0..k).map(|l| a_values[i * k + l] * b_values[l * n + j]).sum::<f32>();
            assert!(
                (c_out[i * n + j] - expected).abs() < 1e-5,
                "c[{i},{j}] = {} != {expected}",
                c_out[i * n + j]
            );
        }
        let expected = a_values[i * k..(i + 1) * k].iter().copied().fold(f32::MIN, f32::max);
        assert_eq!(r_out[i], expected);
    }
}

#[test]
fn view_reinterprets_u8_as_u4_pairs() {
    let mut builder = KernelBuilder::new("view", 1);
    let src = builder.global_param("src", DataType::U8, false);
    let dst = builder.global_param("dst", DataType::U8, true);
    builder.grid(vec![Expr::u32(1)]);
    let src_view =
        builder.view_global("s", src, DataType::U8, vec![Expr::u32(16)], vec![Expr::u32(1)], Expr::u32(0));
    let dst_view =
        builder.view_global("d", dst, DataType::U8, vec![Expr::u32(32)], vec![Expr::u32(1)], Expr::u32(0));
    let bytes = builder.tile("bytes", DataType::U8, layout::local(&[16]).unwrap());
    let nibbles = builder.tile("nibbles", U4, layout::local(&[32]).unwrap());
    let widened = builder.tile("widened", DataType::U8, layout::local(&[32]).unwrap());
    builder.inst(Inst::LoadGlobal { dst: bytes, src: src_view, offsets: vec![Expr::u32(0)], dims: vec![0] });
    builder.inst(Inst::View { dst: nibbles, src: bytes });
    builder.inst(Inst::Cast { dst: widened, src: nibbles, rounding: Rounding::NearestEven });
    builder.inst(Inst::StoreGlobal {
        dst: dst_view,
        src: widened,
        offsets: vec![Expr::u32(0)],
        dims: vec![0],
    });
    let kernel = builder.finish().unwrap();
    let input: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
    let mut args = vec![KernelArg::Buffer(input.clone()), KernelArg::Buffer(vec![0; 32])];
    run(&kernel, &mut args).unwrap();
    let expected: Vec<u8> = input.iter().flat_map(|&b| [b & 15, b >> 4]).collect();
    assert_eq!(args[1], KernelArg::Buffer(expected));
}

/// A `View` whose layouts are not thread-major (thread t holds column t) goes through the gather/scatter
/// path of the CPU backend; the interpreter defines the expected bytes.
#[test]
fn view_through_column_layouts_matches_the_interpreter() {
    let mut builder = KernelBuilder::new("view_columns", 4);
    let src = builder.global_param("src", DataType::U8, false);
    let dst = builder.global_param("dst", U4, true);
    builder.grid(vec![Expr::u32(1)]);
    let row_major = |builder: &mut KernelBuilder, name, param, dtype, cols: u32| {
        let shape = vec![Expr::u32(4), Expr::u32(cols)];
        builder.view_global(name, param, dtype, shape, vec![Expr::u32(cols), Expr::u32(1)], Expr::u32(0))
    };
    let src_view = row_major(&mut builder, "s", src, DataType::U8, 4);
    let dst_view = row_major(&mut builder, "d", dst, U4, 8);
    let bytes_layout = layout::parse_register_layout("local(4, 1).spatial(1, 4)").unwrap();
    let nibbles_layout = layout::parse_register_layout("local(4, 1).spatial(1, 4).local(1, 2)").unwrap();
    let bytes = builder.tile("bytes", DataType::U8, bytes_layout);
    let nibbles = builder.tile("nibbles", U4, nibbles_layout);
    let zero = || vec![Expr::u32(0), Expr::u32(0)];
    builder.inst(Inst::LoadGlobal { dst: bytes, src: src_view, offsets: zero(), dims: vec![0, 1] });
    builder.inst(Inst::View { dst: nibbles, src: bytes });
    builder.inst(Inst::StoreGlobal { dst: dst_view, src: nibbles, offsets: zero(), dims: vec![0, 1] });
    let kernel = builder.finish().unwrap();
    let input: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(53).wrapping_add(7)).collect();
    let mut expected = vec![KernelArg::Buffer(input.clone()), KernelArg::Buffer(vec![0; 16])];
    tilevm::vm::interp::run_kernel(&kernel, &mut expected).unwrap();
    let mut actual = vec![KernelArg::Buffer(input), KernelArg::Buffer(vec![0; 16])];
    run(&kernel, &mut actual).unwrap();
    assert_eq!(actual[1], expected[1]);
}

/// Loads a 4x4 u8 tile through a view with the given shape, strides and offset and stores it into the
/// same view of a second buffer; returns both buffers' bytes after the run.
fn adversarial_copy(
    shape: [i64; 2],
    strides: [i64; 2],
    offset: i64,
    tile_offset: [i64; 2],
) -> (Vec<u8>, Vec<u8>) {
    let mut builder = KernelBuilder::new("adversarial", 1);
    let src = builder.global_param("src", U4, false);
    let dst = builder.global_param("dst", U4, true);
    builder.grid(vec![Expr::u32(1)]);
    let i64c = |value: i64| Expr::constant(DataType::I64, value as u64);
    let make_view = |builder: &mut KernelBuilder, param| {
        builder.view_global(
            "v",
            param,
            U4,
            vec![i64c(shape[0]), i64c(shape[1])],
            vec![i64c(strides[0]), i64c(strides[1])],
            i64c(offset),
        )
    };
    let src_view = make_view(&mut builder, src);
    let dst_view = make_view(&mut builder, dst);
    let tile = builder.tile("t", U4, layout::local(&[4, 4]).unwrap());
    let offsets = vec![i64c(tile_offset[0]), i64c(tile_offset[1])];
    builder.inst(Inst::LoadGlobal { dst: tile, src: src_view, offsets: offsets.clone(), dims: vec![0, 1] });
    builder.inst(Inst::StoreGlobal { dst: dst_view, src: tile, offsets, dims: vec![0, 1] });
    let kernel = builder.finish().unwrap();
    let source: Vec<u8> = (0..8u8).map(|i| i * 17 + 1).collect();
    let mut args = vec![KernelArg::Buffer(source.clone()), KernelArg::Buffer(vec![0; 8])];
    run(&kernel, &mut args).unwrap();
    let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
    (source, out.clone())
}

/// A view's shape, strides and offset, and the tile's offsets in it.
type AdversarialCase = ([i64; 2], [i64; 2], i64, [i64; 2]);

#[test]
fn adversarial_offsets_never_touch_memory_outside_the_buffers() {
    // Huge, negative and overflowing strides and offsets: every access is masked, nothing is written.
    // Views with small constant extents, strides and offsets have their bounds checked in 64 bits
    // (`view_bounds`); offsets near the ends of i64 must not wrap into range there.
    let cases: [AdversarialCase; 12] = [
        ([4, 4], [4, 1], 0, [i64::MAX, 0]),
        ([4, 4], [4, 1], 0, [i64::MAX - 1, i64::MAX - 1]),
        ([4, 4], [4, 1], 0, [i64::MIN, 0]),
        ([4, 4], [4, 1], 0, [1, i64::MIN + 1]),
        ([4, 4], [-4, -1], 15, [-1, i64::MAX - 3]),
        ([2, 8], [8, 1], 0, [-1, -1]),
        ([4, 4], [i64::MAX, 1], 0, [0, 0]),
        ([4, 4], [4, 1], i64::MIN, [0, 0]),
        ([i64::MAX, i64::MAX], [i64::MAX / 2, i64::MAX / 3], i64::MAX, [0, 0]),
        ([4, 4], [4, 1], 0, [-1000, i64::MAX - 2]),
        ([-4, 4], [4, 1], 0, [0, 0]),
        ([4, 4], [-4, -1], 3, [0, 0]),
    ];
    for (shape, strides, offset, tile_offset) in cases {
        let (_, out) = adversarial_copy(shape, strides, offset, tile_offset);
        let expected_written = adversarial_expected(shape, strides, offset, tile_offset);
        assert_eq!(
            out, expected_written,
            "shape {shape:?} strides {strides:?} offset {offset} at {tile_offset:?}"
        );
    }
}

/// The destination bytes a masked copy of `adversarial_copy` must produce, computed element by element in
/// i128 arithmetic.
fn adversarial_expected(shape: [i64; 2], strides: [i64; 2], offset: i64, tile_offset: [i64; 2]) -> Vec<u8> {
    let source: Vec<u8> = (0..8u8).map(|i| i * 17 + 1).collect();
    let codes = unpack(&source, 4, 16);
    let mut out = vec![0u64; 16];
    for i in 0..4i128 {
        for j in 0..4i128 {
            let index = [i128::from(tile_offset[0]) + i, i128::from(tile_offset[1]) + j];
            if (0..2).any(|d| index[d] < 0 || index[d] >= i128::from(shape[d])) {
                continue;
            }
            let element =
                i128::from(offset) + index[0] * i128::from(strides[0]) + index[1] * i128::from(strides[1]);
            if (0..16).contains(&element) {
                out[element as usize] = codes[element as usize];
            }
        }
    }
    pack(&out, 4)
}

#[test]
fn a_partly_out_of_range_tile_copies_exactly_the_elements_inside() {
    // Rows 2.. of a 4x4 tile at row offset 2 fall outside a 4x4 view; a negative column offset masks one column.
    let (source, out) = adversarial_copy([4, 4], [4, 1], 0, [2, -1]);
    assert_eq!(out, adversarial_expected([4, 4], [4, 1], 0, [2, -1]));
    assert_ne!(out, vec![0; 8], "something inside should have been copied");
    assert_ne!(out, source);
}

#[test]
fn kernel_argument_mismatches_are_errors() {
    let kernel = cast_kernel(U4, DataType::F32, Rounding::NearestEven);
    let mut args = vec![KernelArg::Scalar(1), KernelArg::Buffer(vec![]), KernelArg::Scalar(0)];
    assert!(run(&kernel, &mut args).is_err());
    let mut too_few = vec![KernelArg::Buffer(vec![])];
    assert!(run(&kernel, &mut too_few).is_err());
}
