//! Vectorised global loads and stores: runs of consecutive elements a thread owns move as whole words.
//
// `RegisterLayout::contiguous_local_run` finds `v`: every thread's slots `k·v .. k·v + v` hold `v`
// consecutive elements along the tile's last dimension. When the view dimension that tile dimension maps
// to has stride 1 (known only at run time, and uniform), such a run is a contiguous piece of the bit
// stream, `v·b` bits from the bit position of its first element. The run is split into chunks of at most
// `MAX_CHUNK_BITS` bits, and for each chunk:
// - a load reads the words the chunk touches into a small private window once, then extracts each code
//   with shifts (a code may straddle two words of the window);
// - a store assembles the chunk's codes into a window, then writes each word the chunk covers wholly with
//   one `atomicStore` and the partly covered edge words with `atomicAnd`/`atomicOr` (as the per-element
//   path does for every element), since neighbours may write the other bits of those.
// The fast path is taken when the stride is 1 and the whole chunk is in bounds (its first and last
// elements are); otherwise the chunk's elements take the masked per-element path. Both give the same
// bits, so the choice never changes a result.

use tilevm_vm::ir::{GlobalId, RegisterLayout};

use super::WgslResult;
use super::writer::Ctx;

/// The most bits one chunk moves (a `vec4<u32>` worth).
const MAX_CHUNK_BITS: usize = 128;

/// How a global access is split into runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RunPlan {
    /// Consecutive slots (and elements) per chunk.
    pub(super) chunk: usize,
    /// Words a chunk's window may touch (`chunk · bits` bits starting anywhere in a word).
    pub(super) window_words: usize,
}

/// The chunking of a layout's contiguous runs of `bits`-bit elements, or `None` when there is nothing to
/// vectorise (runs of one element).
pub(super) fn plan_runs(layout: &RegisterLayout, bits: u32) -> Option<RunPlan> {
    let mut chunk = layout.contiguous_local_run();
    while chunk.is_multiple_of(2) && chunk * bits as usize > MAX_CHUNK_BITS {
        chunk /= 2;
    }
    if chunk < 2 || layout.shape().is_empty() {
        return None;
    }
    Some(RunPlan { chunk, window_words: (chunk * bits as usize).div_ceil(32) + 1 })
}

impl Ctx<'_> {
    /// Emits a vectorised load of `view` into the tile named `tile_name` (inside an open block with the
    /// view offsets bound as `offsets`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn load_global_runs(
        &mut self,
        plan: RunPlan,
        layout: &RegisterLayout,
        tile_name: &str,
        view: GlobalId,
        offsets: &[String],
        dims: &[usize],
        buffer: &BufferAccess,
    ) -> WgslResult<()> {
        let bits = self.view_bits(view)?;
        let mask = code_mask(bits);
        let chunk = plan.chunk;
        self.run_loop(plan, layout, view, offsets, dims, |ctx, fast, coords| {
            if fast {
                ctx.line(&format!("var win: array<u32, {}>;", plan.window_words));
                ctx.line(&format!(
                    "for (var j = 0u; j <= last_word - first_word; j = j + 1u) {{ win[j] = {}; }}",
                    buffer.read("first_word + j")
                ));
                ctx.open(&format!("for (var i = 0u; i < {chunk}u; i = i + 1u) {{"));
                ctx.line(&format!("let p = shift + i * {bits}u;"));
                ctx.line("var code = win[p >> 5u] >> (p & 31u);");
                ctx.line(&format!(
                    "if ((p & 31u) + {bits}u > 32u) {{ code = code | (win[(p >> 5u) + 1u] << (32u - (p & 31u))); }}"
                ));
                ctx.line(&format!("{tile_name}[l0 + i] = code & {mask}u;"));
                ctx.close();
            } else {
                let (in_range, element) = ctx.view_element(view, offsets, coords, dims)?;
                let loader = buffer.loader.clone();
                ctx.line("var code = 0u;");
                ctx.line(&format!("if ({in_range}) {{ code = {loader}({element} * {bits}u, {bits}u); }}"));
                ctx.line(&format!("{tile_name}[l] = code;"));
            }
            Ok(())
        })
    }

    /// Emits a vectorised store of the tile named `tile_name` into `view` (inside an open block with the
    /// view offsets bound as `offsets`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn store_global_runs(
        &mut self,
        plan: RunPlan,
        layout: &RegisterLayout,
        tile_name: &str,
        view: GlobalId,
        offsets: &[String],
        dims: &[usize],
        buffer: &BufferAccess,
    ) -> WgslResult<()> {
        let bits = self.view_bits(view)?;
        let mask = code_mask(bits);
        let chunk = plan.chunk;
        let array = buffer.name.clone();
        self.run_loop(plan, layout, view, offsets, dims, |ctx, fast, coords| {
            if fast {
                ctx.line(&format!("var win: array<u32, {}>;", plan.window_words));
                ctx.open(&format!("for (var i = 0u; i < {chunk}u; i = i + 1u) {{"));
                ctx.line(&format!("let p = shift + i * {bits}u;"));
                ctx.line(&format!("let code = {tile_name}[l0 + i] & {mask}u;"));
                ctx.line("win[p >> 5u] = win[p >> 5u] | (code << (p & 31u));");
                ctx.line(&format!(
                    "if ((p & 31u) + {bits}u > 32u) {{ win[(p >> 5u) + 1u] = win[(p >> 5u) + 1u] | (code >> (32u - (p & 31u))); }}"
                ));
                ctx.close();
                ctx.open("for (var j = 0u; j <= last_word - first_word; j = j + 1u) {");
                // The bits of word j that the chunk covers: [low, high) relative to the word.
                ctx.line("let low = select(0u, shift, j == 0u);");
                ctx.line(&format!(
                    "let high = select(32u, ((shift + {}u - 1u) & 31u) + 1u, j == last_word - first_word);",
                    chunk as u32 * bits
                ));
                ctx.line("let covered = select((1u << (high - low)) - 1u, 0xffffffffu, high - low == 32u) << low;");
                ctx.open("if (covered == 0xffffffffu) {");
                ctx.line(&format!("atomicStore(&{array}[first_word + j], win[j]);"));
                ctx.else_branch();
                ctx.line(&format!("atomicAnd(&{array}[first_word + j], ~covered);"));
                ctx.line(&format!("atomicOr(&{array}[first_word + j], win[j] & covered);"));
                ctx.close();
                ctx.close();
            } else {
                let (in_range, element) = ctx.view_element(view, offsets, coords, dims)?;
                let storer = buffer.storer.clone();
                ctx.line(&format!(
                    "if ({in_range}) {{ {storer}({element} * {bits}u, {bits}u, {tile_name}[l]); }}"
                ));
            }
            Ok(())
        })
    }

    /// Emits the loop over a tile's chunks: for each, the guard of the fast path (binding `first_word`,
    /// `last_word` and `shift`, the chunk's first bit within `first_word`), `body(ctx, true, _)` for the
    /// fast path, and `body(ctx, false, coords)` for each element of the fallback (slot `l`).
    fn run_loop(
        &mut self,
        plan: RunPlan,
        layout: &RegisterLayout,
        view: GlobalId,
        offsets: &[String],
        dims: &[usize],
        mut body: impl FnMut(&mut Self, bool, &[String]) -> WgslResult<()>,
    ) -> WgslResult<()> {
        let chunk = plan.chunk;
        let bits = self.view_bits(view)?;
        let rank = layout.shape().len();
        let view_dim =
            *dims.get(rank - 1).ok_or_else(|| self.malformed(format!("dimension map {dims:?}")))?;
        let view_name = self.view_names[view.index()].clone();
        let chunks = layout.local_size() / chunk;
        let coords = self.layout_coords(layout, "l0");
        self.open(&format!("for (var g = 0u; g < {chunks}u; g = g + 1u) {{"));
        self.line(&format!("let l0 = g * {chunk}u;"));
        let names: Vec<String> = (0..rank).map(|d| format!("c{d}")).collect();
        for (name, coord) in names.iter().zip(&coords) {
            self.line(&format!("let {name} = {coord};"));
        }
        let (in_range, _) = self.view_element(view, offsets, &names, dims)?;
        let last = chunk - 1;
        self.line(&format!(
            "let fast = {view_name}_stride[{view_dim}] == 1i && {in_range} && vi{view_dim} + {last}i < {view_name}_shape[{view_dim}] && u32(ve) + {last}u < {view_name}_count;"
        ));
        self.open("if (fast) {");
        self.line(&format!("let first_bit = u32(ve) * {bits}u;"));
        self.line("let first_word = first_bit >> 5u;");
        self.line("let shift = first_bit & 31u;");
        self.line(&format!("let last_word = (first_bit + {}u - 1u) >> 5u;", chunk as u32 * bits));
        body(self, true, &names)?;
        self.else_branch();
        self.open(&format!("for (var i = 0u; i < {chunk}u; i = i + 1u) {{"));
        self.line("let l = l0 + i;");
        let mut element_coords = names.clone();
        element_coords[rank - 1] = format!("({} + i)", names[rank - 1]);
        body(self, false, &element_coords)?;
        self.close();
        self.close();
        self.close();
        Ok(())
    }
}

/// How to read and write one global buffer.
#[derive(Clone, Debug)]
pub(super) struct BufferAccess {
    /// The storage buffer's name.
    pub(super) name: String,
    /// Whether it is `read_write` (atomic words).
    pub(super) mutable: bool,
    /// The per-element loader function.
    pub(super) loader: String,
    /// The per-element storer function (empty for read-only buffers).
    pub(super) storer: String,
}

impl BufferAccess {
    /// The word at `index` (a `u32` expression).
    fn read(&self, index: &str) -> String {
        if self.mutable {
            format!("atomicLoad(&{}[{index}])", self.name)
        } else {
            format!("{}[{index}]", self.name)
        }
    }
}

/// The mask of a `bits`-bit code.
fn code_mask(bits: u32) -> u32 {
    if bits >= 32 { u32::MAX } else { (1u32 << bits) - 1 }
}
