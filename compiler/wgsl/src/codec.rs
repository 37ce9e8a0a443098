//! Dtype codecs in WGSL: every float format ↔ f32 bits and integer ↔ float conversion with integer
//! bit manipulation, generated per format, plus `cast_code`, the one conversion between codes.
//
// Every helper works on codes in `u32`s and never on float arithmetic, so that results do not depend
// on how a driver treats subnormals or rounds conversions. The rules mirror the `dtype` codecs (which
// follow ml_dtypes; see tests/data/lowp/README.md):
// - decoding is exact (every supported format's values are f32 values), IEEE NaN payloads widen;
// - encoding rounds once from the exact value (to nearest even, toward zero, or stochastically with
//   the bits of `dtype::stochastic_bits`), then applies the format's overflow rule: IEEE formats
//   overflow to infinity, `fn`/`fnuz` formats to NaN, formats without NaN saturate; `fnuz` formats have
//   no negative zero; formats without NaN map NaN to a zero whose sign is the inverse of the NaN's;
//   unsigned (`fnu`) formats round ties up and have no zero, no negative values and no subnormals.
// - float → int truncates toward zero and saturates, NaN → 0; int → int wraps; anything → bool is
//   "not zero".
// Prelude are named after the format's parameters, so each distinct format gets one set.

use std::collections::BTreeMap;

use tilevm_vm::dtype::{DataType, FloatType, NanEncoding};
use tilevm_vm::ir::Rounding;

/// Module-scope WGSL functions the kernel needs, by name (emitted once, in name order).
#[derive(Debug, Default)]
pub(super) struct Prelude {
    functions: BTreeMap<String, String>,
}

impl Prelude {
    /// Adds the function `name` unless present; `code` builds its text.
    pub(super) fn require(&mut self, name: &str, code: impl FnOnce() -> String) {
        if !self.functions.contains_key(name) {
            let text = code();
            self.functions.insert(name.to_string(), text);
        }
    }

    /// The lines of `code` with every prelude function it calls inlined, transitively, once per call
    /// site: what a shader compiler that inlines everything makes of it.
    pub(super) fn inlined_lines(&self, code: &str) -> usize {
        let mut memo = BTreeMap::new();
        self.lines_with_calls(code, &mut memo, 0)
    }

    fn lines_with_calls(&self, code: &str, memo: &mut BTreeMap<String, usize>, depth: usize) -> usize {
        let mut lines = code.lines().count();
        // Helpers call helpers a few levels deep at most; the bound only guards against a cycle.
        if depth > 8 {
            return lines;
        }
        for (name, text) in &self.functions {
            let calls = code.matches(&format!("{name}(")).count();
            if calls == 0 {
                continue;
            }
            let cost = match memo.get(name) {
                Some(&cost) => cost,
                None => {
                    let body = text.split_once('{').map_or(text.as_str(), |(_, body)| body);
                    let cost = self.lines_with_calls(body, memo, depth + 1);
                    memo.insert(name.clone(), cost);
                    cost
                }
            };
            lines += calls * cost;
        }
        lines
    }

    /// Every function's text.
    pub(super) fn texts(&self) -> impl Iterator<Item = &String> {
        self.functions.values()
    }
}

/// A rounding mode as the helpers' `rm` argument (0 to nearest even, 1 toward zero, 2 stochastic) and
/// their `rnd` argument: the 32 random bits of a stochastic rounding (`0u` otherwise).
///
/// `index` is the `u32` expression of the element index that stochastic rounding hashes.
pub(super) fn rounding_args(prelude: &mut Prelude, rounding: Rounding, index: &str) -> (u32, String) {
    match rounding {
        Rounding::NearestEven => (0, "0u".to_string()),
        Rounding::TowardZero => (1, "0u".to_string()),
        Rounding::Stochastic { seed } => {
            prelude.require("pcg_hash", pcg_hash_function);
            (2, format!("pcg_hash({}u ^ {index})", stochastic_key(seed)))
        }
    }
}

/// The hash state that `dtype::stochastic_bits(seed, index)` has reached before it mixes in the low
/// half of the index, when the high half is 0: `stochastic_bits(seed, index) == pcg(key ^ index)` for
/// every `index < 2^32`. The seed is a compile-time constant, so three of the four hash steps fold away.
pub(super) fn stochastic_key(seed: u64) -> u32 {
    let hash = pcg_hash((seed >> 32) as u32);
    let hash = pcg_hash(hash ^ seed as u32);
    pcg_hash(hash) // ^ index_hi, which is 0
}

/// The PCG-RXS-M-XS 32-bit hash of `dtype::stochastic_bits`, on the host.
pub(super) fn pcg_hash(input: u32) -> u32 {
    let state = input.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The same hash in WGSL (`u32` arithmetic wraps, as the definition requires).
fn pcg_hash_function() -> String {
    "fn pcg_hash(x: u32) -> u32 {\n    let s = x * 747796405u + 2891336453u;\n    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;\n    return (w >> 22u) ^ w;\n}\n".to_string()
}

/// A helper-name suffix identifying a float format.
pub(super) fn format_name(format: &FloatType) -> String {
    let nan = match format.nan {
        NanEncoding::Ieee => "ieee",
        NanEncoding::Fn => "fn",
        NanEncoding::Fnuz => "fnuz",
        NanEncoding::None => "nonan",
    };
    let bias = if format.bias < 0 { format!("n{}", -format.bias) } else { format.bias.to_string() };
    let sign = if format.signed { "s" } else { "u" };
    format!("e{}m{}b{bias}{sign}_{nan}", format.exponent_bits, format.mantissa_bits)
}

/// The constants of one format the templates are instantiated with.
struct FormatConsts {
    name: String,
    e: u32,
    m: u32,
    bias: i32,
    signed: bool,
    nan: NanEncoding,
    sign_bit: u32,
    exp_mask: u32,
    man_mask: u32,
    mag_all: u32,
    max_mag: u32,
}

impl FormatConsts {
    fn new(format: &FloatType) -> FormatConsts {
        let e = u32::from(format.exponent_bits);
        let m = u32::from(format.mantissa_bits);
        let mag_all = ((1u64 << (e + m)) - 1) as u32;
        let exp_mask = (1u32 << e) - 1;
        let man_mask = ((1u64 << m) - 1) as u32;
        let max_mag = match format.nan {
            NanEncoding::Ieee => ((exp_mask - 1) << m) | man_mask,
            NanEncoding::Fn => mag_all - 1,
            NanEncoding::Fnuz | NanEncoding::None => mag_all,
        };
        FormatConsts {
            name: format_name(format),
            e,
            m,
            bias: format.bias,
            signed: format.signed,
            nan: format.nan,
            sign_bit: if format.signed { 1 << (e + m) } else { 0 },
            exp_mask,
            man_mask,
            mag_all,
            max_mag,
        }
    }

    /// The code of NaN with sign `so` (already in position).
    fn nan_code(&self) -> String {
        match self.nan {
            NanEncoding::Ieee => {
                format!("(so | {}u)", (self.exp_mask << self.m) | (1u32 << self.m.saturating_sub(1)))
            }
            NanEncoding::Fn => format!("(so | {}u)", self.mag_all),
            NanEncoding::Fnuz => format!("{}u", self.sign_bit),
            NanEncoding::None => format!("(so | {}u)", self.max_mag),
        }
    }

    /// The code of an overflowed value with sign `so`, for rounding mode `rm`.
    fn overflow_code(&self) -> String {
        let saturated = format!("(so | {}u)", self.max_mag);
        let unrounded = match self.nan {
            NanEncoding::Ieee => format!("(so | {}u)", self.exp_mask << self.m),
            NanEncoding::Fn | NanEncoding::Fnuz => self.nan_code(),
            NanEncoding::None => saturated.clone(),
        };
        format!("select({unrounded}, {saturated}, rm == 1u)")
    }
}

/// Requires `dec_<fmt>(code) -> u32`: the exact f32 bit pattern of a code. Returns the function name.
pub(super) fn require_decode(prelude: &mut Prelude, format: &FloatType) -> String {
    let c = FormatConsts::new(format);
    let name = format!("dec_{}", c.name);
    if DataType::Float(*format) == DataType::BF16 {
        // bf16 is the top half of an f32: every code, subnormals and NaN payloads included.
        prelude.require(&name, || format!("fn {name}(code: u32) -> u32 {{\n    return code << 16u;\n}}\n"));
        return name;
    }
    if DataType::Float(*format) == DataType::F16 {
        // Branch-free, because activations are decoded in the hot loop of every a16 kernel: normal codes
        // rebias the exponent (+112), subnormals are m * 2^-24 (an exact product of an integer below 2^10
        // and a power of two, with a normal f32 result), infinities and NaNs widen their fraction.
        prelude.require(&name, || {
            format!(
                "fn {name}(code: u32) -> u32 {{\n    let so = (code & 0x8000u) << 16u;\n    let em = code & 0x7fffu;\n    let normal = (em << 13u) + 0x38000000u;\n    let subnormal = bitcast<u32>(f32(em) * 5.9604644775390625e-8);\n    let special = 0x7f800000u | ((em & 0x3ffu) << 13u);\n    return so | select(select(normal, special, em >= 0x7c00u), subnormal, em < 0x400u);\n}}\n"
            )
        });
        return name;
    }
    prelude.require(&name, || {
        let sign = if c.signed { format!("((code >> {}u) & 1u) << 31u", c.e + c.m) } else { "0u".to_string() };
        let special = match c.nan {
            // An IEEE NaN widens: its fraction becomes the top fraction bits of the f32 NaN.
            NanEncoding::Ieee => format!(
                "    if (e == {em}u) {{ return so | 0x7f800000u | (m << {shift}u); }}\n",
                em = c.exp_mask,
                shift = 23 - c.m
            ),
            NanEncoding::Fn => format!("    if ((code & {all}u) == {all}u) {{ return so | 0x7fc00000u; }}\n", all = c.mag_all),
            // The fnuz NaN is the negative-zero pattern: a negative quiet NaN.
            NanEncoding::Fnuz => format!("    if (code == {}u) {{ return 0xffc00000u; }}\n", c.sign_bit),
            NanEncoding::None => String::new(),
        };
        let finite = if !c.signed {
            // Unsigned formats have neither zero nor subnormals: every exponent field is normal.
            format!(
                "    let sig = (m << {shift}u) | 0x800000u;\n    let x = i32(e) - {bias};\n",
                shift = 23 - c.m,
                bias = c.bias
            )
        } else if c.m == 0 {
            format!("    if (e == 0u) {{ return so; }}\n    let sig = 0x800000u;\n    let x = i32(e) - {bias};\n", bias = c.bias)
        } else {
            format!(
                "    var sig: u32;\n    var x: i32;\n    if (e == 0u) {{\n        if (m == 0u) {{ return so; }}\n        let p = 31u - countLeadingZeros(m);\n        sig = m << (23u - p);\n        x = i32(p) + {sub};\n    }} else {{\n        sig = (m << {shift}u) | 0x800000u;\n        x = i32(e) - {bias};\n    }}\n",
                sub = 1 - c.bias - c.m as i32,
                shift = 23 - c.m,
                bias = c.bias
            )
        };
        format!(
            "fn {name}(code: u32) -> u32 {{\n    let so = {sign};\n    let e = (code >> {m}u) & {em}u;\n    let m = code & {mm}u;\n{special}{finite}    let fe = x + 127;\n    if (fe >= 1) {{ return so | (u32(fe) << 23u) | (sig & 0x7fffffu); }}\n    return so | (sig >> u32(1 - fe));\n}}\n",
            m = c.m,
            em = c.exp_mask,
            mm = c.man_mask,
        )
    });
    name
}

/// Requires `round_<fmt>(so, sig, ex, rm, rnd) -> u32`: the code of the finite nonzero value
/// `sig / 2^31 * 2^ex` (`sig` has bit 31 set) with sign bits `so`, rounded once as
/// `FloatType::encode_exact` rounds: onto the grid of the format with an unbounded exponent range, then
/// overflow. Under stochastic rounding (`rm == 2`) the magnitude rounds up when `rnd` is below the first
/// 32 bits of the discarded fraction.
pub(super) fn require_round(prelude: &mut Prelude, format: &FloatType) -> String {
    let c = FormatConsts::new(format);
    let name = format!("round_{}", c.name);
    prelude.require(&name, || {
        let min_normal = i32::from(c.signed) - c.bias;
        let overflow = c.overflow_code();
        let zero = if c.nan == NanEncoding::Fnuz { "0u" } else { "so" };
        // Unsigned formats: below the smallest value gives the smallest value (code 0); to nearest rounds
        // ties up, and any input below 2^-126 (an f32 subnormal) up, as ml_dtypes does.
        let (below, tiny_up, nearest_up) = if c.signed {
            (String::new(), String::new(), "rem > half || (rem == half && (units & 1u) == 1u)".to_string())
        } else {
            (
                format!("    if (ex < {min_normal}) {{ return 0u; }}\n"),
                " || (rm == 0u && ex < -126)".to_string(),
                "select(rem >= half, rem != 0u, ex < -126)".to_string(),
            )
        };
        format!(
            "fn {name}(so: u32, sig: u32, ex: i32, rm: u32, rnd: u32) -> u32 {{\n{below}    var q = max(ex, {min_normal}) - {m};\n    let d = q - ex + 31;\n    var units = 0u;\n    var up = false;\n    if (d > 32) {{\n        up = (rm == 2u && d < 64 && rnd < (sig >> u32(d - 32))){tiny_up};\n    }} else {{\n        var rem = sig;\n        if (d < 32) {{\n            units = sig >> u32(d);\n            rem = sig & ((1u << u32(d)) - 1u);\n        }}\n        let half = 1u << u32(d - 1);\n        if (rm == 0u) {{ up = {nearest_up}; }}\n        if (rm == 2u) {{ up = rnd < select(sig, rem << u32(32 - d), d < 32); }}\n    }}\n    units = units + select(0u, 1u, up);\n    if ((units >> {m1}u) != 0u) {{\n        units = units >> 1u;\n        q = q + 1;\n    }}\n    if (units == 0u) {{ return {zero}; }}\n    var field = 0;\n    if ((units >> {m}u) != 0u) {{ field = q + {field_offset}; }}\n    if (field > {max_field}) {{ return {overflow}; }}\n    let mag = (u32(field) << {m}u) | (units & {mm}u);\n    if (mag > {max}u) {{ return {overflow}; }}\n    return so | mag;\n}}\n",
            m = c.m,
            m1 = c.m + 1,
            mm = c.man_mask,
            field_offset = c.m as i32 + c.bias,
            max_field = c.max_mag >> c.m,
            max = c.max_mag,
        )
    });
    name
}

/// Requires `enc_<fmt>(x, rm, rnd) -> u32`: the code of the f32 with bit pattern `x`, rounded once.
pub(super) fn require_encode(prelude: &mut Prelude, format: &FloatType) -> String {
    let round = require_round(prelude, format);
    let c = FormatConsts::new(format);
    let name = format!("enc_{}", c.name);
    prelude.require(&name, || {
        let so = if c.signed { format!("select(0u, {}u, s == 1u)", c.sign_bit) } else { "0u".to_string() };
        let nan_input = match c.nan {
            // An IEEE NaN keeps its sign and the top fraction bits, and stays a NaN.
            NanEncoding::Ieee => format!(
                "(so | {inf}u | select(payload, {quiet}u, payload == 0u))",
                inf = c.exp_mask << c.m,
                quiet = 1u32 << (c.m - 1)
            ),
            // No NaN: a zero whose sign is the inverse of the NaN's.
            NanEncoding::None => format!("select({}u, 0u, s == 1u)", c.sign_bit),
            _ => c.nan_code(),
        };
        let payload = if c.nan == NanEncoding::Ieee {
            format!("    let payload = (ax & 0x7fffffu) >> {}u;\n", 23 - c.m)
        } else {
            String::new()
        };
        let infinite = match c.nan {
            NanEncoding::Ieee => format!("(so | {}u)", c.exp_mask << c.m),
            NanEncoding::Fn | NanEncoding::Fnuz => c.nan_code(),
            NanEncoding::None => format!("(so | {}u)", c.max_mag),
        };
        // Unsigned formats have no zero and no negative values: both are NaN.
        let unsigned_rules = if c.signed {
            String::new()
        } else {
            format!("    if (s == 1u || ax == 0u) {{ return {}; }}\n", c.nan_code())
        };
        let zero = if c.nan == NanEncoding::Fnuz { "0u" } else { "so" };
        format!(
            "fn {name}(x: u32, rm: u32, rnd: u32) -> u32 {{\n    let s = x >> 31u;\n    let ax = x & 0x7fffffffu;\n    let so = {so};\n{payload}    if (ax > 0x7f800000u) {{ return {nan_input}; }}\n{unsigned_rules}    if (ax == 0x7f800000u) {{ return {infinite}; }}\n    if (ax == 0u) {{ return {zero}; }}\n    if (ax < 0x800000u) {{\n        let lz = countLeadingZeros(ax);\n        return {round}(so, ax << lz, -118 - i32(lz), rm, rnd);\n    }}\n    return {round}(so, ((ax & 0x7fffffu) | 0x800000u) << 8u, i32(ax >> 23u) - 127, rm, rnd);\n}}\n"
        )
    });
    name
}

/// Requires `i2f_<fmt>(neg, mag, rm, rnd) -> u32`: the code nearest `±mag`, rounded once.
fn require_int_to_float(prelude: &mut Prelude, format: &FloatType) -> String {
    let round = require_round(prelude, format);
    let encode = require_encode(prelude, format);
    let c = FormatConsts::new(format);
    let name = format!("i2f_{}", c.name);
    prelude.require(&name, || {
        let so = if c.signed { format!("select(0u, {}u, neg)", c.sign_bit) } else { "0u".to_string() };
        let negative = if c.signed { String::new() } else { format!("    if (neg) {{ return {encode}(0xbf800000u, rm, rnd); }}\n") };
        format!(
            "fn {name}(neg: bool, mag: u32, rm: u32, rnd: u32) -> u32 {{\n    if (mag == 0u) {{ return {encode}(0u, rm, rnd); }}\n{negative}    let lz = countLeadingZeros(mag);\n    return {round}({so}, mag << lz, 31 - i32(lz), rm, rnd);\n}}\n"
        )
    });
    name
}

/// Requires `f2i_<s|u><bits>(x) -> u32`: the integer code of the f32 bits `x`, truncated toward zero and
/// saturated; NaN → 0.
fn require_float_to_int(prelude: &mut Prelude, signed: bool, bits: u32) -> String {
    let name = format!("f2i_{}{bits}", if signed { "s" } else { "u" });
    prelude.require(&name, || {
        let result = if signed {
            let max_pos = (1u64 << (bits - 1)) - 1;
            let max_neg = 1u64 << (bits - 1);
            let mask = ((1u64 << bits) - 1) as u32;
            format!(
                "    if (neg) {{ return (0u - min(mag, {max_neg}u)) & {mask}u; }}\n    return min(mag, {max_pos}u);\n"
            )
        } else {
            let max = ((1u64 << bits) - 1) as u32;
            format!("    if (neg) {{ return 0u; }}\n    return min(mag, {max}u);\n")
        };
        format!(
            "fn {name}(x: u32) -> u32 {{\n    let ax = x & 0x7fffffffu;\n    if (ax > 0x7f800000u) {{ return 0u; }}\n    let neg = (x >> 31u) == 1u;\n    let ex = i32(ax >> 23u) - 127;\n    if (ex < 0) {{ return 0u; }}\n    var mag = 0xffffffffu;\n    if (ex < 32) {{ mag = (((ax & 0x7fffffu) | 0x800000u) << 8u) >> u32(31 - ex); }}\n{result}}}\n"
        )
    });
    name
}

/// WGSL for the `u32` code of `to` that `dtype::cast(from, to, code, rounding, index)` gives for the
/// code `code` of `from`; `index` is a `u32` expression (element indices above 2^32 do not occur in a
/// tile).
pub(super) fn cast_code(
    prelude: &mut Prelude,
    from: DataType,
    to: DataType,
    code: &str,
    rounding: Rounding,
    index: &str,
) -> String {
    if from == to {
        return code.to_string();
    }
    let (rm, rnd) =
        if to.is_float() { rounding_args(prelude, rounding, index) } else { (0, "0u".to_string()) };
    match (from, to) {
        (DataType::Float(source), DataType::Float(target)) => {
            let bits = f32_bits(prelude, &source, code);
            if to == DataType::F32 {
                bits
            } else {
                format!("{}({bits}, {rm}u, {rnd})", require_encode(prelude, &target))
            }
        }
        (DataType::Float(source), DataType::Bool) => {
            let bits = f32_bits(prelude, &source, code);
            let magnitude = format!("({bits} & 0x7fffffffu)");
            format!("select(0u, 1u, {magnitude} != 0u && {magnitude} <= 0x7f800000u)")
        }
        (DataType::Float(source), DataType::Int(target)) => {
            let bits = f32_bits(prelude, &source, code);
            format!("{}({bits})", require_float_to_int(prelude, target.signed, u32::from(target.bits)))
        }
        // Integers of at most 24 bits are f32 values: the hardware conversion is exact, whatever the
        // rounding mode (this is the weight decode of every low-bit GEMV).
        (DataType::Bool | DataType::Int(_), DataType::Float(_))
            if to == DataType::F32 && from.bits() <= 24 =>
        {
            format!("bitcast<u32>(f32({}))", int_value(from, code))
        }
        (_, DataType::Float(target)) => {
            let value = int_value(from, code);
            let convert = require_int_to_float(prelude, &target);
            if from.signed_int() {
                format!(
                    "{convert}({value} < 0i, select(bitcast<u32>({value}), 0u - bitcast<u32>({value}), {value} < 0i), {rm}u, {rnd})"
                )
            } else {
                format!("{convert}(false, {value}, {rm}u, {rnd})")
            }
        }
        (_, DataType::Bool) => format!("select(0u, 1u, {code} != 0u)"),
        (_, DataType::Int(target)) => {
            let value = int_value(from, code);
            let value = if from.signed_int() { format!("bitcast<u32>({value})") } else { value };
            if target.bits >= 32 { value } else { format!("({value} & {}u)", (1u32 << target.bits) - 1) }
        }
    }
}

/// The f32 bit pattern of a float code, decoded arithmetically. For formats of at most 4 bits a 16-entry
/// `const` table was measured too (tests/backends/gpu_timing.rs, f4e2m1fn → f32 of 4096×4096 on lavapipe): within
/// noise of each other (34-35 ms either way; 29-31 ms decoding alone), so the one arithmetic path stays.
fn f32_bits(prelude: &mut Prelude, format: &FloatType, code: &str) -> String {
    if DataType::Float(*format) == DataType::F32 {
        code.to_string()
    } else {
        format!("{}({code})", require_decode(prelude, format))
    }
}

/// The value of an integer (or bool) code: an `i32` expression for signed types, else `u32`.
fn int_value(dtype: DataType, code: &str) -> String {
    match dtype {
        DataType::Int(int) if int.signed && int.bits < 32 => {
            let shift = 32 - u32::from(int.bits);
            format!("(bitcast<i32>({code} << {shift}u) >> {shift}u)")
        }
        DataType::Int(int) if int.signed => format!("bitcast<i32>({code})"),
        _ => code.to_string(),
    }
}

/// Small dtype predicates the backend needs.
pub(super) trait DataTypeExt {
    /// A two's-complement integer.
    fn signed_int(&self) -> bool;
}

impl DataTypeExt for DataType {
    fn signed_int(&self) -> bool {
        matches!(*self, DataType::Int(int) if int.signed)
    }
}
