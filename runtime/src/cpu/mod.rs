//! The CPU device: kernels lowered to Cranelift IR, JIT-compiled for the host, blocks run in parallel by
//! the calling thread and a rayon pool.
//!
//! Compiled kernels are cached by [`KernelFingerprint`], a hash of the verified kernel's text form. Each thread of a launch owns one scratch buffer for the blocks it runs (register and
//! shared tiles, see `tilevm_clif::Frame`).

mod helpers;
mod jit;
mod launch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tilevm_vm::verify::VerifiedKernel;

use crate::{Backend, CompiledKernel, Device, DeviceBuffer, KernelFingerprint, RuntimeError, RuntimeResult};
use jit::JitKernel;

/// The environment variable that sets the number of worker threads when `CpuDevice::new(None)`.
pub const THREADS_ENV: &str = "TILEVM_CPU_THREADS";

/// Lowering choices of a CPU device beyond what the host ISA decides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuOptions {
    /// Use only the instructions every Cranelift target lowers (no `x86_pmaddubsw`): the path of hosts
    /// without them, testable on hosts with them.
    pub portable_simd: bool,
    /// Software prefetch in dots that stream through tiled weights (`tilevm_clif::TargetFeatures::software_prefetch`):
    /// faster where memory latency bounds the GEMV, slower where it runs near the read bandwidth.
    /// [`CpuDevice::new`] sets it from `TILEVM_CPU_PREFETCH=1`.
    pub prefetch: bool,
    /// The most iterations one execution of a `while` loop may run; `None` means
    /// [`crate::DEFAULT_WHILE_LIMIT`]. Read at launch, so it does not change the compiled code.
    pub while_limit: Option<u32>,
}

/// The environment variable that turns on [`CpuOptions::prefetch`] for [`CpuDevice::new`].
pub const PREFETCH_ENV: &str = "TILEVM_CPU_PREFETCH";

/// `$TILEVM_CPU_THREADS` as a thread count; `None` when it is not set.
///
/// # Errors
/// [`RuntimeError::InvalidLaunch`] when it is set but not a positive number.
pub fn threads_from_env() -> RuntimeResult<Option<usize>> {
    match std::env::var(THREADS_ENV) {
        Ok(text) => text.trim().parse::<usize>().ok().filter(|&count| count > 0).map(Some).ok_or_else(|| {
            RuntimeError::InvalidLaunch(format!("{THREADS_ENV}={text:?} is not a positive number"))
        }),
        Err(_) => Ok(None),
    }
}

impl CpuOptions {
    /// The defaults, with [`CpuOptions::prefetch`] from `TILEVM_CPU_PREFETCH=1`: what [`CpuDevice::new`]
    /// compiles with, and so what `tilevm compile --emit clif|asm` shows.
    pub fn from_env() -> CpuOptions {
        let prefetch = std::env::var(PREFETCH_ENV).is_ok_and(|value| value.trim() == "1");
        CpuOptions { prefetch, ..CpuOptions::default() }
    }
}

/// Runs kernels as native code on the host CPU.
pub struct CpuDevice {
    pool: Arc<rayon::ThreadPool>,
    options: CpuOptions,
    cache: Mutex<HashMap<KernelFingerprint, Arc<JitKernel>>>,
    name: String,
}

impl std::fmt::Debug for CpuDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuDevice").field("name", &self.name).field("threads", &self.threads()).finish()
    }
}

impl CpuDevice {
    /// A CPU device with `threads` workers, or `TILEVM_CPU_THREADS`, or one per core; software prefetch
    /// when `TILEVM_CPU_PREFETCH=1`: the CLI's and the tests' way (see [`CpuDevice::new_with`] for one
    /// that reads no environment).
    ///
    /// # Errors
    /// [`RuntimeError::InvalidLaunch`] when `TILEVM_CPU_THREADS` is not a positive number,
    /// [`RuntimeError::Device`] when the thread pool cannot start, [`RuntimeError::Unsupported`] when the
    /// host ISA is not supported by Cranelift.
    pub fn new(threads: Option<usize>) -> RuntimeResult<CpuDevice> {
        let threads = match threads {
            Some(threads) => Some(threads),
            None => threads_from_env()?,
        };
        CpuDevice::new_with(threads, CpuOptions::from_env())
    }

    /// A CPU device with `threads` workers (`None`: one per core) and `options`. Reads no
    /// environment variable.
    ///
    /// # Errors
    /// As [`CpuDevice::new`], except for the environment.
    pub fn new_with(threads: Option<usize>, options: CpuOptions) -> RuntimeResult<CpuDevice> {
        let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        if threads == 0 {
            return Err(RuntimeError::InvalidLaunch("a CPU device needs at least one thread".to_string()));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|index| format!("tilevm-cpu-{index}"))
            .build()
            .map_err(|error| RuntimeError::Device(error.to_string()))?;
        let isa = jit::host_isa()?;
        let prefetch = if options.prefetch { ", software prefetch" } else { "" };
        let name = format!("{} CPU (Cranelift, {threads} threads{prefetch})", isa.triple().architecture);
        Ok(CpuDevice { pool: Arc::new(pool), options, cache: Mutex::new(HashMap::new()), name })
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The Cranelift IR text a device with `options` would compile for `kernel` (both functions).
    ///
    /// # Errors
    /// As [`Device::compile`].
    pub fn clif_text(kernel: &VerifiedKernel, options: CpuOptions) -> RuntimeResult<String> {
        let isa = jit::host_isa()?;
        let lowered = jit::lower_for(kernel, isa.as_ref(), options)?;
        Ok(tilevm_clif::to_clif_text(&lowered))
    }

    /// The operations instruction selection chooses for `kernel` on the host with `options`, one line per
    /// instruction (`tilevm compile --emit isel`).
    ///
    /// # Errors
    /// When the host has no Cranelift backend.
    pub fn isel_text(kernel: &VerifiedKernel, options: CpuOptions) -> RuntimeResult<String> {
        let isa = jit::host_isa()?;
        let features = jit::target_for(isa.as_ref(), options).features;
        Ok(tilevm_clif::selection_text(kernel, &tilevm_clif::select(kernel, features)))
    }

    /// The host machine code the device would run for `kernel`'s per-block function, as Cranelift
    /// disassembles it after register allocation: what to read when a kernel is slower than its
    /// instruction count suggests.
    ///
    /// # Errors
    /// As [`Device::compile`].
    pub fn asm_text(kernel: &VerifiedKernel, options: CpuOptions) -> RuntimeResult<String> {
        jit::disassemble(kernel, options)
    }
}

impl Device for CpuDevice {
    fn backend(&self) -> Backend {
        Backend::Cpu
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn compile(&self, kernel: &VerifiedKernel) -> RuntimeResult<Box<dyn CompiledKernel>> {
        let key = KernelFingerprint::of(kernel);
        let cached = self.cache.lock().ok().and_then(|cache| cache.get(&key).cloned());
        let compiled = match cached {
            Some(compiled) => compiled,
            None => {
                let compiled = Arc::new(jit::compile(kernel, self.options)?);
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(key, compiled.clone());
                }
                compiled
            }
        };
        Ok(Box::new(launch::CpuKernel {
            kernel: kernel.kernel().clone(),
            compiled,
            pool: self.pool.clone(),
            while_limit: self.options.while_limit.unwrap_or(crate::DEFAULT_WHILE_LIMIT),
            print_sites: tilevm_vm::interp::PrintSites::of(kernel.kernel()),
        }))
    }

    fn alloc_zeroed(&self, len: usize) -> RuntimeResult<DeviceBuffer> {
        DeviceBuffer::host_zeroed(len)
    }

    fn upload(&self, bytes: &[u8]) -> RuntimeResult<DeviceBuffer> {
        DeviceBuffer::host_copy(bytes)
    }

    fn download(&self, buffer: &DeviceBuffer) -> RuntimeResult<Vec<u8>> {
        buffer.read_host("the CPU backend")
    }
}
