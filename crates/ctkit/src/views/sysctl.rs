//! `ctkit sysctl`: the conntrack sysctls of the current network namespace with their kernel
//! defaults, meaning and advice; `get`, `set` (optionally persisted) and `size`.
//!
//! - `ctkit sysctl [--changed] [--json]`: every sysctl of [`ctkit_model::sysctl::SYSCTLS`]
//!   (kernel 6.18), its value read from `/proc/sys/net/netfilter/NAME` (absent ones say so),
//!   the default, whether it differs, and the advice of [`ctkit_model::sysctl::ADVICE`]
//!   (RFC 5382, RFC 4787, RFC 5508 floors; the 5-day established timeout on NAT gateways).
//! - `ctkit sysctl get NAME…`, `ctkit sysctl set NAME=VALUE… [--persist]`: names are the file
//!   names, with or without `net.netfilter.`. `set` validates every name and value, then checks
//!   every file (present, writable in this namespace, root) before it writes anything, and puts
//!   earlier values back if the kernel refuses a later one. `--persist` updates
//!   [`persist::CONF_PATH`] (one line per sysctl, replaced in place).
//! - `ctkit sysctl size --max N | --memory BYTES`: see [`size`].
//!
//! Kernel 6.18 makes `nf_conntrack_max`, `nf_conntrack_buckets` and `nf_conntrack_expect_max`
//! read-only (mode 0444) in every namespace but the initial one; the timeouts and switches
//! are per namespace (`struct nf_conntrack_net`, `nf_ct_netns_*` sysctl tables).
//!
//! Exit status: 0 done, 1 a runtime error (absent, read-only, not root, the kernel refused),
//! 2 a usage error (unknown name, bad value, unknown flag).

pub mod persist;
pub mod size;

use super::usage_error;
use ctkit_model::sysctl::{self as table, Advice, Default as Dflt, Sysctl, Unit, SYSCTLS};
use serde::Serialize;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const HELP: &str = "\
Usage: ctkit sysctl [--changed] [--json]
       ctkit sysctl get NAME… [--json]
       ctkit sysctl set NAME=VALUE… [--persist]
       ctkit sysctl size (--max N | --memory BYTES) [--objsize B | --slabinfo FILE] [--json]

The conntrack sysctls (/proc/sys/net/netfilter) of this network namespace: value, kernel
6.18 default, meaning and advice. `*' marks values that differ from the default, `!' values
below the minimum of the standard the advice names (RFC 5382, RFC 4787, RFC 5508).

  --changed   list only values that differ from the default
  get         print values (NAME or net.netfilter.NAME)
  set         validate all, then write all; --persist also writes
              /etc/sysctl.d/90-ctkit-conntrack.conf (one line per name, replaced in place)
  size        table size for a maximum or a memory budget: nf_conntrack_max, buckets, memory
              (slab object size from /proc/slabinfo + 8 bytes per bucket), and the commands
";

/// Runs `ctkit sysctl`.
pub fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let dir = Path::new(table::PROC_DIR);
    let res = match args.first().map(String::as_str) {
        Some("get") => get(dir, &args[1..]),
        Some("set") => set(dir, Path::new(persist::CONF_PATH), &args[1..]),
        Some("size") => size::run(dir, &args[1..]),
        Some("list") => list(dir, &args[1..]),
        _ => list(dir, args),
    };
    finish(res)
}

/// Why a sysctl command failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// Bad arguments: exit 2.
    Usage(String),
    /// The system said no: exit 1.
    Runtime(String),
}

fn finish(res: Result<(), Failure>) -> ExitCode {
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => usage_error(&format!("sysctl: {m}")),
        Err(Failure::Runtime(m)) => {
            for line in m.lines() {
                eprintln!("ctkit: sysctl: {line}");
            }
            ExitCode::from(1)
        }
    }
}

/// Writes `s` to standard output; a closed pipe is not an error.
fn emit(s: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::Runtime(format!("write: {e}")))
        }
        _ => Ok(()),
    }
}

/// Looks `name` up in the table (accepting `net.netfilter.NAME`).
fn lookup(name: &str) -> Result<&'static Sysctl, Failure> {
    table::find(name).ok_or_else(|| {
        Failure::Usage(format!(
            "unknown conntrack sysctl `{name}' (`ctkit sysctl' lists them)"
        ))
    })
}

/// The value in `dir/NAME`, `None` when the file is absent or unreadable.
fn read_value(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name))
        .ok()
        .map(|s| s.trim().to_string())
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Seconds => "seconds",
        Unit::Entries => "entries",
        Unit::Bytes => "bytes",
        Unit::Bool => "bool",
        Unit::Mode => "mode",
    }
}

/// One row of the listing.
#[derive(Debug, Serialize)]
struct Row {
    name: &'static str,
    /// The value as the kernel prints it (a number in JSON when it is one), `None` when absent.
    #[serde(serialize_with = "number_or_text")]
    value: Option<String>,
    present: bool,
    default: Option<u64>,
    /// `fixed`, `computed` (from memory at boot) or `read-only`.
    default_kind: &'static str,
    unit: &'static str,
    differs: bool,
    below_floor: bool,
    floor: Option<u64>,
    floor_source: Option<&'static str>,
    meaning: &'static str,
    advice: Option<&'static str>,
}

fn number_or_text<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v.as_deref().map(|t| (t, t.parse::<u64>())) {
        Some((_, Ok(n))) => s.serialize_u64(n),
        Some((t, Err(_))) => s.serialize_str(t),
        None => s.serialize_none(),
    }
}

fn row(dir: &Path, s: &'static Sysctl) -> Row {
    let value = read_value(dir, s.name);
    let num = value.as_deref().and_then(|v| v.parse::<u64>().ok());
    let (default, default_kind) = match s.default {
        Dflt::Fixed(v) => (Some(v), "fixed"),
        Dflt::Computed => (None, "computed"),
        Dflt::ReadOnly => (None, "read-only"),
    };
    let advice: Option<&Advice> = table::advice_of(s.name);
    let floor = advice.and_then(|a| a.floor);
    Row {
        name: s.name,
        present: value.is_some(),
        differs: matches!((num, default), (Some(n), Some(d)) if n != d),
        below_floor: matches!((num, floor), (Some(n), Some(f)) if n < f.value),
        floor: floor.map(|f| f.value),
        floor_source: floor.map(|f| f.source),
        value,
        default,
        default_kind,
        unit: unit_name(s.unit),
        meaning: s.meaning,
        advice: advice.map(|a| a.text),
    }
}

/// `ctkit sysctl [--changed] [--json]`.
fn list(dir: &Path, args: &[String]) -> Result<(), Failure> {
    let mut json = false;
    let mut changed = false;
    for a in args {
        match a.as_str() {
            "--json" => json = true,
            "--changed" => changed = true,
            other => return Err(Failure::Usage(format!("unknown argument `{other}'"))),
        }
    }
    let rows: Vec<Row> = SYSCTLS
        .iter()
        .map(|s| row(dir, s))
        .filter(|r| !changed || r.differs)
        .collect();
    emit(&if json {
        rows.iter()
            .map(|r| serde_json::to_string(r).expect("rows serialise") + "\n")
            .collect()
    } else {
        render_list(&rows)
    })
}

fn render_list(rows: &[Row]) -> String {
    let name_w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "   {:<name_w$}  {:>10}  {:>10}  MEANING\n",
        "NAME", "VALUE", "DEFAULT"
    );
    for r in rows {
        let flags = format!(
            "{}{}",
            if r.differs { '*' } else { ' ' },
            if r.below_floor { '!' } else { ' ' }
        );
        let default = match (r.default, r.default_kind) {
            (Some(d), _) => d.to_string(),
            (None, kind) => kind.to_string(),
        };
        out += &format!(
            "{flags} {:<name_w$}  {:>10}  {:>10}  {}\n",
            r.name,
            r.value.as_deref().unwrap_or("absent"),
            default,
            r.meaning
        );
        if let Some(a) = r.advice {
            let floor = match (r.floor, r.floor_source) {
                (Some(f), Some(src)) => format!(" [{src}: at least {f}]"),
                _ => String::new(),
            };
            out += &format!("     advice{floor}: {a}\n");
        }
    }
    let differ = rows.iter().filter(|r| r.differs).count();
    let below = rows.iter().filter(|r| r.below_floor).count();
    out += &format!(
        "\n* differs from the kernel 6.18 default ({differ})   \
         ! below the minimum of the standard in the advice ({below})\n"
    );
    out
}

/// `ctkit sysctl get NAME… [--json]`.
fn get(dir: &Path, args: &[String]) -> Result<(), Failure> {
    let json = args.iter().any(|a| a == "--json");
    let names: Vec<&String> = args.iter().filter(|a| *a != "--json").collect();
    if names.is_empty() {
        return Err(Failure::Usage("`get' needs a sysctl name".into()));
    }
    if let Some(f) = names.iter().find(|a| a.starts_with('-')) {
        return Err(Failure::Usage(format!("unknown argument `{f}'")));
    }
    let sysctls = names
        .iter()
        .map(|n| lookup(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = String::new();
    for s in sysctls {
        let v = read_value(dir, s.name).ok_or_else(|| absent(s.name))?;
        if json {
            let num = v.parse::<u64>().ok();
            out += &serde_json::json!({"name": s.name, "value": num.map_or(serde_json::json!(v), |n| serde_json::json!(n))}).to_string();
            out.push('\n');
        } else {
            out += &format!("{} = {v}\n", s.name);
        }
    }
    emit(&out)
}

fn absent(name: &str) -> Failure {
    Failure::Runtime(format!(
        "{name} is not present in this kernel or network namespace ({}/{name} is missing; \
         module not loaded?)",
        table::PROC_DIR
    ))
}

/// The values `set` accepts for `s`; `None` for read-only sysctls. Bounds follow the kernel's
/// handlers: `proc_dou8vec_minmax` 0..=1 for the switches, 0..=255 for `tcp_max_retrans` and
/// `log_invalid`, 0..=2 for `events`, `proc_dointvec*` up to `INT_MAX` for the rest (the
/// jiffies conversion of the timeouts may refuse less; the kernel's answer is then reported).
pub fn accepted_range(s: &Sysctl) -> Option<(u64, u64)> {
    if s.default == Dflt::ReadOnly {
        return None;
    }
    Some(match (s.name, s.unit) {
        ("nf_conntrack_events", _) => (0, 2),
        ("nf_conntrack_log_invalid" | "nf_conntrack_tcp_max_retrans", _) => (0, 255),
        (_, Unit::Bool) => (0, 1),
        (_, Unit::Bytes) => (0, i64::MAX as u64),
        _ => (0, i32::MAX as u64),
    })
}

/// Parses `NAME=VALUE` into the sysctl and value, checking name, range and writability in
/// principle (not yet the file).
pub fn parse_assignment(word: &str) -> Result<(&'static Sysctl, u64), Failure> {
    let (name, value) = word
        .split_once('=')
        .ok_or_else(|| Failure::Usage(format!("`{word}': expected NAME=VALUE")))?;
    let s = lookup(name.trim())?;
    let (lo, hi) = accepted_range(s).ok_or_else(|| {
        Failure::Usage(format!("{} is read-only (the kernel reports it)", s.name))
    })?;
    let value = value.trim();
    let v: u64 = value.parse().map_err(|_| {
        Failure::Usage(format!(
            "{}: `{value}' is not a whole number ({lo}..{hi})",
            s.name
        ))
    })?;
    if v < lo || v > hi {
        return Err(Failure::Usage(format!(
            "{}: {v} is out of range ({lo}..{hi})",
            s.name
        )));
    }
    Ok((s, v))
}

/// Effective uid from /proc/self/status.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Checks that `dir/NAME` exists and can be written here.
fn check_writable(dir: &Path, s: &Sysctl) -> Result<PathBuf, Failure> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(s.name);
    let meta = std::fs::metadata(&path).map_err(|_| absent(s.name))?;
    if meta.permissions().mode() & 0o222 == 0 {
        return Err(Failure::Runtime(format!(
            "{} is read-only in this network namespace: nf_conntrack_max, nf_conntrack_buckets \
             and nf_conntrack_expect_max can be set only in the initial namespace (kernel 6.18)",
            s.name
        )));
    }
    Ok(path)
}

/// `ctkit sysctl set NAME=VALUE… [--persist]` with the sysctls in `dir` and the persistent
/// file at `conf`.
fn set(dir: &Path, conf: &Path, args: &[String]) -> Result<(), Failure> {
    let mut persist = false;
    let mut todo: Vec<(&'static Sysctl, u64)> = Vec::new();
    for a in args {
        if a == "--persist" {
            persist = true;
        } else if a.starts_with('-') {
            return Err(Failure::Usage(format!("unknown argument `{a}'")));
        } else {
            let (s, v) = parse_assignment(a)?;
            if todo.iter().any(|(t, _)| t.name == s.name) {
                return Err(Failure::Usage(format!("{} given twice", s.name)));
            }
            todo.push((s, v));
        }
    }
    if todo.is_empty() {
        return Err(Failure::Usage("`set' needs NAME=VALUE".into()));
    }
    // Everything that can be known before writing, for every name.
    let mut paths = Vec::new();
    for (s, _) in &todo {
        paths.push(check_writable(dir, s)?);
    }
    if effective_uid() != Some(0) {
        return Err(Failure::Runtime(format!(
            "writing {} needs root (effective uid {})",
            table::PROC_DIR,
            effective_uid().map_or("unknown".into(), |u| u.to_string())
        )));
    }
    let mut done: Vec<(&Path, String)> = Vec::new();
    let mut report = String::new();
    for ((s, v), path) in todo.iter().zip(&paths) {
        let old = read_value(dir, s.name).unwrap_or_default();
        if let Err(e) = std::fs::write(path, format!("{v}\n")) {
            for (p, old) in done.iter().rev() {
                let _ = std::fs::write(p, format!("{old}\n"));
            }
            let restored = if done.is_empty() {
                String::new()
            } else {
                format!(
                    " (the {} value(s) written before were restored)",
                    done.len()
                )
            };
            return Err(Failure::Runtime(format!(
                "the kernel refused {}={v}: {e}{restored}",
                s.name
            )));
        }
        let now = read_value(dir, s.name).unwrap_or_default();
        report += &format!("{}: {old} -> {now}\n", s.name);
        done.push((path, old));
    }
    if persist {
        let pairs: Vec<(&str, u64)> = todo.iter().map(|(s, v)| (s.name, *v)).collect();
        persist::update_file(conf, &pairs).map_err(|e| {
            Failure::Runtime(format!(
                "values set, but {} could not be written: {e}",
                conf.display()
            ))
        })?;
        report += &format!(
            "persisted in {} (applied at boot by systemd-sysctl once nf_conntrack is loaded; \
             list it in /etc/modules-load.d to be sure)\n",
            conf.display()
        );
    }
    emit(&report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_dir(values: &[(&str, &str)]) -> tempdir::Dir {
        let d = tempdir::Dir::new();
        for (n, v) in values {
            std::fs::write(d.path().join(n), format!("{v}\n")).unwrap();
        }
        d
    }

    /// A scratch directory under the target dir, removed on drop.
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "ctkit-sysctl-unit-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn assignments_are_checked_for_name_range_and_read_only() {
        let (s, v) = parse_assignment("net.netfilter.nf_conntrack_udp_timeout=45").unwrap();
        assert_eq!((s.name, v), ("nf_conntrack_udp_timeout", 45));
        let usage = |w: &str| match parse_assignment(w) {
            Err(Failure::Usage(m)) => m,
            other => panic!("{w}: {other:?}"),
        };
        assert!(
            usage("nf_conntrack_bogus=1").contains("unknown conntrack sysctl `nf_conntrack_bogus'")
        );
        assert!(usage("nf_conntrack_acct=2").contains("out of range (0..1)"));
        assert!(usage("nf_conntrack_events=3").contains("out of range (0..2)"));
        assert!(usage("nf_conntrack_udp_timeout=-1").contains("not a whole number"));
        assert!(usage("nf_conntrack_udp_timeout=1.5").contains("not a whole number"));
        assert!(usage("nf_conntrack_max=4294967296").contains("out of range"));
        assert!(usage("nf_conntrack_count=5").contains("read-only"));
        assert!(usage("nf_conntrack_udp_timeout").contains("NAME=VALUE"));
    }

    #[test]
    fn a_bad_assignment_anywhere_writes_nothing() {
        let d = fake_dir(&[
            ("nf_conntrack_udp_timeout", "30"),
            ("nf_conntrack_acct", "0"),
        ]);
        let conf = d.path().join("conf");
        let args: Vec<String> = ["nf_conntrack_udp_timeout=45", "nf_conntrack_acct=7"]
            .map(String::from)
            .to_vec();
        assert!(matches!(
            set(d.path(), &conf, &args),
            Err(Failure::Usage(_))
        ));
        assert_eq!(
            read_value(d.path(), "nf_conntrack_udp_timeout").unwrap(),
            "30"
        );
        // An absent file is found before any write, too.
        let args: Vec<String> = ["nf_conntrack_udp_timeout=45", "nf_conntrack_gre_timeout=9"]
            .map(String::from)
            .to_vec();
        match set(d.path(), &conf, &args) {
            Err(Failure::Runtime(m)) => {
                assert!(m.contains("nf_conntrack_gre_timeout is not present"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            read_value(d.path(), "nf_conntrack_udp_timeout").unwrap(),
            "30"
        );
        assert!(!conf.exists());
    }

    #[test]
    fn read_only_files_are_reported_as_initial_namespace_only() {
        use std::os::unix::fs::PermissionsExt;
        let d = fake_dir(&[("nf_conntrack_max", "262144")]);
        let p = d.path().join("nf_conntrack_max");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
        let s = table::find("nf_conntrack_max").unwrap();
        match check_writable(d.path(), s) {
            Err(Failure::Runtime(m)) => assert!(m.contains("only in the initial namespace"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn listing_flags_changed_values_and_values_below_a_standard() {
        let d = fake_dir(&[
            ("nf_conntrack_udp_timeout", "45"),
            ("nf_conntrack_tcp_timeout_established", "3600"),
            ("nf_conntrack_icmp_timeout", "30"),
            ("nf_conntrack_udp_timeout_stream", "120"),
        ]);
        let rows: Vec<Row> = SYSCTLS.iter().map(|s| row(d.path(), s)).collect();
        let get = |n: &str| rows.iter().find(|r| r.name == n).unwrap();
        let udp = get("nf_conntrack_udp_timeout");
        assert_eq!(
            (udp.value.as_deref(), udp.differs, udp.below_floor),
            (Some("45"), true, false)
        );
        let est = get("nf_conntrack_tcp_timeout_established");
        assert!(est.differs && est.below_floor);
        assert_eq!(est.floor_source, Some("RFC 5382 REQ-5"));
        let icmp = get("nf_conntrack_icmp_timeout");
        assert!(!icmp.differs && icmp.below_floor);
        let stream = get("nf_conntrack_udp_timeout_stream");
        assert!(!stream.differs && !stream.below_floor);
        let absent = get("nf_conntrack_gre_timeout");
        assert!(!absent.present && !absent.differs);
        let text = render_list(&rows);
        assert!(
            text.contains("*! nf_conntrack_tcp_timeout_established"),
            "{text}"
        );
        assert!(text.contains("[RFC 5382 REQ-5: at least 7440]"), "{text}");
        assert!(text.contains("\n ! nf_conntrack_icmp_timeout "), "{text}");
        let json = serde_json::to_value(udp).unwrap();
        assert_eq!(json["value"], 45);
        assert_eq!(
            serde_json::to_value(absent).unwrap()["value"],
            serde_json::Value::Null
        );
        assert!(text.contains("absent"), "{text}");
        assert!(text.contains("(2)   ! below"), "{text}");
    }
}
