//! ctkit's userspace connection tracker: packets in, the verdict Linux nf_conntrack would give
//! out, with the table, events, stats and expectations the kernel would keep.
//!
//! Faithful to kernel 6.18 (`net/netfilter/nf_conntrack_core.c`, `nf_conntrack_proto_*.c`,
//! `nf_conntrack_ftp.c`); the facts we follow are collected in the project's
//! `shared/reference/tracker-semantics.md`. The engine reads no clock and no socket: every
//! call takes `now` (nanoseconds on the caller's time line, e.g. capture timestamps).
//!
//! The contract the replay command and the other views are written against:
//!
//! ```text
//! let mut cfg = Config::kernel_defaults();
//! cfg.set("nf_conntrack_tcp_timeout_established", "3600")?;   // any sysctl name
//! let mut t = Tracker::new(cfg, seed);
//! let v = t.process(now, zone, l3_packet);  // IPv4 or IPv6 header first
//! t.advance(now);                           // garbage collection up to now
//! t.drain_events(|e| …);                    // NEW / UPDATE / DESTROY, oldest first
//! t.for_each_flow(now, |flow| …);           // the table as ctkit_model::Flow
//! t.stats();                                // kernel counter names
//! ```
//!
//! Additions to that contract:
//! - batches: [`Tracker::process_batch`] (packets of one `now`) and
//!   [`Tracker::process_batch_at`] (`(now, packet)` pairs, each packet at its own time, e.g.
//!   its capture timestamp; what replay uses): the same results as [`Tracker::process`] on
//!   each packet in turn, garbage collection included, with the cache misses of up to
//!   [`Tracker::BATCH`] packets overlapped;
//! - expectations: [`Tracker::for_each_expect`] (the table `conntrack -L expect` lists, as
//!   [`ctkit_model::Expect`]), [`Tracker::drain_expect_events`] (`[NEW]`/`[DESTROY]` as
//!   `conntrack -E expect` receives them, a stream of their own), [`Tracker::expect_count`];
//! - [`Tracker::set`] (a sysctl change while running), [`Tracker::verify_checksums`] (no
//!   checksum verification for the packets a capture host sent), [`Tracker::config`],
//!   [`Tracker::memory_bytes`], [`Config::from_dir`], [`Config::helper_for`], and [`build`],
//!   a small packet builder for tests and benchmarks.
//!
//! ```
//! use ctkit_engine::{build, Config, CtInfo, Tracker};
//!
//! let mut t = Tracker::new(Config::kernel_defaults(), 42);
//! let (a, b) = ("192.0.2.1".parse().unwrap(), "198.51.100.2".parse().unwrap());
//! let s = 1_000_000_000; // one second, in nanoseconds
//! // A DNS query and its answer, 3 ms apart, as a capture would hand them over.
//! let q = build::udp(a, b, 40000, 53, b"query");
//! let r = build::udp(b, a, 53, 40000, b"answer");
//! let mut v = [ctkit_engine::Verdict { info: CtInfo::Invalid, reply: false, dropped: false }; 2];
//! t.process_batch_at(0, &[(10 * s, &q), (10 * s + 3_000_000, &r)], &mut v);
//! assert_eq!((v[0].info, v[1].info, v[1].reply), (CtInfo::New, CtInfo::Established, true));
//!
//! let mut table = Vec::new();
//! t.for_each_flow(11 * s, &mut |f| table.push((f.orig.dport, f.timeout)));
//! assert_eq!(table, [(53, Some(29))]); // udp 30 s, one second later
//!
//! let mut kinds = Vec::new();
//! t.drain_events(&mut |e| kinds.push(e.kind));
//! use ctkit_engine::EventKind::{New, Update};
//! assert_eq!(kinds, [New, Update]); // [NEW], then [UPDATE] with SEEN_REPLY
//! assert_eq!(t.stats().invalid, 0);
//! ```
//!
//! What is modelled, and how:
//! - Layer 3/4 decoding without defragmentation: a non-first fragment is INVALID (`invalid`
//!   counter), as conntrack without `nf_defrag` would see it. Callers reassemble first, as
//!   the kernel's `nf_defrag_ipv4/6` do (`ctkit replay` does).
//! - TCP (state table as data, window tracking, loose pickup, RST rules, IGNORE/resync,
//!   timeouts), UDP and UDP-Lite (2-second stream rule: ASSURED only once a replied flow is
//!   older than 2 s, as 6.x does), ICMP/ICMPv6 (errors RELATED to their flow, else `error`;
//!   ICMPv6 neighbour discovery and MLD UNTRACKED), SCTP, GRE (PPTP keys without the pptp
//!   keymap), generic.
//! - The table: both tuples indexed, zones in the key, a keyed hash seeded by `seed`;
//!   `nf_conntrack_max` with the kernel's early drop over `nf_conntrack_buckets` modelled
//!   buckets (rounded up to a multiple of 512 as the kernel rounds its table, so 512 is the
//!   smallest; which entries an early drop evicts depends on the hash seed, the kernel's as
//!   ours); a failed early drop flags the GC worker, whose next pass (on its schedule) kills
//!   unassured entries while the table is at 95 % of max or more; entries expire lazily on
//!   lookup and in a modelled GC worker: first pass 1 s
//!   after the first packet, then every "average remaining timeout" (entries clamped to
//!   1–300 s, biased by 100 virtual entries at 60 s, result 1–60 s, in jiffies of HZ=250),
//!   each pass a full scan (the kernel's 10 ms / 256-eviction budgets only split a pass into
//!   back-to-back slices). `len()` therefore counts expired entries not yet reaped, like
//!   `nf_conntrack_count`.
//! - Events coalesced per packet like the kernel's event cache, with the attributes
//!   ctnetlink puts in each kind (protoinfo only on state change; DESTROY without timeout);
//!   verified against `conntrack -E` in tests/kernel_events.rs.
//! - FTP helper and expectations (`nf_conntrack_expect_max`, 1 per master, 300 s, dying
//!   with the master).
//! - Single-threaded: no insert races, so `insert_failed`, `clash_resolve`,
//!   `search_restart` and `chaintoolong` stay 0; no NAT, so `found` stays 0.
//! - One deliberate default difference: `nf_conntrack_checksum` is 0 in
//!   [`Config::kernel_defaults`] (captures carry offloaded checksums); set it to 1 to verify
//!   TCP/UDP/UDP-Lite/ICMP/ICMPv6 checksums and SCTP's CRC32c as the kernel does.
#![deny(missing_docs)]

pub mod build;
pub mod config;
mod expect;
mod ftp;
mod packet;
mod proto;
mod sctp;
mod table;
mod tcp;
pub mod tracker;

pub use config::{Config, ConfigError, Helper};
pub use expect::ExpectEvent;
pub use tracker::{CtInfo, Event, EventKind, Stats, Tracker, Verdict};

/// Nanoseconds on the caller's time line.
pub type Nanos = u64;
