//! The table and the per-packet path (`nf_conntrack_in`, `resolve_normal_ct`,
//! `__nf_conntrack_confirm`, `early_drop`, `gc_worker`).

use crate::{Config, Nanos};
use ctkit_model::Flow;

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

/// The connection tracker.
pub struct Tracker {
    _config: Config,
}

impl Tracker {
    /// A tracker with an empty table; `seed` keys the table's hash (and so which entries
    /// early drop finds).
    pub fn new(_config: Config, _seed: u64) -> Tracker {
        todo!("engine")
    }

    /// Tracks one packet (IPv4 or IPv6 header first) in `zone` at `now`.
    pub fn process(&mut self, _now: Nanos, _zone: u16, _l3: &[u8]) -> Verdict {
        todo!("engine")
    }

    /// Garbage collection up to `now`: expired entries go (DESTROY events).
    pub fn advance(&mut self, _now: Nanos) {
        todo!("engine")
    }

    /// Entries in the table (`nf_conntrack_count`).
    pub fn len(&self) -> usize {
        todo!("engine")
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        todo!("engine")
    }

    /// Hands out and forgets the events since the last call, oldest first.
    pub fn drain_events(&mut self, _f: &mut dyn FnMut(&Event)) {
        todo!("engine")
    }

    /// Every live entry as a [`Flow`], timeouts relative to `now`, in table order.
    pub fn for_each_flow(&self, _now: Nanos, _f: &mut dyn FnMut(&Flow)) {
        todo!("engine")
    }
}
