//! Timing one compute pass with GPU timestamps, where the adapter has them: the pass writes its start
//! and end into a query set, the encoder resolves them into a buffer the host maps after the submit.

use std::time::Duration;

use super::Shared;
use super::launch::{copy_for_reading, read_words};
use crate::RuntimeResult;

/// The timestamps of one pass (none on an adapter without `TIMESTAMP_QUERY`).
pub(super) struct PassTimer {
    queries: Option<wgpu::QuerySet>,
}

impl PassTimer {
    pub(super) fn new(shared: &Shared) -> PassTimer {
        let queries = shared.timestamps.then(|| {
            shared.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: None,
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            })
        });
        PassTimer { queries }
    }

    /// Begins the compute pass that writes the timestamps.
    pub(super) fn begin<'e>(&self, encoder: &'e mut wgpu::CommandEncoder) -> wgpu::ComputePass<'e> {
        let timestamp_writes = self.queries.as_ref().map(|query_set| wgpu::ComputePassTimestampWrites {
            query_set,
            beginning_of_pass_write_index: Some(0),
            end_of_pass_write_index: Some(1),
        });
        encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes })
    }

    /// Resolves the timestamps after the pass, into a buffer to map once `encoder` has been submitted.
    pub(super) fn resolve(
        &self,
        shared: &Shared,
        encoder: &mut wgpu::CommandEncoder,
    ) -> Option<wgpu::Buffer> {
        let query_set = self.queries.as_ref()?;
        let resolved = shared.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        encoder.resolve_query_set(query_set, 0..2, &resolved, 0);
        Some(copy_for_reading(&shared.device, encoder, &resolved))
    }
}

/// The pass's time from the buffer [`PassTimer::resolve`] gave, or `wall` when there is none or the
/// timestamps are not ordered.
pub(super) fn pass_time(
    shared: &Shared,
    resolved: Option<&wgpu::Buffer>,
    wall: Duration,
) -> RuntimeResult<Duration> {
    let Some(buffer) = resolved else { return Ok(wall) };
    let ticks = read_words(shared, buffer)?;
    let tick = |index: usize| ticks.get(index).copied().map_or(0, u64::from);
    let (begin, end) = (tick(0) | (tick(1) << 32), tick(2) | (tick(3) << 32));
    let nanos = end.saturating_sub(begin) as f64 * f64::from(shared.queue.get_timestamp_period());
    Ok(if nanos > 0.0 { Duration::from_nanos(nanos as u64) } else { wall })
}
