//! The engine options of a capture source (`--set`, `--sysctl-from-kernel`, `--helper`,
//! `--no-helpers`, `--seed`) in every view that reads `--from CAPTURE` (list, list --table
//! expect, summary, doctor, top -1, watch, count, stats), on captures written here (no kernel
//! needed), and the usage errors when the source is no capture; pcapng packets on interfaces
//! of an unsupported link type.

use ctkit_capture::write;
use ctkit_engine::build;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static N: AtomicU32 = AtomicU32::new(0);

const T0: u64 = 1_796_640_803_000_000_000;
const SEC: u64 = 1_000_000_000;

fn tmp(name: &str, bytes: &[u8]) -> String {
    let n = N.fetch_add(1, Ordering::Relaxed);
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("capture-engine-{}-{n}-{name}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_string()
}

fn ctkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ctkit"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ctkit")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A raw-IP pcap of `(seconds after T0, packet)`.
fn pcap(pkts: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    write::pcap_header(&mut f, 101, false, true, 65535);
    for (t, p) in pkts {
        write::pcap_record(&mut f, T0 + t * SEC, p, false, true);
    }
    f
}

/// Two unreplied UDP flows: 192.0.2.1:5000 → 192.0.2.2:53 at 0 s, 192.0.2.1:5001 →
/// 192.0.2.2:53 at 40 s (the capture's last packet).
fn two_udp() -> Vec<u8> {
    let (a, b) = (addr("192.0.2.1"), addr("192.0.2.2"));
    pcap(&[
        (0, build::udp(a, b, 5000, 53, b"q")),
        (40, build::udp(a, b, 5001, 53, b"q")),
    ])
}

fn udp_line(timeout: u32, sport: u16) -> String {
    format!(
        "udp      17 {timeout} src=192.0.2.1 dst=192.0.2.2 sport={sport} dport=53 [UNREPLIED] \
         src=192.0.2.2 dst=192.0.2.1 sport=53 dport={sport} mark=0 use=1\n"
    )
}

/// An FTP control connection to `port`: handshake, banner, USER, then PORT announcing
/// 192.0.2.1:40000.
fn ftp(port: u16) -> Vec<u8> {
    let (c, s) = (addr("192.0.2.1"), addr("192.0.2.2"));
    let seg = |from_client: bool, seq: u32, ack: u32, flags: u8, payload: &[u8]| {
        let (src, dst, sport, dport) = if from_client {
            (c, s, 40001, port)
        } else {
            (s, c, port, 40001)
        };
        build::tcp(
            src,
            dst,
            &build::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                win: 64240,
                opts: &[],
                payload,
            },
        )
    };
    let (mut a, mut b) = (1000u32, 5000u32);
    let mut pkts = vec![
        seg(true, a, 0, 0x02, b""),
        seg(false, b, a + 1, 0x12, b""),
        seg(true, a + 1, b + 1, 0x10, b""),
    ];
    a += 1;
    b += 1;
    for (from_client, line) in [
        (false, &b"220 hi\r\n"[..]),
        (true, b"USER a\r\n"),
        (false, b"331 ok\r\n"),
        (true, b"PORT 192,0,2,1,156,64\r\n"),
    ] {
        if from_client {
            pkts.push(seg(true, a, b, 0x18, line));
            a += line.len() as u32;
        } else {
            pkts.push(seg(false, b, a, 0x18, line));
            b += line.len() as u32;
        }
    }
    let timed: Vec<(u64, Vec<u8>)> = pkts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (i as u64, p))
        .collect();
    pcap(&timed)
}

/// 400 unreplied UDP flows from 192.0.2.1 (ports 10000-10399) to 198.51.100.2:53, all at T0.
fn udp_flood() -> Vec<u8> {
    let (a, b) = (addr("192.0.2.1"), addr("198.51.100.2"));
    let pkts: Vec<(u64, Vec<u8>)> = (0..400u16)
        .map(|i| (0, build::udp(a, b, 10000 + i, 53, b"q")))
        .collect();
    pcap(&pkts)
}

#[test]
fn set_udp_timeout_changes_which_flows_list_and_count_show() {
    let p = tmp("udp.pcap", &two_udp());
    // 6.18's 30 s: the first flow expired 10 s before the last packet.
    assert_eq!(stdout(&ctkit(&["list", "--from", &p])), udp_line(30, 5001));
    // With 60 s it is still there, 20 s left.
    let set = ["--set", "nf_conntrack_udp_timeout=60"];
    let got = stdout(&ctkit(&[&["list", "--from", &p][..], &set].concat()));
    assert_eq!(got, udp_line(20, 5000) + &udp_line(60, 5001));
    // The inline form, and the filters still apply.
    let got = stdout(&ctkit(&[
        "list",
        "--from",
        &p,
        "--set=nf_conntrack_udp_timeout=60",
        "--sport",
        "5000",
        "--proto",
        "udp",
    ]));
    assert_eq!(got, udp_line(20, 5000));
    let got = stdout(&ctkit(&[&["top", "-1", "--from", &p][..], &set].concat()));
    assert_eq!(
        got,
        "ctkit top -- Sort by: SrcIP\n\
         Source         Destination  Prt State TTL\n\
         192.0.2.1:5000 192.0.2.2:53 udp       0:00:20\n\
         192.0.2.1:5001 192.0.2.2:53 udp       0:01:00\n"
    );
}

#[test]
fn no_helpers_and_helper_port_decide_the_expect_table() {
    let p = tmp("ftp21.pcap", &ftp(21));
    let expect = |extra: &[&str]| {
        stdout(&ctkit(
            &[&["list", "--table", "expect", "--from", &p][..], extra].concat(),
        ))
    };
    let one = expect(&[]);
    assert_eq!(one.lines().count(), 1, "{one}");
    assert!(
        one.starts_with("300 proto=6 src=192.0.2.2 dst=192.0.2.1 sport=0 dport=40000 "),
        "{one}"
    );
    assert_eq!(expect(&["--no-helpers"]), "");
    // stats --table expect counts what the replay created.
    assert_eq!(
        stdout(&ctkit(&[
            "stats",
            "--from",
            &p,
            "--table",
            "expect",
            "--no-helpers"
        ])),
        "cpu=0   \texpect_new=0 expect_create=0 expect_delete=0 \n"
    );
    // FTP on 2121 has no helper unless asked for, as with a `ct helper' rule.
    let p = tmp("ftp2121.pcap", &ftp(2121));
    let q = p.as_str();
    let list = |extra: &[&str]| {
        stdout(&ctkit(
            &[&["list", "--table", "expect", "--from", q][..], extra].concat(),
        ))
    };
    assert_eq!(list(&[]), "");
    assert_eq!(list(&["--helper", "ftp=2121"]).lines().count(), 1);
    assert_eq!(
        list(&["--no-helpers", "--helper", "ftp=2121"])
            .lines()
            .count(),
        1
    );
}

#[test]
fn nf_conntrack_max_caps_summary_count_doctor_watch_and_seed_repeats_the_victims() {
    let p = tmp("flood.pcap", &udp_flood());
    let set = [
        "--set",
        "nf_conntrack_max=50",
        "--set",
        "nf_conntrack_buckets=64",
        "--seed",
        "1",
    ];
    let with = |args: &[&str]| stdout(&ctkit(&[args, &set].concat()));
    assert_eq!(stdout(&ctkit(&["count", "--from", &p])), "400\n");
    assert_eq!(
        with(&["count", "--from", &p, "--json"]),
        "{\"entries\":50,\"max\":50}\n"
    );
    let s = with(&["summary", "--from", &p, "--by", "dst", "--json"]);
    let total = s.lines().last().unwrap();
    let j: serde_json::Value = serde_json::from_str(total).unwrap();
    assert_eq!(
        (&j["type"], &j["entries"]),
        (&"total".into(), &50.into()),
        "{s}"
    );
    // Every flow past the 50th evicted an unreplied entry or was dropped.
    let j: serde_json::Value =
        serde_json::from_str(&with(&["stats", "--from", &p, "--json"])).unwrap();
    assert_eq!(
        j["drop"].as_u64().unwrap() + j["early_drop"].as_u64().unwrap(),
        350,
        "{j}"
    );
    // The same seed: the same survivors, in the same order.
    let one = with(&["list", "--from", &p]);
    assert_eq!(one.lines().count(), 50);
    assert_eq!(with(&["list", "--from", &p]), one);
    let o = ctkit(&[&["doctor", "--from", &p, "--no-sample"][..], &set].concat());
    assert_eq!(o.status.code(), Some(2), "a full table is critical");
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], "status: CRITICAL (exit 2)");
    assert_eq!(lines[3], "table      50 of 50 entries (100.0 %)");
    // Seed 1's victims: the counters of stats, the same in doctor.
    let (drop, early) = (
        j["drop"].as_u64().unwrap(),
        j["early_drop"].as_u64().unwrap(),
    );
    assert_eq!(
        lines[4],
        format!(
            "counters   chaintoolong 0 clash_resolve 0 drop {drop} early_drop {early} \
             insert_failed 0 invalid 0 search_restart 0"
        )
    );
    let w = with(&["watch", "--from", &p, "--count", "1", "--json"]);
    let j: serde_json::Value = serde_json::from_str(w.lines().next().unwrap()).unwrap();
    assert_eq!((&j["count"], &j["max"]), (&50.into(), &50.into()), "{w}");
}

#[test]
fn bad_engine_options_are_the_replays_usage_errors_before_reading() {
    let p = tmp("udp.pcap", &two_udp());
    for (args, msg) in [
        (
            &["list", "--from", &p, "--set", "bogus=1"][..],
            "--set bogus=1: unknown sysctl `bogus'",
        ),
        (
            &["summary", "--from", &p, "--set", "nf_conntrack_tcp_loose=2"],
            "--set nf_conntrack_tcp_loose=2: bad value `2' for nf_conntrack_tcp_loose: must be 0 or 1",
        ),
        (
            &["count", "--from", &p, "--set", "nf_conntrack_count=5"],
            "--set nf_conntrack_count=5: bad value `5' for nf_conntrack_count: read-only",
        ),
        (
            &["stats", "--from", &p, "--helper", "sip=5060"],
            "--helper: unknown helper `sip' (known: ftp)",
        ),
        (
            &["watch", "--from", &p, "--seed", "x"],
            "--seed: `x' is not a valid number",
        ),
        (
            // Not read: the file does not exist, the bad name is found first.
            &["list", "--from", "/nonexistent.pcap", "--set", "bogus=1"],
            "--set bogus=1: unknown sysctl `bogus'",
        ),
    ] {
        let o = ctkit(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().next(), Some(format!("ctkit: {msg}").as_str()), "{args:?}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn engine_options_without_a_capture_are_usage_errors() {
    let dump = tmp("dump.txt", udp_line(30, 5001).as_bytes());
    let proc_msg = "ctkit: `--set' configures the replay of a packet capture (--from FILE.pcap); \
                    it does nothing for /proc/net/nf_conntrack (--from proc)";
    let set = ["--set", "nf_conntrack_max=10"];
    // Exit codes are each view's usage code: 2, doctor's 3 (could not run), top's 1
    // (iptstate's).
    for (view, code) in [
        (&["list"][..], 2),
        (&["list", "--table", "expect"], 2),
        (&["summary"], 2),
        (&["count"], 2),
        (&["stats"], 2),
        (&["watch", "--count", "1"], 2),
        (&["doctor"], 3),
        (&["top", "-1"], 1),
    ] {
        let o = ctkit(&[view, &["--from", "proc"], &set].concat());
        assert_eq!(o.status.code(), Some(code), "{view:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        let first = err
            .lines()
            .next()
            .unwrap_or("")
            .replacen("ctkit top: ", "ctkit: ", 1);
        assert_eq!(first, proc_msg, "{view:?}");
        let o = ctkit(&[view, &["--from", &dump, "--seed", "1"]].concat());
        assert_eq!(o.status.code(), Some(code), "{view:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!(
                "`--seed' configures the replay of a packet capture (--from FILE.pcap); \
                 it does nothing for {dump}, a saved dump"
            )),
            "{view:?}: {err}"
        );
        let o = ctkit(&[view, &["--from", "kernel", "--no-helpers"]].concat());
        assert_eq!(o.status.code(), Some(code), "{view:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(
            "`--no-helpers' configures the replay of a packet capture (--from FILE.pcap); \
             it does nothing for the kernel's table (--from kernel, the default)"
        ));
    }
    // Without --from (the kernel): the same message, not conntrack's unknown option.
    for cmd in ["list", "count", "stats"] {
        let o = ctkit(&[cmd, "--seed=1"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr).lines().next(),
            Some(
                "ctkit: `--seed' configures the replay of a packet capture (--from FILE.pcap); \
                 it does nothing for the kernel's table (--from kernel, the default)"
            ),
            "{cmd}"
        );
    }
    // A saved dump on standard input is known only once read: refused then (exit 1).
    let o = Command::new(env!("CARGO_BIN_EXE_ctkit"))
        .args(["list", "--from", "-", "--sysctl-from-kernel"])
        .stdin(std::fs::File::open(&dump).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "ctkit: list: `--sysctl-from-kernel' configures the replay of a packet capture \
         (--from FILE.pcap); it does nothing for standard input, a saved dump\n"
    );
    // A capture on standard input takes them.
    let p = tmp("udp.pcap", &two_udp());
    let o = Command::new(env!("CARGO_BIN_EXE_ctkit"))
        .args([
            "list",
            "--from",
            "-",
            "--set",
            "nf_conntrack_udp_timeout=60",
        ])
        .stdin(std::fs::File::open(&p).unwrap())
        .output()
        .unwrap();
    assert_eq!(stdout(&o), udp_line(20, 5000) + &udp_line(60, 5001));
}

#[test]
fn pcapng_packets_on_an_unsupported_link_are_skipped_with_one_note_unless_none_is_usable() {
    let (a, b) = (addr("192.0.2.1"), addr("192.0.2.2"));
    let udp = build::udp(a, b, 5001, 53, b"q");
    let mut f = Vec::new();
    write::pcapng_shb(&mut f, true);
    write::pcapng_idb(&mut f, 105, Some(9), true); // 802.11
    write::pcapng_idb(&mut f, 101, Some(9), true); // raw IP
    write::pcapng_epb(&mut f, 0, T0, b"radio", true);
    write::pcapng_epb(&mut f, 1, T0 + SEC, &udp, true);
    write::pcapng_epb(&mut f, 0, T0 + 2 * SEC, b"radio", true);
    let p = tmp("mixed.pcapng", &f);
    let note = format!(
        "ctkit: {p}: skipped 2 packet(s) on interfaces of an unsupported link type \
         (LINKTYPE 105; supported: Ethernet, Linux SLL/SLL2, raw IP, BSD loopback)\n"
    );
    // The table at the last packet (the skipped one's time is not the replay's).
    let shown = format!(
        "conntrack v1.4.7 (ctkit {}): 1 flow entries have been shown.\n",
        env!("CARGO_PKG_VERSION")
    );
    for (args, err) in [
        (&["replay", &p][..], note.clone()),
        (&["list", "--from", &p], note.clone() + &shown),
    ] {
        let o = ctkit(args);
        assert_eq!(stdout(&o), udp_line(30, 5001), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), err, "{args:?}");
    }
    // Nothing usable: the error, as before.
    let mut f = Vec::new();
    write::pcapng_shb(&mut f, true);
    write::pcapng_idb(&mut f, 105, Some(9), true);
    write::pcapng_epb(&mut f, 0, T0, b"radio", true);
    let p = tmp("radio.pcapng", &f);
    let o = ctkit(&["replay", &p]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "ctkit: {p}: record 3: unsupported link type 105 (supported: Ethernet, Linux \
             SLL/SLL2, raw IP, BSD loopback)\n"
        )
    );
}

/// A Linux cooked v2 frame (`tcpdump -i any`) on interface 2, sent or received.
fn sll2(l3: &[u8], outgoing: bool) -> Vec<u8> {
    let mut f = Vec::new();
    write::sll2_frame(&mut f, l3, 2, outgoing);
    f
}

#[test]
fn checksums_are_verified_only_for_packets_the_capture_host_received() {
    let (host, peer) = (addr("192.0.2.1"), addr("192.0.2.2"));
    // The host's query leaves with the unfilled checksum of an offloading NIC; the answer
    // comes back right; a stranger's datagram comes in with a bad checksum.
    let bad = |mut p: Vec<u8>| {
        p[26..28].copy_from_slice(&[0x12, 0x34]);
        p
    };
    let frames = [
        sll2(&bad(build::udp(host, peer, 5000, 53, b"q")), true),
        sll2(&build::udp(peer, host, 53, 5000, b"a"), false),
        sll2(&bad(build::udp(addr("192.0.2.3"), host, 7, 9, b"x")), false),
    ];
    let mut f = Vec::new();
    write::pcap_header(&mut f, 276, false, true, 65535);
    for (i, fr) in frames.iter().enumerate() {
        write::pcap_record(&mut f, T0 + i as u64 * SEC, fr, false, true);
    }
    let p = tmp("sent.pcap", &f);
    let on = ["--set", "nf_conntrack_checksum=1"];
    let states: Vec<String> = stdout(&ctkit(&[&["replay", &p, "--per-packet"][..], &on].concat()))
        .lines()
        .map(|l| l.split('\t').nth(2).unwrap().to_string())
        .collect();
    assert_eq!(states, ["new original", "established reply", "invalid -"]);
    let answered = "udp      17 29 src=192.0.2.1 dst=192.0.2.2 sport=5000 dport=53 \
                    src=192.0.2.2 dst=192.0.2.1 sport=53 dport=5000 mark=0 use=1\n";
    assert_eq!(
        stdout(&ctkit(&[&["list", "--from", &p][..], &on].concat())),
        answered
    );
    let j: serde_json::Value = serde_json::from_str(&stdout(&ctkit(
        &[&["stats", "--from", &p, "--json"][..], &on].concat(),
    )))
    .unwrap();
    assert_eq!(j["invalid"], 1, "{j}");
    // Without verification the stranger's datagram is tracked too.
    assert_eq!(stdout(&ctkit(&["count", "--from", &p])), "2\n");
}

#[test]
fn a_capture_through_a_pipe_is_not_read_before_its_source_opens_it() {
    // `--from <(zcat cap.pcap.gz)`: the usage check must not eat the pipe's first bytes.
    let fifo = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("capture-engine-{}-fifo", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let bytes = two_udp();
    let path = fifo.clone();
    let writer = std::thread::spawn(move || std::fs::write(path, bytes).unwrap());
    // A reader reopening the pipe would wait for a writer forever: 30 s at most.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctkit"))
        .args(["list", "--from", fifo.to_str().unwrap()])
        .args(["--set", "nf_conntrack_udp_timeout=60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("ctkit list --from FIFO hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let _ = std::fs::remove_file(&fifo);
    assert_eq!(stdout(&o), udp_line(20, 5000) + &udp_line(60, 5001));
}

#[test]
fn engine_options_with_the_proc_file_by_path_are_a_usage_error() {
    let path = "/proc/net/nf_conntrack";
    if !std::path::Path::new(path).exists() {
        eprintln!("skipped: {path} does not exist (nf_conntrack not loaded)");
        return;
    }
    let o = ctkit(&["summary", "--from", path, "--set", "nf_conntrack_max=10"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).lines().next(),
        Some(
            "ctkit: `--set' configures the replay of a packet capture (--from FILE.pcap); \
             it does nothing for /proc/net/nf_conntrack, a saved dump"
        )
    );
}

#[test]
fn every_views_help_names_the_engine_options() {
    for args in [
        &["summary", "--help"][..],
        &["doctor", "--help"],
        &["watch", "--help"],
        &["top", "-h"],
        &["--help"],
    ] {
        let o = ctkit(args);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("--set NAME=VALUE") && out.contains("--sysctl-from-kernel"),
            "{args:?}: {out}"
        );
    }
}
