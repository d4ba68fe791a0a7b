//! SCTP connection tracking (net/netfilter/nf_conntrack_proto_sctp.c, kernel 6.x): the state
//! table `sctp_conntracks[dir][chunk][state]` as data, the chunk sanity checks
//! (`do_basic_checks`), verification-tag checks (RFC 9260 8.5), ASSURED on entering
//! ESTABLISHED, timeouts by sysctl name, CRC32c when `nf_conntrack_checksum` is on.

use crate::packet::{be16, be32, L3};
use crate::table::Entry;
use crate::tracker::{ipct, Derived, L4Res};

/// `struct ip_ct_sctp`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, packed)]
pub(crate) struct SctpCt {
    /// `enum sctp_conntrack`.
    pub state: u8,
    /// Verification tag per direction.
    pub vtag: [u32; 2],
    /// `last_dir`.
    pub last_dir: u8,
    /// `flags` (`SCTP_FLAG_HEARTBEAT_VTAG_FAILED`).
    pub flags: u8,
}

/// `enum sctp_conntrack`.
pub(crate) mod st {
    pub const NO: u8 = 0;
    pub const CL: u8 = 1;
    pub const CW: u8 = 2;
    pub const CE: u8 = 3;
    pub const ES: u8 = 4;
    pub const SS: u8 = 5;
    pub const SR: u8 = 6;
    pub const SA: u8 = 7;
    pub const HS: u8 = 8;
    /// `SCTP_CONNTRACK_MAX`: invalid.
    pub const IV: u8 = 9;
}
use st::*;

/// Chunk types (RFC 9260).
mod cid {
    pub const DATA: u8 = 0;
    pub const INIT: u8 = 1;
    pub const INIT_ACK: u8 = 2;
    pub const HEARTBEAT: u8 = 4;
    pub const HEARTBEAT_ACK: u8 = 5;
    pub const ABORT: u8 = 6;
    pub const SHUTDOWN: u8 = 7;
    pub const SHUTDOWN_ACK: u8 = 8;
    pub const ERROR: u8 = 9;
    pub const COOKIE_ECHO: u8 = 10;
    pub const COOKIE_ACK: u8 = 11;
    pub const SHUTDOWN_COMPLETE: u8 = 14;
}

const HEARTBEAT_VTAG_FAILED: u8 = 1;
const FLAG_T: u8 = 1;

/// `sctp_conntracks[dir][row][state]`; rows: init, init_ack, abort, shutdown, shutdown_ack,
/// error, cookie_echo, cookie_ack, shutdown_comp, heartbeat, heartbeat_ack.
pub(crate) const SCTP_CONNTRACKS: [[[u8; 9]; 11]; 2] = [
    [
        //  NO  CL  CW  CE  ES  SS  SR  SA  HS
        [CL, CL, CW, CE, ES, CL, CL, SA, CW],
        [CL, CL, CW, CE, ES, SS, SR, SA, CL],
        [CL, CL, CL, CL, CL, CL, CL, CL, CL],
        [CL, CL, CW, CE, SS, SS, SR, SA, CL],
        [SA, CL, CW, CE, ES, SA, SA, SA, SA],
        [CL, CL, CW, CE, ES, SS, SR, SA, CL],
        [CL, CL, CE, CE, ES, SS, SR, SA, CL],
        [CL, CL, CW, CE, ES, SS, SR, SA, CL],
        [CL, CL, CW, CE, ES, SS, SR, CL, CL],
        [HS, CL, CW, CE, ES, SS, SR, SA, HS],
        [CL, CL, CW, CE, ES, SS, SR, SA, HS],
    ],
    [
        [IV, CL, CW, CE, ES, SS, SR, SA, IV],
        [IV, CW, CW, CE, ES, SS, SR, SA, IV],
        [IV, CL, CL, CL, CL, CL, CL, CL, IV],
        [IV, CL, CW, CE, SR, SS, SR, SA, IV],
        [IV, CL, CW, CE, ES, SA, SA, SA, IV],
        [IV, CL, CW, CL, ES, SS, SR, SA, IV],
        [IV, CL, CW, CE, ES, SS, SR, SA, IV],
        [IV, CL, CW, ES, ES, SS, SR, SA, IV],
        [IV, CL, CW, CE, ES, SS, SR, CL, IV],
        [IV, CL, CW, CE, ES, SS, SR, SA, HS],
        [IV, CL, CW, CE, ES, SS, SR, SA, ES],
    ],
];

/// `sctp_new_state`.
fn new_state(dir: usize, cur: u8, chunk: u8) -> u8 {
    let row = match chunk {
        cid::INIT => 0,
        cid::INIT_ACK => 1,
        cid::ABORT => 2,
        cid::SHUTDOWN => 3,
        cid::SHUTDOWN_ACK => 4,
        cid::ERROR => 5,
        cid::COOKIE_ECHO => 6,
        cid::COOKIE_ACK => 7,
        cid::SHUTDOWN_COMPLETE => 8,
        cid::HEARTBEAT => 9,
        cid::HEARTBEAT_ACK => 10,
        _ => return cur,
    };
    SCTP_CONNTRACKS[dir][row][cur.min(8) as usize]
}

/// `sctp_can_early_drop`.
pub(crate) fn can_early_drop(state: u8) -> bool {
    matches!(state, SS | SR | SA)
}

/// The chunks: (offset, type, flags) in order (`for_each_sctp_chunk`).
fn chunks(l4: &[u8]) -> impl Iterator<Item = (usize, u8, u8, u16)> + '_ {
    let mut off = 12usize;
    std::iter::from_fn(move || {
        if off >= l4.len() || off + 4 > l4.len() {
            return None;
        }
        let ty = l4[off];
        let fl = l4[off + 1];
        let len = be16(l4, off + 2)?;
        let here = off;
        off += (len as usize + 3) & !3;
        if len == 0 {
            off = l4.len(); // the basic checks refuse this packet anyway
        }
        Some((here, ty, fl, len))
    })
}

/// `do_basic_checks`: the set of chunk types, or `None` when the packet is refused.
fn basic_checks(l4: &[u8]) -> Option<[u64; 4]> {
    let mut map = [0u64; 4];
    let mut flag = false;
    let mut count = 0;
    for (_, ty, _, len) in chunks(l4) {
        if matches!(ty, cid::INIT | cid::INIT_ACK | cid::SHUTDOWN_COMPLETE) {
            flag = true;
        }
        if ((ty == cid::COOKIE_ACK || ty == cid::COOKIE_ECHO || flag) && count != 0) || len == 0 {
            return None;
        }
        map[(ty / 64) as usize] |= 1 << (ty % 64);
        count += 1;
    }
    if count == 0 {
        None
    } else {
        Some(map)
    }
}

fn has(map: &[u64; 4], ty: u8) -> bool {
    map[(ty / 64) as usize] & (1 << (ty % 64)) != 0
}

/// CRC32c (Castagnoli, reflected), as SCTP's checksum.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn checksum_ok(l4: &[u8]) -> bool {
    let mut copy = l4.to_vec();
    copy[8..12].fill(0);
    let c = crc32c(&copy);
    // The checksum is stored in network order of the little-endian CRC.
    l4[8..12] == c.to_le_bytes()
}

/// `sctp_new`: the initial state for a new entry, or `None`.
fn sctp_new(l4: &[u8], vtag: u32) -> Option<SctpCt> {
    let mut ct = SctpCt::default();
    for (off, ty, _, _) in chunks(l4) {
        let ns = new_state(0, NO, ty);
        if ns == NO || ns == IV {
            return None;
        }
        if ty == cid::INIT {
            if vtag != 0 {
                return None;
            }
            ct.vtag[1] = be32(l4, off + 4)?;
        } else if ty == cid::HEARTBEAT {
            ct.vtag[0] = vtag;
        } else {
            ct.vtag[1] = vtag;
        }
        ct.state = NO;
    }
    Some(ct)
}

/// `nf_conntrack_sctp_packet`.
pub(crate) fn packet<A>(
    e: &mut Entry<A>,
    dir: usize,
    new: bool,
    l4: &[u8],
    _l3: &L3<'_>,
    d: &Derived,
) -> L4Res {
    if l4.len() < 12 {
        return L4Res::Invalid;
    }
    if d.checksum && !checksum_ok(l4) {
        return L4Res::Invalid;
    }
    let Some(vtag) = be32(l4, 4) else {
        return L4Res::Invalid;
    };
    let Some(map) = basic_checks(l4) else {
        return L4Res::Invalid;
    };
    if new {
        if has(&map, cid::ABORT) || has(&map, cid::SHUTDOWN_COMPLETE) || has(&map, cid::COOKIE_ACK)
        {
            return L4Res::Invalid;
        }
        match sctp_new(l4, vtag) {
            Some(ct) => e.proto.set(crate::proto::ProtoState::Sctp(ct)),
            None => return L4Res::Invalid,
        }
    }
    let crate::proto::ProtoState::Sctp(mut ct) = e.proto.get() else {
        return L4Res::Invalid;
    };
    if ![
        cid::INIT,
        cid::SHUTDOWN_COMPLETE,
        cid::COOKIE_ECHO,
        cid::ABORT,
        cid::SHUTDOWN_ACK,
        cid::HEARTBEAT,
        cid::HEARTBEAT_ACK,
    ]
    .iter()
    .any(|t| has(&map, *t))
        && vtag != ct.vtag[dir]
    {
        return L4Res::Invalid;
    }
    let mut ignore = false;
    let mut bits = 0;
    let mut ns = NO;
    let rdir = 1 - dir;
    for (off, ty, fl, _) in chunks(l4) {
        match ty {
            cid::INIT if vtag != 0 => return invalid(e, ct),
            cid::ABORT | cid::SHUTDOWN_COMPLETE => {
                let want = if fl & FLAG_T == 0 {
                    ct.vtag[dir]
                } else {
                    ct.vtag[rdir]
                };
                if vtag != want {
                    return invalid(e, ct);
                }
            }
            cid::COOKIE_ECHO if vtag != ct.vtag[dir] => return invalid(e, ct),
            cid::HEARTBEAT | cid::HEARTBEAT_ACK => {
                if ct.vtag[dir] == 0 {
                    ct.vtag[dir] = vtag;
                } else if vtag != ct.vtag[dir] {
                    if has(&map, cid::DATA) || ignore {
                        return invalid(e, ct);
                    }
                    if ty == cid::HEARTBEAT {
                        ct.flags |= HEARTBEAT_VTAG_FAILED;
                        ct.last_dir = dir as u8;
                        ignore = true;
                        continue;
                    }
                    if ct.flags & HEARTBEAT_VTAG_FAILED == 0 || ct.last_dir as usize == dir {
                        return invalid(e, ct);
                    }
                    ct.flags &= !HEARTBEAT_VTAG_FAILED;
                    ct.vtag[dir] = vtag;
                    ct.vtag[rdir] = 0;
                } else if ct.flags & HEARTBEAT_VTAG_FAILED != 0 {
                    ct.flags &= !HEARTBEAT_VTAG_FAILED;
                }
            }
            _ => {}
        }
        let old = ct.state;
        ns = new_state(dir, old, ty);
        if ns == IV {
            return invalid(e, ct);
        }
        if ty == cid::INIT || ty == cid::INIT_ACK {
            let Some(tag) = be32(l4, off + 4) else {
                return invalid(e, ct);
            };
            ct.vtag[rdir] = tag;
            if ns == CL && old == CL && !new {
                ignore = true;
            }
        }
        ct.state = ns;
        if old != ns {
            bits |= ipct::PROTOINFO;
            if ns == ES && e.status & (1 << 2) == 0 {
                e.status |= 1 << 2;
                bits |= ipct::ASSURED;
            }
        }
    }
    e.proto.set(crate::proto::ProtoState::Sctp(ct));
    let timeout = if ignore {
        if new {
            Some(d.sctp[ns as usize])
        } else {
            None
        }
    } else {
        Some(d.sctp[ns as usize])
    };
    L4Res::Accept {
        timeout,
        bits,
        kill: false,
    }
}

/// `goto out_unlock`: changes made before the failing chunk stay.
fn invalid<A>(e: &mut Entry<A>, ct: SctpCt) -> L4Res {
    e.proto.set(crate::proto::ProtoState::Sctp(ct));
    L4Res::Invalid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_crc32c_known_vector() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn test_basic_checks_refuse_init_with_other_chunks() {
        let mut p = vec![0u8; 12];
        p.extend_from_slice(&[cid::INIT, 0, 0, 20]);
        p.extend_from_slice(&[0; 16]);
        assert!(basic_checks(&p).is_some());
        p.extend_from_slice(&[cid::DATA, 0, 0, 4]);
        assert!(basic_checks(&p).is_none());
        assert!(basic_checks(&[0u8; 12]).is_none());
    }
}
