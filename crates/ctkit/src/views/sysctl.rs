//! `ctkit sysctl` (being built; see the project's issues).

use std::process::ExitCode;

/// Runs `ctkit sysctl`.
pub fn main(_args: &[String]) -> ExitCode {
    super::usage_error("`sysctl' is not built yet")
}
