//! [`Tensor`]: a dtype of any width, a shape, and packed bytes that live on a runtime's device between
//! launches. Only [`Tensor::to_vec`] and [`Tensor::to_bytes`] copy anything back to the host.

use tilevm_runtime::DeviceBuffer;
use tilevm_vm::packing::{Packer, packed_len, read_bits};
use tilevm_vm::{DataType, Rounding};

use crate::element::Element;
use crate::{Error, Result, Runtime};

/// A tensor on one runtime's device. Cloning shares the device memory (a launch that writes one clone
/// writes them all), like an `Arc`.
///
/// ```
/// use tilevm_host::{Runtime, Tensor, DataType, Rounding};
/// let runtime = Runtime::cpu()?;
/// let x = Tensor::from_slice(&runtime, &[1.0f32, -2.0, 3.5], &[3])?;
/// assert_eq!(x.to_vec::<f32>()?, [1.0, -2.0, 3.5]);
/// // Narrower dtypes quantize on the way in and convert on the way out.
/// let w = Tensor::quantize(&runtime, &[0.4f32, 1.6, -7.0], &[3], "i4".parse()?, Rounding::NearestEven)?;
/// assert_eq!(w.to_vec::<i32>()?, [0, 2, -7]);
/// assert_eq!(w.to_bytes()?.len(), 2); // three 4-bit codes in two bytes
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Tensor {
    runtime: Runtime,
    dtype: DataType,
    shape: Vec<usize>,
    buffer: DeviceBuffer,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({} on {})", self.describe(), self.runtime.name())
    }
}

impl Tensor {
    /// A tensor of `T`'s dtype holding `data`, whose length must be the product of `shape`.
    ///
    /// # Errors
    /// [`Error::Tensor`] when the length does not match; [`Error::Runtime`] when the device cannot
    /// hold it.
    pub fn from_slice<T: Element>(runtime: &Runtime, data: &[T], shape: &[usize]) -> Result<Tensor> {
        check_length(T::DTYPE, shape, data.len())?;
        let buffer = runtime.device().upload(bytemuck::cast_slice(data))?;
        Ok(Tensor { runtime: runtime.clone(), dtype: T::DTYPE, shape: shape.to_vec(), buffer })
    }

    /// A tensor of `dtype` holding `data` converted with `rounding`: into float formats by the
    /// conversion every backend defines (`vm::dtype::cast`; stochastic rounding draws element `i`'s
    /// bits from its index), into integer dtypes from floats by rounding to an integer with
    /// `rounding` first and then saturating to the dtype's range (NaN becomes 0).
    ///
    /// # Errors
    /// As [`Tensor::from_slice`].
    pub fn quantize<T: Element>(
        runtime: &Runtime,
        data: &[T],
        shape: &[usize],
        dtype: DataType,
        rounding: Rounding,
    ) -> Result<Tensor> {
        let bytes = byte_len(dtype, shape)?;
        check_length(dtype, shape, data.len())?;
        if dtype == T::DTYPE {
            return Tensor::from_slice(runtime, data, shape);
        }
        let mut packed = Vec::new();
        packed
            .try_reserve_exact(bytes)
            .map_err(|_| Error::Tensor(format!("cannot allocate {bytes} bytes for a {dtype} tensor")))?;
        let mut packer = Packer::new(dtype.bits());
        for (index, value) in data.iter().enumerate() {
            let code = quantize_code(T::DTYPE, dtype, value.to_code(), rounding, index as u64);
            packer.push(code, |byte| packed.push(byte));
        }
        packer.finish(|byte| packed.push(byte));
        Tensor::from_packed(runtime, dtype, shape, &packed)
    }

    /// A tensor of `dtype` whose packed little-endian bit stream is `bytes` (element `i` in bits
    /// `[i * b, i * b + b)`), for weights that were quantized elsewhere.
    ///
    /// # Errors
    /// [`Error::Tensor`] when `bytes` is not exactly the packed size of `shape`.
    pub fn from_packed(runtime: &Runtime, dtype: DataType, shape: &[usize], bytes: &[u8]) -> Result<Tensor> {
        let expected = byte_len(dtype, shape)?;
        if bytes.len() != expected {
            return Err(Error::Tensor(format!(
                "a {} tensor packs into {expected} bytes, given {}",
                describe(dtype, shape),
                bytes.len()
            )));
        }
        let buffer = runtime.device().upload(bytes)?;
        Ok(Tensor { runtime: runtime.clone(), dtype, shape: shape.to_vec(), buffer })
    }

    /// A tensor of zero codes.
    ///
    /// # Errors
    /// [`Error::Tensor`] when the size overflows; [`Error::Runtime`] when the device cannot hold it.
    pub fn zeros(runtime: &Runtime, dtype: DataType, shape: &[usize]) -> Result<Tensor> {
        let bytes = byte_len(dtype, shape)?;
        let buffer = runtime.device().alloc_zeroed(bytes)?;
        Ok(Tensor { runtime: runtime.clone(), dtype, shape: shape.to_vec(), buffer })
    }

    /// The elements as `T`: the codes themselves when the dtype is `T`'s, otherwise each converted to
    /// `T` with round-to-nearest-even (a u4 tensor read as `f32` gives 0.0..=15.0).
    ///
    /// # Errors
    /// [`Error::Runtime`] when the device cannot read it back.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        let bytes = self.to_bytes()?;
        if self.dtype == T::DTYPE {
            return Ok(bytemuck::pod_collect_to_vec(&bytes));
        }
        let bits = self.dtype.bits();
        let count = self.len();
        let mut values = Vec::new();
        values
            .try_reserve_exact(count)
            .map_err(|_| Error::Tensor(format!("cannot allocate {count} elements on the host")))?;
        for index in 0..count {
            let code = read_bits(&bytes, index as u64 * u64::from(bits), bits);
            let converted =
                tilevm_vm::dtype::cast(self.dtype, T::DTYPE, code, Rounding::NearestEven, index as u64);
            values.push(T::from_code(converted));
        }
        Ok(values)
    }

    /// The packed bytes.
    ///
    /// # Errors
    /// [`Error::Runtime`] when the device cannot read it back.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(self.runtime.device().download(&self.buffer)?)
    }

    /// The dtype.
    pub fn dtype(&self) -> DataType {
        self.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The runtime whose device holds it.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// `f32[4096, 128]`.
    pub fn describe(&self) -> String {
        describe(self.dtype, &self.shape)
    }

    pub(crate) fn buffer(&self) -> &DeviceBuffer {
        &self.buffer
    }
}

/// One element of [`Tensor::quantize`].
fn quantize_code(from: DataType, to: DataType, code: u64, rounding: Rounding, index: u64) -> u64 {
    use tilevm_vm::dtype::{cast, stochastic_bits};
    if !(from.is_float() && matches!(to, DataType::Int(_))) {
        return cast(from, to, code, rounding, index);
    }
    // The IR's float-to-integer cast truncates, as C does; quantizing weights rounds as asked.
    let value =
        f64::from(f32::from_bits(cast(from, DataType::F32, code, Rounding::NearestEven, index) as u32));
    let rounded = match rounding {
        Rounding::NearestEven => value.round_ties_even(),
        Rounding::TowardZero => value.trunc(),
        Rounding::Stochastic { seed } => {
            let floor = value.floor();
            let threshold = f64::from(stochastic_bits(seed, index)) / 4_294_967_296.0;
            if value - floor > threshold { floor + 1.0 } else { floor }
        }
    };
    let DataType::Int(int) = to else { return 0 };
    let bits = u32::from(int.bits);
    let (min, max) = if int.signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    // `as` saturates, and NaN becomes 0.
    let clamped = (rounded as i128).clamp(min, max);
    (clamped as u64) & if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

/// `f32[4096, 128]`.
pub(crate) fn describe(dtype: DataType, shape: &[impl std::fmt::Display]) -> String {
    let extents: Vec<String> = shape.iter().map(ToString::to_string).collect();
    format!("{dtype}[{}]", extents.join(", "))
}

/// The packed size of a tensor in bytes.
fn byte_len(dtype: DataType, shape: &[usize]) -> Result<usize> {
    let overflow = || Error::Tensor(format!("a {} tensor does not fit in memory", describe(dtype, shape)));
    let count =
        shape.iter().try_fold(1usize, |count, &extent| count.checked_mul(extent)).ok_or_else(overflow)?;
    packed_len(dtype.bits(), count).ok_or_else(overflow)
}

fn check_length(dtype: DataType, shape: &[usize], given: usize) -> Result<()> {
    byte_len(dtype, shape)?;
    let expected: usize = shape.iter().product();
    if expected != given {
        return Err(Error::Tensor(format!(
            "a {} tensor has {expected} elements, given {given}",
            describe(dtype, shape)
        )));
    }
    Ok(())
}
