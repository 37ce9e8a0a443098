//! Shared-memory layouts: a map from a logical index of a tile to an element offset in shared memory.
//!
//! The forms are strided (row-major, column-major, padded rows and any strides), an XOR swizzle of
//! another layout, and the product of two layouts, which tiles the inner layout inside the outer one the
//! way register layouts do.

use std::fmt;

use super::error::{LayoutError, LayoutResult};

/// A shared-memory layout: logical index → element offset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SharedLayout {
    /// The tile's logical shape.
    shape: Vec<usize>,
    /// How offsets are computed.
    form: SharedForm,
}

/// How a [`SharedLayout`] computes offsets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SharedForm {
    /// `offset = Σ index[d] · strides[d]`.
    Strided {
        /// One stride per dimension, in elements.
        strides: Vec<usize>,
    },
    /// CUTLASS's `Swizzle<bits, base, shift>` over `inner`'s offsets: the `bits` bits at position
    /// `base + shift` are XORed into the bits at position `base`.
    Swizzle {
        /// The layout whose offsets are permuted.
        inner: Box<SharedLayout>,
        /// How many bits are XORed.
        bits: u32,
        /// The lowest bit that changes (elements in a run of `2^base` stay together).
        base: u32,
        /// How far above `base` the bits that pick the XOR mask sit; at least `bits`.
        shift: u32,
    },
    /// `offset = outer.offset(index / inner.shape) · inner.size + inner.offset(index % inner.shape)`.
    Product {
        /// The layout of the tiles.
        outer: Box<SharedLayout>,
        /// The layout inside one tile.
        inner: Box<SharedLayout>,
    },
}

impl SharedLayout {
    /// `row_major(shape...)`: the last dimension is contiguous.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when a size is zero or the tile is too large.
    pub fn row_major(shape: &[usize]) -> LayoutResult<SharedLayout> {
        SharedLayout::padded(shape, 0)
    }

    /// `column_major(shape...)`: the first dimension is contiguous.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when a size is zero or the tile is too large.
    pub fn column_major(shape: &[usize]) -> LayoutResult<SharedLayout> {
        let mut strides = vec![0; shape.len()];
        let mut stride = 1usize;
        for (dim, &size) in shape.iter().enumerate() {
            strides[dim] = stride;
            stride = stride.checked_mul(size).ok_or_else(too_large)?;
        }
        SharedLayout::strided(shape, &strides)
    }

    /// `padded(shape..., pad=p)`: row-major with `p` unused elements after every row (the last
    /// dimension), the usual way to avoid bank conflicts.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when a size is zero or the tile is too large.
    pub fn padded(shape: &[usize], pad: usize) -> LayoutResult<SharedLayout> {
        let mut strides = vec![0; shape.len()];
        let mut stride = 1usize;
        for (dim, &size) in shape.iter().enumerate().rev() {
            strides[dim] = stride;
            let extent =
                if dim + 1 == shape.len() { size.checked_add(pad).ok_or_else(too_large)? } else { size };
            stride = stride.checked_mul(extent).ok_or_else(too_large)?;
        }
        SharedLayout::strided(shape, &strides)
    }

    /// `strided(shape=[...], strides=[...])`: any strides, in elements.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when the lengths differ, a size is zero or the tile is too large.
    pub fn strided(shape: &[usize], strides: &[usize]) -> LayoutResult<SharedLayout> {
        if shape.len() != strides.len() {
            return Err(LayoutError::invalid(format!(
                "strided: shape {shape:?} and strides {strides:?} have different lengths"
            )));
        }
        check_shape(shape)?;
        let layout =
            SharedLayout { shape: shape.to_vec(), form: SharedForm::Strided { strides: strides.to_vec() } };
        layout.checked_size()?;
        Ok(layout)
    }

    /// `swizzle(inner, bits=B, base=M, shift=S)`: XORs bits `[M+S, M+S+B)` of each offset into bits
    /// `[M, M+B)`, a bijection on every aligned block of `2^(M+S+B)` elements.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when `shift < bits` (the map would not be a bijection) or the bit positions
    /// exceed 32.
    pub fn swizzle(inner: SharedLayout, bits: u32, base: u32, shift: u32) -> LayoutResult<SharedLayout> {
        if shift < bits {
            return Err(LayoutError::invalid(format!("swizzle: shift {shift} must be at least bits {bits}")));
        }
        if bits + base + shift > 32 {
            return Err(LayoutError::invalid("swizzle: bits + base + shift must be at most 32"));
        }
        let layout = SharedLayout {
            shape: inner.shape.clone(),
            form: SharedForm::Swizzle { inner: Box::new(inner), bits, base, shift },
        };
        layout.checked_size()?;
        Ok(layout)
    }

    /// The product `outer * inner`: `inner` tiles of `outer`'s shape; lower ranks get leading 1s.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when the tile is too large.
    pub fn product(&self, inner: &SharedLayout) -> LayoutResult<SharedLayout> {
        let rank = self.shape.len().max(inner.shape.len());
        let outer = self.with_leading_ones(rank);
        let inner = inner.with_leading_ones(rank);
        let mut shape = Vec::with_capacity(rank);
        for (&a, &b) in outer.shape.iter().zip(&inner.shape) {
            shape.push(a.checked_mul(b).ok_or_else(too_large)?);
        }
        let layout = SharedLayout {
            shape,
            form: SharedForm::Product { outer: Box::new(outer), inner: Box::new(inner) },
        };
        layout.checked_size()?;
        Ok(layout)
    }

    /// The tile's logical shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// How offsets are computed.
    pub fn form(&self) -> &SharedForm {
        &self.form
    }

    /// The number of elements of storage the layout needs: one more than the largest offset.
    pub fn size(&self) -> usize {
        self.checked_size().unwrap_or(usize::MAX)
    }

    /// The element offset of the logical index `index`.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] for an index of the wrong rank, [`LayoutError::OutOfRange`] for a
    /// coordinate outside the shape.
    pub fn offset(&self, index: &[usize]) -> LayoutResult<usize> {
        if index.len() != self.shape.len() {
            return Err(LayoutError::invalid(format!(
                "index {index:?} has rank {}, the layout has rank {}",
                index.len(),
                self.shape.len()
            )));
        }
        for (&coordinate, &extent) in index.iter().zip(&self.shape) {
            if coordinate >= extent {
                return Err(LayoutError::OutOfRange { what: "index", value: coordinate, bound: extent });
            }
        }
        Ok(self.offset_unchecked(index))
    }

    fn offset_unchecked(&self, index: &[usize]) -> usize {
        match &self.form {
            SharedForm::Strided { strides } => {
                index.iter().zip(strides).map(|(&i, &stride)| i * stride).sum()
            }
            SharedForm::Swizzle { inner, bits, base, shift } => {
                swizzle_offset(inner.offset_unchecked(index), *bits, *base, *shift)
            }
            SharedForm::Product { outer, inner } => {
                let outer_index: Vec<usize> =
                    index.iter().zip(&inner.shape).map(|(&i, &size)| i / size).collect();
                let inner_index: Vec<usize> =
                    index.iter().zip(&inner.shape).map(|(&i, &size)| i % size).collect();
                outer.offset_unchecked(&outer_index) * inner.size() + inner.offset_unchecked(&inner_index)
            }
        }
    }

    /// The storage size, or an error when it overflows (checked once, at construction).
    fn checked_size(&self) -> LayoutResult<usize> {
        match &self.form {
            SharedForm::Strided { strides } => {
                let mut largest = 0usize;
                for (&size, &stride) in self.shape.iter().zip(strides) {
                    let step = (size - 1).checked_mul(stride).ok_or_else(too_large)?;
                    largest = largest.checked_add(step).ok_or_else(too_large)?;
                }
                largest.checked_add(1).ok_or_else(too_large)
            }
            SharedForm::Swizzle { inner, bits, base, .. } => {
                // The XOR changes bits [base, base + bits) only, so offsets stay in their aligned block.
                let block = 1usize << (bits + base);
                let size = inner.checked_size()?;
                size.div_ceil(block).checked_mul(block).ok_or_else(too_large)
            }
            SharedForm::Product { outer, inner } => {
                outer.checked_size()?.checked_mul(inner.checked_size()?).ok_or_else(too_large)
            }
        }
    }

    fn with_leading_ones(&self, rank: usize) -> SharedLayout {
        let missing = rank.saturating_sub(self.shape.len());
        if missing == 0 {
            return self.clone();
        }
        let mut shape = vec![1; missing];
        shape.extend_from_slice(&self.shape);
        let form = match &self.form {
            SharedForm::Strided { strides } => {
                let mut padded = vec![0; missing];
                padded.extend_from_slice(strides);
                SharedForm::Strided { strides: padded }
            }
            SharedForm::Swizzle { inner, bits, base, shift } => SharedForm::Swizzle {
                inner: Box::new(inner.with_leading_ones(rank)),
                bits: *bits,
                base: *base,
                shift: *shift,
            },
            SharedForm::Product { outer, inner } => SharedForm::Product {
                outer: Box::new(outer.with_leading_ones(rank)),
                inner: Box::new(inner.with_leading_ones(rank)),
            },
        };
        SharedLayout { shape, form }
    }
}

/// CUTLASS's `Swizzle<bits, base, shift>` applied to one offset.
pub fn swizzle_offset(offset: usize, bits: u32, base: u32, shift: u32) -> usize {
    // Shifts past the word width mean "no such bits"; SharedLayout::swizzle keeps them below 32.
    let low_bits = 1usize.checked_shl(bits).map_or(usize::MAX, |bit| bit - 1);
    let mask = low_bits.checked_shl(base.saturating_add(shift)).unwrap_or(0);
    offset ^ (offset & mask).checked_shr(shift).unwrap_or(0)
}

impl fmt::Display for SharedLayout {
    /// Prints the layout in the text syntax that [`crate::layout::parse_shared_layout`] reads.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.form {
            SharedForm::Strided { strides } => {
                write!(formatter, "strided(shape={:?}, strides={strides:?})", self.shape)
            }
            SharedForm::Swizzle { inner, bits, base, shift } => {
                write!(formatter, "swizzle({inner}, bits={bits}, base={base}, shift={shift})")
            }
            SharedForm::Product { outer, inner } => write!(formatter, "compose({outer}, {inner})"),
        }
    }
}

fn check_shape(shape: &[usize]) -> LayoutResult<()> {
    if shape.contains(&0) {
        return Err(LayoutError::invalid(format!("sizes must be positive, got shape {shape:?}")));
    }
    Ok(())
}

fn too_large() -> LayoutError {
    LayoutError::invalid("the shared layout is too large")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(layout: &SharedLayout) -> Vec<usize> {
        let [rows, columns] = layout.shape() else { panic!("rank 2 expected") };
        (0..*rows)
            .flat_map(|row| (0..*columns).map(move |column| (row, column)))
            .map(|(row, column)| layout.offset(&[row, column]).unwrap())
            .collect()
    }

    #[test]
    fn row_and_column_major_offsets() {
        let row = SharedLayout::row_major(&[2, 3]).unwrap();
        assert_eq!(offsets(&row), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(row.size(), 6);
        let column = SharedLayout::column_major(&[2, 3]).unwrap();
        assert_eq!(offsets(&column), vec![0, 2, 4, 1, 3, 5]);
    }

    #[test]
    fn padded_rows_skip_the_padding() {
        let layout = SharedLayout::padded(&[3, 4], 1).unwrap();
        assert_eq!(layout.offset(&[1, 0]).unwrap(), 5);
        assert_eq!(layout.offset(&[2, 3]).unwrap(), 13);
        assert_eq!(layout.size(), 14);
    }

    #[test]
    fn swizzle_permutes_within_blocks() {
        // Swizzle<3, 3, 3> on an 8 x 64 tile: 8 runs of 8 elements per row, the run index XORed with the row.
        let layout = SharedLayout::swizzle(SharedLayout::row_major(&[8, 64]).unwrap(), 3, 3, 3).unwrap();
        assert_eq!(layout.offset(&[0, 0]).unwrap(), 0);
        assert_eq!(layout.offset(&[1, 0]).unwrap(), 64 + 8);
        assert_eq!(layout.offset(&[3, 17]).unwrap(), 3 * 64 + 8 + 1);
        let mut all = offsets(&layout);
        all.sort_unstable();
        assert_eq!(all, (0..512).collect::<Vec<_>>());
        assert!(SharedLayout::swizzle(SharedLayout::row_major(&[8, 8]).unwrap(), 3, 0, 2).is_err());
    }

    #[test]
    fn product_tiles_the_inner_layout() {
        let outer = SharedLayout::column_major(&[2, 2]).unwrap();
        let inner = SharedLayout::row_major(&[2, 3]).unwrap();
        let layout = outer.product(&inner).unwrap();
        assert_eq!(layout.shape(), &[4, 6]);
        assert_eq!(layout.size(), 24);
        // Tile (1, 0) is the second in column-major order, so it starts at 6.
        assert_eq!(layout.offset(&[2, 0]).unwrap(), 6);
        // Tile (1, 1) is the fourth; inside it (1, 2) is at 5.
        assert_eq!(layout.offset(&[3, 5]).unwrap(), 3 * 6 + 5);
        assert_eq!(layout.offset(&[0, 3]).unwrap(), 12);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(SharedLayout::row_major(&[0, 4]).is_err());
        assert!(SharedLayout::strided(&[2, 2], &[1]).is_err());
        assert!(SharedLayout::row_major(&[usize::MAX, 4]).is_err());
        let layout = SharedLayout::row_major(&[2, 2]).unwrap();
        assert!(layout.offset(&[2, 0]).is_err());
        assert!(layout.offset(&[0]).is_err());
    }
}
