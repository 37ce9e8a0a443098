//! Short names of dtypes and shapes for messages (until `DataType`'s `Display` lands).

use crate::dtype::{DataType, FloatType, IntType, NanEncoding};

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
            let standard_bias = (1i32 << float.exponent_bits.saturating_sub(1).min(30)) - 1
                + i32::from(float.nan == NanEncoding::Fnuz);
            let bias = if float.bias == standard_bias { String::new() } else { format!("b{}", float.bias) };
            format!("f{}e{}m{}{bias}{suffix}", dtype.bits(), float.exponent_bits, float.mantissa_bits)
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

/// The dtype with a canonical name (`u4`, `f8e4m3fn`, `bf16`).
///
/// FIXME: a stand-in for `name.parse::<DataType>()` until the dtype module lands.
pub(crate) fn dtype_from_name(name: &str) -> Option<DataType> {
    let float = |exponent_bits, mantissa_bits, bias, signed, nan| {
        Some(DataType::Float(FloatType { exponent_bits, mantissa_bits, bias, signed, nan }))
    };
    match name {
        "bool" => Some(DataType::BOOL),
        "f32" => Some(DataType::F32),
        "f16" => Some(DataType::F16),
        "bf16" => Some(DataType::BF16),
        "f4e2m1fn" => float(2, 1, 1, true, NanEncoding::None),
        "f6e2m3fn" => float(2, 3, 1, true, NanEncoding::None),
        "f6e3m2fn" => float(3, 2, 3, true, NanEncoding::None),
        "f8e3m4" => float(3, 4, 3, true, NanEncoding::Ieee),
        "f8e4m3" => float(4, 3, 7, true, NanEncoding::Ieee),
        "f8e4m3fn" => float(4, 3, 7, true, NanEncoding::Fn),
        "f8e4m3fnuz" => float(4, 3, 8, true, NanEncoding::Fnuz),
        "f8e4m3b11fnuz" => float(4, 3, 11, true, NanEncoding::Fnuz),
        "f8e5m2" => float(5, 2, 15, true, NanEncoding::Ieee),
        "f8e5m2fnuz" => float(5, 2, 16, true, NanEncoding::Fnuz),
        "f8e8m0fnu" => float(8, 0, 127, false, NanEncoding::Fn),
        _ => {
            let signed = name.starts_with('i');
            let bits: u8 = name.strip_prefix(['i', 'u'])?.parse().ok()?;
            (1..=64).contains(&bits).then_some(DataType::Int(IntType { signed, bits }))
        }
    }
}
