//! `ctkit doctor` (being built; see the project's issues).

use std::process::ExitCode;

/// Runs `ctkit doctor`.
pub fn main(_args: &[String]) -> ExitCode {
    super::usage_error("`doctor' is not built yet")
}
