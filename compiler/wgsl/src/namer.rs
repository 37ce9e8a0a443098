//! WGSL identifiers for IR entities: readable, unique, and never a WGSL keyword or reserved word.

use std::collections::HashSet;

/// Hands out identifiers. Every name it returns is distinct from every other name it returned and from
/// the WGSL keywords, reserved words and builtin function names.
#[derive(Debug, Default)]
pub(super) struct Namer {
    used: HashSet<String>,
}

impl Namer {
    /// Reserves a fixed name the writer uses itself (`tid`, `meta`...), so no entity gets it.
    pub(super) fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_string());
    }

    /// A fresh identifier built from `hint` (anything; non-identifier characters are replaced).
    pub(super) fn name(&mut self, hint: &str) -> String {
        let mut base: String =
            hint.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
        while base.starts_with('_') {
            base.remove(0);
        }
        if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
            base.insert(0, 'n');
        }
        while base.contains("__") {
            base = base.replace("__", "_");
        }
        let mut candidate = base.clone();
        let mut suffix = 0;
        while self.used.contains(&candidate) || is_reserved(&candidate) {
            suffix += 1;
            candidate = format!("{base}_{suffix}");
        }
        self.used.insert(candidate.clone());
        candidate
    }
}

/// Whether `name` is a WGSL keyword, reserved word, or builtin identifier.
fn is_reserved(name: &str) -> bool {
    naga::keywords::wgsl::RESERVED.contains(&name)
        || naga::keywords::wgsl::BUILTIN_IDENTIFIERS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::Namer;

    #[test]
    fn keywords_and_duplicates_get_suffixes() {
        let mut namer = Namer::default();
        assert_eq!(namer.name("loop"), "loop_1");
        assert_eq!(namer.name("x"), "x");
        assert_eq!(namer.name("x"), "x_1");
        assert_eq!(namer.name("__a b"), "a_b");
        assert_eq!(namer.name("3d"), "n3d");
        namer.reserve("tid");
        assert_eq!(namer.name("tid"), "tid_1");
        assert_eq!(namer.name("select"), "select_1");
    }
}
