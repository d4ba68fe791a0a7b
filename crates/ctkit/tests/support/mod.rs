//! Shared support for the ctkit integration tests (`mod support;` in each test file).
//!
//! - [`kernel`]: skip-or-fail gates for tests that need root and conntrack.
//! - [`netns`]: named network namespaces, deleted on drop.
//! - [`lab`]: veth topologies, nft `ct` rulesets, NAT, FTP helper, zones, marks, labels.
//! - [`traffic`]: python3/ping traffic generators (TCP, UDP, ICMP, FTP control).
//! - [`lock`]: the project-wide lock for global state and RAII restore helpers.
//! - [`subject`]: which binary is under test (ctkit, or the oracle for harness checks).
//! - [`normalize`]: output normalisers for differential tests (timeouts, banner, counters).
//! - [`diff`]: run the oracle and the subject on the same table and compare.
//!
//! The oracle is Debian's conntrack 1.4.7 at `/usr/sbin/conntrack`; everything that touches a
//! conntrack table runs inside a namespace created here, never in the initial namespace.
#![allow(dead_code, unused_imports)]

pub mod diff;
pub mod kernel;
pub mod lab;
pub mod lock;
pub mod netns;
pub mod normalize;
pub mod subject;
pub mod traffic;

pub use diff::{
    diff_mutating, diff_readonly, diff_readonly_with, run_ctkit, run_tool, Norm, RunResult,
};
pub use kernel::{require_kernel, require_oracle};
pub use lab::{veth_pair, Lab, LabOptions};
pub use lock::{GlobalLock, RestoreFile, RestoreValue};
pub use netns::Netns;
pub use subject::{conntrack_under_test, ctkit_bin, oracle_bin, subject_bin, subject_is_oracle};
