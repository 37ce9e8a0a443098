//! The host functions JIT-compiled kernels call (see `tilevm_clif::abi::Helper`).

use tilevm_clif::abi::{self, Helper};
use tilevm_vm::dtype::Rounding;

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

/// The general cast: `tilevm_vm::dtype::cast`, with dtypes and rounding as `abi` encodes them. Returns
/// the all-ones pattern for a dtype that does not decode (the lowerer never emits one).
extern "C" fn cast(from: u64, to: u64, code: u64, rounding: u64, seed: u64, index: u64) -> u64 {
    let (Some(from), Some(to)) = (abi::decode_dtype(from), abi::decode_dtype(to)) else {
        return u64::MAX;
    };
    let rounding = match rounding as i64 {
        abi::ROUNDING_NEAREST => Rounding::NearestEven,
        abi::ROUNDING_TOWARD_ZERO => Rounding::TowardZero,
        _ => Rounding::Stochastic { seed },
    };
    tilevm_vm::dtype::cast(from, to, code, rounding, index)
}

/// Prefetches the cache lines of `bytes` bytes from `address` into the second-level cache and beyond
/// (measured: a little faster than into the first level, whose fill buffers a whole tile overflows).
extern "C" fn prefetch(address: u64, bytes: u64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        let line = |offset: u64| {
            // SAFETY: a prefetch is a hint: it never faults and reads nothing observable, whatever the
            // address (the lowerer passes ranges inside the kernel's buffers anyway).
            unsafe { _mm_prefetch::<_MM_HINT_T1>(address.wrapping_add(offset) as *const i8) };
        };
        // Four lines per iteration: a tile is about a hundred lines, and the loop is most of the cost.
        let mut offset = 0;
        while offset + 192 < bytes {
            line(offset);
            line(offset + 64);
            line(offset + 128);
            line(offset + 192);
            offset += 256;
        }
        while offset < bytes {
            line(offset);
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (address, bytes);
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
        Helper::Prefetch => prefetch as extern "C" fn(u64, u64) as *const u8,
    }
}
