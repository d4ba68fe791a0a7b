//! Counting conntrack NEW and DESTROY events (`NFNLGRP_CONNTRACK_NEW`, `_DESTROY`) on a
//! background thread, so `watch` can take new/s and destroyed/s from the kernel's own event
//! stream: 6.18 no longer fills the per-CPU `new`/`delete` statistics.
//!
//! The socket is opened by the caller's thread (a netlink socket belongs to the network
//! namespace it was created in) and handed to the thread, which blocks in `recv` and bumps
//! atomic counters. A receive queue overflow (`ENOBUFS`) is counted and the thread goes on:
//! the counts are then lower bounds, and `watch` says so.
//!
//! With `nf_conntrack_events=2` (the default) the kernel attaches the event extension only to
//! entries created while a listener exists, so DESTROY events are missing for entries older
//! than the subscription; `watch` derives destroyed/s from NEW events and the change of the
//! count instead, and reports the raw DESTROY count alongside.

use ctkit_ctnetlink::uapi::{NFNLGRP_CONNTRACK_DESTROY, NFNLGRP_CONNTRACK_NEW};
use ctkit_ctnetlink::{Event, EventSocket, EventType};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Receive buffer asked for by default (the kernel doubles it; `SO_RCVBUFFORCE` as root).
pub const RCVBUF: usize = 8 << 20;

#[derive(Default)]
struct Shared {
    new: AtomicU64,
    destroy: AtomicU64,
    overflows: AtomicU64,
    failed: AtomicBool,
}

/// Totals since the counter started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventTotals {
    /// NEW events.
    pub new: u64,
    /// DESTROY events.
    pub destroy: u64,
    /// Receive queue overflows (`ENOBUFS`): events were lost each time.
    pub overflows: u64,
    /// The thread stopped on an error other than `ENOBUFS`.
    pub failed: bool,
}

/// A running event counter.
pub struct EventCounter {
    shared: Arc<Shared>,
}

impl EventCounter {
    /// Subscribes in the calling thread's namespace with a receive buffer of `rcvbuf` bytes
    /// and starts counting.
    pub fn start(rcvbuf: usize) -> Result<EventCounter, ctkit_ctnetlink::Error> {
        let mut sock = EventSocket::subscribe(&[NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_DESTROY])?;
        let _ = sock.socket().set_rcvbuf(rcvbuf);
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::Builder::new()
            .name("ctkit-watch-events".into())
            .spawn(move || loop {
                let r = sock.recv(|ev| {
                    if let Event::Flow { kind, .. } = ev {
                        match kind {
                            EventType::New => s.new.fetch_add(1, Ordering::Relaxed),
                            EventType::Destroy => s.destroy.fetch_add(1, Ordering::Relaxed),
                            EventType::Update => 0,
                        };
                    }
                });
                match r {
                    Ok(()) => {}
                    Err(e) if e.is_enobufs() => {
                        s.overflows.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        s.failed.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            })
            .map_err(ctkit_ctnetlink::Error::Io)?;
        Ok(EventCounter { shared })
    }

    /// The totals so far.
    pub fn totals(&self) -> EventTotals {
        EventTotals {
            new: self.shared.new.load(Ordering::Relaxed),
            destroy: self.shared.destroy.load(Ordering::Relaxed),
            overflows: self.shared.overflows.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
        }
    }
}
