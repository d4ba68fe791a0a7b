//! Parse checks shared by the cargo-fuzz target (fuzz/fuzz_targets/netlink_parse.rs includes
//! this file by path) and the stable smoke test (tests/fuzz_smoke.rs).
//!
//! Every message of a datagram goes through every parser (framing, `nlmsgerr`, flow,
//! expectation and the three stats replies): none may panic. When a flow or expectation
//! parses, it is emitted as a request and parsed again; the result must equal the part of the
//! first parse that a request can carry ([`request_view`], [`expect_request_view`]).

use ctkit_ctnetlink::attr::{AttrIter, Builder};
use ctkit_ctnetlink::conn::{parse_cpu_stats, parse_exp_cpu_stats, parse_global_stats};
use ctkit_ctnetlink::expect::{emit_expect, parse_expect};
use ctkit_ctnetlink::flow::{emit_flow, parse_flow};
use ctkit_ctnetlink::msg::MsgIter;
use ctkit_ctnetlink::uapi::{
    nfnl_type, IPCTNL_MSG_CT_NEW, IPCTNL_MSG_EXP_NEW, NFGENMSG_LEN, NFNL_SUBSYS_CTNETLINK,
    NFNL_SUBSYS_CTNETLINK_EXP, NLM_F_REQUEST,
};
use ctkit_ctnetlink::EmitExtras;
use ctkit_model::proto::{self, IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_ICMPV6};
use ctkit_model::{Expect, Flow, Status, Tuple};
use std::net::IpAddr;

/// What one datagram exercised.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// Messages framed.
    pub msgs: usize,
    /// Messages whose attributes parsed as a flow (and round-tripped).
    pub flows: usize,
    /// Messages whose attributes parsed as an expectation (and round-tripped).
    pub expects: usize,
}

/// Runs every parser over `bytes` as one received datagram.
pub fn check_datagram(bytes: &[u8]) -> Outcome {
    let mut out = Outcome::default();
    for m in MsgIter::new(bytes) {
        let Ok(m) = m else { break };
        out.msgs += 1;
        let _ = (m.kind(), m.flags(), m.seq(), m.pid());
        let _ = m.error_code();
        let _ = m.error_seq();
        let _ = m.nfgen_family();
        let _ = m.nfgen_res_id();
        let _ = parse_global_stats(&m);
        let _ = parse_cpu_stats(&m);
        let _ = parse_exp_cpu_stats(&m);
        if m.attrs().is_ok() {
            let (f, e) = check_attrs(&m.payload()[NFGENMSG_LEN..]);
            out.flows += f as usize;
            out.expects += e as usize;
        }
    }
    out
}

/// Parses `attrs` as a flow and as an expectation; round-trips what parses. Returns which
/// of the two parsed.
pub fn check_attrs(attrs: &[u8]) -> (bool, bool) {
    let mut f = Flow::default();
    let flow_ok = parse_flow(AttrIter::new(attrs), &mut f).is_ok();
    if flow_ok {
        flow_round_trip(&f);
    }
    let mut e = Expect::default();
    let exp_ok = parse_expect(AttrIter::new(attrs), &mut e).is_ok();
    if exp_ok {
        expect_round_trip(&e);
    }
    (flow_ok, exp_ok)
}

fn v6(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(a) => IpAddr::V6(a.to_ipv6_mapped()),
        a => a,
    }
}

/// What of `t` a tuple nest in a request carries: both addresses in one family (IPv6 when the
/// two differ, as `emit_tuple` sends them), the layer 4 fields that `proto` uses, the zone.
pub fn tuple_request_view(t: &Tuple) -> Tuple {
    let (src, dst) = match (t.src, t.dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => (t.src, t.dst),
        (s, d) => (v6(s), v6(d)),
    };
    let mut c = Tuple {
        src,
        dst,
        proto: t.proto,
        zone: t.zone,
        ..Tuple::default()
    };
    match t.proto {
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            c.icmp_type = t.icmp_type;
            c.icmp_code = t.icmp_code;
            c.icmp_id = t.icmp_id;
        }
        p if proto::has_ports(p) || p == IPPROTO_GRE => {
            c.sport = t.sport;
            c.dport = t.dport;
        }
        _ => {}
    }
    c
}

/// What of `f` a create request carries (`emit_flow` with `with_reply`): kernel-owned fields
/// (counters, use, id, timestamps, secctx, secmark) are dropped and status gains CONFIRMED.
pub fn request_view(f: &Flow) -> Flow {
    Flow {
        orig: if f.has_orig {
            tuple_request_view(&f.orig)
        } else {
            Tuple::default()
        },
        reply: if f.has_reply {
            tuple_request_view(&f.reply)
        } else {
            Tuple::default()
        },
        has_orig: f.has_orig,
        has_reply: f.has_reply,
        master: f.master.as_ref().map(tuple_request_view),
        status: f.status.map(|s| s | Status::CONFIRMED),
        timeout: f.timeout,
        mark: f.mark,
        zone: f.zone,
        protoinfo: f.protoinfo,
        helper: f.helper,
        labels: f.labels,
        ..Flow::default()
    }
}

/// What of `e` an `IPCTNL_MSG_EXP_NEW` request carries.
pub fn expect_request_view(e: &Expect) -> Expect {
    Expect {
        master: tuple_request_view(&e.master),
        tuple: tuple_request_view(&e.tuple),
        mask: tuple_request_view(&e.mask),
        timeout: e.timeout,
        helper: e.helper,
        zone: e.zone,
        flags: e.flags,
        class: e.class,
        ..Expect::default()
    }
}

/// Emits `f` in a full CT_NEW message, frames it back with `MsgIter` and parses it again.
pub fn flow_round_trip(f: &Flow) {
    let mut b = Builder::new();
    b.begin_msg(
        nfnl_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW),
        NLM_F_REQUEST,
        1,
        2,
        0,
    );
    let x = EmitExtras {
        with_reply: true,
        ..EmitExtras::default()
    };
    emit_flow(&mut b, f, &x);
    b.end_msg();
    let mut msgs = MsgIter::new(b.as_bytes());
    let m = msgs.next().expect("one message").expect("well framed");
    assert!(msgs.next().is_none());
    let mut g = Flow::default();
    parse_flow(m.attrs().unwrap(), &mut g).expect("emitted flow parses");
    assert_eq!(g, request_view(f), "parse(emit(f)) for f = {f:?}");
}

/// Emits `e` in a full EXP_NEW message and parses it again.
pub fn expect_round_trip(e: &Expect) {
    let mut b = Builder::new();
    b.begin_msg(
        nfnl_type(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW),
        NLM_F_REQUEST,
        1,
        2,
        0,
    );
    emit_expect(&mut b, e);
    b.end_msg();
    let m = MsgIter::new(b.as_bytes()).next().unwrap().unwrap();
    let mut g = Expect::default();
    parse_expect(m.attrs().unwrap(), &mut g).expect("emitted expectation parses");
    assert_eq!(g, expect_request_view(e), "parse(emit(e)) for e = {e:?}");
}
