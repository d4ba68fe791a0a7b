//! `ctkit summary`: entries grouped by one or more keys and counted, largest groups first,
//! with each group's share of the table and of UNREPLIED and ASSURED entries.
//!
//! It replaces the daily `sed -ne 's/^.*src=\([^ ]*\).*/\1/p' /proc/net/nf_conntrack | sort |
//! uniq -c | sort -r | head`, which counts the *reply* source (the greedy `.*` stops at the
//! last `src=`), not the client: here `src` is the original direction's source and every
//! column header names its direction (`src (orig)`, `src (reply)`). Keys and their
//! directions are defined in [`super::group`].
//!
//! The table is streamed from any [`crate::source`] through the list filters of
//! [`super::common`]; memory grows with the number of groups, not entries.
//!
//! `--json` prints JSON Lines: one object per shown group
//! (`{"type":"group","key":{"src":"192.0.2.2"},"entries":7,"percent":70.0,"unreplied":1,
//! "assured":4}`), then `{"type":"other",…}` for the groups beyond `--top` (when there are
//! any) and a last `{"type":"total","groups":G,"entries":N,"unreplied":U,"assured":A,
//! "skipped":S,"source":"kernel"}`. Key members are named as in `--by` with `_` for `-`
//! (`reply_src`); ports, states and NAT are `null` where the entry has none; `pair` is
//! `{"src","dst"}`, `nat` is `{"snat"?,"dnat"?}`.

use super::common::{parse_view_args, ViewArgs, Words};
use super::group::{Counts, Group, Grouper, Key};
use super::usage_error;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

/// Groups shown without `--top`/`--all`.
const DEFAULT_TOP: usize = 10;

const HELP: &str = concat!(
    "\
Usage: ctkit summary [--by KEY[,KEY…]] [--top N | --all] [FILTERS] [--from SRC] [--lenient] [--json]
                     [--set NAME=VALUE]... [--sysctl-from-kernel] [--helper ftp=PORT]...
                     [--no-helpers] [--seed N]   (with --from CAPTURE)

Groups conntrack entries and counts them, largest groups first, with each group's share of
the table and its share of UNREPLIED and ASSURED entries, and a total line.

  --by KEYS    comma-separated keys (default: src); several keys group by their tuple:
                 src, dst, sport, dport, pair   original direction (the client's view)
                 reply-src, reply-dst           reply direction
                 proto, state, zone, mark
                 nat   the address NAT translated to: `snat A' when the reply goes back to
                       A instead of the original source, `dnat B' when it comes from B
                       instead of the original destination, `none'
  --top N      show the N largest groups (default 10); the rest is one `other' line
  --all        show every group
  --json       JSON Lines: one object per group, then `other' and `total' objects
  FILTERS      as for `ctkit list' (--proto, --src, --dst, --dport, --state, --mark, --zone, …)
  --from SRC   kernel (default), proc, a saved file or a capture, - for standard input

Note: `sed 's/^.*src=…'' on /proc/net/nf_conntrack counts the reply source (`--by reply-src').
",
    crate::views::engine::capture_help!()
);

/// What `summary` was asked.
#[derive(Debug)]
struct Options {
    view: ViewArgs,
    keys: Vec<Key>,
    top: Option<usize>,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(None);
    }
    let view = parse_view_args(args, &["--by", "--top"])?;
    let mut keys: Vec<Key> = Vec::new();
    let mut top = None;
    let mut all = false;
    let mut words = Words::new(&view.rest);
    while let Some(flag) = words.next_flag() {
        match flag {
            "--by" => {
                let v = words.value()?;
                for k in Key::parse_list(v)? {
                    if keys.contains(&k) {
                        return Err(format!("key `{}' given twice in --by", k.name()));
                    }
                    keys.push(k);
                }
            }
            "--top" => {
                let v = words.value()?;
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => top = Some(n),
                    _ => return Err(format!("`--top' needs a positive number, not `{v}'")),
                }
            }
            "--all" => all = true,
            other => return Err(format!("summary: unknown argument `{other}'")),
        }
    }
    if all && top.is_some() {
        return Err("`--top' and `--all' exclude each other".into());
    }
    if keys.is_empty() {
        keys.push(Key::Src);
    }
    let top = if all {
        None
    } else {
        Some(top.unwrap_or(DEFAULT_TOP))
    };
    Ok(Some(Options { view, keys, top }))
}

/// Runs `ctkit summary`.
pub fn main(args: &[String]) -> ExitCode {
    let opts = match parse(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => return usage_error(&e),
    };
    let mut source = match opts.view.open_source() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctkit: summary: {e}");
            return ExitCode::from(1);
        }
    };
    let mut grouper = Grouper::new(opts.keys.clone());
    let view = &opts.view;
    let report = source.scan(&mut |flow| {
        if view.matches(flow) {
            grouper.add(flow);
        }
        ControlFlow::Continue(())
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ctkit: summary: {e}");
            return ExitCode::from(1);
        }
    };
    if report.skipped > 0 {
        eprintln!(
            "ctkit: summary: skipped {} malformed line(s) (--lenient)",
            report.skipped
        );
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let res = if opts.view.json {
        write_json(
            &mut out,
            &grouper,
            opts.top,
            report.skipped,
            &source.describe(),
        )
    } else {
        write_text(&mut out, &grouper, opts.top)
    }
    .and_then(|_| out.flush());
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctkit: summary: write: {e}");
            ExitCode::from(1)
        }
    }
}

/// `part` of `whole` in percent with one decimal, `-` for an empty whole.
fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "group"
    } else {
        "groups"
    }
}

/// The groups beyond the shown ones, summed.
fn rest_of(grouper: &Grouper, shown: &[Group<'_>]) -> Option<(usize, Counts)> {
    let hidden = grouper.len() - shown.len();
    if hidden == 0 {
        return None;
    }
    let mut c = grouper.total();
    for g in shown {
        c.entries -= g.counts.entries;
        c.unreplied -= g.counts.unreplied;
        c.assured -= g.counts.assured;
    }
    Some((hidden, c))
}

/// The table as text: key columns (left-aligned, headers naming the direction), then
/// entries, share of the table, share of UNREPLIED and of ASSURED within the group.
fn write_text(out: &mut impl Write, grouper: &Grouper, top: Option<usize>) -> io::Result<()> {
    let shown = grouper.top(top);
    let total = grouper.total();
    let nkeys = grouper.keys().len();
    let mut rows: Vec<(Vec<String>, Counts)> = shown
        .iter()
        .map(|g| {
            let v = grouper
                .values(g.key)
                .iter()
                .map(|v| v.to_string())
                .collect();
            (v, g.counts)
        })
        .collect();
    let mut label_row = |label: String, c: Counts| {
        let mut v = vec![label];
        v.resize(nkeys, String::new());
        rows.push((v, c));
    };
    if let Some((hidden, c)) = rest_of(grouper, &shown) {
        label_row(format!("({hidden} other {})", plural(hidden)), c);
    }
    let n = grouper.len();
    label_row(format!("total ({n} {})", plural(n)), total);

    let headers: Vec<&str> = grouper.keys().iter().map(|k| k.header()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    // The label rows may be wider than the first key column; they spill into the others.
    for (v, _) in &rows[..shown.len()] {
        for (w, s) in widths.iter_mut().zip(v) {
            *w = (*w).max(s.chars().count());
        }
    }
    let label_w: usize = rows[shown.len()..]
        .iter()
        .map(|(v, _)| v[0].chars().count())
        .max()
        .unwrap_or(0);
    let keys_w: usize = widths.iter().sum::<usize>() + 2 * (nkeys - 1);
    if label_w > keys_w {
        *widths.last_mut().expect("at least one key") += label_w - keys_w;
    }
    let num_w = rows
        .iter()
        .map(|(_, c)| c.entries.to_string().len())
        .max()
        .unwrap_or(0)
        .max("entries".len());

    let mut line = String::new();
    for (h, w) in headers.iter().zip(&widths) {
        line += &format!("{h:<w$}  ");
    }
    line += &format!(
        "{:>num_w$}  {:>6}  {:>9}  {:>7}",
        "entries", "%", "unreplied", "assured"
    );
    writeln!(out, "{}", line.trim_end())?;
    for (i, (vals, c)) in rows.iter().enumerate() {
        line.clear();
        if i < shown.len() {
            for (v, w) in vals.iter().zip(&widths) {
                line += &format!("{v:<w$}  ");
            }
        } else {
            line += &format!("{:<keys_w$}  ", vals[0], keys_w = keys_w.max(label_w));
        }
        line += &format!(
            "{:>num_w$}  {:>6}  {:>9}  {:>7}",
            c.entries,
            pct(c.entries, total.entries),
            pct(c.unreplied, c.entries),
            pct(c.assured, c.entries)
        );
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn percent_json(part: u64, whole: u64) -> serde_json::Value {
    if whole == 0 {
        serde_json::Value::Null
    } else {
        serde_json::json!((1000.0 * part as f64 / whole as f64).round() / 10.0)
    }
}

/// A member value: JSON text as is, or a value to serialise.
enum Member {
    Raw(String),
    Value(serde_json::Value),
}
use Member::Raw;

impl std::fmt::Display for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Member::Raw(s) => f.write_str(s),
            Member::Value(v) => write!(f, "{v}"),
        }
    }
}

/// A member value serialised by serde_json.
macro_rules! m {
    ($e:expr) => {
        Member::Value(serde_json::json!($e))
    };
}

/// Writes one JSON object with its members in the given order.
fn write_obj(out: &mut impl Write, members: &[(&str, Member)]) -> io::Result<()> {
    let mut line = String::from("{");
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line += &serde_json::Value::from(*k).to_string();
        line.push(':');
        line += &v.to_string();
    }
    line.push('}');
    writeln!(out, "{line}")
}

/// JSON Lines (see the module documentation).
fn write_json(
    out: &mut impl Write,
    grouper: &Grouper,
    top: Option<usize>,
    skipped: u64,
    source: &str,
) -> io::Result<()> {
    let shown = grouper.top(top);
    let total = grouper.total();
    for g in &shown {
        // The key members in --by order (a serde_json map would sort them).
        let mut key = String::from("{");
        for (i, (k, v)) in grouper.keys().iter().zip(grouper.values(g.key)).enumerate() {
            if i > 0 {
                key.push(',');
            }
            key += &format!("\"{}\":{}", k.json_name(), v.to_json());
        }
        key.push('}');
        write_obj(
            out,
            &[
                ("type", m!("group")),
                ("key", Raw(key)),
                ("entries", m!(g.counts.entries)),
                (
                    "percent",
                    Member::Value(percent_json(g.counts.entries, total.entries)),
                ),
                ("unreplied", m!(g.counts.unreplied)),
                ("assured", m!(g.counts.assured)),
            ],
        )?;
    }
    if let Some((hidden, c)) = rest_of(grouper, &shown) {
        write_obj(
            out,
            &[
                ("type", m!("other")),
                ("groups", m!(hidden)),
                ("entries", m!(c.entries)),
                (
                    "percent",
                    Member::Value(percent_json(c.entries, total.entries)),
                ),
                ("unreplied", m!(c.unreplied)),
                ("assured", m!(c.assured)),
            ],
        )?;
    }
    let keys: Vec<&str> = grouper.keys().iter().map(|k| k.name()).collect();
    write_obj(
        out,
        &[
            ("type", m!("total")),
            ("by", m!(keys)),
            ("groups", m!(grouper.len())),
            ("entries", m!(total.entries)),
            ("unreplied", m!(total.unreplied)),
            ("assured", m!(total.assured)),
            ("skipped", m!(skipped)),
            ("source", m!(source)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctkit_model::{Flow, Status, Tuple};

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn table(entries: &[(&str, u16, bool)]) -> Grouper {
        let mut g = Grouper::new(vec![Key::Src, Key::Dport]);
        for (src, dport, replied) in entries {
            let orig = Tuple {
                src: src.parse().unwrap(),
                dst: "198.51.100.2".parse().unwrap(),
                proto: 17,
                sport: 4000,
                dport: *dport,
                ..Tuple::default()
            };
            let f = Flow {
                orig,
                reply: orig.invert().unwrap(),
                has_orig: true,
                has_reply: true,
                status: Some(if *replied {
                    Status(Status::SEEN_REPLY.0 | Status::ASSURED.0)
                } else {
                    Status(0)
                }),
                ..Flow::default()
            };
            g.add(&f);
        }
        g
    }

    #[test]
    fn options_default_to_src_and_top_10_and_reject_bad_words() {
        let o = parse(&args("")).unwrap().unwrap();
        assert_eq!((o.keys, o.top), (vec![Key::Src], Some(10)));
        let o = parse(&args("--by src,dport --by=state --all --proto tcp"))
            .unwrap()
            .unwrap();
        assert_eq!(o.keys, [Key::Src, Key::Dport, Key::State]);
        assert_eq!(o.top, None);
        assert!(o.view.filtered);
        assert_eq!(parse(&args("--top=3")).unwrap().unwrap().top, Some(3));
        assert!(parse(&args("--help")).unwrap().is_none());
        for (bad, msg) in [
            ("--top 0", "positive number"),
            ("--top x", "positive number"),
            ("--top 3 --all", "exclude"),
            ("--by", "needs a value"),
            ("--by src --by src", "twice"),
            ("--by foo", "unknown key"),
            ("--bogus", "unknown argument `--bogus'"),
        ] {
            let e = parse(&args(bad)).unwrap_err();
            assert!(e.contains(msg), "{bad}: {e}");
        }
    }

    #[test]
    fn text_output_names_directions_and_sums_hidden_groups() {
        let g = table(&[
            ("192.0.2.2", 53, true),
            ("192.0.2.2", 53, false),
            ("192.0.2.2", 53, true),
            ("192.0.2.3", 53, true),
            ("192.0.2.4", 123, false),
        ]);
        let mut out = Vec::new();
        write_text(&mut out, &g, Some(2)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "\
src (orig)  dport (orig)  entries       %  unreplied  assured
192.0.2.2   53                  3   60.0%      33.3%    66.7%
192.0.2.3   53                  1   20.0%       0.0%   100.0%
(1 other group)                 1   20.0%     100.0%     0.0%
total (3 groups)                5  100.0%      40.0%    60.0%
"
        );
    }

    #[test]
    fn json_output_has_one_object_per_group_then_other_and_total() {
        let g = table(&[
            ("192.0.2.2", 53, true),
            ("192.0.2.2", 53, false),
            ("192.0.2.4", 123, false),
        ]);
        let mut out = Vec::new();
        write_json(&mut out, &g, Some(1), 0, "kernel").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                r#"{"type":"group","key":{"src":"192.0.2.2","dport":53},"entries":2,"#
            ),
            "members keep their order: {text}"
        );
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            serde_json::json!({"type":"group","key":{"src":"192.0.2.2","dport":53},
                "entries":2,"percent":66.7,"unreplied":1,"assured":1})
        );
        assert_eq!(
            lines[1],
            serde_json::json!({"type":"other","groups":1,"entries":1,"percent":33.3,
                "unreplied":1,"assured":0})
        );
        assert_eq!(
            lines[2],
            serde_json::json!({"type":"total","by":["src","dport"],"groups":2,"entries":3,
                "unreplied":2,"assured":1,"skipped":0,"source":"kernel"})
        );
    }

    #[test]
    fn an_empty_table_prints_a_zero_total() {
        let g = table(&[]);
        let mut out = Vec::new();
        write_text(&mut out, &g, Some(10)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\
src (orig)  dport (orig)  entries       %  unreplied  assured
total (0 groups)                0       -          -        -
"
        );
    }
}
