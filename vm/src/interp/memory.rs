//! Global memory: views over packed bit streams, with masked (out-of-range) access.
//!
//! Element `idx` of a view lives at element offset `offset + Σ idx[d] * strides[d]`, computed in `i128`
//! so that it cannot overflow, i.e. at bits `[e * b, e * b + b)` of the buffer. An access is *masked* when
//! a coordinate lies outside the view's shape or the element is not wholly inside the buffer: masked loads
//! read 0 and masked stores are dropped.

use crate::dtype::DataType;

/// A defined global view: the parameter it reads and its evaluated shape, strides and offset.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GlobalView {
    /// Index of the pointer parameter (and of its buffer argument).
    pub param: usize,
    /// Element type.
    pub dtype: DataType,
    /// Extent of each dimension.
    pub shape: Vec<i128>,
    /// Element distance along each dimension.
    pub strides: Vec<i128>,
    /// Element offset of index (0, ..., 0).
    pub offset: i128,
}

impl GlobalView {
    /// The bit offset of view index `index` in a buffer of `buffer_bytes` bytes, or `None` when masked.
    pub fn bit_offset(&self, index: &[i128], buffer_bytes: usize) -> Option<u64> {
        let mut element = self.offset;
        for ((&coordinate, &extent), &stride) in index.iter().zip(&self.shape).zip(&self.strides) {
            if coordinate < 0 || coordinate >= extent {
                return None;
            }
            element = element.checked_add(coordinate.checked_mul(stride)?)?;
        }
        let width = i128::from(self.dtype.bits());
        let bit = element.checked_mul(width)?;
        let buffer_bits = (buffer_bytes as i128).checked_mul(8)?;
        if bit < 0 || bit + width > buffer_bits {
            return None;
        }
        u64::try_from(bit).ok()
    }
}

pub(crate) use crate::packing::{read_bits, write_bits};

#[cfg(test)]
mod tests {
    use super::*;

    fn view(shape: &[i128], strides: &[i128], offset: i128, dtype: DataType) -> GlobalView {
        GlobalView { param: 0, dtype, shape: shape.to_vec(), strides: strides.to_vec(), offset }
    }

    #[test]
    fn bits_round_trip_across_bytes() {
        let mut bytes = vec![0u8; 4];
        write_bits(&mut bytes, 6, 4, 0b1011);
        assert_eq!(bytes, [0b1100_0000, 0b0000_0010, 0, 0]);
        assert_eq!(read_bits(&bytes, 6, 4), 0b1011);
        write_bits(&mut bytes, 28, 8, 0xff);
        assert_eq!(bytes[3], 0xf0, "bits past the end are dropped");
        assert_eq!(read_bits(&bytes, 28, 8), 0x0f, "bits past the end read 0");
    }

    #[test]
    fn masking_by_shape_and_buffer() {
        let u4 = DataType::Int(crate::dtype::IntType { signed: false, bits: 4 });
        let rows = view(&[3, 4], &[4, 1], 0, u4);
        assert_eq!(rows.bit_offset(&[1, 2], 6), Some(24));
        assert_eq!(rows.bit_offset(&[1, 4], 6), None, "column outside the shape");
        assert_eq!(rows.bit_offset(&[-1, 0], 6), None, "negative coordinate");
        assert_eq!(rows.bit_offset(&[2, 3], 5), None, "element 11 ends past the 40-bit buffer");
        assert_eq!(rows.bit_offset(&[2, 3], 6), Some(44));
        let negative_offset = view(&[4], &[1], -2, u4);
        assert_eq!(negative_offset.bit_offset(&[1], 8), None);
        assert_eq!(negative_offset.bit_offset(&[2], 8), Some(0));
        let huge = view(&[2], &[i128::MAX / 2], 0, DataType::U32);
        assert_eq!(huge.bit_offset(&[1], 8), None, "no overflow");
    }
}
