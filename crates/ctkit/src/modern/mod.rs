//! ctkit's modern commands (`ctkit list|get|delete|create|update|flush|count|stats|events`).
//!
//! Design: each command and long flag maps to the conntrack(8) option it stands for (a
//! table, [`FLAGS`]), the translated argv goes through the compat parser and executor. So the
//! modern commands share every rule of the drop-in (validation, filters, kernel requests,
//! output formats, exit codes) instead of re-implementing them, and differ only where they
//! add something: any flag order (`--sport` before `--proto` is fine), `--json`, and
//! `--dry-run` for delete and flush.

use crate::compat;
use std::process::ExitCode;

/// A modern command and the conntrack command letter it runs as.
const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "list",
        "-L",
        "list entries (tables: conntrack, expect, dying, unconfirmed)",
    ),
    ("get", "-G", "show one entry, given its full tuple"),
    (
        "delete",
        "-D",
        "delete the matching entries (--dry-run: only show them)",
    ),
    ("create", "-I", "create an entry (fails if it exists)"),
    ("add", "-A", "create an entry, or update it if it exists"),
    (
        "update",
        "-U",
        "change the matching entries (mark, status, labels, timeout)",
    ),
    (
        "flush",
        "-F",
        "delete every entry (--dry-run: only show them)",
    ),
    ("count", "-C", "print the number of entries"),
    ("stats", "-S", "print the per-CPU counters"),
    ("events", "-E", "print changes as they happen"),
];

/// Long flag, conntrack option, whether it takes a value, help.
pub(crate) const FLAGS: &[(&str, &str, bool, &str)] = &[
    ("--src", "-s", true, "original source address[/prefix]"),
    ("--dst", "-d", true, "original destination address[/prefix]"),
    ("--reply-src", "-r", true, "reply source address"),
    ("--reply-dst", "-q", true, "reply destination address"),
    ("--sport", "--sport", true, "original source port"),
    ("--dport", "--dport", true, "original destination port"),
    (
        "--reply-sport",
        "--reply-port-src",
        true,
        "reply source port",
    ),
    (
        "--reply-dport",
        "--reply-port-dst",
        true,
        "reply destination port",
    ),
    (
        "--state",
        "--state",
        true,
        "protocol state (e.g. ESTABLISHED)",
    ),
    ("--icmp-type", "--icmp-type", true, "ICMP type"),
    ("--icmp-code", "--icmp-code", true, "ICMP code"),
    ("--icmp-id", "--icmp-id", true, "ICMP id"),
    ("--family", "-f", true, "ipv4 or ipv6"),
    (
        "--status",
        "-u",
        true,
        "status bits (ASSURED,SEEN_REPLY,…; !X negates; UNREPLIED)",
    ),
    ("--mark", "-m", true, "mark value[/mask]"),
    ("--zone", "-w", true, "zone"),
    (
        "--orig-zone",
        "--orig-zone",
        true,
        "original-direction zone",
    ),
    ("--reply-zone", "--reply-zone", true, "reply-direction zone"),
    ("--timeout", "-t", true, "timeout in seconds"),
    ("--id", "-i", true, "conntrack id"),
    ("--secmark", "-c", true, "secmark"),
    ("--label", "-l", true, "labels that must be set (a,b)"),
    ("--label-add", "--label-add", true, "labels to set"),
    ("--label-del", "--label-del", true, "labels to clear"),
    ("--src-nat", "-n", false, "source-NATed entries only"),
    ("--dst-nat", "-g", false, "destination-NATed entries only"),
    ("--any-nat", "-j", false, "NATed entries only"),
    (
        "--output",
        "-o",
        true,
        "extended,id,timestamp,ktimestamp,labels,xml,save",
    ),
    (
        "--event-mask",
        "-e",
        true,
        "events: ALL,NEW,UPDATES,DESTROY",
    ),
    (
        "--buffer-size",
        "-b",
        true,
        "netlink receive buffer in bytes",
    ),
    ("--zero", "-z", false, "zero the counters while listing"),
];

fn usage() -> String {
    let mut s = String::from(
        "ctkit: a fast, exact conntrack toolkit\n\n\
         Usage: ctkit COMMAND [--table TABLE] [--proto PROTO] [FLAGS] [--json]\n\
         \x20      ctkit -L|-G|-D|-I|-A|-U|-E|-F|-C|-S … (conntrack(8) syntax)\n\
         \x20      conntrack …                       (through a `conntrack` link)\n\nCommands:\n",
    );
    for (name, _, help) in COMMANDS {
        s.push_str(&format!("  {name:<10} {help}\n"));
    }
    for v in crate::views::VIEWS {
        s.push_str(&format!("  {:<10} {}\n", v.name, v.help));
    }
    s.push_str("  install-conntrack-link [--dir DIR]  make DIR/conntrack (default /usr/local/sbin) run ctkit\n\nFlags:\n");
    s.push_str(&format!(
        "  {:<16} {}\n",
        "--table", "conntrack, expect, dying or unconfirmed"
    ));
    s.push_str(&format!(
        "  {:<16} {}\n",
        "--proto, -p", "tcp, udp, icmp, … or a number"
    ));
    for (name, _, _, help) in FLAGS {
        s.push_str(&format!("  {name:<16} {help}\n"));
    }
    s.push_str(&format!(
        "  {:<16} {}\n",
        "--json", "one JSON object per entry and line"
    ));
    s.push_str(&format!(
        "  {:<16} {}\n",
        "--dry-run", "delete/flush: show what would go, change nothing"
    ));
    s.push_str(&format!(
        "  {:<16} {}\n",
        "--from SRC", "list, count: read kernel, proc, a saved dump (any -o format), a capture (its replay; list also --table expect, stats too) or - (stdin)"
    ));
    s.push_str(&format!(
        "  {:<16} {}\n",
        "--lenient", "with --from: skip malformed lines and count them"
    ));
    s.push_str(&format!(
        "  {:<16} {}\n",
        "--set NAME=VALUE",
        "with --from CAPTURE: replay it with this sysctl; also --sysctl-from-kernel, \
         --helper ftp=PORT, --no-helpers, --seed N (as `ctkit replay')"
    ));
    s
}

fn version() -> String {
    format!(
        "ctkit {} (conntrack v1.4.7 compatible)\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("ctkit: {msg}");
    eprintln!("Run `ctkit --help` for the commands and flags.");
    ExitCode::from(2)
}

/// Runs a modern command line (argv[0] included).
pub fn main(argv: Vec<String>) -> ExitCode {
    let Some(cmd) = argv.get(1) else {
        eprint!("{}", usage());
        return ExitCode::from(2);
    };
    match cmd.as_str() {
        "-h" | "--help" | "help" => {
            compat::write_stdout(&usage());
            return ExitCode::SUCCESS;
        }
        "-V" | "--version" | "version" => {
            compat::write_stdout(&version());
            return ExitCode::SUCCESS;
        }
        "install-conntrack-link" => return install_link(&argv[2..]),
        _ => {}
    }
    if cmd == "list" && crate::source::list::wants(&argv[2..]) {
        return crate::source::list::main(&argv[2..]);
    }
    if crate::source::counters::wants(cmd, &argv[2..]) {
        return crate::source::counters::main(cmd, &argv[2..]);
    }
    if let Some(code) = crate::views::dispatch(cmd, &argv[2..]) {
        return code;
    }
    if matches!(cmd.as_str(), "count" | "stats") && argv[2..].iter().any(|a| a == "--json") {
        if argv.len() != 3 {
            return usage_error(&format!("`{cmd} --json' takes no other flag"));
        }
        return counters_json(cmd == "count");
    }
    match translate(&argv[1..]) {
        Ok(t) => {
            let mut full = vec!["ctkit".to_string()];
            full.extend(t.argv);
            compat::exec::MODERN.store(true, std::sync::atomic::Ordering::Relaxed);
            if t.dry_run {
                compat::dry_run(full)
            } else {
                compat::main(full)
            }
        }
        Err(msg) => usage_error(&msg),
    }
}

/// A modern command line translated to conntrack syntax.
#[derive(Debug, PartialEq, Eq)]
pub struct Translated {
    /// conntrack argv (without argv[0]).
    pub argv: Vec<String>,
    /// `--dry-run` was given (delete/flush).
    pub dry_run: bool,
}

/// Translates `COMMAND [FLAGS]` into conntrack's argv: the command letter and table first,
/// then `-p`, then the other options in the order given.
pub fn translate(args: &[String]) -> Result<Translated, String> {
    let name = args[0].as_str();
    let (_, letter, _) = COMMANDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| format!("unknown command `{name}'"))?;
    let mut table: Option<String> = None;
    let mut proto: Option<String> = None;
    let mut rest: Vec<String> = Vec::new();
    let mut json = false;
    let mut dry_run = false;
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a, None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("`{what}' needs a value"))
        };
        match flag {
            "--json" => json = true,
            "--dry-run" => dry_run = true,
            "--table" => table = Some(value("--table")?),
            "--proto" | "-p" => proto = Some(value("--proto")?),
            _ => {
                let (_, opt, takes, _) = FLAGS
                    .iter()
                    .find(|(n, _, _, _)| *n == flag)
                    .ok_or_else(|| format!("unknown flag `{flag}' for `{name}'"))?;
                rest.push(opt.to_string());
                if *takes {
                    rest.push(value(flag)?);
                } else if let Some(v) = inline {
                    // --src-nat=IP[:port] and friends take an optional value.
                    rest.push(v);
                }
            }
        }
        i += 1;
    }
    if dry_run && !matches!(name, "delete" | "flush") {
        return Err(format!("--dry-run is for delete and flush, not `{name}'"));
    }
    let mut argv = Vec::new();
    // A dry run lists what -D would delete; flush deletes everything (of a family).
    argv.push(if dry_run { "-D" } else { letter }.to_string());
    if let Some(t) = table {
        argv.push(t);
    }
    if let Some(p) = proto {
        argv.push("-p".into());
        argv.push(p);
    }
    argv.extend(rest);
    if json {
        argv.push("-o".into());
        argv.push("json".into());
    }
    Ok(Translated { argv, dry_run })
}

/// `count --json` (`{"entries":N,"max":M}`) and `stats --json` (one object per CPU and
/// line, counters by their kernel names).
fn counters_json(count: bool) -> ExitCode {
    let mut conn = match ctkit_ctnetlink::Conn::open() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctkit: {e}");
            return ExitCode::from(1);
        }
    };
    let mut out = String::new();
    let r = if count {
        conn.stats().map(|g| {
            out.push_str(&format!(
                "{{\"entries\":{},\"max\":{}}}\n",
                g.entries.unwrap_or(0),
                g.max_entries.map_or("null".to_string(), |m| m.to_string())
            ));
        })
    } else {
        conn.stats_cpu(|c| {
            out.push_str(&format!("{{\"cpu\":{}", c.cpu));
            for (name, v) in ctkit_model::stats::CpuStats::NAMES
                .iter()
                .zip(c.values.iter())
            {
                if let Some(v) = v {
                    out.push_str(&format!(",\"{name}\":{v}"));
                }
            }
            out.push_str("}\n");
        })
    };
    match r {
        Ok(()) => {
            compat::write_stdout(&out);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ctkit: {e}");
            ExitCode::from(1)
        }
    }
}

fn install_link(args: &[String]) -> ExitCode {
    let dir = match args {
        [] => "/usr/local/sbin".to_string(),
        [flag, d] if flag == "--dir" => d.clone(),
        _ => return usage_error("usage: ctkit install-conntrack-link [--dir DIR]"),
    };
    let link = std::path::Path::new(&dir).join("conntrack");
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ctkit: cannot find the running binary: {e}");
            return ExitCode::from(1);
        }
    };
    if let Ok(meta) = std::fs::symlink_metadata(&link) {
        let ours = meta.file_type().is_symlink()
            && std::fs::read_link(&link).is_ok_and(|t| t.file_name() == exe.file_name());
        if !ours {
            eprintln!(
                "ctkit: {} exists and is not a link to ctkit; not replacing it",
                link.display()
            );
            return ExitCode::from(1);
        }
        let _ = std::fs::remove_file(&link);
    }
    match std::os::unix::fs::symlink(&exe, &link) {
        Ok(()) => {
            println!("{} -> {}", link.display(), exe.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ctkit: cannot create {}: {e}", link.display());
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<Translated, String> {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        translate(&v)
    }

    #[test]
    fn translate_puts_command_table_and_proto_first() {
        assert_eq!(
            t("list --sport 80 --proto tcp --table conntrack --json")
                .unwrap()
                .argv,
            [
                "-L",
                "conntrack",
                "-p",
                "tcp",
                "--sport",
                "80",
                "-o",
                "json"
            ]
        );
    }

    #[test]
    fn translate_maps_long_flags_and_inline_values() {
        assert_eq!(
            t("delete --src=192.0.2.0/24 --mark 1/0xff --zone 3 --src-nat")
                .unwrap()
                .argv,
            ["-D", "-s", "192.0.2.0/24", "-m", "1/0xff", "-w", "3", "-n"]
        );
        assert_eq!(
            t("list --dst-nat=192.0.2.1:80").unwrap().argv,
            ["-L", "-g", "192.0.2.1:80"]
        );
    }

    #[test]
    fn dry_run_only_for_delete_and_flush() {
        let d = t("flush --dry-run").unwrap();
        assert!(d.dry_run);
        assert_eq!(d.argv, ["-D"]);
        assert_eq!(
            t("list --dry-run").unwrap_err(),
            "--dry-run is for delete and flush, not `list'"
        );
    }

    #[test]
    fn unknown_command_and_flag_are_errors() {
        assert_eq!(t("lsit").unwrap_err(), "unknown command `lsit'");
        assert_eq!(
            t("list --bogus").unwrap_err(),
            "unknown flag `--bogus' for `list'"
        );
        assert_eq!(t("list --src").unwrap_err(), "`--src' needs a value");
    }

    #[test]
    fn every_flag_maps_to_a_registered_conntrack_option() {
        for (name, opt, _, _) in FLAGS {
            assert!(opt.starts_with('-'), "{name}");
            assert!(FLAGS.iter().filter(|f| f.0 == *name).count() == 1, "{name}");
        }
    }
}
