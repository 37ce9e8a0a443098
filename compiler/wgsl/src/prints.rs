//! `print` instructions: each appends one record to the status buffer after its two fixed words
//! ([`PRINT_USED_WORD`] counts the words reserved), which the runtime decodes into the launch's
//! `vm::interp::PrintLog`, so the GPU prints what the interpreter prints.
//!
//! A record is [`PRINT_HEADER_WORDS`] words — site (numbered by `vm::interp::PrintSites`), block x, y,
//! z, the invocation's print count so far (orders a block's prints), the number of codes — then one
//! code per scalar, or a tile's elements row-major. Invocation 0 reserves the words; for a tile every
//! invocation writes its own elements, so the reservation is shared through workgroup memory between
//! two barriers (prints are block-uniform, as barriers must be). Records past
//! [`PRINT_CAPACITY_WORDS`] are dropped and the runtime says so.

use tilevm_vm::ir::{Expr, Inst, TileId};

use super::WgslResult;
use super::memory::row_major_linear;
use super::writer::Ctx;

/// Status word counting the print words reserved (it may pass the capacity: those were dropped).
pub const PRINT_USED_WORD: u32 = 1;
/// Status word where the first print record starts.
pub const PRINT_FIRST_WORD: u32 = 2;
/// Words of a record before its codes.
pub const PRINT_HEADER_WORDS: u32 = 6;
/// Words of print records a launch keeps (4 MiB).
pub const PRINT_CAPACITY_WORDS: u32 = 1 << 20;

/// Names the print code uses, kept from the kernel's own names.
pub(super) const PRINT_NAMES: [&str; 4] = ["print_seq", "print_base", "print_at", "print_values"];

impl Ctx<'_> {
    /// Writes a `PrintScalars` or `PrintTile`.
    pub(super) fn print(&mut self, inst: &Inst) -> WgslResult<()> {
        let site = self
            .print_sites
            .index_of(inst)
            .ok_or_else(|| self.internal("a print instruction has no print site".to_string()))?;
        match inst {
            Inst::PrintScalars { values, .. } => self.print_scalars(site, values),
            Inst::PrintTile { tile, .. } => self.print_tile(site, *tile),
            _ => Err(self.internal("not a print instruction".to_string())),
        }
    }

    fn print_scalars(&mut self, site: u32, values: &[Expr]) -> WgslResult<()> {
        let mut codes = Vec::with_capacity(values.len());
        for value in values {
            let text = self.expr(value)?;
            codes.push(self.encode_value(value.dtype, &text)?);
        }
        let words = PRINT_HEADER_WORDS + values.len() as u32;
        self.open("{");
        if !codes.is_empty() {
            self.line(&format!("let print_values = array<u32, {}>({});", codes.len(), codes.join(", ")));
        }
        self.open("if (tid == 0u) {");
        self.line(&format!("let print_at = atomicAdd(&status[{PRINT_USED_WORD}u], {words}u);"));
        self.open(&format!("if (print_at + {words}u <= {PRINT_CAPACITY_WORDS}u) {{"));
        self.print_header(site, values.len());
        for index in 0..codes.len() {
            self.line(&format!(
                "atomicStore(&status[{PRINT_FIRST_WORD}u + print_at + {}u], print_values[{index}]);",
                PRINT_HEADER_WORDS as usize + index
            ));
        }
        self.close();
        self.close();
        self.line("print_seq = print_seq + 1u;");
        self.close();
        Ok(())
    }

    fn print_tile(&mut self, site: u32, tile: TileId) -> WgslResult<()> {
        let (_, layout, name) = self.tile_decl(tile)?;
        let shape = layout.shape().to_vec();
        let count: usize = shape.iter().product();
        let words = PRINT_HEADER_WORDS as usize + count;
        self.open("{");
        self.line(&format!(
            "if (tid == 0u) {{ print_base = atomicAdd(&status[{PRINT_USED_WORD}u], {words}u); }}"
        ));
        self.line("workgroupBarrier();");
        self.line("let print_at = print_base;");
        // No invocation reserves the next record before every one has read this one.
        self.line("workgroupBarrier();");
        self.open(&format!("if (print_at + {words}u <= {PRINT_CAPACITY_WORDS}u) {{"));
        self.open("if (tid == 0u) {");
        self.print_header(site, count);
        self.close();
        self.slot_loop(&layout, |ctx, coords| {
            let linear = row_major_linear(coords, &shape);
            ctx.line(&format!(
                "atomicStore(&status[{PRINT_FIRST_WORD}u + print_at + {PRINT_HEADER_WORDS}u + ({linear})], {name}[l]);"
            ));
            Ok(())
        })?;
        self.close();
        self.line("print_seq = print_seq + 1u;");
        self.close();
        Ok(())
    }

    fn print_header(&mut self, site: u32, count: usize) {
        let fields = [
            format!("{site}u"),
            "block.x".to_string(),
            "block.y".to_string(),
            "block.z".to_string(),
            "print_seq".to_string(),
            format!("{count}u"),
        ];
        for (offset, field) in fields.iter().enumerate() {
            self.line(&format!("atomicStore(&status[{PRINT_FIRST_WORD}u + print_at + {offset}u], {field});"));
        }
    }
}
