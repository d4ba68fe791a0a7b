//! Layer 3 families and layer 4 protocol numbers with the names conntrack(8) prints.
//!
//! Names follow libnetfilter_conntrack's `proto2str`/`l3proto2str` tables; numbers are IANA's
//! (include/uapi/linux/in.h).

/// An address family as carried in `nfgenmsg.nfgen_family`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `AF_INET` (2).
    Ipv4,
    /// `AF_INET6` (10).
    Ipv6,
}

impl Family {
    /// `AF_INET`.
    pub const AF_INET: u8 = 2;
    /// `AF_INET6`.
    pub const AF_INET6: u8 = 10;
    /// `AF_UNSPEC`.
    pub const AF_UNSPEC: u8 = 0;

    /// The kernel's number for this family.
    pub fn af(self) -> u8 {
        match self {
            Family::Ipv4 => Self::AF_INET,
            Family::Ipv6 => Self::AF_INET6,
        }
    }

    /// The family for a kernel number, if it is IPv4 or IPv6.
    pub fn from_af(af: u8) -> Option<Family> {
        match af {
            Self::AF_INET => Some(Family::Ipv4),
            Self::AF_INET6 => Some(Family::Ipv6),
            _ => None,
        }
    }

    /// The name conntrack prints in `-o extended` (`ipv4`, `ipv6`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// `IPPROTO_ICMP`.
pub const IPPROTO_ICMP: u8 = 1;
/// `IPPROTO_IGMP`.
pub const IPPROTO_IGMP: u8 = 2;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u8 = 17;
/// `IPPROTO_DCCP`.
pub const IPPROTO_DCCP: u8 = 33;
/// `IPPROTO_GRE`.
pub const IPPROTO_GRE: u8 = 47;
/// `IPPROTO_ICMPV6`.
pub const IPPROTO_ICMPV6: u8 = 58;
/// `IPPROTO_SCTP`.
pub const IPPROTO_SCTP: u8 = 132;
/// `IPPROTO_UDPLITE`.
pub const IPPROTO_UDPLITE: u8 = 136;

/// The protocol name conntrack prints for a layer 4 protocol number, `None` where it prints
/// `unknown`.
pub fn l4_name(proto: u8) -> Option<&'static str> {
    Some(match proto {
        IPPROTO_TCP => "tcp",
        IPPROTO_UDP => "udp",
        IPPROTO_UDPLITE => "udplite",
        IPPROTO_ICMP => "icmp",
        IPPROTO_ICMPV6 => "icmpv6",
        IPPROTO_SCTP => "sctp",
        IPPROTO_GRE => "gre",
        IPPROTO_DCCP => "dccp",
        _ => return None,
    })
}

/// Whether the protocol's tuple carries source and destination ports.
pub fn has_ports(proto: u8) -> bool {
    matches!(
        proto,
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_UDPLITE | IPPROTO_SCTP | IPPROTO_DCCP
    )
}
