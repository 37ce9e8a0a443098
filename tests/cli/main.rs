//! The `tilevm` command line, run as a program: every subcommand's output and exit status.

#[path = "../backends/gpu_common.rs"]
mod gpu_common;

mod cpu;
mod docs_layouts;
mod dtype;
mod gpu;
mod lang;
mod layout;
mod run;
mod run_limits;
