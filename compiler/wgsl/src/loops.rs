//! `for` and `while` loops, written so that no driver's own loop bound can end them silently.
//
// Mesa's llvmpipe (lavapipe) leaves a loop nest after 65535 iterations in all (its limiter is set
// when the outermost loop begins and counts every iteration inside) as if the condition had failed: a
// `while` that counted to 100000 returned 65535, with no error, and splitting a loop into an inner
// and an outer one did not help. So each loop records in a flag that it ended the IR's way (its
// condition, or a `break`), and a loop that ended any other way stops the launch with a failure
// instead of giving wrong results. `while` loops also count their iterations against the launch's
// `while_limit` (`META_WHILE_LIMIT`), so a loop that never ends is an error on every adapter.

use tilevm_vm::dtype::DataType;
use tilevm_vm::ir::{Expr, ExprKind, Stmt, VarId};

use super::writer::Ctx;
use super::{META_WHILE_LIMIT, WHILE_LIMIT_FAILURE, WgslResult};

/// The failure of a loop that a driver ended before its condition did.
const CUT_SHORT_FAILURE: &str = "a loop ended after the GPU driver's own iteration bound, not its condition \
     (llvmpipe leaves a loop after 65535 iterations); stopped rather than give wrong results";

/// How the loop being written decides to go on.
enum LoopHead<'a> {
    /// `for var in start..end step step`: the variable's name and dtype (`for_end`, `for_step`,
    /// `for_at` and `for_wrapped` bound).
    For { name: &'a str, dtype: DataType },
    /// `while cond`.
    While { cond: &'a Expr },
}

impl Ctx<'_> {
    /// `for var in start..end step step { body }`.
    pub(super) fn for_loop(
        &mut self,
        var: VarId,
        (start, end, step): (&Expr, &Expr, &Expr),
        body: &[Stmt],
    ) -> WgslResult<()> {
        let name = self
            .var_names
            .get(var.index())
            .cloned()
            .ok_or_else(|| self.malformed(format!("unknown {var}")))?;
        let dtype = start.dtype;
        let ty = self.value_type(dtype)?;
        let (start, end, step_value) = (self.expr(start)?, self.expr(end)?, self.expr(step)?);
        self.open("{");
        self.line(&format!("let for_end: {ty} = {end};"));
        self.line(&format!("let for_step: {ty} = {step_value};"));
        let zero = if dtype == DataType::I32 { "0i" } else { "0u" };
        if !matches!(step.kind, ExprKind::Const(code) if code != 0) {
            self.fail_if(&format!("for_step == {zero}"), format!("a `for` loop over `{name}` has step 0"));
        }
        // The loop counts in its own variable, as the interpreter does: the loop variable holds each
        // iteration's value (and keeps its old one when no iteration runs), and a step past the end
        // of the dtype's range ends the loop instead of wrapping around to the start.
        self.line(&format!("var for_at: {ty} = {start};"));
        self.line("var for_wrapped = false;");
        self.bounded_loop(LoopHead::For { name: &name, dtype }, body)?;
        self.close();
        Ok(())
    }

    /// `while cond { body }`.
    pub(super) fn while_loop(&mut self, cond: &Expr, body: &[Stmt]) -> WgslResult<()> {
        self.open("{");
        self.line("var while_iterations = 0u;");
        self.bounded_loop(LoopHead::While { cond }, body)?;
        self.close();
        Ok(())
    }

    /// `break`: leaves the innermost loop, the IR's way.
    pub(super) fn break_loop(&mut self) -> WgslResult<()> {
        let exit =
            self.loop_exits.last().cloned().ok_or_else(|| self.malformed("`break` outside a loop".into()))?;
        self.line(&format!("{exit} = true;"));
        self.line("break;");
        Ok(())
    }

    /// The WGSL loop of one IR loop, with its exit flag (see the module comment).
    fn bounded_loop(&mut self, head: LoopHead<'_>, body: &[Stmt]) -> WgslResult<()> {
        let exit = format!("loop_exit{}", self.loop_exits.len());
        self.line(&format!("var {exit} = false;"));
        self.open("loop {");
        match head {
            LoopHead::For { name, dtype } => {
                let done = if dtype == DataType::I32 {
                    "select(for_at <= for_end, for_at >= for_end, for_step > 0i)"
                } else {
                    "for_at >= for_end"
                };
                self.line(&format!("if (for_wrapped || {done}) {{ {exit} = true; break; }}"));
                self.line(&format!("{name} = for_at;"));
            }
            LoopHead::While { cond } => {
                let cond = self.expr(cond)?;
                self.line(&format!("if (!({cond})) {{ {exit} = true; break; }}"));
                let limit = self.meta_word(META_WHILE_LIMIT);
                self.fail_if(&format!("while_iterations >= {limit}"), WHILE_LIMIT_FAILURE.to_string());
                self.line("while_iterations = while_iterations + 1u;");
            }
        }
        self.loop_exits.push(exit.clone());
        let written = self.stmts(body);
        self.loop_exits.pop();
        written?;
        if let LoopHead::For { dtype, .. } = head {
            self.open("continuing {");
            self.line("let for_before = for_at;");
            self.line("for_at = for_at + for_step;");
            let wrapped = if dtype == DataType::I32 {
                "select((for_at > for_before), (for_at < for_before), (for_step > 0i))"
            } else {
                "for_at < for_before"
            };
            self.line(&format!("for_wrapped = {wrapped};"));
            self.close();
        }
        self.close();
        self.fail_if(&format!("!{exit}"), CUT_SHORT_FAILURE.to_string());
        Ok(())
    }
}
