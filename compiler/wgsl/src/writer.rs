//! The WGSL writer: one kernel in, one WGSL module out. Declarations, the entry point, scalar
//! statements and control flow live here; tile instructions are in `memory` and `tiles`.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use tilevm_vm::interp::PrintSites;
use tilevm_vm::ir::{Inst, Kernel, ParamKind, RegisterLayout, SharedId, Stmt, StmtKind};

use super::codec::Prelude;
use super::layout_index::{IndexFn, RegisterIndex};
use super::namer::Namer;
use super::select::{GpuOp, GpuSelection, NanResults, Source, TileOp, select};
use super::{
    BufferBinding, ENTRY_POINT, Error, GpuCaps, KernelInterface, META_BINDING, META_BLOCK_OFFSET,
    META_PARAMS, META_ZERO, STATUS_BINDING, WgslOptions, WgslResult,
};

/// Writes WGSL modules for kernels into `out`.
///
/// Usage: `new`, then `write` once per kernel (each call appends one complete module, so write one
/// kernel per writer when the text goes to a GPU), then `finish` to get the sink back.
#[derive(Debug)]
pub struct WgslWriter<W: fmt::Write> {
    out: W,
    options: WgslOptions,
    caps: GpuCaps,
}

impl<W: fmt::Write> WgslWriter<W> {
    /// A writer for a GPU with capabilities `caps`.
    pub fn new(out: W, options: WgslOptions, caps: GpuCaps) -> WgslWriter<W> {
        WgslWriter { out, options, caps }
    }

    /// The options this writer was made with.
    pub fn options(&self) -> WgslOptions {
        self.options
    }

    /// Writes the module of one kernel and returns how to bind and launch it.
    ///
    /// # Errors
    /// `Unsupported`/`Limit` when the GPU cannot run the kernel, `Malformed` for unverified IR.
    pub fn write(&mut self, kernel: &Kernel) -> WgslResult<KernelInterface> {
        let mut ctx = Ctx::new(kernel, self.caps)?;
        ctx.write_body()?;
        let interface = ctx.interface()?;
        ctx.assemble(&mut self.out)?;
        Ok(interface)
    }

    /// Returns the output sink.
    pub fn finish(self) -> W {
        self.out
    }
}

/// The state of writing one kernel; the instruction writers in sibling modules extend it.
pub(super) struct Ctx<'k> {
    pub(super) kernel: &'k Kernel,
    pub(super) caps: GpuCaps,
    pub(super) prelude: Prelude,
    /// Module-scope constant tables.
    pub(super) tables: Vec<String>,
    /// The entry point's body.
    code: String,
    indent: usize,
    namer: Namer,
    pub(super) var_names: Vec<String>,
    pub(super) tile_names: Vec<String>,
    pub(super) view_names: Vec<String>,
    /// The storage buffer of each parameter (empty for scalars).
    pub(super) buffer_names: Vec<String>,
    /// First word in `smem` of each shared tile.
    pub(super) shared_base: Vec<u32>,
    /// Words of `smem`.
    pub(super) shared_words: u32,
    /// Words of `scratch` (the largest any instruction stages).
    pub(super) scratch_words: u32,
    /// Rank of each global view.
    pub(super) view_ranks: Vec<usize>,
    register_index: HashMap<RegisterLayout, RegisterIndex>,
    /// The messages of the run-time failures the status word reports, indexed by status value - 1.
    pub(super) failures: Vec<String>,
    /// The operation of every instruction (`select`).
    selection: GpuSelection,
    /// The pre-order index of the next instruction to write.
    next_inst: usize,
    /// The sources of the instruction being written that its reads have not taken yet.
    sources: VecDeque<Source>,
    /// The NaN results of the instruction being written (canonical outside tile instructions).
    pub(super) nans: NanResults,
    /// The exit flag of each IR loop around the statement being written, innermost last (`loops.rs`).
    pub(super) loop_exits: Vec<String>,
    /// The kernel's `print` instructions, numbered as their records name them (`prints.rs`).
    pub(super) print_sites: PrintSites,
}

impl<'k> Ctx<'k> {
    fn new(kernel: &'k Kernel, caps: GpuCaps) -> WgslResult<Ctx<'k>> {
        let mut ctx = Ctx {
            kernel,
            caps,
            prelude: Prelude::default(),
            tables: Vec::new(),
            code: String::new(),
            indent: 1,
            namer: Namer::default(),
            var_names: Vec::new(),
            tile_names: Vec::new(),
            view_names: Vec::new(),
            buffer_names: Vec::new(),
            shared_base: vec![0; kernel.shared.len()],
            shared_words: 0,
            scratch_words: 0,
            view_ranks: vec![0; kernel.globals.len()],
            register_index: HashMap::new(),
            failures: Vec::new(),
            selection: select(kernel, &caps),
            next_inst: 0,
            sources: VecDeque::new(),
            nans: NanResults::Canonical,
            loop_exits: Vec::new(),
            print_sites: PrintSites::of(kernel),
        };
        for fixed in
            ["tid", "wid", "block", "launch", "status", "smem", "scratch", "l", "k", "i", ENTRY_POINT]
                .into_iter()
                .chain(super::prints::PRINT_NAMES)
        {
            ctx.namer.reserve(fixed);
        }
        ctx.check_limits()?;
        ctx.var_names = kernel
            .vars
            .iter()
            .enumerate()
            .map(|(i, var)| ctx.namer.name(&format!("{}_v{i}", var.name)))
            .collect();
        ctx.tile_names = kernel
            .tiles
            .iter()
            .enumerate()
            .map(|(i, tile)| ctx.namer.name(&format!("{}_t{i}", tile.name)))
            .collect();
        ctx.view_names = kernel
            .globals
            .iter()
            .enumerate()
            .map(|(i, view)| ctx.namer.name(&format!("{}_g{i}", view.name)))
            .collect();
        ctx.buffer_names = kernel
            .params
            .iter()
            .enumerate()
            .map(|(i, param)| match param.kind {
                ParamKind::Global { .. } => ctx.namer.name(&format!("buf_{}_p{i}", param.name)),
                ParamKind::Scalar { .. } => String::new(),
            })
            .collect();
        let mut top = 0;
        let mut stack = Vec::new();
        ctx.plan(&kernel.body, &mut top, &mut stack)?;
        Ok(ctx)
    }

    fn check_limits(&self) -> WgslResult<()> {
        let threads = self.kernel.num_threads;
        if threads == 0 {
            return Err(self.malformed("a kernel needs at least one thread".to_string()));
        }
        if threads > self.caps.max_workgroup_threads {
            return Err(self.limit(format!(
                "{threads} threads per block, the adapter allows {}",
                self.caps.max_workgroup_threads
            )));
        }
        let buffers =
            self.kernel.params.iter().filter(|param| matches!(param.kind, ParamKind::Global { .. })).count()
                + 1;
        if buffers as u32 > self.caps.max_storage_buffers {
            return Err(self.limit(format!(
                "{buffers} storage buffers (global parameters and the status word), the adapter allows {}",
                self.caps.max_storage_buffers
            )));
        }
        for var in &self.kernel.vars {
            self.value_type(var.dtype)?;
        }
        for tile in &self.kernel.tiles {
            if tile.dtype.bits() > 32 {
                return Err(
                    self.unsupported(format!("tiles of {} (WGSL has no 64-bit integers)", tile.dtype))
                );
            }
        }
        for view in &self.kernel.globals {
            if view.dtype.bits() > 32 {
                return Err(
                    self.unsupported(format!("views of {} (WGSL has no 64-bit integers)", view.dtype))
                );
            }
        }
        Ok(())
    }

    /// Assigns `smem` words to shared tiles (a LIFO stack, as the IR frees them) and finds view ranks.
    fn plan(&mut self, body: &[Stmt], top: &mut u32, stack: &mut Vec<(SharedId, u32)>) -> WgslResult<()> {
        for stmt in body {
            match &stmt.kind {
                StmtKind::For { body, .. } | StmtKind::While { body, .. } => self.plan(body, top, stack)?,
                StmtKind::If { then_body, else_body, .. } => {
                    self.plan(then_body, top, stack)?;
                    self.plan(else_body, top, stack)?;
                }
                StmtKind::Inst(Inst::AllocShared { dst, .. }) => {
                    let decl = self
                        .kernel
                        .shared
                        .get(dst.index())
                        .ok_or_else(|| self.malformed(format!("unknown {dst}")))?;
                    let bits = decl.layout.size() as u64 * u64::from(decl.dtype.bits());
                    let words = bits.div_ceil(32) as u32;
                    self.shared_base[dst.index()] = *top;
                    stack.push((*dst, *top));
                    *top += words;
                    self.shared_words = self.shared_words.max(*top);
                }
                StmtKind::Inst(Inst::FreeShared { tile }) => {
                    if let Some(position) = stack.iter().rposition(|(id, _)| id == tile) {
                        *top = stack[position].1;
                        stack.truncate(position);
                    }
                }
                StmtKind::Inst(Inst::ViewGlobal { dst, shape, .. }) => {
                    if let Some(rank) = self.view_ranks.get_mut(dst.index()) {
                        *rank = shape.len();
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn interface(&self) -> WgslResult<KernelInterface> {
        let shared_bytes = (self.shared_words + self.scratch_words) * 4;
        if shared_bytes > self.caps.max_shared_bytes {
            return Err(self.limit(format!(
                "{shared_bytes} bytes of workgroup memory ({} for shared tiles, {} to exchange register tiles), the adapter allows {}",
                self.shared_words * 4,
                self.scratch_words * 4,
                self.caps.max_shared_bytes
            )));
        }
        let buffers = self
            .kernel
            .params
            .iter()
            .enumerate()
            .filter_map(|(param, decl)| match decl.kind {
                ParamKind::Global { mutable, .. } => {
                    Some(BufferBinding { param, binding: buffer_binding(param), mutable })
                }
                ParamKind::Scalar { .. } => None,
            })
            .collect();
        Ok(KernelInterface {
            name: self.kernel.name.clone(),
            num_threads: self.kernel.num_threads,
            meta_words: self.meta_words(),
            buffers,
            failures: self.failures.clone(),
            prints: !self.print_sites.is_empty(),
            shared_bytes,
        })
    }

    fn meta_words(&self) -> usize {
        (META_PARAMS + self.kernel.params.len()).div_ceil(4) * 4
    }

    /// Writes the whole module.
    fn assemble(&self, out: &mut impl fmt::Write) -> WgslResult<()> {
        writeln!(
            out,
            "// tilevm kernel `{}`: {} threads per block.",
            self.kernel.name, self.kernel.num_threads
        )?;
        writeln!(
            out,
            "@group(0) @binding({META_BINDING}) var<uniform> launch: array<vec4<u32>, {}>;",
            self.meta_words() / 4
        )?;
        writeln!(
            out,
            "@group(0) @binding({STATUS_BINDING}) var<storage, read_write> status: array<atomic<u32>>;"
        )?;
        for (index, param) in self.kernel.params.iter().enumerate() {
            if let ParamKind::Global { mutable, .. } = param.kind {
                let name = &self.buffer_names[index];
                let binding = buffer_binding(index);
                if mutable {
                    writeln!(
                        out,
                        "@group(0) @binding({binding}) var<storage, read_write> {name}: array<atomic<u32>>;"
                    )?;
                } else {
                    writeln!(out, "@group(0) @binding({binding}) var<storage, read> {name}: array<u32>;")?;
                }
            }
        }
        if self.shared_words > 0 {
            writeln!(out, "var<workgroup> smem: array<atomic<u32>, {}>;", self.shared_words)?;
        }
        if self.scratch_words > 0 {
            writeln!(out, "var<workgroup> scratch: array<u32, {}>;", self.scratch_words)?;
        }
        if !self.print_sites.is_empty() {
            writeln!(out, "var<workgroup> print_base: u32;\nvar<private> print_seq: u32;")?;
        }
        for table in &self.tables {
            writeln!(out, "{table}")?;
        }
        for helper in self.prelude.texts() {
            write!(out, "\n{helper}")?;
        }
        writeln!(out, "\n@compute @workgroup_size({})", self.kernel.num_threads)?;
        writeln!(
            out,
            "fn {ENTRY_POINT}(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {{"
        )?;
        let offset = |axis: usize| self.meta_word(META_BLOCK_OFFSET + axis);
        writeln!(out, "    let block = wid + vec3<u32>({}, {}, {});", offset(0), offset(1), offset(2))?;
        writeln!(out, "    let opaque_zero = {};", self.meta_word(META_ZERO))?;
        for (var, name) in self.kernel.vars.iter().zip(&self.var_names) {
            writeln!(out, "    var {name}: {};", self.value_type(var.dtype)?)?;
        }
        for (tile, name) in self.kernel.tiles.iter().zip(&self.tile_names) {
            writeln!(out, "    var {name}: array<u32, {}>;", tile.layout.local_size().max(1))?;
        }
        for (index, name) in self.view_names.iter().enumerate() {
            let rank = self.view_ranks[index].max(1);
            writeln!(
                out,
                "    var {name}_shape: array<i32, {rank}>;\n    var {name}_stride: array<i32, {rank}>;"
            )?;
            writeln!(out, "    var {name}_offset: i32;\n    var {name}_count: u32;")?;
        }
        out.write_str(&self.code)?;
        writeln!(out, "}}")?;
        Ok(())
    }

    fn write_body(&mut self) -> WgslResult<()> {
        for (index, param) in self.kernel.params.iter().enumerate() {
            if let ParamKind::Scalar { var, .. } = param.kind {
                let dtype = self
                    .kernel
                    .vars
                    .get(var.index())
                    .map(|decl| decl.dtype)
                    .ok_or_else(|| self.malformed(format!("unknown {var}")))?;
                let word = self.meta_word(META_PARAMS + index);
                let value = self.decode_value(dtype, &word)?;
                let name = self.var_names[var.index()].clone();
                self.line(&format!("{name} = {value};"));
            }
        }
        let body = &self.kernel.body;
        self.stmts(body)
    }

    pub(super) fn stmts(&mut self, body: &[Stmt]) -> WgslResult<()> {
        for stmt in body {
            self.stmt(stmt)?;
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &Stmt) -> WgslResult<()> {
        match &stmt.kind {
            StmtKind::Assign { var, value } => {
                let value = self.expr(value)?;
                let name = self
                    .var_names
                    .get(var.index())
                    .cloned()
                    .ok_or_else(|| self.malformed(format!("unknown {var}")))?;
                self.line(&format!("{name} = {value};"));
            }
            StmtKind::For { var, start, end, step, body } => self.for_loop(*var, (start, end, step), body)?,
            StmtKind::While { cond, body } => self.while_loop(cond, body)?,
            StmtKind::If { cond, then_body, else_body } => {
                let cond = self.expr(cond)?;
                self.open(&format!("if ({cond}) {{"));
                self.stmts(then_body)?;
                if !else_body.is_empty() {
                    self.indent -= 1;
                    self.line("} else {");
                    self.indent += 1;
                    self.stmts(else_body)?;
                }
                self.close();
            }
            StmtKind::Break => self.break_loop()?,
            StmtKind::Inst(inst) => self.inst(inst)?,
        }
        Ok(())
    }

    fn inst(&mut self, inst: &Inst) -> WgslResult<()> {
        let index = self.next_inst;
        self.next_inst += 1;
        let op = self
            .selection
            .get(index)
            .cloned()
            .ok_or_else(|| self.internal(format!("no operation selected for instruction #{index}")))?;
        (self.sources, self.nans) = match &op {
            GpuOp::Tile(TileOp { sources, nans }) => (sources.iter().cloned().collect(), *nans),
            GpuOp::Direct | GpuOp::Global(_) => (VecDeque::new(), NanResults::Canonical),
        };
        let access = match op {
            GpuOp::Global(access) => Some(access),
            GpuOp::Direct | GpuOp::Tile(_) => None,
        };
        match inst {
            Inst::Sync => self.line("workgroupBarrier();"),
            Inst::CopyWait => {}
            Inst::PrintTile { .. } | Inst::PrintScalars { .. } => self.print(inst)?,
            Inst::Assert { cond, message } => {
                let cond = self.expr(cond)?;
                self.fail_if(&format!("!({cond})"), format!("assertion failed: {message}"));
            }
            Inst::AllocShared { .. }
            | Inst::FreeShared { .. }
            | Inst::ViewGlobal { .. }
            | Inst::LoadGlobal { .. }
            | Inst::StoreGlobal { .. }
            | Inst::LoadShared { .. }
            | Inst::StoreShared { .. }
            | Inst::CopyGlobalToShared { .. } => self.memory_inst(inst, access)?,
            _ => self.tile_inst(inst)?,
        }
        // Scalar statements between instructions always make NaNs canonical.
        self.nans = NanResults::Canonical;
        if !self.sources.is_empty() {
            return Err(self.internal(format!("instruction #{index} left selected sources unread")));
        }
        Ok(())
    }

    /// The next selected source of the instruction being written.
    pub(super) fn next_source(&mut self) -> WgslResult<Source> {
        self.sources
            .pop_front()
            .ok_or_else(|| self.internal("a tile read without a selected source".to_string()))
    }

    /// Stops the launch with run-time failure `message` when the WGSL `condition` holds: the status
    /// word takes the failure's 1-based index in [`Ctx::failures`], which the runtime reports.
    pub(super) fn fail_if(&mut self, condition: &str, message: String) {
        self.failures.push(message);
        let id = self.failures.len();
        self.line(&format!("if ({condition}) {{ atomicMax(&status[0], {id}u); return; }}"));
    }

    /// Appends one line to the entry point's body.
    pub(super) fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.code.push_str("    ");
        }
        self.code.push_str(text);
        self.code.push('\n');
    }

    /// Appends a line that opens a block.
    pub(super) fn open(&mut self, text: &str) {
        self.line(text);
        self.indent += 1;
    }

    /// Closes the innermost block with `} else {` and opens the else block.
    pub(super) fn else_branch(&mut self) {
        self.indent = self.indent.saturating_sub(1);
        self.line("} else {");
        self.indent += 1;
    }

    /// Closes the innermost block.
    pub(super) fn close(&mut self) {
        self.indent = self.indent.saturating_sub(1);
        self.line("}");
    }

    /// Metadata word `index` as a `u32` expression.
    pub(super) fn meta_word(&self, index: usize) -> String {
        format!("launch[{}].{}", index / 4, ["x", "y", "z", "w"][index % 4])
    }

    /// Adds a module-scope constant table and returns its name.
    pub(super) fn table(&mut self, hint: &str, values: &[u32]) -> String {
        let name = self.namer.name(hint);
        let items: Vec<String> = values.iter().map(|value| format!("{value}u")).collect();
        self.tables.push(format!(
            "const {name} = array<u32, {}>({});",
            values.len().max(1),
            items.join(", ")
        ));
        name
    }

    fn index_fn(&mut self, function: &IndexFn, input: &str) -> String {
        match function {
            IndexFn::Closed(sum) => sum.to_wgsl(input),
            IndexFn::Table(values) => {
                let name = self.table("layout_part", values);
                format!("{name}[{input}]")
            }
        }
    }

    /// The coordinates (`u32` expressions of `tid` and `slot`) of the element a layout puts in `slot`.
    pub(super) fn layout_coords(&mut self, layout: &RegisterLayout, slot: &str) -> Vec<String> {
        let index =
            self.register_index.entry(layout.clone()).or_insert_with(|| RegisterIndex::new(layout)).clone();
        match index {
            RegisterIndex::Separable { thread, slot: local } => thread
                .iter()
                .zip(&local)
                .map(|(thread_part, slot_part)| {
                    let a = self.index_fn(thread_part, "tid");
                    let b = self.index_fn(slot_part, slot);
                    format!("({a} + {b})")
                })
                .collect(),
            RegisterIndex::Table(values) => {
                let rank = layout.shape().len();
                let slots = layout.local_size().max(1);
                let name = self.table("layout_map", &values);
                (0..rank).map(|d| format!("{name}[(tid * {slots}u + {slot}) * {rank}u + {d}u]")).collect()
            }
        }
    }

    /// Emits the slots of `layout` with `let c<d>` coordinates bound, then `body` inside: unrolled, one
    /// block per slot with `l` a constant, when the unrolled code stays within [`UNROLL_BUDGET`], else a
    /// `for` loop.
    ///
    /// Unrolled, every tile array is indexed by constants, so shader compilers keep tiles in registers
    /// instead of private memory (on lavapipe a dynamically indexed array is a gather per access). The
    /// budget counts the helpers a slot calls as the shader compiler inlines them: 32 unrolled slots of a
    /// bf16 `fma` (an exact integer product and a rounding each) took lavapipe minutes to compile.
    pub(super) fn slot_loop(
        &mut self,
        layout: &RegisterLayout,
        mut body: impl FnMut(&mut Self, &[String]) -> WgslResult<()>,
    ) -> WgslResult<()> {
        let coords = self.layout_coords(layout, "l");
        let names: Vec<String> = (0..coords.len()).map(|d| format!("c{d}")).collect();
        let slots = layout.local_size().max(1);
        let mut emit_slot = |ctx: &mut Self, slot: Option<usize>| -> WgslResult<()> {
            match slot {
                Some(slot) => {
                    ctx.open("{");
                    ctx.line(&format!("let l = {slot}u;"));
                }
                None => ctx.open(&format!("for (var l = 0u; l < {slots}u; l = l + 1u) {{")),
            }
            for (name, coord) in names.iter().zip(&coords) {
                ctx.line(&format!("let {name} = {coord};"));
            }
            body(ctx, &names)?;
            ctx.close();
            Ok(())
        };
        // Slot 0 is written first, and taken back when the whole loop would exceed the budget.
        let (mark, indent) = (self.code.len(), self.indent);
        emit_slot(self, Some(0))?;
        let slot_cost = self.prelude.inlined_lines(&self.code[mark..]);
        if slots.saturating_mul(slot_cost) > UNROLL_BUDGET {
            self.code.truncate(mark);
            self.indent = indent;
            return emit_slot(self, None);
        }
        for slot in 1..slots {
            emit_slot(self, Some(slot))?;
        }
        Ok(())
    }

    pub(super) fn unsupported(&self, what: String) -> Error {
        Error::Unsupported { kernel: self.kernel.name.clone(), what }
    }

    pub(super) fn internal(&self, what: impl Into<String>) -> Error {
        Error::Internal { kernel: self.kernel.name.clone(), what: what.into() }
    }

    pub(super) fn malformed(&self, what: String) -> Error {
        Error::Malformed { kernel: self.kernel.name.clone(), what }
    }

    pub(super) fn limit(&self, what: String) -> Error {
        Error::Limit { kernel: self.kernel.name.clone(), what }
    }
}

/// The most lines of code, helpers inlined, that a slot loop unrolls to (see [`Ctx::slot_loop`]).
pub(super) const UNROLL_BUDGET: usize = 1536;

/// The binding of parameter `param`'s buffer.
pub(super) fn buffer_binding(param: usize) -> u32 {
    2 + param as u32
}
