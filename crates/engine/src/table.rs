//! The connection table: entries in a slab, both directions' tuples in one open-addressing
//! index (as `nf_conntrack_hash` holds both `tuplehash` of every `nf_conn`).
//!
//! The index is an array of 8-byte slots, linear probing, backward-shift deletion (no
//! tombstones); from 2 MiB on it lives in an anonymous mapping advised for transparent huge
//! pages, so that a lookup in a large table is not also a page walk. A slot holds the upper 32 bits of the tuple's keyed hash (the tag) and a
//! reference `entry << 1 | direction`. The home slot is the tag's top bits, so slots are
//! ordered by hash; the kernel's bucket of a tuple (`reciprocal_scale(hash, buckets)`) is the
//! same monotonic function of the tag, which lets early drop find "the entries of kernel
//! bucket b" as one contiguous run of slots.
//!
//! The hash is keyed (a folded-multiply hash in the style of aHash's fallback, keys derived
//! from the tracker's `seed`), so an attacker who does not know the seed cannot aim tuples
//! at one chain. Entries are generic over the address size, so an IPv4 entry carries 4-byte
//! addresses and an IPv6 one 16-byte addresses.
//!
//! The slab is a `Vec` while small and, from 2 MiB on, a huge-page-advised mapping too: its
//! entries are packed plain-old-data records (80 bytes for IPv4, 104 for IPv6) viewed
//! through `bytemuck`, the protocol state a tagged payload (`proto::ProtoRec`).

use crate::proto::ProtoRec;

/// An address of one family.
pub(crate) trait Addr: Copy + Eq + Default + std::fmt::Debug + bytemuck::Pod {
    /// From the first bytes of a 16-byte buffer.
    fn from16(b: &[u8; 16]) -> Self;
    /// From a slice of exactly the address length (zeros otherwise).
    fn from_slice(b: &[u8]) -> Self;
    /// As a standard address.
    fn ip(self) -> std::net::IpAddr;
    /// Feeds the address to the hash.
    fn hash(self, h: &mut Hasher);
    /// Feeds both addresses of a tuple to the hash (IPv4 packs them into one word).
    #[inline]
    fn hash_pair(src: Self, dst: Self, h: &mut Hasher) {
        src.hash(h);
        dst.hash(h);
    }
    /// As 16 bytes (IPv4 in the first 4).
    fn to16(self) -> [u8; 16];
}

impl Addr for [u8; 4] {
    fn from16(b: &[u8; 16]) -> Self {
        [b[0], b[1], b[2], b[3]]
    }
    #[inline]
    fn from_slice(b: &[u8]) -> Self {
        b.try_into().unwrap_or_default()
    }
    fn ip(self) -> std::net::IpAddr {
        std::net::IpAddr::V4(self.into())
    }
    fn hash(self, h: &mut Hasher) {
        h.word(u32::from_ne_bytes(self) as u64);
    }
    #[inline]
    fn hash_pair(src: Self, dst: Self, h: &mut Hasher) {
        h.word(u32::from_ne_bytes(src) as u64 | (u32::from_ne_bytes(dst) as u64) << 32);
    }
    fn to16(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&self);
        b
    }
}

impl Addr for [u8; 16] {
    fn from16(b: &[u8; 16]) -> Self {
        *b
    }
    #[inline]
    fn from_slice(b: &[u8]) -> Self {
        b.try_into().unwrap_or_default()
    }
    fn ip(self) -> std::net::IpAddr {
        std::net::IpAddr::V6(self.into())
    }
    fn hash(self, h: &mut Hasher) {
        h.word(u64::from_ne_bytes(self[..8].try_into().unwrap_or_default()));
        h.word(u64::from_ne_bytes(self[8..].try_into().unwrap_or_default()));
    }
    fn to16(self) -> [u8; 16] {
        self
    }
}

/// One direction's tuple plus the zone (`struct nf_conntrack_tuple` + zone id).
///
/// ICMP/ICMPv6: `sport` is the id, `dport` is `type << 8 | code`. GRE: the keys.
/// Packed plain old data: it is stored in the slab's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, packed)]
pub(crate) struct Key<A> {
    pub src: A,
    pub dst: A,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub zone: u16,
}

impl<A: Addr> Key<A> {
    /// The tuple of the other direction (`nf_ct_invert_tuple`); `None` for ICMP types that
    /// have no reply.
    pub fn invert(&self) -> Option<Key<A>> {
        let mut k = Key {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            proto: self.proto,
            zone: self.zone,
        };
        match self.proto {
            1 | 58 => {
                let ty = (self.dport >> 8) as u8;
                let inv = if self.proto == 1 {
                    ctkit_model::tuple::invert_icmp_type(ty)?
                } else {
                    ctkit_model::tuple::invert_icmpv6_type(ty)?
                };
                k.sport = self.sport;
                k.dport = (inv as u16) << 8 | (self.dport & 0xff);
            }
            _ => {}
        }
        Some(k)
    }

    /// Whether `k` is this key's reply tuple (`invert() == Some(k)`, without building it
    /// for the port-carrying protocols).
    #[inline]
    pub fn reply_is(&self, k: &Key<A>) -> bool {
        // Fields copied out: the key is packed, so they cannot be compared by reference.
        let (src, dst, kdst, ksrc) = (self.src, self.dst, k.dst, k.src);
        if src != kdst || dst != ksrc || self.proto != k.proto || self.zone != k.zone {
            return false;
        }
        match self.proto {
            1 | 58 => self.invert().as_ref() == Some(k),
            _ => self.sport == k.dport && self.dport == k.sport,
        }
    }

    /// This key as a model tuple.
    pub fn tuple(&self) -> ctkit_model::Tuple {
        let mut t = ctkit_model::Tuple {
            src: self.src.ip(),
            dst: self.dst.ip(),
            proto: self.proto,
            ..Default::default()
        };
        match self.proto {
            1 | 58 => {
                t.icmp_id = self.sport;
                t.icmp_type = (self.dport >> 8) as u8;
                t.icmp_code = self.dport as u8;
            }
            _ => {
                t.sport = self.sport;
                t.dport = self.dport;
            }
        }
        t
    }
}

/// The keyed hash: folded 64×64→128 multiplies, keys from the seed.
pub(crate) struct Hasher {
    h: u64,
    k: u64,
}

const MUL: u64 = 0x5851_f42d_4c95_7f2d;

fn folded_mul(a: u64, b: u64) -> u64 {
    let r = (a as u128).wrapping_mul(b as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

impl Hasher {
    #[inline]
    fn word(&mut self, w: u64) {
        self.h = folded_mul(self.h ^ w, MUL);
    }
    #[inline]
    fn finish(&self) -> u64 {
        let r = folded_mul(self.h, self.k);
        r.rotate_left((self.h & 63) as u32)
    }
}

/// Hash keys derived from the seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HashKey {
    k0: u64,
    k1: u64,
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl HashKey {
    pub fn new(seed: u64) -> HashKey {
        let mut s = seed;
        HashKey {
            k0: splitmix(&mut s),
            k1: splitmix(&mut s) | 1,
        }
    }

    #[inline]
    pub fn hash<A: Addr>(&self, k: &Key<A>) -> u64 {
        self.hash_parts(k.src, k.dst, k.sport, k.dport, k.proto, k.zone)
    }

    /// [`HashKey::hash`] of the key these fields make, from values: the packet path hashes
    /// a tuple from the fields it just decoded, before the key is stored, so that the
    /// compiler does not read the key back from memory in wider loads than it was written
    /// with (a store-forwarding stall).
    #[inline]
    pub fn hash_parts<A: Addr>(
        &self,
        src: A,
        dst: A,
        sport: u16,
        dport: u16,
        proto: u8,
        zone: u16,
    ) -> u64 {
        let mut h = Hasher {
            h: self.k0,
            k: self.k1,
        };
        A::hash_pair(src, dst, &mut h);
        h.word(sport as u64 | (dport as u64) << 16 | (proto as u64) << 32 | (zone as u64) << 40);
        h.finish()
    }
}

/// One tracked connection (`struct nf_conn` minus what this engine does not model).
///
/// A packed plain-old-data record (`bytemuck::Pod`), so that the slab can be a mapping
/// viewed as entries without `unsafe`. Layout (IPv4 / IPv6): expiry, status and flags in
/// bytes 0..7, the protocol state's tag at 7 and its payload in 8..64 (so the TCP state's
/// words are aligned when the entry is), the key in 64..79 / 64..103, one spare byte:
/// 80 / 104 bytes.
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, packed)]
pub(crate) struct Entry<A> {
    /// Expiry in jiffies on the wrapping 32-bit clock (`ct->timeout`).
    pub expires: u32,
    /// `ct->status` (the low 16 bits are all the uapi defines).
    pub status: u16,
    /// Engine flags (`AUX_*`).
    pub aux: u8,
    /// Per-protocol state.
    pub proto: ProtoRec,
    /// Original-direction tuple (the reply tuple is its inverse: no NAT).
    pub key: Key<A>,
    /// Spare (keeps the entry a multiple of 8 bytes).
    pub spare: u8,
}

/// Software prefetch of the line holding `x` into every cache level. Stable Rust offers
/// the instruction only through `unsafe` (`core::arch::x86_64::_mm_prefetch`), which this
/// crate denies, so it comes from `mem_prefetch`'s safe wrapper (a reference in, a hint out;
/// a no-op where the target has no prefetch instruction). Unlike a load, a prefetch retires
/// at once: the misses of the rounds ahead stay in flight while the current round computes.
#[inline(always)]
pub(crate) fn prefetch<T>(x: &T) {
    mem_prefetch::prefetch_read_data::<T, 3>(x);
}

/// The offsets in a run of `len` bytes (`len` ≥ 1) that [`prefetch_bytes`] asks for: the
/// first byte, the one 64 bytes on, the last; one in each 64-byte line of any run of up to
/// 129 bytes wherever it starts (entries are 80 and 104 bytes, headers 65).
#[inline(always)]
const fn line_probes(len: usize) -> [usize; 3] {
    [0, if len > 64 { 64 } else { 0 }, len - 1]
}

/// Prefetches every cache line of `b` (at most 129 bytes: see [`line_probes`]).
#[inline(always)]
pub(crate) fn prefetch_bytes(b: &[u8]) {
    if b.is_empty() {
        return;
    }
    for o in line_probes(b.len()) {
        if let Some(x) = b.get(o) {
            prefetch(x);
        }
    }
}

/// The entry has side data (helper, master, counters) in the extension map.
pub(crate) const AUX_EXT: u8 = 1;
/// The slab slot is free.
pub(crate) const AUX_FREE: u8 = 2;
/// The entry has packet/byte counters (`nf_conntrack_acct` was on at its creation) in
/// `Table::acct` at its index.
pub(crate) const AUX_ACCT: u8 = 4;

impl<A: Addr> Entry<A> {
    pub fn key_dir(&self, dir: usize) -> Key<A> {
        if dir == 0 {
            self.key
        } else {
            // Entries are only created for invertible tuples.
            { self.key }.invert().unwrap_or(self.key)
        }
    }
}

/// Index slot arrays of at least this many bytes live in their own anonymous mapping advised
/// for transparent huge pages (`madvise(MADV_HUGEPAGE)` through `memmap2`'s safe API): one
/// 2 MiB page covers 256 Ki slots, so a lookup in a large table costs one cache miss instead
/// of a cache miss plus a page walk (expensive under nested paging). Smaller arrays stay in a
/// `Vec`: a mapping per small table would waste a page and a system call.
const HUGE_MIN_BYTES: usize = 2 << 20;

/// The index's slot array: zero-initialised `u64`s in a `Vec` or, when large, in a mapping
/// advised for huge pages (viewed as `u64`s with `bytemuck`'s checked cast, so no `unsafe`).
enum Slots {
    Heap(Vec<u64>),
    Mapped(memmap2::MmapMut),
}

impl Slots {
    /// `n` zero slots.
    fn zeroed(n: usize) -> Slots {
        let bytes = n * 8;
        if bytes >= HUGE_MIN_BYTES {
            if let Some(m) = huge_anon(bytes) {
                // A mapping is page-aligned and `bytes` is a multiple of 8, so the cast to
                // u64 cannot fail; fall back to the heap if it ever did.
                if bytemuck::try_cast_slice::<u8, u64>(&m).is_ok() {
                    return Slots::Mapped(m);
                }
            }
        }
        Slots::Heap(vec![0; n])
    }

    #[inline]
    fn get(&self) -> &[u64] {
        match self {
            Slots::Heap(v) => v,
            Slots::Mapped(m) => bytemuck::cast_slice(m),
        }
    }

    #[inline]
    fn get_mut(&mut self) -> &mut [u64] {
        match self {
            Slots::Heap(v) => v,
            Slots::Mapped(m) => bytemuck::cast_slice_mut(m),
        }
    }
}

/// The slab of entries: a `Vec` while small; from [`HUGE_MIN_BYTES`] on, an anonymous
/// mapping advised for transparent huge pages, viewed as entries through `bytemuck` (an
/// [`Entry`] is a packed plain-old-data record, so the cast of the mapping's bytes cannot
/// fail and needs no `unsafe`). It grows by doubling, copying into a new mapping as the
/// index does (a page walk per entry access costs as much as the cache miss under nested
/// paging, and at 1M flows the slab is ~80 MB).
pub(crate) enum Slab<A> {
    Heap(Vec<Entry<A>>),
    Mapped { map: memmap2::MmapMut, len: usize },
}

impl<A: Addr> Slab<A> {
    const SIZE: usize = std::mem::size_of::<Entry<A>>();

    /// Entries the storage holds without growing.
    pub fn capacity(&self) -> usize {
        match self {
            Slab::Heap(v) => v.capacity(),
            Slab::Mapped { map, .. } => map.len() / Self::SIZE,
        }
    }

    /// Appends `e`.
    pub fn push(&mut self, e: Entry<A>) {
        let len = self.len();
        if len == self.capacity() {
            let want = (len * 2).max(8);
            if want * Self::SIZE >= HUGE_MIN_BYTES {
                if let Some(mut map) = huge_anon(want * Self::SIZE) {
                    map[..len * Self::SIZE].copy_from_slice(bytemuck::cast_slice(self));
                    *self = Slab::Mapped { map, len };
                }
            }
        }
        match self {
            Slab::Heap(v) => v.push(e),
            Slab::Mapped { map, len } => {
                let at = *len * Self::SIZE;
                map[at..at + Self::SIZE].copy_from_slice(bytemuck::bytes_of(&e));
                *len += 1;
            }
        }
    }
}

impl<A: Addr> std::ops::Deref for Slab<A> {
    type Target = [Entry<A>];
    #[inline]
    fn deref(&self) -> &[Entry<A>] {
        match self {
            Slab::Heap(v) => v,
            Slab::Mapped { map, len } => bytemuck::cast_slice(&map[..*len * Self::SIZE]),
        }
    }
}

impl<A: Addr> std::ops::DerefMut for Slab<A> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [Entry<A>] {
        match self {
            Slab::Heap(v) => v,
            Slab::Mapped { map, len } => bytemuck::cast_slice_mut(&mut map[..*len * Self::SIZE]),
        }
    }
}

/// A zeroed anonymous mapping of `bytes` advised for huge pages (`None` if mmap fails).
fn huge_anon(bytes: usize) -> Option<memmap2::MmapMut> {
    let m = memmap2::MmapOptions::new().len(bytes).map_anon().ok()?;
    // Advice only: without THP the mapping works as plain pages.
    let _ = m.advise(memmap2::Advice::HugePage);
    Some(m)
}

/// Index + slab for one address family.
pub(crate) struct Table<A> {
    slots: Slots,
    bits: u32,
    used: usize,
    pub entries: Slab<A>,
    /// Counters per entry index (original, reply), only as long as the highest index of an
    /// entry created with accounting on.
    pub acct: Vec<[ctkit_model::Counters; 2]>,
    free: Vec<u32>,
    pub live: usize,
}

const MIN_BITS: u32 = 4;

impl<A: Addr> Table<A> {
    pub fn new() -> Table<A> {
        Table {
            slots: Slots::zeroed(1 << MIN_BITS),
            bits: MIN_BITS,
            used: 0,
            entries: Slab::Heap(Vec::new()),
            acct: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    fn mask(&self) -> usize {
        (1usize << self.bits) - 1
    }

    fn home_of_tag(&self, tag: u32) -> usize {
        (tag >> (32 - self.bits)) as usize
    }

    /// Finds `key` (hash `h`): the entry index and direction.
    #[inline]
    pub fn find(&self, key: &Key<A>, h: u64) -> Option<(u32, usize)> {
        let tag = (h >> 32) as u32;
        let mask = self.mask();
        let slots = self.slots.get();
        let mut i = self.home_of_tag(tag);
        loop {
            let s = slots[i];
            if s == 0 {
                return None;
            }
            if (s >> 32) as u32 == tag {
                let r = (s as u32) - 1;
                let e = &self.entries[(r >> 1) as usize];
                let dir = (r & 1) as usize;
                let hit = if dir == 0 {
                    *key == { e.key }
                } else {
                    { e.key }.reply_is(key)
                };
                if hit {
                    return Some((r >> 1, dir));
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Asks for the line of hash `h`'s home slot (a prefetch: the CPU goes on without
    /// waiting for it).
    #[inline]
    pub fn prefetch_slot(&self, h: u64) {
        if let Some(s) = self.slots.get().get(self.home_of_tag((h >> 32) as u32)) {
            prefetch(s);
        }
    }

    /// Asks for every cache line of the entry that hash `h` most likely names: the first
    /// slot from the home one whose tag matches (the slot's line should have been asked
    /// for a round earlier; if it has not arrived, this waits for it).
    #[inline]
    pub fn prefetch_entry_of(&self, h: u64) {
        let tag = (h >> 32) as u32;
        let mask = self.mask();
        let slots = self.slots.get();
        let mut i = self.home_of_tag(tag);
        loop {
            let s = slots[i];
            if s == 0 {
                return;
            }
            if (s >> 32) as u32 == tag {
                let r = ((s as u32) - 1) >> 1;
                if let Some(e) = self.entries.get(r as usize) {
                    prefetch_bytes(bytemuck::bytes_of(e));
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let old = std::mem::replace(&mut self.slots, Slots::Heap(Vec::new()));
        self.bits += 1;
        self.slots = Slots::zeroed(1 << self.bits);
        let mask = self.mask();
        let bits = self.bits;
        let slots = self.slots.get_mut();
        for &s in old.get().iter().filter(|s| **s != 0) {
            let mut i = ((s >> 32) as u32 >> (32 - bits)) as usize;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = s;
        }
    }

    fn index_insert(&mut self, h: u64, r: u32) {
        if (self.used + 1) * 8 > (1usize << self.bits) * 5 && self.bits < 32 {
            self.grow();
        }
        let tag = (h >> 32) as u32;
        let mask = self.mask();
        let mut i = self.home_of_tag(tag);
        let slots = self.slots.get_mut();
        while slots[i] != 0 {
            i = (i + 1) & mask;
        }
        slots[i] = (tag as u64) << 32 | (r as u64 + 1);
        self.used += 1;
    }

    fn index_remove(&mut self, h: u64, r: u32) {
        let want = ((h >> 32) << 32) | (r as u64 + 1);
        let mask = self.mask();
        let bits = self.bits;
        let home = |s: u64| ((s >> 32) as u32 >> (32 - bits)) as usize;
        let slots = self.slots.get_mut();
        let mut i = home(want);
        loop {
            let s = slots[i];
            if s == 0 {
                return; // not present: nothing to do
            }
            if s == want {
                break;
            }
            i = (i + 1) & mask;
        }
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = slots[j];
            if s == 0 {
                break;
            }
            let k = home(s);
            let stays = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if stays {
                continue;
            }
            slots[i] = s;
            i = j;
        }
        slots[i] = 0;
        self.used -= 1;
    }

    /// Adds an entry under both tuples; returns its index.
    pub fn insert(&mut self, e: Entry<A>, h_orig: u64, h_reply: u64) -> u32 {
        let idx = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = e;
                i
            }
            None => {
                self.entries.push(e);
                (self.entries.len() - 1) as u32
            }
        };
        self.index_insert(h_orig, idx << 1);
        self.index_insert(h_reply, idx << 1 | 1);
        self.live += 1;
        idx
    }

    /// Removes entry `idx` (its hashes given).
    pub fn remove(&mut self, idx: u32, h_orig: u64, h_reply: u64) {
        self.index_remove(h_orig, idx << 1);
        self.index_remove(h_reply, idx << 1 | 1);
        self.entries[idx as usize].aux = AUX_FREE;
        self.free.push(idx);
        self.live -= 1;
    }

    /// The entry references whose tag maps to kernel bucket `bucket` of `nbuckets`, in slot
    /// order (`reciprocal_scale(tag, nbuckets) == bucket`).
    pub fn bucket_refs(&self, bucket: u32, nbuckets: u32, out: &mut Vec<(u32, usize)>) {
        out.clear();
        // First tag of the bucket: ceil(bucket * 2^32 / nbuckets).
        let lo = ((bucket as u64) << 32).div_ceil(nbuckets as u64);
        if lo > u32::MAX as u64 {
            return;
        }
        let hi = (((bucket as u64 + 1) << 32).div_ceil(nbuckets as u64)).min(1 << 32);
        let mask = self.mask();
        let start = self.home_of_tag(lo as u32);
        let last = self.home_of_tag((hi - 1) as u32);
        // Entries never sit before their home slot and a probe run has no hole, so every
        // entry homed in [start, last] is found walking from `start` to the first empty
        // slot after `last`.
        let span = last.wrapping_sub(start) & mask;
        let slots = self.slots.get();
        let mut i = start;
        let mut steps = 0usize;
        while steps <= slots.len() {
            let s = slots[i];
            if s == 0 {
                if steps >= span {
                    break;
                }
            } else {
                let tag = (s >> 32) as u32;
                let b = ((tag as u64 * nbuckets as u64) >> 32) as u32;
                if b == bucket {
                    let r = (s as u32) - 1;
                    out.push((r >> 1, (r & 1) as usize));
                }
            }
            i = (i + 1) & mask;
            steps += 1;
        }
    }

    /// Bytes held by the index and the slab.
    pub fn memory(&self) -> usize {
        (1usize << self.bits) * 8
            + self.entries.capacity() * std::mem::size_of::<Entry<A>>()
            + self.free.capacity() * 4
            + self.acct.capacity() * std::mem::size_of::<[ctkit_model::Counters; 2]>()
    }

    /// Index slots (capacity).
    #[allow(dead_code)]
    pub fn slot_count(&self) -> usize {
        self.slots.get().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> Key<[u8; 4]> {
        Key {
            src: (0xc000_0200u32 + (i & 0xff)).to_be_bytes(),
            dst: [198, 51, 100, 2],
            sport: 1024 + (i >> 8) as u16,
            dport: 80,
            proto: 6,
            zone: 0,
        }
    }

    fn entry(i: u32) -> Entry<[u8; 4]> {
        Entry {
            expires: 0,
            status: 0,
            aux: 0,
            proto: ProtoRec::NONE,
            key: key(i),
            spare: 0,
        }
    }

    #[test]
    fn test_prefetch_bytes_asks_for_every_cache_line_of_entries_and_headers() {
        // Entries are packed (alignment 1) but their sizes are multiples of 8 and the slab
        // starts 8-aligned (a mapping, or a `Vec` from malloc), so every entry starts at a
        // multiple of 8; a packet's headers (65 bytes asked for) may start anywhere.
        let v4 = std::mem::size_of::<Entry<[u8; 4]>>();
        let v6 = std::mem::size_of::<Entry<[u8; 16]>>();
        assert_eq!((v4, v6), (80, 104));
        for (size, step) in [(v4, 8), (v6, 8), (65, 1), (1, 1), (64, 1), (129, 1)] {
            let probes = line_probes(size);
            // Every placement within a 64-byte line: each line the run overlaps holds a probe.
            for start in (0..64).step_by(step) {
                let (first, last) = (start / 64, (start + size - 1) / 64);
                for line in first..=last {
                    assert!(
                        probes.iter().any(|o| (start + o) / 64 == line),
                        "run of {size} B at {start}: line {line} not asked for by {probes:?}"
                    );
                }
            }
        }
        assert_eq!(line_probes(80), [0, 64, 79]);
        assert_eq!(line_probes(10), [0, 0, 9]);
    }

    #[test]
    fn test_hash_is_keyed_by_the_seed_and_repeatable() {
        let (a, b) = (HashKey::new(1), HashKey::new(2));
        assert_eq!(a.hash(&key(7)), HashKey::new(1).hash(&key(7)));
        assert_ne!(a.hash(&key(7)), b.hash(&key(7)));
        assert_ne!(a.hash(&key(7)), a.hash(&key(8)));
    }

    #[test]
    fn test_find_both_directions_and_remove_keeps_the_rest_findable() {
        let hk = HashKey::new(3);
        let mut t = Table::new();
        for i in 0..2000 {
            let e = entry(i);
            t.insert(e, hk.hash(&e.key), hk.hash(&e.key_dir(1)));
        }
        for i in (0..2000).step_by(3) {
            let e = entry(i);
            t.remove(i, hk.hash(&e.key), hk.hash(&e.key_dir(1)));
        }
        for i in 0..2000 {
            let k = key(i);
            let r = k.invert().unwrap();
            let want = if i % 3 == 0 { None } else { Some(i) };
            assert_eq!(t.find(&k, hk.hash(&k)).map(|x| x.0), want);
            assert_eq!(t.find(&r, hk.hash(&r)), want.map(|i| (i, 1)));
        }
        assert_eq!(t.live, 2000 - 667);
    }

    #[test]
    fn test_index_grown_into_a_huge_page_mapping_keeps_every_tuple_findable() {
        // 60,000 entries = 120,000 tuples: the index grows to 2^18 slots (2 MiB), the size
        // at which it moves into a mapping advised for huge pages.
        let hk = HashKey::new(5);
        let mut t = Table::new();
        let n = 60_000u32;
        for i in 0..n {
            let e = entry(i);
            t.insert(e, hk.hash(&e.key), hk.hash(&e.key_dir(1)));
        }
        assert_eq!(t.slot_count(), 1 << 18);
        assert!(
            matches!(t.slots, Slots::Mapped(_)),
            "2 MiB of slots are mapped"
        );
        assert!(
            matches!(t.entries, Slab::Mapped { .. }),
            "4.8 MB of entries are mapped"
        );
        assert_eq!(t.entries.len(), n as usize);
        assert!(t
            .entries
            .iter()
            .enumerate()
            .all(|(i, e)| e.key == key(i as u32)));
        for i in (0..n).step_by(2) {
            let e = entry(i);
            t.remove(i, hk.hash(&e.key), hk.hash(&e.key_dir(1)));
        }
        for i in 0..n {
            let k = key(i);
            let r = k.invert().unwrap();
            let want = if i % 2 == 0 { None } else { Some(i) };
            assert_eq!(t.find(&k, hk.hash(&k)), want.map(|i| (i, 0)));
            assert_eq!(t.find(&r, hk.hash(&r)), want.map(|i| (i, 1)));
        }
        assert_eq!(t.live, n as usize / 2);
        assert_eq!(
            t.memory(),
            (1 << 18) * 8 + t.entries.capacity() * 80 + t.free.capacity() * 4
        );
    }

    #[test]
    fn test_bucket_refs_lists_exactly_the_bucket_members() {
        let hk = HashKey::new(9);
        let mut t = Table::new();
        for i in 0..500 {
            let e = entry(i);
            t.insert(e, hk.hash(&e.key), hk.hash(&e.key_dir(1)));
        }
        let nb = 37;
        let mut total = 0;
        let mut out = Vec::new();
        for b in 0..nb {
            t.bucket_refs(b, nb, &mut out);
            for &(idx, dir) in &out {
                let h = hk.hash(&t.entries[idx as usize].key_dir(dir));
                assert_eq!((((h >> 32) * nb as u64) >> 32) as u32, b);
            }
            total += out.len();
        }
        assert_eq!(
            total, 1000,
            "every tuple of both directions in exactly one bucket"
        );
    }
}
