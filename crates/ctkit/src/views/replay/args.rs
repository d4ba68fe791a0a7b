//! `ctkit replay` flags: the output mode, the engine's configuration (sysctls by name, helpers,
//! zone, hash seed) and the report files. The list filters and `--json` come from
//! [`crate::views::common`], so `--proto tcp --dport 80` selects events and entries as
//! `ctkit list` does, and with `--per-packet` the packets of such flows (both directions).

use crate::source::SourceSpec;
use crate::views::common::{parse_replay_view_args, ViewArgs};

/// What `ctkit replay` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The final table, as `conntrack -L` prints it (the default).
    Table,
    /// The event stream, as `conntrack -E -o timestamp` prints it.
    Events,
    /// One line per packet with the `ct state` a rule would see.
    PerPacket,
    /// The sizing report: peak, drops, states at the peak, final count.
    WhatIf,
}

pub use crate::views::engine::EngineArgs;

/// Every `ctkit replay` option.
#[derive(Clone, Debug)]
pub struct ReplayArgs {
    /// The capture path (`-`: standard input).
    pub capture: String,
    /// Output mode.
    pub mode: Mode,
    /// Engine configuration.
    pub engine: EngineArgs,
    /// `--zone N`: the conntrack zone every packet is tracked in.
    pub zone: u16,
    /// `--seed N`, or a random seed.
    pub seed: u64,
    /// `--csv FILE` (what-if): occupancy over time.
    pub csv: Option<String>,
    /// `--svg FILE` (what-if): occupancy plot.
    pub svg: Option<String>,
    /// `--expect`: the expectation table (`conntrack -L expect`) instead of the connections,
    /// or with `--events` the expectation events (`conntrack -E expect`).
    pub expect: bool,
    /// Shared view flags (`--json`, list filters).
    pub view: ViewArgs,
}

const OWN_VALUE_FLAGS: &[&str] = &["--zone", "--csv", "--svg"];

/// The usage text.
pub const USAGE: &str = "\
usage: ctkit replay CAPTURE [--events | --per-packet | --what-if] [--expect] [--json]
         [--set NAME=VALUE]... [--sysctl-from-kernel] [--helper ftp=PORT]... [--no-helpers]
         [--zone N] [--seed N] [--csv FILE] [--svg FILE] [list filters]
  CAPTURE        pcap or pcapng file (`-': standard input); time comes from its timestamps
  (default)      the final table as `conntrack -L' prints it, timeouts relative to the last packet
  --events       the events as `conntrack -E -o timestamp' prints them
  --expect       the expectations instead of the connections: the final expectation table as
                 `conntrack -L expect' prints it, with --events as `conntrack -E expect' does
  --per-packet   each packet: time, tuple, ct state, direction, dropped (the list filters
                 select a flow's packets, both ways)
  --what-if      peak entries (and when), drops, early drops, states at the peak, final count
  --csv FILE     (--what-if) occupancy over time; --svg FILE: the same as a plot
  --set NAME=VALUE  any conntrack sysctl (nf_conntrack_max=65536, …), repeatable
  --sysctl-from-kernel  start from this namespace's values instead of 6.18's defaults
                 (checksums stay unverified unless --set nf_conntrack_checksum=1)
  --helper ftp=PORT  attach the FTP helper to TCP PORT too (as a `ct helper' rule; 21 by default)
  --no-helpers   no helper at all (then --helper adds back)
  --zone N       the conntrack zone every packet is tracked in (default 0)
  --seed N       hash seed (makes early-drop victims repeatable)
  --json         JSON lines instead of conntrack's text, in every mode";

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag}: `{v}' is not a valid number"))
}

/// Whether a filter asks about what only an entry has (not a packet's headers).
fn entry_only_filter(f: &ctkit_model::filter::FlowFilter) -> bool {
    f.id.is_some()
        || f.mark_exact.is_some()
        || f.timeout.is_some()
        || f.status_subset.is_some()
        || f.status_masked.is_some()
        || f.tcp_state.is_some()
        || f.sctp_state.is_some()
        || f.dccp_state.is_some()
        || f.mark.is_some()
        || f.src_nat.is_some()
        || f.dst_nat.is_some()
        || f.any_nat.is_some()
        || f.labels.is_some()
}

/// Parses the words after `replay`.
pub fn parse(args: &[String]) -> Result<ReplayArgs, String> {
    let view = parse_replay_view_args(args, OWN_VALUE_FLAGS)?;
    if view.from != SourceSpec::Kernel {
        return Err("replay reads its CAPTURE argument; `--from' does not apply".into());
    }
    let mut capture = None;
    let mut mode = None;
    let mut zone = 0;
    let mut csv = None;
    let mut svg = None;
    let mut expect = false;
    let set_mode = |m: Mode, mode: &mut Option<Mode>| -> Result<(), String> {
        match mode {
            Some(old) if *old != m => {
                Err("--events, --per-packet and --what-if exclude each other".into())
            }
            _ => {
                *mode = Some(m);
                Ok(())
            }
        }
    };
    let rest = &view.rest;
    let mut i = 0;
    while i < rest.len() {
        let (flag, inline) = match rest[i].split_once('=') {
            Some((f, v)) if f.starts_with("--") && OWN_VALUE_FLAGS.contains(&f) => {
                (f, Some(v.to_string()))
            }
            _ => (rest[i].as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            i += 1;
            rest.get(i)
                .cloned()
                .ok_or_else(|| format!("`{flag}' needs a value"))
        };
        match flag {
            "--events" => set_mode(Mode::Events, &mut mode)?,
            "--per-packet" => set_mode(Mode::PerPacket, &mut mode)?,
            "--what-if" => set_mode(Mode::WhatIf, &mut mode)?,
            "--expect" => expect = true,
            "--zone" => zone = number("--zone", &value()?)?,
            "--csv" => csv = Some(value()?),
            "--svg" => svg = Some(value()?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            f if f.starts_with('-') && f != "-" => {
                return Err(format!("replay: unknown option `{f}'"))
            }
            path => {
                if capture.replace(path.to_string()).is_some() {
                    return Err("replay takes one CAPTURE".into());
                }
            }
        }
        i += 1;
    }
    let mode = mode.unwrap_or(Mode::Table);
    if (csv.is_some() || svg.is_some()) && mode != Mode::WhatIf {
        return Err("--csv and --svg belong to --what-if".into());
    }
    if expect && !matches!(mode, Mode::Table | Mode::Events) {
        return Err("--expect goes with the default table or --events".into());
    }
    if mode == Mode::PerPacket && entry_only_filter(&view.filter) {
        return Err(
            "--per-packet filters packets by their tuple (--proto, --src, --dst, ports, \
                    ICMP fields, --family); state, status, mark, timeout, id, NAT and label \
                    filters select entries"
                .into(),
        );
    }
    if expect && view.filtered {
        return Err("the list filters select connections, not expectations (--expect)".into());
    }
    Ok(ReplayArgs {
        capture: capture.ok_or("replay needs a CAPTURE file")?,
        mode,
        seed: view.engine.seed_or_random(),
        engine: view.engine.clone(),
        zone,
        csv,
        svg,
        expect,
        view,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctkit_engine::Helper;

    fn p(s: &str) -> Result<ReplayArgs, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn engine_flags_are_kept_in_order() {
        let a = p("x.pcap --set nf_conntrack_max=65536 --events --helper ftp=2121 --no-helpers --set=nf_conntrack_tcp_loose=0 --zone 7 --seed 9").unwrap();
        assert_eq!(a.capture, "x.pcap");
        assert_eq!(a.mode, Mode::Events);
        assert_eq!(a.zone, 7);
        assert_eq!(a.seed, 9);
        assert_eq!(
            a.engine.sets,
            [
                ("nf_conntrack_max".to_string(), "65536".to_string()),
                ("nf_conntrack_tcp_loose".to_string(), "0".to_string())
            ]
        );
        assert_eq!(a.engine.helpers, [(Helper::Ftp, 2121)]);
        assert!(a.engine.no_helpers && !a.engine.from_kernel);
    }

    #[test]
    fn filters_and_json_are_shared_and_zone_is_ours() {
        let a = p("--json --proto tcp --dport 80 - --what-if --csv o.csv").unwrap();
        assert!(a.view.json && a.view.filtered);
        assert_eq!(a.capture, "-");
        assert_eq!(a.mode, Mode::WhatIf);
        assert_eq!(a.csv.as_deref(), Some("o.csv"));
        assert!(!p("x --zone 3").unwrap().view.filtered);
    }

    #[test]
    fn bad_usage_is_an_error_naming_the_problem() {
        assert_eq!(p("").unwrap_err(), "replay needs a CAPTURE file");
        assert_eq!(p("a b").unwrap_err(), "replay takes one CAPTURE");
        assert!(p("a --events --per-packet")
            .unwrap_err()
            .contains("exclude"));
        assert_eq!(
            p("a --set foo").unwrap_err(),
            "--set: `foo' is not NAME=VALUE"
        );
        assert_eq!(
            p("a --helper ftp=0").unwrap_err(),
            "--helper: port 0 carries no connection"
        );
        assert!(p("a --helper sip=5060")
            .unwrap_err()
            .contains("unknown helper `sip'"));
        assert_eq!(
            p("a --zone x").unwrap_err(),
            "--zone: `x' is not a valid number"
        );
        assert_eq!(
            p("a --csv f").unwrap_err(),
            "--csv and --svg belong to --what-if"
        );
        assert_eq!(
            p("a --bogus").unwrap_err(),
            "replay: unknown option `--bogus'"
        );
        assert!(p("a --from proc").unwrap_err().contains("--from"));
        assert_eq!(
            p("a --expect --per-packet").unwrap_err(),
            "--expect goes with the default table or --events"
        );
        assert!(p("a --expect --proto tcp")
            .unwrap_err()
            .contains("not expectations"));
        assert!(p("a --expect --events").unwrap().expect);
        assert_eq!(
            p("a --set bogus=1").unwrap_err(),
            "--set bogus=1: unknown sysctl `bogus'"
        );
        assert_eq!(
            p("a --set nf_conntrack_tcp_loose=2").unwrap_err(),
            "--set nf_conntrack_tcp_loose=2: bad value `2' for nf_conntrack_tcp_loose: must be 0 or 1"
        );
        assert_eq!(
            p("a --set nf_conntrack_count=5").unwrap_err(),
            "--set nf_conntrack_count=5: bad value `5' for nf_conntrack_count: read-only"
        );
    }
}
