//! The table and the per-packet path (`nf_conntrack_in`, `resolve_normal_ct`,
//! `__nf_conntrack_confirm`, `early_drop`, `gc_worker`).
//!
//! One call of [`Tracker::process`] is one packet through the kernel's PRE_ROUTING conntrack
//! hook and, if it created an entry, through confirmation (every packet is assumed accepted
//! by the ruleset). Events are coalesced per packet as the kernel's event cache does
//! (`nf_conntrack_event_cache` + `nf_ct_deliver_cached_events`): one event per packet
//! carrying every change, `[NEW]` at confirmation, `[DESTROY]` at deletion.
//!
//! Time: the caller's `now` becomes the kernel's clock, 32-bit wrapping jiffies of HZ=250
//! (4 ms), compared the same wrapping way as `nf_ct_is_expired`, so timeouts print as the
//! kernel prints them (`[NEW] tcp 6 120`, not 119, when the event follows the refresh within
//! a tick). Timeouts above 2^31 jiffies (99 days) are clamped to it.

use crate::config::Helper;
use crate::expect::{ExpectEvent, Expectation, FtpState};
use crate::packet::{self, L3Error, L3};
use crate::proto::{self, ProtoRec, ProtoState};
use crate::table::{Addr, Entry, HashKey, Key, Table, AUX_ACCT, AUX_EXT};
use crate::tcp::{self, CtView, TcpCfg, TcpRes};
use crate::{Config, Nanos};
use ctkit_model::protoinfo::{ProtoInfo, SctpInfo, TcpInfo};
use ctkit_model::{Flow, HelperName, Status};
use std::collections::HashMap;

/// What the kernel attaches to a packet (`enum ip_conntrack_info`), as a rule sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtInfo {
    /// `ct state new`.
    New,
    /// `ct state established`.
    Established,
    /// `ct state related`.
    Related,
    /// `ct state invalid` (no entry attached).
    Invalid,
    /// `ct state untracked`.
    Untracked,
}

/// The tracker's answer for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The state a rule sees.
    pub info: CtInfo,
    /// The packet travels in the reply direction (`IP_CT_IS_REPLY`).
    pub reply: bool,
    /// The kernel would drop the packet (table full with no early-drop victim, a clash it
    /// cannot resolve, an FTP command cut at the segment end).
    pub dropped: bool,
}

impl Verdict {
    fn of(info: CtInfo, reply: bool) -> Verdict {
        Verdict {
            info,
            reply,
            dropped: false,
        }
    }
}

/// Event kinds (`IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE`, without it, `IPCTNL_MSG_CT_DELETE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// `[NEW]`.
    New,
    /// `[UPDATE]`.
    Update,
    /// `[DESTROY]`.
    Destroy,
}

/// One event, as a ctnetlink listener would receive it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Kind.
    pub kind: EventKind,
    /// When (the packet's or the garbage collection's `now`).
    pub at: Nanos,
    /// The entry at that moment (timeout relative to `at`).
    pub flow: Flow,
}

/// Counters by their kernel names (`/proc/net/stat/nf_conntrack`, `conntrack -S`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `found`.
    pub found: u64,
    /// `invalid`.
    pub invalid: u64,
    /// `insert`.
    pub insert: u64,
    /// `insert_failed`.
    pub insert_failed: u64,
    /// `drop`.
    pub drop: u64,
    /// `early_drop`.
    pub early_drop: u64,
    /// `error`.
    pub error: u64,
    /// `expect_new`.
    pub expect_new: u64,
    /// `expect_create`.
    pub expect_create: u64,
    /// `expect_delete`.
    pub expect_delete: u64,
    /// `search_restart`.
    pub search_restart: u64,
    /// `clash_resolve`.
    pub clash_resolve: u64,
    /// `chaintoolong`.
    pub chaintoolong: u64,
}

/// `enum ip_conntrack_events` bits the engine raises.
pub(crate) mod ipct {
    pub const NEW: u32 = 1 << 0;
    pub const RELATED: u32 = 1 << 1;
    pub const DESTROY: u32 = 1 << 2;
    pub const REPLY: u32 = 1 << 3;
    pub const ASSURED: u32 = 1 << 4;
    pub const PROTOINFO: u32 = 1 << 5;
}

/// The kernel's HZ on the reference machine (CONFIG_HZ=250): the clock's granularity.
pub(crate) const HZ: u32 = 250;
/// Nanoseconds per jiffy.
pub(crate) const TICK_NS: u64 = 1_000_000_000 / HZ as u64;

/// Jiffies of a timeout sysctl, clamped to the wrapping clock's half range.
fn secs_ms(s: u64) -> u32 {
    s.saturating_mul(HZ as u64).min(i32::MAX as u64) as u32
}

/// Config values the packet path reads, timeouts in jiffies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Derived {
    pub tcp: TcpCfg,
    pub loose: bool,
    pub udp: u32,
    pub udp_stream: u32,
    pub icmp: u32,
    pub icmpv6: u32,
    pub generic: u32,
    pub gre: u32,
    pub gre_stream: u32,
    /// By `enum sctp_conntrack` (0 unused).
    pub sctp: [u32; 10],
    pub max: u64,
    pub buckets: u32,
    pub expect_max: usize,
    pub checksum: bool,
    pub acct: bool,
    pub timestamp: bool,
    pub events: bool,
}

impl Derived {
    pub fn of(c: &Config) -> Derived {
        let t = |n: &str| secs_ms(c.val(&format!("nf_conntrack_tcp_timeout_{n}")));
        let mut timeouts = [0u32; 14];
        let names = [
            "",
            "syn_sent",
            "syn_recv",
            "established",
            "fin_wait",
            "close_wait",
            "last_ack",
            "time_wait",
            "close",
            "syn_sent",
        ];
        for (i, n) in names.iter().enumerate().skip(1) {
            timeouts[i] = t(n);
        }
        timeouts[tcp::st::RETRANS] = t("max_retrans");
        timeouts[tcp::st::UNACK] = t("unacknowledged");
        let s = |n: &str| secs_ms(c.val(&format!("nf_conntrack_sctp_timeout_{n}")));
        let sctp = [
            0,
            s("closed"),
            s("cookie_wait"),
            s("cookie_echoed"),
            s("established"),
            s("shutdown_sent"),
            s("shutdown_recd"),
            s("shutdown_ack_sent"),
            s("heartbeat_sent"),
            s("established"),
        ];
        Derived {
            tcp: TcpCfg {
                timeouts,
                be_liberal: c.val("nf_conntrack_tcp_be_liberal") != 0,
                ignore_invalid_rst: c.val("nf_conntrack_tcp_ignore_invalid_rst") != 0,
                max_retrans: c.val("nf_conntrack_tcp_max_retrans").min(255) as u8,
            },
            loose: c.val("nf_conntrack_tcp_loose") != 0,
            udp: secs_ms(c.val("nf_conntrack_udp_timeout")),
            udp_stream: secs_ms(c.val("nf_conntrack_udp_timeout_stream")),
            icmp: secs_ms(c.val("nf_conntrack_icmp_timeout")),
            icmpv6: secs_ms(c.val("nf_conntrack_icmpv6_timeout")),
            generic: secs_ms(c.val("nf_conntrack_generic_timeout")),
            gre: secs_ms(c.val("nf_conntrack_gre_timeout")),
            gre_stream: secs_ms(c.val("nf_conntrack_gre_timeout_stream")),
            sctp,
            max: c.val("nf_conntrack_max"),
            buckets: c.val("nf_conntrack_buckets").clamp(1, u32::MAX as u64) as u32,
            expect_max: c.val("nf_conntrack_expect_max") as usize,
            checksum: c.val("nf_conntrack_checksum") != 0,
            acct: c.val("nf_conntrack_acct") != 0,
            timestamp: c.val("nf_conntrack_timestamp") != 0,
            events: c.val("nf_conntrack_events") != 0,
        }
    }
}

/// Side data few entries have (`ct->ext` in the kernel): helper, master, counters, start.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ext {
    pub helper: Option<Helper>,
    pub ftp: FtpState,
    pub master: Option<ctkit_model::Tuple>,
    /// The master entry (family, index) while it lives: an expected connection holds a
    /// reference on its master (`ct->master`), which `use=` shows.
    pub master_ref: Option<(u8, u32)>,
    /// Live expected connections holding a reference on this entry.
    pub children: u32,
    pub start_ns: Option<u64>,
}

/// `struct conntrack_gc_work`, as far as the cadence goes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Gc {
    /// Next run, ns (`None` until the first packet: the worker starts 1 s after).
    pub next: Option<Nanos>,
    /// Flagged by a failed early drop: kill evictable entries at ≥ 95 % of max.
    pub early_drop: bool,
    /// No entry or expectation expires before this time (ns), as of the last pass.
    pub quiet_until: Nanos,
}

/// Address families: which table an address type lives in.
pub(crate) trait Fam: Addr {
    const FAM: u8;
    fn table(t: &Tracker) -> &Table<Self>;
    fn table_mut(t: &mut Tracker) -> &mut Table<Self>;
    fn split(t: &mut Tracker) -> (&mut Table<Self>, &Derived);
}

impl Fam for [u8; 4] {
    const FAM: u8 = 4;
    fn table(t: &Tracker) -> &Table<Self> {
        &t.v4
    }
    fn table_mut(t: &mut Tracker) -> &mut Table<Self> {
        &mut t.v4
    }
    fn split(t: &mut Tracker) -> (&mut Table<Self>, &Derived) {
        (&mut t.v4, &t.d)
    }
}

impl Fam for [u8; 16] {
    const FAM: u8 = 6;
    fn table(t: &Tracker) -> &Table<Self> {
        &t.v6
    }
    fn table_mut(t: &mut Tracker) -> &mut Table<Self> {
        &mut t.v6
    }
    fn split(t: &mut Tracker) -> (&mut Table<Self>, &Derived) {
        (&mut t.v6, &t.d)
    }
}

/// The connection tracker.
pub struct Tracker {
    config: Config,
    pub(crate) d: Derived,
    pub(crate) key: HashKey,
    pub(crate) v4: Table<[u8; 4]>,
    pub(crate) v6: Table<[u8; 16]>,
    pub(crate) ext: HashMap<(u8, u32), Ext>,
    pub(crate) expects: Vec<Expectation>,
    pub(crate) expect_events: Vec<ExpectEvent>,
    /// The earliest expiry (jiffies) among `expects` (meaningless when it is empty).
    pub(crate) expect_next: u32,
    pub(crate) stats: Stats,
    events: Vec<Event>,
    pub(crate) gc: Gc,
    seed: u64,
    pub(crate) expect_serial: u64,
    scratch: Vec<(u32, usize)>,
}

/// A batch packet after the warm-up's parse: family (0: no tuple to look up) and the
/// lookup hash, the parsed header (`None`: malformed, `process` reports it).
#[derive(Clone, Copy)]
struct Prep<'p> {
    fam: u8,
    h: u64,
    l3: Option<L3<'p>>,
}

impl Prep<'_> {
    const NONE: Prep<'static> = Prep {
        fam: 0,
        h: 0,
        l3: None,
    };
}

/// A packet of a batch: its bytes, and its time when it carries one.
trait BatchPkt {
    fn bytes(&self) -> &[u8];
    /// The packet's time, or the batch's `now`.
    fn at(&self, now: Nanos) -> Nanos;
}

impl BatchPkt for &[u8] {
    #[inline]
    fn bytes(&self) -> &[u8] {
        self
    }
    #[inline]
    fn at(&self, now: Nanos) -> Nanos {
        now
    }
}

impl BatchPkt for (Nanos, &[u8]) {
    #[inline]
    fn bytes(&self) -> &[u8] {
        self.1
    }
    #[inline]
    fn at(&self, _: Nanos) -> Nanos {
        self.0
    }
}

/// Prefetches a packet's first two cache lines (its headers).
#[inline]
fn prefetch_header(p: &[u8]) {
    crate::table::prefetch_bytes(&p[..p.len().min(65)]);
}

/// Jiffies (HZ=250) on the wrapping 32-bit clock, as the kernel's `nfct_time_stamp`.
pub(crate) fn ms(now: Nanos) -> u32 {
    (now / TICK_NS) as u32
}

/// `nf_ct_is_expired`.
pub(crate) fn expired(expires: u32, now_ms: u32) -> bool {
    (expires.wrapping_sub(now_ms) as i32) <= 0
}

/// Whole seconds left (`nf_ct_expires / HZ`).
fn secs_left(expires: u32, now_ms: u32) -> u32 {
    let d = expires.wrapping_sub(now_ms) as i32;
    if d <= 0 {
        0
    } else {
        d as u32 / HZ
    }
}

const ST_SEEN_REPLY: u16 = 1 << 1;
const ST_ASSURED: u16 = 1 << 2;
const ST_CONFIRMED: u16 = 1 << 3;
const ST_EXPECTED: u16 = 1 << 0;
const ST_HELPER: u16 = 1 << 13;

/// A packet's layer 4 facts, decoded once.
struct Pkt<'a> {
    l3: L3<'a>,
}

/// Outcome of the layer 4 handler.
pub(crate) enum L4Res {
    Accept {
        timeout: Option<u32>,
        bits: u32,
        kill: bool,
    },
    Invalid,
    Repeat,
}

impl Tracker {
    /// A tracker with an empty table; `seed` keys the table's hash (and so which entries
    /// early drop finds).
    pub fn new(config: Config, seed: u64) -> Tracker {
        Tracker {
            d: Derived::of(&config),
            config,
            key: HashKey::new(seed),
            v4: Table::new(),
            v6: Table::new(),
            ext: HashMap::new(),
            expects: Vec::new(),
            expect_events: Vec::new(),
            expect_next: 0,
            stats: Stats::default(),
            events: Vec::new(),
            gc: Gc::default(),
            seed,
            expect_serial: 0,
            scratch: Vec::new(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Changes a sysctl while running (as `sysctl -w` would): later packets see it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), crate::ConfigError> {
        self.config.set(name, value)?;
        self.d = Derived::of(&self.config);
        Ok(())
    }

    /// Whether the packets tracked next have their checksums verified: `on` when the
    /// configuration's `nf_conntrack_checksum` is 1, `false` otherwise. The configuration does
    /// not change. The kernel verifies only packets it receives (`nf_conntrack_checksum`
    /// applies in PRE_ROUTING; a packet the host sends was never checked), so a replay turns
    /// it off around the packets the capturing host sent. Call it between batches, not per
    /// packet of one.
    pub fn verify_checksums(&mut self, on: bool) {
        self.d.checksum = on && self.config.val("nf_conntrack_checksum") != 0;
    }

    /// Tracks one packet (IPv4 or IPv6 header first) in `zone` at `now`.
    pub fn process(&mut self, now: Nanos, zone: u16, l3: &[u8]) -> Verdict {
        self.run_gc_until(now);
        let l3 = match packet::parse(l3) {
            Ok(l3) => l3,
            Err(L3Error::Malformed) | Err(L3Error::NoL4) => {
                self.stats.invalid += 1;
                return Verdict::of(CtInfo::Invalid, false);
            }
        };
        self.process_l3(now, zone, l3, None)
    }

    /// [`Tracker::process`] after the parse (and the GC), with the lookup's hash when the
    /// batch warm-up already computed it for this very packet and zone.
    #[inline]
    fn process_l3(&mut self, now: Nanos, zone: u16, l3: L3<'_>, hash: Option<u64>) -> Verdict {
        if l3.version == 4 {
            self.process_fam::<[u8; 4]>(now, zone, l3, hash)
        } else {
            self.process_fam::<[u8; 16]>(now, zone, l3, hash)
        }
    }

    /// Tracks a batch of packets of the same `now` and `zone`, in order, writing one verdict
    /// per packet into `out` (which must be as long as `pkts`). Same results as calling
    /// [`Tracker::process`] on each; faster on large tables: the cache misses of the batch
    /// overlap with each other and with the work on earlier packets. The packets run in
    /// rounds of [`Tracker::BATCH`], software-pipelined as DPDK and VPP do it: while packet j
    /// of round k is tracked, the header of packet j of round k+3 is prefetched, packet j of
    /// round k+2 is parsed, hashed and its index slot prefetched, and the entry that packet
    /// j of round k+1 names (found by tag in the slot prefetched a round before) is
    /// prefetched.
    pub fn process_batch(&mut self, now: Nanos, zone: u16, pkts: &[&[u8]], out: &mut [Verdict]) {
        self.run_batch(now, zone, pkts, out);
    }

    /// Tracks a batch of packets each at its own time (a capture's timestamps, in order, not
    /// decreasing), in `zone`, writing one verdict per packet into `out` (as long as
    /// `pkts`). Same results as calling [`Tracker::process`] on each in turn (garbage
    /// collection included: it runs up to each packet's time before that packet), with the
    /// cache misses overlapped as in [`Tracker::process_batch`]. The entry point for
    /// replaying captures.
    pub fn process_batch_at(&mut self, zone: u16, pkts: &[(Nanos, &[u8])], out: &mut [Verdict]) {
        self.run_batch(0, zone, pkts, out);
    }

    /// The batch pipeline behind [`Tracker::process_batch`] and
    /// [`Tracker::process_batch_at`]. Prefetches are hints: a table changed by an earlier
    /// packet of the batch (insert, growth, deletion) only makes one of them useless.
    fn run_batch<P: BatchPkt>(&mut self, now: Nanos, zone: u16, pkts: &[P], out: &mut [Verdict]) {
        const B: usize = Tracker::BATCH;
        let n = pkts.len().min(out.len());
        let round = |k: usize| &pkts[(k * B).min(n)..((k + 1) * B).min(n)];
        // Prologue: fill the pipeline (headers of rounds 0-2, slots of 0-1, entries of 0).
        for r in [round(0), round(1), round(2)] {
            r.iter().for_each(|p| prefetch_header(p.bytes()));
        }
        let mut cur = self.batch_prep(zone, round(0));
        cur.iter().for_each(|x| self.prefetch_slot(x));
        let mut next = self.batch_prep(zone, round(1));
        next.iter().for_each(|x| self.prefetch_slot(x));
        cur.iter().for_each(|x| self.prefetch_entry(x));
        for k in 0..n.div_ceil(B) {
            let (ahead2, ahead3) = (round(k + 2), round(k + 3));
            let mut next2 = [Prep::NONE; B];
            let this = round(k).iter().zip(out[k * B..].iter_mut()).zip(&cur);
            for (j, ((p, o), pre)) in this.enumerate() {
                if let Some(q) = ahead3.get(j) {
                    prefetch_header(q.bytes());
                }
                if let Some(q) = ahead2.get(j) {
                    next2[j] = self.prep(zone, q.bytes());
                    self.prefetch_slot(&next2[j]);
                }
                self.prefetch_entry(&next[j]);
                let at = p.at(now);
                *o = match pre.l3 {
                    // `process` without parsing and hashing the packet a second time.
                    Some(l3) => {
                        self.run_gc_until(at);
                        self.process_l3(at, zone, l3, (pre.fam != 0).then_some(pre.h))
                    }
                    None => self.process(at, zone, p.bytes()),
                };
            }
            cur = next;
            next = next2;
        }
    }

    /// Packets per round of [`Tracker::process_batch`]. The pipeline looks three rounds
    /// ahead; 8 to 16 packets per round give the same rate with 1M flows (about 11 M
    /// packets/s here), 24 and 32 less: the core's miss buffers are full, and prefetches
    /// issued further ahead only wait longer for one.
    pub const BATCH: usize = 16;

    /// Packets per call that keep [`Tracker::process_batch`]'s pipeline full for most of
    /// the call: the first round of a call waits for its index slots and entries, later ones
    /// find them cached. Callers that can (a capture replay) hand this many at a time.
    pub const PIPELINE: usize = 8 * Tracker::BATCH;

    /// Each packet of a round parsed and hashed (see [`Prep`]).
    fn batch_prep<'p, P: BatchPkt>(&self, zone: u16, pkts: &'p [P]) -> [Prep<'p>; Tracker::BATCH] {
        let mut pre = [Prep::NONE; Self::BATCH];
        for (p, x) in pkts.iter().zip(pre.iter_mut()) {
            *x = self.prep(zone, p.bytes());
        }
        pre
    }

    /// Prefetches a prepared packet's home index slot.
    #[inline]
    fn prefetch_slot(&self, x: &Prep<'_>) {
        match x.fam {
            4 => self.v4.prefetch_slot(x.h),
            6 => self.v6.prefetch_slot(x.h),
            _ => {}
        }
    }

    /// Prefetches the entry a prepared packet most likely names (its slot found by tag).
    #[inline]
    fn prefetch_entry(&self, x: &Prep<'_>) {
        match x.fam {
            4 => self.v4.prefetch_entry_of(x.h),
            6 => self.v6.prefetch_entry_of(x.h),
            _ => {}
        }
    }

    /// A packet parsed, and the keyed hash of its original-direction tuple: the hash of
    /// exactly the key `process_fam` builds from the same parse, so it can skip hashing.
    #[inline]
    fn prep<'p>(&self, zone: u16, p: &'p [u8]) -> Prep<'p> {
        let Ok(l3) = packet::parse(p) else {
            return Prep::NONE;
        };
        let Some((sport, dport)) = proto::l4_ports(l3.proto, l3.l4) else {
            return Prep {
                l3: Some(l3),
                ..Prep::NONE
            };
        };
        let (src, dst, proto) = (l3.src, l3.dst, l3.proto);
        let (fam, h) = if l3.version == 4 {
            let (s, d) = (<[u8; 4]>::from_slice(src), <[u8; 4]>::from_slice(dst));
            (4, self.key.hash_parts(s, d, sport, dport, proto, zone))
        } else {
            let (s, d) = (<[u8; 16]>::from_slice(src), <[u8; 16]>::from_slice(dst));
            (6, self.key.hash_parts(s, d, sport, dport, proto, zone))
        };
        Prep {
            fam,
            h,
            l3: Some(l3),
        }
    }

    /// Garbage collection up to `now`: expired entries go (DESTROY events).
    pub fn advance(&mut self, now: Nanos) {
        self.run_gc_until(now);
    }

    /// Entries in the table (`nf_conntrack_count`: expired entries not yet reaped included).
    pub fn len(&self) -> usize {
        self.v4.live + self.v6.live
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Expectations pending (`/proc/net/nf_conntrack_expect` lines).
    pub fn expect_count(&self) -> usize {
        self.expects.len()
    }

    /// Hands out and forgets the events since the last call, oldest first.
    pub fn drain_events(&mut self, f: &mut dyn FnMut(&Event)) {
        for e in self.events.drain(..) {
            f(&e);
        }
    }

    /// Hands out and forgets the expectation events since the last call, oldest first (the
    /// stream `conntrack -E expect` prints; a separate stream, as the kernel's expectation
    /// event groups are).
    pub fn drain_expect_events(&mut self, f: &mut dyn FnMut(&ExpectEvent)) {
        for e in self.expect_events.drain(..) {
            f(&e);
        }
    }

    /// Every pending expectation as a [`ctkit_model::Expect`] (what `conntrack -L expect`
    /// prints), timeouts relative to `now`, oldest first.
    pub fn for_each_expect(&self, now: Nanos, f: &mut dyn FnMut(&ctkit_model::Expect)) {
        let now_ms = ms(now);
        for x in &self.expects {
            if !expired(x.expires, now_ms) {
                f(&x.as_model(now_ms, self.expect_id(x)));
            }
        }
    }

    /// The hash seed the tracker was made with.
    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// Every live entry as a [`Flow`], timeouts relative to `now`, in table order.
    pub fn for_each_flow(&self, now: Nanos, f: &mut dyn FnMut(&Flow)) {
        self.each_flow_fam::<[u8; 4]>(now, f);
        self.each_flow_fam::<[u8; 16]>(now, f);
    }

    /// Bytes the table holds now (index, slab and side data), for the benchmarks.
    pub fn memory_bytes(&self) -> usize {
        self.v4.memory()
            + self.v6.memory()
            + self.ext.capacity() * (std::mem::size_of::<((u8, u32), Ext)>() + 1)
    }

    fn each_flow_fam<A: Fam>(&self, now: Nanos, f: &mut dyn FnMut(&Flow)) {
        let now_ms = ms(now);
        let t = A::table(self);
        for (i, e) in t.entries.iter().enumerate() {
            if e.aux & crate::table::AUX_FREE != 0 || expired(e.expires, now_ms) {
                continue;
            }
            let flow = self.flow_of::<A>(i as u32, e, now_ms, None);
            f(&flow);
        }
    }

    /// The entry as ctnetlink would report it: a dump (`bits` = None) or an event.
    pub(crate) fn flow_of<A: Fam>(
        &self,
        idx: u32,
        e: &Entry<A>,
        now_ms: u32,
        bits: Option<u32>,
    ) -> Flow {
        let mut f = Flow {
            orig: { e.key }.tuple(),
            reply: e.key_dir(1).tuple(),
            has_orig: true,
            has_reply: true,
            status: Some(Status(e.status as u32)),
            id: Some(self.entry_id(A::FAM, idx)),
            ..Flow::default()
        };
        if e.key.zone != 0 {
            f.zone = Some(e.key.zone);
        }
        let destroy = bits.is_some_and(|b| b & ipct::DESTROY != 0);
        let with_proto = match bits {
            None => true,
            Some(b) => b & (ipct::PROTOINFO | ipct::DESTROY) != 0,
        };
        // ctnetlink puts the timeout in DESTROY events only when it is not 0 (an entry killed
        // early, e.g. by an RST before any reply, still has time left).
        let left = secs_left(e.expires, now_ms);
        if !destroy || left > 0 {
            f.timeout = Some(left);
        }
        if bits.is_none() {
            f.mark = Some(0);
            let children = if e.aux & AUX_EXT != 0 {
                self.ext.get(&(A::FAM, idx)).map_or(0, |x| x.children)
            } else {
                0
            };
            f.use_count = Some(1 + children);
        }
        if with_proto {
            f.protoinfo = match e.proto.get() {
                ProtoState::Tcp(t) => Some(ProtoInfo::Tcp(if destroy {
                    TcpInfo {
                        state: Some(t.state),
                        ..TcpInfo::default()
                    }
                } else {
                    TcpInfo {
                        state: Some(t.state),
                        wscale_orig: Some(t.seen[0].td_scale),
                        wscale_reply: Some(t.seen[1].td_scale),
                        flags_orig: Some((t.seen[0].flags, 0)),
                        flags_reply: Some((t.seen[1].flags, 0)),
                    }
                })),
                ProtoState::Sctp(s) => Some(ProtoInfo::Sctp(if destroy {
                    SctpInfo {
                        state: Some(s.state),
                        ..SctpInfo::default()
                    }
                } else {
                    SctpInfo {
                        state: Some(s.state),
                        vtag_orig: Some(s.vtag[0]),
                        vtag_reply: Some(s.vtag[1]),
                    }
                })),
                _ => None,
            };
        }
        if e.aux & AUX_ACCT != 0 && (bits.is_none() || destroy) {
            if let Some(c) = A::table(self).acct.get(idx as usize) {
                f.counters_orig = Some(c[0]);
                f.counters_reply = Some(c[1]);
            }
        }
        if e.aux & AUX_EXT != 0 {
            if let Some(x) = self.ext.get(&(A::FAM, idx)) {
                if !destroy {
                    if let Some(h) = x.helper {
                        f.helper = Some(HelperName::new(h.name()));
                    }
                }
                let master = match bits {
                    None => true,
                    Some(b) => b & ipct::RELATED != 0,
                };
                if master {
                    f.master = x.master;
                }
                if let Some(start) = x.start_ns {
                    if bits.is_none() || destroy {
                        f.timestamp = Some(ctkit_model::Timestamp { start, stop: None });
                    }
                }
            }
        }
        f
    }

    /// A 32-bit id per entry (the kernel hashes the object's address; ours hashes the slot).
    fn entry_id(&self, fam: u8, idx: u32) -> u32 {
        let mut x = self.seed ^ ((fam as u64) << 40) ^ idx as u64;
        x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        (x ^ (x >> 29)) as u32
    }

    fn push_event<A: Fam>(&mut self, at: Nanos, idx: u32, bits: u32) {
        if !self.d.events || bits == 0 {
            return;
        }
        let kind = if bits & ipct::DESTROY != 0 {
            EventKind::Destroy
        } else if bits & (ipct::NEW | ipct::RELATED) != 0 {
            EventKind::New
        } else {
            EventKind::Update
        };
        let e = A::table(self).entries[idx as usize];
        let mut flow = self.flow_of::<A>(idx, &e, ms(at), Some(bits));
        if kind == EventKind::Destroy {
            if let Some(ts) = &mut flow.timestamp {
                ts.stop = Some(at);
            }
        }
        self.events.push(Event { kind, at, flow });
    }

    /// `nf_ct_delete`: out of the table, DESTROY event, its expectations go too.
    pub(crate) fn delete<A: Fam>(&mut self, at: Nanos, idx: u32) {
        self.push_event::<A>(at, idx, ipct::DESTROY);
        let e = A::table(self).entries[idx as usize];
        let ho = self.key.hash(&{ e.key });
        let hr = self.key.hash(&e.key_dir(1));
        A::table_mut(self).remove(idx, ho, hr);
        if e.aux & AUX_EXT != 0 {
            if let Some(x) = self.ext.remove(&(A::FAM, idx)) {
                if let Some(m) = x.master_ref {
                    if let Some(mx) = self.ext.get_mut(&m) {
                        mx.children = mx.children.saturating_sub(1);
                    }
                }
                if x.children > 0 {
                    // The master goes first: its children's references point nowhere now.
                    for c in self.ext.values_mut() {
                        if c.master_ref == Some((A::FAM, idx)) {
                            c.master_ref = None;
                        }
                    }
                }
            }
            self.remove_expectations_of(at, A::FAM, idx);
        }
    }

    /// Looks `key` up, reaping an expired entry found under it (`____nf_conntrack_find`).
    fn lookup<A: Fam>(&mut self, key: &Key<A>, h: u64, now: Nanos) -> Option<(u32, usize)> {
        let (idx, dir) = A::table(self).find(key, h)?;
        if expired(A::table(self).entries[idx as usize].expires, ms(now)) {
            self.delete::<A>(now, idx);
            return None;
        }
        Some((idx, dir))
    }

    fn process_fam<A: Fam>(
        &mut self,
        now: Nanos,
        zone: u16,
        l3: L3<'_>,
        hash: Option<u64>,
    ) -> Verdict {
        let proto = l3.proto;
        if proto == proto::ICMP || proto == proto::ICMPV6 {
            if let Some(v) = self.icmp_error::<A>(now, zone, &l3) {
                return v;
            }
        }
        let Some((sport, dport)) = proto::l4_ports(proto, l3.l4) else {
            self.stats.invalid += 1;
            return Verdict::of(CtInfo::Invalid, false);
        };
        let (src, dst) = (A::from_slice(l3.src), A::from_slice(l3.dst));
        let h = hash.unwrap_or_else(|| self.key.hash_parts(src, dst, sport, dport, proto, zone));
        let key = Key {
            src,
            dst,
            sport,
            dport,
            proto,
            zone,
        };
        let pkt = Pkt { l3 };
        // `repeat:` in nf_conntrack_in.
        for _ in 0..2 {
            match self.resolve::<A>(now, &key, h, &pkt) {
                Resolved::Verdict(v) => return v,
                Resolved::Repeat => continue,
            }
        }
        self.stats.invalid += 1;
        Verdict::of(CtInfo::Invalid, false)
    }

    /// `resolve_normal_ct` + `nf_conntrack_handle_packet` + confirmation.
    fn resolve<A: Fam>(&mut self, now: Nanos, key: &Key<A>, h: u64, pkt: &Pkt<'_>) -> Resolved {
        let now_ms = ms(now);
        if let Some((idx, dir)) = self.lookup::<A>(key, h, now) {
            let (table, d) = A::split(self);
            let entry = &mut table.entries[idx as usize];
            let info = if dir == 1 || entry.status & ST_SEEN_REPLY != 0 {
                CtInfo::Established
            } else if entry.status & ST_EXPECTED != 0 {
                CtInfo::Related
            } else {
                CtInfo::New
            };
            let res = l4_packet::<A>(d, entry, dir, false, pkt, now_ms);
            match res {
                L4Res::Invalid => {
                    self.stats.invalid += 1;
                    return Resolved::Verdict(Verdict::of(CtInfo::Invalid, false));
                }
                L4Res::Repeat => {
                    self.delete::<A>(now, idx);
                    return Resolved::Repeat;
                }
                L4Res::Accept {
                    timeout,
                    mut bits,
                    kill,
                } => {
                    if let Some(t) = timeout {
                        entry.expires = now_ms.wrapping_add(t);
                    }
                    if kill {
                        // nf_ct_kill_acct inside the TCP handler: counted, then deleted,
                        // before nf_conntrack_in would set SEEN_REPLY.
                        let entry = *entry;
                        self.account::<A>(idx, &entry, dir, pkt, now);
                        self.delete::<A>(now, idx);
                        return Resolved::Verdict(Verdict::of(info, dir == 1));
                    }
                    if dir == 1 && entry.status & ST_SEEN_REPLY == 0 {
                        entry.status |= ST_SEEN_REPLY;
                        bits |= ipct::REPLY;
                    }
                    let (aux, l4proto) = (entry.aux, entry.key.proto);
                    if aux & (AUX_EXT | AUX_ACCT) == 0 && bits == 0 {
                        // The common case: nothing to count, no helper, no event.
                        return Resolved::Verdict(Verdict::of(info, dir == 1));
                    }
                    let entry = *entry;
                    self.account::<A>(idx, &entry, dir, pkt, now);
                    {
                        let dropped = aux & AUX_EXT != 0
                            && l4proto == proto::TCP
                            && match tcp::parse_seg(pkt.l3.l4) {
                                Some(seg) => self.run_ftp::<A>(
                                    now,
                                    idx,
                                    dir,
                                    info == CtInfo::Established,
                                    seg.seq,
                                    seg.payload,
                                ),
                                None => false,
                            };
                        self.push_event::<A>(now, idx, bits);
                        if dropped {
                            self.stats.drop += 1;
                            return Resolved::Verdict(Verdict {
                                info,
                                reply: dir == 1,
                                dropped: true,
                            });
                        }
                    }
                    return Resolved::Verdict(Verdict::of(info, dir == 1));
                }
            }
        }
        // init_conntrack.
        let Some(reply_key) = key.invert() else {
            self.stats.invalid += 1;
            return Resolved::Verdict(Verdict::of(CtInfo::Invalid, false));
        };
        if self.d.max != 0 && self.len() as u64 + 1 > self.d.max && !self.early_drop(now, h) {
            self.stats.drop += 1;
            // Only flagged: the worker keeps its schedule (`__nf_conntrack_alloc`).
            self.gc.early_drop = true;
            return Resolved::Verdict(Verdict {
                info: CtInfo::Invalid,
                reply: false,
                dropped: true,
            });
        }
        let mut entry = Entry {
            expires: now_ms,
            status: 0,
            aux: 0,
            proto: ProtoRec::NONE,
            key: *key,
            spare: 0,
        };
        let exp = self.find_expectation::<A>(key, now_ms);
        let mut ext: Option<Ext> = None;
        if let Some(x) = &exp {
            entry.status |= ST_EXPECTED;
            ext = Some(Ext {
                master: Some(x.master_tuple),
                master_ref: Some((x.fam, x.master)),
                helper: None,
                ..Ext::default()
            });
        } else if let Some(hp) = self.config.helper_for(key.proto, key.dport) {
            entry.status |= ST_HELPER;
            ext = Some(Ext {
                helper: Some(hp),
                ..Ext::default()
            });
        }
        if self.d.timestamp {
            ext.get_or_insert_with(Ext::default).start_ns = Some(now);
        }
        if self.d.acct {
            entry.aux |= AUX_ACCT;
        }
        let res = l4_packet::<A>(&self.d, &mut entry, 0, true, pkt, now_ms);
        let (timeout, mut bits) = match res {
            L4Res::Accept { timeout, bits, .. } => (timeout, bits),
            L4Res::Invalid | L4Res::Repeat => {
                self.stats.invalid += 1;
                return Resolved::Verdict(Verdict::of(CtInfo::Invalid, false));
            }
        };
        if let Some(x) = exp {
            self.consume_expectation(now, &x);
            self.stats.expect_new += 1;
        }
        // __nf_conntrack_confirm.
        entry.expires = now_ms.wrapping_add(timeout.unwrap_or(0));
        entry.status |= ST_CONFIRMED;
        if ext.is_some() {
            entry.aux |= AUX_EXT;
        }
        let hr = self.key.hash(&reply_key);
        let idx = A::table_mut(self).insert(entry, h, hr);
        if entry.aux & AUX_ACCT != 0 {
            let acct = &mut A::table_mut(self).acct;
            if acct.len() <= idx as usize {
                acct.resize(idx as usize + 1, Default::default());
            }
            acct[idx as usize] = Default::default();
        }
        if let Some(x) = ext {
            if let Some(m) = x.master_ref {
                if let Some(mx) = self.ext.get_mut(&m) {
                    mx.children += 1;
                }
            }
            self.ext.insert((A::FAM, idx), x);
        }
        bits |= if entry.status & ST_EXPECTED != 0 {
            ipct::RELATED
        } else {
            ipct::NEW
        };
        self.account::<A>(idx, &entry, 0, pkt, now);
        self.push_event::<A>(now, idx, bits);
        let info = if entry.status & ST_EXPECTED != 0 {
            CtInfo::Related
        } else {
            CtInfo::New
        };
        Resolved::Verdict(Verdict::of(info, false))
    }

    fn account<A: Fam>(&mut self, idx: u32, e: &Entry<A>, dir: usize, pkt: &Pkt<'_>, _now: Nanos) {
        if e.aux & AUX_ACCT == 0 {
            return;
        }
        if let Some(c) = A::table_mut(self).acct.get_mut(idx as usize) {
            c[dir].packets += 1;
            c[dir].bytes += pkt.l3.ip_len as u64;
        }
    }

    /// `nf_conntrack_icmpv4_error` / `nf_conntrack_icmpv6_error`: `Some` when the ICMP
    /// packet was decided here (an error message, malformed, or untracked).
    fn icmp_error<A: Fam>(&mut self, now: Nanos, zone: u16, l3: &L3<'_>) -> Option<Verdict> {
        let l4 = l3.l4;
        let err = |t: &mut Tracker| {
            t.stats.error += 1;
            Some(Verdict::of(CtInfo::Invalid, false))
        };
        if l4.len() < 8 {
            return err(self);
        }
        if self.d.checksum && !packet::checksum_ok(l3) {
            return err(self);
        }
        let ty = l4[0];
        if l3.proto == proto::ICMP {
            if ty > 18 {
                return err(self);
            }
            if !matches!(ty, 3 | 4 | 5 | 11 | 12) {
                return None;
            }
        } else {
            if matches!(ty, 130..=136 | 143) {
                return Some(Verdict::of(CtInfo::Untracked, false));
            }
            if ty >= 128 {
                return None;
            }
        }
        // nf_conntrack_inet_error: the embedded packet's tuple, inverted.
        let Ok(inner) = packet::parse_inner(&l4[8..], l3.version) else {
            return err(self);
        };
        let Some((sport, dport)) = proto::l4_ports(inner.proto, inner.l4) else {
            return err(self);
        };
        let orig = Key {
            src: A::from_slice(inner.src),
            dst: A::from_slice(inner.dst),
            sport,
            dport,
            proto: inner.proto,
            zone,
        };
        let Some(inv) = orig.invert() else {
            return err(self);
        };
        let h = self.key.hash(&inv);
        let Some((idx, dir)) = self.lookup::<A>(&inv, h, now) else {
            return err(self);
        };
        let e = &A::table(self).entries[idx as usize];
        if { e.key_dir(dir).dst } != A::from_slice(l3.dst) {
            return err(self);
        }
        Some(Verdict::of(CtInfo::Related, dir == 1))
    }

    /// `early_drop`: the new tuple's kernel bucket and the next 7; in the first with
    /// victims, every non-ASSURED entry goes.
    fn early_drop(&mut self, now: Nanos, h: u64) -> bool {
        let nb = self.d.buckets;
        let mut bucket = (((h >> 32) * nb as u64) >> 32) as u32;
        let now_ms = ms(now);
        for i in 0..8 {
            if i > 0 {
                bucket = (bucket + 1) % nb;
            }
            let drops = self.early_drop_bucket::<[u8; 4]>(now, now_ms, bucket)
                + self.early_drop_bucket::<[u8; 16]>(now, now_ms, bucket);
            if drops > 0 {
                self.stats.early_drop += drops;
                return true;
            }
        }
        false
    }

    fn early_drop_bucket<A: Fam>(&mut self, now: Nanos, now_ms: u32, bucket: u32) -> u64 {
        let mut refs = std::mem::take(&mut self.scratch);
        A::table(self).bucket_refs(bucket, self.d.buckets, &mut refs);
        let mut drops = 0;
        let mut seen: Vec<u32> = Vec::new();
        for &(idx, _) in &refs {
            if seen.contains(&idx) {
                continue;
            }
            seen.push(idx);
            let e = &A::table(self).entries[idx as usize];
            if e.aux & crate::table::AUX_FREE != 0 {
                continue;
            }
            if expired(e.expires, now_ms) {
                self.delete::<A>(now, idx);
                continue;
            }
            if e.status & ST_ASSURED != 0 {
                continue;
            }
            self.delete::<A>(now, idx);
            drops += 1;
        }
        self.scratch = refs;
        drops
    }

    /// Runs the GC worker at every due time up to `now`.
    fn run_gc_until(&mut self, now: Nanos) {
        // Expectations have their own timers in the kernel: each goes at its expiry.
        if !self.expects.is_empty() && expired(self.expect_next, ms(now)) {
            self.expire_expectations(now);
        }
        let next = match self.gc.next {
            Some(n) => n,
            None => {
                // The worker is queued 1 s (HZ) after the module loads: here, the first call.
                self.gc.next = Some(now.saturating_add(1_000_000_000));
                return;
            }
        };
        if now < next {
            return;
        }
        let mut at = next;
        let mut last_step = 0;
        loop {
            if self.is_empty() && self.expects.is_empty() {
                // An empty table's passes change nothing and all come (60 s - 1 jiffy)
                // apart: skip to the last one due.
                let step = (60 * HZ as u64 - 1) * TICK_NS;
                at += (now - at) / step * step;
            } else if last_step > 0 && !self.gc.early_drop {
                // Passes before the first possible expiry only reschedule: skip all but the
                // last of them, at the last interval (an approximation: the kernel's
                // interval drifts as remaining times shrink). Keeps long capture gaps cheap.
                let limit = self.gc.quiet_until.min(now);
                if limit > at {
                    let k = (limit - at) / last_step;
                    if k > 1 {
                        at = at.saturating_add((k - 1).saturating_mul(last_step));
                    }
                }
            }
            let interval = self.gc_run(at);
            last_step = interval;
            at = at.saturating_add(interval);
            if at > now || at == u64::MAX {
                break;
            }
        }
        self.gc.next = Some(at);
    }

    /// One full `gc_worker` pass at `at`; returns the delay to the next pass (ns).
    fn gc_run(&mut self, at: Nanos) -> Nanos {
        let at_ms = ms(at);
        let max95 = if self.gc.early_drop {
            self.d.max / 100 * 95
        } else {
            0
        };
        // Jiffies arithmetic as the kernel's (longs, integer division).
        let hz = HZ as i64;
        let mut next_run: i64 = 60 * hz;
        let mut count: i64 = 100;
        let mut min_left = u32::MAX;
        let mut acc = |expires: u32| {
            min_left = min_left.min(expires);
            let j = expires as i64;
            let e = j.clamp(hz, 300 * hz);
            count += 1;
            next_run += (e - next_run) / count;
        };
        let victims4 = gc_scan(&self.v4.entries, at_ms, max95 != 0, &mut acc);
        let victims6 = gc_scan(&self.v6.entries, at_ms, max95 != 0, &mut acc);
        self.gc_reap::<[u8; 4]>(at, at_ms, victims4, max95);
        self.gc_reap::<[u8; 16]>(at, at_ms, victims6, max95);
        self.expire_expectations(at);
        for x in &self.expects {
            min_left = min_left.min(x.expires.wrapping_sub(at_ms));
        }
        self.gc.quiet_until = at.saturating_add(min_left as u64 * TICK_NS);
        self.gc.early_drop = false;
        let next_run = next_run.clamp(hz, 60 * hz);
        // The pass itself takes less than a jiffy: next_run -= max(delta, 1).
        let next_run = (next_run - 1).max(1);
        next_run as u64 * TICK_NS
    }

    /// Deletes one family's GC victims: the expired ones, and the early-drop candidates while
    /// the table is still at or above 95 % of max.
    fn gc_reap<A: Fam>(&mut self, at: Nanos, at_ms: u32, victims: Vec<u32>, max95: u64) {
        for i in victims {
            let expires = A::table(self).entries[i as usize].expires;
            if !expired(expires, at_ms) && (self.len() as u64) < max95 {
                continue;
            }
            self.delete::<A>(at, i);
        }
    }
}

/// One family's slab scanned by a GC pass: the expired entries and, with `early_drop`, the
/// ones `gc_worker` may evict under pressure; every live entry's time left goes to `acc`.
fn gc_scan<A>(
    entries: &[Entry<A>],
    at_ms: u32,
    early_drop: bool,
    acc: &mut impl FnMut(u32),
) -> Vec<u32> {
    let mut victims = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.aux & crate::table::AUX_FREE != 0 {
            continue;
        }
        if expired(e.expires, at_ms) {
            victims.push(i as u32);
            continue;
        }
        acc(e.expires.wrapping_sub(at_ms));
        if early_drop && gc_can_early_drop(e) {
            victims.push(i as u32);
        }
    }
    victims
}

/// The protocol's packet function (`nf_conntrack_handle_packet`).
fn l4_packet<A: Fam>(
    d: &Derived,
    e: &mut Entry<A>,
    dir: usize,
    new: bool,
    pkt: &Pkt<'_>,
    now_ms: u32,
) -> L4Res {
    let l4 = pkt.l3.l4;
    match e.key.proto {
        proto::TCP => {
            let Some(seg) = tcp::parse_seg(l4) else {
                return L4Res::Invalid;
            };
            if d.checksum && !packet::checksum_ok(&pkt.l3) {
                return L4Res::Invalid;
            }
            if new {
                match tcp::tcp_new(&seg, d.loose) {
                    Some(ct) => e.proto.set(ProtoState::Tcp(ct)),
                    None => return L4Res::Invalid,
                }
            }
            let Some(ct) = e.proto.tcp_mut() else {
                return L4Res::Invalid;
            };
            let view = CtView {
                seen_reply: e.status & ST_SEEN_REPLY != 0,
                assured: e.status & ST_ASSURED != 0,
                expires_in: if new {
                    0
                } else {
                    e.expires.wrapping_sub(now_ms).min(i32::MAX as u32)
                },
            };
            let mut shrink = None;
            match tcp::tcp_packet(ct, dir, &seg, &view, &d.tcp, &mut shrink) {
                TcpRes::Invalid => {
                    if let Some(t) = shrink {
                        e.expires = now_ms.wrapping_add(t);
                    }
                    L4Res::Invalid
                }
                TcpRes::Repeat => L4Res::Repeat,
                TcpRes::Accept {
                    timeout,
                    protoinfo,
                    assured,
                    kill,
                } => {
                    let mut bits = 0;
                    if protoinfo {
                        bits |= ipct::PROTOINFO;
                    }
                    if assured {
                        e.status |= ST_ASSURED;
                        bits |= ipct::ASSURED;
                    }
                    // A SYN retransmit before any reply keeps the old expiry; a new
                    // entry always gets the state's timeout.
                    let timeout = match (timeout, new) {
                        (None, true) => Some(d.tcp.timeouts[ct.state as usize]),
                        (t, _) => t,
                    };
                    L4Res::Accept {
                        timeout,
                        bits,
                        kill,
                    }
                }
            }
        }
        proto::UDP | proto::UDPLITE => {
            if !udp_ok(&pkt.l3, d.checksum) {
                return L4Res::Invalid;
            }
            if new {
                e.proto.set(ProtoState::Udp {
                    stream_ts: now_ms.wrapping_add(2 * HZ),
                });
            }
            let ProtoState::Udp { stream_ts } = e.proto.get() else {
                return L4Res::Invalid;
            };
            let mut bits = 0;
            let timeout = if e.status & ST_SEEN_REPLY != 0 {
                let mut extra = d.udp;
                let mut stream = false;
                if (now_ms.wrapping_sub(stream_ts) as i32) > 0 {
                    extra = d.udp_stream;
                    stream = e.status & ST_ASSURED == 0;
                }
                if stream {
                    e.status |= ST_ASSURED;
                    bits |= ipct::ASSURED;
                }
                extra
            } else {
                d.udp
            };
            L4Res::Accept {
                timeout: Some(timeout),
                bits,
                kill: false,
            }
        }
        proto::ICMP | proto::ICMPV6 => {
            let ty = (e.key.dport >> 8) as u8;
            let creatable = if e.key.proto == proto::ICMP {
                matches!(ty, 8 | 13 | 15 | 17)
            } else {
                matches!(ty, 128 | 139)
            };
            if !creatable {
                return L4Res::Invalid;
            }
            let t = if e.key.proto == proto::ICMP {
                d.icmp
            } else {
                d.icmpv6
            };
            L4Res::Accept {
                timeout: Some(t),
                bits: 0,
                kill: false,
            }
        }
        proto::GRE => {
            let mut bits = 0;
            let t = if e.status & ST_SEEN_REPLY != 0 {
                if e.status & ST_ASSURED == 0 {
                    e.status |= ST_ASSURED;
                    bits |= ipct::ASSURED;
                }
                d.gre_stream
            } else {
                d.gre
            };
            L4Res::Accept {
                timeout: Some(t),
                bits,
                kill: false,
            }
        }
        proto::SCTP => crate::sctp::packet(e, dir, new, pkt.l3.l4, &pkt.l3, d),
        _ => L4Res::Accept {
            timeout: Some(d.generic),
            bits: 0,
            kill: false,
        },
    }
}

/// `gc_worker_can_early_drop`.
fn gc_can_early_drop<A>(e: &Entry<A>) -> bool {
    if e.status & ST_ASSURED == 0 {
        return true;
    }
    match e.proto.get() {
        ProtoState::Tcp(t) => tcp::can_early_drop(t.state),
        ProtoState::Sctp(s) => crate::sctp::can_early_drop(s.state),
        _ => false,
    }
}

enum Resolved {
    Verdict(Verdict),
    Repeat,
}

/// `udp_error` / `udplite_error`: length (and checksum coverage) checks, checksum when on.
fn udp_ok(l3: &L3<'_>, checksum: bool) -> bool {
    let l4 = l3.l4;
    let (Some(len), Some(check)) = (packet::be16(l4, 4), packet::be16(l4, 6)) else {
        return false;
    };
    let len = len as usize;
    if l3.proto == proto::UDP {
        if len > l4.len() || len < 8 {
            return false;
        }
        // A packet with no checksum is fine (both families, as udp_error has it).
        check == 0 || !checksum || packet::checksum_ok(l3)
    } else {
        // UDP-Lite: the length field is the checksum coverage; 0 means all; the checksum
        // is mandatory.
        let cov = if len == 0 { l4.len() } else { len };
        if cov < 8 || cov > l4.len() || check == 0 {
            return false;
        }
        !checksum || packet::checksum_cov_ok(l3, cov)
    }
}

#[cfg(test)]
mod tests;
