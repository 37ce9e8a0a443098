//! Shared helpers of the CPU backend tests: small kernels built with `KernelBuilder`, and running them.

#![allow(dead_code)]

use tilevm::runtime::{CpuDevice, Device, KernelArg};
use tilevm::vm::DataType;
use tilevm::vm::ir::{BinaryOp, Expr, Inst, KernelBuilder, Rounding};
use tilevm::vm::verify::VerifiedKernel;
use tilevm::vm::{layout, packing};

/// Elements per block of the map kernels.
pub const BLOCK: u32 = 64;

/// `dst[i] = cast(src[i])` for `i < n`, one tile of `BLOCK` elements per block (the last one masked).
pub fn cast_kernel(from: DataType, to: DataType, rounding: Rounding) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("cast_map", 1);
    let src = builder.global_param("src", from, false);
    let dst = builder.global_param("dst", to, true);
    let n = builder.scalar_param("n", DataType::U32);
    let blocks = Expr::binary(
        BinaryOp::Div,
        Expr::binary(BinaryOp::Add, n.clone(), Expr::u32(BLOCK - 1)),
        Expr::u32(BLOCK),
    );
    builder.grid(vec![blocks]);
    let src_view = builder.view_global("src", src, from, vec![n.clone()], vec![Expr::u32(1)], Expr::u32(0));
    let dst_view = builder.view_global("dst", dst, to, vec![n], vec![Expr::u32(1)], Expr::u32(0));
    let start = Expr::binary(BinaryOp::Mul, Expr::block_index(0), Expr::u32(BLOCK));
    let layout = layout::local(&[BLOCK as usize]).unwrap();
    let input = builder.tile("input", from, layout.clone());
    let output = builder.tile("output", to, layout);
    builder.inst(Inst::LoadGlobal { dst: input, src: src_view, offsets: vec![start.clone()], dims: vec![0] });
    builder.inst(Inst::Cast { dst: output, src: input, rounding });
    builder.inst(Inst::StoreGlobal { dst: dst_view, src: output, offsets: vec![start], dims: vec![0] });
    builder.finish().unwrap()
}

/// Runs `kernel` on a fresh CPU device with two workers.
pub fn run(kernel: &VerifiedKernel, args: &mut [KernelArg]) -> Result<(), String> {
    let device = CpuDevice::new(Some(2)).map_err(|error| error.to_string())?;
    let compiled = device.compile(kernel).map_err(|error| error.to_string())?;
    compiled.run(args).map(|_| ()).map_err(|error| error.to_string())
}

/// Packs `codes` of `bits` bits (the library's packer, in the tests' argument order).
pub fn pack(codes: &[u64], bits: u32) -> Vec<u8> {
    packing::pack(bits, codes)
}

/// Unpacks `count` codes of `bits` bits (the library's unpacker).
pub fn unpack(bytes: &[u8], bits: u32, count: usize) -> Vec<u64> {
    packing::unpack(bits, bytes, count)
}
