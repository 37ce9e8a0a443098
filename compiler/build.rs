//! Generates the parser from `src/syntax/grammar.lalrpop` (once the grammar exists).

fn main() {
    if std::path::Path::new("src/syntax/grammar.lalrpop").exists() {
        lalrpop::Config::new().process_current_dir().expect("the lalrpop grammar must compile");
    }
    println!("cargo:rerun-if-changed=src/syntax");
}
