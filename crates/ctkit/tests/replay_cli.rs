//! `ctkit replay` on captures written here (no kernel needed): exact output of every mode for
//! a TCP connection whose kernel events are known (recorded on 6.18 by replay_kernel.rs), the
//! capture flow source, and the errors for bad input and bad flags.

use ctkit_capture::write;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static N: AtomicU32 = AtomicU32::new(0);

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let n = N.fetch_add(1, Ordering::Relaxed);
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("replay-cli-{}-{n}-{name}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

fn ctkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ctkit"))
        .args(args)
        .output()
        .expect("run ctkit")
}

fn csum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A raw IPv4 TCP packet with correct checksums (window 64240, no options).
#[allow(clippy::too_many_arguments)]
fn tcp4(
    src: [u8; 4],
    dst: [u8; 4],
    sp: u16,
    dp: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
    p[2..4].copy_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let c = csum(&p, 0);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let mut t = Vec::new();
    t.extend_from_slice(&sp.to_be_bytes());
    t.extend_from_slice(&dp.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[5 << 4, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    let mut pseudo = 6 + t.len() as u32;
    for w in [&src, &dst] {
        pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]))
            + u32::from(u16::from_be_bytes([w[2], w[3]]));
    }
    let c = csum(&t, pseudo);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&t);
    p
}

const C: [u8; 4] = [192, 0, 2, 1];
const S: [u8; 4] = [192, 0, 2, 2];
const T0: u64 = 1_796_640_803_093_712_000;

/// Handshake, one exchange, close from the client: the kernel's events for this are in
/// replay_kernel.rs's tcp_open_transfer_close_v4 recording.
fn connection() -> Vec<u8> {
    let (a, b) = (1000u32, 5000u32);
    let pkts = [
        tcp4(C, S, 40000, 7000, a, 0, 0x02, b""),
        tcp4(S, C, 7000, 40000, b, a + 1, 0x12, b""),
        tcp4(C, S, 40000, 7000, a + 1, b + 1, 0x10, b""),
        tcp4(C, S, 40000, 7000, a + 1, b + 1, 0x18, b"hello"),
        tcp4(S, C, 7000, 40000, b + 1, a + 6, 0x18, b"hello"),
        tcp4(C, S, 40000, 7000, a + 6, b + 6, 0x11, b""),
        tcp4(S, C, 7000, 40000, b + 6, a + 7, 0x11, b""),
        tcp4(C, S, 40000, 7000, a + 7, b + 7, 0x10, b""),
    ];
    let mut f = Vec::new();
    write::pcap_header(&mut f, 101, false, true, 65535);
    for (i, p) in pkts.iter().enumerate() {
        write::pcap_record(&mut f, T0 + i as u64 * 1_000_000, p, false, true);
    }
    f
}

const ORIG: &str = "src=192.0.2.1 dst=192.0.2.2 sport=40000 dport=7000";
const REPL: &str = "src=192.0.2.2 dst=192.0.2.1 sport=7000 dport=40000";

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn events_are_conntrack_e_o_timestamp_lines() {
    let p = tmp("conn.pcap", &connection());
    let got = stdout(&ctkit(&[
        "replay",
        p.to_str().unwrap(),
        "--events",
        "--no-helpers",
    ]));
    let want = format!(
        "[1796640803.093712]\t    [NEW] tcp      6 120 SYN_SENT {ORIG} [UNREPLIED] {REPL}\n\
         [1796640803.094712]\t [UPDATE] tcp      6 60 SYN_RECV {ORIG} {REPL}\n\
         [1796640803.095712]\t [UPDATE] tcp      6 432000 ESTABLISHED {ORIG} {REPL} [ASSURED]\n\
         [1796640803.098712]\t [UPDATE] tcp      6 120 FIN_WAIT {ORIG} {REPL} [ASSURED]\n\
         [1796640803.099712]\t [UPDATE] tcp      6 30 LAST_ACK {ORIG} {REPL} [ASSURED]\n\
         [1796640803.100712]\t [UPDATE] tcp      6 120 TIME_WAIT {ORIG} {REPL} [ASSURED]\n"
    );
    assert_eq!(got, want);
}

#[test]
fn default_output_is_the_final_table_like_conntrack_l() {
    let p = tmp("conn.pcap", &connection());
    let got = stdout(&ctkit(&["replay", p.to_str().unwrap(), "--no-helpers"]));
    assert_eq!(
        got,
        format!("tcp      6 120 TIME_WAIT {ORIG} {REPL} [ASSURED] mark=0 use=1\n")
    );
    // Filters select entries as in `ctkit list`.
    let got = stdout(&ctkit(&["replay", p.to_str().unwrap(), "--proto", "udp"]));
    assert_eq!(got, "");
}

#[test]
fn per_packet_shows_the_ct_state_a_rule_sees() {
    let p = tmp("conn.pcap", &connection());
    let got = stdout(&ctkit(&["replay", p.to_str().unwrap(), "--per-packet"]));
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 8, "{got}");
    assert_eq!(
        lines[0],
        "[1796640803.093712]\ttcp 192.0.2.1:40000 -> 192.0.2.2:7000 [S]\tnew original"
    );
    assert_eq!(
        lines[1],
        "[1796640803.094712]\ttcp 192.0.2.2:7000 -> 192.0.2.1:40000 [S.]\testablished reply"
    );
    assert_eq!(
        lines[2],
        "[1796640803.095712]\ttcp 192.0.2.1:40000 -> 192.0.2.2:7000 [.]\testablished original"
    );
    let j = stdout(&ctkit(&[
        "replay",
        p.to_str().unwrap(),
        "--per-packet",
        "--json",
    ]));
    let first: serde_json::Value = serde_json::from_str(j.lines().next().unwrap()).unwrap();
    assert_eq!(first["state"], "new");
    assert_eq!(first["direction"], "original");
    assert_eq!(first["flags"], "S");
    assert_eq!(first["dport"], 7000);
    assert_eq!(first["dropped"], false);
}

#[test]
fn what_if_reports_peak_drops_and_final_count_with_csv_and_svg() {
    let p = tmp("conn.pcap", &connection());
    let csv = p.with_extension("csv");
    let svg = p.with_extension("svg");
    let got = stdout(&ctkit(&[
        "replay",
        p.to_str().unwrap(),
        "--what-if",
        "--json",
        "--set",
        "nf_conntrack_max=1",
        "--csv",
        csv.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]));
    let v: serde_json::Value = serde_json::from_str(got.trim()).unwrap();
    assert_eq!(v["packets"], 8);
    assert_eq!(v["max"], 1);
    assert_eq!(v["peak"], 1);
    assert_eq!(v["peak_packet"], 1);
    assert_eq!(v["drop"], 0);
    assert_eq!(v["final"], 1);
    assert_eq!(v["by_state_at_peak"]["tcp SYN_SENT"], 1);
    let csv = std::fs::read_to_string(csv).unwrap();
    assert_eq!(csv, "seconds,entries,peak,drop,early_drop\n1.000,1,1,0,0\n");
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(
        svg.starts_with("<svg ") && svg.contains("<polyline") && svg.contains("nf_conntrack_max 1")
    );
}

#[test]
fn set_changes_the_engine_in_every_mode() {
    let p = tmp("conn.pcap", &connection());
    let got = stdout(&ctkit(&[
        "replay",
        p.to_str().unwrap(),
        "--set",
        "nf_conntrack_tcp_timeout_time_wait=60",
    ]));
    assert!(got.starts_with("tcp      6 60 TIME_WAIT "), "{got}");
    let got = stdout(&ctkit(&[
        "replay",
        p.to_str().unwrap(),
        "--events",
        "--set",
        "net.netfilter.nf_conntrack_tcp_timeout_established=3600",
    ]));
    assert!(got.contains(" 3600 ESTABLISHED "), "{got}");
}

#[test]
fn a_capture_is_a_flow_source_for_list_and_summary_also_on_stdin() {
    let p = tmp("conn.pcap", &connection());
    let got = stdout(&ctkit(&["list", "--from", p.to_str().unwrap()]));
    assert_eq!(
        got,
        format!("tcp      6 120 TIME_WAIT {ORIG} {REPL} [ASSURED] mark=0 use=1\n")
    );
    let o = Command::new(env!("CARGO_BIN_EXE_ctkit"))
        .args(["summary", "--from", "-", "--by", "state", "--json"])
        .stdin(std::fs::File::open(&p).unwrap())
        .output()
        .unwrap();
    let got = stdout(&o);
    assert!(got.contains("TIME_WAIT"), "{got}");
}

#[test]
fn bad_captures_are_errors_with_exit_1() {
    let not = tmp("not.pcap", b"hello, world\n");
    let o = ctkit(&["replay", not.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a pcap or pcapng capture"), "{err}");
    let mut cut = connection();
    cut.truncate(cut.len() - 3);
    let cut = tmp("cut.pcap", &cut);
    let o = ctkit(&["replay", cut.to_str().unwrap(), "--no-helpers"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("record 8 at byte"), "{err}");
    assert!(err.contains("truncated"), "{err}");
    // What came before the damage is still printed.
    let o = ctkit(&["replay", cut.to_str().unwrap(), "--events", "--no-helpers"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(out.lines().last().unwrap().contains(" LAST_ACK "), "{out}");
    let o = ctkit(&["replay", "/nonexistent/x.pcap"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x.pcap"));
}

#[test]
fn bad_flags_are_usage_errors_with_exit_2() {
    for args in [
        &["replay"][..],
        &["replay", "x.pcap", "--events", "--what-if"],
        &["replay", "x.pcap", "--helper", "irc=6667"],
        &["replay", "x.pcap", "--zone", "70000"],
        &["replay", "x.pcap", "--svg", "o.svg"],
        &["replay", "x.pcap", "--set", "nf_conntrack_bogus=1"],
        &["replay", "x.pcap", "--set", "nf_conntrack_tcp_loose=2"],
        &["replay", "x.pcap", "--set", "nf_conntrack_max=-1"],
        &["replay", "x.pcap", "--set", "nf_conntrack_count=5"],
    ] {
        let o = ctkit(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = ctkit(&["replay", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("usage: ctkit replay CAPTURE"));
}

/// An FTP control connection to port 21: handshake, banner, USER, then PORT announcing
/// 192.0.2.1:40000 (the helper parses a command only after a line it saw).
fn ftp_port() -> Vec<u8> {
    let (mut a, mut b) = (1000u32, 5000u32);
    let mut pkts = vec![
        tcp4(C, S, 40001, 21, a, 0, 0x02, b""),
        tcp4(S, C, 21, 40001, b, a + 1, 0x12, b""),
        tcp4(C, S, 40001, 21, a + 1, b + 1, 0x10, b""),
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
            pkts.push(tcp4(C, S, 40001, 21, a, b, 0x18, line));
            a += line.len() as u32;
        } else {
            pkts.push(tcp4(S, C, 21, 40001, b, a, 0x18, line));
            b += line.len() as u32;
        }
    }
    let mut f = Vec::new();
    write::pcap_header(&mut f, 101, false, true, 65535);
    for (i, p) in pkts.iter().enumerate() {
        write::pcap_record(&mut f, T0 + i as u64 * 1_000_000_000, p, false, true);
    }
    f
}

const EXPECT_BODY: &str = "proto=6 src=192.0.2.2 dst=192.0.2.1 sport=0 dport=40000 \
    mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 \
    master-src=192.0.2.1 master-dst=192.0.2.2 sport=40001 dport=21 class=0 helper=ftp";

#[test]
fn expect_lists_expectations_like_conntrack_l_expect_and_their_events_like_e_expect() {
    let p = tmp("ftp.pcap", &ftp_port());
    let p = p.to_str().unwrap();
    // The PORT is the last packet: the expectation has its full 300 s.
    assert_eq!(
        stdout(&ctkit(&["replay", p, "--expect"])),
        format!("300 {EXPECT_BODY}\n")
    );
    // conntrack's expectation event stamp is `[%-8ld.%-6ld]\t`.
    assert_eq!(
        stdout(&ctkit(&["replay", p, "--events", "--expect"])),
        format!("[1796640809.93712 ]\t    [NEW] 300 {EXPECT_BODY}\n")
    );
    let json = stdout(&ctkit(&["replay", p, "--expect", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).expect("one JSON line");
    assert_eq!(v["timeout"], 300);
    assert_eq!(
        v["expected"],
        serde_json::json!({"src": "192.0.2.2", "dst": "192.0.2.1", "sport": 0, "dport": 40000})
    );
    assert_eq!(v["mask"]["dport"], 65535);
    assert_eq!(v["master"]["sport"], 40001);
    assert_eq!(
        (&v["class"], &v["helper"]),
        (&serde_json::json!(0), &serde_json::json!("ftp"))
    );
    let ev = stdout(&ctkit(&["replay", p, "--events", "--expect", "--json"]));
    let e: serde_json::Value = serde_json::from_str(&ev).expect("one JSON line");
    assert_eq!(
        (&e["event"], &e["timeout"]),
        (&serde_json::json!("new"), &serde_json::json!(300))
    );
    assert_eq!(e["time"].as_f64(), Some(1796640809.093712));
    // Without the helper there is none.
    assert_eq!(
        stdout(&ctkit(&["replay", p, "--expect", "--no-helpers"])),
        ""
    );
}

#[test]
fn list_table_expect_from_a_capture_shows_the_pending_expectations_like_l_expect() {
    let p = tmp("ftp.pcap", &ftp_port());
    let path = p.to_str().unwrap();
    let o = ctkit(&["list", "--table", "expect", "--from", path]);
    assert_eq!(stdout(&o), format!("300 {EXPECT_BODY}\n"));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "conntrack v1.4.7 (ctkit 0.1.0): 1 expectations have been shown.\n"
    );
    // From standard input, stamped with the last packet's time (-o timestamp).
    let o = Command::new(env!("CARGO_BIN_EXE_ctkit"))
        .args(["list", "--table=expect", "--from", "-", "-o", "timestamp"])
        .stdin(std::fs::File::open(&p).unwrap())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&o),
        format!("[1796640809.93712 ]\t300 {EXPECT_BODY}\n")
    );
    let json = stdout(&ctkit(&[
        "list", "--table", "expect", "--from", path, "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&json).expect("one JSON line");
    assert_eq!(
        (&v["timeout"], &v["helper"]),
        (&serde_json::json!(300), &serde_json::json!("ftp"))
    );
    assert_eq!(v["expected"]["dport"], 40000);
    let xml = stdout(&ctkit(&[
        "list", "--table", "expect", "--from", path, "-o", "xml",
    ]));
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<expect>\n<flow>"),
        "{xml}"
    );
    assert!(xml.ends_with("</flow>\n</expect>\n"), "{xml}");
    // A capture without a helper-announced flow: none, and conntrack's summary says 0.
    let c = tmp("conn.pcap", &connection());
    let o = ctkit(&["list", "--table", "expect", "--from", c.to_str().unwrap()]);
    assert_eq!(stdout(&o), "");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "conntrack v1.4.7 (ctkit 0.1.0): 0 expectations have been shown.\n"
    );
}

#[test]
fn list_table_expect_from_anything_but_a_capture_is_refused() {
    let dump = tmp(
        "dump.txt",
        format!("tcp      6 120 TIME_WAIT {ORIG} {REPL} [ASSURED] mark=0 use=1\n").as_bytes(),
    );
    let o = ctkit(&[
        "list",
        "--table",
        "expect",
        "--from",
        dump.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "ctkit: list: {}: not a packet capture: saved dumps hold connections only; \
             expectations come from a capture (pcap, pcapng) or the kernel\n",
            dump.display()
        )
    );
    let ftp = tmp("ftp.pcap", &ftp_port());
    let ftp = ftp.to_str().unwrap();
    for args in [
        &["list", "--table", "expect", "--from", "proc"][..],
        &["list", "--table", "expect", "--from", ftp, "--dport", "21"],
        &["list", "--table", "dying", "--from", ftp],
    ] {
        let o = ctkit(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_capture_is_a_flow_source_for_doctor_and_top() {
    let p = tmp("conn.pcap", &connection());
    let path = p.to_str().unwrap();
    let got = stdout(&ctkit(&["doctor", "--from", path]));
    let lines: Vec<&str> = got.lines().collect();
    // A capture belongs to no namespace of this machine: none is named.
    assert_eq!(
        lines[0],
        format!("ctkit doctor: capture {path}, not sampled (totals only)")
    );
    assert_eq!(lines[1], "status: ok (exit 0)");
    assert_eq!(lines[3], "table      1 of 262144 entries (0.0 %)");
    assert_eq!(
        lines[4],
        "counters   chaintoolong 0 clash_resolve 0 drop 0 early_drop 0 insert_failed 0 invalid 0 search_restart 0"
    );
    let got = stdout(&ctkit(&["top", "-1", "--from", path]));
    assert_eq!(
        got,
        "ctkit top -- Sort by: SrcIP\n\
         Source          Destination    Prt State     TTL\n\
         192.0.2.1:40000 192.0.2.2:7000 tcp TIME_WAIT 0:02:00\n"
    );
}

/// UDP-Lite, SCTP (INIT … SHUTDOWN_COMPLETE), GRE (version 0, key 0) and protocol 253, each
/// one exchange, as tcpdump recorded them on a namespace's veth (IP packets, µs after the
/// first) while `conntrack -E -o timestamp` recorded the 6.18 kernel's events.
const PROTOCOLS: &[(u64, &str)] = &[
    (0, "450000207bf1400040883a61c0000201c0000202b5361b5a000cc9fb6c697465"),
    (147, "45000020faa140004088bbb0c0000202c00002011b5ab536000cc9fb6c697465"),
    (4431, "45000034375a400040847ee8c0000201c00002021388177000000000c3611d91010000140a0a0a0a0000ffff0001000100000001"),
    (4564, "4500003cdf8e40004084d6abc0000202c0000201177013880a0a0a0a6442f0100200001c0b0b0b0b0000ffff000100010000006400070008434f4f4b"),
    (4684, "45000028375b400040847ef3c0000201c0000202138817700b0b0b0bf0f83c860a000008434f4f4b"),
    (4742, "45000024df8f40004084d6c2c0000202c0000201177013880a0a0a0a4d5f06360b000004"),
    (4816, "45000034375c400040847ee6c0000201c0000202138817700b0b0b0bae6687f70003001400000001000000000000000064617461"),
    (4884, "45000030df9040004084d6b5c0000202c0000201177013880a0a0a0a544a741903000010000000000000ffff00000000"),
    (4925, "45000028375d400040847ef1c0000201c0000202138817700b0b0b0bb6f691dc0700000800000001"),
    (4969, "45000024df9140004084d6c0c0000202c0000201177013880a0a0a0a74d6245408000004"),
    (5050, "45000024375e400040847ef4c0000201c0000202138817700b0b0b0bdbd5602a0e000004"),
    (5158, "4500002cba814000402ffc1dc0000201c0000202000008007878787878787878787878787878787878787878"),
    (5202, "4500002c13ca4000402fa2d5c0000202c0000201000008007878787878787878787878787878787878787878"),
    (5328, "45000017b99c400040fdfc49c0000201c0000202657870"),
    (5367, "4500001700ad400040fdb539c0000202c0000201657870"),
];

const PROTOCOLS_T0: u64 = 1_796_657_365_949_841_000;

fn protocols() -> Vec<u8> {
    let mut f = Vec::new();
    write::pcap_header(&mut f, 101, false, true, 65535);
    for (us, hex) in PROTOCOLS {
        let p: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        write::pcap_record(&mut f, PROTOCOLS_T0 + us * 1000, &p, false, true);
    }
    f
}

#[test]
fn udplite_sctp_gre_and_generic_events_are_the_kernels() {
    let p = tmp("protocols.pcap", &protocols());
    let p = p.to_str().unwrap();
    // The kernel's lines but the stamps (the kernel's are its own clock, a few µs later).
    // Its UDP-Lite answer was an [UPDATE] with nf_conntrack_checksum=0 in the namespace;
    // with 1 the kernel found the answer's checksum bad (it checks UDP-Lite with UDP's
    // pseudo-header) and the entry stayed UNREPLIED.
    let u = "src=192.0.2.1 dst=192.0.2.2 sport=46390 dport=7002";
    let ur = "src=192.0.2.2 dst=192.0.2.1 sport=7002 dport=46390";
    let s = "src=192.0.2.1 dst=192.0.2.2 sport=5000 dport=6000";
    let sr = "src=192.0.2.2 dst=192.0.2.1 sport=6000 dport=5000";
    let g = "src=192.0.2.1 dst=192.0.2.2 srckey=0x0 dstkey=0x0";
    let gr = "src=192.0.2.2 dst=192.0.2.1 srckey=0x0 dstkey=0x0";
    let o = "src=192.0.2.1 dst=192.0.2.2";
    let or = "src=192.0.2.2 dst=192.0.2.1";
    let want = format!(
        "[1796657365.949841]\t    [NEW] udplite  136 30 {u} [UNREPLIED] {ur}\n\
         [1796657365.949988]\t [UPDATE] udplite  136 30 {u} {ur}\n\
         [1796657365.954272]\t    [NEW] sctp     132 10 CLOSED {s} [UNREPLIED] {sr}\n\
         [1796657365.954405]\t [UPDATE] sctp     132 3 COOKIE_WAIT {s} {sr}\n\
         [1796657365.954525]\t [UPDATE] sctp     132 3 COOKIE_ECHOED {s} {sr}\n\
         [1796657365.954583]\t [UPDATE] sctp     132 210 ESTABLISHED {s} {sr} [ASSURED]\n\
         [1796657365.954766]\t [UPDATE] sctp     132 3 SHUTDOWN_SENT {s} {sr} [ASSURED]\n\
         [1796657365.954810]\t [UPDATE] sctp     132 3 SHUTDOWN_ACK_SENT {s} {sr} [ASSURED]\n\
         [1796657365.954891]\t [UPDATE] sctp     132 10 CLOSED {s} {sr} [ASSURED]\n\
         [1796657365.954999]\t    [NEW] gre      47 30 {g} [UNREPLIED] {gr}\n\
         [1796657365.955043]\t [UPDATE] gre      47 30 {g} {gr}\n\
         [1796657365.955169]\t    [NEW] unknown  253 600 {o} [UNREPLIED] {or}\n\
         [1796657365.955208]\t [UPDATE] unknown  253 600 {o} {or}\n"
    );
    assert_eq!(stdout(&ctkit(&["replay", p, "--events"])), want);
    let states: Vec<String> = stdout(&ctkit(&["replay", p, "--per-packet"]))
        .lines()
        .map(|l| l.split('\t').nth(2).unwrap().to_string())
        .collect();
    assert_eq!(
        states,
        [
            "new original",
            "established reply",
            "new original",
            "established reply",
            "established original",
            "established reply",
            "established original",
            "established reply",
            "established original",
            "established reply",
            "established original",
            "new original",
            "established reply",
            "new original",
            "established reply",
        ]
    );
}

/// 400 unreplied UDP flows from distinct source ports, 1 ms apart.
fn udp_flood() -> Vec<u8> {
    let (a, b) = (
        "192.0.2.1".parse().unwrap(),
        "198.51.100.2".parse().unwrap(),
    );
    let mut f = Vec::new();
    write::pcap_header(&mut f, 101, false, true, 65535);
    for i in 0..400u16 {
        let p = ctkit_engine::build::udp(a, b, 10000 + i, 53, b"q");
        write::pcap_record(&mut f, T0 + u64::from(i) * 1_000_000, &p, false, true);
    }
    f
}

#[test]
fn seed_makes_early_drop_victims_repeatable() {
    let p = tmp("flood.pcap", &udp_flood());
    let table = |seed: &str| {
        stdout(&ctkit(&[
            "replay",
            p.to_str().unwrap(),
            "--set",
            "nf_conntrack_max=50",
            "--set",
            "nf_conntrack_buckets=64",
            "--seed",
            seed,
        ]))
    };
    let one = table("1");
    assert_eq!(one.lines().count(), 50, "{one}");
    // The same seed: the same victims, the same survivors, in the same order.
    assert_eq!(table("1"), one);
    // Other seeds hash the flows elsewhere: other victims survive (400 flows into 64
    // buckets: some seed among three differs).
    assert!(["2", "3", "4"].iter().any(|s| table(s) != one));
    let report = |seed: &str| {
        let j = stdout(&ctkit(&[
            "replay",
            p.to_str().unwrap(),
            "--what-if",
            "--json",
            "--set",
            "nf_conntrack_max=50",
            "--set",
            "nf_conntrack_buckets=64",
            "--seed",
            seed,
        ]));
        serde_json::from_str::<serde_json::Value>(&j).unwrap()
    };
    let r = report("1");
    assert_eq!(r, report("1"));
    assert_eq!((&r["peak"], &r["final"]), (&50.into(), &50.into()));
    // Every flow past the 50th either evicted an unreplied entry or was dropped.
    let (drop, early) = (
        r["drop"].as_u64().unwrap(),
        r["early_drop"].as_u64().unwrap(),
    );
    assert_eq!(drop + early, 350, "{r}");
    assert!(early > 0, "{r}");
}

#[test]
fn stats_and_count_from_a_capture_are_the_replays_counters_like_s_and_c() {
    // The FTP control connection (one expectation created) and a UDP datagram whose length
    // field overstates it (INVALID: udp_error's "truncated/malformed packet").
    let mut f = ftp_port();
    let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
    let mut bad = ctkit_engine::build::udp(a, b, 5000, 53, b"q");
    bad[24..26].copy_from_slice(&200u16.to_be_bytes());
    write::pcap_record(&mut f, T0 + 60_000_000_000, &bad, false, true);
    let p = tmp("stats.pcap", &f);
    let p = p.to_str().unwrap();
    assert_eq!(
        stdout(&ctkit(&["stats", "--from", p])),
        "cpu=0   \tfound=0 invalid=1 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 \
         search_restart=0 clash_resolve=0 chaintoolong=0 \n"
    );
    assert_eq!(
        stdout(&ctkit(&["stats", "--from", p, "--table", "expect"])),
        "cpu=0   \texpect_new=0 expect_create=1 expect_delete=0 \n"
    );
    let j: serde_json::Value =
        serde_json::from_str(&stdout(&ctkit(&["stats", "--from", p, "--json"]))).unwrap();
    assert_eq!(
        (&j["cpu"], &j["invalid"], &j["drop"]),
        (&0.into(), &1.into(), &0.into())
    );
    assert_eq!(stdout(&ctkit(&["count", "--from", p])), "1\n");
    assert_eq!(
        stdout(&ctkit(&["count", "--from", p, "--json"])),
        "{\"entries\":1,\"max\":262144}\n"
    );
    // count reads every source; a saved dump has no count of its own: its entries are counted.
    let dump = tmp(
        "dump.txt",
        format!("tcp      6 120 TIME_WAIT {ORIG} {REPL} [ASSURED] mark=0 use=1\n").as_bytes(),
    );
    assert_eq!(
        stdout(&ctkit(&[
            "count",
            "--from",
            dump.to_str().unwrap(),
            "--json"
        ])),
        "{\"entries\":1,\"max\":null}\n"
    );
    // stats needs per-CPU counters: a dump has none (exit 1); filters are usage errors.
    let o = ctkit(&["stats", "--from", dump.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(": not a packet capture: "));
    let o = ctkit(&["stats", "--from", p, "--proto", "tcp"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn per_packet_list_filters_select_a_flows_packets_in_both_directions() {
    // The TCP connection, then a ping and its answer.
    let mut f = connection();
    let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
    for (i, p) in [
        ctkit_engine::build::ping(a, b, 7, 1, false),
        ctkit_engine::build::ping(b, a, 7, 1, true),
    ]
    .iter()
    .enumerate()
    {
        write::pcap_record(
            &mut f,
            T0 + 9_000_000 + i as u64 * 1_000_000,
            p,
            false,
            true,
        );
    }
    let p = tmp("conn-ping.pcap", &f);
    let p = p.to_str().unwrap();
    let lines = |args: &[&str]| -> Vec<String> {
        let mut v = vec!["replay", p, "--per-packet"];
        v.extend_from_slice(args);
        stdout(&ctkit(&v)).lines().map(String::from).collect()
    };
    assert_eq!(lines(&[]).len(), 10);
    // The echo request's type selects the answer too (its entry's original type is 8).
    assert_eq!(
        lines(&["--proto", "icmp", "--icmp-type", "8"]),
        [
            "[1796640803.102712]\ticmp 192.0.2.1 -> 192.0.2.2 type=8 code=0 id=7\tnew original",
            "[1796640803.103712]\ticmp 192.0.2.2 -> 192.0.2.1 type=0 code=0 id=7\testablished reply",
        ]
    );
    // The server's port selects the replies, sent from it.
    let tcp = lines(&["--proto", "tcp", "--dport", "7000"]);
    assert_eq!(tcp.len(), 8);
    assert!(tcp[1].ends_with("[S.]\testablished reply"), "{}", tcp[1]);
    assert!(lines(&["--proto", "tcp", "--sport", "7000"]).is_empty());
    assert!(lines(&["--family", "ipv6"]).is_empty());
    // What only an entry has is refused.
    let o = ctkit(&[
        "replay",
        p,
        "--per-packet",
        "--proto",
        "tcp",
        "--state",
        "ESTABLISHED",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// `datagram` (IPv4, no options) as fragments of `size` payload bytes, identification 7.
fn fragments(datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
    let payload = &datagram[20..];
    let n = payload.len().div_ceil(size);
    (0..n)
        .map(|i| {
            let chunk = &payload[i * size..((i + 1) * size).min(payload.len())];
            let mut p = datagram[..20].to_vec();
            p.extend_from_slice(chunk);
            let fo = (i * size / 8) as u16 | if i + 1 < n { 0x2000 } else { 0 };
            p[2..4].copy_from_slice(&(20 + chunk.len() as u16).to_be_bytes());
            p[4..8].copy_from_slice(&[0, 7, (fo >> 8) as u8, fo as u8]);
            p[10..12].copy_from_slice(&[0, 0]);
            let c = csum(&p[..20], 0);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            p
        })
        .collect()
}

#[test]
fn fragments_are_reassembled_before_tracking_as_nf_defrag_does() {
    let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
    let query = ctkit_engine::build::udp(a, b, 5000, 53, &[b'q'; 3000]);
    let answer = ctkit_engine::build::udp(b, a, 53, 5000, b"answer");
    let mut pkts = fragments(&query, 1480);
    pkts.push(answer);
    let mut f = Vec::new();
    write::pcap_header(&mut f, 101, false, true, 65535);
    for (i, p) in pkts.iter().enumerate() {
        write::pcap_record(&mut f, T0 + i as u64 * 1_000_000, p, false, true);
    }
    let p = tmp("frag.pcap", &f);
    let p = p.to_str().unwrap();
    let fwd = "src=192.0.2.1 dst=192.0.2.2 sport=5000 dport=53";
    let rev = "src=192.0.2.2 dst=192.0.2.1 sport=53 dport=5000";
    // Tracked once, when the last fragment completes the datagram (no INVALID fragments).
    assert_eq!(
        stdout(&ctkit(&["replay", p, "--events"])),
        format!(
            "[1796640803.095712]\t    [NEW] udp      17 30 {fwd} [UNREPLIED] {rev}\n\
             [1796640803.096712]\t [UPDATE] udp      17 30 {fwd} {rev}\n"
        )
    );
    assert_eq!(
        stdout(&ctkit(&["replay", p, "--per-packet"])),
        "[1796640803.093712]\tudp 192.0.2.1:5000 -> 192.0.2.2:53\theld -\n\
         [1796640803.094712]\tudp 192.0.2.1 -> 192.0.2.2 fragment\theld -\n\
         [1796640803.095712]\tudp 192.0.2.1:5000 -> 192.0.2.2:53 reassembled\tnew original\n\
         [1796640803.096712]\tudp 192.0.2.2:53 -> 192.0.2.1:5000\testablished reply\n"
    );
    let j = stdout(&ctkit(&["replay", p, "--what-if", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!((&v["packets"], &v["invalid"]), (&4.into(), &0.into()));
    // The same through the capture flow source.
    assert_eq!(
        stdout(&ctkit(&["list", "--from", p])),
        format!("udp      17 30 {fwd} {rev} mark=0 use=1\n")
    );
}

/// A Linux cooked v2 frame (`tcpdump -i any`) on interface `ifindex`, sent or received.
fn sll2(l3: &[u8], ifindex: u32, outgoing: bool) -> Vec<u8> {
    let mut f = Vec::new();
    write::sll2_frame(&mut f, l3, ifindex, outgoing);
    f
}

#[test]
fn a_forwarded_packets_second_copy_in_an_any_capture_is_tracked_once() {
    // A router's `tcpdump -i any`: each packet in on one side, out (TTL - 1) on the other.
    let (a, b) = ([192, 0, 2, 2], [198, 51, 100, 2]);
    let pkts = [
        tcp4(a, b, 40000, 7000, 1000, 0, 0x02, b""),
        tcp4(b, a, 7000, 40000, 5000, 1001, 0x12, b""),
        tcp4(a, b, 40000, 7000, 1001, 5001, 0x10, b""),
        tcp4(a, b, 40000, 7000, 1001, 5001, 0x18, b"hello"),
    ];
    let mut f = Vec::new();
    write::pcap_header(&mut f, 276, false, true, 65535);
    let mut t = T0;
    for p in &pkts {
        let mut out = p.clone();
        out[8] -= 1;
        out[10..12].copy_from_slice(&[0, 0]);
        let c = csum(&out[..20], 0);
        out[10..12].copy_from_slice(&c.to_be_bytes());
        write::pcap_record(&mut f, t, &sll2(p, 2, false), false, true);
        write::pcap_record(&mut f, t + 20_000, &sll2(&out, 3, true), false, true);
        t += 1_000_000;
    }
    let p = tmp("any.pcap", &f);
    let p = p.to_str().unwrap();
    let states: Vec<String> = stdout(&ctkit(&["replay", p, "--per-packet"]))
        .lines()
        .map(|l| l.split('\t').nth(2).unwrap().to_string())
        .collect();
    assert_eq!(
        states,
        [
            "new original",
            "copy -",
            "established reply",
            "copy -",
            "established original",
            "copy -",
            "established original",
            "copy -",
        ]
    );
    // Counted once, as the kernel's accounting counts them (the last segment is not
    // acknowledged yet: nf_conntrack_tcp_timeout_unacknowledged's 300 s).
    assert_eq!(
        stdout(&ctkit(&["replay", p, "--set", "nf_conntrack_acct=1"])),
        "tcp      6 300 ESTABLISHED src=192.0.2.2 dst=198.51.100.2 sport=40000 dport=7000 \
         packets=3 bytes=125 src=198.51.100.2 dst=192.0.2.2 sport=7000 dport=40000 packets=1 \
         bytes=40 [ASSURED] mark=0 use=1\n"
    );
}
