//! Register layouts: a map from (thread, local slot) to a logical index of a tile, in Tilus's mode form.

/// A register layout in canonical mode form (as Tilus's `register_layout(shape, mode_shape, spatial_modes,
/// local_modes)`).
///
/// Every dimension of `shape` is split into consecutive *modes* (`mode_shape`, dimension 0's modes first,
/// each dimension row-major over its modes). A thread id is row-major over the modes listed in
/// `spatial_modes`, a local slot is row-major over the modes in `local_modes`; a negative entry `-k` in
/// `spatial_modes` adds `k` replica threads that hold the same elements.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegisterLayout {
    shape: Vec<usize>,
    mode_shape: Vec<usize>,
    spatial_modes: Vec<isize>,
    local_modes: Vec<usize>,
}

impl RegisterLayout {
    /// Builds a layout from its mode form without checking it; the parts must be consistent.
    pub fn from_modes_unchecked(
        shape: Vec<usize>,
        mode_shape: Vec<usize>,
        spatial_modes: Vec<isize>,
        local_modes: Vec<usize>,
    ) -> RegisterLayout {
        RegisterLayout { shape, mode_shape, spatial_modes, local_modes }
    }

    /// The tile's logical shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of threads T (replicas included).
    pub fn num_threads(&self) -> usize {
        self.spatial_modes
            .iter()
            .map(|&mode| if mode < 0 { mode.unsigned_abs() } else { self.mode_shape[mode as usize] })
            .product()
    }

    /// Number of local slots L each thread holds.
    pub fn local_size(&self) -> usize {
        self.local_modes.iter().map(|&mode| self.mode_shape[mode]).product()
    }
}
