//! `ctkit top` (being built; see the project's issues).

use std::process::ExitCode;

/// Runs `ctkit top`.
pub fn main(_args: &[String]) -> ExitCode {
    super::usage_error("`top' is not built yet")
}
