//! Analyses over verified IR that more than one backend uses to choose cheaper code.

mod nan_payloads;

pub use nan_payloads::HiddenPayloads;
