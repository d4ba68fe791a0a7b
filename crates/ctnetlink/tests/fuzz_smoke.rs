//! Stable, always-run counterpart of the cargo-fuzz target `netlink_parse`: 50,000 datagrams
//! made by mutating real messages (built with `Builder` from random flows and expectations,
//! plus the captured kernel dump) go through every parser; nothing may panic and every
//! successful parse must survive parse → emit → parse (tests/common/fuzz_check.rs).

mod common {
    pub mod fuzz_check;
}

use common::fuzz_check::{check_datagram, Outcome};
use ctkit_ctnetlink::attr::Builder;
use ctkit_ctnetlink::expect::emit_expect;
use ctkit_ctnetlink::flow::emit_flow;
use ctkit_ctnetlink::uapi::*;
use ctkit_ctnetlink::EmitExtras;
use ctkit_model::{
    DccpInfo, Expect, Flow, HelperName, Labels, ProtoInfo, SctpInfo, Status, TcpInfo, Tuple,
};
use std::net::IpAddr;

const ITERATIONS: usize = 50_000;
const DUMP: &[u8] = include_bytes!("fixtures/dump-6.18.bin");

/// xorshift64*: deterministic, so a failure reproduces from the printed iteration.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn opt<T>(&mut self, v: impl FnOnce(&mut Rng) -> T) -> Option<T> {
        (!self.chance(3)).then(|| v(self))
    }
}

fn tuple(r: &mut Rng) -> Tuple {
    let v6 = r.chance(2);
    let addr = |r: &mut Rng| -> IpAddr {
        let b = r.next().to_be_bytes();
        if v6 {
            let mut a = [0u8; 16];
            a[..8].copy_from_slice(&b);
            a[8..].copy_from_slice(&r.next().to_be_bytes());
            IpAddr::from(a)
        } else {
            IpAddr::from([b[0], b[1], b[2], b[3]])
        }
    };
    let protos = [1u8, 6, 17, 33, 47, 58, 132, 136, 2, 0, 255];
    let proto = protos[r.below(protos.len())];
    let mut t = Tuple {
        src: addr(r),
        dst: addr(r),
        proto,
        zone: r.opt(|r| r.next() as u16),
        ..Tuple::default()
    };
    match proto {
        1 | 58 => {
            t.icmp_type = r.next() as u8;
            t.icmp_code = r.next() as u8;
            t.icmp_id = r.next() as u16;
        }
        2 | 0 | 255 => {}
        _ => {
            t.sport = r.next() as u16;
            t.dport = r.next() as u16;
        }
    }
    t
}

fn flow(r: &mut Rng) -> Flow {
    let orig = tuple(r);
    let protoinfo = match r.below(4) {
        0 => Some(ProtoInfo::Tcp(TcpInfo {
            state: r.opt(|r| r.below(10) as u8),
            wscale_orig: r.opt(|r| r.next() as u8),
            wscale_reply: r.opt(|r| r.next() as u8),
            flags_orig: r.opt(|r| (r.next() as u8, r.next() as u8)),
            flags_reply: r.opt(|r| (r.next() as u8, r.next() as u8)),
        })),
        1 => Some(ProtoInfo::Sctp(SctpInfo {
            state: r.opt(|r| r.below(10) as u8),
            vtag_orig: r.opt(|r| r.next() as u32),
            vtag_reply: r.opt(|r| r.next() as u32),
        })),
        2 => Some(ProtoInfo::Dccp(DccpInfo {
            state: r.opt(|r| r.below(10) as u8),
            role: r.opt(|r| r.next() as u8),
            handshake_seq: r.opt(|r| r.next()),
        })),
        _ => None,
    };
    let helpers = ["ftp", "sip", "", "tftp", "h323-with-a-name-of-32-bytes-xx"];
    Flow {
        orig,
        reply: orig.invert().unwrap_or_else(|| tuple(r)),
        has_orig: !r.chance(8),
        has_reply: !r.chance(4),
        master: r.opt(tuple),
        status: r.opt(|r| Status(r.next() as u32)),
        timeout: r.opt(|r| r.next() as u32),
        mark: r.opt(|r| r.next() as u32),
        zone: r.opt(|r| r.next() as u16),
        protoinfo,
        helper: r.opt(|r| HelperName::new(helpers[r.below(helpers.len())])),
        labels: r.opt(|r| {
            let mut l = Labels::default();
            l.bytes[..8].copy_from_slice(&r.next().to_be_bytes());
            l.bytes[8..].copy_from_slice(&r.next().to_be_bytes());
            l.len = r.below(17) as u8;
            l
        }),
        ..Flow::default()
    }
}

fn expect(r: &mut Rng) -> Expect {
    Expect {
        master: tuple(r),
        tuple: tuple(r),
        mask: tuple(r),
        timeout: r.opt(|r| r.next() as u32),
        zone: r.opt(|r| r.next() as u16),
        flags: r.opt(|r| r.next() as u32),
        class: r.opt(|r| r.next() as u32),
        helper: r.opt(|_| HelperName::new("ftp")),
        ..Expect::default()
    }
}

/// Appends the attributes only the kernel sends (counters, use, id, timestamps, secctx).
fn kernel_only_attrs(b: &mut Builder, r: &mut Rng) {
    for kind in [CTA_COUNTERS_ORIG, CTA_COUNTERS_REPLY] {
        let n = b.begin_nest(kind);
        b.put_be64(CTA_COUNTERS_PACKETS, r.next());
        b.put_be64(CTA_COUNTERS_BYTES, r.next());
        b.end_nest(n);
    }
    b.put_be32(CTA_USE, r.next() as u32);
    b.put_be32(CTA_ID, r.next() as u32);
    b.put_be32(CTA_SECMARK, r.next() as u32);
    let n = b.begin_nest(CTA_TIMESTAMP);
    b.put_be64(CTA_TIMESTAMP_START, r.next());
    b.put_be64(CTA_TIMESTAMP_STOP, r.next());
    b.end_nest(n);
    let n = b.begin_nest(CTA_SECCTX);
    b.put_str(CTA_SECCTX_NAME, "system_u:object_r:unlabeled_t:s0");
    b.end_nest(n);
}

/// One to three well-formed messages: flows, expectations or stats replies.
fn seed(r: &mut Rng) -> Vec<u8> {
    let mut b = Builder::new();
    for _ in 0..1 + r.below(3) {
        match r.below(6) {
            0..=2 => {
                b.begin_msg(
                    nfnl_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW),
                    NLM_F_MULTI,
                    1,
                    2,
                    0,
                );
                let x = EmitExtras {
                    with_reply: true,
                    ..EmitExtras::default()
                };
                emit_flow(&mut b, &flow(r), &x);
                if r.chance(2) {
                    kernel_only_attrs(&mut b, r);
                }
            }
            3 => {
                b.begin_msg(
                    nfnl_type(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW),
                    0,
                    1,
                    2,
                    0,
                );
                emit_expect(&mut b, &expect(r));
            }
            4 => {
                b.begin_msg(
                    nfnl_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET_STATS_CPU),
                    NLM_F_MULTI,
                    1,
                    0,
                    r.below(4) as u16,
                );
                for kind in 1..=17u16 {
                    b.put_be32(kind, r.next() as u32);
                }
            }
            _ => {
                b.begin_msg(NLMSG_ERROR, 0, 1, 0, 0);
                b.put_be32(1, r.next() as u32);
            }
        }
        b.end_msg();
    }
    b.as_bytes().to_vec()
}

/// Flips, overwrites, truncates, extends or corrupts length fields.
fn mutate(r: &mut Rng, buf: &mut Vec<u8>) {
    for _ in 0..1 + r.below(4) {
        let len = buf.len();
        match r.below(7) {
            0 if len > 0 => {
                let i = r.below(len);
                buf[i] ^= 1 << r.below(8);
            }
            1 if len > 0 => {
                let i = r.below(len);
                buf[i] = r.next() as u8;
            }
            2 => buf.truncate(r.below(len + 1)),
            3 => {
                for _ in 0..r.below(16) {
                    buf.push(r.next() as u8);
                }
            }
            4 if len >= 4 => {
                // A TLV or nlmsg length field: attribute headers sit on 4-byte boundaries.
                let i = r.below(len / 4) * 4;
                let v = match r.below(3) {
                    0 => r.below(8) as u16,
                    1 => (len - i + r.below(8)) as u16,
                    _ => r.next() as u16,
                };
                buf[i..i + 2].copy_from_slice(&v.to_ne_bytes());
            }
            5 if len >= 8 => {
                // Duplicate a 4-aligned chunk in place (repeated attributes).
                let i = r.below(len / 4) * 4;
                let n = (r.below(8) * 4).min(len - i);
                let chunk = buf[i..i + n].to_vec();
                buf.splice(i..i, chunk);
            }
            _ => {}
        }
    }
}

#[test]
fn mutated_messages_never_panic_and_round_trip() {
    let mut r = Rng(0x5eed_c0de_2026_0001);
    let mut total = Outcome::default();
    for i in 0..ITERATIONS {
        let mut buf = if i % 10 == 0 {
            DUMP.to_vec()
        } else {
            seed(&mut r)
        };
        if i % 50 != 0 {
            mutate(&mut r, &mut buf);
        }
        let o = std::panic::catch_unwind(|| check_datagram(&buf)).unwrap_or_else(|_| {
            panic!("iteration {i}: panic on {buf:02x?}");
        });
        total.msgs += o.msgs;
        total.flows += o.flows;
        total.expects += o.expects;
    }
    // The generator must keep reaching the parsers, not just the framing checks.
    assert!(total.msgs > ITERATIONS, "{total:?}");
    assert!(total.flows > ITERATIONS / 2, "{total:?}");
    assert!(total.expects > ITERATIONS / 10, "{total:?}");
}

#[test]
fn unmutated_seeds_all_parse_and_round_trip() {
    let mut r = Rng(7);
    for _ in 0..2_000 {
        let buf = seed(&mut r);
        let o = check_datagram(&buf);
        assert!(o.msgs >= 1);
    }
    let o = check_datagram(DUMP);
    assert_eq!((o.msgs, o.flows), (4, 4));
}
