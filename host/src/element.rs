//! [`Element`]: the Rust types whose slices become tensors and come back from them.

use half::{bf16, f16};
use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;

/// A plain-data Rust type that is one tilevm dtype: `f32`, `half::f16`, `half::bf16`, and the 8-, 16-
/// and 32-bit integers.
pub trait Element: bytemuck::Pod + Send + Sync {
    /// The dtype whose codes are this type's bits.
    const DTYPE: DataType;
    /// This value's code.
    fn to_code(self) -> u64;
    /// The value of a code of [`Element::DTYPE`].
    fn from_code(code: u64) -> Self;
}

macro_rules! element {
    ($ty:ty, $dtype:expr, |$value:ident| $to:expr, |$code:ident| $from:expr) => {
        impl Element for $ty {
            const DTYPE: DataType = $dtype;
            fn to_code(self) -> u64 {
                let $value = self;
                $to
            }
            fn from_code($code: u64) -> $ty {
                $from
            }
        }
    };
}

const fn int(signed: bool, bits: u8) -> DataType {
    DataType::Int(IntType { signed, bits })
}

element!(f32, DataType::F32, |value| u64::from(value.to_bits()), |code| f32::from_bits(code as u32));
element!(f16, DataType::F16, |value| u64::from(value.to_bits()), |code| f16::from_bits(code as u16));
element!(bf16, DataType::BF16, |value| u64::from(value.to_bits()), |code| bf16::from_bits(code as u16));
element!(u8, int(false, 8), |value| u64::from(value), |code| code as u8);
element!(i8, int(true, 8), |value| u64::from(value as u8), |code| code as u8 as i8);
element!(u16, int(false, 16), |value| u64::from(value), |code| code as u16);
element!(i16, int(true, 16), |value| u64::from(value as u16), |code| code as u16 as i16);
element!(u32, int(false, 32), |value| u64::from(value), |code| code as u32);
element!(i32, int(true, 32), |value| u64::from(value as u32), |code| code as u32 as i32);
