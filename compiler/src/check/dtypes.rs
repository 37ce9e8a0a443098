//! Dtype names: the one place the checker turns names into [`DataType`]s and back.

use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;

/// The dtype a name denotes, if any (`u4`, `i32`, `f16`, `bf16`, `bool`, ...).
pub(crate) fn dtype_from_name(name: &str) -> Option<DataType> {
    match name {
        "bool" => return Some(DataType::BOOL),
        "f32" => return Some(DataType::F32),
        "f16" => return Some(DataType::F16),
        "bf16" => return Some(DataType::BF16),
        _ => {}
    }
    let (signed, digits) = match name.as_bytes().first() {
        Some(b'i') => (true, &name[1..]),
        Some(b'u') => (false, &name[1..]),
        _ => return None,
    };
    if digits.starts_with('0') {
        return None;
    }
    let bits: u8 = digits.parse().ok()?;
    (1..=64).contains(&bits).then_some(DataType::Int(IntType { signed, bits }))
}

/// The name of a dtype, as the language spells it.
pub(crate) fn dtype_name(dtype: DataType) -> String {
    match dtype {
        DataType::Bool => "bool".to_string(),
        DataType::Int(int) => format!("{}{}", if int.signed { 'i' } else { 'u' }, int.bits),
        DataType::Float(_) if dtype == DataType::F32 => "f32".to_string(),
        DataType::Float(_) if dtype == DataType::F16 => "f16".to_string(),
        DataType::Float(_) if dtype == DataType::BF16 => "bf16".to_string(),
        DataType::Float(float) => {
            format!("f{}e{}m{}", dtype.bits(), float.exponent_bits, float.mantissa_bits)
        }
    }
}

/// Whether `dtype` is an integer type.
pub(crate) fn is_int(dtype: DataType) -> bool {
    matches!(dtype, DataType::Int(_))
}

/// Whether `dtype` is a signed integer type.
pub(crate) fn is_signed_int(dtype: DataType) -> bool {
    matches!(dtype, DataType::Int(int) if int.signed)
}
