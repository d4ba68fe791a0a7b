//! ctnetlink: netfilter connection tracking over netlink.
//!
//! Placeholder; see the module plan in the crate's README.
#![deny(missing_docs)]
