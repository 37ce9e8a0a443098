//! The host functions JIT-compiled kernels call (see `compiler::backend::clif::abi::Helper`).

use tilevm_compiler::backend::clif::abi::Helper;

extern "C" fn exp(x: f32) -> f32 {
    x.exp()
}
extern "C" fn exp2(x: f32) -> f32 {
    x.exp2()
}
extern "C" fn log(x: f32) -> f32 {
    x.ln()
}
extern "C" fn log2(x: f32) -> f32 {
    x.log2()
}
extern "C" fn sin(x: f32) -> f32 {
    x.sin()
}
extern "C" fn cos(x: f32) -> f32 {
    x.cos()
}
extern "C" fn tanh(x: f32) -> f32 {
    x.tanh()
}
extern "C" fn rem(x: f32, y: f32) -> f32 {
    x % y
}

/// The general cast. Until `vm::dtype::cast` lands this returns the all-ones pattern, which the lowerer
/// never needs for the formats its own codecs handle.
extern "C" fn cast(from: u64, to: u64, code: u64, rounding: u64, seed: u64, index: u64) -> u64 {
    let _ = (from, to, code, rounding, seed, index);
    u64::MAX
}

/// The address of a helper's implementation.
pub(super) fn address(helper: Helper) -> *const u8 {
    match helper {
        Helper::Exp => exp as extern "C" fn(f32) -> f32 as *const u8,
        Helper::Exp2 => exp2 as extern "C" fn(f32) -> f32 as *const u8,
        Helper::Log => log as extern "C" fn(f32) -> f32 as *const u8,
        Helper::Log2 => log2 as extern "C" fn(f32) -> f32 as *const u8,
        Helper::Sin => sin as extern "C" fn(f32) -> f32 as *const u8,
        Helper::Cos => cos as extern "C" fn(f32) -> f32 as *const u8,
        Helper::Tanh => tanh as extern "C" fn(f32) -> f32 as *const u8,
        Helper::Rem => rem as extern "C" fn(f32, f32) -> f32 as *const u8,
        Helper::Cast => cast as extern "C" fn(u64, u64, u64, u64, u64, u64) -> u64 as *const u8,
    }
}
