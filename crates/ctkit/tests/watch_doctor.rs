//! `ctkit watch` and `ctkit doctor` on real tables: a client namespace sends UDP to a server
//! namespace over a veth pair; the server's nft `ct state` rule makes it track, so its table
//! is the one under test.
//!
//! - watch: `--count 2 --json` prints exactly two lines with the documented fields; the NEW
//!   events counted between them equal the flows created between them; count and counters
//!   equal `conntrack -C` / `-S` in the same namespace.
//! - doctor: with `nf_conntrack_max` lowered (global, under [`support::GlobalLock`], restored by
//!   [`support::RestoreValue`] even on panic), one source fills the table with established
//!   connections and floods it with UDP until the kernel logs
//!   "table full in netns INODE": doctor exits 2, names the source and the drop counter,
//!   attributes the log line to this namespace's inode, and its suggested command empties the
//!   table so that the fill is no longer critical.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;
use support::lab::{nft_load, veth_pair};
use support::{ctkit_bin, GlobalLock, Netns, RestoreValue};

const CLIENT: &str = "192.0.2.2";
const SERVER: &str = "192.0.2.1";

/// The server tracks everything that reaches it.
const RULESET: &str = "table inet ctkit_wd {\n  chain input {\n    \
    type filter hook input priority filter; policy accept;\n    \
    ct state established,related accept\n    ct state new accept\n  }\n}\n";

/// Client and server namespaces, ARP resolved, the server's table holding one ICMP entry.
fn pair() -> (Netns, Netns) {
    let client = Netns::new();
    let server = Netns::new();
    veth_pair(
        &client,
        "c0",
        &["192.0.2.2/24"],
        &server,
        "s0",
        &["192.0.2.1/24"],
    );
    nft_load(&server, RULESET);
    client.exec_ok(&["ping", "-c1", "-W2", SERVER]);
    (client, server)
}

/// Sends one UDP datagram from the client to each of `n` server ports from `first`: `n` new
/// flows from one source (the server answers with ICMP port unreachable, RELATED, no entry).
fn udp_flows(client: &Netns, first: u16, n: u16) {
    let py = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         for p in range({first},{}):\n  s.sendto(b'x',('{SERVER}',p))\n",
        first + n
    );
    client.exec_ok(&["python3", "-c", &py]);
}

fn ns_inode(ns: &Netns) -> u64 {
    let l = ns.exec_ok(&["readlink", "/proc/self/ns/net"]);
    l.trim()
        .strip_prefix("net:[")
        .and_then(|s| s.strip_suffix(']'))
        .and_then(|s| s.parse().ok())
        .expect("net:[INODE]")
}

/// `conntrack -C` in `ns`.
fn oracle_count(ns: &Netns) -> u64 {
    ns.exec_ok(&["/usr/sbin/conntrack", "-C"])
        .trim()
        .parse()
        .unwrap()
}

/// A per-CPU counter of `conntrack -S`, summed over CPUs.
fn oracle_stat(ns: &Netns, name: &str) -> u64 {
    let out = ns.exec_ok(&["/usr/sbin/conntrack", "-S"]);
    out.split_whitespace()
        .filter_map(|w| w.strip_prefix(&format!("{name}=")))
        .map(|v| v.parse::<u64>().unwrap())
        .sum()
}

/// Starts `ctkit watch ARGS` in `ns`; returns the child and a line reader on its stdout.
fn spawn_watch(
    ns: &Netns,
    args: &[&str],
) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let bin = ctkit_bin();
    let mut argv = vec![bin.to_str().unwrap(), "watch"];
    argv.extend_from_slice(args);
    let mut child = ns
        .command(&argv)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn watch");
    let out = BufReader::new(child.stdout.take().unwrap());
    (child, out)
}

fn next_json(r: &mut BufReader<std::process::ChildStdout>) -> Value {
    let mut line = String::new();
    r.read_line(&mut line).expect("read watch line");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
}

/// `watch ARGS --count 2 --interval 6 --json --proto-every 1` in `ns`: the first sample, then
/// `between` runs (the first line is printed once the event socket subscribed), then the
/// second sample; watch must exit 0.
fn two_samples_around(ns: &Netns, args: &[&str], between: impl FnOnce()) -> (Value, Value) {
    let mut all = args.to_vec();
    all.extend([
        "--count",
        "2",
        // Long enough for `between` to finish on a loaded 2-core machine (its traffic took
        // over 2 s at load 20): the second sample must see all of it.
        "--interval",
        "6",
        "--json",
        "--proto-every",
        "1",
    ]);
    let (mut child, mut out) = spawn_watch(ns, &all);
    let first = next_json(&mut out);
    between();
    let second = next_json(&mut out);
    assert!(child.wait().unwrap().success());
    (first, second)
}

const WATCH_FIELDS: [&str; 24] = [
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
    "mode",
];

#[test]
fn watch_json_prints_exactly_count_lines_with_the_documented_fields() {
    if !support::kernel::require_tools("watch_json_lines", &["nft", "python3", "ping"]) {
        return;
    }
    let (_client, server) = pair();
    let bin = ctkit_bin();
    let out = server.exec(&[
        bin.to_str().unwrap(),
        "watch",
        "--count",
        "2",
        "--interval",
        "0.2",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), WATCH_FIELDS.len(), "{l}");
        for f in WATCH_FIELDS {
            assert!(v.get(f).is_some(), "missing {f} in {l}");
        }
        assert_eq!(v["mode"], "events");
        assert_eq!(v["count"], 1, "the ping's ICMP entry: {l}");
        assert_eq!(v["icmp"], 1);
    }
    let second: Value = serde_json::from_str(lines[1]).unwrap();
    let el = second["elapsed_s"].as_f64().unwrap();
    // At least the interval; the upper bound only catches a runaway (a loaded machine may
    // schedule the sample late).
    assert!((0.15..5.0).contains(&el), "elapsed {el}");
    assert_eq!(second["new"], 0);
    // The same count conntrack reports.
    assert_eq!(oracle_count(&server), 1);
}

#[test]
fn watch_counts_new_flows_from_events_exactly_and_agrees_with_conntrack() {
    if !support::kernel::require_tools("watch_new_from_events", &["nft", "python3", "ping"]) {
        return;
    }
    let (client, server) = pair();
    let (first, second) = two_samples_around(&server, &[], || udp_flows(&client, 20000, 25));
    assert!(first["new"].is_null());
    assert_eq!(second["new"], 25, "{second}");
    assert_eq!(second["net_change"], 25, "{second}");
    assert_eq!(second["destroyed"], 0, "{second}");
    assert_eq!(second["lost"], 0, "{second}");
    assert_eq!(second["count"], 26, "{second}");
    assert_eq!(second["udp"], 25, "{second}");
    assert_eq!(oracle_count(&server), 26);
    assert_eq!(second["drop"], 0);
    assert_eq!(oracle_stat(&server, "drop"), 0);
    let rate = second["new_per_s"].as_f64().unwrap();
    let el = second["elapsed_s"].as_f64().unwrap();
    assert!((rate * el - 25.0).abs() < 0.01, "{second}");
}

#[test]
fn watch_from_proc_shows_the_net_change_and_says_so() {
    if !support::kernel::require_tools("watch_from_proc", &["nft", "python3", "ping"]) {
        return;
    }
    if !std::path::Path::new("/proc/net/nf_conntrack").exists() {
        if support::kernel::kernel_required() {
            panic!("watch_from_proc: /proc/net/nf_conntrack missing (CONFIG_NF_CONNTRACK_PROCFS)");
        }
        eprintln!("SKIP watch_from_proc: no /proc/net/nf_conntrack");
        return;
    }
    let (client, server) = pair();
    let (first, second) = two_samples_around(&server, &["--from", "proc"], || {
        udp_flows(&client, 50000, 15)
    });
    assert_eq!(first["mode"], "net_change");
    assert_eq!(second["mode"], "net_change", "{second}");
    assert_eq!(second["net_change"], 15, "{second}");
    assert!(
        second["new"].is_null() && second["destroyed"].is_null(),
        "{second}"
    );
    assert_eq!(second["count"], 16, "{second}");
    assert_eq!(second["udp"], 15, "{second}");
    assert_eq!(oracle_count(&server), 16);
    // Piped without --json: CSV, the mode in its last column.
    let bin = ctkit_bin();
    let text = server.exec_ok(&[
        bin.to_str().unwrap(),
        "watch",
        "--from",
        "proc",
        "--count",
        "1",
    ]);
    assert!(
        text.is_empty() || text.starts_with("ts,"),
        "piped: CSV, {text}"
    );
}

#[test]
fn watch_survives_event_overflow_and_reports_it() {
    if !support::kernel::require_tools("watch_enobufs", &["nft", "python3", "ping"]) {
        return;
    }
    let (client, server) = pair();
    let (mut child, mut out) = spawn_watch(
        &server,
        &[
            "--count",
            "2",
            "--interval",
            "2",
            "--json",
            "--buffer-size",
            "4096",
        ],
    );
    let _ = next_json(&mut out);
    // Nobody reads the event socket while watch is stopped: its small queue overflows.
    let pid = child.id().to_string();
    let sig = |s: &str| {
        let st = std::process::Command::new("kill")
            .args([s, &pid])
            .status()
            .unwrap();
        assert!(st.success());
    };
    let second = {
        // 201 entries, unreplied: more than another test's lowered nf_conntrack_max admits,
        // and what its flagged GC evicts. Held until the sample that counts them.
        let _shared = GlobalLock::shared();
        sig("-STOP");
        udp_flows(&client, 40000, 200);
        sig("-CONT");
        next_json(&mut out)
    };
    assert!(
        child.wait().unwrap().success(),
        "watch must survive ENOBUFS"
    );
    assert!(second["lost"].as_u64().unwrap() >= 1, "{second}");
    assert!(second["new"].as_u64().unwrap() < 200, "{second}");
    assert_eq!(second["net_change"], 200, "{second}");
    assert_eq!(second["count"], 201, "{second}");
}

/// `doctor --json` in `ns`. Its findings judge the table against the global
/// `nf_conntrack_max` and `nf_conntrack_buckets`: outside the table-full test (which holds the
/// exclusive lock), call it under [`GlobalLock::shared`].
/// doctor's `--since` for a namespace made at `born`: its lifetime, no more. Namespace inode
/// numbers are handed out lowest-free first, so a namespace made right after another died
/// gets its number, and the kernel log's "table full in netns N" lines of the dead one (an
/// earlier table-full test) would otherwise count as this one's.
fn since_born(born: Instant) -> String {
    format!("{:.3}", born.elapsed().as_secs_f64())
}

fn doctor_json(ns: &Netns, born: Instant) -> (i32, Value) {
    let bin = ctkit_bin();
    let since = since_born(born);
    let out = ns.exec(&[
        bin.to_str().unwrap(),
        "doctor",
        "--json",
        "--sample",
        "0.2",
        "--since",
        &since,
    ]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor JSON ({e}): {out:?}"));
    (out.status.code().unwrap(), v)
}

/// "table full" goes through `net_ratelimit()` (lib/ratelimit.c: 10 messages per 5 s window,
/// shared by every network warning of the host). When another flood printed shortly before
/// ours, ours would be suppressed: wait until 5 s passed since the newest such line.
fn wait_for_net_ratelimit() {
    let bin = ctkit_bin();
    let out = std::process::Command::new(&bin)
        .args([
            "doctor",
            "--json",
            "--no-sample",
            "--log",
            "kmsg",
            "--since",
            "10s",
        ])
        .output()
        .expect("run doctor");
    let v: Value = serde_json::from_slice(&out.stdout).expect("doctor JSON");
    let newest = v["log"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "table_full" || l["kind"] == "callbacks_suppressed")
        .filter_map(|l| l["age_s"].as_f64())
        .fold(f64::MAX, f64::min);
    if newest < 5.5 {
        std::thread::sleep(std::time::Duration::from_secs_f64(5.5 - newest));
    }
}

fn finding<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
}

#[test]
fn doctor_on_a_full_table_exits_2_names_the_flood_and_its_fix_works() {
    if !support::kernel::require_tools("doctor_table_full", &["nft", "python3", "ping"]) {
        return;
    }
    let born = Instant::now();
    let (client, server) = pair();
    let inode = ns_inode(&server);
    const MAX: u64 = 256;
    // The table is filled with ESTABLISHED (ASSURED) TCP connections, which neither early drop
    // nor the GC's eviction at 95 % of max may remove, so it stays at exactly MAX; the UDP flood
    // that follows is dropped whole. (A table filled with unreplied UDP is not stable: the
    // GC, flagged by the failed early drop, evicts unassured entries while the flood goes on.)
    support::traffic::tcp_server(&server, SERVER, 9000);
    server.exec_ok(&["/usr/sbin/conntrack", "-F"]);
    let (watch_second, drop_before, drop_after, count_oracle, (code1, r1), fixed_cmd, (code2, r2));
    let (raise_cmd, (code_raised, r_raised));
    {
        let _lock = GlobalLock::acquire();
        wait_for_net_ratelimit();
        let _max = RestoreValue::set("/proc/sys/net/netfilter/nf_conntrack_max", &MAX.to_string());
        drop_before = oracle_stat(&server, "drop");
        let (mut child, mut out) =
            spawn_watch(&server, &["--count", "2", "--interval", "6", "--json"]);
        let _ = next_json(&mut out);
        let opened = support::traffic::tcp_fill(&client, SERVER, 9000);
        assert_eq!(
            opened as u64, MAX,
            "connections opened before the table was full"
        );
        udp_flows(&client, 30000, 200);
        watch_second = next_json(&mut out);
        assert!(child.wait().unwrap().success());
        drop_after = oracle_stat(&server, "drop");
        count_oracle = oracle_count(&server);
        (code1, r1) = doctor_json(&server, born);
        // The plain fix for the fill, run where it must run (the initial namespace).
        raise_cmd = finding(&r1, "fill_pct")
            .and_then(|f| f["fixes"][0]["plain"].as_str().map(String::from));
        if let Some(cmd) = &raise_cmd {
            let st = std::process::Command::new("sh")
                .args(["-c", cmd])
                .output()
                .unwrap();
            assert!(st.status.success(), "{cmd}: {st:?}");
        }
        (code_raised, r_raised) = doctor_json(&server, born);
        // Back to the small table, then the fix doctor suggests for the flooding source.
        std::fs::write("/proc/sys/net/netfilter/nf_conntrack_max", MAX.to_string()).unwrap();
        fixed_cmd = finding(&r1, "top_source")
            .and_then(|f| f["fixes"][0]["plain"].as_str().map(String::from));
        if let Some(cmd) = &fixed_cmd {
            let fix = server.sh(cmd);
            assert!(fix.status.success(), "{cmd}: {fix:?}");
        }
        (code2, r2) = doctor_json(&server, born);
    }
    // watch saw the table fill and the drops exactly as conntrack -S counts them.
    assert_eq!(watch_second["count"], MAX, "{watch_second}");
    assert_eq!(count_oracle, MAX);
    assert_eq!(watch_second["max"], MAX);
    assert_eq!(watch_second["fill_pct"], 100.0);
    let drops = drop_after - drop_before;
    // The SYN that found the table full, and every datagram of the flood.
    assert_eq!(drops, 201, "drops");
    assert_eq!(watch_second["drop"], drops, "{watch_second}");

    // doctor: critical, the source, the drop counter, the log line of this namespace.
    assert_eq!(code1, 2, "{r1:#}");
    assert_eq!(r1["status"], "critical");
    assert_eq!(r1["netns"], inode);
    assert_eq!(finding(&r1, "fill_pct").unwrap()["severity"], "critical");
    let src = finding(&r1, "top_source").expect("top_source finding");
    assert_eq!(src["severity"], "critical");
    assert!(src["message"].as_str().unwrap().contains(CLIENT), "{src}");
    assert_eq!(fixed_cmd.as_deref(), Some("conntrack -D -s 192.0.2.2"));
    assert_eq!(src["fixes"][0]["ctkit"], "ctkit delete --src 192.0.2.2");
    let drop = finding(&r1, "drop").expect("drop finding");
    assert_ne!(drop["severity"], "ok");
    assert!(drop["value"].as_f64().unwrap() >= drops as f64, "{drop}");
    assert_eq!(r1["top_sources"][0]["key"], CLIENT);
    assert_eq!(
        finding(&r1, "fill_pct").unwrap()["fixes"][0]["plain"],
        "sysctl -w net.netfilter.nf_conntrack_max=65536"
    );
    let ours: Vec<&Value> = r1["log"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "table_full" && l["netns"] == inode)
        .collect();
    assert!(
        !ours.is_empty(),
        "no table full line for netns {inode}: {:#}",
        r1["log"]
    );
    for l in &ours {
        assert_eq!(l["origin"], "ours");
        assert_eq!(
            l["text"],
            format!("nf_conntrack: nf_conntrack: table full in netns {inode}, dropping packet")
        );
    }
    // Lines of other namespaces are never called ours.
    for l in r1["log"]["lines"].as_array().unwrap() {
        if l["kind"] == "table_full" && l["netns"] != inode {
            assert_ne!(l["origin"], "ours", "{l}");
        }
    }
    assert_eq!(
        finding(&r1, "log_table_full").unwrap()["severity"],
        "warning"
    );

    // Raising nf_conntrack_max as suggested: the full table is no longer critical.
    assert_eq!(
        raise_cmd.as_deref(),
        Some("sysctl -w net.netfilter.nf_conntrack_max=65536")
    );
    assert_eq!(r_raised["max"], 65536, "{r_raised:#}");
    assert_eq!(r_raised["count"], MAX);
    assert_eq!(finding(&r_raised, "fill_pct").unwrap()["severity"], "ok");
    assert_eq!(finding(&r_raised, "top_source").unwrap()["severity"], "ok");
    assert_eq!(code_raised, 1, "{r_raised:#}");

    // After the delete fix: the table is empty, nothing is critical any more (the past drops and the
    // log line remain as warnings).
    assert_eq!(r2["count"], 0, "{r2:#}");
    assert_eq!(finding(&r2, "fill_pct").unwrap()["severity"], "ok");
    assert!(finding(&r2, "top_source").is_none());
    assert_eq!(code2, 1, "{r2:#}");
    assert_eq!(finding(&r2, "drop").unwrap()["severity"], "warning");
}

#[test]
fn doctor_on_a_quiet_table_is_ok_and_the_text_report_fits_a_screen() {
    if !support::kernel::require_tools("doctor_quiet", &["nft", "python3", "ping"]) {
        return;
    }
    let born = Instant::now();
    let (_client, server) = pair();
    let bin = ctkit_bin();
    // Status ok needs max and buckets at their defaults (fill, chain length at full table).
    let out = {
        let _shared = GlobalLock::shared();
        server.exec(&[
            bin.to_str().unwrap(),
            "doctor",
            "--sample",
            "0.1",
            "--since",
            &since_born(born),
        ])
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("status: ok (exit 0)"), "{text}");
    assert!(text.contains("table      1 of "), "{text}");
    assert!(text.contains("kernel log /dev/kmsg, last "), "{text}");
    assert!(text.lines().count() <= 24, "{text}");
}

#[test]
fn doctor_counts_states_sources_helpers_and_expectations_like_conntrack() {
    use support::lab::{LabOptions, SERVER4};
    use support::traffic;
    if !support::kernel::require_tools("doctor_shape", &["nft", "python3", "ping"]) {
        return;
    }
    let born = Instant::now();
    let lab = support::Lab::new(LabOptions {
        ftp: true,
        ..LabOptions::default()
    });
    traffic::ftp_server(&lab.server, SERVER4, 21, 2121);
    traffic::ftp_control(&lab.client, SERVER4, 21, "PASV");
    traffic::mixed(&lab);
    lab.settle();
    // Exit 0 needs max and buckets at their defaults (fill, chain length at full table).
    let (code, r) = {
        let _shared = GlobalLock::shared();
        doctor_json(&lab.router, born)
    };
    let listing = lab.router.exec_ok(&["/usr/sbin/conntrack", "-L"]);
    let lines: Vec<&str> = listing.lines().collect();
    let n = lines.len() as u64;
    let with = |w: &str| lines.iter().filter(|l| l.contains(w)).count() as f64;
    let expect = lab.router.exec_ok(&["/usr/sbin/conntrack", "-L", "expect"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["count"], n, "{r:#}\n{listing}");
    assert_eq!(r["scanned"], n);
    assert_eq!(oracle_count(&lab.router), n);
    let pct = |x: f64| x * 100.0 / n as f64;
    let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-9;
    assert!(
        close(&r["unreplied_pct"], pct(with("[UNREPLIED]"))),
        "{r:#}"
    );
    assert!(
        close(&r["time_wait_pct"], pct(with(" TIME_WAIT "))),
        "{r:#}"
    );
    assert!(
        close(&r["established_pct"], pct(with(" ESTABLISHED "))),
        "{r:#}"
    );
    assert_eq!(r["helpers"]["ftp"], with("helper=ftp"), "{r:#}");
    assert_eq!(r["expectations"], expect.lines().count() as u64, "{expect}");
    assert_eq!(r["expectations"], 1);
    assert_eq!(r["helpers"]["ftp"], 1, "the FTP control connection");
    let max: u64 = std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_expect_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(r["expect_max"], max);
    // Every entry comes from the client side: one source.
    assert_eq!(r["top_sources"].as_array().unwrap().len() as u64, {
        let mut srcs: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("src=")))
            .collect();
        srcs.sort();
        srcs.dedup();
        srcs.len().min(5) as u64
    });
    let top: u64 = r["top_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    assert!(top <= n && top > 0);
    assert_eq!(
        r["entry_bytes"].as_u64().map(|b| b * n),
        r["memory_bytes"].as_u64()
    );
}
