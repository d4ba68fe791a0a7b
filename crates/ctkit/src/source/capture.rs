//! A packet capture as a [`FlowSource`]: the capture is replayed through the userspace
//! tracker (kernel defaults, zone 0, the same loop as `ctkit replay`), then the final table is
//! scanned; the counters are the engine's (`nf_conntrack_count`, `nf_conntrack_max` and the
//! per-CPU names of `conntrack -S`). Each scan replays the file again (the source is not live).

use crate::views::replay::driver;
use ctkit_engine::{Config, Stats, Tracker};
use ctkit_model::stats::CpuStats;
use ctkit_model::{Flow, FlowSource, ScanReport, SourceError, TableCounters};
use std::ops::ControlFlow;

/// A capture file replayed on demand.
pub struct CaptureSource {
    path: String,
    /// After a replay: entries, the configured max and the engine's counters.
    last: Option<(u64, Option<u64>, Stats)>,
}

impl CaptureSource {
    /// A source for the capture at `path` (`-`: standard input, readable once).
    pub fn open(path: &str) -> Result<CaptureSource, SourceError> {
        // Open once now so a bad file is reported before any view starts.
        driver::open(path).map_err(SourceError::Other)?;
        Ok(CaptureSource {
            path: path.to_string(),
            last: None,
        })
    }

    fn replay(&mut self) -> Result<(Tracker, u64), SourceError> {
        let mut cfg = Config::kernel_defaults();
        driver::events_off(&mut cfg);
        let max = cfg.get("nf_conntrack_max");
        let mut cap = driver::open(&self.path).map_err(SourceError::Other)?;
        let mut t = Tracker::new(cfg, 0);
        let prog = driver::replay(&mut cap, &mut t, 0, None, |t, _| {
            t.drain_events(&mut |_| {});
            ControlFlow::Continue(())
        })
        .map_err(|e| SourceError::Other(format!("{}: {e}", self.path)))?;
        self.last = Some((t.len() as u64, max, t.stats()));
        Ok((t, prog.last_ns))
    }
}

/// The engine's counters under conntrack's per-CPU names.
fn cpu_sum(s: &Stats) -> [Option<u64>; CpuStats::SLOTS] {
    let mut sum = [None; CpuStats::SLOTS];
    for (name, v) in [
        ("found", s.found),
        ("invalid", s.invalid),
        ("insert", s.insert),
        ("insert_failed", s.insert_failed),
        ("drop", s.drop),
        ("early_drop", s.early_drop),
        ("error", s.error),
        ("search_restart", s.search_restart),
        ("clash_resolve", s.clash_resolve),
        ("chaintoolong", s.chaintoolong),
    ] {
        if let Some(i) = CpuStats::NAMES.iter().position(|n| *n == name) {
            sum[i] = Some(v);
        }
    }
    sum
}

impl FlowSource for CaptureSource {
    fn describe(&self) -> String {
        format!("capture {}", self.path)
    }

    fn scan(
        &mut self,
        f: &mut dyn FnMut(&Flow) -> ControlFlow<()>,
    ) -> Result<ScanReport, SourceError> {
        let (t, now) = self.replay()?;
        let mut report = ScanReport::default();
        let mut stopped = false;
        t.for_each_flow(now, &mut |flow| {
            if !stopped {
                report.flows += 1;
                stopped = f(flow).is_break();
            }
        });
        Ok(report)
    }

    fn counters(&mut self) -> Result<TableCounters, SourceError> {
        if self.last.is_none() {
            self.replay()?;
        }
        let (entries, max, stats) = self.last.expect("replayed");
        Ok(TableCounters {
            entries: Some(entries),
            max,
            cpu_sum: Some(cpu_sum(&stats)),
        })
    }

    fn is_live(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{open, SourceSpec};
    use ctkit_capture::write;

    /// A UDP datagram 192.0.2.1:5000 → 192.0.2.2:53 (raw IPv4, checksum 0 = none).
    fn udp() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 29, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        let mut sum: u32 = p
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        p.extend_from_slice(&[0x13, 0x88, 0, 53, 0, 9, 0, 0, b'x']);
        p
    }

    #[test]
    fn a_pcap_path_opens_as_a_replayed_capture() {
        let mut f = Vec::new();
        write::pcap_header(&mut f, 101, false, true, 65535);
        write::pcap_record(&mut f, 1_000_000_000, &udp(), false, true);
        let path = std::env::temp_dir().join(format!("ctkit-src-{}.pcap", std::process::id()));
        std::fs::write(&path, &f).unwrap();
        let mut src = open(&SourceSpec::File(path.to_str().unwrap().into())).unwrap();
        assert!(src.describe().starts_with("capture "));
        assert!(!src.is_live());
        let mut seen = Vec::new();
        let r = src
            .scan(&mut |fl| {
                seen.push((fl.orig.proto, fl.orig.sport, fl.orig.dport, fl.timeout));
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(r.flows, 1);
        assert_eq!(seen, [(17, 5000, 53, Some(30))]);
        let c = src.counters().unwrap();
        assert_eq!(c.entries, Some(1));
        assert_eq!(c.max, Some(262_144));
        assert_eq!(c.counter("drop"), Some(0));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn engine_counters_land_under_conntracks_names() {
        let s = Stats {
            drop: 3,
            early_drop: 2,
            insert_failed: 1,
            ..Stats::default()
        };
        let t = TableCounters {
            entries: Some(1),
            max: Some(2),
            cpu_sum: Some(cpu_sum(&s)),
        };
        assert_eq!(t.counter("drop"), Some(3));
        assert_eq!(t.counter("early_drop"), Some(2));
        assert_eq!(t.counter("insert_failed"), Some(1));
        assert_eq!(t.counter("found"), Some(0));
        assert_eq!(t.counter("searched"), None);
    }
}
