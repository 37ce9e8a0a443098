//! Comparison of a backend's output buffer with the reference interpreter's, element by element.
//!
//! Both buffers are packed bit streams of one dtype. [`Tolerance::Exact`] compares codes; with
//! [`Tolerance::Close`], float elements are decoded and compared with an absolute and a relative bound
//! (sums in an unspecified order, transcendental functions). Differential tests (the corpus) and
//! `tilevm run --check` both go through [`compare_buffers`], so "agrees with the interpreter" means the
//! same thing everywhere.

use crate::dtype::DataType;
use crate::packing::read_bits;

/// How closely two runs of a kernel must agree on its outputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// Bit for bit (loads, stores, views, casts, elementwise arithmetic without transcendentals).
    Exact,
    /// Decoded as the output parameter's float dtype, `|actual - expected| <= abs + rel * |expected|`
    /// elementwise (sums in an unspecified order, transcendental functions). Integer outputs stay exact.
    Close {
        /// Absolute tolerance.
        abs: f64,
        /// Relative tolerance.
        rel: f64,
    },
}

/// One element that differs beyond the tolerance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mismatch {
    /// The element's index in the buffer (its position in the bit stream, in elements).
    pub element: u64,
    /// The interpreter's code.
    pub expected: u64,
    /// The backend's code.
    pub actual: u64,
}

/// What [`compare_buffers`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct BufferComparison {
    /// The number of elements compared (whole elements in the shorter buffer).
    pub elements: u64,
    /// The number of elements that differ beyond the tolerance.
    pub mismatched: u64,
    /// The first mismatches, in element order (at most the `limit` given).
    pub first: Vec<Mismatch>,
    /// `(actual, expected)` byte lengths when they differ.
    pub length_differs: Option<(usize, usize)>,
    /// Whether the bits after the last whole element differ (a backend wrote past the tensor's end).
    pub trailing_bits_differ: bool,
}

impl BufferComparison {
    /// Whether the buffers agree within the tolerance.
    pub fn is_match(&self) -> bool {
        self.mismatched == 0 && self.length_differs.is_none() && !self.trailing_bits_differ
    }
}

/// Compares `actual` with `expected`, both packed `dtype` bit streams, within `tolerance`, keeping the
/// first `limit` mismatches. NaN matches NaN whatever its payload.
pub fn compare_buffers(
    dtype: DataType,
    actual: &[u8],
    expected: &[u8],
    tolerance: Tolerance,
    limit: usize,
) -> BufferComparison {
    let bits = dtype.bits();
    let shorter = actual.len().min(expected.len());
    let elements = shorter as u64 * 8 / u64::from(bits);
    let mut comparison = BufferComparison {
        elements,
        mismatched: 0,
        first: Vec::new(),
        length_differs: (actual.len() != expected.len()).then_some((actual.len(), expected.len())),
        trailing_bits_differ: false,
    };
    if actual == expected {
        return comparison;
    }
    let float = match tolerance {
        Tolerance::Close { abs, rel } => dtype.as_float().map(|float| (float, abs, rel)),
        Tolerance::Exact => None,
    };
    for element in 0..elements {
        let offset = element * u64::from(bits);
        let (got, want) = (read_bits(actual, offset, bits), read_bits(expected, offset, bits));
        if got == want {
            continue;
        }
        let close = float.is_some_and(|(float, abs, rel)| {
            let (got, want) = (float.decode_f64(got as u32), float.decode_f64(want as u32));
            (got - want).abs() <= abs + rel * want.abs() || (got.is_nan() && want.is_nan()) || got == want
        });
        if !close {
            comparison.mismatched += 1;
            if comparison.first.len() < limit {
                comparison.first.push(Mismatch { element, expected: want, actual: got });
            }
        }
    }
    let tail_start = elements * u64::from(bits);
    let tail_bits = shorter as u64 * 8 - tail_start;
    if tail_bits > 0 {
        let tail_bits = tail_bits as u32;
        comparison.trailing_bits_differ =
            read_bits(actual, tail_start, tail_bits) != read_bits(expected, tail_start, tail_bits);
    }
    comparison
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packing::pack;

    fn uint(bits: u8) -> DataType {
        DataType::Int(crate::dtype::IntType { signed: false, bits })
    }

    fn f16_codes(values: &[f32]) -> Vec<u64> {
        values
            .iter()
            .map(|&value| DataType::F16.from_f64(f64::from(value), crate::Rounding::NearestEven))
            .collect()
    }

    #[test]
    fn equal_buffers_match() {
        let bytes = pack(4, &[1, 2, 3, 4, 5]);
        let comparison = compare_buffers(uint(4), &bytes, &bytes, Tolerance::Exact, 8);
        assert!(comparison.is_match());
        // Five codes take three bytes, which hold six whole u4 elements.
        assert_eq!(comparison.elements, 6);
    }

    #[test]
    fn exact_comparison_reports_every_differing_element_in_order() {
        let expected = pack(4, &[1, 2, 3, 4, 5, 6]);
        let actual = pack(4, &[1, 9, 3, 4, 0, 6]);
        let comparison = compare_buffers(uint(4), &actual, &expected, Tolerance::Exact, 8);
        assert!(!comparison.is_match());
        assert_eq!(comparison.mismatched, 2);
        assert_eq!(
            comparison.first,
            vec![
                Mismatch { element: 1, expected: 2, actual: 9 },
                Mismatch { element: 4, expected: 5, actual: 0 },
            ]
        );
    }

    #[test]
    fn the_limit_bounds_the_list_but_not_the_count() {
        let expected = pack(8, &[0; 10]);
        let actual = pack(8, &[1; 10]);
        let comparison = compare_buffers(DataType::U8, &actual, &expected, Tolerance::Exact, 3);
        assert_eq!(comparison.mismatched, 10);
        assert_eq!(comparison.first.len(), 3);
    }

    #[test]
    fn close_tolerance_accepts_small_float_differences_only() {
        let expected = pack(16, &f16_codes(&[1.0, 100.0, -2.0]));
        let actual = pack(16, &f16_codes(&[1.0009766, 100.0, -2.5]));
        let tolerance = Tolerance::Close { abs: 1e-3, rel: 1e-3 };
        let comparison = compare_buffers(DataType::F16, &actual, &expected, tolerance, 8);
        assert_eq!(comparison.mismatched, 1, "{comparison:?}");
        assert_eq!(comparison.first[0].element, 2);
        let exact = compare_buffers(DataType::F16, &actual, &expected, Tolerance::Exact, 8);
        assert_eq!(exact.mismatched, 2);
    }

    #[test]
    fn close_tolerance_keeps_integers_exact_and_nan_matches_nan() {
        let tolerance = Tolerance::Close { abs: 10.0, rel: 1.0 };
        let integers = compare_buffers(DataType::U8, &[1, 2], &[1, 3], tolerance, 8);
        assert_eq!(integers.mismatched, 1);
        let nans = pack(16, &[0x7e00, 0x7e01]);
        let other_nans = pack(16, &[0x7e01, 0x7e00]);
        assert!(compare_buffers(DataType::F16, &nans, &other_nans, tolerance, 8).is_match());
    }

    #[test]
    fn different_lengths_and_padding_bits_are_mismatches() {
        let lengths = compare_buffers(DataType::U8, &[1, 2, 3], &[1, 2], Tolerance::Exact, 8);
        assert_eq!(lengths.length_differs, Some((3, 2)));
        assert!(!lengths.is_match());
        // Two bytes hold five whole u3 elements (15 bits); bit 15 is padding.
        let padding = compare_buffers(uint(3), &[0x12, 0x80], &[0x12, 0x00], Tolerance::Exact, 8);
        assert_eq!(padding.mismatched, 0);
        assert!(padding.trailing_bits_differ);
        assert!(!padding.is_match());
    }
}
