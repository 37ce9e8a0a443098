//! The printer: `Module` → text (see the module doc of `text` for the form).

use std::fmt::{self, Write};

use super::names;
use crate::dtype::DataType;
use crate::ir::{Expr, ExprKind, Inst, Kernel, Module, Operand, ParamKind, Rounding, Span, Stmt, StmtKind};
use crate::verify::dtype_name;

/// Prints a module in the text form; [`super::parse_module`] reads it back.
pub fn print_module(module: &Module) -> String {
    let mut out = String::new();
    for (position, kernel) in module.kernels.iter().enumerate() {
        if position > 0 {
            out.push('\n');
        }
        // Writing to a `String` cannot fail.
        let _ = print_kernel(&mut out, kernel);
    }
    out
}

/// Prints one kernel in the text form: its whole meaning, so equal text means an equal kernel (what
/// the runtime's caches key on, through a hash).
pub fn print_kernel_text(kernel: &Kernel) -> String {
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = print_kernel(&mut out, kernel);
    out
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print_module(self))
    }
}

fn print_kernel(out: &mut String, kernel: &Kernel) -> fmt::Result {
    write!(
        out,
        "kernel @{} threads={} shared_limit={} grid=[",
        name(&kernel.name),
        kernel.num_threads,
        kernel.shared_limit_bytes
    )?;
    list(out, &kernel.grid)?;
    writeln!(out, "] {{")?;
    for (index, param) in kernel.params.iter().enumerate() {
        write!(out, "  param %p{index} {}", quoted(&param.name))?;
        match &param.kind {
            ParamKind::Scalar { var, default } => {
                write!(out, " scalar {var}")?;
                if let (Some(code), Some(decl)) = (default, kernel.vars.get(var.index())) {
                    out.push_str(" default ");
                    expr(out, &Expr::constant(decl.dtype, *code))?;
                }
                out.push('\n');
            }
            ParamKind::Global { dtype, mutable } => {
                writeln!(out, " global {}{}", if *mutable { "mut " } else { "" }, dtype_name(*dtype))?
            }
        }
    }
    for (index, var) in kernel.vars.iter().enumerate() {
        writeln!(out, "  var %v{index} {} {}", quoted(&var.name), dtype_name(var.dtype))?;
    }
    for (index, tile) in kernel.tiles.iter().enumerate() {
        writeln!(out, "  tile %t{index} {} {} {}", quoted(&tile.name), dtype_name(tile.dtype), tile.layout)?;
    }
    for (index, shared) in kernel.shared.iter().enumerate() {
        writeln!(
            out,
            "  shared %s{index} {} {} {}",
            quoted(&shared.name),
            dtype_name(shared.dtype),
            shared.layout
        )?;
    }
    for (index, global) in kernel.globals.iter().enumerate() {
        writeln!(
            out,
            "  global %g{index} {} {} {}",
            quoted(&global.name),
            dtype_name(global.dtype),
            global.param
        )?;
    }
    block(out, &kernel.body, 1)?;
    writeln!(out, "}}")
}

fn block(out: &mut String, stmts: &[Stmt], depth: usize) -> fmt::Result {
    for stmt in stmts {
        let indent = "  ".repeat(depth);
        out.push_str(&indent);
        match &stmt.kind {
            StmtKind::Assign { var, value } => {
                write!(out, "{var} = ")?;
                expr(out, value)?;
                span(out, stmt.span)?;
            }
            StmtKind::For { var, start, end, step, body } => {
                write!(out, "for {var} in ")?;
                expr(out, start)?;
                out.push_str(" .. ");
                expr(out, end)?;
                out.push_str(" step ");
                expr(out, step)?;
                span(out, stmt.span)?;
                out.push_str(" {\n");
                block(out, body, depth + 1)?;
                write!(out, "{indent}}}")?;
            }
            StmtKind::While { cond, body } => {
                out.push_str("while ");
                expr(out, cond)?;
                span(out, stmt.span)?;
                out.push_str(" {\n");
                block(out, body, depth + 1)?;
                write!(out, "{indent}}}")?;
            }
            StmtKind::If { cond, then_body, else_body } => {
                out.push_str("if ");
                expr(out, cond)?;
                span(out, stmt.span)?;
                out.push_str(" {\n");
                block(out, then_body, depth + 1)?;
                write!(out, "{indent}}}")?;
                if !else_body.is_empty() {
                    out.push_str(" else {\n");
                    block(out, else_body, depth + 1)?;
                    write!(out, "{indent}}}")?;
                }
            }
            StmtKind::Break => {
                out.push_str("break");
                span(out, stmt.span)?;
            }
            StmtKind::Inst(instruction) => {
                inst(out, instruction)?;
                span(out, stmt.span)?;
            }
        }
        out.push('\n');
    }
    Ok(())
}

fn span(out: &mut String, span: Span) -> fmt::Result {
    if span != Span::default() {
        write!(out, " @{}..{}", span.start, span.end)?;
    }
    Ok(())
}

/// One instruction in the text form, on one line (as a statement of `print_module` prints it).
pub fn print_inst(inst: &Inst) -> String {
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = self::inst(&mut out, inst);
    out
}

fn inst(out: &mut String, inst: &Inst) -> fmt::Result {
    match inst {
        Inst::AllocRegister { dst, init } => {
            write!(out, "{dst} = alloc_register")?;
            if let Some(init) = init {
                out.push(' ');
                expr(out, init)?;
            }
        }
        Inst::AllocShared { dst, init } => {
            write!(out, "{dst} = alloc_shared")?;
            if let Some(init) = init {
                out.push(' ');
                expr(out, init)?;
            }
        }
        Inst::FreeShared { tile } => write!(out, "free_shared {tile}")?,
        Inst::ViewGlobal { dst, shape, strides, offset } => {
            write!(out, "{dst} = view_global shape=[")?;
            list(out, shape)?;
            out.push_str("], strides=[");
            list(out, strides)?;
            out.push_str("], offset=");
            expr(out, offset)?;
        }
        Inst::LoadGlobal { dst, src, offsets, dims } => {
            write!(out, "{dst} = load_global {src}")?;
            window(out, offsets, Some(dims))?;
        }
        Inst::StoreGlobal { dst, src, offsets, dims } => {
            write!(out, "store_global {dst}, {src}")?;
            window(out, offsets, Some(dims))?;
        }
        Inst::LoadShared { dst, src, offsets } => {
            write!(out, "{dst} = load_shared {src}")?;
            window(out, offsets, None)?;
        }
        Inst::StoreShared { dst, src, offsets } => {
            write!(out, "store_shared {dst}, {src}")?;
            window(out, offsets, None)?;
        }
        Inst::CopyGlobalToShared { dst, src, offsets, dims } => {
            write!(out, "copy_global_to_shared {dst}, {src}")?;
            window(out, offsets, Some(dims))?;
        }
        Inst::CopyWait => out.push_str("copy_wait"),
        Inst::Sync => out.push_str("sync"),
        Inst::View { dst, src } => write!(out, "{dst} = view {src}")?,
        Inst::Cast { dst, src, rounding } => {
            write!(out, "{dst} = cast {src}, rounding=")?;
            match rounding {
                Rounding::NearestEven => out.push_str("nearest_even"),
                Rounding::TowardZero => out.push_str("toward_zero"),
                Rounding::Stochastic { seed } => write!(out, "stochastic({seed})")?,
            }
        }
        Inst::Elementwise { dst, op, operands } => {
            write!(out, "{dst} = {}", names::operator(*op))?;
            for (position, operand) in operands.iter().enumerate() {
                out.push_str(if position == 0 { " " } else { ", " });
                match operand {
                    Operand::Tile(tile) => write!(out, "{tile}")?,
                    Operand::Scalar(value) => expr(out, value)?,
                }
            }
        }
        Inst::Iota { dst, dim } => write!(out, "{dst} = iota dim={dim}")?,
        Inst::Dot { dst, a, b, acc } => write!(out, "{dst} = dot {a}, {b}, {acc}")?,
        Inst::Reduce { dst, src, dim, op } => {
            write!(out, "{dst} = reduce {} {src}, dim={dim}", names::reduction(*op))?
        }
        Inst::Permute { dst, src, dims } => write!(out, "{dst} = permute {src}, dims={}", ints(dims))?,
        Inst::Broadcast { dst, src } => write!(out, "{dst} = broadcast {src}")?,
        Inst::Slice { dst, src, offsets } => {
            write!(out, "{dst} = slice {src}")?;
            window(out, offsets, None)?;
        }
        Inst::Assign { dst, src } => write!(out, "{dst} = assign {src}")?,
        Inst::PrintTile { label, tile } => write!(out, "print_tile {}, {tile}", quoted(label))?,
        Inst::PrintScalars { label, values } => {
            write!(out, "print_scalars {}", quoted(label))?;
            for value in values {
                out.push_str(", ");
                expr(out, value)?;
            }
        }
        Inst::Assert { cond, message } => {
            out.push_str("assert ");
            expr(out, cond)?;
            write!(out, ", {}", quoted(message))?;
        }
    }
    Ok(())
}

fn window(out: &mut String, offsets: &[Expr], dims: Option<&[usize]>) -> fmt::Result {
    out.push_str(", offsets=[");
    list(out, offsets)?;
    out.push(']');
    if let Some(dims) = dims {
        write!(out, ", dims={}", ints(dims))?;
    }
    Ok(())
}

fn ints(values: &[usize]) -> String {
    let parts: Vec<String> = values.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

fn list(out: &mut String, exprs: &[Expr]) -> fmt::Result {
    for (position, value) in exprs.iter().enumerate() {
        if position > 0 {
            out.push_str(", ");
        }
        expr(out, value)?;
    }
    Ok(())
}

/// Prints a scalar expression with its dtype on every node.
fn expr(out: &mut String, value: &Expr) -> fmt::Result {
    let dtype = dtype_name(value.dtype);
    match &value.kind {
        ExprKind::Const(code) => write!(out, "{}:{dtype}", constant(value.dtype, *code)),
        ExprKind::Var(var) => write!(out, "{var}:{dtype}"),
        ExprKind::Unary(op, operand) => {
            write!(out, "{}:{dtype}(", names::operator(crate::ir::ElementwiseOp::Unary(*op)))?;
            expr(out, operand)?;
            out.push(')');
            Ok(())
        }
        ExprKind::Binary(op, lhs, rhs) => {
            write!(out, "{}:{dtype}(", names::operator(crate::ir::ElementwiseOp::Binary(*op)))?;
            list(out, &[(**lhs).clone(), (**rhs).clone()])?;
            out.push(')');
            Ok(())
        }
        ExprKind::Ternary(op, a, b, c) => {
            write!(out, "{}:{dtype}(", names::operator(crate::ir::ElementwiseOp::Ternary(*op)))?;
            list(out, &[(**a).clone(), (**b).clone(), (**c).clone()])?;
            out.push(')');
            Ok(())
        }
        ExprKind::Cast(operand) => {
            write!(out, "cast:{dtype}(")?;
            expr(out, operand)?;
            out.push(')');
            Ok(())
        }
        ExprKind::BlockIndex(axis) => write!(out, "block_index:{dtype}({axis})"),
        ExprKind::GridSize(axis) => write!(out, "grid_size:{dtype}({axis})"),
    }
}

/// A constant's code: decimal for integers and `bool` (signed ones sign-extended), hex otherwise or when
/// the code has bits above the dtype's width.
fn constant(dtype: DataType, code: u64) -> String {
    let bits = dtype.bits();
    let fits = bits >= 64 || code >> bits == 0;
    match dtype {
        DataType::Int(int) if fits && int.signed && bits > 0 && bits <= 64 => {
            let shift = 64 - bits;
            (((code << shift) as i64) >> shift).to_string()
        }
        DataType::Int(_) | DataType::Bool if fits => code.to_string(),
        _ => format!("{code:#x}"),
    }
}

/// A kernel name: bare when it is an identifier, quoted otherwise.
fn name(text: &str) -> String {
    let identifier = text.chars().next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && text.chars().all(|character| character.is_ascii_alphanumeric() || character == '_');
    if identifier { text.to_string() } else { quoted(text) }
}

/// A string in double quotes with `\\`, `\"`, `\n`, `\t` and `\u{..}` escapes.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            character if character.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(character));
            }
            character => out.push(character),
        }
    }
    out.push('"');
    out
}
