//! Global views: strided layouts over a packed bit stream of elements of any width.
//!
//! Global memory is a little-endian bit stream in which element `i` of a `b`-bit tensor occupies bits
//! `[i·b, i·b + b)`; a view gives a logical index an element offset through strides, and the bit offset
//! follows from the element width.

use std::fmt;

use super::error::{LayoutError, LayoutResult};

/// A strided view of global memory: shape and strides in elements, plus a starting element offset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GlobalLayout {
    /// The view's logical shape.
    shape: Vec<usize>,
    /// One stride per dimension, in elements.
    strides: Vec<usize>,
    /// The element offset of index `[0, ..., 0]`.
    origin: usize,
}

impl GlobalLayout {
    /// A row-major view (the last dimension is contiguous).
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when the view is too large.
    pub fn row_major(shape: &[usize]) -> LayoutResult<GlobalLayout> {
        let mut strides = vec![0; shape.len()];
        let mut stride = 1usize;
        for (dim, &size) in shape.iter().enumerate().rev() {
            strides[dim] = stride;
            stride = stride.checked_mul(size).ok_or_else(too_large)?;
        }
        GlobalLayout::strided(shape, &strides)
    }

    /// A column-major view (the first dimension is contiguous).
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when the view is too large.
    pub fn column_major(shape: &[usize]) -> LayoutResult<GlobalLayout> {
        let mut strides = vec![0; shape.len()];
        let mut stride = 1usize;
        for (dim, &size) in shape.iter().enumerate() {
            strides[dim] = stride;
            stride = stride.checked_mul(size).ok_or_else(too_large)?;
        }
        GlobalLayout::strided(shape, &strides)
    }

    /// A view with explicit strides, in elements.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when the lengths differ or the view is too large.
    pub fn strided(shape: &[usize], strides: &[usize]) -> LayoutResult<GlobalLayout> {
        if shape.len() != strides.len() {
            return Err(LayoutError::invalid(format!(
                "strided: shape {shape:?} and strides {strides:?} have different lengths"
            )));
        }
        let layout = GlobalLayout { shape: shape.to_vec(), strides: strides.to_vec(), origin: 0 };
        layout.checked_span()?;
        Ok(layout)
    }

    /// The same view moved by `elements` elements.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when the offsets overflow.
    pub fn offset_by(&self, elements: usize) -> LayoutResult<GlobalLayout> {
        let origin = self.origin.checked_add(elements).ok_or_else(too_large)?;
        let layout = GlobalLayout { origin, ..self.clone() };
        layout.checked_span()?;
        Ok(layout)
    }

    /// A blocked view: `self` lays out blocks of `inner`, each `inner.span()` elements long.
    ///
    /// Unlike the shared-layout product the result keeps both levels as dimensions, `self`'s first and
    /// then `inner`'s (lower ranks padded with leading 1s), so that it stays a strided view.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] when the view is too large.
    pub fn blocked(&self, inner: &GlobalLayout) -> LayoutResult<GlobalLayout> {
        let rank = self.shape.len().max(inner.shape.len());
        let pad = |layout: &GlobalLayout| -> (Vec<usize>, Vec<usize>) {
            let missing = rank - layout.shape.len();
            let mut shape = vec![1; missing];
            shape.extend_from_slice(&layout.shape);
            let mut strides = vec![0; missing];
            strides.extend_from_slice(&layout.strides);
            (shape, strides)
        };
        let (outer_shape, outer_strides) = pad(self);
        let (inner_shape, inner_strides) = pad(inner);
        let block = inner.checked_span()?;
        let mut shape = outer_shape;
        shape.extend(inner_shape);
        let mut strides = Vec::with_capacity(2 * rank);
        for stride in outer_strides {
            strides.push(stride.checked_mul(block).ok_or_else(too_large)?);
        }
        strides.extend(inner_strides);
        let origin = self.origin.checked_mul(block).and_then(|base| base.checked_add(inner.origin));
        let layout = GlobalLayout { shape, strides, origin: origin.ok_or_else(too_large)? };
        layout.checked_span()?;
        Ok(layout)
    }

    /// The view's logical shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// The number of elements from the start of the buffer to one past the last element the view reaches.
    pub fn span(&self) -> usize {
        self.checked_span().unwrap_or(usize::MAX)
    }

    /// The element offset of `index`.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] for an index of the wrong rank, [`LayoutError::OutOfRange`] for a
    /// coordinate outside the shape.
    pub fn offset(&self, index: &[usize]) -> LayoutResult<usize> {
        if index.len() != self.shape.len() {
            return Err(LayoutError::invalid(format!(
                "index {index:?} has rank {}, the view has rank {}",
                index.len(),
                self.shape.len()
            )));
        }
        let mut offset = self.origin;
        for ((&coordinate, &extent), &stride) in index.iter().zip(&self.shape).zip(&self.strides) {
            if coordinate >= extent {
                return Err(LayoutError::OutOfRange { what: "index", value: coordinate, bound: extent });
            }
            offset += coordinate * stride;
        }
        Ok(offset)
    }

    /// The first bit of the element at `index` when elements are `dtype_bits` wide.
    ///
    /// # Errors
    /// As [`GlobalLayout::offset`], and [`LayoutError::Invalid`] when the bit offset overflows `u64`.
    pub fn bit_offset(&self, index: &[usize], dtype_bits: u32) -> LayoutResult<u64> {
        let element = u64::try_from(self.offset(index)?).map_err(|_| too_large())?;
        element.checked_mul(u64::from(dtype_bits)).ok_or_else(too_large)
    }

    fn checked_span(&self) -> LayoutResult<usize> {
        if self.shape.contains(&0) {
            return Ok(self.origin);
        }
        let mut largest = self.origin;
        for (&size, &stride) in self.shape.iter().zip(&self.strides) {
            let step = (size - 1).checked_mul(stride).ok_or_else(too_large)?;
            largest = largest.checked_add(step).ok_or_else(too_large)?;
        }
        largest.checked_add(1).ok_or_else(too_large)
    }
}

impl fmt::Display for GlobalLayout {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "strided(shape={:?}, strides={:?})", self.shape, self.strides)?;
        if self.origin != 0 {
            write!(formatter, ".offset_by({})", self.origin)?;
        }
        Ok(())
    }
}

fn too_large() -> LayoutError {
    LayoutError::invalid("the global view is too large")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_offsets_scale_the_element_offset() {
        let view = GlobalLayout::row_major(&[4, 8]).unwrap();
        assert_eq!(view.offset(&[2, 3]).unwrap(), 19);
        assert_eq!(view.bit_offset(&[2, 3], 4).unwrap(), 76);
        assert_eq!(view.bit_offset(&[2, 3], 3).unwrap(), 57);
        assert_eq!(view.span(), 32);
        let column = GlobalLayout::column_major(&[4, 8]).unwrap();
        assert_eq!(column.offset(&[2, 3]).unwrap(), 14);
    }

    #[test]
    fn strided_views_and_offsets() {
        // Every other column of a 4 x 16 row-major matrix, starting at column 1.
        let view = GlobalLayout::strided(&[4, 8], &[16, 2]).unwrap().offset_by(1).unwrap();
        assert_eq!(view.offset(&[0, 0]).unwrap(), 1);
        assert_eq!(view.offset(&[3, 7]).unwrap(), 1 + 48 + 14);
        assert_eq!(view.bit_offset(&[1, 1], 1).unwrap(), 19);
        assert!(view.offset(&[4, 0]).is_err());
        assert!(GlobalLayout::strided(&[2], &[1, 1]).is_err());
        assert!(GlobalLayout::row_major(&[usize::MAX, 3]).is_err());
    }

    #[test]
    fn blocked_views_keep_both_levels() {
        // 2 x 3 blocks (column-major between blocks) of 2 x 2 row-major elements.
        let outer = GlobalLayout::column_major(&[2, 3]).unwrap();
        let inner = GlobalLayout::row_major(&[2, 2]).unwrap();
        let view = outer.blocked(&inner).unwrap();
        assert_eq!(view.shape(), &[2, 3, 2, 2]);
        assert_eq!(view.offset(&[1, 0, 0, 0]).unwrap(), 4);
        assert_eq!(view.offset(&[0, 1, 1, 1]).unwrap(), 8 + 3);
        assert_eq!(view.span(), 24);
    }
}
