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
    assert!(
        ev[1].starts_with("[DESTROY] tcp      6 CLOSE "),
        "{}",
        ev[1]
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
