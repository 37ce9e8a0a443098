//! Shared helpers: ggml's golden files, a seeded generator, and the runtimes to test on.

use std::path::PathBuf;

use tilevm_host::Runtime;

/// `formats/tests/data/ggml/NAME`.
pub fn ggml_data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ggml").join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Little-endian f32s.
pub fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

/// xorshift64* (seeded, so a failure reproduces).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// The interpreter, the CPU backend and, when an adapter exists, the GPU (else a printed skip, or a
/// failure under `TILEVM_REQUIRE_GPU=1`).
pub fn runtimes() -> Vec<Runtime> {
    let mut runtimes = vec![Runtime::interp(), Runtime::cpu().expect("the CPU backend opens")];
    match Runtime::gpu() {
        Ok(gpu) => runtimes.push(gpu),
        Err(error) => {
            let required = std::env::var("TILEVM_REQUIRE_GPU").is_ok_and(|value| value == "1");
            assert!(!required, "TILEVM_REQUIRE_GPU=1 but no GPU is usable: {error}");
            eprintln!("skipping the GPU: {error}");
        }
    }
    runtimes
}
