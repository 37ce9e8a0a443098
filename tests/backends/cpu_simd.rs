//! The CPU backend's SIMD fast paths against plain Rust: vector unpacking of packed codes of every width
//! (in-bounds vector path, misaligned word path and masked per-element fallback), vector int and f16 casts
//! to f32 and f32 casts to bytes (with vector stores, and masked ones at the end), and vector f32 dots.
//! (`cpu_vector_arith.rs` checks the vector arithmetic and reductions against the interpreter.)

use crate::cpu_support::{cast_kernel, pack, run};
use tilevm::runtime::KernelArg;
use tilevm::vm::DataType;
use tilevm::vm::dtype::IntType;
use tilevm::vm::ir::{BinaryOp, Expr, Inst, KernelBuilder, Rounding};
use tilevm::vm::layout;
use tilevm::vm::verify::VerifiedKernel;

/// Rows and columns of the tile each block of [`load_cast_kernel`] loads.
const TILE_ROWS: u32 = 4;
const TILE_COLS: u32 = 32;

/// `out[r, c] = f32(w[r, c])` over a `[rows, TILE_COLS]` view of `w` with row stride `row_stride` and element
/// offset `offset`; one `[TILE_ROWS, TILE_COLS]` tile per block (the last block partly outside the view).
fn load_cast_kernel(dtype: DataType, rows: u32, row_stride: u32, offset: u32) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("load_cast", 1);
    let w = builder.global_param("w", dtype, false);
    let out = builder.global_param("out", DataType::F32, true);
    builder.grid(vec![Expr::u32(rows.div_ceil(TILE_ROWS))]);
    let shape = vec![Expr::u32(rows), Expr::u32(TILE_COLS)];
    let w_view = builder.view_global(
        "w",
        w,
        dtype,
        shape.clone(),
        vec![Expr::u32(row_stride), Expr::u32(1)],
        Expr::u32(offset),
    );
    let out_view = builder.view_global(
        "out",
        out,
        DataType::F32,
        shape,
        vec![Expr::u32(TILE_COLS), Expr::u32(1)],
        Expr::u32(0),
    );
    let tile_layout = layout::local(&[TILE_ROWS as usize, TILE_COLS as usize]).unwrap();
    let codes = builder.tile("codes", dtype, tile_layout.clone());
    let values = builder.tile("values", DataType::F32, tile_layout);
    let row = Expr::binary(BinaryOp::Mul, Expr::block_index(0), Expr::u32(TILE_ROWS));
    let offsets = vec![row, Expr::u32(0)];
    builder.inst(Inst::LoadGlobal { dst: codes, src: w_view, offsets: offsets.clone(), dims: vec![0, 1] });
    builder.inst(Inst::Cast { dst: values, src: codes, rounding: Rounding::NearestEven });
    builder.inst(Inst::StoreGlobal { dst: out_view, src: values, offsets, dims: vec![0, 1] });
    builder.finish().unwrap()
}

fn int(signed: bool, bits: u8) -> DataType {
    DataType::Int(IntType { signed, bits })
}

/// The value of a `bits`-bit code as a (signed or unsigned) integer.
fn code_value(code: u64, bits: u8, signed: bool) -> f32 {
    if signed && code >> (bits - 1) & 1 == 1 { code as f32 - (1u64 << bits) as f32 } else { code as f32 }
}

/// Runs [`load_cast_kernel`] on pseudo-random codes and checks every element against plain Rust.
fn check_load_cast(bits: u8, signed: bool, rows: u32, row_stride: u32, offset: u32, slack_bytes: usize) {
    let count = (offset + rows * row_stride) as usize;
    let codes: Vec<u64> =
        (0..count as u64).map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 17) % (1 << bits)).collect();
    let mut packed = pack(&codes, u32::from(bits));
    packed.extend(std::iter::repeat_n(0xff, slack_bytes));
    let mut args =
        vec![KernelArg::Buffer(packed), KernelArg::Buffer(vec![0; 4 * (rows * TILE_COLS) as usize])];
    let kernel = load_cast_kernel(int(signed, bits), rows, row_stride, offset);
    run(&kernel, &mut args).unwrap();
    let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
    for r in 0..rows as usize {
        for c in 0..TILE_COLS as usize {
            let code = codes[offset as usize + r * row_stride as usize + c];
            let at = 4 * (r * TILE_COLS as usize + c);
            let got = f32::from_le_bytes(out[at..at + 4].try_into().unwrap());
            let want = code_value(code, bits, signed);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{}{bits} rows {rows} stride {row_stride} offset {offset}: element [{r}, {c}]",
                if signed { "i" } else { "u" }
            );
        }
    }
}

#[test]
fn packed_loads_and_casts_of_every_width_match_plain_rust_on_every_path() {
    for bits in 1..=8u8 {
        for signed in [false, true] {
            // Aligned rows with slack after the buffer: the vector path for all but the masked last block.
            check_load_cast(bits, signed, 10, TILE_COLS, 0, 16);
            // Rows padded by 8 elements: still byte-aligned; no slack, so the blocks near the end fall back.
            check_load_cast(bits, signed, 9, TILE_COLS + 8, 8, 0);
            // An odd element offset or row stride: rows that do not start on a byte boundary (word path).
            check_load_cast(bits, signed, 8, TILE_COLS, 1, 16);
            check_load_cast(bits, signed, 8, TILE_COLS + 1, 0, 16);
        }
    }
}

#[test]
fn every_f16_code_casts_to_f32_as_dtype_cast_does() {
    let count = 1usize << 16;
    let codes: Vec<u64> = (0..count as u64).collect();
    let mut args = vec![
        KernelArg::Buffer(pack(&codes, 16)),
        KernelArg::Buffer(vec![0; 4 * count]),
        KernelArg::Scalar(count as u64),
    ];
    run(&cast_kernel(DataType::F16, DataType::F32, Rounding::NearestEven), &mut args).unwrap();
    let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
    for (code, chunk) in codes.iter().zip(out.chunks(4)) {
        let got = u64::from(u32::from_le_bytes(chunk.try_into().unwrap()));
        let want = tilevm::vm::dtype::cast(DataType::F16, DataType::F32, *code, Rounding::NearestEven, 0);
        assert_eq!(got, want, "f16 code {code:#06x}");
    }
}

#[test]
fn f32_casts_to_bytes_as_dtype_cast_does() {
    // Specials, values around every integer boundary of the byte ranges and beyond, and arbitrary bit
    // patterns; a count that leaves the last block partly outside the view (the masked store).
    let mut values: Vec<f32> =
        vec![0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN, f32::MAX];
    values.extend([
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffc1_2345),
        f32::MIN_POSITIVE,
        1e-45,
        2.0e9,
        -3.0e9,
    ]);
    for tenth in -3000..=3000 {
        values.push(tenth as f32 / 10.0);
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    while values.len() < 20_000 + 77 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        values.push(f32::from_bits(state as u32));
    }
    let codes: Vec<u64> = values.iter().map(|value| u64::from(value.to_bits())).collect();
    for signed in [true, false] {
        let to = DataType::Int(IntType { signed, bits: 8 });
        for rounding in [Rounding::NearestEven, Rounding::TowardZero] {
            let mut args = vec![
                KernelArg::Buffer(pack(&codes, 32)),
                KernelArg::Buffer(vec![0x5a; codes.len()]),
                KernelArg::Scalar(codes.len() as u64),
            ];
            run(&cast_kernel(DataType::F32, to, rounding), &mut args).unwrap();
            let KernelArg::Buffer(out) = &args[1] else { unreachable!() };
            for (code, &got) in codes.iter().zip(out) {
                let want = tilevm::vm::dtype::cast(DataType::F32, to, *code, rounding, 0);
                assert_eq!(u64::from(got), want, "{to:?} {rounding:?} of f32 bits {code:#010x}");
            }
        }
    }
}

/// `y = acc + a · x` for `a: f32[rows, depth]` and `x: f32[depth, 1]`, one block.
fn dot_kernel(rows: u32, depth: u32) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("dot", 1);
    let a = builder.global_param("a", DataType::F32, false);
    let x = builder.global_param("x", DataType::F32, false);
    let y = builder.global_param("y", DataType::F32, true);
    builder.grid(vec![Expr::u32(1)]);
    let a_view = builder.view_global(
        "a",
        a,
        DataType::F32,
        vec![Expr::u32(rows), Expr::u32(depth)],
        vec![Expr::u32(depth), Expr::u32(1)],
        Expr::u32(0),
    );
    let column = |extent: u32| vec![Expr::u32(extent), Expr::u32(1)];
    let x_view = builder.view_global("x", x, DataType::F32, column(depth), column(1), Expr::u32(0));
    let y_view = builder.view_global("y", y, DataType::F32, column(rows), column(1), Expr::u32(0));
    let a_tile = builder.tile("a", DataType::F32, layout::local(&[rows as usize, depth as usize]).unwrap());
    let x_tile = builder.tile("x", DataType::F32, layout::local(&[depth as usize, 1]).unwrap());
    let y_tile = builder.tile("y", DataType::F32, layout::local(&[rows as usize, 1]).unwrap());
    let origin = vec![Expr::u32(0), Expr::u32(0)];
    builder.inst(Inst::LoadGlobal { dst: a_tile, src: a_view, offsets: origin.clone(), dims: vec![0, 1] });
    builder.inst(Inst::LoadGlobal { dst: x_tile, src: x_view, offsets: origin.clone(), dims: vec![0, 1] });
    builder.inst(Inst::AllocRegister { dst: y_tile, init: Some(Expr::f32(0.5)) });
    builder.inst(Inst::Dot { dst: y_tile, a: a_tile, b: x_tile, acc: y_tile });
    builder.inst(Inst::StoreGlobal { dst: y_view, src: y_tile, offsets: origin, dims: vec![0, 1] });
    builder.finish().unwrap()
}

#[test]
fn vector_dots_match_plain_rust_up_to_summation_order() {
    // 64 and 8: four and two accumulators; 12: one; 10 and 3: the scalar loop.
    for (rows, depth) in [(5u32, 64u32), (3, 8), (4, 12), (2, 10), (3, 3)] {
        let a: Vec<f32> = (0..rows * depth).map(|i| ((i * 37 % 23) as f32 - 11.0) / 4.0).collect();
        let x: Vec<f32> = (0..depth).map(|i| ((i * 13 % 7) as f32 - 3.0) / 8.0).collect();
        let bytes = |values: &[f32]| values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        let mut args = vec![
            KernelArg::Buffer(bytes(&a)),
            KernelArg::Buffer(bytes(&x)),
            KernelArg::Buffer(vec![0; 4 * rows as usize]),
        ];
        run(&dot_kernel(rows, depth), &mut args).unwrap();
        let KernelArg::Buffer(out) = &args[2] else { unreachable!() };
        for row in 0..rows as usize {
            let want: f64 = 0.5
                + (0..depth as usize)
                    .map(|k| f64::from(a[row * depth as usize + k]) * f64::from(x[k]))
                    .sum::<f64>();
            let got = f32::from_le_bytes(out[4 * row..4 * row + 4].try_into().unwrap());
            // Every product and partial sum is exact in f32 here (multiples of 1/32 below 2^10).
            assert_eq!(f64::from(got), want, "rows {rows} depth {depth}: row {row}");
        }
    }
}

/// `y = 0.5 + f32(codes) · x` for `codes: dtype[rows, depth]` loaded from global memory; with `keep_values`
/// the f32 tile is also stored (a second reader, so its cast cannot be fused into the dot).
fn dot_of_cast_kernel(dtype: DataType, rows: u32, depth: u32, keep_values: bool) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("dot_of_cast", 1);
    let w = builder.global_param("w", dtype, false);
    let x = builder.global_param("x", DataType::F32, false);
    let y = builder.global_param("y", DataType::F32, true);
    let values_out = builder.global_param("values", DataType::F32, true);
    builder.grid(vec![Expr::u32(1)]);
    let matrix = vec![Expr::u32(rows), Expr::u32(depth)];
    let matrix_strides = vec![Expr::u32(depth), Expr::u32(1)];
    let w_view = builder.view_global("w", w, dtype, matrix.clone(), matrix_strides.clone(), Expr::u32(0));
    let values_view =
        builder.view_global("values", values_out, DataType::F32, matrix, matrix_strides, Expr::u32(0));
    let column = |extent: u32| vec![Expr::u32(extent), Expr::u32(1)];
    let x_view = builder.view_global("x", x, DataType::F32, column(depth), column(1), Expr::u32(0));
    let y_view = builder.view_global("y", y, DataType::F32, column(rows), column(1), Expr::u32(0));
    let matrix_layout = layout::local(&[rows as usize, depth as usize]).unwrap();
    let codes = builder.tile("codes", dtype, matrix_layout.clone());
    let values = builder.tile("values", DataType::F32, matrix_layout);
    let x_tile = builder.tile("x", DataType::F32, layout::local(&[depth as usize, 1]).unwrap());
    let y_tile = builder.tile("y", DataType::F32, layout::local(&[rows as usize, 1]).unwrap());
    let origin = vec![Expr::u32(0), Expr::u32(0)];
    builder.inst(Inst::LoadGlobal { dst: codes, src: w_view, offsets: origin.clone(), dims: vec![0, 1] });
    builder.inst(Inst::Cast { dst: values, src: codes, rounding: Rounding::NearestEven });
    builder.inst(Inst::LoadGlobal { dst: x_tile, src: x_view, offsets: origin.clone(), dims: vec![0, 1] });
    builder.inst(Inst::AllocRegister { dst: y_tile, init: Some(Expr::f32(0.5)) });
    builder.inst(Inst::Dot { dst: y_tile, a: values, b: x_tile, acc: y_tile });
    builder.inst(Inst::StoreGlobal { dst: y_view, src: y_tile, offsets: origin.clone(), dims: vec![0, 1] });
    if keep_values {
        builder.inst(Inst::StoreGlobal { dst: values_view, src: values, offsets: origin, dims: vec![0, 1] });
    }
    builder.finish().unwrap()
}

#[test]
fn dots_of_cast_codes_match_plain_rust_fused_or_not() {
    // 3 and 6 rows: a path that takes rows in fours has a remainder either way, and only 6 fills a group.
    for (rows, bits) in [3u32, 6].into_iter().flat_map(|rows| (1..=8u8).map(move |bits| (rows, bits))) {
        let depth = 48u32;
        for signed in [false, true] {
            // 48: the load and cast fuse into the dot, which reads the buffer directly when 16 bytes follow the
            // last code and stages the codes otherwise; 24 (not a multiple of 16) and a second reader: no fusion.
            let cases = [(depth, false, 16), (depth, false, 0), (24, false, 16), (depth, true, 16)];
            for (depth, keep_values, slack_bytes) in cases {
                let count = (rows * depth) as usize;
                let codes: Vec<u64> =
                    (0..count as u64).map(|i| ((i * 2654435761) >> 9) % (1 << bits)).collect();
                let x: Vec<f32> = (0..depth).map(|i| ((i * 13 % 7) as f32 - 3.0) / 8.0).collect();
                let x_bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
                let mut packed = pack(&codes, u32::from(bits));
                packed.extend(std::iter::repeat_n(0xff, slack_bytes));
                let mut args = vec![
                    KernelArg::Buffer(packed),
                    KernelArg::Buffer(x_bytes),
                    KernelArg::Buffer(vec![0; 4 * rows as usize]),
                    KernelArg::Buffer(vec![0; 4 * count]),
                ];
                run(&dot_of_cast_kernel(int(signed, bits), rows, depth, keep_values), &mut args).unwrap();
                let KernelArg::Buffer(out) = &args[2] else { unreachable!() };
                for row in 0..rows as usize {
                    let want: f32 = 0.5
                        + (0..depth as usize)
                            .map(|k| code_value(codes[row * depth as usize + k], bits, signed) * x[k])
                            .sum::<f32>();
                    let got = f32::from_le_bytes(out[4 * row..4 * row + 4].try_into().unwrap());
                    // Products are multiples of 1/8 below 2^8 and sums stay below 2^14: exact in any order.
                    assert_eq!(
                        got, want,
                        "{rows} rows, {bits} bits signed {signed} depth {depth} slack {slack_bytes}: row {row}"
                    );
                }
                let KernelArg::Buffer(values) = &args[3] else { unreachable!() };
                let stored = values.iter().any(|&byte| byte != 0);
                assert_eq!(stored, keep_values, "the f32 tile is stored exactly when the kernel says so");
            }
        }
    }
}
