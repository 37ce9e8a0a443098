//! The formats crate against ggml's own bytes and values, a plain f64 reference, and corrupt files. GPU
//! tests skip with a printed reason when no adapter exists and fail under `TILEVM_REQUIRE_GPU=1`.

mod formats {
    pub mod checkpoints;
    pub mod ggml_golden;
    pub mod gguf_container;
    pub mod linear_layer;
    pub mod support;
}
