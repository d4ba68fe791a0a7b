//! The compact row `ctkit top` keeps per entry: fixed-size fields only (80 bytes), so a
//! snapshot of 1M entries is one 80 MB vector with no per-entry allocation.
//!
//! Fields follow `struct nf_conn` as ctnetlink exposes it (`CTA_TUPLE_ORIG`, `CTA_STATUS`,
//! `CTA_TIMEOUT`, `CTA_MARK`, `CTA_ZONE`, `CTA_COUNTERS_*`, `CTA_PROTOINFO`); the reply tuple is
//! stored apart, only for entries whose reply is not the plain inverse of the original
//! (NAT), in [`NatRow`].

use ctkit_model::proto::{
    self, IPPROTO_DCCP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP,
};
use ctkit_model::protoinfo::{ProtoInfo, DCCP_STATE_NAMES};
use ctkit_model::{Flow, SctpState, Status, TcpState, Tuple};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `Row::nat` when the reply tuple is the inverse of the original.
pub const NO_NAT: u32 = u32::MAX;
/// `Row::state` when the entry has no protocol state.
pub const NO_STATE: u8 = u8::MAX;

/// Row flag: IPv6 addresses.
pub const F_V6: u8 = 1 << 0;
/// Row flag: `CTA_ZONE` present.
pub const F_ZONE: u8 = 1 << 1;
/// Row flag: `CTA_MARK` present.
pub const F_MARK: u8 = 1 << 2;
/// Row flag: `CTA_COUNTERS_*` present.
pub const F_COUNTERS: u8 = 1 << 3;
/// Row flag: `CTA_TIMEOUT` present.
pub const F_TIMEOUT: u8 = 1 << 4;
/// Row flag: the original tuple carried `CTA_TUPLE_ZONE` (value in `orig_zone`).
pub const F_ORIG_ZONE: u8 = 1 << 5;
/// Row flag: a rate was computed (two scans saw the entry; the value is in
/// `Snapshot::rates`).
pub const F_RATE: u8 = 1 << 6;

/// One conntrack entry, compact.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Row {
    /// Original source address (IPv4 in the first 4 bytes).
    pub src: [u8; 16],
    /// Original destination address.
    pub dst: [u8; 16],
    /// Bytes, both directions.
    pub bytes: u64,
    /// Packets, both directions.
    pub packets: u64,
    /// `CTA_STATUS` bits.
    pub status: u32,
    /// `CTA_MARK`.
    pub mark: u32,
    /// `CTA_TIMEOUT`, seconds left.
    pub timeout: u32,
    /// Index of the reply tuple in the snapshot's NAT table, or [`NO_NAT`].
    pub nat: u32,
    /// Source port (port protocols, GRE keys).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// `CTA_ZONE`.
    pub zone: u16,
    /// `CTA_TUPLE_ZONE` of the original tuple.
    pub orig_zone: u16,
    /// ICMP identifier.
    pub icmp_id: u16,
    /// Layer 4 protocol number.
    pub proto: u8,
    /// Protocol state (TCP, SCTP, DCCP numbering), or [`NO_STATE`].
    pub state: u8,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub icmp_code: u8,
    /// `F_*` bits.
    pub flags: u8,
}

/// The reply tuple of a NATed entry (as read back from a [`NatTable`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatRow {
    /// Reply source address.
    pub src: [u8; 16],
    /// Reply destination address.
    pub dst: [u8; 16],
    /// Reply source port.
    pub sport: u16,
    /// Reply destination port.
    pub dport: u16,
}

/// A NATed IPv4 entry's reply tuple, stored in 12 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct NatRow4 {
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
}

/// Reply tuples of translated entries, per family (a NAT gateway's million IPv4 entries
/// cost 12 bytes each here, not 36).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatTable {
    v4: Vec<NatRow4>,
    v6: Vec<NatRow>,
}

impl NatTable {
    fn push(&mut self, t: &Tuple) -> u32 {
        match (t.src, t.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                self.v4.push(NatRow4 {
                    src: s.octets(),
                    dst: d.octets(),
                    sport: t.sport,
                    dport: t.dport,
                });
                (self.v4.len() - 1) as u32
            }
            _ => {
                self.v6.push(NatRow {
                    src: pack(t.src),
                    dst: pack(t.dst),
                    sport: t.sport,
                    dport: t.dport,
                });
                (self.v6.len() - 1) as u32
            }
        }
    }

    fn get(&self, i: u32, v6: bool) -> Option<NatRow> {
        if v6 {
            return self.v6.get(i as usize).copied();
        }
        self.v4.get(i as usize).map(|n| {
            let mut r = NatRow {
                sport: n.sport,
                dport: n.dport,
                ..NatRow::default()
            };
            r.src[..4].copy_from_slice(&n.src);
            r.dst[..4].copy_from_slice(&n.dst);
            r
        })
    }

    /// Translated entries stored.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether no entry is translated.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frees unused capacity.
    pub fn shrink_to_fit(&mut self) {
        self.v4.shrink_to_fit();
        self.v6.shrink_to_fit();
    }
}

fn pack(a: IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v) => b[..4].copy_from_slice(&v.octets()),
        IpAddr::V6(v) => b = v.octets(),
    }
    b
}

/// The address stored in `b` (`v6` selects the family).
pub fn unpack(b: &[u8; 16], v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(*b))
    } else {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

/// The address as a number that orders like the address (IPv4 below 2^32).
pub fn addr_key(b: &[u8; 16], v6: bool) -> u128 {
    if v6 {
        u128::from_be_bytes(*b)
    } else {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u128
    }
}

impl Row {
    /// The row for `flow`; pushes its reply tuple to `nat` when it is translated.
    pub fn from_flow(flow: &Flow, nat: &mut NatTable) -> Row {
        let o = &flow.orig;
        let mut r = Row {
            src: pack(o.src),
            dst: pack(o.dst),
            proto: o.proto,
            nat: NO_NAT,
            state: NO_STATE,
            ..Row::default()
        };
        if matches!(o.src, IpAddr::V6(_)) {
            r.flags |= F_V6;
        }
        if proto::has_ports(o.proto) || o.proto == proto::IPPROTO_GRE {
            r.sport = o.sport;
            r.dport = o.dport;
        }
        if matches!(o.proto, IPPROTO_ICMP | IPPROTO_ICMPV6) {
            r.icmp_type = o.icmp_type;
            r.icmp_code = o.icmp_code;
            r.icmp_id = o.icmp_id;
        }
        if let Some(z) = o.zone {
            r.orig_zone = z;
            r.flags |= F_ORIG_ZONE;
        }
        if let Some(s) = flow.status {
            r.status = s.0;
        }
        if let Some(t) = flow.timeout {
            r.timeout = t;
            r.flags |= F_TIMEOUT;
        }
        if let Some(m) = flow.mark {
            r.mark = m;
            r.flags |= F_MARK;
        }
        if let Some(z) = flow.zone {
            r.zone = z;
            r.flags |= F_ZONE;
        }
        if flow.counters_orig.is_some() || flow.counters_reply.is_some() {
            r.flags |= F_COUNTERS;
            for c in [flow.counters_orig, flow.counters_reply]
                .into_iter()
                .flatten()
            {
                r.bytes = r.bytes.saturating_add(c.bytes);
                r.packets = r.packets.saturating_add(c.packets);
            }
        }
        r.state = match flow.protoinfo {
            Some(ProtoInfo::Tcp(t)) => t.state.unwrap_or(NO_STATE),
            Some(ProtoInfo::Sctp(s)) => s.state.unwrap_or(NO_STATE),
            Some(ProtoInfo::Dccp(d)) => d.state.unwrap_or(NO_STATE),
            None => NO_STATE,
        };
        if flow.has_reply && is_translated(o, &flow.reply) {
            r.nat = nat.push(&flow.reply);
        }
        r
    }

    /// Whether the addresses are IPv6.
    pub fn is_v6(&self) -> bool {
        self.flags & F_V6 != 0
    }

    /// Original source address.
    pub fn src_ip(&self) -> IpAddr {
        unpack(&self.src, self.is_v6())
    }

    /// Original destination address.
    pub fn dst_ip(&self) -> IpAddr {
        unpack(&self.dst, self.is_v6())
    }

    /// Status bits.
    pub fn status(&self) -> Status {
        Status(self.status)
    }

    /// Whether the protocol carries ports.
    pub fn has_ports(&self) -> bool {
        proto::has_ports(self.proto)
    }

    /// The reply tuple: the stored translation, or the inverse of the original.
    pub fn reply(&self, nat: &NatTable) -> NatRow {
        match nat.get(self.nat, self.is_v6()).filter(|_| self.is_nat()) {
            Some(n) => n,
            None => NatRow {
                src: self.dst,
                dst: self.src,
                sport: self.dport,
                dport: self.sport,
            },
        }
    }

    /// Whether the entry is translated (its reply is not the inverse of the original).
    pub fn is_nat(&self) -> bool {
        self.nat != NO_NAT
    }

    /// The protocol name iptstate prints (`tcp`, `udp`, `icmp`, `icmp6`, else conntrack's
    /// name or the number).
    pub fn proto_name(&self) -> std::borrow::Cow<'static, str> {
        match self.proto {
            IPPROTO_ICMPV6 => "icmp6".into(),
            p => match proto::l4_name(p) {
                Some(n) => n.into(),
                None => p.to_string().into(),
            },
        }
    }

    /// The protocol state's name (`ESTABLISHED`), `None` without one.
    pub fn state_name(&self) -> Option<&'static str> {
        state_name(self.proto, self.state)
    }

    /// The State column as iptstate prints it: the protocol state, `type/code (id)` for
    /// ICMP, blank otherwise.
    pub fn state_text(&self) -> String {
        match self.proto {
            IPPROTO_ICMP | IPPROTO_ICMPV6 => {
                format!("{}/{} ({})", self.icmp_type, self.icmp_code, self.icmp_id)
            }
            _ => self.state_name().unwrap_or("").to_string(),
        }
    }

    /// The original tuple (for deleting), with the original-direction zone.
    pub fn orig_tuple(&self) -> Tuple {
        Tuple {
            src: self.src_ip(),
            dst: self.dst_ip(),
            proto: self.proto,
            sport: self.sport,
            dport: self.dport,
            icmp_type: self.icmp_type,
            icmp_code: self.icmp_code,
            icmp_id: self.icmp_id,
            zone: (self.flags & F_ORIG_ZONE != 0).then_some(self.orig_zone),
        }
    }

    /// The key naming this entry across scans (original tuple and zone), for rates.
    pub fn identity(&self) -> u64 {
        // FNV-1a over the fixed identity fields: deterministic, no allocation.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= *b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        eat(&self.src);
        eat(&self.dst);
        eat(&self.sport.to_le_bytes());
        eat(&self.dport.to_le_bytes());
        eat(&self.icmp_id.to_le_bytes());
        eat(&[
            self.proto,
            self.icmp_type,
            self.icmp_code,
            self.flags & F_V6,
        ]);
        eat(&self.zone.to_le_bytes());
        h
    }
}

/// The name of protocol state `state` of `proto` as conntrack prints it.
pub fn state_name(proto: u8, state: u8) -> Option<&'static str> {
    if state == NO_STATE {
        return None;
    }
    match proto {
        IPPROTO_TCP => TcpState::from_u8(state).name(),
        IPPROTO_SCTP => SctpState(state).name(),
        IPPROTO_DCCP => DCCP_STATE_NAMES.get(state as usize).copied(),
        _ => None,
    }
}

fn is_translated(o: &Tuple, r: &Tuple) -> bool {
    if r.src != o.dst || r.dst != o.src {
        return true;
    }
    proto::has_ports(o.proto) && (r.sport != o.dport || r.dport != o.sport)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ctkit_model::{Counters, TcpInfo};

    pub(crate) fn tcp_flow(src: &str, sport: u16, dst: &str, dport: u16) -> Flow {
        let orig = Tuple {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            proto: IPPROTO_TCP,
            sport,
            dport,
            ..Tuple::default()
        };
        Flow {
            orig,
            reply: orig.invert().unwrap(),
            has_orig: true,
            has_reply: true,
            status: Some(Status::ASSURED | Status::SEEN_REPLY),
            timeout: Some(300),
            protoinfo: Some(ProtoInfo::Tcp(TcpInfo {
                state: Some(3),
                ..TcpInfo::default()
            })),
            ..Flow::default()
        }
    }

    #[test]
    fn row_is_compact() {
        assert_eq!(std::mem::size_of::<Row>(), 80);
    }

    #[test]
    fn a_plain_flow_has_no_nat_and_keeps_its_fields() {
        let mut f = tcp_flow("192.0.2.1", 1000, "198.51.100.2", 80);
        f.zone = Some(7);
        f.mark = Some(42);
        f.counters_orig = Some(Counters {
            packets: 3,
            bytes: 300,
        });
        f.counters_reply = Some(Counters {
            packets: 2,
            bytes: 120,
        });
        let mut nat = NatTable::default();
        let r = Row::from_flow(&f, &mut nat);
        assert!(nat.is_empty());
        assert_eq!(r.src_ip().to_string(), "192.0.2.1");
        assert_eq!((r.sport, r.dport, r.zone, r.mark), (1000, 80, 7, 42));
        assert_eq!((r.bytes, r.packets), (420, 5));
        assert_eq!(r.state_text(), "ESTABLISHED");
        let rep = r.reply(&nat);
        assert_eq!(
            (unpack(&rep.src, false).to_string(), rep.sport),
            ("198.51.100.2".into(), 80)
        );
    }

    #[test]
    fn a_dnat_flow_stores_its_reply_tuple() {
        let mut f = tcp_flow("192.0.2.2", 40000, "203.0.113.10", 80);
        f.reply.src = "198.51.100.2".parse().unwrap();
        f.reply.sport = 8080;
        let mut nat = NatTable::default();
        let r = Row::from_flow(&f, &mut nat);
        assert!(r.is_nat());
        let rep = r.reply(&nat);
        assert_eq!(unpack(&rep.src, false).to_string(), "198.51.100.2");
        assert_eq!(rep.sport, 8080);
    }

    #[test]
    fn nat_tables_keep_ipv4_and_ipv6_reply_tuples_apart() {
        let mut nat = NatTable::default();
        let mut f4 = tcp_flow("192.0.2.2", 40000, "203.0.113.10", 80);
        f4.reply.src = "198.51.100.2".parse().unwrap();
        f4.reply.sport = 8080;
        let mut f6 = tcp_flow("2001:db8:1::2", 40000, "2001:db8:3::10", 80);
        f6.reply.src = "2001:db8:2::2".parse().unwrap();
        let r4 = Row::from_flow(&f4, &mut nat);
        let r6 = Row::from_flow(&f6, &mut nat);
        let plain = Row::from_flow(&tcp_flow("192.0.2.1", 1, "198.51.100.1", 2), &mut nat);
        assert_eq!((r4.nat, r6.nat, plain.nat, nat.len()), (0, 0, NO_NAT, 2));
        let b4 = r4.reply(&nat);
        assert_eq!(
            (
                unpack(&b4.src, false),
                unpack(&b4.dst, false),
                b4.sport,
                b4.dport
            ),
            (f4.reply.src, f4.reply.dst, 8080, 40000)
        );
        let b6 = r6.reply(&nat);
        assert_eq!(
            (unpack(&b6.src, true), unpack(&b6.dst, true)),
            (f6.reply.src, f6.reply.dst)
        );
        assert_eq!(
            unpack(&plain.reply(&nat).src, false).to_string(),
            "198.51.100.1"
        );
    }

    #[test]
    fn icmp_state_text_is_type_code_id() {
        let mut f = tcp_flow("192.0.2.1", 0, "198.51.100.2", 0);
        f.orig.proto = IPPROTO_ICMP;
        f.orig.icmp_type = 8;
        f.orig.icmp_id = 99;
        f.protoinfo = None;
        f.reply = f.orig.invert().unwrap();
        let r = Row::from_flow(&f, &mut NatTable::default());
        assert_eq!(r.state_text(), "8/0 (99)");
        assert_eq!(r.proto_name(), "icmp");
        assert_eq!(r.orig_tuple(), f.orig);
    }
}
