//! Just enough IP parsing to name a packet in `ctkit replay --per-packet`: family, addresses,
//! layer 4 protocol (after IPv6 extension headers), ports or ICMP type/code/id, TCP flags.
//! The tracker does its own, complete parsing; this one never decides anything.

use std::net::IpAddr;

/// What a per-packet line shows about a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Layer 4 protocol number.
    pub proto: u8,
    /// Ports (TCP, UDP, UDP-Lite, SCTP, DCCP) when present.
    pub ports: Option<(u16, u16)>,
    /// ICMP/ICMPv6 type, code and id (0 but for queries and their replies).
    pub icmp: Option<(u8, u8, u16)>,
    /// TCP flags byte.
    pub tcp_flags: Option<u8>,
    /// A non-first fragment (no layer 4 header).
    pub fragment: bool,
}

/// IPv6 extension headers that are walked to find the layer 4 header.
const IPV6_EXT: [u8; 4] = [0, 43, 60, 51];
const IPV6_FRAGMENT: u8 = 44;

/// Parses the IP and layer 4 headers of `l3`; `None` when not even the IP header is there.
pub fn summarize(l3: &[u8]) -> Option<Summary> {
    let (src, dst, proto, l4, fragment) = match l3.first()? >> 4 {
        4 => {
            let ihl = usize::from(l3.first()? & 0x0f) * 4;
            let h = l3.get(..20)?;
            let frag_off = u16::from_be_bytes([h[6], h[7]]) & 0x1fff;
            let src: [u8; 4] = h[12..16].try_into().ok()?;
            let dst: [u8; 4] = h[16..20].try_into().ok()?;
            (
                IpAddr::from(src),
                IpAddr::from(dst),
                h[9],
                l3.get(ihl..).unwrap_or(&[]),
                frag_off != 0,
            )
        }
        6 => {
            let h = l3.get(..40)?;
            let src: [u8; 16] = h[8..24].try_into().ok()?;
            let dst: [u8; 16] = h[24..40].try_into().ok()?;
            let mut next = h[6];
            let mut rest = &l3[40..];
            let mut fragment = false;
            loop {
                if IPV6_EXT.contains(&next) && rest.len() >= 2 {
                    let len = if next == 51 {
                        (usize::from(rest[1]) + 2) * 4
                    } else {
                        (usize::from(rest[1]) + 1) * 8
                    };
                    next = rest[0];
                    rest = rest.get(len..).unwrap_or(&[]);
                } else if next == IPV6_FRAGMENT && rest.len() >= 8 {
                    fragment |= u16::from_be_bytes([rest[2], rest[3]]) & 0xfff8 != 0;
                    next = rest[0];
                    rest = &rest[8..];
                } else {
                    break;
                }
            }
            (IpAddr::from(src), IpAddr::from(dst), next, rest, fragment)
        }
        _ => return None,
    };
    let mut s = Summary {
        src,
        dst,
        proto,
        ports: None,
        icmp: None,
        tcp_flags: None,
        fragment,
    };
    if fragment {
        return Some(s);
    }
    let be16 = |i: usize| l4.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    match proto {
        6 | 17 | 136 | 132 | 33 => {
            s.ports = be16(0).zip(be16(2));
            if proto == 6 {
                s.tcp_flags = l4.get(13).copied();
            }
        }
        1 | 58 => {
            if let (Some(&t), Some(&c)) = (l4.first(), l4.get(1)) {
                // Only queries and their replies carry an identifier (the others have
                // other fields there: an error's unused word, neighbour discovery flags).
                let id = if icmp_has_id(proto, t) {
                    be16(4).unwrap_or(0)
                } else {
                    0
                };
                s.icmp = Some((t, c, id));
            }
        }
        _ => {}
    }
    Some(s)
}

/// The reply type of an ICMP/ICMPv6 query (`invmap` of nf_conntrack_proto_icmp{,v6}.c):
/// echo, timestamp, information and address-mask requests and their replies.
fn icmp_inverse(proto: u8, t: u8) -> u8 {
    let pairs: &[(u8, u8)] = if proto == 1 {
        &[(8, 0), (13, 14), (15, 16), (17, 18)]
    } else {
        &[(128, 129), (139, 140)]
    };
    for &(q, r) in pairs {
        if t == q {
            return r;
        }
        if t == r {
            return q;
        }
    }
    t
}

/// Whether an ICMP/ICMPv6 message of type `t` carries an identifier (a query or its reply).
pub fn icmp_has_id(proto: u8, t: u8) -> bool {
    icmp_inverse(proto, t) != t
}

impl Summary {
    /// The entry a packet belongs to, as far as its headers tell (tuples only): the
    /// original tuple is the packet's own when it travels in the original direction (or its
    /// direction is unknown), else the inverse, so the list filters (`--proto`, addresses,
    /// ports, ICMP fields, family) select a flow's packets in both directions as they select
    /// its entry.
    pub fn flow(&self, reply: bool) -> ctkit_model::Flow {
        let own = ctkit_model::Tuple {
            src: self.src,
            dst: self.dst,
            proto: self.proto,
            sport: self.ports.map_or(0, |p| p.0),
            dport: self.ports.map_or(0, |p| p.1),
            icmp_type: self.icmp.map_or(0, |i| i.0),
            icmp_code: self.icmp.map_or(0, |i| i.1),
            icmp_id: self.icmp.map_or(0, |i| i.2),
            zone: None,
        };
        let inverse = ctkit_model::Tuple {
            src: own.dst,
            dst: own.src,
            sport: own.dport,
            dport: own.sport,
            icmp_type: icmp_inverse(own.proto, own.icmp_type),
            ..own
        };
        let (orig, reply) = if reply {
            (inverse, own)
        } else {
            (own, inverse)
        };
        ctkit_model::Flow {
            orig,
            reply,
            has_orig: true,
            has_reply: true,
            ..ctkit_model::Flow::default()
        }
    }
}

/// tcpdump's flag letters (`S`, `S.`, `P.`, `F.`, `R.`, `none`) written into `buf`.
pub fn tcp_flags(buf: &mut [u8; 9], f: u8) -> &str {
    let mut n = 0;
    for (bit, c) in [
        (0x02, b'S'),
        (0x01, b'F'),
        (0x04, b'R'),
        (0x08, b'P'),
        (0x20, b'U'),
        (0x40, b'E'),
        (0x80, b'W'),
        (0x10, b'.'),
    ] {
        if f & bit != 0 {
            buf[n] = c;
            n += 1;
        }
    }
    if n == 0 {
        return "none";
    }
    // Only ASCII letters were written.
    std::str::from_utf8(&buf[..n]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_tcp_ports_and_flags() {
        let mut p = vec![
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 2, 198, 51, 100, 2,
        ];
        p.extend_from_slice(&[
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0,
        ]);
        let s = summarize(&p).unwrap();
        assert_eq!(s.src.to_string(), "192.0.2.2");
        assert_eq!(s.dst.to_string(), "198.51.100.2");
        assert_eq!(
            (s.proto, s.ports, s.tcp_flags),
            (6, Some((40000, 80)), Some(0x12))
        );
        let mut b = [0; 9];
        assert_eq!(tcp_flags(&mut b, 0x12), "S.");
        assert_eq!(tcp_flags(&mut b, 0x18), "P.");
        assert_eq!(tcp_flags(&mut b, 0), "none");
    }

    #[test]
    fn ipv6_icmp_after_a_hop_by_hop_header() {
        let mut p = vec![0x60, 0, 0, 0, 0, 16, 0, 64];
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[58, 0, 0, 0, 0, 0, 0, 0]); // hop-by-hop, 8 bytes
        p.extend_from_slice(&[128, 0, 0, 0, 0x12, 0x34, 0, 1]);
        let s = summarize(&p).unwrap();
        assert_eq!((s.proto, s.icmp), (58, Some((128, 0, 0x1234))));
        assert_eq!(s.dst.to_string(), "2001:db8:2::2");
        assert!(summarize(&p[..39]).is_none());
    }
}
