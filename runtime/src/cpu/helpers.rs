//! The host functions JIT-compiled kernels call (see `tilevm_clif::abi::Helper`).

use tilevm_clif::abi::{self, Helper};
use tilevm_vm::dtype::Rounding;
use tilevm_vm::interp::{PrintLog, PrintValues};

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

/// Records what a block printed (`Helper::Print`): the values at `data`, as the print site says to
/// read them, go to the launch's print log.
extern "C" fn print(ctx: *const abi::BlockContext, site: u64, data: *const u8) {
    // SAFETY: the generated code passes its own block context, which the launch built and keeps alive
    // for the call; `prints` is 0 or the address of the launch's `PrintLog`, which outlives its blocks.
    let context = unsafe { &*ctx };
    if context.prints == 0 {
        return;
    }
    // SAFETY: as above.
    let log = unsafe { &*(context.prints as *const PrintLog) };
    let Some(values) = log.sites().get(site as u32).map(|site| site.values.clone()) else { return };
    // Reads `count` values of `width` bytes each, low bytes first, keeping the low `bits` of each.
    let read = |count: usize, width: usize, bits: &dyn Fn(usize) -> u32| -> Vec<u64> {
        (0..count)
            .map(|index| {
                let mut bytes = [0u8; 8];
                // SAFETY: the lowerer passes `count` values of `width` bytes (a stack slot of 8 bytes
                // per scalar, or a tile's slots in the frame), for the site it names.
                unsafe {
                    std::ptr::copy_nonoverlapping(data.add(index * width), bytes.as_mut_ptr(), width.min(8))
                };
                let code = u64::from_le_bytes(bytes);
                let bits = bits(index);
                if bits >= 64 { code } else { code & ((1u64 << bits) - 1) }
            })
            .collect()
    };
    let codes = match &values {
        PrintValues::Scalars(dtypes) => {
            read(dtypes.len(), abi::PRINT_SCALAR_BYTES as usize, &|index| dtypes[index].bits())
        }
        PrintValues::Tile { dtype, shape } => {
            let count = shape.iter().product();
            read(count, abi::tile_slot_bytes(*dtype) as usize, &|_| dtype.bits())
        }
    };
    log.record(context.block_index, site as u32, codes);
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
        Helper::Print => print as extern "C" fn(*const abi::BlockContext, u64, *const u8) as *const u8,
    }
}
