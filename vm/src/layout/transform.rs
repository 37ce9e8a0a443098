//! Operations that build a register layout from others: product, concat, reduce, permute, squeeze,
//! unsqueeze and reshape.

// Every operation works on the canonical mode form: it renumbers modes, edits the spatial and local lists,
// and hands the result to `RegisterLayout::new`, which checks and canonicalises it again.

use std::ops::Mul;

use super::error::{LayoutError, LayoutResult};
use super::primitives::check_permutation;
use super::register::RegisterLayout;

impl RegisterLayout {
    /// The product `self * inner` (Tilus's `compose`; `self` is the outer layout).
    ///
    /// The lower-rank operand is padded with leading size-1 dimensions. The shape is the elementwise
    /// product, T and L multiply, and `map(to·Ti + ti, lo·Li + li) = self.map(to, lo) * inner.shape +
    /// inner.map(ti, li)`.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when the result is too large.
    pub fn product(&self, inner: &RegisterLayout) -> LayoutResult<RegisterLayout> {
        let rank = self.shape().len().max(inner.shape().len());
        let outer = self.unsqueeze_leading(rank)?;
        let inner = inner.unsqueeze_leading(rank)?;
        let mut shape = Vec::with_capacity(rank);
        for (&a, &b) in outer.shape().iter().zip(inner.shape()) {
            shape.push(a.checked_mul(b).ok_or_else(|| LayoutError::invalid("the product is too large"))?);
        }
        // New mode order: per dimension, the outer layout's modes, then the inner layout's.
        let mut outer_renumber = vec![0; outer.mode_shape().len()];
        let mut inner_renumber = vec![0; inner.mode_shape().len()];
        let mut mode_shape = Vec::new();
        for (outer_group, inner_group) in outer.grouped_modes().iter().zip(inner.grouped_modes()) {
            for &mode in outer_group {
                outer_renumber[mode] = mode_shape.len();
                mode_shape.push(outer.mode_shape()[mode]);
            }
            for &mode in &inner_group {
                inner_renumber[mode] = mode_shape.len();
                mode_shape.push(inner.mode_shape()[mode]);
            }
        }
        let mut spatial_modes = renumber_spatial(outer.spatial_modes(), &outer_renumber);
        spatial_modes.extend(renumber_spatial(inner.spatial_modes(), &inner_renumber));
        let mut local_modes: Vec<usize> =
            outer.local_modes().iter().map(|&mode| outer_renumber[mode]).collect();
        local_modes.extend(inner.local_modes().iter().map(|&mode| inner_renumber[mode]));
        RegisterLayout::new(shape, mode_shape, spatial_modes, local_modes)
    }

    /// `concat(self, other)`: the logical index is self's index followed by other's, `t = ta·Tb + tb`,
    /// `l = la·Lb + lb`.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when the result is too large.
    pub fn concat(&self, other: &RegisterLayout) -> LayoutResult<RegisterLayout> {
        let offset = self.mode_shape().len();
        let mut shape = self.shape().to_vec();
        shape.extend_from_slice(other.shape());
        let mut mode_shape = self.mode_shape().to_vec();
        mode_shape.extend_from_slice(other.mode_shape());
        let mut spatial_modes = self.spatial_modes().to_vec();
        spatial_modes.extend(
            other
                .spatial_modes()
                .iter()
                .map(|&entry| if entry >= 0 { entry + offset as isize } else { entry }),
        );
        let mut local_modes = self.local_modes().to_vec();
        local_modes.extend(other.local_modes().iter().map(|&mode| mode + offset));
        RegisterLayout::new(shape, mode_shape, spatial_modes, local_modes)
    }

    /// `reduce(self, dims, keepdims)`: the dimensions `dims` disappear (or become size 1 with `keepdims`).
    /// Their local modes go away and their spatial modes become replicas, so T is unchanged and the
    /// threads that spread a reduced dimension hold the same elements.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when a dim is out of range or repeated.
    pub fn reduce(&self, dims: &[usize], keepdims: bool) -> LayoutResult<RegisterLayout> {
        let rank = self.shape().len();
        let reduced = dim_flags(dims, rank, "reduce")?;
        let groups = self.grouped_modes();
        let mut renumber = vec![None; self.mode_shape().len()];
        let mut mode_shape = Vec::new();
        for (dim, group) in groups.iter().enumerate() {
            if !reduced[dim] {
                for &mode in group {
                    renumber[mode] = Some(mode_shape.len());
                    mode_shape.push(self.mode_shape()[mode]);
                }
            }
        }
        let spatial_modes = self
            .spatial_modes()
            .iter()
            .map(|&entry| match usize::try_from(entry) {
                Ok(mode) => match renumber[mode] {
                    Some(new) => new as isize,
                    None => -(self.mode_shape()[mode] as isize),
                },
                Err(_) => entry,
            })
            .collect();
        let local_modes = self.local_modes().iter().filter_map(|&mode| renumber[mode]).collect();
        let shape = (0..rank)
            .filter_map(|dim| match (reduced[dim], keepdims) {
                (false, _) => Some(self.shape()[dim]),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        RegisterLayout::new(shape, mode_shape, spatial_modes, local_modes)
    }

    /// `permute(self, dims)`: dimension i of the result is dimension `dims[i]` of `self`.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when `dims` is not a permutation of the dimensions.
    pub fn permute(&self, dims: &[usize]) -> LayoutResult<RegisterLayout> {
        check_permutation(dims, self.shape().len(), "permute dims")?;
        let groups = self.grouped_modes();
        let mut renumber = vec![0; self.mode_shape().len()];
        let mut mode_shape = Vec::new();
        for &dim in dims {
            for &mode in &groups[dim] {
                renumber[mode] = mode_shape.len();
                mode_shape.push(self.mode_shape()[mode]);
            }
        }
        let shape = dims.iter().map(|&dim| self.shape()[dim]).collect();
        let spatial_modes = renumber_spatial(self.spatial_modes(), &renumber);
        let local_modes = self.local_modes().iter().map(|&mode| renumber[mode]).collect();
        RegisterLayout::new(shape, mode_shape, spatial_modes, local_modes)
    }

    /// `squeeze(self, dims)`: removes the listed dimensions, which must have size 1.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when a dim is out of range, repeated, or not of size 1.
    pub fn squeeze(&self, dims: &[usize]) -> LayoutResult<RegisterLayout> {
        let removed = dim_flags(dims, self.shape().len(), "squeeze")?;
        if let Some(&dim) = dims.iter().find(|&&dim| self.shape()[dim] != 1) {
            return Err(LayoutError::invalid(format!(
                "squeeze: dimension {dim} has size {}, not 1",
                self.shape()[dim]
            )));
        }
        let shape =
            self.shape().iter().zip(&removed).filter(|&(_, &gone)| !gone).map(|(&size, _)| size).collect();
        self.with_shape(shape)
    }

    /// `unsqueeze(self, dims)`: inserts size-1 dimensions at the listed positions of the result.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when a position is out of range or repeated.
    pub fn unsqueeze(&self, dims: &[usize]) -> LayoutResult<RegisterLayout> {
        let rank = self.shape().len() + dims.len();
        let inserted = dim_flags(dims, rank, "unsqueeze")?;
        let mut old = self.shape().iter();
        let shape =
            inserted.iter().map(|&new| if new { 1 } else { old.next().copied().unwrap_or(1) }).collect();
        self.with_shape(shape)
    }

    /// `reshape(self, shape)`: every (thread, slot) keeps its row-major flat offset.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when the sizes differ or a mode would have to be split across dimensions in
    /// a way that is not a plain split (the map is then not a layout of this form).
    pub fn reshape(&self, shape: &[usize]) -> LayoutResult<RegisterLayout> {
        let new_size = shape.iter().try_fold(1usize, |product, &size| product.checked_mul(size));
        if shape.contains(&0) || new_size != Some(self.size()) {
            return Err(LayoutError::invalid(format!(
                "cannot reshape a layout of shape {:?} to shape {shape:?}",
                self.shape()
            )));
        }
        // Flatten first so that modes of neighbouring dimensions merge where they can, then walk the modes
        // (row-major over the whole tile) and cut them at the new dimension boundaries.
        let flat = self.with_shape(vec![self.size()])?;
        let mut pieces: Vec<Vec<usize>> = Vec::with_capacity(self.mode_shape().len());
        let mut dims = shape.iter().copied().filter(|&size| size > 1);
        let mut room = 1;
        for &mode_size in flat.mode_shape() {
            let mut left = mode_size;
            let mut mode_pieces = Vec::new();
            while left > 1 {
                if room == 1 {
                    room = dims.next().ok_or_else(|| self.reshape_error(shape))?;
                }
                let piece = if room % left == 0 {
                    left
                } else if left % room == 0 {
                    room
                } else {
                    return Err(self.reshape_error(shape));
                };
                mode_pieces.push(piece);
                left /= piece;
                room /= piece;
            }
            pieces.push(mode_pieces);
        }
        let mut first_piece = Vec::with_capacity(pieces.len());
        let mut mode_shape = Vec::new();
        for mode_pieces in &pieces {
            first_piece.push(mode_shape.len());
            mode_shape.extend_from_slice(mode_pieces);
        }
        let expand = |mode: usize| first_piece[mode]..first_piece[mode] + pieces[mode].len();
        let mut spatial_modes = Vec::new();
        for &entry in flat.spatial_modes() {
            match usize::try_from(entry) {
                Ok(mode) => spatial_modes.extend(expand(mode).map(|new| new as isize)),
                Err(_) => spatial_modes.push(entry),
            }
        }
        let local_modes = flat.local_modes().iter().flat_map(|&mode| expand(mode)).collect();
        RegisterLayout::new(shape.to_vec(), mode_shape, spatial_modes, local_modes)
    }

    /// The layout padded with leading size-1 dimensions up to `rank`.
    pub(crate) fn unsqueeze_leading(&self, rank: usize) -> LayoutResult<RegisterLayout> {
        let missing = rank.saturating_sub(self.shape().len());
        let mut shape = vec![1; missing];
        shape.extend_from_slice(self.shape());
        self.with_shape(shape)
    }

    fn reshape_error(&self, shape: &[usize]) -> LayoutError {
        LayoutError::invalid(format!(
            "cannot reshape {self} to shape {shape:?}: a mode straddles a dimension"
        ))
    }
}

impl Mul for &RegisterLayout {
    type Output = LayoutResult<RegisterLayout>;

    /// `a * b` is [`RegisterLayout::product`].
    fn mul(self, inner: &RegisterLayout) -> LayoutResult<RegisterLayout> {
        self.product(inner)
    }
}

/// Renumbers the mode entries of a spatial list, keeping replica entries.
pub(crate) fn renumber_spatial(spatial_modes: &[isize], renumber: &[usize]) -> Vec<isize> {
    spatial_modes
        .iter()
        .map(|&entry| usize::try_from(entry).map_or(entry, |mode| renumber[mode] as isize))
        .collect()
}

/// One flag per dimension of a rank-`rank` layout, set for the dims listed.
fn dim_flags(dims: &[usize], rank: usize, what: &str) -> LayoutResult<Vec<bool>> {
    let mut flags = vec![false; rank];
    for &dim in dims {
        match flags.get_mut(dim) {
            Some(flag) if !*flag => *flag = true,
            Some(_) => return Err(LayoutError::invalid(format!("{what}: dimension {dim} is listed twice"))),
            None => {
                return Err(LayoutError::invalid(format!(
                    "{what}: dimension {dim} is out of range for rank {rank}"
                )));
            }
        }
    }
    Ok(flags)
}
