//! `ctkit summary` (being built; see the project's issues).

use std::process::ExitCode;

/// Runs `ctkit summary`.
pub fn main(_args: &[String]) -> ExitCode {
    super::usage_error("`summary' is not built yet")
}
