//! CT messages ⇄ [`Flow`]: parse every `CTA_*` of an `IPCTNL_MSG_CT_*` message in place into a
//! reused `Flow`, and emit a `Flow` as request attributes
//! (include/uapi/linux/netfilter/nfnetlink_conntrack.h; net/netfilter/nf_conntrack_netlink.c).

use crate::attr::{Attr, AttrIter, Builder};
use crate::error::{at, Result};
use crate::tuple::{emit_tuple, parse_tuple};
use crate::uapi::*;
use ctkit_model::{
    Counters, DccpInfo, Flow, HelperName, Labels, ProtoInfo, SctpInfo, SecCtx, SeqAdj, Status,
    Synproxy, TcpInfo, Timestamp, Tuple,
};

/// Parses a CT message's attributes into `f` (cleared first). Unknown attributes are skipped.
pub fn parse_flow(attrs: AttrIter<'_>, f: &mut Flow) -> Result<()> {
    f.clear();
    for a in attrs {
        let a = a?;
        match a.kind() {
            CTA_TUPLE_ORIG => {
                parse_tuple(&a, &mut f.orig).map_err(at("CTA_TUPLE_ORIG"))?;
                f.has_orig = true;
            }
            CTA_TUPLE_REPLY => {
                parse_tuple(&a, &mut f.reply).map_err(at("CTA_TUPLE_REPLY"))?;
                f.has_reply = true;
            }
            CTA_TUPLE_MASTER => {
                let mut t = Tuple::default();
                parse_tuple(&a, &mut t).map_err(at("CTA_TUPLE_MASTER"))?;
                f.master = Some(t);
            }
            CTA_STATUS => f.status = Some(Status(a.be32().map_err(at("CTA_STATUS"))?)),
            CTA_TIMEOUT => f.timeout = Some(a.be32().map_err(at("CTA_TIMEOUT"))?),
            CTA_MARK => f.mark = Some(a.be32().map_err(at("CTA_MARK"))?),
            CTA_SECMARK => f.secmark = Some(a.be32().map_err(at("CTA_SECMARK"))?),
            CTA_ZONE => f.zone = Some(a.be16().map_err(at("CTA_ZONE"))?),
            CTA_USE => f.use_count = Some(a.be32().map_err(at("CTA_USE"))?),
            CTA_ID => f.id = Some(a.be32().map_err(at("CTA_ID"))?),
            CTA_COUNTERS_ORIG => {
                f.counters_orig = Some(parse_counters(&a).map_err(at("CTA_COUNTERS_ORIG"))?)
            }
            CTA_COUNTERS_REPLY => {
                f.counters_reply = Some(parse_counters(&a).map_err(at("CTA_COUNTERS_REPLY"))?)
            }
            CTA_PROTOINFO => f.protoinfo = parse_protoinfo(&a).map_err(at("CTA_PROTOINFO"))?,
            CTA_HELP => {
                for h in a.nested() {
                    let h = h.map_err(at("CTA_HELP"))?;
                    if h.kind() == CTA_HELP_NAME {
                        f.helper = Some(HelperName::new(h.str().map_err(at("CTA_HELP"))?));
                    }
                }
            }
            CTA_SECCTX => {
                for h in a.nested() {
                    let h = h.map_err(at("CTA_SECCTX"))?;
                    if h.kind() == CTA_SECCTX_NAME {
                        f.secctx = Some(SecCtx::new(h.str().map_err(at("CTA_SECCTX"))?));
                    }
                }
            }
            CTA_LABELS => {
                let p = a.payload();
                let mut l = Labels::default();
                let n = p.len().min(16);
                l.bytes[..n].copy_from_slice(&p[..n]);
                l.len = n as u8;
                f.labels = Some(l);
            }
            CTA_TIMESTAMP => {
                let mut ts = Timestamp::default();
                for t in a.nested() {
                    let t = t.map_err(at("CTA_TIMESTAMP"))?;
                    match t.kind() {
                        CTA_TIMESTAMP_START => ts.start = t.be64().map_err(at("CTA_TIMESTAMP"))?,
                        CTA_TIMESTAMP_STOP => {
                            ts.stop = Some(t.be64().map_err(at("CTA_TIMESTAMP"))?)
                        }
                        _ => {}
                    }
                }
                f.timestamp = Some(ts);
            }
            CTA_SEQ_ADJ_ORIG => {
                f.seq_adj_orig = Some(parse_seq_adj(&a).map_err(at("CTA_SEQ_ADJ_ORIG"))?)
            }
            CTA_SEQ_ADJ_REPLY => {
                f.seq_adj_reply = Some(parse_seq_adj(&a).map_err(at("CTA_SEQ_ADJ_REPLY"))?)
            }
            CTA_SYNPROXY => {
                let mut s = Synproxy::default();
                for x in a.nested() {
                    let x = x.map_err(at("CTA_SYNPROXY"))?;
                    let v = x.be32().map_err(at("CTA_SYNPROXY"))?;
                    match x.kind() {
                        CTA_SYNPROXY_ISN => s.isn = v,
                        CTA_SYNPROXY_ITS => s.its = v,
                        CTA_SYNPROXY_TSOFF => s.tsoff = v,
                        _ => {}
                    }
                }
                // Entries created over ctnetlink carry a zeroed synproxy extension (6.18
                // `ctnetlink_create_conntrack` adds one to each): all zero is no proxy state.
                f.synproxy = (s != Synproxy::default()).then_some(s);
            }
            _ => {}
        }
    }
    Ok(())
}

/// `CTA_SEQADJ_*` of one direction; the offsets are the kernel's `s32` sent with `htonl`.
fn parse_seq_adj(a: &Attr<'_>) -> Result<SeqAdj> {
    let mut s = SeqAdj::default();
    for x in a.nested() {
        let x = x?;
        match x.kind() {
            CTA_SEQADJ_CORRECTION_POS => s.correction_pos = x.be32()?,
            CTA_SEQADJ_OFFSET_BEFORE => s.offset_before = x.be32()? as i32,
            CTA_SEQADJ_OFFSET_AFTER => s.offset_after = x.be32()? as i32,
            _ => {}
        }
    }
    Ok(s)
}

fn parse_counters(a: &Attr<'_>) -> Result<Counters> {
    let mut c = Counters::default();
    for x in a.nested() {
        let x = x?;
        match x.kind() {
            CTA_COUNTERS_PACKETS => c.packets = x.be64()?,
            CTA_COUNTERS_BYTES => c.bytes = x.be64()?,
            CTA_COUNTERS32_PACKETS => c.packets = x.be32()? as u64,
            CTA_COUNTERS32_BYTES => c.bytes = x.be32()? as u64,
            _ => {}
        }
    }
    Ok(c)
}

fn flags_pair(a: &Attr<'_>) -> Option<(u8, u8)> {
    let p = a.payload();
    (p.len() >= 2).then(|| (p[0], p[1]))
}

fn parse_protoinfo(a: &Attr<'_>) -> Result<Option<ProtoInfo>> {
    for p in a.nested() {
        let p = p?;
        match p.kind() {
            CTA_PROTOINFO_TCP => {
                let mut t = TcpInfo::default();
                for x in p.nested() {
                    let x = x.map_err(at("CTA_PROTOINFO_TCP"))?;
                    match x.kind() {
                        CTA_PROTOINFO_TCP_STATE => t.state = Some(x.u8()?),
                        CTA_PROTOINFO_TCP_WSCALE_ORIGINAL => t.wscale_orig = Some(x.u8()?),
                        CTA_PROTOINFO_TCP_WSCALE_REPLY => t.wscale_reply = Some(x.u8()?),
                        CTA_PROTOINFO_TCP_FLAGS_ORIGINAL => t.flags_orig = flags_pair(&x),
                        CTA_PROTOINFO_TCP_FLAGS_REPLY => t.flags_reply = flags_pair(&x),
                        _ => {}
                    }
                }
                return Ok(Some(ProtoInfo::Tcp(t)));
            }
            CTA_PROTOINFO_SCTP => {
                let mut s = SctpInfo::default();
                for x in p.nested() {
                    let x = x.map_err(at("CTA_PROTOINFO_SCTP"))?;
                    match x.kind() {
                        CTA_PROTOINFO_SCTP_STATE => s.state = Some(x.u8()?),
                        CTA_PROTOINFO_SCTP_VTAG_ORIGINAL => s.vtag_orig = Some(x.be32()?),
                        CTA_PROTOINFO_SCTP_VTAG_REPLY => s.vtag_reply = Some(x.be32()?),
                        _ => {}
                    }
                }
                return Ok(Some(ProtoInfo::Sctp(s)));
            }
            CTA_PROTOINFO_DCCP => {
                let mut d = DccpInfo::default();
                for x in p.nested() {
                    let x = x.map_err(at("CTA_PROTOINFO_DCCP"))?;
                    match x.kind() {
                        CTA_PROTOINFO_DCCP_STATE => d.state = Some(x.u8()?),
                        CTA_PROTOINFO_DCCP_ROLE => d.role = Some(x.u8()?),
                        CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ => d.handshake_seq = Some(x.be64()?),
                        _ => {}
                    }
                }
                return Ok(Some(ProtoInfo::Dccp(d)));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// What to send besides the flow's own present fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmitExtras {
    /// `CTA_MARK_MASK` (mark filters on dump/flush).
    pub mark_mask: Option<u32>,
    /// `CTA_LABELS_MASK` (label updates).
    pub labels_mask: Option<Labels>,
    /// Send `CTA_TUPLE_REPLY` too (creation); lookups send only one tuple.
    pub with_reply: bool,
}

/// Emits the present fields of `f` as request attributes: the original tuple (or the reply
/// tuple when only that is present), then status, timeout, mark, zone, protoinfo, labels,
/// helper. Counters, use, id, timestamps and secctx are kernel-owned and never sent.
pub fn emit_flow(b: &mut Builder, f: &Flow, x: &EmitExtras) {
    if f.has_orig {
        emit_tuple(b, CTA_TUPLE_ORIG, &f.orig);
    }
    if f.has_reply && (x.with_reply || !f.has_orig) {
        emit_tuple(b, CTA_TUPLE_REPLY, &f.reply);
    }
    if let Some(m) = f.master {
        emit_tuple(b, CTA_TUPLE_MASTER, &m);
    }
    if let Some(s) = f.status {
        // The kernel refuses to clear IPS_CONFIRMED (EBUSY) and sets it on every entry it
        // creates, so it is always sent (as libnetfilter_conntrack does).
        b.put_be32(CTA_STATUS, (s | Status::CONFIRMED).0);
    }
    if let Some(t) = f.timeout {
        b.put_be32(CTA_TIMEOUT, t);
    }
    if let Some(m) = f.mark {
        b.put_be32(CTA_MARK, m);
    }
    if let Some(m) = x.mark_mask {
        b.put_be32(CTA_MARK_MASK, m);
    }
    if let Some(z) = f.zone {
        b.put_be16(CTA_ZONE, z);
    }
    if let Some(p) = f.protoinfo {
        emit_protoinfo(b, &p);
    }
    if let Some(l) = f.labels {
        b.put(CTA_LABELS, &l.bytes[..l.len as usize]);
        if let Some(m) = x.labels_mask {
            let len = l.len.max(m.len) as usize;
            b.put(CTA_LABELS_MASK, &m.bytes[..len]);
        }
    }
    if let Some(h) = f.helper {
        let n = b.begin_nest(CTA_HELP);
        b.put_str(CTA_HELP_NAME, h.as_str());
        b.end_nest(n);
    }
}

fn emit_protoinfo(b: &mut Builder, p: &ProtoInfo) {
    let n = b.begin_nest(CTA_PROTOINFO);
    match p {
        ProtoInfo::Tcp(t) => {
            let m = b.begin_nest(CTA_PROTOINFO_TCP);
            if let Some(s) = t.state {
                b.put_u8(CTA_PROTOINFO_TCP_STATE, s);
            }
            if let Some(w) = t.wscale_orig {
                b.put_u8(CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, w);
            }
            if let Some(w) = t.wscale_reply {
                b.put_u8(CTA_PROTOINFO_TCP_WSCALE_REPLY, w);
            }
            if let Some((f, mask)) = t.flags_orig {
                b.put(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, &[f, mask]);
            }
            if let Some((f, mask)) = t.flags_reply {
                b.put(CTA_PROTOINFO_TCP_FLAGS_REPLY, &[f, mask]);
            }
            b.end_nest(m);
        }
        ProtoInfo::Sctp(s) => {
            let m = b.begin_nest(CTA_PROTOINFO_SCTP);
            if let Some(v) = s.state {
                b.put_u8(CTA_PROTOINFO_SCTP_STATE, v);
            }
            if let Some(v) = s.vtag_orig {
                b.put_be32(CTA_PROTOINFO_SCTP_VTAG_ORIGINAL, v);
            }
            if let Some(v) = s.vtag_reply {
                b.put_be32(CTA_PROTOINFO_SCTP_VTAG_REPLY, v);
            }
            b.end_nest(m);
        }
        ProtoInfo::Dccp(d) => {
            let m = b.begin_nest(CTA_PROTOINFO_DCCP);
            if let Some(v) = d.state {
                b.put_u8(CTA_PROTOINFO_DCCP_STATE, v);
            }
            if let Some(v) = d.role {
                b.put_u8(CTA_PROTOINFO_DCCP_ROLE, v);
            }
            if let Some(v) = d.handshake_seq {
                b.put_be64(CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ, v);
            }
            b.end_nest(m);
        }
    }
    b.end_nest(n);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::AttrIter;
    use proptest::prelude::*;
    use std::net::IpAddr;

    fn arb_tuple(v6: bool) -> impl Strategy<Value = Tuple> {
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            prop::sample::select(vec![1u8, 6, 17, 47, 58, 132, 136, 99]),
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            proptest::option::of(any::<u16>()),
        )
            .prop_map(move |(s, d, proto, sp, dp, it, ic, id, zone)| {
                let (src, dst) = if v6 {
                    (IpAddr::from(s), IpAddr::from(d))
                } else {
                    (
                        IpAddr::from([s[0], s[1], s[2], s[3]]),
                        IpAddr::from([d[0], d[1], d[2], d[3]]),
                    )
                };
                let mut t = Tuple {
                    src,
                    dst,
                    proto,
                    zone,
                    ..Tuple::default()
                };
                match proto {
                    1 | 58 => {
                        t.icmp_type = it;
                        t.icmp_code = ic;
                        t.icmp_id = id;
                    }
                    99 => {}
                    _ => {
                        t.sport = sp;
                        t.dport = dp;
                    }
                }
                t
            })
    }

    proptest! {
        #[test]
        fn flow_emit_then_parse_is_identity(orig in prop_oneof![arb_tuple(false), arb_tuple(true)], o in any::<bool>(),
            status in proptest::option::of(any::<u32>()), timeout in proptest::option::of(any::<u32>()),
            mark in proptest::option::of(any::<u32>()), zone in proptest::option::of(any::<u16>()),
            state in proptest::option::of(0u8..10), lab in proptest::option::of(any::<[u8; 16]>())) {
            let reply = orig.invert().unwrap_or(orig);
            let f = Flow {
                orig, reply, has_orig: true, has_reply: o,
                status: status.map(|s| Status(s | Status::CONFIRMED.0)), timeout, mark, zone,
                protoinfo: state.map(|s| ProtoInfo::Tcp(TcpInfo { state: Some(s), flags_orig: Some((8, 8)), ..TcpInfo::default() })),
                labels: lab.map(|bytes| Labels { bytes, len: 16 }),
                helper: Some(HelperName::new("ftp")),
                ..Flow::default()
            };
            let mut b = Builder::new();
            emit_flow(&mut b, &f, &EmitExtras { with_reply: true, ..EmitExtras::default() });
            let mut g = Flow::default();
            parse_flow(AttrIter::new(b.as_bytes()), &mut g).unwrap();
            if !o { g.reply = f.reply; }
            prop_assert_eq!(g, f);
        }
    }

    #[test]
    fn seq_adj_and_synproxy_parse_with_signed_offsets_and_zero_synproxy_is_absent() {
        let mut b = Builder::new();
        for (kind, pos, before, after) in [
            (CTA_SEQ_ADJ_ORIG, 1000u32, 0i32, 3i32),
            (CTA_SEQ_ADJ_REPLY, 77, -2, -5),
        ] {
            let n = b.begin_nest(kind);
            b.put_be32(CTA_SEQADJ_CORRECTION_POS, pos);
            b.put_be32(CTA_SEQADJ_OFFSET_BEFORE, before as u32);
            b.put_be32(CTA_SEQADJ_OFFSET_AFTER, after as u32);
            b.end_nest(n);
        }
        let n = b.begin_nest(CTA_SYNPROXY);
        b.put_be32(CTA_SYNPROXY_ISN, 0x0102_0304);
        b.put_be32(CTA_SYNPROXY_ITS, 9);
        b.put_be32(CTA_SYNPROXY_TSOFF, 0xffff_fff0);
        b.end_nest(n);
        let mut f = Flow::default();
        parse_flow(AttrIter::new(b.as_bytes()), &mut f).unwrap();
        assert_eq!(
            (f.seq_adj_orig, f.seq_adj_reply, f.synproxy),
            (
                Some(SeqAdj {
                    correction_pos: 1000,
                    offset_before: 0,
                    offset_after: 3
                }),
                Some(SeqAdj {
                    correction_pos: 77,
                    offset_before: -2,
                    offset_after: -5
                }),
                Some(Synproxy {
                    isn: 0x0102_0304,
                    its: 9,
                    tsoff: 0xffff_fff0
                }),
            )
        );
        let mut b = Builder::new();
        let n = b.begin_nest(CTA_SYNPROXY);
        for k in [CTA_SYNPROXY_ISN, CTA_SYNPROXY_ITS, CTA_SYNPROXY_TSOFF] {
            b.put_be32(k, 0);
        }
        b.end_nest(n);
        parse_flow(AttrIter::new(b.as_bytes()), &mut f).unwrap();
        assert_eq!(f.synproxy, None);
    }

    #[test]
    fn parse_reports_path_of_bad_ipv4_source() {
        let mut b = Builder::new();
        let n = b.begin_nest(CTA_TUPLE_ORIG);
        let ip = b.begin_nest(CTA_TUPLE_IP);
        b.put(CTA_IP_V4_SRC, &[1, 2, 3]);
        b.end_nest(ip);
        b.end_nest(n);
        let mut f = Flow::default();
        let e = parse_flow(AttrIter::new(b.as_bytes()), &mut f).unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed attribute CTA_TUPLE_ORIG/CTA_TUPLE_IP/CTA_IP_V4_SRC at offset 0: IPv4 address (expected 4 bytes, got 3)"
        );
    }
}
