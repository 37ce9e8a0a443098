//! Data types: integers of every width, `bool`, IEEE floats and every minifloat, as one [`DataType`] value.
//!
//! Sub-32-bit integers and minifloats are *storage* types (load, store, view, cast); arithmetic happens in
//! the *compute* types `bool`, `i32`, `u32`, `i64`, `u64`, `f32`, `f16`, `bf16` (see ARCHITECTURE.md).
//!
//! A value of a type is held as a *code*: the low [`DataType::bits`] bits of an integer (`u64` in general,
//! `u32` for float codes).
//! The modules split the concepts:
//! - this module: the types, their parameters, validity rules and derived properties (max finite, ...);
//! - [`name`]: canonical names (`Display`) and parsing (`FromStr`), with the ml_dtypes aliases;
//! - [`codec`]: float code ↔ value, the [`Rounding`] modes and [`stochastic_bits`];
//! - [`mod@cast`]: [`cast()`], the one definition of conversion between any two types.
//!
//! # Float formats
//!
//! A float format has a sign bit (unless unsigned), `exponent_bits` of biased exponent and
//! `mantissa_bits` of fraction, most significant first: `S EEEE MMM`.
//! A signed format decodes exponent field `E` and fraction `M` as `(1 + M/2^m) * 2^(E - bias)` for
//! `E > 0` and as the subnormal `M/2^m * 2^(1 - bias)` for `E = 0`.
//! An unsigned (`fnu`) format has neither zero nor subnormals: every code is `(1 + M/2^m) * 2^(E - bias)`
//! (so `f8e8m0fnu` code 0 is 2^-127), except the all-ones NaN.
//!
//! The [`NanEncoding`] says which codes are special:
//! - [`Ieee`](NanEncoding::Ieee) (no suffix): the all-ones exponent is ±inf (zero fraction) or NaN.
//! - [`Fn`](NanEncoding::Fn) (suffix `fn` on formats of 8 bits or more, and every `fnu` format): no
//!   infinities, only the all-ones pattern (`S.1111.111`) is NaN.
//! - [`Fnuz`](NanEncoding::Fnuz) (suffix `fnuz`): no infinities, no -0; the -0 pattern (`1.0000.000`) is
//!   the only NaN.
//! - [`None`](NanEncoding::None) (suffix `fn` on formats of fewer than 8 bits, as ml_dtypes'
//!   `float6_e3m2fn`, `float4_e2m1fn` and the OCP MX FP6/FP4 formats): no NaN and no infinities.
//!
//! The default bias is `2^(e-1) - 1`, except for `fnuz` formats, where it is `2^(e-1)`: that is what
//! ml_dtypes' `float8_e4m3fnuz` (bias 8) and `float8_e5m2fnuz` (bias 16) use, the -0 code that such a
//! format gives up being paid back with one more binade at the top.
//! An explicit bias is written `bNN` before the suffix (`f8e4m3b11fnuz`).
//!
//! Every finite value of every valid format is exactly representable in `f32`, which is why
//! [`FloatType::decode_f32`] is exact and a float→float cast rounds exactly once.

pub mod cast;
pub mod codec;
pub mod name;

pub use cast::cast;
pub use codec::{ExactValue, Rounding, stochastic_bits};

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
    /// Width in bits, 1..=32 or 64.
    pub bits: u8,
}

/// Parameters of a binary floating-point format (see the [module documentation](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FloatType {
    /// Exponent field width, 1..=8.
    pub exponent_bits: u8,
    /// Mantissa (fraction) field width, 0..=10 (23 for `f32`).
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
    /// Finite (`fn` of 8 bits or more, and `fnu` for unsigned formats): only the all-ones pattern is NaN,
    /// with either sign; no infinities.
    Fn,
    /// Finite, unsigned zero (`fnuz`): only the negative-zero pattern is NaN, no -0, no infinities.
    Fnuz,
    /// No NaN and no infinities (`fn` of fewer than 8 bits); overflow saturates.
    None,
}

/// What encoding a finite value beyond the largest finite one (or an infinity) gives, under
/// [`Rounding::NearestEven`] (see [`FloatType::overflow`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Overflow {
    /// ±inf (IEEE formats).
    Inf,
    /// NaN (`fn`, `fnuz` and `fnu` formats).
    Nan,
    /// ±max finite (formats without NaN).
    Saturate,
}

/// Why a [`FloatType`] is not a valid format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FloatFormatError {
    /// The exponent field is not 1..=8 bits wide.
    #[error("exponent bits must be 1..=8, not {0}")]
    ExponentBits(u8),
    /// The mantissa field is not 0..=10 bits wide (23 is only `f32`).
    #[error("mantissa bits must be 0..=10, not {0}")]
    MantissaBits(u8),
    /// A minifloat is not 3..=16 bits in all.
    #[error("a minifloat has 3..=16 bits in all, not {0}")]
    Width(u32),
    /// An IEEE format needs a mantissa bit (NaN has a nonzero mantissa) and two exponent bits (so that a
    /// finite exponent besides the subnormal one exists).
    #[error(
        "an IEEE format (no suffix) needs at least 2 exponent bits and 1 mantissa bit; add `fn` for a finite format"
    )]
    Ieee,
    /// A format without a sign bit must follow the `fnu` convention ([`NanEncoding::Fn`]).
    #[error("only `fnu` formats are unsigned")]
    Unsigned,
    /// [`NanEncoding::Fn`] on a signed format of fewer than 8 bits, or [`NanEncoding::None`] on one of 8
    /// bits or more: `fn` means the one-NaN convention from 8 bits up and the no-NaN one below (ml_dtypes).
    #[error(
        "`fn` gives signed formats one NaN from 8 bits up and none below, so a {bits}-bit format cannot use NanEncoding::{nan:?}"
    )]
    NanWidth {
        /// Total width.
        bits: u32,
        /// The convention asked for.
        nan: NanEncoding,
    },
    /// The bias is negative, or some finite value of the format is not exactly representable in `f32`.
    #[error("bias {0} is negative or puts values of the format outside f32's exact range")]
    Range(i32),
}

/// A name that is not a valid [`DataType`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DtypeError {
    /// Not the shape of any type name.
    #[error("unknown data type `{name}`; {}", name::ALLOWED)]
    Unknown {
        /// The name as given.
        name: String,
    },
    /// An integer type with an unsupported width (`u0`, `i33`).
    #[error("`{name}`: integer types have 1..=32 bits (or 64: i64, u64), not {bits}; {}", name::ALLOWED)]
    IntWidth {
        /// The name as given.
        name: String,
        /// The width asked for.
        bits: u32,
    },
    /// A minifloat whose declared total width is not 1 (sign) + exponent + mantissa bits.
    #[error(
        "`{name}` declares {declared} bits, but its sign, exponent and mantissa take {actual}; {}",
        name::ALLOWED
    )]
    DeclaredWidth {
        /// The name as given.
        name: String,
        /// The width after `f`.
        declared: u32,
        /// Sign + exponent + mantissa.
        actual: u32,
    },
    /// A well-formed minifloat name whose parameters are not a valid format.
    #[error("`{name}`: {reason}; {}", name::ALLOWED)]
    Float {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: FloatFormatError,
    },
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
    /// `i8`.
    pub const I8: DataType = DataType::Int(IntType { signed: true, bits: 8 });
    /// `f32`.
    pub const F32: DataType = DataType::Float(FloatType::F32);
    /// `f16`.
    pub const F16: DataType = DataType::Float(FloatType::F16);
    /// `bf16`.
    pub const BF16: DataType = DataType::Float(FloatType::BF16);

    /// Width of one code in bits.
    pub fn bits(self) -> u32 {
        match self {
            DataType::Bool => 1,
            DataType::Int(int) => u32::from(int.bits),
            DataType::Float(float) => float.bits(),
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

    /// Whether this is a signed integer or a signed float format (`bool` and `fnu` formats are not).
    pub fn is_signed(self) -> bool {
        match self {
            DataType::Bool => false,
            DataType::Int(int) => int.signed,
            DataType::Float(float) => float.signed,
        }
    }

    /// The float format, if this is one.
    pub fn as_float(self) -> Option<FloatType> {
        match self {
            DataType::Float(float) => Some(float),
            _ => None,
        }
    }

    /// Checks the type's parameters (what [`FromStr`](std::str::FromStr) guarantees for parsed names).
    ///
    /// # Errors
    /// [`DtypeError::IntWidth`] or [`DtypeError::Float`], naming the type by its `Debug` form.
    pub fn validate(self) -> Result<(), DtypeError> {
        match self {
            DataType::Bool => Ok(()),
            DataType::Int(int) if int.is_valid() => Ok(()),
            DataType::Int(int) => {
                Err(DtypeError::IntWidth { name: format!("{int:?}"), bits: u32::from(int.bits) })
            }
            DataType::Float(float) => {
                float.validate().map_err(|reason| DtypeError::Float { name: format!("{float:?}"), reason })
            }
        }
    }

    /// All ones in the low [`bits`](DataType::bits) bits.
    pub fn mask(self) -> u64 {
        low_mask(self.bits())
    }

    /// Keeps the low [`bits`](DataType::bits) bits of `value`: the code of `value` wrapped into this type
    /// (two's complement wrap for integers).
    pub fn truncate(self, value: u64) -> u64 {
        value & self.mask()
    }

    /// Widens a code to 64 bits: sign-extended for signed integers (two's complement), zero-extended for
    /// every other type. Bits above [`bits`](DataType::bits) in `code` are ignored.
    pub fn sign_extend(self, code: u64) -> u64 {
        let bits = self.bits();
        let code = self.truncate(code);
        match self {
            DataType::Int(IntType { signed: true, .. }) if bits < 64 => {
                let shift = 64 - bits;
                (((code << shift) as i64) >> shift) as u64
            }
            _ => code,
        }
    }

    /// The integer value of an integer or `bool` code as `i64` ([`sign_extend`](DataType::sign_extend)
    /// reinterpreted; `u64` codes of 2^63 and more wrap to negative numbers).
    /// For float types this is the code's bit pattern, not its value: use [`to_f64`](DataType::to_f64).
    pub fn to_i64(self, code: u64) -> i64 {
        self.sign_extend(code) as i64
    }

    /// The integer value of an integer or `bool` code as `u64`: the code zero-extended for unsigned types,
    /// the 64-bit two's complement pattern for signed ones (`i4` code `0xf` is -1, `u64::MAX`).
    /// Same bits as [`sign_extend`](DataType::sign_extend).
    pub fn to_u64(self, code: u64) -> u64 {
        self.sign_extend(code)
    }

    /// The exact integer value of an integer or `bool` code; `None` for float types.
    pub fn int_value(self, code: u64) -> Option<i128> {
        match self {
            DataType::Bool => Some(i128::from(self.truncate(code))),
            DataType::Int(IntType { signed: true, .. }) => Some(i128::from(self.to_i64(code))),
            DataType::Int(IntType { signed: false, .. }) => Some(i128::from(self.truncate(code))),
            DataType::Float(_) => None,
        }
    }

    /// The value of a code as `f64`: exact for floats (NaN stays NaN) and for integers up to 2^53 in
    /// magnitude, rounded to nearest even beyond; `bool` is 0 or 1.
    pub fn to_f64(self, code: u64) -> f64 {
        match self {
            DataType::Float(float) => float.decode_f64(code as u32),
            DataType::Int(IntType { signed: true, .. }) => self.to_i64(code) as f64,
            DataType::Int(IntType { signed: false, .. }) | DataType::Bool => self.truncate(code) as f64,
        }
    }

    /// The code of `value` in this type: [`cast()`] from `i64` (integers wrap, floats round to nearest even,
    /// `bool` is `value != 0`).
    pub fn from_i64(self, value: i64) -> u64 {
        cast(DataType::I64, self, value as u64, Rounding::NearestEven, 0)
    }

    /// The code of `value` in this type: [`cast()`] from `u64` (integers wrap, floats round to nearest even,
    /// `bool` is `value != 0`).
    pub fn from_u64(self, value: u64) -> u64 {
        cast(DataType::U64, self, value, Rounding::NearestEven, 0)
    }

    /// The code of `value` in this type, with the rules of [`cast()`] from a float: floats round once from
    /// the exact `f64` (element index 0 for stochastic rounding); integers truncate toward zero and
    /// saturate, NaN → 0; `bool` is `value != 0.0` (NaN → true).
    pub fn from_f64(self, value: f64, rounding: Rounding) -> u64 {
        match self {
            DataType::Float(float) => u64::from(float.encode_f64_at(value, rounding, 0)),
            DataType::Bool => u64::from(value != 0.0),
            DataType::Int(int) => int.saturating_code(value),
        }
    }

    /// The code of the largest finite value: `i4` → `0x7`, `u4` → `0xf`, `bool` → 1, `f8e4m3fn` → `0x7e`.
    pub fn max_finite_code(self) -> u64 {
        match self {
            DataType::Bool => 1,
            DataType::Int(int) => self.truncate(int.max_value() as u64),
            DataType::Float(float) => u64::from(float.max_finite_code()),
        }
    }

    /// The code of the smallest (most negative) finite value: `i4` → `0x8`, `u4` → 0, `f8e4m3fn` → `0xfe`,
    /// `f8e8m0fnu` → 0 (2^-127).
    pub fn min_finite_code(self) -> u64 {
        match self {
            DataType::Bool => 0,
            DataType::Int(int) => self.truncate(int.min_value() as u64),
            DataType::Float(float) => u64::from(float.lowest_code()),
        }
    }
}

impl IntType {
    /// Whether the width is one tilevm supports: 1..=32, or 64.
    pub fn is_valid(self) -> bool {
        matches!(self.bits, 1..=32 | 64)
    }

    /// The smallest value: `-2^(bits-1)` or 0.
    pub fn min_value(self) -> i128 {
        if self.signed { -(1i128 << (self.bits - 1)) } else { 0 }
    }

    /// The largest value: `2^(bits-1) - 1` or `2^bits - 1`.
    pub fn max_value(self) -> i128 {
        if self.signed { (1i128 << (self.bits - 1)) - 1 } else { (1i128 << self.bits) - 1 }
    }

    /// The code of `value` truncated toward zero and saturated to the type's range; NaN → 0 (Rust `as`).
    pub(crate) fn saturating_code(self, value: f64) -> u64 {
        // `as i128` truncates toward zero, saturates at i128's range (beyond every int type's) and maps NaN to 0.
        let clamped = (value as i128).clamp(self.min_value(), self.max_value());
        (clamped as u64) & low_mask(u32::from(self.bits))
    }
}

impl FloatType {
    /// IEEE binary32.
    pub const F32: FloatType =
        FloatType { exponent_bits: 8, mantissa_bits: 23, bias: 127, signed: true, nan: NanEncoding::Ieee };
    /// IEEE binary16.
    pub const F16: FloatType =
        FloatType { exponent_bits: 5, mantissa_bits: 10, bias: 15, signed: true, nan: NanEncoding::Ieee };
    /// bfloat16.
    pub const BF16: FloatType =
        FloatType { exponent_bits: 8, mantissa_bits: 7, bias: 127, signed: true, nan: NanEncoding::Ieee };

    /// A signed format with the default bias for its convention ([`FloatType::default_bias`]); the NaN
    /// convention of `fn` is [`FloatType::fn_convention`] of the width.
    ///
    /// # Errors
    /// When the parameters are not a valid format ([`FloatType::validate`]).
    pub fn new(
        exponent_bits: u8,
        mantissa_bits: u8,
        nan: NanEncoding,
    ) -> Result<FloatType, FloatFormatError> {
        let float = FloatType {
            exponent_bits,
            mantissa_bits,
            bias: FloatType::default_bias(exponent_bits, nan),
            signed: true,
            nan,
        };
        float.validate().map(|()| float)
    }

    /// An unsigned `fnu` format (no sign, no zero, all-ones NaN) with the default bias `2^(e-1) - 1`.
    ///
    /// # Errors
    /// When the parameters are not a valid format ([`FloatType::validate`]).
    pub fn unsigned(exponent_bits: u8, mantissa_bits: u8) -> Result<FloatType, FloatFormatError> {
        let float = FloatType {
            exponent_bits,
            mantissa_bits,
            bias: FloatType::default_bias(exponent_bits, NanEncoding::Fn),
            signed: false,
            nan: NanEncoding::Fn,
        };
        float.validate().map(|()| float)
    }

    /// The same format with another exponent bias.
    ///
    /// # Errors
    /// When the values would not fit `f32` exactly ([`FloatFormatError::Range`]).
    pub fn with_bias(self, bias: i32) -> Result<FloatType, FloatFormatError> {
        let float = FloatType { bias, ..self };
        float.validate().map(|()| float)
    }

    /// The default bias: `2^(e-1)` for `fnuz` formats, `2^(e-1) - 1` for every other convention.
    pub fn default_bias(exponent_bits: u8, nan: NanEncoding) -> i32 {
        let half = 1i32 << exponent_bits.clamp(1, 30).saturating_sub(1);
        if nan == NanEncoding::Fnuz { half } else { half - 1 }
    }

    /// What the suffix `fn` means for a signed format of `bits` bits: [`NanEncoding::Fn`] (one NaN) from 8
    /// bits up, [`NanEncoding::None`] (no NaN) below, as in ml_dtypes and the OCP MX formats.
    pub fn fn_convention(bits: u32) -> NanEncoding {
        if bits >= 8 { NanEncoding::Fn } else { NanEncoding::None }
    }

    /// Checks that the parameters make a format tilevm supports: `f32`, or exponent 1..=8 bits, mantissa
    /// 0..=10 bits, 3..=16 bits in all; unsigned only with `fnu`; `fn`'s NaN convention matching the width
    /// ([`FloatType::fn_convention`]); IEEE with at least 2 exponent and 1 mantissa bits; a bias of 0 or
    /// more that makes every finite value exactly representable in `f32`.
    /// The other methods of [`FloatType`] assume a valid format.
    ///
    /// # Errors
    /// The first rule broken, in that order.
    pub fn validate(self) -> Result<(), FloatFormatError> {
        if self == FloatType::F32 {
            return Ok(());
        }
        if !(1..=8).contains(&self.exponent_bits) {
            return Err(FloatFormatError::ExponentBits(self.exponent_bits));
        }
        if self.mantissa_bits > 10 {
            return Err(FloatFormatError::MantissaBits(self.mantissa_bits));
        }
        let bits = self.bits();
        if !(3..=16).contains(&bits) {
            return Err(FloatFormatError::Width(bits));
        }
        if !self.signed && self.nan != NanEncoding::Fn {
            return Err(FloatFormatError::Unsigned);
        }
        if self.signed
            && matches!(self.nan, NanEncoding::Fn | NanEncoding::None)
            && self.nan != FloatType::fn_convention(bits)
        {
            return Err(FloatFormatError::NanWidth { bits, nan: self.nan });
        }
        if self.nan == NanEncoding::Ieee && (self.exponent_bits < 2 || self.mantissa_bits == 0) {
            return Err(FloatFormatError::Ieee);
        }
        // Every value is a multiple of the smallest positive one, 2^(min_normal_exponent - m), and below
        // 2^(top exponent + 1); f32 holds exactly the multiples of 2^-149 below 2^128 that have 24
        // significant bits, and no format here has more than 11.
        let quantum_exponent = self.min_normal_exponent() - i32::from(self.mantissa_bits);
        let top_exponent = (self.max_finite_code() >> self.mantissa_bits) as i32 - self.bias;
        if self.bias < 0 || quantum_exponent < -149 || top_exponent > 127 {
            return Err(FloatFormatError::Range(self.bias));
        }
        Ok(())
    }

    /// Width of one code: sign + exponent + mantissa bits.
    pub fn bits(self) -> u32 {
        u32::from(self.signed) + u32::from(self.exponent_bits) + u32::from(self.mantissa_bits)
    }

    /// Whether ±inf exist (IEEE formats only).
    pub fn has_inf(self) -> bool {
        self.nan == NanEncoding::Ieee
    }

    /// Whether some code is NaN (all conventions but [`NanEncoding::None`]).
    pub fn has_nan(self) -> bool {
        self.nan != NanEncoding::None
    }

    /// Whether -0 exists (signed formats other than `fnuz`).
    pub fn has_negative_zero(self) -> bool {
        self.signed && self.nan != NanEncoding::Fnuz
    }

    /// Whether 0 exists (every signed format; `fnu` formats have no zero).
    pub fn has_zero(self) -> bool {
        self.signed
    }

    /// What finite overflow and ±inf inputs give under [`Rounding::NearestEven`].
    pub fn overflow(self) -> Overflow {
        match self.nan {
            NanEncoding::Ieee => Overflow::Inf,
            NanEncoding::Fn | NanEncoding::Fnuz => Overflow::Nan,
            NanEncoding::None => Overflow::Saturate,
        }
    }

    /// The sign bit (0 for unsigned formats).
    pub fn sign_mask(self) -> u32 {
        if self.signed { 1 << (self.bits() - 1) } else { 0 }
    }

    /// All bits but the sign bit.
    pub fn magnitude_mask(self) -> u32 {
        low_mask(u32::from(self.exponent_bits) + u32::from(self.mantissa_bits)) as u32
    }

    /// Whether `code` (low [`bits`](FloatType::bits) bits) is a NaN.
    pub fn is_nan(self, code: u32) -> bool {
        let magnitude = code & self.magnitude_mask();
        match self.nan {
            NanEncoding::Ieee => {
                let exponent_ones = self.magnitude_mask() >> self.mantissa_bits;
                magnitude >> self.mantissa_bits == exponent_ones
                    && magnitude & low_mask(u32::from(self.mantissa_bits)) as u32 != 0
            }
            NanEncoding::Fn => magnitude == self.magnitude_mask(),
            NanEncoding::Fnuz => code & low_mask(self.bits()) as u32 == self.sign_mask(),
            NanEncoding::None => false,
        }
    }

    /// Whether `code` is ±inf.
    pub fn is_inf(self, code: u32) -> bool {
        self.has_inf() && code & self.magnitude_mask() == self.infinity_magnitude()
    }

    /// The canonical positive NaN code: IEEE `0.11111.1000` (quiet bit only), `fn` all ones, `fnuz` the -0
    /// pattern, `fnu` all ones; `None` for formats without NaN.
    pub fn nan_code(self) -> Option<u32> {
        match self.nan {
            NanEncoding::Ieee => Some(self.infinity_magnitude() | (1 << self.mantissa_bits) >> 1),
            NanEncoding::Fn => Some(self.magnitude_mask()),
            NanEncoding::Fnuz => Some(self.sign_mask()),
            NanEncoding::None => None,
        }
    }

    /// The code of +inf, for IEEE formats.
    pub fn inf_code(self) -> Option<u32> {
        self.has_inf().then(|| self.infinity_magnitude())
    }

    /// The code of the largest finite value (positive).
    pub fn max_finite_code(self) -> u32 {
        match self.nan {
            NanEncoding::Ieee => self.infinity_magnitude() - 1,
            NanEncoding::Fn => self.magnitude_mask() - 1,
            NanEncoding::Fnuz | NanEncoding::None => self.magnitude_mask(),
        }
    }

    /// The code of the most negative finite value (`-max finite`; the smallest value, code 0, for `fnu`).
    pub fn lowest_code(self) -> u32 {
        if self.signed { self.sign_mask() | self.max_finite_code() } else { 0 }
    }

    /// The code of the smallest positive normal value (code 0 for `fnu` formats, which have no subnormals).
    pub fn min_normal_code(self) -> u32 {
        if self.signed { 1 << self.mantissa_bits } else { 0 }
    }

    /// The code of the smallest positive value: 1 for signed formats (a subnormal, or the smallest normal
    /// when there is no mantissa), 0 for `fnu` formats.
    pub fn min_subnormal_code(self) -> u32 {
        u32::from(self.signed)
    }

    /// The largest finite value (448 for `f8e4m3fn`).
    pub fn max_finite(self) -> f32 {
        self.decode_f32(self.max_finite_code())
    }

    /// The smallest positive normal value, `2^(1 - bias)` (`2^-bias` for `fnu` formats).
    pub fn min_normal(self) -> f32 {
        self.decode_f32(self.min_normal_code())
    }

    /// The smallest positive value (`min_subnormal` in `formats.tsv`): `2^(1 - bias - m)` for signed
    /// formats, `2^-bias` for `fnu` formats.
    pub fn min_subnormal(self) -> f32 {
        self.decode_f32(self.min_subnormal_code())
    }

    /// The code magnitude of ±inf (IEEE formats; the all-ones exponent with a zero mantissa).
    fn infinity_magnitude(self) -> u32 {
        (self.magnitude_mask() >> self.mantissa_bits) << self.mantissa_bits
    }

    /// The unbiased exponent of the smallest normal binade: `1 - bias`, or `-bias` for `fnu` formats
    /// (whose exponent field 0 is normal).
    pub(crate) fn min_normal_exponent(self) -> i32 {
        i32::from(self.signed) - self.bias
    }
}

/// All ones in the low `bits` bits (`bits` up to 64).
pub(crate) fn low_mask(bits: u32) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

/// Every valid minifloat (every exponent/mantissa split, convention and signedness), with its default
/// bias and a few explicit ones, for exhaustive tests.
#[cfg(test)]
pub(crate) fn every_minifloat() -> Vec<FloatType> {
    let mut formats = Vec::new();
    for exponent_bits in 1..=8 {
        for mantissa_bits in 0..=10 {
            for (signed, nan) in [
                (true, NanEncoding::Ieee),
                (true, NanEncoding::Fn),
                (true, NanEncoding::None),
                (true, NanEncoding::Fnuz),
                (false, NanEncoding::Fn),
            ] {
                let bias = FloatType::default_bias(exponent_bits, nan);
                for bias in [bias, bias + 1, bias + 3, 0] {
                    let float = FloatType { exponent_bits, mantissa_bits, bias, signed, nan };
                    if float.validate().is_ok() && !formats.contains(&float) {
                        formats.push(float);
                    }
                }
            }
        }
    }
    formats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_types_are_the_eight_of_the_design() {
        for dt in [DataType::BOOL, DataType::I32, DataType::U32, DataType::I64, DataType::U64] {
            assert!(dt.is_compute() && !dt.is_float());
        }
        for dt in [DataType::F32, DataType::F16, DataType::BF16] {
            assert!(dt.is_compute() && dt.is_float());
            assert_eq!(dt.validate(), Ok(()));
        }
        assert!(!DataType::U8.is_compute());
        assert_eq!(DataType::BF16.bits(), 16);
    }

    #[test]
    fn sign_extension_and_integer_values() {
        let i4: DataType = "i4".parse().unwrap();
        let u4: DataType = "u4".parse().unwrap();
        assert_eq!(i4.sign_extend(0xf), u64::MAX);
        assert_eq!(i4.to_i64(0x8), -8);
        assert_eq!(i4.to_i64(0x7), 7);
        assert_eq!(i4.to_i64(0x1f), -1, "bits above the width are ignored");
        assert_eq!(u4.to_i64(0xf), 15);
        assert_eq!(i4.to_u64(0xf), u64::MAX);
        assert_eq!(DataType::U64.to_i64(u64::MAX), -1);
        assert_eq!(DataType::U64.int_value(u64::MAX), Some(i128::from(u64::MAX)));
        assert_eq!(DataType::I64.int_value(1 << 63), Some(i128::from(i64::MIN)));
        assert_eq!(DataType::F16.int_value(0), None);
        let i1: DataType = "i1".parse().unwrap();
        assert_eq!(i1.to_i64(1), -1);
    }

    #[test]
    fn integer_ranges() {
        let i3: DataType = "i3".parse().unwrap();
        assert_eq!((i3.min_finite_code(), i3.max_finite_code()), (0x4, 0x3));
        assert_eq!((DataType::U64.min_finite_code(), DataType::U64.max_finite_code()), (0, u64::MAX));
        assert_eq!(DataType::I64.max_finite_code(), i64::MAX as u64);
        assert_eq!(DataType::I64.min_finite_code(), 1 << 63);
        assert_eq!((DataType::BOOL.min_finite_code(), DataType::BOOL.max_finite_code()), (0, 1));
    }

    #[test]
    fn from_constructors_follow_cast() {
        let u4: DataType = "u4".parse().unwrap();
        let i4: DataType = "i4".parse().unwrap();
        assert_eq!(u4.from_i64(-1), 0xf, "integers wrap");
        assert_eq!(i4.from_i64(9), 0x9);
        assert_eq!(u4.from_f64(-3.7, Rounding::NearestEven), 0, "floats saturate");
        assert_eq!(u4.from_f64(99.0, Rounding::NearestEven), 15);
        assert_eq!(i4.from_f64(-7.9, Rounding::NearestEven), 0x9, "toward zero: -7");
        assert_eq!(i4.from_f64(f64::NAN, Rounding::NearestEven), 0);
        assert_eq!(DataType::F16.from_f64(1.0 / 3.0, Rounding::NearestEven), 0x3555);
        assert_eq!(DataType::F16.from_u64(65520), 0x7c00, "65520 is the tie above 65504");
        assert_eq!(DataType::BOOL.from_f64(f64::NAN, Rounding::NearestEven), 1);
        assert_eq!(DataType::BOOL.from_i64(0), 0);
        assert_eq!(DataType::F16.to_f64(0x3c00), 1.0);
        assert_eq!(i4.to_f64(0xf), -1.0);
    }

    #[test]
    fn validity_rules() {
        let fp = |e, m, nan| FloatType::new(e, m, nan);
        assert_eq!(fp(4, 3, NanEncoding::Fn).map(|f| f.bias), Ok(7));
        assert_eq!(fp(4, 3, NanEncoding::Fnuz).map(|f| f.bias), Ok(8));
        assert_eq!(fp(5, 2, NanEncoding::Fnuz).map(|f| f.bias), Ok(16));
        assert_eq!(fp(2, 1, NanEncoding::None).map(|f| f.bias), Ok(1));
        assert_eq!(
            fp(2, 1, NanEncoding::Fn),
            Err(FloatFormatError::NanWidth { bits: 4, nan: NanEncoding::Fn })
        );
        assert_eq!(
            fp(4, 3, NanEncoding::None),
            Err(FloatFormatError::NanWidth { bits: 8, nan: NanEncoding::None })
        );
        assert_eq!(fp(9, 1, NanEncoding::Ieee), Err(FloatFormatError::ExponentBits(9)));
        assert_eq!(fp(2, 11, NanEncoding::Ieee), Err(FloatFormatError::MantissaBits(11)));
        assert_eq!(fp(1, 0, NanEncoding::None), Err(FloatFormatError::Width(2)));
        assert_eq!(fp(3, 0, NanEncoding::Ieee), Err(FloatFormatError::Ieee));
        assert_eq!(fp(1, 2, NanEncoding::Ieee), Err(FloatFormatError::Ieee));
        assert_eq!(fp(8, 7, NanEncoding::Fn), Err(FloatFormatError::Range(127)), "2^128 is not an f32");
        assert_eq!(FloatType::unsigned(8, 0).map(|f| (f.bias, f.bits())), Ok((127, 8)));
        let e4m3 = fp(4, 3, NanEncoding::Fnuz).unwrap();
        assert_eq!(e4m3.with_bias(11).map(|f| f.max_finite()), Ok(30.0));
        assert!(e4m3.with_bias(200).is_err());
        let unsigned_ieee = FloatType { signed: false, ..FloatType::F16 };
        assert_eq!(unsigned_ieee.validate(), Err(FloatFormatError::Unsigned));
    }

    #[test]
    fn special_codes() {
        let e4m3fn = FloatType::new(4, 3, NanEncoding::Fn).unwrap();
        assert_eq!(e4m3fn.nan_code(), Some(0x7f));
        assert!(e4m3fn.is_nan(0xff) && e4m3fn.is_nan(0x7f) && !e4m3fn.is_nan(0x7e));
        assert_eq!(e4m3fn.inf_code(), None);
        assert_eq!((e4m3fn.max_finite_code(), e4m3fn.lowest_code()), (0x7e, 0xfe));
        let fnuz = FloatType::new(5, 2, NanEncoding::Fnuz).unwrap();
        assert!(fnuz.is_nan(0x80) && !fnuz.is_nan(0xff) && !fnuz.has_negative_zero());
        assert_eq!(fnuz.max_finite_code(), 0x7f);
        let f16 = FloatType::F16;
        assert_eq!(
            (f16.inf_code(), f16.nan_code(), f16.max_finite_code()),
            (Some(0x7c00), Some(0x7e00), 0x7bff)
        );
        assert!(f16.is_inf(0xfc00) && !f16.is_nan(0xfc00) && f16.is_nan(0xfc01));
        let e8m0 = FloatType::unsigned(8, 0).unwrap();
        assert_eq!(
            (e8m0.nan_code(), e8m0.max_finite_code(), e8m0.min_subnormal_code()),
            (Some(0xff), 0xfe, 0)
        );
        assert!(!e8m0.has_zero() && !e8m0.has_negative_zero());
        assert_eq!(e8m0.min_normal(), 2f32.powi(-127));
        let e2m1 = FloatType::new(2, 1, NanEncoding::None).unwrap();
        assert_eq!((e2m1.max_finite(), e2m1.min_normal(), e2m1.min_subnormal()), (6.0, 1.0, 0.5));
        assert_eq!(e2m1.nan_code(), None);
        assert_eq!(e2m1.overflow(), Overflow::Saturate);
    }
}
