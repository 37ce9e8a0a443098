//! The `gemv` suite: `y[n] = W[n, k] · x[k]` with low-bit weights and f16 group scales, m = 1, in three
//! variants — the stdlib's `a16` (f16 activations, f32 dot: `stdlib::gemv`) and `q8` (activations
//! quantized per group to i8 by a first kernel, then an integer dot: `stdlib::gemv_q8`; its time is both
//! kernels'), and `example` (`examples/gemv_a16w4.tile` as a user writes it, a scale per weight).

use tilevm_runtime::{Device, KernelArg};
use tilevm_stdlib::StdlibError;
use tilevm_stdlib::gemv::gemv_a16wx_kernel;
use tilevm_stdlib::gemv_q8::{Q8_ROWS, gemv_q8_wx_kernel, quantize_q8_kernel};
use tilevm_vm::DataType;
use tilevm_vm::dtype::IntType;
use tilevm_vm::verify::VerifiedKernel;

use super::{
    Bench, BuildError, Case, CliError, K_GRANULE, Launches, compile, compile_tile, f16_buffer, pattern_bytes,
};

/// The quantization group along k (one f16 scale per group of a row).
const GROUP: u32 = K_GRANULE;

/// The example GEMV, compiled from its source.
const EXAMPLE: &str = include_str!("../../../examples/gemv_a16w4.tile");

/// The GEMV variants the suite measures.
#[derive(Clone, Copy, Debug)]
enum GemvVariant {
    /// f16 activations, f32 dot (`stdlib::gemv`): one kernel.
    A16,
    /// Activations quantized per group to i8, integer dot (`stdlib::gemv_q8`): quantization, then the GEMV.
    Q8,
    /// `examples/gemv_a16w4.tile`.
    Example,
}

impl GemvVariant {
    /// The name in the records and the output.
    fn name(self) -> &'static str {
        match self {
            GemvVariant::A16 => "a16",
            GemvVariant::Q8 => "q8",
            GemvVariant::Example => "example",
        }
    }
}

/// One GEMV of the suite.
struct GemvCase {
    variant: GemvVariant,
    bits: u8,
    n: u32,
    k: u32,
}

/// The suite for `n` outputs and `k` inputs: every variant at u4, u3, u5 and u6.
pub(super) fn cases(n: u32, k: u32) -> Vec<Box<dyn Case>> {
    let mut cases: Vec<Box<dyn Case>> = Vec::new();
    for variant in [GemvVariant::A16, GemvVariant::Q8, GemvVariant::Example] {
        for bits in [4u8, 3, 5, 6] {
            cases.push(Box::new(GemvCase { variant, bits, n, k }));
        }
    }
    cases
}

/// The bytes of `rows` rows of `k` packed `bits`-bit weights.
fn weight_bytes(rows: usize, k: u32, bits: u32) -> usize {
    (rows * k as usize * bits as usize).div_ceil(8)
}

fn stdlib_kernel(built: Result<VerifiedKernel, StdlibError>) -> Result<VerifiedKernel, CliError> {
    built.map_err(|error| CliError::Input(error.to_string()))
}

fn example_kernel(dtype: DataType) -> Result<VerifiedKernel, CliError> {
    compile_tile("examples/gemv_a16w4.tile", EXAMPLE, vec![("W".to_string(), dtype.to_string())])
}

impl Case for GemvCase {
    fn kernel(&self) -> &'static str {
        self.variant.name()
    }

    fn label(&self) -> String {
        format!("gemv {} u{}", self.variant.name(), self.bits)
    }

    fn build(&self, device: &dyn Device) -> Result<Bench, BuildError> {
        let GemvCase { variant, bits, n, k } = *self;
        let dtype = DataType::Int(IntType { signed: false, bits });
        let groups = (k / GROUP) as usize;
        // The q8 layout pads the rows to whole blocks (`stdlib::weight_layout`).
        let stored_rows = match variant {
            GemvVariant::A16 | GemvVariant::Example => n as usize,
            GemvVariant::Q8 => (n as usize).div_ceil(Q8_ROWS) * Q8_ROWS,
        };
        let x = KernelArg::Buffer(f16_buffer(k as usize, 0x3c00));
        let w = KernelArg::Buffer(pattern_bytes(weight_bytes(stored_rows, k, u32::from(bits))));
        let scale = KernelArg::Buffer(f16_buffer(stored_rows * groups, 0x2c00));
        let y = KernelArg::Buffer(vec![0; n as usize * 2]);
        let mut compile_s = 0.0;
        let mut compiled = |kernel: VerifiedKernel| -> Result<_, BuildError> {
            let (kernel, seconds) = compile(device, &kernel)?;
            compile_s += seconds;
            Ok(kernel)
        };
        let kernels = match variant {
            GemvVariant::A16 => {
                vec![(compiled(stdlib_kernel(gemv_a16wx_kernel(dtype, n, k, GROUP))?)?, vec![x, w, scale, y])]
            }
            GemvVariant::Example => {
                let scalars = vec![KernelArg::Scalar(u64::from(n)), KernelArg::Scalar(u64::from(k))];
                let args = [vec![x, w, scale, y], scalars].concat();
                vec![(compiled(example_kernel(dtype)?)?, args)]
            }
            GemvVariant::Q8 => {
                let mut quantize_args =
                    vec![x, KernelArg::Buffer(vec![0; k as usize]), KernelArg::Buffer(vec![0; 4 * groups])];
                let quantize = compiled(stdlib_kernel(quantize_q8_kernel(k, GROUP))?)?;
                quantize.run(&mut quantize_args)?;
                let gemv_args = vec![quantize_args[1].clone(), quantize_args[2].clone(), w, scale, y];
                let gemv = compiled(stdlib_kernel(gemv_q8_wx_kernel(dtype, n, k, GROUP, Q8_ROWS))?)?;
                vec![(quantize, quantize_args), (gemv, gemv_args)]
            }
        };
        let weights = weight_bytes(n as usize, k, u32::from(bits));
        let scale_bytes = n as usize * groups * 2;
        // What the kernels must read and write: weights, scales, activations (f16) and outputs (f16).
        let total_bytes = (weights + scale_bytes + k as usize * 2 + n as usize * 2) as f64;
        Ok(Bench {
            kernel: variant.name().to_string(),
            dtype: format!("u{bits}"),
            m: 1,
            n,
            k,
            total_bytes,
            weight_bytes: weights as f64,
            launches: Launches { kernels },
            compile_s,
        })
    }
}
