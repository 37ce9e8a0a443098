//! A safetensors file's tensors, memory-mapped, with the typed reads the checkpoint formats need: each
//! read checks the tensor's dtype and rank and names the tensor when they do not fit.

use std::fs::File;
use std::path::Path;

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

use crate::error::{FormatError, Result};

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

/// A parsed safetensors file.
pub(crate) struct TensorSet {
    name: String,
    bytes: Bytes,
}

impl std::fmt::Debug for TensorSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TensorSet").field("name", &self.name).finish_non_exhaustive()
    }
}

/// One tensor's dtype, shape and bytes.
pub(crate) struct RawTensor<'a> {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: &'a [u8],
}

impl TensorSet {
    pub fn open(path: &Path) -> Result<TensorSet> {
        let io = |source| FormatError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io)?;
        // SAFETY: a read-only mapping of a file this process does not write (see `GgufFile::open`).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        TensorSet::checked(path.display().to_string(), Bytes::Mapped(map))
    }

    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<TensorSet> {
        TensorSet::checked(name.to_string(), Bytes::Owned(bytes))
    }

    fn checked(name: String, bytes: Bytes) -> Result<TensorSet> {
        // The safetensors crate checks the header's length, JSON, offsets and that the data section is
        // exactly the tensors' bytes.
        if let Err(error) = SafeTensors::deserialize(&bytes) {
            return Err(FormatError::corrupt(
                &name,
                0,
                None,
                format!("not a valid safetensors file: {error}"),
            ));
        }
        Ok(TensorSet { name, bytes })
    }

    fn parsed(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("checked when the set was made")
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn contains(&self, tensor: &str) -> bool {
        self.parsed().tensor(tensor).is_ok()
    }

    pub fn infos(&self) -> Vec<(String, Dtype, Vec<usize>)> {
        let mut infos: Vec<_> = self
            .parsed()
            .iter()
            .map(|(name, view)| (name.to_string(), view.dtype(), view.shape().to_vec()))
            .collect();
        infos.sort_by(|a, b| a.0.cmp(&b.0));
        infos
    }

    /// The tensor `name`.
    pub fn get(&self, name: &str) -> Result<RawTensor<'_>> {
        let parsed = self.parsed();
        let view = parsed.tensor(name).map_err(|_| FormatError::NoSuchTensor {
            name: name.to_string(),
            available: crate::names_list(self.infos().iter().map(|(n, ..)| n.as_str())),
        })?;
        Ok(RawTensor {
            name: name.to_string(),
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            data: view.data(),
        })
    }

    /// The tensor `name` if present.
    pub fn optional(&self, name: &str) -> Option<RawTensor<'_>> {
        self.get(name).ok()
    }
}

impl RawTensor<'_> {
    pub fn error(&self, message: impl Into<String>) -> FormatError {
        FormatError::Shape { tensor: self.name.clone(), message: message.into() }
    }

    /// Checks the dtype is one of `dtypes` and the rank is `rank`.
    pub fn expect(&self, dtypes: &[Dtype], rank: usize) -> Result<()> {
        if !dtypes.contains(&self.dtype) {
            return Err(self.error(format!("dtype {:?}, expected {}", self.dtype, names(dtypes))));
        }
        if self.shape.len() != rank {
            return Err(self.error(format!("shape {:?}, expected {rank} dimensions", self.shape)));
        }
        Ok(())
    }

    /// Checks the shape is `shape`.
    pub fn expect_shape(&self, shape: &[usize]) -> Result<()> {
        if self.shape != shape {
            return Err(self.error(format!("shape {:?}, expected {shape:?}", self.shape)));
        }
        Ok(())
    }

    /// The i32 (or u32) element `i`, as its 32 bits.
    pub fn word(&self, i: usize) -> u32 {
        u32::from_le_bytes(self.data[4 * i..4 * i + 4].try_into().expect("four bytes"))
    }

    /// The elements as f32 values (f16, bf16, f32 and f8e4m3fn tensors).
    pub fn floats(&self) -> Result<Vec<f32>> {
        Ok(match self.dtype {
            Dtype::F32 => {
                self.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
            }
            Dtype::F16 => {
                self.data.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
            }
            Dtype::BF16 => {
                self.data.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
            }
            Dtype::F8_E4M3 => {
                let e4m3: tilevm_vm::DataType = "f8e4m3fn".parse().expect("a dtype");
                self.data.iter().map(|&b| e4m3.to_f64(u64::from(b)) as f32).collect()
            }
            other => return Err(self.error(format!("dtype {other:?} is not a float dtype tilevm reads"))),
        })
    }

    /// The elements as integers (8-, 16-, 32- and 64-bit tensors).
    pub fn ints(&self) -> Result<Vec<i64>> {
        let chunks = |n: usize| self.data.chunks_exact(n);
        Ok(match self.dtype {
            Dtype::I8 => self.data.iter().map(|&b| i64::from(b as i8)).collect(),
            Dtype::U8 => self.data.iter().map(|&b| i64::from(b)).collect(),
            Dtype::I16 => chunks(2).map(|b| i64::from(i16::from_le_bytes([b[0], b[1]]))).collect(),
            Dtype::I32 => chunks(4).map(|b| i64::from(i32::from_le_bytes(b.try_into().unwrap()))).collect(),
            Dtype::I64 => chunks(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect(),
            other => return Err(self.error(format!("dtype {other:?} is not an integer dtype tilevm reads"))),
        })
    }
}

fn names(dtypes: &[Dtype]) -> String {
    dtypes.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>().join(" or ")
}

/// f16, bf16 or f32: the dtypes scales come in.
pub(crate) const SCALE_DTYPES: [Dtype; 3] = [Dtype::F16, Dtype::BF16, Dtype::F32];
