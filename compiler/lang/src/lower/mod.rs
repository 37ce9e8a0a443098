//! Lowering to the VM IR: the [`Emitter`] the checker drives to declare parameters, variables and tiles
//! and to append statements, and [`finish`], which assembles the kernels into a module.
//!
//! The checker and lowering share one walk over the instantiated kernel: every checked construct is
//! emitted as it is checked, through this module only. The kernel is kept only when the walk produced no
//! diagnostic, so lowering never sees (or has to cope with) an erroneous program.

use tilevm_vm::DataType;
use tilevm_vm::RegisterLayout;
use tilevm_vm::ir::{
    Expr, GlobalId, Inst, Kernel, KernelBuilder, Module, ParamId, SharedId, SharedLayout, Stmt, StmtKind,
    TileId, VarId,
};

use tilevm_vm::verify::VerifiedModule;

use crate::diagnostic::{Diagnostic, Span};

/// Builds one kernel: declarations go through [`KernelBuilder`], statements into nested blocks that
/// the emitter keeps itself (so the checker can recurse freely between opening and closing a block).
#[derive(Debug)]
pub(crate) struct Emitter {
    builder: KernelBuilder,
    blocks: Vec<Vec<Stmt>>,
}

impl Emitter {
    /// Starts a kernel.
    pub fn new(name: &str, num_threads: u32) -> Emitter {
        Emitter { builder: KernelBuilder::new(name, num_threads), blocks: vec![Vec::new()] }
    }

    /// The kernel declared so far (its body is kept separately until [`Emitter::finish`]).
    pub fn kernel(&self) -> &Kernel {
        self.builder.kernel()
    }

    /// Sets the grid.
    pub fn grid(&mut self, grid: Vec<Expr>) {
        self.builder.grid(grid);
    }

    /// Sets the shared-memory limit.
    pub fn shared_limit_bytes(&mut self, bytes: u32) {
        self.builder.shared_limit_bytes(bytes);
    }

    /// Adds a scalar parameter.
    pub fn scalar_param(&mut self, name: &str, dtype: DataType, default: Option<u64>) -> Expr {
        self.builder.scalar_param_with_default(name, dtype, default)
    }

    /// Adds a pointer parameter.
    pub fn global_param(&mut self, name: &str, dtype: DataType, mutable: bool) -> ParamId {
        self.builder.global_param(name, dtype, mutable)
    }

    /// Declares a variable.
    pub fn var(&mut self, name: &str, dtype: DataType) -> VarId {
        self.builder.var(name, dtype)
    }

    /// Declares a register tile.
    pub fn tile(&mut self, name: &str, dtype: DataType, layout: RegisterLayout) -> TileId {
        self.builder.tile(name, dtype, layout)
    }

    /// Declares a shared tile.
    pub fn shared(&mut self, name: &str, dtype: DataType, layout: SharedLayout) -> SharedId {
        self.builder.shared(name, dtype, layout)
    }

    /// Declares a global view.
    pub fn global(&mut self, name: &str, param: ParamId, dtype: DataType) -> GlobalId {
        self.builder.global(name, param, dtype)
    }

    /// Appends a statement to the innermost open block.
    pub fn push(&mut self, kind: StmtKind, span: Span) {
        if let Some(block) = self.blocks.last_mut() {
            block.push(Stmt { kind, span: span.to_ir() });
        }
    }

    /// Appends an instruction.
    pub fn inst(&mut self, inst: Inst, span: Span) {
        self.push(StmtKind::Inst(inst), span);
    }

    /// Opens a nested block (a loop or branch body).
    pub fn open_block(&mut self) {
        self.blocks.push(Vec::new());
    }

    /// Closes the innermost block and returns its statements.
    pub fn close_block(&mut self) -> Vec<Stmt> {
        if self.blocks.len() > 1 { self.blocks.pop().unwrap_or_default() } else { Vec::new() }
    }

    /// Finishes the kernel.
    pub fn finish(mut self) -> Kernel {
        let body = self.blocks.drain(..).next().unwrap_or_default();
        let mut kernel = self.builder.finish_unverified();
        kernel.body = body;
        kernel
    }
}

/// Assembles checked kernels into a module and verifies it, so that everything the front end hands out
/// is a [`VerifiedModule`].
///
/// # Errors
/// A diagnostic carrying the verifier's report: the checker let through IR the verifier rejects, which is
/// a front-end bug, not a mistake in the user's source.
pub(crate) fn finish(kernels: Vec<Kernel>) -> Result<VerifiedModule, Diagnostic> {
    VerifiedModule::new(Module { kernels }).map_err(|errors| {
        Diagnostic::internal("the lowered kernel fails IR verification").with_note(errors.to_string())
    })
}
