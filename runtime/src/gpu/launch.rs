//! Pipelines and launches: buffers up, dispatches (split when the grid exceeds the adapter's limit per
//! dimension), results down, and the kernel time from GPU timestamps or the wall clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tilevm_vm::interp::{PrintLog, PrintSites};
use tilevm_vm::ir::Kernel;
use tilevm_wgsl::{
    ENTRY_POINT, KernelInterface, META_BINDING, META_BLOCK_OFFSET, META_GRID_SIZE, META_PARAMS,
    META_WHILE_LIMIT, PRINT_CAPACITY_WORDS, PRINT_FIRST_WORD, PRINT_HEADER_WORDS, PRINT_USED_WORD,
    STATUS_BINDING, WgslKernel,
};

use super::Shared;
use super::timing::{PassTimer, pass_time};
use crate::buffer::{check_arg_kinds, check_launch_args};
use crate::{CompiledKernel, KernelArg, LaunchArg, RunStats, RuntimeError, RuntimeResult};

/// A compute pipeline and the interface of the module it was made from.
pub(super) struct Pipeline {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    interface: KernelInterface,
}

/// Error scopes around a group of wgpu calls; `finish` turns what they caught into a `RuntimeError`.
pub(super) struct Scopes {
    scopes: Vec<wgpu::ErrorScopeGuard>,
}

impl Scopes {
    pub(super) fn push(device: &wgpu::Device) -> Scopes {
        Scopes {
            scopes: vec![
                device.push_error_scope(wgpu::ErrorFilter::Validation),
                device.push_error_scope(wgpu::ErrorFilter::OutOfMemory),
                device.push_error_scope(wgpu::ErrorFilter::Internal),
            ],
        }
    }

    pub(super) fn finish(mut self, shared: &Shared, what: &str) -> RuntimeResult<()> {
        let mut messages = Vec::new();
        let mut out_of_memory = false;
        while let Some(scope) = self.scopes.pop() {
            if let Some(error) = pollster::block_on(scope.pop()) {
                out_of_memory |= matches!(error, wgpu::Error::OutOfMemory { .. });
                messages.push(error.to_string());
            }
        }
        if let Some(uncaptured) = shared.take_uncaptured() {
            messages.push(uncaptured);
        }
        if messages.is_empty() {
            return Ok(());
        }
        let message = format!("{what}: {}", messages.join("\n"));
        Err(if out_of_memory {
            RuntimeError::Limit {
                device: shared.device_name(),
                what: format!("out of device memory: {message}"),
            }
        } else {
            RuntimeError::Device(message)
        })
    }
}

impl Pipeline {
    pub(super) fn new(shared: &Shared, compiled: &WgslKernel) -> RuntimeResult<Pipeline> {
        let device = &shared.device;
        let scopes = Scopes::push(device);
        let module = shader_module(shared, &compiled.interface.name, &compiled.source);
        let storage = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let mut entries = vec![
            wgpu::BindGroupLayoutEntry {
                binding: META_BINDING,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
            storage(STATUS_BINDING, false),
        ];
        entries
            .extend(compiled.interface.buffers.iter().map(|buffer| storage(buffer.binding, !buffer.mutable)));
        let layout = device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: None, entries: &entries });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: None,
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&compiled.interface.name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(ENTRY_POINT),
            compilation_options: Default::default(),
            cache: None,
        });
        scopes.finish(shared, &format!("creating the pipeline of kernel `{}`", compiled.interface.name))?;
        Ok(Pipeline { pipeline, layout, interface: compiled.interface.clone() })
    }
}

/// A kernel compiled for a [`super::GpuDevice`].
pub(super) struct GpuKernel {
    shared: Arc<Shared>,
    kernel: Kernel,
    pipeline: Arc<Pipeline>,
    /// The kernel's `print` instructions, numbered as its print records name them.
    print_sites: PrintSites,
}

/// What a launch needs to know of one argument: a scalar's code or a buffer's true length in bytes.
#[derive(Clone, Copy)]
enum ArgWord {
    Scalar(u64),
    Length(usize),
}

impl GpuKernel {
    pub(super) fn new(shared: Arc<Shared>, kernel: Kernel, pipeline: Arc<Pipeline>) -> GpuKernel {
        let print_sites = PrintSites::of(&kernel);
        GpuKernel { shared, kernel, pipeline, print_sites }
    }

    /// Checks that every buffer fits one binding (the caller has checked the arguments' kinds).
    fn check_binding_sizes(&self, args: &[ArgWord]) -> RuntimeResult<()> {
        for (param, arg) in self.kernel.params.iter().zip(args) {
            if let ArgWord::Length(length) = *arg {
                let limit = self.shared.limits.max_storage_buffer_binding_size;
                if length as u64 > limit || length >= u32::MAX as usize / 8 {
                    return Err(RuntimeError::Limit {
                        device: self.shared.device_name(),
                        what: format!(
                            "buffer `{}` has {length} bytes, a binding holds at most {limit}",
                            param.name
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The metadata words of one dispatch.
    fn meta(&self, args: &[ArgWord], grid: [u32; 3], offset: [u32; 3]) -> Vec<u32> {
        let mut words = vec![0u32; self.pipeline.interface.meta_words];
        words[META_BLOCK_OFFSET..META_BLOCK_OFFSET + 3].copy_from_slice(&offset);
        words[META_GRID_SIZE..META_GRID_SIZE + 3].copy_from_slice(&grid);
        words[META_WHILE_LIMIT] = self.shared.while_limit;
        for (index, arg) in args.iter().enumerate() {
            words[META_PARAMS + index] = match *arg {
                ArgWord::Scalar(code) => code as u32,
                ArgWord::Length(length) => length as u32,
            };
        }
        words
    }

    /// Dispatches the grid over `buffers` (one per binding of the interface, in its order), then reads
    /// the status word and, when `read_outputs`, the mutable buffers back: the kernel time and the
    /// outputs as (parameter, bytes padded to words).
    fn execute(
        &self,
        args: &[ArgWord],
        buffers: &[&wgpu::Buffer],
        read_outputs: bool,
        print: &mut dyn FnMut(&str),
    ) -> RuntimeResult<(Duration, Outputs)> {
        let scalars: Vec<Option<u64>> = args
            .iter()
            .map(|arg| match *arg {
                ArgWord::Scalar(code) => Some(code),
                ArgWord::Length(_) => None,
            })
            .collect();
        let grid = super::grid::grid_size(&self.kernel, &scalars)?;
        if grid.contains(&0) {
            return Ok((Duration::ZERO, Vec::new()));
        }
        let shared = &self.shared;
        let device = &shared.device;
        let started = Instant::now();
        let scopes = Scopes::push(device);
        let make_buffer = |label: &str, data: &[u8], usage: wgpu::BufferUsages| {
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: data.len() as u64,
                usage,
                mapped_at_creation: false,
            });
            shared.queue.write_buffer(&buffer, 0, data);
            buffer
        };
        // The failure word, then (for a kernel that prints) the print records (`tilevm_wgsl::prints`).
        let status_words = if self.pipeline.interface.prints {
            (PRINT_FIRST_WORD + PRINT_CAPACITY_WORDS) as usize
        } else {
            1
        };
        let status = make_buffer("status", &vec![0; status_words * 4], STORAGE_USAGE);
        let bindings = &self.pipeline.interface.buffers;
        let chunks = split_grid(grid, shared.limits.max_compute_workgroups_per_dimension);
        let mut bind_groups = Vec::new();
        for (offset, _) in &chunks {
            let words = self.meta(args, grid, *offset);
            let meta = make_buffer(
                "launch",
                bytemuck_words(&words).as_slice(),
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            );
            let mut entries = vec![
                wgpu::BindGroupEntry { binding: META_BINDING, resource: meta.as_entire_binding() },
                wgpu::BindGroupEntry { binding: STATUS_BINDING, resource: status.as_entire_binding() },
            ];
            entries.extend(bindings.iter().zip(buffers).map(|(binding, buffer)| wgpu::BindGroupEntry {
                binding: binding.binding,
                resource: buffer.as_entire_binding(),
            }));
            bind_groups.push(device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &self.pipeline.layout,
                entries: &entries,
            }));
        }
        let timer = PassTimer::new(shared);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = timer.begin(&mut encoder);
            pass.set_pipeline(&self.pipeline.pipeline);
            for ((_, count), bind_group) in chunks.iter().zip(&bind_groups) {
                pass.set_bind_group(0, bind_group, &[]);
                pass.dispatch_workgroups(count[0], count[1], count[2]);
            }
        }
        let status_back = copy_for_reading(device, &mut encoder, &status);
        let outputs: Vec<(usize, wgpu::Buffer)> = bindings
            .iter()
            .zip(buffers)
            .filter(|(binding, _)| read_outputs && binding.mutable)
            .map(|(binding, buffer)| (binding.param, copy_for_reading(device, &mut encoder, buffer)))
            .collect();
        let timestamps_back = timer.resolve(shared, &mut encoder);
        shared.queue.submit([encoder.finish()]);
        scopes.finish(shared, &format!("launching kernel `{}`", self.kernel.name))?;
        let status_word = read_words(shared, &status_back)?;
        let mut results = Vec::new();
        for (param, buffer) in &outputs {
            results.push((*param, read_bytes(shared, buffer)?));
        }
        let wall = started.elapsed();
        // Printed before a failure is reported: what a kernel printed on its way there is the clue.
        if self.pipeline.interface.prints {
            for line in print_lines(&self.print_sites, &status_word, grid) {
                print(&line);
            }
        }
        if let Some(&code) = status_word.first()
            && code != 0
        {
            let message =
                self.pipeline.interface.failures.get(code as usize - 1).cloned().unwrap_or_default();
            return Err(RuntimeError::KernelFailed(format!("kernel `{}`: {message}", self.kernel.name)));
        }
        let kernel_time = pass_time(shared, timestamps_back.as_ref(), wall)?;
        Ok((kernel_time, results))
    }
}

/// The mutable buffers read back after a launch: (parameter, bytes padded to words).
type Outputs = Vec<(usize, Vec<u8>)>;

/// The usage of every buffer that holds a kernel argument.
pub(super) const STORAGE_USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_DST).union(wgpu::BufferUsages::COPY_SRC);

/// Chunks of a grid, each within `limit` blocks per dimension: (offset, count).
fn split_grid(grid: [u32; 3], limit: u32) -> Vec<([u32; 3], [u32; 3])> {
    let limit = limit.max(1);
    let ranges = |size: u32| -> Vec<(u32, u32)> {
        (0..size.div_ceil(limit)).map(|chunk| (chunk * limit, (size - chunk * limit).min(limit))).collect()
    };
    let mut chunks = Vec::new();
    for (z, nz) in ranges(grid[2]) {
        for (y, ny) in ranges(grid[1]) {
            for (x, nx) in ranges(grid[0]) {
                chunks.push(([x, y, z], [nx, ny, nz]));
            }
        }
    }
    chunks
}

/// The size of the GPU buffer that holds `len` bytes: whole words, and never empty (wgpu binds no
/// empty buffer).
pub(super) fn padded_size(len: usize) -> u64 {
    (len.div_ceil(4).max(1) * 4) as u64
}

fn padded(bytes: &[u8]) -> Vec<u8> {
    let mut data = bytes.to_vec();
    data.resize(padded_size(bytes.len()) as usize, 0);
    data
}

impl CompiledKernel for GpuKernel {
    fn run(&self, args: &mut [KernelArg]) -> RuntimeResult<RunStats> {
        self.run_printing(args, &mut |_| {})
    }

    fn run_printing(&self, args: &mut [KernelArg], print: &mut dyn FnMut(&str)) -> RuntimeResult<RunStats> {
        let words: Vec<ArgWord> = args
            .iter()
            .map(|arg| match arg {
                KernelArg::Scalar(code) => ArgWord::Scalar(*code),
                KernelArg::Buffer(bytes) => ArgWord::Length(bytes.len()),
            })
            .collect();
        let is_buffer: Vec<bool> = args.iter().map(|arg| matches!(arg, KernelArg::Buffer(_))).collect();
        check_arg_kinds(&self.kernel, &is_buffer)?;
        self.check_binding_sizes(&words)?;
        let device = &self.shared.device;
        let scopes = Scopes::push(device);
        let mut buffers = Vec::new();
        for binding in &self.pipeline.interface.buffers {
            if let Some(KernelArg::Buffer(bytes)) = args.get(binding.param) {
                let name = &self.kernel.params[binding.param].name;
                let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(name),
                    size: padded_size(bytes.len()),
                    usage: STORAGE_USAGE,
                    mapped_at_creation: false,
                });
                self.shared.queue.write_buffer(&buffer, 0, &padded(bytes));
                buffers.push(buffer);
            }
        }
        scopes.finish(&self.shared, &format!("uploading the arguments of kernel `{}`", self.kernel.name))?;
        let buffers: Vec<&wgpu::Buffer> = buffers.iter().collect();
        let (kernel_time, results) = self.execute(&words, &buffers, true, print)?;
        for (param, bytes) in results {
            if let Some(KernelArg::Buffer(target)) = args.get_mut(param) {
                let length = target.len();
                target.copy_from_slice(&bytes[..length]);
            }
        }
        Ok(RunStats { kernel_time })
    }

    fn launch(&self, args: &[LaunchArg]) -> RuntimeResult<RunStats> {
        self.launch_printing(args, &mut |_| {})
    }

    fn launch_printing(&self, args: &[LaunchArg], print: &mut dyn FnMut(&str)) -> RuntimeResult<RunStats> {
        check_launch_args(&self.kernel, args)?;
        let words: Vec<ArgWord> = args
            .iter()
            .map(|arg| match arg {
                LaunchArg::Scalar(code) => ArgWord::Scalar(*code),
                LaunchArg::Buffer(buffer) => ArgWord::Length(buffer.len()),
            })
            .collect();
        self.check_binding_sizes(&words)?;
        let mut buffers = Vec::new();
        for binding in &self.pipeline.interface.buffers {
            if let Some(LaunchArg::Buffer(buffer)) = args.get(binding.param) {
                let name = &self.kernel.params[binding.param].name;
                let what = format!("argument `{name}` of kernel `{}`", self.kernel.name);
                buffers.push(self.shared.own_buffer(buffer, &what)?);
            }
        }
        let (kernel_time, _) = self.execute(&words, &buffers, false, print)?;
        Ok(RunStats { kernel_time })
    }
}

/// The lines of the print records in `status` (the words of a launch's status buffer) of a kernel with
/// print sites `sites` over `grid`, in the interpreter's order; a record cut short ends the list.
fn print_lines(sites: &PrintSites, status: &[u32], grid: [u32; 3]) -> Vec<String> {
    let log = PrintLog::new(sites.clone(), grid);
    let used = status.get(PRINT_USED_WORD as usize).copied().unwrap_or(0);
    let records = status.get(PRINT_FIRST_WORD as usize..).unwrap_or_default();
    let end = (used.min(PRINT_CAPACITY_WORDS) as usize).min(records.len());
    let header = PRINT_HEADER_WORDS as usize;
    let mut at = 0;
    while at + header <= end {
        let word = |offset: usize| records[at + offset];
        let count = word(5) as usize;
        let Some(codes) = records.get(at + header..(at + header + count).min(end)) else { break };
        if codes.len() < count {
            break;
        }
        log.record([word(1), word(2), word(3)], word(0), codes.iter().map(|&code| u64::from(code)).collect());
        at += header + count;
    }
    let mut lines = log.take_lines();
    if used > PRINT_CAPACITY_WORDS {
        lines.push(format!(
            "... more prints dropped (a GPU launch keeps {PRINT_CAPACITY_WORDS} words of print records)"
        ));
    }
    lines
}

/// Copies `source` into a new `MAP_READ` buffer, for [`read_bytes`] once `encoder` has been submitted.
pub(super) fn copy_for_reading(
    device: &wgpu::Device,
    encoder: &mut wgpu::CommandEncoder,
    source: &wgpu::Buffer,
) -> wgpu::Buffer {
    let target = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: source.size(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    encoder.copy_buffer_to_buffer(source, 0, &target, 0, source.size());
    target
}

fn bytemuck_words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|word| word.to_le_bytes()).collect()
}

/// Maps a `MAP_READ` buffer and copies its bytes out.
pub(super) fn read_bytes(shared: &Shared, buffer: &wgpu::Buffer) -> RuntimeResult<Vec<u8>> {
    let (sender, receiver) = std::sync::mpsc::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |result| {
        let _ = sender.send(result);
    });
    shared
        .device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|error| RuntimeError::Device(format!("waiting for the GPU: {error}")))?;
    let mapped =
        receiver.recv().map_err(|_| RuntimeError::Device("a buffer map never completed".to_string()))?;
    mapped.map_err(|error| {
        let lost = shared.take_uncaptured().unwrap_or_default();
        RuntimeError::Device(format!("reading results back: {error} {lost}"))
    })?;
    let bytes = buffer
        .get_mapped_range(..)
        .map_err(|error| RuntimeError::Device(format!("reading results back: {error}")))?
        .to_vec();
    buffer.unmap();
    Ok(bytes)
}

pub(super) fn read_words(shared: &Shared, buffer: &wgpu::Buffer) -> RuntimeResult<Vec<u32>> {
    let bytes = read_bytes(shared, buffer)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect())
}

/// A shader module of tilevm's own WGSL. Unless `GpuOptions::shader_bounds_checks` asks for them,
/// naga adds no bounds checks of its own (a compare and select per buffer access, where the driver
/// has no robust buffer access of its own): tilevm's code masks every access itself.
pub(super) fn shader_module(shared: &Shared, label: &str, source: &str) -> wgpu::ShaderModule {
    let descriptor =
        wgpu::ShaderModuleDescriptor { label: Some(label), source: wgpu::ShaderSource::Wgsl(source.into()) };
    if shared.shader_bounds_checks {
        return shared.device.create_shader_module(descriptor);
    }
    let checks = wgpu::ShaderRuntimeChecks { bounds_checks: false, ..wgpu::ShaderRuntimeChecks::checked() };
    // SAFETY: only modules tilevm generates come here, and each of their accesses stays inside its
    // array: global loads and stores run under the view's bounds test against the buffer's true
    // length (`memory.rs::view_element`, and the vector path's guard in `vector_memory.rs`), so a
    // word is read or written only when an element inside the buffer lies in it; shared-tile windows
    // are checked against their tile before any access (`addressing.rs::window_check`); scratch,
    // constant tables and private tile arrays are indexed by slots and coordinates the generator
    // bounds at compile time; the roofline kernels index below `arrayLength`. Loop bounding and
    // the integer-division guards stay on. The adversarial bounds tests (`tests/backends/
    // adversarial_bounds.rs`) and the corpus run these modules.
    unsafe { shared.device.create_shader_module_trusted(descriptor, checks) }
}

#[cfg(test)]
mod tests {
    use tilevm_vm::DataType;
    use tilevm_vm::interp::PrintSites;
    use tilevm_vm::ir::{Expr, Inst, KernelBuilder};

    use super::{PRINT_CAPACITY_WORDS, print_lines, split_grid};

    #[test]
    fn large_grids_split_into_chunks_within_the_limit() {
        let chunks = split_grid([70000, 2, 1], 65535);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0], ([0, 0, 0], [65535, 2, 1]));
        assert_eq!(chunks[1], ([65535, 0, 0], [4465, 2, 1]));
        assert_eq!(split_grid([3, 5, 131071], 65535).len(), 3);
        let total: u64 =
            chunks.iter().map(|(_, n)| u64::from(n[0]) * u64::from(n[1]) * u64::from(n[2])).sum();
        assert_eq!(total, 140000);
    }

    /// `print("n", n)` over a grid of 2.
    fn sites() -> PrintSites {
        let mut builder = KernelBuilder::new("p", 1);
        let n = builder.scalar_param("n", DataType::U32);
        builder.grid(vec![Expr::u32(2)]);
        builder.inst(Inst::PrintScalars { label: "n".to_string(), values: vec![n] });
        PrintSites::of(builder.finish().expect("verifies").kernel())
    }

    #[test]
    fn records_decode_in_block_order_and_overflow_is_reported() {
        // Block 1's record was reserved first; block 0's comes out first.
        let mut status = vec![0, 14, 0, 1, 0, 0, 0, 1, 7, 0, 0, 0, 0, 0, 1, 5];
        let lines = print_lines(&sites(), &status, [2, 1, 1]);
        assert_eq!(lines, ["[block 0, 0, 0] n: 5", "[block 1, 0, 0] n: 7"]);
        // More words reserved than the buffer keeps: the kept records, then a line saying so.
        status[1] = PRINT_CAPACITY_WORDS + 7;
        let lines = print_lines(&sites(), &status, [2, 1, 1]);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].contains("more prints dropped"), "{lines:?}");
        // A record cut short (its codes past the end) is not read.
        status[1] = 13;
        assert_eq!(print_lines(&sites(), &status, [2, 1, 1]), ["[block 1, 0, 0] n: 7"]);
    }
}
