//! ctkit's data model for netfilter connection tracking.
//!
//! Owned, allocation-free value types for what the kernel keeps per connection
//! (`struct nf_conn` as exposed by ctnetlink, include/uapi/linux/netfilter/nfnetlink_conntrack.h)
//! and per expectation, plus the conntrack(8) text formats built on them.
//!
//! Every type here is plain data: no sockets, no clocks. The ctnetlink crate fills a [`Flow`]
//! in place from a netlink message (one `Flow` reused for a whole dump, so no per-entry
//! allocation), the engine crate produces them from packets, and the formatters print them.
#![deny(missing_docs)]

pub mod expect;
pub mod filter;
pub mod flow;
pub mod format;
pub mod labelmap;
pub mod proto;
pub mod protoinfo;
pub mod source;
pub mod stats;
pub mod status;
pub mod sysctl;
pub mod text;
pub mod tuple;

pub use expect::Expect;
pub use flow::{Counters, Flow, HelperName, Labels, SecCtx, SeqAdj, Synproxy, Timestamp};
pub use labelmap::LabelMap;
pub use proto::Family;
pub use protoinfo::{DccpInfo, ProtoInfo, SctpInfo, SctpState, TcpInfo, TcpState};
pub use source::{FlowSource, ScanReport, SourceError, TableCounters};
pub use status::Status;
pub use tuple::Tuple;
