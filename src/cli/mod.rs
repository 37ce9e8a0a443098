//! Argument parsing (clap) and dispatch to one module per subcommand.
//!
//! Exit status: 0 on success, 1 when a check failed (diagnostics, mismatches), 2 on bad input or usage.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod check;
mod compile;
mod devices;
mod dtype;
mod layout;
mod run;

/// A command's failure, mapped to an exit status at the edge.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input or usage: exit status 2.
    #[error("{0}")]
    Input(String),
    /// A check that ran and failed (the report has been printed already): exit status 1.
    #[error("{0}")]
    CheckFailed(String),
}

/// The result of one subcommand.
pub type CliResult = Result<(), CliError>;

#[derive(Parser)]
#[command(name = "tilevm", version, about = "A VM and kernel compiler for low-precision GPU/CPU computation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a benchmark suite (`--suite gemv --backend cpu`) and compare it with the memory roofline.
    Bench(bench::BenchArgs),
    /// Encode, decode, pack and describe data types (one value per line on stdin).
    Dtype(dtype::DtypeArgs),
    /// Show which thread holds which element of a register layout (`local(2, 1).spatial(8, 4)`).
    Layout(layout::LayoutArgs),
    /// Check a `.tile` file: exit 0 when clean, 1 with diagnostics.
    Check(check::CheckArgs),
    /// Compile a `.tile` file and print its AST or VM IR.
    Compile(compile::CompileArgs),
    /// List the GPU adapters and the CPU backend.
    Devices(devices::DevicesArgs),
    /// Run a kernel on random or given data, time it, and optionally check it against the interpreter.
    Run(run::RunArgs),
}

/// Parses the command line, runs the subcommand and maps its result to an exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let result: CliResult = match cli.command {
        Command::Bench(args) => bench::run(&args),
        Command::Dtype(args) => dtype::run(args),
        Command::Layout(args) => layout::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Devices(args) => devices::run(&args),
        Command::Run(args) => run::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Input(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(CliError::CheckFailed(message)) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            ExitCode::from(1)
        }
    }
}
