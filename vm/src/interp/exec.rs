//! Statements and instructions of one block: the interpreter's main loop.
//!
//! A [`Machine`] runs the blocks of one launch one after another. Each block starts with fresh variables
//! (the scalar parameters set), no register tiles, no global views and empty shared memory. Faults inside a
//! statement are collected as [`Fault`]s and turned into [`InterpError`]s carrying the statement's location.

use std::collections::HashMap;
use std::rc::Rc;

use super::KernelArg;
use super::codec::mask;
use super::error::{InterpError, Location};
use super::eval::{Scope, eval_condition, eval_expr, eval_int, eval_ints};
use super::memory::GlobalView;
use super::ops::{self, OperandValue};
use super::print::{format_scalars, format_tile};
use super::races::Threads;
use super::shared::{SharedFault, SharedMemory};
use super::tiles::{RegisterTile, element_count, owners};
use crate::dtype::DataType;
use crate::ir::{Expr, GlobalId, Inst, Kernel, Operand, SharedId, Stmt, StmtKind, TileDecl, TileId};

/// What a statement asks of the enclosing loop.
enum Flow {
    Next,
    Break,
}

/// A failure inside one statement, before its location is attached.
enum Fault<'k> {
    Invalid(String),
    StepLimit(u64),
    Shared(SharedId, SharedFault<'k>),
    Assert(String),
}

impl From<String> for Fault<'_> {
    fn from(message: String) -> Self {
        Fault::Invalid(message)
    }
}

type Owners = Rc<Vec<Option<Threads>>>;

#[path = "transfer.rs"]
mod transfer;

/// The state of one launch: the kernel, its arguments, and the running block.
pub(crate) struct Machine<'k, 'r> {
    kernel: &'k Kernel,
    args: &'r mut [KernelArg],
    print: &'r mut dyn FnMut(&str),
    grid: [u32; 3],
    owners: HashMap<TileId, Owners>,
    block: [u32; 3],
    vars: Vec<Option<u64>>,
    tiles: Vec<Option<RegisterTile>>,
    globals: Vec<Option<GlobalView>>,
    shared: SharedMemory<'k>,
    /// Statements this launch may still execute (see `RunOptions::max_steps`).
    steps_left: u64,
    step_limit: u64,
}

impl<'k, 'r> Machine<'k, 'r> {
    /// A machine for a launch whose arguments were checked against the parameters.
    pub fn new(
        kernel: &'k Kernel,
        args: &'r mut [KernelArg],
        print: &'r mut dyn FnMut(&str),
        grid: [u32; 3],
        step_limit: u64,
    ) -> Self {
        Machine {
            kernel,
            args,
            print,
            grid,
            owners: HashMap::new(),
            block: [0; 3],
            vars: Vec::new(),
            tiles: Vec::new(),
            globals: Vec::new(),
            shared: SharedMemory::new(0, 0),
            steps_left: step_limit,
            step_limit,
        }
    }

    /// Runs block `block` with the variables `initial_vars` (the scalar parameters set).
    pub fn run_block(&mut self, block: [u32; 3], initial_vars: &[Option<u64>]) -> Result<(), InterpError> {
        self.block = block;
        self.vars = initial_vars.to_vec();
        self.tiles = vec![None; self.kernel.tiles.len()];
        self.globals = vec![None; self.kernel.globals.len()];
        self.shared = SharedMemory::new(self.kernel.shared.len(), self.kernel.shared_limit_bytes);
        self.exec_body(&self.kernel.body).map(|_| ())
    }

    fn exec_body(&mut self, body: &'k [Stmt]) -> Result<Flow, InterpError> {
        for stmt in body {
            if let Flow::Break = self.exec_stmt(stmt)? {
                return Ok(Flow::Break);
            }
        }
        Ok(Flow::Next)
    }

    fn exec_stmt(&mut self, stmt: &'k Stmt) -> Result<Flow, InterpError> {
        let fail = |machine: &Self, fault: Fault<'k>| machine.error(fault, stmt);
        match self.steps_left.checked_sub(1) {
            Some(left) => self.steps_left = left,
            None => return Err(fail(self, Fault::StepLimit(self.step_limit))),
        }
        match &stmt.kind {
            StmtKind::Assign { var, value } => {
                let code = self.eval(value).map_err(|fault| fail(self, fault))?;
                if var.index() >= self.vars.len() {
                    return Err(fail(self, Fault::Invalid(format!("no variable {var}"))));
                }
                self.vars[var.index()] = Some(code);
            }
            StmtKind::For { var, start, end, step, body } => {
                let bounds = (|| -> Result<_, Fault<'k>> {
                    let dtype =
                        self.kernel.vars.get(var.index()).ok_or_else(|| format!("no variable {var}"))?.dtype;
                    let scope = self.scope();
                    let bounds = (eval_int(start, &scope)?, eval_int(end, &scope)?, eval_int(step, &scope)?);
                    if bounds.2 == 0 {
                        return Err(Fault::Invalid("the `for` step is 0".to_string()));
                    }
                    Ok((dtype, bounds))
                })();
                let (dtype, (mut value, end, step)) = bounds.map_err(|fault| fail(self, fault))?;
                while (step > 0 && value < end) || (step < 0 && value > end) {
                    if let Some(slot) = self.vars.get_mut(var.index()) {
                        *slot = Some(value as u64 & mask(dtype.bits()));
                    }
                    if let Flow::Break = self.exec_body(body)? {
                        break;
                    }
                    value += step;
                }
            }
            StmtKind::While { cond, body } => {
                while eval_condition(cond, &self.scope())
                    .map_err(|message| fail(self, Fault::Invalid(message)))?
                {
                    if let Flow::Break = self.exec_body(body)? {
                        break;
                    }
                }
            }
            StmtKind::If { cond, then_body, else_body } => {
                let taken = eval_condition(cond, &self.scope())
                    .map_err(|message| fail(self, Fault::Invalid(message)))?;
                return self.exec_body(if taken { then_body } else { else_body });
            }
            StmtKind::Break => return Ok(Flow::Break),
            StmtKind::Inst(inst) => self.exec_inst(inst, stmt).map_err(|fault| fail(self, fault))?,
        }
        Ok(Flow::Next)
    }

    fn exec_inst(&mut self, inst: &'k Inst, stmt: &'k Stmt) -> Result<(), Fault<'k>> {
        match inst {
            Inst::AllocRegister { dst, init } => {
                let decl = self.tile_decl(*dst)?;
                let code = init.as_ref().map(|init| self.eval(init)).transpose()?.unwrap_or(0);
                let count = element_count(decl.layout.shape())?;
                self.define(*dst, vec![code & mask(decl.dtype.bits()); count])
            }
            Inst::AllocShared { dst, init } => {
                let decl =
                    self.kernel.shared.get(dst.index()).ok_or_else(|| format!("no shared tile {dst}"))?;
                let code = init.as_ref().map(|init| self.eval(init)).transpose()?;
                let code = code.map(|code| code & mask(decl.dtype.bits()));
                self.shared.alloc(*dst, decl, code).map_err(|fault| Fault::Shared(*dst, fault))
            }
            Inst::FreeShared { tile } => self.shared.free(*tile).map_err(|fault| Fault::Shared(*tile, fault)),
            Inst::ViewGlobal { dst, shape, strides, offset } => {
                self.view_global(*dst, shape, strides, offset)
            }
            Inst::LoadGlobal { dst, src, offsets, dims } => self.load_global(*dst, *src, offsets, dims),
            Inst::StoreGlobal { dst, src, offsets, dims } => self.store_global(*dst, *src, offsets, dims),
            Inst::LoadShared { dst, src, offsets } => self.load_shared(*dst, *src, offsets, stmt),
            Inst::StoreShared { dst, src, offsets } => self.store_shared(*dst, *src, offsets, stmt),
            Inst::CopyGlobalToShared { dst, src, offsets, dims } => {
                self.copy_to_shared(*dst, *src, offsets, dims, stmt)
            }
            Inst::CopyWait => {
                self.shared.copy_wait();
                Ok(())
            }
            Inst::Sync => {
                self.shared.sync();
                Ok(())
            }
            Inst::View { dst, src } => {
                let (src_tile, src_decl, decl) =
                    (self.tile(*src)?, self.tile_decl(*src)?, self.tile_decl(*dst)?);
                let codes = ops::view(src_tile, &src_decl.layout, decl.dtype, &decl.layout)?;
                self.define(*dst, codes)
            }
            Inst::Cast { dst, src, rounding } => {
                let decl = self.tile_decl(*dst)?;
                let codes = ops::cast(self.tile(*src)?, decl.dtype, decl.layout.shape(), *rounding)?;
                self.define(*dst, codes)
            }
            Inst::Elementwise { dst, op, operands } => {
                let decl = self.tile_decl(*dst)?;
                let mut values = Vec::with_capacity(operands.len());
                for operand in operands {
                    values.push(match operand {
                        Operand::Tile(tile) => OperandValue::Tile(self.tile(*tile)?),
                        Operand::Scalar(expr) => OperandValue::Scalar(self.eval(expr)?, expr.dtype),
                    });
                }
                let codes = ops::elementwise(*op, &values, decl.dtype, decl.layout.shape())?;
                self.define(*dst, codes)
            }
            Inst::Iota { dst, dim } => {
                let decl = self.tile_decl(*dst)?;
                let codes = ops::iota(decl.dtype, decl.layout.shape(), *dim)?;
                self.define(*dst, codes)
            }
            Inst::Dot { dst, a, b, acc } => {
                let decl = self.tile_decl(*dst)?;
                let (a, b, acc) = (self.tile(*a)?, self.tile(*b)?, self.tile(*acc)?);
                let codes = ops::dot(a, b, acc, decl.dtype, decl.layout.shape())?;
                self.define(*dst, codes)
            }
            Inst::Reduce { dst, src, dim, op } => {
                let decl = self.tile_decl(*dst)?;
                let codes = ops::reduce(self.tile(*src)?, *dim, *op, decl.dtype, decl.layout.shape())?;
                self.define(*dst, codes)
            }
            Inst::Permute { dst, src, dims } => {
                let decl = self.tile_decl(*dst)?;
                let codes = ops::permute(self.same_dtype(*src, decl)?, dims, decl.layout.shape())?;
                self.define(*dst, codes)
            }
            Inst::Broadcast { dst, src } => {
                let decl = self.tile_decl(*dst)?;
                let codes = ops::broadcast(self.same_dtype(*src, decl)?, decl.layout.shape())?;
                self.define(*dst, codes)
            }
            Inst::Slice { dst, src, offsets } => {
                let decl = self.tile_decl(*dst)?;
                let offsets = eval_ints(offsets, &self.scope())?;
                let codes = ops::slice(self.same_dtype(*src, decl)?, &offsets, decl.layout.shape())?;
                self.define(*dst, codes)
            }
            Inst::Assign { dst, src } => {
                let decl = self.tile_decl(*dst)?;
                let src = self.same_dtype(*src, decl)?;
                if src.shape != decl.layout.shape() {
                    return Err(Fault::Invalid(format!(
                        "assign from shape {:?} to {:?}",
                        src.shape,
                        decl.layout.shape()
                    )));
                }
                let codes = src.codes.clone();
                self.define(*dst, codes)
            }
            Inst::PrintTile { label, tile } => {
                let text = format_tile(self.block, label, self.tile(*tile)?);
                (self.print)(&text);
                Ok(())
            }
            Inst::PrintScalars { label, values } => {
                let values: Vec<(DataType, u64)> = values
                    .iter()
                    .map(|expr| Ok((expr.dtype, self.eval(expr)?)))
                    .collect::<Result<_, Fault<'k>>>()?;
                let text = format_scalars(self.block, label, &values);
                (self.print)(&text);
                Ok(())
            }
            Inst::Assert { cond, message } => {
                if eval_condition(cond, &self.scope())? {
                    Ok(())
                } else {
                    Err(Fault::Assert(message.clone()))
                }
            }
        }
    }

    fn global(&self, id: GlobalId, dtype: DataType) -> Result<&GlobalView, Fault<'k>> {
        let view = match self.globals.get(id.index()) {
            Some(Some(view)) => view,
            Some(None) => {
                return Err(Fault::Invalid(format!("global view {id} is used before it is defined")));
            }
            None => return Err(Fault::Invalid(format!("no global view {id}"))),
        };
        if view.dtype != dtype {
            return Err(Fault::Invalid(format!("view {id} holds {}, the tile {dtype}", view.dtype)));
        }
        Ok(view)
    }

    fn buffer(&self, param: usize) -> Result<&[u8], Fault<'k>> {
        match self.args.get(param) {
            Some(KernelArg::Buffer(bytes)) => Ok(bytes),
            _ => Err(Fault::Invalid(format!("parameter {param} has no buffer"))),
        }
    }

    fn tile_decl(&self, id: TileId) -> Result<&'k TileDecl, Fault<'k>> {
        let decl = self.kernel.tiles.get(id.index()).ok_or_else(|| format!("no register tile {id}"))?;
        let threads = decl.layout.num_threads();
        if threads != self.kernel.num_threads as usize {
            return Err(Fault::Invalid(format!(
                "the layout of {id} spans {threads} threads, the kernel has {}",
                self.kernel.num_threads
            )));
        }
        Ok(decl)
    }

    fn tile(&self, id: TileId) -> Result<&RegisterTile, Fault<'k>> {
        match self.tiles.get(id.index()) {
            Some(Some(tile)) => Ok(tile),
            Some(None) => Err(Fault::Invalid(format!("register tile {id} is read before it is defined"))),
            None => Err(Fault::Invalid(format!("no register tile {id}"))),
        }
    }

    fn same_dtype(&self, id: TileId, decl: &TileDecl) -> Result<&RegisterTile, Fault<'k>> {
        let tile = self.tile(id)?;
        if tile.dtype != decl.dtype {
            return Err(Fault::Invalid(format!(
                "{id} holds {:?}, the destination {:?}",
                tile.dtype, decl.dtype
            )));
        }
        Ok(tile)
    }

    fn define(&mut self, id: TileId, codes: Vec<u64>) -> Result<(), Fault<'k>> {
        let decl = self.tile_decl(id)?;
        let shape = decl.layout.shape().to_vec();
        if codes.len() != element_count(&shape)? {
            return Err(Fault::Invalid(format!("{} values for {id} of shape {shape:?}", codes.len())));
        }
        if let Some(slot) = self.tiles.get_mut(id.index()) {
            *slot = Some(RegisterTile { dtype: decl.dtype, shape, codes });
        }
        Ok(())
    }

    fn owners(&mut self, id: TileId) -> Result<Owners, Fault<'k>> {
        if let Some(owners) = self.owners.get(&id) {
            return Ok(owners.clone());
        }
        let decl = self.tile_decl(id)?;
        let computed = Rc::new(owners(&decl.layout)?);
        self.owners.insert(id, computed.clone());
        Ok(computed)
    }

    fn eval(&self, expr: &Expr) -> Result<u64, Fault<'k>> {
        Ok(eval_expr(expr, &self.scope())?)
    }

    fn scope(&self) -> Scope<'_> {
        Scope { vars: &self.vars, block: self.block, grid: self.grid }
    }

    fn error(&self, fault: Fault<'k>, stmt: &Stmt) -> InterpError {
        let at = Box::new(Location::of(self.kernel, stmt));
        match fault {
            Fault::Invalid(message) => InterpError::Invalid { at, message },
            Fault::StepLimit(limit) => InterpError::StepLimit { at, limit },
            Fault::Assert(message) => InterpError::AssertFailed { at, block: self.block, message },
            Fault::Shared(tile, fault) => match fault {
                SharedFault::OutOfBounds { index, shape } => {
                    InterpError::SharedOutOfBounds { at, tile, index, shape }
                }
                SharedFault::Uninitialized { index } => InterpError::SharedUninitialized { at, tile, index },
                SharedFault::UseAfterFree => InterpError::SharedUseAfterFree { at, tile },
                SharedFault::NotAllocated => {
                    InterpError::SharedNotLive { at, tile, problem: "used before it is allocated" }
                }
                SharedFault::AlreadyLive => {
                    InterpError::SharedNotLive { at, tile, problem: "allocated while already live" }
                }
                SharedFault::FreeOrder { expected } => {
                    let expected = expected.map_or_else(|| "none".to_string(), |id| id.to_string());
                    InterpError::SharedFreeOrder { at, tile, expected }
                }
                SharedFault::Limit { needed } => {
                    InterpError::SharedLimit { at, needed, limit: self.kernel.shared_limit_bytes }
                }
                SharedFault::Race { race, index } => InterpError::DataRace {
                    at,
                    other: Box::new(Location::of(self.kernel, race.other)),
                    tile,
                    index,
                    block: self.block,
                    conflict: race.conflict.to_string(),
                },
                SharedFault::Invalid(message) => InterpError::Invalid { at, message },
            },
        }
    }
}
