//! `tilevm run FILE.tile`: compile one kernel, size and fill its buffers, run it on a device, report the
//! kernel time, and optionally write the outputs (`--output`) and compare them with the reference
//! interpreter (`--check`).
//!
//! The steps live in submodules: `inputs` turns `--arg`, `--inputs` and `--random` into launch
//! arguments, `tensors` maps buffers to and from safetensors, `check` derives the tolerance and prints
//! the mismatch report.

mod check;
mod inputs;
mod tensors;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tilevm_lang::{CompileOptions, compile_sources, render_to_string};
use tilevm_runtime::{Backend, Device, KernelArg, RuntimeError, exceeds_device, open_auto, open_device};
use tilevm_vm::verify::VerifiedKernel;

use super::check::{load_relative, parse_set, read_root};
use super::{CliError, CliResult};

/// Which device `tilevm run` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// The fastest device here: a hardware GPU, else the CPU backend, else the interpreter. Software
    /// rasterizers (lavapipe, llvmpipe, SwiftShader, WARP) only when `--adapter` names one; a kernel
    /// beyond the GPU's limits runs on the CPU, with a note.
    Auto,
    /// A GPU adapter through wgpu.
    Gpu,
    /// Native code through Cranelift.
    Cpu,
    /// The reference interpreter.
    Interp,
}

/// Arguments of `tilevm run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The `.tile` file.
    pub file: PathBuf,
    /// The kernel to run (may be left out when the file defines one kernel).
    #[arg(long)]
    pub kernel: Option<String>,
    /// Where to run it.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// A GPU adapter, by name or backend substring (default: `$TILEVM_ADAPTER`, else the preferred one).
    #[arg(long)]
    pub adapter: Option<String>,
    /// A compile-time parameter value, `NAME=VALUE` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
    /// A scalar parameter's value, `NAME=VALUE` (repeatable; parsed as the parameter's dtype).
    #[arg(long = "arg", value_name = "NAME=VALUE", value_parser = parse_set)]
    pub scalars: Vec<(String, String)>,
    /// A safetensors file whose tensors, named after the buffer parameters, give their contents.
    #[arg(long, value_name = "FILE")]
    pub inputs: Option<PathBuf>,
    /// Fill the input buffers not given by `--inputs` with seeded random data.
    #[arg(long)]
    pub random: bool,
    /// The seed of `--random`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write every mutable buffer after the run to this safetensors file.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also run the reference interpreter and compare every mutable buffer (exit 1 on a mismatch).
    #[arg(long)]
    pub check: bool,
    /// Run the kernel this many times and report the median kernel time.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
}

/// Runs `tilevm run`.
pub fn run(args: &RunArgs) -> CliResult {
    let kernel = compile_kernel(args)?;
    let random_seed = args.random.then_some(args.seed);
    let launch = inputs::prepare(&kernel, &args.scalars, args.inputs.as_deref(), random_seed)?;
    let mut output = args.output.as_deref().map(tensors::OutputFile::open).transpose()?;
    let mut device = open(args.backend, args.adapter.as_deref())?;
    let (mut times, results) = match launch_repeatedly(device.as_ref(), &kernel, &launch.args, args.repeat) {
        // `auto` chose this GPU, but the kernel needs more than it has: the CPU can run it.
        Err(error)
            if args.backend == BackendChoice::Auto
                && device.backend() == Backend::Gpu
                && exceeds_device(&error) =>
        {
            eprintln!(
                "note: {} cannot run kernel `{}` ({error}); running it on the CPU backend",
                device.name(),
                kernel.name
            );
            device = open(BackendChoice::Cpu, None)?;
            launch_repeatedly(device.as_ref(), &kernel, &launch.args, args.repeat)
        }
        other => other,
    }
    .map_err(|error| device_error(device.as_ref(), &error))?;
    println!("kernel `{}` on {} ({})", kernel.name, device.name(), device.backend());
    println!(
        "kernel time: {} (median of {} run{})",
        format_duration(median(&mut times)),
        args.repeat,
        plural(args.repeat)
    );
    if let Some(output) = &mut output {
        tensors::write_outputs(output, &kernel, &launch.shapes, &results)?;
        println!("wrote the outputs to {}", output.path().display());
    }
    if args.check {
        let mut reference = inputs::copy_args(&launch.args).map_err(CliError::Input)?;
        tilevm_vm::interp::run_kernel(&kernel, &mut reference).map_err(|error| {
            CliError::CheckFailed(format!("check failed: the reference interpreter stopped: {error}"))
        })?;
        check::compare_outputs(&kernel, &launch.shapes, &results, &reference)?;
    }
    Ok(())
}

/// Compiles `kernel` on `device` and runs it `repeat` times, each run from `inputs`; returns the kernel
/// times and the last run's arguments.
fn launch_repeatedly(
    device: &dyn Device,
    kernel: &VerifiedKernel,
    inputs: &[KernelArg],
    repeat: u32,
) -> Result<(Vec<Duration>, Vec<KernelArg>), RuntimeError> {
    let compiled = device.compile(kernel)?;
    let mut times = Vec::with_capacity(repeat as usize);
    let copy = |args: &[KernelArg]| inputs::copy_args(args).map_err(RuntimeError::InvalidLaunch);
    let mut results = copy(inputs)?;
    for run in 0..repeat {
        // Every run starts from the same inputs, so kernels that read their outputs give the same result.
        if run > 0 {
            results = copy(inputs)?;
        }
        // The kernel's prints, from the first run only: the others print the same.
        let stats = if run == 0 {
            compiled.run_printing(&mut results, &mut |line| println!("{line}"))?
        } else {
            compiled.run(&mut results)?
        };
        times.push(stats.kernel_time);
    }
    Ok((times, results))
}

/// Compiles the file and picks the kernel; diagnostics are printed and make the command exit with 2.
fn compile_kernel(args: &RunArgs) -> Result<VerifiedKernel, CliError> {
    let options = CompileOptions { kernel: args.kernel.clone(), sets: args.sets.clone() };
    let (mut sources, root) = read_root(&args.file)?;
    let module = compile_sources(&mut sources, root, &load_relative, &options).map_err(|diagnostics| {
        if let Some(error) = unknown_kernel(args, sources.text(root)) {
            return error;
        }
        eprint!("{}", render_to_string(&diagnostics, &sources));
        CliError::Input(format!("{} does not compile", args.file.display()))
    })?;
    let names: Vec<&str> = module.kernels().iter().map(|kernel| kernel.name.as_str()).collect();
    let wanted = args.kernel.as_deref();
    match (wanted, module.kernels().len()) {
        (Some(name), _) => module.kernel(name).cloned().ok_or_else(|| {
            CliError::Input(format!("no kernel named `{name}` (the file defines: {})", names.join(", ")))
        }),
        (None, 1) => {
            module.into_kernels().into_iter().next().ok_or_else(|| CliError::Input("no kernel".into()))
        }
        (None, 0) => Err(CliError::Input(format!("{} defines no kernel", args.file.display()))),
        (None, _) => Err(CliError::Input(format!(
            "{} defines several kernels; pick one with --kernel ({})",
            args.file.display(),
            names.join(", ")
        ))),
    }
}

/// The error for a `--kernel` that names no kernel of a file that parses: that alone, not "does not
/// compile" over a diagnostic saying so.
fn unknown_kernel(args: &RunArgs, root_text: &str) -> Option<CliError> {
    let wanted = args.kernel.as_deref()?;
    let tree = tilevm_lang::syntax::parse(tilevm_lang::FileId(0), root_text).ok()?;
    let names: Vec<&str> = tree
        .items
        .iter()
        .filter_map(|item| match item {
            tilevm_lang::syntax::ast::Item::Kernel(def) => Some(def.name.name.as_str()),
            _ => None,
        })
        .collect();
    if names.contains(&wanted) {
        return None;
    }
    Some(CliError::Input(format!(
        "{} has no kernel named `{wanted}` (it defines: {})",
        args.file.display(),
        names.join(", ")
    )))
}

/// Opens the device `choice` names; `auto` takes a hardware GPU, else the CPU backend, else the
/// interpreter (`tilevm_runtime::open_auto`).
fn open(choice: BackendChoice, adapter: Option<&str>) -> Result<Box<dyn Device>, CliError> {
    let open_error = |backend: Backend, error: RuntimeError| {
        CliError::Input(format!("cannot open the {backend} backend: {error}"))
    };
    let backend = match choice {
        BackendChoice::Gpu => Backend::Gpu,
        BackendChoice::Cpu => Backend::Cpu,
        BackendChoice::Interp => Backend::Interp,
        BackendChoice::Auto => {
            return open_auto(adapter)
                .map_err(|error| CliError::Input(format!("cannot open a device: {error}")));
        }
    };
    open_device(backend, adapter).map_err(|error| open_error(backend, error))
}

/// A device's error as a command error (exit status 2), naming the device.
fn device_error(device: &dyn Device, error: &RuntimeError) -> CliError {
    CliError::Input(format!("{} ({}): {error}", device.name(), device.backend()))
}

/// The median of `times` (the lower middle one for an even count).
fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times.get(times.len().saturating_sub(1) / 2).copied().unwrap_or_default()
}

/// `1.234 ms`, `56.7 us`: three significant digits in a fitting unit.
fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 1.0 {
        format!("{seconds:.3} s")
    } else if seconds >= 1e-3 {
        format!("{:.3} ms", seconds * 1e3)
    } else {
        format!("{:.1} us", seconds * 1e6)
    }
}

fn plural(count: u32) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// The bytes of argument `index` when it is a buffer.
fn buffer(args: &[KernelArg], index: usize) -> Option<&[u8]> {
    match args.get(index) {
        Some(KernelArg::Buffer(bytes)) => Some(bytes),
        _ => None,
    }
}
