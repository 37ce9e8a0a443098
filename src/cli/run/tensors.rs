//! Buffers as safetensors tensors, one tensor per buffer parameter, named after it.
//!
//! A buffer whose dtype safetensors has (`u8`..`u64`, `i8`..`i64`, `f16`, `bf16`, `f32`, the OCP and
//! FNUZ 8-bit floats) is stored with that dtype and its declared shape. Any other 8-bit dtype is stored as
//! `U8` with its declared shape. Every other dtype (sub-byte and odd widths such as `u4`, `u3`, `u24`) is
//! stored as its packed bit stream: dtype `U8` and a one-dimensional shape of the byte count. The file's
//! metadata maps each tensor's name to the tilevm dtype, so the packed ones can be decoded. `--inputs`
//! expects exactly what `--output` writes.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::Dtype;
use safetensors::tensor::TensorView;
use tilevm_runtime::KernelArg;
use tilevm_vm::DataType;
use tilevm_vm::ir::{Kernel, ParamKind};

use crate::cli::CliError;

/// How a buffer of `dtype` with declared `shape` is stored: the safetensors dtype and shape.
pub fn storage(dtype: DataType, shape: &[u64]) -> (Dtype, Vec<usize>) {
    let declared: Vec<usize> = shape.iter().map(|&extent| extent as usize).collect();
    let native = match dtype.to_string().as_str() {
        "u8" => Some(Dtype::U8),
        "i8" => Some(Dtype::I8),
        "u16" => Some(Dtype::U16),
        "i16" => Some(Dtype::I16),
        "u32" => Some(Dtype::U32),
        "i32" => Some(Dtype::I32),
        "u64" => Some(Dtype::U64),
        "i64" => Some(Dtype::I64),
        "f16" => Some(Dtype::F16),
        "bf16" => Some(Dtype::BF16),
        "f32" => Some(Dtype::F32),
        "f8e5m2" => Some(Dtype::F8_E5M2),
        "f8e4m3fn" => Some(Dtype::F8_E4M3),
        "f8e4m3fnuz" => Some(Dtype::F8_E4M3FNUZ),
        "f8e5m2fnuz" => Some(Dtype::F8_E5M2FNUZ),
        "f8e8m0fnu" => Some(Dtype::F8_E8M0),
        _ if dtype.bits() == 8 => Some(Dtype::U8),
        _ => None,
    };
    match native {
        Some(stored) => (stored, declared),
        None => {
            let bits: u64 = shape.iter().product::<u64>().saturating_mul(u64::from(dtype.bits()));
            (Dtype::U8, vec![bits.div_ceil(8) as usize])
        }
    }
}

/// Checks that `tensor` (from the file `path`) is stored as a `dtype` buffer of `shape` is.
///
/// # Errors
/// A message naming the tensor, what was expected and what the file holds.
pub fn check_input(
    path: &str,
    name: &str,
    dtype: DataType,
    shape: &[u64],
    tensor: &TensorView<'_>,
) -> Result<(), CliError> {
    let (stored, stored_shape) = storage(dtype, shape);
    if tensor.dtype() != stored || tensor.shape() != stored_shape.as_slice() {
        return Err(CliError::Input(format!(
            "{path}: tensor `{name}` is {:?}{:?}, but parameter `{name}: {dtype}{shape:?}` needs {stored:?}{stored_shape:?}",
            tensor.dtype(),
            tensor.shape(),
        )));
    }
    Ok(())
}

/// The `--output` file, opened before the kernel runs so that an unwritable path fails at once rather
/// than after the whole run. Its contents are replaced only by [`write_outputs`]; a file this run created
/// is removed again when the run fails before writing it.
pub struct OutputFile {
    path: PathBuf,
    file: File,
    created: bool,
    written: bool,
}

impl OutputFile {
    /// Opens (or creates) `path` for writing without truncating it.
    pub fn open(path: &Path) -> Result<OutputFile, CliError> {
        let created = !path.exists();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|error| CliError::Input(format!("--output {}: {error}", path.display())))?;
        Ok(OutputFile { path: path.to_path_buf(), file, created, written: false })
    }

    /// The path given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn replace_contents(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.write_all(bytes)?;
        self.file.flush()?;
        self.written = true;
        Ok(())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.created && !self.written {
            // Best effort: an empty file left behind would look like a result.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes every mutable buffer of `args` to the `--output` file, replacing its contents.
///
/// # Errors
/// When the file cannot be written (or a buffer does not match its shape, a bug).
pub fn write_outputs(
    output: &mut OutputFile,
    kernel: &Kernel,
    shapes: &[Option<Vec<u64>>],
    args: &[KernelArg],
) -> Result<(), CliError> {
    let mut views = Vec::new();
    let mut metadata = HashMap::new();
    for (index, param) in kernel.params.iter().enumerate() {
        let ParamKind::Global { dtype, mutable: true } = param.kind else { continue };
        let (Some(Some(shape)), Some(bytes)) = (shapes.get(index), super::buffer(args, index)) else {
            continue;
        };
        let (stored, stored_shape) = storage(dtype, shape);
        let view = TensorView::new(stored, stored_shape, bytes).map_err(|error| {
            CliError::Input(format!("cannot store buffer `{}` as a tensor: {error}", param.name))
        })?;
        metadata.insert(param.name.clone(), dtype.to_string());
        views.push((param.name.clone(), view));
    }
    let file = safetensors::serialize(views, Some(metadata))
        .map_err(|error| CliError::Input(format!("cannot serialise the outputs: {error}")))?;
    output
        .replace_contents(&file)
        .map_err(|error| CliError::Input(format!("--output {}: {error}", output.path().display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dtype(name: &str) -> DataType {
        name.parse().unwrap_or(DataType::Bool)
    }

    #[test]
    fn native_dtypes_keep_their_shape_and_packed_ones_become_bytes() {
        assert_eq!(storage(DataType::F16, &[2, 3]), (Dtype::F16, vec![2, 3]));
        assert_eq!(storage(dtype("f8e4m3fn"), &[4]), (Dtype::F8_E4M3, vec![4]));
        assert_eq!(storage(dtype("f8e3m4"), &[4, 2]), (Dtype::U8, vec![4, 2]));
        // 5 * 3 = 15 u4 codes take 60 bits: 8 bytes.
        assert_eq!(storage(dtype("u4"), &[5, 3]), (Dtype::U8, vec![8]));
        assert_eq!(storage(dtype("u3"), &[3]), (Dtype::U8, vec![2]));
        assert_eq!(storage(dtype("u24"), &[2]), (Dtype::U8, vec![6]));
    }
}
