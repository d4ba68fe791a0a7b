//! Where the read-only views (list, summary, watch, doctor, top, exporter) get flows from.
//!
//! One trait, [`FlowSource`], with one implementation per origin: the kernel over ctnetlink
//! (ctkit binary), `/proc/net/nf_conntrack` and the old `/proc/net/ip_conntrack` layout, a saved
//! file in any format ctkit or conntrack(8) prints, standard input, and a replayed capture
//! (engine crate). Views are written against the trait only, so every view works on every
//! source.
//!
//! A scan streams: the source hands out one borrowed [`Flow`] at a time (reused storage, no
//! per-entry allocation) and never holds the table. Scanning again re-reads the origin (a new
//! kernel dump, the file read again), which is what a refreshing view (`top`, `watch`) wants.

use crate::flow::Flow;
use crate::stats::CpuStats;
use std::ops::ControlFlow;

/// Why a source could not deliver.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Opening or reading the origin failed.
    #[error("{path}: {source}")]
    Io {
        /// The file (or `-` for standard input, `kernel` for the netlink socket).
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a text source did not parse (and the source is not lenient).
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file name as the user gave it.
        path: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong, naming the field and column where known.
        message: String,
    },
    /// The input is in no format ctkit reads.
    #[error("{path}: {message}")]
    Format {
        /// The file name as the user gave it.
        path: String,
        /// What was seen.
        message: String,
    },
    /// An error of the origin's own kind (netlink, capture decoding), already worded.
    #[error("{0}")]
    Other(String),
}

/// What one scan saw besides the flows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Flows handed to the callback.
    pub flows: u64,
    /// Lines skipped as malformed (lenient text sources only).
    pub skipped: u64,
}

/// Table-wide counters, where the origin has them (`CTA_STATS_GLOBAL_*`, the per-CPU
/// `CTA_STATS_*` summed over CPUs, or `/proc/sys/net/netfilter` and
/// `/proc/net/stat/nf_conntrack`). `None` means "this source cannot tell", never zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableCounters {
    /// `nf_conntrack_count` / `CTA_STATS_GLOBAL_ENTRIES`.
    pub entries: Option<u64>,
    /// `nf_conntrack_max` / `CTA_STATS_GLOBAL_MAX_ENTRIES`.
    pub max: Option<u64>,
    /// The per-CPU counters summed over CPUs, indexed like [`CpuStats::NAMES`].
    pub cpu_sum: Option<[Option<u64>; CpuStats::SLOTS]>,
}

impl TableCounters {
    /// A summed per-CPU counter by its conntrack name (`drop`, `early_drop`, `insert_failed`, …).
    pub fn counter(&self, name: &str) -> Option<u64> {
        let i = CpuStats::NAMES.iter().position(|n| *n == name)?;
        self.cpu_sum?[i]
    }

    /// Adds one CPU's counters into `cpu_sum`.
    pub fn add_cpu(&mut self, cpu: &CpuStats) {
        let sum = self.cpu_sum.get_or_insert([None; CpuStats::SLOTS]);
        for (s, v) in sum.iter_mut().zip(cpu.values.iter()) {
            if let Some(v) = v {
                *s = Some(s.unwrap_or(0) + u64::from(*v));
            }
        }
    }
}

/// A place flows come from. See the module documentation.
pub trait FlowSource {
    /// A short description for headers and errors: `kernel`, `/proc/net/nf_conntrack`,
    /// `file dump.txt (conntrack -L text)`, `capture x.pcap`.
    fn describe(&self) -> String;

    /// Streams every flow once, in the origin's order, until `f` returns `Break`.
    fn scan(
        &mut self,
        f: &mut dyn FnMut(&Flow) -> ControlFlow<()>,
    ) -> Result<ScanReport, SourceError>;

    /// Table-wide counters, when the origin has them (the kernel does; a saved file does not).
    fn counters(&mut self) -> Result<TableCounters, SourceError> {
        Ok(TableCounters::default())
    }

    /// Whether a second scan can show something new (kernel, /proc: yes; a saved file: no).
    fn is_live(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_counters_sum_cpus_by_name() {
        let mut t = TableCounters::default();
        assert_eq!(t.counter("drop"), None);
        let mut a = CpuStats::default();
        a.set(10, 3); // CTA_STATS_DROP
        a.set(11, 1); // CTA_STATS_EARLY_DROP
        let mut b = CpuStats::default();
        b.set(10, 4);
        t.add_cpu(&a);
        t.add_cpu(&b);
        assert_eq!(t.counter("drop"), Some(7));
        assert_eq!(t.counter("early_drop"), Some(1));
        assert_eq!(t.counter("insert_failed"), None);
        assert_eq!(t.counter("no_such_counter"), None);
    }
}
