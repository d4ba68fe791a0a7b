//! Shared proptest strategies for the dump parser tests: arbitrary flows as the kernel could
//! report them, and a label map.
#![allow(dead_code)]

pub mod fuzz_check;

use ctkit_model::flow::{Counters, HelperName, Labels, SecCtx, SeqAdj, Synproxy, Timestamp};
use ctkit_model::protoinfo::{DccpInfo, ProtoInfo, SctpInfo, TcpInfo};
use ctkit_model::{Flow, Status, Tuple};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Label map used with `-o labels`-style output.
pub const MAP: &[u8] = b"0 zero\n1 one\n5 five\n127 last\n";

fn addr(v6: bool) -> BoxedStrategy<IpAddr> {
    if v6 {
        prop_oneof![
            any::<u128>().prop_map(|x| IpAddr::V6(Ipv6Addr::from(x))),
            any::<u32>().prop_map(|x| IpAddr::V6(Ipv4Addr::from(x).to_ipv6_mapped())),
            (0u128..70000).prop_map(|x| IpAddr::V6(Ipv6Addr::from(x))),
        ]
        .boxed()
    } else {
        any::<u32>()
            .prop_map(|x| IpAddr::V4(Ipv4Addr::from(x)))
            .boxed()
    }
}

fn tuple(v6: bool, proto: u8) -> impl Strategy<Value = Tuple> {
    (
        addr(v6),
        addr(v6),
        any::<u16>(),
        any::<u16>(),
        any::<(u8, u8, u16)>(),
        proptest::option::of(any::<u16>()),
    )
        .prop_map(move |(src, dst, sport, dport, (t, c, id), zone)| {
            let mut tp = Tuple {
                src,
                dst,
                proto,
                zone,
                ..Tuple::default()
            };
            match proto {
                1 | 58 => {
                    tp.icmp_type = t;
                    tp.icmp_code = c;
                    tp.icmp_id = id;
                }
                6 | 17 | 136 | 132 | 33 | 47 => {
                    tp.sport = sport;
                    tp.dport = dport;
                }
                _ => {}
            }
            tp
        })
}

/// What a generated flow may contain.
#[derive(Clone, Copy, Debug)]
pub struct Gen {
    /// Any status bits (else only SEEN_REPLY, ASSURED, OFFLOAD, HW_OFFLOAD over CONFIRMED).
    pub any_status: bool,
    /// Reply tuple may be absent.
    pub optional_reply: bool,
    /// secctx and helper may hold any printable text, quotes and controls included.
    pub wild_strings: bool,
    /// Timestamps with arbitrary start/stop (else start 5 s, stop start + delta).
    pub any_timestamp: bool,
}

/// Arbitrary flows within `g`.
pub fn flow(g: Gen) -> impl Strategy<Value = Flow> {
    (
        any::<bool>(),
        prop_oneof![
            Just(6u8),
            Just(17),
            Just(1),
            Just(58),
            Just(132),
            Just(33),
            Just(47),
            Just(136),
            any::<u8>()
        ],
    )
        .prop_flat_map(move |(v6, p)| {
            let text = if g.wild_strings {
                "[ -~\\t\\n\"\\\\\u{1}é]{1,12}".boxed()
            } else {
                "[a-z0-9_-]{1,10}".boxed()
            };
            (
                (tuple(v6, p), tuple(v6, p), any::<bool>()),
                proptest::option::of(any::<u32>()),
                proptest::option::of(0u8..12),
                (
                    proptest::option::of(any::<(u64, u64)>()),
                    proptest::option::of(any::<(u64, u64)>()),
                ),
                (any::<bool>(), 0u8..4, any::<u32>(), any::<bool>()),
                (
                    proptest::option::of(any::<u32>()),
                    proptest::option::of(any::<u32>()),
                    proptest::option::of(any::<u16>()),
                ),
                (
                    proptest::option::of(any::<u32>()),
                    proptest::option::of(any::<u32>()),
                    proptest::option::of((
                        0u64..1_000_000,
                        any::<u64>(),
                        proptest::option::of(any::<u64>()),
                    )),
                ),
                (
                    proptest::option::of(text.clone()),
                    proptest::option::of(text),
                ),
                proptest::option::of(proptest::collection::vec(
                    prop_oneof![Just(0u32), Just(1), Just(5), Just(127), Just(3)],
                    0..4,
                )),
                (
                    proptest::option::of(any::<u32>()),
                    proptest::option::of(any::<u32>()),
                    proptest::option::of(0u8..3),
                ),
                (
                    proptest::option::of(any::<(u32, i32, i32)>()),
                    proptest::option::of(any::<(u32, i32, i32)>()),
                    proptest::option::of(any::<(u32, u32, u32)>()),
                ),
            )
                .prop_map(
                    move |(
                        (o, r, has_reply),
                        timeout,
                        state,
                        (co, cr),
                        (seen, assured, raw_status, status_present),
                        (mark, secmark, zone),
                        (usec, id, ts),
                        (helper, secctx),
                        labels,
                        (vo, vr, role),
                        (adj_o, adj_r, synproxy),
                    )| {
                        let adj = |(correction_pos, offset_before, offset_after)| SeqAdj {
                            correction_pos,
                            offset_before,
                            offset_after,
                        };
                        let status = if g.any_status {
                            Status(raw_status)
                        } else {
                            let mut s = Status::CONFIRMED;
                            if seen {
                                s |= Status::SEEN_REPLY;
                            }
                            s | [
                                Status(0),
                                Status::ASSURED,
                                Status::OFFLOAD,
                                Status::HW_OFFLOAD,
                            ][assured as usize]
                        };
                        let protoinfo = state.map(|s| s.min(9)).and_then(|s| match p {
                            6 => Some(ProtoInfo::Tcp(TcpInfo {
                                state: Some(s),
                                ..TcpInfo::default()
                            })),
                            132 => Some(ProtoInfo::Sctp(SctpInfo {
                                state: Some(s),
                                vtag_orig: vo,
                                vtag_reply: vr,
                            })),
                            33 => Some(ProtoInfo::Dccp(DccpInfo {
                                state: Some(s),
                                role: role.filter(|r| *r < 2),
                                ..DccpInfo::default()
                            })),
                            _ => None,
                        });
                        Flow {
                            orig: o,
                            reply: r,
                            has_orig: true,
                            has_reply: has_reply || !g.optional_reply,
                            status: (status_present || !g.any_status).then_some(status),
                            timeout,
                            mark,
                            secmark,
                            zone,
                            use_count: usec,
                            id,
                            counters_orig: co.map(|(packets, bytes)| Counters { packets, bytes }),
                            counters_reply: cr.map(|(packets, bytes)| Counters { packets, bytes }),
                            protoinfo,
                            helper: helper.map(|h| HelperName::new(&h)),
                            secctx: secctx.map(|s| SecCtx::new(&s)),
                            labels: labels.map(|bits| {
                                let mut l = Labels {
                                    len: 16,
                                    ..Labels::default()
                                };
                                for b in bits {
                                    l.set(b);
                                }
                                l
                            }),
                            timestamp: ts.map(|(d, start, stop)| {
                                if g.any_timestamp {
                                    Timestamp { start, stop }
                                } else {
                                    Timestamp {
                                        start: 5_000_000_000,
                                        stop: Some(5_000_000_000 + d * 1_000_000_000),
                                    }
                                }
                            }),
                            seq_adj_orig: adj_o.map(adj),
                            seq_adj_reply: adj_r.map(adj),
                            synproxy: synproxy.map(|(isn, its, tsoff)| Synproxy {
                                isn,
                                its,
                                tsoff,
                            }),
                            ..Flow::default()
                        }
                    },
                )
        })
}
