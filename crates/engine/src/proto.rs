//! Per-protocol entry state (`union nf_conntrack_proto`) and the tuple extraction of each
//! layer 4 protocol (`nf_ct_get_tuple`, `gre_pkt_to_tuple`, `icmp_pkt_to_tuple`).

use crate::packet::be16;
use crate::sctp::SctpCt;
use crate::tcp::TcpCt;

/// `union nf_conntrack_proto`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ProtoState {
    /// Generic layer 4, ICMP, ICMPv6: no state.
    None,
    /// `struct ip_ct_tcp`.
    Tcp(TcpCt),
    /// `struct nf_ct_udp`: `stream_ts` (jiffies on the wrapping clock).
    Udp { stream_ts: u32 },
    /// `struct ip_ct_sctp`.
    Sctp(SctpCt),
}

/// `IPPROTO_*` numbers the tracker has modules for.
pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;
pub(crate) const UDPLITE: u8 = 136;
pub(crate) const ICMP: u8 = 1;
pub(crate) const ICMPV6: u8 = 58;
pub(crate) const SCTP: u8 = 132;
pub(crate) const DCCP: u8 = 33;
pub(crate) const GRE: u8 = 47;

/// The layer 4 part of a tuple: (sport, dport) as the table keys them, or `None` when the
/// header is too short (or, for GRE, not PPP in version 1).
#[inline]
pub(crate) fn l4_ports(proto: u8, l4: &[u8]) -> Option<(u16, u16)> {
    match proto {
        TCP | UDP | UDPLITE | SCTP | DCCP => Some((be16(l4, 0)?, be16(l4, 2)?)),
        ICMP | ICMPV6 => {
            if l4.len() < 8 {
                return None;
            }
            Some((be16(l4, 4)?, (l4[0] as u16) << 8 | l4[1] as u16))
        }
        GRE => {
            // Only PPTP (version 1) GRE has keys; without the pptp helper's keymap the
            // source key is 0.
            let Some(flags) = be16(l4, 0) else {
                return Some((0, 0));
            };
            if flags & 0x7 != 1 {
                return Some((0, 0));
            }
            if l4.len() < 8 {
                return Some((0, 0));
            }
            if be16(l4, 2)? != 0x880b {
                return None;
            }
            Some((0, be16(l4, 6)?))
        }
        _ => Some((0, 0)),
    }
}
