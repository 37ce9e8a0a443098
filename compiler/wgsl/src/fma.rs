//! Fused multiply-add in WGSL integer arithmetic, rounded exactly as the interpreter rounds it.
//
// The IR's `fma` rounds once (`ir::TernaryOp::Fma`, `interp::eval_ternary`): `f32::mul_add` for `f32`;
// for `f16`/`bf16` the exact value `a * b + c` is rounded to `f64` and then once to the format. WGSL's builtin `fma` may round twice
// (lavapipe's does), and an `f32` fma of `f16` inputs is not enough either: with `a = 1.5`,
// `b = 683/1024` and `c = 2^-24` the exact value `1 + 2^-11 + 2^-24` lies above a half-way point of
// `f16`, but its nearest `f32` is that half-way point, which then ties to even.
//
// So the backend computes the exact value with integers:
// 1. NaN, infinite and zero operands are decided first (`fma_parts` returns their `f32` result).
// 2. The 24-bit significands multiply into a 48-bit product (16-bit limbs); the product and `c` are
//    normalised in 96-bit numbers (three words, `vec3<u32>` low word first) with their top bit at 94,
//    the smaller is shifted right with a sticky flag, and they are added or subtracted. Massive
//    cancellation only happens when the exponents are within a bit of each other, when nothing is
//    shifted out; when something is, the result keeps its top bit at 93 or 94.
// 3. The sum is normalised to bit 95 and compressed to a 32-bit significand whose bit 0 is sticky (for
//    `f16`/`bf16`, after rounding to the 53 bits of an `f64`, as the interpreter does), and the format's
//    `round_` helper (see `codec`) rounds it once to nearest even, subnormals and overflow included.
// Every NaN result is the canonical quiet NaN `0x7fc00000` (then the format's), as the interpreter's.

use tilevm_vm::dtype::FloatType;

use super::codec::{self, Prelude};

/// Requires `fma_f32(a, b, c) -> f32`, correctly rounded. Returns its name.
pub(super) fn require_fma_f32(prelude: &mut Prelude) -> String {
    require_parts(prelude);
    let round = codec::require_round(prelude, &FloatType::F32);
    prelude.require("fma_f32", || {
        format!(
            "fn fma_f32(a: f32, b: f32, c: f32) -> f32 {{\n    let p = fma_parts(bitcast<u32>(a), bitcast<u32>(b), bitcast<u32>(c), false);\n    if (p.special) {{ return bitcast<f32>(p.bits); }}\n    return bitcast<f32>({round}(select(0u, 0x80000000u, p.neg), p.sig, p.ex, 0u, 0u));\n}}\n"
        )
    });
    "fma_f32".to_string()
}

/// Requires `fma_<fmt>(a, b, c) -> u32`: the code of `format` (f16, bf16) nearest to the `f64` nearest to
/// `a * b + c`, for `f32` operands that are values of the format. Returns its name.
pub(super) fn require_fma_code(prelude: &mut Prelude, format: &FloatType) -> String {
    require_parts(prelude);
    let round = codec::require_round(prelude, format);
    let encode = codec::require_encode(prelude, format);
    let name = format!("fma_{}", codec::format_name(format));
    let sign_bit = 1u32 << (format.exponent_bits + format.mantissa_bits);
    prelude.require(&name, || {
        format!(
            "fn {name}(a: f32, b: f32, c: f32) -> u32 {{\n    let p = fma_parts(bitcast<u32>(a), bitcast<u32>(b), bitcast<u32>(c), true);\n    if (p.special) {{ return {encode}(p.bits, 0u, 0u); }}\n    return {round}(select(0u, {sign_bit}u, p.neg), p.sig, p.ex, 0u, 0u);\n}}\n"
        )
    });
    name
}

/// Requires the `FmaParts` struct, `fma_parts` and its 96-bit arithmetic.
fn require_parts(prelude: &mut Prelude) {
    prelude.require("FmaParts", || {
        "struct FmaParts {\n    special: bool,\n    bits: u32,\n    neg: bool,\n    sig: u32,\n    ex: i32,\n}\n"
            .to_string()
    });
    prelude.require("wide_mul", || WIDE_MUL.to_string());
    prelude.require("wide_shl", || WIDE_SHL.to_string());
    prelude.require("wide_shr", || WIDE_SHR.to_string());
    prelude.require("wide_add", || WIDE_ADD.to_string());
    prelude.require("wide_sub", || WIDE_SUB.to_string());
    prelude.require("wide_top", || WIDE_TOP.to_string());
    prelude.require("wide_less", || WIDE_LESS.to_string());
    prelude.require("fma_parts", || FMA_PARTS.to_string());
}

/// The 64-bit product of two `u32`s, as (low, high).
const WIDE_MUL: &str = "fn wide_mul(x: u32, y: u32) -> vec2<u32> {
    let x0 = x & 0xffffu;
    let x1 = x >> 16u;
    let y0 = y & 0xffffu;
    let y1 = y >> 16u;
    let p00 = x0 * y0;
    let p01 = x0 * y1;
    let p10 = x1 * y0;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    let hi = x1 * y1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
    return vec2<u32>((p00 & 0xffffu) | (mid << 16u), hi);
}
";

/// `v << n` for `n < 96`.
const WIDE_SHL: &str = "fn wide_shl(v: vec3<u32>, n: u32) -> vec3<u32> {
    var r = v;
    if (n >= 64u) {
        r = vec3<u32>(0u, 0u, r.x);
    } else if (n >= 32u) {
        r = vec3<u32>(0u, r.x, r.y);
    }
    let s = n & 31u;
    if (s != 0u) {
        r = vec3<u32>(r.x << s, (r.y << s) | (r.x >> (32u - s)), (r.z << s) | (r.y >> (32u - s)));
    }
    return r;
}
";

/// `v >> n` for any `n`, and in `w` whether any 1 bit was shifted out.
const WIDE_SHR: &str = "fn wide_shr(v: vec3<u32>, n: u32) -> vec4<u32> {
    if (n >= 96u) { return vec4<u32>(0u, 0u, 0u, select(0u, 1u, any(v != vec3<u32>(0u)))); }
    var r = v;
    var lost = 0u;
    if (n >= 64u) {
        lost = r.x | r.y;
        r = vec3<u32>(r.z, 0u, 0u);
    } else if (n >= 32u) {
        lost = r.x;
        r = vec3<u32>(r.y, r.z, 0u);
    }
    let s = n & 31u;
    if (s != 0u) {
        lost = lost | (r.x << (32u - s));
        r = vec3<u32>((r.x >> s) | (r.y << (32u - s)), (r.y >> s) | (r.z << (32u - s)), r.z >> s);
    }
    return vec4<u32>(r, select(0u, 1u, lost != 0u));
}
";

/// `a + b` (no carry out of the top word).
const WIDE_ADD: &str = "fn wide_add(a: vec3<u32>, b: vec3<u32>) -> vec3<u32> {
    let x = a.x + b.x;
    let y0 = a.y + b.y;
    let y = y0 + select(0u, 1u, x < a.x);
    let carry = select(0u, 1u, y0 < a.y) + select(0u, 1u, y < y0);
    return vec3<u32>(x, y, a.z + b.z + carry);
}
";

/// `a - b` for `a >= b`.
const WIDE_SUB: &str = "fn wide_sub(a: vec3<u32>, b: vec3<u32>) -> vec3<u32> {
    let x = a.x - b.x;
    let y0 = a.y - b.y;
    let borrow_x = select(0u, 1u, a.x < b.x);
    let y = y0 - borrow_x;
    let borrow = select(0u, 1u, a.y < b.y) + select(0u, 1u, y0 < borrow_x);
    return vec3<u32>(x, y, a.z - b.z - borrow);
}
";

/// The position of the top 1 bit, or -1 for zero.
const WIDE_TOP: &str = "fn wide_top(v: vec3<u32>) -> i32 {
    if (v.z != 0u) { return 95 - i32(countLeadingZeros(v.z)); }
    if (v.y != 0u) { return 63 - i32(countLeadingZeros(v.y)); }
    if (v.x != 0u) { return 31 - i32(countLeadingZeros(v.x)); }
    return -1;
}
";

/// `a < b`.
const WIDE_LESS: &str = "fn wide_less(a: vec3<u32>, b: vec3<u32>) -> bool {
    if (a.z != b.z) { return a.z < b.z; }
    if (a.y != b.y) { return a.y < b.y; }
    return a.x < b.x;
}
";

/// The exact `a * b + c` of three `f32` bit patterns: either a finished `f32` (`special`: NaN, infinity,
/// an exact zero, or `c` when the product is zero) or a sign, a 32-bit significand `sig` with bit 31 set
/// and a sticky bit 0, and the exponent `ex` of bit 31. With `wide`, the value is first rounded to the
/// 53 bits of an `f64` (the interpreter's intermediate for `f16`/`bf16`; no `f64` overflow or underflow
/// is possible for products of those formats).
const FMA_PARTS: &str = "fn fma_parts(a: u32, b: u32, c: u32, wide: bool) -> FmaParts {
    var r = FmaParts(true, 0u, false, 0u, 0);
    let aa = a & 0x7fffffffu;
    let ab = b & 0x7fffffffu;
    let ac = c & 0x7fffffffu;
    let sp = (a ^ b) & 0x80000000u;
    let sc = c & 0x80000000u;
    let p_inf = aa == 0x7f800000u || ab == 0x7f800000u;
    let p_zero = aa == 0u || ab == 0u;
    let nan_operand = aa > 0x7f800000u || ab > 0x7f800000u || ac > 0x7f800000u;
    let invalid = (p_inf && p_zero) || (p_inf && ac == 0x7f800000u && sc != sp);
    if (nan_operand || invalid) { r.bits = 0x7fc00000u; return r; }
    if (p_inf) { r.bits = sp | 0x7f800000u; return r; }
    if (ac == 0x7f800000u) { r.bits = c; return r; }
    if (p_zero) {
        if (ac == 0u) { r.bits = sp & sc; return r; }
        r.bits = c;
        return r;
    }
    // value = m * 2^e with integer significands.
    let ma = select(aa & 0x7fffffu, (aa & 0x7fffffu) | 0x800000u, aa >= 0x800000u);
    let ea = select(-149, i32(aa >> 23u) - 150, aa >= 0x800000u);
    let mb = select(ab & 0x7fffffu, (ab & 0x7fffffu) | 0x800000u, ab >= 0x800000u);
    let eb = select(-149, i32(ab >> 23u) - 150, ab >= 0x800000u);
    let product = wide_mul(ma, mb);
    var x = vec3<u32>(product, 0u);
    let tp = wide_top(x);
    x = wide_shl(x, u32(94 - tp));
    var ex = ea + eb - (94 - tp);
    var neg = sp != 0u;
    var sticky = false;
    if (ac != 0u) {
        let mc = select(ac & 0x7fffffu, (ac & 0x7fffffu) | 0x800000u, ac >= 0x800000u);
        let ec = select(-149, i32(ac >> 23u) - 150, ac >= 0x800000u);
        let tc = 31 - i32(countLeadingZeros(mc));
        var y = wide_shl(vec3<u32>(mc, 0u, 0u), u32(94 - tc));
        var ey = ec - (94 - tc);
        // x is the operand of larger magnitude.
        if (ey > ex || (ey == ex && wide_less(x, y))) {
            let t = x;
            x = y;
            y = t;
            let te = ex;
            ex = ey;
            ey = te;
            neg = sc != 0u;
        }
        let shifted = wide_shr(y, u32(ex - ey));
        sticky = shifted.w != 0u;
        if ((sp != 0u) == (sc != 0u)) {
            x = wide_add(x, shifted.xyz);
        } else {
            // With a sticky fraction f of y: x - (y + f) lies in (x - y - 1, x - y).
            x = wide_sub(wide_sub(x, shifted.xyz), vec3<u32>(select(0u, 1u, sticky), 0u, 0u));
        }
    }
    let top = wide_top(x);
    if (top < 0) { r.bits = 0u; return r; }
    let w = wide_shl(x, u32(95 - top));
    r.special = false;
    r.neg = neg;
    r.ex = ex + top;
    if (!wide) {
        r.sig = w.z | select(0u, 1u, w.y != 0u || w.x != 0u || sticky);
        return r;
    }
    // Round to 53 bits (bits 95..43 of w) to nearest even, then keep the top 32 and a sticky bit.
    var hi = w.z;
    var lo = w.y;
    let rest = (lo & 0x3ffu) != 0u || w.x != 0u || sticky;
    if (((lo >> 10u) & 1u) == 1u && (rest || ((lo >> 11u) & 1u) == 1u)) {
        lo = lo + 0x800u;
        if (lo < 0x800u) {
            hi = hi + 1u;
            if (hi == 0u) {
                hi = 0x80000000u;
                r.ex = r.ex + 1;
            }
        }
    }
    lo = lo & 0xfffff800u;
    r.sig = hi | select(0u, 1u, lo != 0u);
    return r;
}
";
