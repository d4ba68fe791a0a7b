//! Tracker tests: fixtures in the style of smoltcp's socket tests (`established_flow()`
//! builders), named `test_<state>_<event>`.

use super::*;
use crate::build::{self, flags::*, Tcp};
use std::net::IpAddr;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_000 * SEC;

fn cli() -> IpAddr {
    "192.0.2.1".parse().unwrap()
}
fn srv() -> IpAddr {
    "198.51.100.2".parse().unwrap()
}

fn tracker() -> Tracker {
    Tracker::new(Config::kernel_defaults(), 1)
}

/// Client → server segment.
fn c2s(seq: u32, ack: u32, f: u8, payload: &[u8]) -> Vec<u8> {
    build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 40000,
            dport: 80,
            seq,
            ack,
            flags: f,
            win: 64240,
            opts: &[],
            payload,
        },
    )
}

/// Server → client segment.
fn s2c(seq: u32, ack: u32, f: u8, payload: &[u8]) -> Vec<u8> {
    build::tcp(
        srv(),
        cli(),
        &Tcp {
            sport: 80,
            dport: 40000,
            seq,
            ack,
            flags: f,
            win: 65160,
            opts: &[],
            payload,
        },
    )
}

const CISN: u32 = 1000;
const SISN: u32 = 5000;

fn line(f: &Flow) -> String {
    let mut out = Vec::new();
    ctkit_model::format::text::write_flow(&mut out, f, &Default::default());
    String::from_utf8(out).unwrap()
}

fn flows(t: &Tracker, now: u64) -> Vec<String> {
    let mut v = Vec::new();
    t.for_each_flow(now, &mut |f| v.push(line(f)));
    v
}

fn events(t: &mut Tracker) -> Vec<String> {
    let mut v = Vec::new();
    t.drain_events(&mut |e| {
        let mut out = Vec::new();
        let kind = match e.kind {
            EventKind::New => ctkit_model::format::EventKind::New,
            EventKind::Update => ctkit_model::format::EventKind::Update,
            EventKind::Destroy => ctkit_model::format::EventKind::Destroy,
        };
        let o = ctkit_model::format::text::TextOptions {
            event: Some(kind),
            ..Default::default()
        };
        ctkit_model::format::text::write_flow(&mut out, &e.flow, &o);
        v.push(String::from_utf8(out).unwrap().trim_end().to_string());
    });
    v
}

fn v(t: &mut Tracker, now: u64, p: &[u8]) -> (CtInfo, bool) {
    let r = t.process(now, 0, p);
    (r.info, r.reply)
}

/// A tracker holding one handshaken connection at T0 (events drained).
fn established_flow() -> Tracker {
    let mut t = tracker();
    v(&mut t, T0, &c2s(CISN, 0, SYN, b""));
    v(&mut t, T0, &s2c(SISN, CISN + 1, SYN | ACK, b""));
    v(&mut t, T0, &c2s(CISN + 1, SISN + 1, ACK, b""));
    t.drain_events(&mut |_| {});
    t
}

#[test]
fn test_none_syn_creates_syn_sent() {
    let mut t = tracker();
    assert_eq!(v(&mut t, T0, &c2s(CISN, 0, SYN, b"")), (CtInfo::New, false));
    assert_eq!(t.len(), 1);
    assert_eq!(
        flows(&t, T0),
        ["tcp      6 120 SYN_SENT src=192.0.2.1 dst=198.51.100.2 sport=40000 dport=80 [UNREPLIED] src=198.51.100.2 dst=192.0.2.1 sport=80 dport=40000 mark=0 use=1\n"]
    );
    assert_eq!(
        events(&mut t),
        ["    [NEW] tcp      6 120 SYN_SENT src=192.0.2.1 dst=198.51.100.2 sport=40000 dport=80 [UNREPLIED] src=198.51.100.2 dst=192.0.2.1 sport=80 dport=40000"]
    );
}

#[test]
fn test_handshake_events_and_established_assured() {
    let mut t = tracker();
    assert_eq!(v(&mut t, T0, &c2s(CISN, 0, SYN, b"")), (CtInfo::New, false));
    assert_eq!(
        v(&mut t, T0 + SEC, &s2c(SISN, CISN + 1, SYN | ACK, b"")),
        (CtInfo::Established, true)
    );
    assert_eq!(
        v(&mut t, T0 + 2 * SEC, &c2s(CISN + 1, SISN + 1, ACK, b"")),
        (CtInfo::Established, false)
    );
    assert_eq!(
        events(&mut t),
        [
            "    [NEW] tcp      6 120 SYN_SENT src=192.0.2.1 dst=198.51.100.2 sport=40000 dport=80 [UNREPLIED] src=198.51.100.2 dst=192.0.2.1 sport=80 dport=40000",
            " [UPDATE] tcp      6 60 SYN_RECV src=192.0.2.1 dst=198.51.100.2 sport=40000 dport=80 src=198.51.100.2 dst=192.0.2.1 sport=80 dport=40000",
            " [UPDATE] tcp      6 432000 ESTABLISHED src=192.0.2.1 dst=198.51.100.2 sport=40000 dport=80 src=198.51.100.2 dst=192.0.2.1 sport=80 dport=40000 [ASSURED]",
        ]
    );
    assert_eq!(
        flows(&t, T0 + 3 * SEC),
        ["tcp      6 431999 ESTABLISHED src=192.0.2.1 dst=198.51.100.2 sport=40000 dport=80 src=198.51.100.2 dst=192.0.2.1 sport=80 dport=40000 [ASSURED] mark=0 use=1\n"]
    );
}

#[test]
fn test_established_close_sequence_then_destroy_after_time_wait() {
    let mut t = established_flow();
    let c = CISN + 1;
    let s = SISN + 1;
    v(&mut t, T0, &c2s(c, s, ACK | PSH, b"GET /\r\n"));
    v(&mut t, T0, &s2c(s, c + 7, ACK | PSH, b"200 OK"));
    v(&mut t, T0, &c2s(c + 7, s + 6, ACK, b""));
    v(&mut t, T0, &c2s(c + 7, s + 6, FIN | ACK, b""));
    v(&mut t, T0, &s2c(s + 6, c + 8, ACK, b""));
    v(&mut t, T0, &s2c(s + 6, c + 8, FIN | ACK, b""));
    v(&mut t, T0, &c2s(c + 8, s + 7, ACK, b""));
    let ev = events(&mut t);
    let states: Vec<&str> = ev
        .iter()
        .map(|l| l.split_whitespace().nth(4).unwrap())
        .collect();
    assert_eq!(states, ["FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT"]);
    assert!(flows(&t, T0)[0].starts_with("tcp      6 120 TIME_WAIT "));
    t.advance(T0 + 119 * SEC);
    assert_eq!(t.len(), 1);
    t.advance(T0 + 200 * SEC);
    assert_eq!(t.len(), 0);
    let ev = events(&mut t);
    assert_eq!(ev.len(), 1);
    assert!(
        ev[0].starts_with("[DESTROY] tcp      6 TIME_WAIT src=192.0.2.1"),
        "{}",
        ev[0]
    );
}

#[test]
fn test_established_old_retransmit_is_ignored_not_invalid() {
    let mut t = established_flow();
    let c = CISN + 1;
    let s = SISN + 1;
    // 100 bytes, acked; then the same bytes again.
    let data = [b'x'; 100];
    assert_eq!(v(&mut t, T0, &c2s(c, s, ACK, &data)).0, CtInfo::Established);
    v(&mut t, T0, &s2c(s, c + 100, ACK, b""));
    assert_eq!(v(&mut t, T0, &c2s(c, s, ACK, &data)).0, CtInfo::Established);
    assert_eq!(t.stats().invalid, 0);
}

#[test]
fn test_established_seq_beyond_maxend_is_invalid() {
    let mut t = established_flow();
    let far = CISN + 1 + 10_000_000;
    assert_eq!(
        v(&mut t, T0, &c2s(far, SISN + 1, ACK, b"x")),
        (CtInfo::Invalid, false)
    );
    assert_eq!(t.stats().invalid, 1);
}

#[test]
fn test_established_ack_of_unseen_data_is_invalid() {
    let mut t = established_flow();
    assert_eq!(
        v(&mut t, T0, &c2s(CISN + 1, SISN + 100_000, ACK, b"")).0,
        CtInfo::Invalid
    );
}

#[test]
fn test_established_be_liberal_accepts_out_of_window() {
    let mut t = established_flow();
    t.set("nf_conntrack_tcp_be_liberal", "1").unwrap();
    let far = CISN + 1 + 10_000_000;
    assert_eq!(
        v(&mut t, T0, &c2s(far, SISN + 1, ACK, b"x")).0,
        CtInfo::Established
    );
}

#[test]
fn test_window_scaling_only_when_both_syns_carry_it() {
    // Client offers wscale 7, server too: a large scaled window is accepted.
    let ws = [1, 3, 3, 7];
    let mut t = tracker();
    let syn = build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 1,
            dport: 2,
            seq: 10,
            ack: 0,
            flags: SYN,
            win: 1000,
            opts: &ws,
            payload: b"",
        },
    );
    let synack = build::tcp(
        srv(),
        cli(),
        &Tcp {
            sport: 2,
            dport: 1,
            seq: 90,
            ack: 11,
            flags: SYN | ACK,
            win: 1000,
            opts: &ws,
            payload: b"",
        },
    );
    let ack = build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 1,
            dport: 2,
            seq: 11,
            ack: 91,
            flags: ACK,
            win: 1000,
            opts: &[],
            payload: b"",
        },
    );
    v(&mut t, T0, &syn);
    v(&mut t, T0, &synack);
    v(&mut t, T0, &ack);
    // Server may now send up to 1000 << 7 bytes beyond the client's ack.
    let big = build::tcp(
        srv(),
        cli(),
        &Tcp {
            sport: 2,
            dport: 1,
            seq: 91 + 100_000,
            ack: 11,
            flags: ACK,
            win: 1000,
            opts: &[],
            payload: b"x",
        },
    );
    assert_eq!(v(&mut t, T0, &big).0, CtInfo::Established);
    let mut flow = None;
    t.for_each_flow(T0, &mut |f| flow = Some(*f));
    let Some(ProtoInfo::Tcp(ti)) = flow.unwrap().protoinfo else {
        panic!()
    };
    assert_eq!((ti.wscale_orig, ti.wscale_reply), (Some(7), Some(7)));

    // Only the client offers it: no scaling either way, the same segment is out of window.
    let mut t = tracker();
    let synack = build::tcp(
        srv(),
        cli(),
        &Tcp {
            sport: 2,
            dport: 1,
            seq: 90,
            ack: 11,
            flags: SYN | ACK,
            win: 1000,
            opts: &[],
            payload: b"",
        },
    );
    v(&mut t, T0, &syn);
    v(&mut t, T0, &synack);
    v(&mut t, T0, &ack);
    assert_eq!(v(&mut t, T0, &big).0, CtInfo::Invalid);
}

#[test]
fn test_syn_sent_rst_from_server_deletes_entry() {
    let mut t = tracker();
    v(&mut t, T0, &c2s(CISN, 0, SYN, b""));
    assert_eq!(
        v(&mut t, T0, &s2c(0, CISN + 1, RST | ACK, b"")),
        (CtInfo::Established, true)
    );
    assert_eq!(t.len(), 0);
    let ev = events(&mut t);
    assert_eq!(ev.len(), 2);
    // As the kernel prints it: the timeout left (the RST does not refresh it), and no
    // SEEN_REPLY (the entry dies inside the TCP handler).
    assert_eq!(
        ev[1],
        "[DESTROY] tcp      6 120 CLOSE src=192.0.2.1 dst=198.51.100.2 sport=40000 dport=80 [UNREPLIED] src=198.51.100.2 dst=192.0.2.1 sport=80 dport=40000"
    );
}

#[test]
fn test_established_exact_rst_closes() {
    let mut t = established_flow();
    assert_eq!(
        v(&mut t, T0, &s2c(SISN + 1, 0, RST, b"")).0,
        CtInfo::Established
    );
    assert!(flows(&t, T0)[0].starts_with("tcp      6 10 CLOSE "));
}

#[test]
fn test_established_rst_before_maxack_is_invalid_unless_ignore_invalid_rst() {
    let mut t = established_flow();
    // The client acked SISN+1; an RST from the server with an older seq is invalid.
    assert_eq!(
        v(&mut t, T0, &s2c(SISN - 10, 0, RST, b"")).0,
        CtInfo::Invalid
    );
    t.set("nf_conntrack_tcp_ignore_invalid_rst", "1").unwrap();
    assert_eq!(
        v(&mut t, T0, &s2c(SISN - 10, 0, RST, b"")).0,
        CtInfo::Established
    );
}

#[test]
fn test_established_inexact_rst_keeps_state() {
    let mut t = established_flow();
    // In window but not the exact next sequence: state kept (challenge ACK expected).
    assert_eq!(
        v(&mut t, T0, &s2c(SISN + 50, 0, RST, b"")).0,
        CtInfo::Established
    );
    assert!(
        flows(&t, T0)[0].starts_with("tcp      6 10 ESTABLISHED "),
        "{:?}",
        flows(&t, T0)
    );
}

#[test]
fn test_time_wait_syn_reopens_connection() {
    let mut t = established_flow();
    let c = CISN + 1;
    let s = SISN + 1;
    v(&mut t, T0, &c2s(c, s, FIN | ACK, b""));
    v(&mut t, T0, &s2c(s, c + 1, FIN | ACK, b""));
    v(&mut t, T0, &c2s(c + 1, s + 1, ACK, b""));
    assert!(flows(&t, T0)[0].contains("TIME_WAIT"));
    t.drain_events(&mut |_| {});
    assert_eq!(
        v(&mut t, T0 + SEC, &c2s(c + 100_000, 0, SYN, b"")),
        (CtInfo::New, false)
    );
    let ev = events(&mut t);
    assert!(ev[0].starts_with("[DESTROY]"), "{ev:?}");
    assert!(
        ev[1].starts_with("    [NEW] tcp      6 120 SYN_SENT"),
        "{ev:?}"
    );
    assert_eq!(t.len(), 1);
}

#[test]
fn test_none_ack_picks_up_with_loose_capped_timeout() {
    let mut t = tracker();
    assert_eq!(
        v(&mut t, T0, &c2s(CISN, SISN, ACK, b"data")),
        (CtInfo::New, false)
    );
    assert!(
        flows(&t, T0)[0].starts_with("tcp      6 300 ESTABLISHED "),
        "{:?}",
        flows(&t, T0)
    );
    // The answer sets SEEN_REPLY (after the TCP handler ran), so the packet after it
    // assures the entry.
    assert_eq!(
        v(&mut t, T0, &s2c(SISN, CISN + 4, ACK, b"")),
        (CtInfo::Established, true)
    );
    assert!(!flows(&t, T0)[0].contains("[ASSURED]"));
    assert_eq!(
        v(&mut t, T0, &c2s(CISN + 4, SISN, ACK, b"")),
        (CtInfo::Established, false)
    );
    assert!(flows(&t, T0)[0].contains("[ASSURED]"));
}

#[test]
fn test_none_ack_without_loose_is_invalid() {
    let mut t = tracker();
    t.set("nf_conntrack_tcp_loose", "0").unwrap();
    assert_eq!(v(&mut t, T0, &c2s(CISN, SISN, ACK, b"")).0, CtInfo::Invalid);
    assert_eq!(t.len(), 0);
    assert_eq!(t.stats().invalid, 1);
}

#[test]
fn test_tcp_invalid_flags_are_invalid() {
    let mut t = tracker();
    assert_eq!(
        v(&mut t, T0, &c2s(CISN, 0, SYN | FIN, b"")).0,
        CtInfo::Invalid
    );
    assert_eq!(t.stats().invalid, 1);
    assert_eq!(t.len(), 0);
}

#[test]
fn test_udp_two_second_rule() {
    let mut t = tracker();
    let q = build::udp(cli(), srv(), 5353, 53, b"q");
    let r = build::udp(srv(), cli(), 53, 5353, b"r");
    assert_eq!(v(&mut t, T0, &q), (CtInfo::New, false));
    assert!(flows(&t, T0)[0].starts_with("udp      17 30 src="));
    assert_eq!(v(&mut t, T0 + SEC / 2, &r), (CtInfo::Established, true));
    // Replied but within 2 s: still 30 s, not assured.
    v(&mut t, T0 + SEC, &q);
    let l = &flows(&t, T0 + SEC)[0];
    assert!(
        l.starts_with("udp      17 30 src=") && !l.contains("ASSURED"),
        "{l}"
    );
    // After 2 s: stream timeout and ASSURED.
    v(&mut t, T0 + 3 * SEC, &q);
    let l = &flows(&t, T0 + 3 * SEC)[0];
    assert!(
        l.starts_with("udp      17 120 src=") && l.contains("[ASSURED]"),
        "{l}"
    );
    let ev = events(&mut t);
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert!(ev[1].starts_with(" [UPDATE] udp      17 30 src="));
    assert!(ev[2].starts_with(" [UPDATE] udp      17 120 src=") && ev[2].ends_with("[ASSURED]"));
}

#[test]
fn test_icmp_echo_request_creates_reply_established() {
    let mut t = tracker();
    assert_eq!(
        v(&mut t, T0, &build::ping(cli(), srv(), 7, 1, false)),
        (CtInfo::New, false)
    );
    assert_eq!(
        v(&mut t, T0, &build::ping(srv(), cli(), 7, 1, true)),
        (CtInfo::Established, true)
    );
    assert_eq!(
        flows(&t, T0),
        ["icmp     1 30 src=192.0.2.1 dst=198.51.100.2 type=8 code=0 id=7 src=198.51.100.2 dst=192.0.2.1 type=0 code=0 id=7 mark=0 use=1\n"]
    );
    // A reply with no request: no entry.
    assert_eq!(
        v(&mut t, T0, &build::ping(srv(), cli(), 9, 1, true)).0,
        CtInfo::Invalid
    );
    assert_eq!(t.stats().invalid, 1);
}

#[test]
fn test_icmp_error_for_tracked_flow_is_related() {
    let mut t = tracker();
    let q = build::udp(cli(), srv(), 5353, 53, b"q");
    v(&mut t, T0, &q);
    // Port unreachable from the server, quoting the query.
    let err = build::icmp(srv(), cli(), 3, 3, [0; 4], &q[..28]);
    assert_eq!(v(&mut t, T0, &err), (CtInfo::Related, true));
    // A router on the way (other source) is fine too; the destination must be the client.
    let router: IpAddr = "203.0.113.9".parse().unwrap();
    let err = build::icmp(router, cli(), 11, 0, [0; 4], &q[..28]);
    assert_eq!(v(&mut t, T0, &err), (CtInfo::Related, true));
    let err = build::icmp(router, srv(), 11, 0, [0; 4], &q[..28]);
    assert_eq!(v(&mut t, T0, &err).0, CtInfo::Invalid);
    // An error about an unknown flow, and a truncated one: `error`.
    let other = build::udp(cli(), srv(), 1, 2, b"");
    assert_eq!(
        v(
            &mut t,
            T0,
            &build::icmp(srv(), cli(), 3, 3, [0; 4], &other[..28])
        )
        .0,
        CtInfo::Invalid
    );
    assert_eq!(
        v(
            &mut t,
            T0,
            &build::icmp(srv(), cli(), 3, 3, [0; 4], &q[..10])
        )
        .0,
        CtInfo::Invalid
    );
    assert_eq!(t.stats().error, 3);
    assert_eq!(t.stats().invalid, 0);
}

#[test]
fn test_icmpv6_neighbour_discovery_is_untracked() {
    let mut t = tracker();
    let a: IpAddr = "2001:db8::1".parse().unwrap();
    let b: IpAddr = "2001:db8::2".parse().unwrap();
    assert_eq!(
        v(&mut t, T0, &build::icmp(a, b, 135, 0, [0; 4], &[0; 16])).0,
        CtInfo::Untracked
    );
    assert_eq!(
        v(&mut t, T0, &build::ping(a, b, 3, 1, false)).0,
        CtInfo::New
    );
    assert_eq!(
        v(&mut t, T0, &build::ping(b, a, 3, 1, true)),
        (CtInfo::Established, true)
    );
}

#[test]
fn test_zones_are_part_of_the_key() {
    let mut t = tracker();
    let q = build::udp(cli(), srv(), 5353, 53, b"q");
    assert_eq!(t.process(T0, 1, &q).info, CtInfo::New);
    assert_eq!(t.process(T0, 2, &q).info, CtInfo::New);
    assert_eq!(t.process(T0, 1, &q).info, CtInfo::New);
    assert_eq!(t.len(), 2);
    assert!(flows(&t, T0)[0].contains(" zone=1 "), "{:?}", flows(&t, T0));
}

#[test]
fn test_generic_protocol_600s() {
    let mut t = tracker();
    let p = build::ip(cli(), srv(), 99, vec![1, 2, 3], None, false);
    assert_eq!(v(&mut t, T0, &p).0, CtInfo::New);
    assert_eq!(
        flows(&t, T0),
        ["unknown  99 600 src=192.0.2.1 dst=198.51.100.2 [UNREPLIED] src=198.51.100.2 dst=192.0.2.1 mark=0 use=1\n"]
    );
}

#[test]
fn test_non_first_fragment_is_invalid() {
    let mut t = tracker();
    let mut p = build::udp(cli(), srv(), 1, 2, b"abcdefgh");
    p[7] = 1;
    assert_eq!(v(&mut t, T0, &p).0, CtInfo::Invalid);
    assert_eq!(t.stats().invalid, 1);
}

fn ftp_c2s(seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 40000,
            dport: 21,
            seq,
            ack,
            flags: ACK | PSH,
            win: 64240,
            opts: &[],
            payload,
        },
    )
}
fn ftp_s2c(seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    build::tcp(
        srv(),
        cli(),
        &Tcp {
            sport: 21,
            dport: 40000,
            seq,
            ack,
            flags: ACK | PSH,
            win: 64240,
            opts: &[],
            payload,
        },
    )
}

/// An FTP control connection after the banner and USER: both directions have seen a '\n'.
/// Returns the tracker and the next (client, server) sequence numbers.
fn ftp_control_flow() -> (Tracker, u32, u32) {
    let mut t = tracker();
    let syn = build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 40000,
            dport: 21,
            seq: CISN,
            ack: 0,
            flags: SYN,
            win: 64240,
            opts: &[],
            payload: b"",
        },
    );
    let synack = build::tcp(
        srv(),
        cli(),
        &Tcp {
            sport: 21,
            dport: 40000,
            seq: SISN,
            ack: CISN + 1,
            flags: SYN | ACK,
            win: 64240,
            opts: &[],
            payload: b"",
        },
    );
    v(&mut t, T0, &syn);
    v(&mut t, T0, &synack);
    let (mut c, mut s) = (CISN + 1, SISN + 1);
    let banner = b"220 hi\r\n";
    v(&mut t, T0, &ftp_s2c(s, c, banner));
    s += banner.len() as u32;
    let user = b"USER anonymous\r\n";
    v(&mut t, T0, &ftp_c2s(c, s, user));
    c += user.len() as u32;
    let ok = b"331 ok\r\n";
    v(&mut t, T0, &ftp_s2c(s, c, ok));
    s += ok.len() as u32;
    t.drain_events(&mut |_| {});
    (t, c, s)
}

#[test]
fn test_ftp_port_creates_related_data_connection() {
    let (mut t, c, s) = ftp_control_flow();
    assert_eq!(
        v(&mut t, T0, &ftp_c2s(c, s, b"PORT 192,0,2,1,156,64\r\n")).0,
        CtInfo::Established
    );
    assert_eq!(t.expect_count(), 1);
    assert_eq!(t.stats().expect_create, 1);
    // The server connects from port 20 to the announced port 40000.
    let data = build::tcp(
        srv(),
        cli(),
        &Tcp {
            sport: 20,
            dport: 40000,
            seq: 77,
            ack: 0,
            flags: SYN,
            win: 1000,
            opts: &[],
            payload: b"",
        },
    );
    assert_eq!(v(&mut t, T0, &data), (CtInfo::Related, false));
    assert_eq!(t.expect_count(), 0);
    assert_eq!(t.stats().expect_new, 1);
    let ev = events(&mut t);
    assert!(
        ev.last().unwrap().starts_with(
            "    [NEW] tcp      6 120 SYN_SENT src=198.51.100.2 dst=192.0.2.1 sport=20 dport=40000"
        ),
        "{ev:?}"
    );
    let mut related = None;
    t.for_each_flow(T0, &mut |f| {
        if f.orig.sport == 20 {
            related = Some(*f)
        }
    });
    let f = related.unwrap();
    assert!(f.status.unwrap().contains(Status::EXPECTED));
    assert_eq!(f.master.unwrap().dport, 21);
    // The control connection carries the helper, and the data connection's reference
    // (use=2, as conntrack -L shows a master with a live expected connection).
    assert!(
        flows(&t, T0)
            .iter()
            .any(|l| l.contains("dport=21 ") && l.ends_with("helper=ftp use=2\n")),
        "{:?}",
        flows(&t, T0)
    );
    // The data connection goes (RST before any reply): back to use=1.
    let rst = build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 40000,
            dport: 20,
            seq: 0,
            ack: 78,
            flags: RST | ACK,
            win: 0,
            opts: &[],
            payload: b"",
        },
    );
    v(&mut t, T0, &rst);
    assert!(
        flows(&t, T0)
            .iter()
            .any(|l| l.ends_with("helper=ftp use=1\n")),
        "{:?}",
        flows(&t, T0)
    );
}

#[test]
fn test_ftp_227_and_229_and_eprt() {
    let (mut t, c, s) = ftp_control_flow();
    let msg = b"227 Entering Passive Mode (198,51,100,2,19,137).\r\n";
    v(&mut t, T0, &ftp_s2c(s, c, msg));
    assert_eq!(t.expect_count(), 1);
    let data = build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 50000,
            dport: 19 * 256 + 137,
            seq: 1,
            ack: 0,
            flags: SYN,
            win: 1000,
            opts: &[],
            payload: b"",
        },
    );
    assert_eq!(v(&mut t, T0, &data).0, CtInfo::Related);

    let (mut t, c, s) = ftp_control_flow();
    v(
        &mut t,
        T0,
        &ftp_s2c(s, c, b"229 Entering Extended Passive Mode (|||6446|)\r\n"),
    );
    let data = build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 50001,
            dport: 6446,
            seq: 1,
            ack: 0,
            flags: SYN,
            win: 1000,
            opts: &[],
            payload: b"",
        },
    );
    assert_eq!(v(&mut t, T0, &data).0, CtInfo::Related);

    let (mut t, c, s) = ftp_control_flow();
    v(&mut t, T0, &ftp_c2s(c, s, b"EPRT |1|192.0.2.1|7000|\r\n"));
    let data = build::tcp(
        srv(),
        cli(),
        &Tcp {
            sport: 20,
            dport: 7000,
            seq: 1,
            ack: 0,
            flags: SYN,
            win: 1000,
            opts: &[],
            payload: b"",
        },
    );
    assert_eq!(v(&mut t, T0, &data).0, CtInfo::Related);
}

#[test]
fn test_ftp_port_for_another_address_creates_nothing() {
    let (mut t, c, s) = ftp_control_flow();
    v(&mut t, T0, &ftp_c2s(c, s, b"PORT 203,0,113,5,156,64\r\n"));
    assert_eq!(t.expect_count(), 0);
}

#[test]
fn test_ftp_command_not_after_newline_is_not_parsed() {
    let (mut t, c, s) = ftp_control_flow();
    // A segment that does not start right after a '\n' of this direction.
    v(&mut t, T0, &ftp_c2s(c, s, b"NOOP"));
    v(&mut t, T0, &ftp_c2s(c + 4, s, b"PORT 192,0,2,1,156,64\r\n"));
    assert_eq!(t.expect_count(), 0);
}

#[test]
fn test_ftp_partial_command_drops_packet() {
    let (mut t, c, s) = ftp_control_flow();
    let r = t.process(T0, 0, &ftp_c2s(c, s, b"PORT 192,0,2,1,15"));
    assert!(r.dropped);
    assert_eq!(t.stats().drop, 1);
}

#[test]
fn test_ftp_expectations_die_with_master() {
    let (mut t, c, s) = ftp_control_flow();
    v(&mut t, T0, &ftp_c2s(c, s, b"PORT 192,0,2,1,156,64\r\n"));
    assert_eq!(t.expect_count(), 1);
    // RST closes; the entry times out (10 s) and GC takes it with its expectation.
    let rst = build::tcp(
        srv(),
        cli(),
        &Tcp {
            sport: 21,
            dport: 40000,
            seq: s,
            ack: 0,
            flags: RST,
            win: 0,
            opts: &[],
            payload: b"",
        },
    );
    v(&mut t, T0, &rst);
    t.advance(T0 + 100 * SEC);
    assert_eq!(t.len(), 0);
    assert_eq!(t.expect_count(), 0);
}

#[test]
fn test_no_helper_when_cleared() {
    let mut cfg = Config::kernel_defaults();
    cfg.clear_helpers();
    let mut t = Tracker::new(cfg, 1);
    let syn = build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 40000,
            dport: 21,
            seq: CISN,
            ack: 0,
            flags: SYN,
            win: 64240,
            opts: &[],
            payload: b"",
        },
    );
    v(&mut t, T0, &syn);
    assert!(!flows(&t, T0)[0].contains("helper="));
}

fn udp_from(i: u32) -> Vec<u8> {
    let src = IpAddr::V4(std::net::Ipv4Addr::from(0xc000_0200 + (i % 200)));
    build::udp(src, srv(), 1024 + (i / 200) as u16, 53, b"q")
}

/// The kernel's bucket (`reciprocal_scale`) of an IPv4 tuple in `t`'s table.
fn bucket_of(t: &Tracker, src: IpAddr, dst: IpAddr, sport: u16, dport: u16, proto: u8) -> u32 {
    let a = |ip: IpAddr| match ip {
        IpAddr::V4(v) => v.octets(),
        IpAddr::V6(_) => unreachable!("IPv4 only"),
    };
    let h = t.key.hash_parts(a(src), a(dst), sport, dport, proto, 0);
    (((h >> 32) * t.d.buckets as u64) >> 32) as u32
}

/// A handshaken (ASSURED) TCP connection from `cli():sport` to `srv():80`.
fn assured_tcp(t: &mut Tracker, sport: u16) {
    let seg = |from_cli: bool, f, seq, ack| {
        let (s, d, sp, dp) = if from_cli {
            (cli(), srv(), sport, 80)
        } else {
            (srv(), cli(), 80, sport)
        };
        build::tcp(
            s,
            d,
            &Tcp {
                sport: sp,
                dport: dp,
                seq,
                ack,
                flags: f,
                win: 1000,
                opts: &[],
                payload: b"",
            },
        )
    };
    v(t, T0, &seg(true, SYN, 1, 0));
    v(t, T0, &seg(false, SYN | ACK, 9, 2));
    v(t, T0, &seg(true, ACK, 2, 10));
}

/// Model check of `early_drop` (nf_conntrack_core.c): with the table full, each new flow
/// scans its own bucket and the next 7; in the first bucket holding a node (either
/// direction) of an unassured entry, every unassured entry with a node there goes, however
/// many; ASSURED entries never; no victim in the 8 buckets → the packet is dropped. 512
/// buckets (the kernel's smallest table: `nf_conntrack_buckets=1` is rounded up to it).
#[test]
fn test_full_table_early_drops_every_unassured_entry_of_the_first_bucket_with_victims() {
    let mut cfg = Config::kernel_defaults();
    cfg.set("nf_conntrack_max", "96").unwrap();
    cfg.set("nf_conntrack_buckets", "1").unwrap();
    let mut t = Tracker::new(cfg, 7);
    assert_eq!(t.d.buckets, 512);
    // (original bucket, reply bucket, assured) of every live entry.
    let mut live: Vec<(u32, u32, bool)> = Vec::new();
    for i in 0..16u16 {
        assured_tcp(&mut t, 1000 + i);
        let (o, r) = (
            bucket_of(&t, cli(), srv(), 1000 + i, 80, 6),
            bucket_of(&t, srv(), cli(), 80, 1000 + i, 6),
        );
        live.push((o, r, true));
    }
    let udp_key = |t: &Tracker, i: u32| {
        let src = IpAddr::V4(std::net::Ipv4Addr::from(0xc000_0200 + (i % 200)));
        let sport = 1024 + (i / 200) as u16;
        (
            bucket_of(t, src, srv(), sport, 53, 17),
            bucket_of(t, srv(), src, 53, sport, 17),
        )
    };
    let (mut early, mut drops, mut multi) = (0u64, 0u64, 0);
    for i in 0..400u32 {
        let full = live.len() >= 96;
        let (o, r) = udp_key(&t, i);
        let mut victims = Vec::new();
        if full {
            for k in 0..8 {
                let b = (o + k) % 512;
                victims = (0..live.len())
                    .filter(|&j| !live[j].2 && (live[j].0 == b || live[j].1 == b))
                    .collect();
                if !victims.is_empty() {
                    break;
                }
            }
        }
        let res = t.process(T0, 0, &udp_from(i));
        if full && victims.is_empty() {
            assert!(res.dropped, "flow {i}: no victim in 8 buckets: dropped");
            drops += 1;
        } else {
            assert!(!res.dropped, "flow {i}: {} victims", victims.len());
            early += victims.len() as u64;
            multi += usize::from(victims.len() > 1);
            for j in victims.into_iter().rev() {
                live.remove(j);
            }
            live.push((o, r, false));
        }
        assert_eq!(t.len(), live.len(), "flow {i}");
        assert_eq!(
            (t.stats().early_drop, t.stats().drop),
            (early, drops),
            "flow {i}"
        );
    }
    // The run exercised all three outcomes, several victims at once included.
    assert!(
        early > 0 && drops > 0 && multi > 0,
        "{early} {drops} {multi}"
    );
    let table = flows(&t, T0);
    for i in 0..16 {
        let sport = format!("sport={} ", 1000 + i);
        assert!(
            table.iter().any(|l| l.contains(&sport)),
            "ASSURED tcp {i} kept"
        );
    }
}

#[test]
fn test_full_table_of_assured_entries_drops_packet() {
    let mut cfg = Config::kernel_defaults();
    cfg.set("nf_conntrack_max", "4").unwrap();
    let mut t = Tracker::new(cfg, 7);
    for i in 0..4u16 {
        let c2 = |f, seq, ack| {
            build::tcp(
                cli(),
                srv(),
                &Tcp {
                    sport: 1000 + i,
                    dport: 80,
                    seq,
                    ack,
                    flags: f,
                    win: 1000,
                    opts: &[],
                    payload: b"",
                },
            )
        };
        let s2 = |f, seq, ack| {
            build::tcp(
                srv(),
                cli(),
                &Tcp {
                    sport: 80,
                    dport: 1000 + i,
                    seq,
                    ack,
                    flags: f,
                    win: 1000,
                    opts: &[],
                    payload: b"",
                },
            )
        };
        v(&mut t, T0, &c2(SYN, 1, 0));
        v(&mut t, T0, &s2(SYN | ACK, 9, 2));
        v(&mut t, T0, &c2(ACK, 2, 10));
    }
    assert_eq!(t.len(), 4);
    let r = t.process(T0, 0, &udp_from(1));
    assert!(r.dropped);
    assert_eq!(r.info, CtInfo::Invalid);
    assert_eq!(t.stats().drop, 1);
    assert_eq!(t.stats().early_drop, 0);
    assert_eq!(t.len(), 4);
}

#[test]
fn test_gc_runs_first_after_one_second_then_at_the_average_timeout() {
    let mut t = tracker();
    let q = build::udp(cli(), srv(), 5353, 53, b"q");
    v(&mut t, T0, &q); // 30 s; GC first at T0+1s, then ~every 60 s (the initial bias)
    t.advance(T0 + 40 * SEC);
    // Expired at T0+30s, but the GC that ran at T0+1s scheduled its next pass ~59 s later.
    assert_eq!(t.len(), 1, "expired but not reaped yet: still counted");
    assert!(
        flows(&t, T0 + 40 * SEC).is_empty(),
        "listings skip expired entries"
    );
    t.advance(T0 + 61 * SEC);
    assert_eq!(t.len(), 0);
    let ev = events(&mut t);
    assert!(
        ev.last().unwrap().starts_with("[DESTROY] udp      17 src="),
        "{ev:?}"
    );
}

#[test]
fn test_expired_entry_is_reaped_on_lookup() {
    let mut t = tracker();
    let q = build::udp(cli(), srv(), 5353, 53, b"q");
    v(&mut t, T0, &q);
    t.drain_events(&mut |_| {});
    assert_eq!(v(&mut t, T0 + 31 * SEC, &q), (CtInfo::New, false));
    let ev = events(&mut t);
    assert_eq!(ev.len(), 2);
    assert!(
        ev[0].starts_with("[DESTROY]") && ev[1].starts_with("    [NEW]"),
        "{ev:?}"
    );
    assert_eq!(t.len(), 1);
}

fn sctp_pkt(
    src: IpAddr,
    dst: IpAddr,
    sp: u16,
    dp: u16,
    vtag: u32,
    chunk: u8,
    body: &[u8],
) -> Vec<u8> {
    let mut l4 = Vec::new();
    l4.extend_from_slice(&sp.to_be_bytes());
    l4.extend_from_slice(&dp.to_be_bytes());
    l4.extend_from_slice(&vtag.to_be_bytes());
    l4.extend_from_slice(&[0; 4]);
    let len = 4 + body.len() as u16;
    l4.extend_from_slice(&[chunk, 0]);
    l4.extend_from_slice(&len.to_be_bytes());
    l4.extend_from_slice(body);
    while l4.len() % 4 != 0 {
        l4.push(0);
    }
    build::ip(src, dst, 132, l4, None, false)
}

#[test]
fn test_sctp_handshake_reaches_established_assured() {
    let mut t = tracker();
    let (a, b) = (cli(), srv());
    let init_body = |tag: u32| {
        let mut v = tag.to_be_bytes().to_vec();
        v.extend_from_slice(&[0; 12]);
        v
    };
    assert_eq!(
        v(
            &mut t,
            T0,
            &sctp_pkt(a, b, 5000, 5001, 0, 1, &init_body(0xaaaa))
        )
        .0,
        CtInfo::New
    );
    assert!(
        flows(&t, T0)[0].starts_with("sctp     132 10 CLOSED "),
        "{:?}",
        flows(&t, T0)
    );
    assert_eq!(
        v(
            &mut t,
            T0,
            &sctp_pkt(b, a, 5001, 5000, 0xaaaa, 2, &init_body(0xbbbb))
        )
        .0,
        CtInfo::Established
    );
    assert!(
        flows(&t, T0)[0].starts_with("sctp     132 3 COOKIE_WAIT "),
        "{:?}",
        flows(&t, T0)
    );
    v(&mut t, T0, &sctp_pkt(a, b, 5000, 5001, 0xbbbb, 10, &[0; 8]));
    assert!(flows(&t, T0)[0].starts_with("sctp     132 3 COOKIE_ECHOED "));
    v(&mut t, T0, &sctp_pkt(b, a, 5001, 5000, 0xaaaa, 11, &[]));
    let l = &flows(&t, T0)[0];
    assert!(
        l.starts_with("sctp     132 210 ESTABLISHED ") && l.contains("[ASSURED]"),
        "{l}"
    );
    // Wrong verification tag on DATA: invalid.
    assert_eq!(
        v(&mut t, T0, &sctp_pkt(a, b, 5000, 5001, 0x1234, 0, &[0; 12])).0,
        CtInfo::Invalid
    );
}

#[test]
fn test_ipv6_tcp_handshake() {
    let mut t = tracker();
    let a: IpAddr = "2001:db8::1".parse().unwrap();
    let b: IpAddr = "2001:db8::2".parse().unwrap();
    let p = |s, d, sp, dp, seq, ack, f| {
        build::tcp(
            s,
            d,
            &Tcp {
                sport: sp,
                dport: dp,
                seq,
                ack,
                flags: f,
                win: 1000,
                opts: &[],
                payload: b"",
            },
        )
    };
    assert_eq!(v(&mut t, T0, &p(a, b, 1, 2, 10, 0, SYN)).0, CtInfo::New);
    assert_eq!(
        v(&mut t, T0, &p(b, a, 2, 1, 90, 11, SYN | ACK)),
        (CtInfo::Established, true)
    );
    assert_eq!(
        v(&mut t, T0, &p(a, b, 1, 2, 11, 91, ACK)).0,
        CtInfo::Established
    );
    assert_eq!(
        flows(&t, T0),
        ["tcp      6 432000 ESTABLISHED src=2001:db8::1 dst=2001:db8::2 sport=1 dport=2 src=2001:db8::2 dst=2001:db8::1 sport=2 dport=1 [ASSURED] mark=0 use=1\n"]
    );
}

#[test]
fn test_checksum_verified_only_when_enabled() {
    let mut t = tracker();
    let mut q = build::udp(cli(), srv(), 5353, 53, b"q");
    q[27] ^= 0xff; // corrupt the UDP checksum
    assert_eq!(v(&mut t, T0, &q).0, CtInfo::New);
    let mut t = tracker();
    t.set("nf_conntrack_checksum", "1").unwrap();
    assert_eq!(v(&mut t, T0, &q).0, CtInfo::Invalid);
    let good = build::udp(cli(), srv(), 5353, 53, b"q");
    assert_eq!(v(&mut t, T0, &good).0, CtInfo::New);
}

#[test]
fn test_acct_counts_packets_and_bytes() {
    let mut t = tracker();
    t.set("nf_conntrack_acct", "1").unwrap();
    let q = build::udp(cli(), srv(), 5353, 53, b"q");
    v(&mut t, T0, &q);
    v(&mut t, T0, &q);
    assert!(
        flows(&t, T0)[0].contains("packets=2 bytes=58 [UNREPLIED]"),
        "{:?}",
        flows(&t, T0)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
    #[test]
    fn test_random_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120), v6 in proptest::prelude::any::<bool>()) {
        let mut t = tracker();
        t.set("nf_conntrack_checksum", "1").unwrap();
        let mut p = data.clone();
        if let Some(b) = p.first_mut() {
            *b = (*b & 0x0f) | if v6 { 0x60 } else { 0x45 };
        }
        let _ = t.process(T0, 0, &p);
        let _ = t.process(T0, 0, &data);
        t.advance(T0 + 1000 * SEC);
    }

    #[test]
    fn test_mutated_valid_packets_never_panic(flip in proptest::collection::vec((0usize..80, proptest::prelude::any::<u8>()), 1..6), kind in 0u8..5) {
        let mut t = established_flow();
        let mut p = match kind {
            0 => c2s(CISN + 1, SISN + 1, ACK, b"data data"),
            1 => build::udp(cli(), srv(), 1, 2, b"x"),
            2 => build::icmp(srv(), cli(), 3, 3, [0; 4], &c2s(CISN + 1, SISN + 1, ACK, b"")[..28]),
            3 => sctp_pkt(cli(), srv(), 1, 2, 0, 1, &[0; 16]),
            _ => build::ping("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap(), 1, 1, false),
        };
        for (i, b) in flip {
            if i < p.len() {
                p[i] = b;
            }
        }
        let _ = t.process(T0, 0, &p);
        let mut n = 0;
        t.for_each_flow(T0, &mut |_| n += 1);
        proptest::prop_assert!(n <= t.len());
    }
}

#[test]
fn test_established_retransmissions_shrink_timeout_to_max_retrans() {
    let mut t = established_flow();
    let c = CISN + 1;
    let s = SISN + 1;
    // Unacknowledged data: UNACK (300 s) applies at once.
    let p = c2s(c, s, ACK | PSH, b"hello");
    v(&mut t, T0, &p);
    assert!(
        flows(&t, T0)[0].starts_with("tcp      6 300 ESTABLISHED"),
        "{:?}",
        flows(&t, T0)
    );
    // Acked: back to the state's timeout.
    v(&mut t, T0, &s2c(s, c + 5, ACK, b""));
    assert!(flows(&t, T0)[0].starts_with("tcp      6 432000 ESTABLISHED"));
    // Identical ACKs from one side count as retransmissions; at 3 the RETRANS cap applies.
    let dup = s2c(s, c + 5, ACK, b"");
    for _ in 0..3 {
        v(&mut t, T0, &dup);
    }
    assert!(
        flows(&t, T0)[0].starts_with("tcp      6 300 ESTABLISHED"),
        "{:?}",
        flows(&t, T0)
    );
}

#[test]
fn test_syn_sent_retransmitted_syn_keeps_timeout() {
    let mut t = tracker();
    v(&mut t, T0, &c2s(CISN, 0, SYN, b""));
    v(&mut t, T0 + 3 * SEC, &c2s(CISN, 0, SYN, b""));
    assert!(flows(&t, T0 + 3 * SEC)[0].starts_with("tcp      6 117 SYN_SENT"));
    let ev = events(&mut t);
    assert_eq!(ev.len(), 1, "no event for the retransmission: {ev:?}");
}

#[test]
fn test_syn_sent_simultaneous_open_via_syn_sent2() {
    let mut t = tracker();
    v(&mut t, T0, &c2s(CISN, 0, SYN, b""));
    // The "server" sends its own SYN: simultaneous open.
    assert_eq!(
        v(&mut t, T0, &s2c(SISN, 0, SYN, b"")),
        (CtInfo::Established, true)
    );
    assert!(
        flows(&t, T0)[0].contains(" SYN_SENT2 "),
        "{:?}",
        flows(&t, T0)
    );
    v(&mut t, T0, &c2s(CISN, SISN + 1, SYN | ACK, b""));
    assert!(
        flows(&t, T0)[0].contains(" SYN_RECV "),
        "{:?}",
        flows(&t, T0)
    );
    // The reply-direction ACK completes it.
    v(&mut t, T0, &s2c(SISN + 1, CISN + 1, ACK, b""));
    assert!(
        flows(&t, T0)[0].contains(" ESTABLISHED "),
        "{:?}",
        flows(&t, T0)
    );
}

#[test]
fn test_established_syn_is_ignored_then_synack_resyncs() {
    let mut t = established_flow();
    // The client restarts with a new ISN: IGNORE (no state change, no event).
    let new_isn = 900_000;
    assert_eq!(
        v(&mut t, T0, &c2s(new_isn, 0, SYN, b"")).0,
        CtInfo::Established
    );
    assert!(flows(&t, T0)[0].contains(" ESTABLISHED "));
    assert!(events(&mut t).is_empty());
    // The server answers it with a SYN/ACK acking it: back in sync, SYN_RECV.
    assert_eq!(
        v(&mut t, T0, &s2c(77_000, new_isn + 1, SYN | ACK, b"")),
        (CtInfo::Established, true)
    );
    assert!(
        flows(&t, T0)[0].contains(" SYN_RECV "),
        "{:?}",
        flows(&t, T0)
    );
    v(&mut t, T0, &c2s(new_isn + 1, 77_001, ACK, b""));
    assert!(flows(&t, T0)[0].contains(" ESTABLISHED "));
}

#[test]
fn test_gre_unreplied_then_stream() {
    let mut t = tracker();
    let gre = |s, d| build::ip(s, d, 47, vec![0, 0, 0x08, 0x00], None, false);
    assert_eq!(v(&mut t, T0, &gre(cli(), srv())).0, CtInfo::New);
    assert!(
        flows(&t, T0)[0].starts_with(
            "gre      47 30 src=192.0.2.1 dst=198.51.100.2 srckey=0x0 dstkey=0x0 [UNREPLIED]"
        ),
        "{:?}",
        flows(&t, T0)
    );
    assert_eq!(
        v(&mut t, T0, &gre(srv(), cli())),
        (CtInfo::Established, true)
    );
    v(&mut t, T0, &gre(cli(), srv()));
    let l = &flows(&t, T0)[0];
    assert!(
        l.starts_with("gre      47 180 ") && l.contains("[ASSURED]"),
        "{l}"
    );
}

#[test]
fn test_udplite_tracked_like_udp() {
    let mut t = tracker();
    let mut l4 = vec![0x13, 0x88, 0x00, 0x35, 0, 8, 0x12, 0x34];
    l4.extend_from_slice(b"x");
    let p = build::ip(cli(), srv(), 136, l4, None, false);
    assert_eq!(v(&mut t, T0, &p).0, CtInfo::New);
    assert!(
        flows(&t, T0)[0].starts_with("udplite  136 30 src=192.0.2.1"),
        "{:?}",
        flows(&t, T0)
    );
}

#[test]
fn test_ftp_expect_max_refuses_and_drops() {
    let mut cfg = Config::kernel_defaults();
    cfg.set("nf_conntrack_expect_max", "0").unwrap();
    let mut t = Tracker::new(cfg, 1);
    let syn = build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 40000,
            dport: 21,
            seq: CISN,
            ack: 0,
            flags: SYN,
            win: 64240,
            opts: &[],
            payload: b"",
        },
    );
    let synack = build::tcp(
        srv(),
        cli(),
        &Tcp {
            sport: 21,
            dport: 40000,
            seq: SISN,
            ack: CISN + 1,
            flags: SYN | ACK,
            win: 64240,
            opts: &[],
            payload: b"",
        },
    );
    v(&mut t, T0, &syn);
    v(&mut t, T0, &synack);
    let (mut c, s) = (CISN + 1, SISN + 1);
    v(&mut t, T0, &ftp_c2s(c, s, b"USER a\r\n"));
    c += 8;
    let r = t.process(T0, 0, &ftp_c2s(c, s, b"PORT 192,0,2,1,156,64\r\n"));
    assert!(
        r.dropped,
        "expectation table full: the kernel drops the packet"
    );
    assert_eq!(t.expect_count(), 0);
}

#[test]
fn test_timestamp_start_and_stop() {
    let mut t = tracker();
    t.set("nf_conntrack_timestamp", "1").unwrap();
    let q = build::udp(cli(), srv(), 5353, 53, b"q");
    v(&mut t, T0, &q);
    let mut ts = None;
    t.for_each_flow(T0, &mut |f| ts = f.timestamp);
    assert_eq!(ts.unwrap().start, T0);
    t.advance(T0 + 100 * SEC);
    let mut stop = None;
    t.drain_events(&mut |e| {
        if e.kind == EventKind::Destroy {
            stop = e.flow.timestamp.and_then(|t| t.stop);
        }
    });
    assert!(stop.is_some());
}

#[test]
fn test_gc_over_a_long_gap_reaps_each_entry_after_its_timeout() {
    let mut t = established_flow();
    v(&mut t, T0, &build::udp(cli(), srv(), 5353, 53, b"q"));
    t.drain_events(&mut |_| {});
    t.advance(T0 + 1000 * SEC);
    assert_eq!(
        t.len(),
        1,
        "the UDP entry (30 s) is gone, the TCP one (5 days) stays"
    );
    t.advance(T0 + 432_000 * SEC - SEC);
    assert_eq!(t.len(), 1);
    t.advance(T0 + 432_000 * SEC + 61 * SEC);
    assert_eq!(t.len(), 0);
    let ev = events(&mut t);
    assert_eq!(ev.len(), 2);
    assert!(
        ev[0].starts_with("[DESTROY] udp") && ev[1].starts_with("[DESTROY] tcp"),
        "{ev:?}"
    );
}

#[test]
fn test_clock_extremes_do_not_panic() {
    let mut t = tracker();
    let q = build::udp(cli(), srv(), 5353, 53, b"q");
    v(&mut t, u64::MAX - 5, &q);
    v(&mut t, u64::MAX, &q);
    t.advance(u64::MAX);
    v(&mut t, 0, &q); // time going backwards
    t.advance(0);
    assert!(t.len() <= 2);
}

#[test]
fn test_process_batch_gives_the_same_results_as_process() {
    let v6a: IpAddr = "2001:db8::1".parse().unwrap();
    let v6b: IpAddr = "2001:db8::2".parse().unwrap();
    let pkts: Vec<Vec<u8>> = vec![
        c2s(CISN, 0, SYN, b""),
        s2c(SISN, CISN + 1, SYN | ACK, b""),
        c2s(CISN + 1, SISN + 1, ACK, b""),
        build::udp(cli(), srv(), 1, 2, b"x"),
        build::udp(srv(), cli(), 2, 1, b"y"),
        build::ping(v6a, v6b, 5, 1, false),
        build::ping(v6b, v6a, 5, 1, true),
        vec![0x45, 0, 0],
        c2s(CISN + 1, SISN + 1, FIN | ACK, b""),
    ];
    let refs: Vec<&[u8]> = pkts.iter().map(|p| p.as_slice()).collect();
    let mut a = tracker();
    let mut b = tracker();
    let va: Vec<Verdict> = refs.iter().map(|p| a.process(T0, 0, p)).collect();
    let mut vb = vec![Verdict::of(CtInfo::Invalid, false); refs.len()];
    b.process_batch(T0, 0, &refs, &mut vb);
    assert_eq!(va, vb);
    assert_eq!(a.stats(), b.stats());
    assert_eq!(flows(&a, T0), flows(&b, T0));
    assert_eq!(events(&mut a), events(&mut b));
}

#[test]
fn test_process_batch_at_keeps_each_packets_time_and_equals_process() {
    // A handshake, 100 UDP flows over 100 ms, then a packet 100 s later: by then the
    // unreplied UDP entries (30 s) have expired, and GC (passes at most 60 s apart), run up
    // to that packet's time inside the batch, destroys them before it.
    let mut pkts: Vec<(u64, Vec<u8>)> = vec![
        (T0, c2s(CISN, 0, SYN, b"")),
        (T0 + 1_000, s2c(SISN, CISN + 1, SYN | ACK, b"")),
        (T0 + 2_000, c2s(CISN + 1, SISN + 1, ACK, b"")),
    ];
    for i in 0..100u16 {
        let at = T0 + 3_000 + i as u64 * 1_000_000;
        pkts.push((at, build::udp(cli(), srv(), 1000 + i, 53, b"q")));
    }
    pkts.push((T0 + 100 * SEC, c2s(CISN + 1, SISN + 1, FIN | ACK, b"")));
    let refs: Vec<(u64, &[u8])> = pkts.iter().map(|(t, p)| (*t, p.as_slice())).collect();
    let mut a = tracker();
    let mut b = tracker();
    let va: Vec<Verdict> = refs.iter().map(|&(t, p)| a.process(t, 0, p)).collect();
    let mut vb = vec![Verdict::of(CtInfo::Invalid, false); refs.len()];
    b.process_batch_at(0, &refs, &mut vb);
    assert_eq!(va, vb);
    assert_eq!(a.stats(), b.stats());
    let end = T0 + 100 * SEC;
    assert_eq!(flows(&a, end), flows(&b, end));
    assert_eq!(b.len(), 1, "only the TCP connection is left");
    let times = |t: &mut Tracker| {
        let mut v = Vec::new();
        t.drain_events(&mut |e| v.push((e.at, e.kind)));
        v
    };
    let (ea, eb) = (times(&mut a), times(&mut b));
    assert_eq!(ea, eb);
    // Every NEW carries its own packet's time; the 100 DESTROYs come before the FIN's UPDATE.
    assert_eq!(eb[3], (T0 + 3_000, EventKind::New));
    assert_eq!(eb[102], (T0 + 3_000 + 99_000_000, EventKind::New));
    assert_eq!(eb.last().unwrap(), &(end, EventKind::Update));
    assert_eq!(eb.iter().filter(|e| e.1 == EventKind::Destroy).count(), 100);
}

#[test]
fn test_timeouts_follow_the_sysctls_set_by_name() {
    let mut cfg = Config::kernel_defaults();
    cfg.set("net.netfilter.nf_conntrack_tcp_timeout_established", "3600")
        .unwrap();
    cfg.set("nf_conntrack_tcp_timeout_syn_sent", "5").unwrap();
    cfg.set("nf_conntrack_udp_timeout", "7").unwrap();
    cfg.set("nf_conntrack_icmp_timeout", "9").unwrap();
    cfg.set("nf_conntrack_generic_timeout", "11").unwrap();
    let mut t = Tracker::new(cfg, 1);
    v(&mut t, T0, &c2s(CISN, 0, SYN, b""));
    assert!(flows(&t, T0)[0].starts_with("tcp      6 5 SYN_SENT"));
    v(&mut t, T0, &s2c(SISN, CISN + 1, SYN | ACK, b""));
    v(&mut t, T0, &c2s(CISN + 1, SISN + 1, ACK, b""));
    assert!(flows(&t, T0)[0].starts_with("tcp      6 3600 ESTABLISHED"));
    let mut t2 = Tracker::new(t.config().clone(), 1);
    v(&mut t2, T0, &build::udp(cli(), srv(), 1, 2, b""));
    v(&mut t2, T0, &build::ping(cli(), srv(), 1, 1, false));
    v(
        &mut t2,
        T0,
        &build::ip(cli(), srv(), 99, vec![0], None, false),
    );
    let mut l = flows(&t2, T0);
    l.sort();
    assert!(l[0].starts_with("icmp     1 9 "), "{l:?}");
    assert!(l[1].starts_with("udp      17 7 "), "{l:?}");
    assert!(l[2].starts_with("unknown  99 11 "), "{l:?}");
}

/// The pending expectations as `conntrack -L expect` lines.
fn expect_lines(t: &Tracker, now: u64) -> Vec<String> {
    let mut v = Vec::new();
    t.for_each_expect(now, &mut |e| {
        let mut out = Vec::new();
        ctkit_model::format::write_expect(&mut out, e, &Default::default());
        v.push(String::from_utf8(out).unwrap());
    });
    v
}

/// The expectation events as `conntrack -E expect` lines (time left out).
fn expect_events(t: &mut Tracker) -> Vec<String> {
    let mut v = Vec::new();
    t.drain_expect_events(&mut |e| {
        let kind = match e.kind {
            EventKind::New => ctkit_model::format::EventKind::New,
            EventKind::Update => ctkit_model::format::EventKind::Update,
            EventKind::Destroy => ctkit_model::format::EventKind::Destroy,
        };
        let o = ctkit_model::format::ExpectOptions {
            event: Some(kind),
            ..Default::default()
        };
        let mut out = Vec::new();
        ctkit_model::format::write_expect(&mut out, &e.expect, &o);
        v.push(String::from_utf8(out).unwrap());
    });
    v
}

#[test]
fn test_ftp_port_expectation_is_listed_as_conntrack_l_expect_prints_it() {
    let (mut t, c, s) = ftp_control_flow();
    v(&mut t, T0, &ftp_c2s(c, s, b"PORT 192,0,2,1,156,64\r\n"));
    let body = "proto=6 src=198.51.100.2 dst=192.0.2.1 sport=0 dport=40000 \
                mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 \
                master-src=192.0.2.1 master-dst=198.51.100.2 sport=40000 dport=21 class=0 helper=ftp\n";
    assert_eq!(expect_lines(&t, T0), [format!("300 {body}")]);
    // Seconds left, as the kernel's timer shows them; gone after 300 s.
    assert_eq!(
        expect_lines(&t, T0 + 10 * SEC + TICK_NS),
        [format!("289 {body}")]
    );
    assert!(expect_lines(&t, T0 + 300 * SEC).is_empty());
    assert_eq!(
        expect_events(&mut t),
        [format!("    [NEW] 300 {body}")],
        "one NEW when the helper inserts it"
    );
}

#[test]
fn test_ftp_expectation_used_by_the_data_connection_raises_destroy() {
    let (mut t, c, s) = ftp_control_flow();
    let msg = b"227 Entering Passive Mode (198,51,100,2,19,137).\r\n";
    v(&mut t, T0, &ftp_s2c(s, c, msg));
    let data = build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 50000,
            dport: 19 * 256 + 137,
            seq: 1,
            ack: 0,
            flags: SYN,
            win: 1000,
            opts: &[],
            payload: b"",
        },
    );
    assert_eq!(v(&mut t, T0 + 2 * SEC, &data).0, CtInfo::Related);
    let body = "proto=6 src=192.0.2.1 dst=198.51.100.2 sport=0 dport=5001 \
                mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 \
                master-src=192.0.2.1 master-dst=198.51.100.2 sport=40000 dport=21 class=0 helper=ftp\n";
    assert_eq!(
        expect_events(&mut t),
        [
            format!("    [NEW] 300 {body}"),
            format!("[DESTROY] 298 {body}")
        ]
    );
    assert!(expect_lines(&t, T0 + 2 * SEC).is_empty());
    assert_eq!(t.stats().expect_delete, 1);
}

#[test]
fn test_ftp_second_port_replaces_the_first_expectation_and_master_death_removes_it() {
    let (mut t, mut c, s) = ftp_control_flow();
    let p1 = b"PORT 192,0,2,1,156,64\r\n";
    v(&mut t, T0, &ftp_c2s(c, s, p1));
    c += p1.len() as u32;
    v(&mut t, T0, &ftp_c2s(c, s, b"PORT 192,0,2,1,156,65\r\n"));
    let ev = expect_events(&mut t);
    let kinds: Vec<(&str, &str)> = ev
        .iter()
        .map(|l| {
            let k = l.split_whitespace().next().unwrap();
            let port = l
                .split_whitespace()
                .find(|w| w.starts_with("dport="))
                .unwrap();
            (k, port)
        })
        .collect();
    // max_expected 1: the older one goes (DESTROY) before the new one is announced.
    assert_eq!(
        kinds,
        [
            ("[NEW]", "dport=40000"),
            ("[DESTROY]", "dport=40000"),
            ("[NEW]", "dport=40001")
        ]
    );
    // The master's RST closes it (CLOSE, 10 s); GC reaps it and its expectation with it.
    let rst = build::tcp(
        cli(),
        srv(),
        &Tcp {
            sport: 40000,
            dport: 21,
            seq: c + 23,
            ack: s,
            flags: RST | ACK,
            win: 0,
            opts: &[],
            payload: b"",
        },
    );
    let _ = t.process(T0, 0, &rst);
    t.advance(T0 + 100 * SEC);
    assert_eq!(t.len(), 0);
    let ev = expect_events(&mut t);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(ev[0].starts_with("[DESTROY] ") && ev[0].contains("dport=40001 "));
}

#[test]
fn test_ftp_expectation_times_out_at_its_own_expiry_not_at_the_next_gc_pass() {
    let (mut t, c, s) = ftp_control_flow();
    v(&mut t, T0, &ftp_c2s(c, s, b"PORT 192,0,2,1,156,64\r\n"));
    expect_events(&mut t);
    // The next packet comes 400 s later: the expectation went at T0 + 300 s exactly.
    let late = T0 + 400 * SEC + 123;
    v(&mut t, late, &ftp_s2c(s, c, b"200 ok\r\n"));
    let mut at = Vec::new();
    t.drain_expect_events(&mut |e| at.push((e.kind, e.at, e.expect.timeout)));
    assert_eq!(at, [(EventKind::Destroy, T0 + 300 * SEC, Some(0))]);
    assert_eq!(t.expect_count(), 0);
    assert_eq!(t.stats().expect_delete, 1);
}

/// A failed early drop only flags the GC worker (`conntrack_gc_work.early_drop = true` in
/// `__nf_conntrack_alloc`); the worker keeps its schedule. Its next pass, flagged, kills
/// unassured entries while the table is at 95 % of max or more; until then new flows are
/// dropped.
#[test]
fn test_failed_early_drop_flags_the_gc_without_running_it_sooner() {
    let mut cfg = Config::kernel_defaults();
    cfg.set("nf_conntrack_max", "100").unwrap();
    cfg.set("nf_conntrack_udp_timeout", "600").unwrap();
    let mut t = Tracker::new(cfg, 7);
    // 262144 buckets: 100 entries leave the 8 scanned buckets empty (checked below).
    for i in 0..100 {
        assert!(!t.process(T0, 0, &udp_from(i)).dropped);
    }
    let ms = SEC / 1000;
    for (k, i) in (100..105).enumerate() {
        let r = t.process(T0 + k as u64 * 100 * ms, 0, &udp_from(i));
        assert!(r.dropped, "flow {i}: no victim, the GC has not run yet");
    }
    assert_eq!((t.stats().drop, t.stats().early_drop, t.len()), (5, 0, 100));
    // The worker's first pass (1 s after the first packet) evicts down to below 95.
    assert!(!t.process(T0 + 2 * SEC, 0, &udp_from(105)).dropped);
    assert_eq!(t.len(), 95);
}

#[test]
fn test_verify_checksums_off_tracks_a_bad_checksum_and_on_restores_the_config() {
    let mut bad = build::udp(cli(), srv(), 5000, 53, b"q");
    bad[26..28].copy_from_slice(&[0x12, 0x34]);
    let mut cfg = Config::kernel_defaults();
    cfg.set("nf_conntrack_checksum", "1").unwrap();
    let mut t = Tracker::new(cfg, 1);
    assert_eq!(t.process(T0, 0, &bad).info, CtInfo::Invalid);
    t.verify_checksums(false);
    assert_eq!(t.process(T0, 0, &bad).info, CtInfo::New);
    assert_eq!(t.config().get("nf_conntrack_checksum"), Some(1));
    t.verify_checksums(true);
    let mut other = build::udp(cli(), srv(), 5001, 53, b"q");
    other[26..28].copy_from_slice(&[0x12, 0x34]);
    assert_eq!(t.process(T0, 0, &other).info, CtInfo::Invalid);
    // With verification off in the configuration, `true` does not turn it on.
    let mut t = tracker();
    t.verify_checksums(true);
    assert_eq!(t.process(T0, 0, &bad).info, CtInfo::New);
}
