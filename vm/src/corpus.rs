//! A seeded generator of small, verified kernels with random arguments, for differential tests of every
//! backend against the reference interpreter.
//!
//! [`generate_corpus`] cycles through case templates; each draws its dtypes, layouts, shapes, grid and data
//! from a SplitMix64 stream seeded by `(seed, case index)`, so a seed always gives the same cases. Every
//! case is built with [`KernelBuilder`](crate::ir::KernelBuilder) and passes
//! [`verify_kernel`](crate::verify::verify_kernel); tiles hold at most 1024 elements and grids at most 8
//! blocks, so hundreds of cases run in seconds on the interpreter.
//!
//! What the corpus covers, across cases:
//! - dtypes: every integer width `u1..=u8`, `i2..=i8`, every minifloat (`f4e2m1fn`, `f6e2m3fn`,
//!   `f6e3m2fn`, `f8e3m4`, `f8e4m3`, `f8e4m3fn`, `f8e4m3fnuz`, `f8e4m3b11fnuz`, `f8e5m2`, `f8e5m2fnuz`,
//!   `f8e8m0fnu`), wider storage (`u16`, `i16`, `u24`), and the compute types `f16`, `bf16`, `f32`, `i32`,
//!   `u32`, including widths that straddle bytes and words (3, 5, 6, 7, 24);
//! - layouts: `local`, `spatial`, products such as `spatial(4, 8).local(1, 4)`, column-major primitives,
//!   replicated layouts, and 1, 32 and 64 threads per block (see `corpus/layouts.rs`);
//! - memory: ragged views (sizes not multiples of the tile), negative and out-of-range offsets (masked),
//!   buffers shorter than their view, grids of up to 8 blocks over one or two axes with
//!   `BlockIndex`-dependent offsets;
//! - instructions: load → cast → elementwise → cast → store chains with every rounding mode, `view`
//!   between widths (a `u8` tile viewed as `u4`, `u3`, `u1`, `f4e2m1fn`...), shared-memory round trips
//!   (`store_shared`, `sync`, `load_shared` with another layout; `copy_global_to_shared` with `copy_wait`),
//!   reductions of every kind, `dot` in integers and floats, `iota`, `where`, `broadcast`, `permute`,
//!   `slice`, integer and float elementwise operators (transcendentals with a tolerance), `for` loops,
//!   `while` loops with `break`, and `if`s on the block index;
//! - the GEMV-shaped dots `[M, K] · [K, 1]` the CPU backend fuses (`templates/gemv_dot.rs`): integer dots
//!   of u1..u7 codes with i8 activations, f32 dots of 1..8-bit codes, row counts that are not a multiple
//!   of four, and instructions in between that must keep part of the chain from fusing.
//!
//! Float inputs are free of NaN (and, for wide floats, of infinities) so that results do not depend on NaN
//! payloads; integer and minifloat inputs are otherwise uniformly random codes.

mod layouts;
mod templates;

pub use crate::compare::Tolerance;
use crate::compare::compare_buffers;
use crate::dtype::{DataType, FloatType, NanEncoding};
use crate::interp::KernelArg;
use crate::verify::VerifiedKernel;
pub(crate) use crate::verify::dtype_from_name as named;

/// One generated test: a verified kernel, its arguments, and which outputs to compare and how.
#[derive(Clone, Debug, PartialEq)]
pub struct CorpusCase {
    /// A unique name: the template's name and the case index.
    pub name: String,
    /// The kernel.
    pub kernel: VerifiedKernel,
    /// The arguments, in parameter order (buffers hold random bytes, outputs included).
    pub args: Vec<KernelArg>,
    /// Indices (into `args`) of the mutable buffers to compare after the run.
    pub outputs: Vec<usize>,
    /// How closely a backend must match the interpreter on `outputs`.
    pub tolerance: Tolerance,
}

impl CorpusCase {
    /// Checks a backend's bytes of output `index` (an index into `args`) against the interpreter's, within
    /// the case's tolerance. NaN matches NaN whatever its payload.
    ///
    /// # Errors
    /// A message naming the case, the output and the first element that differs.
    pub fn compare_output(&self, index: usize, actual: &[u8], expected: &[u8]) -> Result<(), String> {
        if actual == expected {
            return Ok(());
        }
        let first_byte = actual.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(0);
        let dtype = match self.kernel.params.get(index).map(|param| &param.kind) {
            Some(crate::ir::ParamKind::Global { dtype, .. }) => *dtype,
            _ => return Err(format!("{}: output {index} differs from byte {first_byte}", self.name)),
        };
        let comparison = compare_buffers(dtype, actual, expected, self.tolerance, 1);
        if let Some((actual_len, expected_len)) = comparison.length_differs {
            return Err(format!("{}: output {index} has {actual_len} bytes, not {expected_len}", self.name));
        }
        match comparison.first.first() {
            Some(mismatch) => Err(format!(
                "{}: output {index} element {}: {} vs {}",
                self.name,
                mismatch.element,
                dtype.to_f64(mismatch.actual),
                dtype.to_f64(mismatch.expected)
            )),
            None if comparison.is_match() => Ok(()),
            None => Err(format!("{}: output {index} differs from byte {first_byte}", self.name)),
        }
    }
}

/// Generates `count` cases, deterministically for `seed`, cycling through every template.
pub fn generate_corpus(seed: u64, count: usize) -> Vec<CorpusCase> {
    let mut cases = Vec::with_capacity(count);
    for index in 0..count {
        let (template_name, template) = templates::TEMPLATES[index % templates::TEMPLATES.len()];
        let mut rng = SplitMix64::new(seed ^ (index as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        let name = format!("{template_name}_{index}");
        // Templates only fail on a broken constant (a layout or dtype name); such a case is left out
        // rather than panicking, and the corpus tests catch it by counting cases.
        if let Some(case) = template(&mut rng, &name) {
            cases.push(case);
        }
    }
    cases
}

/// The SplitMix64 generator (Steele, Lea, Flood 2014): tiny, fast and good enough for test data.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose stream is fixed by `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound > 0`).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// A value in `low..=high`.
    pub(crate) fn range(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `numerator / denominator`.
    pub(crate) fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// A float in `[-magnitude, magnitude)`.
    pub(crate) fn float(&mut self, magnitude: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (unit * 2.0 - 1.0) * magnitude
    }
}

/// A random code of `dtype`: for `f16`, `bf16` and `f32` mostly small finite values, and one in sixteen a
/// special (a NaN with a random payload and sign, an infinity or a zero of either sign), so that every
/// backend's NaN results and signed zeros meet the interpreter's; NaN-free for other floats.
pub(crate) fn random_code(rng: &mut SplitMix64, dtype: DataType) -> u64 {
    let bits = dtype.bits();
    let mask = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
    if let DataType::Float(float) = dtype
        && [DataType::F32, DataType::F16, DataType::BF16].contains(&dtype)
        && rng.chance(1, 16)
    {
        let sign = (rng.next_u64() & 1) << (bits - 1);
        let exponent = ((1u64 << float.exponent_bits) - 1) << float.mantissa_bits;
        let payload = (rng.next_u64() & ((1u64 << float.mantissa_bits) - 1)).max(1);
        return sign | rng.pick(&[exponent | payload, exponent, 0]);
    }
    match dtype {
        DataType::Float(_) if dtype == DataType::F32 => u64::from(rng.float(8.0).to_bits()),
        DataType::Float(_) if dtype == DataType::F16 => {
            u64::from(half::f16::from_f32(rng.float(8.0)).to_bits())
        }
        DataType::Float(_) if dtype == DataType::BF16 => {
            u64::from(half::bf16::from_f32(rng.float(8.0)).to_bits())
        }
        DataType::Float(float) => loop {
            let code = rng.next_u64() & mask;
            if !is_nan_code(float, code) {
                return code;
            }
        },
        DataType::Bool | DataType::Int(_) => rng.next_u64() & mask,
    }
}

fn is_nan_code(float: FloatType, code: u64) -> bool {
    let mantissa_mask = (1u64 << float.mantissa_bits) - 1;
    let exponent = (code >> float.mantissa_bits) & ((1u64 << float.exponent_bits) - 1);
    let all_ones_exponent = exponent == (1u64 << float.exponent_bits) - 1;
    let magnitude_bits = u32::from(float.exponent_bits) + u32::from(float.mantissa_bits);
    match float.nan {
        NanEncoding::Ieee => all_ones_exponent && code & mantissa_mask != 0,
        NanEncoding::Fn => all_ones_exponent && code & mantissa_mask == mantissa_mask,
        NanEncoding::Fnuz => float.signed && code == 1u64 << magnitude_bits,
        NanEncoding::None => false,
    }
}

/// A little-endian packed bit stream of `count` random codes of `dtype`, `bytes` long.
pub(crate) fn random_buffer(rng: &mut SplitMix64, dtype: DataType, count: usize, bytes: usize) -> Vec<u8> {
    let bits = dtype.bits() as usize;
    let mut buffer = vec![0u8; bytes];
    for element in 0..count {
        let code = random_code(rng, dtype);
        for bit in 0..bits {
            let position = element * bits + bit;
            if position / 8 < bytes && (code >> bit) & 1 == 1 {
                buffer[position / 8] |= 1 << (position % 8);
            }
        }
    }
    // Bits past the last whole element are random too: no backend may read or change them.
    let used_bits = count * bits;
    for position in used_bits..bytes * 8 {
        if rng.chance(1, 2) {
            buffer[position / 8] |= 1 << (position % 8);
        }
    }
    buffer
}

#[cfg(test)]
mod tests;
