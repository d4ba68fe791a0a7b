//! Layer 3 decoding as conntrack sees a packet: where the layer 4 header starts and which
//! protocol it is (`ipv4_get_l4proto`, `ipv6_get_l4proto` + `ipv6_skip_exthdr` in
//! net/netfilter/nf_conntrack_core.c and net/ipv6/exthdrs_core.c), plus the Internet checksum
//! (`nf_checksum`) for `nf_conntrack_checksum`.
//!
//! The engine sees packets without defragmentation (`nf_defrag_ipv4/6` not modelled): a
//! non-first fragment has no layer 4 header, so the kernel's conntrack, handed one, finds no
//! protocol and counts it `invalid`. A first fragment is tracked from its (partial) payload.
//! Nothing here panics on any input: every read is bounds-checked.

/// Why a packet has no usable layer 3 header or no layer 4 protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L3Error {
    /// Not IPv4 or IPv6, or a header shorter than its fields say.
    Malformed,
    /// A non-first fragment (or an IPv6 packet with no next header): no layer 4 header.
    NoL4,
}

/// A decoded layer 3 header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct L3<'a> {
    /// 4 or 6.
    pub version: u8,
    /// Source address (4 or 16 bytes, borrowed from the packet).
    pub src: &'a [u8],
    /// Destination address.
    pub dst: &'a [u8],
    /// Layer 4 protocol number.
    pub proto: u8,
    /// Layer 4 header and payload, cut at the IP length (link padding removed).
    pub l4: &'a [u8],
    /// The whole IP packet as the IP length says (`skb->len`).
    pub ip_len: usize,
}

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Decodes an IPv4 or IPv6 header (the first nibble says which).
#[inline]
pub(crate) fn parse(pkt: &[u8]) -> Result<L3<'_>, L3Error> {
    match pkt.first().map(|b| b >> 4) {
        Some(4) => parse_v4(pkt),
        Some(6) => parse_v6(pkt),
        _ => Err(L3Error::Malformed),
    }
}

#[inline]
fn parse_v4(pkt: &[u8]) -> Result<L3<'_>, L3Error> {
    if pkt.len() < 20 {
        return Err(L3Error::Malformed);
    }
    let ihl = ((pkt[0] & 0x0f) as usize) * 4;
    let total = be16(pkt, 2).ok_or(L3Error::Malformed)? as usize;
    // ip_rcv_core would drop these before any hook runs.
    if ihl < 20 || total < ihl || total > pkt.len() {
        return Err(L3Error::Malformed);
    }
    let frag = be16(pkt, 6).ok_or(L3Error::Malformed)?;
    let (src, dst) = (&pkt[12..16], &pkt[16..20]);
    if frag & 0x1fff != 0 {
        return Err(L3Error::NoL4);
    }
    Ok(L3 {
        version: 4,
        src,
        dst,
        proto: pkt[9],
        l4: &pkt[ihl..total],
        ip_len: total,
    })
}

fn parse_v6(pkt: &[u8]) -> Result<L3<'_>, L3Error> {
    if pkt.len() < 40 {
        return Err(L3Error::Malformed);
    }
    let plen = be16(pkt, 4).ok_or(L3Error::Malformed)? as usize;
    parse_v6_len(pkt, plen)
}

fn parse_v6_len(pkt: &[u8], plen: usize) -> Result<L3<'_>, L3Error> {
    // A zero payload length is a jumbogram; take what we have.
    let end = if plen == 0 { pkt.len() } else { 40 + plen };
    if end > pkt.len() {
        return Err(L3Error::Malformed);
    }
    let pkt = &pkt[..end];
    let (src, dst) = (&pkt[8..24], &pkt[24..40]);
    let mut nexthdr = pkt[6];
    let mut off = 40usize;
    // ipv6_skip_exthdr: hop-by-hop, routing, fragment, AH, destination options.
    loop {
        match nexthdr {
            0 | 43 | 60 => {
                let len = (*pkt.get(off + 1).ok_or(L3Error::Malformed)? as usize + 1) * 8;
                nexthdr = pkt[off];
                off += len;
            }
            44 => {
                let fo = be16(pkt, off + 2).ok_or(L3Error::Malformed)?;
                nexthdr = pkt[off];
                off += 8;
                if fo & !0x7 != 0 {
                    return Err(L3Error::NoL4);
                }
            }
            51 => {
                let len = (*pkt.get(off + 1).ok_or(L3Error::Malformed)? as usize + 2) * 4;
                nexthdr = pkt[off];
                off += len;
            }
            59 => return Err(L3Error::NoL4),
            _ => break,
        }
        if off > pkt.len() {
            return Err(L3Error::Malformed);
        }
    }
    Ok(L3 {
        version: 6,
        src,
        dst,
        proto: nexthdr,
        l4: &pkt[off..],
        ip_len: pkt.len(),
    })
}

/// The packet embedded in an ICMP error: same family as the outer one, cut short (its
/// length fields are not checked), a non-first fragment has no tuple (`nf_ct_get_tuplepr`).
pub(crate) fn parse_inner(b: &[u8], version: u8) -> Result<L3<'_>, L3Error> {
    if b.first().map(|x| x >> 4) != Some(version) {
        return Err(L3Error::Malformed);
    }
    if version == 4 {
        if b.len() < 20 {
            return Err(L3Error::Malformed);
        }
        let ihl = ((b[0] & 0x0f) as usize) * 4;
        if ihl < 20 || ihl > b.len() {
            return Err(L3Error::Malformed);
        }
        if be16(b, 6).unwrap_or(0) & 0x1fff != 0 {
            return Err(L3Error::NoL4);
        }
        let (src, dst) = (&b[12..16], &b[16..20]);
        Ok(L3 {
            version: 4,
            src,
            dst,
            proto: b[9],
            l4: &b[ihl..],
            ip_len: b.len(),
        })
    } else {
        if b.len() < 40 {
            return Err(L3Error::Malformed);
        }
        // The payload length field is ignored: take what is present.
        parse_v6_len(b, b.len() - 40)
    }
}

/// Ones' complement sum of `data` added to `sum`.
fn sum16(mut sum: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [b] = chunks.remainder() {
        sum += (*b as u64) << 8;
    }
    sum
}

fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Whether the layer 4 checksum is right (`nf_checksum`): with the pseudo-header for TCP,
/// UDP and ICMPv6, without it for ICMP; over the whole segment. UDP's "no checksum" (0) is
/// the caller's business.
pub(crate) fn checksum_ok(l3: &L3<'_>) -> bool {
    checksum_cov_ok(l3, l3.l4.len())
}

/// The same over the first `cov` bytes only (`nf_checksum_partial`, UDP-Lite's coverage);
/// the pseudo-header still carries the whole length.
///
/// As in 6.18's `udplite_error`, UDP-Lite is checked with UDP's protocol number (17) in the
/// pseudo-header, where RFC 3828 senders put 136: a correctly summed UDP-Lite packet fails
/// (the kernel then calls it INVALID, "bad checksum"; seen on a veth with
/// `nf_conntrack_checksum=1`, while with 0 the same answer is tracked).
pub(crate) fn checksum_cov_ok(l3: &L3<'_>, cov: usize) -> bool {
    let l4 = l3.l4;
    let data = &l4[..cov.min(l4.len())];
    let pseudo_proto = if l3.proto == 136 { 17 } else { l3.proto };
    let pseudo = |mut s: u64| {
        s = sum16(s, l3.src);
        s = sum16(s, l3.dst);
        s += pseudo_proto as u64;
        s + l4.len() as u64
    };
    match l3.proto {
        1 => fold(sum16(0, data)) == 0xffff,
        6 | 17 | 136 | 58 => fold(sum16(pseudo(0), data)) == 0xffff,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(h: &str) -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn test_udplite_is_checked_with_udps_pseudo_header_protocol_like_the_kernel() {
        // A UDP-Lite datagram Linux sent (coverage 12, checksum 0xc9fb summed with 136).
        let mut p = hex("450000207bf1400040883a61c0000201c0000202b5361b5a000cc9fb6c697465");
        assert!(!checksum_cov_ok(&parse(&p).unwrap(), 12));
        // Summed with 17 instead (0xc9fb + 136 - 17 in ones' complement): accepted.
        p[26..28].copy_from_slice(&(0xc9fbu16 + 119).to_be_bytes());
        assert!(checksum_cov_ok(&parse(&p).unwrap(), 12));
        // UDP itself is unchanged: the same bytes as UDP with a correct sum pass.
        let mut u = p.clone();
        u[9] = 17;
        u[26..28].copy_from_slice(&0xc9fbu16.wrapping_add(119).to_be_bytes());
        assert!(checksum_ok(&parse(&u).unwrap()));
    }

    #[test]
    fn test_ipv4_options_move_the_l4_header() {
        let mut p = vec![0u8; 24 + 8];
        p[0] = 0x46;
        p[3] = 32;
        p[9] = 17;
        p[24] = 0x12;
        let l3 = parse(&p).unwrap();
        assert_eq!(l3.l4.len(), 8);
        assert_eq!(l3.l4[0], 0x12);
    }

    #[test]
    fn test_ipv4_non_first_fragment_has_no_l4() {
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[3] = 28;
        p[7] = 1; // offset 8 bytes
        assert_eq!(parse(&p).unwrap_err(), L3Error::NoL4);
        p[7] = 0;
        p[6] = 0x20; // MF only: first fragment
        assert!(parse(&p).is_ok());
    }

    #[test]
    fn test_ipv6_extension_headers_are_skipped() {
        let mut p = vec![0u8; 40 + 8 + 8 + 8];
        p[0] = 0x60;
        p[5] = 24;
        p[6] = 0; // hop-by-hop
        p[40] = 44; // -> fragment
        p[41] = 0;
        p[48] = 6; // -> tcp, offset 0
        let l3 = parse(&p).unwrap();
        assert_eq!(l3.proto, 6);
        assert_eq!(l3.l4.len(), 8);
        p[50] = 0x01; // fragment offset 32
        assert_eq!(parse(&p).unwrap_err(), L3Error::NoL4);
    }

    #[test]
    fn test_truncated_headers_are_malformed() {
        assert_eq!(parse(&[]).unwrap_err(), L3Error::Malformed);
        assert_eq!(parse(&[0x45; 10]).unwrap_err(), L3Error::Malformed);
        let mut p = vec![0u8; 20];
        p[0] = 0x45;
        p[3] = 40; // longer than the buffer
        assert_eq!(parse(&p).unwrap_err(), L3Error::Malformed);
    }
}
