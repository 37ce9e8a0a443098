//! [`Program`]: `.tile` source held by the host (from a string, a file with its imports, or files
//! embedded in the binary), parsed once to find its kernels and instantiated per set of compile-time
//! parameters.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tilevm_lang::syntax::ast;
use tilevm_lang::{
    CompileError, CompileOptions, Diagnostic, Loader, SourceSet, compile_sources, parse_program,
};
use tilevm_vm::verify::VerifiedKernel;

use crate::kernel::Kernel;
use crate::value::Value;
use crate::{Error, Result, Runtime};

/// `.tile` source and the files it imports, checked for syntax, ready to instantiate.
///
/// ```
/// let program = tilevm_host::Program::from_source("scale.tile", r#"
///     kernel scale<N: u32 = 8>(x: global f32[N], y: global mut f32[N]) grid(1) threads(8) {
///         let t = load(x, [0], [N]);
///         store(y, t * 2.0, [0]);
///     }
/// "#)?;
/// assert_eq!(program.kernel_names(), ["scale"]);
/// # Ok::<(), tilevm_host::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Program {
    files: Arc<Files>,
    kernels: Vec<String>,
}

/// The text of the root file and of every file it imports, as first read.
#[derive(Debug)]
struct Files {
    root: (String, String),
    /// Imported files by (importer, path as written) → (resolved name, text).
    imports: HashMap<(String, String), (String, String)>,
}

impl Program {
    /// A program from text with no imports (an `import` is an error); `name` names it in diagnostics.
    /// For a file embedded with `include_str!` too.
    ///
    /// # Errors
    /// [`Error::Compile`] with every syntax error.
    pub fn from_source(name: impl Into<String>, text: impl Into<String>) -> Result<Program> {
        Program::parse(name.into(), text.into(), &|_: &str, path: &str| {
            Err(format!("`{path}` cannot be imported by a program made from text; use Program::from_files"))
        })
    }

    /// A program from several files held in memory (embedded ones, say): `root` is the name of the
    /// root file among them, and an `import "p.tile"` in file `dir/f.tile` finds the file named
    /// `dir/p.tile`.
    ///
    /// # Errors
    /// [`Error::Compile`] with every syntax error and every import not among `files`;
    /// [`Error::Io`] when `root` is not among them.
    pub fn from_files(root: &str, files: &[(&str, &str)]) -> Result<Program> {
        let find =
            |name: &str| files.iter().find(|(file, _)| *file == name).map(|(_, text)| text.to_string());
        let text = find(root).ok_or_else(|| Error::Io {
            path: root.to_string(),
            message: "not among the program's files".to_string(),
        })?;
        Program::parse(root.to_string(), text, &|importer: &str, path: &str| {
            let resolved = beside(importer, path);
            let name = resolved.to_string_lossy().replace('\\', "/");
            find(&name).map(|text| (name.clone(), text)).ok_or_else(|| format!("no file named `{name}`"))
        })
    }

    /// A program from a `.tile` file, with its imports read beside it (now, once).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read or is not UTF-8; [`Error::Compile`] with every
    /// syntax error and every import that cannot be read.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Program> {
        let path = path.as_ref();
        let text =
            read_text(path).map_err(|message| Error::Io { path: path.display().to_string(), message })?;
        Program::parse(path.display().to_string(), text, &|importer: &str, import: &str| {
            let resolved = beside(importer, import);
            let text = read_text(&resolved)
                .map_err(|message| format!("cannot read {}: {message}", resolved.display()))?;
            Ok((resolved.display().to_string(), text))
        })
    }

    fn parse(name: String, text: String, read: &dyn Loader) -> Result<Program> {
        let imports = RefCell::new(HashMap::new());
        let recording = |importer: &str, path: &str| {
            let file = read.load(importer, path)?;
            imports.borrow_mut().insert((importer.to_string(), path.to_string()), file.clone());
            Ok(file)
        };
        let mut sources = SourceSet::new();
        let root = sources.add(name.clone(), text.clone());
        let parsed = parse_program(&mut sources, root, &recording)
            .map_err(|diagnostics| Error::Compile(CompileError { diagnostics, sources }))?;
        let kernels = parsed
            .files
            .first()
            .map(|(_, tree)| {
                tree.items
                    .iter()
                    .filter_map(|item| match item {
                        ast::Item::Kernel(def) => Some(def.name.name.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Program { files: Arc::new(Files { root: (name, text), imports: imports.into_inner() }), kernels })
    }

    /// The root file's name.
    pub fn name(&self) -> &str {
        &self.files.root.0
    }

    /// The kernels the root file defines, in source order.
    pub fn kernel_names(&self) -> &[String] {
        &self.kernels
    }

    /// The kernel `name`, to instantiate: give compile-time parameters with
    /// [`Instantiation::set`], then [`Instantiation::compile`] it for a runtime.
    pub fn kernel(&self, name: &str) -> Instantiation<'_> {
        Instantiation { program: self, name: name.to_string(), sets: Vec::new() }
    }

    /// Checks and lowers kernel `name` with `sets`.
    fn instantiate(&self, name: &str, sets: &[(String, String)]) -> Result<VerifiedKernel> {
        if !self.kernels.iter().any(|kernel| kernel == name) {
            return Err(Error::NoSuchKernel {
                name: name.to_string(),
                program: self.name().to_string(),
                defined: self.kernels.join(", "),
            });
        }
        let mut sources = SourceSet::new();
        let root = sources.add(self.files.root.0.clone(), self.files.root.1.clone());
        let replay = |importer: &str, path: &str| {
            self.files
                .imports
                .get(&(importer.to_string(), path.to_string()))
                .cloned()
                .ok_or_else(|| format!("`{path}` was not imported when the program was read"))
        };
        let options = CompileOptions { kernel: Some(name.to_string()), sets: sets.to_vec() };
        let module = compile_sources(&mut sources, root, &replay, &options)
            .map_err(|diagnostics| Error::Compile(CompileError { diagnostics, sources }))?;
        module.into_kernels().into_iter().next().ok_or_else(|| {
            let mut sources = SourceSet::new();
            sources.add(self.files.root.0.clone(), self.files.root.1.clone());
            let diagnostics = vec![Diagnostic::internal(format!("kernel `{name}` was not lowered"))];
            Error::Compile(CompileError { diagnostics, sources })
        })
    }
}

/// One kernel of a [`Program`] with compile-time parameter values, before it is compiled.
///
/// ```
/// # let program = tilevm_host::Program::from_source("k.tile", "kernel k<W: dtype = u4, N: u32 = 8>(x: global W[N]) grid(1) threads(1) {}")?;
/// use tilevm_host::{DataType, Runtime};
/// let kernel = program.kernel("k").set("W", "u3".parse::<DataType>()?).set("N", 64u32).compile(&Runtime::interp())?;
/// assert_eq!(kernel.name(), "k");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Instantiation<'p> {
    program: &'p Program,
    name: String,
    sets: Vec<(String, String)>,
}

impl Instantiation<'_> {
    /// Gives compile-time parameter `name` the value `value` (a later value for one name wins).
    #[must_use]
    pub fn set(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.sets.push((name.to_string(), value.into().to_source_text()));
        self
    }

    /// Gives compile-time parameter `name` a value written as text (`"u3"`, `"64"`), read by the front
    /// end as it reads `tilevm compile --set NAME=VALUE`, so a bad one is a diagnostic at the parameter.
    ///
    /// ```
    /// # let program = tilevm_host::Program::from_source("k.tile", "kernel k<W: dtype = u4>(x: global W[8]) grid(1) threads(1) {}")?;
    /// let verified = program.kernel("k").set_text("W", "u3").verify()?;
    /// assert_eq!(verified.params.len(), 1);
    /// let error = program.kernel("k").set_text("W", "u99").verify().unwrap_err().to_string();
    /// assert!(error.contains("`u99` is not a dtype"), "{error}");
    /// # Ok::<(), tilevm_host::Error>(())
    /// ```
    #[must_use]
    pub fn set_text(mut self, name: &str, text: &str) -> Self {
        self.sets.push((name.to_string(), text.to_string()));
        self
    }

    /// The verified kernel, for a device opened by hand or the interpreter's `run_kernel`.
    ///
    /// # Errors
    /// [`Error::NoSuchKernel`]; [`Error::Compile`] with the diagnostics of the instantiation (a value
    /// the kernel rejects, an unknown parameter name).
    pub fn verify(&self) -> Result<VerifiedKernel> {
        self.program.instantiate(&self.name, &self.sets)
    }

    /// The kernel compiled for `runtime` (from its cache when this instantiation was compiled before).
    ///
    /// # Errors
    /// As [`Instantiation::verify`]; [`Error::Runtime`] when the device cannot run it.
    pub fn compile(&self, runtime: &Runtime) -> Result<Kernel> {
        Kernel::from_verified(runtime, self.verify()?)
    }
}

/// `path` resolved beside the file `importer`.
fn beside(importer: &str, path: &str) -> PathBuf {
    Path::new(importer).parent().unwrap_or(Path::new("")).join(path)
}

/// A file's text; a file that is not UTF-8 says where its first bad byte is.
fn read_text(path: &Path) -> std::result::Result<String, String> {
    let bytes = std::fs::read(path).map_err(|error| error.to_string())?;
    String::from_utf8(bytes).map_err(|error| {
        let at = error.utf8_error().valid_up_to();
        let before = &error.as_bytes()[..at];
        let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
        let column = at - before.iter().rposition(|&byte| byte == b'\n').map_or(0, |newline| newline + 1) + 1;
        format!("not UTF-8: invalid byte at line {line}, column {column} (byte offset {at})")
    })
}
