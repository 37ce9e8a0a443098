//! Memory instructions: global views over packed `u32` words with masking, shared tiles in `smem`, and
//! the bit-stream load/store helpers both use.
//
// An element of `b` bits at bit position `p` occupies bits `[p, p + b)` of a little-endian stream of
// words; it may straddle two words, so loads read a two-word window. Stores of sub-word elements share
// words with neighbours written by other invocations, so every writable word is an `atomic<u32>`
// updated with `atomicAnd` (clear) then `atomicOr` (set); 32-bit elements use one `atomicStore`.
// Replicas of an element hold equal values, so their clear/set pairs commute to the same result.
// The IR executes instruction by instruction for the whole block, so shared-memory writes are fenced
// by barriers before and after them, and global stores by a storage barrier after them.

use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{Expr, GlobalId, Inst, ParamKind, SharedId, TileId};

use super::WgslResult;
use super::addressing::ViewDtypes;
use super::layout_index::SharedIndex;
use super::select::GlobalAccess;
use super::vector_memory::{BufferAccess, RunPlan};
use super::writer::Ctx;

impl Ctx<'_> {
    /// A memory instruction; `access` is what selection chose for a global load or store.
    pub(super) fn memory_inst(&mut self, inst: &Inst, access: Option<GlobalAccess>) -> WgslResult<()> {
        let access = || access.ok_or_else(|| self.internal("a global access without a selected form"));
        match inst {
            Inst::ViewGlobal { dst, shape, strides, offset } => {
                self.view_global(*dst, shape, strides, offset)
            }
            Inst::LoadGlobal { dst, src, offsets, dims } => {
                let access = access()?;
                self.load_global(*dst, *src, offsets, dims, access)
            }
            Inst::StoreGlobal { dst, src, offsets, dims } => {
                let access = access()?;
                self.store_global(*dst, *src, offsets, dims, access)
            }
            Inst::LoadShared { dst, src, offsets } => self.load_shared(*dst, *src, offsets),
            Inst::StoreShared { dst, src, offsets } => self.store_shared(*dst, *src, offsets),
            Inst::CopyGlobalToShared { dst, src, offsets, dims } => {
                self.copy_global_to_shared(*dst, *src, offsets, dims)
            }
            Inst::AllocShared { dst, init } => self.alloc_shared(*dst, init.as_ref()),
            Inst::FreeShared { .. } => {
                // The next allocation may reuse these words: let every reader finish first.
                self.line("workgroupBarrier();");
                Ok(())
            }
            _ => Err(self.malformed("not a memory instruction".to_string())),
        }
    }

    fn view_global(
        &mut self,
        dst: GlobalId,
        shape: &[Expr],
        strides: &[Expr],
        offset: &Expr,
    ) -> WgslResult<()> {
        let view = self
            .kernel
            .globals
            .get(dst.index())
            .ok_or_else(|| self.malformed(format!("unknown {dst}")))?
            .clone();
        let name = self.view_names[dst.index()].clone();
        if shape.len() != strides.len() || shape.is_empty() {
            return Err(
                self.malformed(format!("view {dst} needs equal, non-zero numbers of extents and strides"))
            );
        }
        for (d, (extent, stride)) in shape.iter().zip(strides).enumerate() {
            let extent_value = self.expr(extent)?;
            let extent_value = self.as_i32(extent.dtype, &extent_value)?;
            let stride_value = self.expr(stride)?;
            let stride_value = self.as_i32(stride.dtype, &stride_value)?;
            self.line(&format!("{name}_shape[{d}] = {extent_value};"));
            self.line(&format!("{name}_stride[{d}] = {stride_value};"));
        }
        let offset_value = self.expr(offset)?;
        let offset_value = self.as_i32(offset.dtype, &offset_value)?;
        self.line(&format!("{name}_offset = {offset_value};"));
        let unsigned = |expr: &Expr| expr.dtype == DataType::U32;
        let dtypes = ViewDtypes {
            extents: shape.iter().map(unsigned).collect(),
            strides: strides.iter().map(unsigned).collect(),
            offset: unsigned(offset),
        };
        self.view_range_check(dst, shape.len(), dtypes);
        // Elements wholly inside the buffer: the buffer's true byte length comes from the metadata.
        let length = self.meta_word(super::META_PARAMS + view.param.index());
        self.line(&format!("{name}_count = ({length} * 8u) / {}u;", view.dtype.bits()));
        Ok(())
    }

    /// Binds `let go<d>` to the view offsets (saturated `i32`s), evaluated once before a loop.
    fn bind_offsets(&mut self, offsets: &[Expr], prefix: &str) -> WgslResult<Vec<String>> {
        let mut names = Vec::new();
        for (d, offset) in offsets.iter().enumerate() {
            let value = self.expr(offset)?;
            let value = self.saturated_i32(offset.dtype, &value)?;
            let name = format!("{prefix}{d}");
            self.line(&format!("let {name} = {value};"));
            names.push(name);
        }
        Ok(names)
    }

    /// Emits code that computes `in_range` and `element` for view `view` at view index
    /// `offsets + scatter(coords, dims)`, and returns (condition, element index) expressions.
    pub(super) fn view_element(
        &mut self,
        view: GlobalId,
        offsets: &[String],
        coords: &[String],
        dims: &[usize],
    ) -> WgslResult<(String, String)> {
        let name = self.view_names[view.index()].clone();
        let rank = self.view_ranks[view.index()];
        if offsets.len() != rank {
            return Err(
                self.malformed(format!("{view} has rank {rank}, but {} offsets are given", offsets.len()))
            );
        }
        if dims.len() != coords.len() || dims.iter().any(|&d| d >= rank) {
            return Err(self.malformed(format!("dimension map {dims:?} does not fit {view}")));
        }
        let mut conditions = Vec::new();
        let mut terms = vec![format!("{name}_offset")];
        for (d, offset) in offsets.iter().enumerate() {
            let index = match dims.iter().position(|&dim| dim == d) {
                Some(j) => format!("(({offset}) + bitcast<i32>({}))", coords[j]),
                None => offset.clone(),
            };
            self.line(&format!("let vi{d} = {index};"));
            conditions.push(format!("vi{d} >= 0i && vi{d} < {name}_shape[{d}]"));
            terms.push(format!("vi{d} * {name}_stride[{d}]"));
        }
        self.line(&format!("let ve = {};", terms.join(" + ")));
        conditions.push(format!("ve >= 0i && u32(ve) < {name}_count"));
        Ok((conditions.join(" && "), "u32(ve)".to_string()))
    }

    fn load_global(
        &mut self,
        dst: TileId,
        src: GlobalId,
        offsets: &[Expr],
        dims: &[usize],
        access: GlobalAccess,
    ) -> WgslResult<()> {
        let (_, layout, tile_name) = self.tile_decl(dst)?;
        let bits = self.view_bits(src)?;
        let loader = self.require_buffer_load(src)?;
        self.open("{");
        let offsets = self.bind_offsets(offsets, "go")?;
        if let GlobalAccess::Runs { chunk, window_words } = access {
            let plan = RunPlan { chunk, window_words };
            let buffer = self.buffer_access(src, loader, String::new())?;
            self.load_global_runs(plan, &layout, &tile_name, src, &offsets, dims, &buffer)?;
            self.close();
            return Ok(());
        }
        self.slot_loop(&layout, |ctx, coords| {
            let (in_range, element) = ctx.view_element(src, &offsets, coords, dims)?;
            ctx.line("var code = 0u;");
            ctx.line(&format!("if ({in_range}) {{ code = {loader}({element} * {bits}u, {bits}u); }}"));
            ctx.line(&format!("{tile_name}[l] = code;"));
            Ok(())
        })?;
        self.close();
        Ok(())
    }

    fn store_global(
        &mut self,
        dst: GlobalId,
        src: TileId,
        offsets: &[Expr],
        dims: &[usize],
        access: GlobalAccess,
    ) -> WgslResult<()> {
        let (_, layout, tile_name) = self.tile_decl(src)?;
        let bits = self.view_bits(dst)?;
        let storer = self.require_buffer_store(dst)?;
        self.open("{");
        let offsets = self.bind_offsets(offsets, "go")?;
        if let GlobalAccess::Runs { chunk, window_words } = access {
            let plan = RunPlan { chunk, window_words };
            let buffer = self.buffer_access(dst, String::new(), storer)?;
            self.store_global_runs(plan, &layout, &tile_name, dst, &offsets, dims, &buffer)?;
            self.close();
            self.line("storageBarrier();");
            return Ok(());
        }
        self.slot_loop(&layout, |ctx, coords| {
            let (in_range, element) = ctx.view_element(dst, &offsets, coords, dims)?;
            ctx.line(&format!(
                "if ({in_range}) {{ {storer}({element} * {bits}u, {bits}u, {tile_name}[l]); }}"
            ));
            Ok(())
        })?;
        self.close();
        self.line("storageBarrier();");
        Ok(())
    }

    pub(super) fn view_bits(&self, view: GlobalId) -> WgslResult<u32> {
        let decl =
            self.kernel.globals.get(view.index()).ok_or_else(|| self.malformed(format!("unknown {view}")))?;
        Ok(decl.dtype.bits())
    }

    /// The `u32` element offset in `smem`'s stream of shared tile `shared` at `index` (expressions).
    fn shared_element(&mut self, shared: SharedId, index: &[String]) -> WgslResult<String> {
        let decl = self
            .kernel
            .shared
            .get(shared.index())
            .ok_or_else(|| self.malformed(format!("unknown {shared}")))?
            .clone();
        let shape = decl.layout.shape().to_vec();
        if index.len() != shape.len() {
            return Err(self.malformed(format!(
                "{shared} has rank {}, indexed with {}",
                shape.len(),
                index.len()
            )));
        }
        Ok(match SharedIndex::new(&decl.layout) {
            SharedIndex::Affine { base, strides } => {
                let mut terms = vec![format!("{base}u")];
                for (i, stride) in index.iter().zip(&strides) {
                    if *stride != 0 {
                        terms.push(format!("({i}) * {stride}u"));
                    }
                }
                format!("({})", terms.join(" + "))
            }
            SharedIndex::Table(values) => {
                if values.len() > 1 << 16 {
                    return Err(self.unsupported(format!(
                        "shared layout of {shared} with {} elements and no affine form",
                        values.len()
                    )));
                }
                let table = self.table("shared_offsets", &values);
                format!("{table}[{}]", row_major_linear(index, &shape))
            }
        })
    }

    fn shared_bit(&mut self, shared: SharedId, index: &[String]) -> WgslResult<(String, u32)> {
        let bits = self.kernel.shared[shared.index()].dtype.bits();
        let element = self.shared_element(shared, index)?;
        let base = self.shared_base[shared.index()] * 32;
        Ok((format!("{base}u + {element} * {bits}u"), bits))
    }

    fn load_shared(&mut self, dst: TileId, src: SharedId, offsets: &[Expr]) -> WgslResult<()> {
        let (_, layout, tile_name) = self.tile_decl(dst)?;
        let loader = self.require_shared_access();
        self.open("{");
        let offsets = self.bind_window_offsets(offsets, src, layout.shape(), "load_shared")?;
        self.slot_loop(&layout, |ctx, coords| {
            let index: Vec<String> = offsets.iter().zip(coords).map(|(o, c)| format!("{o} + {c}")).collect();
            let (bit, bits) = ctx.shared_bit(src, &index)?;
            ctx.line(&format!("{tile_name}[l] = {loader}({bit}, {bits}u);"));
            Ok(())
        })?;
        self.close();
        Ok(())
    }

    fn store_shared(&mut self, dst: SharedId, src: TileId, offsets: &[Expr]) -> WgslResult<()> {
        let (_, layout, tile_name) = self.tile_decl(src)?;
        self.require_shared_access();
        self.line("workgroupBarrier();");
        self.open("{");
        let offsets = self.bind_window_offsets(offsets, dst, layout.shape(), "store_shared")?;
        self.slot_loop(&layout, |ctx, coords| {
            let index: Vec<String> = offsets.iter().zip(coords).map(|(o, c)| format!("{o} + {c}")).collect();
            let (bit, bits) = ctx.shared_bit(dst, &index)?;
            ctx.line(&format!("st_smem({bit}, {bits}u, {tile_name}[l]);"));
            Ok(())
        })?;
        self.close();
        self.line("workgroupBarrier();");
        Ok(())
    }

    /// Binds the start of a register tile's window (of shape `window`) into shared tile `shared`, stops
    /// the launch unless the window lies inside the shared tile (as the interpreter and the CPU do),
    /// and returns the starts as `u32` expressions.
    fn bind_window_offsets(
        &mut self,
        offsets: &[Expr],
        shared: SharedId,
        window: &[usize],
        inst: &str,
    ) -> WgslResult<Vec<String>> {
        let decl = self
            .kernel
            .shared
            .get(shared.index())
            .ok_or_else(|| self.malformed(format!("unknown {shared}")))?;
        let whole = decl.layout.shape().to_vec();
        let message = format!(
            "`{inst}` at a window of shape {window:?} outside shared tile `{}` of shape {whole:?}",
            decl.name
        );
        let signed = self.bind_offsets(offsets, "so")?;
        let starts: Vec<String> = signed.iter().map(|name| format!("bitcast<u32>({name})")).collect();
        self.window_check(&starts, window, &whole, message);
        Ok(starts)
    }

    fn copy_global_to_shared(
        &mut self,
        dst: SharedId,
        src: GlobalId,
        offsets: &[Expr],
        dims: &[usize],
    ) -> WgslResult<()> {
        let decl = self
            .kernel
            .shared
            .get(dst.index())
            .ok_or_else(|| self.malformed(format!("unknown {dst}")))?
            .clone();
        let shape = decl.layout.shape().to_vec();
        let count: usize = shape.iter().product();
        let bits = self.view_bits(src)?;
        let loader = self.require_buffer_load(src)?;
        self.require_shared_access();
        self.line("workgroupBarrier();");
        self.open("{");
        let offsets = self.bind_offsets(offsets, "go")?;
        let threads = self.kernel.num_threads;
        self.open(&format!("for (var i = tid; i < {count}u; i = i + {threads}u) {{"));
        let coords = unravel("i", &shape);
        let names: Vec<String> = (0..coords.len()).map(|d| format!("c{d}")).collect();
        for (name, coord) in names.iter().zip(&coords) {
            self.line(&format!("let {name} = {coord};"));
        }
        let (in_range, element) = self.view_element(src, &offsets, &names, dims)?;
        self.line("var code = 0u;");
        self.line(&format!("if ({in_range}) {{ code = {loader}({element} * {bits}u, {bits}u); }}"));
        let (bit, shared_bits) = self.shared_bit(dst, &names)?;
        self.line(&format!("st_smem({bit}, {shared_bits}u, code);"));
        self.close();
        self.close();
        self.line("workgroupBarrier();");
        Ok(())
    }

    fn alloc_shared(&mut self, dst: SharedId, init: Option<&Expr>) -> WgslResult<()> {
        let Some(init) = init else { return Ok(()) };
        let decl = self
            .kernel
            .shared
            .get(dst.index())
            .ok_or_else(|| self.malformed(format!("unknown {dst}")))?
            .clone();
        let shape = decl.layout.shape().to_vec();
        let count: usize = shape.iter().product();
        let value = self.expr(init)?;
        let code = self.encode_value(init.dtype, &value)?;
        self.require_shared_access();
        self.line("workgroupBarrier();");
        self.open("{");
        self.line(&format!("let code = {code};"));
        let threads = self.kernel.num_threads;
        self.open(&format!("for (var i = tid; i < {count}u; i = i + {threads}u) {{"));
        let coords = unravel("i", &shape);
        let (bit, bits) = self.shared_bit(dst, &coords)?;
        self.line(&format!("st_smem({bit}, {bits}u, code);"));
        self.close();
        self.close();
        self.line("workgroupBarrier();");
        Ok(())
    }

    /// The buffer behind `view` and how to access it, with the per-element `loader` and `storer`.
    fn buffer_access(&self, view: GlobalId, loader: String, storer: String) -> WgslResult<BufferAccess> {
        let param = self
            .kernel
            .globals
            .get(view.index())
            .ok_or_else(|| self.malformed(format!("unknown {view}")))?
            .param;
        let mutable = matches!(
            self.kernel.params.get(param.index()).map(|decl| &decl.kind),
            Some(ParamKind::Global { mutable: true, .. })
        );
        Ok(BufferAccess { name: self.buffer_names[param.index()].clone(), mutable, loader, storer })
    }

    /// Requires the loader of the buffer behind `view`; returns its name.
    fn require_buffer_load(&mut self, view: GlobalId) -> WgslResult<String> {
        let param = self
            .kernel
            .globals
            .get(view.index())
            .ok_or_else(|| self.malformed(format!("unknown {view}")))?
            .param;
        let mutable = match self.kernel.params.get(param.index()).map(|decl| &decl.kind) {
            Some(ParamKind::Global { mutable, .. }) => *mutable,
            _ => return Err(self.malformed(format!("{view} is not over a global parameter"))),
        };
        let buffer = self.buffer_names[param.index()].clone();
        let name = format!("ld_{buffer}");
        let read = if mutable { format!("atomicLoad(&{buffer}[w])") } else { format!("{buffer}[w]") };
        let read_next =
            if mutable { format!("atomicLoad(&{buffer}[w + 1u])") } else { format!("{buffer}[w + 1u]") };
        self.prelude.require(&name, || load_function(&name, &read, &read_next));
        Ok(name)
    }

    /// Requires the storer of the buffer behind `view`; returns its name.
    fn require_buffer_store(&mut self, view: GlobalId) -> WgslResult<String> {
        let param = self
            .kernel
            .globals
            .get(view.index())
            .ok_or_else(|| self.malformed(format!("unknown {view}")))?
            .param;
        match self.kernel.params.get(param.index()).map(|decl| &decl.kind) {
            Some(ParamKind::Global { mutable: true, .. }) => {}
            _ => {
                return Err(self.malformed(format!(
                    "store through {view}, which is not over a mutable global parameter"
                )));
            }
        }
        let buffer = self.buffer_names[param.index()].clone();
        let name = format!("st_{buffer}");
        self.prelude.require(&name, || store_function(&name, &buffer));
        Ok(name)
    }

    /// Requires `ld_smem` and `st_smem`; returns the loader's name.
    fn require_shared_access(&mut self) -> String {
        self.prelude.require("ld_smem", || {
            load_function("ld_smem", "atomicLoad(&smem[w])", "atomicLoad(&smem[w + 1u])")
        });
        self.prelude.require("st_smem", || store_function("st_smem", "smem"));
        "ld_smem".to_string()
    }
}

fn load_function(name: &str, read: &str, read_next: &str) -> String {
    format!(
        "fn {name}(bit: u32, bits: u32) -> u32 {{\n    let w = bit >> 5u;\n    let sh = bit & 31u;\n    var v = {read} >> sh;\n    if (sh + bits > 32u) {{ v = v | ({read_next} << (32u - sh)); }}\n    return v & select((1u << (bits & 31u)) - 1u, 0xffffffffu, bits == 32u);\n}}\n"
    )
}

fn store_function(name: &str, array: &str) -> String {
    format!(
        "fn {name}(bit: u32, bits: u32, code: u32) {{\n    let w = bit >> 5u;\n    let sh = bit & 31u;\n    let mask = select((1u << (bits & 31u)) - 1u, 0xffffffffu, bits == 32u);\n    let v = code & mask;\n    if (bits == 32u && sh == 0u) {{ atomicStore(&{array}[w], v); return; }}\n    atomicAnd(&{array}[w], ~(mask << sh));\n    atomicOr(&{array}[w], v << sh);\n    if (sh + bits > 32u) {{\n        atomicAnd(&{array}[w + 1u], ~(mask >> (32u - sh)));\n        atomicOr(&{array}[w + 1u], v >> (32u - sh));\n    }}\n}}\n"
    )
}

/// Row-major coordinates of the linear index `linear` (a `u32` expression) in `shape`.
pub(super) fn unravel(linear: &str, shape: &[usize]) -> Vec<String> {
    let mut coords = Vec::new();
    let mut inner = 1;
    for d in (0..shape.len()).rev() {
        let extent = shape[d].max(1);
        let divided = if inner == 1 { linear.to_string() } else { format!("({linear} / {inner}u)") };
        coords.push(if d == 0 { divided } else { format!("({divided} % {extent}u)") });
        inner *= extent;
    }
    coords.reverse();
    coords
}

/// The row-major linear index (a `u32` expression) of coordinates in `shape`.
pub(super) fn row_major_linear(coords: &[String], shape: &[usize]) -> String {
    let mut terms = Vec::new();
    let mut stride = 1;
    for d in (0..shape.len()).rev() {
        terms.push(if stride == 1 {
            format!("({})", coords[d])
        } else {
            format!("({}) * {stride}u", coords[d])
        });
        stride *= shape[d].max(1);
    }
    if terms.is_empty() {
        return "0u".to_string();
    }
    terms.reverse();
    format!("({})", terms.join(" + "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout_index::row_major_indices;

    #[test]
    fn unravel_and_linear_are_inverse_shapes() {
        assert_eq!(unravel("i", &[2, 3]), vec!["(i / 3u)".to_string(), "(i % 3u)".to_string()]);
        assert_eq!(row_major_linear(&["a".to_string(), "b".to_string()], &[2, 3]), "((a) * 3u + (b))");
        assert_eq!(row_major_indices(&[2, 2]).count(), 4);
    }
}
