//! The Rust host API (`tilevm::Runtime`, `Program`, `Tensor`, `Kernel`): kernels compiled from text and
//! launched by parameter name on every backend against the interpreter and plain Rust, from many
//! threads on one runtime, and every kind of wrong argument as a clear `tilevm::Error`.

use std::sync::Arc;

use half::f16;
use tilevm::{Args, DataType, Error, Program, Rounding, Runtime, RuntimeOptions, Tensor};

use crate::gpu_common::gpu_device;

/// `y = a * x + b` over `n` elements with a scalar `a` and an f16 `b`, in blocks of `BLOCK`.
const AXPB: &str = r#"
kernel axpb<BLOCK: u32 = 256>(x: global f32[n], b: global f16[n], y: global mut f32[n], a: f32, n: u32)
    grid(cdiv(n, BLOCK)) threads(64)
{
    let start = block_index(0) * BLOCK;
    let xs = load(x, [start], [BLOCK]);
    let bs = cast(load(b, [start], [BLOCK]), f32);
    store(y, xs * a + bs, [start]);
}
"#;

fn program() -> Program {
    Program::from_source("axpb.tile", AXPB).expect("the test kernel parses")
}

/// Every runtime this machine has: the interpreter, the CPU and (when there is an adapter) the GPU.
fn runtimes() -> Vec<Runtime> {
    let mut runtimes = vec![Runtime::interp(), Runtime::cpu().expect("the CPU backend")];
    if let Some(gpu) = gpu_device() {
        runtimes.push(Runtime::on_device(Box::new(gpu)));
    }
    runtimes
}

fn inputs(n: usize, seed: u32) -> (Vec<f32>, Vec<f16>) {
    let x = (0..n).map(|i| ((i as u32 * 7 + seed) % 97) as f32 * 0.25 - 12.0).collect();
    let b = (0..n).map(|i| f16::from_f32(((i as u32 * 3 + seed) % 31) as f32 - 15.5)).collect();
    (x, b)
}

/// One launch of `axpb` on `runtime`, the result read back.
fn run_axpb(runtime: &Runtime, x: &[f32], b: &[f16], a: f32) -> Result<Vec<f32>, Error> {
    let kernel = program().kernel("axpb").set("BLOCK", 128u32).compile(runtime)?;
    let n = x.len();
    let x = Tensor::from_slice(runtime, x, &[n])?;
    let b = Tensor::from_slice(runtime, b, &[n])?;
    let args = Args::new().tensor("x", &x).tensor("b", &b).scalar("a", a).scalar("n", n as u32);
    let y = kernel.output("y", &args)?;
    kernel.launch(&args.tensor("y", &y))?;
    y.to_vec::<f32>()
}

#[test]
fn a_kernel_from_text_gives_the_same_result_on_every_backend() {
    // 1000 is not a multiple of the block: the last block's tail is masked.
    let (x, b) = inputs(1000, 5);
    let expected: Vec<f32> = x.iter().zip(&b).map(|(x, b)| x * 1.5 + f32::from(*b)).collect();
    for runtime in runtimes() {
        let y = run_axpb(&runtime, &x, &b, 1.5).unwrap_or_else(|error| panic!("{}: {error}", runtime.name()));
        assert_eq!(y, expected, "{}", runtime.name());
    }
}

#[test]
fn tensors_stay_on_the_device_between_launches() {
    for runtime in runtimes() {
        let kernel = program().kernel("axpb").compile(&runtime).unwrap();
        let n = 300;
        let x = Tensor::from_slice(&runtime, &vec![1.0f32; n], &[n]).unwrap();
        let b = zeros(&runtime, DataType::F16, &[n]);
        let y = zeros(&runtime, DataType::F32, &[n]);
        let z = zeros(&runtime, DataType::F32, &[n]);
        // y = 3x, then z = 3y, the second launch reading the first's output where it is.
        let first = Args::new()
            .tensor("x", &x)
            .tensor("b", &b)
            .tensor("y", &y)
            .scalar("a", 3.0f32)
            .scalar("n", n as u32);
        kernel.launch(&first).unwrap();
        let second = Args::new()
            .tensor("x", &y)
            .tensor("b", &b)
            .tensor("y", &z)
            .scalar("a", 3.0f32)
            .scalar("n", n as u32);
        kernel.launch(&second).unwrap();
        assert_eq!(z.to_vec::<f32>().unwrap(), vec![9.0; n], "{}", runtime.name());
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![3.0; n], "{}", runtime.name());
    }
}

#[test]
fn eight_threads_launch_one_kernel_on_one_shared_runtime() {
    for runtime in runtimes() {
        let kernel = program().kernel("axpb").compile(&runtime).unwrap();
        let n = 777;
        // One weight-like tensor that every thread reads at once.
        let shared_b = Arc::new(Tensor::from_slice(&runtime, &inputs(n, 1).1, &[n]).unwrap());
        let threads: Vec<_> = (0..8u32)
            .map(|thread| {
                let runtime = runtime.clone();
                let kernel = kernel.clone();
                let shared_b = Arc::clone(&shared_b);
                std::thread::spawn(move || {
                    let (x, _) = inputs(n, thread);
                    let b = inputs(n, 1).1;
                    let a = thread as f32 + 0.5;
                    let xt = Tensor::from_slice(&runtime, &x, &[n]).unwrap();
                    let y = zeros(&runtime, DataType::F32, &[n]);
                    for _ in 0..3 {
                        let args = Args::new()
                            .tensor("x", &xt)
                            .tensor("b", &shared_b)
                            .tensor("y", &y)
                            .scalar("a", a)
                            .scalar("n", n as u32);
                        kernel.launch(&args).unwrap();
                    }
                    let expected: Vec<f32> = x.iter().zip(&b).map(|(x, b)| x * a + f32::from(*b)).collect();
                    assert_eq!(y.to_vec::<f32>().unwrap(), expected, "thread {thread}");
                    // The same instantiation compiled again on this thread comes from the cache.
                    program().kernel("axpb").compile(&runtime).unwrap();
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a launching thread panicked");
        }
        assert_eq!(runtime.compiled_kernels(), 1, "{}", runtime.name());
    }
}

#[test]
fn the_second_compile_of_an_instantiation_is_a_cache_hit() {
    let runtime = Runtime::cpu().unwrap();
    program().kernel("axpb").compile(&runtime).unwrap();
    program().kernel("axpb").set("BLOCK", 256u32).compile(&runtime).unwrap();
    assert_eq!(runtime.compiled_kernels(), 1, "the default and an explicit 256 are one kernel");
    program().kernel("axpb").set("BLOCK", 64u32).compile(&runtime).unwrap();
    assert_eq!(runtime.compiled_kernels(), 2);
}

/// The arguments of `axpb` with `a = 2`.
fn axpb_args<'t>(x: &'t Tensor, b: &'t Tensor, y: &'t Tensor, n: u32) -> Args<'t> {
    Args::new().tensor("x", x).tensor("b", b).tensor("y", y).scalar("a", 2.0f32).scalar("n", n)
}

fn zeros(runtime: &Runtime, dtype: DataType, shape: &[usize]) -> Tensor {
    Tensor::zeros(runtime, dtype, shape).expect("a zeroed tensor")
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{message}` does not mention `{part}`");
    }
}

#[test]
fn a_tensor_of_the_wrong_dtype_is_named() {
    let runtime = Runtime::cpu().unwrap();
    let kernel = program().kernel("axpb").compile(&runtime).unwrap();
    let x = zeros(&runtime, DataType::F16, &[8]);
    let b = zeros(&runtime, DataType::F16, &[8]);
    let y = zeros(&runtime, DataType::F32, &[8]);
    let args = axpb_args(&x, &b, &y, 8);
    let message = kernel.launch(&args).unwrap_err().to_string();
    assert_mentions(&message, &["kernel `axpb`", "`x` must be f32[8], given f16[8]"]);
    let message = kernel.launch(&args.tensor("x", &y)).unwrap_err().to_string();
    assert_mentions(&message, &["`x` is given twice"]);
}

#[test]
fn a_tensor_of_the_wrong_shape_is_named_with_the_shape_its_scalars_give() {
    let runtime = Runtime::cpu().unwrap();
    let kernel = program().kernel("axpb").compile(&runtime).unwrap();
    let x = zeros(&runtime, DataType::F32, &[8]);
    let b = zeros(&runtime, DataType::F16, &[8]);
    let y = zeros(&runtime, DataType::F32, &[2, 4]);
    let args = axpb_args(&x, &b, &y, 8);
    assert_mentions(&kernel.launch(&args).unwrap_err().to_string(), &["`y` must be f32[8], given f32[2, 4]"]);
    // The shape depends on the scalar: n = 9 makes every 8-element tensor wrong.
    let y = zeros(&runtime, DataType::F32, &[8]);
    let args = axpb_args(&x, &b, &y, 9);
    assert_mentions(&kernel.launch(&args).unwrap_err().to_string(), &["`x` must be f32[9], given f32[8]"]);
}

#[test]
fn unknown_missing_and_wrong_kind_arguments_are_named() {
    let runtime = Runtime::cpu().unwrap();
    let kernel = program().kernel("axpb").compile(&runtime).unwrap();
    let x = zeros(&runtime, DataType::F32, &[8]);
    let message = kernel.launch(&Args::new().tensor("x", &x)).unwrap_err().to_string();
    assert_mentions(&message, &["missing arguments `b`, `y`, `a`, `n`"]);
    let message = kernel.launch(&Args::new().tensor("z", &x)).unwrap_err().to_string();
    assert_mentions(&message, &["no parameter `z`", "x, b, y, a, n"]);
    let message = kernel.launch(&Args::new().scalar("x", 1u32)).unwrap_err().to_string();
    assert_mentions(&message, &["`x` is a f32 buffer; pass a tensor"]);
    let message = kernel.launch(&Args::new().tensor("n", &x)).unwrap_err().to_string();
    assert_mentions(&message, &["`n` is a u32 scalar"]);
    let message = kernel.launch(&Args::new().scalar("n", -3i32)).unwrap_err().to_string();
    assert_mentions(&message, &["scalar `n` of kernel `axpb` is a u32", "-3 is outside its range"]);
    let message = kernel.launch(&Args::new().scalar("a", true)).unwrap_err().to_string();
    assert_mentions(&message, &["scalar `a`", "is a f32, given bool"]);
}

#[test]
fn scalars_with_defaults_may_be_left_out() {
    let program = Program::from_source(
        "fill.tile",
        "kernel fill(y: global mut f32[n], n: u32 = 100, value: f32 = -2.5) grid(cdiv(n, 64)) threads(64) {
            let start = block_index(0) * 64;
            store(y, zeros(f32, [64]) + value, [start]);
        }",
    )
    .expect("parses");
    for runtime in runtimes() {
        let kernel = program.kernel("fill").compile(&runtime).unwrap();
        let defaults: Vec<_> = kernel.params().iter().map(|param| param.default.clone()).collect();
        assert_eq!(defaults, [None, Some(100i32.into()), Some((-2.5f32).into())]);
        // The output's declared shape follows the default `n`, and so does the launch.
        let y = kernel.output("y", &Args::new()).unwrap();
        assert_eq!(y.shape(), [100]);
        kernel.launch(&Args::new().tensor("y", &y)).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![-2.5; 100], "{runtime:?}");
        // A value given overrides the default.
        let args = Args::new().scalar("n", 3u32).scalar("value", 7.0f32);
        let y = kernel.output("y", &args).unwrap();
        kernel.launch(&args.tensor("y", &y)).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), [7.0; 3], "{runtime:?}");
    }
}

#[test]
fn an_output_that_aliases_another_argument_is_refused() {
    for runtime in runtimes() {
        let kernel = program().kernel("axpb").compile(&runtime).unwrap();
        let x = zeros(&runtime, DataType::F32, &[8]);
        let b = zeros(&runtime, DataType::F16, &[8]);
        let args = axpb_args(&x, &b, &x, 8);
        let message = kernel.launch(&args).unwrap_err().to_string();
        assert_mentions(&message, &["writes `y`", "also passed as `x`"]);
    }
}

#[test]
fn a_tensor_of_another_runtime_is_refused() {
    let runtime = Runtime::cpu().unwrap();
    let other = Runtime::interp();
    let kernel = program().kernel("axpb").compile(&runtime).unwrap();
    let x = zeros(&other, DataType::F32, &[8]);
    let b = zeros(&runtime, DataType::F16, &[8]);
    let y = zeros(&runtime, DataType::F32, &[8]);
    let args = axpb_args(&x, &b, &y, 8);
    assert_mentions(&kernel.launch(&args).unwrap_err().to_string(), &["`x` is a tensor of another runtime"]);
}

#[test]
fn compile_errors_render_their_source_excerpt() {
    let source = "kernel broken(x: global f32[n], n: u32) grid(1) threads(1) {\n    let t = load(x, [0], [4]) + nope;\n}\n";
    let broken = Program::from_source("broken.tile", source).unwrap();
    let error = broken.kernel("broken").compile(&Runtime::interp()).unwrap_err();
    assert!(matches!(error, Error::Compile(_)), "{error:?}");
    assert_mentions(&error.to_string(), &["broken.tile:2", "nope", "let t = load(x, [0], [4]) + nope;"]);
    let error = broken.kernel("missing").compile(&Runtime::interp()).unwrap_err().to_string();
    assert_mentions(&error, &["no kernel named `missing` in broken.tile (it defines: broken)"]);
    let error = Program::from_source("syntax.tile", "kernel (").unwrap_err().to_string();
    assert_mentions(&error, &["syntax.tile:1"]);
    let error =
        program().kernel("axpb").set("NOPE", 3u32).compile(&Runtime::interp()).unwrap_err().to_string();
    assert_mentions(&error, &["NOPE"]);
}

#[test]
fn files_import_beside_themselves_and_bad_files_say_where() {
    let dir = std::env::temp_dir().join(format!("tilevm-host-api-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(dir.join("lib/helpers.tile"), "fn twice(t) { t + t }\n").unwrap();
    std::fs::write(
        dir.join("main.tile"),
        "import \"lib/helpers.tile\";\nkernel k(x: global f32[4], y: global mut f32[4]) grid(1) threads(4) {\n    store(y, twice(load(x, [0], [4])), [0]);\n}\n",
    )
    .unwrap();
    let program = Program::from_file(dir.join("main.tile")).unwrap();
    let runtime = Runtime::cpu().unwrap();
    let kernel = program.kernel("k").compile(&runtime).unwrap();
    let x = Tensor::from_slice(&runtime, &[1.0f32, 2.0, 3.0, 4.0], &[4]).unwrap();
    let args = Args::new().tensor("x", &x);
    let y = kernel.output("y", &args).unwrap();
    kernel.launch(&args.tensor("y", &y)).unwrap();
    assert_eq!(y.to_vec::<f32>().unwrap(), [2.0, 4.0, 6.0, 8.0]);
    std::fs::write(dir.join("bad.tile"), b"kernel k() {}\n// caf\xe9\n").unwrap();
    let error = Program::from_file(dir.join("bad.tile")).unwrap_err().to_string();
    assert_mentions(&error, &["bad.tile", "not UTF-8", "line 2, column 7"]);
    let embedded = Program::from_files(
        "k/main.tile",
        &[
            ("k/main.tile", "import \"h.tile\";\nkernel e() grid(1) threads(1) {}\n"),
            ("k/h.tile", "fn h(t) { t }\n"),
        ],
    )
    .unwrap();
    assert_eq!(embedded.kernel_names(), ["e"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn quantized_tensors_round_trip_through_every_rounding() {
    let runtime = Runtime::cpu().unwrap();
    let values = [0.26f32, -1.74, 3.5, 100.0, -0.0, 2.5];
    let dtype: DataType = "f4e2m1fn".parse().unwrap();
    let nearest = Tensor::quantize(&runtime, &values, &[2, 3], dtype, Rounding::NearestEven).unwrap();
    assert_eq!(nearest.to_bytes().unwrap().len(), 3);
    // -1.74 is nearer 1.5 than 2; 100 saturates to the largest finite, 6; 2.5 ties to the even code, 2.
    assert_eq!(nearest.to_vec::<f32>().unwrap(), [0.5, -1.5, 4.0, 6.0, -0.0, 2.0]);
    let toward_zero = Tensor::quantize(&runtime, &values, &[6], dtype, Rounding::TowardZero).unwrap();
    assert_eq!(toward_zero.to_vec::<f32>().unwrap(), [0.0, -1.5, 3.0, 6.0, -0.0, 2.0]);
    let u3: DataType = "u3".parse().unwrap();
    let codes = Tensor::quantize(&runtime, &[0u8, 1, 7, 5, 2], &[5], u3, Rounding::NearestEven).unwrap();
    assert_eq!(codes.to_vec::<u8>().unwrap(), [0, 1, 7, 5, 2]);
    assert_eq!(codes.to_bytes().unwrap(), tilevm::vm::packing::pack(3, &[0, 1, 7, 5, 2]));
    let error = Tensor::from_slice(&runtime, &[1.0f32; 5], &[2, 3]).unwrap_err().to_string();
    assert_mentions(&error, &["f32[2, 3] tensor has 6 elements, given 5"]);
    let error = Tensor::from_packed(&runtime, u3, &[5], &[0; 3]).unwrap_err().to_string();
    assert_mentions(&error, &["packs into 2 bytes, given 3"]);
    let error = Tensor::zeros(&runtime, DataType::F32, &[usize::MAX, 4]).unwrap_err().to_string();
    assert_mentions(&error, &["does not fit in memory"]);
}

#[test]
fn options_are_passed_in_not_read_from_the_environment() {
    let options = RuntimeOptions {
        device: tilevm::DeviceChoice::Cpu,
        cpu_threads: Some(3),
        ..RuntimeOptions::default()
    };
    let runtime = Runtime::open(&options).unwrap();
    assert!(runtime.name().contains("3 threads"), "{}", runtime.name());
    let zero = RuntimeOptions { cpu_threads: Some(0), ..options };
    assert_mentions(&Runtime::open(&zero).unwrap_err().to_string(), &["at least one thread"]);
}
