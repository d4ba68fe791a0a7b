//! `ctkit doctor`: a one-screen health report of the conntrack table, with the exact command
//! that fixes each finding and an exit status for monitoring (0 ok, 1 warning, 2 critical,
//! 3 the check could not run).
//!
//! What it looks at (network namespace of the process; `--from` for other sources):
//! - fill against `nf_conntrack_max`, buckets, memory (entries × the `nf_conntrack` slab's
//!   object size, 256 B on 6.18);
//! - the per-CPU counters summed (`drop`, `early_drop`, `insert_failed`, `invalid`,
//!   `clash_resolve`, `search_restart`, `chaintoolong`) and their rates between two samples
//!   `--sample SECS` apart (default 1; `--no-sample` judges totals only);
//! - one streaming pass over the table: top sources, top states, UNREPLIED / TIME_WAIT /
//!   ESTABLISHED shares, helpers in use; expectations against `nf_conntrack_expect_max`;
//! - conntrack's kernel log lines of the last `--since` (default 1h), attributed to a network
//!   namespace by inode ([`kmsg`]); `--log auto|kmsg|journal|none`;
//! - the acct / timestamp / events settings.
//!
//! The thresholds are data ([`health::THRESHOLDS`]); `--json` prints the whole report as one
//! JSON object (fields documented on [`Report`]).

pub mod health;
pub mod kmsg;
pub mod probe;

use crate::source;
use crate::views::group;
use crate::views::sysctl::size::human as human_bytes;
use ctkit_model::{FlowSource, TableCounters};
use health::{judge, sysctl_fix, Finding, Fix, Severity};
use kmsg::{LogHit, LogSource, Origin};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The counters doctor reports, by their conntrack names.
pub const COUNTERS: [&str; 7] = [
    "drop",
    "early_drop",
    "insert_failed",
    "invalid",
    "clash_resolve",
    "search_restart",
    "chaintoolong",
];

/// Exit status when the check itself could not run (Nagios' UNKNOWN).
const EXIT_UNKNOWN: u8 = 3;

/// `doctor`'s own options.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Seconds between the two counter samples; `None` = `--no-sample`.
    pub sample: Option<f64>,
    /// The kernel log window in seconds (`--since`).
    pub since_s: f64,
    /// `--log`.
    pub log: LogChoice,
    /// `--top N`: rows of the top lists.
    pub top: usize,
}

/// Where `--log` reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogChoice {
    /// `/dev/kmsg`, else the journal.
    Auto,
    /// `/dev/kmsg` only.
    Kmsg,
    /// The journal only.
    Journal,
    /// Do not read the kernel log.
    None,
}

/// Reads a duration: `90`, `90s`, `30m`, `1h`, `2d`, `0.5` (seconds).
pub fn parse_duration(s: &str) -> Option<f64> {
    let (num, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1.0),
        'm' => (&s[..s.len() - 1], 60.0),
        'h' => (&s[..s.len() - 1], 3600.0),
        'd' => (&s[..s.len() - 1], 86400.0),
        _ => (s, 1.0),
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v * mult)
}

/// Parses doctor's own words (after the shared view flags).
pub fn parse_options(rest: &[String]) -> Result<Options, String> {
    let mut o = Options {
        sample: Some(1.0),
        since_s: 3600.0,
        log: LogChoice::Auto,
        top: 5,
    };
    let mut words = super::common::Words::new(rest);
    while let Some(flag) = words.next_flag() {
        let mut value = || words.value();
        match flag {
            "--sample" => {
                let v = value()?;
                // Rates over a near-zero interval would be noise (one drop in 20 µs is 50000/s).
                let d = parse_duration(v)
                    .filter(|d| (0.01..=3600.0).contains(d))
                    .ok_or_else(|| {
                        format!(
                            "--sample: `{v}' is not a duration from 0.01 s to 1 h (e.g. 1, 0.5, \
                             2s; --no-sample judges totals only)"
                        )
                    })?;
                o.sample = Some(d);
            }
            "--no-sample" => o.sample = None,
            "--since" => {
                let v = value()?;
                o.since_s = parse_duration(v).ok_or_else(|| {
                    format!("--since: `{v}' is not a duration (e.g. 90s, 30m, 1h, 2d)")
                })?;
            }
            "--log" => {
                let v = value()?;
                o.log = match v {
                    "auto" => LogChoice::Auto,
                    "kmsg" => LogChoice::Kmsg,
                    "journal" => LogChoice::Journal,
                    "none" => LogChoice::None,
                    _ => {
                        return Err(format!(
                            "--log: `{v}' is not one of auto, kmsg, journal, none"
                        ))
                    }
                };
            }
            "--top" => {
                let v = value()?;
                o.top = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--top: `{v}' is not a positive number"))?;
            }
            other => return Err(format!("doctor: unknown option `{other}'")),
        }
    }
    Ok(o)
}

/// One counter: total now, and its change over the sample.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CounterReport {
    /// The sum over CPUs at the second sample.
    pub total: u64,
    /// Increase between the samples (null without sampling).
    pub delta: Option<u64>,
    /// `delta` per second.
    pub per_s: Option<f64>,
}

/// A row of a top list.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TopRow {
    /// The source address or the state label.
    pub key: String,
    /// Entries.
    pub count: u64,
    /// Share of the entries scanned, percent.
    pub pct: f64,
    /// How many of them never saw a reply.
    pub unreplied: u64,
}

/// A recognised kernel log line.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LogLine {
    /// Seconds ago.
    pub age_s: f64,
    /// `table_full`, `expect_table_full`, `vmalloc`, `helper_drop`, `callbacks_suppressed`.
    pub kind: &'static str,
    /// `ours`, `other`, `initial`, `unnamed`.
    pub origin: &'static str,
    /// The namespace inode the line names, if any.
    pub netns: Option<u64>,
    /// The line.
    pub text: String,
    /// What it means.
    pub explain: String,
    /// For `callbacks_suppressed`: how many messages were hidden.
    pub suppressed: Option<u64>,
}

/// The kernel log part of the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LogReport {
    /// `/dev/kmsg`, `journalctl -k`, or null when not read.
    pub source: Option<&'static str>,
    /// The window in seconds.
    pub window_s: f64,
    /// Why the log was not read (`--log none`, a saved table, or the read errors), if it was not.
    pub error: Option<String>,
    /// Recognised lines, oldest first.
    pub lines: Vec<LogLine>,
}

/// The whole report (`--json` prints it as one object).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `ok`, `warning`, `critical`.
    pub status: Severity,
    /// The exit status.
    pub exit: u8,
    /// The source (`kernel`, `/proc/net/nf_conntrack`, a file).
    pub source: String,
    /// Our network namespace inode (live sources only: a saved table or a capture has none).
    pub netns: Option<u64>,
    /// Seconds between the two counter samples (null: `--no-sample`).
    pub sample_s: Option<f64>,
    /// `nf_conntrack_count` (else the entries scanned).
    pub count: Option<u64>,
    /// `nf_conntrack_max`.
    pub max: Option<u64>,
    /// count / max, percent.
    pub fill_pct: Option<f64>,
    /// `nf_conntrack_buckets`.
    pub buckets: Option<u64>,
    /// Slab object size of an entry, bytes.
    pub entry_bytes: Option<u64>,
    /// count × entry_bytes.
    pub memory_bytes: Option<u64>,
    /// Entries seen by the scan (the top lists are shares of this).
    pub scanned: u64,
    /// Per-CPU counters summed, by name.
    pub counters: BTreeMap<&'static str, CounterReport>,
    /// Top sources.
    pub top_sources: Vec<TopRow>,
    /// Top states.
    pub top_states: Vec<TopRow>,
    /// Entries without a reply, percent of scanned.
    pub unreplied_pct: Option<f64>,
    /// TCP TIME_WAIT, percent of scanned.
    pub time_wait_pct: Option<f64>,
    /// TCP ESTABLISHED, percent of scanned.
    pub established_pct: Option<f64>,
    /// Helpers in use, entries per helper.
    pub helpers: BTreeMap<String, u64>,
    /// Expectations in the table (kernel source only).
    pub expectations: Option<u64>,
    /// `nf_conntrack_expect_max`.
    pub expect_max: Option<u64>,
    /// acct, timestamp, events and the timeouts doctor may suggest changing.
    pub settings: BTreeMap<&'static str, Option<String>>,
    /// The kernel log.
    pub log: LogReport,
    /// Findings, worst first.
    pub findings: Vec<Finding>,
}

/// Sysctls shown in the settings line.
const SETTINGS: [&str; 7] = [
    "nf_conntrack_acct",
    "nf_conntrack_timestamp",
    "nf_conntrack_events",
    "nf_conntrack_udp_timeout",
    "nf_conntrack_tcp_timeout_time_wait",
    "nf_conntrack_tcp_timeout_established",
    "nf_conntrack_log_invalid",
];

/// `ctkit doctor --help`.
pub const USAGE: &str = concat!(
    "\
usage: ctkit doctor [--sample SECS | --no-sample] [--since DURATION] [--log auto|kmsg|journal|none]
                    [--top N] [--json] [--from kernel|proc|FILE]
                    [--set NAME=VALUE]... [--sysctl-from-kernel] [--helper ftp=PORT]...
                    [--no-helpers] [--seed N]   (with --from CAPTURE)
       ctkit doctor --thresholds      (the thresholds it applies)

One-screen health report of the conntrack table of this network namespace: fill against
nf_conntrack_max, drop/early_drop/insert_failed/invalid/clash_resolve/search_restart with
rates over a SECS sample (default 1), top sources and states, UNREPLIED and TIME_WAIT shares,
buckets, helpers, expectations, memory, settings, and conntrack's kernel log lines of the
last DURATION (default 1h; 90s, 30m, 2d) attributed to their network namespace.
Each finding comes with the command that fixes it.
Exit status: 0 ok, 1 warning, 2 critical, 3 the check could not run.
",
    crate::views::engine::capture_help!()
);

/// Runs `ctkit doctor`.
pub fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--thresholds") {
        print!("{}", health::thresholds_text());
        return ExitCode::SUCCESS;
    }
    let fail = |msg: &str| {
        eprintln!("ctkit: {msg}{}", super::doctor::probe::privilege_hint(msg));
        ExitCode::from(EXIT_UNKNOWN)
    };
    let va = match super::common::parse_view_args(args, &["--sample", "--since", "--log", "--top"])
    {
        Ok(v) => v,
        Err(e) => return fail(&e),
    };
    if va.filtered {
        return fail("doctor judges the whole table; use `ctkit list` or `summary` with filters");
    }
    let opts = match parse_options(&va.rest) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let mut src = match va.open_source() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let kernel = matches!(va.from, source::SourceSpec::Kernel);
    let report = match gather(src.as_mut(), kernel, &opts) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let out = if va.json {
        let mut s = serde_json::to_string(&report).unwrap_or_default();
        s.push('\n');
        s
    } else {
        render(&report)
    };
    let mut so = std::io::stdout().lock();
    if let Err(e) = so.write_all(out.as_bytes()).and_then(|_| so.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return fail(&format!("stdout: {e}"));
        }
    }
    ExitCode::from(report.exit)
}

fn pct(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// Collects everything and judges it.
pub fn gather(src: &mut dyn FlowSource, kernel: bool, opts: &Options) -> Result<Report, String> {
    let live = src.is_live();
    let c0 = src.counters().map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let (c1, sample_s) = match opts.sample {
        Some(s) if live && c0.cpu_sum.is_some() => {
            std::thread::sleep(Duration::from_secs_f64(s));
            let c1 = src.counters().map_err(|e| e.to_string())?;
            (c1, Some(t0.elapsed().as_secs_f64()))
        }
        _ => (c0, None),
    };
    let mut shape = probe::TableShape::default();
    src.scan(&mut |f| {
        shape.add(f);
        ControlFlow::Continue(())
    })
    .map_err(|e| e.to_string())?;

    let count = c1.entries.or(Some(shape.entries));
    let max = c1.max.or_else(|| {
        live.then(|| probe::sysctl_u64("nf_conntrack_max"))
            .flatten()
    });
    let fill_pct = match (count, max) {
        (Some(c), Some(m)) => pct(c, m),
        _ => None,
    };
    let buckets = live
        .then(|| probe::sysctl_u64("nf_conntrack_buckets"))
        .flatten();
    let slab = std::fs::read_to_string("/proc/slabinfo")
        .ok()
        .and_then(|t| probe::parse_slabinfo(&t));
    let entry_bytes = slab.map(|(_, size)| size);
    let memory_bytes = match (count, entry_bytes) {
        (Some(c), Some(b)) if live => Some(c * b),
        _ => None,
    };
    let counters = counter_report(&c0, &c1, sample_s);
    let (expectations, expect_max) = if kernel {
        (
            count_expectations(),
            probe::sysctl_u64("nf_conntrack_expect_max"),
        )
    } else {
        (None, None)
    };
    let mut settings = BTreeMap::new();
    if live {
        for s in SETTINGS {
            settings.insert(s, probe::sysctl(s));
        }
    }
    // A saved table or a capture belongs to no namespace of this machine.
    let netns = live.then(probe::netns_inode).flatten();
    let log = if live {
        read_log(opts, netns)
    } else {
        LogReport {
            source: None,
            window_s: opts.since_s,
            error: Some("the source is a saved table".into()),
            lines: vec![],
        }
    };
    let scanned = shape.entries;
    let rows = |v: Vec<(String, group::Counts)>| -> Vec<TopRow> {
        v.into_iter()
            .map(|(key, c)| TopRow {
                key,
                count: c.entries,
                pct: pct(c.entries, scanned).unwrap_or(0.0),
                unreplied: c.unreplied,
            })
            .collect()
    };
    let top_sources = rows(shape.top_sources(opts.top));
    let top_states = rows(shape.top_states(opts.top));
    let mut report = Report {
        status: Severity::Ok,
        exit: 0,
        source: src.describe(),
        netns,
        sample_s,
        count,
        max,
        fill_pct,
        buckets,
        entry_bytes,
        memory_bytes,
        scanned,
        counters,
        top_sources,
        top_states,
        unreplied_pct: pct(shape.unreplied, scanned),
        time_wait_pct: pct(shape.time_wait, scanned),
        established_pct: pct(shape.established, scanned),
        helpers: shape.helpers.into_iter().collect(),
        expectations,
        expect_max,
        settings,
        log,
        findings: vec![],
    };
    report.findings = findings(&report);
    report.status = health::worst(&report.findings);
    report.exit = report.status.exit_code();
    Ok(report)
}

fn counter_report(
    c0: &TableCounters,
    c1: &TableCounters,
    sample_s: Option<f64>,
) -> BTreeMap<&'static str, CounterReport> {
    let mut m = BTreeMap::new();
    for name in COUNTERS {
        let Some(total) = c1.counter(name) else {
            continue;
        };
        let delta = sample_s
            .and(c0.counter(name))
            .map(|a| total.saturating_sub(a));
        let per_s = match (delta, sample_s) {
            (Some(d), Some(s)) if s > 0.0 => Some(d as f64 / s),
            _ => None,
        };
        m.insert(
            name,
            CounterReport {
                total,
                delta,
                per_s,
            },
        );
    }
    m
}

fn count_expectations() -> Option<u64> {
    let mut conn = ctkit_ctnetlink::Conn::open().ok()?;
    let mut n = 0u64;
    conn.dump_expect(0, |_| {
        n += 1;
        ControlFlow::Continue(())
    })
    .ok()?;
    Some(n)
}

fn read_log(opts: &Options, ours: Option<u64>) -> LogReport {
    let mut rep = LogReport {
        source: None,
        window_s: opts.since_s,
        error: None,
        lines: vec![],
    };
    if opts.log == LogChoice::None {
        rep.error = Some("--log none".into());
        return rep;
    }
    let Some(now) = kmsg::uptime_usec() else {
        rep.error = Some("/proc/uptime unreadable".into());
        return rep;
    };
    let mut errors = Vec::new();
    let mut got = None;
    if matches!(opts.log, LogChoice::Auto | LogChoice::Kmsg) {
        match kmsg::read_kmsg() {
            Ok(r) => got = Some((LogSource::Kmsg, r)),
            Err(e) => errors.push(format!("/dev/kmsg: {e}")),
        }
    }
    if got.is_none() && matches!(opts.log, LogChoice::Auto | LogChoice::Journal) {
        match kmsg::read_journal(opts.since_s) {
            Ok(r) => got = Some((LogSource::Journal, r)),
            Err(e) => errors.push(format!("journalctl: {e}")),
        }
    }
    let Some((which, records)) = got else {
        rep.error = Some(errors.join("; "));
        return rep;
    };
    rep.source = Some(which.name());
    rep.lines = kmsg::select(records, now, opts.since_s)
        .into_iter()
        .map(|h| log_line(h, ours))
        .collect();
    rep
}

fn log_line(h: LogHit, ours: Option<u64>) -> LogLine {
    let origin = h.kind.origin(ours);
    let netns = match &h.kind {
        kmsg::Kind::TableFull { netns } => *netns,
        _ => None,
    };
    let suppressed = match &h.kind {
        kmsg::Kind::Suppressed { count, .. } => Some(*count),
        _ => None,
    };
    LogLine {
        age_s: (h.age_s * 10.0).round() / 10.0,
        kind: h.kind.key(),
        origin: match origin {
            Origin::Ours => "ours",
            Origin::Other(_) => "other",
            Origin::Initial => "initial",
            Origin::Unnamed => "unnamed",
        },
        netns,
        explain: h.kind.explain(),
        text: h.record.text,
        suppressed,
    }
}

fn raise_max_fix(count: u64, max: u64, entry_bytes: Option<u64>) -> Fix {
    let n = health::suggested_max(count, max);
    let b = entry_bytes.unwrap_or(256);
    sysctl_fix(
        "nf_conntrack_max",
        n,
        format!(
            "twice the current size; costs up to {} of kernel memory when full ({n} entries × \
             {b} B; the hash table keeps its buckets: `ctkit sysctl size --max {n}` sizes both). \
             Writable only in the initial network namespace, where it caps every namespace",
            human_bytes(n * b)
        ),
    )
}

fn setting_u64(r: &Report, name: &str) -> Option<u64> {
    r.settings.get(name)?.as_ref()?.parse().ok()
}

/// Log lines are grouped by (kind, origin).
type LogKey<'a> = (&'a str, &'a str);

/// A group of log lines.
struct LogGroup {
    lines: u64,
    newest: f64,
    explain: String,
    hidden: u64,
    netns: Vec<u64>,
}

/// Judges the report; worst findings first.
pub fn findings(r: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    let fill = r.fill_pct;
    let mut push =
        |id: &str, sev: Severity, value: Option<f64>, message: String, fixes: Vec<Fix>| {
            out.push(Finding {
                id: id.to_string(),
                severity: sev,
                value,
                message,
                fixes: if sev == Severity::Ok { vec![] } else { fixes },
            })
        };
    let raise = match (r.count, r.max) {
        (Some(c), Some(m)) => vec![raise_max_fix(c, m, r.entry_bytes)],
        _ => vec![],
    };
    let mut fill_sev = Severity::Ok;
    if let (Some(f), Some(c), Some(m)) = (fill, r.count, r.max) {
        fill_sev = judge("fill_pct", f, fill);
        push(
            "fill_pct",
            fill_sev,
            Some(f),
            format!("table {c} of {m} entries ({f:.1} %)"),
            raise.clone(),
        );
    }
    if let Some(d) = r.counters.get("drop") {
        let now = d
            .per_s
            .map_or(Severity::Ok, |p| judge("drop_per_s", p, fill));
        let past = judge("drop", d.total as f64, fill);
        let sev = now.max(past);
        let msg = match (d.delta, d.per_s) {
            (Some(x), Some(p)) if x > 0 => format!(
                "drop: {x} packets of new flows dropped during the sample ({p:.1}/s), {} in all: \
                 the table is full",
                d.total
            ),
            _ if d.total > 0 => format!(
                "drop: {} packets of new flows dropped since the table was created (none during \
                 the sample): the table was full",
                d.total
            ),
            _ => "drop: 0".to_string(),
        };
        push("drop", sev, Some(d.total as f64), msg, raise.clone());
    }
    let rate_findings: [(&str, &str, &str); 5] = [
        (
            "early_drop",
            "early_drop_per_s",
            "unassured entries evicted to make room",
        ),
        (
            "insert_failed",
            "insert_failed_per_s",
            "insertion races lost (parallel UDP requests through NAT, e.g. DNS A/AAAA)",
        ),
        (
            "invalid",
            "invalid_per_s",
            "packets conntrack could not classify",
        ),
        (
            "search_restart",
            "search_restart_per_s",
            "lookups restarted by hash resizes",
        ),
        (
            "chaintoolong",
            "chaintoolong_per_s",
            "inserts refused: hash chain too long",
        ),
    ];
    for (name, metric, what) in rate_findings {
        let Some(c) = r.counters.get(name) else {
            continue;
        };
        let Some(p) = c.per_s else {
            continue;
        };
        let sev = judge(metric, p, fill);
        if sev == Severity::Ok {
            continue;
        }
        let fixes = match name {
            "early_drop" => raise.clone(),
            "insert_failed" => vec![Fix {
                ctkit: "ctkit list --proto udp --dport 53".into(),
                plain: "conntrack -L -p udp --dport 53".into(),
                why: "see which UDP flows race; resolver option `single-request-reopen` or a \
                      `notrack` rule for DNS removes the race"
                    .into(),
            }],
            "invalid" => vec![sysctl_fix(
                "nf_conntrack_log_invalid",
                255,
                "logs why each invalid packet was refused (all protocols); set back to 0 after",
            )],
            _ => r
                .max
                .map(|m| {
                    let b = (m / 4).next_power_of_two().max(1024);
                    vec![sysctl_fix(
                        "nf_conntrack_buckets",
                        b,
                        "max/4 buckets keeps chains short (writable in the initial namespace)",
                    )]
                })
                .unwrap_or_default(),
        };
        push(
            name,
            sev,
            Some(p),
            format!("{name}: {p:.1}/s during the sample: {what}"),
            fixes,
        );
    }
    if let (Some(m), Some(b)) = (r.max, r.buckets) {
        if b > 0 {
            let ratio = m as f64 / b as f64;
            let sev = judge("max_per_bucket", ratio, None);
            if sev > Severity::Ok {
                let nb = (m / 4).next_power_of_two();
                push(
                    "max_per_bucket",
                    sev,
                    Some(ratio),
                    format!("nf_conntrack_max {m} over {b} buckets: {ratio:.1} entries per chain when full"),
                    vec![sysctl_fix(
                        "nf_conntrack_buckets",
                        nb,
                        "max/4 buckets (8 bytes each) keeps lookups short; initial namespace only",
                    )],
                );
            }
        }
    }
    if let (Some(e), Some(em)) = (r.expectations, r.expect_max) {
        if let Some(p) = pct(e, em) {
            let sev = judge("expect_fill_pct", p, None);
            push(
                "expect_fill_pct",
                sev,
                Some(p),
                format!("expectations {e} of {em} ({p:.1} %)"),
                vec![sysctl_fix(
                    "nf_conntrack_expect_max",
                    (em * 2).max(256),
                    "twice the current limit; expectations are small (about 200 B each)",
                )],
            );
        }
    }
    if let Some(top) = r.top_sources.first() {
        if r.scanned >= 10 {
            let mut sev = judge("top_source_pct", top.pct, fill);
            // The source that holds most of a critically full table is the critical cause.
            if sev > Severity::Ok && fill_sev == Severity::Critical {
                sev = Severity::Critical;
            }
            push(
                "top_source",
                sev,
                Some(top.pct),
                format!(
                    "source {} holds {} entries ({:.1} % of the table)",
                    top.key, top.count, top.pct
                ),
                vec![Fix {
                    ctkit: format!("ctkit delete --src {}", top.key),
                    plain: format!("conntrack -D -s {}", top.key),
                    why: "removes that source's entries now; if it is a flood, rate-limit it \
                          (nft `meter`/`limit`) or exempt it from tracking (`notrack`)"
                        .into(),
                }],
            );
        }
    }
    let share = |id: &str, metric: &str, v: Option<f64>, what: &str, fixes: Vec<Fix>| {
        v.filter(|_| r.scanned >= 10).map(|p| {
            let sev = judge(metric, p, fill);
            (
                id.to_string(),
                sev,
                p,
                format!("{what}: {p:.1} % of the entries"),
                fixes,
            )
        })
    };
    let mut shares = Vec::new();
    let udp_t = setting_u64(r, "nf_conntrack_udp_timeout");
    shares.extend(share(
        "unreplied",
        "unreplied_pct",
        r.unreplied_pct,
        "UNREPLIED (no answer seen)",
        udp_t
            .filter(|t| *t > 10)
            .map(|_| {
                vec![sysctl_fix(
                    "nf_conntrack_udp_timeout",
                    10,
                    "applies only to UDP flows that never saw a reply (kernel default 30 s); \
                     RFC 4787 REQ-5 asks 120 s for NAT mappings in general but allows shorter \
                     timers for known short-lived protocols such as DNS",
                )]
            })
            .unwrap_or_default(),
    ));
    shares.extend(share(
        "time_wait",
        "time_wait_pct",
        r.time_wait_pct,
        "TCP TIME_WAIT",
        setting_u64(r, "nf_conntrack_tcp_timeout_time_wait")
            .filter(|t| *t > 60)
            .map(|_| {
                vec![sysctl_fix(
                    "nf_conntrack_tcp_timeout_time_wait",
                    60,
                    "Linux's own TCP TIME-WAIT length (TCP_TIMEWAIT_LEN, 60 s); RFC 793's 2×MSL \
                     is 240 s, RFC 6191 allows shorter with timestamps",
                )]
            })
            .unwrap_or_default(),
    ));
    shares.extend(share(
        "established",
        "established_pct",
        r.established_pct,
        "TCP ESTABLISHED",
        setting_u64(r, "nf_conntrack_tcp_timeout_established")
            .filter(|t| *t > 7440)
            .map(|_| {
                vec![sysctl_fix(
                    "nf_conntrack_tcp_timeout_established",
                    7440,
                    "RFC 5382 REQ-5: an established-connection idle timeout must not be shorter \
                     than 2 h 4 min (7440 s); the kernel default is 5 days",
                )]
            })
            .unwrap_or_default(),
    ));
    for (id, sev, p, msg, fixes) in shares {
        if sev > Severity::Ok {
            push(&id, sev, Some(p), msg, fixes);
        }
    }
    // Kernel log: one finding per (kind, origin); other namespaces are listed, not explained.
    let mut groups: BTreeMap<LogKey<'_>, LogGroup> = BTreeMap::new();
    for l in &r.log.lines {
        let g = groups
            .entry((l.kind, l.origin))
            .or_insert_with(|| LogGroup {
                lines: 0,
                newest: f64::MAX,
                explain: l.explain.clone(),
                hidden: 0,
                netns: Vec::new(),
            });
        g.lines += 1;
        g.newest = g.newest.min(l.age_s);
        g.hidden += l.suppressed.unwrap_or(0);
        if let Some(n) = l.netns {
            // Most recently seen last.
            g.netns.retain(|x| *x != n);
            g.netns.push(n);
        }
    }
    for ((kind, origin), g) in groups {
        let n = g.lines;
        let newest = g.newest;
        let sev = match (kind, origin) {
            ("table_full", "ours") | ("expect_table_full", _) | ("helper_drop", _) => {
                Severity::Warning
            }
            _ => Severity::Ok,
        };
        let explain = match (kind, origin) {
            ("callbacks_suppressed", _) => format!(
                ": {} rate-limited messages were suppressed in all (net_ratelimit covers every \
                 network warning, \"table full\" included)",
                g.hidden
            ),
            (_, "other" | "initial") => String::new(),
            _ => format!(": {}", g.explain),
        };
        let whose = match origin {
            "ours" => "in this namespace".to_string(),
            "other" => {
                // Newest first (lines are oldest first).
                let mut ids: Vec<String> = g
                    .netns
                    .iter()
                    .rev()
                    .take(4)
                    .map(|n| n.to_string())
                    .collect();
                if g.netns.len() > 4 {
                    ids.push("…".into());
                }
                let many = if g.netns.len() == 1 {
                    "another namespace"
                } else {
                    "other namespaces"
                };
                format!(
                    "in {} {many} (netns {}), not this one",
                    g.netns.len(),
                    ids.join(", ")
                )
            }
            "initial" => "in the initial namespace, not this one".to_string(),
            _ => "host-wide".to_string(),
        };
        let fixes = match kind {
            "table_full" => raise.clone(),
            "expect_table_full" => r
                .expect_max
                .map(|em| {
                    vec![sysctl_fix(
                        "nf_conntrack_expect_max",
                        (em * 2).max(256),
                        "twice the current limit",
                    )]
                })
                .unwrap_or_default(),
            _ => vec![],
        };
        let id = match origin {
            "other" | "initial" => format!("log_{kind}_{origin}"),
            _ => format!("log_{kind}"),
        };
        push(
            &id,
            sev,
            Some(n as f64),
            format!("kernel log: {n} × {kind} {whose}, newest {newest:.0} s ago{explain}"),
            fixes,
        );
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// The one-screen text report.
pub fn render(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let ns = r.netns.map_or(String::new(), |n| format!(" in net:[{n}]"));
    let sample = r
        .sample_s
        .map_or("not sampled (totals only)".to_string(), |x| {
            format!("rates over {x:.1} s")
        });
    let _ = writeln!(s, "ctkit doctor: {}{ns}, {sample}", r.source);
    let _ = writeln!(s, "status: {} (exit {})", r.status.word(), r.exit);
    let _ = writeln!(s);
    let opt = |v: Option<u64>| v.map_or("?".to_string(), |x| x.to_string());
    let _ = write!(s, "table      {} of {} entries", opt(r.count), opt(r.max));
    if let Some(f) = r.fill_pct {
        let _ = write!(s, " ({f:.1} %)");
    }
    if let (Some(b), Some(m)) = (r.buckets, r.max) {
        let _ = write!(
            s,
            ", {b} buckets ({:.1} per bucket when full)",
            m as f64 / b.max(1) as f64
        );
    }
    let _ = writeln!(s);
    if let (Some(m), Some(b), Some(c)) = (r.memory_bytes, r.entry_bytes, r.count) {
        let _ = writeln!(
            s,
            "memory     {} ({c} × {b} B slab objects)",
            human_bytes(m)
        );
    }
    if !r.counters.is_empty() {
        let _ = write!(s, "counters  ");
        for (name, c) in &r.counters {
            let _ = write!(s, " {name} {}", c.total);
            if let (Some(d), Some(p)) = (c.delta, c.per_s) {
                if d > 0 {
                    let _ = write!(s, " (+{d}, {p:.1}/s)");
                }
            }
        }
        let _ = writeln!(s);
    }
    let list = |rows: &[TopRow]| -> String {
        if rows.is_empty() {
            return "none".into();
        }
        rows.iter()
            .map(|t| {
                let u = if t.unreplied > 0 {
                    format!(", {} unreplied", t.unreplied)
                } else {
                    String::new()
                };
                format!("{} {} ({:.1} %{u})", t.key, t.count, t.pct)
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(s, "sources    {}", list(&r.top_sources));
    let _ = writeln!(s, "states     {}", list(&r.top_states));
    let p = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1} %"));
    let _ = writeln!(
        s,
        "shares     UNREPLIED {}, TIME_WAIT {}, ESTABLISHED {}",
        p(r.unreplied_pct),
        p(r.time_wait_pct),
        p(r.established_pct)
    );
    let helpers = if r.helpers.is_empty() {
        "none".to_string()
    } else {
        r.helpers
            .iter()
            .map(|(h, n)| format!("{h} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(s, "helpers    {helpers}");
    if let (Some(e), Some(em)) = (r.expectations, r.expect_max) {
        let _ = write!(s, "; expectations {e} of {em}");
    }
    let _ = writeln!(s);
    if !r.settings.is_empty() {
        let _ = write!(s, "settings  ");
        for (k, v) in &r.settings {
            let k = k.trim_start_matches("nf_conntrack_");
            let _ = write!(s, " {k}={}", v.as_deref().unwrap_or("-"));
        }
        let _ = writeln!(s);
    }
    let window = human_window(r.log.window_s);
    match (&r.log.source, &r.log.error) {
        (Some(src), _) => {
            let _ = writeln!(
                s,
                "kernel log {src}, last {window}: {} conntrack line{}",
                r.log.lines.len(),
                if r.log.lines.len() == 1 { "" } else { "s" }
            );
            // The newest few lines of this namespace (else of any), oldest first.
            let ours: Vec<&LogLine> = r.log.lines.iter().filter(|l| l.origin == "ours").collect();
            let pick: Vec<&LogLine> = if ours.is_empty() {
                r.log.lines.iter().collect()
            } else {
                ours
            };
            for l in &pick[pick.len().saturating_sub(3)..] {
                let who = match (l.origin, l.netns) {
                    ("ours", _) => "this netns".to_string(),
                    ("other", Some(n)) => format!("netns {n}"),
                    ("initial", _) => "initial netns".to_string(),
                    _ => "host".to_string(),
                };
                let _ = writeln!(s, "  {:>8.1} s ago  [{who}]  {}", l.age_s, l.text);
            }
        }
        (None, Some(e)) => {
            let _ = writeln!(s, "kernel log not read: {e}");
        }
        (None, None) => {}
    }
    let _ = writeln!(s);
    let bad: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Ok)
        .collect();
    if bad.is_empty() {
        let _ = writeln!(s, "no findings: every threshold is met");
    }
    let mut shown: Vec<&str> = Vec::new();
    for f in bad {
        for (i, l) in wrap(&f.message, 90).iter().enumerate() {
            let head = if i == 0 { f.severity.word() } else { "" };
            let _ = writeln!(s, "{head:<8} {l}");
        }
        for fix in &f.fixes {
            if shown.contains(&fix.ctkit.as_str()) {
                let _ = writeln!(s, "         fix: {} (as above)", fix.ctkit);
                continue;
            }
            shown.push(&fix.ctkit);
            let _ = writeln!(s, "         fix: {}", fix.ctkit);
            let _ = writeln!(s, "          or: {}", fix.plain);
            for (i, l) in wrap(&fix.why, 86).iter().enumerate() {
                let head = if i == 0 { "why:" } else { "" };
                let _ = writeln!(s, "         {head:<4} {l}");
            }
        }
    }
    for f in r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Ok && f.id.starts_with("log_"))
    {
        for (i, l) in wrap(&f.message, 90).iter().enumerate() {
            let head = if i == 0 { "note" } else { "" };
            let _ = writeln!(s, "{head:<8} {l}");
        }
    }
    s
}

/// Splits `text` into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for w in text.split_whitespace() {
        let cur = lines.last_mut().expect("one line");
        if !cur.is_empty() && cur.chars().count() + 1 + w.chars().count() > width {
            lines.push(w.to_string());
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(w);
        }
    }
    lines
}

fn human_window(secs: f64) -> String {
    if secs >= 86400.0 && secs % 86400.0 == 0.0 {
        format!("{}d", secs / 86400.0)
    } else if secs >= 3600.0 && secs % 3600.0 == 0.0 {
        format!("{}h", secs / 3600.0)
    } else if secs >= 60.0 && secs % 60.0 == 0.0 {
        format!("{}m", secs / 60.0)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn wrap_splits_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("toolongword x", 4), ["toolongword", "x"]);
    }

    #[test]
    fn options_and_durations() {
        assert_eq!(parse_duration("90s"), Some(90.0));
        assert_eq!(parse_duration("30m"), Some(1800.0));
        assert_eq!(parse_duration("1h"), Some(3600.0));
        assert_eq!(parse_duration("0.5"), Some(0.5));
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("h"), None);
        let o = parse_options(&words("--sample 0.2 --since=10m --log none --top 3")).unwrap();
        assert_eq!(o.sample, Some(0.2));
        assert_eq!(o.since_s, 600.0);
        assert_eq!(o.log, LogChoice::None);
        assert_eq!(o.top, 3);
        assert_eq!(parse_options(&words("--no-sample")).unwrap().sample, None);
        assert!(parse_options(&words("--sample 0"))
            .unwrap_err()
            .contains("--no-sample judges totals only"));
        assert!(parse_options(&words("--sample"))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse_options(&words("--log foo"))
            .unwrap_err()
            .contains("auto"));
        assert!(parse_options(&words("--bogus"))
            .unwrap_err()
            .contains("--bogus"));
    }

    fn report() -> Report {
        Report {
            status: Severity::Ok,
            exit: 0,
            source: "kernel".into(),
            netns: Some(4026532301),
            sample_s: Some(1.0),
            count: Some(64),
            max: Some(64),
            fill_pct: Some(100.0),
            buckets: Some(262144),
            entry_bytes: Some(256),
            memory_bytes: Some(64 * 256),
            scanned: 64,
            counters: BTreeMap::from([
                (
                    "drop",
                    CounterReport {
                        total: 40,
                        delta: Some(10),
                        per_s: Some(10.0),
                    },
                ),
                (
                    "early_drop",
                    CounterReport {
                        total: 0,
                        delta: Some(0),
                        per_s: Some(0.0),
                    },
                ),
            ]),
            top_sources: vec![TopRow {
                key: "192.0.2.2".into(),
                count: 64,
                pct: 100.0,
                unreplied: 64,
            }],
            top_states: vec![TopRow {
                key: "udp".into(),
                count: 64,
                pct: 100.0,
                unreplied: 64,
            }],
            unreplied_pct: Some(100.0),
            time_wait_pct: Some(0.0),
            established_pct: Some(0.0),
            helpers: BTreeMap::new(),
            expectations: Some(0),
            expect_max: Some(4096),
            settings: BTreeMap::from([("nf_conntrack_udp_timeout", Some("30".to_string()))]),
            log: LogReport {
                source: Some("/dev/kmsg"),
                window_s: 3600.0,
                error: None,
                lines: vec![LogLine {
                    age_s: 2.0,
                    kind: "table_full",
                    origin: "ours",
                    netns: Some(4026532301),
                    text: "nf_conntrack: nf_conntrack: table full in netns 4026532301, dropping packet".into(),
                    explain: "x".into(),
                    suppressed: None,
                }],
            },
            findings: vec![],
        }
    }

    #[test]
    fn a_full_table_flooded_by_one_source_is_critical_with_fixes() {
        let r = report();
        let f = findings(&r);
        let by = |id: &str| f.iter().find(|x| x.id == id).unwrap();
        assert_eq!(health::worst(&f).exit_code(), 2);
        assert_eq!(by("fill_pct").severity, Severity::Critical);
        assert_eq!(by("drop").severity, Severity::Critical);
        assert_eq!(by("top_source").severity, Severity::Critical);
        assert_eq!(by("top_source").fixes[0].plain, "conntrack -D -s 192.0.2.2");
        assert_eq!(
            by("fill_pct").fixes[0].plain,
            "sysctl -w net.netfilter.nf_conntrack_max=65536"
        );
        assert_eq!(
            by("unreplied").fixes[0].ctkit,
            "ctkit sysctl set nf_conntrack_udp_timeout=10"
        );
        assert_eq!(by("log_table_full").severity, Severity::Warning);
        assert!(by("log_table_full").message.contains("in this namespace"));
        assert!(f.iter().all(|x| x.id != "early_drop"));
        // Worst first.
        assert!(f.windows(2).all(|w| w[0].severity >= w[1].severity));
    }

    #[test]
    fn an_emptied_table_with_past_drops_is_a_warning() {
        let mut r = report();
        r.count = Some(0);
        r.fill_pct = Some(0.0);
        r.scanned = 0;
        r.top_sources.clear();
        r.counters.get_mut("drop").unwrap().delta = Some(0);
        r.counters.get_mut("drop").unwrap().per_s = Some(0.0);
        let f = findings(&r);
        assert_eq!(health::worst(&f), Severity::Warning);
        assert_eq!(
            f.iter().find(|x| x.id == "fill_pct").unwrap().severity,
            Severity::Ok
        );
    }

    #[test]
    fn other_namespaces_log_lines_are_one_note_not_ours() {
        let mut r = report();
        let mut l = r.log.lines[0].clone();
        r.log.lines.clear();
        for n in [4026532999u64, 4026533000, 4026532999] {
            l.origin = "other";
            l.netns = Some(n);
            r.log.lines.push(l.clone());
        }
        let f = findings(&r);
        assert!(f.iter().all(|x| x.id != "log_table_full"));
        let other = f.iter().find(|x| x.id == "log_table_full_other").unwrap();
        assert_eq!(other.severity, Severity::Ok);
        assert_eq!(other.value, Some(3.0));
        assert!(
            other
                .message
                .contains("in 2 other namespaces (netns 4026532999, 4026533000), not this one"),
            "{}",
            other.message
        );
    }

    #[test]
    fn json_shape_has_the_documented_fields() {
        let mut r = report();
        r.findings = findings(&r);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        let obj = v.as_object().unwrap();
        for k in [
            "status",
            "exit",
            "source",
            "netns",
            "sample_s",
            "count",
            "max",
            "fill_pct",
            "buckets",
            "entry_bytes",
            "memory_bytes",
            "scanned",
            "counters",
            "top_sources",
            "top_states",
            "unreplied_pct",
            "time_wait_pct",
            "established_pct",
            "helpers",
            "expectations",
            "expect_max",
            "settings",
            "log",
            "findings",
        ] {
            assert!(obj.contains_key(k), "missing {k}");
        }
        assert_eq!(v["counters"]["drop"]["per_s"], 10.0);
        assert_eq!(v["log"]["lines"][0]["origin"], "ours");
        assert_eq!(v["findings"][0]["severity"], "critical");
        assert!(v["findings"][0]["fixes"][0]["plain"].is_string());
    }

    #[test]
    fn text_report_names_status_finding_and_fix() {
        let mut r = report();
        r.findings = findings(&r);
        r.status = health::worst(&r.findings);
        r.exit = r.status.exit_code();
        let t = render(&r);
        assert!(t.contains("status: CRITICAL (exit 2)"), "{t}");
        assert!(
            t.contains("kernel log /dev/kmsg, last 1h: 1 conntrack line"),
            "{t}"
        );
        assert!(t.contains("[this netns]"), "{t}");
        assert!(t.contains("or: conntrack -D -s 192.0.2.2"), "{t}");
        assert!(
            t.contains("memory     16.0 KiB (64 × 256 B slab objects)"),
            "{t}"
        );
    }
}
