//! Stand-ins for types that the dtype and layout modules are about to provide; removed when they land.

/// How float results are rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Round to nearest, ties to even.
    NearestEven,
    /// Round toward zero.
    TowardZero,
    /// Stochastic rounding with counter-based random bits from `(seed, element index)`.
    Stochastic {
        /// The seed.
        seed: u64,
    },
}

/// A shared-memory layout: logical index → element offset (row-major stand-in).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SharedLayout {
    shape: Vec<usize>,
}

impl SharedLayout {
    /// A row-major layout of `shape`.
    pub fn row_major(shape: &[usize]) -> SharedLayout {
        SharedLayout { shape: shape.to_vec() }
    }

    /// The logical shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Storage needed, in elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The element offset of a logical index.
    pub fn offset(&self, index: &[usize]) -> usize {
        index.iter().zip(&self.shape).fold(0, |acc, (&i, &d)| acc * d + i)
    }
}
