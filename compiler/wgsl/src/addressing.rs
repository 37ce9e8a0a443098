//! The GPU's 31-bit element addressing, made to mask or fail exactly where the interpreter does.
//
// WGSL has no 64-bit integers, so view indices are `i32`. The interpreter computes them exactly (and the
// CPU backend in 64 bits); a `u32` index or view parameter at or beyond 2^31 would wrap to a negative
// `i32` and then, offset by a tile coordinate, back into range: a store at `u32` offset 4294967295
// would overwrite elements 0..30. Three rules keep every index the module computes exact or masked:
// - `u32` tile offsets saturate at `i32::MAX` before they become `i32`, so `offset + coordinate`
//   either is exact or overflows to a negative value, which the bounds test masks like the
//   interpreter masks the true, too-large index;
// - a view whose elements reach [`VIEW_INDEX_LIMIT`] or more stops the launch with a failure, so the
//   element index `offset + sum(index * stride)` of every in-range index fits `i32`;
// - shared-memory and register windows are checked once, as a whole, against their tile (the
//   interpreter checks them element by element and stops; so does the module, through the status word).

use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::GlobalId;

use super::writer::Ctx;

/// Views address element indices below this bound on the GPU: `i32::MAX` less room for a vector run
/// (`index + run length` stays an exact `i32`).
pub(super) const VIEW_INDEX_LIMIT: u32 = 0x7fff_0000;

impl Ctx<'_> {
    /// An index expression `value` of `dtype` as an `i32` that is exact or, for a `u32` at or beyond
    /// 2^31, `i32::MAX` (still out of range of every view, and it stays so after adding a coordinate).
    pub(super) fn saturated_i32(&self, dtype: DataType, value: &str) -> super::WgslResult<String> {
        match dtype {
            DataType::U32 => Ok(format!("bitcast<i32>(min({value}, 0x7fffffffu))")),
            _ => self.as_i32(dtype, value),
        }
    }

    /// Stops the launch with failure `message` unless every window start `offsets[d]` (a `u32`
    /// expression, so that a negative `i32` start fails the same comparison as one past the end) lies
    /// in `0..=whole[d] - window[d]`: the bounds the interpreter checks element by element, checked
    /// once because the starts are block-uniform and the window is the whole tile.
    pub(super) fn window_check(
        &mut self,
        offsets: &[String],
        window: &[usize],
        whole: &[usize],
        message: String,
    ) {
        let mut inside = Vec::new();
        for ((offset, &extent), &whole_extent) in offsets.iter().zip(window).zip(whole) {
            match whole_extent.checked_sub(extent) {
                Some(room) => inside.push(format!("{offset} <= {room}u")),
                None => inside.push("false".to_string()),
            }
        }
        if inside.is_empty() {
            return;
        }
        self.fail_if(&format!("!({})", inside.join(" && ")), message);
    }

    /// Stops the launch unless view `view`, whose `{name}_shape`, `{name}_stride` and `{name}_offset`
    /// were just set from expressions of the dtypes `unsigned` marks (`offset` last), addresses only
    /// element indices of magnitude below [`VIEW_INDEX_LIMIT`]: `|offset| + sum((extent - 1) * |stride|)`
    /// over the non-empty extents, accumulated so that it cannot overflow (each term is at most the limit,
    /// and the sum saturates at it).
    pub(super) fn view_range_check(&mut self, view: GlobalId, rank: usize, unsigned: ViewDtypes) {
        let name = self.view_names[view.index()].clone();
        let limit = VIEW_INDEX_LIMIT;
        self.open("{");
        // A `u32` extent, stride or offset at or beyond 2^31 arrived here as a negative `i32`.
        let mut wide = Vec::new();
        for d in 0..rank {
            if unsigned.extents[d] {
                wide.push(format!("{name}_shape[{d}] < 0i"));
            }
            if unsigned.strides[d] {
                wide.push(format!("{name}_stride[{d}] < 0i"));
            }
        }
        if unsigned.offset {
            wide.push(format!("{name}_offset < 0i"));
        }
        let wide = if wide.is_empty() { "false".to_string() } else { wide.join(" || ") };
        self.line(&format!("var view_wide = {wide};"));
        self.line(&format!("var view_span = magnitude({name}_offset);"));
        for d in 0..rank {
            self.open(&format!("if ({name}_shape[{d}] > 1i) {{"));
            self.line(&format!("let last = u32({name}_shape[{d}] - 1i);"));
            self.line(&format!("let step = magnitude({name}_stride[{d}]);"));
            self.line(&format!(
                "if (step != 0u && last > {limit}u / step) {{ view_wide = true; }} else {{ view_span = min(view_span + last * step, {limit}u); }}"
            ));
            self.close();
        }
        let decl = &self.kernel.globals[view.index()];
        let message = format!(
            "view `{}` reaches element indices of {limit} or more, which the GPU backend does not address (WGSL indices are 32-bit)",
            decl.name
        );
        self.fail_if(&format!("view_wide || view_span >= {limit}u"), message);
        self.close();
        self.prelude.require("magnitude", || {
            "fn magnitude(v: i32) -> u32 {\n    return select(bitcast<u32>(v), 0u - bitcast<u32>(v), v < 0i);\n}\n".to_string()
        });
    }
}

/// Which of a view's extents, strides and offset are `u32` expressions.
pub(super) struct ViewDtypes {
    pub(super) extents: Vec<bool>,
    pub(super) strides: Vec<bool>,
    pub(super) offset: bool,
}
