//! ctkit binary entry point: dispatches to the conntrack(8)-compatible front end or to the
//! modern commands (ripgrep-style thin main; one place decides the exit status).

mod compat;
mod modern;
// Parts are used as the views land (summary, doctor, top, …).
#[allow(dead_code)]
mod source;
// The views are being built (see the project's issues); parts are unused until then.
#[allow(dead_code)]
mod views;

use std::process::ExitCode;

/// Whether this invocation is conntrack-compatible: called as `conntrack`, or as `ctkit` with a
/// first argument that is an option other than ctkit's own help/version flags.
fn is_compat(argv: &[String]) -> bool {
    let base = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a))
        .unwrap_or("");
    if base == "conntrack" {
        return true;
    }
    match argv.get(1) {
        Some(a) => {
            a.starts_with('-') && !matches!(a.as_str(), "-h" | "--help" | "-V" | "--version")
        }
        None => false,
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if is_compat(&argv) {
        return compat::main(argv);
    }
    modern::main(argv)
}
