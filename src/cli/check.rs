//! `tilevm check FILE.tile`: parse, check and lower every kernel of a file, and report diagnostics.
//!
//! Also holds what `check` and `compile` share: reading the root file and its imports from disk, and
//! printing diagnostics in the requested format.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use tilevm_lang::{CompileOptions, Diagnostic, SourceSet, compile_sources, render_json, render_to_string};

use super::{CliError, CliResult};

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Rendered text on stderr.
    #[default]
    Human,
    /// One JSON object per diagnostic on stdout (for editors).
    Json,
}

/// Arguments of `tilevm check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The `.tile` file.
    pub file: PathBuf,
    /// A compile-time parameter value, `NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

/// Runs `tilevm check`.
pub fn run(args: &CheckArgs) -> CliResult {
    let options = CompileOptions { kernel: None, sets: args.sets.clone() };
    let (mut sources, root) = read_root(&args.file)?;
    match compile_sources(&mut sources, root, &load_relative, &options) {
        Ok(module) => {
            if args.message_format == MessageFormat::Human {
                let names: Vec<&str> = module.kernels().iter().map(|kernel| kernel.name.as_str()).collect();
                println!("{}: ok ({})", args.file.display(), names.join(", "));
            }
            Ok(())
        }
        Err(diagnostics) => Err(report(&diagnostics, &sources, args.message_format)),
    }
}

/// Parses `NAME=VALUE`.
pub fn parse_set(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!("expected NAME=VALUE, found `{text}`")),
    }
}

/// Reads the root file into a new source set.
pub fn read_root(path: &Path) -> Result<(SourceSet, tilevm_lang::FileId), CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| CliError::Input(format!("{}: {error}", path.display())))?;
    let mut sources = SourceSet::new();
    let root = sources.add(path.display().to_string(), text);
    Ok((sources, root))
}

/// Reads an imported file, relative to the directory of the file that imports it.
pub fn load_relative(importer: &str, path: &str) -> Result<(String, String), String> {
    let base = Path::new(importer).parent().unwrap_or(Path::new(""));
    let resolved = base.join(path);
    let text = std::fs::read_to_string(&resolved)
        .map_err(|error| format!("cannot read {}: {error}", resolved.display()))?;
    Ok((resolved.display().to_string(), text))
}

/// Prints diagnostics and returns the error that makes the command exit with status 1.
pub fn report(diagnostics: &[Diagnostic], sources: &SourceSet, format: MessageFormat) -> CliError {
    let count = diagnostics.len();
    let summary = format!("{count} error{} found", if count == 1 { "" } else { "s" });
    match format {
        MessageFormat::Human => {
            eprint!("{}", render_to_string(diagnostics, sources));
            CliError::CheckFailed(summary)
        }
        MessageFormat::Json => {
            print!("{}", render_json(diagnostics, sources));
            CliError::CheckFailed(String::new())
        }
    }
}
