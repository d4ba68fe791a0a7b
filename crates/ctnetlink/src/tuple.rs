//! `CTA_TUPLE_*` ⇄ [`Tuple`]: `CTA_TUPLE_IP` (`CTA_IP_V4_*`/`CTA_IP_V6_*`), `CTA_TUPLE_PROTO`
//! (`CTA_PROTO_NUM`, ports, ICMP/ICMPv6 id/type/code) and `CTA_TUPLE_ZONE`
//! (net/netfilter/nf_conntrack_netlink.c, `ctnetlink_dump_tuples`/`ctnetlink_parse_tuple`).

use crate::attr::{Attr, Builder};
use crate::error::{at, Result};
use crate::uapi::*;
use ctkit_model::proto::{self, Family};
use ctkit_model::Tuple;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Fills `t` from a tuple nest (`CTA_TUPLE_ORIG`, `_REPLY`, `_MASTER`, `CTA_EXPECT_*`).
pub fn parse_tuple(nest: &Attr<'_>, t: &mut Tuple) -> Result<()> {
    *t = Tuple::default();
    for a in nest.nested() {
        let a = a?;
        match a.kind() {
            CTA_TUPLE_IP => parse_ip(&a, t).map_err(at("CTA_TUPLE_IP"))?,
            CTA_TUPLE_PROTO => parse_proto(&a, t).map_err(at("CTA_TUPLE_PROTO"))?,
            CTA_TUPLE_ZONE => t.zone = Some(a.be16().map_err(at("CTA_TUPLE_ZONE"))?),
            _ => {}
        }
    }
    Ok(())
}

fn parse_ip(nest: &Attr<'_>, t: &mut Tuple) -> Result<()> {
    for a in nest.nested() {
        let a = a?;
        match a.kind() {
            CTA_IP_V4_SRC => {
                t.src = IpAddr::V4(Ipv4Addr::from(a.bytes4().map_err(at("CTA_IP_V4_SRC"))?))
            }
            CTA_IP_V4_DST => {
                t.dst = IpAddr::V4(Ipv4Addr::from(a.bytes4().map_err(at("CTA_IP_V4_DST"))?))
            }
            CTA_IP_V6_SRC => {
                t.src = IpAddr::V6(Ipv6Addr::from(a.bytes16().map_err(at("CTA_IP_V6_SRC"))?))
            }
            CTA_IP_V6_DST => {
                t.dst = IpAddr::V6(Ipv6Addr::from(a.bytes16().map_err(at("CTA_IP_V6_DST"))?))
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_proto(nest: &Attr<'_>, t: &mut Tuple) -> Result<()> {
    for a in nest.nested() {
        let a = a?;
        match a.kind() {
            CTA_PROTO_NUM => t.proto = a.u8().map_err(at("CTA_PROTO_NUM"))?,
            CTA_PROTO_SRC_PORT => t.sport = a.be16().map_err(at("CTA_PROTO_SRC_PORT"))?,
            CTA_PROTO_DST_PORT => t.dport = a.be16().map_err(at("CTA_PROTO_DST_PORT"))?,
            CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID => {
                t.icmp_id = a.be16().map_err(at("CTA_PROTO_ICMP_ID"))?
            }
            CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE => {
                t.icmp_type = a.u8().map_err(at("CTA_PROTO_ICMP_TYPE"))?
            }
            CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE => {
                t.icmp_code = a.u8().map_err(at("CTA_PROTO_ICMP_CODE"))?
            }
            _ => {}
        }
    }
    Ok(())
}

/// Emits `t` as a tuple nest of type `kind`. Layer 4 fields are sent as the protocol uses them
/// (ports, ICMP id/type/code, GRE keys in the port attributes).
pub fn emit_tuple(b: &mut Builder, kind: u16, t: &Tuple) {
    let n = b.begin_nest(kind);
    let ip = b.begin_nest(CTA_TUPLE_IP);
    match (t.src, t.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            b.put(CTA_IP_V4_SRC, &s.octets());
            b.put(CTA_IP_V4_DST, &d.octets());
        }
        (s, d) => {
            b.put(CTA_IP_V6_SRC, &v6(s).octets());
            b.put(CTA_IP_V6_DST, &v6(d).octets());
        }
    }
    b.end_nest(ip);
    let p = b.begin_nest(CTA_TUPLE_PROTO);
    b.put_u8(CTA_PROTO_NUM, t.proto);
    match t.proto {
        proto::IPPROTO_ICMP => {
            b.put_be16(CTA_PROTO_ICMP_ID, t.icmp_id);
            b.put_u8(CTA_PROTO_ICMP_TYPE, t.icmp_type);
            b.put_u8(CTA_PROTO_ICMP_CODE, t.icmp_code);
        }
        proto::IPPROTO_ICMPV6 => {
            b.put_be16(CTA_PROTO_ICMPV6_ID, t.icmp_id);
            b.put_u8(CTA_PROTO_ICMPV6_TYPE, t.icmp_type);
            b.put_u8(CTA_PROTO_ICMPV6_CODE, t.icmp_code);
        }
        p if proto::has_ports(p) || p == proto::IPPROTO_GRE => {
            b.put_be16(CTA_PROTO_SRC_PORT, t.sport);
            b.put_be16(CTA_PROTO_DST_PORT, t.dport);
        }
        _ => {}
    }
    b.end_nest(p);
    if let Some(z) = t.zone {
        b.put_be16(CTA_TUPLE_ZONE, z);
    }
    b.end_nest(n);
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}

/// The nfgenmsg family for a tuple.
pub fn tuple_af(t: &Tuple) -> u8 {
    match t.family() {
        Family::Ipv4 => Family::AF_INET,
        Family::Ipv6 => Family::AF_INET6,
    }
}
