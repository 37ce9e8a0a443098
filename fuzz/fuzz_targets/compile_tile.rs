//! Fuzzes the `.tile` front end: any input must give IR the verifier accepts, or diagnostics; never a
//! panic, a hang or a stack overflow. Run from `fuzz/` with `cargo fuzz run compile_tile -s none` (stable Rust;
//! `cargo +nightly fuzz run compile_tile` adds AddressSanitizer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tilevm_lang::{CompileOptions, compile};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    match compile(source, &CompileOptions::default()) {
        // The front end hands out only verified modules (`VerifiedModule`).
        Ok(_) => {}
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty());
            if let Some(internal) = diagnostics.iter().find(|diagnostic| diagnostic.is_internal()) {
                panic!("accepted source lowers to IR the verifier rejects: {internal:?}");
            }
        }
    }
});
