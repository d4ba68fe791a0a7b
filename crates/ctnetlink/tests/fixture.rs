//! A real kernel dump reply (tests/fixtures/dump-6.18.bin, see tests/fixtures/README.md) parses
//! into the exact flows the kernel reported, and the tuples re-emit byte for byte as the kernel
//! encoded them.

use ctkit_ctnetlink::attr::Builder;
use ctkit_ctnetlink::flow::parse_flow;
use ctkit_ctnetlink::msg::MsgIter;
use ctkit_ctnetlink::tuple::emit_tuple;
use ctkit_ctnetlink::uapi::*;
use ctkit_model::{Flow, ProtoInfo, Status, TcpInfo, Tuple};

const DUMP: &[u8] = include_bytes!("fixtures/dump-6.18.bin");
/// SEEN_REPLY | ASSURED | CONFIRMED.
const STATUS: Status = Status(0x0e);

fn t(src: &str, dst: &str, proto: u8, sport: u16, dport: u16) -> Tuple {
    Tuple {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        proto,
        sport,
        dport,
        ..Tuple::default()
    }
}

fn icmp(src: &str, dst: &str, icmp_type: u8) -> Tuple {
    Tuple {
        icmp_type,
        icmp_id: 77,
        ..t(src, dst, 1, 0, 0)
    }
}

fn expected() -> [Flow; 3] {
    let base = Flow {
        has_orig: true,
        has_reply: true,
        status: Some(STATUS),
        use_count: Some(1),
        mark: Some(0),
        timeout: Some(600),
        ..Flow::default()
    };
    [
        Flow {
            orig: icmp("192.0.2.3", "198.51.100.1", 8),
            reply: icmp("198.51.100.1", "192.0.2.3", 0),
            id: Some(0xb61a_9eb3),
            ..base
        },
        Flow {
            orig: t("192.0.2.1", "198.51.100.2", 6, 40000, 443),
            reply: t("198.51.100.2", "192.0.2.1", 6, 443, 40000),
            zone: Some(7),
            mark: Some(0x2a),
            id: Some(0x1c66_343d),
            protoinfo: Some(ProtoInfo::Tcp(TcpInfo {
                state: Some(3),
                wscale_orig: Some(0),
                wscale_reply: Some(0),
                flags_orig: Some((0, 0)),
                flags_reply: Some((0, 0)),
            })),
            ..base
        },
        Flow {
            orig: t("2001:db8::1", "2001:db8::2", 17, 5353, 53),
            reply: t("2001:db8::2", "2001:db8::1", 17, 53, 5353),
            id: Some(0x0aa4_bbc3),
            timeout: Some(29),
            ..base
        },
    ]
}

#[test]
fn captured_dump_parses_into_exact_flows() {
    let mut flows = Vec::new();
    let mut kinds = Vec::new();
    for m in MsgIter::new(DUMP) {
        let m = m.unwrap();
        kinds.push((m.kind(), m.flags(), m.seq()));
        if m.kind() == nfnl_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW) {
            assert_eq!(
                m.nfgen_family().unwrap(),
                if flows.len() == 2 { 10 } else { 2 }
            );
            let mut f = Flow::default();
            parse_flow(m.attrs().unwrap(), &mut f).unwrap();
            flows.push(f);
        }
    }
    let ct_new = nfnl_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW);
    assert_eq!(
        kinds,
        vec![
            (ct_new, NLM_F_MULTI, 1),
            (ct_new, NLM_F_MULTI, 1),
            (ct_new, NLM_F_MULTI, 1),
            (NLMSG_DONE, NLM_F_MULTI, 1),
        ]
    );
    assert_eq!(flows, expected());
}

#[test]
fn captured_tuples_reemit_byte_identically() {
    let mut checked = 0;
    for m in MsgIter::new(DUMP) {
        let m = m.unwrap();
        if m.kind() == NLMSG_DONE {
            continue;
        }
        let mut f = Flow::default();
        parse_flow(m.attrs().unwrap(), &mut f).unwrap();
        let attrs = &m.payload()[NFGENMSG_LEN..];
        for a in m.attrs().unwrap() {
            let a = a.unwrap();
            let tuple = match a.kind() {
                CTA_TUPLE_ORIG => f.orig,
                CTA_TUPLE_REPLY => f.reply,
                _ => continue,
            };
            let raw = &attrs[a.offset()..a.offset() + NLA_HDRLEN + a.payload().len()];
            let mut b = Builder::new();
            emit_tuple(&mut b, a.kind(), &tuple);
            assert_eq!(b.as_bytes(), raw, "{tuple:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}
