//! The reference interpreter as a device, so that the CLI and tests can treat every backend alike.

use std::time::Instant;

use tilevm_vm::interp::{self, KernelArg};
use tilevm_vm::verify::VerifiedKernel;

use crate::buffer::{HostLocks, check_launch_args, host_vec};
use crate::{
    Backend, CompiledKernel, Device, DeviceBuffer, LaunchArg, RunStats, RuntimeError, RuntimeResult,
};

/// Runs kernels on the reference interpreter; its buffers are host memory.
#[derive(Clone, Copy, Debug, Default)]
pub struct InterpreterDevice;

impl Device for InterpreterDevice {
    fn backend(&self) -> Backend {
        Backend::Interp
    }

    fn name(&self) -> String {
        "reference interpreter".to_string()
    }

    fn compile(&self, kernel: &VerifiedKernel) -> RuntimeResult<Box<dyn CompiledKernel>> {
        Ok(Box::new(InterpretedKernel { kernel: kernel.clone() }))
    }

    fn alloc_zeroed(&self, len: usize) -> RuntimeResult<DeviceBuffer> {
        DeviceBuffer::host_zeroed(len)
    }

    fn upload(&self, bytes: &[u8]) -> RuntimeResult<DeviceBuffer> {
        DeviceBuffer::host_copy(bytes)
    }

    fn download(&self, buffer: &DeviceBuffer) -> RuntimeResult<Vec<u8>> {
        buffer.read_host("the reference interpreter")
    }
}

struct InterpretedKernel {
    kernel: VerifiedKernel,
}

impl CompiledKernel for InterpretedKernel {
    fn run(&self, args: &mut [KernelArg]) -> RuntimeResult<RunStats> {
        self.run_printing(args, &mut |_| {})
    }

    fn run_printing(&self, args: &mut [KernelArg], print: &mut dyn FnMut(&str)) -> RuntimeResult<RunStats> {
        let start = Instant::now();
        let mut options = interp::RunOptions { print: Some(print), ..interp::RunOptions::default() };
        interp::run_kernel_with(&self.kernel, args, &mut options)
            .map_err(|error| RuntimeError::KernelFailed(error.to_string()))?;
        Ok(RunStats { kernel_time: start.elapsed() })
    }

    fn launch(&self, args: &[LaunchArg]) -> RuntimeResult<RunStats> {
        self.launch_printing(args, &mut |_| {})
    }

    fn launch_printing(&self, args: &[LaunchArg], print: &mut dyn FnMut(&str)) -> RuntimeResult<RunStats> {
        let kernel = self.kernel.kernel();
        check_launch_args(kernel, args)?;
        let mut locks = HostLocks::lock(kernel, args, "the reference interpreter")?;
        // The interpreter works on owned argument vectors: copy in, run, copy the outputs back.
        let mut owned = Vec::with_capacity(args.len());
        for (index, arg) in args.iter().enumerate() {
            owned.push(match arg {
                LaunchArg::Scalar(code) => KernelArg::Scalar(*code),
                LaunchArg::Buffer(_) => {
                    let bytes = locks.bytes(index).unwrap_or_default();
                    let mut copy = host_vec(bytes.len())?;
                    copy.extend_from_slice(bytes);
                    KernelArg::Buffer(copy)
                }
            });
        }
        let stats = self.run_printing(&mut owned, print)?;
        for (index, arg) in owned.into_iter().enumerate() {
            if let (KernelArg::Buffer(bytes), Some(target)) = (arg, locks.bytes_mut(index)) {
                *target = bytes;
            }
        }
        Ok(stats)
    }
}
