//! Per-protocol entry state (`union nf_conntrack_proto`) and the tuple extraction of each
//! layer 4 protocol (`nf_ct_get_tuple`, `gre_pkt_to_tuple`, `icmp_pkt_to_tuple`).

use crate::packet::be16;
use crate::sctp::SctpCt;
use crate::tcp::TcpCt;

/// `union nf_conntrack_proto`, as a value: what [`ProtoRec::get`] reads out of an entry.
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

/// Tags of [`ProtoRec`].
const TAG_NONE: u8 = 0;
const TAG_TCP: u8 = 1;
const TAG_UDP: u8 = 2;
const TAG_SCTP: u8 = 3;

/// Payload bytes of [`ProtoRec`]: the largest state (`TcpCt`, packed).
const PAYLOAD: usize = std::mem::size_of::<TcpCt>();

/// `union nf_conntrack_proto` as it is stored in the slab: a tag byte and the bytes of the
/// protocol's state, a plain-old-data record (so the slab can live in a mapping viewed
/// through `bytemuck`). [`ProtoRec::tcp_mut`] gives the TCP code a typed view in place.
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, packed)]
pub(crate) struct ProtoRec {
    tag: u8,
    data: [u8; PAYLOAD],
}

impl ProtoRec {
    /// No state (generic protocols, ICMP).
    pub const NONE: ProtoRec = ProtoRec {
        tag: TAG_NONE,
        data: [0; PAYLOAD],
    };

    /// Stores `s`.
    #[inline]
    pub fn set(&mut self, s: ProtoState) {
        self.data = [0; PAYLOAD];
        self.tag = match s {
            ProtoState::None => TAG_NONE,
            ProtoState::Tcp(ct) => {
                self.data.copy_from_slice(bytemuck::bytes_of(&ct));
                TAG_TCP
            }
            ProtoState::Udp { stream_ts } => {
                self.data[..4].copy_from_slice(&stream_ts.to_ne_bytes());
                TAG_UDP
            }
            ProtoState::Sctp(ct) => {
                let b = bytemuck::bytes_of(&ct);
                self.data[..b.len()].copy_from_slice(b);
                TAG_SCTP
            }
        };
    }

    /// The state as a value (a copy).
    #[inline]
    pub fn get(&self) -> ProtoState {
        let data = &self.data;
        match self.tag {
            TAG_TCP => ProtoState::Tcp(bytemuck::pod_read_unaligned(data)),
            TAG_UDP => ProtoState::Udp {
                stream_ts: u32::from_ne_bytes([data[0], data[1], data[2], data[3]]),
            },
            TAG_SCTP => ProtoState::Sctp(bytemuck::pod_read_unaligned(
                &data[..std::mem::size_of::<SctpCt>()],
            )),
            // Only `set` writes the tag: any other value is the zeroed record.
            _ => ProtoState::None,
        }
    }

    /// The TCP state in place, if the record holds one.
    #[inline]
    pub fn tcp_mut(&mut self) -> Option<&mut TcpCt> {
        if self.tag != TAG_TCP {
            return None;
        }
        Some(bytemuck::from_bytes_mut(&mut self.data))
    }
}

/// `IPPROTO_*` numbers the tracker has modules for.
pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;
pub(crate) const UDPLITE: u8 = 136;
pub(crate) const ICMP: u8 = 1;
pub(crate) const ICMPV6: u8 = 58;
pub(crate) const SCTP: u8 = 132;
pub(crate) const GRE: u8 = 47;

/// The layer 4 part of a tuple: (sport, dport) as the table keys them, or `None` when the
/// header is too short (or, for GRE, not PPP in version 1).
#[inline]
pub(crate) fn l4_ports(proto: u8, l4: &[u8]) -> Option<(u16, u16)> {
    match proto {
        // DCCP has no tracker on 6.18 (no nf_conntrack_dccp_* sysctls): generic, no ports.
        TCP | UDP | UDPLITE | SCTP => Some((be16(l4, 0)?, be16(l4, 2)?)),
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
