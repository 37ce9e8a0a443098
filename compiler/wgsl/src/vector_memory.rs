//! Vectorised global loads and stores: runs of consecutive elements a thread owns move as whole words.
//
// `RegisterLayout::contiguous_local_run` finds `v`: every thread's slots `k·v .. k·v + v` hold `v`
// consecutive elements along the tile's last dimension. When the view dimension that tile dimension maps
// to has stride 1 (known only at run time, and uniform), such a run is a contiguous piece of the bit
// stream, `v·b` bits from the bit position of its first element. The run is split into chunks of at most
// `MAX_CHUNK_BITS` bits, and each chunk is emitted unrolled (constant slot indices, so that drivers keep
// the tile in registers):
// - a load reads the words the chunk touches once, realigns them with a funnel shift so that the chunk
//   starts at bit 0, and extracts each code at a constant position (`extractBits`, or two words for a
//   code that straddles);
// - a store packs the chunk's codes at constant positions, shifts the words to the chunk's first bit, and
//   writes each word the chunk covers wholly with one `atomicStore` and the partly covered edge words
//   with `atomicAnd`/`atomicOr` (as the per-element path does for every element), since neighbours may
//   write the other bits of those.
// Stores of 32-bit elements keep the per-element path: each already is one `atomicStore`, and on
// lavapipe the guarded chunks were slower (u4 → f32 dequantisation of 4096×4096: 41 ms per element,
// 50-90 ms in chunks), while u4 stores gain threefold (a u4 copy: 104 ms → 32 ms).
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
        let chunk = plan.chunk;
        let aligned_words = plan.window_words - 1;
        self.run_loop(plan, layout, view, offsets, dims, |ctx, fast, coords| {
            if let Some(first_slot) = fast {
                // Raw words r<k> as stored, then words a<k> realigned so the chunk starts at bit 0.
                for k in 0..plan.window_words {
                    let read = buffer.read(&format!("first_word + {k}u"));
                    if k == 0 {
                        ctx.line(&format!("let r0 = {read};"));
                    } else {
                        ctx.line(&format!("var r{k} = 0u;"));
                        ctx.line(&format!("if (first_word + {k}u <= last_word) {{ r{k} = {read}; }}"));
                    }
                }
                for k in 0..aligned_words {
                    // `(x << 1) << (31 - shift)` is `x << (32 - shift)`, and 0 when `shift` is 0.
                    ctx.line(&format!(
                        "let a{k} = (r{k} >> shift) | ((r{next} << 1u) << (31u - shift));",
                        next = k + 1
                    ));
                }
                for i in 0..chunk {
                    let position = i as u32 * bits;
                    let (word, offset) = (position / 32, position % 32);
                    let code = if bits == 32 {
                        format!("a{word}")
                    } else if offset + bits <= 32 {
                        format!("extractBits(a{word}, {offset}u, {bits}u)")
                    } else {
                        format!(
                            "(((a{word} >> {offset}u) | (a{next} << {back}u)) & {mask}u)",
                            next = word + 1,
                            back = 32 - offset,
                            mask = code_mask(bits)
                        )
                    };
                    ctx.line(&format!("{tile_name}[{}u] = {code};", first_slot + i));
                }
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
        let chunk_bits = chunk as u32 * bits;
        let aligned_words = plan.window_words - 1;
        let array = buffer.name.clone();
        self.run_loop(plan, layout, view, offsets, dims, |ctx, fast, coords| {
            if let Some(first_slot) = fast {
                // The chunk's codes packed from bit 0 of words a<k>.
                let mut parts: Vec<Vec<String>> = vec![Vec::new(); aligned_words];
                for i in 0..chunk {
                    let position = i as u32 * bits;
                    let (word, offset) = (position as usize / 32, position % 32);
                    let code = format!("({tile_name}[{}u] & {mask}u)", first_slot + i);
                    parts[word].push(if offset == 0 { code.clone() } else { format!("({code} << {offset}u)") });
                    if offset + bits > 32 {
                        parts[word + 1].push(format!("({code} >> {}u)", 32 - offset));
                    }
                }
                for (k, part) in parts.iter().enumerate() {
                    let value = if part.is_empty() { "0u".to_string() } else { part.join(" | ") };
                    ctx.line(&format!("let a{k} = {value};"));
                }
                // Words o<k> shifted to the chunk's first bit, and the bits of each that the chunk covers.
                for k in 0..plan.window_words {
                    let low = if k < aligned_words { format!("(a{k} << shift)") } else { "0u".to_string() };
                    let high =
                        if k > 0 { format!(" | ((a{} >> 1u) >> (31u - shift))", k - 1) } else { String::new() };
                    let guard = if k == 0 { "true".to_string() } else { format!("first_word + {k}u <= last_word") };
                    ctx.open(&format!("if ({guard}) {{"));
                    ctx.line(&format!("let o = {low}{high};"));
                    let from = if k == 0 { "shift" } else { "0u" };
                    ctx.line(&format!(
                        "let end = u32(clamp(i32(shift) + {}, 0, 32));",
                        chunk_bits as i64 - 32 * k as i64
                    ));
                    ctx.line(&format!(
                        "let covered = (0xffffffffu << {from}) & select((1u << end) - 1u, 0xffffffffu, end == 32u);"
                    ));
                    ctx.open("if (covered == 0xffffffffu) {");
                    ctx.line(&format!("atomicStore(&{array}[first_word + {k}u], o);"));
                    ctx.else_branch();
                    ctx.line(&format!("atomicAnd(&{array}[first_word + {k}u], ~covered);"));
                    ctx.line(&format!("atomicOr(&{array}[first_word + {k}u], o & covered);"));
                    ctx.close();
                    ctx.close();
                }
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

    /// Emits each of a tile's chunks, unrolled: the guard of the fast path (binding `first_word`,
    /// `last_word` and `shift`, the chunk's first bit within `first_word`), `body(ctx, Some(first slot), _)`
    /// for the fast path, and `body(ctx, None, coords)` for each element of the fallback (slot `l`).
    fn run_loop(
        &mut self,
        plan: RunPlan,
        layout: &RegisterLayout,
        view: GlobalId,
        offsets: &[String],
        dims: &[usize],
        mut body: impl FnMut(&mut Self, Option<usize>, &[String]) -> WgslResult<()>,
    ) -> WgslResult<()> {
        let chunk = plan.chunk;
        let bits = self.view_bits(view)?;
        let rank = layout.shape().len();
        let view_dim =
            *dims.get(rank - 1).ok_or_else(|| self.malformed(format!("dimension map {dims:?}")))?;
        let view_name = self.view_names[view.index()].clone();
        let chunks = layout.local_size() / chunk;
        let names: Vec<String> = (0..rank).map(|d| format!("c{d}")).collect();
        for g in 0..chunks {
            let first_slot = g * chunk;
            let coords = self.layout_coords(layout, &format!("{first_slot}u"));
            self.open("{");
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
            body(self, Some(first_slot), &names)?;
            self.else_branch();
            self.open(&format!("for (var i = 0u; i < {chunk}u; i = i + 1u) {{"));
            self.line(&format!("let l = {first_slot}u + i;"));
            let mut element_coords = names.clone();
            element_coords[rank - 1] = format!("({} + i)", names[rank - 1]);
            body(self, None, &element_coords)?;
            self.close();
            self.close();
            self.close();
        }
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
