//! The small deterministic generator the tests draw their inputs from (xorshift64*): seeded, so a failure
//! reproduces, and with no dependency.

/// xorshift64* with the seed as its state (a zero seed stays zero: pass a nonzero one).
pub struct Rng(pub u64);

impl Rng {
    /// The next 32 random bits.
    pub fn next(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}
