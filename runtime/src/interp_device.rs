//! The reference interpreter as a device, so that the CLI and tests can treat every backend alike.

use std::time::Instant;

use tilevm_vm::interp::{self, KernelArg};
use tilevm_vm::verify::VerifiedKernel;

use crate::{Backend, CompiledKernel, Device, RunStats, RuntimeError, RuntimeResult};

/// Runs kernels on the reference interpreter.
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
}

struct InterpretedKernel {
    kernel: VerifiedKernel,
}

impl CompiledKernel for InterpretedKernel {
    fn run(&self, args: &mut [KernelArg]) -> RuntimeResult<RunStats> {
        let start = Instant::now();
        interp::run_kernel(&self.kernel, args)
            .map_err(|error| RuntimeError::KernelFailed(error.to_string()))?;
        Ok(RunStats { kernel_time: start.elapsed() })
    }
}
