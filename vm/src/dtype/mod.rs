//! Data types: integers of every width, `bool`, IEEE floats and every minifloat, as one [`DataType`] value.
//!
//! Sub-32-bit integers and minifloats are *storage* types (load, store, view, cast); arithmetic happens in
//! the *compute* types `bool`, `i32`, `u32`, `i64`, `u64`, `f32`, `f16`, `bf16` (see DESIGN.md).

/// A scalar element type. Every value is stored as a code of [`DataType::bits`] bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    /// One bit: 0 is false, 1 is true.
    Bool,
    /// A two's-complement (signed) or unsigned integer of 1..=64 bits (64 only for `i64`/`u64`).
    Int(IntType),
    /// A binary floating-point format: `f32`, `f16`, `bf16` or any minifloat.
    Float(FloatType),
}

/// Parameters of an integer type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IntType {
    /// Two's complement when true.
    pub signed: bool,
    /// Width in bits, 1..=64.
    pub bits: u8,
}

/// Parameters of a binary floating-point format (see `tests/data/lowp/README.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FloatType {
    /// Exponent field width, 1..=8.
    pub exponent_bits: u8,
    /// Mantissa (fraction) field width, 0..=23.
    pub mantissa_bits: u8,
    /// Exponent bias.
    pub bias: i32,
    /// Whether the format has a sign bit (false only for `fnu` formats such as `f8e8m0fnu`).
    pub signed: bool,
    /// Which codes are NaN, and with it whether the format has infinities and how overflow behaves.
    pub nan: NanEncoding,
}

/// Which codes of a float format are NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NanEncoding {
    /// IEEE 754: all-ones exponent with a nonzero mantissa is NaN; all-ones exponent with zero mantissa is ±inf.
    Ieee,
    /// Finite (`fn`, and `fnu` for unsigned formats): only the all-ones pattern is NaN, no infinities.
    Fn,
    /// Finite, unsigned zero (`fnuz`): only the negative-zero pattern is NaN, no -0, no infinities.
    Fnuz,
    /// No NaN and no infinities; overflow saturates.
    None,
}

impl DataType {
    /// `bool`.
    pub const BOOL: DataType = DataType::Bool;
    /// `i32`.
    pub const I32: DataType = DataType::Int(IntType { signed: true, bits: 32 });
    /// `u32`.
    pub const U32: DataType = DataType::Int(IntType { signed: false, bits: 32 });
    /// `i64`.
    pub const I64: DataType = DataType::Int(IntType { signed: true, bits: 64 });
    /// `u64`.
    pub const U64: DataType = DataType::Int(IntType { signed: false, bits: 64 });
    /// `u8`.
    pub const U8: DataType = DataType::Int(IntType { signed: false, bits: 8 });
    /// `f32`.
    pub const F32: DataType = DataType::Float(FloatType {
        exponent_bits: 8,
        mantissa_bits: 23,
        bias: 127,
        signed: true,
        nan: NanEncoding::Ieee,
    });
    /// `f16`.
    pub const F16: DataType = DataType::Float(FloatType {
        exponent_bits: 5,
        mantissa_bits: 10,
        bias: 15,
        signed: true,
        nan: NanEncoding::Ieee,
    });
    /// `bf16`.
    pub const BF16: DataType = DataType::Float(FloatType {
        exponent_bits: 8,
        mantissa_bits: 7,
        bias: 127,
        signed: true,
        nan: NanEncoding::Ieee,
    });

    /// Width of one code in bits.
    pub fn bits(self) -> u32 {
        match self {
            DataType::Bool => 1,
            DataType::Int(int) => u32::from(int.bits),
            DataType::Float(float) => {
                u32::from(float.signed) + u32::from(float.exponent_bits) + u32::from(float.mantissa_bits)
            }
        }
    }

    /// Whether arithmetic may be done in this type (otherwise it is a storage type that must be cast first).
    pub fn is_compute(self) -> bool {
        matches!(self, DataType::Bool)
            || self == Self::I32
            || self == Self::U32
            || self == Self::I64
            || self == Self::U64
            || self == Self::F32
            || self == Self::F16
            || self == Self::BF16
    }

    /// Whether this is a float format.
    pub fn is_float(self) -> bool {
        matches!(self, DataType::Float(_))
    }
}
