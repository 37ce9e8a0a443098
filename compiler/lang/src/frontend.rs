//! The front end's entry points: parse a root file and its imports, then check and lower.
//!
//! The compiler does no I/O: imported files come from a caller-provided [`Loader`].

use std::collections::HashMap;

use tilevm_vm::verify::VerifiedModule;

use crate::check::{self, Program};
use crate::diagnostic::{Diagnostic, FileId, SourceSet, Span};
use crate::syntax::{self, ast};

/// What to compile: which kernel, and the compile-time parameter values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// Only this kernel (all kernels of the root file when `None`).
    pub kernel: Option<String>,
    /// `--set NAME=VALUE` pairs for compile-time parameters (later pairs win).
    pub sets: Vec<(String, String)>,
}

/// Provides the text of imported files.
pub trait Loader {
    /// Resolves `path` as written in an `import` of the file named `importer`, and returns the resolved
    /// name (used to recognise repeated imports and in diagnostics) and the file's text.
    ///
    /// # Errors
    /// A message saying why the file could not be read; it becomes a diagnostic at the `import`.
    fn load(&self, importer: &str, path: &str) -> Result<(String, String), String>;
}

/// A loader for sources without imports: every import fails.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoImports;

impl Loader for NoImports {
    fn load(&self, _importer: &str, path: &str) -> Result<(String, String), String> {
        Err(format!("imports are not available here (importing `{path}`)"))
    }
}

impl<F: Fn(&str, &str) -> Result<(String, String), String>> Loader for F {
    fn load(&self, importer: &str, path: &str) -> Result<(String, String), String> {
        self(importer, path)
    }
}

/// The parsed files of one compilation: the root first, then every file it (transitively) imports.
#[derive(Debug)]
pub struct ParsedProgram {
    /// `(file, tree)` pairs, the root first.
    pub files: Vec<(FileId, ast::SourceFile)>,
}

/// The most files one compilation may import.
const MAX_FILES: usize = 256;

/// Parses `root` and, through `loader`, every file it imports (each file once).
///
/// # Errors
/// Every syntax error and every import that failed.
pub fn parse_program(
    sources: &mut SourceSet,
    root: FileId,
    loader: &dyn Loader,
) -> Result<ParsedProgram, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut files = Vec::new();
    let mut seen: HashMap<String, FileId> = HashMap::new();
    seen.insert(sources.name(root).to_string(), root);
    let mut queue = vec![root];
    while let Some(file) = queue.pop() {
        let tree = match syntax::parse(file, sources.text(file)) {
            Ok(tree) => tree,
            Err(mut errors) => {
                diagnostics.append(&mut errors);
                continue;
            }
        };
        for item in &tree.items {
            let ast::Item::Import(import) = item else { continue };
            let importer = sources.name(file).to_string();
            match loader.load(&importer, &import.path) {
                Ok((name, text)) => {
                    if seen.contains_key(&name) {
                        continue;
                    }
                    if seen.len() >= MAX_FILES {
                        diagnostics.push(
                            Diagnostic::error(format!("more than {MAX_FILES} imported files"))
                                .with_label(import.span, "import limit reached"),
                        );
                        continue;
                    }
                    let id = sources.add(name.clone(), text);
                    seen.insert(name, id);
                    queue.push(id);
                }
                Err(message) => diagnostics.push(
                    Diagnostic::error(format!("cannot import `{}`", import.path))
                        .with_label(import.span, message),
                ),
            }
        }
        files.push((file, tree));
    }
    if diagnostics.is_empty() { Ok(ParsedProgram { files }) } else { Err(diagnostics) }
}

/// Checks and lowers a parsed program.
///
/// # Errors
/// Every diagnostic found.
pub fn check_program(
    parsed: &ParsedProgram,
    sources: &SourceSet,
    options: &CompileOptions,
) -> Result<VerifiedModule, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut program = Program::default();
    let mut fn_spans: HashMap<&str, Span> = HashMap::new();
    for (index, (_, tree)) in parsed.files.iter().enumerate() {
        for item in &tree.items {
            match item {
                ast::Item::Fn(def) => {
                    let name = def.name.name.as_str();
                    if check::is_builtin(name) {
                        diagnostics.push(
                            Diagnostic::error(format!("`{name}` is a builtin and cannot be redefined"))
                                .with_label(def.name.span, "choose another name"),
                        );
                    } else if let Some(first) = fn_spans.get(name) {
                        diagnostics.push(
                            Diagnostic::error(format!("the function `{name}` is defined twice"))
                                .with_label(def.name.span, "defined again here")
                                .with_label(*first, "first defined here"),
                        );
                    } else {
                        fn_spans.insert(name, def.name.span);
                        program.fns.insert(name.to_string(), def);
                    }
                }
                ast::Item::Kernel(def) if index == 0 => {
                    if let Some(first) =
                        program.kernels.iter().find(|kernel| kernel.name.name == def.name.name)
                    {
                        diagnostics.push(
                            Diagnostic::error(format!("the kernel `{}` is defined twice", def.name.name))
                                .with_label(def.name.span, "defined again here")
                                .with_label(first.name.span, "first defined here"),
                        );
                    } else {
                        program.kernels.push(def);
                    }
                }
                _ => {}
            }
        }
    }
    match check::check_program(&program, sources, options) {
        Ok(module) if diagnostics.is_empty() => Ok(module),
        Ok(_) => Err(diagnostics),
        Err(mut errors) => {
            diagnostics.append(&mut errors);
            Err(diagnostics)
        }
    }
}

/// Parses, checks and lowers the root file `root` of `sources` (imports are loaded into `sources`).
///
/// # Errors
/// Every diagnostic found; render them with [`crate::render_to_string`] and the same `sources`.
pub fn compile_sources(
    sources: &mut SourceSet,
    root: FileId,
    loader: &dyn Loader,
    options: &CompileOptions,
) -> Result<VerifiedModule, Vec<Diagnostic>> {
    let parsed = parse_program(sources, root, loader)?;
    check_program(&parsed, sources, options)
}

/// Compiles one self-contained source text (imports are errors).
///
/// # Errors
/// Every diagnostic found; they point into a [`SourceSet`] whose only file (id 0) is `source`.
pub fn compile(source: &str, options: &CompileOptions) -> Result<VerifiedModule, Vec<Diagnostic>> {
    let mut sources = SourceSet::new();
    let root = sources.add("<source>", source);
    compile_sources(&mut sources, root, &NoImports, options)
}
