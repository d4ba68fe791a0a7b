//! The compat executor: runs a validated [`CompatRequest`] against the kernel.
//!
//! NOT IMPLEMENTED YET — written next, on top of the ctnetlink library. Until then every
//! command that needs the kernel reports an error. The stub already honours
//! `deferred_error` for the commands where conntrack raises it before any output.

use crate::compat::error::CompatError;
use crate::compat::messages;
use crate::compat::request::{Command, CompatRequest};
use std::process::ExitCode;

/// Runs one request (single command line) and returns the process exit code.
pub fn run(req: CompatRequest) -> ExitCode {
    if let Some(e) = &req.deferred_error {
        if req.command != Command::Event {
            messages::print_error(e);
            return ExitCode::from(e.exit_code());
        }
    }
    let e = CompatError::other("not implemented: the compat executor is not written yet");
    messages::print_error(&e);
    ExitCode::from(e.exit_code())
}

/// Runs the requests of a `-R` file in order (no summaries; first kernel error exits 1).
pub fn run_batch(reqs: Vec<CompatRequest>) -> ExitCode {
    match reqs.into_iter().next() {
        Some(r) => run(r),
        None => ExitCode::SUCCESS,
    }
}
