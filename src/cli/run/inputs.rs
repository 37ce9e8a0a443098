//! Launch arguments from the command line: scalars from `--arg`, buffers sized from their declared
//! shapes and filled from `--inputs`, `--random`, or zeros (mutable buffers).

use std::collections::HashMap;
use std::path::Path;

use safetensors::SafeTensors;
use tilevm_runtime::KernelArg;
use tilevm_vm::DataType;
use tilevm_vm::Rounding;
use tilevm_vm::corpus::SplitMix64;
use tilevm_vm::interp::param_shapes;
use tilevm_vm::ir::{Kernel, ParamKind};
use tilevm_vm::packing::{Packer, packed_len};

use super::tensors;
use crate::cli::CliError;

/// The largest buffer `tilevm run` allocates, in bytes: more is almost certainly a wrong `--arg`.
const MAX_BUFFER_BYTES: usize = 4 << 30;

/// A kernel's launch: arguments in parameter order, and the declared shape of each buffer parameter.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The arguments (scalars as codes, buffers as packed bytes).
    pub args: Vec<KernelArg>,
    /// `Some(shape)` for buffer parameters, `None` for scalars.
    pub shapes: Vec<Option<Vec<u64>>>,
}

/// Builds the launch: scalars from `scalars` (`--arg NAME=VALUE`), then every buffer from the tensor of
/// its name in `inputs`, else random data (`random_seed`, inputs only), else zeros (mutable buffers).
///
/// # Errors
/// A missing, unknown or malformed `--arg`; a shape that does not evaluate or is too large; an input
/// without data; an unreadable `--inputs` file or a tensor of the wrong dtype or shape.
pub fn prepare(
    kernel: &Kernel,
    scalars: &[(String, String)],
    inputs: Option<&Path>,
    random_seed: Option<u64>,
) -> Result<Launch, CliError> {
    let mut args = scalar_args(kernel, scalars)?;
    let shapes = param_shapes(kernel, &args)
        .map_err(|error| CliError::Input(format!("cannot size the buffers: {error}")))?;
    let file_bytes = match inputs {
        Some(path) => Some(
            std::fs::read(path).map_err(|error| CliError::Input(format!("{}: {error}", path.display())))?,
        ),
        None => None,
    };
    let file = match (&file_bytes, inputs) {
        (Some(bytes), Some(path)) => Some(SafeTensors::deserialize(bytes).map_err(|error| {
            CliError::Input(format!("{}: not a safetensors file: {error}", path.display()))
        })?),
        _ => None,
    };
    if let (Some(file), Some(path)) = (&file, inputs) {
        for name in file.names() {
            let is_buffer = kernel
                .params
                .iter()
                .any(|param| param.name == name && matches!(param.kind, ParamKind::Global { .. }));
            if !is_buffer {
                return Err(CliError::Input(format!(
                    "{}: tensor `{name}` names no buffer parameter of kernel `{}`",
                    path.display(),
                    kernel.name
                )));
            }
        }
    }
    for (index, param) in kernel.params.iter().enumerate() {
        let ParamKind::Global { dtype, mutable } = param.kind else { continue };
        let Some(Some(shape)) = shapes.get(index) else {
            return Err(CliError::Input(format!(
                "cannot size buffer `{}`: kernel `{}` declares no shape for it",
                param.name, kernel.name
            )));
        };
        let count = element_count(&param.name, shape)?;
        let length = packed_len(dtype.bits(), count)
            .filter(|&length| length <= MAX_BUFFER_BYTES)
            .ok_or_else(|| {
                CliError::Input(format!(
                    "buffer `{}` ({dtype}{shape:?}) would exceed {} GiB; check the --arg values",
                    param.name,
                    MAX_BUFFER_BYTES >> 30
                ))
            })?;
        let from_file = file.as_ref().and_then(|file| file.tensor(&param.name).ok());
        let bytes = match (from_file, random_seed, mutable) {
            (Some(tensor), _, _) => {
                let path = inputs.map(|path| path.display().to_string()).unwrap_or_default();
                tensors::check_input(&path, &param.name, dtype, shape, &tensor)?;
                let mut bytes = allocate(&param.name, tensor.data().len())?;
                bytes.extend_from_slice(tensor.data());
                bytes
            }
            (None, Some(seed), false) => {
                random_buffer(&param.name, dtype, count, length, seed, index as u64)?
            }
            (None, _, true) => zeroed(&param.name, length)?,
            (None, None, false) => {
                return Err(CliError::Input(format!(
                    "no data for input `{}`: pass --random, or --inputs FILE with a tensor `{}`",
                    param.name, param.name
                )));
            }
        };
        if let Some(slot) = args.get_mut(index) {
            *slot = KernelArg::Buffer(bytes);
        }
    }
    Ok(Launch { args, shapes })
}

/// Arguments with every scalar parsed from `given` and every buffer empty.
fn scalar_args(kernel: &Kernel, given: &[(String, String)]) -> Result<Vec<KernelArg>, CliError> {
    let scalar_dtype = |name: &str| {
        kernel.params.iter().find_map(|param| match param.kind {
            ParamKind::Scalar { var, .. } if param.name == name => {
                kernel.vars.get(var.index()).map(|decl| decl.dtype)
            }
            _ => None,
        })
    };
    let mut values: HashMap<&str, &str> = HashMap::new();
    for (name, value) in given {
        if scalar_dtype(name).is_none() {
            let known: Vec<&str> = kernel
                .params
                .iter()
                .filter(|param| matches!(param.kind, ParamKind::Scalar { .. }))
                .map(|param| param.name.as_str())
                .collect();
            return Err(CliError::Input(format!(
                "--arg {name}={value}: kernel `{}` has no scalar parameter `{name}` (its scalar parameters: {})",
                kernel.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        }
        values.insert(name, value);
    }
    // Every missing scalar at once, so one rerun can give them all.
    let missing: Vec<String> = kernel
        .params
        .iter()
        .filter(|param| matches!(param.kind, ParamKind::Scalar { default: None, .. }))
        .filter(|param| !values.contains_key(param.name.as_str()))
        .map(|param| {
            let dtype = scalar_dtype(&param.name).unwrap_or(DataType::U32);
            format!("--arg {}=VALUE (`{}: {dtype}`)", param.name, param.name)
        })
        .collect();
    if !missing.is_empty() {
        return Err(CliError::Input(format!(
            "kernel `{}` needs its scalar parameters: missing {}",
            kernel.name,
            missing.join(", ")
        )));
    }
    let mut args = Vec::with_capacity(kernel.params.len());
    for param in &kernel.params {
        let ParamKind::Scalar { default, .. } = param.kind else {
            args.push(KernelArg::Buffer(Vec::new()));
            continue;
        };
        let dtype = scalar_dtype(&param.name).unwrap_or(DataType::U32);
        let code = match (values.get(param.name.as_str()), default) {
            (Some(text), _) => parse_scalar(dtype, text)
                .map_err(|reason| CliError::Input(format!("--arg {}={text}: {reason}", param.name)))?,
            (None, Some(code)) => code,
            (None, None) => return Err(CliError::Input(format!("missing --arg {}=VALUE", param.name))),
        };
        args.push(KernelArg::Scalar(code));
    }
    Ok(args)
}

/// Parses a scalar as a code of `dtype`: integers in range, floats (rounded to nearest even), `bool`s.
pub(super) fn parse_scalar(dtype: DataType, text: &str) -> Result<u64, String> {
    let text = text.trim();
    match dtype {
        DataType::Bool => match text {
            "true" | "1" => Ok(1),
            "false" | "0" => Ok(0),
            _ => Err(format!("`{text}` is not a bool (true or false)")),
        },
        DataType::Int(int) => {
            let value: i128 = text.parse().map_err(|_| format!("`{text}` is not an integer ({dtype})"))?;
            if value < int.min_value() || value > int.max_value() {
                return Err(format!(
                    "{value} is out of range for {dtype} ({}..={})",
                    int.min_value(),
                    int.max_value()
                ));
            }
            Ok(dtype.truncate(value as u64))
        }
        DataType::Float(_) => {
            let value: f64 = text.parse().map_err(|_| format!("`{text}` is not a number ({dtype})"))?;
            Ok(dtype.from_f64(value, Rounding::NearestEven))
        }
    }
}

/// The number of elements of `shape`.
fn element_count(name: &str, shape: &[u64]) -> Result<usize, CliError> {
    shape
        .iter()
        .try_fold(1usize, |count, &extent| count.checked_mul(usize::try_from(extent).ok()?))
        .ok_or_else(|| CliError::Input(format!("buffer `{name}` with shape {shape:?} is too large")))
}

/// `count` random codes of `dtype`, packed into `length` bytes: floats uniform in [-1, 1] (in [0, 1]
/// for unsigned formats) rounded to the dtype, integers uniform over every code. The stream depends on
/// the seed and the parameter's position only, so one buffer's data does not depend on the others.
pub(super) fn random_buffer(
    name: &str,
    dtype: DataType,
    count: usize,
    length: usize,
    seed: u64,
    position: u64,
) -> Result<Vec<u8>, CliError> {
    let mut rng = SplitMix64::new(seed ^ position.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // Codes are packed as they are drawn: the only allocation is the buffer itself.
    let mut bytes = allocate(name, length)?;
    let mut packer = Packer::new(dtype.bits());
    for _ in 0..count {
        let code = match dtype {
            DataType::Float(float) => {
                let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                let value = if float.signed { unit * 2.0 - 1.0 } else { unit };
                let code = dtype.from_f64(value, Rounding::NearestEven);
                // Formats without a zero (`f8e8m0fnu`) may not round every value to a finite one.
                if dtype.to_f64(code).is_finite() { code } else { dtype.from_f64(1.0, Rounding::NearestEven) }
            }
            DataType::Int(_) | DataType::Bool => dtype.truncate(rng.next_u64()),
        };
        packer.push(code, |byte| bytes.push(byte));
    }
    packer.finish(|byte| bytes.push(byte));
    bytes.resize(length, 0);
    Ok(bytes)
}

/// A zeroed buffer of `length` bytes for parameter `name`, or an error when the memory cannot be had
/// (never an abort).
pub(super) fn zeroed(name: &str, length: usize) -> Result<Vec<u8>, CliError> {
    let mut bytes = allocate(name, length)?;
    bytes.resize(length, 0);
    Ok(bytes)
}

/// An empty vector with room for `length` bytes.
fn allocate(name: &str, length: usize) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(length).map_err(|_| {
        CliError::Input(format!("cannot allocate {} for buffer `{name}`", format_bytes(length)))
    })?;
    Ok(bytes)
}

/// A byte count for messages: `2.0 GiB`, `512 KiB`, `12 bytes`.
fn format_bytes(bytes: usize) -> String {
    const UNITS: [(&str, usize); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    match UNITS.iter().find(|(_, size)| bytes >= *size) {
        Some((unit, size)) => format!("{:.1} {unit}", bytes as f64 / *size as f64),
        None => format!("{bytes} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_parse_per_dtype_and_reject_the_rest() {
        assert_eq!(parse_scalar(DataType::U32, "4096"), Ok(4096));
        assert_eq!(parse_scalar(DataType::I32, "-1"), Ok(0xffff_ffff));
        assert_eq!(parse_scalar(DataType::F32, "1.5"), Ok(u64::from(1.5f32.to_bits())));
        assert!(parse_scalar(DataType::U32, "abc").is_err_and(|reason| reason.contains("abc")));
        assert!(parse_scalar(DataType::U32, "-1").is_err());
        assert!(parse_scalar(DataType::I32, "2147483648").is_err());
        assert!(parse_scalar(DataType::F32, "x1").is_err());
    }

    #[test]
    fn random_floats_are_finite_and_moderate_and_the_seed_fixes_them() {
        let f16 = DataType::F16;
        let random = |seed| random_buffer("x", f16, 1000, 2000, seed, 1).unwrap();
        let bytes = random(7);
        assert_eq!(bytes, random(7));
        assert_ne!(bytes, random(8));
        let values: Vec<f64> =
            tilevm_vm::packing::unpack(16, &bytes, 1000).into_iter().map(|code| f16.to_f64(code)).collect();
        assert!(values.iter().all(|value| value.is_finite() && value.abs() <= 1.0));
        assert!(values.iter().any(|&value| value < -0.5) && values.iter().any(|&value| value > 0.5));
    }
}
