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

impl RegisterLayout {
    /// The logical multi-index held by `thread` in local slot `local` (`thread < T`, `local < L`).
    pub fn map(&self, thread: usize, local: usize) -> Vec<usize> {
        let mut mode_index = vec![0usize; self.mode_shape.len()];
        let mut rest = thread;
        for &mode in self.spatial_modes.iter().rev() {
            let extent = if mode < 0 { mode.unsigned_abs() } else { self.mode_shape[mode as usize] };
            if mode >= 0 {
                mode_index[mode as usize] = rest % extent;
            }
            rest /= extent;
        }
        let mut rest = local;
        for &mode in self.local_modes.iter().rev() {
            mode_index[mode] = rest % self.mode_shape[mode];
            rest /= self.mode_shape[mode];
        }
        // Each dimension is row-major over its consecutive modes.
        let mut index = Vec::with_capacity(self.shape.len());
        let mut mode = 0;
        for &extent in &self.shape {
            let mut coordinate = 0;
            let mut covered = 1;
            while covered < extent && mode < self.mode_shape.len() {
                coordinate = coordinate * self.mode_shape[mode] + mode_index[mode];
                covered *= self.mode_shape[mode];
                mode += 1;
            }
            index.push(coordinate);
        }
        index
    }

    /// `local(shape...)`: one thread holds every element, row-major.
    pub fn local(shape: &[usize]) -> RegisterLayout {
        let modes: Vec<usize> = shape.iter().copied().filter(|&extent| extent > 1).collect();
        let local_modes = (0..modes.len()).collect();
        RegisterLayout::from_modes_unchecked(shape.to_vec(), modes, Vec::new(), local_modes)
    }

    /// `spatial(shape...)`: one element per thread, row-major over thread ids.
    pub fn spatial(shape: &[usize]) -> RegisterLayout {
        let modes: Vec<usize> = shape.iter().copied().filter(|&extent| extent > 1).collect();
        let spatial_modes = (0..modes.len() as isize).collect();
        RegisterLayout::from_modes_unchecked(shape.to_vec(), modes, spatial_modes, Vec::new())
    }
}
