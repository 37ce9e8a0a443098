//! Node constructors called by the grammar's actions: literal parsing and the expression depth limit.

use lalrpop_util::ParseError;

use super::ast::{Arg, BinaryOp, Expr, ExprKind, Ident, UnaryOp};
use super::lexer::Token;
use crate::diagnostic::{FileId, Span};

/// The tallest expression tree accepted. Long operator chains (`1 + 1 + ... + 1`) are cut here, so
/// that the recursive passes after parsing never run out of stack.
pub const MAX_EXPR_DEPTH: u32 = 256;

/// An error raised by a grammar action: a message and the byte range it concerns.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// The span at fault.
    pub span: Span,
}

type ActionResult<'source, T> = Result<T, ParseError<usize, Token<'source>, SyntaxError>>;

fn fail<'source, T>(span: Span, message: impl Into<String>) -> ActionResult<'source, T> {
    Err(ParseError::User { error: SyntaxError { message: message.into(), span } })
}

fn node<'source>(span: Span, kind: ExprKind, child_depth: u32) -> ActionResult<'source, Expr> {
    let depth = child_depth.saturating_add(1);
    if depth > MAX_EXPR_DEPTH {
        return fail(span, format!("expression nested more than {MAX_EXPR_DEPTH} levels deep"));
    }
    Ok(Expr { kind, span, depth })
}

/// A leaf node (depth 1).
pub fn leaf(span: Span, kind: ExprKind) -> Expr {
    Expr { kind, span, depth: 1 }
}

/// `lhs op rhs`.
pub fn binary<'source>(span: Span, op: BinaryOp, lhs: Expr, rhs: Expr) -> ActionResult<'source, Expr> {
    let depth = lhs.depth.max(rhs.depth);
    // A long flat chain (`1 + 1 + ... + 1`) is as tall as it is long: say so, not "nested".
    if depth >= MAX_EXPR_DEPTH && lhs.depth >= rhs.depth && matches!(lhs.kind, ExprKind::Binary(..)) {
        return fail(
            span,
            format!(
                "an operator chain of more than {MAX_EXPR_DEPTH} terms; split it with `let` bindings \
                 (`let a = ...; let b = a + ...;`)"
            ),
        );
    }
    node(span, ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), depth)
}

/// `op operand`.
pub fn unary<'source>(span: Span, op: UnaryOp, operand: Expr) -> ActionResult<'source, Expr> {
    let depth = operand.depth;
    node(span, ExprKind::Unary(op, Box::new(operand)), depth)
}

fn args_depth(args: &[Arg]) -> u32 {
    args.iter().map(|arg| arg.value.depth).max().unwrap_or(0)
}

/// `callee(args)`.
pub fn call<'source>(span: Span, callee: Ident, args: Vec<Arg>) -> ActionResult<'source, Expr> {
    let depth = args_depth(&args);
    node(span, ExprKind::Call { callee, args }, depth)
}

/// `receiver.method(args)`.
pub fn method<'source>(
    span: Span,
    receiver: Expr,
    method: Ident,
    args: Vec<Arg>,
) -> ActionResult<'source, Expr> {
    let depth = args_depth(&args).max(receiver.depth);
    node(span, ExprKind::Method { receiver: Box::new(receiver), method, args }, depth)
}

/// `base.name`.
pub fn field<'source>(span: Span, base: Expr, name: Ident) -> ActionResult<'source, Expr> {
    let depth = base.depth;
    node(span, ExprKind::Field { base: Box::new(base), name }, depth)
}

/// `[items]`.
pub fn list<'source>(span: Span, items: Vec<Expr>) -> ActionResult<'source, Expr> {
    let depth = items.iter().map(|item| item.depth).max().unwrap_or(0);
    node(span, ExprKind::List(items), depth)
}

/// `(inner)`.
pub fn paren<'source>(span: Span, inner: Expr) -> ActionResult<'source, Expr> {
    let depth = inner.depth;
    node(span, ExprKind::Paren(Box::new(inner)), depth)
}

/// Parses an integer literal (decimal, `0x`, `0b`, with `_` separators).
pub fn int<'source>(span: Span, text: &str) -> ActionResult<'source, Expr> {
    match parse_int(text) {
        Some(value) => Ok(leaf(span, ExprKind::Int(value))),
        None => fail(span, format!("integer literal `{text}` does not fit in 64 bits")),
    }
}

/// A negative integer literal, for compile-time parameter defaults (`= -1`).
pub fn negative_int<'source>(span: Span, text: &str) -> ActionResult<'source, Expr> {
    let operand = int(span, text)?;
    unary(span, UnaryOp::Neg, operand)
}

fn parse_int(text: &str) -> Option<u64> {
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(hex) = digits.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()
    } else if let Some(binary) = digits.strip_prefix("0b") {
        u64::from_str_radix(binary, 2).ok()
    } else {
        digits.parse().ok()
    }
}

/// Parses a float literal.
pub fn float<'source>(span: Span, text: &str) -> ActionResult<'source, Expr> {
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    match digits.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(leaf(span, ExprKind::Float(value))),
        _ => fail(span, format!("float literal `{text}` is out of range")),
    }
}

/// Unquotes a string literal and resolves `\n`, `\t`, `\\`, `\"` escapes.
pub fn string<'source>(file: FileId, text: &str, start: usize) -> ActionResult<'source, String> {
    let inner = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.char_indices();
    while let Some((_, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, '"')) => out.push('"'),
            Some((offset, other)) => {
                let at = start + 1 + offset;
                return fail(
                    Span::new(file, at.saturating_sub(1), at + other.len_utf8()),
                    format!("unknown escape `\\{other}`"),
                );
            }
            None => out.push('\\'),
        }
    }
    Ok(out)
}
