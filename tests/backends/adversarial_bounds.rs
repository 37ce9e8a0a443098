//! Adversarial addressing on every backend against the interpreter: `u32` tile and view offsets at
//! and beyond 2^31 (which a 32-bit index would wrap back into range), and shared-memory and register
//! windows outside their tiles and loops that never end (which must stop the launch with an error on
//! every backend).

use crate::gpu_common::gpu_device;
use tilevm::runtime::{
    CpuDevice, CpuOptions, Device, GpuDevice, GpuOptions, InterpreterDevice, KernelArg, RuntimeError,
};
use tilevm::vm::DataType;
use tilevm::vm::interp::{self, RunOptions};
use tilevm::vm::ir::{BinaryOp, Expr, Inst, KernelBuilder, SharedLayout};
use tilevm::vm::layout;
use tilevm::vm::verify::VerifiedKernel;

/// Threads per block of the kernels here, and the tile length.
const LANES: usize = 32;
/// Elements of the buffers.
const ELEMENTS: usize = 64;

/// Every device to compare: the interpreter first (it defines the meaning), the CPU JIT, and the
/// GPU where an adapter exists (else the GPU part is skipped with a printed reason).
fn devices() -> Vec<(&'static str, Box<dyn Device>)> {
    let mut devices: Vec<(&'static str, Box<dyn Device>)> = vec![
        ("interpreter", Box::new(InterpreterDevice)),
        ("cpu", Box::new(CpuDevice::new(Some(2)).expect("a CPU device"))),
    ];
    if let Some(gpu) = gpu_device() {
        devices.push(("gpu", Box::new(gpu)));
    }
    devices
}

/// Runs `kernel` with `args` on `device`; returns the arguments after the run, or the error's text.
fn run_on(
    device: &dyn Device,
    kernel: &VerifiedKernel,
    args: &[KernelArg],
) -> Result<Vec<KernelArg>, String> {
    let compiled = device.compile(kernel).map_err(|error| format!("compile: {error}"))?;
    let mut args = args.to_vec();
    match compiled.run(&mut args) {
        Ok(_) => Ok(args),
        Err(RuntimeError::KernelFailed(message)) => Err(message),
        Err(other) => panic!("a run-time failure must be `KernelFailed`, got {other:?}"),
    }
}

/// A copy of `src` into `dst` (both `u32` buffers of [`ELEMENTS`]) through views of `ELEMENTS` elements
/// whose offset is the `u32` scalar `view_offset`, one tile of [`LANES`] at `u32` tile offset `start`.
fn offset_copy_kernel() -> VerifiedKernel {
    let mut builder = KernelBuilder::new("offset_copy", LANES as u32);
    let start = builder.scalar_param("start", DataType::U32);
    let view_offset = builder.scalar_param("view_offset", DataType::U32);
    let src = builder.global_param("src", DataType::U32, false);
    let dst = builder.global_param("dst", DataType::U32, true);
    builder.grid(vec![Expr::u32(1)]);
    let extent = vec![Expr::u32(ELEMENTS as u32)];
    let src_view = builder.view_global(
        "src",
        src,
        DataType::U32,
        extent.clone(),
        vec![Expr::u32(1)],
        view_offset.clone(),
    );
    let dst_view = builder.view_global("dst", dst, DataType::U32, extent, vec![Expr::u32(1)], view_offset);
    let tile = builder.tile("t", DataType::U32, layout::spatial(&[LANES]).unwrap());
    builder.inst(Inst::LoadGlobal { dst: tile, src: src_view, offsets: vec![start.clone()], dims: vec![0] });
    builder.inst(Inst::StoreGlobal { dst: dst_view, src: tile, offsets: vec![start], dims: vec![0] });
    builder.finish().unwrap()
}

fn words(values: impl Iterator<Item = u32>) -> Vec<u8> {
    values.flat_map(u32::to_le_bytes).collect()
}

fn offset_copy_args(start: u32, view_offset: u32) -> Vec<KernelArg> {
    vec![
        KernelArg::Scalar(u64::from(start)),
        KernelArg::Scalar(u64::from(view_offset)),
        KernelArg::Buffer(words((0..ELEMENTS as u32).map(|i| i * 7 + 1))),
        KernelArg::Buffer(words((0..ELEMENTS as u32).map(|_| 0xdead_beef))),
    ]
}

#[test]
fn tile_offsets_at_and_beyond_two_to_the_31_are_masked_everywhere() {
    let kernel = offset_copy_kernel();
    // In range, ragged at the end, and offsets that a 32-bit signed index turns negative, so that
    // adding a lane index would bring them back to elements 0..31.
    let starts = [0, 40, 63, 64, 0x7fff_fff0, 0x7fff_ffff, 0x8000_0000, 0xffff_ffe1, 0xffff_ffff];
    let devices = devices();
    for start in starts {
        let args = offset_copy_args(start, 0);
        let expected = run_on(devices[0].1.as_ref(), &kernel, &args).expect("the interpreter masks");
        for (name, device) in &devices[1..] {
            let actual = run_on(device.as_ref(), &kernel, &args)
                .unwrap_or_else(|error| panic!("{name}, start {start:#x}: {error}"));
            assert_eq!(actual, expected, "{name}: tile offset {start:#x}");
        }
    }
}

#[test]
fn view_offsets_beyond_two_to_the_31_are_masked_or_a_clear_gpu_error() {
    let kernel = offset_copy_kernel();
    let devices = devices();
    for view_offset in [0x8000_0000u32, 0xffff_ffc0, 0xffff_ffff] {
        let args = offset_copy_args(0, view_offset);
        let expected = run_on(devices[0].1.as_ref(), &kernel, &args).expect("the interpreter masks");
        for (name, device) in &devices[1..] {
            match run_on(device.as_ref(), &kernel, &args) {
                Ok(actual) => assert_eq!(actual, expected, "{name}: view offset {view_offset:#x}"),
                // The GPU addresses elements with 32-bit indices: a view beyond them is refused,
                // never wrapped.
                Err(error) if *name == "gpu" => {
                    assert!(error.contains("does not address"), "{name}: {error}")
                }
                Err(error) => panic!("{name}: view offset {view_offset:#x}: {error}"),
            }
        }
    }
}

/// Stores a [`LANES`] tile into a shared tile of `shared_len` elements at `u32` offset `start`, loads
/// it back and writes it out.
fn shared_window_kernel(shared_len: usize) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("shared_window", LANES as u32);
    let start = builder.scalar_param("start", DataType::U32);
    let dst = builder.global_param("dst", DataType::U32, true);
    builder.grid(vec![Expr::u32(1)]);
    let view = builder.view_global(
        "dst",
        dst,
        DataType::U32,
        vec![Expr::u32(LANES as u32)],
        vec![Expr::u32(1)],
        Expr::u32(0),
    );
    let spread = layout::spatial(&[LANES]).unwrap();
    let tile = builder.tile("t", DataType::U32, spread.clone());
    let back = builder.tile("back", DataType::U32, spread);
    let staging = builder.shared("staging", DataType::U32, SharedLayout::row_major(&[shared_len]).unwrap());
    builder.inst(Inst::Iota { dst: tile, dim: 0 });
    builder.inst(Inst::AllocShared { dst: staging, init: None });
    builder.inst(Inst::StoreShared { dst: staging, src: tile, offsets: vec![start.clone()] });
    builder.inst(Inst::Sync);
    builder.inst(Inst::LoadShared { dst: back, src: staging, offsets: vec![start] });
    builder.inst(Inst::FreeShared { tile: staging });
    builder.inst(Inst::StoreGlobal { dst: view, src: back, offsets: vec![Expr::u32(0)], dims: vec![0] });
    builder.finish().unwrap()
}

/// Slices an 8-element window at `u32` offset `start` out of a [`LANES`]-element register tile.
fn slice_window_kernel() -> VerifiedKernel {
    let mut builder = KernelBuilder::new("slice_window", 1);
    let start = builder.scalar_param("start", DataType::U32);
    let dst = builder.global_param("dst", DataType::U32, true);
    builder.grid(vec![Expr::u32(1)]);
    let view =
        builder.view_global("dst", dst, DataType::U32, vec![Expr::u32(8)], vec![Expr::u32(1)], Expr::u32(0));
    let whole = builder.tile("whole", DataType::U32, layout::local(&[LANES]).unwrap());
    let window = builder.tile("window", DataType::U32, layout::local(&[8]).unwrap());
    builder.inst(Inst::Iota { dst: whole, dim: 0 });
    builder.inst(Inst::Slice { dst: window, src: whole, offsets: vec![start] });
    builder.inst(Inst::StoreGlobal { dst: view, src: window, offsets: vec![Expr::u32(0)], dims: vec![0] });
    builder.finish().unwrap()
}

/// Runs `kernel(start, dst)` on every device for each start: the in-range starts must give the
/// interpreter's bytes, the others an error on every backend.
fn check_windows(kernel: &VerifiedKernel, dst_bytes: usize, inside: &[u32], outside: &[u32]) {
    let devices = devices();
    let args = |start: u32| vec![KernelArg::Scalar(u64::from(start)), KernelArg::Buffer(vec![0; dst_bytes])];
    for &start in inside {
        let expected = run_on(devices[0].1.as_ref(), kernel, &args(start)).expect("inside its tile");
        for (name, device) in &devices[1..] {
            let actual = run_on(device.as_ref(), kernel, &args(start))
                .unwrap_or_else(|error| panic!("{name}, start {start}: {error}"));
            assert_eq!(actual, expected, "{name}: start {start}");
        }
    }
    for &start in outside {
        for (name, device) in &devices {
            let error = run_on(device.as_ref(), kernel, &args(start))
                .expect_err(&format!("{name}: a window at {start:#x} leaves its tile"));
            assert!(!error.is_empty(), "{name}: an error says what failed");
        }
    }
}

#[test]
fn shared_windows_outside_their_tile_stop_every_backend() {
    let kernel = shared_window_kernel(LANES + 8);
    check_windows(&kernel, 4 * LANES, &[0, 3, 8], &[9, 40, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]);
}

#[test]
fn register_slices_outside_their_tile_stop_every_backend() {
    let kernel = slice_window_kernel();
    check_windows(&kernel, 4 * 8, &[0, 5, 24], &[25, 32, 0x8000_0000, 0xffff_fffc]);
}

/// `count = 0; while count < n { count += 1 }`, then `count` stored to `out[0]`; with `n` of
/// `u32::MAX` and `step` 0 the loop never ends.
fn counting_loop_kernel() -> VerifiedKernel {
    let mut builder = KernelBuilder::new("counting_loop", 1);
    let n = builder.scalar_param("n", DataType::U32);
    let step = builder.scalar_param("step", DataType::U32);
    let out = builder.global_param("out", DataType::U32, true);
    builder.grid(vec![Expr::u32(1)]);
    let view =
        builder.view_global("out", out, DataType::U32, vec![Expr::u32(1)], vec![Expr::u32(1)], Expr::u32(0));
    let count = builder.var("count", DataType::U32);
    builder.assign(count, Expr::u32(0));
    let counted = Expr::var(count, DataType::U32);
    builder.while_loop(Expr::binary(BinaryOp::Lt, counted.clone(), n), |builder| {
        builder.assign(count, Expr::binary(BinaryOp::Add, counted.clone(), step));
    });
    let tile = builder.tile("count", DataType::U32, layout::local(&[1]).unwrap());
    builder.inst(Inst::AllocRegister { dst: tile, init: Some(counted) });
    builder.inst(Inst::StoreGlobal { dst: view, src: tile, offsets: vec![Expr::u32(0)], dims: vec![0] });
    builder.finish().unwrap()
}

fn counting_args(n: u32, step: u32) -> Vec<KernelArg> {
    vec![KernelArg::Scalar(u64::from(n)), KernelArg::Scalar(u64::from(step)), KernelArg::Buffer(vec![0; 4])]
}

#[test]
fn loops_within_the_while_limit_run_to_their_end() {
    let kernel = counting_loop_kernel();
    let limit = 1000;
    let cpu = CpuDevice::new_with(Some(2), CpuOptions { while_limit: Some(limit), ..CpuOptions::default() })
        .expect("a CPU device");
    let mut devices: Vec<(&str, Box<dyn Device>)> = vec![("cpu", Box::new(cpu))];
    if gpu_device().is_some() {
        let options = GpuOptions { while_limit: Some(limit), ..GpuOptions::default() };
        devices.push(("gpu", Box::new(GpuDevice::open_with(None, options).expect("a GPU device"))));
    }
    for (name, device) in &devices {
        let done = run_on(device.as_ref(), &kernel, &counting_args(limit, 1))
            .unwrap_or_else(|error| panic!("{name}: {limit} iterations are allowed: {error}"));
        assert_eq!(done[2], KernelArg::Buffer(limit.to_le_bytes().to_vec()), "{name}");
        let error = run_on(device.as_ref(), &kernel, &counting_args(limit + 1, 1))
            .expect_err(&format!("{name}: {} iterations exceed the limit", limit + 1));
        // llvmpipe's own bound comes first there; either way the launch fails and says why.
        let driver_bound = *name == "gpu" && error.contains("driver's own iteration bound");
        assert!(error.contains("endless loop") || driver_bound, "{name}: {error}");
    }
}

#[test]
fn loops_that_never_end_stop_every_backend_with_an_error() {
    let kernel = counting_loop_kernel();
    let args = counting_args(u32::MAX, 0);
    // The interpreter bounds the statements of a launch.
    let mut interpreted = args.clone();
    let mut options = RunOptions { max_steps: Some(100_000), ..RunOptions::default() };
    match interp::run_kernel_with(&kernel, &mut interpreted, &mut options) {
        Err(error) => assert!(error.to_string().contains("endless loop"), "interpreter: {error}"),
        Ok(()) => panic!("the interpreter ran an endless loop to an end"),
    }
    // The compiled backends bound each `while`, at their default limit.
    let mut devices: Vec<(&str, Box<dyn Device>)> =
        vec![("cpu", Box::new(CpuDevice::new(Some(2)).expect("a CPU device")))];
    if let Some(gpu) = gpu_device() {
        devices.push(("gpu", Box::new(gpu)));
    }
    for (name, device) in &devices {
        let error =
            run_on(device.as_ref(), &kernel, &args).expect_err(&format!("{name}: an endless loop ended"));
        // llvmpipe's own bound comes first there; either way the launch fails and says why.
        let driver_bound = *name == "gpu" && error.contains("driver's own iteration bound");
        assert!(error.contains("endless loop") || driver_bound, "{name}: {error}");
    }
}

#[test]
fn loops_past_the_drivers_own_bound_finish_or_fail_loudly() {
    // llvmpipe leaves a loop nest after 65535 iterations (`compiler/wgsl/src/loops.rs`).
    let kernel = counting_loop_kernel();
    let iterations = 200_000u32;
    let args = counting_args(iterations, 1);
    let devices = devices();
    for (name, device) in &devices[1..] {
        match run_on(device.as_ref(), &kernel, &args) {
            Ok(done) => {
                assert_eq!(done[2], KernelArg::Buffer(iterations.to_le_bytes().to_vec()), "{name}")
            }
            // Where the driver bounds loops, the launch must say so instead of returning 65535.
            Err(error) if *name == "gpu" => {
                assert!(error.contains("driver's own iteration bound"), "{error}")
            }
            Err(error) => panic!("{name}: {error}"),
        }
    }
}

/// `for i in start..end step step { count += 1; last = i }` over `dtype`, then `[count, last]` stored
/// (as `u32` codes): near the end of the dtype's range a step must end the loop, not wrap around.
fn for_range_kernel(dtype: DataType) -> VerifiedKernel {
    let mut builder = KernelBuilder::new("for_range", 1);
    let start = builder.scalar_param("start", dtype);
    let end = builder.scalar_param("end", dtype);
    let step = builder.scalar_param("step", dtype);
    let out = builder.global_param("out", DataType::U32, true);
    builder.grid(vec![Expr::u32(1)]);
    let view =
        builder.view_global("out", out, DataType::U32, vec![Expr::u32(2)], vec![Expr::u32(1)], Expr::u32(0));
    let count = builder.var("count", DataType::U32);
    builder.assign(count, Expr::u32(0));
    let counted = Expr::var(count, DataType::U32);
    let last = builder.var("last", DataType::U32);
    builder.assign(last, Expr::u32(7));
    builder.for_range("i", start, end, step, |builder, i| {
        builder.assign(count, Expr::binary(BinaryOp::Add, counted.clone(), Expr::u32(1)));
        builder.assign(last, i.cast(DataType::U32));
    });
    for (slot, value) in [counted, Expr::var(last, DataType::U32)].into_iter().enumerate() {
        let tile = builder.tile("value", DataType::U32, layout::local(&[1]).unwrap());
        builder.inst(Inst::AllocRegister { dst: tile, init: Some(value) });
        builder.inst(Inst::StoreGlobal {
            dst: view,
            src: tile,
            offsets: vec![Expr::u32(slot as u32)],
            dims: vec![0],
        });
    }
    builder.finish().unwrap()
}

#[test]
fn for_loops_near_the_end_of_their_range_end_instead_of_wrapping() {
    let cases: [(DataType, [u64; 3]); 5] = [
        (DataType::U32, [0xffff_fff0, 0xffff_ffff, 4]),
        (DataType::U32, [0xffff_fff0, 0xffff_ffff, 0x8000_0000]),
        (DataType::I32, [(i32::MAX - 10) as u32 as u64, i32::MAX as u32 as u64, 3]),
        (DataType::I32, [(i32::MIN + 10) as u32 as u64, i32::MIN as u32 as u64, (-4i32) as u32 as u64]),
        (DataType::I32, [0, 100, 7]),
    ];
    let devices = devices();
    for (dtype, [start, end, step]) in cases {
        let kernel = for_range_kernel(dtype);
        let args = vec![
            KernelArg::Scalar(start),
            KernelArg::Scalar(end),
            KernelArg::Scalar(step),
            KernelArg::Buffer(vec![0; 8]),
        ];
        let expected = run_on(devices[0].1.as_ref(), &kernel, &args).expect("the interpreter ends the loop");
        for (name, device) in &devices[1..] {
            let actual = run_on(device.as_ref(), &kernel, &args).unwrap_or_else(|error| {
                panic!("{name}, {dtype:?} {start:#x}..{end:#x} step {step:#x}: {error}")
            });
            assert_eq!(actual, expected, "{name}: {dtype:?} {start:#x}..{end:#x} step {step:#x}");
        }
    }
}
