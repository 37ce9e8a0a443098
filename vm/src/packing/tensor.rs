//! [`PackedTensor`]: a typed, shaped, strided view of a packed bit stream.

use crate::dtype::{DataType, DtypeError, Rounding, cast};

use super::{packed_len, read_bits, write_bits};

/// A tensor of codes of one [`DataType`], packed into a little-endian bit stream.
///
/// The element at multi-index `index` is the code at *element offset* `Σ index[d] * strides[d]`, which
/// occupies bits `[offset * b, offset * b + b)` of `bytes` (`b = dtype.bits()`).
/// Strides count elements, not bytes or bits; they may be 0 (broadcast) or overlap.
///
/// **Invariant:** `shape` and `strides` have the same length, and `bytes` holds every element the shape
/// and strides reach (checked by every constructor), so element access fails only on a bad index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackedTensor {
    dtype: DataType,
    shape: Vec<usize>,
    strides: Vec<usize>,
    bytes: Vec<u8>,
}

/// Why a [`PackedTensor`] could not be built or accessed. All are errors in the caller's input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// The element type is not a valid type.
    #[error(transparent)]
    InvalidType(#[from] DtypeError),
    /// An index or stride list whose length is not the tensor's rank.
    #[error("expected {expected} dimensions, found {found}")]
    RankMismatch {
        /// The rank of the shape.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// An index outside the shape.
    #[error("index {index:?} is outside shape {shape:?}")]
    IndexOutOfBounds {
        /// The index given.
        index: Vec<usize>,
        /// The tensor's shape.
        shape: Vec<usize>,
    },
    /// A code with bits set above the type's width.
    #[error("code {code:#x} does not fit in {bits} bits ({dtype})")]
    CodeTooWide {
        /// The code given.
        code: u64,
        /// The type's width.
        bits: u32,
        /// The type.
        dtype: DataType,
    },
    /// A number of codes or values that is not the shape's element count.
    #[error("shape {shape:?} has {expected} elements, but {found} were given")]
    LengthMismatch {
        /// The shape.
        shape: Vec<usize>,
        /// Its element count.
        expected: usize,
        /// The number given.
        found: usize,
    },
    /// A byte buffer too small for the elements that the shape and strides reach.
    #[error("the shape and strides reach {needed} bytes, but the buffer has {found}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        found: usize,
    },
    /// A shape whose size or offsets overflow `usize`.
    #[error("shape {shape:?} with strides {strides:?} is too large")]
    TooLarge {
        /// The shape.
        shape: Vec<usize>,
        /// The strides.
        strides: Vec<usize>,
    },
}

impl PackedTensor {
    /// A contiguous (row-major) tensor of zero codes.
    ///
    /// # Errors
    /// [`PackError::InvalidType`] or [`PackError::TooLarge`].
    pub fn zeros(dtype: DataType, shape: &[usize]) -> Result<PackedTensor, PackError> {
        dtype.validate()?;
        let strides = row_major_strides(shape)?;
        let bytes = vec![0; storage_len(dtype, shape, &strides)?];
        Ok(PackedTensor { dtype, shape: shape.to_vec(), strides, bytes })
    }

    /// A contiguous (row-major) tensor holding `codes` in order.
    ///
    /// # Errors
    /// [`PackError::LengthMismatch`] when `codes` does not have one code per element,
    /// [`PackError::CodeTooWide`] for a code with bits above the type's width, and the errors of
    /// [`PackedTensor::zeros`].
    pub fn from_codes(dtype: DataType, shape: &[usize], codes: &[u64]) -> Result<PackedTensor, PackError> {
        let mut tensor = PackedTensor::zeros(dtype, shape)?;
        tensor.check_count(codes.len())?;
        for (offset, &code) in codes.iter().enumerate() {
            tensor.check_code(code)?;
            tensor.write(offset as u64, code);
        }
        Ok(tensor)
    }

    /// A contiguous (row-major) tensor holding `values` converted by [`cast()`] from `f32` (element `i`
    /// rounds as element index `i`; integer types truncate and saturate).
    ///
    /// # Errors
    /// [`PackError::LengthMismatch`] and the errors of [`PackedTensor::zeros`].
    pub fn from_f32(
        dtype: DataType,
        shape: &[usize],
        values: &[f32],
        rounding: Rounding,
    ) -> Result<PackedTensor, PackError> {
        let mut tensor = PackedTensor::zeros(dtype, shape)?;
        tensor.check_count(values.len())?;
        for (offset, value) in values.iter().enumerate() {
            let code = cast(DataType::F32, dtype, u64::from(value.to_bits()), rounding, offset as u64);
            tensor.write(offset as u64, code);
        }
        Ok(tensor)
    }

    /// A tensor over existing packed bytes, with explicit strides (in elements).
    ///
    /// # Errors
    /// [`PackError::RankMismatch`] when `strides` and `shape` differ in length,
    /// [`PackError::BufferTooSmall`] when `bytes` does not hold every element reached, and the errors of
    /// [`PackedTensor::zeros`].
    pub fn from_bytes(
        dtype: DataType,
        shape: &[usize],
        strides: &[usize],
        bytes: Vec<u8>,
    ) -> Result<PackedTensor, PackError> {
        dtype.validate()?;
        if strides.len() != shape.len() {
            return Err(PackError::RankMismatch { expected: shape.len(), found: strides.len() });
        }
        let needed = storage_len(dtype, shape, strides)?;
        if bytes.len() < needed {
            return Err(PackError::BufferTooSmall { needed, found: bytes.len() });
        }
        Ok(PackedTensor { dtype, shape: shape.to_vec(), strides: strides.to_vec(), bytes })
    }

    /// The element type.
    pub fn dtype(&self) -> DataType {
        self.dtype
    }

    /// The logical shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// The packed bit stream.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The packed bit stream, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The number of elements (the product of the shape).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether some dimension is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element offset of a multi-index.
    ///
    /// # Errors
    /// [`PackError::RankMismatch`] or [`PackError::IndexOutOfBounds`].
    pub fn offset(&self, index: &[usize]) -> Result<u64, PackError> {
        if index.len() != self.shape.len() {
            return Err(PackError::RankMismatch { expected: self.shape.len(), found: index.len() });
        }
        if index.iter().zip(&self.shape).any(|(&position, &extent)| position >= extent) {
            return Err(PackError::IndexOutOfBounds { index: index.to_vec(), shape: self.shape.clone() });
        }
        // In bounds, so no overflow: the constructors checked the largest offset.
        Ok(index.iter().zip(&self.strides).map(|(&position, &stride)| (position * stride) as u64).sum())
    }

    /// The code at a multi-index.
    ///
    /// # Errors
    /// As [`PackedTensor::offset`].
    pub fn get_code(&self, index: &[usize]) -> Result<u64, PackError> {
        Ok(self.read(self.offset(index)?))
    }

    /// Stores a code at a multi-index (every index that shares its offset sees it).
    ///
    /// # Errors
    /// As [`PackedTensor::offset`], and [`PackError::CodeTooWide`].
    pub fn set_code(&mut self, index: &[usize], code: u64) -> Result<(), PackError> {
        self.check_code(code)?;
        let offset = self.offset(index)?;
        self.write(offset, code);
        Ok(())
    }

    /// Every code, in row-major order of the logical index.
    pub fn codes(&self) -> Vec<u64> {
        self.offsets().map(|offset| self.read(offset)).collect()
    }

    /// Every value as `f32`, in row-major order of the logical index, by [`cast()`] to `f32`: exact for
    /// float types, nearest-even for integers beyond 2^24, 0 or 1 for `bool`.
    pub fn to_f32_vec(&self) -> Vec<f32> {
        self.offsets()
            .map(|offset| {
                let code = cast(self.dtype, DataType::F32, self.read(offset), Rounding::NearestEven, offset);
                f32::from_bits(code as u32)
            })
            .collect()
    }

    /// The element offsets in row-major order of the logical index.
    fn offsets(&self) -> impl Iterator<Item = u64> + '_ {
        let mut index = vec![0usize; self.shape.len()];
        (0..self.len()).map(move |step| {
            if step > 0 {
                for dimension in (0..index.len()).rev() {
                    index[dimension] += 1;
                    if index[dimension] < self.shape[dimension] {
                        break;
                    }
                    index[dimension] = 0;
                }
            }
            index.iter().zip(&self.strides).map(|(&position, &stride)| (position * stride) as u64).sum()
        })
    }

    fn read(&self, offset: u64) -> u64 {
        let bits = self.dtype.bits();
        read_bits(&self.bytes, offset * u64::from(bits), bits)
    }

    fn write(&mut self, offset: u64, code: u64) {
        let bits = self.dtype.bits();
        write_bits(&mut self.bytes, offset * u64::from(bits), bits, code);
    }

    fn check_count(&self, found: usize) -> Result<(), PackError> {
        let expected = self.len();
        if found == expected {
            Ok(())
        } else {
            Err(PackError::LengthMismatch { shape: self.shape.clone(), expected, found })
        }
    }

    fn check_code(&self, code: u64) -> Result<(), PackError> {
        if self.dtype.truncate(code) == code {
            Ok(())
        } else {
            Err(PackError::CodeTooWide { code, bits: self.dtype.bits(), dtype: self.dtype })
        }
    }
}

/// The strides (in elements) of a contiguous row-major tensor: the last dimension has stride 1.
///
/// # Errors
/// [`PackError::TooLarge`] when the element count overflows `usize`.
pub fn row_major_strides(shape: &[usize]) -> Result<Vec<usize>, PackError> {
    let mut strides = vec![0; shape.len()];
    let mut stride = 1usize;
    for (dimension, &extent) in shape.iter().enumerate().rev() {
        strides[dimension] = stride;
        stride = stride
            .checked_mul(extent)
            .ok_or_else(|| PackError::TooLarge { shape: shape.to_vec(), strides: Vec::new() })?;
    }
    Ok(strides)
}

/// The bytes that hold every element a shape and strides reach.
fn storage_len(dtype: DataType, shape: &[usize], strides: &[usize]) -> Result<usize, PackError> {
    let too_large = || PackError::TooLarge { shape: shape.to_vec(), strides: strides.to_vec() };
    if shape.contains(&0) {
        return Ok(0);
    }
    let mut last_offset = 0usize;
    for (&extent, &stride) in shape.iter().zip(strides) {
        let reach = (extent - 1).checked_mul(stride).ok_or_else(too_large)?;
        last_offset = last_offset.checked_add(reach).ok_or_else(too_large)?;
    }
    let count = last_offset.checked_add(1).ok_or_else(too_large)?;
    packed_len(dtype.bits(), count).ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(name: &str) -> DataType {
        name.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn codes_round_trip_through_a_packed_tensor() {
        let u3 = dt("u3");
        let codes: Vec<u64> = (0..24).map(|i| i % 8).collect();
        let tensor = PackedTensor::from_codes(u3, &[2, 3, 4], &codes).unwrap();
        assert_eq!(tensor.bytes().len(), 9);
        assert_eq!(tensor.strides(), &[12, 4, 1]);
        assert_eq!(tensor.codes(), codes);
        assert_eq!(tensor.get_code(&[1, 2, 3]), Ok(23 % 8));
        assert_eq!(tensor.bytes(), crate::packing::pack(3, &codes).as_slice());
    }

    #[test]
    fn strided_views_reinterpret_the_same_bits() {
        let i4 = dt("i4");
        let tensor = PackedTensor::from_codes(i4, &[2, 3], &[1, 2, 3, 4, 5, 6]).unwrap();
        let transposed = PackedTensor::from_bytes(i4, &[3, 2], &[1, 3], tensor.bytes().to_vec()).unwrap();
        assert_eq!(transposed.codes(), vec![1, 4, 2, 5, 3, 6]);
        let broadcast = PackedTensor::from_bytes(i4, &[2, 3], &[0, 1], tensor.bytes().to_vec()).unwrap();
        assert_eq!(broadcast.codes(), vec![1, 2, 3, 1, 2, 3]);
        let mut tensor = tensor;
        tensor.set_code(&[1, 0], 0xf).unwrap();
        assert_eq!(tensor.to_f32_vec(), vec![1.0, 2.0, 3.0, -1.0, 5.0, 6.0]);
    }

    #[test]
    fn floats_encode_on_the_way_in_and_decode_on_the_way_out() {
        let e2m1 = dt("f4e2m1fn");
        let tensor =
            PackedTensor::from_f32(e2m1, &[5], &[0.5, -1.0, 7.0, 0.25, -0.3], Rounding::NearestEven).unwrap();
        assert_eq!(tensor.codes(), vec![0x1, 0xa, 0x7, 0x0, 0x9]);
        assert_eq!(tensor.bytes(), &[0xa1, 0x07, 0x09]);
        assert_eq!(tensor.to_f32_vec(), vec![0.5, -1.0, 6.0, 0.0, -0.5]);
        let u4 = PackedTensor::from_f32(dt("u4"), &[3], &[3.9, -2.0, 99.0], Rounding::NearestEven).unwrap();
        assert_eq!(u4.codes(), vec![3, 0, 15]);
    }

    #[test]
    fn bad_shapes_indices_and_codes_are_errors() {
        let u4 = dt("u4");
        let tensor = PackedTensor::from_codes(u4, &[2, 2], &[1, 2, 3, 4]).unwrap();
        assert_eq!(
            tensor.get_code(&[2, 0]),
            Err(PackError::IndexOutOfBounds { index: vec![2, 0], shape: vec![2, 2] })
        );
        assert_eq!(tensor.get_code(&[0]), Err(PackError::RankMismatch { expected: 2, found: 1 }));
        assert!(matches!(
            PackedTensor::from_codes(u4, &[2], &[1, 0x10]),
            Err(PackError::CodeTooWide { code: 0x10, bits: 4, .. })
        ));
        assert!(matches!(
            PackedTensor::from_codes(u4, &[3], &[1, 2]),
            Err(PackError::LengthMismatch { expected: 3, found: 2, .. })
        ));
        assert_eq!(
            PackedTensor::from_bytes(u4, &[2, 2], &[2, 1], vec![0]),
            Err(PackError::BufferTooSmall { needed: 2, found: 1 })
        );
        assert!(matches!(
            PackedTensor::from_bytes(u4, &[2], &[1, 1], vec![0]),
            Err(PackError::RankMismatch { .. })
        ));
        assert!(matches!(PackedTensor::zeros(u4, &[usize::MAX, 2]), Err(PackError::TooLarge { .. })));
        assert!(matches!(
            PackedTensor::from_bytes(u4, &[3], &[usize::MAX], vec![]),
            Err(PackError::TooLarge { .. })
        ));
        let invalid = DataType::Int(crate::dtype::IntType { signed: true, bits: 40 });
        assert!(matches!(PackedTensor::zeros(invalid, &[1]), Err(PackError::InvalidType(_))));
        let mut tensor = tensor;
        assert!(tensor.set_code(&[0, 0], 0x1f).is_err());
        assert_eq!(tensor.codes(), vec![1, 2, 3, 4], "a failed store changes nothing");
        let empty = PackedTensor::zeros(u4, &[0, 5]).unwrap();
        assert!(empty.is_empty() && empty.codes().is_empty() && empty.bytes().is_empty());
        let scalar = PackedTensor::from_codes(u4, &[], &[7]).unwrap();
        assert_eq!((scalar.len(), scalar.get_code(&[])), (1, Ok(7)));
    }
}
