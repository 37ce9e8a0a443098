//! Writing a GGUF v3 file: metadata and tensors in the order added, data aligned to
//! `general.alignment` (32 unless set), as ggml's `gguf_write_to_file` lays it out.

use std::path::Path;

use super::value::MetaValue;
use super::{DEFAULT_ALIGNMENT, MAGIC, MAX_DIMS};
use crate::error::{FormatError, Result};
use crate::ggml::GgmlType;

/// A GGUF file being put together in memory.
#[derive(Clone, Debug, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, MetaValue)>,
    tensors: Vec<(String, Vec<u64>, GgmlType, Vec<u8>)>,
}

impl GgufWriter {
    /// An empty file.
    pub fn new() -> GgufWriter {
        GgufWriter::default()
    }

    /// Adds (or replaces) a metadata entry.
    pub fn metadata(&mut self, key: &str, value: MetaValue) -> &mut GgufWriter {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.metadata.push((key.to_string(), value)),
        }
        self
    }

    /// Adds a tensor of `ty` with ggml dimensions `dims` (innermost first) and its encoded `data`.
    ///
    /// # Errors
    /// [`FormatError::Input`] for a repeated name, no or more than four dimensions, a row that is not
    /// whole blocks, or data of the wrong length.
    pub fn tensor(
        &mut self,
        name: &str,
        ty: GgmlType,
        dims: &[u64],
        data: Vec<u8>,
    ) -> Result<&mut GgufWriter> {
        let bad = |message: String| Err(FormatError::Input(format!("tensor `{name}`: {message}")));
        if self.tensors.iter().any(|(n, ..)| n == name) {
            return bad("added twice".into());
        }
        if dims.is_empty() || dims.len() > MAX_DIMS as usize {
            return bad(format!("{} dimensions (GGUF has 1 to {MAX_DIMS})", dims.len()));
        }
        let elements = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let expected = elements
            .filter(|_| dims[0].is_multiple_of(ty.block_weights() as u64))
            .and_then(|e| ty.bytes_for(e));
        if expected != Some(data.len() as u64) {
            return bad(format!("{} bytes of data do not make {dims:?} of {ty}", data.len()));
        }
        self.tensors.push((name.to_string(), dims.to_vec(), ty, data));
        Ok(self)
    }

    fn alignment(&self) -> u64 {
        match self.metadata.iter().find(|(k, _)| k == "general.alignment") {
            Some((_, MetaValue::U32(a))) if a.is_power_of_two() => u64::from(*a),
            _ => DEFAULT_ALIGNMENT,
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let alignment = self.alignment();
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            write_string(&mut out, key);
            out.extend_from_slice(&value.type_id().to_le_bytes());
            write_value(&mut out, value);
        }
        let mut offset = 0u64;
        for (name, dims, ty, data) in &self.tensors {
            write_string(&mut out, name);
            out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&ty.id().to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offset = (offset + data.len() as u64).div_ceil(alignment) * alignment;
        }
        for (_, _, _, data) in &self.tensors {
            out.resize((out.len() as u64).div_ceil(alignment) as usize * alignment as usize, 0);
            out.extend_from_slice(data);
        }
        out
    }

    /// Writes the file to `path` (through a temporary file beside it, renamed into place, so a reader
    /// never sees half a file).
    ///
    /// # Errors
    /// [`FormatError::Io`] when it cannot be written.
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::write_atomically(path.as_ref(), &self.to_bytes())
    }
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn write_value(out: &mut Vec<u8>, value: &MetaValue) {
    match value {
        MetaValue::U8(v) => out.push(*v),
        MetaValue::I8(v) => out.push(*v as u8),
        MetaValue::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::Bool(v) => out.push(u8::from(*v)),
        MetaValue::String(s) => write_string(out, s),
        MetaValue::Array(items) => {
            // An empty array's element type is unobservable; u8 is what ggml writes for none.
            let element_type = items.first().map_or(0, MetaValue::type_id);
            out.extend_from_slice(&element_type.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                write_value(out, item);
            }
        }
        MetaValue::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        MetaValue::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
    }
}
