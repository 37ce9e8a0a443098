//! Text for `print` instructions: values in their dtype, tiles as nested lists.

use super::codec::{float_to_f64, int_value};
use super::tiles::RegisterTile;
use crate::dtype::DataType;

/// One value: `true`/`false`, a decimal integer, or a float as Rust prints an `f64`.
pub(crate) fn format_value(dtype: DataType, code: u64) -> String {
    match dtype {
        DataType::Bool => (code & 1 != 0).to_string(),
        DataType::Int(_) => int_value(dtype, code).to_string(),
        DataType::Float(float) => float_to_f64(float, code).to_string(),
    }
}

/// `[block x, y, z] label: values`, a tile as nested lists (`[[1, 2], [3, 4]]`).
pub(crate) fn format_tile(block: [u32; 3], label: &str, tile: &RegisterTile) -> String {
    let mut text = format!("[block {}, {}, {}] {label}: ", block[0], block[1], block[2]);
    let mut next = tile.codes.iter();
    write_nested(&mut text, &tile.shape, tile.dtype, &mut next);
    text
}

/// `[block x, y, z] label: v0, v1, ...`.
pub(crate) fn format_scalars(block: [u32; 3], label: &str, values: &[(DataType, u64)]) -> String {
    let values: Vec<String> = values.iter().map(|&(dtype, code)| format_value(dtype, code)).collect();
    format!("[block {}, {}, {}] {label}: {}", block[0], block[1], block[2], values.join(", "))
}

fn write_nested<'a>(
    text: &mut String,
    shape: &[usize],
    dtype: DataType,
    next: &mut impl Iterator<Item = &'a u64>,
) {
    let Some((&extent, inner)) = shape.split_first() else {
        text.push_str(&next.next().map_or_else(String::new, |&code| format_value(dtype, code)));
        return;
    };
    text.push('[');
    for i in 0..extent {
        if i > 0 {
            text.push_str(", ");
        }
        write_nested(text, inner, dtype, next);
    }
    text.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_lists() {
        let tile = RegisterTile {
            dtype: DataType::I32,
            shape: vec![2, 2],
            codes: vec![1, 2, 3, u64::from(u32::MAX)],
        };
        assert_eq!(format_tile([1, 0, 0], "t", &tile), "[block 1, 0, 0] t: [[1, 2], [3, -1]]");
        let values = [(DataType::BOOL, 1), (DataType::F32, u64::from(1.5f32.to_bits()))];
        assert_eq!(format_scalars([0, 0, 0], "s", &values), "[block 0, 0, 0] s: true, 1.5");
    }
}
