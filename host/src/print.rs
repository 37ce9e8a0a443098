//! [`PrintSink`]: where the lines of a kernel's `print(...)` go. Every backend hands them over in the
//! interpreter's order (blocks x fastest, each block's prints in order) when the launch ends, also when
//! it fails.

use std::sync::Arc;

/// Where a [`crate::Runtime`]'s kernels print ([`crate::Runtime::set_print_sink`]).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tilevm_host::{Args, PrintSink, Program, Runtime, Tensor};
/// let program = Program::from_source("p.tile", r#"
///     kernel show(n: u32 = 7) grid(2) threads(32) { print("n", n, block_index(0)); }
/// "#)?;
/// let runtime = Runtime::cpu()?;
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&lines);
/// runtime.set_print_sink(PrintSink::Lines(Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_string()))));
/// program.kernel("show").compile(&runtime)?.launch(&Args::new())?;
/// assert_eq!(*lines.lock().unwrap(), ["[block 0, 0, 0] n: 7, 0", "[block 1, 0, 0] n: 7, 1"]);
/// # Ok::<(), tilevm_host::Error>(())
/// ```
#[derive(Clone, Default)]
pub enum PrintSink {
    /// Standard output, one line per print (what CUDA's `printf` does).
    #[default]
    Stdout,
    /// Nowhere.
    Discard,
    /// A function of the host's: a logger, a test's buffer. Called on the launching thread.
    Lines(Arc<dyn Fn(&str) + Send + Sync>),
}

impl PrintSink {
    /// Hands one line to the sink.
    pub(crate) fn emit(&self, line: &str) {
        match self {
            PrintSink::Stdout => println!("{line}"),
            PrintSink::Discard => {}
            PrintSink::Lines(sink) => sink(line),
        }
    }
}

impl std::fmt::Debug for PrintSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PrintSink::Stdout => "Stdout",
            PrintSink::Discard => "Discard",
            PrintSink::Lines(_) => "Lines(..)",
        })
    }
}
