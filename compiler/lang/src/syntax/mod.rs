//! The `.tile` syntax: lexer (logos), grammar (lalrpop, generated at build time) and AST.
//!
//! [`parse`] turns one file's text into an [`ast::SourceFile`] or diagnostics. Lexing runs first over the
//! whole file (so bracket nesting is bounded before the parser and everything after it sees the tokens);
//! grammar actions bound the height of expression trees (see [`nodes::MAX_EXPR_DEPTH`]).

pub mod ast;
pub mod lexer;
mod nodes;

use lalrpop_util::{ParseError, lalrpop_mod};

use crate::diagnostic::{Diagnostic, FileId, Span};
use crate::excerpt::quoted;
use lexer::Token;
use nodes::SyntaxError;

lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, missing_docs, unused_qualifications, unused_lifetimes)]
    grammar,
    "/syntax/grammar.rs"
);

pub use lexer::MAX_NESTING;
pub use nodes::MAX_EXPR_DEPTH;

/// Parses one file.
///
/// # Errors
/// Lexical errors (all of them), or the first syntax error.
pub fn parse(file: FileId, text: &str) -> Result<ast::SourceFile, Vec<Diagnostic>> {
    let tokens = lexer::tokenize(file, text)?;
    let stream = tokens.into_iter().map(Ok::<_, SyntaxError>);
    grammar::SourceFileParser::new()
        .parse(file, stream)
        .map_err(|error| vec![parse_error_to_diagnostic(file, text, error)])
}

fn parse_error_to_diagnostic(
    file: FileId,
    text: &str,
    error: ParseError<usize, Token<'_>, SyntaxError>,
) -> Diagnostic {
    match error {
        ParseError::InvalidToken { location } => Diagnostic::error("invalid token")
            .with_label(Span::new(file, location, location + 1), "not understood here"),
        ParseError::UnrecognizedEof { location, expected } => Diagnostic::error("unexpected end of file")
            .with_label(Span::new(file, location, location), "the file ends here")
            .with_note(expected_note(&expected)),
        ParseError::UnrecognizedToken { token: (start, _, end), expected } => {
            let found = quoted(text.get(start..end).unwrap_or("?"));
            Diagnostic::error(format!("unexpected `{found}`"))
                .with_label(Span::new(file, start, end), "unexpected token")
                .with_note(expected_note(&expected))
        }
        ParseError::ExtraToken { token: (start, _, end) } => {
            let found = quoted(text.get(start..end).unwrap_or("?"));
            Diagnostic::error(format!("unexpected `{found}` after the end of the file's items"))
                .with_label(Span::new(file, start, end), "extra token")
        }
        ParseError::User { error } => Diagnostic::error(error.message).with_label(error.span, "here"),
    }
}

/// Turns lalrpop's list of expected terminals into a readable note.
fn expected_note(expected: &[String]) -> String {
    let names: Vec<String> = expected
        .iter()
        .map(|name| match name.as_str() {
            "IDENT" => "a name".to_string(),
            "INT" => "an integer".to_string(),
            "FLOAT" => "a float".to_string(),
            "STR" => "a string".to_string(),
            quoted => format!("`{}`", quoted.trim_matches('"')),
        })
        .collect();
    match names.len() {
        0 => "nothing more was expected here".to_string(),
        1..=8 => format!("expected {}", names.join(", ")),
        _ => format!("expected one of {}, ...", names[..8].join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::ast::{ExprKind, Item, StmtKind};
    use super::*;

    fn parse_ok(text: &str) -> ast::SourceFile {
        match parse(FileId(0), text) {
            Ok(file) => file,
            Err(diagnostics) => panic!("{diagnostics:?}"),
        }
    }

    #[test]
    fn parses_a_kernel_with_consts_params_and_attrs() {
        let file = parse_ok(
            "kernel add<BLOCK: u32 = 128, T: dtype = f16>(x: global T[n], y: global mut T[n], n: u32)
                 grid(cdiv(n, BLOCK)) threads(128) {
                 let t = load(x, [block_index(0) * BLOCK], [BLOCK], layout = spatial(128));
                 store(y, t + t, [block_index(0) * BLOCK]);
             }",
        );
        let Item::Kernel(kernel) = &file.items[0] else { panic!("not a kernel") };
        assert_eq!(kernel.consts.len(), 2);
        assert_eq!(kernel.params.len(), 3);
        assert_eq!(kernel.attrs.len(), 2);
        assert_eq!(kernel.body.stmts.len(), 2);
    }

    #[test]
    fn precedence_follows_rust() {
        let file = parse_ok("fn f(a, b) { a + b * 2 == 3 && !a }");
        let Item::Fn(function) = &file.items[0] else { panic!("not a fn") };
        let Some(tail) = &function.body.tail else { panic!("no tail") };
        let ExprKind::Binary(ast::BinaryOp::AndAnd, lhs, _) = &tail.kind else { panic!("{tail:?}") };
        let ExprKind::Binary(ast::BinaryOp::Eq, sum, _) = &lhs.kind else { panic!("{lhs:?}") };
        assert!(matches!(&sum.kind, ExprKind::Binary(ast::BinaryOp::Add, _, _)));
    }

    #[test]
    fn else_if_chains_nest() {
        let file = parse_ok("fn f(a) { if a { break; } else if a { break; } else { a = 1; } }");
        let Item::Fn(function) = &file.items[0] else { panic!("not a fn") };
        let StmtKind::If { else_body: Some(else_body), .. } = &function.body.stmts[0].kind else { panic!() };
        assert!(matches!(else_body.stmts[0].kind, StmtKind::If { else_body: Some(_), .. }));
    }

    #[test]
    fn syntax_errors_point_at_the_token() {
        let Err(diagnostics) = parse(FileId(0), "fn f(a) { let = 1; }") else { panic!("parsed") };
        assert_eq!(diagnostics[0].message, "unexpected `=`");
        assert_eq!(diagnostics[0].labels[0].0, Span::new(FileId(0), 14, 15));
    }

    #[test]
    fn long_operator_chains_are_cut() {
        let text = format!("fn f(a) {{ {} }}", vec!["a"; 5000].join(" + "));
        let Err(diagnostics) = parse(FileId(0), &text) else { panic!("parsed") };
        assert!(
            diagnostics[0].message.contains("an operator chain of more than"),
            "{}",
            diagnostics[0].message
        );
    }
}
