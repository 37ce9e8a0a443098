//! The `tilevm` command line: a thin layer over the library. Each subcommand lives in `src/cli/`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_headless_vulkan();
    cli::main()
}

/// Switches off Mesa's device-select Vulkan layer on a headless machine. The layer connects to Wayland
/// whenever a Vulkan instance is created, and without `XDG_RUNTIME_DIR` libwayland prints
/// `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` each time; tilevm orders the
/// adapters itself and needs no window system, so it loses nothing. `NODEVICE_SELECT` is the layer's
/// own switch; a value the user set is kept.
fn quiet_headless_vulkan() {
    let unset = |name: &str| std::env::var_os(name).is_none_or(|value| value.is_empty());
    if unset("XDG_RUNTIME_DIR") && unset("NODEVICE_SELECT") {
        // SAFETY: this runs first in `main`, before any thread exists that could read the environment.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}
