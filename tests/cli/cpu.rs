//! The CPU backend from the command line: `tilevm compile --emit isel|clif|asm`, and `tilevm bench`'s
//! records.

use std::process::Command;

/// The stdout of `tilevm compile examples/gemv_a16w4.tile --emit EMIT`, which must succeed.
fn compile_gemv(emit: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tilevm"))
        .args(["compile", concat!(env!("CARGO_MANIFEST_DIR"), "/examples/gemv_a16w4.tile"), "--emit", emit])
        .output()
        .unwrap();
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn compile_emits_the_selected_operations() {
    let text = compile_gemv("isel");
    assert!(text.starts_with("kernel gemv\n"), "{text}");
    // One `->` line per instruction, naming the rule; the GEMV's loads and casts take vector paths.
    let instructions = text.lines().filter(|line| line.trim_start().starts_with('#')).count();
    assert_eq!(text.matches("\n       -> ").count(), instructions, "{text}");
    assert!(text.contains("-> global-load: load: vector"), "{text}");
    assert!(text.contains("-> vector-cast: vector cast F16ToF32"), "{text}");
}

#[test]
fn compile_emits_clif_for_every_kernel() {
    let text = compile_gemv("clif");
    // One grid function and one per-block function, the latter with checked packed loads.
    assert_eq!(text.matches("function %tilevm_").count(), 2, "{text}");
    assert!(text.contains("_grid("), "{text}");
    assert!(text.contains("uload8") || text.contains("load.i64"), "no global loads in:\n{text}");
}

#[test]
fn compile_emits_host_machine_code() {
    let text = compile_gemv("asm");
    assert!(text.starts_with("; kernel `gemv` ("), "{text}");
    // A function body with returns and (on x86-64) vector instructions.
    assert!(text.contains("ret"), "{text}");
    if cfg!(target_arch = "x86_64") {
        assert!(text.contains("%xmm"), "no vector registers in:\n{text}");
    }
}

/// The JSON records of one `tilevm bench --suite SUITE --backend cpu --runs 1` run with `args`.
fn bench_records(suite: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let json = std::env::temp_dir().join(format!("tilevm-bench-{suite}-{}.json", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_tilevm"))
        .args(["bench", "--suite", suite, "--backend", "cpu", "--runs", "1"])
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let records = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    records
}

/// `tilevm bench` at a small size: one record per variant and width, with consistent derived figures.
#[test]
fn bench_writes_consistent_records() {
    let records = bench_records("gemv", &["--n", "128", "--k", "256"]);
    // Three variants (the stdlib's a16 and q8, the example) at four widths.
    assert_eq!(records.len(), 12, "{records:?}");
    for record in &records {
        let number = |field: &str| record[field].as_f64().unwrap_or_else(|| panic!("{field} in {record}"));
        assert_eq!((&record["backend"], &record["suite"]), (&"cpu".into(), &"gemv".into()), "{record}");
        assert!(["a16", "q8", "example"].contains(&record["kernel"].as_str().unwrap()), "{record}");
        assert!(number("compile_s") >= 0.0, "{record}");
        let bits: usize = record["dtype"].as_str().unwrap().trim_start_matches('u').parse().unwrap();
        assert_eq!((number("m"), number("n"), number("k")), (1.0, 128.0, 256.0));
        let weight_bytes = (128 * 256 * bits / 8) as f64;
        let total_bytes = weight_bytes + (128 * 2 * 2 + 256 * 2 + 128 * 2) as f64;
        let median = number("median_s");
        assert!(median > 0.0 && number("best_s") <= median, "{record}");
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
        assert!(close(number("bytes_per_s"), total_bytes / median), "{record}");
        assert!(close(number("weight_bytes_per_s"), weight_bytes / median), "{record}");
        assert!(close(number("roofline_fraction"), number("bytes_per_s") / number("roofline_bytes_per_s")));
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_tilevm")).args(["bench", "--k", "100"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2), "a k that is not a multiple of the group is a usage error");
}

/// `tilevm bench --suite kernels` at a small size: one record per kernel, whose bytes per second are the
/// bytes the kernel must move over its median time.
#[test]
fn bench_kernels_suite_writes_one_record_per_kernel() {
    let records = bench_records("kernels", &["--n", "16", "--k", "1024"]);
    let elements = 16.0 * 1024.0;
    // What each kernel reads and writes, from its signature in `examples/`.
    let expected_bytes = |kernel: &str, dtype: &str| match (kernel, dtype) {
        ("vector_add", "f32") => 3.0 * 4.0 * elements,
        ("vector_add", "f16") => 3.0 * 2.0 * elements,
        ("dequant", "u4") => elements / 2.0 + 16.0 * 16.0 * 2.0 + elements * 2.0,
        ("relu_rows", "f32") => 2.0 * 4.0 * elements,
        ("shared_stage", "f16") => 2.0 * 2.0 * elements,
        ("unpack_view", "u4") => elements / 2.0 + elements * 2.0,
        other => panic!("unexpected kernel {other:?}"),
    };
    assert_eq!(records.len(), 6, "{records:?}");
    for record in &records {
        let number = |field: &str| record[field].as_f64().unwrap_or_else(|| panic!("{field} in {record}"));
        assert_eq!(record["suite"], "kernels");
        let bytes = expected_bytes(record["kernel"].as_str().unwrap(), record["dtype"].as_str().unwrap());
        let median = number("median_s");
        assert!((number("bytes_per_s") - bytes / median).abs() <= 1e-9 * bytes / median, "{record}");
    }
    let unknown = Command::new(env!("CARGO_BIN_EXE_tilevm"))
        .args(["bench", "--suite", "kernels", "--kernel", "nope", "--n", "16", "--k", "1024"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2), "an unknown --kernel is a usage error");
}
