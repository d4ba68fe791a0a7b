//! IP reassembly before tracking, as the kernel's `nf_defrag_ipv4` / `nf_defrag_ipv6` do for
//! conntrack (loaded with it, hooked before it at priority -400): conntrack never sees a
//! fragment, only the whole datagram, at the time its last missing fragment arrives.
//! Follows `net/ipv4/ip_fragment.c`, `net/ipv6/netfilter/nf_conntrack_reasm.c` and
//! `net/ipv4/inet_fragment.c`:
//!
//! - queues keyed by (source, destination, identification, protocol) for IPv4 and (source,
//!   destination, identification) for IPv6;
//! - `inet_frag_queue_insert`'s runs: a fragment wholly inside a run of fragments already
//!   held is a duplicate (dropped, its queue kept), one that overlaps otherwise drops its
//!   whole queue (RFC 5722; Linux does the same for IPv4 since 4.19);
//! - a fragment ending beyond the last one, or a second last one ending elsewhere, or an
//!   empty one: IPv4 drops the queue, IPv6 the fragment only;
//! - a non-last IPv4 fragment is cut to a multiple of 8; a non-last IPv6 fragment that is
//!   not one kills its queue and goes on to conntrack as it is, as does an IPv6 first
//!   fragment without its whole upper-layer header (`ipv6frag_thdr_truncated`, RFC 8200
//!   section 4.5); an IPv6 fragment ending beyond 65535 bytes is dropped; a datagram longer
//!   than 65535 bytes (IPv4 total length, IPv6 payload length) is dropped when complete;
//! - queues expire after `ipfrag_time` (30 s) / `ip6frag_time` (60 s) from their first
//!   fragment; while all queues together hold more than `ipfrag_high_thresh` (4 MiB) of
//!   fragments (payload plus a per-fragment overhead, as the kernel charges `truesize`, and
//!   each queue's own size, as it charges `qsize`), every fragment is dropped;
//! - the datagram is rebuilt from the first fragment's header: IPv4 with its total length,
//!   no fragment bits and a fresh header checksum; IPv6 with the unfragmentable headers
//!   (hop-by-hop, routing, destination options, authentication), the fragment header taken
//!   out and the payload length set.
//!
//! Not modelled: `ipfrag_max_dist`, the ECN mix check (`ip_frag_ecn_table`), the incoming
//! interface in the IPv6 key (a capture of several interfaces keys on addresses only).
//!
//! An atomic fragment (offset 0, no more fragments) is not a fragment.

use super::driver::Fate;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// `ipfrag_time`, nanoseconds.
const IPV4_TIMEOUT: u64 = 30_000_000_000;
/// `ip6frag_time`, nanoseconds.
const IPV6_TIMEOUT: u64 = 60_000_000_000;
/// `ipfrag_high_thresh` / `ip6frag_high_thresh`: fragment bytes all queues may hold.
const HIGH_THRESH: usize = 4 << 20;
/// What a held fragment costs besides its payload, as the kernel charges an skb's
/// `truesize` (its metadata and buffer): many tiny fragments fill the limit too.
const FRAG_OVERHEAD: usize = 768;
/// What a queue costs by itself (`struct ipq` / `frag_queue` on 64-bit, charged as
/// `inet_frag_alloc` charges `qsize`): queues that hold no fragment fill the limit too.
const QUEUE_COST: usize = 192;
/// The largest datagram.
const MAX_DATAGRAM: usize = 65535;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    /// IPv4's protocol; 0 for IPv6 (not part of its key).
    proto: u8,
}

/// One datagram being reassembled.
struct Queue {
    /// When its first fragment came (the queue expires from then).
    since: u64,
    /// The first fragment's headers (IPv4 header; IPv6 unfragmentable part with the
    /// fragment's next header already written into it), once seen.
    head: Option<Vec<u8>>,
    /// Fragments as (offset, payload), sorted by offset.
    parts: Vec<(usize, Vec<u8>)>,
    /// The runs of `inet_frag_queue_insert` as (start, end), sorted: a fragment that
    /// starts where the highest one ends joins its run, any other starts a run of its own.
    /// A fragment wholly inside one run is a duplicate; one that meets a run otherwise
    /// overlaps.
    runs: Vec<(usize, usize)>,
    /// `q.len`: the highest end seen, or the datagram's length once the last fragment came.
    len: usize,
    /// `INET_FRAG_LAST_IN`: the last fragment came.
    last_in: bool,
    /// `q.meat`: payload bytes held (no two fragments overlap).
    meat: usize,
    /// Bytes charged against the limit (the queue's own size and its fragments').
    bytes: usize,
    v6: bool,
}

/// A fragment, parsed.
struct Frag<'a> {
    key: Key,
    v6: bool,
    offset: usize,
    more: bool,
    payload: &'a [u8],
    /// The headers to rebuild the datagram from (used from the offset-0 fragment).
    head: &'a [u8],
    /// IPv6: where in `head` the next-header byte naming the fragment header is, and the
    /// fragment's next header to write there.
    next: Option<(usize, u8)>,
    /// IPv6: a first fragment without its whole upper-layer header.
    truncated: bool,
}

impl Frag<'_> {
    /// The rebuilt datagram's headers.
    fn head(&self) -> Vec<u8> {
        let mut h = self.head.to_vec();
        if let Some((at, next)) = self.next {
            h[at] = next;
        }
        h
    }
}

/// The reassembly state of one replay.
#[derive(Default)]
pub struct Defrag {
    queues: HashMap<Key, Queue>,
    bytes: usize,
    /// Queues by creation time, per family (one timeout each, so each list expires from
    /// its front): (created, key).
    order: [VecDeque<(u64, Key)>; 2],
}

fn be16(b: &[u8], i: usize) -> Option<usize> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]) as usize)
}

/// The length of an IPv6 extension header from its length byte (`ipv6_authlen` for the
/// authentication header, `ipv6_optlen` for the others).
fn ext_len(next: u8, len: u8) -> usize {
    if next == 51 {
        (usize::from(len) + 2) * 4
    } else {
        (usize::from(len) + 1) * 8
    }
}

/// `ipv6frag_thdr_truncated` for the fragment header at `fh`: whether the extension headers
/// after it and the upper-layer header (TCP 20 bytes, UDP and ICMPv6 8, any other 1) end
/// beyond the packet. A chain that cannot be read is not "truncated" (the kernel queues it).
fn upper_truncated(l3: &[u8], fh: usize) -> bool {
    let mut next = 44;
    let mut pos = fh;
    while matches!(next, 0 | 43 | 44 | 51 | 59 | 60) {
        let (Some(&n), Some(&len)) = (l3.get(pos), l3.get(pos + 1)) else {
            return false;
        };
        if next == 59 {
            return false;
        }
        let hdr = if next == 44 {
            // A fragment header further on with an offset: the chain ends there.
            if be16(l3, pos + 2).is_none_or(|fo| fo & 0xfff8 != 0) {
                return false;
            }
            8
        } else {
            ext_len(next, len)
        };
        next = n;
        pos += hdr;
    }
    let upper = match next {
        6 => 20,
        17 | 58 => 8,
        _ => 1,
    };
    pos + upper > l3.len()
}

/// Whether `l3` is a fragment (cheap: IPv4 flags/offset; IPv6 next headers).
pub fn is_fragment(l3: &[u8]) -> bool {
    match l3.first().map(|b| b >> 4) {
        Some(4) => be16(l3, 6).is_some_and(|f| f & 0x3fff != 0),
        Some(6) => matches!(l3.get(6), Some(0 | 43 | 44 | 51 | 60)) && parse(l3).is_some(),
        _ => false,
    }
}

/// Parses a fragment (`None`: not one, or too short to be read).
fn parse(l3: &[u8]) -> Option<Frag<'_>> {
    match l3.first()? >> 4 {
        4 => {
            let ihl = usize::from(l3[0] & 0x0f) * 4;
            let tot = be16(l3, 2)?.min(l3.len());
            if ihl < 20 || tot < ihl {
                return None;
            }
            let flags = be16(l3, 6)?;
            let (more, offset) = (flags & 0x2000 != 0, (flags & 0x1fff) * 8);
            if !more && offset == 0 {
                return None;
            }
            let src: [u8; 4] = l3.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = l3.get(16..20)?.try_into().ok()?;
            let mut payload = &l3[ihl..tot];
            if more {
                payload = &payload[..payload.len() & !7];
            }
            Some(Frag {
                key: Key {
                    src: src.into(),
                    dst: dst.into(),
                    id: be16(l3, 4)? as u32,
                    proto: l3[9],
                },
                v6: false,
                offset,
                more,
                payload,
                head: &l3[..ihl],
                next: None,
                truncated: false,
            })
        }
        6 => {
            let end = (40 + be16(l3, 4)?).min(l3.len());
            let mut next = *l3.get(6)?;
            // Where the next-header byte that names the fragment header is.
            let mut next_at = 6;
            let mut pos = 40;
            while matches!(next, 0 | 43 | 51 | 60) {
                let len = ext_len(next, *l3.get(pos + 1)?);
                next = l3[pos];
                next_at = pos;
                pos += len;
            }
            if next != 44 || pos + 8 > end {
                return None;
            }
            let fo = be16(l3, pos + 2)?;
            let (more, offset) = (fo & 1 != 0, fo & 0xfff8);
            if !more && offset == 0 {
                return None;
            }
            let src: [u8; 16] = l3.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = l3.get(24..40)?.try_into().ok()?;
            let id = u32::from_be_bytes(l3.get(pos + 4..pos + 8)?.try_into().ok()?);
            Some(Frag {
                key: Key {
                    src: src.into(),
                    dst: dst.into(),
                    id,
                    proto: 0,
                },
                v6: true,
                offset,
                more,
                payload: &l3[pos + 8..end],
                head: &l3[..pos],
                next: Some((next_at, l3[pos])),
                truncated: offset == 0 && upper_truncated(&l3[..end], pos),
            })
        }
        _ => None,
    }
}

/// The IPv4 header checksum over `h` (its checksum field zero).
fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl Defrag {
    /// A reassembler with no queue.
    pub fn new() -> Defrag {
        Defrag::default()
    }

    /// Takes one packet at `now` (`l3`: IP header first). A whole packet is left alone
    /// ([`Fate::Whole`]); a fragment is kept or dropped; the one that completes its datagram
    /// writes the datagram into `out` (cleared first) and gives [`Fate::Reassembled`].
    pub fn push(&mut self, now: u64, l3: &[u8], out: &mut Vec<u8>) -> Fate {
        let Some(f) = parse(l3) else {
            return Fate::Whole;
        };
        if f.truncated {
            // nf_ct_frag6_gather passes it on untouched: conntrack reads what it can.
            return Fate::Whole;
        }
        self.expire(now);
        let end = f.offset + f.payload.len();
        if f.v6 && end > MAX_DATAGRAM {
            // "offset is too large": this fragment only.
            return Fate::Dropped;
        }
        // inet_frag_find: no queue is found or made while the fragments held exceed the
        // limit.
        if self.bytes > HIGH_THRESH {
            return Fate::Dropped;
        }
        let cost = f.payload.len() + FRAG_OVERHEAD;
        // Completed queues leave their entry in `order` until it expires: drop such
        // entries when they outnumber the live queues, so the list stays as small.
        let live = self.queues.len();
        let order = &mut self.order[usize::from(f.v6)];
        if order.len() > 2 * live + 1024 {
            let queues = &self.queues;
            order.retain(|(since, key)| queues.get(key).is_some_and(|q| q.since == *since));
        }
        let total = &mut self.bytes;
        let q = self.queues.entry(f.key).or_insert_with(|| {
            order.push_back((now, f.key));
            *total += QUEUE_COST;
            Queue {
                since: now,
                head: None,
                parts: Vec::new(),
                runs: Vec::new(),
                len: 0,
                last_in: false,
                meat: 0,
                bytes: QUEUE_COST,
                v6: f.v6,
            }
        });
        // ip_frag_queue / nf_ct_frag6_queue: the last fragment fixes the length; nothing
        // may lie beyond it, nor may two last fragments disagree. IPv4 drops the queue for
        // such a corruption or an empty fragment, IPv6 only the fragment (but keeps what it
        // learnt of the length); a non-last IPv6 fragment not a multiple of 8 bytes kills
        // the queue and goes on untouched (-EPROTO).
        let bad_end = if f.more {
            if f.v6 && end % 8 != 0 {
                self.kill(&f.key);
                return Fate::Whole;
            }
            let bad = end > q.len && q.last_in;
            if !bad {
                q.len = q.len.max(end);
            }
            bad
        } else {
            let bad = end < q.len || (q.last_in && end != q.len);
            if !bad {
                q.last_in = true;
                q.len = end;
            }
            bad
        };
        if bad_end || end == f.offset {
            if !f.v6 {
                self.kill(&f.key);
            }
            return Fate::Dropped;
        }
        // inet_frag_queue_insert.
        let runs = &mut q.runs;
        match runs.last_mut() {
            Some(last) if last.1 < end => {
                if f.offset < last.1 {
                    self.kill(&f.key);
                    return Fate::Dropped;
                }
                if f.offset == last.1 {
                    last.1 = end;
                } else {
                    runs.push((f.offset, end));
                }
            }
            None => runs.push((f.offset, end)),
            Some(_) => match runs.iter().find(|&&(a, b)| f.offset < b && a < end) {
                Some(&(a, b)) => {
                    if f.offset < a || end > b {
                        self.kill(&f.key);
                    }
                    // A duplicate is dropped, its queue kept.
                    return Fate::Dropped;
                }
                None => {
                    let at = runs.partition_point(|&(a, _)| a < f.offset);
                    runs.insert(at, (f.offset, end));
                }
            },
        }
        if f.offset == 0 {
            q.head = Some(f.head());
        }
        let at = q.parts.partition_point(|(o, _)| *o < f.offset);
        q.parts.insert(at, (f.offset, f.payload.to_vec()));
        q.meat += f.payload.len();
        q.bytes += cost;
        self.bytes += cost;
        // Complete: the first and last fragments came, and no hole is left.
        let Some(head) = q.head.as_ref().filter(|_| q.last_in && q.meat == q.len) else {
            return Fate::Held;
        };
        // ip_frag_reasm's out_oversize / nf_ct_frag6_reasm's payload length check.
        let fixed = if q.v6 { 40 } else { 0 };
        if head.len() - fixed + q.len > MAX_DATAGRAM {
            self.kill(&f.key);
            return Fate::Dropped;
        }
        out.clear();
        out.extend_from_slice(head);
        for (_, p) in &q.parts {
            out.extend_from_slice(p);
        }
        if q.v6 {
            let len = (out.len() - 40) as u16;
            out[4..6].copy_from_slice(&len.to_be_bytes());
        } else {
            let ihl = head.len();
            let len = out.len() as u16;
            out[2..4].copy_from_slice(&len.to_be_bytes());
            out[6..8].copy_from_slice(&[0, 0]);
            out[10..12].copy_from_slice(&[0, 0]);
            let c = ipv4_checksum(&out[..ihl]);
            out[10..12].copy_from_slice(&c.to_be_bytes());
        }
        self.kill(&f.key);
        Fate::Reassembled
    }

    /// Drops the queue of `key`.
    fn kill(&mut self, key: &Key) {
        if let Some(q) = self.queues.remove(key) {
            self.bytes -= q.bytes;
        }
    }

    /// Drops the queues whose time ran out by `now`.
    fn expire(&mut self, now: u64) {
        for (v6, limit) in [(false, IPV4_TIMEOUT), (true, IPV6_TIMEOUT)] {
            while let Some(&(since, key)) = self.order[usize::from(v6)].front() {
                if now.saturating_sub(since) < limit {
                    break;
                }
                self.order[usize::from(v6)].pop_front();
                // The queue of that time, unless it completed or died and came back since.
                if self.queues.get(&key).is_some_and(|q| q.since == since) {
                    self.kill(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctkit_engine::build;

    /// `datagram` (a whole IPv4 packet) cut into fragments of `size` payload bytes.
    fn frag4(datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
        let ihl = usize::from(datagram[0] & 0x0f) * 4;
        let payload = &datagram[ihl..];
        let mut out = Vec::new();
        for (i, chunk) in payload.chunks(size).enumerate() {
            let mut p = datagram[..ihl].to_vec();
            p.extend_from_slice(chunk);
            let more = (i + 1) * size < payload.len();
            let fo = ((i * size / 8) as u16) | if more { 0x2000 } else { 0 };
            let len = p.len() as u16;
            p[2..4].copy_from_slice(&len.to_be_bytes());
            p[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
            p[6..8].copy_from_slice(&fo.to_be_bytes());
            p[10..12].copy_from_slice(&[0, 0]);
            let c = ipv4_checksum(&p[..ihl]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            out.push(p);
        }
        out
    }

    /// `datagram` (a whole IPv6 packet without extension headers) in fragments.
    fn frag6(datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
        let payload = &datagram[40..];
        let mut out = Vec::new();
        for (i, chunk) in payload.chunks(size).enumerate() {
            let mut p = datagram[..40].to_vec();
            p[6] = 44;
            let more = (i + 1) * size < payload.len();
            let fo = ((i * size) as u16) | u16::from(more);
            p.extend_from_slice(&[datagram[6], 0]);
            p.extend_from_slice(&fo.to_be_bytes());
            p.extend_from_slice(&0xdead_beefu32.to_be_bytes());
            p.extend_from_slice(chunk);
            let len = (p.len() - 40) as u16;
            p[4..6].copy_from_slice(&len.to_be_bytes());
            out.push(p);
        }
        out
    }

    fn udp4() -> Vec<u8> {
        let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        build::udp(a, b, 5000, 53, &[0x61; 3000])
    }

    #[test]
    fn ipv4_fragments_in_any_order_give_back_the_datagram() {
        let d = udp4();
        let mut frags = frag4(&d, 1480);
        assert_eq!(frags.len(), 3);
        assert!(frags.iter().all(|f| is_fragment(f)) && !is_fragment(&d));
        frags.swap(0, 2);
        let mut df = Defrag::new();
        let mut out = Vec::new();
        let fates: Vec<Fate> = frags.iter().map(|f| df.push(1, f, &mut out)).collect();
        assert_eq!(fates, [Fate::Held, Fate::Held, Fate::Reassembled]);
        // The same bytes but the identification and flags (the fragmenter's: no DF) and the
        // checksum over them.
        let mut want = d.clone();
        want[4..8].copy_from_slice(&[0x12, 0x34, 0, 0]);
        want[10..12].copy_from_slice(&[0, 0]);
        let c = ipv4_checksum(&want[..20]);
        want[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(out == want, "reassembled datagram differs");
        assert_eq!((df.queues.len(), df.bytes), (0, 0));
        assert_eq!(df.push(1, &d, &mut out), Fate::Whole);
    }

    #[test]
    fn ipv6_fragments_give_back_the_datagram_without_the_fragment_header() {
        let (a, b) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        let d = build::udp(a, b, 5000, 53, &[0x62; 3000]);
        let frags = frag6(&d, 1448);
        let mut df = Defrag::new();
        let mut out = Vec::new();
        let fates: Vec<Fate> = frags.iter().map(|f| df.push(1, f, &mut out)).collect();
        assert_eq!(fates, [Fate::Held, Fate::Held, Fate::Reassembled]);
        assert!(out == d, "reassembled datagram differs");
    }

    #[test]
    fn overlaps_bad_lengths_and_time_drop_fragments_as_the_kernel() {
        let d = udp4();
        let frags = frag4(&d, 1480);
        let mut out = Vec::new();
        // An exact duplicate is ignored, the datagram still completes.
        let mut df = Defrag::new();
        assert_eq!(df.push(1, &frags[0], &mut out), Fate::Held);
        assert_eq!(df.push(1, &frags[0], &mut out), Fate::Dropped);
        assert_eq!(df.push(1, &frags[1], &mut out), Fate::Held);
        assert_eq!(df.push(1, &frags[2], &mut out), Fate::Reassembled);
        // An overlapping fragment kills the queue: the rest never completes.
        let mut df = Defrag::new();
        let mut shifted = frags[1].clone();
        shifted[6..8].copy_from_slice(&(0x2000u16 | 100).to_be_bytes());
        assert_eq!(df.push(1, &frags[0], &mut out), Fate::Held);
        assert_eq!(df.push(1, &shifted, &mut out), Fate::Dropped);
        assert_eq!(df.push(1, &frags[1], &mut out), Fate::Held);
        assert_eq!(df.push(1, &frags[2], &mut out), Fate::Held);
        // After ipfrag_time the first fragment is gone.
        let mut df = Defrag::new();
        assert_eq!(df.push(0, &frags[0], &mut out), Fate::Held);
        assert_eq!(df.push(1, &frags[1], &mut out), Fate::Held);
        assert_eq!(df.push(IPV4_TIMEOUT, &frags[2], &mut out), Fate::Held);
        assert_eq!(df.bytes, frags[2].len() - 20 + FRAG_OVERHEAD + QUEUE_COST);
        // ipfrag_high_thresh: first fragments of distinct datagrams (8 bytes of payload
        // each) are held until more than 4 MiB are charged, then dropped.
        let mut df = Defrag::new();
        let mut first = frags[0].clone();
        first.truncate(28);
        first[2..4].copy_from_slice(&28u16.to_be_bytes());
        let mut held = 0;
        for id in 0..10_000u16 {
            first[4..6].copy_from_slice(&id.to_be_bytes());
            match df.push(1, &first, &mut out) {
                Fate::Held => held += 1,
                f => {
                    assert_eq!(f, Fate::Dropped);
                    break;
                }
            }
        }
        assert_eq!(held, HIGH_THRESH / (8 + FRAG_OVERHEAD + QUEUE_COST) + 1);
        // Completed datagrams do not pile up in the expiry list.
        let mut df = Defrag::new();
        for id in 0..5000u16 {
            let mut pair = frag4(&d, 1480);
            for f in &mut pair {
                f[4..6].copy_from_slice(&id.to_be_bytes());
            }
            let fates: Vec<Fate> = pair.iter().map(|f| df.push(1, f, &mut out)).collect();
            assert_eq!(fates[2], Fate::Reassembled);
        }
        assert!(
            df.queues.is_empty() && df.order[0].len() <= 1025,
            "{}",
            df.order[0].len()
        );
        // A non-last IPv6 fragment must be a multiple of 8 bytes (else it goes on as it is).
        let (a, b) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        let d6 = build::udp(a, b, 5000, 53, &[0x62; 3000]);
        let f6 = frag6(&d6, 1450);
        assert_eq!(Defrag::new().push(1, &f6[0], &mut out), Fate::Whole);
        // Atomic fragments and garbage are not fragments.
        let mut atomic = frag6(&d6, 4000).remove(0);
        assert!(!is_fragment(&atomic));
        atomic.truncate(43);
        assert!(!is_fragment(&atomic));
        assert_eq!(Defrag::new().push(1, &[0x45, 0, 0], &mut out), Fate::Whole);
    }

    /// An IPv4 fragment of `d`'s identification 0x1234: `payload` at `offset`, MF or not.
    fn frag4_at(d: &[u8], offset: usize, payload: &[u8], more: bool) -> Vec<u8> {
        let mut p = d[..20].to_vec();
        p.extend_from_slice(payload);
        let len = p.len() as u16;
        let fo = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        p[6..8].copy_from_slice(&fo.to_be_bytes());
        p
    }

    /// An IPv6 fragment (identification 0xdeadbeef, next header `next`): `payload` at
    /// `offset`, M or not.
    fn frag6_at(next: u8, offset: usize, payload: &[u8], more: bool) -> Vec<u8> {
        let (a, b) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        let mut p = build::udp(a, b, 1, 2, b"")[..40].to_vec();
        p[6] = 44;
        let fo = offset as u16 | u16::from(more);
        p.extend_from_slice(&[next, 0]);
        p.extend_from_slice(&fo.to_be_bytes());
        p.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        p.extend_from_slice(payload);
        let len = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&len.to_be_bytes());
        p
    }

    #[test]
    fn a_datagram_longer_than_65535_bytes_is_dropped_when_it_completes() {
        // ip_frag_reasm's out_oversize: 20 header bytes + 65535 payload bytes.
        let d = udp4();
        let mut out = Vec::new();
        let mut df = Defrag::new();
        let big = vec![0u8; 65512];
        assert_eq!(
            df.push(1, &frag4_at(&d, 0, &big, true), &mut out),
            Fate::Held
        );
        assert_eq!(
            df.push(1, &frag4_at(&d, 65512, &[0; 16], true), &mut out),
            Fate::Held
        );
        assert_eq!(
            df.push(1, &frag4_at(&d, 65528, &[0; 7], false), &mut out),
            Fate::Dropped
        );
        assert_eq!((df.queues.len(), df.bytes), (0, 0));
        // IPv6: the payload length may reach 65535 (the fixed header is not in it), a
        // fragment ending beyond is dropped alone (nf_ct_frag6_queue's "offset is too
        // large"), its queue kept.
        let mut df = Defrag::new();
        let first = frag6_at(17, 0, &vec![0u8; 65480], true);
        assert_eq!(df.push(1, &first, &mut out), Fate::Held);
        assert_eq!(
            df.push(1, &frag6_at(17, 65528, &[0; 8], false), &mut out),
            Fate::Dropped
        );
        assert_eq!(df.queues.len(), 1);
        assert_eq!(
            df.push(1, &frag6_at(17, 65480, &[0; 55], false), &mut out),
            Fate::Reassembled
        );
        assert_eq!((out.len(), &out[4..6]), (40 + 65535, &[0xff, 0xff][..]));
    }

    #[test]
    fn a_fragment_inside_a_run_is_a_duplicate_and_one_across_two_runs_an_overlap() {
        // inet_frag_queue_insert: fragments that came in order form one run; a fragment
        // wholly inside a run is a duplicate (dropped, the queue kept).
        let d = udp4();
        let frags = frag4(&d, 1480);
        let mut out = Vec::new();
        let mut df = Defrag::new();
        assert_eq!(df.push(1, &frags[0], &mut out), Fate::Held);
        assert_eq!(df.push(1, &frags[1], &mut out), Fate::Held);
        let inside = frag4_at(&d, 1472, &d[20 + 1472..20 + 1496], true);
        assert_eq!(df.push(1, &inside, &mut out), Fate::Dropped);
        assert_eq!(df.push(1, &frags[2], &mut out), Fate::Reassembled);
        // Out of order, each fragment is a run of its own: the same fragment straddles
        // two runs, an overlap that kills the queue.
        let mut df = Defrag::new();
        assert_eq!(df.push(1, &frags[1], &mut out), Fate::Held);
        assert_eq!(df.push(1, &frags[0], &mut out), Fate::Held);
        assert_eq!(df.push(1, &inside, &mut out), Fate::Dropped);
        assert_eq!(df.push(1, &frags[2], &mut out), Fate::Held);
    }

    #[test]
    fn ipv4_kills_the_queue_on_a_bad_end_or_empty_fragment_ipv6_drops_the_fragment_alone() {
        let mut out = Vec::new();
        // A last fragment ending before data already held, then an empty last fragment.
        let d = udp4();
        let frags = frag4(&d, 1480);
        for bad in [
            frag4_at(&d, 8, &[0; 8], false),
            frag4_at(&d, 2960, &[], false),
        ] {
            let mut df = Defrag::new();
            assert_eq!(df.push(1, &frags[0], &mut out), Fate::Held);
            assert_eq!(df.push(1, &bad, &mut out), Fate::Dropped);
            assert_eq!(df.queues.len(), 0);
        }
        let (a, b) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        let d6 = build::udp(a, b, 5000, 53, &[0x62; 3000]);
        let f6 = frag6(&d6, 1448);
        for bad in [
            frag6_at(17, 8, &[0; 8], false),
            frag6_at(17, 1448, &[], true),
        ] {
            let mut df = Defrag::new();
            assert_eq!(df.push(1, &f6[0], &mut out), Fate::Held);
            assert_eq!(df.push(1, &bad, &mut out), Fate::Dropped);
            assert_eq!(df.push(1, &f6[1], &mut out), Fate::Held);
            assert_eq!(df.push(1, &f6[2], &mut out), Fate::Reassembled);
            assert!(out == d6, "reassembled datagram differs");
        }
    }

    #[test]
    fn queues_that_hold_no_fragment_count_against_the_limit_too() {
        // IPv6 keeps the queue of a dropped empty fragment (what it learnt of the length
        // stays): each queue is charged its own size, as inet_frag_alloc charges qsize, so
        // a stream of them cannot grow the table without bound.
        let mut out = Vec::new();
        let mut df = Defrag::new();
        for id in 0..100_000u32 {
            let mut p = frag6_at(17, 8, &[], true);
            p[44..48].copy_from_slice(&id.to_be_bytes());
            assert_eq!(df.push(1, &p, &mut out), Fate::Dropped);
        }
        assert_eq!(df.queues.len(), HIGH_THRESH / QUEUE_COST + 1);
        assert_eq!(df.bytes, df.queues.len() * QUEUE_COST);
    }

    #[test]
    fn ipv6_fragments_the_kernel_passes_on_untouched_are_tracked_as_they_are() {
        let mut out = Vec::new();
        // A first fragment without the whole TCP header (ipv6frag_thdr_truncated): not
        // queued, conntrack sees it as it is.
        let mut df = Defrag::new();
        assert_eq!(
            df.push(1, &frag6_at(6, 0, &[0; 16], true), &mut out),
            Fate::Whole
        );
        assert_eq!(
            df.push(1, &frag6_at(17, 0, &[0; 8], true), &mut out),
            Fate::Held
        );
        // A non-last fragment not a multiple of 8 bytes (-EPROTO): its queue dies, the
        // fragment goes on.
        assert_eq!(
            df.push(1, &frag6_at(17, 8, &[0; 12], true), &mut out),
            Fate::Whole
        );
        assert_eq!(df.queues.len(), 0);
        // An authentication header before the fragment header is unfragmentable.
        let mut ah = frag6_at(17, 0, &[0; 8], true);
        ah[6] = 51;
        ah.splice(40..40, [44, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
        let len = (ah.len() - 40) as u16;
        ah[4..6].copy_from_slice(&len.to_be_bytes());
        assert!(is_fragment(&ah));
        let mut df = Defrag::new();
        assert_eq!(df.push(1, &ah, &mut out), Fate::Held);
        let mut last = frag6_at(17, 8, &[7; 8], false);
        last[6] = 51;
        last.splice(40..40, [44, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
        last[4..6].copy_from_slice(&len.to_be_bytes());
        assert_eq!(df.push(1, &last, &mut out), Fate::Reassembled);
        assert_eq!(out.len(), 40 + 12 + 16);
        assert_eq!((out[6], out[40], &out[4..6]), (51, 17, &[0, 28][..]));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic_and_the_held_bytes_add_up(
            pkts in proptest::collection::vec(
                (proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), 0u64..100_000_000_000, proptest::prelude::any::<bool>()),
                1..40,
            )
        ) {
            let mut df = Defrag::new();
            let mut out = Vec::new();
            for (mut p, now, v6) in pkts {
                // Mostly fragments: the version, and the MF bit or a fragment header.
                if let Some(b) = p.first_mut() {
                    *b = (*b & 0x0f) | if v6 { 0x60 } else { 0x40 };
                }
                if p.len() > 6 {
                    if v6 { p[6] = 44 } else { p[6] |= 0x20 }
                }
                if df.push(now, &p, &mut out) == Fate::Reassembled {
                    // A consistent IP packet of at most 65535 bytes of payload.
                    let (at, fixed) = if v6 { (4, 40) } else { (2, 0) };
                    let len = usize::from(u16::from_be_bytes([out[at], out[at + 1]]));
                    proptest::prop_assert_eq!(len + fixed, out.len());
                    proptest::prop_assert_eq!(out[0] >> 4, if v6 { 6 } else { 4 });
                }
                let held: usize = df.queues.values().map(|q| q.bytes).sum();
                proptest::prop_assert_eq!(held, df.bytes);
            }
        }

        #[test]
        fn a_datagram_cut_anywhere_and_shuffled_comes_back_whole(
            len in 9usize..4000,
            size8 in 1usize..200,
            seed in proptest::prelude::any::<u64>(),
        ) {
            let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
            let d = build::udp(a, b, 1, 2, &vec![0x5a; len - 8]);
            let mut frags = frag4(&d, size8 * 8);
            // A deterministic shuffle.
            let mut x = seed | 1;
            for i in (1..frags.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                frags.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut df = Defrag::new();
            let mut out = Vec::new();
            let fates: Vec<Fate> = frags.iter().map(|f| df.push(1, f, &mut out)).collect();
            let last = fates.len() - 1;
            if frags.len() == 1 {
                proptest::prop_assert_eq!(fates[0], Fate::Whole);
            } else {
                proptest::prop_assert!(fates[..last].iter().all(|f| *f == Fate::Held));
                proptest::prop_assert_eq!(fates[last], Fate::Reassembled);
                proptest::prop_assert_eq!(&out[20..], &d[20..]);
                proptest::prop_assert_eq!(df.bytes, 0);
            }
        }
    }
}
