//! Generates the `.tile` parser from the lalrpop grammar under `src/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    lalrpop::process_src()
}
