//! `tilevm dtype`: encode, decode, pack and describe data types, one value per line (for scripts).
//!
//! `encode`, `decode` and `pack` stream stdin to stdout.
//! A malformed line or a code too wide for the type stops the command with an error that names the line
//! (exit status 2); what was printed before it stays printed.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufWriter, Write};

use clap::{Args, Subcommand, ValueEnum};
use tilevm_vm::dtype::{DataType, FloatType, NanEncoding, Rounding, cast};
use tilevm_vm::packing::Packer;

use super::{CliError, CliResult};

/// `tilevm dtype ...`.
#[derive(Args)]
pub struct DtypeArgs {
    #[command(subcommand)]
    command: DtypeCommand,
}

#[derive(Subcommand)]
enum DtypeCommand {
    /// Read one float32 bit pattern per line (0x3f800000) and print its code in TYPE (lowercase hex such
    /// as 0x38, or `nan` when the result is a NaN).
    ///
    /// Integer types truncate toward zero and saturate. With `--rounding stochastic`, line n is element
    /// n - 1 of the stochastic rounding.
    Encode {
        /// The target type (f8e4m3fn, bf16, float4_e2m1fn, u4, ...).
        #[arg(value_name = "TYPE")]
        dtype: DataType,
        /// How values between two codes are rounded.
        #[arg(long, value_enum, default_value_t = RoundingMode::NearestEven)]
        rounding: RoundingMode,
        /// The seed of stochastic rounding.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Read one code per line (hex, 0x38) and print its value: a float32 bit pattern (0x%08x) or `nan` for
    /// float types, a decimal number for integer types and bool.
    Decode {
        /// The type of the codes.
        #[arg(value_name = "TYPE")]
        dtype: DataType,
    },
    /// Read one code per line (hex) and print them packed into a little-endian bit stream, as one
    /// lowercase hex string of bytes without 0x (element i in bits [i*b, i*b+b)).
    Pack {
        /// The type of the codes.
        #[arg(value_name = "TYPE")]
        dtype: DataType,
    },
    /// Describe TYPE: bits, exponent, mantissa and bias, NaN convention, max finite, min normal and min
    /// subnormal, and a table of every code and value for types of 8 bits or fewer.
    Info {
        /// The type to describe.
        #[arg(value_name = "TYPE")]
        dtype: DataType,
    },
}

/// `--rounding`.
#[derive(Clone, Copy, ValueEnum)]
enum RoundingMode {
    /// To nearest, ties to even (ml_dtypes' astype).
    NearestEven,
    /// Toward zero; finite overflow gives the largest finite value.
    TowardZero,
    /// Stochastic, reproducible from --seed and the line number.
    Stochastic,
}

/// Runs `tilevm dtype ...`.
pub fn run(args: DtypeArgs) -> CliResult {
    let result = match args.command {
        DtypeCommand::Encode { dtype, rounding, seed } => {
            let rounding = match rounding {
                RoundingMode::NearestEven => Rounding::NearestEven,
                RoundingMode::TowardZero => Rounding::TowardZero,
                RoundingMode::Stochastic => Rounding::Stochastic { seed },
            };
            encode(dtype, rounding)
        }
        DtypeCommand::Decode { dtype } => decode(dtype),
        DtypeCommand::Pack { dtype } => pack(dtype),
        DtypeCommand::Info { dtype } => info(dtype),
    };
    match result {
        Ok(()) => Ok(()),
        Err(Failure::Line(number, message)) => Err(CliError::Input(format!("line {number}: {message}"))),
        // A reader that went away (`| head`) is not an error of ours.
        Err(Failure::Output(error)) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(Failure::Output(error)) => Err(CliError::Input(format!("cannot write the output: {error}"))),
    }
}

/// Why a command stopped.
enum Failure {
    /// Bad input on a line (1-based).
    Line(usize, String),
    /// Writing to stdout failed.
    Output(io::Error),
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        Failure::Output(error)
    }
}

/// Calls `each` with the number (1-based) and the trimmed text of every line of stdin, and the buffered
/// stdout, which it returns for the last words and the flush.
fn for_each_line(
    mut each: impl FnMut(usize, &str, &mut dyn Write) -> Result<(), Failure>,
) -> Result<BufWriter<io::StdoutLock<'static>>, Failure> {
    let mut output = BufWriter::new(io::stdout().lock());
    for (index, line) in io::stdin().lock().lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|error| Failure::Line(number, format!("cannot read the input: {error}")))?;
        each(number, line.trim(), &mut output)?;
    }
    Ok(output)
}

fn encode(dtype: DataType, rounding: Rounding) -> Result<(), Failure> {
    let mut output = for_each_line(|number, line, output| {
        let bits = parse_hex(line, 32).map_err(|error| {
            Failure::Line(number, error.message(line, "a float32 bit pattern such as 0x3f800000", "f32"))
        })?;
        let code = cast(DataType::F32, dtype, bits, rounding, number as u64 - 1);
        match dtype {
            DataType::Float(float) if float.is_nan(code as u32) => writeln!(output, "nan")?,
            _ => writeln!(output, "{}", format_code(dtype, code))?,
        }
        Ok(())
    })?;
    Ok(output.flush()?)
}

fn decode(dtype: DataType) -> Result<(), Failure> {
    let mut output = for_each_line(|number, line, output| {
        let code = parse_code(number, line, dtype)?;
        match dtype {
            DataType::Float(float) => {
                let value = float.decode_f32(code as u32);
                if value.is_nan() {
                    writeln!(output, "nan")?;
                } else {
                    writeln!(output, "{:#010x}", value.to_bits())?;
                }
            }
            DataType::Int(_) | DataType::Bool => {
                writeln!(output, "{}", dtype.int_value(code).unwrap_or_default())?;
            }
        }
        Ok(())
    })?;
    Ok(output.flush()?)
}

fn pack(dtype: DataType) -> Result<(), Failure> {
    let mut packer = Packer::new(dtype.bits());
    let mut bytes = Vec::new();
    let mut output = for_each_line(|number, line, output| {
        let code = parse_code(number, line, dtype)?;
        bytes.clear();
        packer.push(code, |byte| bytes.push(byte));
        bytes.iter().try_for_each(|byte| write!(output, "{byte:02x}"))?;
        Ok(())
    })?;
    bytes.clear();
    packer.finish(|byte| bytes.push(byte));
    bytes.iter().try_for_each(|byte| write!(output, "{byte:02x}"))?;
    writeln!(output)?;
    Ok(output.flush()?)
}

fn info(dtype: DataType) -> Result<(), Failure> {
    let mut text = String::new();
    let mut field = |name: &str, value: String| {
        let _ = writeln!(text, "{:<15}{value}", format!("{name}:"));
    };
    field("type", dtype.to_string());
    field("ml_dtypes", dtype.ml_dtypes_name());
    field("bits", dtype.bits().to_string());
    match dtype {
        DataType::Bool => {
            field("values", "0 is false, 1 is true".to_owned());
        }
        DataType::Int(int) => {
            field("signed", yes_no(int.signed));
            field("min", format!("{} ({})", int.min_value(), format_code(dtype, dtype.min_finite_code())));
            field("max", format!("{} ({})", int.max_value(), format_code(dtype, dtype.max_finite_code())));
        }
        DataType::Float(float) => {
            field("sign", (if float.signed { "1 bit" } else { "none (unsigned)" }).to_owned());
            field("exponent", bits(float.exponent_bits));
            field("mantissa", bits(float.mantissa_bits));
            field("bias", float.bias.to_string());
            field("nan", describe_nan(float));
            field("infinities", yes_no(float.has_inf()));
            field("negative zero", yes_no(float.has_negative_zero()));
            field("overflow", format!("{:?}", float.overflow()).to_lowercase());
            let value = |code: u32| {
                format!("{} ({})", format_value(float.decode_f32(code)), format_code(dtype, u64::from(code)))
            };
            field("max finite", value(float.max_finite_code()));
            field("min normal", value(float.min_normal_code()));
            field("min subnormal", value(float.min_subnormal_code()));
        }
    }
    if dtype.bits() <= 8 {
        let _ = writeln!(text);
        let code_width = format_code(dtype, 0).len().max(4);
        match dtype {
            DataType::Float(float) => {
                let _ = writeln!(text, "{:<code_width$}  {:<10}  value", "code", "f32_bits");
                for code in 0..1u32 << dtype.bits() {
                    let value = float.decode_f32(code);
                    let bits =
                        if value.is_nan() { "nan".to_owned() } else { format!("{:#010x}", value.to_bits()) };
                    let code = format_code(dtype, u64::from(code));
                    let _ = writeln!(text, "{code:<code_width$}  {bits:<10}  {}", format_value(value));
                }
            }
            DataType::Int(_) | DataType::Bool => {
                let _ = writeln!(text, "{:<code_width$}  value", "code");
                for code in 0..1u64 << dtype.bits() {
                    let value = dtype.int_value(code).unwrap_or_default();
                    let _ = writeln!(text, "{:<code_width$}  {value}", format_code(dtype, code));
                }
            }
        }
    }
    let mut output = io::stdout().lock();
    output.write_all(text.as_bytes())?;
    Ok(output.flush()?)
}

/// Why a line is not a hex code.
enum HexError {
    Malformed,
    TooWide(u32),
}

impl HexError {
    fn message(&self, line: &str, expected: &str, dtype: &str) -> String {
        match self {
            HexError::Malformed => format!("expected {expected}, found `{line}`"),
            HexError::TooWide(bits) => format!("`{line}` does not fit in {bits} bits ({dtype})"),
        }
    }
}

/// Parses one hex number (with or without `0x`) of at most `bits` bits.
fn parse_hex(line: &str, bits: u32) -> Result<u64, HexError> {
    let digits = line.strip_prefix("0x").or_else(|| line.strip_prefix("0X")).unwrap_or(line);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(HexError::Malformed);
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > 16 {
        return Err(HexError::TooWide(bits));
    }
    let code = u64::from_str_radix(significant, 16).unwrap_or(0);
    if bits < 64 && code >> bits != 0 {
        return Err(HexError::TooWide(bits));
    }
    Ok(code)
}

/// Parses the code of `dtype` on line `number`.
fn parse_code(number: usize, line: &str, dtype: DataType) -> Result<u64, Failure> {
    parse_hex(line, dtype.bits()).map_err(|error| {
        let expected = format!("a hex code of {dtype} such as 0x1");
        Failure::Line(number, error.message(line, &expected, &dtype.to_string()))
    })
}

/// A code as lowercase hex with `0x` and one digit per 4 bits (`0xf` for 4 bits, `0x3f80` for 16).
fn format_code(dtype: DataType, code: u64) -> String {
    let digits = dtype.bits().div_ceil(4) as usize;
    format!("0x{code:0digits$x}")
}

/// A value in the shortest decimal that reads back as the same `f32`; exponent form far from 1.
fn format_value(value: f32) -> String {
    let magnitude = value.abs();
    if value.is_nan() {
        "nan".to_owned()
    } else if magnitude == 0.0 || (1e-4..1e7).contains(&magnitude) || magnitude.is_infinite() {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

fn describe_nan(float: FloatType) -> String {
    match float.nan {
        NanEncoding::Ieee => "ieee: the all-ones exponent is ±inf (zero mantissa) or NaN".to_owned(),
        NanEncoding::Fn if !float.signed => {
            "fnu: unsigned, no zero, no infinities; only all ones is NaN".to_owned()
        }
        NanEncoding::Fn => "fn: no infinities; only the all-ones pattern (either sign) is NaN".to_owned(),
        NanEncoding::Fnuz => "fnuz: no infinities, no -0; only the -0 pattern is NaN".to_owned(),
        NanEncoding::None => "none: no NaN, no infinities".to_owned(),
    }
}

fn bits(count: u8) -> String {
    format!("{count} bit{}", if count == 1 { "" } else { "s" })
}

fn yes_no(flag: bool) -> String {
    (if flag { "yes" } else { "no" }).to_owned()
}
