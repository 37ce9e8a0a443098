//! Casts into every minifloat format on the GPU against `dtype::cast`, the one definition, under all three
//! rounding modes (stochastic rounding included): from `f32` on values around every code, midpoints,
//! subnormals and random bit patterns, and from `i32`/`u32` on random integers. A fixed sample of the
//! formats runs by default; `TILEVM_FULL_SWEEP=1` runs every one.

use crate::gpu_common::{BLOCK, gpu_device, pack, stream_layout, unpack};
use crate::rng::Rng;
use tilevm::runtime::{Device, KernelArg};
use tilevm::vm::DataType;
use tilevm::vm::dtype::{FloatType, NanEncoding, cast};
use tilevm::vm::ir::{BinaryOp, Expr, Inst, KernelBuilder, Rounding};
use tilevm::vm::verify::VerifiedKernel;

const ROUNDINGS: [Rounding; 3] =
    [Rounding::NearestEven, Rounding::TowardZero, Rounding::Stochastic { seed: 0x5eed_0000_0000_0007 }];

/// Every valid format with its default bias (every split of exponent and mantissa, every NaN convention,
/// signed and unsigned), and a few with other biases.
fn formats() -> Vec<FloatType> {
    let mut formats = Vec::new();
    for exponent_bits in 1..=8u8 {
        for mantissa_bits in 0..=10u8 {
            for (signed, nan) in [
                (true, NanEncoding::Ieee),
                (true, NanEncoding::Fn),
                (true, NanEncoding::None),
                (true, NanEncoding::Fnuz),
                (false, NanEncoding::Fn),
            ] {
                let bias = FloatType::default_bias(exponent_bits, nan);
                let extra = if (exponent_bits + mantissa_bits) % 5 == 0 { vec![bias + 1, 0] } else { vec![] };
                for bias in std::iter::once(bias).chain(extra) {
                    let float = FloatType { exponent_bits, mantissa_bits, bias, signed, nan };
                    if float.validate().is_ok() && !formats.contains(&float) {
                        formats.push(float);
                    }
                }
            }
        }
    }
    formats
}

/// `f32` bit patterns that exercise every rounding decision of `format`: each of (up to 1024) codes, its
/// neighbouring `f32`s, points a quarter, half and three quarters of the way to the next code, and random
/// magnitudes from far below the smallest value to beyond the largest.
fn f32_inputs(format: FloatType, rng: &mut Rng) -> Vec<u32> {
    let mut inputs = vec![0, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0xffc0_1234, 0x7fff_ffff, 1];
    inputs.extend([0x8000_0001, 0x0080_0000, 0x007f_ffff, 0x7f7f_ffff, 0xff7f_ffff]);
    let top = format.magnitude_mask();
    let step = (top / 1024).max(1);
    let mut largest = 1.0f32;
    for code in (0..=top).step_by(step as usize) {
        if format.is_nan(code) {
            continue;
        }
        let value = format.decode_f32(code);
        largest = largest.max(value);
        let bits = value.to_bits();
        inputs.extend([bits, bits.wrapping_add(1), bits.wrapping_sub(1), bits.wrapping_add(1 << 12)]);
        if code < top && !format.is_nan(code + 1) {
            let (low, high) = (f64::from(value), f64::from(format.decode_f32(code + 1)));
            for fraction in [0.25, 0.5, 0.75] {
                let between = ((low + (high - low) * fraction) as f32).to_bits();
                inputs.extend([between, between | 0x8000_0000]);
            }
        }
    }
    for _ in 0..512 {
        let exponent = (rng.next() % 300) as i32 - 160;
        let magnitude = (2f64.powi(exponent) * (1.0 + f64::from(rng.next()) / 4_294_967_296.0)) as f32;
        let magnitude = if magnitude > largest * 4.0 { largest * 1.5 } else { magnitude };
        inputs.push(magnitude.to_bits() | (rng.next() & 0x8000_0000));
    }
    inputs
}

/// Random integer codes of all magnitudes, and every small integer.
fn int_inputs(rng: &mut Rng) -> Vec<u32> {
    let mut inputs: Vec<u32> = (-300i32..=300).map(|value| value as u32).collect();
    inputs.extend([i32::MIN as u32, i32::MAX as u32, u32::MAX, 1 << 31]);
    for _ in 0..512 {
        inputs.push(rng.next() >> (rng.next() % 32));
        inputs.push((rng.next() >> (rng.next() % 32)).wrapping_neg());
    }
    inputs
}

/// `dst_r[i] = cast(src[i])` under each of [`ROUNDINGS`] `r`, for `i < n`, over 1-D blocks of `BLOCK`.
fn three_roundings_kernel(from: DataType, to: DataType) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("round_three_ways", 64);
    let n = builder.scalar_param("n", DataType::I32);
    let src = builder.global_param("src", from, false);
    builder.grid(vec![Expr::binary(
        BinaryOp::Div,
        Expr::binary(BinaryOp::Add, n.clone(), Expr::i32(BLOCK as i32 - 1)),
        Expr::i32(BLOCK as i32),
    )]);
    let outputs: Vec<_> =
        (0..ROUNDINGS.len()).map(|r| builder.global_param(&format!("dst{r}"), to, true)).collect();
    let src_view = builder.view_global("src", src, from, vec![n.clone()], vec![Expr::i32(1)], Expr::i32(0));
    let offset = builder.let_var(
        "offset",
        Expr::binary(BinaryOp::Mul, Expr::block_index(0).cast(DataType::I32), Expr::i32(BLOCK as i32)),
    );
    let input = builder.tile("input", from, stream_layout());
    builder.inst(Inst::LoadGlobal {
        dst: input,
        src: src_view,
        offsets: vec![offset.clone()],
        dims: vec![0],
    });
    for (output_param, rounding) in outputs.into_iter().zip(ROUNDINGS) {
        let view =
            builder.view_global("dst", output_param, to, vec![n.clone()], vec![Expr::i32(1)], Expr::i32(0));
        let output = builder.tile("output", to, stream_layout());
        builder.inst(Inst::Cast { dst: output, src: input, rounding });
        builder.inst(Inst::StoreGlobal {
            dst: view,
            src: output,
            offsets: vec![offset.clone()],
            dims: vec![0],
        });
    }
    builder.finish().unwrap()
}

/// The codes of `codes` cast from `from` to `to` on the GPU, one vector per rounding of [`ROUNDINGS`].
fn run_casts(device: &dyn Device, from: DataType, to: DataType, codes: &[u32]) -> Vec<Vec<u32>> {
    let kernel = three_roundings_kernel(from, to);
    let compiled = device.compile(&kernel).unwrap_or_else(|error| panic!("compile {from} -> {to}: {error}"));
    let output_bytes = (codes.len() * to.bits() as usize).div_ceil(8);
    let mut args = vec![KernelArg::Scalar(codes.len() as u64), KernelArg::Buffer(pack(codes, from.bits()))];
    args.extend(ROUNDINGS.iter().map(|_| KernelArg::Buffer(vec![0xa5; output_bytes])));
    compiled.run(&mut args).unwrap_or_else(|error| panic!("run {from} -> {to}: {error}"));
    args[2..]
        .iter()
        .map(|arg| match arg {
            KernelArg::Buffer(bytes) => unpack(bytes, to.bits(), codes.len()),
            KernelArg::Scalar(_) => panic!("the outputs are buffers"),
        })
        .collect()
}

/// Runs the casts from `from` into each of `formats`; returns the mismatches (a few per case).
fn mismatches(
    from: DataType,
    formats: &[FloatType],
    inputs: impl Fn(FloatType, &mut Rng) -> Vec<u32>,
) -> Vec<String> {
    let Some(device) = gpu_device() else { return Vec::new() };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut failures = Vec::new();
    for &format in formats {
        let to = DataType::Float(format);
        let codes = inputs(format, &mut rng);
        let results = run_casts(&device, from, to, &codes);
        for (rounding, actual) in ROUNDINGS.into_iter().zip(results) {
            let wrong: Vec<String> = codes
                .iter()
                .zip(&actual)
                .enumerate()
                .filter_map(|(i, (&code, &got))| {
                    // The kernel's tile covers one block, so the row-major index is i mod BLOCK.
                    let expected = cast(from, to, u64::from(code), rounding, (i % BLOCK) as u64) as u32;
                    (got != expected)
                        .then(|| format!("{code:#010x} [{i}] -> {got:#x}, expected {expected:#x}"))
                })
                .take(4)
                .collect();
            if !wrong.is_empty() {
                failures.push(format!("{from} -> {to} {rounding:?}:\n  {}", wrong.join("\n  ")));
            }
        }
    }
    failures
}

/// The formats a run covers: every one under `TILEVM_FULL_SWEEP=1`; otherwise (each format costs a pipeline,
/// about half a second on lavapipe, and CI has two cores) every format of at most 8 bits with its default
/// bias — the storage formats — and every sixth of the rest, a fixed sample that still has every exponent
/// width, mantissa width, NaN convention and explicit bias in it.
fn swept(formats: Vec<FloatType>) -> Vec<FloatType> {
    if std::env::var("TILEVM_FULL_SWEEP").is_ok_and(|value| value == "1") {
        return formats;
    }
    formats
        .into_iter()
        .enumerate()
        .filter(|(i, float)| {
            let storage =
                float.bits() <= 8 && float.bias == FloatType::default_bias(float.exponent_bits, float.nan);
            storage || i % 6 == 0
        })
        .map(|(_, float)| float)
        .collect()
}

#[test]
fn the_sample_covers_every_format_parameter() {
    let sample = swept(formats());
    for exponent_bits in 1..=8 {
        assert!(
            sample.iter().any(|f| f.exponent_bits == exponent_bits),
            "no format with {exponent_bits} exponent bits"
        );
    }
    for mantissa_bits in 0..=10 {
        assert!(
            sample.iter().any(|f| f.mantissa_bits == mantissa_bits),
            "no format with {mantissa_bits} mantissa bits"
        );
    }
    for nan in [NanEncoding::Ieee, NanEncoding::Fn, NanEncoding::None, NanEncoding::Fnuz] {
        assert!(sample.iter().any(|f| f.nan == nan), "no format with NaN encoding {nan:?}");
    }
    assert!(sample.iter().any(|f| !f.signed), "no unsigned format");
    assert!(
        sample.iter().any(|f| f.bias != FloatType::default_bias(f.exponent_bits, f.nan)),
        "no format with an explicit bias"
    );
}

#[test]
fn f32_to_every_format_rounds_like_dtype_cast() {
    let failures = mismatches(DataType::F32, &swept(formats()), f32_inputs);
    assert!(failures.is_empty(), "{} cases differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn integers_to_float_formats_round_like_dtype_cast() {
    // Every tenth format of the sample: the integer path shares its rounding helper with the f32 path.
    let formats: Vec<FloatType> =
        swept(formats()).into_iter().step_by(10).chain([FloatType::F16, FloatType::BF16]).collect();
    let mut failures = Vec::new();
    for from in [DataType::I32, DataType::U32, DataType::U8] {
        failures.extend(mismatches(from, &formats, |_, rng| int_inputs(rng)));
    }
    assert!(failures.is_empty(), "{} cases differ:\n{}", failures.len(), failures.join("\n"));
}
