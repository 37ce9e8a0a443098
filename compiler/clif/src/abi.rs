//! The fixed calling convention between JIT-compiled kernels and the CPU runtime.
//!
//! A kernel compiles to two functions (see [`super::ClifKernel`]):
//!
//! - `kernel(ctx: *const BlockContext, args: *const ArgSlot, scratch: *mut u8) -> i32`, run once per block;
//! - `grid(args: *const ArgSlot, grid: *mut [u32; 3]) -> i32`, which evaluates the grid expressions.
//!
//! `args` holds one [`ArgSlot`] per kernel parameter, in parameter order. `scratch` is at least
//! `scratch_bytes` bytes, 16-byte aligned, private to the running block (its contents on entry do not
//! matter). The return value is [`STATUS_OK`] or a failure status.
//!
//! Operations Cranelift has no instruction for (transcendentals, float remainder, stochastic rounding) call
//! the host functions of [`Helper`]: the kernel function refers to helper `h` as the user external name
//! `(namespace 0, index h as u32)`, so a JIT module that declares the helpers first, in [`Helper::ALL`]
//! order, resolves them to its own function ids.

use cranelift_codegen::ir::{AbiParam, Signature, types};
use cranelift_codegen::isa::CallConv;
use tilevm_vm::dtype::{DataType, FloatType, IntType, NanEncoding};

/// One argument: a global buffer as (pointer, byte length), a scalar as (bit pattern, 0).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArgSlot {
    /// The buffer's address, or the scalar's code (zero-extended).
    pub word0: u64,
    /// The buffer's length in bytes, or 0.
    pub word1: u64,
}

/// Size of an [`ArgSlot`] in bytes.
pub const ARG_SLOT_BYTES: i32 = 16;

/// Where the running block is: read by `BlockIndex` and `GridSize`, and passed to [`Helper::Print`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockContext {
    /// The block's index along x, y, z.
    pub block_index: [u32; 3],
    /// The grid's size along x, y, z.
    pub grid_size: [u32; 3],
    /// The most iterations one execution of a `while` loop may run before the block stops with
    /// [`STATUS_WHILE_LIMIT`]: a loop that never ends is an error, not a hang.
    pub while_limit: u32,
    /// Where [`Helper::Print`] records the block's prints: the address of the runtime's print log, or 0
    /// when nobody listens (the generated code only passes the context on).
    pub prints: u64,
}

/// Byte offset of [`BlockContext::grid_size`].
pub const GRID_SIZE_OFFSET: i32 = 12;
/// Byte offset of [`BlockContext::while_limit`].
pub const WHILE_LIMIT_OFFSET: i32 = 24;
/// Byte offset of [`BlockContext::prints`].
pub const PRINTS_OFFSET: i32 = 32;
/// Size of a [`BlockContext`] in bytes.
pub const BLOCK_CONTEXT_BYTES: u32 = 40;

/// The block finished normally.
pub const STATUS_OK: i32 = 0;
/// A `for` loop had a step of 0.
pub const STATUS_ZERO_STEP: i32 = 1;
/// A helper was asked for something it cannot do (a cast the runtime does not know).
pub const STATUS_HELPER_FAILED: i32 = 2;
/// A shared-tile window or register slice left its tile.
pub const STATUS_WINDOW_OUT_OF_RANGE: i32 = 3;
/// A `while` loop ran [`BlockContext::while_limit`] iterations and would have run another.
pub const STATUS_WHILE_LIMIT: i32 = 4;
/// `Assert` number `i` (in the order the lowerer met them) failed: status `STATUS_ASSERT_BASE + i`.
pub const STATUS_ASSERT_BASE: i32 = 16;

/// A host function the generated code calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Helper {
    /// `fn(f32) -> f32`: e^x.
    Exp,
    /// `fn(f32) -> f32`: 2^x.
    Exp2,
    /// `fn(f32) -> f32`: ln x.
    Log,
    /// `fn(f32) -> f32`: log2 x.
    Log2,
    /// `fn(f32) -> f32`: sin x.
    Sin,
    /// `fn(f32) -> f32`: cos x.
    Cos,
    /// `fn(f32) -> f32`: tanh x.
    Tanh,
    /// `fn(f32, f32) -> f32`: the float remainder (`%` of Rust).
    Rem,
    /// `fn(from: i64, to: i64, code: i64, rounding: i64, seed: i64, index: i64) -> i64`: the general cast of
    /// `tilevm_vm::dtype::cast`, with dtypes given by [`encode_dtype`] and rounding by [`ROUNDING_NEAREST`]
    /// and friends. Returns the code, or `u64::MAX` bits when a dtype does not decode.
    Cast,
    /// `fn(address: i64, bytes: i64)`: asks the cache hierarchy for the bytes at `address` (a hint: it
    /// never faults and changes nothing observable). Cranelift has no prefetch instruction.
    Prefetch,
    /// `fn(ctx: i64, site: i64, data: i64)`: print site `site` (numbered by
    /// `vm::interp::PrintSites`) of the block `ctx` describes; `data` points at the values, 8 bytes per
    /// scalar (each in its slot type, low bytes first) or a register tile's slots in logical order.
    Print,
}

/// Bytes [`Helper::Print`] reads per scalar value.
pub const PRINT_SCALAR_BYTES: u32 = super::prints::PRINT_SCALAR_BYTES;

/// Bytes of one element of a register tile of `dtype` in the frame, as [`Helper::Print`] reads it (the
/// element's code in the low bits, little-endian).
pub fn tile_slot_bytes(dtype: DataType) -> u32 {
    super::frame::slot_type(dtype).bytes()
}

/// [`Helper::Cast`]'s rounding argument for round to nearest even.
pub const ROUNDING_NEAREST: i64 = 0;
/// [`Helper::Cast`]'s rounding argument for round toward zero.
pub const ROUNDING_TOWARD_ZERO: i64 = 1;
/// [`Helper::Cast`]'s rounding argument for stochastic rounding (then `seed` and `index` matter).
pub const ROUNDING_STOCHASTIC: i64 = 2;

impl Helper {
    /// Every helper, in the order a JIT module must declare them.
    pub const ALL: [Helper; 11] = [
        Helper::Exp,
        Helper::Exp2,
        Helper::Log,
        Helper::Log2,
        Helper::Sin,
        Helper::Cos,
        Helper::Tanh,
        Helper::Rem,
        Helper::Cast,
        Helper::Prefetch,
        Helper::Print,
    ];

    /// The helper's index in [`Helper::ALL`] (its user external name index).
    pub fn index(self) -> u32 {
        Helper::ALL.iter().position(|&helper| helper == self).unwrap_or(0) as u32
    }

    /// The symbol name the runtime defines for it.
    pub fn symbol(self) -> &'static str {
        match self {
            Helper::Exp => "tilevm_cpu_exp",
            Helper::Exp2 => "tilevm_cpu_exp2",
            Helper::Log => "tilevm_cpu_log",
            Helper::Log2 => "tilevm_cpu_log2",
            Helper::Sin => "tilevm_cpu_sin",
            Helper::Cos => "tilevm_cpu_cos",
            Helper::Tanh => "tilevm_cpu_tanh",
            Helper::Rem => "tilevm_cpu_rem",
            Helper::Cast => "tilevm_cpu_cast",
            Helper::Prefetch => "tilevm_cpu_prefetch",
            Helper::Print => "tilevm_cpu_print",
        }
    }

    /// Its signature under `call_conv`.
    pub fn signature(self, call_conv: CallConv) -> Signature {
        let mut signature = Signature::new(call_conv);
        let (params, returns) = match self {
            Helper::Rem => (vec![types::F32, types::F32], vec![types::F32]),
            Helper::Cast => (vec![types::I64; 6], vec![types::I64]),
            Helper::Prefetch => (vec![types::I64; 2], vec![]),
            Helper::Print => (vec![types::I64; 3], vec![]),
            _ => (vec![types::F32], vec![types::F32]),
        };
        signature.params.extend(params.into_iter().map(AbiParam::new));
        signature.returns.extend(returns.into_iter().map(AbiParam::new));
        signature
    }
}

/// The kernel function's signature.
pub fn kernel_signature(call_conv: CallConv) -> Signature {
    let mut signature = Signature::new(call_conv);
    signature.params.extend([AbiParam::new(types::I64); 3]);
    signature.returns.push(AbiParam::new(types::I32));
    signature
}

/// The grid function's signature.
pub fn grid_signature(call_conv: CallConv) -> Signature {
    let mut signature = Signature::new(call_conv);
    signature.params.extend([AbiParam::new(types::I64); 2]);
    signature.returns.push(AbiParam::new(types::I32));
    signature
}

/// Packs a dtype into 64 bits for [`Helper::Cast`]: kind (2 bits), signed (1), bits or exponent bits (8),
/// mantissa bits (8), NaN encoding (2), bias (32, two's complement) from bit 32.
pub fn encode_dtype(dtype: DataType) -> u64 {
    match dtype {
        DataType::Bool => 0,
        DataType::Int(int) => 1 | (u64::from(int.signed) << 2) | (u64::from(int.bits) << 3),
        DataType::Float(float) => {
            let nan = match float.nan {
                NanEncoding::Ieee => 0u64,
                NanEncoding::Fn => 1,
                NanEncoding::Fnuz => 2,
                NanEncoding::None => 3,
            };
            2 | (u64::from(float.signed) << 2)
                | (u64::from(float.exponent_bits) << 3)
                | (u64::from(float.mantissa_bits) << 11)
                | (nan << 19)
                | (u64::from(float.bias as u32) << 32)
        }
    }
}

/// The inverse of [`encode_dtype`]; `None` for bit patterns it never produces.
pub fn decode_dtype(bits: u64) -> Option<DataType> {
    let signed = bits & 4 != 0;
    match bits & 3 {
        0 => Some(DataType::Bool),
        1 => Some(DataType::Int(IntType { signed, bits: ((bits >> 3) & 0xff) as u8 })),
        2 => {
            let nan = match (bits >> 19) & 3 {
                0 => NanEncoding::Ieee,
                1 => NanEncoding::Fn,
                2 => NanEncoding::Fnuz,
                _ => NanEncoding::None,
            };
            Some(DataType::Float(FloatType {
                exponent_bits: ((bits >> 3) & 0xff) as u8,
                mantissa_bits: ((bits >> 11) & 0xff) as u8,
                bias: (bits >> 32) as u32 as i32,
                signed,
                nan,
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_encoding_round_trips() {
        let float8 = DataType::Float(FloatType {
            exponent_bits: 4,
            mantissa_bits: 3,
            bias: -7,
            signed: true,
            nan: NanEncoding::Fnuz,
        });
        for dtype in [DataType::BOOL, DataType::I32, DataType::U8, DataType::F16, DataType::BF16, float8] {
            assert_eq!(decode_dtype(encode_dtype(dtype)), Some(dtype));
        }
    }

    #[test]
    fn helper_indices_follow_declaration_order() {
        for (position, helper) in Helper::ALL.iter().enumerate() {
            assert_eq!(helper.index() as usize, position);
        }
    }
}
