//! Parses layout text into a small expression tree (recursive descent, with a depth limit).
//!
//! Grammar (`*` and `/` bind tighter than `+` and `-`; all are left-associative):
//!
//! ```text
//! expr     := term (("+" | "-") term)*
//! term     := unary (("*" | "/" | "//" | "%") unary)*
//! unary    := "-" unary | postfix
//! postfix  := primary ("." NAME ("(" args ")")?)*
//! primary  := INT | NAME ("(" args ")")? | "(" expr ")" | "[" (expr ("," expr)* ","?)? "]"
//! args     := (arg ("," arg)* ","?)?
//! arg      := NAME "=" expr | expr
//! ```

use super::lexer::{Token, tokenize};
use crate::layout::error::{LayoutError, LayoutResult, Span};

/// How deep expressions may nest; deeper text is an error rather than a stack overflow.
pub const MAX_DEPTH: usize = 64;

/// A node of the expression tree.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// The text it came from.
    pub span: Span,
    /// 1 for a leaf, one more than the deepest child otherwise.
    pub depth: usize,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ExprKind {
    /// An integer literal.
    Int(i64),
    /// A name on its own: `True`/`False`, an environment constant.
    Name(String),
    /// `base.name` without a call, as in `mma.m16n8k16_f16_a`.
    Member { base: Box<Expr>, name: String },
    /// `[a, b, ...]`.
    List(Vec<Expr>),
    /// `-operand`.
    Neg(Box<Expr>),
    /// `lhs op rhs` with `op` one of `+ - * / // %`.
    Binary { op: &'static str, lhs: Box<Expr>, rhs: Box<Expr> },
    /// `name(args)`, or `receiver.name(args)` for a method call.
    Call { receiver: Option<Box<Expr>>, name: String, name_span: Span, args: Vec<Arg> },
}

/// One argument of a call.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Arg {
    /// The keyword and its span, for `name=value`.
    pub keyword: Option<(String, Span)>,
    /// The value.
    pub value: Expr,
}

/// Parses a whole layout expression.
pub(crate) fn parse(text: &str) -> LayoutResult<Expr> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, next: 0, nesting: 0 };
    let expr = parser.expr()?;
    match parser.peek() {
        Token::End => Ok(expr),
        token => Err(LayoutError::syntax(
            parser.span(),
            format!("unexpected {} after the expression", describe(token)),
        )),
    }
}

struct Parser {
    tokens: Vec<(Token, Span)>,
    next: usize,
    /// Open brackets, parentheses and unary minuses around the current token; bounds the recursion.
    nesting: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.next).map_or(&Token::End, |(token, _)| token)
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        self.tokens.get(self.next + ahead).map_or(&Token::End, |(token, _)| token)
    }

    fn span(&self) -> Span {
        self.tokens.get(self.next).or(self.tokens.last()).map_or(Span::new(0, 0), |(_, span)| *span)
    }

    fn bump(&mut self) -> (Token, Span) {
        let item = self.tokens.get(self.next).cloned().unwrap_or((Token::End, self.span()));
        self.next = (self.next + 1).min(self.tokens.len());
        item
    }

    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Token::Punct(p) if *p == punct) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str) -> LayoutResult<Span> {
        let span = self.span();
        if self.eat(punct) {
            Ok(span)
        } else {
            Err(LayoutError::syntax(span, format!("expected `{punct}`, found {}", describe(self.peek()))))
        }
    }

    fn leaf(kind: ExprKind, span: Span) -> LayoutResult<Expr> {
        Ok(Expr { kind, span, depth: 1 })
    }

    fn expr(&mut self) -> LayoutResult<Expr> {
        let mut lhs = self.term()?;
        loop {
            let op = match self.peek() {
                Token::Punct(op @ ("+" | "-")) => *op,
                _ => return Ok(lhs),
            };
            self.next += 1;
            let rhs = self.term()?;
            let span = lhs.span.to(rhs.span);
            let depth = 1 + lhs.depth.max(rhs.depth);
            lhs = Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span, depth };
            self.check_depth(&lhs)?;
        }
    }

    fn term(&mut self) -> LayoutResult<Expr> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Token::Punct(op @ ("*" | "/" | "//" | "%")) => *op,
                _ => return Ok(lhs),
            };
            self.next += 1;
            let rhs = self.unary()?;
            let span = lhs.span.to(rhs.span);
            let depth = 1 + lhs.depth.max(rhs.depth);
            lhs = Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span, depth };
            self.check_depth(&lhs)?;
        }
    }

    /// Enters one more level of nesting, or fails when that is too deep.
    fn open(&mut self, span: Span) -> LayoutResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(LayoutError::syntax(
                span,
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn check_depth(&self, expr: &Expr) -> LayoutResult<()> {
        if expr.depth > MAX_DEPTH {
            return Err(LayoutError::syntax(
                expr.span,
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn unary(&mut self) -> LayoutResult<Expr> {
        let start = self.span();
        if self.eat("-") {
            self.open(start)?;
            let operand = self.unary()?;
            self.nesting -= 1;
            let span = start.to(operand.span);
            let depth = operand.depth + 1;
            let expr = Expr { kind: ExprKind::Neg(Box::new(operand)), span, depth };
            self.check_depth(&expr)?;
            return Ok(expr);
        }
        self.postfix()
    }

    fn postfix(&mut self) -> LayoutResult<Expr> {
        let mut expr = self.primary()?;
        while self.eat(".") {
            let (token, name_span) = self.bump();
            let Token::Ident(name) = token else {
                return Err(LayoutError::syntax(
                    name_span,
                    format!("expected a name after `.`, found {}", describe(&token)),
                ));
            };
            if matches!(self.peek(), Token::Punct("(")) {
                let (args, end) = self.call_args()?;
                let span = expr.span.to(end);
                let depth = 1 + args.iter().map(|arg| arg.value.depth).max().unwrap_or(0).max(expr.depth);
                expr = Expr {
                    kind: ExprKind::Call { receiver: Some(Box::new(expr)), name, name_span, args },
                    span,
                    depth,
                };
            } else {
                let span = expr.span.to(name_span);
                let depth = expr.depth + 1;
                expr = Expr { kind: ExprKind::Member { base: Box::new(expr), name }, span, depth };
            }
            self.check_depth(&expr)?;
        }
        Ok(expr)
    }

    fn primary(&mut self) -> LayoutResult<Expr> {
        let (token, span) = self.bump();
        match token {
            Token::Int(value) => Self::leaf(ExprKind::Int(value), span),
            Token::Ident(name) => {
                if matches!(self.peek(), Token::Punct("(")) {
                    let (args, end) = self.call_args()?;
                    let depth = 1 + args.iter().map(|arg| arg.value.depth).max().unwrap_or(0);
                    let expr = Expr {
                        kind: ExprKind::Call { receiver: None, name, name_span: span, args },
                        span: span.to(end),
                        depth,
                    };
                    self.check_depth(&expr)?;
                    Ok(expr)
                } else {
                    Self::leaf(ExprKind::Name(name), span)
                }
            }
            Token::Punct("(") => {
                self.open(span)?;
                let inner = self.expr()?;
                let end = self.expect(")")?;
                self.nesting -= 1;
                Ok(Expr { span: span.to(end), ..inner })
            }
            Token::Punct("[") => {
                self.open(span)?;
                let mut items = Vec::new();
                while !matches!(self.peek(), Token::Punct("]")) {
                    items.push(self.expr()?);
                    if !self.eat(",") {
                        break;
                    }
                }
                let end = self.expect("]")?;
                self.nesting -= 1;
                let depth = 1 + items.iter().map(|item| item.depth).max().unwrap_or(0);
                let expr = Expr { kind: ExprKind::List(items), span: span.to(end), depth };
                self.check_depth(&expr)?;
                Ok(expr)
            }
            token => Err(LayoutError::syntax(
                span,
                format!("expected a layout or a number, found {}", describe(&token)),
            )),
        }
    }

    /// `( args )`, returning the arguments and the span of `)`.
    fn call_args(&mut self) -> LayoutResult<(Vec<Arg>, Span)> {
        let open = self.expect("(")?;
        self.open(open)?;
        let mut args = Vec::new();
        while !matches!(self.peek(), Token::Punct(")")) {
            let keyword = match (self.peek(), self.peek_at(1)) {
                (Token::Ident(name), Token::Punct("=")) => {
                    let name = name.clone();
                    let (_, span) = self.bump();
                    self.bump();
                    Some((name, span))
                }
                _ => None,
            };
            args.push(Arg { keyword, value: self.expr()? });
            if !self.eat(",") {
                break;
            }
        }
        let end = self.expect(")")?;
        self.nesting -= 1;
        Ok((args, end))
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Int(value) => format!("`{value}`"),
        Token::Ident(name) => format!("`{name}`"),
        Token::Punct(punct) => format!("`{punct}`"),
        Token::End => "the end of the text".to_string(),
    }
}
