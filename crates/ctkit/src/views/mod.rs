//! The read-only views and the commands beyond conntrack(8): `summary`, `watch`, `doctor`,
//! `sysctl`, `top`, `replay`.
//!
//! Each view lives in its own module with one entry point, `main(args) -> ExitCode`, where
//! `args` are the words after the command name. Views that read flows open them through
//! [`crate::source`] (kernel, /proc, a saved file, stdin, a capture) and take the flags every
//! read-only view shares from [`common`], so `--from`, `--lenient`, `--json` and the list
//! filters mean the same everywhere.

pub mod common;
pub mod doctor;
pub mod engine;
pub mod group;
pub mod replay;
pub mod summary;
pub mod sysctl;
pub mod top;
pub mod watch;

use std::process::ExitCode;

/// A view command: its name, its entry point and a one-line help.
pub struct ViewCommand {
    /// The command word (`ctkit NAME …`).
    pub name: &'static str,
    /// Runs the command on the words after its name.
    pub main: fn(&[String]) -> ExitCode,
    /// One line for `ctkit --help`.
    pub help: &'static str,
}

/// Every view command, in the order `ctkit --help` lists them.
pub const VIEWS: &[ViewCommand] = &[
    ViewCommand {
        name: "summary",
        main: summary::main,
        help: "group and count entries (--by src,dst,dport,state,…)",
    },
    ViewCommand {
        name: "watch",
        main: watch::main,
        help: "table fill, rates and drop counters over time",
    },
    ViewCommand {
        name: "doctor",
        main: doctor::main,
        help: "health report with fixes (exit 0 ok, 1 warning, 2 critical, 3 unknown)",
    },
    ViewCommand {
        name: "sysctl",
        main: sysctl::main,
        help: "conntrack sysctls: values, defaults, advice; set; size the table",
    },
    ViewCommand {
        name: "top",
        main: top::main,
        help: "live table you can sort, filter and steer (iptstate keys)",
    },
    ViewCommand {
        name: "replay",
        main: replay::main,
        help: "run a packet capture through the userspace tracker",
    },
];

/// Runs `cmd` if it is a view command.
pub fn dispatch(cmd: &str, args: &[String]) -> Option<ExitCode> {
    VIEWS.iter().find(|v| v.name == cmd).map(|v| (v.main)(args))
}

/// Prints `ctkit: MSG` and the help hint; exit status 2 (a usage error).
pub fn usage_error(msg: &str) -> ExitCode {
    eprintln!("ctkit: {msg}");
    eprintln!("Run `ctkit --help` for the commands and flags.");
    ExitCode::from(2)
}
