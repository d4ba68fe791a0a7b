//! conntrack(8) 1.4.7 compatibility front end: parsing, validation, messages and usage.
//!
//! Flow: [`parse::parse`] (or [`loadfile::parse_file`] for `-R`) turns argv into validated
//! [`request::CompatRequest`]s; [`exec::run`] executes them; [`messages`] renders every stderr
//! text. Facts follow conntrack-tools 1.4.7 (`src/conntrack.c`, `extensions/`).

// The API below is what the executor (written next) builds on; parts are unused until then.
#![allow(dead_code)]

pub mod cnum;
pub mod error;
pub mod exec;
pub mod fastline;
pub mod getopt;
pub mod inet;
pub mod labelmap;
pub mod loadfile;
pub mod loadplan;
pub mod messages;
pub mod netdb;
pub mod options;
pub mod parse;
pub mod portname;
pub mod request;
pub mod usage;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::process::ExitCode;

/// Ends the program the way conntrack ends when its reader went away (`conntrack -L | head`):
/// silently, killed by SIGPIPE (the shell sees status 141). Rust ignores SIGPIPE, so the
/// default action is re-enacted here; exit 0 is the fallback should it return.
pub fn closed_pipe() -> ! {
    let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGPIPE);
    std::process::exit(0)
}

/// Writes to stdout; a closed pipe ends the program as conntrack's does (see [`closed_pipe`]).
pub fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            closed_pipe();
        }
    }
}

/// Runs conntrack-compatible mode on a full argv (argv[0] included).
pub fn main(argv: Vec<String>) -> ExitCode {
    let env = parse::ParseEnv::default();
    let state = parse::ParseState::default();
    let progname = argv.first().cloned().unwrap_or_else(|| "conntrack".into());
    if argv.len() > 2 && (argv[1] == "-R" || argv[1] == "--load-file") {
        return load_file(&argv[2], &progname, &env, state);
    }
    let mut state = state;
    let r = parse::parse(argv, &env, &mut state);
    messages::print_warnings(&state.warnings);
    let req = match r {
        Ok(req) => req,
        Err(e) => {
            messages::print_error(&e);
            return ExitCode::from(e.exit_code());
        }
    };
    match req.command {
        request::Command::Version => {
            write_stdout(&usage::version());
            ExitCode::SUCCESS
        }
        request::Command::Help => {
            let mut text = usage::usage(&progname);
            if let Some((name, help)) = &req.proto_help {
                text.push_str(&usage::proto_help(name, help));
            }
            write_stdout(&text);
            ExitCode::SUCCESS
        }
        _ => exec::run(req),
    }
}

/// `-R`: every line is parsed and validated first (nothing touches the kernel before that),
/// then the file is parsed again while it runs (see [`loadplan`]).
fn load_file(
    file: &str,
    progname: &str,
    env: &parse::ParseEnv,
    initial: parse::ParseState,
) -> ExitCode {
    let data = match loadfile::read_file(file) {
        Ok(d) => d,
        Err(e) => {
            messages::print_error(&e);
            return ExitCode::from(e.exit_code());
        }
    };
    // Every line is validated before anything runs (deferred errors included): no request
    // reaches the kernel from a file with a bad line.
    let v = loadplan::validate(&data, progname, env, &initial);
    messages::print_warnings(&v.state.warnings);
    if let Err(e) = v.result {
        messages::print_error(&e);
        return ExitCode::from(e.exit_code());
    }
    // conntrack's output mask is one global: every line runs with the final union.
    let output = request::OutputFlags(v.state.output);
    drop(v.state);
    match loadplan::run(data, progname, env, initial, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            messages::print_error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// `ctkit delete|flush --dry-run`: parses a conntrack `-D` argv and shows what it would
/// delete, touching nothing.
pub fn dry_run(argv: Vec<String>) -> ExitCode {
    let env = parse::ParseEnv::default();
    let mut state = parse::ParseState::default();
    let r = parse::parse(argv, &env, &mut state);
    messages::print_warnings(&state.warnings);
    match r {
        Ok(req) => {
            if let Some(e) = &req.deferred_error {
                messages::print_error(e);
                return ExitCode::from(e.exit_code());
            }
            exec::dry_run_delete(&req)
        }
        Err(e) => {
            messages::print_error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
