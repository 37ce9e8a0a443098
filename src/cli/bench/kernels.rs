//! The `kernels` suite: the memory-bound kernels of `examples/`, compiled from their sources, over
//! `n x k` elements (16M by default, far beyond any cache).

use tilevm_runtime::{Device, KernelArg};
use tilevm_vm::verify::VerifiedKernel;

use super::{Bench, BuildError, Case, CliError, Launches, compile, compile_tile, f16_buffer, pattern_bytes};

/// One kernel of the suite.
#[derive(Clone, Copy, Debug)]
enum Kernel {
    /// `examples/vector_add_f16.tile` with f32 elements.
    VectorAddF32,
    /// `examples/vector_add_f16.tile`.
    VectorAddF16,
    /// `examples/dequant_u4.tile`: u4 codes times f16 group scales to f16.
    DequantU4,
    /// `examples/relu_rows.tile`: ReLU, then each row divided by its maximum (a row reduction).
    ReluRows,
    /// `examples/shared_stage.tile`: a copy staged through shared memory.
    SharedStage,
    /// `examples/unpack_view.tile`: bytes viewed as u4 codes, converted to f16.
    UnpackView,
}

impl Kernel {
    fn name(self) -> &'static str {
        match self {
            Kernel::VectorAddF32 | Kernel::VectorAddF16 => "vector_add",
            Kernel::DequantU4 => "dequant",
            Kernel::ReluRows => "relu_rows",
            Kernel::SharedStage => "shared_stage",
            Kernel::UnpackView => "unpack_view",
        }
    }

    fn dtype(self) -> &'static str {
        match self {
            Kernel::VectorAddF32 | Kernel::ReluRows => "f32",
            Kernel::VectorAddF16 | Kernel::SharedStage => "f16",
            Kernel::DequantU4 | Kernel::UnpackView => "u4",
        }
    }

    /// The example's path and text.
    fn source(self) -> (&'static str, &'static str) {
        match self {
            Kernel::VectorAddF32 | Kernel::VectorAddF16 => {
                ("examples/vector_add_f16.tile", include_str!("../../../examples/vector_add_f16.tile"))
            }
            Kernel::DequantU4 => {
                ("examples/dequant_u4.tile", include_str!("../../../examples/dequant_u4.tile"))
            }
            Kernel::ReluRows => ("examples/relu_rows.tile", include_str!("../../../examples/relu_rows.tile")),
            Kernel::SharedStage => {
                ("examples/shared_stage.tile", include_str!("../../../examples/shared_stage.tile"))
            }
            Kernel::UnpackView => {
                ("examples/unpack_view.tile", include_str!("../../../examples/unpack_view.tile"))
            }
        }
    }

    /// The compile-time parameters the example is instantiated with.
    fn sets(self) -> Vec<(String, String)> {
        match self {
            Kernel::VectorAddF32 => vec![("T".to_string(), "f32".to_string())],
            _ => Vec::new(),
        }
    }
}

/// One kernel at one size.
struct KernelCase {
    kernel: Kernel,
    n: u32,
    k: u32,
}

/// The suite over `n x k` elements.
pub(super) fn cases(n: u32, k: u32) -> Vec<Box<dyn Case>> {
    [
        Kernel::VectorAddF32,
        Kernel::VectorAddF16,
        Kernel::DequantU4,
        Kernel::ReluRows,
        Kernel::SharedStage,
        Kernel::UnpackView,
    ]
    .into_iter()
    .map(|kernel| Box::new(KernelCase { kernel, n, k }) as Box<dyn Case>)
    .collect()
}

fn example_kernel(kernel: Kernel) -> Result<VerifiedKernel, CliError> {
    let (path, text) = kernel.source();
    compile_tile(path, text, kernel.sets())
}

fn scalar(value: usize) -> Result<KernelArg, BuildError> {
    let value = u32::try_from(value)
        .map_err(|_| CliError::Input(format!("{value} elements do not fit a u32 size parameter")))?;
    Ok(KernelArg::Scalar(u64::from(value)))
}

impl Case for KernelCase {
    fn kernel(&self) -> &'static str {
        self.kernel.name()
    }

    fn label(&self) -> String {
        format!("{} {}", self.kernel.name(), self.kernel.dtype())
    }

    fn build(&self, device: &dyn Device) -> Result<Bench, BuildError> {
        let (n, k) = (self.n as usize, self.k as usize);
        let elements = n * k;
        // Arguments, the bytes moved, and the bytes of the packed (or only) input.
        let (args, total_bytes, input_bytes) = match self.kernel {
            Kernel::VectorAddF32 => {
                let bytes = elements * 4;
                let args = vec![
                    KernelArg::Buffer(pattern_bytes(bytes)),
                    KernelArg::Buffer(pattern_bytes(bytes)),
                    KernelArg::Buffer(vec![0; bytes]),
                    scalar(elements)?,
                ];
                (args, 3 * bytes, 2 * bytes)
            }
            Kernel::VectorAddF16 => {
                let bytes = elements * 2;
                let args = vec![
                    KernelArg::Buffer(f16_buffer(elements, 0x3c00)),
                    KernelArg::Buffer(f16_buffer(elements, 0x4000)),
                    KernelArg::Buffer(vec![0; bytes]),
                    scalar(elements)?,
                ];
                (args, 3 * bytes, 2 * bytes)
            }
            Kernel::DequantU4 => {
                // The example's group is 64 columns.
                let (codes, scales) = (elements / 2, n * k.div_ceil(64) * 2);
                let args = vec![
                    KernelArg::Buffer(pattern_bytes(codes)),
                    KernelArg::Buffer(f16_buffer(n * k.div_ceil(64), 0x2c00)),
                    KernelArg::Buffer(vec![0; elements * 2]),
                    scalar(n)?,
                    scalar(k)?,
                ];
                (args, codes + scales + elements * 2, codes)
            }
            Kernel::ReluRows => {
                // The example's rows are 64 columns.
                let bytes = elements * 4;
                let args = vec![
                    KernelArg::Buffer(pattern_bytes(bytes)),
                    KernelArg::Buffer(vec![0; bytes]),
                    scalar(elements / 64)?,
                ];
                (args, 2 * bytes, bytes)
            }
            Kernel::SharedStage => {
                let bytes = elements * 2;
                let args = vec![
                    KernelArg::Buffer(f16_buffer(elements, 0x3c00)),
                    KernelArg::Buffer(vec![0; bytes]),
                    scalar(elements)?,
                ];
                (args, 2 * bytes, bytes)
            }
            Kernel::UnpackView => {
                // `elements` u4 codes in `elements / 2` bytes, to as many f16 values.
                let bytes = elements / 2;
                let args = vec![
                    KernelArg::Buffer(pattern_bytes(bytes)),
                    KernelArg::Buffer(vec![0; elements * 2]),
                    scalar(bytes)?,
                ];
                (args, bytes + elements * 2, bytes)
            }
        };
        let (compiled, compile_s) = compile(device, &example_kernel(self.kernel)?)?;
        Ok(Bench {
            kernel: self.kernel.name().to_string(),
            dtype: self.kernel.dtype().to_string(),
            m: 1,
            n: self.n,
            k: self.k,
            total_bytes: total_bytes as f64,
            weight_bytes: input_bytes as f64,
            launches: Launches { kernels: vec![(compiled, args)] },
            compile_s,
        })
    }
}
