//! `ctkit summary` on real traffic, checked against the oracle: for every key and several
//! filters, the counts per group (entries, UNREPLIED, ASSURED) equal what we count ourselves
//! in `/usr/sbin/conntrack -L`'s output for the same namespace. Plus the reply-direction
//! pitfall of the classic `sed 's/^.*src=…'` recipe, on NATed flows.

mod support;

use std::collections::BTreeMap;
use support::lab::{
    DNAT_PORT, DNAT_TO_PORT, DNAT_VIP, MARK, MARK_PORT, ROUTER_S4, SERVER4, SNAT_PORT, ZONE,
    ZONE_PORT,
};
use support::traffic;
use support::{ctkit_bin, oracle_bin, Lab, LabOptions, Netns};

/// Per group: (entries, unreplied, assured).
type Counts = BTreeMap<String, (u64, u64, u64)>;

/// The fields of one `conntrack -L` line that the keys read.
#[derive(Debug)]
struct Line {
    proto: String,
    state: String,
    orig: BTreeMap<String, String>,
    reply: BTreeMap<String, String>,
    zone: String,
    mark: String,
    unreplied: bool,
    assured: bool,
}

/// Parses a default-format `conntrack -L` line: `PROTO NUM TIMEOUT [STATE] k=v… [UNREPLIED]
/// k=v… [ASSURED] mark=M [zone=Z] use=U`. The first `src=` starts the original tuple, the
/// second the reply tuple.
fn parse_line(l: &str) -> Line {
    let words: Vec<&str> = l.split_whitespace().collect();
    let mut line = Line {
        proto: words[0].to_string(),
        state: "-".into(),
        orig: BTreeMap::new(),
        reply: BTreeMap::new(),
        zone: "0".into(),
        mark: "0".into(),
        unreplied: l.contains("[UNREPLIED]"),
        assured: l.contains("[ASSURED]"),
    };
    if words[3].chars().all(|c| c.is_ascii_uppercase() || c == '_') {
        line.state = words[3].to_string();
    }
    let mut srcs = 0;
    for w in &words[3..] {
        let Some((k, v)) = w.split_once('=') else {
            continue;
        };
        if k == "src" {
            srcs += 1;
        }
        match (k, srcs) {
            ("mark", _) => line.mark = v.to_string(),
            ("zone", _) => line.zone = v.to_string(),
            (_, 1) => {
                line.orig.insert(k.to_string(), v.to_string());
            }
            (_, 2) => {
                line.reply.insert(k.to_string(), v.to_string());
            }
            _ => {}
        }
    }
    line
}

/// The group label of `line` for `key`, spelled as `summary --json`'s key values are
/// canonicalised by [`json_label`].
fn oracle_label(key: &str, l: &Line) -> String {
    let o = |k: &str| l.orig.get(k).cloned().unwrap_or_else(|| "-".into());
    let r = |k: &str| l.reply.get(k).cloned().unwrap_or_else(|| "-".into());
    match key {
        "src" => o("src"),
        "dst" => o("dst"),
        "sport" => o("sport"),
        "dport" => o("dport"),
        "proto" => l.proto.clone(),
        "state" => l.state.clone(),
        "zone" => l.zone.clone(),
        "mark" => l.mark.clone(),
        "pair" => format!("{}->{}", o("src"), o("dst")),
        "reply-src" => r("src"),
        "reply-dst" => r("dst"),
        "nat" => {
            let snat = r("dst") != o("src") || r("dport") != o("sport");
            let dnat = r("src") != o("dst") || r("sport") != o("dport");
            let mut s = Vec::new();
            if snat {
                s.push(format!("snat {}", r("dst")));
            }
            if dnat {
                s.push(format!("dnat {}", r("src")));
            }
            if s.is_empty() {
                "none".into()
            } else {
                s.join(" ")
            }
        }
        k => panic!("no oracle label for {k}"),
    }
}

fn json_label(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Object(o) if o.contains_key("dst") => {
            format!("{}->{}", json_label(&o["src"]), json_label(&o["dst"]))
        }
        serde_json::Value::Object(o) => {
            let mut s = Vec::new();
            if let Some(a) = o.get("snat") {
                s.push(format!("snat {}", json_label(a)));
            }
            if let Some(a) = o.get("dnat") {
                s.push(format!("dnat {}", json_label(a)));
            }
            s.join(" ")
        }
        other => panic!("unexpected key value {other}"),
    }
}

/// The oracle's `conntrack -L ORACLE_ARGS` output.
fn oracle_listing(ns: &Netns, oracle_args: &[&str]) -> String {
    let mut argv = vec![oracle_bin().to_str().unwrap(), "-L"];
    argv.extend_from_slice(oracle_args);
    let out = ns.exec(&argv);
    assert!(out.status.success(), "oracle {argv:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Counts the lines of a `conntrack -L` listing by `keys` (`"src,dport"`).
fn count_listing(listing: &str, keys: &str) -> Counts {
    let mut counts = Counts::new();
    for l in listing.lines() {
        let line = parse_line(l);
        let label: Vec<String> = keys.split(',').map(|k| oracle_label(k, &line)).collect();
        let c = counts.entry(label.join(" | ")).or_default();
        c.0 += 1;
        c.1 += u64::from(line.unreplied);
        c.2 += u64::from(line.assured);
    }
    counts
}

/// Runs `ctkit summary --by KEYS --all --json ARGS` and returns its groups and total line.
fn summary_counts(ns: &Netns, keys: &str, args: &[&str]) -> (Counts, serde_json::Value) {
    let bin = ctkit_bin();
    let mut argv = vec![
        bin.to_str().unwrap(),
        "summary",
        "--by",
        keys,
        "--all",
        "--json",
    ];
    argv.extend_from_slice(args);
    let out = ns.exec(&argv);
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut counts = Counts::new();
    let mut total = serde_json::Value::Null;
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        match v["type"].as_str().unwrap() {
            "group" => {
                let label: Vec<String> = keys
                    .split(',')
                    .map(|k| match &v["key"][k.replace('-', "_")] {
                        serde_json::Value::Null if k == "nat" => "none".to_string(),
                        x => json_label(x),
                    })
                    .collect();
                let prev = counts.insert(
                    label.join(" | "),
                    (
                        v["entries"].as_u64().unwrap(),
                        v["unreplied"].as_u64().unwrap(),
                        v["assured"].as_u64().unwrap(),
                    ),
                );
                assert!(prev.is_none(), "group listed twice: {l}");
            }
            "total" => total = v,
            t => panic!("unexpected line type {t}: {l}"),
        }
    }
    (counts, total)
}

/// Compares summary and oracle for each of `key_sets` under one filter: the oracle lists the
/// table before and after the summary runs and must agree with itself (else all is retried),
/// then each summary must equal our count of that listing. Returns the counts per key set.
fn assert_same_all(ns: &Netns, key_sets: &[&str], ours: &[&str], oracle: &[&str]) -> Vec<Counts> {
    for attempt in 0..3 {
        let before = oracle_listing(ns, oracle);
        let got: Vec<(Counts, serde_json::Value)> = key_sets
            .iter()
            .map(|k| summary_counts(ns, k, ours))
            .collect();
        if oracle_listing(ns, oracle) != before && attempt < 2 {
            continue;
        }
        for (keys, (counts, total)) in key_sets.iter().zip(&got) {
            assert_eq!(
                counts,
                &count_listing(&before, keys),
                "summary --by {keys} {ours:?} vs conntrack -L {oracle:?}"
            );
            let n: u64 = counts.values().map(|c| c.0).sum();
            assert_eq!(total["entries"].as_u64(), Some(n));
            assert_eq!(total["groups"].as_u64(), Some(counts.len() as u64));
        }
        return got.into_iter().map(|(c, _)| c).collect();
    }
    unreachable!()
}

/// [`assert_same_all`] for one key set.
fn assert_same(ns: &Netns, keys: &str, ours: &[&str], oracle: &[&str]) -> Counts {
    assert_same_all(ns, &[keys], ours, oracle).remove(0)
}

/// Keeps short-lived entries (unreplied UDP 30 s, ICMP 30 s, TIME_WAIT 120 s) for the whole
/// test on a slow, shared machine: the router's own (per-namespace) timeouts.
fn keep_entries(lab: &Lab) {
    lab.router.sh_ok(
        "sysctl -qw net.netfilter.nf_conntrack_udp_timeout=900 \
         net.netfilter.nf_conntrack_icmp_timeout=900 \
         net.netfilter.nf_conntrack_icmpv6_timeout=900 \
         net.netfilter.nf_conntrack_tcp_timeout_time_wait=900",
    );
}

fn traffic_for_every_key(lab: &Lab) {
    keep_entries(lab);
    traffic::mixed(lab);
    // SNAT (router rewrites the source to ROUTER_S4) and DNAT (VIP:80 -> server:8080).
    traffic::tcp_server(&lab.server, SERVER4, SNAT_PORT);
    traffic::tcp_server(&lab.server, SERVER4, DNAT_TO_PORT);
    traffic::tcp_server(&lab.server, SERVER4, MARK_PORT);
    traffic::udp_server(&lab.server, SERVER4, ZONE_PORT);
    traffic::tcp_hold(&lab.client, SERVER4, SNAT_PORT, 10);
    traffic::tcp_hold(&lab.client, SERVER4, SNAT_PORT, 10);
    traffic::tcp_hold(&lab.client, DNAT_VIP, DNAT_PORT, 10);
    traffic::tcp_hold(&lab.client, SERVER4, MARK_PORT, 10);
    traffic::udp_reply(&lab.client, SERVER4, ZONE_PORT, 40100);
    lab.settle();
}

#[test]
fn summary_counts_equal_the_oracle_listing_for_every_key_and_filter() {
    if !support::kernel::require_tools(
        "summary_counts_equal_the_oracle_listing_for_every_key_and_filter",
        &["nft", "python3", "ping"],
    ) {
        return;
    }
    let lab = Lab::new(LabOptions {
        nat: true,
        mark: true,
        zone: true,
        ..LabOptions::default()
    });
    traffic_for_every_key(&lab);
    let all = assert_same_all(
        &lab.router,
        &[
            "src",
            "dst",
            "sport",
            "dport",
            "proto",
            "state",
            "zone",
            "mark",
            "pair",
            "nat",
            "reply-src",
            "reply-dst",
            "src,dport",
            "proto,state,dport",
        ],
        &[],
        &[],
    );
    let (mark, zone) = (&all[7], &all[6]);
    // Known groups, by hand: two SNATed and one DNATed connection, one marked, one zoned.
    let nat = assert_same(&lab.router, "nat", &["--proto", "tcp"], &["-p", "tcp"]);
    assert_eq!(nat[&format!("snat {ROUTER_S4}")], (2, 0, 2));
    assert_eq!(nat[&format!("dnat {SERVER4}")], (1, 0, 1));
    assert_eq!(mark[&MARK.to_string()].0, 1);
    assert_eq!(zone[&ZONE.to_string()].0, 1);

    // Filters select what conntrack -L selects (same lab: one topology per test file run).
    let port = SNAT_PORT.to_string();
    let mark = MARK.to_string();
    let zone = ZONE.to_string();
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("src", vec!["--proto", "tcp"], vec!["-p", "tcp"]),
        ("dport", vec!["--proto", "udp"], vec!["-p", "udp"]),
        ("src", vec!["--dst", SERVER4], vec!["-d", SERVER4]),
        ("reply-src", vec!["--dst", DNAT_VIP], vec!["-d", DNAT_VIP]),
        (
            "src,sport",
            vec!["--proto", "tcp", "--dport", &port],
            vec!["-p", "tcp", "--dport", &port],
        ),
        ("state", vec!["--family", "ipv6"], vec!["-f", "ipv6"]),
        (
            "dport",
            vec!["--status", "UNREPLIED"],
            vec!["-u", "UNREPLIED"],
        ),
        ("dst", vec!["--src-nat"], vec!["-n"]),
        ("dport", vec!["--mark", &mark], vec!["-m", &mark]),
        ("proto", vec!["--zone", &zone], vec!["-w", &zone]),
    ];
    for (keys, ours, oracle) in &cases {
        let got = assert_same(&lab.router, keys, ours, oracle);
        assert!(
            !got.is_empty(),
            "filter {ours:?} selected nothing: the case proves little"
        );
    }
}

#[test]
fn the_sed_recipe_counts_reply_sources_and_summary_counts_clients() {
    if !support::kernel::require_tools(
        "the_sed_recipe_counts_reply_sources_and_summary_counts_clients",
        &["nft", "python3", "sed", "sort", "uniq"],
    ) {
        return;
    }
    let lab = Lab::new(LabOptions {
        nat: true,
        ..LabOptions::default()
    });
    keep_entries(&lab);
    traffic::tcp_server(&lab.server, SERVER4, SNAT_PORT);
    traffic::tcp_server(&lab.server, SERVER4, DNAT_TO_PORT);
    for _ in 0..3 {
        traffic::tcp_hold(&lab.client, SERVER4, SNAT_PORT, 10);
    }
    for _ in 0..2 {
        traffic::tcp_hold(&lab.client, DNAT_VIP, DNAT_PORT, 10);
    }
    lab.settle();
    // The recipe, verbatim, on the router's /proc/net/nf_conntrack.
    let recipe = lab.router.sh_ok(
        r"sed -ne 's/^.*src=\([^ ]*\).*/\1/p' /proc/net/nf_conntrack | sort | uniq -c | sort -r | head",
    );
    let recipe: BTreeMap<String, u64> = recipe
        .lines()
        .map(|l| {
            let (n, ip) = l.trim().split_once(' ').unwrap();
            (ip.trim().to_string(), n.parse().unwrap())
        })
        .collect();
    // Every entry's reply comes from the server: the recipe never sees the client.
    assert_eq!(recipe, BTreeMap::from([(SERVER4.to_string(), 5)]));

    let (by_src, _) = summary_counts(&lab.router, "src", &[]);
    assert_eq!(by_src, Counts::from([("192.0.2.2".to_string(), (5, 0, 5))]));
    // What the recipe computes is `--by reply-src`.
    let (by_reply, _) = summary_counts(&lab.router, "reply-src", &[]);
    let as_recipe: BTreeMap<String, u64> = by_reply.iter().map(|(k, v)| (k.clone(), v.0)).collect();
    assert_eq!(as_recipe, recipe);
    let (nat, _) = summary_counts(&lab.router, "nat", &[]);
    assert_eq!(
        nat,
        Counts::from([
            (format!("snat {ROUTER_S4}"), (3, 0, 3)),
            (format!("dnat {SERVER4}"), (2, 0, 2)),
        ])
    );

    // The text output names the direction of each column.
    let bin = ctkit_bin();
    let out = lab
        .router
        .exec_ok(&[bin.to_str().unwrap(), "summary", "--by", "src,reply-src"]);
    assert_eq!(
        out,
        "\
src (orig)  src (reply)   entries       %  unreplied  assured
192.0.2.2   198.51.100.2        5  100.0%       0.0%   100.0%
total (1 group)                 5  100.0%       0.0%   100.0%
"
    );
}

#[test]
fn summary_usage_errors_exit_2_and_source_errors_exit_1() {
    let bin = ctkit_bin();
    for (args, code, msg) in [
        (&["summary", "--by", "nope"][..], 2, "unknown key `nope'"),
        (&["summary", "--top", "0"][..], 2, "positive number"),
        (
            &["summary", "--top", "2", "--all"][..],
            2,
            "exclude each other",
        ),
        (&["summary", "--sport", "80"][..], 2, "--sport"),
        (&["summary", "extra"][..], 2, "unknown argument `extra'"),
        (
            &["summary", "--from", "/nonexistent/ctkit-summary-test"][..],
            1,
            "ctkit: summary:",
        ),
    ] {
        let out = std::process::Command::new(&bin)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    let out = std::process::Command::new(&bin)
        .args(["summary", "--help"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--by KEY"));
}
