//! A small packet builder for tests, fuzzing seeds and benchmarks: IPv4/IPv6 headers with
//! TCP, UDP, ICMP and raw payloads, checksums filled in.

use std::net::IpAddr;

/// TCP flag bits for [`tcp`].
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
}

fn sum16(mut s: u32, d: &[u8]) -> u32 {
    let mut c = d.chunks_exact(2);
    for w in &mut c {
        s += u16::from_be_bytes([w[0], w[1]]) as u32;
    }
    if let [b] = c.remainder() {
        s += (*b as u32) << 8;
    }
    s
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Wraps a layer 4 segment in an IPv4 or IPv6 header (the family of `src`), filling the
/// layer 4 checksum at `csum_at` (if any) with the pseudo-header when `pseudo`.
pub fn ip(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    mut l4: Vec<u8>,
    csum_at: Option<usize>,
    pseudo: bool,
) -> Vec<u8> {
    if let Some(at) = csum_at {
        l4[at] = 0;
        l4[at + 1] = 0;
        let mut s = 0;
        if pseudo {
            match (src, dst) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    s = sum16(s, &a.octets());
                    s = sum16(s, &b.octets());
                }
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    s = sum16(s, &a.octets());
                    s = sum16(s, &b.octets());
                }
                _ => {}
            }
            s += proto as u32 + l4.len() as u32;
        }
        let c = fold(sum16(s, &l4));
        l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    match (src, dst) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let total = 20 + l4.len();
            let mut p = Vec::with_capacity(total);
            p.extend_from_slice(&[
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                0,
                0x40,
                0,
                64,
                proto,
                0,
                0,
            ]);
            p.extend_from_slice(&a.octets());
            p.extend_from_slice(&b.octets());
            let c = fold(sum16(0, &p[..20]));
            p[10..12].copy_from_slice(&c.to_be_bytes());
            p.extend_from_slice(&l4);
            p
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mut p = Vec::with_capacity(40 + l4.len());
            let len = l4.len() as u16;
            p.extend_from_slice(&[0x60, 0, 0, 0]);
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&[proto, 64]);
            p.extend_from_slice(&a.octets());
            p.extend_from_slice(&b.octets());
            p.extend_from_slice(&l4);
            p
        }
        _ => Vec::new(),
    }
}

/// A TCP segment's fields.
#[derive(Clone, Debug)]
pub struct Tcp<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags (see [`flags`]).
    pub flags: u8,
    /// Window.
    pub win: u16,
    /// Options (padded to 4 bytes with NOPs... no: with EOL zeros).
    pub opts: &'a [u8],
    /// Payload.
    pub payload: &'a [u8],
}

impl Tcp<'static> {
    /// A segment with no options and no payload, window 64240 (a Linux client's first
    /// window): what the tests and benches send when only ports, numbers and flags matter.
    pub fn bare(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8) -> Tcp<'static> {
        Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            win: 64240,
            opts: &[],
            payload: b"",
        }
    }
}

/// A TCP packet over IPv4/IPv6.
pub fn tcp(src: IpAddr, dst: IpAddr, t: &Tcp<'_>) -> Vec<u8> {
    let olen = t.opts.len().div_ceil(4) * 4;
    let doff = 20 + olen;
    let mut l4 = vec![0u8; doff];
    l4[0..2].copy_from_slice(&t.sport.to_be_bytes());
    l4[2..4].copy_from_slice(&t.dport.to_be_bytes());
    l4[4..8].copy_from_slice(&t.seq.to_be_bytes());
    l4[8..12].copy_from_slice(&t.ack.to_be_bytes());
    l4[12] = ((doff / 4) as u8) << 4;
    l4[13] = t.flags;
    l4[14..16].copy_from_slice(&t.win.to_be_bytes());
    l4[20..20 + t.opts.len()].copy_from_slice(t.opts);
    l4.extend_from_slice(t.payload);
    ip(src, dst, 6, l4, Some(16), true)
}

/// A UDP packet.
pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut l4 = Vec::with_capacity(len);
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&(len as u16).to_be_bytes());
    l4.extend_from_slice(&[0, 0]);
    l4.extend_from_slice(payload);
    ip(src, dst, 17, l4, Some(6), true)
}

/// An ICMP (IPv4) or ICMPv6 message: type, code, the 4 bytes after the checksum (id and
/// sequence for echo) and a body (the embedded packet for errors).
pub fn icmp(src: IpAddr, dst: IpAddr, ty: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut l4 = vec![ty, code, 0, 0];
    l4.extend_from_slice(&rest);
    l4.extend_from_slice(body);
    match src {
        IpAddr::V4(_) => ip(src, dst, 1, l4, Some(2), false),
        IpAddr::V6(_) => ip(src, dst, 58, l4, Some(2), true),
    }
}

/// An echo request (`reply` false) or reply with identifier `id`.
pub fn ping(src: IpAddr, dst: IpAddr, id: u16, seq: u16, reply: bool) -> Vec<u8> {
    let ty = match (src, reply) {
        (IpAddr::V4(_), false) => 8,
        (IpAddr::V4(_), true) => 0,
        (IpAddr::V6(_), false) => 128,
        (IpAddr::V6(_), true) => 129,
    };
    let mut rest = [0u8; 4];
    rest[..2].copy_from_slice(&id.to_be_bytes());
    rest[2..].copy_from_slice(&seq.to_be_bytes());
    icmp(src, dst, ty, 0, rest, b"ping")
}
