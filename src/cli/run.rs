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

use clap::ValueEnum;
use tilevm::{Args, DeviceChoice, ParamRole, PrintSink, Program, Runtime, RuntimeOptions, Tensor, Value};
use tilevm_runtime::{Backend, KernelArg, exceeds_device};
use tilevm_vm::verify::VerifiedKernel;

use super::check::parse_set;
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
#[derive(clap::Args, Debug)]
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

/// Runs `tilevm run`: a thin layer over the host API (`tilevm::Program`, `Runtime`, `Tensor`,
/// `Kernel::launch`), plus what a command line adds — inputs from files or seeded random data, the
/// median of repeated runs, safetensors outputs and the interpreter's check.
pub fn run(args: &RunArgs) -> CliResult {
    let kernel = compile_kernel(args)?;
    let random_seed = args.random.then_some(args.seed);
    let launch = inputs::prepare(&kernel, &args.scalars, args.inputs.as_deref(), random_seed)?;
    let mut output = args.output.as_deref().map(tensors::OutputFile::open).transpose()?;
    let mut runtime = open(args.backend, args.adapter.as_deref())?;
    let (mut times, results) = match launch_repeatedly(&runtime, &kernel, &launch, args.repeat) {
        // `auto` chose this GPU, but the kernel needs more than it has: the CPU can run it.
        Err(tilevm::Error::Runtime(error))
            if args.backend == BackendChoice::Auto
                && runtime.backend() == Backend::Gpu
                && exceeds_device(&error) =>
        {
            eprintln!(
                "note: {} cannot run kernel `{}` ({error}); running it on the CPU backend",
                runtime.name(),
                kernel.name
            );
            runtime = open(BackendChoice::Cpu, None)?;
            launch_repeatedly(&runtime, &kernel, &launch, args.repeat)
        }
        other => other,
    }
    .map_err(|error| device_error(&runtime, error))?;
    println!("kernel `{}` on {} ({})", kernel.name, runtime.name(), runtime.backend());
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
        // The launches read uploaded copies: the prepared arguments are still the inputs.
        let mut reference = launch.args;
        tilevm_vm::interp::run_kernel(&kernel, &mut reference).map_err(|error| {
            CliError::CheckFailed(format!("check failed: the reference interpreter stopped: {error}"))
        })?;
        check::compare_outputs(&kernel, &launch.shapes, &results, &reference)?;
    }
    Ok(())
}

/// Compiles `kernel` for `runtime` and launches it `repeat` times. The read-only buffers are uploaded
/// once (the kernel cannot change them); the mutable ones afresh for every run, so a kernel that reads
/// its outputs gives the same result every time. The kernel's prints go to standard output from the
/// first run only. Returns the kernel times and the last run's arguments, its outputs read back
/// (other buffers empty).
fn launch_repeatedly(
    runtime: &Runtime,
    kernel: &VerifiedKernel,
    launch: &inputs::Launch,
    repeat: u32,
) -> tilevm::Result<(Vec<Duration>, Vec<KernelArg>)> {
    let compiled = tilevm::Kernel::from_verified(runtime, kernel.clone())?;
    let params = compiled.params().to_vec();
    // The buffer of parameter `index` as a tensor of its declared shape (`None` for a scalar).
    let upload = |index: usize| -> tilevm::Result<Option<Tensor>> {
        match (&launch.args[index], &launch.shapes[index]) {
            (KernelArg::Buffer(bytes), Some(shape)) => {
                let shape: Vec<usize> = shape.iter().map(|&extent| extent as usize).collect();
                Ok(Some(Tensor::from_packed(runtime, params[index].dtype, &shape, bytes)?))
            }
            _ => Ok(None),
        }
    };
    let read_only = (0..params.len())
        .map(|index| if params[index].kind == ParamRole::Input { upload(index) } else { Ok(None) })
        .collect::<tilevm::Result<Vec<_>>>()?;
    let mut times = Vec::with_capacity(repeat as usize);
    let mut outputs = Vec::new();
    runtime.set_print_sink(PrintSink::Stdout);
    for run in 0..repeat {
        if run == 1 {
            runtime.set_print_sink(PrintSink::Discard);
        }
        outputs = (0..params.len())
            .map(|index| if params[index].kind == ParamRole::Output { upload(index) } else { Ok(None) })
            .collect::<tilevm::Result<Vec<_>>>()?;
        let mut args = Args::new();
        for (index, param) in params.iter().enumerate() {
            args = match (&launch.args[index], read_only[index].as_ref().or(outputs[index].as_ref())) {
                (KernelArg::Scalar(code), _) => {
                    args.scalar(&param.name, Value::from_code(param.dtype, *code))
                }
                (KernelArg::Buffer(_), Some(tensor)) => args.tensor(&param.name, tensor),
                (KernelArg::Buffer(_), None) => args,
            };
        }
        times.push(compiled.launch(&args)?.kernel_time);
    }
    let results = launch
        .args
        .iter()
        .zip(&outputs)
        .map(|(arg, output)| match (arg, output) {
            (_, Some(tensor)) => tensor.to_bytes().map(KernelArg::Buffer),
            (KernelArg::Scalar(code), None) => Ok(KernelArg::Scalar(*code)),
            (KernelArg::Buffer(_), None) => Ok(KernelArg::Buffer(Vec::new())),
        })
        .collect::<tilevm::Result<_>>()?;
    Ok((times, results))
}

/// Reads the file, picks the kernel and instantiates it with the `--set` values; diagnostics are
/// printed and make the command exit with 2.
fn compile_kernel(args: &RunArgs) -> Result<VerifiedKernel, CliError> {
    let file = args.file.display().to_string();
    let compile_error = |error: tilevm::Error| match error {
        tilevm::Error::Compile(error) => {
            eprintln!("{error}");
            CliError::Input(format!("{file} does not compile"))
        }
        tilevm::Error::NoSuchKernel { name, defined, .. } => {
            CliError::Input(format!("{file} has no kernel named `{name}` (it defines: {defined})"))
        }
        other => CliError::Input(other.to_string()),
    };
    let program = Program::from_file(&args.file).map_err(compile_error)?;
    let names = program.kernel_names();
    let name = match (args.kernel.as_deref(), names) {
        (Some(name), _) => name.to_string(),
        (None, [only]) => only.clone(),
        (None, []) => return Err(CliError::Input(format!("{file} defines no kernel"))),
        (None, _) => {
            return Err(CliError::Input(format!(
                "{file} defines several kernels; pick one with --kernel ({})",
                names.join(", ")
            )));
        }
    };
    let instantiation =
        args.sets.iter().fold(program.kernel(&name), |kernel, (key, value)| kernel.set_text(key, value));
    instantiation.verify().map_err(compile_error)
}

/// Opens the device `choice` names (options from the environment, as everywhere in the CLI); `auto`
/// takes a hardware GPU, else the CPU backend, else the interpreter.
fn open(choice: BackendChoice, adapter: Option<&str>) -> Result<Runtime, CliError> {
    let mut options = RuntimeOptions::from_env().map_err(|error| CliError::Input(error.to_string()))?;
    if let Some(adapter) = adapter {
        options.adapter = Some(adapter.to_string());
    }
    options.device = match choice {
        BackendChoice::Auto => DeviceChoice::Auto,
        BackendChoice::Gpu => DeviceChoice::Gpu,
        BackendChoice::Cpu => DeviceChoice::Cpu,
        BackendChoice::Interp => DeviceChoice::Interp,
    };
    let what = match choice {
        BackendChoice::Auto => "a device",
        BackendChoice::Gpu => "the gpu backend",
        BackendChoice::Cpu => "the cpu backend",
        BackendChoice::Interp => "the interp backend",
    };
    Runtime::open(&options).map_err(|error| CliError::Input(format!("cannot open {what}: {error}")))
}

/// A launch's error as a command error (exit status 2), naming the device when it is the device's.
fn device_error(runtime: &Runtime, error: tilevm::Error) -> CliError {
    match error {
        tilevm::Error::Runtime(error) => {
            CliError::Input(format!("{} ({}): {error}", runtime.name(), runtime.backend()))
        }
        other => CliError::Input(other.to_string()),
    }
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
