//! A Rust API for building kernels without the `.tile` language (tests, the stdlib, front ends).

use super::{
    Expr, GlobalDecl, GlobalId, Inst, Kernel, Param, ParamId, ParamKind, SharedDecl, SharedId, SharedLayout,
    Span, Stmt, StmtKind, TileDecl, TileId, VarDecl, VarId,
};
use crate::dtype::DataType;
use crate::layout::RegisterLayout;
use crate::verify::{VerifiedKernel, VerifyErrors};

/// Builds a [`Kernel`]: declares parameters, variables and tiles, and appends statements.
///
/// Statements go to the innermost open block. [`KernelBuilder::for_range`], [`KernelBuilder::while_loop`]
/// and [`KernelBuilder::if_else`] take closures that fill the nested blocks. The builder does not check
/// types; run the verifier on the result.
#[derive(Debug)]
pub struct KernelBuilder {
    kernel: Kernel,
    blocks: Vec<Vec<Stmt>>,
    span: Span,
}

impl KernelBuilder {
    /// Starts a kernel with `num_threads` threads per block and a grid of one block.
    pub fn new(name: impl Into<String>, num_threads: u32) -> KernelBuilder {
        // One block until `grid` says otherwise.
        let mut kernel = Kernel::new(name, num_threads);
        kernel.grid = vec![Expr::u32(1)];
        KernelBuilder { kernel, blocks: vec![Vec::new()], span: Span::default() }
    }

    /// Sets the span recorded on the statements appended from now on.
    pub fn set_span(&mut self, span: Span) {
        self.span = span;
    }

    /// Sets the grid (one to three expressions, x first).
    pub fn grid(&mut self, grid: Vec<Expr>) {
        self.kernel.grid = grid;
    }

    /// Sets the shared-memory limit in bytes.
    pub fn shared_limit_bytes(&mut self, bytes: u32) {
        self.kernel.shared_limit_bytes = bytes;
    }

    /// Adds a scalar parameter and returns the expression that reads it.
    pub fn scalar_param(&mut self, name: &str, dtype: DataType) -> Expr {
        self.scalar_param_with_default(name, dtype, None)
    }

    /// Adds a scalar parameter with a default value (a bit pattern of `dtype`) and returns the
    /// expression that reads it.
    pub fn scalar_param_with_default(&mut self, name: &str, dtype: DataType, default: Option<u64>) -> Expr {
        let var = self.var(name, dtype);
        self.kernel.params.push(Param { name: name.to_string(), kind: ParamKind::Scalar { var, default } });
        Expr::var(var, dtype)
    }

    /// Adds a pointer parameter to a global buffer of `dtype` elements.
    pub fn global_param(&mut self, name: &str, dtype: DataType, mutable: bool) -> ParamId {
        let id = ParamId(self.kernel.params.len() as u32);
        self.kernel.params.push(Param { name: name.to_string(), kind: ParamKind::Global { dtype, mutable } });
        id
    }

    /// Declares a scalar variable (define it with [`KernelBuilder::assign`]).
    pub fn var(&mut self, name: &str, dtype: DataType) -> VarId {
        let id = VarId(self.kernel.vars.len() as u32);
        self.kernel.vars.push(VarDecl { name: name.to_string(), dtype });
        id
    }

    /// Declares a register tile.
    pub fn tile(&mut self, name: &str, dtype: DataType, layout: RegisterLayout) -> TileId {
        let id = TileId(self.kernel.tiles.len() as u32);
        self.kernel.tiles.push(TileDecl { name: name.to_string(), dtype, layout });
        id
    }

    /// Declares a shared tile (allocate it with [`Inst::AllocShared`]).
    pub fn shared(&mut self, name: &str, dtype: DataType, layout: SharedLayout) -> SharedId {
        let id = SharedId(self.kernel.shared.len() as u32);
        self.kernel.shared.push(SharedDecl { name: name.to_string(), dtype, layout });
        id
    }

    /// Declares a global view over `param` (define it with [`Inst::ViewGlobal`]).
    pub fn global(&mut self, name: &str, param: ParamId, dtype: DataType) -> GlobalId {
        let id = GlobalId(self.kernel.globals.len() as u32);
        self.kernel.globals.push(GlobalDecl { name: name.to_string(), param, dtype });
        id
    }

    /// Declares a view over `param` and defines it with the given shape, strides and offset.
    pub fn view_global(
        &mut self,
        name: &str,
        param: ParamId,
        dtype: DataType,
        shape: Vec<Expr>,
        strides: Vec<Expr>,
        offset: Expr,
    ) -> GlobalId {
        let dst = self.global(name, param, dtype);
        self.inst(Inst::ViewGlobal { dst, shape, strides, offset });
        dst
    }

    /// Appends an instruction.
    pub fn inst(&mut self, inst: Inst) {
        self.push(StmtKind::Inst(inst));
    }

    /// Appends `var = value`.
    pub fn assign(&mut self, var: VarId, value: Expr) {
        self.push(StmtKind::Assign { var, value });
    }

    /// Declares a variable, assigns it and returns the expression that reads it.
    pub fn let_var(&mut self, name: &str, value: Expr) -> Expr {
        let dtype = value.dtype;
        let var = self.var(name, dtype);
        self.assign(var, value);
        Expr::var(var, dtype)
    }

    /// Appends `break`.
    pub fn break_loop(&mut self) {
        self.push(StmtKind::Break);
    }

    /// Appends `for var in start..end step step { body }`; the closure receives the loop variable.
    pub fn for_range(
        &mut self,
        name: &str,
        start: Expr,
        end: Expr,
        step: Expr,
        body: impl FnOnce(&mut KernelBuilder, Expr),
    ) {
        let dtype = start.dtype;
        let var = self.var(name, dtype);
        let body = self.nested(|builder| body(builder, Expr::var(var, dtype)));
        self.push(StmtKind::For { var, start, end, step, body });
    }

    /// Appends `while cond { body }`.
    pub fn while_loop(&mut self, cond: Expr, body: impl FnOnce(&mut KernelBuilder)) {
        let body = self.nested(body);
        self.push(StmtKind::While { cond, body });
    }

    /// Appends `if cond { then } else { otherwise }`.
    pub fn if_else(
        &mut self,
        cond: Expr,
        then_body: impl FnOnce(&mut KernelBuilder),
        else_body: impl FnOnce(&mut KernelBuilder),
    ) {
        let then_body = self.nested(then_body);
        let else_body = self.nested(else_body);
        self.push(StmtKind::If { cond, then_body, else_body });
    }

    /// The kernel built so far (for looking up declarations while building).
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// Finishes the kernel and verifies it: what backends and devices accept.
    ///
    /// # Errors
    /// Every violation the verifier found.
    pub fn finish(self) -> Result<VerifiedKernel, VerifyErrors> {
        VerifiedKernel::new(self.finish_unverified())
    }

    /// Finishes the kernel without verifying it: for tests of the verifier and of the interpreter's
    /// defences against malformed kernels.
    pub fn finish_unverified(mut self) -> Kernel {
        // Blocks opened by `nested` are always closed before it returns, so only the body is left.
        self.kernel.body = self.blocks.pop().unwrap_or_default();
        self.kernel
    }

    fn nested(&mut self, fill: impl FnOnce(&mut KernelBuilder)) -> Vec<Stmt> {
        self.blocks.push(Vec::new());
        fill(self);
        self.blocks.pop().unwrap_or_default()
    }

    fn push(&mut self, kind: StmtKind) {
        let span = self.span;
        if let Some(block) = self.blocks.last_mut() {
            block.push(Stmt { kind, span });
        }
    }
}
