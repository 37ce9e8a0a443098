//! Reading a GGUF file: [`GgufFile::open`] maps it and parses header, metadata and tensor infos, checking
//! each count, length, type and offset against the bytes present before using it; the tensors' data is
//! then read in place from the mapping.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use super::value::MetaValue;
use super::{DEFAULT_ALIGNMENT, MAGIC, MAX_DIMS};
use crate::error::{FormatError, Result};
use crate::ggml::GgmlType;

/// Arrays nest at most this deep (a file claiming more is corrupt, not a reason to recurse without end).
const MAX_ARRAY_DEPTH: u32 = 8;

/// The bytes of a file: mapped, or owned (bytes handed in).
enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Owned(bytes) => bytes,
        }
    }
}

/// One tensor's info: its name, ggml dimensions (innermost first), type and where its data is.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufTensor {
    /// The tensor's name.
    pub name: String,
    /// Dimensions as ggml orders them: `dims[0]` is the row length.
    pub dims: Vec<u64>,
    /// The `ggml_type` id.
    pub type_id: u32,
    /// The data's offset from the start of the file.
    pub file_offset: u64,
    /// The data's length in bytes, when tilevm knows the type.
    pub bytes: Option<u64>,
}

impl GgufTensor {
    /// The type, when tilevm reads it.
    pub fn ggml_type(&self) -> Option<GgmlType> {
        GgmlType::from_id(self.type_id)
    }

    /// The number of weights.
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// The tensor as a matrix `[n, k]`: `k` the row length, `n` every other dimension.
    pub fn matrix_shape(&self) -> (u64, u64) {
        let k = self.dims.first().copied().unwrap_or(1);
        (self.dims.iter().skip(1).product(), k)
    }
}

/// A parsed GGUF file.
pub struct GgufFile {
    name: String,
    bytes: Bytes,
    version: u32,
    alignment: u64,
    metadata: Vec<(String, MetaValue)>,
    tensors: Vec<GgufTensor>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("tensors", &self.tensors.len())
            .finish_non_exhaustive()
    }
}

impl GgufFile {
    /// Maps and parses the file at `path`.
    ///
    /// # Errors
    /// [`FormatError::Io`] when it cannot be opened or mapped; [`FormatError::Corrupt`] with the byte
    /// offset and the key or tensor being read when it is not a valid GGUF v2/v3 file.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile> {
        let path = path.as_ref();
        let io = |source| FormatError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the mapping is read-only and the file is not written through this process; as with every
        // memory-mapped reader, another process truncating the file while it is mapped is outside what
        // this type can guard against.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        GgufFile::parse(path.display().to_string(), Bytes::Mapped(map))
    }

    /// Parses GGUF bytes held in memory; `name` names them in errors.
    ///
    /// # Errors
    /// As [`GgufFile::open`].
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<GgufFile> {
        GgufFile::parse(name.to_string(), Bytes::Owned(bytes))
    }

    fn parse(name: String, bytes: Bytes) -> Result<GgufFile> {
        let mut r = Reader { file: &name, bytes: &bytes, at: 0, context: None };
        let magic = r.u32("the magic number")?;
        if magic != MAGIC {
            return Err(r.error_at(0, format!("not a GGUF file (magic {:02x?})", magic.to_le_bytes())));
        }
        let version = r.u32("the version")?;
        if !(2..=3).contains(&version) {
            return Err(r.error_at(4, format!("GGUF version {version} is not supported (2 and 3 are)")));
        }
        let tensor_count = r.u64("the tensor count")?;
        let kv_count = r.u64("the metadata count")?;
        let mut metadata = Vec::new();
        let mut keys = HashSet::new();
        for _ in 0..r.bounded_count(kv_count, 12, "metadata entries")? {
            let key = r.string("a metadata key")?;
            r.context = Some(format!("metadata `{key}`"));
            let type_id = r.u32("the value type")?;
            let value = r.value(type_id, 0)?;
            if !keys.insert(key.clone()) {
                return Err(r.error(format!("metadata key `{key}` appears twice")));
            }
            metadata.push((key, value));
            r.context = None;
        }
        let alignment = match metadata.iter().find(|(key, _)| key == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, MetaValue::U32(a))) if a.is_power_of_two() => u64::from(*a),
            Some((_, value)) => {
                return Err(r.error(format!("general.alignment is {value}, not a power of two as a u32")));
            }
        };
        let mut tensors = Vec::new();
        let mut names = HashSet::new();
        for _ in 0..r.bounded_count(tensor_count, 24, "tensor infos")? {
            tensors.push(r.tensor_info(alignment, &mut names)?);
        }
        let data_start =
            r.at.div_ceil(alignment)
                .checked_mul(alignment)
                .ok_or_else(|| r.error("data offset overflows"))?;
        let len = bytes.len() as u64;
        for tensor in &mut tensors {
            let relative = tensor.file_offset;
            tensor.file_offset = data_start.checked_add(relative).ok_or_else(|| {
                r.error_at(data_start, format!("tensor `{}`: offset overflows", tensor.name))
            })?;
            if let Some(size) = tensor.bytes {
                let end = tensor.file_offset.checked_add(size);
                if end.is_none_or(|end| end > len) {
                    return Err(FormatError::corrupt(
                        &name,
                        tensor.file_offset,
                        Some(&format!("tensor `{}`", tensor.name)),
                        format!("its {size} bytes of data run past the end of the file ({len} bytes)"),
                    ));
                }
            }
        }
        Ok(GgufFile { name, bytes, version, alignment, metadata, tensors })
    }

    /// The file's path or name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The data alignment.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// The metadata, in file order.
    pub fn metadata(&self) -> &[(String, MetaValue)] {
        &self.metadata
    }

    /// The metadata value of `key`.
    pub fn meta(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The tensor infos, in file order.
    pub fn tensors(&self) -> &[GgufTensor] {
        &self.tensors
    }

    /// The tensor called `name`.
    ///
    /// # Errors
    /// [`FormatError::NoSuchTensor`], listing the first names present.
    pub fn tensor(&self, name: &str) -> Result<&GgufTensor> {
        self.tensors.iter().find(|t| t.name == name).ok_or_else(|| FormatError::NoSuchTensor {
            name: name.to_string(),
            available: crate::names_list(self.tensors.iter().map(|t| t.name.as_str())),
        })
    }

    /// The data of `tensor` (one of this file's).
    ///
    /// # Errors
    /// [`FormatError::Unsupported`] when tilevm does not know the tensor's type (so not its size).
    pub fn data(&self, tensor: &GgufTensor) -> Result<&[u8]> {
        let Some(size) = tensor.bytes else {
            return Err(FormatError::Unsupported(format!(
                "tensor `{}` has ggml type {}, which tilevm does not read",
                tensor.name, tensor.type_id
            )));
        };
        // In range: `parse` checked every known tensor's extent against the file's length.
        let start = tensor.file_offset as usize;
        Ok(&self.bytes[start..start + size as usize])
    }
}

/// A position in the bytes being parsed, with what is being read for errors.
struct Reader<'a> {
    file: &'a str,
    bytes: &'a [u8],
    at: u64,
    context: Option<String>,
}

impl Reader<'_> {
    fn error_at(&self, offset: u64, message: impl Into<String>) -> FormatError {
        FormatError::corrupt(self.file, offset, self.context.as_deref(), message)
    }

    fn error(&self, message: impl Into<String>) -> FormatError {
        self.error_at(self.at, message)
    }

    fn take(&mut self, len: u64, what: &str) -> Result<&[u8]> {
        let available = (self.bytes.len() as u64).saturating_sub(self.at);
        if len > available {
            return Err(self.error(format!("the file ends {available} bytes into {what} of {len} bytes")));
        }
        let start = self.at as usize;
        self.at += len;
        Ok(&self.bytes[start..start + len as usize])
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        Ok(self.take(N as u64, what)?.try_into().expect("take returns N bytes"))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// `count` items of at least `min_bytes` each must fit in what is left, or the count is corrupt.
    fn bounded_count(&self, count: u64, min_bytes: u64, what: &str) -> Result<u64> {
        let left = (self.bytes.len() as u64).saturating_sub(self.at);
        if count.checked_mul(min_bytes).is_none_or(|need| need > left) {
            return Err(self.error(format!("{count} {what} cannot fit in the {left} bytes left")));
        }
        Ok(count)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let start = self.at;
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.error_at(start, format!("{what} is not UTF-8")))
    }

    fn value(&mut self, type_id: u32, depth: u32) -> Result<MetaValue> {
        Ok(match type_id {
            0 => MetaValue::U8(self.array::<1>("a u8")?[0]),
            1 => MetaValue::I8(self.array::<1>("an i8")?[0] as i8),
            2 => MetaValue::U16(u16::from_le_bytes(self.array("a u16")?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.array("an i16")?)),
            4 => MetaValue::U32(self.u32("a u32")?),
            5 => MetaValue::I32(i32::from_le_bytes(self.array("an i32")?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.array("an f32")?)),
            7 => match self.array::<1>("a bool")?[0] {
                0 => MetaValue::Bool(false),
                1 => MetaValue::Bool(true),
                other => {
                    return Err(self.error_at(self.at - 1, format!("bool byte {other} is neither 0 nor 1")));
                }
            },
            8 => MetaValue::String(self.string("a string")?),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(self.error(format!("arrays nested deeper than {MAX_ARRAY_DEPTH}")));
                }
                let element_type = self.u32("an array's element type")?;
                let count = self.u64("an array's length")?;
                let min_bytes = match element_type {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    other => return Err(self.error(format!("unknown array element type {other}"))),
                };
                let count = self.bounded_count(count, min_bytes, "array elements")?;
                let mut items = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    items.push(self.value(element_type, depth + 1)?);
                }
                MetaValue::Array(items)
            }
            10 => MetaValue::U64(self.u64("a u64")?),
            11 => MetaValue::I64(i64::from_le_bytes(self.array("an i64")?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.array("an f64")?)),
            other => return Err(self.error_at(self.at - 4, format!("unknown value type {other}"))),
        })
    }

    fn tensor_info(&mut self, alignment: u64, names: &mut HashSet<String>) -> Result<GgufTensor> {
        let start = self.at;
        let name = self.string("a tensor name")?;
        self.context = Some(format!("tensor `{name}`"));
        if !names.insert(name.clone()) {
            return Err(self.error_at(start, "a second tensor of this name"));
        }
        let n_dims = self.u32("the dimension count")?;
        if !(1..=MAX_DIMS).contains(&n_dims) {
            return Err(self.error_at(self.at - 4, format!("{n_dims} dimensions (ggml has 1 to {MAX_DIMS})")));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(self.u64("a dimension")?);
        }
        let elements = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let Some(elements) = elements.filter(|&e| e < 1 << 62) else {
            return Err(self.error(format!("dimensions {dims:?} have more elements than a file can hold")));
        };
        let type_id = self.u32("the tensor type")?;
        let offset_at = self.at;
        let offset = self.u64("the data offset")?;
        if !offset.is_multiple_of(alignment) {
            return Err(
                self.error_at(offset_at, format!("data offset {offset} is not a multiple of {alignment}"))
            );
        }
        let bytes = match GgmlType::from_id(type_id) {
            Some(ty) => Some(
                ty.bytes_for(elements)
                    .filter(|_| dims[0].is_multiple_of(ty.block_weights() as u64))
                    .ok_or_else(|| {
                        self.error(format!(
                            "rows of {} weights are not whole {ty} blocks of {}",
                            dims[0],
                            ty.block_weights()
                        ))
                    })?,
            ),
            None => None,
        };
        self.context = None;
        Ok(GgufTensor { name, dims, type_id, file_offset: offset, bytes })
    }
}
