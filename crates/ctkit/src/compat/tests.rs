//! Parser unit tests: request contents and exact error texts. Error strings were taken from
//! oracle runs: `unshare -n /usr/sbin/conntrack ARGS` (Debian conntrack 1.4.7).

use crate::compat::error::ErrorKind;
use crate::compat::options::{CmdRow, Col, ProtoHandler};
use crate::compat::parse::{parse, ParseEnv, ParseState};
use crate::compat::request::*;
use ctkit_model::protoinfo::{
    ProtoInfo, IP_CT_TCP_FLAG_BE_LIBERAL, IP_CT_TCP_FLAG_CLOSE_INIT, IP_CT_TCP_FLAG_SACK_PERM,
};
use ctkit_model::{Family, Status};
use std::net::IpAddr;

fn env() -> ParseEnv {
    ParseEnv {
        posixly_correct: false,
        ..ParseEnv::default()
    }
}

fn argv(s: &str) -> Vec<String> {
    std::iter::once("conntrack")
        .chain(s.split_whitespace())
        .map(String::from)
        .collect()
}

fn ok(s: &str) -> CompatRequest {
    parse(argv(s), &env(), &mut ParseState::default()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> (String, ErrorKind) {
    let e = parse(argv(s), &env(), &mut ParseState::default()).expect_err(s);
    (e.message, e.kind)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn list_defaults() {
    let r = ok("-L");
    assert_eq!(r.command, Command::List);
    assert_eq!(r.table, Table::Conntrack);
    assert_eq!(r.family, AddrFamily::Unspec);
    assert_eq!(r.options, OptionSet(0));
    assert!(r.deferred_error.is_none());
}

#[test]
fn table_argument_prefixes() {
    assert_eq!(ok("-L exp").table, Table::Expect);
    assert_eq!(ok("-L d").table, Table::Dying);
    assert_eq!(ok("-L u").table, Table::Unconfirmed);
    assert_eq!(ok("-Lexpect").table, Table::Conntrack);
    assert_eq!(ok("-L expect").row, CmdRow::ExpList);
    assert_eq!(ok("-L expect").family, AddrFamily::Inet);
    assert_eq!(err("-L foo").0, "unknown type `foo'");
    assert_eq!(err("-U expect").0, "Can't do --update on expectations");
    assert_eq!(
        err("-D dying").0,
        "Can't do that command with tables `dying' and `unconfirmed'"
    );
}

#[test]
fn create_tcp_forces_liberal_flags_and_family() {
    let r = ok("-I -s 1.1.1.1 -d 2.2.2.2 -p tcp --sport 10 --dport 20 --state TIME_WAIT -u SEEN_REPLY -t 50");
    assert_eq!(r.command, Command::Create { excl: true });
    assert_eq!(r.family, AddrFamily::Inet);
    let ProtoInfo::Tcp(t) = r.ct.flow.protoinfo.unwrap() else {
        panic!("tcp protoinfo")
    };
    assert_eq!(t.state, Some(7));
    let f = IP_CT_TCP_FLAG_BE_LIBERAL | IP_CT_TCP_FLAG_SACK_PERM | IP_CT_TCP_FLAG_CLOSE_INIT;
    assert_eq!(t.flags_orig, Some((f, f)));
    assert_eq!(t.flags_reply, Some((f, f)));
    assert_eq!(r.ct.flow.timeout, Some(50));
    assert_eq!(r.ct.flow.status, Some(Status::SEEN_REPLY));
    assert_eq!((r.ct.flow.orig.sport, r.ct.flow.orig.dport), (10, 20));
    assert!(r
        .ct
        .attrs
        .has(Attrs::ORIG_SRC | Attrs::ORIG_DST | Attrs::ORIG_L4PROTO));
    assert_eq!(
        r.proto,
        Some(Protocol {
            num: 6,
            handler: ProtoHandler::Tcp
        })
    );
    assert_eq!(
        ok("-A -s 1.1.1.1 -d 2.2.2.2 -p udp --sport 1 --dport 2 -t 5").command,
        Command::Create { excl: false }
    );
}

#[test]
fn listen_is_syn_sent2_and_states_are_exact_case() {
    let r = ok("-L -p tcp --state LISTEN");
    assert_eq!(r.filter.tcp_state, Some(9));
    assert_eq!(
        err("-L -p tcp --state established").0,
        "unknown TCP state `established'"
    );
}

#[test]
fn status_parsing_prefix_negation_unreplied() {
    let r = ok("-L -u assu,seen");
    assert_eq!(
        r.status,
        Some(StatusSpec {
            value: (Status::ASSURED | Status::SEEN_REPLY).0,
            kernel_mask: (Status::ASSURED | Status::SEEN_REPLY).0
        })
    );
    let r = ok("-L -u UNREPLIED");
    assert_eq!(
        r.status,
        Some(StatusSpec {
            value: 0,
            kernel_mask: Status::SEEN_REPLY.0
        })
    );
    let r = ok("-L -u !ASSURED,EXPECTED");
    assert_eq!(
        r.status,
        Some(StatusSpec {
            value: Status::EXPECTED.0,
            kernel_mask: Status::ASSURED.0
        })
    );
    // A second -u ORs into the value but keeps the first mask.
    let r = ok("-L -u ASSURED -u SEEN_REPLY");
    assert_eq!(
        r.status,
        Some(StatusSpec {
            value: (Status::ASSURED | Status::SEEN_REPLY).0,
            kernel_mask: Status::ASSURED.0
        })
    );
    assert_eq!(err("-L -u FOO,ASSURED").0, "Bad parameter `FOO,ASSURED'");
    assert_eq!(err("-L -u ASSURED,").0, "Bad parameter `'");
    assert_eq!(err("-L -u ,").0, "Bad parameter `,'");
}

#[test]
fn src_nat_prefix_warns() {
    let mut st = ParseState::default();
    parse(argv("-L -u S"), &env(), &mut st).unwrap();
    assert_eq!(
        st.warnings,
        vec!["WARNING: ignoring SRC_NAT, use --src-nat instead\n"]
    );
}

#[test]
fn cidr_builds_mask_and_network_filter() {
    let r = ok("-L -s 192.0.2.0/24");
    assert!(r.options.has(Col::MaskSrc));
    assert_eq!(r.mask.flow.orig.src, ip("255.255.255.0"));
    assert_eq!(r.family, AddrFamily::Inet);
    let n = r.filter.src_net.unwrap();
    assert_eq!(
        (n.family, n.network, n.mask),
        (Family::Ipv4, ip("192.0.2.0"), ip("255.255.255.0"))
    );
    assert_eq!(r.filter.orig.src, None);
    let r = ok("-L -s 192.0.2.7/32");
    assert!(!r.options.has(Col::MaskSrc));
    assert_eq!(r.filter.orig.src, Some(ip("192.0.2.7")));
    assert_eq!(
        err("-L -r 1.2.3.4/3").0,
        "CIDR notation unavailable for `--reply-src'"
    );
    assert_eq!(err("-L -s 1.2.3.4/33").0, "Invalid netmask");
}

#[test]
fn inet_aton_leniency_and_family_mismatch() {
    let r = ok("-L -s 1 -d 0x7f.1");
    assert_eq!(r.ct.flow.orig.src, ip("0.0.0.1"));
    assert_eq!(r.ct.flow.orig.dst, ip("127.0.0.1"));
    assert_eq!(err("-L -s 1.2.3.4 -d ::1").0, "mismatched address family");
    assert_eq!(err("-L -f ipv6 -s 1.2.3.4").0, "mismatched address family");
    assert_eq!(ok("-L -f ipv6x").family, AddrFamily::Inet6);
    assert_eq!(err("-L -s abc").0, "Invalid IP address `abc'");
}

#[test]
fn nat_options_with_optional_address_and_port() {
    let r = ok("-L -n 192.0.2.1:80");
    assert_eq!(r.ct.snat_ip, Some(ip("192.0.2.1")));
    assert_eq!(r.ct.snat_port, Some(80));
    assert_eq!(r.filter.src_nat.unwrap().port, Some(80));
    let r = ok("-L -g [2001:db8::1]:443");
    assert_eq!(r.ct.dnat_ip, Some(ip("2001:db8::1")));
    assert_eq!(r.family, AddrFamily::Inet6);
    let r = ok("-L -n -g");
    assert!(r.options.has(Col::SrcNat) && r.options.has(Col::DstNat));
    assert_eq!(r.ct.snat_ip, None);
    let r = ok("-L -j 192.0.2.9");
    assert_eq!(
        (r.ct.snat_ip, r.ct.dnat_ip),
        (Some(ip("192.0.2.9")), Some(ip("192.0.2.9")))
    );
    // An attached value is not taken as the address (get_optional_arg quirk).
    assert_eq!(ok("-L --src-nat=192.0.2.1").ct.snat_ip, None);
    assert_eq!(
        err("-L -n 1.2.3.4/24").0,
        "CIDR notation unavailable for `--src-nat'"
    );
    assert_eq!(
        err("-L -j -n").0,
        "cannot specify `--src-nat' or `--dst-nat' with `--any-nat'"
    );
}

#[test]
fn mark_zone_and_numbers_are_c_conversions() {
    let r = ok("-L -m 0x10/0xf0");
    assert_eq!(
        r.mark,
        Some(MarkMask {
            value: 0x10,
            mask: 0xf0
        })
    );
    assert_eq!(
        ok("-U -m 5").mark,
        Some(MarkMask {
            value: 5,
            mask: u32::MAX
        })
    );
    assert_eq!(ok("-L -w abc").ct.flow.zone, Some(0));
    assert_eq!(ok("-L -w 65537").ct.flow.zone, Some(1));
    assert_eq!(ok("-D -t 12abc").ct.flow.timeout, Some(12));
}

#[test]
fn output_and_events() {
    let r = ok("-L -o ext,id,json");
    assert_eq!(
        r.output,
        OutputFlags(OutputFlags::EXTENDED | OutputFlags::ID | OutputFlags::JSON)
    );
    let e = parse(argv("-L -o save,xml"), &env(), &mut ParseState::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Other);
    assert_eq!(e.exit_code(), 1);
    let r = ok("-E -e NEW,destroy");
    assert_eq!(r.event_mask, EventMask(EventMask::NEW | EventMask::DESTROY));
    assert_eq!(r.event_mask.groups(false), vec![1, 3]);
    assert_eq!(EventMask(EventMask::ALL).groups(true), vec![4, 5, 6]);
    assert_eq!(ok("-E -b 1000").buffer_size, Some(1000));
}

#[test]
fn matrix_errors_in_column_order() {
    assert_eq!(
        err("-I").0,
        "You need to supply the `--protonum' option for this command"
    );
    assert_eq!(
        err("-I -p tcp").0,
        "You need to supply the `--timeout' option for this command"
    );
    assert_eq!(
        err("-I -p tcp -t 1").0,
        "you have to specify `--src' and `--dst'"
    );
    assert_eq!(
        err("-I -p tcp -t 1 -r 1.1.1.1").0,
        "you have to specify `--reply-src' and `--reply-dst'"
    );
    assert_eq!(err("-L -i 5").0, "Illegal option `--id' with this command");
    assert_eq!(
        err("-G -w 1 -p tcp").0,
        "Illegal option `--zone' with this command"
    );
    assert_eq!(
        err("-s 1.2.3.4").0,
        "Illegal option `--src' with this command"
    );
    assert_eq!(err("-L -L").0, "Invalid commands combination");
    let (m, k) = err("-I -p tcp -t 1 -s 1.1.1.1 -d 2.2.2.2 --reply-port-src 1");
    assert_eq!(
        m,
        "You need to supply the `--state' option for this command"
    );
    assert_eq!(k, ErrorKind::Parameter);
    assert_eq!(
        err("-G -p tcp -s 1.1.1.1 -d 2.2.2.2 --reply-port-src 1").0,
        "you have to specify `--reply-src-port' and `--reply-dst-port'"
    );
}

#[test]
fn protocol_options_only_after_p() {
    assert_eq!(err("-L --sport 1 -p tcp").0, "unknown option `--sport'");
    let r = ok("-L -p udp --sport 53");
    assert_eq!(r.filter.orig.sport, Some(53));
    assert_eq!(r.filter.orig.proto, Some(17));
    assert_eq!(ok("-L -p 6").proto.unwrap().handler, ProtoHandler::Tcp);
    assert_eq!(
        ok("-L -p igmp").proto,
        Some(Protocol {
            num: 2,
            handler: ProtoHandler::Unknown
        })
    );
    assert_eq!(err("-L -p 256").0, "`256' unsupported protocol");
}

#[test]
fn deferred_errors_for_execution_time_checks() {
    let r = ok("-L -z -s 1.2.3.4");
    assert_eq!(
        r.deferred_error.unwrap().message,
        "Can't use -z with filtering parameters"
    );
    let r = ok("-D --mask-src 255.0.0.0");
    assert_eq!(
        r.deferred_error.unwrap().message,
        "Can't use --mask-src without --src"
    );
    assert!(ok("-L dying -z").deferred_error.is_none());
}

#[test]
fn labels_need_a_map() {
    let mut st = ParseState {
        labelmap_path: "/nonexistent/connlabel.conf".into(),
        ..ParseState::default()
    };
    let e = parse(argv("-L -l foo"), &env(), &mut st).unwrap_err();
    assert_eq!(e.message, "unknown label 'foo'");
    assert_eq!(
        st.warnings,
        vec!["nfct_labelmap_new: No such file or directory\n"]
    );

    let p = std::env::temp_dir().join(format!("ctkit-parse-labels-{}", std::process::id()));
    std::fs::write(&p, "0 a\n3 b\n").unwrap();
    let mut st = ParseState {
        labelmap_path: p.clone(),
        ..ParseState::default()
    };
    let r = parse(argv("-L -l a,b"), &env(), &mut st).unwrap();
    assert_eq!(
        r.label_filter.unwrap().bits().collect::<Vec<_>>(),
        vec![0, 3]
    );
    let r = parse(argv("-U --label-del"), &env(), &mut st).unwrap();
    assert_eq!(r.label_modify, Some(LabelModify::Del(None)));
    let r = parse(
        argv(&format!("-U --labelmap {} --label-add b", p.display())),
        &env(),
        &mut ParseState::default(),
    )
    .unwrap();
    assert!(matches!(r.label_modify, Some(LabelModify::Add(l)) if l.is_set(3)));
    let e = parse(argv("-U --label-del --label-add a"), &env(), &mut st).unwrap_err();
    assert_eq!(
        e.message,
        "cannot use --label-add and --label-del at the same time"
    );
    assert_eq!(e.kind, ErrorKind::Other);
    std::fs::remove_file(&p).unwrap();
}

#[test]
fn expect_request_carries_tuple_mask_and_master() {
    let r = ok("-I expect -s 1.1.1.1 -d 2.2.2.2 -p udp -t 10 --tuple-src 3.3.3.3 --tuple-dst 4.4.4.4 --mask-src 255.255.255.255 --mask-dst 255.255.255.0 --tuple-port-dst 69 --mask-port-dst 65535 --sport 1 --dport 2 --mask-port-src 0 --tuple-port-src 5");
    let e = r.expect.unwrap();
    assert_eq!(e.master.src, ip("1.1.1.1"));
    assert_eq!(e.tuple.dst, ip("4.4.4.4"));
    assert_eq!(e.tuple.dport, 69);
    assert_eq!(e.mask.dst, ip("255.255.255.0"));
    assert_eq!(e.timeout, Some(10));
}

#[test]
fn help_with_protocol() {
    let r = ok("-h -p sctp");
    assert_eq!(r.command, Command::Help);
    assert_eq!(r.proto_help.as_ref().unwrap().0, "sctp");
    let r = ok("-h -p 200");
    assert_eq!(r.proto_help.unwrap().0, "unknown");
    assert_eq!(ok("").command, Command::Help);
}

#[test]
fn filter_from_request_matches_a_flow() {
    let r = ok("-L -p tcp --dport 80 -s 192.0.2.0/24 -m 1/1");
    let mut f = ctkit_model::Flow {
        has_orig: true,
        has_reply: true,
        mark: Some(3),
        ..Default::default()
    };
    f.orig.src = ip("192.0.2.5");
    f.orig.dst = ip("198.51.100.1");
    f.orig.proto = 6;
    f.orig.dport = 80;
    f.reply = f.orig.invert().unwrap();
    assert!(r.filter.matches(&f));
    f.orig.src = ip("192.0.3.5");
    assert!(!r.filter.matches(&f));
}

#[test]
fn any_nat_address_overwrites_the_original_source_until_a_later_ipv4_src() {
    assert!(ok("-L -j 198.51.100.2 -p tcp").filter.orig_src_unmatchable);
    assert!(
        ok("-L -s 192.0.2.2 -j 198.51.100.2")
            .filter
            .orig_src_unmatchable
    );
    assert!(
        !ok("-L -j 198.51.100.2 -s 192.0.2.2")
            .filter
            .orig_src_unmatchable
    );
    assert!(!ok("-L -j -p tcp").filter.orig_src_unmatchable);
    assert!(!ok("-L -n 198.51.100.2 -p tcp").filter.orig_src_unmatchable);
}
