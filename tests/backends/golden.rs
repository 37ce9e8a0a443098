//! Golden snapshots of code generation for every example and stdlib kernel (as naga's `tests/in` →
//! `tests/out`): the CPU backend's instruction selection and Cranelift IR for x86-64 with SSSE3, and the
//! WGSL and the WGSL backend's selection for the WebGPU default capabilities, whatever machine runs them.
//! A lost fast path or a changed shader fails here; `cargo insta review` shows the difference.
//!
//! Selection is pinned at the sizes `tilevm bench` runs (8192 x 8192, groups of 128), the CLIF at small
//! sizes with the benchmark's tile extent along K, and the WGSL at the small tiles the GPU runs the stdlib
//! at, so that the files stay readable.

use std::path::Path;

use tilevm::clif::{ClifTarget, TargetFeatures, lower_kernel, select, selection_text, to_clif_text};
use tilevm::lang::{CompileOptions, compile};
use tilevm::stdlib::gemv::gemv_a16wx_kernel;
use tilevm::stdlib::gemv_q8::{gemv_q8_wx_kernel, quantize_q8_kernel};
use tilevm::stdlib::linear::{LinearForm, LinearSpec, linear_kernel};
use tilevm::vm::DataType;
use tilevm::vm::dtype::IntType;
use tilevm::vm::verify::VerifiedKernel;
use tilevm::wgsl::{self, GpuCaps};

/// Every kernel of `examples/*.tile` with its default parameters, named `file.kernel`.
fn examples() -> Vec<(String, VerifiedKernel)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "tile"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "expected the example kernels, found {}", files.len());
    let mut kernels = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a readable example");
        let module = compile(&text, &CompileOptions::default())
            .unwrap_or_else(|diagnostics| panic!("{}: {diagnostics:?}", path.display()));
        let stem = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or("example").to_string();
        for kernel in module.into_kernels() {
            kernels.push((format!("{stem}.{}", kernel.name), kernel));
        }
    }
    kernels
}

fn uint(bits: u8) -> DataType {
    DataType::Int(IntType { signed: false, bits })
}

/// The stdlib kernels at `n` x `k` with groups of `group` (`rows` outputs per q8 block), the q8 GEMV for
/// each of `widths` and the a16 GEMV's u4, named `kernel.width`.
fn stdlib(n: u32, k: u32, group: u32, rows: usize, widths: &[u8]) -> Vec<(String, VerifiedKernel)> {
    let built =
        |kernel: Result<VerifiedKernel, tilevm::stdlib::StdlibError>| kernel.expect("a stdlib kernel");
    let mut kernels = vec![
        ("gemv_a16.u4".to_string(), built(gemv_a16wx_kernel(uint(4), n, k, group))),
        ("quantize_q8".to_string(), built(quantize_q8_kernel(k, group))),
    ];
    for &bits in widths {
        kernels.push((format!("gemv_q8.u{bits}"), built(gemv_q8_wx_kernel(uint(bits), n, k, group, rows))));
    }
    // The linear layer in both forms: q4_K's shape (u4 codes, f32 scales and offsets, four activation
    // rows) blocked for the CPU, and Q4_0's (i4 codes, f16 scales, one row) dequantized for a GPU.
    let affine = LinearSpec {
        activations: DataType::F16,
        codes: uint(4),
        scales: DataType::F32,
        affine: true,
        m: 4,
        n,
        k,
        group: 32,
    };
    let symmetric = LinearSpec {
        codes: DataType::Int(IntType { signed: true, bits: 4 }),
        scales: DataType::F16,
        affine: false,
        m: 1,
        ..affine
    };
    kernels.push((
        "linear.blocked.u4".to_string(),
        built(linear_kernel(LinearForm::Blocked { rows: 32 }, &affine)),
    ));
    kernels.push((
        "linear.dequantized.i4".to_string(),
        built(linear_kernel(LinearForm::Dequantized { rows: 32 }, &symmetric)),
    ));
    kernels
}

/// Every kernel whose selection is pinned.
fn selected_kernels() -> Vec<(String, VerifiedKernel)> {
    let mut kernels = examples();
    kernels.extend(stdlib(8192, 8192, 128, 128, &[1, 2, 3, 4, 5, 6, 7]));
    kernels
}

/// Every kernel whose CLIF is pinned: the stdlib at groups of 128, the K extent of the benchmark's tiles.
fn clif_kernels() -> Vec<(String, VerifiedKernel)> {
    let mut kernels = examples();
    kernels.extend(stdlib(64, 256, 128, 16, &[3, 4]));
    kernels
}

/// Every kernel whose WGSL is pinned: the stdlib's single-thread tiles at the small sizes the GPU runs
/// them at (`gemv_q8.rs`).
fn wgsl_kernels() -> Vec<(String, VerifiedKernel)> {
    let mut kernels = examples();
    kernels.extend(stdlib(16, 64, 32, 4, &[3, 4]));
    kernels
}

#[test]
fn cpu_instruction_selection() {
    for (name, kernel) in selected_kernels() {
        let selection = select(&kernel, TargetFeatures::X86_64_SSSE3);
        insta::assert_snapshot!(format!("isel.{name}"), selection_text(&kernel, &selection));
    }
}

#[test]
fn cpu_clif() {
    for (name, kernel) in clif_kernels() {
        let lowered = lower_kernel(&kernel, ClifTarget::x86_64_ssse3())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        insta::assert_snapshot!(format!("clif.{name}"), to_clif_text(&lowered));
    }
}

#[test]
fn wgsl_selection_and_shaders() {
    let caps = GpuCaps::default();
    for (name, kernel) in wgsl_kernels() {
        insta::assert_snapshot!(
            format!("wgsl-select.{name}"),
            wgsl::selection_text(&kernel, &wgsl::select(&kernel, &caps))
        );
        match wgsl::compile(&kernel, &caps) {
            Ok(compiled) => insta::assert_snapshot!(format!("wgsl.{name}"), compiled.source),
            // Within the WebGPU defaults some stdlib tiles need more workgroup memory than there is:
            // that answer is pinned too.
            Err(error) => insta::assert_snapshot!(format!("wgsl.{name}"), format!("error: {error}")),
        }
    }
}

/// The differential corpus reaches the fused integer dot and the fused f32 dot (`vm::corpus`'s dot
/// template), so that the CPU corpus test exercises them against the interpreter.
#[test]
fn the_corpus_reaches_the_fused_dots() {
    let cases = tilevm::vm::corpus::generate_corpus(crate::cpu_corpus::SEED, crate::cpu_corpus::cases());
    // Every case's selection once; the counts below filter the rule names.
    let rules: Vec<&str> = cases
        .iter()
        .flat_map(|case| {
            select(&case.kernel, TargetFeatures::X86_64_SSSE3)
                .ops()
                .iter()
                .map(|selected| selected.rule)
                .collect::<Vec<_>>()
        })
        .collect();
    let count = |prefix: &str| -> usize { rules.iter().filter(|rule| rule.starts_with(prefix)).count() };
    for rule in [
        "byte-dot.bit-planes.pmaddubsw",
        "byte-dot.unpacked.pmaddubsw",
        "byte-dot.slots.pmaddwd",
        "fused-f32-dot",
        "vector-f32-dot",
    ] {
        eprintln!("{rule}: {}", count(rule));
    }
    assert!(count("byte-dot.") >= 4, "the corpus reaches the integer byte dot {} times", count("byte-dot."));
    assert!(
        count("fused-f32-dot") >= 2,
        "the corpus reaches the fused f32 dot {} times",
        count("fused-f32-dot")
    );
    // The dot template's f32 cases in the frame, and gemv cases whose cast is read twice.
    assert!(
        count("vector-f32-dot") >= 1,
        "the corpus reaches the vector f32 dot {} times",
        count("vector-f32-dot")
    );
    assert!(
        count("byte-dot.bit-planes") >= 1,
        "the corpus reaches the bit-plane byte dot {} times",
        count("byte-dot.bit-planes")
    );
    assert!(
        count("byte-dot.slots") >= 1,
        "the corpus reaches the byte dot of codes in the frame {} times",
        count("byte-dot.slots")
    );
}
