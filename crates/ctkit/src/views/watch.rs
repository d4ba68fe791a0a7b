//! `ctkit watch`: the table over time — count against `nf_conntrack_max`, fill, new and
//! destroyed flows per second, the `drop` / `early_drop` / `insert_failed` counters' increase
//! (per-CPU statistics summed), and entries per protocol.
//!
//! Output: on a terminal a table with a sparkline of the fill ([`spark`]); otherwise CSV (or
//! forced with `--csv`), or one JSON object per sample with `--json`. Every sample is one line
//! (CSV after a header line), printed immediately; the first sample has no rates (nothing to
//! compare with). Columns, in this order (CSV header = JSON keys):
//!
//! | column | meaning |
//! |---|---|
//! | `ts` | Unix time of the sample, seconds (ms precision) |
//! | `elapsed_s` | seconds since the previous sample (null on the first) |
//! | `count`, `max`, `fill_pct` | `nf_conntrack_count`, `nf_conntrack_max`, count/max in % |
//! | `new`, `new_per_s` | NEW events in the interval (kernel source) |
//! | `destroyed`, `destroyed_per_s` | entries gone in the interval: `new − (count − previous count)` |
//! | `destroy_events` | DESTROY events received in the interval (see below) |
//! | `lost` | receive-queue overflows (`ENOBUFS`) in the interval; when > 0, `new` is a lower bound |
//! | `net_change`, `net_per_s` | count − previous count |
//! | `drop`, `early_drop`, `insert_failed` | increase of the summed per-CPU counters |
//! | `tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, `other` | entries per protocol at the last protocol scan |
//! | `protos_age_s` | how old those protocol counts are, seconds |
//! | `mode` | `events` (kernel: rates from events) or `net_change` (/proc, files: only the net change) |
//!
//! Rates come from events because kernel 6.18 no longer counts `new`/`delete` in its per-CPU
//! statistics ([`events`]). `destroyed` is derived rather than counted because with
//! `nf_conntrack_events=2` (the default) entries created before anyone listened carry no event
//! extension and vanish without a DESTROY event.
//!
//! Per-protocol counts need a dump, which costs about a second at 1M entries. `watch` measures
//! each dump and repeats it only every k-th sample, k chosen so dumping takes at most 10 % of
//! the time (`--proto-every N` fixes k; `0` never dumps); `protos_age_s` shows how old the
//! numbers are. Counting protocols from events instead would drift: DESTROY events are
//! missing for old entries (above) and lost on overflow.
//!
//! The event socket's receive buffer is 8 MiB (`--buffer-size BYTES`, as conntrack's `-E
//! --buffer-size`); when it overflows anyway the `lost` column says how often.
//!
//! With `nf_conntrack_events=0` the kernel sends no events at all; `watch` then shows the net
//! change, as for /proc, and says why.
//!
//! `--from proc` and files have no events: they show the net change between samples and say
//! so (`mode` = `net_change`, header and columns). A saved file cannot change: one sample.

mod events;
mod spark;

use crate::source::SourceSpec;
use ctkit_model::proto::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
use ctkit_model::{FlowSource, TableCounters};
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How samples are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table with a sparkline (terminal).
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    Json,
}

/// When per-protocol counts are refreshed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoEvery {
    /// Every k-th sample, k from the measured dump time (≤ 10 % of the time dumping).
    Auto,
    /// Every N-th sample; 0 = never.
    Every(u64),
}

/// `watch`'s own options.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Seconds between samples.
    pub interval: f64,
    /// Stop after this many samples.
    pub count: Option<u64>,
    /// `--csv`.
    pub csv: bool,
    /// `--proto-every`.
    pub proto_every: ProtoEvery,
    /// `--buffer-size`: the event socket's receive buffer, bytes.
    pub buffer_size: usize,
}

/// Parses `watch`'s own words.
pub fn parse_options(rest: &[String]) -> Result<Options, String> {
    let mut o = Options {
        interval: 1.0,
        count: None,
        csv: false,
        proto_every: ProtoEvery::Auto,
        buffer_size: events::RCVBUF,
    };
    let mut words = super::common::Words::new(rest);
    while let Some(flag) = words.next_flag() {
        let mut value = || words.value();
        match flag {
            "--interval" | "-i" => {
                let v = value()?;
                o.interval = v
                    .strip_suffix('s')
                    .unwrap_or(v)
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.01 && *x <= 86400.0)
                    .ok_or_else(|| {
                        format!(
                            "--interval: `{v}' is not a number of seconds from 0.01 (e.g. 1, 0.2)"
                        )
                    })?;
            }
            "--count" | "-c" => {
                let v = value()?;
                o.count = Some(
                    v.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("--count: `{v}' is not a positive number"))?,
                );
            }
            "--csv" => o.csv = true,
            "--buffer-size" => {
                let v = value()?;
                o.buffer_size = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--buffer-size: `{v}' is not a number of bytes"))?;
            }
            "--proto-every" => {
                let v = value()?;
                o.proto_every = match v {
                    "auto" => ProtoEvery::Auto,
                    n => ProtoEvery::Every(n.parse().map_err(|_| {
                        format!("--proto-every: `{v}' is not `auto' or a number (0 = never)")
                    })?),
                };
            }
            other => return Err(format!("watch: unknown option `{other}'")),
        }
    }
    Ok(o)
}

/// One cell of a row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    /// Unknown / not applicable.
    Null,
    /// A count.
    U(u64),
    /// A signed count (net change).
    I(i64),
    /// A rate or percentage.
    F(f64),
    /// A word.
    S(&'static str),
}

impl Val {
    fn json(self) -> String {
        match self {
            Val::Null => "null".into(),
            Val::U(v) => v.to_string(),
            Val::I(v) => v.to_string(),
            Val::F(v) if v.is_finite() => format!("{}", (v * 1000.0).round() / 1000.0),
            Val::F(_) => "null".into(),
            Val::S(s) => format!("\"{s}\""),
        }
    }

    fn csv(self) -> String {
        match self {
            Val::Null => String::new(),
            Val::S(s) => s.to_string(),
            v => v.json(),
        }
    }
}

/// Protocol columns, in order, with the protocol number they count (`None` = other).
const PROTOS: [(&str, Option<u8>); 6] = [
    ("tcp", Some(IPPROTO_TCP)),
    ("udp", Some(IPPROTO_UDP)),
    ("icmp", Some(IPPROTO_ICMP)),
    ("icmpv6", Some(IPPROTO_ICMPV6)),
    ("sctp", Some(IPPROTO_SCTP)),
    ("other", None),
];

/// Per-protocol entry counts from one scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProtoCounts(pub [u64; 6]);

impl ProtoCounts {
    /// Counts one entry of protocol `p`.
    pub fn add(&mut self, p: u8) {
        let i = PROTOS
            .iter()
            .position(|(_, n)| *n == Some(p))
            .unwrap_or(PROTOS.len() - 1);
        self.0[i] += 1;
    }

    /// The total.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// Everything measured at one instant.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// Monotonic time of the sample.
    pub at: Option<Instant>,
    /// Unix time, seconds.
    pub ts: f64,
    /// The table counters.
    pub counters: TableCounters,
    /// Entry count (counters, else the scan).
    pub count: Option<u64>,
    /// Event totals since the start (kernel).
    pub events: Option<events::EventTotals>,
}

/// One printed row: the sample compared with the previous one.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The columns, named as in the module documentation.
    pub cols: Vec<(&'static str, Val)>,
    /// Fill for the sparkline.
    pub fill_pct: Option<f64>,
}

fn delta(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Some(b?.saturating_sub(a?))
}

/// Builds a row from the current sample, the previous one, and the protocol counts (with the
/// time they were taken).
pub fn row(cur: &Sample, prev: Option<&Sample>, protos: Option<(ProtoCounts, f64)>) -> Row {
    let max = cur.counters.max;
    let fill_pct = match (cur.count, max) {
        (Some(c), Some(m)) if m > 0 => Some(c as f64 * 100.0 / m as f64),
        _ => None,
    };
    let opt_u = |v: Option<u64>| v.map_or(Val::Null, Val::U);
    let opt_f = |v: Option<f64>| v.map_or(Val::Null, Val::F);
    let elapsed = match (prev.and_then(|p| p.at), cur.at) {
        (Some(a), Some(b)) => Some(b.duration_since(a).as_secs_f64()),
        _ => None,
    };
    let rate = |n: Option<f64>| match (n, elapsed) {
        (Some(n), Some(e)) if e > 0.0 => Some(n / e),
        _ => None,
    };
    let net: Option<i64> = match (prev.and_then(|p| p.count), cur.count) {
        (Some(a), Some(b)) => Some(b as i64 - a as i64),
        _ => None,
    };
    let ev = match (prev.and_then(|p| p.events), cur.events) {
        (Some(a), Some(b)) => Some((
            b.new.saturating_sub(a.new),
            b.destroy.saturating_sub(a.destroy),
            b.overflows.saturating_sub(a.overflows),
        )),
        _ => None,
    };
    let new = ev.map(|e| e.0);
    let destroyed = match (new, net) {
        (Some(n), Some(d)) => Some((n as i64 - d).max(0) as u64),
        _ => None,
    };
    let counter = |name: &str| {
        delta(
            prev.and_then(|p| p.counters.counter(name)),
            cur.counters.counter(name),
        )
    };
    let mode = if cur.events.is_some() {
        "events"
    } else {
        "net_change"
    };
    let mut cols = vec![
        ("ts", Val::F(cur.ts)),
        ("elapsed_s", opt_f(elapsed)),
        ("count", opt_u(cur.count)),
        ("max", opt_u(max)),
        ("fill_pct", opt_f(fill_pct)),
        ("new", opt_u(new)),
        ("new_per_s", opt_f(rate(new.map(|n| n as f64)))),
        ("destroyed", opt_u(destroyed)),
        ("destroyed_per_s", opt_f(rate(destroyed.map(|n| n as f64)))),
        ("destroy_events", opt_u(ev.map(|e| e.1))),
        ("lost", opt_u(ev.map(|e| e.2))),
        ("net_change", net.map_or(Val::Null, Val::I)),
        ("net_per_s", opt_f(rate(net.map(|n| n as f64)))),
        ("drop", opt_u(counter("drop"))),
        ("early_drop", opt_u(counter("early_drop"))),
        ("insert_failed", opt_u(counter("insert_failed"))),
    ];
    for (i, (name, _)) in PROTOS.iter().enumerate() {
        cols.push((name, opt_u(protos.map(|p| p.0 .0[i]))));
    }
    cols.push(("protos_age_s", opt_f(protos.map(|p| p.1))));
    cols.push(("mode", Val::S(mode)));
    Row { cols, fill_pct }
}

impl Row {
    fn get(&self, name: &str) -> Val {
        self.cols
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(Val::Null, |c| c.1)
    }

    /// The JSON line (no newline).
    pub fn json(&self) -> String {
        let body: Vec<String> = self
            .cols
            .iter()
            .map(|(k, v)| format!("\"{k}\":{}", v.json()))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    /// The CSV header line.
    pub fn csv_header(&self) -> String {
        self.cols
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The CSV line.
    pub fn csv(&self) -> String {
        self.cols
            .iter()
            .map(|(_, v)| v.csv())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Width of the sparkline in the terminal table.
const SPARK: usize = 20;

fn table_header(events: bool) -> String {
    let rates = if events {
        format!("{:>8} {:>8}", "new/s", "gone/s")
    } else {
        format!("{:>8} {:>8}", "net/s", "")
    };
    format!(
        "{:<8} {:>9} {:>9} {:>6} {:<SPARK$} {rates} {:>6} {:>6} {:>6} {:>8} {:>8} {:>6} {:>6}",
        "UTC",
        "count",
        "max",
        "fill%",
        "fill 0-100%",
        "drop",
        "edrop",
        "insf",
        "tcp",
        "udp",
        "icmp",
        "other"
    )
}

fn table_line(r: &Row, spark: &spark::Spark, events: bool) -> String {
    let cell = |v: Val, prec: usize| match v {
        Val::Null => "-".to_string(),
        Val::F(f) => format!("{f:.prec$}"),
        v => v.csv(),
    };
    let ts = match r.get("ts") {
        Val::F(t) => t as u64,
        _ => 0,
    };
    let hms = format!(
        "{:02}:{:02}:{:02}",
        (ts / 3600) % 24,
        (ts / 60) % 60,
        ts % 60
    );
    let rates = if events {
        format!(
            "{:>8} {:>8}",
            cell(r.get("new_per_s"), 1),
            cell(r.get("destroyed_per_s"), 1)
        )
    } else {
        format!("{:>8} {:>8}", cell(r.get("net_per_s"), 1), "")
    };
    let icmp = match (r.get("icmp"), r.get("icmpv6")) {
        (Val::U(a), Val::U(b)) => Val::U(a + b),
        (a, _) => a,
    };
    let other = match (r.get("other"), r.get("sctp")) {
        (Val::U(a), Val::U(b)) => Val::U(a + b),
        (a, _) => a,
    };
    let mut line = format!(
        "{hms:<8} {:>9} {:>9} {:>6} {} {rates} {:>6} {:>6} {:>6} {:>8} {:>8} {:>6} {:>6}",
        cell(r.get("count"), 0),
        cell(r.get("max"), 0),
        cell(r.get("fill_pct"), 1),
        spark.render(),
        cell(r.get("drop"), 0),
        cell(r.get("early_drop"), 0),
        cell(r.get("insert_failed"), 0),
        cell(r.get("tcp"), 0),
        cell(r.get("udp"), 0),
        cell(icmp, 0),
        cell(other, 0),
    );
    if let Val::U(n) = r.get("lost") {
        if n > 0 {
            line.push_str(&format!("  ({n} event overflows: rates are lower bounds)"));
        }
    }
    line
}

/// `ctkit watch --help`.
pub const USAGE: &str = concat!(
    "\
usage: ctkit watch [--interval SECS] [--count N] [--json | --csv] [--proto-every N|auto]
                   [--buffer-size BYTES] [--from kernel|proc|FILE]
                   [--set NAME=VALUE]... [--sysctl-from-kernel] [--helper ftp=PORT]...
                   [--no-helpers] [--seed N]   (with --from CAPTURE)

Samples the conntrack table every SECS (default 1, fractions allowed): count, max, fill %,
new and destroyed flows per second (from conntrack events), the increase of drop, early_drop
and insert_failed, and entries per protocol. A table with a fill sparkline on a terminal, CSV
when piped (or --csv), JSON lines with --json. --count N stops after N samples (exit 0).
Per-protocol counts need a dump: by default watch repeats it only as often as keeps dumping
under 10 % of the time (--proto-every N: every N-th sample, 0: never).
/proc and files have no events: watch shows the net change of the count there.
",
    crate::views::engine::capture_help!()
);

/// Runs `ctkit watch`.
pub fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let fail = |msg: &str| {
        eprintln!("ctkit: {msg}{}", super::doctor::probe::privilege_hint(msg));
        ExitCode::from(1)
    };
    let va = match super::common::parse_view_args(
        args,
        &[
            "--interval",
            "-i",
            "--count",
            "-c",
            "--proto-every",
            "--buffer-size",
        ],
    ) {
        Ok(v) => v,
        Err(e) => return super::usage_error(&e),
    };
    if va.filtered {
        return super::usage_error(
            "watch follows the whole table; filter with `ctkit list` or `ctkit events`",
        );
    }
    let opts = match parse_options(&va.rest) {
        Ok(o) => o,
        Err(e) => return super::usage_error(&e),
    };
    let format = if va.json {
        Format::Json
    } else if opts.csv || !std::io::stdout().is_terminal() {
        Format::Csv
    } else {
        Format::Table
    };
    let mut src = match va.open_source() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let mut note = None;
    let events_off = super::doctor::probe::sysctl("nf_conntrack_events").as_deref() == Some("0");
    let events = if va.from == SourceSpec::Kernel && events_off {
        note = Some(
            "nf_conntrack_events=0: the kernel sends no events, showing the net change only \
             (`ctkit sysctl set nf_conntrack_events=2` turns them on while someone listens)"
                .to_string(),
        );
        None
    } else if va.from == SourceSpec::Kernel {
        match events::EventCounter::start(opts.buffer_size) {
            Ok(c) => Some(c),
            Err(e) => {
                note = Some(format!(
                    "no conntrack events ({e}): showing the net change only"
                ));
                None
            }
        }
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    match run(src.as_mut(), events.as_ref(), &opts, format, note, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn run(
    src: &mut dyn FlowSource,
    events: Option<&events::EventCounter>,
    opts: &Options,
    format: Format,
    note: Option<String>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let live = src.is_live();
    if format == Format::Table {
        let ns =
            super::doctor::probe::netns_inode().map_or(String::new(), |n| format!(" in net:[{n}]"));
        let how = if events.is_some() {
            "new/s from NEW events, gone/s = new − change of count"
        } else {
            "no events: net/s is the net change of the count between samples"
        };
        writeln!(
            out,
            "ctkit watch: {}{ns}, every {} s; {how}",
            src.describe(),
            opts.interval
        )?;
        if let Some(n) = &note {
            writeln!(out, "note: {n}")?;
        }
        writeln!(out, "{}", table_header(events.is_some()))?;
    } else if let Some(n) = &note {
        eprintln!("ctkit: {n}");
    }
    let start = Instant::now();
    let mut prev: Option<Sample> = None;
    let mut protos: Option<(ProtoCounts, Instant)> = None;
    let mut dump_cost = Duration::ZERO;
    let mut since_dump: u64 = u64::MAX;
    let mut spark = spark::Spark::new(SPARK);
    let mut n: u64 = 0;
    // Samples sit on a fixed grid (no drift); grid points missed while a slow dump ran are
    // skipped rather than taken back to back (rates use the measured elapsed time anyway).
    let mut tick: u64 = 0;
    loop {
        if n > 0 {
            let now = Instant::now();
            let mut due;
            loop {
                tick += 1;
                due = start + Duration::from_secs_f64(opts.interval * tick as f64);
                if due >= now {
                    break;
                }
            }
            std::thread::sleep(due - now);
        }
        let counters = src.counters().map_err(io_err)?;
        let ev = events.map(|e| e.totals());
        let at = Instant::now();
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let every = match opts.proto_every {
            ProtoEvery::Every(k) => k,
            ProtoEvery::Auto => {
                let budget = opts.interval * 0.1;
                ((dump_cost.as_secs_f64() / budget).ceil() as u64).max(1)
            }
        };
        let need_count = counters.entries.is_none();
        let mut count = counters.entries;
        if need_count || (every > 0 && since_dump >= every) {
            let t = Instant::now();
            let mut pc = ProtoCounts::default();
            src.scan(&mut |f| {
                pc.add(f.orig.proto);
                ControlFlow::Continue(())
            })
            .map_err(io_err)?;
            dump_cost = t.elapsed();
            since_dump = 0;
            if need_count {
                count = Some(pc.total());
            }
            protos = Some((pc, at));
        }
        since_dump = since_dump.saturating_add(1);
        let cur = Sample {
            at: Some(at),
            ts,
            counters,
            count,
            events: ev,
        };
        let r = row(
            &cur,
            prev.as_ref(),
            protos.map(|(p, t)| (p, at.saturating_duration_since(t).as_secs_f64())),
        );
        spark.push(r.fill_pct);
        match format {
            Format::Json => writeln!(out, "{}", r.json())?,
            Format::Csv => {
                if n == 0 {
                    writeln!(out, "{}", r.csv_header())?;
                }
                writeln!(out, "{}", r.csv())?
            }
            Format::Table => writeln!(out, "{}", table_line(&r, &spark, events.is_some()))?,
        }
        out.flush()?;
        if ev.is_some_and(|e| e.failed) {
            return Err(io_err("the event socket failed; rates would be wrong"));
        }
        n += 1;
        prev = Some(cur);
        if opts.count.is_some_and(|c| n >= c) || !live {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options() {
        let o = parse_options(&words("--interval 0.2 --count 2 --csv --proto-every 5")).unwrap();
        assert_eq!(o.interval, 0.2);
        assert_eq!(o.count, Some(2));
        assert!(o.csv);
        assert_eq!(o.proto_every, ProtoEvery::Every(5));
        assert_eq!(
            parse_options(&words("--interval=2s")).unwrap().interval,
            2.0
        );
        assert!(parse_options(&words("--interval 0")).is_err());
        assert!(parse_options(&words("--count 0")).is_err());
        assert!(parse_options(&words("--count"))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse_options(&words("--what"))
            .unwrap_err()
            .contains("--what"));
    }

    fn sample(at: Instant, count: u64, new: u64, destroy: u64, drop: u32) -> Sample {
        let mut c = TableCounters {
            entries: Some(count),
            max: Some(200),
            cpu_sum: None,
        };
        let mut cpu = ctkit_model::stats::CpuStats::default();
        cpu.set(10, drop); // CTA_STATS_DROP
        cpu.set(11, 0); // CTA_STATS_EARLY_DROP
        c.add_cpu(&cpu);
        Sample {
            at: Some(at),
            ts: 1_700_000_000.5,
            counters: c,
            count: Some(count),
            events: Some(events::EventTotals {
                new,
                destroy,
                overflows: 0,
                failed: false,
            }),
        }
    }

    #[test]
    fn rates_from_events_and_derived_destroyed() {
        let t0 = Instant::now();
        let a = sample(t0, 100, 5, 0, 1);
        let b = sample(t0 + Duration::from_secs(2), 110, 25, 3, 4);
        let mut pc = ProtoCounts::default();
        pc.add(17);
        pc.add(6);
        pc.add(99);
        let r = row(&b, Some(&a), Some((pc, 0.0)));
        assert_eq!(r.get("count"), Val::U(110));
        assert_eq!(r.get("fill_pct"), Val::F(55.0));
        assert_eq!(r.get("new"), Val::U(20));
        assert_eq!(r.get("new_per_s"), Val::F(10.0));
        assert_eq!(r.get("destroyed"), Val::U(10));
        assert_eq!(r.get("destroy_events"), Val::U(3));
        assert_eq!(r.get("net_change"), Val::I(10));
        assert_eq!(r.get("drop"), Val::U(3));
        assert_eq!(r.get("early_drop"), Val::U(0));
        assert_eq!(r.get("insert_failed"), Val::Null);
        assert_eq!(r.get("udp"), Val::U(1));
        assert_eq!(r.get("other"), Val::U(1));
        assert_eq!(r.get("mode"), Val::S("events"));
        // The first row has no rates.
        let first = row(&a, None, None);
        assert_eq!(first.get("new"), Val::Null);
        assert_eq!(first.get("elapsed_s"), Val::Null);
    }

    /// A saved table: no counters, not live.
    struct Saved(Vec<ctkit_model::Flow>);

    impl FlowSource for Saved {
        fn describe(&self) -> String {
            "file test".into()
        }
        fn scan(
            &mut self,
            f: &mut dyn FnMut(&ctkit_model::Flow) -> ControlFlow<()>,
        ) -> Result<ctkit_model::ScanReport, ctkit_model::SourceError> {
            for fl in &self.0 {
                if f(fl).is_break() {
                    break;
                }
            }
            Ok(ctkit_model::ScanReport {
                flows: self.0.len() as u64,
                skipped: 0,
            })
        }
        fn is_live(&self) -> bool {
            false
        }
    }

    #[test]
    fn a_saved_file_gives_one_net_change_sample_counted_by_scanning() {
        let mut flows = vec![ctkit_model::Flow::default(); 3];
        flows[0].orig.proto = 6;
        flows[1].orig.proto = 17;
        flows[2].orig.proto = 17;
        let mut src = Saved(flows);
        let opts = parse_options(&[]).unwrap();
        let mut out = Vec::new();
        run(&mut src, None, &opts, Format::Csv, None, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("ts,elapsed_s,count,max,"));
        let cells: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(cells[2], "3"); // count
        assert_eq!(cells[3], ""); // max unknown
        assert_eq!(cells[16], "1"); // tcp
        assert_eq!(cells[17], "2"); // udp
        assert_eq!(cells[23], "net_change");
        let mut out = Vec::new();
        run(&mut src, None, &opts, Format::Table, None, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("no events: net/s is the net change"),
            "{text}"
        );
        assert!(text.contains("net/s"), "{text}");
    }

    #[test]
    fn json_and_csv_shape() {
        let t0 = Instant::now();
        let a = sample(t0, 1, 0, 0, 0);
        let mut b = sample(t0 + Duration::from_millis(500), 3, 2, 0, 0);
        b.events = None;
        let r = row(&b, Some(&a), None);
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        let keys: Vec<&str> = r.cols.iter().map(|c| c.0).collect();
        assert_eq!(
            keys,
            [
                "ts",
                "elapsed_s",
                "count",
                "max",
                "fill_pct",
                "new",
                "new_per_s",
                "destroyed",
                "destroyed_per_s",
                "destroy_events",
                "lost",
                "net_change",
                "net_per_s",
                "drop",
                "early_drop",
                "insert_failed",
                "tcp",
                "udp",
                "icmp",
                "icmpv6",
                "sctp",
                "other",
                "protos_age_s",
                "mode"
            ]
        );
        assert_eq!(v.as_object().unwrap().len(), keys.len());
        assert_eq!(v["mode"], "net_change");
        assert_eq!(v["net_change"], 2);
        assert_eq!(v["net_per_s"], 4.0);
        assert!(v["new"].is_null());
        assert_eq!(r.csv_header().split(',').count(), keys.len());
        assert_eq!(r.csv().split(',').count(), keys.len());
        assert!(r.csv().ends_with(",net_change"));
    }
}
