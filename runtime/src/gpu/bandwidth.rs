//! The GPU's roofline: the read bandwidth of plain WGSL kernels that stream one large buffer, the best
//! of several vector widths and grid sizes, timed with GPU timestamps where the adapter has them.
//!
//! Benchmarks report their kernels as a fraction of this figure, measured in the same run.

use std::time::Instant;

use super::GpuDevice;
use super::launch::{Scopes, shader_module};
use super::timing::{PassTimer, pass_time};
use crate::{RuntimeError, RuntimeResult};

/// One way of streaming the buffer.
#[derive(Clone, Copy, Debug)]
struct ReadShape {
    /// `u32` or `vec4<u32>` per load.
    vector: bool,
    /// Invocations per workgroup.
    workgroup: u32,
    /// Workgroups of the grid-stride loop.
    workgroups: u32,
}

/// The shapes tried: scalar and 16-byte loads, small and large workgroups, few and many workgroups.
const SHAPES: [ReadShape; 6] = [
    ReadShape { vector: true, workgroup: 64, workgroups: 1024 },
    ReadShape { vector: true, workgroup: 256, workgroups: 1024 },
    ReadShape { vector: true, workgroup: 256, workgroups: 8192 },
    ReadShape { vector: true, workgroup: 64, workgroups: 64 },
    ReadShape { vector: false, workgroup: 256, workgroups: 1024 },
    ReadShape { vector: false, workgroup: 256, workgroups: 8192 },
];

/// The bytes streamed: 256 MiB (far beyond any GPU's last-level cache), or the adapter's binding limit.
const READ_BYTES: u64 = 256 << 20;

/// Timed runs per shape; the best counts.
const RUNS: usize = 3;

fn shader(shape: ReadShape) -> String {
    let (element, zero, fold) = if shape.vector {
        ("vec4<u32>", "vec4<u32>(0u)", "all(acc == vec4<u32>(0xdeadbeefu))")
    } else {
        ("u32", "0u", "acc == 0xdeadbeefu")
    };
    let workgroup = shape.workgroup;
    // The sum is stored only when it has one particular value (never, for a zeroed buffer), so the loads
    // cannot be removed and the stores cost nothing.
    format!(
        "@group(0) @binding(0) var<storage, read> src: array<{element}>;
@group(0) @binding(1) var<storage, read_write> dst: array<{element}>;

@compute @workgroup_size({workgroup})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {{
    let stride = groups.x * {workgroup}u;
    let count = arrayLength(&src);
    var acc = {zero};
    for (var i = gid.x; i < count; i = i + stride) {{
        acc = acc + src[i];
    }}
    if ({fold}) {{
        dst[0] = acc;
    }}
}}
"
    )
}

impl GpuDevice {
    /// The best read bandwidth, in bytes per second, of WGSL kernels streaming a large buffer.
    ///
    /// # Errors
    /// `Device` when wgpu reports an error (out of memory included).
    pub fn read_bandwidth(&self) -> RuntimeResult<f64> {
        let shared = &self.shared;
        let device = &shared.device;
        let limit = shared.limits.max_storage_buffer_binding_size.min(shared.limits.max_buffer_size);
        let bytes = READ_BYTES.min(limit) / 16 * 16;
        let scopes = Scopes::push(device);
        let src = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("roofline source"),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let dst = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("roofline sink"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        scopes.finish(shared, "allocating the roofline buffer")?;
        let mut best = 0.0f64;
        for shape in SHAPES {
            let scopes = Scopes::push(device);
            let module = shader_module(shared, "roofline", &shader(shape));
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("roofline"),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &[
                    wgpu::BindGroupEntry { binding: 0, resource: src.as_entire_binding() },
                    wgpu::BindGroupEntry { binding: 1, resource: dst.as_entire_binding() },
                ],
            });
            scopes.finish(shared, "creating the roofline kernel")?;
            // One untimed run first: pipelines compile lazily on some drivers.
            for run in 0..=RUNS {
                let seconds = self.time_dispatch(&pipeline, &bind_group, shape.workgroups)?;
                if run > 0 && seconds > 0.0 {
                    best = best.max(bytes as f64 / seconds);
                }
            }
        }
        if best > 0.0 {
            Ok(best)
        } else {
            Err(RuntimeError::Device("the roofline kernels took no measurable time".to_string()))
        }
    }

    /// Runs one dispatch of `workgroups` workgroups; returns its time in seconds (GPU timestamps where
    /// the device has them, else the wall clock around submission and completion).
    fn time_dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        workgroups: u32,
    ) -> RuntimeResult<f64> {
        let shared = &self.shared;
        let device = &shared.device;
        let scopes = Scopes::push(device);
        let timer = PassTimer::new(shared);
        let started = Instant::now();
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = timer.begin(&mut encoder);
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(
                workgroups.min(shared.limits.max_compute_workgroups_per_dimension),
                1,
                1,
            );
        }
        let resolved = timer.resolve(shared, &mut encoder);
        shared.queue.submit([encoder.finish()]);
        scopes.finish(shared, "running the roofline kernel")?;
        // Without timestamps the wall clock needs the dispatch finished.
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|error| RuntimeError::Device(format!("waiting for the GPU: {error}")))?;
        Ok(pass_time(shared, resolved.as_ref(), started.elapsed())?.as_secs_f64())
    }
}
