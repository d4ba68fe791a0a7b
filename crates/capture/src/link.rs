//! Link layers: where the IP header starts in a captured frame, by the capture's link type
//! (the `LINKTYPE_*` registry of tcpdump.org, `pcap-linktype(7)`).
//!
//! Frames that carry no IPv4/IPv6 packet (ARP, LLDP, PPPoE discovery, …) give `None` and are
//! skipped by the reader. Ethernet frames may carry VLAN tags and a PPPoE session header.

/// `ETH_P_IP`.
const ETH_P_IP: u16 = 0x0800;
/// `ETH_P_IPV6`.
const ETH_P_IPV6: u16 = 0x86dd;
/// `ETH_P_PPP_SES`: PPPoE session frames (DSL uplinks, as OpenWrt routers have).
const ETH_P_PPP_SES: u16 = 0x8864;
/// PPP protocol numbers of IPv4 and IPv6.
const PPP_IP: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
/// 802.1Q, 802.1ad (QinQ outer tag) and the pre-standard 0x9100 outer tag.
const VLAN_TPIDS: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// A link layer the reader can strip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// `LINKTYPE_ETHERNET` (1), with any number of VLAN tags.
    Ethernet,
    /// `LINKTYPE_LINUX_SLL` (113): Linux cooked capture v1, 16-byte header.
    Sll,
    /// `LINKTYPE_LINUX_SLL2` (276): Linux cooked capture v2, 20-byte header.
    Sll2,
    /// `LINKTYPE_RAW` (101; `DLT_RAW` 12 as some writers store it): IPv4 or IPv6 by version.
    Raw,
    /// `LINKTYPE_IPV4` (228).
    Ipv4,
    /// `LINKTYPE_IPV6` (229).
    Ipv6,
    /// `LINKTYPE_NULL` (0): BSD loopback, 4-byte address family in the writer's byte order.
    Null,
    /// `LINKTYPE_LOOP` (108): OpenBSD loopback, address family in network byte order.
    Loop,
}

impl Link {
    /// The link layer of `LINKTYPE_` value `linktype` (the low 16 bits of a pcap header's
    /// `network`), if supported.
    pub fn from_linktype(linktype: u32) -> Option<Link> {
        Some(match linktype & 0xffff {
            1 => Link::Ethernet,
            113 => Link::Sll,
            276 => Link::Sll2,
            12 | 101 => Link::Raw,
            228 => Link::Ipv4,
            229 => Link::Ipv6,
            0 => Link::Null,
            108 => Link::Loop,
            _ => return None,
        })
    }

    /// Offset of the IP header in `frame`, or `None` when the frame carries no IP packet
    /// (or is too short to tell).
    pub fn l3_offset(self, frame: &[u8]) -> Option<usize> {
        match self {
            Link::Ethernet => ethertype(frame, 12, 14),
            Link::Sll => ethertype(frame, 14, 16),
            Link::Sll2 => ethertype(frame, 0, 20),
            Link::Raw => match frame.first()? >> 4 {
                4 | 6 => Some(0),
                _ => None,
            },
            Link::Ipv4 | Link::Ipv6 => Some(0),
            Link::Null => {
                let b = frame.get(..4)?;
                // Host byte order of the writer: one end holds the value, the other zeros.
                let fam = if b[0] != 0 { b[0] } else { b[3] };
                bsd_family(fam).then_some(4)
            }
            Link::Loop => {
                let b = frame.get(..4)?;
                (b[..3] == [0, 0, 0] && bsd_family(b[3])).then_some(4)
            }
        }
    }
}

impl Link {
    /// Whether the capturing host sent `frame` (`Some(true)`) or received it
    /// (`Some(false)`), when the link layer says: Linux cooked captures carry the packet
    /// type (`PACKET_OUTGOING` = 4; `tcpdump -i any`), other link layers do not (`None`).
    pub fn outgoing(self, frame: &[u8]) -> Option<bool> {
        let pkttype = match self {
            Link::Sll => u16::from_be_bytes([*frame.first()?, *frame.get(1)?]),
            Link::Sll2 => u16::from(*frame.get(10)?),
            _ => return None,
        };
        Some(pkttype == 4)
    }
}

/// `AF_INET` (2) and the BSDs' `AF_INET6` values (24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin).
fn bsd_family(f: u8) -> bool {
    matches!(f, 2 | 24 | 28 | 30)
}

/// Reads the EtherType at `at`, skips VLAN tags after the header end `hdr`, and returns the
/// IP header offset for IPv4/IPv6.
fn ethertype(frame: &[u8], at: usize, hdr: usize) -> Option<usize> {
    let be16 = |i: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*frame.get(i)?, *frame.get(i + 1)?]))
    };
    let mut et = be16(at)?;
    let mut off = hdr;
    while VLAN_TPIDS.contains(&et) {
        et = be16(off + 2)?;
        off += 4;
    }
    if et == ETH_P_PPP_SES {
        // PPPoE session (RFC 2516): version/type 0x11, code 0, session, length; then the
        // PPP protocol: 0x0021 IPv4, 0x0057 IPv6.
        if *frame.get(off)? != 0x11 || *frame.get(off + 1)? != 0 {
            return None;
        }
        let ppp = be16(off + 6)?;
        off += 8;
        et = match ppp {
            PPP_IP => ETH_P_IP,
            PPP_IPV6 => ETH_P_IPV6,
            _ => return None,
        };
    }
    (matches!(et, ETH_P_IP | ETH_P_IPV6) && off <= frame.len()).then_some(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(types: &[u16]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for (i, t) in types.iter().enumerate() {
            f.extend_from_slice(&t.to_be_bytes());
            if i + 1 < types.len() {
                f.extend_from_slice(&[0, 5]); // TCI
            }
        }
        f.extend_from_slice(&[0x45, 0]);
        f
    }

    #[test]
    fn pppoe_sessions_carry_ipv4_and_ipv6_and_nothing_else_is_ip() {
        // VLAN 7, PPPoE session 0x1234, length, PPP protocol, then the IP header.
        let pppoe = |ppp: u16, ver: u8| {
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&[0x81, 0x00, 0, 7, 0x88, 0x64, ver, 0, 0x12, 0x34, 0, 22]);
            f.extend_from_slice(&ppp.to_be_bytes());
            f.extend_from_slice(&[0x45, 0]);
            f
        };
        assert_eq!(Link::Ethernet.l3_offset(&pppoe(0x0021, 0x11)), Some(26));
        assert_eq!(Link::Ethernet.l3_offset(&pppoe(0x0057, 0x11)), Some(26));
        // LCP, a bad version/type, a cut header: no IP.
        assert_eq!(Link::Ethernet.l3_offset(&pppoe(0xc021, 0x11)), None);
        assert_eq!(Link::Ethernet.l3_offset(&pppoe(0x0021, 0x21)), None);
        assert_eq!(Link::Ethernet.l3_offset(&pppoe(0x0021, 0x11)[..20]), None);
    }

    #[test]
    fn ethernet_ip_and_vlan_stacks_find_the_ip_header() {
        assert_eq!(Link::Ethernet.l3_offset(&eth(&[0x0800])), Some(14));
        assert_eq!(Link::Ethernet.l3_offset(&eth(&[0x8100, 0x86dd])), Some(18));
        assert_eq!(
            Link::Ethernet.l3_offset(&eth(&[0x88a8, 0x8100, 0x0800])),
            Some(22)
        );
        assert_eq!(Link::Ethernet.l3_offset(&eth(&[0x0806])), None);
        assert_eq!(Link::Ethernet.l3_offset(&[0u8; 13]), None);
        assert_eq!(Link::Ethernet.l3_offset(&eth(&[0x8100])[..15]), None);
    }

    #[test]
    fn cooked_raw_and_loopback_headers() {
        let mut sll = vec![0u8; 16];
        sll[14..16].copy_from_slice(&0x86ddu16.to_be_bytes());
        assert_eq!(Link::Sll.l3_offset(&sll), Some(16));
        assert_eq!(Link::Sll.outgoing(&sll), Some(false));
        sll[1] = 4;
        assert_eq!(Link::Sll.outgoing(&sll), Some(true));
        assert_eq!(Link::Ethernet.outgoing(&sll), None);
        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&0x0800u16.to_be_bytes());
        assert_eq!(Link::Sll2.l3_offset(&sll2), Some(20));
        assert_eq!(Link::Sll2.outgoing(&sll2), Some(false));
        sll2[10] = 4;
        assert_eq!(Link::Sll2.outgoing(&sll2), Some(true));
        sll2[10] = 0;
        sll2[0] = 0x08;
        sll2[1] = 0x06;
        assert_eq!(Link::Sll2.l3_offset(&sll2), None);
        assert_eq!(Link::Raw.l3_offset(&[0x45]), Some(0));
        assert_eq!(Link::Raw.l3_offset(&[0x60]), Some(0));
        assert_eq!(Link::Raw.l3_offset(&[0x50]), None);
        assert_eq!(Link::Raw.l3_offset(&[]), None);
        assert_eq!(Link::Null.l3_offset(&[2, 0, 0, 0, 0x45]), Some(4));
        assert_eq!(Link::Null.l3_offset(&[0, 0, 0, 30, 0x60]), Some(4));
        assert_eq!(Link::Null.l3_offset(&[7, 0, 0, 0]), None);
        assert_eq!(Link::Loop.l3_offset(&[0, 0, 0, 24]), Some(4));
        assert_eq!(Link::Loop.l3_offset(&[2, 0, 0, 0]), None);
    }

    #[test]
    fn linktype_numbers() {
        assert_eq!(Link::from_linktype(1), Some(Link::Ethernet));
        assert_eq!(Link::from_linktype(0x0400_0001), Some(Link::Ethernet)); // FCS bits
        assert_eq!(Link::from_linktype(276), Some(Link::Sll2));
        assert_eq!(Link::from_linktype(229), Some(Link::Ipv6));
        assert_eq!(Link::from_linktype(105), None); // 802.11
    }
}
