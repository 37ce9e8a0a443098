//! The stdlib's `.tile` sources, and their instantiation through the front end.

use tilevm_lang::{CompileError, CompileOptions, NoImports, SourceSet, compile_sources};
use tilevm_vm::verify::VerifiedKernel;

use crate::StdlibError;

/// `kernels/gemv.tile`: the a16wX GEMV.
pub(crate) const GEMV: Source =
    Source { path: "stdlib/kernels/gemv.tile", text: include_str!("../kernels/gemv.tile") };

/// `kernels/gemv_q8.tile`: the q8 GEMV's quantization kernel and its one- and two-plane GEMVs.
pub(crate) const GEMV_Q8: Source =
    Source { path: "stdlib/kernels/gemv_q8.tile", text: include_str!("../kernels/gemv_q8.tile") };

/// `kernels/linear.tile`: the quantized linear layer over affine group weights, in a CPU and a GPU form.
pub(crate) const LINEAR: Source =
    Source { path: "stdlib/kernels/linear.tile", text: include_str!("../kernels/linear.tile") };

/// A `.tile` file of the stdlib.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Source {
    /// Its path in the repository, for diagnostics.
    pub path: &'static str,
    /// Its text.
    pub text: &'static str,
}

/// Compiles `kernel` of `source` with the compile-time parameters `sets`.
///
/// # Errors
/// [`StdlibError::Compile`] with the rendered diagnostics, when the parameters do not make a valid kernel
/// (a zero size, a width the kernel rejects).
pub(crate) fn instantiate(
    source: Source,
    kernel: &str,
    sets: &[(&str, String)],
) -> Result<VerifiedKernel, StdlibError> {
    let options = CompileOptions {
        kernel: Some(kernel.to_string()),
        sets: sets.iter().map(|(name, value)| ((*name).to_string(), value.clone())).collect(),
    };
    let mut sources = SourceSet::new();
    let root = sources.add(source.path, source.text);
    match compile_sources(&mut sources, root, &NoImports, &options) {
        Ok(module) => module
            .into_kernels()
            .into_iter()
            .next()
            .ok_or_else(|| StdlibError::NoSuchKernel(kernel.to_string())),
        Err(diagnostics) => Err(StdlibError::Compile {
            kernel: kernel.to_string(),
            error: CompileError { diagnostics, sources },
        }),
    }
}
