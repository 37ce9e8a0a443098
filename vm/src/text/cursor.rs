//! Character-level reading for the parser: spaces, words, numbers, strings, handles and dtypes.

use super::TextError;
use super::parse::{AnyHandle, Parsed, Parser};
use crate::dtype::DataType;
use crate::ir::{GlobalId, SharedId, TileId, VarId};
use crate::verify::dtype_from_name;

impl Parser {
    // ---- characters ----

    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    pub(super) fn error_at<T>(&self, position: usize, message: impl Into<String>) -> Parsed<T> {
        let before = &self.chars[..position.min(self.chars.len())];
        let line = before.iter().filter(|&&character| character == '\n').count() + 1;
        let column = before.iter().rev().take_while(|&&character| character != '\n').count() + 1;
        Err(TextError::Syntax { line, column, message: message.into() })
    }

    pub(super) fn error<T>(&self, message: impl Into<String>) -> Parsed<T> {
        self.error_at(self.position, message)
    }

    /// Skips spaces and tabs (not newlines).
    pub(super) fn skip_space(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.position += 1;
        }
    }

    /// Skips whitespace including newlines.
    pub(super) fn skip_blank(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r' | '\n')) {
            self.position += 1;
        }
    }

    /// Consumes `text` (after spaces) if it comes next.
    pub(super) fn eat(&mut self, text: &str) -> bool {
        self.skip_space();
        let matches = text
            .chars()
            .enumerate()
            .all(|(offset, character)| self.chars.get(self.position + offset) == Some(&character));
        if matches {
            self.position += text.chars().count();
        }
        matches
    }

    pub(super) fn expect(&mut self, text: &str) -> Parsed<()> {
        if self.eat(text) { Ok(()) } else { self.error(format!("expected `{text}`")) }
    }

    /// Consumes `, key=`.
    pub(super) fn key(&mut self, key: &str) -> Parsed<()> {
        self.expect(",")?;
        self.expect(key)?;
        self.expect("=")
    }

    pub(super) fn word(&mut self) -> Parsed<String> {
        self.skip_space();
        let start = self.position;
        while self.peek().is_some_and(|character| character.is_ascii_alphanumeric() || character == '_') {
            self.position += 1;
        }
        if start == self.position {
            return self.error("expected a name");
        }
        Ok(self.chars[start..self.position].iter().collect())
    }

    pub(super) fn unsigned(&mut self) -> Parsed<u64> {
        self.skip_space();
        let start = self.position;
        while self.peek().is_some_and(|character| character.is_ascii_digit()) {
            self.position += 1;
        }
        let digits: String = self.chars[start..self.position].iter().collect();
        match digits.parse() {
            Ok(value) => Ok(value),
            Err(_) => self.error_at(start, "expected an unsigned integer"),
        }
    }

    pub(super) fn small<T: TryFrom<u64>>(&mut self) -> Parsed<T> {
        let start = self.position;
        let value = self.unsigned()?;
        match T::try_from(value) {
            Ok(value) => Ok(value),
            Err(_) => self.error_at(start, format!("{value} is too large here")),
        }
    }

    pub(super) fn string(&mut self) -> Parsed<String> {
        self.expect("\"")?;
        let mut text = String::new();
        loop {
            let Some(character) = self.peek() else { return self.error("unterminated string") };
            self.position += 1;
            match character {
                '"' => return Ok(text),
                '\\' => {
                    let escape = self.peek();
                    self.position += 1;
                    match escape {
                        Some('"') => text.push('"'),
                        Some('\\') => text.push('\\'),
                        Some('n') => text.push('\n'),
                        Some('t') => text.push('\t'),
                        Some('u') => {
                            self.expect("{")?;
                            let start = self.position;
                            while self.peek().is_some_and(|digit| digit.is_ascii_hexdigit()) {
                                self.position += 1;
                            }
                            let digits: String = self.chars[start..self.position].iter().collect();
                            let decoded = u32::from_str_radix(&digits, 16).ok().and_then(char::from_u32);
                            match decoded {
                                Some(decoded) => text.push(decoded),
                                None => return self.error_at(start, "bad \\u escape"),
                            }
                            self.expect("}")?;
                        }
                        _ => return self.error_at(self.position - 1, "unknown escape"),
                    }
                }
                character => text.push(character),
            }
        }
    }

    /// The rest of the line, trimmed, and where it starts.
    pub(super) fn rest_of_line(&mut self) -> (usize, String) {
        self.skip_space();
        let start = self.position;
        while self.peek().is_some_and(|character| character != '\n') {
            self.position += 1;
        }
        (start, self.chars[start..self.position].iter().collect::<String>().trim().to_string())
    }

    pub(super) fn end_of_line(&mut self) -> Parsed<()> {
        self.skip_space();
        match self.peek() {
            None | Some('\n') => Ok(()),
            Some(_) => self.error("expected the end of the line"),
        }
    }

    // ---- handles and dtypes ----

    pub(super) fn handle(&mut self) -> Parsed<AnyHandle> {
        self.skip_space();
        let start = self.position;
        self.expect("%")?;
        let kind = self.peek();
        self.position += 1;
        let index: u32 = self.small()?;
        match kind {
            Some('v') => Ok(AnyHandle::Var(VarId(index))),
            Some('t') => Ok(AnyHandle::Tile(TileId(index))),
            Some('s') => Ok(AnyHandle::Shared(SharedId(index))),
            Some('g') => Ok(AnyHandle::Global(GlobalId(index))),
            _ => self.error_at(start, "expected a handle such as %v0, %t0, %s0 or %g0"),
        }
    }

    pub(super) fn tile(&mut self) -> Parsed<TileId> {
        let start = self.position;
        match self.handle()? {
            AnyHandle::Tile(tile) => Ok(tile),
            _ => self.error_at(start, "expected a register tile (%t)"),
        }
    }

    pub(super) fn shared(&mut self) -> Parsed<SharedId> {
        let start = self.position;
        match self.handle()? {
            AnyHandle::Shared(shared) => Ok(shared),
            _ => self.error_at(start, "expected a shared tile (%s)"),
        }
    }

    pub(super) fn global(&mut self) -> Parsed<GlobalId> {
        let start = self.position;
        match self.handle()? {
            AnyHandle::Global(global) => Ok(global),
            _ => self.error_at(start, "expected a global view (%g)"),
        }
    }

    pub(super) fn var(&mut self) -> Parsed<VarId> {
        let start = self.position;
        match self.handle()? {
            AnyHandle::Var(var) => Ok(var),
            _ => self.error_at(start, "expected a variable (%v)"),
        }
    }

    /// A `%<prefix><index>` declaration handle, which must be the next index of its table.
    pub(super) fn declared(&mut self, prefix: char, expected: usize) -> Parsed<()> {
        self.skip_space();
        let start = self.position;
        self.expect("%")?;
        if self.peek() != Some(prefix) {
            return self.error(format!("expected %{prefix}{expected}"));
        }
        self.position += 1;
        let index: usize = self.small()?;
        if index != expected {
            return self.error_at(start, format!("declarations come in order: expected %{prefix}{expected}"));
        }
        Ok(())
    }

    pub(super) fn dtype(&mut self) -> Parsed<DataType> {
        self.skip_space();
        let start = self.position;
        let name = self.word()?;
        match dtype_from_name(&name) {
            Some(dtype) => Ok(dtype),
            None => self.error_at(start, format!("unknown dtype `{name}`")),
        }
    }
}
