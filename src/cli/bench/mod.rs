//! `tilevm bench --suite gemv|kernels --backend cpu|gpu|all [--json FILE] [--n N --k K]`: benchmark
//! suites against each backend's memory roofline, measured in the same run.
//!
//! - `gemv` (`gemv.rs`): the stdlib a16wX GEMVs (`a16`: f16 activations, f32 dot; `q8`: activations
//!   quantized per group to i8, integer dot) and `examples/gemv_a16w4.tile` as a user writes it.
//! - `kernels` (`kernels.rs`): the memory-bound kernels a user writes first, from `examples/`, at sizes far
//!   beyond the caches.
//!
//! Rooflines: on the CPU the best multi-threaded read of a large buffer (`cpu_roofline.rs`), on the GPU
//! the best of WGSL read kernels (`GpuDevice::read_bandwidth`). Every figure is the median of `--runs`
//! timed launches after an untimed warm-up launch; compile time is reported on its own.

mod cpu_roofline;
mod gemv;
mod kernels;

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tilevm_runtime::{CompiledKernel, CpuDevice, Device, GpuDevice, KernelArg, RuntimeError};
use tilevm_vm::verify::VerifiedKernel;

use super::{CliError, CliResult};

/// The benchmark suites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// The a16wX GEMVs of the stdlib, and the example GEMV.
    Gemv,
    /// Memory-bound kernels: vector adds, dequantization, ReLU with a row reduction, a shared-memory
    /// staged copy, a sub-byte view unpack.
    Kernels,
}

/// The backends a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchBackend {
    /// The Cranelift JIT.
    Cpu,
    /// A GPU adapter through wgpu (software adapters such as lavapipe included).
    Gpu,
    /// The CPU, then the GPU when an adapter opens.
    All,
}

/// Arguments of `tilevm bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// The benchmark suite.
    #[arg(long, value_enum, default_value = "gemv")]
    suite: Suite,
    /// The backends to measure.
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BenchBackend,
    /// The GPU adapter, by name or backend substring (default: `$TILEVM_ADAPTER`, else the preferred one).
    #[arg(long)]
    adapter: Option<String>,
    /// Also write the records as a JSON array into this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Worker threads of the CPU device (default: `TILEVM_CPU_THREADS`, else one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Rows: the GEMV's outputs (default 8192), or the kernels' rows (default 2048). A multiple of the q8
    /// block's 128 rows keeps the q8 weights free of padding rows.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65536))]
    n: Option<u32>,
    /// Columns: the GEMV's inputs (default 8192), or the kernels' columns (default 8192); a multiple of
    /// 128.
    #[arg(long, value_parser = parse_k)]
    k: Option<u32>,
    /// Only the benchmarks of these kernels (`a16`, `q8`, `example`; `vector_add`, `dequant`, ...).
    #[arg(long = "kernel", value_name = "NAME")]
    kernels: Vec<String>,
    /// Timed runs per kernel (the median is reported).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
}

/// The granule of `--k`: the quantization group of the GEMVs.
const K_GRANULE: u32 = 128;

/// A `--k` value: a positive multiple of the quantization group.
fn parse_k(text: &str) -> Result<u32, String> {
    let k: u32 = text.parse().map_err(|error| format!("`{text}`: {error}"))?;
    if k == 0 || !k.is_multiple_of(K_GRANULE) || k > 65536 {
        return Err(format!("{k} is not a multiple of {K_GRANULE} between {K_GRANULE} and 65536"));
    }
    Ok(k)
}

/// One measurement.
#[derive(Serialize)]
struct Record {
    backend: String,
    device: String,
    suite: String,
    /// The kernel (`a16`, `q8`, `example`, `vector_add`, ...).
    kernel: String,
    dtype: String,
    m: u32,
    n: u32,
    k: u32,
    median_s: f64,
    /// The fastest run: on a noisy machine the least disturbed one.
    best_s: f64,
    /// Compiling the kernels (pipeline creation included), measured once, not part of the run times.
    compile_s: f64,
    bytes_per_s: f64,
    weight_bytes_per_s: f64,
    roofline_bytes_per_s: f64,
    roofline_fraction: f64,
}

/// A device under measurement, with what its roofline is measured by.
enum BenchDevice {
    Cpu(CpuDevice),
    Gpu(GpuDevice),
}

impl BenchDevice {
    fn device(&self) -> &dyn Device {
        match self {
            BenchDevice::Cpu(device) => device,
            BenchDevice::Gpu(device) => device,
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            BenchDevice::Cpu(_) => "cpu",
            BenchDevice::Gpu(_) => "gpu",
        }
    }

    /// The read bandwidth in bytes per second.
    fn roofline(&self) -> Result<f64, CliError> {
        match self {
            BenchDevice::Cpu(device) => Ok(cpu_roofline::read_bandwidth(device.threads())),
            BenchDevice::Gpu(device) => device.read_bandwidth().map_err(|error| device_error(device, error)),
        }
    }
}

fn device_error(device: &dyn Device, error: RuntimeError) -> CliError {
    CliError::CheckFailed(format!("{}: {error}", device.name()))
}

/// One benchmark of a suite, built for a device: its launches and the bytes it must move.
struct Bench {
    kernel: String,
    dtype: String,
    m: u32,
    n: u32,
    k: u32,
    /// Every byte the kernels must read and write.
    total_bytes: f64,
    /// The bytes of weights (the GEMVs) or of the packed input (the kernels).
    weight_bytes: f64,
    launches: Launches,
    compile_s: f64,
}

/// A benchmark's launches: compiled kernels with their arguments, run in order as one timed step.
struct Launches {
    kernels: Vec<(Box<dyn CompiledKernel>, Vec<KernelArg>)>,
}

impl Launches {
    /// Runs every launch once; returns the sum of their kernel times in seconds.
    fn run(&mut self) -> Result<f64, CliError> {
        let mut seconds = 0.0;
        for (compiled, args) in &mut self.kernels {
            let stats = compiled.run(args).map_err(|error| CliError::CheckFailed(error.to_string()))?;
            seconds += stats.kernel_time.as_secs_f64();
        }
        Ok(seconds)
    }

    /// The median and the best of `runs` timed steps, after one untimed warm-up step, each step after
    /// `evict` has read enough memory to push the last step's data out of the caches.
    fn median_and_best(&mut self, runs: u32, evict: &CacheEviction) -> Result<(f64, f64), CliError> {
        self.run()?;
        let mut times = Vec::with_capacity(runs.max(1) as usize);
        for _ in 0..runs.max(1) {
            evict.evict();
            times.push(self.run()?);
        }
        times.sort_by(f64::total_cmp);
        Ok((times[times.len() / 2], times[0]))
    }
}

/// Compiles `kernel` on `device`; returns it with the seconds compiling took.
fn compile(
    device: &dyn Device,
    kernel: &VerifiedKernel,
) -> Result<(Box<dyn CompiledKernel>, f64), RuntimeError> {
    let started = Instant::now();
    let compiled = device.compile(kernel)?;
    Ok((compiled, started.elapsed().as_secs_f64()))
}

/// A buffer read between timed steps, so that every step finds its data in memory, not in the
/// last-level cache, as a GEMV of a model does (the other layers' weights run in between). The 32 MiB
/// of u4 weights of an 8192 x 8192 GEMV are as large as the 32 MiB L3 of the development VMs: without
/// this, steps back to back found part of them still cached and read "faster" than the memory roofline.
/// (GPU launches upload their buffers on every run, which evicts the GPU's caches.)
struct CacheEviction {
    words: Vec<u64>,
}

impl CacheEviction {
    /// 256 MiB: several times any last-level cache a core shares.
    fn new() -> CacheEviction {
        CacheEviction { words: (0..(256u64 << 20) / 8).collect() }
    }

    fn evict(&self) {
        std::hint::black_box(cpu_roofline::sum_words(&self.words));
    }
}

/// Opens the devices `args` asks for.
fn open_devices(args: &BenchArgs) -> Result<Vec<BenchDevice>, CliError> {
    let cpu = || CpuDevice::new(args.threads).map(BenchDevice::Cpu);
    let gpu = || GpuDevice::open(args.adapter.as_deref()).map(BenchDevice::Gpu);
    let open_error = |backend: &str, error: RuntimeError| {
        CliError::Input(format!("cannot open the {backend} backend: {error}"))
    };
    Ok(match args.backend {
        BenchBackend::Cpu => vec![cpu().map_err(|error| open_error("cpu", error))?],
        BenchBackend::Gpu => vec![gpu().map_err(|error| open_error("gpu", error))?],
        BenchBackend::All => {
            let mut devices = vec![cpu().map_err(|error| open_error("cpu", error))?];
            match gpu() {
                Ok(device) => devices.push(device),
                Err(error) => eprintln!("note: {}; measuring the CPU only", open_error("gpu", error)),
            }
            devices
        }
    })
}

/// Runs `tilevm bench`.
pub fn run(args: &BenchArgs) -> CliResult {
    let devices = open_devices(args)?;
    let cases = match args.suite {
        Suite::Gemv => gemv::cases(args.n.unwrap_or(8192), args.k.unwrap_or(8192)),
        Suite::Kernels => kernels::cases(args.n.unwrap_or(2048), args.k.unwrap_or(8192)),
    };
    let cases: Vec<Box<dyn Case>> = cases
        .into_iter()
        .filter(|case| args.kernels.is_empty() || args.kernels.iter().any(|name| name == case.kernel()))
        .collect();
    if cases.is_empty() {
        return Err(CliError::Input(format!(
            "no benchmark of suite {:?} is named {:?}",
            args.suite, args.kernels
        )));
    }
    let eviction = CacheEviction::new();
    let progress = ProgressBar::new((devices.len() * cases.len()) as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut records = Vec::new();
    for bench_device in &devices {
        let device = bench_device.device();
        progress.set_message(format!("{}: measuring the roofline", device.name()));
        let roofline = bench_device.roofline()?;
        progress.suspend(|| eprintln!("{}: roofline {:.2} GB/s", device.name(), roofline / 1e9));
        for case in &cases {
            progress.set_message(format!("{}: {}", device.name(), case.label()));
            let built = match case.build(device) {
                Ok(bench) => bench,
                // A kernel this device cannot run is skipped with the reason, not a failed run.
                Err(BuildError::Runtime(
                    error @ (RuntimeError::Unsupported { .. } | RuntimeError::Limit { .. }),
                )) => {
                    progress.suspend(|| {
                        eprintln!("note: skipping {} on {}: {error}", case.label(), device.name())
                    });
                    progress.inc(1);
                    continue;
                }
                Err(BuildError::Runtime(error)) => return Err(device_error(device, error)),
                Err(BuildError::Cli(error)) => return Err(error),
            };
            let record = measure(bench_device, built, roofline, args, &eviction)?;
            progress.suspend(|| print_record(&record));
            records.push(record);
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    if let Some(path) = &args.json {
        let text =
            serde_json::to_string_pretty(&records).map_err(|error| CliError::Input(error.to_string()))?;
        std::fs::write(path, text)
            .map_err(|error| CliError::Input(format!("{}: {error}", path.display())))?;
    }
    Ok(())
}

/// Why a benchmark could not be built on a device.
enum BuildError {
    /// The device refused or failed (a kernel beyond its limits is skipped).
    Runtime(RuntimeError),
    /// The benchmark's own kernel or sizes are wrong.
    Cli(CliError),
}

impl From<RuntimeError> for BuildError {
    fn from(error: RuntimeError) -> BuildError {
        BuildError::Runtime(error)
    }
}

impl From<CliError> for BuildError {
    fn from(error: CliError) -> BuildError {
        BuildError::Cli(error)
    }
}

/// What a suite lists: benchmarks it can build for any device.
trait Case {
    /// The kernel's name in the records.
    fn kernel(&self) -> &'static str;
    /// A short name for the progress bar and notes.
    fn label(&self) -> String;
    /// Compiles its kernels for `device` and makes their arguments.
    fn build(&self, device: &dyn Device) -> Result<Bench, BuildError>;
}

fn measure(
    device: &BenchDevice,
    mut bench: Bench,
    roofline: f64,
    args: &BenchArgs,
    eviction: &CacheEviction,
) -> Result<Record, CliError> {
    let (median, best) = bench.launches.median_and_best(args.runs, eviction)?;
    Ok(Record {
        backend: device.backend().to_string(),
        device: device.device().name(),
        suite: format!("{:?}", args.suite).to_lowercase(),
        kernel: bench.kernel,
        dtype: bench.dtype,
        m: bench.m,
        n: bench.n,
        k: bench.k,
        median_s: median,
        best_s: best,
        compile_s: bench.compile_s,
        bytes_per_s: bench.total_bytes / median,
        weight_bytes_per_s: bench.weight_bytes / median,
        roofline_bytes_per_s: roofline,
        roofline_fraction: bench.total_bytes / median / roofline,
    })
}

fn print_record(record: &Record) {
    println!(
        "{} {} {} {} m={} n={} k={}: {:.3} ms (best {:.3} ms, compile {:.2} s), {:.2} GB/s ({:.1}% of the \
         {:.2} GB/s roofline)",
        record.backend,
        record.suite,
        record.kernel,
        record.dtype,
        record.m,
        record.n,
        record.k,
        record.median_s * 1e3,
        record.best_s * 1e3,
        record.compile_s,
        record.bytes_per_s / 1e9,
        record.roofline_fraction * 100.0,
        record.roofline_bytes_per_s / 1e9
    );
}

/// Compiles the one kernel of `text` (the `.tile` file at `path`) with the compile-time parameters
/// `sets`.
fn compile_tile(path: &str, text: &str, sets: Vec<(String, String)>) -> Result<VerifiedKernel, CliError> {
    let options = tilevm_lang::CompileOptions { kernel: None, sets };
    let module = tilevm_lang::compile(text, &options).map_err(|diagnostics| {
        let messages: Vec<String> = diagnostics.into_iter().map(|diagnostic| diagnostic.message).collect();
        CliError::Input(format!("{path}: {}", messages.join("; ")))
    })?;
    module.into_kernels().into_iter().next().ok_or_else(|| CliError::Input(format!("{path} has no kernel")))
}

/// f16 bytes holding `code` (little-endian) `count` times.
fn f16_buffer(count: usize, code: u16) -> Vec<u8> {
    (0..count).flat_map(|_| code.to_le_bytes()).collect()
}

/// `count` arbitrary bytes (a fixed pattern, so runs compare).
fn pattern_bytes(count: usize) -> Vec<u8> {
    (0..count).map(|i| (i * 131 % 251) as u8).collect()
}
