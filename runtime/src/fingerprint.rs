//! Kernel fingerprints: what compiled-kernel caches key on.

use tilevm_vm::verify::VerifiedKernel;

/// A 256-bit hash of a verified kernel's text form (`vm::text::print_kernel_text`, which round-trips,
/// so two kernels with one fingerprint are the same kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelFingerprint([u8; 32]);

impl KernelFingerprint {
    /// The fingerprint of `kernel`.
    pub fn of(kernel: &VerifiedKernel) -> KernelFingerprint {
        let text = tilevm_vm::text::print_kernel_text(kernel.kernel());
        KernelFingerprint(*blake3::hash(text.as_bytes()).as_bytes())
    }

    /// The hash's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Display for KernelFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}
