//! Kernels and modules that passed the verifier, as types: what backends and devices accept.
//
// As naga's `valid::ModuleInfo` stands for a validated module, a `VerifiedKernel` stands for a kernel on
// which `verify_kernel` found nothing. Only this module can build one (the field is private and there is
// no `&mut` access), so a function taking `&VerifiedKernel` may rely on every invariant of the verifier's
// module doc: the JIT's memory safety and the code generators' freedom from panics rest on it.

use std::ops::Deref;

use super::{VerifyErrors, verify_kernel_errors, verify_module_errors};
use crate::ir::{Kernel, Module};

/// A kernel on which the verifier found nothing. Read it through `Deref<Target = Kernel>`; change it by
/// taking it apart with [`VerifiedKernel::into_kernel`] and verifying the result again.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedKernel(Kernel);

impl VerifiedKernel {
    /// Verifies `kernel`.
    ///
    /// # Errors
    /// Every violation the verifier found.
    pub fn new(kernel: Kernel) -> Result<VerifiedKernel, VerifyErrors> {
        verify_kernel_errors(&kernel)?;
        Ok(VerifiedKernel(kernel))
    }

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.0
    }

    /// The kernel, no longer known to be verified.
    pub fn into_kernel(self) -> Kernel {
        self.0
    }
}

impl Deref for VerifiedKernel {
    type Target = Kernel;

    fn deref(&self) -> &Kernel {
        &self.0
    }
}

/// A module whose kernels all passed the verifier and whose kernel names are unique.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerifiedModule {
    kernels: Vec<VerifiedKernel>,
}

impl VerifiedModule {
    /// Verifies every kernel of `module` and the uniqueness of their names.
    ///
    /// # Errors
    /// Every violation found in every kernel.
    pub fn new(module: Module) -> Result<VerifiedModule, VerifyErrors> {
        verify_module_errors(&module)?;
        Ok(VerifiedModule { kernels: module.kernels.into_iter().map(VerifiedKernel).collect() })
    }

    /// The kernels, in source order.
    pub fn kernels(&self) -> &[VerifiedKernel] {
        &self.kernels
    }

    /// The kernel named `name`.
    pub fn kernel(&self, name: &str) -> Option<&VerifiedKernel> {
        self.kernels.iter().find(|kernel| kernel.name == name)
    }

    /// The kernels, in source order.
    pub fn into_kernels(self) -> Vec<VerifiedKernel> {
        self.kernels
    }

    /// A copy as a plain module (for the text form).
    pub fn to_module(&self) -> Module {
        Module { kernels: self.kernels.iter().map(|kernel| kernel.0.clone()).collect() }
    }
}
