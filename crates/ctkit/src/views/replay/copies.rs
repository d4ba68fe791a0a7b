//! The second copy of a packet in a `tcpdump -i any` capture (Linux cooked, SLL/SLL2, where
//! each frame says whether the host received or sent it; or a pcapng capture of several
//! interfaces whose blocks say it in `epb_flags`, as dumpcap writes). Such a capture holds
//! a forwarded packet twice, received on one interface and sent on another (TTL or hop
//! limit one lower), and a loopback packet twice, sent and received on `lo`. Conntrack tracks either
//! once: a forwarded packet at PREROUTING (POSTROUTING only confirms it), a loopback one at
//! OUTPUT (it comes back with its entry attached). So the later copy is recognised and not
//! tracked again.
//!
//! A copy is the same bytes but the TTL/hop limit and the IPv4 header checksum, within a
//! few seconds of the first copy (the next hop's address may be resolved meanwhile). A
//! NATed forwarded packet is changed in its addresses and ports and is not recognised (the
//! engine does not model NAT: capture such a router on one side).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};

/// How long a first copy waits for its second, nanoseconds: a forwarded packet waits for
/// its next hop's address resolution up to 3 s (3 solicitations 1 s apart) before it is
/// sent.
const WINDOW: u64 = 5_000_000_000;
/// The most first copies remembered per direction (the oldest is forgotten first), so a
/// capture of only one direction at a high rate stays within a few MiB.
const CAP: usize = 1 << 17;
/// Bytes of a packet its fingerprint covers (headers and the start of the payload).
const COVER: usize = 128;

/// Fingerprints of recent packets, per direction.
#[derive(Default)]
pub struct Copies {
    /// Received packets, fingerprinted with the TTL their forwarded copy would carry.
    received: Side,
    /// Sent packets, fingerprinted as they are (a loopback copy comes back unchanged).
    sent: Side,
}

#[derive(Default)]
struct Side {
    /// Per fingerprint: (first copies still waiting, matched ones whose `order` entry is
    /// still queued). A match takes the oldest waiting one, so when an entry leaves `order`
    /// (expired, or over [`CAP`]) it is a matched one if any is counted, else a waiting one.
    count: HashMap<u64, (u32, u32)>,
    /// (when seen, fingerprint), oldest first.
    order: VecDeque<(u64, u64)>,
}

impl Side {
    fn expire(&mut self, now: u64) {
        while let Some(&(t, fp)) = self.order.front() {
            if now.saturating_sub(t) < WINDOW {
                break;
            }
            self.order.pop_front();
            self.forget(fp);
        }
    }

    fn add(&mut self, now: u64, fp: u64) {
        if self.order.len() >= CAP {
            if let Some((_, old)) = self.order.pop_front() {
                self.forget(old);
            }
        }
        self.count.entry(fp).or_default().0 += 1;
        self.order.push_back((now, fp));
    }

    /// Matches the oldest waiting `fp`, if any.
    fn take(&mut self, fp: u64) -> bool {
        match self.count.get_mut(&fp) {
            Some((waiting, matched)) if *waiting > 0 => {
                *waiting -= 1;
                *matched += 1;
                true
            }
            _ => false,
        }
    }

    /// The oldest `order` entry of `fp` left the list.
    fn forget(&mut self, fp: u64) {
        if let Some((waiting, matched)) = self.count.get_mut(&fp) {
            if *matched > 0 {
                *matched -= 1;
            } else {
                *waiting = waiting.saturating_sub(1);
            }
            if (*waiting, *matched) == (0, 0) {
                self.count.remove(&fp);
            }
        }
    }
}

/// The fingerprint of `l3` with its TTL/hop limit lowered by `ttl_delta` and the IPv4
/// header checksum ignored; `None` for what is not an IP packet.
fn fingerprint(l3: &[u8], ttl_delta: u8) -> Option<u64> {
    let (ttl_at, sum_at) = match l3.first()? >> 4 {
        4 => (8, Some(10)),
        6 => (7, None),
        _ => return None,
    };
    let ttl = l3.get(ttl_at)?.checked_sub(ttl_delta)?;
    let mut h =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    h.write_usize(l3.len());
    let n = l3.len().min(COVER);
    h.write(&l3[..ttl_at]);
    h.write_u8(ttl);
    // What is left out besides the TTL: IPv4's header checksum; IPv6's fragment
    // identification, which a router picks anew when it fragments a reassembled datagram
    // again.
    let skip = match sum_at {
        Some(s) => s..s + 2,
        None => ipv6_frag_id(l3).unwrap_or(n..n),
    };
    h.write(&l3[ttl_at + 1..skip.start.clamp(ttl_at + 1, n)]);
    h.write(&l3[skip.end.min(n)..n]);
    Some(h.finish())
}

/// Where an IPv6 fragment header's identification is (after hop-by-hop, routing and
/// destination options headers).
fn ipv6_frag_id(l3: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut next = *l3.get(6)?;
    let mut pos = 40;
    while matches!(next, 0 | 43 | 60) {
        next = *l3.get(pos)?;
        pos += (usize::from(*l3.get(pos + 1)?) + 1) * 8;
    }
    (next == 44 && pos + 8 <= l3.len()).then_some(pos + 4..pos + 8)
}

impl Copies {
    /// A tracker of copies with nothing seen.
    pub fn new() -> Copies {
        Copies::default()
    }

    /// Whether `l3`, seen at `now` and `outgoing` (sent by the capturing host) or not, is the
    /// second copy of a packet already tracked; remembers it otherwise.
    pub fn is_copy(&mut self, now: u64, l3: &[u8], outgoing: bool) -> bool {
        self.received.expire(now);
        self.sent.expire(now);
        let Some(fp) = fingerprint(l3, 0) else {
            return false;
        };
        if outgoing {
            // Forwarded: received before with a TTL one higher.
            if self.received.take(fp) {
                return true;
            }
            self.sent.add(now, fp);
        } else {
            // Loopback: sent before, unchanged.
            if self.sent.take(fp) {
                return true;
            }
            if let Some(fp) = fingerprint(l3, 1) {
                self.received.add(now, fp);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctkit_engine::build;

    fn forwarded(p: &[u8]) -> Vec<u8> {
        let mut f = p.to_vec();
        f[8] -= 1;
        f[10..12].copy_from_slice(&[0xab, 0xcd]);
        f
    }

    #[test]
    fn the_egress_copy_of_a_forwarded_packet_and_the_return_of_a_loopback_one_are_copies() {
        let (a, b) = (
            "192.0.2.2".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
        );
        let q = build::udp(a, b, 5000, 53, b"query");
        let mut c = Copies::new();
        assert!(!c.is_copy(0, &q, false));
        assert!(c.is_copy(10, &forwarded(&q), true));
        // Once: a second egress copy is a packet of its own.
        assert!(!c.is_copy(20, &forwarded(&q), true));
        // Too late: WINDOW or more after the ingress copy.
        assert!(!c.is_copy(100, &q, false));
        assert!(!c.is_copy(100 + WINDOW, &forwarded(&q), true));
        // A host's own answer is no copy (addresses swapped, its own TTL).
        let r = build::udp(b, a, 53, 5000, b"query");
        assert!(!c.is_copy(2 * WINDOW, &q, false));
        assert!(!c.is_copy(2 * WINDOW, &r, true));
        // Loopback: sent, then received unchanged.
        let (l, l2) = ("127.0.0.1".parse().unwrap(), "127.0.0.1".parse().unwrap());
        let lo = build::udp(l, l2, 1, 2, b"x");
        assert!(!c.is_copy(3 * WINDOW, &lo, true));
        assert!(c.is_copy(3 * WINDOW, &lo, false));
        // IPv6: the hop limit.
        let (a6, b6) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8:2::1".parse().unwrap(),
        );
        let p6 = build::udp(a6, b6, 1, 2, b"x");
        let mut f6 = p6.clone();
        f6[7] -= 1;
        assert!(!c.is_copy(4 * WINDOW, &p6, false));
        assert!(c.is_copy(4 * WINDOW, &f6, true));
        // An IPv6 fragment sent on with a new identification (refragmented) is its copy.
        let mut frag = p6[..40].to_vec();
        frag[6] = 44;
        frag.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 7]);
        frag.extend_from_slice(&p6[40..]);
        let mut out = frag.clone();
        out[7] -= 1;
        out[44..48].copy_from_slice(&[0, 0, 0, 9]);
        assert!(!c.is_copy(4 * WINDOW, &frag, false));
        assert!(c.is_copy(4 * WINDOW, &out, true));
        assert!(!c.is_copy(4 * WINDOW, &[0x45, 0], true));
    }

    #[test]
    fn at_most_cap_first_copies_are_remembered() {
        let (a, b) = (
            "192.0.2.2".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
        );
        let mut p = build::udp(a, b, 5000, 53, &[0; 4]);
        let mut c = Copies::new();
        let first = p.clone(); // payload 0, the first one added below
        for i in 0..=CAP as u32 {
            p[28..32].copy_from_slice(&i.to_be_bytes());
            assert!(!c.is_copy(1, &p, false));
        }
        assert_eq!(c.received.order.len(), CAP);
        // The first is forgotten, the last is still there.
        assert!(!c.is_copy(2, &forwarded(&first), true));
        assert!(c.is_copy(2, &forwarded(&p), true));
    }

    #[test]
    fn a_matched_first_copy_expiring_does_not_forget_a_later_identical_one() {
        // The same bytes received twice (an IPv6 duplicate ACK, say), the first forwarded
        // at once, the second waiting for its egress copy when the first one's time runs out.
        let (a, b) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8:2::1".parse().unwrap(),
        );
        let p = build::udp(a, b, 1, 2, b"x");
        let mut f = p.clone();
        f[7] -= 1;
        let mut c = Copies::new();
        assert!(!c.is_copy(0, &p, false));
        assert!(c.is_copy(1, &f, true));
        assert!(!c.is_copy(WINDOW - 10, &p, false));
        assert!(c.is_copy(WINDOW + 5, &f, true));
        let counts: Vec<(u32, u32)> = c.received.count.values().copied().collect();
        assert_eq!(counts, [(0, 1)]);
        // Nothing is left once both have expired.
        assert!(!c.is_copy(3 * WINDOW, &p, true));
        assert_eq!((c.received.order.len(), c.received.count.len()), (0, 0));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(
            pkts in proptest::collection::vec(
                (proptest::collection::vec(proptest::prelude::any::<u8>(), 0..160), proptest::prelude::any::<bool>()),
                1..30,
            )
        ) {
            let mut c = Copies::new();
            for (i, (mut p, out)) in pkts.into_iter().enumerate() {
                if let Some(b) = p.first_mut() {
                    *b = (*b & 0x0f) | if i % 2 == 0 { 0x40 } else { 0x60 };
                }
                let _ = c.is_copy(i as u64, &p, out);
            }
        }
    }
}
