//! The WGSL backend: VM IR → WGSL text, validated by naga before anything reaches a GPU.
//!
//! The generated module follows one fixed interface (see [`KernelInterface`]): a uniform block of
//! launch metadata at binding 0, a status word for failed assertions at binding 1, and one storage
//! buffer of `u32` words per global parameter at binding `2 + parameter index`.
//! How IR concepts map to WGSL:
//! - a block is a workgroup of `num_threads` invocations, the block index is `workgroup_id` plus a
//!   block offset from the metadata (so that the runtime can split large grids into several dispatches);
//! - every tile element is carried as its *code* in a `u32` (any width 1..=32), so loads, stores,
//!   views and shared memory move codes, and arithmetic decodes to a WGSL value type first;
//! - a register tile is a per-invocation `array<u32, L>` indexed by local slot, with the logical
//!   index of each slot computed from the layout (see `layout_index`);
//! - shared tiles are packed bit streams in one `var<workgroup>` array of atomic words;
//! - instructions that need elements other invocations hold stage their sources through a
//!   workgroup scratch array in logical row-major order.

mod addressing;
mod codec;
mod exprs;
mod fma;
mod layout_index;
mod loops;
mod memory;
mod namer;
mod prints;
mod select;
mod tiles;
mod vector_memory;
mod writer;

use std::fmt;

use tilevm_vm::verify::VerifiedKernel;

pub use prints::{PRINT_CAPACITY_WORDS, PRINT_FIRST_WORD, PRINT_HEADER_WORDS, PRINT_USED_WORD};
pub use select::{GlobalAccess, GpuFeature, GpuOp, GpuSelection, Source, select, selection_text};
pub use writer::WgslWriter;

/// The name of the compute entry point of every generated module.
pub const ENTRY_POINT: &str = "main";
/// Binding (group 0) of the uniform launch metadata, an `array<vec4<u32>, N>`.
pub const META_BINDING: u32 = 0;
/// Binding (group 0) of the status buffer: one atomic word, 0 when the launch ran to its end, else
/// the 1-based index into [`KernelInterface::failures`] of a run-time failure (an assertion, a `for`
/// step of 0, a shared-memory window outside its tile).
pub const STATUS_BINDING: u32 = 1;
/// Metadata word holding the block offset along axis 0 (then 1, 2).
pub const META_BLOCK_OFFSET: usize = 0;
/// Metadata word holding the grid size along axis 0 (then 1, 2).
pub const META_GRID_SIZE: usize = 3;
/// Metadata word that is always 0: float constants are ORed with it, so that shader compilers cannot
/// fold and reassociate float arithmetic with constants (lavapipe turned `x + 3 - 1 - 1 - 1` into `x`, which
/// differs for `-0` and by rounding; WGSL has no `precise`).
pub const META_ZERO: usize = 6;
/// Metadata word holding the most iterations one execution of a `while` loop may run; the loop that
/// would run one more stops the launch with a failure (a loop that never ends is an error, not a hang,
/// nor a silent stop at the driver's own bound).
pub const META_WHILE_LIMIT: usize = 7;
/// Metadata word of parameter 0: a scalar's code, or a global buffer's length in bytes (then one word
/// per parameter, in order).
pub const META_PARAMS: usize = 8;
/// The failure message of a `while` loop that reached [`META_WHILE_LIMIT`] iterations.
pub const WHILE_LIMIT_FAILURE: &str = "a `while` loop ran the launch's iteration limit (`while_limit`) without ending; stopped (an endless loop?)";

/// What a GPU offers that code generation depends on. Target differences are capability flags, never
/// IR variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpuCaps {
    /// Native `f16` in shaders (`SHADER_F16`).
    pub has_f16: bool,
    /// The subgroup size when subgroup operations are available.
    pub subgroup_size: Option<u32>,
    /// Workgroup memory available, in bytes.
    pub max_shared_bytes: u32,
    /// Most invocations in one workgroup.
    pub max_workgroup_threads: u32,
    /// Most storage buffers one shader stage may bind.
    pub max_storage_buffers: u32,
}

impl Default for GpuCaps {
    /// The WebGPU default limits, without optional features.
    fn default() -> GpuCaps {
        GpuCaps {
            has_f16: false,
            subgroup_size: None,
            max_shared_bytes: 16 * 1024,
            max_workgroup_threads: 256,
            max_storage_buffers: 8,
        }
    }
}

/// Options of the WGSL writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WgslOptions {
    /// Parse and validate the output with naga (on by default; a failure is a compiler bug).
    pub validate: bool,
}

impl Default for WgslOptions {
    fn default() -> WgslOptions {
        WgslOptions { validate: true }
    }
}

/// How the runtime must bind and launch a generated module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelInterface {
    /// The kernel's name.
    pub name: String,
    /// The workgroup size.
    pub num_threads: u32,
    /// Number of `u32` metadata words (a multiple of 4).
    pub meta_words: usize,
    /// One entry per global parameter.
    pub buffers: Vec<BufferBinding>,
    /// The messages of the kernel's run-time failures, indexed by status value − 1.
    pub failures: Vec<String>,
    /// Whether the kernel prints: its status buffer then holds print records after two words
    /// ([`PRINT_FIRST_WORD`], [`PRINT_CAPACITY_WORDS`]).
    pub prints: bool,
    /// Workgroup memory the module uses, in bytes.
    pub shared_bytes: u32,
}

/// The binding of one global parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferBinding {
    /// The parameter's index in `Kernel::params`.
    pub param: usize,
    /// The binding number in group 0.
    pub binding: u32,
    /// Whether the kernel may write it (a `read_write` storage buffer of atomic words).
    pub mutable: bool,
}

/// A kernel translated to WGSL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WgslKernel {
    /// The WGSL module text.
    pub source: String,
    /// How to bind and launch it.
    pub interface: KernelInterface,
}

/// Why a kernel could not be translated to WGSL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel needs something WGSL or this GPU lacks (64-bit integers...).
    #[error("kernel `{kernel}` is not supported on the GPU backend: {what}")]
    Unsupported {
        /// The kernel.
        kernel: String,
        /// What is missing.
        what: String,
    },
    /// The kernel needs more of a resource (workgroup memory, threads, bindings) than the GPU offers.
    #[error("kernel `{kernel}` exceeds a GPU limit: {what}")]
    Limit {
        /// The kernel.
        kernel: String,
        /// The resource and the amounts.
        what: String,
    },
    /// The kernel breaks an IR rule that the verifier should have caught (a bug in whoever built it).
    #[error("kernel `{kernel}` is malformed: {what}")]
    Malformed {
        /// The kernel.
        kernel: String,
        /// The broken rule.
        what: String,
    },
    /// Selection and the writer disagree. This always represents a bug in the WGSL backend.
    #[error("internal compiler error in the WGSL backend, kernel `{kernel}`: {what}")]
    Internal {
        /// The kernel.
        kernel: String,
        /// What disagreed.
        what: String,
    },
    /// naga rejected the generated WGSL. This always represents a bug in the WGSL backend.
    #[error(
        "internal compiler error: the WGSL generated for kernel `{kernel}` is invalid:\n{message}\n--- generated WGSL ---\n{numbered_source}"
    )]
    InvalidWgsl {
        /// The kernel.
        kernel: String,
        /// naga's diagnostic.
        message: String,
        /// The module text with line numbers.
        numbered_source: String,
    },
    /// Formatting into the output sink failed.
    #[error("writing WGSL failed")]
    Fmt(#[from] fmt::Error),
}

/// A result of the WGSL backend.
pub type WgslResult<T> = Result<T, Error>;

/// Translates `kernel` to a validated WGSL module and its binding interface.
///
/// # Errors
/// [`Error::Unsupported`] / [`Error::Limit`] when the GPU described by `caps` cannot run the kernel,
/// [`Error::Malformed`] for IR the verifier rejects, [`Error::InvalidWgsl`] for backend bugs.
pub fn compile(kernel: &VerifiedKernel, caps: &GpuCaps) -> WgslResult<WgslKernel> {
    compile_with(kernel, caps, WgslOptions::default())
}

/// [`compile`] with explicit options.
///
/// # Errors
/// As [`compile`].
pub fn compile_with(kernel: &VerifiedKernel, caps: &GpuCaps, options: WgslOptions) -> WgslResult<WgslKernel> {
    let mut writer = WgslWriter::new(String::new(), options, *caps);
    let interface = writer.write(kernel)?;
    let source = writer.finish();
    if options.validate {
        validate(&kernel.name, &source, caps)?;
    }
    Ok(WgslKernel { source, interface })
}

/// Translates `kernel` to WGSL text (validated by naga).
///
/// # Errors
/// As [`compile`].
pub fn to_wgsl(kernel: &VerifiedKernel, caps: &GpuCaps) -> WgslResult<String> {
    compile(kernel, caps).map(|compiled| compiled.source)
}

/// Parses and validates WGSL text with naga, as wgpu will.
///
/// # Errors
/// [`Error::InvalidWgsl`] with naga's message and the numbered source.
pub fn validate(kernel_name: &str, source: &str, caps: &GpuCaps) -> WgslResult<()> {
    let invalid = |message: String| Error::InvalidWgsl {
        kernel: kernel_name.to_string(),
        message,
        numbered_source: number_lines(source),
    };
    let module =
        naga::front::wgsl::parse_str(source).map_err(|error| invalid(error.emit_to_string(source)))?;
    let mut capabilities = naga::valid::Capabilities::default();
    if caps.has_f16 {
        capabilities |= naga::valid::Capabilities::SHADER_FLOAT16;
    }
    if caps.subgroup_size.is_some() {
        capabilities |= naga::valid::Capabilities::SUBGROUP;
    }
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
        .validate(&module)
        .map_err(|error| invalid(error.emit_to_string(source)))?;
    Ok(())
}

/// The text with a right-aligned line number before every line.
pub fn number_lines(source: &str) -> String {
    let mut numbered = String::new();
    for (index, line) in source.lines().enumerate() {
        numbered.push_str(&format!("{:5} | {line}\n", index + 1));
    }
    numbered
}

#[cfg(test)]
mod tests;
