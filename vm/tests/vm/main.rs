//! The VM crate from outside: the interpreter on the corpus and on hand-built kernels, its errors, the
//! IR's text form and the verifier under mutation.

mod corpus_interp;
mod interp_errors;
mod kernels;
mod text_form;
mod verify_mutations;
