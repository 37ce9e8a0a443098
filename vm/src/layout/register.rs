//! Register layouts: a map from (thread, local slot) to a logical index of a tile, in Tilus's mode form.

// The mode form.
// Every dimension of the shape is split into *modes*: `mode_shape` lists them, dimension 0's modes first,
// and a dimension's index is row-major over its modes.
// A thread id is row-major over the entries of `spatial_modes`; an entry is either a mode or `-k`, which
// stands for `k` replica threads that hold the same elements.
// A local slot is row-major over the modes of `local_modes`.
// Every mode is used exactly once, either by `spatial_modes` or by `local_modes`.
//
// Canonical form.
// Many mode forms describe the same map: a mode of size 1 changes nothing, two modes next to each other in
// one dimension that are also next to each other in the same list (spatial or local) act as one mode of
// their product size, and two neighbouring replica entries act as one.
// `RegisterLayout::new` removes the first and merges the others until nothing changes, so two layouts with
// the same map have the same fields and the derived `PartialEq` compares maps.
// In canonical form every mode has size > 1, so the modes of each dimension can be found again from the
// shape alone (`grouped_modes`).

use super::error::{LayoutError, LayoutResult};

/// A register layout in canonical mode form (Tilus's `register_layout(shape, mode_shape, spatial_modes,
/// local_modes)`).
///
/// Every dimension of `shape` is split into consecutive *modes* (`mode_shape`, dimension 0's modes first,
/// each dimension row-major over its modes). A thread id is row-major over the modes listed in
/// `spatial_modes`, a local slot is row-major over the modes in `local_modes`; a negative entry `-k` in
/// `spatial_modes` adds `k` replica threads that hold the same elements.
///
/// Values are always canonical (see [`RegisterLayout::new`]), so `==` compares the maps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegisterLayout {
    /// The logical shape; every entry is at least 1.
    shape: Vec<usize>,
    /// The modes, dimension by dimension; canonical: every entry is greater than 1.
    mode_shape: Vec<usize>,
    /// Thread-id digits, most significant first: a mode index, or `-k` for `k` replicas (`k > 1`).
    spatial_modes: Vec<isize>,
    /// Local-slot digits, most significant first: mode indices.
    local_modes: Vec<usize>,
}

impl RegisterLayout {
    /// Builds a layout from its mode form (Tilus's `register_layout`), checks it and canonicalises it.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when a size is zero, the modes do not split the shape dimension by
    /// dimension, a mode index is out of range, or a mode is used twice or not at all.
    pub fn new(
        shape: Vec<usize>,
        mode_shape: Vec<usize>,
        spatial_modes: Vec<isize>,
        local_modes: Vec<usize>,
    ) -> LayoutResult<RegisterLayout> {
        validate(&shape, &mode_shape, &spatial_modes, &local_modes)?;
        let mut layout = RegisterLayout { shape, mode_shape, spatial_modes, local_modes };
        layout.canonicalise();
        Ok(layout)
    }

    /// The tile's logical shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The canonical modes, dimension by dimension.
    pub fn mode_shape(&self) -> &[usize] {
        &self.mode_shape
    }

    /// The canonical thread-id digits (mode indices, or `-k` for `k` replicas), most significant first.
    pub fn spatial_modes(&self) -> &[isize] {
        &self.spatial_modes
    }

    /// The canonical local-slot digits (mode indices), most significant first.
    pub fn local_modes(&self) -> &[usize] {
        &self.local_modes
    }

    /// Number of elements of the tile (the product of the shape).
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of threads T (replicas included).
    pub fn num_threads(&self) -> usize {
        self.spatial_shape().iter().product()
    }

    /// Number of local slots L each thread holds.
    pub fn local_size(&self) -> usize {
        self.local_shape().iter().product()
    }

    /// Whether some element is held by more than one thread.
    pub fn is_replicated(&self) -> bool {
        self.spatial_modes.iter().any(|&entry| entry < 0)
    }

    /// The sizes of the thread-id digits (a replica entry `-k` has size `k`).
    pub fn spatial_shape(&self) -> Vec<usize> {
        self.spatial_modes.iter().map(|&entry| self.spatial_entry_size(entry)).collect()
    }

    /// The sizes of the local-slot digits.
    pub fn local_shape(&self) -> Vec<usize> {
        self.local_modes.iter().map(|&mode| self.mode_shape[mode]).collect()
    }

    /// The mode indices of each dimension, in order (empty for a dimension of size 1).
    pub fn grouped_modes(&self) -> Vec<Vec<usize>> {
        // Canonical modes are all > 1 and split the shape exactly, so the greedy split cannot fail.
        group_modes(&self.shape, &self.mode_shape).unwrap_or_default()
    }

    /// The logical multi-index that thread `thread` holds in local slot `local`.
    ///
    /// # Errors
    /// [`LayoutError::OutOfRange`] when `thread >= T` or `local >= L`.
    pub fn map(&self, thread: usize, local: usize) -> LayoutResult<Vec<usize>> {
        check_range("thread", thread, self.num_threads())?;
        check_range("local slot", local, self.local_size())?;
        let mut mode_index = vec![0; self.mode_shape.len()];
        let thread_digits = split_row_major(thread, &self.spatial_shape());
        for (&entry, digit) in self.spatial_modes.iter().zip(thread_digits) {
            if let Ok(mode) = usize::try_from(entry) {
                mode_index[mode] = digit;
            }
        }
        let local_digits = split_row_major(local, &self.local_shape());
        for (&mode, digit) in self.local_modes.iter().zip(local_digits) {
            mode_index[mode] = digit;
        }
        Ok(self
            .grouped_modes()
            .iter()
            .map(|group| {
                let digits: Vec<usize> = group.iter().map(|&mode| mode_index[mode]).collect();
                let sizes: Vec<usize> = group.iter().map(|&mode| self.mode_shape[mode]).collect();
                join_row_major(&digits, &sizes)
            })
            .collect())
    }

    /// Every `(thread, local slot)` that holds the logical index `index`, threads ascending.
    ///
    /// A non-replicated layout gives exactly one pair.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when `index` has the wrong rank, [`LayoutError::OutOfRange`] when a
    /// coordinate is outside the shape.
    pub fn inverse(&self, index: &[usize]) -> LayoutResult<Vec<(usize, usize)>> {
        if index.len() != self.shape.len() {
            return Err(LayoutError::invalid(format!(
                "index {index:?} has rank {}, the layout has rank {}",
                index.len(),
                self.shape.len()
            )));
        }
        let mut mode_index = vec![0; self.mode_shape.len()];
        for ((&coordinate, &extent), group) in index.iter().zip(&self.shape).zip(self.grouped_modes()) {
            check_range("index", coordinate, extent)?;
            let sizes: Vec<usize> = group.iter().map(|&mode| self.mode_shape[mode]).collect();
            for (mode, digit) in group.iter().zip(split_row_major(coordinate, &sizes)) {
                mode_index[*mode] = digit;
            }
        }
        let local_digits: Vec<usize> = self.local_modes.iter().map(|&mode| mode_index[mode]).collect();
        let local = join_row_major(&local_digits, &self.local_shape());

        // Enumerate the replica digits; the others are fixed by the index.
        let spatial_shape = self.spatial_shape();
        let replica_count: usize = self
            .spatial_modes
            .iter()
            .filter(|&&entry| entry < 0)
            .map(|&entry| entry.unsigned_abs())
            .product();
        let mut pairs = Vec::with_capacity(replica_count);
        for replica in 0..replica_count {
            let mut remaining = replica;
            let mut digits = vec![0; self.spatial_modes.len()];
            for (position, &entry) in self.spatial_modes.iter().enumerate().rev() {
                digits[position] = match usize::try_from(entry) {
                    Ok(mode) => mode_index[mode],
                    Err(_) => {
                        let size = entry.unsigned_abs();
                        let digit = remaining % size;
                        remaining /= size;
                        digit
                    }
                };
            }
            pairs.push((join_row_major(&digits, &spatial_shape), local));
        }
        pairs.sort_unstable();
        Ok(pairs)
    }

    /// The whole map as a table: `table[thread][slot]` is the logical multi-index held there.
    pub fn mapping(&self) -> Vec<Vec<Vec<usize>>> {
        let local_size = self.local_size();
        (0..self.num_threads())
            .map(|thread| (0..local_size).map(|local| self.map(thread, local).unwrap_or_default()).collect())
            .collect()
    }

    /// The same map over another shape with the same non-1 dimensions in order (squeeze and unsqueeze).
    pub(crate) fn with_shape(&self, shape: Vec<usize>) -> LayoutResult<RegisterLayout> {
        RegisterLayout::new(
            shape,
            self.mode_shape.clone(),
            self.spatial_modes.clone(),
            self.local_modes.clone(),
        )
    }

    fn spatial_entry_size(&self, entry: isize) -> usize {
        match usize::try_from(entry) {
            Ok(mode) => self.mode_shape[mode],
            Err(_) => entry.unsigned_abs(),
        }
    }

    /// Rewrites the fields into canonical form (see the essay at the top of this file).
    fn canonicalise(&mut self) {
        self.remove_singletons();
        loop {
            let merged_replicas = self.merge_replicas();
            let merged_modes = self.merge_modes();
            if !merged_replicas && !merged_modes {
                break;
            }
        }
    }

    fn remove_singletons(&mut self) {
        let mut renumber = vec![None; self.mode_shape.len()];
        let mut kept = Vec::new();
        for (mode, &size) in self.mode_shape.iter().enumerate() {
            if size > 1 {
                renumber[mode] = Some(kept.len());
                kept.push(size);
            }
        }
        self.mode_shape = kept;
        self.spatial_modes = self
            .spatial_modes
            .iter()
            .filter_map(|&entry| match usize::try_from(entry) {
                Ok(mode) => renumber[mode].map(|new| new as isize),
                Err(_) => (entry < -1).then_some(entry),
            })
            .collect();
        self.local_modes = self.local_modes.iter().filter_map(|&mode| renumber[mode]).collect();
    }

    /// Merges neighbouring replica entries; reports whether anything changed.
    fn merge_replicas(&mut self) -> bool {
        let mut merged: Vec<isize> = Vec::with_capacity(self.spatial_modes.len());
        let mut changed = false;
        for &entry in &self.spatial_modes {
            match merged.last_mut() {
                Some(last) if *last < 0 && entry < 0 => {
                    *last = -(*last * entry);
                    changed = true;
                }
                _ => merged.push(entry),
            }
        }
        self.spatial_modes = merged;
        changed
    }

    /// Merges the first pair of modes that neighbour in a dimension and in a list; reports whether it did.
    fn merge_modes(&mut self) -> bool {
        // Where each mode sits: (is spatial, position in its list).
        let mut place = vec![(false, 0); self.mode_shape.len()];
        for (position, &entry) in self.spatial_modes.iter().enumerate() {
            if let Ok(mode) = usize::try_from(entry) {
                place[mode] = (true, position);
            }
        }
        for (position, &mode) in self.local_modes.iter().enumerate() {
            place[mode] = (false, position);
        }
        for group in self.grouped_modes() {
            for pair in group.windows(2) {
                let (outer, inner) = (pair[0], pair[1]);
                if place[outer].0 == place[inner].0 && place[outer].1 + 1 == place[inner].1 {
                    self.merge_pair(outer, inner, place[outer]);
                    return true;
                }
            }
        }
        false
    }

    /// Merges mode `inner` (= `outer + 1`) into `outer`, which sits at `place` in its list.
    fn merge_pair(&mut self, outer: usize, inner: usize, place: (bool, usize)) {
        self.mode_shape[outer] *= self.mode_shape[inner];
        self.mode_shape.remove(inner);
        let (is_spatial, position) = place;
        if is_spatial {
            self.spatial_modes.remove(position + 1);
        } else {
            self.local_modes.remove(position + 1);
        }
        let renumber = |mode: usize| if mode > inner { mode - 1 } else { mode };
        for entry in &mut self.spatial_modes {
            if let Ok(mode) = usize::try_from(*entry) {
                *entry = renumber(mode) as isize;
            }
        }
        for mode in &mut self.local_modes {
            *mode = renumber(*mode);
        }
    }
}

/// Checks a mode form: sizes, the split of the shape into modes, and that each mode is used once.
fn validate(
    shape: &[usize],
    mode_shape: &[usize],
    spatial_modes: &[isize],
    local_modes: &[usize],
) -> LayoutResult<()> {
    if shape.contains(&0) || mode_shape.contains(&0) {
        return Err(LayoutError::invalid(format!(
            "sizes must be positive: shape {shape:?}, modes {mode_shape:?}"
        )));
    }
    let nontrivial: Vec<usize> = mode_shape.iter().copied().filter(|&size| size > 1).collect();
    if group_modes(shape, &nontrivial).is_none() {
        return Err(LayoutError::invalid(format!(
            "mode_shape {mode_shape:?} does not split shape {shape:?} dimension by dimension"
        )));
    }
    let mut used = vec![false; mode_shape.len()];
    let mut use_mode = |mode: usize| -> LayoutResult<()> {
        match used.get_mut(mode) {
            None => Err(LayoutError::invalid(format!(
                "mode {mode} is out of range for mode_shape {mode_shape:?}"
            ))),
            Some(true) => Err(LayoutError::invalid(format!("mode {mode} is used twice"))),
            Some(flag) => {
                *flag = true;
                Ok(())
            }
        }
    };
    for &entry in spatial_modes {
        match usize::try_from(entry) {
            Ok(mode) => use_mode(mode)?,
            Err(_) => {
                // Replica entries multiply T; keep them bounded like sizes are.
                if entry.unsigned_abs() > u32::MAX as usize {
                    return Err(LayoutError::invalid(format!("replica count {entry} is too large")));
                }
            }
        }
    }
    for &mode in local_modes {
        use_mode(mode)?;
    }
    if let Some(mode) = used.iter().position(|&flag| !flag) {
        return Err(LayoutError::invalid(format!("mode {mode} is in neither spatial_modes nor local_modes")));
    }
    let threads = spatial_modes.iter().try_fold(1usize, |product, &entry| {
        let size = usize::try_from(entry).map_or(entry.unsigned_abs(), |mode| mode_shape[mode]);
        product.checked_mul(size)
    });
    let elements = shape.iter().try_fold(1usize, |product, &size| product.checked_mul(size));
    match (threads, elements) {
        // Bounded by isize::MAX so that replica entries and mode sizes stay representable as isize.
        (Some(threads), Some(elements))
            if threads.checked_mul(elements).is_some_and(|cells| cells <= isize::MAX as usize) =>
        {
            Ok(())
        }
        _ => Err(LayoutError::invalid("the layout is too large")),
    }
}

/// Splits `mode_shape` (all entries > 1) into consecutive groups whose products are the dimensions of
/// `shape`; `None` when that is impossible.
pub(crate) fn group_modes(shape: &[usize], mode_shape: &[usize]) -> Option<Vec<Vec<usize>>> {
    let mut next = 0;
    let mut groups = Vec::with_capacity(shape.len());
    for &extent in shape {
        let mut remaining = extent;
        let mut group = Vec::new();
        while remaining > 1 {
            let size = *mode_shape.get(next)?;
            if size <= 1 || remaining % size != 0 {
                return None;
            }
            remaining /= size;
            group.push(next);
            next += 1;
        }
        groups.push(group);
    }
    (next == mode_shape.len()).then_some(groups)
}

fn check_range(what: &'static str, value: usize, bound: usize) -> LayoutResult<()> {
    if value < bound { Ok(()) } else { Err(LayoutError::OutOfRange { what, value, bound }) }
}

/// The row-major digits of `value` over `sizes` (the first digit is the most significant).
pub(crate) fn split_row_major(mut value: usize, sizes: &[usize]) -> Vec<usize> {
    let mut digits = vec![0; sizes.len()];
    for (digit, &size) in digits.iter_mut().zip(sizes).rev() {
        *digit = value % size;
        value /= size;
    }
    digits
}

/// The value of row-major `digits` over `sizes`.
pub(crate) fn join_row_major(digits: &[usize], sizes: &[usize]) -> usize {
    digits.iter().zip(sizes).fold(0, |value, (&digit, &size)| value * size + digit)
}
