//! [`Value`]: a typed value for a compile-time parameter (`W = u3`, `BLOCK_N = 64`) or a scalar launch
//! argument, converted to what its parameter holds with a range check, never by reinterpreting bits.

use half::{bf16, f16};
use tilevm_vm::DataType;
use tilevm_vm::Rounding;
use tilevm_vm::dtype::cast;

use crate::{Error, Result};

/// A typed value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `true` or `false`.
    Bool(bool),
    /// An integer of any Rust integer type.
    Int(i128),
    /// A float (`f32`, `f64`, `f16` and `bf16` convert exactly).
    Float(f64),
    /// A dtype, for compile-time parameters of kind `dtype`.
    Dtype(DataType),
}

macro_rules! from_int {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Value {
            fn from(value: $ty) -> Value {
                Value::Int(i128::from(value))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64);

impl From<usize> for Value {
    fn from(value: usize) -> Value {
        Value::Int(value as i128)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

impl From<f32> for Value {
    fn from(value: f32) -> Value {
        Value::Float(f64::from(value))
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Value {
        Value::Float(value)
    }
}

impl From<f16> for Value {
    fn from(value: f16) -> Value {
        Value::Float(f64::from(value))
    }
}

impl From<bf16> for Value {
    fn from(value: bf16) -> Value {
        Value::Float(f64::from(value))
    }
}

impl From<DataType> for Value {
    fn from(value: DataType) -> Value {
        Value::Dtype(value)
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(value) => write!(f, "{value}"),
            Value::Int(value) => write!(f, "{value}"),
            Value::Float(value) => write!(f, "{value:?}"),
            Value::Dtype(dtype) => write!(f, "{dtype}"),
        }
    }
}

impl Value {
    /// The text the front end reads for a compile-time parameter.
    pub(crate) fn to_source_text(&self) -> String {
        self.to_string()
    }

    /// The code of this value as a scalar of `dtype`; `what` names the parameter in the error.
    ///
    /// # Errors
    /// [`Error::Value`] when the value's kind does not fit the dtype (a float for an integer, a dtype
    /// for a number), an integer is out of the dtype's range, or a float is not exactly an `f32`
    /// for an `f32` parameter (f16 and bf16 parameters round to nearest even, as the language's
    /// literals do).
    pub(crate) fn to_code(&self, dtype: DataType, what: &str) -> Result<u64> {
        let mismatch = || Error::Value(format!("{what} is a {dtype}, given {} `{self}`", self.kind()));
        match (self, dtype) {
            (Value::Bool(value), DataType::Bool) => Ok(u64::from(*value)),
            (Value::Int(value), DataType::Int(int)) => {
                let bits = u32::from(int.bits);
                let (min, max) = if int.signed {
                    (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
                } else {
                    (0, (1i128 << bits) - 1)
                };
                if !(min..=max).contains(value) {
                    return Err(Error::Value(format!(
                        "{what} is a {dtype}, and {value} is outside its range {min}..={max}"
                    )));
                }
                Ok((*value as u64) & mask(bits))
            }
            (Value::Float(value), DataType::Float(_)) => {
                let single = *value as f32;
                if f64::from(single) != *value && !value.is_nan() {
                    return Err(Error::Value(format!(
                        "{what} is a {dtype}, and {value} is not exactly an f32 (pass an f32)"
                    )));
                }
                let code = u64::from(single.to_bits());
                Ok(cast(DataType::F32, dtype, code, Rounding::NearestEven, 0))
            }
            // Integer literals are fine for float parameters when they are exact.
            (Value::Int(value), DataType::Float(_)) if value.unsigned_abs() <= 1 << 24 => {
                Value::Float(*value as f64).to_code(dtype, what)
            }
            _ => Err(mismatch()),
        }
    }

    /// The value a code of `dtype` holds (integers sign-extended, floats widened exactly): what a
    /// launch converts back to the same code.
    ///
    /// ```
    /// use tilevm_host::{DataType, Value};
    /// assert_eq!(Value::from_code(DataType::I32, 0xffff_fffd), Value::Int(-3));
    /// assert_eq!(Value::from_code(DataType::F16, 0x3e00), Value::Float(1.5));
    /// ```
    pub fn from_code(dtype: DataType, code: u64) -> Value {
        match dtype {
            DataType::Bool => Value::Bool(code & 1 == 1),
            DataType::Int(int) => {
                let bits = u32::from(int.bits);
                let code = code & mask(bits);
                if int.signed && bits < 128 && (code >> (bits - 1)) & 1 == 1 {
                    Value::Int(i128::from(code) - (1i128 << bits))
                } else {
                    Value::Int(i128::from(code))
                }
            }
            DataType::Float(_) => {
                let single = cast(dtype, DataType::F32, code, Rounding::NearestEven, 0);
                Value::Float(f64::from(f32::from_bits(single as u32)))
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Dtype(_) => "dtype",
        }
    }
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_range_checked_for_their_dtype() {
        assert_eq!(Value::from(7u8).to_code(DataType::U32, "n").unwrap(), 7);
        assert_eq!(Value::from(-1i32).to_code(DataType::I32, "n").unwrap(), 0xffff_ffff);
        let error = Value::from(-1i32).to_code(DataType::U32, "`n`").unwrap_err().to_string();
        assert!(error.contains("outside its range 0..=4294967295"), "{error}");
        let error = Value::from(1u64 << 40).to_code(DataType::I32, "`n`").unwrap_err().to_string();
        assert!(error.contains("outside its range"), "{error}");
    }

    #[test]
    fn floats_convert_exactly_or_are_refused() {
        assert_eq!(Value::from(1.5f32).to_code(DataType::F32, "x").unwrap(), u64::from(1.5f32.to_bits()));
        assert_eq!(
            Value::from(1.5f32).to_code(DataType::F16, "x").unwrap(),
            u64::from(f16::from_f32(1.5).to_bits())
        );
        assert!(Value::from(0.1f64).to_code(DataType::F32, "x").is_err());
        assert!(Value::from(2.0f32).to_code(DataType::U32, "x").is_err());
        assert!(Value::from(true).to_code(DataType::F32, "x").is_err());
        assert_eq!(Value::from(3u32).to_code(DataType::F32, "x").unwrap(), u64::from(3.0f32.to_bits()));
    }

    #[test]
    fn codes_read_back_as_the_values_they_encode() {
        for (value, dtype) in [
            (Value::from(-3i32), DataType::I32),
            (Value::from(4096u32), DataType::U32),
            (Value::from(true), DataType::Bool),
            (Value::from(-0.25f32), DataType::F32),
            (Value::from(1.5f32), DataType::F16),
            (Value::from(3.0f32), DataType::BF16),
        ] {
            let code = value.to_code(dtype, "x").unwrap();
            assert_eq!(Value::from_code(dtype, code), value, "{dtype}");
        }
    }
}
