//! The values the checker computes for expressions: typed scalars, literals, tiles, views and dtypes.

use tilevm_vm::DataType;
use tilevm_vm::ir::{Expr as IrExpr, ExprKind as IrExprKind, GlobalId, ParamId, SharedId, TileId};

use super::dtypes::dtype_name;
use crate::diagnostic::Span;

/// The value of an expression after checking.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// A block-uniform scalar of a compute dtype (a constant when `expr` is a `Const`).
    Scalar(IrExpr),
    /// An integer literal or compile-time integer expression without a dtype yet (it takes the dtype
    /// of whatever it meets; `i32` when alone).
    IntLit(i128),
    /// A float literal without a dtype yet (`f32` when alone).
    FloatLit(f64),
    /// A register tile.
    Tile(Tile),
    /// A shared tile.
    Shared(SharedTile),
    /// A global view.
    Global(GlobalView),
    /// A dtype (`f16`, or a dtype parameter).
    Dtype(DataType),
    /// A string literal (labels of `print` and `assert`).
    Str(String),
    /// `[a, b, ...]`, each element with its span.
    List(Vec<(Value, Span)>),
    /// No value: what `store`, `sync` and helpers without a tail expression return.
    Unit,
    /// The value of an expression that already has a diagnostic; absorbs further errors.
    Poison,
}

/// A register tile: its handle, dtype and concrete shape.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tile {
    pub id: TileId,
    pub dtype: DataType,
    pub shape: Vec<usize>,
}

/// A shared tile.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SharedTile {
    pub id: SharedId,
    pub dtype: DataType,
    pub shape: Vec<usize>,
}

/// A global view over a pointer parameter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GlobalView {
    pub id: GlobalId,
    pub param: ParamId,
    pub dtype: DataType,
    pub rank: usize,
    pub mutable: bool,
    /// The parameter's name, for messages.
    pub name: String,
}

impl Value {
    /// What kind of value this is, for messages ("a tile of f16[64]").
    pub fn describe(&self) -> String {
        match self {
            Value::Scalar(expr) => format!("a scalar of type {}", dtype_name(expr.dtype)),
            Value::IntLit(_) => "an integer".to_string(),
            Value::FloatLit(_) => "a float".to_string(),
            Value::Tile(tile) => {
                format!("a register tile {}{}", dtype_name(tile.dtype), shape_text(&tile.shape))
            }
            Value::Shared(tile) => {
                format!("a shared tile {}{}", dtype_name(tile.dtype), shape_text(&tile.shape))
            }
            Value::Global(view) => format!("the global tensor `{}` ({})", view.name, dtype_name(view.dtype)),
            Value::Dtype(dtype) => format!("the dtype {}", dtype_name(*dtype)),
            Value::Str(_) => "a string".to_string(),
            Value::List(_) => "a list".to_string(),
            Value::Unit => "nothing (`()`)".to_string(),
            Value::Poison => "an erroneous value".to_string(),
        }
    }

    /// The compile-time integer value, if this is one.
    pub fn const_int(&self) -> Option<i128> {
        match self {
            Value::IntLit(value) => Some(*value),
            Value::Scalar(expr) => const_int_of(expr),
            _ => None,
        }
    }
}

/// The integer value of a constant scalar expression.
pub(crate) fn const_int_of(expr: &IrExpr) -> Option<i128> {
    match (&expr.kind, expr.dtype) {
        (IrExprKind::Const(code), DataType::Int(int)) => {
            let bits = u32::from(int.bits);
            let code = u128::from(*code);
            if int.signed && bits < 128 && (code >> (bits - 1)) & 1 == 1 {
                Some(code as i128 - (1i128 << bits))
            } else {
                Some(code as i128)
            }
        }
        (IrExprKind::Const(code), DataType::Bool) => Some(i128::from(*code & 1)),
        _ => None,
    }
}

/// `[a, b]` for messages.
pub(crate) fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", dims.join(", "))
}
