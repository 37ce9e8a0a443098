//! Vectorised global loads and stores against the interpreter: a tile is copied between two views of
//! packed buffers, for element widths that divide a word and widths that straddle words, runs of several
//! lengths, unaligned and ragged offsets (runs partly out of bounds), and a destination whose last
//! dimension has a stride other than 1 (the per-element fallback). The whole output buffer is compared,
//! so bits that neighbouring elements share and bits no element covers are checked too.

use crate::gpu_common::gpu_device;
use crate::rng::Rng;
use tilevm::runtime::{Device, KernelArg};
use tilevm::vm::DataType;
use tilevm::vm::interp;
use tilevm::vm::ir::{Expr, Inst, KernelBuilder, RegisterLayout};
use tilevm::vm::layout::{local, spatial};
use tilevm::vm::verify::VerifiedKernel;

const ROWS: i32 = 13;
const COLS: i32 = 45;

/// Copies a tile from `src[ro.., co..]` to `dst[ro2.., co2..]`; `dst` is row-major, or column-major
/// (stride `ROWS` along its last dimension) when `transposed`.
fn copy_kernel(dtype: DataType, layout: &RegisterLayout, transposed: bool) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("copy", layout.num_threads() as u32);
    let offsets: Vec<Expr> =
        ["ro", "co", "ro2", "co2"].iter().map(|name| builder.scalar_param(name, DataType::I32)).collect();
    let src = builder.global_param("src", dtype, false);
    let dst = builder.global_param("dst", dtype, true);
    let shape = vec![Expr::i32(ROWS), Expr::i32(COLS)];
    let src_view = builder.view_global(
        "src",
        src,
        dtype,
        shape.clone(),
        vec![Expr::i32(COLS), Expr::i32(1)],
        Expr::i32(0),
    );
    let dst_strides =
        if transposed { vec![Expr::i32(1), Expr::i32(ROWS)] } else { vec![Expr::i32(COLS), Expr::i32(1)] };
    let dst_view = builder.view_global("dst", dst, dtype, shape, dst_strides, Expr::i32(0));
    let tile = builder.tile("tile", dtype, layout.clone());
    builder.inst(Inst::LoadGlobal {
        dst: tile,
        src: src_view,
        offsets: offsets[..2].to_vec(),
        dims: vec![0, 1],
    });
    builder.inst(Inst::StoreGlobal {
        dst: dst_view,
        src: tile,
        offsets: offsets[2..].to_vec(),
        dims: vec![0, 1],
    });
    builder.finish().unwrap()
}

#[test]
fn vectorised_copies_match_the_interpreter() {
    let Some(device) = gpu_device() else { return };
    let layouts = [
        // Runs of 8 along the last dimension (chunks of up to 128 bits).
        spatial(&[4, 4]).and_then(|outer| outer.product(&local(&[1, 8])?)),
        // Runs of 3, with two runs per thread.
        local(&[1, 2])
            .and_then(|outer| outer.product(&spatial(&[4, 4])?))
            .and_then(|outer| outer.product(&local(&[1, 3])?)),
        // Runs of 16: whole words for widths that divide 32.
        spatial(&[8, 2]).and_then(|outer| outer.product(&local(&[1, 16])?)),
    ];
    let mut rng = Rng(0x5151_7777_aaaa_0001);
    let mut compared = 0;
    for layout in layouts {
        let layout = layout.expect("a valid layout");
        for name in ["u1", "u2", "u3", "u4", "i5", "u6", "f6e3m2fn", "u7", "u8", "u12", "bf16", "f32"] {
            let dtype: DataType = name.parse().expect("a dtype");
            for transposed in [false, true] {
                let kernel = copy_kernel(dtype, &layout, transposed);
                let compiled = device.compile(&kernel).unwrap_or_else(|error| panic!("{name}: {error}"));
                let bytes = (ROWS * COLS) as usize * dtype.bits() as usize / 8 + 4;
                for _ in 0..3 {
                    // Offsets from -3 to the far edge, so that some runs are partly or wholly out of bounds.
                    let offsets = [rng.next() % 16, rng.next() % 48, rng.next() % 16, rng.next() % 48]
                        .map(|offset| KernelArg::Scalar(u64::from((offset as i32 - 3) as u32)));
                    let mut args = offsets.to_vec();
                    args.push(KernelArg::Buffer((0..bytes).map(|_| rng.next() as u8).collect()));
                    args.push(KernelArg::Buffer((0..bytes).map(|_| rng.next() as u8).collect()));
                    let mut expected = args.clone();
                    interp::run_kernel(&kernel, &mut expected)
                        .unwrap_or_else(|error| panic!("{name}: {error}"));
                    compiled.run(&mut args).unwrap_or_else(|error| panic!("{name}: {error}"));
                    let offsets: Vec<String> = args[..4].iter().map(|arg| format!("{arg:?}")).collect();
                    assert!(
                        args[5] == expected[5],
                        "{name} layout {layout} transposed {transposed} offsets {offsets:?}: outputs differ"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 3 * 12 * 2 * 3);
}
