//! Running a compiled kernel: argument slots, the grid, and blocks in parallel on the pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use tilevm_compiler::backend::clif::abi::{self, ArgSlot, BlockContext};
use tilevm_vm::interp::KernelArg;
use tilevm_vm::ir::{Kernel, ParamKind};

use super::jit::JitKernel;
use crate::{CompiledKernel, RunStats, RuntimeError, RuntimeResult};

/// A kernel compiled for a [`super::CpuDevice`].
pub(super) struct CpuKernel {
    pub(super) kernel: Kernel,
    pub(super) compiled: Arc<JitKernel>,
    pub(super) pool: Arc<rayon::ThreadPool>,
}

/// The argument slots, shared read-only by every block (the buffers they point to are written only by
/// the kernel's checked stores).
struct Slots(Vec<ArgSlot>);
// SAFETY: the slots hold addresses of buffers borrowed mutably for the whole launch; blocks only touch
// them through the JIT code's bounds-checked accesses.
unsafe impl Sync for Slots {}

impl CpuKernel {
    fn slots(&self, args: &mut [KernelArg]) -> RuntimeResult<Slots> {
        if args.len() != self.kernel.params.len() {
            return Err(RuntimeError::InvalidLaunch(format!(
                "kernel `{}` takes {} arguments, {} given",
                self.kernel.name,
                self.kernel.params.len(),
                args.len()
            )));
        }
        let mut slots = Vec::with_capacity(args.len());
        for (index, (param, arg)) in self.kernel.params.iter().zip(args.iter_mut()).enumerate() {
            let slot = match (&param.kind, arg) {
                (ParamKind::Scalar { .. }, KernelArg::Scalar(code)) => ArgSlot { word0: *code, word1: 0 },
                (ParamKind::Global { .. }, KernelArg::Buffer(bytes)) => {
                    ArgSlot { word0: bytes.as_mut_ptr() as u64, word1: bytes.len() as u64 }
                }
                _ => {
                    return Err(RuntimeError::InvalidLaunch(format!(
                        "argument {index} (`{}`) of kernel `{}` has the wrong kind",
                        param.name, self.kernel.name
                    )));
                }
            };
            slots.push(slot);
        }
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
        let slots = self.slots(args)?;
        let mut grid = [1u32; 3];
        // SAFETY: `slots` has one slot per parameter, as the grid function expects; `grid` is writable.
        let status = unsafe { (self.compiled.grid_fn)(slots.0.as_ptr(), &mut grid) };
        if status != abi::STATUS_OK {
            return Err(self.status_error(status));
        }
        let blocks = u64::from(grid[0]) * u64::from(grid[1]) * u64::from(grid[2]);
        let start = Instant::now();
        let failure = AtomicI32::new(abi::STATUS_OK);
        let workers = self.pool.current_num_threads() as u64;
        let chunks = blocks.min(workers * 8).max(1);
        let scratch_words = self.compiled.scratch_bytes.div_ceil(16).max(1);
        let kernel_fn = self.compiled.kernel_fn;
        let slots = &slots;
        let failure_ref = &failure;
        self.pool.install(|| {
            // Scratch is allocated per rayon job, not per chunk: a job runs several chunks in a row, and a
            // block's code initialises every tile it reads, so reusing the buffer is safe.
            let scratch = || vec![0u128; scratch_words];
            (0..chunks).into_par_iter().for_each_init(scratch, |scratch, chunk| {
                let first = blocks * chunk / chunks;
                let end = blocks * (chunk + 1) / chunks;
                for block in first..end {
                    if failure_ref.load(Ordering::Relaxed) != abi::STATUS_OK {
                        return;
                    }
                    let x = (block % u64::from(grid[0])) as u32;
                    let rest = block / u64::from(grid[0]);
                    let y = (rest % u64::from(grid[1])) as u32;
                    let z = (rest / u64::from(grid[1])) as u32;
                    let context = BlockContext { block_index: [x, y, z], grid_size: grid };
                    // SAFETY: the context and slots match the ABI, and `scratch` is 16-byte aligned and
                    // at least `scratch_bytes` long, private to this block for the call.
                    let status =
                        unsafe { kernel_fn(&context, slots.0.as_ptr(), scratch.as_mut_ptr().cast::<u8>()) };
                    if status != abi::STATUS_OK {
                        let _ = failure_ref.compare_exchange(
                            abi::STATUS_OK,
                            status,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                        return;
                    }
                }
            });
        });
        let status = failure.load(Ordering::Relaxed);
        if status != abi::STATUS_OK {
            return Err(self.status_error(status));
        }
        Ok(RunStats { kernel_time: start.elapsed() })
    }
}
