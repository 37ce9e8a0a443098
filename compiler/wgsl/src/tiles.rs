//! Register-tile instructions: allocation, views, casts, elementwise math, iota, data movement between
//! layouts, reductions and dot products.
//
// Each instruction runs a loop over the destination's slots. A source tile is read either straight
// from the invocation's own slots, or — the general fallback — after staging the whole source through the
// workgroup `scratch` array in logical row-major order between two barriers; which one, selection decided
// (`select::Source`, from `layout_index::local_gather`). Reductions and dot products always stage their
// inputs.

use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{
    BinaryOp, ElementwiseOp, Expr, Inst, Operand, ReduceOp, RegisterLayout, Rounding, TernaryOp, TileId,
};

use super::WgslResult;
use super::memory::row_major_linear;
use super::select::Source;
use super::writer::Ctx;

/// How a destination element's index maps to the source element it reads.
#[derive(Clone, Debug)]
enum SourceMap {
    /// The same index.
    Identity,
    /// Broadcast: size-1 (and missing leading) source dimensions read coordinate 0.
    Broadcast,
    /// `src[j]` with `j[dims[d]] = i[d]`.
    Permute(Vec<usize>),
    /// `src[offsets + i]` (offsets known only at run time).
    Slice(Vec<String>),
}

impl SourceMap {
    /// The source coordinates (expressions) of destination coordinates.
    fn apply_symbolic(&self, src_shape: &[usize], coords: &[String]) -> Vec<String> {
        match self {
            SourceMap::Identity => coords.to_vec(),
            SourceMap::Broadcast => {
                let skip = coords.len().saturating_sub(src_shape.len());
                src_shape
                    .iter()
                    .enumerate()
                    .map(|(d, &extent)| if extent == 1 { "0u".to_string() } else { coords[d + skip].clone() })
                    .collect()
            }
            SourceMap::Permute(dims) => {
                let mut source = vec!["0u".to_string(); dims.len()];
                for (d, &dim) in dims.iter().enumerate() {
                    if let (Some(slot), Some(coord)) = (source.get_mut(dim), coords.get(d)) {
                        *slot = coord.clone();
                    }
                }
                source
            }
            SourceMap::Slice(offsets) => {
                offsets.iter().zip(coords).map(|(o, c)| format!("({o} + {c})")).collect()
            }
        }
    }
}

/// Where a prepared source is read from.
#[derive(Clone, Debug)]
enum Access {
    /// `tile[slot]`, with the slot given by a table over destination slots (`None`: the same slot).
    Slots { tile: String, table: Option<String> },
    /// `scratch[base + row-major index]`.
    Scratch { base: u32, shape: Vec<usize>, map: SourceMap },
}

impl Ctx<'_> {
    pub(super) fn tile_inst(&mut self, inst: &Inst) -> WgslResult<()> {
        match inst {
            Inst::AllocRegister { dst, init } => self.alloc_register(*dst, init.as_ref()),
            Inst::View { dst, src } => self.view(*dst, *src),
            Inst::Cast { dst, src, rounding } => self.cast(*dst, *src, *rounding),
            Inst::Elementwise { dst, op, operands } => self.elementwise(*dst, *op, operands),
            Inst::Iota { dst, dim } => self.iota(*dst, *dim),
            Inst::Dot { dst, a, b, acc } => self.dot(*dst, *a, *b, *acc),
            Inst::Reduce { dst, src, dim, op } => self.reduce(*dst, *src, *dim, *op),
            Inst::Permute { dst, src, dims } => self.move_tile(*dst, *src, SourceMap::Permute(dims.clone())),
            Inst::Broadcast { dst, src } => self.move_tile(*dst, *src, SourceMap::Broadcast),
            Inst::Assign { dst, src } => self.move_tile(*dst, *src, SourceMap::Identity),
            Inst::Slice { dst, src, offsets } => {
                self.open("{");
                let mut names = Vec::new();
                for (d, offset) in offsets.iter().enumerate() {
                    let value = self.expr(offset)?;
                    let value = self.as_i32(offset.dtype, &value)?;
                    self.line(&format!("let so{d} = bitcast<u32>({value});"));
                    names.push(format!("so{d}"));
                }
                let (_, window, _) = self.tile_decl(*dst)?;
                let (_, whole, _) = self.tile_decl(*src)?;
                let (window, whole) = (window.shape().to_vec(), whole.shape().to_vec());
                let src_name = &self.kernel.tiles[src.index()].name;
                let message = format!(
                    "`slice` at a window of shape {window:?} outside register tile `{src_name}` of shape {whole:?}"
                );
                self.window_check(&names, &window, &whole, message);
                self.move_tile(*dst, *src, SourceMap::Slice(names))?;
                self.close();
                Ok(())
            }
            _ => Err(self.malformed("not a register-tile instruction".to_string())),
        }
    }

    /// A register tile's dtype, layout and WGSL name.
    pub(super) fn tile_decl(&self, tile: TileId) -> WgslResult<(DataType, RegisterLayout, String)> {
        let decl =
            self.kernel.tiles.get(tile.index()).ok_or_else(|| self.malformed(format!("unknown {tile}")))?;
        Ok((decl.dtype, decl.layout.clone(), self.tile_names[tile.index()].clone()))
    }

    /// Prepares reading `src` through `map` from where selection said (the instruction's next
    /// [`Source`]): its own slots, or staged into scratch at `*scratch_base` (advancing it).
    fn prepare(&mut self, src: TileId, map: SourceMap, scratch_base: &mut u32) -> WgslResult<Access> {
        let (_, _, src_name) = self.tile_decl(src)?;
        match self.next_source()? {
            Source::OwnSlots { gather: None } => Ok(Access::Slots { tile: src_name, table: None }),
            Source::OwnSlots { gather: Some(slots) } => {
                Ok(Access::Slots { tile: src_name, table: Some(self.table("gather", &slots)) })
            }
            Source::Exchange => self.stage_mapped(src, scratch_base, map),
        }
    }

    /// The code read through `access` for the destination element at `coords` (inside a slot loop).
    fn read(&self, access: &Access, coords: &[String]) -> String {
        match access {
            Access::Slots { tile, table: None } => format!("{tile}[l]"),
            Access::Slots { tile, table: Some(table) } => format!("{tile}[{table}[l]]"),
            Access::Scratch { base, shape, map } => {
                let source = map.apply_symbolic(shape, coords);
                format!("scratch[{base}u + {}]", row_major_linear(&source, shape))
            }
        }
    }

    /// Emits the barrier that publishes staged data, when anything was staged.
    fn publish(&mut self, staged: u32) {
        if staged > 0 {
            self.line("workgroupBarrier();");
        }
    }

    /// Emits the barrier after which scratch may be reused, when anything was staged.
    fn release(&mut self, staged: u32) {
        if staged > 0 {
            self.line("workgroupBarrier();");
        }
    }

    /// Makes reads of `dst`'s own slots safe when `dst` is rewritten in place with a slot permutation.
    fn snapshot_if_aliased(&mut self, access: &mut Access, dst_name: &str) {
        if let Access::Slots { tile, table: Some(_) } = access
            && tile == dst_name
        {
            self.line(&format!("let snapshot = {dst_name};"));
            *tile = "snapshot".to_string();
        }
    }

    fn alloc_register(&mut self, dst: TileId, init: Option<&Expr>) -> WgslResult<()> {
        let (_, layout, name) = self.tile_decl(dst)?;
        let code = match init {
            Some(init) => {
                let value = self.expr(init)?;
                self.encode_value(init.dtype, &value)?
            }
            None => "0u".to_string(),
        };
        self.open("{");
        self.line(&format!("let code = {code};"));
        self.line(&format!(
            "for (var l = 0u; l < {}u; l = l + 1u) {{ {name}[l] = code; }}",
            layout.local_size().max(1)
        ));
        self.close();
        Ok(())
    }

    fn view(&mut self, dst: TileId, src: TileId) -> WgslResult<()> {
        let (dst_dtype, dst_layout, dst_name) = self.tile_decl(dst)?;
        let (src_dtype, src_layout, src_name) = self.tile_decl(src)?;
        let (dst_bits, src_bits) = (dst_dtype.bits(), src_dtype.bits());
        let (dst_slots, src_slots) = (dst_layout.local_size(), src_layout.local_size());
        if dst_slots * dst_bits as usize != src_slots * src_bits as usize {
            return Err(self.malformed(format!("view {src} → {dst} changes the number of bits per thread")));
        }
        self.open("{");
        self.line(&format!("let source = {src_name};"));
        self.open(&format!("for (var l = 0u; l < {}u; l = l + 1u) {{", dst_slots.max(1)));
        self.line("var acc = 0u;");
        self.line("var got = 0u;");
        self.open("loop {");
        self.line(&format!("if (got >= {dst_bits}u) {{ break; }}"));
        self.line(&format!("let pos = l * {dst_bits}u + got;"));
        self.line(&format!("let off = pos % {src_bits}u;"));
        self.line(&format!("let take = min({src_bits}u - off, {dst_bits}u - got);"));
        self.line(&format!(
            "let piece = (source[pos / {src_bits}u] >> off) & select((1u << (take & 31u)) - 1u, 0xffffffffu, take == 32u);"
        ));
        self.line("acc = acc | (piece << got);");
        self.line("got = got + take;");
        self.close();
        self.line(&format!("{dst_name}[l] = acc;"));
        self.close();
        self.close();
        Ok(())
    }

    fn cast(&mut self, dst: TileId, src: TileId, rounding: Rounding) -> WgslResult<()> {
        let (dst_dtype, dst_layout, dst_name) = self.tile_decl(dst)?;
        let dst_shape = dst_layout.shape().to_vec();
        let (src_dtype, _, _) = self.tile_decl(src)?;
        self.open("{");
        let mut scratch = 0;
        let mut access = self.prepare(src, SourceMap::Identity, &mut scratch)?;
        self.snapshot_if_aliased(&mut access, &dst_name);
        self.publish(scratch);
        self.slot_loop(&dst_layout, |ctx, coords| {
            let code = ctx.read(&access, coords);
            ctx.line(&format!("let code = {code};"));
            // Stochastic rounding hashes the element's row-major index, as the interpreter does.
            let index = row_major_linear(coords, &dst_shape);
            let converted = ctx.cast_code_at(src_dtype, dst_dtype, "code", rounding, &index)?;
            ctx.line(&format!("{dst_name}[l] = {converted};"));
            Ok(())
        })?;
        self.release(scratch);
        self.close();
        Ok(())
    }

    fn elementwise(&mut self, dst: TileId, op: ElementwiseOp, operands: &[Operand]) -> WgslResult<()> {
        let (dst_dtype, dst_layout, dst_name) = self.tile_decl(dst)?;
        self.open("{");
        let mut scratch = 0;
        enum Prepared {
            Scalar(String),
            Tile(Access),
        }
        let mut prepared = Vec::new();
        let mut dtypes = Vec::new();
        for (k, operand) in operands.iter().enumerate() {
            match operand {
                Operand::Scalar(expr) => {
                    let value = self.expr(expr)?;
                    self.line(&format!("let s{k} = {value};"));
                    prepared.push(Prepared::Scalar(format!("s{k}")));
                    dtypes.push(expr.dtype);
                }
                Operand::Tile(tile) => {
                    let (dtype, _, _) = self.tile_decl(*tile)?;
                    let mut access = self.prepare(*tile, SourceMap::Broadcast, &mut scratch)?;
                    self.snapshot_if_aliased(&mut access, &dst_name);
                    prepared.push(Prepared::Tile(access));
                    dtypes.push(dtype);
                }
            }
        }
        let needed = match op {
            ElementwiseOp::Unary(_) => 1,
            ElementwiseOp::Binary(_) => 2,
            ElementwiseOp::Ternary(_) => 3,
        };
        if operands.len() != needed {
            return Err(self.malformed(format!("{op:?} takes {needed} operands, {} given", operands.len())));
        }
        self.publish(scratch);
        self.slot_loop(&dst_layout, |ctx, coords| {
            let mut values = Vec::new();
            for (k, (operand, dtype)) in prepared.iter().zip(&dtypes).enumerate() {
                let value = match operand {
                    Prepared::Scalar(name) => name.clone(),
                    Prepared::Tile(access) => {
                        let code = ctx.read(access, coords);
                        ctx.decode_value(*dtype, &code)?
                    }
                };
                ctx.line(&format!("let a{k} = {value};"));
                values.push(format!("a{k}"));
            }
            let result = match op {
                ElementwiseOp::Unary(unary) => ctx.unary(unary, dtypes[0], &values[0])?,
                ElementwiseOp::Binary(binary) => ctx.binary(binary, dtypes[0], &values[0], &values[1])?,
                ElementwiseOp::Ternary(ternary) => {
                    let result_dtype = if ternary == TernaryOp::Select { dtypes[1] } else { dtypes[0] };
                    ctx.ternary(ternary, result_dtype, &values[0], &values[1], &values[2])?
                }
            };
            let code = ctx.encode_value(dst_dtype, &result)?;
            ctx.line(&format!("{dst_name}[l] = {code};"));
            Ok(())
        })?;
        self.release(scratch);
        self.close();
        Ok(())
    }

    fn iota(&mut self, dst: TileId, dim: usize) -> WgslResult<()> {
        let (dtype, layout, name) = self.tile_decl(dst)?;
        if dim >= layout.shape().len() {
            return Err(
                self.malformed(format!("iota along dimension {dim} of a rank-{} tile", layout.shape().len()))
            );
        }
        self.slot_loop(&layout, |ctx, coords| {
            let code = ctx.cast_code(DataType::U32, dtype, &coords[dim], Rounding::NearestEven)?;
            ctx.line(&format!("{name}[l] = {code};"));
            Ok(())
        })
    }

    /// Permute, broadcast, slice and assign: `dst[i] = src[map(i)]`.
    fn move_tile(&mut self, dst: TileId, src: TileId, map: SourceMap) -> WgslResult<()> {
        let (_, dst_layout, dst_name) = self.tile_decl(dst)?;
        if dst == src && matches!(map, SourceMap::Identity) {
            return Ok(());
        }
        self.open("{");
        let mut scratch = 0;
        let mut access = self.prepare(src, map, &mut scratch)?;
        if let Access::Slots { tile, .. } = &mut access
            && *tile == dst_name
        {
            self.line(&format!("let snapshot = {dst_name};"));
            *tile = "snapshot".to_string();
        }
        self.publish(scratch);
        self.slot_loop(&dst_layout, |ctx, coords| {
            let code = ctx.read(&access, coords);
            ctx.line(&format!("{dst_name}[l] = {code};"));
            Ok(())
        })?;
        self.release(scratch);
        self.close();
        Ok(())
    }

    fn reduce(&mut self, dst: TileId, src: TileId, dim: usize, op: ReduceOp) -> WgslResult<()> {
        let (dst_dtype, dst_layout, dst_name) = self.tile_decl(dst)?;
        let (src_dtype, src_layout, _) = self.tile_decl(src)?;
        let src_shape = src_layout.shape().to_vec();
        let extent =
            *src_shape.get(dim).ok_or_else(|| self.malformed(format!("reduce along dimension {dim}")))?;
        let keeps_rank = dst_layout.shape().len() == src_shape.len();
        self.open("{");
        let mut scratch = 0;
        let access = self.stage(src, &mut scratch)?;
        self.publish(scratch);
        self.slot_loop(&dst_layout, |ctx, coords| {
            let mut source: Vec<String> = coords.to_vec();
            if keeps_rank {
                source[dim] = "k".to_string();
            } else {
                source.insert(dim.min(source.len()), "k".to_string());
            }
            let element = ctx.read(&access, &source);
            let value = ctx.decode_value(src_dtype, &element)?;
            let ty = ctx.value_type(src_dtype)?;
            let arg = matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin);
            let (init, first) = match op {
                ReduceOp::Sum => (ctx.cast_value(DataType::U32, src_dtype, "0u", Rounding::NearestEven)?, 0),
                ReduceOp::Prod => (ctx.cast_value(DataType::U32, src_dtype, "1u", Rounding::NearestEven)?, 0),
                _ => (String::new(), 1),
            };
            if first == 1 {
                let mut at_zero = source.clone();
                at_zero[dim] = "0u".to_string();
                let element = ctx.read(&access, &at_zero);
                let value = ctx.decode_value(src_dtype, &element)?;
                ctx.line(&format!("var acc: {ty} = {value};"));
            } else {
                ctx.line(&format!("var acc: {ty} = {init};"));
            }
            ctx.line("var best = 0u;");
            ctx.open(&format!("for (var k = {first}u; k < {extent}u; k = k + 1u) {{"));
            ctx.line(&format!("let v = {value};"));
            match op {
                ReduceOp::Sum | ReduceOp::Prod | ReduceOp::Max | ReduceOp::Min => {
                    let binary = match op {
                        ReduceOp::Sum => BinaryOp::Add,
                        ReduceOp::Prod => BinaryOp::Mul,
                        ReduceOp::Max => BinaryOp::Max,
                        _ => BinaryOp::Min,
                    };
                    let combined = ctx.binary(binary, src_dtype, "acc", "v")?;
                    ctx.line(&format!("acc = {combined};"));
                }
                ReduceOp::ArgMax | ReduceOp::ArgMin => {
                    let compare = if op == ReduceOp::ArgMax { "v > acc" } else { "v < acc" };
                    // NaNs are skipped: a number after leading NaNs replaces them (the interpreter's
                    // rule), tested on the bits of the (f32) values.
                    let better = if src_dtype.is_float() {
                        format!("({compare}) || ({} && !{})", ctx.is_nan("acc"), ctx.is_nan("v"))
                    } else {
                        compare.to_string()
                    };
                    ctx.line(&format!("if ({better}) {{ acc = v; best = k; }}"));
                }
            }
            ctx.close();
            let code = if arg {
                ctx.cast_code(DataType::U32, dst_dtype, "best", Rounding::NearestEven)?
            } else {
                let result = ctx.cast_value(src_dtype, dst_dtype, "acc", Rounding::NearestEven)?;
                ctx.encode_value(dst_dtype, &result)?
            };
            ctx.line(&format!("{dst_name}[l] = {code};"));
            Ok(())
        })?;
        self.release(scratch);
        self.close();
        Ok(())
    }

    /// Stages a whole tile through scratch (for instructions that read arbitrary elements).
    fn stage(&mut self, src: TileId, scratch: &mut u32) -> WgslResult<Access> {
        match self.next_source()? {
            Source::Exchange => self.stage_mapped(src, scratch, SourceMap::Identity),
            Source::OwnSlots { .. } => Err(self.internal("a staged source selected as own slots")),
        }
    }

    /// Writes `src` to workgroup scratch at `*scratch` in row-major order (advancing it), to be read back
    /// through `map` by any invocation.
    fn stage_mapped(&mut self, src: TileId, scratch: &mut u32, map: SourceMap) -> WgslResult<Access> {
        let (_, src_layout, src_name) = self.tile_decl(src)?;
        let shape = src_layout.shape().to_vec();
        let base = *scratch;
        *scratch += shape.iter().product::<usize>() as u32;
        self.scratch_words = self.scratch_words.max(*scratch);
        self.slot_loop(&src_layout, |ctx, coords| {
            let linear = row_major_linear(coords, &shape);
            ctx.line(&format!("scratch[{base}u + {linear}] = {src_name}[l];"));
            Ok(())
        })?;
        Ok(Access::Scratch { base, shape, map })
    }

    fn dot(&mut self, dst: TileId, a: TileId, b: TileId, acc: TileId) -> WgslResult<()> {
        let (dst_dtype, dst_layout, dst_name) = self.tile_decl(dst)?;
        let (a_dtype, a_layout, _) = self.tile_decl(a)?;
        let (b_dtype, _, _) = self.tile_decl(b)?;
        let a_shape = a_layout.shape().to_vec();
        let rank = dst_layout.shape().len();
        if rank < 2 || a_shape.len() != rank {
            return Err(
                self.malformed(format!("dot of rank-{} operands into a rank-{rank} tile", a_shape.len()))
            );
        }
        let depth = a_shape[rank - 1];
        self.open("{");
        let mut scratch = 0;
        let a_access = self.stage(a, &mut scratch)?;
        let b_access = self.stage(b, &mut scratch)?;
        let mut acc_access = self.prepare(acc, SourceMap::Identity, &mut scratch)?;
        self.snapshot_if_aliased(&mut acc_access, &dst_name);
        self.publish(scratch);
        let ty = self.value_type(dst_dtype)?;
        self.slot_loop(&dst_layout, |ctx, coords| {
            let initial = ctx.read(&acc_access, coords);
            let initial = ctx.decode_value(dst_dtype, &initial)?;
            ctx.line(&format!("var acc: {ty} = {initial};"));
            let mut a_index = coords.to_vec();
            a_index[rank - 1] = "k".to_string();
            let mut b_index = coords.to_vec();
            b_index[rank - 2] = "k".to_string();
            ctx.open(&format!("for (var k = 0u; k < {depth}u; k = k + 1u) {{"));
            let a_code = ctx.read(&a_access, &a_index);
            let a_value = ctx.decode_value(a_dtype, &a_code)?;
            let a_value = ctx.cast_value(a_dtype, dst_dtype, &a_value, Rounding::NearestEven)?;
            let b_code = ctx.read(&b_access, &b_index);
            let b_value = ctx.decode_value(b_dtype, &b_code)?;
            let b_value = ctx.cast_value(b_dtype, dst_dtype, &b_value, Rounding::NearestEven)?;
            ctx.line(&format!("let x = {a_value};"));
            ctx.line(&format!("let y = {b_value};"));
            let product = ctx.binary(BinaryOp::Mul, dst_dtype, "x", "y")?;
            let sum = ctx.binary(BinaryOp::Add, dst_dtype, "acc", &product)?;
            ctx.line(&format!("acc = {sum};"));
            ctx.close();
            let code = ctx.encode_value(dst_dtype, "acc")?;
            ctx.line(&format!("{dst_name}[l] = {code};"));
            Ok(())
        })?;
        self.release(scratch);
        self.close();
        Ok(())
    }
}
