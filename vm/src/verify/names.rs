//! Short names of dtypes and shapes for messages (until `DataType`'s `Display` lands).

use crate::dtype::{DataType, NanEncoding};

/// The canonical name of a dtype (`u4`, `f16`, `f8e4m3fn`).
pub(crate) fn dtype_name(dtype: DataType) -> String {
    match dtype {
        DataType::Bool => "bool".to_string(),
        DataType::Int(int) => format!("{}{}", if int.signed { "i" } else { "u" }, int.bits),
        DataType::Float(_) if dtype == DataType::F32 => "f32".to_string(),
        DataType::Float(_) if dtype == DataType::F16 => "f16".to_string(),
        DataType::Float(_) if dtype == DataType::BF16 => "bf16".to_string(),
        DataType::Float(float) => {
            let suffix = match (float.nan, float.signed) {
                (NanEncoding::Ieee, _) => "",
                (NanEncoding::Fn, true) => "fn",
                (NanEncoding::Fn, false) => "fnu",
                (NanEncoding::Fnuz, _) => "fnuz",
                (NanEncoding::None, true) => "fn",
                (NanEncoding::None, false) => "fnu",
            };
            format!("f{}e{}m{}{suffix}", dtype.bits(), float.exponent_bits, float.mantissa_bits)
        }
    }
}

/// A shape as `[4, 8]`.
pub(crate) fn shape_text(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// The lowercase name of an elementwise or scalar operator (`add`, `exp2`, `select`).
pub(crate) fn operator_name(op: crate::ir::ElementwiseOp) -> String {
    use crate::ir::ElementwiseOp;
    let name = match op {
        ElementwiseOp::Unary(op) => format!("{op:?}"),
        ElementwiseOp::Binary(op) => format!("{op:?}"),
        ElementwiseOp::Ternary(op) => format!("{op:?}"),
    };
    name.to_lowercase()
}
