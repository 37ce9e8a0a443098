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
    "spatial(4, 4).replicated(1, 1, num_workers=2).local(2, 2)",
    "column_local(2, 2).spatial(4, 4).replicated(1, 1, num_workers=2)",
];

/// Evaluates a layout written in the text syntax.
///
/// FIXME: a stand-in for `layout::parse_register_layout` until the layout module lands.
pub(super) fn layout(text: &str) -> Option<RegisterLayout> {
    let mut factors = Vec::new();
    for part in text.split(").") {
        let part = part.trim_end_matches(')');
        let (name, arguments) = part.split_once('(')?;
        let mut sizes = Vec::new();
        let mut workers = None;
        for argument in arguments.split(',') {
            let argument = argument.trim();
            match argument.strip_prefix("num_workers=") {
                Some(count) => workers = Some(count.parse::<usize>().ok()?),
                None => sizes.push(argument.parse::<usize>().ok()?),
            }
        }
        factors.push((name.to_string(), sizes, workers));
    }
    let rank = factors.first()?.1.len();
    let mut shape = vec![1usize; rank];
    let mut mode_shape = Vec::new();
    // mode_of[factor][dim] is the mode of that factor's extent along dim, if the extent is above 1.
    let mut mode_of = vec![vec![None; rank]; factors.len()];
    for dim in 0..rank {
        for (position, (_, sizes, _)) in factors.iter().enumerate() {
            let extent = *sizes.get(dim)?;
            shape[dim] *= extent;
            if extent > 1 {
                mode_of[position][dim] = Some(mode_shape.len());
                mode_shape.push(extent);
            }
        }
    }
    let mut spatial_modes = Vec::new();
    let mut local_modes = Vec::new();
    for (position, (name, _, workers)) in factors.iter().enumerate() {
        let row_major: Vec<usize> = mode_of[position].iter().flatten().copied().collect();
        let column_major: Vec<usize> = row_major.iter().rev().copied().collect();
        match name.as_str() {
            "local" => local_modes.extend(row_major),
            "column_local" => local_modes.extend(column_major),
            "spatial" => spatial_modes.extend(row_major.iter().map(|&mode| mode as isize)),
            "column_spatial" => spatial_modes.extend(column_major.iter().map(|&mode| mode as isize)),
            "replicated" => {
                spatial_modes.push(-(*workers.as_ref()? as isize));
                local_modes.extend(row_major);
            }
            _ => return None,
        }
    }
    Some(RegisterLayout::from_modes_unchecked(shape, mode_shape, spatial_modes, local_modes))
}
