//! Shared helpers of the GPU tests: the skip-or-fail policy, and small kernel builders.
#![allow(dead_code)]

use tilevm::runtime::GpuDevice;
use tilevm::vm::ir::{BinaryOp, Expr, Inst, KernelBuilder, RegisterLayout, Rounding};
use tilevm::vm::verify::VerifiedKernel;
use tilevm::vm::{DataType, packing};

/// The GPU to test on. Without an adapter the test is skipped with a printed reason, unless
/// `TILEVM_REQUIRE_GPU=1`, under which a missing adapter fails the test.
pub fn gpu_device() -> Option<GpuDevice> {
    match GpuDevice::open(None) {
        Ok(device) => Some(device),
        Err(error) => {
            let required = std::env::var("TILEVM_REQUIRE_GPU").is_ok_and(|value| value == "1");
            assert!(!required, "TILEVM_REQUIRE_GPU=1 but no GPU is usable: {error}");
            eprintln!("skipping GPU test: {error}");
            None
        }
    }
}

/// Elements per block of the streaming kernels: 64 threads holding 4 consecutive elements each.
pub const BLOCK: usize = 256;

/// The streaming layout: thread t holds elements 4t..4t+4.
pub fn stream_layout() -> RegisterLayout {
    RegisterLayout::new(vec![BLOCK], vec![64, 4], vec![0], vec![1]).expect("a valid layout")
}

/// `dst[i] = cast(src[i])` for `i < n`, over a 1-D grid of `BLOCK`-element blocks.
pub fn cast_kernel(from: DataType, to: DataType, rounding: Rounding) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("cast", 64);
    let n = builder.scalar_param("n", DataType::I32);
    let src = builder.global_param("src", from, false);
    let dst = builder.global_param("dst", to, true);
    builder.grid(vec![Expr::binary(
        BinaryOp::Div,
        Expr::binary(BinaryOp::Add, n.clone(), Expr::i32(BLOCK as i32 - 1)),
        Expr::i32(BLOCK as i32),
    )]);
    let src_view = builder.view_global("src", src, from, vec![n.clone()], vec![Expr::i32(1)], Expr::i32(0));
    let dst_view = builder.view_global("dst", dst, to, vec![n], vec![Expr::i32(1)], Expr::i32(0));
    let offset = builder.let_var(
        "offset",
        Expr::binary(BinaryOp::Mul, Expr::block_index(0).cast(DataType::I32), Expr::i32(BLOCK as i32)),
    );
    let input = builder.tile("input", from, stream_layout());
    let output = builder.tile("output", to, stream_layout());
    builder.inst(Inst::LoadGlobal {
        dst: input,
        src: src_view,
        offsets: vec![offset.clone()],
        dims: vec![0],
    });
    builder.inst(Inst::Cast { dst: output, src: input, rounding });
    builder.inst(Inst::StoreGlobal { dst: dst_view, src: output, offsets: vec![offset], dims: vec![0] });
    builder.finish().unwrap()
}

/// Packs 32-bit `codes` of `bits` bits (the library's packer).
pub fn pack(codes: &[u32], bits: u32) -> Vec<u8> {
    let wide: Vec<u64> = codes.iter().map(|&code| u64::from(code)).collect();
    packing::pack(bits, &wide)
}

/// Unpacks `count` codes of `bits` (at most 32) bits (the library's unpacker).
pub fn unpack(bytes: &[u8], bits: u32, count: usize) -> Vec<u32> {
    packing::unpack(bits, bytes, count).into_iter().map(|code| code as u32).collect()
}
