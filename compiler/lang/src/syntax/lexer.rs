//! The `.tile` lexer (logos): source text to a vector of spanned tokens, and the nesting-depth guard.

use logos::Logos;

use crate::diagnostic::{Diagnostic, FileId, Span};

/// The deepest bracket nesting (`(`, `[`, `{` together) accepted before parsing.
///
/// The parser is table-driven, but the checker and lowering walk the tree recursively, so the depth is
/// bounded up front; real kernels nest a handful of levels.
pub const MAX_NESTING: usize = 128;

/// A token of the `.tile` language. Identifiers and literals borrow the source text.
#[derive(Logos, Clone, Copy, Debug, PartialEq)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum Token<'source> {
    /// `kernel`.
    #[token("kernel")]
    Kernel,
    /// `fn`.
    #[token("fn")]
    Fn,
    /// `import`.
    #[token("import")]
    Import,
    /// `let`.
    #[token("let")]
    Let,
    /// `mut`.
    #[token("mut")]
    Mut,
    /// `for`.
    #[token("for")]
    For,
    /// `in`.
    #[token("in")]
    In,
    /// `step`.
    #[token("step")]
    Step,
    /// `while`.
    #[token("while")]
    While,
    /// `if`.
    #[token("if")]
    If,
    /// `else`.
    #[token("else")]
    Else,
    /// `break`.
    #[token("break")]
    Break,
    /// `global`.
    #[token("global")]
    Global,
    /// `true`.
    #[token("true")]
    True,
    /// `false`.
    #[token("false")]
    False,
    /// An identifier (also dtype names such as `u4` and layout primitives such as `spatial`).
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*", |lexer| lexer.slice())]
    Ident(&'source str),
    /// An integer literal (decimal, `0x` hex or `0b` binary, `_` separators allowed), as written.
    #[regex(r"[0-9][0-9_]*|0x[0-9a-fA-F_]+|0b[01_]+", |lexer| lexer.slice())]
    Int(&'source str),
    /// A float literal (`1.0`, `2.5e-3`, `1e4`), as written.
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9]+)?|[0-9][0-9_]*[eE][+-]?[0-9]+", |lexer| lexer.slice())]
    Float(&'source str),
    /// A string literal, quotes included.
    #[regex(r#""([^"\\\n]|\\.)*""#, |lexer| lexer.slice())]
    Str(&'source str),
    /// `(`.
    #[token("(")]
    LParen,
    /// `)`.
    #[token(")")]
    RParen,
    /// `[`.
    #[token("[")]
    LBracket,
    /// `]`.
    #[token("]")]
    RBracket,
    /// `{`.
    #[token("{")]
    LBrace,
    /// `}`.
    #[token("}")]
    RBrace,
    /// `,`.
    #[token(",")]
    Comma,
    /// `;`.
    #[token(";")]
    Semi,
    /// `:`.
    #[token(":")]
    Colon,
    /// `.`.
    #[token(".")]
    Dot,
    /// `..`.
    #[token("..")]
    DotDot,
    /// `=`.
    #[token("=")]
    Assign,
    /// `+=`.
    #[token("+=")]
    PlusAssign,
    /// `-=`.
    #[token("-=")]
    MinusAssign,
    /// `*=`.
    #[token("*=")]
    StarAssign,
    /// `+`.
    #[token("+")]
    Plus,
    /// `-`.
    #[token("-")]
    Minus,
    /// `*`.
    #[token("*")]
    Star,
    /// `/`.
    #[token("/")]
    Slash,
    /// `%`.
    #[token("%")]
    Percent,
    /// `&`.
    #[token("&")]
    Amp,
    /// `|`.
    #[token("|")]
    Pipe,
    /// `^`.
    #[token("^")]
    Caret,
    /// `!`.
    #[token("!")]
    Bang,
    /// `&&`.
    #[token("&&")]
    AndAnd,
    /// `||`.
    #[token("||")]
    OrOr,
    /// `<<`.
    #[token("<<")]
    Shl,
    /// `>>`.
    #[token(">>")]
    Shr,
    /// `==`.
    #[token("==")]
    EqEq,
    /// `!=`.
    #[token("!=")]
    NotEq,
    /// `<`.
    #[token("<")]
    Lt,
    /// `<=`.
    #[token("<=")]
    Le,
    /// `>`.
    #[token(">")]
    Gt,
    /// `>=`.
    #[token(">=")]
    Ge,
    /// `->`.
    #[token("->")]
    Arrow,
}

/// A token with its byte range, in the triple form lalrpop's external lexers use.
pub type Spanned<'source> = (usize, Token<'source>, usize);

/// Splits `text` into tokens.
///
/// # Errors
/// One diagnostic per run of characters that start no token (the rest of the file is still lexed, so
/// several bad characters give several diagnostics), and one for brackets nested deeper than
/// [`MAX_NESTING`].
pub fn tokenize(file: FileId, text: &str) -> Result<Vec<Spanned<'_>>, Vec<Diagnostic>> {
    let mut tokens = Vec::new();
    let mut diagnostics = Vec::new();
    let mut lexer = Token::lexer(text);
    let mut previous_error_end = usize::MAX;
    while let Some(result) = lexer.next() {
        let range = lexer.span();
        match result {
            Ok(token) => tokens.push((range.start, token, range.end)),
            Err(()) => {
                if range.start == previous_error_end {
                    // Extend the previous error instead of reporting every bad character.
                    if let Some(last) = diagnostics.last_mut() {
                        extend_primary(last, range.end);
                    }
                } else {
                    let span = Span::new(file, range.start, range.end);
                    let found = text.get(range.clone()).unwrap_or("");
                    let message = if found.starts_with('"') {
                        "unterminated string literal".to_string()
                    } else {
                        format!("unexpected character `{}`", found.escape_debug())
                    };
                    diagnostics.push(
                        Diagnostic::error(message).with_label(span, "not a token of the .tile language"),
                    );
                }
                previous_error_end = range.end;
            }
        }
    }
    if let Some(diagnostic) = check_nesting(file, &tokens) {
        diagnostics.push(diagnostic);
    }
    if diagnostics.is_empty() { Ok(tokens) } else { Err(diagnostics) }
}

fn extend_primary(diagnostic: &mut Diagnostic, end: usize) {
    if let Some((span, _)) = diagnostic.labels.first_mut() {
        span.end = end as u32;
    }
}

/// Rejects bracket nesting deeper than [`MAX_NESTING`], pointing at the first bracket too deep.
fn check_nesting(file: FileId, tokens: &[Spanned<'_>]) -> Option<Diagnostic> {
    let mut depth = 0usize;
    for &(start, token, end) in tokens {
        match token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::error(format!("brackets nested more than {MAX_NESTING} levels deep"))
                            .with_label(Span::new(file, start, end), "nesting limit exceeded here")
                            .with_note("split the expression with `let` bindings"),
                    );
                }
            }
            Token::RParen | Token::RBracket | Token::RBrace => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Token<'_>> {
        match tokenize(FileId(0), text) {
            Ok(tokens) => tokens.into_iter().map(|(_, token, _)| token).collect(),
            Err(diagnostics) => panic!("unexpected diagnostics: {diagnostics:?}"),
        }
    }

    #[test]
    fn ranges_and_floats_are_told_apart() {
        assert_eq!(kinds("0..n"), vec![Token::Int("0"), Token::DotDot, Token::Ident("n")]);
        assert_eq!(kinds("1.5e3 2e-1"), vec![Token::Float("1.5e3"), Token::Float("2e-1")]);
        assert_eq!(kinds("a <= b // comment"), vec![Token::Ident("a"), Token::Le, Token::Ident("b")]);
    }

    #[test]
    fn keywords_are_not_identifiers() {
        assert_eq!(kinds("kernel kernels"), vec![Token::Kernel, Token::Ident("kernels")]);
    }

    #[test]
    fn bad_characters_are_reported_once_per_run() {
        let Err(diagnostics) = tokenize(FileId(0), "a $$$ b @") else { panic!("expected an error") };
        assert_eq!(diagnostics.len(), 2);
        assert_eq!(diagnostics[0].labels[0].0, Span::new(FileId(0), 2, 5));
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let text = "(".repeat(10_000) + &")".repeat(10_000);
        let Err(diagnostics) = tokenize(FileId(0), &text) else { panic!("expected an error") };
        assert!(diagnostics[0].message.contains("nested"));
    }
}
