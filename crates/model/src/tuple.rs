//! A connection tuple: one direction's addresses and layer 4 identifiers.
//!
//! Mirrors `struct nf_conntrack_tuple` (include/net/netfilter/nf_conntrack_tuple.h) as ctnetlink
//! carries it in `CTA_TUPLE_ORIG`/`CTA_TUPLE_REPLY`/`CTA_TUPLE_MASTER` (`CTA_TUPLE_IP`,
//! `CTA_TUPLE_PROTO`, `CTA_TUPLE_ZONE`).

use crate::proto::{self, Family};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One direction of a connection.
///
/// Which layer 4 fields mean something depends on `proto`: ports for TCP, UDP, UDP-Lite, SCTP
/// and DCCP; `icmp_*` for ICMP and ICMPv6; GRE keys travel in `sport`/`dport` as the kernel
/// sends them (`CTA_PROTO_SRC_PORT`/`CTA_PROTO_DST_PORT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Source address (`CTA_IP_V4_SRC` / `CTA_IP_V6_SRC`).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Layer 4 protocol number (`CTA_PROTO_NUM`).
    pub proto: u8,
    /// Source port or GRE key (host byte order).
    pub sport: u16,
    /// Destination port or GRE key (host byte order).
    pub dport: u16,
    /// ICMP type (`CTA_PROTO_ICMP_TYPE` / `CTA_PROTO_ICMPV6_TYPE`).
    pub icmp_type: u8,
    /// ICMP code.
    pub icmp_code: u8,
    /// ICMP identifier (host byte order).
    pub icmp_id: u16,
    /// Per-direction zone (`CTA_TUPLE_ZONE`), when the kernel sent one.
    pub zone: Option<u16>,
}

impl Default for Tuple {
    fn default() -> Self {
        Tuple {
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            proto: 0,
            sport: 0,
            dport: 0,
            icmp_type: 0,
            icmp_code: 0,
            icmp_id: 0,
            zone: None,
        }
    }
}

impl Tuple {
    /// The tuple's address family (from its source address).
    pub fn family(&self) -> Family {
        match self.src {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The tuple seen from the other end: addresses and ports swapped; ICMP keeps its id and
    /// maps a request type to its reply (`nf_conntrack_invert_icmp_tuple`). Returns `None` for
    /// ICMP types the kernel cannot invert.
    pub fn invert(&self) -> Option<Tuple> {
        let mut t = *self;
        t.src = self.dst;
        t.dst = self.src;
        t.sport = self.dport;
        t.dport = self.sport;
        match self.proto {
            proto::IPPROTO_ICMP => t.icmp_type = invert_icmp_type(self.icmp_type)?,
            proto::IPPROTO_ICMPV6 => t.icmp_type = invert_icmpv6_type(self.icmp_type)?,
            _ => {}
        }
        Some(t)
    }

    /// An unspecified address of the given family.
    pub fn unspecified(family: Family) -> IpAddr {
        match family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// ICMP request → reply type map (`invmap` in net/netfilter/nf_conntrack_proto_icmp.c).
pub fn invert_icmp_type(t: u8) -> Option<u8> {
    Some(match t {
        8 => 0,   // ECHO -> ECHOREPLY
        0 => 8,   // ECHOREPLY -> ECHO
        13 => 14, // TIMESTAMP -> TIMESTAMPREPLY
        14 => 13,
        15 => 16, // INFO_REQUEST -> INFO_REPLY
        16 => 15,
        17 => 18, // ADDRESS -> ADDRESSREPLY
        18 => 17,
        _ => return None,
    })
}

/// ICMPv6 request → reply type map (`invmap` in nf_conntrack_proto_icmpv6.c).
pub fn invert_icmpv6_type(t: u8) -> Option<u8> {
    Some(match t {
        128 => 129, // ECHO_REQUEST -> ECHO_REPLY
        129 => 128,
        139 => 140, // NI_QUERY -> NI_REPLY
        140 => 139,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invert_swaps_addresses_and_ports() {
        let t = Tuple {
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            proto: proto::IPPROTO_TCP,
            sport: 1000,
            dport: 80,
            ..Tuple::default()
        };
        let r = t.invert().unwrap();
        assert_eq!(r.src, t.dst);
        assert_eq!(r.dst, t.src);
        assert_eq!((r.sport, r.dport), (80, 1000));
    }

    #[test]
    fn invert_icmp_echo_keeps_id_and_maps_type() {
        let t = Tuple {
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            proto: proto::IPPROTO_ICMP,
            icmp_type: 8,
            icmp_id: 77,
            ..Tuple::default()
        };
        let r = t.invert().unwrap();
        assert_eq!((r.icmp_type, r.icmp_code, r.icmp_id), (0, 0, 77));
        let bad = Tuple { icmp_type: 3, ..t };
        assert_eq!(bad.invert(), None);
    }
}
