//! `--from proc`: the conntrack table as the kernel prints it in `/proc/net/nf_conntrack`
//! (`ct_seq_show` in net/netfilter/nf_conntrack_standalone.c), or the old
//! `/proc/net/ip_conntrack` layout (no `ipv4     2` columns), of the calling thread's network
//! namespace; no netlink needed, so it also works where ctnetlink is unavailable.
//!
//! Entries are reported as ctnetlink reports them: `zone=0` (the default zone) is no zone and
//! `use=` is one less than printed (the reader's own reference).
//!
//! Counters: `/proc/sys/net/netfilter/nf_conntrack_count` and `_max`, and the per-CPU hex
//! table `/proc/net/stat/nf_conntrack` (`ct_cpu_seq_show`), summed by column name.

use ctkit_model::stats::CpuStats;
use ctkit_model::text::{DumpFormat, DumpReader, LineSplitter};
use ctkit_model::{Flow, FlowSource, ScanReport, SourceError, TableCounters};
use std::fs::File;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Where the files are (the real /proc, or a copy for tests).
#[derive(Clone, Debug)]
pub struct ProcPaths {
    /// The table file.
    pub table: PathBuf,
    /// Its layout: `Extended` for nf_conntrack, `Text` for ip_conntrack.
    pub format: DumpFormat,
    /// The directory holding `nf_conntrack_count` and `nf_conntrack_max`.
    pub sysctl_dir: PathBuf,
    /// The per-CPU statistics table.
    pub stat: PathBuf,
}

impl ProcPaths {
    /// The calling thread's namespace: `/proc/thread-self/net/…` (falling back to
    /// `/proc/net/…`), nf_conntrack first, ip_conntrack on kernels that only have that.
    pub fn system() -> Result<ProcPaths, SourceError> {
        let net = if Path::new("/proc/thread-self/net").exists() {
            PathBuf::from("/proc/thread-self/net")
        } else {
            PathBuf::from("/proc/net")
        };
        let (table, format) = [
            ("nf_conntrack", DumpFormat::Extended),
            ("ip_conntrack", DumpFormat::Text),
        ]
        .into_iter()
        .map(|(n, f)| (net.join(n), f))
        .find(|(p, _)| p.exists())
        .ok_or_else(|| SourceError::Io {
            path: "/proc/net/nf_conntrack".to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not found (is the nf_conntrack module loaded? kernels built without \
                 CONFIG_NF_CONNTRACK_PROCFS have no /proc table: use --from kernel)",
            ),
        })?;
        Ok(ProcPaths {
            table,
            format,
            sysctl_dir: PathBuf::from("/proc/sys/net/netfilter"),
            stat: net.join("stat/nf_conntrack"),
        })
    }
}

/// The /proc table of one namespace.
pub struct ProcSource {
    paths: ProcPaths,
    lenient: bool,
}

/// How a column of `/proc/net/stat/nf_conntrack` is named in [`CpuStats::NAMES`]; `None` for
/// columns that are not per-CPU conntrack counters (`entries` is the global count repeated
/// on every row; `expect_*` count expectations).
fn stat_column(name: &str) -> Option<&'static str> {
    let n = match name {
        "clashres" => "clash_resolve",
        "chainlength" => "chaintoolong",
        "icmp_error" => "error",
        "entries" => return None,
        other => other,
    };
    CpuStats::NAMES.iter().copied().find(|x| *x == n)
}

/// Sums the rows of a `/proc/net/stat/nf_conntrack` table (header row of names, then one row
/// of hex numbers per CPU) into `t`.
pub fn sum_stat_table(text: &str, t: &mut TableCounters) -> Result<(), String> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(());
    };
    let slots: Vec<Option<usize>> = header
        .split_ascii_whitespace()
        .map(|n| stat_column(n).and_then(|n| CpuStats::NAMES.iter().position(|x| *x == n)))
        .collect();
    for (i, row) in lines.enumerate() {
        if row.trim().is_empty() {
            continue;
        }
        let mut cpu = CpuStats {
            cpu: i as u16,
            ..CpuStats::default()
        };
        let mut cols = 0;
        for (slot, v) in slots.iter().zip(row.split_ascii_whitespace()) {
            cols += 1;
            let v = u32::from_str_radix(v, 16)
                .map_err(|_| format!("line {}: `{v}' is not a hexadecimal counter", i + 2))?;
            if let Some(s) = slot {
                cpu.values[*s] = Some(v);
            }
        }
        if cols != slots.len() {
            return Err(format!(
                "line {}: {cols} columns, the header names {}",
                i + 2,
                slots.len()
            ));
        }
        t.add_cpu(&cpu);
    }
    Ok(())
}

fn read_number(p: &Path) -> Result<Option<u64>, SourceError> {
    match std::fs::read_to_string(p) {
        Ok(s) => s.trim().parse().map(Some).map_err(|_| SourceError::Format {
            path: p.display().to_string(),
            message: format!("not a number: `{}'", s.trim()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SourceError::Io {
            path: p.display().to_string(),
            source: e,
        }),
    }
}

impl ProcSource {
    /// The calling thread's namespace.
    pub fn open(lenient: bool) -> Result<ProcSource, SourceError> {
        Ok(ProcSource::with_paths(ProcPaths::system()?, lenient))
    }

    /// Files elsewhere (tests).
    pub fn with_paths(paths: ProcPaths, lenient: bool) -> ProcSource {
        ProcSource { paths, lenient }
    }
}

impl FlowSource for ProcSource {
    fn describe(&self) -> String {
        let name = self
            .paths
            .table
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        format!("/proc/net/{name}")
    }

    fn scan(
        &mut self,
        f: &mut dyn FnMut(&Flow) -> ControlFlow<()>,
    ) -> Result<ScanReport, SourceError> {
        let path = self.paths.table.display().to_string();
        let file: Box<dyn Read> =
            Box::new(File::open(&self.paths.table).map_err(|e| SourceError::Io {
                path: path.clone(),
                source: e,
            })?);
        let mut r = DumpReader::new(
            LineSplitter::new(file),
            &path,
            Some(self.paths.format),
            None,
            self.lenient,
        )?;
        // ct_seq_show holds a reference on the entry while printing it, so `use=` is one more
        // than ctnetlink (and conntrack -L) reports.
        r.scan(&mut |flow| {
            let mut g = *flow;
            g.use_count = g.use_count.map(|u| u.saturating_sub(1));
            f(&g)
        })
    }

    fn counters(&mut self) -> Result<TableCounters, SourceError> {
        let mut t = TableCounters {
            entries: read_number(&self.paths.sysctl_dir.join("nf_conntrack_count"))?,
            max: read_number(&self.paths.sysctl_dir.join("nf_conntrack_max"))?,
            cpu_sum: None,
        };
        match std::fs::read_to_string(&self.paths.stat) {
            Ok(text) => sum_stat_table(&text, &mut t).map_err(|m| SourceError::Format {
                path: self.paths.stat.display().to_string(),
                message: m,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(SourceError::Io {
                    path: self.paths.stat.display().to_string(),
                    source: e,
                })
            }
        }
        Ok(t)
    }

    fn is_live(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT_618: &str = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
        00000005  00000001 00000002 00000000 0000000a 00000000 00000000 00000000 00000003 00000001 00000004 00000000 00000002  00000000 00000001 00000000 00000007\n\
        00000005  00000000 00000003 00000000 00000001 00000000 00000000 00000001 00000004 00000000 00000006 00000002 00000000  00000000 00000000 00000000 00000001\n";

    #[test]
    fn stat_table_is_summed_by_column_name() {
        let mut t = TableCounters::default();
        sum_stat_table(STAT_618, &mut t).unwrap();
        assert_eq!(t.counter("found"), Some(5));
        assert_eq!(t.counter("invalid"), Some(11));
        assert_eq!(t.counter("insert"), Some(7));
        assert_eq!(t.counter("insert_failed"), Some(1));
        assert_eq!(t.counter("drop"), Some(10));
        assert_eq!(t.counter("early_drop"), Some(2));
        assert_eq!(t.counter("error"), Some(2));
        assert_eq!(t.counter("clash_resolve"), Some(1));
        assert_eq!(t.counter("chaintoolong"), Some(1));
        assert_eq!(t.counter("search_restart"), Some(8));
        // `entries` is the global count on every row, not a per-CPU counter.
        assert_eq!(t.counter("searched"), None);
    }

    #[test]
    fn old_stat_layout_with_searched_and_delete_list() {
        let old = "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
            00000002  0000000a 00000001 00000002 00000000 00000000 00000001 00000001 00000002 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n";
        let mut t = TableCounters::default();
        sum_stat_table(old, &mut t).unwrap();
        assert_eq!(t.counter("searched"), Some(10));
        assert_eq!(t.counter("new"), Some(2));
        assert_eq!(t.counter("delete_list"), Some(1));
    }

    #[test]
    fn counters_of_this_namespace_match_ctnetlink() {
        // Read-only look at the test process's own namespace; skipped without conntrack.
        let Ok(mut p) = ProcSource::open(false) else {
            eprintln!("skipped: no /proc/net/nf_conntrack");
            return;
        };
        let t = p.counters().unwrap();
        let Ok(mut k) = crate::source::kernel::KernelSource::open() else {
            eprintln!("skipped: no ctnetlink");
            return;
        };
        let kt = k.counters().unwrap();
        assert_eq!(t.max, kt.max);
        assert!(t.entries.is_some());
        // Counters only grow; /proc was read first.
        for name in [
            "found",
            "insert",
            "insert_failed",
            "drop",
            "early_drop",
            "error",
        ] {
            let (a, b) = (t.counter(name), kt.counter(name));
            assert!(a.is_some() && a <= b, "{name}: /proc {a:?}, netlink {b:?}");
        }
    }

    #[test]
    fn a_copied_proc_tree_reads_flows_and_counters() {
        let dir = std::env::temp_dir().join(format!("ctkit-proc-src-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("stat")).unwrap();
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../model/tests/fixtures/proc-nf_conntrack-6.18.txt"
        );
        std::fs::copy(fixture, dir.join("nf_conntrack")).unwrap();
        std::fs::write(dir.join("nf_conntrack_count"), "11\n").unwrap();
        std::fs::write(dir.join("nf_conntrack_max"), "262144\n").unwrap();
        std::fs::write(dir.join("stat/nf_conntrack"), STAT_618).unwrap();
        let mut s = ProcSource::with_paths(
            ProcPaths {
                table: dir.join("nf_conntrack"),
                format: DumpFormat::Extended,
                sysctl_dir: dir.clone(),
                stat: dir.join("stat/nf_conntrack"),
            },
            false,
        );
        assert_eq!(s.describe(), "/proc/net/nf_conntrack");
        assert!(s.is_live());
        let mut uses = Vec::new();
        let r = s
            .scan(&mut |f| {
                uses.push(f.use_count);
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(
            r,
            ScanReport {
                flows: 11,
                skipped: 0
            }
        );
        // Printed `use=2`: the reader's own reference is not counted.
        assert!(uses.iter().all(|u| *u == Some(1)), "{uses:?}");
        let t = s.counters().unwrap();
        assert_eq!(
            (t.entries, t.max, t.counter("drop")),
            (Some(11), Some(262144), Some(10))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_stat_rows_are_errors() {
        let mut t = TableCounters::default();
        let e = sum_stat_table("entries found\n00000001 zz\n", &mut t).unwrap_err();
        assert_eq!(e, "line 2: `zz' is not a hexadecimal counter");
        let e = sum_stat_table("entries found\n00000001\n", &mut t).unwrap_err();
        assert_eq!(e, "line 2: 1 columns, the header names 2");
    }
}
