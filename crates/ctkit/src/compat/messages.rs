//! The one place that renders conntrack-style messages for stderr: the banner
//! (`conntrack v1.4.7 (ctkit 0.1.0): `), the hint line, summaries and `Operation failed:` texts
//! (conntrack.c `exit_error`, `exit_tryhelp`, `exit_msg`, `err2str`).

use crate::compat::error::CompatError;
use crate::compat::request::{Command, Table};
use std::io::Write;

/// The compatibility level we reproduce.
pub const COMPAT_VERSION: &str = "1.4.7";

/// `conntrack v1.4.7 (ctkit 0.1.0)`: compatibility level first, then our name and version.
pub fn version_line() -> String {
    format!(
        "conntrack v{COMPAT_VERSION} (ctkit {})",
        env!("CARGO_PKG_VERSION")
    )
}

/// The prefix of every conntrack message on stderr.
pub fn banner() -> String {
    format!("{}: ", version_line())
}

/// ``Try `conntrack -h' or 'conntrack --help' for more information.`` (conntrack's PROGNAME is
/// fixed, whatever argv[0] is).
pub const HINT: &str = "Try `conntrack -h' or 'conntrack --help' for more information.\n";

/// The full stderr text for an error.
pub fn render_error(e: &CompatError) -> String {
    let mut s = format!("{}{}\n", banner(), e.message);
    if e.wants_hint() {
        s.push_str(HINT);
    }
    s
}

/// Writes an error to stderr (ignoring write failures: nothing better can be done).
pub fn print_error(e: &CompatError) {
    let _ = std::io::stderr().write_all(render_error(e).as_bytes());
}

/// Writes raw lines (warnings such as `WARNING: ignoring -a, deprecated option.`) to stderr.
pub fn print_warnings(w: &[String]) {
    let mut err = std::io::stderr().lock();
    for line in w {
        let _ = err.write_all(line.as_bytes());
    }
}

/// The summary conntrack prints after a command (`exit_msg`), `None` when it prints none.
pub fn summary(command: Command, table: Table, counter: u64) -> Option<String> {
    let expect = table == Table::Expect;
    let text = match (command, expect) {
        (Command::List, false) | (Command::Get, false) => "flow entries have been shown.",
        (Command::Create { excl: true }, false) => "flow entries have been created.",
        (Command::Create { excl: false }, false) => "flow entries have been added.",
        (Command::Update, false) => "flow entries have been updated.",
        (Command::Delete, false) => "flow entries have been deleted.",
        (Command::Event, false) => "flow events have been shown.",
        (Command::List, true) | (Command::Delete, true) => "expectations have been shown.",
        _ => return None,
    };
    Some(format!("{}{counter} {text}\n", banner()))
}

/// `-E expect` interrupted: `N expectation events have been shown.`
pub fn expect_events_summary(counter: u64) -> String {
    format!(
        "{}{counter} expectation events have been shown.\n",
        banner()
    )
}

/// `-F`: `connection tracking table has been emptied.` / `expectation table has been emptied.`
pub fn flushed(table: Table) -> String {
    let what = if table == Table::Expect {
        "expectation table"
    } else {
        "connection tracking table"
    };
    format!("{}{what} has been emptied.\n", banner())
}

/// `strerror(errno)` text via std (glibc wording), without Rust's " (os error N)" suffix.
pub fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}

/// The `strerror` text of an I/O error.
pub fn io_error_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => strerror(n),
        None => e.to_string(),
    }
}

/// `ENOTSUPP` (kernel-internal 524).
pub const ENOTSUPP: i32 = 524;

/// `err2str`: conntrack's friendlier texts for some errno/command pairs, else `strerror`.
pub fn err2str(errno: i32, command: Command, table: Table) -> String {
    let expect = table == Table::Expect;
    let create = matches!(command, Command::Create { excl: true }) && !expect;
    let add = matches!(command, Command::Create { excl: false });
    let get = command == Command::Get && !expect;
    let delete = command == Command::Delete && !expect;
    let list = command == Command::List && !expect;
    let exp_create = matches!(command, Command::Create { excl: true }) && expect;
    // Rows in conntrack's table order; the first matching row wins.
    let text = match errno {
        ENOTSUPP if list => "function not implemented",
        // Row mask 0xFFFF: every command bit below EXP_COUNT (so not -A, -S, -C expect).
        libc::EINVAL
            if !(add || command == Command::Stats || (command == Command::Count && expect)) =>
        {
            "invalid parameters"
        }
        libc::EEXIST if create => "Such conntrack exists, try -U to update",
        libc::ENOENT if create || get || delete || add => "such conntrack doesn't exist",
        libc::ENOMEM if create || get || add => "not enough memory",
        libc::EAFNOSUPPORT if get => "protocol not supported",
        libc::ETIME if create || add => "conntrack has expired",
        libc::ENOENT if exp_create => "master conntrack not found",
        libc::EPERM => "sorry, you must be root or get CAP_NET_ADMIN capability to do this",
        _ => return strerror(errno),
    };
    text.to_string()
}

/// `Operation failed: <err2str>`.
pub fn operation_failed(errno: i32, command: Command, table: Table) -> CompatError {
    CompatError::other(format!(
        "Operation failed: {}",
        err2str(errno, command, table)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_puts_compat_level_first() {
        assert_eq!(banner(), "conntrack v1.4.7 (ctkit 0.1.0): ");
    }

    #[test]
    fn parameter_errors_get_the_hint() {
        let e = CompatError::param("Invalid commands combination");
        assert_eq!(
            render_error(&e),
            "conntrack v1.4.7 (ctkit 0.1.0): Invalid commands combination\nTry `conntrack -h' or 'conntrack --help' for more information.\n"
        );
        let e = CompatError::other("x");
        assert_eq!(render_error(&e), "conntrack v1.4.7 (ctkit 0.1.0): x\n");
    }

    #[test]
    fn summaries_use_conntracks_verbs() {
        let s = |c, t, n| summary(c, t, n).unwrap();
        assert_eq!(
            s(Command::Delete, Table::Conntrack, 0),
            "conntrack v1.4.7 (ctkit 0.1.0): 0 flow entries have been deleted.\n"
        );
        assert!(s(Command::Create { excl: false }, Table::Conntrack, 1)
            .ends_with("1 flow entries have been added.\n"));
        assert!(s(Command::Create { excl: true }, Table::Conntrack, 1).ends_with("created.\n"));
        assert!(s(Command::Update, Table::Conntrack, 2)
            .ends_with("2 flow entries have been updated.\n"));
        assert!(
            s(Command::Event, Table::Conntrack, 3).ends_with("3 flow events have been shown.\n")
        );
        assert!(s(Command::List, Table::Expect, 0).ends_with("0 expectations have been shown.\n"));
        assert_eq!(summary(Command::Flush, Table::Conntrack, 0), None);
        assert!(
            flushed(Table::Conntrack).ends_with("connection tracking table has been emptied.\n")
        );
    }

    #[test]
    fn errno_texts() {
        let c = Table::Conntrack;
        assert_eq!(
            err2str(libc::EEXIST, Command::Create { excl: true }, c),
            "Such conntrack exists, try -U to update"
        );
        assert_eq!(
            err2str(libc::ENOENT, Command::Delete, c),
            "such conntrack doesn't exist"
        );
        assert_eq!(
            err2str(libc::EINVAL, Command::List, c),
            "invalid parameters"
        );
        assert_eq!(
            err2str(libc::ETIME, Command::Create { excl: false }, c),
            "conntrack has expired"
        );
        assert_eq!(
            err2str(libc::EPERM, Command::List, c),
            "sorry, you must be root or get CAP_NET_ADMIN capability to do this"
        );
        assert_eq!(
            err2str(libc::EINVAL, Command::Create { excl: false }, c),
            "Invalid argument"
        );
        assert_eq!(
            err2str(libc::EOPNOTSUPP, Command::Update, c),
            "Operation not supported"
        );
        assert_eq!(
            err2str(libc::ENOENT, Command::Update, c),
            "No such file or directory"
        );
        assert_eq!(strerror(libc::ENOBUFS), "No buffer space available");
    }
}
