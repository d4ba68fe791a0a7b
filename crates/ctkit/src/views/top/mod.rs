//! `ctkit top`: a live, top-like view of the conntrack table that keeps iptstate's options
//! and keys (iptstate 2.2.7, `iptstate -h`, iptstate(8)) and removes its limits: every row
//! reachable at a million entries, dump/filter/sort off the UI thread, asynchronous cached
//! name lookups, NAT/zone/mark/flags columns, rates, table fill and drop counters, an
//! aggregation view, a filter expression and search, on every `--from` source.
//!
//! Layers (collector → state → render, as bandwhich and bottom): [`collect`] scans the
//! source on its own thread into compact [`row::Row`]s, [`view`] filters/sorts/groups them
//! on a worker thread, [`state`] is the screen state and key handling, [`render`] draws it
//! (pure), [`tui`] runs the terminal. `-1` prints once through [`text`], with no terminal.

pub mod collect;
pub mod filter;
pub mod names;
#[cfg(feature = "tui")]
pub mod render;
pub mod row;
pub mod state;
pub mod text;
#[cfg(feature = "tui")]
pub mod tui;
pub mod view;

use crate::source::SourceSpec;
use crate::views::common::{parse_view_args, ViewArgs};
use filter::Cidr;
use state::Toggles;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use view::{AggKey, Settings, SortKey, View};

/// iptstate's exit status for bad arguments.
const EXIT_USAGE: u8 = 1;
/// iptstate's exit status when the table cannot be read.
const EXIT_SOURCE: u8 = 2;
/// iptstate's exit status for an unusable terminal.
const EXIT_TERMINAL: u8 = 3;

/// An option of `ctkit top`: short letter (iptstate's), long name, whether it takes a
/// value, help.
type Opt = (Option<char>, &'static str, bool, &'static str);

/// Every option of `ctkit top` besides the shared view flags (`--from`, `--lenient`,
/// `--json`, the list filters). The short letters and long names are iptstate's.
pub const OPTIONS: &[Opt] = &[
    (Some('b'), "--sort", true, "sort column: S sport, d dst, D dport, p proto, s state, t TTL, b bytes, P packets, r rate (default: source)"),
    (Some('c'), "--no-color", false, "no colour by protocol"),
    (Some('C'), "--counters", false, "bytes and packets (and rates) columns"),
    (Some('d'), "--dst-filter", true, "only destinations in IP[/mask]"),
    (Some('D'), "--dstpt-filter", true, "only this destination port"),
    (Some('f'), "--no-loopback", false, "hide entries on loopback"),
    (Some('h'), "--help", false, "this help"),
    (Some('i'), "--invert-filters", false, "show what -s -d -S -D reject"),
    (Some('l'), "--lookup", false, "host and service names (asynchronous; implies -L)"),
    (Some('L'), "--no-dns", false, "hide DNS states (destination port 53)"),
    (Some('m'), "--mark-truncated", false, "mark cut values with '+'"),
    (Some('o'), "--no-dynamic", false, "fixed column widths"),
    (Some('p'), "--no-scroll", false, "no scrolling (first screen only)"),
    (Some('r'), "--reverse", false, "reverse the sort"),
    (Some('R'), "--rate", true, "refresh period in seconds (default 1)"),
    (Some('s'), "--src-filter", true, "only sources in IP[/mask]"),
    (Some('S'), "--srcpt-filter", true, "only this source port"),
    (Some('t'), "--totals", false, "totals line"),
    (Some('v'), "--version", false, "version"),
    (Some('1'), "--single", false, "print once and exit (plain text, no terminal needed)"),
    (None, "--filter", true, "filter expression (see the help screen)"),
    (None, "--group", true, "aggregation view: src, dst, dport or state"),
    (None, "--nat", false, "reply tuple (NAT) columns"),
    (None, "--ext", false, "zone, mark and flags columns"),
];

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct TopArgs {
    /// Filter/sort/group settings.
    pub settings: Settings,
    /// Display toggles.
    pub toggles: Toggles,
    /// Refresh period.
    pub rate: Duration,
    /// `-1`.
    pub single: bool,
    /// `-h`.
    pub help: bool,
    /// `-v`.
    pub version: bool,
    /// The shared view flags.
    pub view: ViewArgs,
}

fn find_short(c: char) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.0 == Some(c))
}

fn find_long(s: &str) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.1 == s)
}

/// Parses the words after `top`.
pub fn parse_args(args: &[String]) -> Result<TopArgs, String> {
    let mut settings = Settings::default();
    let mut toggles = Toggles::default();
    let mut rate = Duration::from_secs(1);
    let (mut single, mut help, mut version) = (false, false, false);
    let mut shared: Vec<String> = Vec::new();
    let mut given: Vec<(&'static Opt, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (format!("--{n}"), Some(v.to_string())),
                None => (a.clone(), None),
            };
            match find_long(&name) {
                Some(o) if o.2 => {
                    let v = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            args.get(i)
                                .cloned()
                                .ok_or(format!("option `{name}' needs a value"))?
                        }
                    };
                    given.push((o, Some(v)));
                }
                Some(o) => given.push((o, None)),
                None => shared.push(a.clone()),
            }
        } else if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let o = find_short(chars[k]).ok_or(format!("invalid option -- '{}'", chars[k]))?;
                if o.2 {
                    let rest: String = chars[k + 1..].iter().collect();
                    let v = if !rest.is_empty() {
                        rest
                    } else {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or(format!("option requires an argument -- '{}'", chars[k]))?
                    };
                    given.push((o, Some(v)));
                    break;
                }
                given.push((o, None));
                k += 1;
            }
        } else {
            shared.push(a.clone());
        }
        i += 1;
    }
    for (o, v) in given {
        let v = v.unwrap_or_default();
        match o.1 {
            "--sort" => {
                let mut cs = v.chars();
                let key = match (cs.next(), cs.next()) {
                    (Some(c), None) => SortKey::from_letter(c),
                    _ => None,
                };
                settings.sort = key.ok_or(format!(
                    "invalid sort column `{v}' (-b takes one of S d D p s t b P r)"
                ))?;
                if settings.sort.needs_counters() {
                    toggles.counters = true;
                }
            }
            "--no-color" => toggles.color = !toggles.color,
            "--counters" => toggles.counters = !toggles.counters,
            "--dst-filter" => settings.filters.dst = Some(Cidr::parse(&v)?),
            "--src-filter" => settings.filters.src = Some(Cidr::parse(&v)?),
            "--dstpt-filter" => {
                settings.filters.dport = Some(v.parse().map_err(|_| format!("invalid port `{v}'"))?)
            }
            "--srcpt-filter" => {
                settings.filters.sport = Some(v.parse().map_err(|_| format!("invalid port `{v}'"))?)
            }
            "--no-loopback" => settings.filters.no_loopback = true,
            "--help" => help = true,
            "--invert-filters" => settings.filters.invert = true,
            "--lookup" => {
                toggles.lookup = true;
                settings.filters.no_dns = true;
            }
            "--no-dns" => settings.filters.no_dns = true,
            "--mark-truncated" => toggles.mark_truncated = true,
            "--no-dynamic" => toggles.dynamic = !toggles.dynamic,
            "--no-scroll" => toggles.scroll = false,
            "--reverse" => settings.reverse = true,
            "--rate" => rate = state::parse_rate(&v).ok_or(format!("invalid rate `{v}'"))?,
            "--totals" => toggles.totals = !toggles.totals,
            "--version" => version = true,
            "--single" => single = true,
            "--filter" => {
                settings.expr = Some(filter::Expr::parse(&v).map_err(|e| format!("--filter: {e}"))?)
            }
            "--group" => {
                settings.group = Some(
                    AggKey::parse(&v)
                        .ok_or(format!("invalid --group `{v}' (src, dst, dport or state)"))?,
                )
            }
            "--nat" => toggles.nat = true,
            "--ext" => toggles.ext = true,
            _ => unreachable!("every option is handled"),
        }
    }
    let view = parse_view_args(&shared, &[])?;
    if let Some(w) = view.rest.first() {
        return Err(format!("unknown option or argument `{w}'"));
    }
    Ok(TopArgs {
        settings,
        toggles,
        rate,
        single,
        help,
        version,
        view,
    })
}

fn usage() -> String {
    let mut s = String::from(
        "Usage: ctkit top [OPTIONS] [--from SOURCE] [LIST FILTERS]\n\n\
         A live view of the conntrack table with iptstate's options and keys.\n\n",
    );
    for (short, long, takes, help) in OPTIONS {
        let flag = match short {
            Some(c) => format!("-{c}, {long}"),
            None => format!("    {long}"),
        };
        let flag = if *takes {
            format!("{flag} VALUE")
        } else {
            flag
        };
        s.push_str(&format!("  {flag:<28} {help}\n"));
    }
    s.push_str(
        "\nShared view flags: --from kernel|proc|FILE|- (default kernel), --lenient, --json (with -1),\n\
         and the filters of `ctkit list` (--proto, --src, --dst, --sport, --dport, --state,\n\
         --status, --mark, --zone, ...). Interactive keys: press h.\n",
    );
    s.push_str(crate::views::engine::capture_help!());
    s
}

fn source_name(spec: &SourceSpec) -> String {
    match spec {
        SourceSpec::Kernel => "kernel".into(),
        SourceSpec::Proc => "/proc/net/nf_conntrack".into(),
        SourceSpec::Stdin => "stdin".into(),
        SourceSpec::File(p) => format!("file {p}"),
    }
}

/// Runs `ctkit top`.
pub fn main(args: &[String]) -> ExitCode {
    let a = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ctkit top: {e}");
            eprintln!("Run `ctkit top -h` for the options.");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if a.help {
        print!("{}", usage());
        return ExitCode::SUCCESS;
    }
    if a.version {
        println!("ctkit top {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if a.single {
        return single(&a);
    }
    interactive(a)
}

#[cfg(not(feature = "tui"))]
fn interactive(_a: TopArgs) -> ExitCode {
    eprintln!("ctkit top: built without the `tui` feature; use -1");
    ExitCode::from(EXIT_TERMINAL)
}

#[cfg(feature = "tui")]
fn interactive(a: TopArgs) -> ExitCode {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprintln!("ctkit top: the live view needs a terminal; use -1 to print once");
        return ExitCode::from(EXIT_TERMINAL);
    }
    if a.view.from == SourceSpec::Stdin {
        eprintln!("ctkit top: --from - needs the terminal for keys; use -1, or --from FILE");
        return ExitCode::from(EXIT_USAGE);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let spec = a.view.from.clone();
    let options = a.view.open_options();
    let filter = a.view.filtered.then_some(a.view.filter);
    let threads = collect::start(
        Box::new(move || crate::source::open_with(&spec, &options)),
        filter,
        a.settings.clone(),
        a.rate,
        Arc::new(collect::MonoClock::new()),
        tx.clone(),
    );
    let names = names::start(tx);
    let mut st = state::TopState::new(a.settings, a.toggles, a.rate, source_name(&a.view.from));
    st.names
        .load_services(&std::fs::read_to_string("/etc/services").unwrap_or_default());
    match tui::run(st, threads, rx, Some(names)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctkit top: terminal: {e}");
            ExitCode::from(EXIT_TERMINAL)
        }
    }
}

/// The terminal width for `-1`: the terminal's when stdout is one, else `$COLUMNS` (or
/// iptstate's `$COLS`), else unlimited (every value printed whole).
fn single_width() -> Option<usize> {
    #[cfg(feature = "tui")]
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        if let Ok((w, _)) = crossterm::terminal::size() {
            return Some(w as usize);
        }
    }
    ["COLUMNS", "COLS"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
        .filter(|w: &usize| *w > 0)
}

fn single(a: &TopArgs) -> ExitCode {
    let mut source = match a.view.open_source() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctkit top: {e}");
            return ExitCode::from(EXIT_SOURCE);
        }
    };
    let filter = a.view.filtered.then_some(a.view.filter);
    let clock = collect::MonoClock::new();
    let snap = match collect::scan(source.as_mut(), filter.as_ref(), &clock, 1) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctkit top: {e}");
            return ExitCode::from(EXIT_SOURCE);
        }
    };
    drop(source);
    let view = view::build_view(Arc::new(snap), &a.settings);
    let mut names = text::Names::default();
    if a.toggles.lookup {
        names.load_services(&std::fs::read_to_string("/etc/services").unwrap_or_default());
        resolve_all(&view, &mut names);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let r = if a.view.json {
        print_json(&mut out, &view)
    } else {
        print_single(&mut out, &view, a, &names, single_width())
    };
    match r.and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctkit top: {e}");
            ExitCode::from(EXIT_SOURCE)
        }
    }
}

fn resolve_all(v: &View, names: &mut text::Names) {
    let mut addrs = std::collections::BTreeSet::new();
    for i in 0..v.len() {
        let r = match &v.groups {
            Some(g) => &v.snap.rows[g[i].sample as usize],
            None => v.row(i).expect("in range"),
        };
        addrs.insert(r.src_ip());
        addrs.insert(r.dst_ip());
    }
    for ip in addrs {
        names.hosts.insert(ip, names::lookup(ip));
    }
}

/// Prints the single-run text: a title, the optional totals and filters lines, the column
/// header and every shown line. Finite whatever stdout is.
pub fn print_single(
    out: &mut impl Write,
    v: &View,
    a: &TopArgs,
    names: &text::Names,
    width: Option<usize>,
) -> std::io::Result<()> {
    let fmt = text::Fmt {
        counters: a.toggles.counters,
        rates: false,
        nat: a.toggles.nat,
        ext: a.toggles.ext,
        lookup: a.toggles.lookup,
        mark_truncated: a.toggles.mark_truncated,
        dynamic: a.toggles.dynamic,
    };
    writeln!(
        out,
        "ctkit top -- Sort by: {}",
        text::sort_label(a.settings.sort, a.settings.reverse)
    )?;
    if a.toggles.totals {
        writeln!(out, "{}", text::totals_line(&v.totals))?;
    }
    if let Some(f) = a.settings.filters.describe() {
        writeln!(out, "{f}")?;
    }
    let cols = text::columns(&fmt, v.groups.as_ref().and(a.settings.group));
    let mut cells: Vec<String> = Vec::new();
    // Widths: one pass measuring every value (no allocation per line), one printing.
    // Columns are as wide as their widest value; when that does not fit the terminal, the
    // address columns share what the other columns leave (iptstate's dynamic formatting).
    let mut widths: Vec<usize> = cols.iter().map(|c| c.header().len() + 1).collect();
    if let (Some(total), false) = (width, fmt.dynamic) {
        // -o: iptstate's fixed widths, the address columns sharing the rest.
        widths = text::widths(&cols, Some(total), &[], &fmt);
    }
    for i in (0..v.len()).filter(|_| fmt.dynamic || width.is_none()) {
        text::fill_cells(&mut cells, v, i, &cols, names, &fmt);
        for (w, c) in widths.iter_mut().zip(&cells) {
            let n = if c.is_ascii() {
                c.len()
            } else {
                c.chars().count()
            };
            *w = (*w).max(n + 1);
        }
    }
    if let (Some(total), true) = (width, fmt.dynamic) {
        if widths.iter().sum::<usize>() > total {
            let fixed: usize = cols
                .iter()
                .zip(&widths)
                .filter(|(c, _)| !c.flexible())
                .map(|(_, w)| *w)
                .sum();
            let flex: Vec<usize> = (0..cols.len()).filter(|&k| cols[k].flexible()).collect();
            let n = flex.len().max(1);
            let free = total.saturating_sub(fixed);
            for (j, &k) in flex.iter().enumerate() {
                let share = free / n + usize::from(j < free % n);
                widths[k] = share.max(cols[k].header().len() + 1);
            }
        }
    }
    let mut line = String::with_capacity(256);
    line.push_str(text::header_line(&cols, &widths, &fmt).trim_end());
    line.push('\n');
    out.write_all(line.as_bytes())?;
    for i in 0..v.len() {
        text::fill_cells(&mut cells, v, i, &cols, names, &fmt);
        line.clear();
        text::join_into(&mut line, &cols, &widths, &cells, &fmt);
        let end = line.trim_end().len();
        line.truncate(end);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// `-1 --json`: one JSON object per shown row (or group), one per line.
pub fn print_json(out: &mut impl Write, v: &View) -> std::io::Result<()> {
    use serde_json::json;
    for i in 0..v.len() {
        let o = match &v.groups {
            Some(g) => {
                let g = &g[i];
                let r = &v.snap.rows[g.sample as usize];
                let k = v
                    .settings
                    .as_ref()
                    .and_then(|s| s.group)
                    .unwrap_or(AggKey::Src);
                json!({
                    "group": k.name(),
                    "key": text::group_label(r, k, &text::Names::default(), false),
                    "entries": g.count, "bytes": g.bytes, "packets": g.packets,
                })
            }
            None => {
                let r = v.row(i).expect("in range");
                let rep = r.reply(&v.snap.nat);
                let ports = r.has_ports();
                json!({
                    "proto": r.proto_name(),
                    "src": r.src_ip().to_string(),
                    "dst": r.dst_ip().to_string(),
                    "sport": ports.then_some(r.sport),
                    "dport": ports.then_some(r.dport),
                    "state": r.state_name(),
                    "timeout": (r.flags & row::F_TIMEOUT != 0).then_some(r.timeout),
                    "bytes": (r.flags & row::F_COUNTERS != 0).then_some(r.bytes),
                    "packets": (r.flags & row::F_COUNTERS != 0).then_some(r.packets),
                    "zone": (r.flags & row::F_ZONE != 0).then_some(r.zone),
                    "mark": (r.flags & row::F_MARK != 0).then_some(r.mark),
                    "flags": text::flags_text(r),
                    "reply_src": row::unpack(&rep.src, r.is_v6()).to_string(),
                    "reply_dst": row::unpack(&rep.dst, r.is_v6()).to_string(),
                    "reply_sport": ports.then_some(rep.sport),
                    "reply_dport": ports.then_some(rep.dport),
                })
            }
        };
        writeln!(out, "{o}")?;
    }
    Ok(())
}
