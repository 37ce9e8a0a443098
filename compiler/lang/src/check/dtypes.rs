//! Dtype names: the one place the checker turns names into [`DataType`]s and back (through the dtype
//! module's `FromStr` and `Display`, so the language spells dtypes as the rest of tilevm does).

use tilevm_vm::DataType;

/// The dtype a name denotes, if any (`u4`, `i32`, `f16`, `bf16`, `f8e4m3fn`, `bool`, ...).
pub(crate) fn dtype_from_name(name: &str) -> Option<DataType> {
    name.parse().ok()
}

/// The name of a dtype, as the language spells it.
pub(crate) fn dtype_name(dtype: DataType) -> String {
    dtype.to_string()
}

/// Whether `dtype` is an integer type.
pub(crate) fn is_int(dtype: DataType) -> bool {
    matches!(dtype, DataType::Int(_))
}

/// Whether `dtype` is a signed integer type.
pub(crate) fn is_signed_int(dtype: DataType) -> bool {
    matches!(dtype, DataType::Int(int) if int.signed)
}
