//! The ml_dtypes golden vectors in `tests/data/lowp/vectors`, shared by the backends' codec tests.

use tilevm::vm::DataType;

/// The directory of the vector files.
pub const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lowp/vectors");

/// Every format of `formats.tsv` with its ml_dtypes name, parsed by the dtype module's name parser
/// (`lowp_vectors.rs` checks the parsed parameters against the table's columns).
pub fn vector_formats() -> Vec<(String, DataType)> {
    let table = std::fs::read_to_string(format!("{VECTORS}/formats.tsv")).expect("formats.tsv");
    table
        .lines()
        .skip(1)
        .map(|line| {
            let name = line.split('\t').next().unwrap_or_default().to_string();
            let dtype = name.parse().unwrap_or_else(|error| panic!("formats.tsv names {name}: {error}"));
            (name, dtype)
        })
        .collect()
}
