//! `ctkit watch` (being built; see the project's issues).

use std::process::ExitCode;

/// Runs `ctkit watch`.
pub fn main(_args: &[String]) -> ExitCode {
    super::usage_error("`watch' is not built yet")
}
