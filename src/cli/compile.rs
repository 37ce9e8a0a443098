//! `tilevm compile FILE.tile [--kernel NAME] [--set K=V ...] --emit ast|ir|clif|asm|wgsl`: compile and print a stage.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use tilevm_lang::vm::verify::{VerifiedKernel, VerifiedModule};
use tilevm_lang::{CompileOptions, check_program, parse_program};
use tilevm_runtime::{GpuDevice, RuntimeResult};
use tilevm_wgsl::{GpuCaps, to_wgsl};

use super::check::{MessageFormat, load_relative, parse_set, read_root, report};
use super::{CliError, CliResult};

/// What `tilevm compile` prints. Backends add their targets here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The syntax tree of the root file.
    Ast,
    /// The VM IR after checking and lowering, with every tile's (written or inferred) layout.
    Ir,
    /// The operation the CPU backend's instruction selection chooses for each instruction on this host,
    /// and the rule that chose it.
    Isel,
    /// The Cranelift IR of each kernel for this host (the grid function, then the per-block function).
    Clif,
    /// The host machine code of each kernel's per-block function on the CPU backend (Cranelift's
    /// disassembly after register allocation).
    Asm,
    /// The WGSL compute shader of each kernel (validated by naga), for the capabilities of the GPU
    /// adapter `tilevm run --backend gpu` would pick; without an adapter, for the WebGPU defaults
    /// (`GpuCaps::default()`: no `f16`, no subgroups, 16 KiB of workgroup memory, 256 threads).
    Wgsl,
}

/// Arguments of `tilevm compile`.
#[derive(Args, Debug)]
pub struct CompileArgs {
    /// The `.tile` file.
    pub file: PathBuf,
    /// Only this kernel (default: every kernel of the file).
    #[arg(long)]
    pub kernel: Option<String>,
    /// A compile-time parameter value, `NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Emit::Ir)]
    pub emit: Emit,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

/// Runs `tilevm compile`.
pub fn run(args: &CompileArgs) -> CliResult {
    let options = CompileOptions { kernel: args.kernel.clone(), sets: args.sets.clone() };
    let (mut sources, root) = read_root(&args.file)?;
    let parsed = match parse_program(&mut sources, root, &load_relative) {
        Ok(parsed) => parsed,
        Err(diagnostics) => return Err(report(&diagnostics, &sources, args.message_format)),
    };
    if args.emit == Emit::Ast {
        if let Some((_, tree)) = parsed.files.first() {
            println!("{tree:#?}");
        }
        return Ok(());
    }
    match check_program(&parsed, &sources, &options) {
        Ok(module) if args.emit == Emit::Isel => print_cpu(&module, |kernel| {
            tilevm_runtime::CpuDevice::isel_text(kernel, tilevm_runtime::CpuOptions::from_env())
        }),
        Ok(module) if args.emit == Emit::Clif => print_cpu(&module, |kernel| {
            tilevm_runtime::CpuDevice::clif_text(kernel, tilevm_runtime::CpuOptions::from_env())
        }),
        Ok(module) if args.emit == Emit::Asm => print_cpu(&module, |kernel| {
            tilevm_runtime::CpuDevice::asm_text(kernel, tilevm_runtime::CpuOptions::from_env())
        }),
        Ok(module) if args.emit == Emit::Wgsl => print_wgsl(&module),
        Ok(module) => {
            print!("{}", tilevm_lang::vm::text::print_module(&module.to_module()));
            Ok(())
        }
        Err(diagnostics) => Err(report(&diagnostics, &sources, args.message_format)),
    }
}

/// Prints `text` of each kernel: a CPU backend stage.
fn print_cpu(module: &VerifiedModule, text: impl Fn(&VerifiedKernel) -> RuntimeResult<String>) -> CliResult {
    for kernel in module.kernels() {
        let text = text(kernel)
            .map_err(|error| CliError::CheckFailed(format!("kernel `{}`: {error}", kernel.name)))?;
        print!("{text}");
    }
    Ok(())
}

/// Prints each kernel's WGSL, headed by a comment naming the kernel and the capabilities used.
fn print_wgsl(module: &VerifiedModule) -> CliResult {
    let (caps, target) = match GpuDevice::open(None) {
        Ok(device) => (device.caps(), device.adapter().name.clone()),
        Err(_) => (GpuCaps::default(), "no adapter: WebGPU default limits".to_string()),
    };
    for kernel in module.kernels() {
        let source = to_wgsl(kernel, &caps)
            .map_err(|error| CliError::Input(format!("kernel `{}`: {error}", kernel.name)))?;
        println!("// kernel `{}` for {target} ({caps:?})", kernel.name);
        print!("{source}");
    }
    Ok(())
}
