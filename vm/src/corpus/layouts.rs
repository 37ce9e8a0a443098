//! The register layouts the corpus draws from, written in the layout text syntax, grouped by tile shape.

use crate::layout::RegisterLayout;

/// Layouts of 32 threads over an `[8, 8]` tile, none replicated.
pub(super) const THREADS32_8X8: &[&str] = &[
    "spatial(4, 8).local(2, 1)",
    "local(2, 1).spatial(4, 8)",
    "spatial(8, 4).local(1, 2)",
    "column_spatial(4, 8).local(2, 1)",
    "local(1, 2).column_spatial(8, 4)",
];

/// Layouts of 32 threads over a `[4, 32]` tile.
pub(super) const THREADS32_4X32: &[&str] = &[
    "spatial(4, 8).local(1, 4)",
    "local(1, 4).spatial(4, 8)",
    "spatial(1, 32).local(4, 1)",
    "column_spatial(4, 8).column_local(1, 4)",
];

/// Layouts of 64 threads over a `[16, 16]` tile.
pub(super) const THREADS64_16X16: &[&str] =
    &["spatial(8, 8).local(2, 2)", "local(2, 2).spatial(8, 8)", "spatial(16, 4).local(1, 4)"];

/// Layouts of one thread.
pub(super) const THREADS1_4X8: &[&str] = &["local(4, 8)", "column_local(4, 8)"];

/// Layouts whose threads hold equal halves: `[8, 8]` over 32 threads with 2 replicas of each element.
pub(super) const REPLICATED32_8X8: &[&str] = &[
    "spatial(4, 4) * replicated(1, 1, num_workers=2) * local(2, 2)",
    "column_local(2, 2) * spatial(4, 4) * replicated(1, 1, num_workers=2)",
];

/// Evaluates a layout written in the text syntax (`None` only for a broken constant above).
pub(super) fn layout(text: &str) -> Option<RegisterLayout> {
    crate::layout::parse_register_layout(text).ok()
}
