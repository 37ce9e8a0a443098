//! Short names of dtypes, shapes and operators for messages and the text form.

use crate::dtype::DataType;

/// The canonical name of a dtype (`u4`, `f16`, `f8e4m3fn`).
pub(crate) fn dtype_name(dtype: DataType) -> String {
    dtype.to_string()
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
pub(crate) fn dtype_from_name(name: &str) -> Option<DataType> {
    name.parse().ok()
}
