//! Stand-ins for types that the dtype module is about to provide; removed when it lands.

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
