//! `ctkit replay` (being built; see the project's issues).

use std::process::ExitCode;

/// Runs `ctkit replay`.
pub fn main(_args: &[String]) -> ExitCode {
    super::usage_error("`replay' is not built yet")
}
