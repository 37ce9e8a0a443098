//! Device-resident buffers: the packed bytes of one global-memory argument, kept on the device that
//! made them between launches (a model's weights are uploaded once), and the arguments of a launch
//! over them.
//!
//! A buffer is a shared handle: cloning it shares the memory. Host devices (the CPU backend and the
//! interpreter) keep the bytes behind a read-write lock, so launches from several threads may read one
//! buffer at once while a launch that writes it has it to itself; GPU buffers are wgpu buffers, whose
//! queue orders the launches that use them.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tilevm_vm::ir::{Kernel, ParamKind};

use crate::gpu::GpuMemory;
use crate::{RuntimeError, RuntimeResult};

/// The packed bytes of one global buffer, on the device that allocated it.
#[derive(Clone)]
pub struct DeviceBuffer {
    pub(crate) memory: Memory,
    /// The buffer's length in bytes (GPU memory is padded to whole words beyond it).
    len: usize,
}

/// The bytes of a host buffer.
type HostBytes = Arc<RwLock<Vec<u8>>>;

/// Where a buffer's bytes live.
#[derive(Clone)]
pub(crate) enum Memory {
    /// Host memory, for the CPU backend and the interpreter.
    Host(HostBytes),
    /// A wgpu buffer of one GPU device.
    Gpu(Arc<GpuMemory>),
}

impl std::fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match self.memory {
            Memory::Host(_) => "host",
            Memory::Gpu(_) => "gpu",
        };
        f.debug_struct("DeviceBuffer").field("memory", &place).field("len", &self.len).finish()
    }
}

impl DeviceBuffer {
    pub(crate) fn new(memory: Memory, len: usize) -> DeviceBuffer {
        DeviceBuffer { memory, len }
    }

    /// Host memory holding `bytes`.
    pub(crate) fn host(bytes: Vec<u8>) -> DeviceBuffer {
        let len = bytes.len();
        DeviceBuffer { memory: Memory::Host(Arc::new(RwLock::new(bytes))), len }
    }

    /// `len` zero bytes of host memory; an allocation the host cannot make is an error, not an abort.
    pub(crate) fn host_zeroed(len: usize) -> RuntimeResult<DeviceBuffer> {
        let mut bytes = host_vec(len)?;
        bytes.resize(len, 0);
        Ok(DeviceBuffer::host(bytes))
    }

    /// A copy of `bytes` in host memory (see [`DeviceBuffer::host_zeroed`]).
    pub(crate) fn host_copy(bytes: &[u8]) -> RuntimeResult<DeviceBuffer> {
        let mut data = host_vec(bytes.len())?;
        data.extend_from_slice(bytes);
        Ok(DeviceBuffer::host(data))
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `self` and `other` are the same memory (clones of one buffer).
    pub fn same_memory(&self, other: &DeviceBuffer) -> bool {
        self.address() == other.address()
    }

    /// An identity of the memory, for aliasing checks and the order in which locks are taken.
    fn address(&self) -> usize {
        match &self.memory {
            Memory::Host(bytes) => Arc::as_ptr(bytes) as usize,
            Memory::Gpu(memory) => Arc::as_ptr(memory) as usize,
        }
    }

    /// A copy of the bytes of host memory, for the devices that keep their buffers on the host;
    /// `device` names the reading device in the error for GPU memory.
    pub(crate) fn read_host(&self, device: &str) -> RuntimeResult<Vec<u8>> {
        match &self.memory {
            Memory::Host(bytes) => bytes.read().map(|bytes| bytes.clone()).map_err(|_| poisoned()),
            Memory::Gpu(_) => {
                Err(RuntimeError::InvalidLaunch(format!("the buffer lives on a GPU, not on {device}")))
            }
        }
    }
}

/// An empty vector with room for `len` bytes, or a `Limit` error when the host cannot give them.
pub(crate) fn host_vec(len: usize) -> RuntimeResult<Vec<u8>> {
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(len).map_err(|_| RuntimeError::Limit {
        device: "host".to_string(),
        what: format!("cannot allocate a buffer of {len} bytes"),
    })?;
    Ok(bytes)
}

fn poisoned() -> RuntimeError {
    RuntimeError::Device(
        "a buffer's lock was poisoned by a thread that panicked while holding it".to_string(),
    )
}

/// One argument of [`crate::CompiledKernel::launch`], in the kernel's parameter order.
#[derive(Clone, Copy, Debug)]
pub enum LaunchArg<'a> {
    /// A scalar parameter's value as a bit pattern of its dtype.
    Scalar(u64),
    /// A global buffer on the launching device; written in place for mutable parameters.
    Buffer(&'a DeviceBuffer),
}

/// Checks that `args` match the kernel's parameters in number and kind, and that a buffer a kernel may
/// write is passed to no other parameter (the backends' results would differ if outputs aliased).
pub(crate) fn check_launch_args(kernel: &Kernel, args: &[LaunchArg]) -> RuntimeResult<()> {
    let is_buffer: Vec<bool> = args.iter().map(|arg| matches!(arg, LaunchArg::Buffer(_))).collect();
    check_arg_kinds(kernel, &is_buffer)?;
    for (index, (param, arg)) in kernel.params.iter().zip(args).enumerate() {
        let (ParamKind::Global { mutable: true, .. }, LaunchArg::Buffer(buffer)) = (&param.kind, arg) else {
            continue;
        };
        for (other_index, other) in args.iter().enumerate() {
            if let LaunchArg::Buffer(other) = other
                && other_index != index
                && buffer.same_memory(other)
            {
                return Err(RuntimeError::InvalidLaunch(format!(
                    "kernel `{}` writes `{}`, and the same buffer is also passed as `{}`; an output must \
                     not alias another argument",
                    kernel.name, param.name, kernel.params[other_index].name
                )));
            }
        }
    }
    Ok(())
}

/// Checks that a launch passes one argument per parameter, a buffer (`is_buffer`) exactly where the
/// parameter is a global buffer.
pub(crate) fn check_arg_kinds(kernel: &Kernel, is_buffer: &[bool]) -> RuntimeResult<()> {
    if is_buffer.len() != kernel.params.len() {
        return Err(RuntimeError::InvalidLaunch(format!(
            "kernel `{}` takes {} arguments, {} given",
            kernel.name,
            kernel.params.len(),
            is_buffer.len()
        )));
    }
    for (index, (param, &buffer)) in kernel.params.iter().zip(is_buffer).enumerate() {
        if matches!(param.kind, ParamKind::Global { .. }) != buffer {
            return Err(RuntimeError::InvalidLaunch(format!(
                "argument {index} (`{}`) of kernel `{}` has the wrong kind",
                param.name, kernel.name
            )));
        }
    }
    Ok(())
}

/// The host buffers of one launch, locked for its whole duration: every distinct buffer once, in
/// address order (so two launches never wait for each other in a cycle), for writing when the kernel
/// may store to it.
pub(crate) struct HostLocks<'a> {
    guards: Vec<Guard<'a>>,
    /// Per parameter: the index of its guard, `None` for scalars.
    param_guard: Vec<Option<usize>>,
}

enum Guard<'a> {
    Read(RwLockReadGuard<'a, Vec<u8>>),
    Write(RwLockWriteGuard<'a, Vec<u8>>),
}

impl<'a> HostLocks<'a> {
    /// Locks the buffers of `args` (already checked by [`check_launch_args`]); `device` names the
    /// launching device for the error about a buffer that lives on a GPU.
    pub(crate) fn lock(
        kernel: &Kernel,
        args: &[LaunchArg<'a>],
        device: &str,
    ) -> RuntimeResult<HostLocks<'a>> {
        // (address, memory, written) of every distinct buffer.
        let mut distinct: Vec<(usize, &'a HostBytes, bool)> = Vec::new();
        for (param, arg) in kernel.params.iter().zip(args) {
            let LaunchArg::Buffer(buffer) = arg else { continue };
            let Memory::Host(memory) = &buffer.memory else {
                return Err(RuntimeError::InvalidLaunch(format!(
                    "argument `{}` of kernel `{}` lives on a GPU, not on {device}",
                    param.name, kernel.name
                )));
            };
            let written = matches!(param.kind, ParamKind::Global { mutable: true, .. });
            let address = buffer.address();
            match distinct.iter_mut().find(|(seen, _, _)| *seen == address) {
                Some(entry) => entry.2 |= written,
                None => distinct.push((address, memory, written)),
            }
        }
        distinct.sort_by_key(|(address, _, _)| *address);
        let mut guards = Vec::with_capacity(distinct.len());
        for (_, memory, written) in &distinct {
            guards.push(if *written {
                Guard::Write(memory.write().map_err(|_| poisoned())?)
            } else {
                Guard::Read(memory.read().map_err(|_| poisoned())?)
            });
        }
        let param_guard = args
            .iter()
            .map(|arg| match arg {
                LaunchArg::Buffer(buffer) => {
                    let address = buffer.address();
                    distinct.iter().position(|(seen, _, _)| *seen == address)
                }
                LaunchArg::Scalar(_) => None,
            })
            .collect();
        Ok(HostLocks { guards, param_guard })
    }

    /// The bytes of parameter `param`'s buffer.
    pub(crate) fn bytes(&self, param: usize) -> Option<&[u8]> {
        let guard = self.guards.get((*self.param_guard.get(param)?)?)?;
        Some(match guard {
            Guard::Read(bytes) => bytes.as_slice(),
            Guard::Write(bytes) => bytes.as_slice(),
        })
    }

    /// The bytes of parameter `param`'s buffer, for writing; `None` unless it was locked for writing.
    pub(crate) fn bytes_mut(&mut self, param: usize) -> Option<&mut Vec<u8>> {
        let index = (*self.param_guard.get(param)?)?;
        match self.guards.get_mut(index)? {
            Guard::Write(bytes) => Some(&mut *bytes),
            Guard::Read(_) => None,
        }
    }

    /// The address and length of parameter `param`'s bytes, for JIT code: it stores only through
    /// parameters the kernel may write, and those buffers are locked for writing.
    pub(crate) fn raw_parts(&mut self, param: usize) -> Option<(*mut u8, usize)> {
        let index = (*self.param_guard.get(param)?)?;
        Some(match self.guards.get_mut(index)? {
            Guard::Write(bytes) => (bytes.as_mut_ptr(), bytes.len()),
            Guard::Read(bytes) => (bytes.as_ptr().cast_mut(), bytes.len()),
        })
    }
}
