//! Criterion benchmarks of the host-side codecs the runtime and `tilevm dtype` use: decoding and encoding
//! minifloats, and packing / unpacking codes of widths that straddle bytes.
//!
//! Run with `cargo bench --bench codecs`. Kernel benchmarks (GEMV against a measured roofline) are
//! `tilevm bench`, because they need a roofline probe in the same run.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tilevm::vm::dtype::Rounding;
use tilevm::vm::packing::{pack, unpack};
use tilevm::vm::{DataType, dtype::FloatType};

const ELEMENTS: usize = 1 << 14;

fn float_type(name: &str) -> FloatType {
    match name.parse::<DataType>() {
        Ok(DataType::Float(float)) => float,
        other => panic!("{name} is not a float type: {other:?}"),
    }
}

fn minifloat_codecs(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(ELEMENTS as u64));
    let values: Vec<f32> = (0..ELEMENTS).map(|i| (i as f32 - 8192.0) * 0.013).collect();
    for name in ["f4e2m1fn", "f6e3m2fn", "f8e4m3fn", "bf16"] {
        let float = float_type(name);
        let codes: Vec<u32> = values.iter().map(|&v| float.encode_f32(v, Rounding::NearestEven)).collect();
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| codes.iter().map(|&code| float.decode_f32(black_box(code))).sum::<f32>())
        });
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                values.iter().map(|&v| float.encode_f32(black_box(v), Rounding::NearestEven)).sum::<u32>()
            })
        });
    }
    group.finish();
}

fn packing(c: &mut Criterion) {
    let mut group = c.benchmark_group("packing");
    group.throughput(Throughput::Elements(ELEMENTS as u64));
    for width in [3u32, 4, 6, 12] {
        let codes: Vec<u64> =
            (0..ELEMENTS as u64).map(|i| (i * 2_654_435_761) & ((1 << width) - 1)).collect();
        let bytes = pack(width, &codes);
        group.bench_function(format!("pack/u{width}"), |b| b.iter(|| pack(width, black_box(&codes))));
        group.bench_function(format!("unpack/u{width}"), |b| {
            b.iter(|| unpack(width, black_box(&bytes), ELEMENTS))
        });
    }
    group.finish();
}

criterion_group!(benches, minifloat_codecs, packing);
criterion_main!(benches);
