//! `tilevm bench --suite gemv --backend cpu [--json FILE] [--threads N] [--n N --k K]`: the a16wX GEMV on the CPU backend
//! against the machine's measured memory read bandwidth (the roofline), measured in the same run, in two
//! variants: `a16` (f16 activations, f32 dot: `stdlib::gemv`) and `q8` (activations quantized per group
//! to i8 by a first kernel, then an integer dot: `stdlib::gemv_q8`; its time is both kernels').
//!
//! The roofline is the best of several multi-threaded reads of a buffer far larger than the last-level cache,
//! each thread summing its share with unrolled 128-bit loads into eight independent vector accumulators.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use tilevm_runtime::{CompiledKernel, CpuDevice, Device, KernelArg};
use tilevm_stdlib::StdlibError;
use tilevm_stdlib::gemv::gemv_a16wx;
use tilevm_stdlib::gemv_q8::{Q8_ROWS, gemv_q8_wx, quantize_q8};
use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;
use tilevm_vm::verify::VerifiedKernel;

use super::{CliError, CliResult};

/// Arguments of `tilevm bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// The benchmark suite (only `gemv` so far).
    #[arg(long, default_value = "gemv")]
    suite: String,
    /// The backend (only `cpu` so far).
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// Also write the records as a JSON array into this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Worker threads of the CPU device (default: `TILEVM_CPU_THREADS`, else one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Outputs of the GEMV (`n`); the figure is for 8192. A multiple of the q8 block's 128 rows
    /// keeps the q8 weights free of padding rows.
    #[arg(long, default_value_t = 8192, value_parser = clap::value_parser!(u32).range(1..=65536))]
    n: u32,
    /// Inputs of the GEMV (`k`), a multiple of the group of 128.
    #[arg(long, default_value_t = 8192, value_parser = parse_k)]
    k: u32,
    /// Timed runs per kernel (the median is reported).
    #[arg(long, default_value_t = 7)]
    runs: usize,
}

/// One measurement.
#[derive(Serialize)]
struct Record {
    backend: String,
    device: String,
    /// `a16` (f16 activations, f32 dot) or `q8` (activations quantized to i8 per group, integer dot).
    kernel: String,
    dtype: String,
    m: u32,
    n: u32,
    k: u32,
    median_s: f64,
    /// The fastest run: on a noisy machine the least disturbed one.
    best_s: f64,
    bytes_per_s: f64,
    weight_bytes_per_s: f64,
    roofline_bytes_per_s: f64,
    roofline_fraction: f64,
}

const GROUP: u32 = 128;

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
    fn median_and_best(&mut self, runs: usize, evict: &CacheEviction) -> Result<(f64, f64), CliError> {
        self.run()?;
        let mut times = Vec::with_capacity(runs.max(1));
        for _ in 0..runs.max(1) {
            evict.evict();
            times.push(self.run()?);
        }
        times.sort_by(f64::total_cmp);
        Ok((times[times.len() / 2], times[0]))
    }
}

/// A buffer read between timed steps, so that every step finds its weights in memory, not in the
/// last-level cache, as a GEMV of a model does (the other layers' weights run in between). The issue's
/// 32 MiB of u4 weights are as large as the 32 MiB L3 of the development VMs: without this, steps back to
/// back found part of them still cached and read "faster" than the memory roofline.
struct CacheEviction {
    words: Vec<u64>,
}

impl CacheEviction {
    /// 256 MiB: several times any last-level cache a core shares.
    fn new() -> CacheEviction {
        CacheEviction { words: (0..(256u64 << 20) / 8).collect() }
    }

    fn evict(&self) {
        std::hint::black_box(sum_words(&self.words));
    }
}

/// A `--k` value: a positive multiple of the quantization group.
fn parse_k(text: &str) -> Result<u32, String> {
    let k: u32 = text.parse().map_err(|error| format!("`{text}`: {error}"))?;
    if k == 0 || !k.is_multiple_of(GROUP) || k > 65536 {
        return Err(format!("{k} is not a multiple of {GROUP} between {GROUP} and 65536"));
    }
    Ok(k)
}

/// The bytes of `rows` rows of `k` packed `bits`-bit weights.
fn weight_bytes(rows: usize, k: u32, bits: u32) -> usize {
    (rows * k as usize * bits as usize).div_ceil(8)
}

/// f16 bytes holding `code` (little-endian) `count` times.
fn f16_buffer(count: usize, code: u16) -> Vec<u8> {
    (0..count).flat_map(|_| code.to_le_bytes()).collect()
}

/// The GEMV variants the suite measures.
#[derive(Clone, Copy, Debug)]
enum GemvVariant {
    /// f16 activations, f32 dot (`stdlib::gemv`): one kernel.
    A16,
    /// Activations quantized per group to i8, integer dot (`stdlib::gemv_q8`): quantization, then the GEMV.
    Q8,
}

impl GemvVariant {
    /// The name in the records and the output.
    fn name(self) -> &'static str {
        match self {
            GemvVariant::A16 => "a16",
            GemvVariant::Q8 => "q8",
        }
    }
}

/// The launches of one GEMV variant.
fn gemv_launches(
    device: &CpuDevice,
    variant: GemvVariant,
    dtype: DataType,
    (n, k): (u32, u32),
) -> Result<Launches, CliError> {
    let compile = |built: Result<VerifiedKernel, StdlibError>| -> Result<Box<dyn CompiledKernel>, CliError> {
        let built = built.map_err(|error| CliError::Input(error.to_string()))?;
        device.compile(&built).map_err(|error| CliError::CheckFailed(error.to_string()))
    };
    let groups = (k / GROUP) as usize;
    // The q8 layout pads the rows to whole blocks (`stdlib::weight_layout`).
    let stored_rows = match variant {
        GemvVariant::A16 => n as usize,
        GemvVariant::Q8 => (n as usize).div_ceil(Q8_ROWS) * Q8_ROWS,
    };
    let x = KernelArg::Buffer(f16_buffer(k as usize, 0x3c00));
    // Arbitrary codes, as many bytes as the layout stores.
    let w_bytes = weight_bytes(stored_rows, k, dtype.bits());
    let w = KernelArg::Buffer((0..w_bytes).map(|i| (i * 131 % 251) as u8).collect());
    let scale = KernelArg::Buffer(f16_buffer(stored_rows * groups, 0x2c00));
    let y = KernelArg::Buffer(vec![0; n as usize * 2]);
    let kernels = match variant {
        GemvVariant::A16 => vec![(compile(gemv_a16wx(dtype, n, k, GROUP))?, vec![x, w, scale, y])],
        GemvVariant::Q8 => {
            let mut quantize_args =
                vec![x, KernelArg::Buffer(vec![0; k as usize]), KernelArg::Buffer(vec![0; 4 * groups])];
            let quantize = compile(quantize_q8(k, GROUP))?;
            quantize.run(&mut quantize_args).map_err(|error| CliError::CheckFailed(error.to_string()))?;
            let gemv_args = vec![quantize_args[1].clone(), quantize_args[2].clone(), w, scale, y];
            vec![(quantize, quantize_args), (compile(gemv_q8_wx(dtype, n, k, GROUP, Q8_ROWS))?, gemv_args)]
        }
    };
    Ok(Launches { kernels })
}

/// Runs `tilevm bench`.
pub fn run(args: &BenchArgs) -> CliResult {
    if args.suite != "gemv" || args.backend != "cpu" {
        return Err(CliError::Input(format!(
            "only `--suite gemv --backend cpu` is implemented (got suite `{}`, backend `{}`)",
            args.suite, args.backend
        )));
    }
    let device = CpuDevice::new(args.threads).map_err(|error| CliError::Input(error.to_string()))?;
    let roofline = read_bandwidth(device.threads());
    eprintln!("roofline: {:.2} GB/s ({} threads)", roofline / 1e9, device.threads());
    let eviction = CacheEviction::new();
    let mut records = Vec::new();
    for variant in [GemvVariant::A16, GemvVariant::Q8] {
        let kernel = variant.name();
        for bits in [4u8, 3, 5, 6] {
            let dtype = DataType::Int(IntType { signed: false, bits });
            let (median, best) = gemv_launches(&device, variant, dtype, (args.n, args.k))?
                .median_and_best(args.runs, &eviction)?;
            let weight_bytes = weight_bytes(args.n as usize, args.k, u32::from(bits));
            let scale_bytes = args.n as usize * (args.k / GROUP) as usize * 2;
            // What the kernel must read and write: weights, scales, activations (f16) and outputs (f16).
            let total_bytes = (weight_bytes + scale_bytes + args.k as usize * 2 + args.n as usize * 2) as f64;
            let record = Record {
                backend: "cpu".to_string(),
                device: device.name(),
                kernel: kernel.to_string(),
                dtype: format!("u{bits}"),
                m: 1,
                n: args.n,
                k: args.k,
                median_s: median,
                best_s: best,
                bytes_per_s: total_bytes / median,
                weight_bytes_per_s: weight_bytes as f64 / median,
                roofline_bytes_per_s: roofline,
                roofline_fraction: total_bytes / median / roofline,
            };
            println!(
                "gemv {kernel} w{bits} n={} k={}: {:.3} ms (best {:.3} ms), {:.2} GB/s ({:.1}% of the {:.2} GB/s \
                 roofline)",
                args.n,
                args.k,
                median * 1e3,
                best * 1e3,
                record.bytes_per_s / 1e9,
                record.roofline_fraction * 100.0,
                roofline / 1e9
            );
            records.push(record);
        }
    }
    if let Some(path) = &args.json {
        let text =
            serde_json::to_string_pretty(&records).map_err(|error| CliError::Input(error.to_string()))?;
        std::fs::write(path, text)
            .map_err(|error| CliError::Input(format!("{}: {error}", path.display())))?;
    }
    Ok(())
}

/// Best-of-seven multi-threaded read bandwidth (one thread per worker of the device), in bytes per second,
/// over a 1 GiB buffer (far larger than any last-level cache).
fn read_bandwidth(threads: usize) -> f64 {
    let words = (1usize << 30) / 8;
    let buffer: Vec<u64> = (0..words as u64).collect();
    let chunk = words.div_ceil(threads.max(1));
    let mut best = 0.0f64;
    for _ in 0..7 {
        let start = Instant::now();
        let total: u64 = std::thread::scope(|scope| {
            let handles: Vec<_> =
                buffer.chunks(chunk).map(|part| scope.spawn(move || sum_words(part))).collect();
            handles.into_iter().map(|handle| handle.join().unwrap_or(0)).fold(0u64, u64::wrapping_add)
        });
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(total);
        best = best.max((words * 8) as f64 / seconds);
    }
    best
}

/// Sums the words with the widest loads the host has (AVX2 when present, else SSE2), each into eight
/// independent vector accumulators, so the loop is bound by memory, not by one chain of additions.
/// Measured here: the SSE2 loop reads ~22 GB/s where AVX2 reads ~26–28 GB/s, so taking the SSE2 figure as
/// the roofline would flatter every kernel.
#[cfg(target_arch = "x86_64")]
fn sum_words(words: &[u64]) -> u64 {
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the host has AVX2, checked just above.
        return unsafe { sum_words_avx2(words) };
    }
    sum_words_sse2(words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_words_avx2(words: &[u64]) -> u64 {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi64, _mm256_loadu_si256, _mm256_setzero_si256, _mm256_storeu_si256,
    };
    let mut chunks = words.chunks_exact(32);
    let mut lanes = [0u64; 32];
    let mut accumulators = [_mm256_setzero_si256(); 8];
    for chunk in &mut chunks {
        let pointer = chunk.as_ptr().cast::<__m256i>();
        for (i, accumulator) in accumulators.iter_mut().enumerate() {
            // SAFETY: each load reads 32 bytes inside `chunk`, whose 32 words are 256 bytes.
            *accumulator = _mm256_add_epi64(*accumulator, unsafe { _mm256_loadu_si256(pointer.add(i)) });
        }
    }
    for (i, accumulator) in accumulators.iter().enumerate() {
        // SAFETY: the stores write inside `lanes` (32 words, eight 32-byte vectors).
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast::<__m256i>().add(i), *accumulator) };
    }
    let tail: u64 = chunks.remainder().iter().fold(0, |sum, &word| sum.wrapping_add(word));
    lanes.iter().fold(tail, |sum, &value| sum.wrapping_add(value))
}

#[cfg(target_arch = "x86_64")]
fn sum_words_sse2(words: &[u64]) -> u64 {
    use std::arch::x86_64::{__m128i, _mm_add_epi64, _mm_loadu_si128, _mm_setzero_si128, _mm_storeu_si128};
    let mut chunks = words.chunks_exact(16);
    let mut lanes = [0u64; 16];
    // SAFETY: SSE2 is part of the x86-64 baseline, and each load reads 16 bytes inside `chunk`, whose 16
    // words are 128 bytes; the stores write inside `lanes`.
    unsafe {
        let mut accumulators = [_mm_setzero_si128(); 8];
        for chunk in &mut chunks {
            let pointer = chunk.as_ptr().cast::<__m128i>();
            for (i, accumulator) in accumulators.iter_mut().enumerate() {
                *accumulator = _mm_add_epi64(*accumulator, _mm_loadu_si128(pointer.add(i)));
            }
        }
        for (i, accumulator) in accumulators.iter().enumerate() {
            _mm_storeu_si128(lanes.as_mut_ptr().cast::<__m128i>().add(i), *accumulator);
        }
    }
    let tail: u64 = chunks.remainder().iter().fold(0, |sum, &word| sum.wrapping_add(word));
    lanes.iter().fold(tail, |sum, &value| sum.wrapping_add(value))
}

/// Sums with sixteen independent accumulators (which the compiler vectorises).
#[cfg(not(target_arch = "x86_64"))]
fn sum_words(words: &[u64]) -> u64 {
    let mut accumulators = [0u64; 16];
    let mut chunks = words.chunks_exact(16);
    for chunk in &mut chunks {
        for (accumulator, &word) in accumulators.iter_mut().zip(chunk) {
            *accumulator = accumulator.wrapping_add(word);
        }
    }
    let tail: u64 = chunks.remainder().iter().fold(0, |sum, &word| sum.wrapping_add(word));
    accumulators.iter().fold(tail, |sum, &value| sum.wrapping_add(value))
}
