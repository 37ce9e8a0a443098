//! The backends against the reference interpreter and plain Rust: the CPU (Cranelift) and GPU (WGSL)
//! suites, the codecs against the ml_dtypes vectors, the stdlib GEMVs, and the golden snapshots of
//! instruction selection, CLIF and WGSL. GPU tests skip with a printed reason when no adapter exists and
//! fail under `TILEVM_REQUIRE_GPU=1`.

mod cpu_support;
mod gpu_common;
mod lowp_support;
mod rng;

mod adversarial_bounds;
mod cpu_backend;
mod cpu_codecs;
mod cpu_corpus;
mod cpu_gemv;
mod cpu_simd;
mod cpu_vector_arith;
mod float_nans;
mod gemv_q8;
mod golden;
mod gpu_casts;
mod gpu_corpus;
mod gpu_fma;
mod gpu_kernels;
mod gpu_rounding;
mod gpu_timing;
mod gpu_vector_memory;
mod host_api;
mod lowp_vectors;
mod prints;
mod stdlib_launchers;
