//! [`ClifLowerer`]: the one writer of a kernel's CLIF function; statements and control flow live here,
//! scalar expressions in `exprs`, instructions in `emit` (which dispatches on the selected operations to
//! `tiles`, `views`, `global_memory`, `dots` and the vector emitters).

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    Block, ExtFuncData, ExternalName, FuncRef, Function, InstBuilder, MemFlagsData, StackSlotData,
    StackSlotKind, Type, UserExternalName, UserFuncName, Value, types,
};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use tilevm_vm::dtype::DataType;
use tilevm_vm::interp::PrintSites;
use tilevm_vm::ir::{Expr, GlobalId, Kernel, ParamKind, Stmt, StmtKind, VarId};

use super::ClifTarget;
use super::abi::{self, Helper};
use super::frame::{Frame, slot_type};
use super::isel::Selection;
use super::{ClifError, ClifResult};

/// The run-time values of a global view: shape, strides and offset, all as `i64` variables.
#[derive(Debug, Clone)]
pub(super) struct ViewVars {
    pub(super) shape: Vec<Variable>,
    pub(super) strides: Vec<Variable>,
    pub(super) offset: Variable,
}

/// Lowers one kernel into a CLIF function: `new`, then [`ClifLowerer::lower_kernel`], then
/// [`ClifLowerer::finish`].
pub struct ClifLowerer<'a> {
    pub(super) kernel: &'a Kernel,
    pub(super) frame: &'a Frame,
    pub(super) builder: FunctionBuilder<'a>,
    target: TargetFrontendConfig,
    pub(super) ctx_ptr: Value,
    pub(super) args_ptr: Value,
    pub(super) scratch_ptr: Value,
    vars: Vec<Variable>,
    pub(super) views: Vec<Option<ViewVars>>,
    /// Per view, whether its accesses' index arithmetic fits 64 bits (`view_bounds`).
    pub(super) narrow_views: Vec<bool>,
    loop_exits: Vec<Block>,
    helpers: HashMap<Helper, FuncRef>,
    assert_messages: Vec<String>,
    /// The kernel's `print` instructions, numbered as `Helper::Print` passes them.
    pub(super) print_sites: PrintSites,
    /// The operation of every instruction (`isel`).
    pub(super) selection: Selection,
    /// The pre-order index of the next instruction to emit.
    pub(super) next_inst: usize,
}

/// Memory flags for accesses the lowerer has proven in bounds (scratch, checked buffer accesses).
pub(super) fn mem() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// The Cranelift type of a scalar variable or value of `dtype` (the slot type of a compute dtype).
pub(super) fn value_type(dtype: DataType) -> Type {
    slot_type(dtype)
}

impl<'a> ClifLowerer<'a> {
    /// Starts the kernel function in `func`, whose builder state lives in `func_ctx`.
    ///
    /// # Errors
    /// [`ClifError::Unsupported`] for targets whose pointers are not 64 bits wide.
    pub fn new(
        kernel: &'a Kernel,
        frame: &'a Frame,
        selection: Selection,
        target: ClifTarget,
        func: &'a mut Function,
        func_ctx: &'a mut FunctionBuilderContext,
    ) -> ClifResult<ClifLowerer<'a>> {
        let mut lowerer = ClifLowerer::start(kernel, frame, target.frontend, func, func_ctx, false)?;
        lowerer.selection = selection;
        Ok(lowerer)
    }

    /// Starts the kernel function (`grid == false`) or the grid function (`grid == true`).
    fn start(
        kernel: &'a Kernel,
        frame: &'a Frame,
        target: TargetFrontendConfig,
        func: &'a mut Function,
        func_ctx: &'a mut FunctionBuilderContext,
        grid: bool,
    ) -> ClifResult<ClifLowerer<'a>> {
        if target.pointer_bits() != 64 {
            return Err(ClifError::Unsupported("targets without 64-bit pointers".to_string()));
        }
        let call_conv = target.default_call_conv;
        let suffix = if grid { "_grid" } else { "" };
        func.signature = if grid { abi::grid_signature(call_conv) } else { abi::kernel_signature(call_conv) };
        func.name = UserFuncName::testcase(format!("tilevm_{}{suffix}", sanitize(&kernel.name)));
        let mut builder = FunctionBuilder::new(func, func_ctx);
        let entry = builder.create_block();
        builder.append_block_params_for_function_params(entry);
        builder.switch_to_block(entry);
        let params = builder.block_params(entry).to_vec();
        let (ctx_ptr, args_ptr, scratch_ptr) = if grid {
            // `BlockIndex` in a grid expression reads zeros, `GridSize` ones.
            let context = builder.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                abi::BLOCK_CONTEXT_BYTES,
                4,
            ));
            let zero = builder.ins().iconst(types::I32, 0);
            let one = builder.ins().iconst(types::I32, 1);
            for axis in 0..3 {
                builder.ins().stack_store(types::I64, zero, context, axis * 4);
                builder.ins().stack_store(types::I64, one, context, abi::GRID_SIZE_OFFSET + axis * 4);
            }
            let ctx_ptr = builder.ins().stack_addr(types::I64, context, 0);
            (ctx_ptr, params[0], ctx_ptr)
        } else {
            (params[0], params[1], params[2])
        };
        let vars = kernel.vars.iter().map(|var| builder.declare_var(value_type(var.dtype))).collect();
        Ok(ClifLowerer {
            kernel,
            frame,
            builder,
            target,
            ctx_ptr,
            args_ptr,
            scratch_ptr,
            vars,
            views: vec![None; kernel.globals.len()],
            narrow_views: super::view_bounds::narrow_views(kernel),
            loop_exits: Vec::new(),
            helpers: HashMap::new(),
            assert_messages: Vec::new(),
            print_sites: PrintSites::of(kernel),
            // The grid function has no instructions; the kernel function's selection is set by `new`.
            selection: Selection::default(),
            next_inst: 0,
        })
    }

    /// Lowers the parameters and the body.
    ///
    /// # Errors
    /// See [`super::lower_kernel`].
    pub fn lower_kernel(&mut self) -> ClifResult<()> {
        self.scalar_params()?;
        let body = &self.kernel.body;
        self.stmts(body)?;
        let ok = self.builder.ins().iconst(types::I32, i64::from(abi::STATUS_OK));
        self.builder.ins().return_(&[ok]);
        Ok(())
    }

    /// Seals and finalizes the function; returns the messages of the kernel's asserts in status order.
    pub fn finish(mut self) -> Vec<String> {
        self.builder.seal_all_blocks();
        self.builder.finalize(self.target);
        self.assert_messages
    }

    /// Defines the variables of the scalar parameters from the argument slots.
    fn scalar_params(&mut self) -> ClifResult<()> {
        for (index, param) in self.kernel.params.iter().enumerate() {
            if let ParamKind::Scalar { var, .. } = &param.kind {
                let offset = abi::ARG_SLOT_BYTES * index as i32;
                let bits = self.builder.ins().load(types::I64, mem(), self.args_ptr, offset);
                let dtype = self.var_dtype(*var)?;
                let value = from_u64_bits(&mut self.builder, value_type(dtype), bits);
                let variable = self.variable(*var)?;
                self.builder.def_var(variable, value);
            }
        }
        Ok(())
    }

    fn stmts(&mut self, body: &[Stmt]) -> ClifResult<()> {
        for stmt in body {
            self.stmt(stmt)?;
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &Stmt) -> ClifResult<()> {
        match &stmt.kind {
            StmtKind::Assign { var, value } => {
                let value = self.expr(value)?;
                let variable = self.variable(*var)?;
                self.builder.def_var(variable, value);
            }
            StmtKind::For { var, start, end, step, body } => self.for_loop(*var, start, end, step, body)?,
            StmtKind::While { cond, body } => {
                let header = self.builder.create_block();
                let counted = self.builder.create_block();
                let too_long = self.builder.create_block();
                let body_block = self.builder.create_block();
                let exit = self.builder.create_block();
                // Iterations so far, against the launch's bound: an endless loop stops the block.
                let iterations = self.builder.declare_var(types::I32);
                let zero = self.builder.ins().iconst(types::I32, 0);
                self.builder.def_var(iterations, zero);
                let limit = self.builder.ins().load(types::I32, mem(), self.ctx_ptr, abi::WHILE_LIMIT_OFFSET);
                self.builder.ins().jump(header, &[]);
                self.builder.switch_to_block(header);
                let cond = self.expr(cond)?;
                self.builder.ins().brif(cond, counted, &[], exit, &[]);
                self.builder.switch_to_block(counted);
                let done = self.builder.use_var(iterations);
                let at_limit = self.builder.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, done, limit);
                self.builder.ins().brif(at_limit, too_long, &[], body_block, &[]);
                self.builder.switch_to_block(too_long);
                self.builder.set_cold_block(too_long);
                let status = self.builder.ins().iconst(types::I32, i64::from(abi::STATUS_WHILE_LIMIT));
                self.builder.ins().return_(&[status]);
                self.builder.switch_to_block(body_block);
                let next = self.builder.ins().iadd_imm_s(done, 1);
                self.builder.def_var(iterations, next);
                self.loop_exits.push(exit);
                self.stmts(body)?;
                self.loop_exits.pop();
                self.builder.ins().jump(header, &[]);
                self.builder.switch_to_block(exit);
            }
            StmtKind::If { cond, then_body, else_body } => {
                let cond = self.expr(cond)?;
                let then_block = self.builder.create_block();
                let else_block = self.builder.create_block();
                let merge = self.builder.create_block();
                self.builder.ins().brif(cond, then_block, &[], else_block, &[]);
                self.builder.switch_to_block(then_block);
                self.stmts(then_body)?;
                self.builder.ins().jump(merge, &[]);
                self.builder.switch_to_block(else_block);
                self.stmts(else_body)?;
                self.builder.ins().jump(merge, &[]);
                self.builder.switch_to_block(merge);
            }
            StmtKind::Break => {
                let exit = *self
                    .loop_exits
                    .last()
                    .ok_or_else(|| ClifError::Malformed("`break` outside a loop".to_string()))?;
                self.builder.ins().jump(exit, &[]);
                // Whatever follows a `break` in the same block is dead; give it a block of its own.
                let dead = self.builder.create_block();
                self.builder.switch_to_block(dead);
            }
            StmtKind::Inst(inst) => self.inst(inst)?,
        }
        Ok(())
    }

    fn for_loop(
        &mut self,
        var: VarId,
        start: &Expr,
        end: &Expr,
        step: &Expr,
        body: &[Stmt],
    ) -> ClifResult<()> {
        let dtype = self.var_dtype(var)?;
        let DataType::Int(int) = dtype else {
            return Err(ClifError::Malformed(format!("loop variable {var} is not an integer")));
        };
        let ty = value_type(dtype);
        let start = self.expr(start)?;
        let end = self.expr(end)?;
        let step = self.expr(step)?;
        // Reject a zero step at run time, as the interpreter does.
        let step_is_zero = self.builder.ins().icmp_imm_s(IntCC::Equal, step, 0);
        let zero_step = self.builder.create_block();
        let checked = self.builder.create_block();
        self.builder.ins().brif(step_is_zero, zero_step, &[], checked, &[]);
        self.builder.switch_to_block(zero_step);
        self.builder.set_cold_block(zero_step);
        let status = self.builder.ins().iconst(types::I32, i64::from(abi::STATUS_ZERO_STEP));
        self.builder.ins().return_(&[status]);
        self.builder.switch_to_block(checked);
        // 32-bit counters run in 64 bits so that stepping past `end` cannot wrap around.
        let (counter_ty, widen): (Type, WidenFn) = if ty.bits() < 64 {
            (types::I64, |builder, signed, value| {
                if signed {
                    builder.ins().sextend(types::I64, value)
                } else {
                    builder.ins().uextend(types::I64, value)
                }
            })
        } else {
            (ty, |_, _, value| value)
        };
        let start = widen(&mut self.builder, int.signed, start);
        let end = widen(&mut self.builder, int.signed, end);
        let step = widen(&mut self.builder, int.signed, step);
        let counter = self.builder.declare_var(counter_ty);
        self.builder.def_var(counter, start);
        let header = self.builder.create_block();
        let body_block = self.builder.create_block();
        let latch = self.builder.create_block();
        let exit = self.builder.create_block();
        self.builder.ins().jump(header, &[]);
        self.builder.switch_to_block(header);
        let current = self.builder.use_var(counter);
        let (less, greater) = if int.signed || ty.bits() < 64 {
            (IntCC::SignedLessThan, IntCC::SignedGreaterThan)
        } else {
            (IntCC::UnsignedLessThan, IntCC::UnsignedGreaterThan)
        };
        let upward = self.builder.ins().icmp(less, current, end);
        let downward = self.builder.ins().icmp(greater, current, end);
        let step_negative = if int.signed {
            self.builder.ins().icmp_imm_s(IntCC::SignedLessThan, step, 0)
        } else {
            self.builder.ins().iconst(types::I8, 0)
        };
        let go_on = self.builder.ins().select(step_negative, downward, upward);
        self.builder.ins().brif(go_on, body_block, &[], exit, &[]);
        self.builder.switch_to_block(body_block);
        let value = if counter_ty != ty { self.builder.ins().ireduce(ty, current) } else { current };
        let variable = self.variable(var)?;
        self.builder.def_var(variable, value);
        self.loop_exits.push(exit);
        self.stmts(body)?;
        self.loop_exits.pop();
        self.builder.ins().jump(latch, &[]);
        self.builder.switch_to_block(latch);
        let current = self.builder.use_var(counter);
        let next = self.builder.ins().iadd(current, step);
        self.builder.def_var(counter, next);
        self.builder.ins().jump(header, &[]);
        self.builder.switch_to_block(exit);
        Ok(())
    }

    /// Emits `if !cond { return STATUS_ASSERT_BASE + i }` for a new assert with `message`.
    pub(super) fn assert(&mut self, cond: Value, message: &str) {
        let status = abi::STATUS_ASSERT_BASE + self.assert_messages.len() as i32;
        self.assert_messages.push(message.to_string());
        let fail = self.builder.create_block();
        let pass = self.builder.create_block();
        self.builder.ins().brif(cond, pass, &[], fail, &[]);
        self.builder.switch_to_block(fail);
        self.builder.set_cold_block(fail);
        let status = self.builder.ins().iconst(types::I32, i64::from(status));
        self.builder.ins().return_(&[status]);
        self.builder.switch_to_block(pass);
    }

    /// The Cranelift variable of a scalar variable.
    pub(super) fn variable(&self, var: VarId) -> ClifResult<Variable> {
        self.vars
            .get(var.index())
            .copied()
            .ok_or_else(|| ClifError::Malformed(format!("undeclared variable {var}")))
    }

    /// The dtype of a scalar variable.
    pub(super) fn var_dtype(&self, var: VarId) -> ClifResult<DataType> {
        self.kernel
            .vars
            .get(var.index())
            .map(|decl| decl.dtype)
            .ok_or_else(|| ClifError::Malformed(format!("undeclared variable {var}")))
    }

    /// The run-time shape, strides and offset of a view.
    pub(super) fn view_vars(&self, global: GlobalId) -> ClifResult<ViewVars> {
        self.views.get(global.index()).cloned().flatten().ok_or_else(|| {
            ClifError::Malformed(format!("view {global} is used before `ViewGlobal` defines it"))
        })
    }

    /// A reference to a helper, imported on first use.
    pub(super) fn helper(&mut self, helper: Helper) -> FuncRef {
        if let Some(&func_ref) = self.helpers.get(&helper) {
            return func_ref;
        }
        let signature = self.builder.import_signature(helper.signature(self.target.default_call_conv));
        let name = self.builder.func.declare_imported_user_function(UserExternalName::new(0, helper.index()));
        let func_ref = self.builder.import_function(ExtFuncData {
            name: ExternalName::user(name),
            signature,
            colocated: false,
            patchable: false,
        });
        self.helpers.insert(helper, func_ref);
        func_ref
    }

    /// Calls a helper and returns its single result.
    pub(super) fn call_helper(&mut self, helper: Helper, args: &[Value]) -> Value {
        let func_ref = self.helper(helper);
        let call = self.builder.ins().call(func_ref, args);
        self.builder.inst_results(call)[0]
    }
}

/// A value of type `ty` from the low bits of an `i64`.
pub(super) fn from_u64_bits(builder: &mut FunctionBuilder, ty: Type, bits: Value) -> Value {
    match ty {
        types::I64 => bits,
        types::F32 => {
            let low = builder.ins().ireduce(types::I32, bits);
            builder.ins().bitcast(types::F32, MemFlagsData::new(), low)
        }
        _ => builder.ins().ireduce(ty, bits),
    }
}

/// The bits of a value, zero-extended to `i64`.
pub(super) fn to_u64_bits(builder: &mut FunctionBuilder, value: Value) -> Value {
    let ty = builder.func.dfg.value_type(value);
    match ty {
        types::I64 => value,
        types::F32 => {
            let bits = builder.ins().bitcast(types::I32, MemFlagsData::new(), value);
            builder.ins().uextend(types::I64, bits)
        }
        _ => builder.ins().uextend(types::I64, value),
    }
}

/// Extends a loop bound to the loop counter's type.
type WidenFn = fn(&mut FunctionBuilder, bool, Value) -> Value;

/// Lowers the grid function: evaluates `kernel.grid` from the scalar arguments into `[u32; 3]`.
pub(super) fn lower_grid(
    kernel: &Kernel,
    target: TargetFrontendConfig,
    func: &mut Function,
) -> ClifResult<()> {
    // Grid expressions read only scalar parameters: no tiles, so an empty frame.
    let frame = Frame::plan(&Kernel::new(kernel.name.clone(), kernel.num_threads))?;
    let mut func_ctx = FunctionBuilderContext::new();
    let mut lowerer = ClifLowerer::start(kernel, &frame, target, func, &mut func_ctx, true)?;
    let out = lowerer.scratch_out()?;
    lowerer.scalar_params()?;
    for axis in 0..3 {
        let size = match kernel.grid.get(axis) {
            Some(expr) => {
                let value = lowerer.expr(expr)?;
                let bits = to_u64_bits(&mut lowerer.builder, value);
                lowerer.builder.ins().ireduce(types::I32, bits)
            }
            None => lowerer.builder.ins().iconst(types::I32, 1),
        };
        lowerer.builder.ins().store(mem(), size, out, 4 * axis as i32);
    }
    let ok = lowerer.builder.ins().iconst(types::I32, i64::from(abi::STATUS_OK));
    lowerer.builder.ins().return_(&[ok]);
    lowerer.finish();
    Ok(())
}

impl ClifLowerer<'_> {
    /// The grid function's output pointer (its second parameter).
    fn scratch_out(&mut self) -> ClifResult<Value> {
        let entry = self
            .builder
            .func
            .layout
            .entry_block()
            .ok_or_else(|| ClifError::Malformed("grid function without an entry block".to_string()))?;
        Ok(self.builder.block_params(entry)[1])
    }
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}
