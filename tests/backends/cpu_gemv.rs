//! The GEMV benchmark kernel on the CPU backend against a plain-Rust reference (up to summation order).

use crate::cpu_support::{pack, run};
use half::f16;
use tilevm::runtime::KernelArg;
use tilevm::stdlib::gemv::gemv_a16wx_kernel;
use tilevm::vm::DataType;
use tilevm::vm::dtype::IntType;

#[test]
fn gemv_matches_a_plain_reference_for_several_widths() {
    let (n, k, group) = (24u32, 384u32, 128u32);
    for bits in [3u8, 4, 5, 6] {
        let dtype = DataType::Int(IntType { signed: false, bits });
        let kernel = gemv_a16wx_kernel(dtype, n, k, group).unwrap();
        let x: Vec<f32> = (0..k).map(|i| ((i * 7 % 17) as f32 - 8.0) / 8.0).collect();
        let weights: Vec<u64> =
            (0..n * k).map(|i| u64::from(i.wrapping_mul(2654435761u32) >> 7) % (1 << bits)).collect();
        let groups = k / group;
        let scales: Vec<f32> = (0..n * groups).map(|i| ((i % 5) as f32 + 1.0) / 16.0).collect();
        let f16_bytes =
            |values: &[f32]| values.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect::<Vec<u8>>();
        let mut args = vec![
            KernelArg::Buffer(f16_bytes(&x)),
            KernelArg::Buffer(pack(&weights, u32::from(bits))),
            KernelArg::Buffer(f16_bytes(&scales)),
            KernelArg::Buffer(vec![0; 2 * n as usize]),
        ];
        run(&kernel, &mut args).unwrap();
        let KernelArg::Buffer(out) = &args[3] else { unreachable!() };
        for row in 0..n as usize {
            let expected: f32 = (0..k as usize)
                .map(|col| {
                    x[col]
                        * weights[row * k as usize + col] as f32
                        * scales[row * groups as usize + col / group as usize]
                })
                .sum();
            let got = f16::from_bits(u16::from_le_bytes([out[2 * row], out[2 * row + 1]])).to_f32();
            assert!(
                (got - expected).abs() <= expected.abs() * 1e-3 + 1e-3,
                "u{bits} row {row}: {got} != {expected}"
            );
        }
    }
}
