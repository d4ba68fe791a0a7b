//! ctnetlink: netfilter connection tracking over netlink, on plain libc sockets.
//!
//! - [`Conn`]: requests on one socket — streaming [`Conn::dump`] (one reused
//!   [`ctkit_model::Flow`] per entry, no allocation per entry), [`Conn::get`],
//!   [`Conn::mutate`] (create/update/delete with ACK), [`Conn::batch`] (many messages per
//!   `sendmsg`), [`Conn::flush`], [`Conn::stats`], [`Conn::stats_cpu`], and the expectation
//!   subsystem (`*_expect`). Dumps take kernel filters ([`DumpRequest`], [`TupleFilter`] for
//!   `CTA_FILTER`). Messages built ahead with [`encode_mutation`] go out with
//!   [`Conn::send_acked`] or, without ACKs, [`Conn::send_quiet`] (only refusals come back).
//! - [`EventSocket`]: NEW/UPDATE/DESTROY and expectation events.
//! - [`attr`], [`msg`]: the zero-copy wire layer, usable on captured bytes.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! let mut conn = ctkit_ctnetlink::Conn::open()?;
//! let mut n = 0;
//! conn.dump(ctkit_ctnetlink::Table::Conntrack, &Default::default(), |flow| {
//!     n += flow.has_orig as usize;
//!     ControlFlow::Continue(())
//! })?;
//! # Ok::<(), ctkit_ctnetlink::Error>(())
//! ```
#![deny(missing_docs)]

pub mod attr;
pub mod conn;
pub mod error;
pub mod event;
pub mod expect;
pub mod flow;
pub mod msg;
pub mod socket;
pub mod tuple;
#[allow(missing_docs)]
pub mod uapi;

pub use conn::{
    encode_mutation, Batch, Conn, DumpRequest, GlobalStats, Mutation, QuietReplies, Table,
    TupleFilter, BATCH_MAX_MSGS,
};
pub use error::{Error, Result};
pub use event::{Event, EventSocket, EventType};
pub use flow::EmitExtras;
