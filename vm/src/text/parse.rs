//! The parser: text → `Module`, by recursive descent over characters, with line:column errors.

use super::{TextError, names};
use crate::dtype::DataType;
use crate::ir::{
    ElementwiseOp, Expr, ExprKind, GlobalDecl, GlobalId, Inst, Kernel, Module, Operand, Param, ParamId,
    ParamKind, Rounding, SharedDecl, SharedId, Span, Stmt, StmtKind, TileDecl, TileId, VarDecl, VarId,
};
use crate::verify::dtype_name;

/// Parses a module printed by [`super::print_module`] (or written by hand in the same form).
///
/// # Errors
/// The first syntax error, with its line and column.
pub fn parse_module(text: &str) -> Result<Module, TextError> {
    let mut parser = Parser { chars: text.chars().collect(), position: 0 };
    let mut kernels = Vec::new();
    parser.skip_blank();
    while parser.peek().is_some() {
        kernels.push(parser.kernel()?);
        parser.skip_blank();
    }
    Ok(Module { kernels })
}

pub(super) type Parsed<T> = Result<T, TextError>;

/// The most nested expressions and blocks the parser follows, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 200;

pub(super) struct Parser {
    pub(super) chars: Vec<char>,
    pub(super) position: usize,
}

/// Handles as they appear in text, before we know which table they index.
pub(super) enum AnyHandle {
    Var(VarId),
    Tile(TileId),
    Shared(SharedId),
    Global(GlobalId),
}

impl Parser {
    // ---- kernels ----

    fn kernel(&mut self) -> Parsed<Kernel> {
        self.expect("kernel")?;
        self.expect("@")?;
        let name = if self.peek() == Some('"') { self.string()? } else { self.word()? };
        let mut kernel = Kernel::new(name, 1);
        self.expect("threads")?;
        self.expect("=")?;
        kernel.num_threads = self.small()?;
        self.expect("shared_limit")?;
        self.expect("=")?;
        kernel.shared_limit_bytes = self.small()?;
        self.expect("grid")?;
        self.expect("=")?;
        kernel.grid = self.expr_list(0)?;
        self.expect("{")?;
        self.end_of_line()?;
        let mut typed_defaults = Vec::new();
        loop {
            self.skip_blank();
            let start = self.position;
            let keyword = if self.peek().is_some_and(|character| character.is_ascii_alphabetic()) {
                self.word()?
            } else {
                String::new()
            };
            match keyword.as_str() {
                "param" => typed_defaults.extend(self.param(&mut kernel)?),
                "var" => {
                    self.declared('v', kernel.vars.len())?;
                    let name = self.string()?;
                    let dtype = self.dtype()?;
                    kernel.vars.push(VarDecl { name, dtype });
                }
                "tile" => {
                    self.declared('t', kernel.tiles.len())?;
                    let name = self.string()?;
                    let dtype = self.dtype()?;
                    let (at, text) = self.rest_of_line();
                    let layout = match crate::layout::parse_register_layout(&text) {
                        Ok(layout) => layout,
                        Err(error) => return self.error_at(at, format!("bad register layout: {error}")),
                    };
                    kernel.tiles.push(TileDecl { name, dtype, layout });
                }
                "shared" => {
                    self.declared('s', kernel.shared.len())?;
                    let name = self.string()?;
                    let dtype = self.dtype()?;
                    let (at, text) = self.rest_of_line();
                    let layout = match crate::layout::parse_shared_layout(&text) {
                        Ok(layout) => layout,
                        Err(error) => return self.error_at(at, format!("bad shared layout: {error}")),
                    };
                    kernel.shared.push(SharedDecl { name, dtype, layout });
                }
                "global" => {
                    self.declared('g', kernel.globals.len())?;
                    let name = self.string()?;
                    let dtype = self.dtype()?;
                    self.expect("%p")?;
                    let param = ParamId(self.small()?);
                    kernel.globals.push(GlobalDecl { name, param, dtype });
                }
                _ => {
                    for (at, var, dtype) in typed_defaults {
                        match kernel.vars.get(var.index()) {
                            Some(decl) if decl.dtype != dtype => {
                                return self.error_at(
                                    at,
                                    format!(
                                        "the default is {} but {var} is {}",
                                        dtype_name(dtype),
                                        dtype_name(decl.dtype)
                                    ),
                                );
                            }
                            _ => {}
                        }
                    }
                    self.position = start;
                    kernel.body = self.block(0)?;
                    return Ok(kernel);
                }
            }
            self.end_of_line()?;
        }
    }

    /// One `param` line; returns where a scalar's default was written, its variable and the dtype
    /// written with it, to be checked once the variables are declared.
    fn param(&mut self, kernel: &mut Kernel) -> Parsed<Option<(usize, VarId, DataType)>> {
        self.declared('p', kernel.params.len())?;
        let mut typed_default = None;
        let name = self.string()?;
        self.skip_space();
        let start = self.position;
        let kind = match self.word()?.as_str() {
            "scalar" => {
                let var = self.var()?;
                self.skip_space();
                let default = if self.eat("default") {
                    self.skip_space();
                    let at = self.position;
                    let value = self.expr(0)?;
                    let ExprKind::Const(code) = value.kind else {
                        return self.error_at(at, "a parameter's default is a constant such as `4096:u32`");
                    };
                    typed_default = Some((at, var, value.dtype));
                    Some(code)
                } else {
                    None
                };
                ParamKind::Scalar { var, default }
            }
            "global" => {
                let mutable = self.eat("mut ");
                ParamKind::Global { dtype: self.dtype()?, mutable }
            }
            _ => return self.error_at(start, "expected `scalar` or `global`"),
        };
        kernel.params.push(Param { name, kind });
        Ok(typed_default)
    }

    /// Statements up to and including the closing `}` of the block.
    fn block(&mut self, depth: usize) -> Parsed<Vec<Stmt>> {
        if depth > MAX_DEPTH {
            return self.error("blocks are nested too deeply");
        }
        let mut stmts = Vec::new();
        loop {
            self.skip_blank();
            match self.peek() {
                None => return self.error("expected `}`"),
                Some('}') => {
                    self.position += 1;
                    return Ok(stmts);
                }
                Some(_) => stmts.push(self.stmt(depth)?),
            }
        }
    }

    fn span(&mut self) -> Parsed<Span> {
        if !self.eat("@") {
            return Ok(Span::default());
        }
        let start = self.small()?;
        self.expect("..")?;
        Ok(Span { start, end: self.small()? })
    }

    fn stmt(&mut self, depth: usize) -> Parsed<Stmt> {
        self.skip_space();
        if self.peek() == Some('%') {
            let target = self.handle()?;
            self.expect("=")?;
            let kind = match target {
                AnyHandle::Var(var) => StmtKind::Assign { var, value: self.expr(0)? },
                AnyHandle::Tile(dst) => StmtKind::Inst(self.tile_inst(dst)?),
                AnyHandle::Shared(dst) => {
                    self.expect("alloc_shared")?;
                    StmtKind::Inst(Inst::AllocShared { dst, init: self.optional_expr()? })
                }
                AnyHandle::Global(dst) => {
                    self.expect("view_global")?;
                    self.expect("shape")?;
                    self.expect("=")?;
                    let shape = self.expr_list(0)?;
                    self.key("strides")?;
                    let strides = self.expr_list(0)?;
                    self.key("offset")?;
                    StmtKind::Inst(Inst::ViewGlobal { dst, shape, strides, offset: self.expr(0)? })
                }
            };
            let span = self.span()?;
            self.end_of_line()?;
            return Ok(Stmt { kind, span });
        }
        let start = self.position;
        let keyword = self.word()?;
        let kind = match keyword.as_str() {
            "for" => {
                let var = self.var()?;
                self.expect("in")?;
                let start = self.expr(0)?;
                self.expect("..")?;
                let end = self.expr(0)?;
                self.expect("step")?;
                let step = self.expr(0)?;
                let span = self.span()?;
                self.expect("{")?;
                let body = self.block(depth + 1)?;
                return Ok(Stmt { kind: StmtKind::For { var, start, end, step, body }, span });
            }
            "while" => {
                let cond = self.expr(0)?;
                let span = self.span()?;
                self.expect("{")?;
                let body = self.block(depth + 1)?;
                return Ok(Stmt { kind: StmtKind::While { cond, body }, span });
            }
            "if" => {
                let cond = self.expr(0)?;
                let span = self.span()?;
                self.expect("{")?;
                let then_body = self.block(depth + 1)?;
                let else_body = if self.eat("else") {
                    self.expect("{")?;
                    self.block(depth + 1)?
                } else {
                    Vec::new()
                };
                return Ok(Stmt { kind: StmtKind::If { cond, then_body, else_body }, span });
            }
            "break" => StmtKind::Break,
            "free_shared" => StmtKind::Inst(Inst::FreeShared { tile: self.shared()? }),
            "store_global" => {
                let dst = self.global()?;
                self.expect(",")?;
                let src = self.tile()?;
                let (offsets, dims) = self.window_with_dims()?;
                StmtKind::Inst(Inst::StoreGlobal { dst, src, offsets, dims })
            }
            "store_shared" => {
                let dst = self.shared()?;
                self.expect(",")?;
                let src = self.tile()?;
                StmtKind::Inst(Inst::StoreShared { dst, src, offsets: self.window()? })
            }
            "copy_global_to_shared" => {
                let dst = self.shared()?;
                self.expect(",")?;
                let src = self.global()?;
                let (offsets, dims) = self.window_with_dims()?;
                StmtKind::Inst(Inst::CopyGlobalToShared { dst, src, offsets, dims })
            }
            "copy_wait" => StmtKind::Inst(Inst::CopyWait),
            "sync" => StmtKind::Inst(Inst::Sync),
            "print_tile" => {
                let label = self.string()?;
                self.expect(",")?;
                StmtKind::Inst(Inst::PrintTile { label, tile: self.tile()? })
            }
            "print_scalars" => {
                let label = self.string()?;
                let mut values = Vec::new();
                while self.eat(",") {
                    values.push(self.expr(0)?);
                }
                StmtKind::Inst(Inst::PrintScalars { label, values })
            }
            "assert" => {
                let cond = self.expr(0)?;
                self.expect(",")?;
                StmtKind::Inst(Inst::Assert { cond, message: self.string()? })
            }
            _ => return self.error_at(start, format!("unknown statement `{keyword}`")),
        };
        let span = self.span()?;
        self.end_of_line()?;
        Ok(Stmt { kind, span })
    }

    /// An instruction defining register tile `dst`, after `%tN =`.
    fn tile_inst(&mut self, dst: TileId) -> Parsed<Inst> {
        self.skip_space();
        let start = self.position;
        let name = self.word()?;
        let inst = match name.as_str() {
            "alloc_register" => Inst::AllocRegister { dst, init: self.optional_expr()? },
            "load_global" => {
                let src = self.global()?;
                let (offsets, dims) = self.window_with_dims()?;
                Inst::LoadGlobal { dst, src, offsets, dims }
            }
            "load_shared" => {
                let src = self.shared()?;
                Inst::LoadShared { dst, src, offsets: self.window()? }
            }
            "view" => Inst::View { dst, src: self.tile()? },
            "cast" => {
                let src = self.tile()?;
                self.key("rounding")?;
                self.skip_space();
                let at = self.position;
                let rounding = match self.word()?.as_str() {
                    "nearest_even" => Rounding::NearestEven,
                    "toward_zero" => Rounding::TowardZero,
                    "stochastic" => {
                        self.expect("(")?;
                        let seed = self.unsigned()?;
                        self.expect(")")?;
                        Rounding::Stochastic { seed }
                    }
                    _ => return self.error_at(at, "expected nearest_even, toward_zero or stochastic(seed)"),
                };
                Inst::Cast { dst, src, rounding }
            }
            "iota" => {
                self.expect("dim")?;
                self.expect("=")?;
                Inst::Iota { dst, dim: self.small()? }
            }
            "dot" => {
                let a = self.tile()?;
                self.expect(",")?;
                let b = self.tile()?;
                self.expect(",")?;
                Inst::Dot { dst, a, b, acc: self.tile()? }
            }
            "reduce" => {
                self.skip_space();
                let at = self.position;
                let op_name = self.word()?;
                let Some(&(_, op)) = names::REDUCTIONS.iter().find(|(candidate, _)| *candidate == op_name)
                else {
                    return self.error_at(at, format!("unknown reduction `{op_name}`"));
                };
                let src = self.tile()?;
                self.key("dim")?;
                Inst::Reduce { dst, src, dim: self.small()?, op }
            }
            "permute" => {
                let src = self.tile()?;
                self.key("dims")?;
                Inst::Permute { dst, src, dims: self.int_list()? }
            }
            "broadcast" => Inst::Broadcast { dst, src: self.tile()? },
            "slice" => {
                let src = self.tile()?;
                Inst::Slice { dst, src, offsets: self.window()? }
            }
            "assign" => Inst::Assign { dst, src: self.tile()? },
            _ => {
                let Some(&(_, op)) = names::OPERATORS.iter().find(|(candidate, _)| *candidate == name) else {
                    return self.error_at(start, format!("unknown instruction `{name}`"));
                };
                let mut operands = vec![self.operand()?];
                while self.eat(",") {
                    operands.push(self.operand()?);
                }
                Inst::Elementwise { dst, op, operands }
            }
        };
        Ok(inst)
    }

    fn operand(&mut self) -> Parsed<Operand> {
        self.skip_space();
        let tile_next = self.chars.get(self.position..self.position + 2) == Some(&['%', 't'][..]);
        if tile_next { Ok(Operand::Tile(self.tile()?)) } else { Ok(Operand::Scalar(self.expr(0)?)) }
    }

    /// `, offsets=[...]`.
    fn window(&mut self) -> Parsed<Vec<Expr>> {
        self.key("offsets")?;
        self.expr_list(0)
    }

    /// `, offsets=[...], dims=[...]`.
    fn window_with_dims(&mut self) -> Parsed<(Vec<Expr>, Vec<usize>)> {
        let offsets = self.window()?;
        self.key("dims")?;
        Ok((offsets, self.int_list()?))
    }

    fn int_list(&mut self) -> Parsed<Vec<usize>> {
        self.expect("[")?;
        let mut values = Vec::new();
        if !self.eat("]") {
            loop {
                values.push(self.small()?);
                if self.eat("]") {
                    break;
                }
                self.expect(",")?;
            }
        }
        Ok(values)
    }

    // ---- expressions ----

    fn optional_expr(&mut self) -> Parsed<Option<Expr>> {
        self.skip_space();
        match self.peek() {
            None | Some('\n' | '@') => Ok(None),
            Some(_) => Ok(Some(self.expr(0)?)),
        }
    }

    fn expr_list(&mut self, depth: usize) -> Parsed<Vec<Expr>> {
        self.expect("[")?;
        self.expr_sequence("]", depth)
    }

    /// Comma-separated expressions up to and including `close`.
    fn expr_sequence(&mut self, close: &str, depth: usize) -> Parsed<Vec<Expr>> {
        let mut exprs = Vec::new();
        if self.eat(close) {
            return Ok(exprs);
        }
        loop {
            exprs.push(self.expr(depth)?);
            if self.eat(close) {
                return Ok(exprs);
            }
            self.expect(",")?;
        }
    }

    fn expr(&mut self, depth: usize) -> Parsed<Expr> {
        if depth > MAX_DEPTH {
            return self.error("the expression is nested too deeply");
        }
        self.skip_space();
        let start = self.position;
        match self.peek() {
            Some('%') => {
                let var = self.var()?;
                self.expect(":")?;
                Ok(Expr::var(var, self.dtype()?))
            }
            Some(character) if character.is_ascii_digit() || character == '-' => {
                let negative = self.eat("-");
                let hex = self.eat("0x");
                let digits_start = self.position;
                while self.peek().is_some_and(|digit| digit.is_ascii_hexdigit()) {
                    self.position += 1;
                }
                let digits: String = self.chars[digits_start..self.position].iter().collect();
                let parsed = if hex { u64::from_str_radix(&digits, 16) } else { digits.parse::<u64>() };
                let Ok(magnitude) = parsed else { return self.error_at(start, "bad integer constant") };
                self.expect(":")?;
                let dtype = self.dtype()?;
                let code = if negative {
                    let bits = dtype.bits().min(64);
                    let mask = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
                    magnitude.wrapping_neg() & mask
                } else {
                    magnitude
                };
                Ok(Expr::constant(dtype, code))
            }
            _ => {
                let name = self.word()?;
                self.expect(":")?;
                let dtype = self.dtype()?;
                self.expect("(")?;
                let kind = match name.as_str() {
                    "block_index" | "grid_size" => {
                        let axis = self.small()?;
                        self.expect(")")?;
                        if name == "block_index" {
                            ExprKind::BlockIndex(axis)
                        } else {
                            ExprKind::GridSize(axis)
                        }
                    }
                    _ => {
                        let operator = names::OPERATORS.iter().find(|(candidate, _)| *candidate == name);
                        let mut args = self.expr_sequence(")", depth + 1)?.into_iter().map(Box::new);
                        let mut arg = || args.next();
                        let kind = match (name.as_str(), operator) {
                            ("cast", _) => arg().map(ExprKind::Cast),
                            (_, Some(&(_, ElementwiseOp::Unary(op)))) => {
                                arg().map(|a| ExprKind::Unary(op, a))
                            }
                            (_, Some(&(_, ElementwiseOp::Binary(op)))) => {
                                arg().zip(arg()).map(|(a, b)| ExprKind::Binary(op, a, b))
                            }
                            (_, Some(&(_, ElementwiseOp::Ternary(op)))) => {
                                arg().zip(arg()).zip(arg()).map(|((a, b), c)| ExprKind::Ternary(op, a, b, c))
                            }
                            _ => return self.error_at(start, format!("unknown operator `{name}`")),
                        };
                        let extra = arg().is_some();
                        match kind {
                            Some(kind) if !extra => kind,
                            _ => {
                                return self
                                    .error_at(start, format!("wrong number of operands for `{name}`"));
                            }
                        }
                    }
                };
                Ok(Expr { kind, dtype })
            }
        }
    }
}
