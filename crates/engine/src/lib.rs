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
pub use tracker::{CtInfo, Event, EventKind, Stats, Tracker, Verdict};

/// Nanoseconds on the caller's time line.
pub type Nanos = u64;
