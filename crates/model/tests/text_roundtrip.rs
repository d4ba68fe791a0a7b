//! Parser tests: arbitrary flow → default/extended line → parse → line is identical; real
//! oracle and /proc lines parse; malformed lines give typed errors, never panics.

use ctkit_model::flow::Counters;
use ctkit_model::format::{write_flow, EventKind, TextOptions, Userspace};
use ctkit_model::text::{parse_flow_line, parse_proc_line, ParseError, ParseErrorKind};
use ctkit_model::{Flow, LabelMap, Status};
use proptest::prelude::*;
use std::net::IpAddr;

mod common;

use common::{Gen, MAP};

/// Flows as the kernel reports them (the shared strategy of the dump parser tests, kept to
/// what the default and extended text formats carry: common status bits, a reply tuple,
/// plain helper/secctx names, kernel-like timestamps).
fn flow() -> impl Strategy<Value = Flow> {
    common::flow(Gen {
        any_status: false,
        optional_reply: false,
        wild_strings: false,
        any_timestamp: false,
    })
}

fn print(f: &Flow, o: &TextOptions<'_>) -> String {
    let mut v = Vec::new();
    write_flow(&mut v, f, o);
    String::from_utf8(v).unwrap()
}

proptest! {
    #[test]
    fn flow_text_parse_text_is_identical(f in flow(), ext in any::<bool>(), id in any::<bool>(), ev in 0u8..4) {
        let map = LabelMap::parse(MAP).unwrap();
        let event = [None, Some(EventKind::New), Some(EventKind::Update), Some(EventKind::Destroy)][ev as usize];
        let o = TextOptions { extended: ext, id, event, labelmap: Some(&map), now: 1000, ..TextOptions::default() };
        let line = print(&f, &o);
        let parsed = parse_flow_line(&line, Some(&map)).map_err(|e| TestCaseError::fail(format!("{e} in {line:?}")))?;
        prop_assert_eq!(parsed.event, event);
        prop_assert_eq!(parsed.extended, ext);
        prop_assert_eq!(print(&parsed.flow, &o), line);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = parse_flow_line(&s, None);
        let _ = parse_proc_line(&s);
    }

    #[test]
    fn truncated_lines_error_without_panic(f in flow(), cut in 0usize..400) {
        let line = print(&f, &TextOptions::default());
        let mut cut = cut.min(line.len());
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = parse_flow_line(&line[..cut], None);
    }
}

#[test]
fn parses_oracle_lines() {
    // conntrack -E -o extended,id,ktimestamp (DESTROY from conntrack -D)
    let l = "[DESTROY] ipv4     2 udp      17 49 src=192.0.2.3 dst=192.0.2.4 sport=1 dport=2 [UNREPLIED] src=192.0.2.4 dst=192.0.2.3 sport=2 dport=1 delta-time=0 [start=Sat Nov 28 16:27:49 2026] [stop=Sat Nov 28 16:27:49 2026] id=1880758225 [USERSPACE] portid=2822691628 progname=conntrack\n";
    let p = parse_flow_line(l, None).unwrap();
    assert_eq!(p.event, Some(EventKind::Destroy));
    assert_eq!(p.userspace_portid, Some(2822691628));
    assert_eq!(p.flow.id, Some(1880758225));
    assert_eq!(p.flow.timestamp.unwrap().start, 1_795_883_269_000_000_000);
    assert_eq!(p.flow.timeout, Some(49));
    let o = TextOptions {
        event: Some(EventKind::Destroy),
        extended: true,
        id: true,
        ktimestamp: true,
        userspace: Some(Userspace {
            portid: 2822691628,
            progname: Some("conntrack"),
        }),
        ..TextOptions::default()
    };
    assert_eq!(print(&p.flow, &o), l);
}

#[test]
fn parses_proc_line() {
    // cat /proc/net/nf_conntrack (kernel 6.18, acct and timestamps on)
    let l = "ipv6     10 udp      17 29 src=2001:0db8:0000:0000:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:0001 sport=40001 dport=7000 packets=1 bytes=54 [UNREPLIED] src=2001:0db8:0000:0000:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:0001 sport=7001 dport=40001 packets=0 bytes=0 mark=0 zone=0 delta-time=0 use=2\n";
    let p = parse_proc_line(l).unwrap();
    assert_eq!(p.flow.orig.src, "2001:db8::1".parse::<IpAddr>().unwrap());
    assert_eq!(p.flow.reply.sport, 7001);
    assert_eq!(
        p.flow.counters_orig,
        Some(Counters {
            packets: 1,
            bytes: 54
        })
    );
    assert_eq!(p.flow.zone, Some(0));
    assert_eq!(p.flow.use_count, Some(2));
    assert_eq!(p.flow.status, Some(Status(0)));
    // A default-format line is not a /proc line.
    let e =
        parse_proc_line("udp      17 29 src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2").unwrap_err();
    assert_eq!(
        (e.field, e.column, e.kind),
        ("l3proto", 1, ParseErrorKind::UnknownProto)
    );
}

fn err(l: &str) -> ParseError {
    parse_flow_line(l, None).unwrap_err()
}

#[test]
fn malformed_lines_name_field_and_column() {
    let e = err("");
    assert_eq!(
        (e.field, e.column, e.kind),
        ("proto", 1, ParseErrorKind::Missing)
    );
    let e = err("tcp      6 99 ESTABLISHED src=192.0.2.1 dst=192.0.2.999 sport=1 dport=2");
    assert_eq!(
        (e.field, e.column, e.kind),
        ("dst", 41, ParseErrorKind::BadAddress)
    );
    let e = err("tcp      6 99 BOGUS src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2");
    assert_eq!(
        (e.field, e.column, e.kind),
        ("state", 15, ParseErrorKind::UnknownState)
    );
    let e = err("udp      6 99 src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2");
    assert_eq!((e.field, e.kind), ("proto", ParseErrorKind::ProtoMismatch));
    let e = err("udp      17 99 src=192.0.2.1 dst=192.0.2.2 sport=70000 dport=2");
    assert_eq!(
        (e.field, e.column, e.kind),
        ("sport", 44, ParseErrorKind::BadNumber)
    );
    let e = err("udp      17 99 src=192.0.2.1 dst=2001:db8::1 sport=1 dport=2");
    assert_eq!((e.field, e.kind), ("dst", ParseErrorKind::FamilyMismatch));
    let e = err("udp      17 99 src=192.0.2.1 dst=192.0.2.2 sport=1");
    assert_eq!(
        (e.field, e.column, e.kind),
        ("dport", 51, ParseErrorKind::Missing)
    );
    let e = err("gre      47 29 src=192.0.2.13 dst=192.0.2.14 srckey=1234 dstkey=0xab");
    assert_eq!((e.field, e.kind), ("srckey", ParseErrorKind::BadNumber));
    let e = err("udp      17 src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2 mark=x");
    assert_eq!((e.field, e.kind), ("mark", ParseErrorKind::BadNumber));
    let e = err("udp      17 src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2 what");
    assert_eq!((e.field, e.kind), ("attribute", ParseErrorKind::Unexpected));
    let e = err("udp      17 src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2 labels=one");
    assert_eq!((e.field, e.kind), ("labels", ParseErrorKind::UnknownLabel));
    let e = err(
        "udp      17 src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2 [start=Sat Nov 99 16:27:49 2026]",
    );
    assert_eq!((e.field, e.kind), ("start", ParseErrorKind::BadDate));
    let e = err("frob     17 src=192.0.2.1 dst=192.0.2.2");
    assert_eq!((e.field, e.kind), ("proto", ParseErrorKind::UnknownProto));
    assert_eq!(
        e.to_string(),
        "unknown protocol name in field `proto` at column 1"
    );
}
