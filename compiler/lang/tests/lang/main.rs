//! The `.tile` front end from outside: checking, diagnostics (snapshots), the language reference's
//! examples, the example kernels on the interpreter, run-time parameters, and robustness against
//! arbitrary input.

mod check;
mod diagnostics;
mod docs;
mod examples;
mod interp_examples;
mod params;
mod robustness;
