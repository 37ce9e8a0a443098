//! `tilevm dtype`: the built binary reproduces every line of the ml_dtypes vector files, packs like
//! `packing.tsv`, and answers bad input with exit status 2 and the line number, never a panic.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;

/// What one run of the binary gave.
struct Output {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `tilevm <args>` with `input` on stdin.
fn tilevm(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tilevm"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tilevm binary runs");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // Feed stdin from a thread so that a large output cannot block the child.
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("tilevm finishes");
    writer.join().expect("the writer thread finishes");
    Output {
        status: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lowp/vectors")
}

/// Column `column` of every row after the header.
fn column(path: &Path, column: usize) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.lines().skip(1).map(|line| line.split('\t').nth(column).unwrap_or_default().to_owned()).collect()
}

fn format_names() -> Vec<String> {
    column(&vectors().join("formats.tsv"), 0)
}

/// Runs `tilevm dtype <command> <name>` over the first column of a vector file and compares every output
/// line with the second column.
fn check_file(command: &str, name: &str, path: &Path) -> usize {
    let inputs = column(path, 0);
    let expected = column(path, 1);
    let output = tilevm(&["dtype", command, name], (inputs.join("\n") + "\n").as_bytes());
    assert_eq!(output.status, Some(0), "{command} {name}: {}", output.stderr);
    let lines: Vec<&str> = output.stdout.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{command} {name}: one output line per input line");
    for (row, ((input, want), got)) in inputs.iter().zip(&expected).zip(&lines).enumerate() {
        assert_eq!(got, want, "{command} {name}, row {}: {input}", row + 2);
    }
    lines.len()
}

#[test]
fn decode_and_encode_reproduce_every_vector_line() {
    let mut files = 0;
    for name in format_names() {
        for command in ["decode", "encode"] {
            let path = vectors().join(format!("{name}.{command}.tsv"));
            if path.exists() {
                assert!(check_file(command, &name, &path) > 0);
                files += 1;
            }
        }
    }
    assert_eq!(files, 22, "11 formats have decode and encode files");
}

#[test]
fn canonical_names_work_like_the_ml_dtypes_names() {
    for (canonical, alias) in
        [("f8e4m3b11fnuz", "float8_e4m3b11fnuz"), ("f4e2m1fn", "float4_e2m1fn"), ("bf16", "bfloat16")]
    {
        let path = vectors().join(format!("{alias}.encode.tsv"));
        check_file("encode", canonical, &path);
    }
}

#[test]
fn formats_without_vector_files_decode_and_encode_consistently() {
    for name in format_names() {
        if vectors().join(format!("{name}.decode.tsv")).exists() {
            continue;
        }
        let info = tilevm(&["dtype", "info", &name], b"");
        assert_eq!(info.status, Some(0), "{name}: {}", info.stderr);
        let bits: u32 =
            info.stdout.lines().find_map(|line| line.strip_prefix("bits:")).unwrap().trim().parse().unwrap();
        let codes: Vec<String> = (0..1u32 << bits).map(|code| format!("0x{code:02x}")).collect();
        let decoded = tilevm(&["dtype", "decode", &name], (codes.join("\n") + "\n").as_bytes());
        assert_eq!(decoded.status, Some(0), "{name}: {}", decoded.stderr);
        // Decoding prints NaNs as `nan`; feed a quiet NaN back for them, which must encode to a NaN.
        let values = decoded.stdout.replace("nan", "0x7fc00000");
        let encoded = tilevm(&["dtype", "encode", &name], values.as_bytes());
        assert_eq!(encoded.status, Some(0), "{name}: {}", encoded.stderr);
        let expected: Vec<&str> = codes
            .iter()
            .zip(decoded.stdout.lines())
            .map(|(code, value)| if value == "nan" { "nan" } else { code })
            .collect();
        assert_eq!(encoded.stdout.lines().collect::<Vec<_>>(), expected, "{name}: encode(decode(c)) == c");
    }
}

#[test]
fn pack_matches_the_packing_vectors() {
    let path = vectors().join("packing.tsv");
    let widths = column(&path, 0);
    let codes = column(&path, 2);
    let packed = column(&path, 3);
    assert!(widths.len() > 80);
    for ((width, codes), packed) in widths.iter().zip(&codes).zip(&packed) {
        let input = codes.replace(',', "\n") + "\n";
        let output = tilevm(&["dtype", "pack", &format!("u{width}")], input.as_bytes());
        assert_eq!(output.status, Some(0), "u{width}: {}", output.stderr);
        assert_eq!(output.stdout, format!("{packed}\n"), "u{width} {codes}");
    }
}

#[test]
fn decode_prints_integers_in_decimal() {
    let output = tilevm(&["dtype", "decode", "i4"], b"0x0\n0x7\n0x8\n0xf\n");
    assert_eq!(output.stdout, "0\n7\n-8\n-1\n");
    let output = tilevm(&["dtype", "decode", "uint2"], b"3\n");
    assert_eq!(output.stdout, "3\n");
    let output = tilevm(&["dtype", "encode", "u4"], b"0x41700000\n0xbf800000\n0x7fc00000\n");
    assert_eq!(output.stdout, "0xf\n0x0\n0x0\n", "15, saturated -1, NaN → 0");
}

#[test]
fn rounding_options() {
    // 1.03125 lies a quarter of the way from 1.0 to 1.125 in f8e4m3fn.
    let input = "0x3f840000\n".repeat(400);
    let nearest = tilevm(&["dtype", "encode", "f8e4m3fn"], input.as_bytes());
    assert!(nearest.stdout.lines().all(|line| line == "0x38"));
    let truncated =
        tilevm(&["dtype", "encode", "f8e4m3fn", "--rounding", "toward-zero"], b"0x3f9fffff\n0x7f7fffff\n");
    assert_eq!(truncated.stdout, "0x39\n0x7e\n");
    let stochastic = |seed: &str| {
        tilevm(&["dtype", "encode", "f8e4m3fn", "--rounding", "stochastic", "--seed", seed], input.as_bytes())
            .stdout
    };
    let first = stochastic("7");
    assert_eq!(first, stochastic("7"), "reproducible");
    assert_ne!(first, stochastic("8"));
    let ups = first.lines().filter(|&line| line == "0x39").count();
    assert!((60..140).contains(&ups), "about a quarter round up: {ups} of 400");
}

#[test]
fn info_describes_a_format_with_all_its_values() {
    let output = tilevm(&["dtype", "info", "f4e2m1fn"], b"");
    assert_eq!(output.status, Some(0));
    for expected in
        ["bits:          4", "bias:          1", "max finite:    6 (0x7)", "min subnormal: 0.5 (0x1)"]
    {
        assert!(output.stdout.contains(expected), "{expected}\n{}", output.stdout);
    }
    assert!(output.stdout.contains("0xf   0xc0c00000  -6"), "{}", output.stdout);
    for name in format_names().iter().map(String::as_str).chain(["u4", "i3", "bool", "f16", "f32", "i64"]) {
        let output = tilevm(&["dtype", "info", name], b"");
        assert_eq!(output.status, Some(0), "{name}: {}", output.stderr);
        assert!(output.stdout.starts_with("type:"), "{name}");
    }
}

/// Runs a command that must fail on bad input: exit status 2, the expected words in the message, and no
/// panic.
#[track_caller]
fn check_rejected(args: &[&str], input: &[u8], expected: &str) {
    let output = tilevm(args, input);
    assert_eq!(output.status, Some(2), "{args:?}: {}", output.stderr);
    assert!(output.stderr.contains(expected), "{args:?}: expected `{expected}` in {}", output.stderr);
    assert!(!output.stderr.contains("panicked"), "{args:?}: {}", output.stderr);
}

#[test]
fn bad_input_exits_2_with_the_line_number() {
    check_rejected(
        &["dtype", "decode", "f8e4m3fn"],
        b"0x38\n0x3g\n",
        "line 2: expected a hex code of f8e4m3fn",
    );
    check_rejected(
        &["dtype", "decode", "f4e2m1fn"],
        b"0x1\n0x2\n0x10\n",
        "line 3: `0x10` does not fit in 4 bits",
    );
    check_rejected(&["dtype", "pack", "u3"], b"0x7\n0x8\n", "line 2: `0x8` does not fit in 3 bits (u3)");
    check_rejected(
        &["dtype", "encode", "bf16"],
        b"0x3f800000\n0x100000000\n",
        "line 2: `0x100000000` does not fit in 32 bits",
    );
    check_rejected(&["dtype", "encode", "bf16"], b"1.5\n", "line 1: expected a float32 bit pattern");
    check_rejected(&["dtype", "encode", "bf16"], b"0x0\n\n0x0\n", "line 2:");
    check_rejected(&["dtype", "decode", "u64"], b"0x1ffffffffffffffff\n", "line 1:");
    check_rejected(&["dtype", "decode", "u8"], b"0x\n", "line 1:");
    check_rejected(&["dtype", "decode", "u8"], b"-1\n", "line 1:");
    check_rejected(&["dtype", "decode", "u8"], b"0x1\n\xff\xfe\n", "line 2:");
    check_rejected(&["dtype", "encode", "f9e9m9"], b"", "exponent bits must be 1..=8");
    check_rejected(&["dtype", "info", "u0"], b"", "integer types have 1..=32 bits");
    check_rejected(&["dtype", "decode", "i33"], b"", "not 33");
    check_rejected(&["dtype", "info", "float9_e4m3"], b"", "expected bool, u1..u32");
    check_rejected(&["dtype", "frobnicate", "u4"], b"", "unrecognized subcommand");
}

#[test]
fn codes_up_to_64_bits_and_leading_zeros_are_accepted() {
    let output = tilevm(&["dtype", "decode", "u64"], b"0xffffffffffffffff\n0x0000000000000000001\nFF\n");
    assert_eq!(output.stdout, "18446744073709551615\n1\n255\n");
    let output = tilevm(&["dtype", "pack", "u64"], b"0x0123456789abcdef\n");
    assert_eq!(output.stdout, "efcdab8967452301\n");
    let output = tilevm(&["dtype", "pack", "u4"], b"");
    assert_eq!((output.status, output.stdout.as_str()), (Some(0), "\n"));
}
