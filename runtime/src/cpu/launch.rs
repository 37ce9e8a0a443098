//! Running a compiled kernel: argument slots, the grid, and blocks in parallel on the pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Instant;

use tilevm_clif::abi::{self, ArgSlot, BlockContext};
use tilevm_vm::interp::{KernelArg, PrintLog, PrintSites};
use tilevm_vm::ir::Kernel;

use super::jit::JitKernel;
use crate::buffer::{HostLocks, check_arg_kinds, check_launch_args};
use crate::{CompiledKernel, LaunchArg, RunStats, RuntimeError, RuntimeResult};

/// A kernel compiled for a [`super::CpuDevice`].
pub(super) struct CpuKernel {
    pub(super) kernel: Kernel,
    pub(super) compiled: Arc<JitKernel>,
    pub(super) pool: Arc<rayon::ThreadPool>,
    /// [`BlockContext::while_limit`] of every block.
    pub(super) while_limit: u32,
    /// The kernel's `print` instructions, numbered as its code passes them to `Helper::Print`.
    pub(super) print_sites: PrintSites,
}

/// One launch's blocks, claimed a few at a time from a shared counter by the calling thread and the
/// pool's workers alike.
///
/// A worker that wakes late (a sleeping thread takes microseconds to wake) finds its share taken by the
/// others instead of delaying the launch, and the caller waits only for blocks that are running, never
/// for a worker to wake: handing a whole launch to the pool cost two thread wake-ups, 11-18 µs measured
/// per launch of an empty kernel. A worker that comes after the last block claims nothing and touches
/// none of the launch's buffers, so the caller may have returned by then (the state it reads is shared).
struct Launch {
    kernel: Arc<JitKernel>,
    slots: Slots,
    grid: [u32; 3],
    while_limit: u32,
    blocks: u64,
    /// Blocks per claim.
    claim: u64,
    /// The first block not claimed yet.
    next: AtomicU64,
    /// Blocks finished (or skipped after a failure).
    finished: AtomicU64,
    failure: AtomicI32,
    /// Where `Helper::Print` records the prints (none when the kernel does not print).
    prints: Option<PrintLog>,
}

impl Launch {
    /// Claims and runs blocks until none is left.
    fn run_claims(&self) {
        // A block's code initialises every tile it reads, so one buffer serves every block of a worker.
        let mut scratch: Option<Vec<u128>> = None;
        loop {
            let first = self.next.fetch_add(self.claim, Ordering::Relaxed);
            if first >= self.blocks {
                return;
            }
            let end = (first + self.claim).min(self.blocks);
            let scratch =
                scratch.get_or_insert_with(|| vec![0u128; self.kernel.scratch_bytes.div_ceil(16).max(1)]);
            for block in first..end {
                if self.failure.load(Ordering::Relaxed) != abi::STATUS_OK {
                    break;
                }
                let x = (block % u64::from(self.grid[0])) as u32;
                let rest = block / u64::from(self.grid[0]);
                let y = (rest % u64::from(self.grid[1])) as u32;
                let z = (rest / u64::from(self.grid[1])) as u32;
                let context = BlockContext {
                    block_index: [x, y, z],
                    grid_size: self.grid,
                    while_limit: self.while_limit,
                    prints: self.prints.as_ref().map_or(0, |log| std::ptr::from_ref(log) as u64),
                };
                // SAFETY: the context and slots match the ABI, `scratch` is 16-byte aligned and at least
                // `scratch_bytes` long, private to this worker; the buffers the slots point to outlive
                // the call, because the launch's caller waits for every claimed block (`wait`). The code
                // stays inside them: it was lowered from a `VerifiedKernel` (`Device::compile` takes
                // nothing else), so every handle, shape and definition it relies on holds, and each of
                // its global accesses is one of `tilevm_clif`'s bounds-checked ones against the byte
                // lengths the slots carry, its scratch accesses within the frame it planned.
                let status = unsafe {
                    (self.kernel.kernel_fn)(
                        &context,
                        self.slots.0.as_ptr(),
                        scratch.as_mut_ptr().cast::<u8>(),
                    )
                };
                if status != abi::STATUS_OK {
                    let _ = self.failure.compare_exchange(
                        abi::STATUS_OK,
                        status,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
            }
            // Release: the blocks' writes happen before the caller's `wait` returns.
            self.finished.fetch_add(end - first, Ordering::Release);
        }
    }

    /// Waits until every block has finished (the caller has claimed all it could, so the rest are
    /// running on workers that are awake).
    fn wait(&self) {
        let mut spins = 0u32;
        while self.finished.load(Ordering::Acquire) < self.blocks {
            if spins < 1000 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// The argument slots, shared read-only by every block (the buffers they point to are written only by
/// the kernel's checked stores).
struct Slots(Vec<ArgSlot>);
// SAFETY: the slots hold addresses of buffers borrowed mutably for the whole launch; blocks only touch
// them through the JIT code's bounds-checked accesses, which a verified kernel's lowering always emits
// (sub-byte stores with per-byte atomics, so blocks writing neighbouring elements do not race).
unsafe impl Sync for Slots {}

impl CpuKernel {
    fn slots(&self, args: &mut [KernelArg]) -> RuntimeResult<Slots> {
        let is_buffer: Vec<bool> = args.iter().map(|arg| matches!(arg, KernelArg::Buffer(_))).collect();
        check_arg_kinds(&self.kernel, &is_buffer)?;
        let slots = args
            .iter_mut()
            .map(|arg| match arg {
                KernelArg::Scalar(code) => ArgSlot { word0: *code, word1: 0 },
                KernelArg::Buffer(bytes) => {
                    ArgSlot { word0: bytes.as_mut_ptr() as u64, word1: bytes.len() as u64 }
                }
            })
            .collect();
        Ok(Slots(slots))
    }

    fn status_error(&self, status: i32) -> RuntimeError {
        let name = &self.kernel.name;
        match status {
            abi::STATUS_ZERO_STEP => {
                RuntimeError::KernelFailed(format!("kernel `{name}`: a for loop has step 0"))
            }
            abi::STATUS_HELPER_FAILED => {
                RuntimeError::KernelFailed(format!("kernel `{name}`: a cast helper failed"))
            }
            abi::STATUS_WINDOW_OUT_OF_RANGE => {
                RuntimeError::KernelFailed(format!("kernel `{name}`: a tile window leaves its tile"))
            }
            abi::STATUS_WHILE_LIMIT => RuntimeError::KernelFailed(format!(
                "kernel `{name}`: {} ({})",
                tilevm_wgsl::WHILE_LIMIT_FAILURE,
                self.while_limit
            )),
            _ => {
                let index = (status - abi::STATUS_ASSERT_BASE).max(0) as usize;
                match self.compiled.assert_messages.get(index) {
                    Some(message) => {
                        RuntimeError::KernelFailed(format!("kernel `{name}`: assertion failed: {message}"))
                    }
                    None => {
                        RuntimeError::Internal(format!("kernel `{name}` returned unknown status {status}"))
                    }
                }
            }
        }
    }
}

impl CompiledKernel for CpuKernel {
    fn run(&self, args: &mut [KernelArg]) -> RuntimeResult<RunStats> {
        self.run_printing(args, &mut |_| {})
    }

    fn run_printing(&self, args: &mut [KernelArg], print: &mut dyn FnMut(&str)) -> RuntimeResult<RunStats> {
        let slots = self.slots(args)?;
        self.execute(slots, print)
    }

    fn launch(&self, args: &[LaunchArg]) -> RuntimeResult<RunStats> {
        self.launch_printing(args, &mut |_| {})
    }

    fn launch_printing(&self, args: &[LaunchArg], print: &mut dyn FnMut(&str)) -> RuntimeResult<RunStats> {
        check_launch_args(&self.kernel, args)?;
        let mut locks = HostLocks::lock(&self.kernel, args, "the CPU backend")?;
        let mut slots = Vec::with_capacity(args.len());
        for (index, arg) in args.iter().enumerate() {
            slots.push(match arg {
                LaunchArg::Scalar(code) => ArgSlot { word0: *code, word1: 0 },
                LaunchArg::Buffer(_) => {
                    let (address, len) = locks.raw_parts(index).ok_or_else(|| {
                        RuntimeError::Internal(format!("argument {index} of a launch has no locked buffer"))
                    })?;
                    ArgSlot { word0: address as u64, word1: len as u64 }
                }
            });
        }
        // The locks are held until the launch has finished: no other launch writes these buffers
        // meanwhile, and none reads one this launch writes.
        let stats = self.execute(Slots(slots), print);
        drop(locks);
        stats
    }
}

impl CpuKernel {
    /// Runs the grid over the argument slots.
    fn execute(&self, slots: Slots, print: &mut dyn FnMut(&str)) -> RuntimeResult<RunStats> {
        let mut grid = [1u32; 3];
        // SAFETY: `slots` has one slot per parameter, as the grid function expects; `grid` is writable.
        let status = unsafe { (self.compiled.grid_fn)(slots.0.as_ptr(), &mut grid) };
        if status != abi::STATUS_OK {
            return Err(self.status_error(status));
        }
        let blocks = u64::from(grid[0]) * u64::from(grid[1]) * u64::from(grid[2]);
        let start = Instant::now();
        let workers = self.pool.current_num_threads().max(1) as u64;
        let launch = Arc::new(Launch {
            kernel: Arc::clone(&self.compiled),
            slots,
            grid,
            while_limit: self.while_limit,
            blocks,
            claim: (blocks / (workers * 8)).max(1),
            next: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            failure: AtomicI32::new(abi::STATUS_OK),
            prints: (!self.print_sites.is_empty()).then(|| PrintLog::new(self.print_sites.clone(), grid)),
        });
        let helpers = workers.min(blocks.div_ceil(launch.claim)).saturating_sub(1);
        for _ in 0..helpers {
            let launch = Arc::clone(&launch);
            self.pool.spawn(move || launch.run_claims());
        }
        launch.run_claims();
        launch.wait();
        let kernel_time = start.elapsed();
        // Printed before a failure is reported: what a kernel printed on its way there is the clue.
        for line in launch.prints.as_ref().map(PrintLog::take_lines).unwrap_or_default() {
            print(&line);
        }
        let status = launch.failure.load(Ordering::Relaxed);
        if status != abi::STATUS_OK {
            return Err(self.status_error(status));
        }
        Ok(RunStats { kernel_time })
    }
}
