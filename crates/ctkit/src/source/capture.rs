//! A packet capture as a [`FlowSource`]: the capture is replayed through the userspace
//! tracker (6.18's defaults, or what the engine options of [`crate::views::engine`] say:
//! `--set`, `--sysctl-from-kernel`, helpers, `--seed`, else a random hash seed; zone 0, event
//! generation off, the same loop as `ctkit replay`) the first time flows or counters are asked for, then the final table
//! is scanned, timeouts relative to the last packet; the counters are the engine's (`nf_conntrack_count`,
//! `nf_conntrack_max` and the per-CPU names of `conntrack -S`). The input is read once (it
//! may be standard input), so the replayed table is kept for later scans; the source is not
//! live.

use crate::views::engine::EngineArgs;
use crate::views::replay::driver;
use ctkit_capture::Capture;
use ctkit_engine::{Config, Stats, Tracker};
use ctkit_model::stats::CpuStats;
use ctkit_model::{Expect, Flow, FlowSource, ScanReport, SourceError, TableCounters};
use std::io::Read;
use std::ops::ControlFlow;

/// A capture, replayed on first use.
pub struct CaptureSource {
    name: String,
    input: Option<Capture<Box<dyn Read>>>,
    /// The engine's configuration and hash seed, for the replay.
    config: Config,
    seed: u64,
    /// After the replay: the tracker and the last packet's time.
    replayed: Option<(Tracker, u64)>,
}

impl CaptureSource {
    /// A source reading the capture from `input` (positioned at its first byte), replayed
    /// as `engine` says; `name` names it in messages. The configuration is built (and with
    /// `--sysctl-from-kernel` the kernel's values read) and the file header checked now.
    pub fn from_reader(
        name: &str,
        input: Box<dyn Read>,
        engine: &EngineArgs,
    ) -> Result<CaptureSource, SourceError> {
        let mut config = engine.config().map_err(SourceError::Other)?;
        driver::events_off(&mut config);
        let cap = Capture::new(input).map_err(|e| SourceError::Format {
            path: name.to_string(),
            message: e.to_string(),
        })?;
        Ok(CaptureSource {
            name: name.to_string(),
            input: Some(cap),
            config,
            seed: engine.seed_or_random(),
            replayed: None,
        })
    }

    fn replayed(&mut self) -> Result<&(Tracker, u64), SourceError> {
        if let Some(mut cap) = self.input.take() {
            let mut t = Tracker::new(self.config.clone(), self.seed);
            let prog =
                driver::replay_batched(&mut cap, &mut t, 0, None, |_, _| ControlFlow::Continue(()))
                    .map_err(|e| SourceError::Other(format!("{}: {e}", self.name)))?;
            if let Some(note) = driver::unsupported_note(&self.name, &cap.stats()) {
                eprintln!("ctkit: {note}");
            }
            self.replayed = Some((t, prog.last_ns));
        }
        self.replayed
            .as_ref()
            .ok_or_else(|| SourceError::Other(format!("{}: replay failed earlier", self.name)))
    }
}

impl CaptureSource {
    /// The expectations the replay left pending, as `conntrack -L expect` lists them at the
    /// last packet (timeouts relative to it), oldest first; returns the last packet's time
    /// in nanoseconds (0 for a capture without IP packets).
    pub fn for_each_expect(&mut self, f: &mut dyn FnMut(&Expect)) -> Result<u64, SourceError> {
        let (t, now) = self.replayed()?;
        t.for_each_expect(*now, f);
        Ok(*now)
    }

    /// The replay's counters (the kernel's names), after the last packet.
    pub fn stats(&mut self) -> Result<Stats, SourceError> {
        Ok(self.replayed()?.0.stats())
    }
}

/// The engine's counters under conntrack's per-CPU names.
pub fn cpu_sum(s: &Stats) -> [Option<u64>; CpuStats::SLOTS] {
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
        format!("capture {}", self.name)
    }

    fn scan(
        &mut self,
        f: &mut dyn FnMut(&Flow) -> ControlFlow<()>,
    ) -> Result<ScanReport, SourceError> {
        let (t, now) = self.replayed()?;
        let mut report = ScanReport::default();
        let mut stopped = false;
        t.for_each_flow(*now, &mut |flow| {
            if !stopped {
                report.flows += 1;
                stopped = f(flow).is_break();
            }
        });
        Ok(report)
    }

    fn counters(&mut self) -> Result<TableCounters, SourceError> {
        let (t, _) = self.replayed()?;
        Ok(TableCounters {
            entries: Some(t.len() as u64),
            max: t.config().get("nf_conntrack_max"),
            cpu_sum: Some(cpu_sum(&t.stats())),
        })
    }

    fn is_live(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{open_with, OpenOptions, SourceSpec};
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
        let spec = SourceSpec::File(path.to_str().unwrap().into());
        let mut src = open_with(&spec, &OpenOptions::default()).unwrap();
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
        // A stream (standard input) is read once; scanning again gives the same table.
        let mut src = CaptureSource::from_reader(
            "standard input",
            Box::new(std::io::Cursor::new(f)),
            &EngineArgs::default(),
        )
        .unwrap();
        for _ in 0..2 {
            let r = src.scan(&mut |_| ControlFlow::Continue(())).unwrap();
            assert_eq!(r.flows, 1);
        }
        let e = CaptureSource::from_reader(
            "x",
            Box::new(&b"\xd4\xc3\xb2\xa1"[..]),
            &EngineArgs::default(),
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "x: file header: truncated (the input ends inside it)"
        );
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
