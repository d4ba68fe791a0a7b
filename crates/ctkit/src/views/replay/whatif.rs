//! `ctkit replay --what-if`: how a table configured as given would have fared on this
//! traffic — the peak entry count and when it happened, packets dropped because the table was
//! full, early drops, the entries by state at the peak, the final count — plus occupancy over
//! time as CSV (`--csv`) and as a hand-written SVG plot (`--svg`).
//!
//! The state breakdown at the peak needs the table as it was then: the capture is replayed a
//! second time up to the peak packet (same configuration and seed, so the same table).

use ctkit_engine::Stats;
use ctkit_model::{Flow, ProtoInfo, SctpState, Status};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One sample of the occupancy series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Point {
    /// Seconds since the first packet, at the end of the interval.
    pub t_ns: u64,
    /// Entries at the end of the interval.
    pub entries: u64,
    /// Most entries within the interval.
    pub peak: u64,
    /// Cumulative `drop`.
    pub drops: u64,
    /// Cumulative `early_drop`.
    pub early_drops: u64,
}

/// Occupancy over time, one [`Point`] per interval with packets.
pub struct Series {
    interval_ns: u64,
    first_ns: Option<u64>,
    cur: Option<Point>,
    /// Closed intervals.
    pub points: Vec<Point>,
}

impl Series {
    /// A series sampled every `interval_ns`.
    pub fn new(interval_ns: u64) -> Series {
        Series {
            interval_ns: interval_ns.max(1),
            first_ns: None,
            cur: None,
            points: Vec::new(),
        }
    }

    /// Records the table after a packet at `now`.
    pub fn record(&mut self, now: u64, entries: u64, stats: &Stats) {
        let first = *self.first_ns.get_or_insert(now);
        let slot_end = ((now - first) / self.interval_ns + 1) * self.interval_ns;
        match &mut self.cur {
            Some(p) if p.t_ns == slot_end => {
                p.entries = entries;
                p.peak = p.peak.max(entries);
                p.drops = stats.drop;
                p.early_drops = stats.early_drop;
            }
            cur => {
                if let Some(p) = cur.take() {
                    self.points.push(p);
                }
                *cur = Some(Point {
                    t_ns: slot_end,
                    entries,
                    peak: entries,
                    drops: stats.drop,
                    early_drops: stats.early_drop,
                });
            }
        }
    }

    /// Closes the last interval.
    pub fn finish(&mut self) {
        if let Some(p) = self.cur.take() {
            self.points.push(p);
        }
    }

    /// The CSV text: `seconds,entries,peak,drop,early_drop`.
    pub fn csv(&self) -> String {
        let mut s = String::from("seconds,entries,peak,drop,early_drop\n");
        for p in &self.points {
            let _ = writeln!(
                s,
                "{:.3},{},{},{},{}",
                p.t_ns as f64 / 1e9,
                p.entries,
                p.peak,
                p.drops,
                p.early_drops
            );
        }
        s
    }

    /// An SVG plot of the per-interval peak entries, with axes, tick labels and a dashed line
    /// at `max` (`nf_conntrack_max`).
    pub fn svg(&self, max: u64) -> String {
        const W: f64 = 800.0;
        const H: f64 = 360.0;
        const L: f64 = 70.0; // left margin
        const B: f64 = 40.0; // bottom margin
        const T: f64 = 20.0;
        const R: f64 = 20.0;
        let t_max = self.points.last().map_or(1, |p| p.t_ns).max(1) as f64;
        let top = self
            .points
            .iter()
            .map(|p| p.peak)
            .max()
            .unwrap_or(0)
            .max(max)
            .max(1) as f64
            * 1.05;
        let x = |t: f64| L + t / t_max * (W - L - R);
        let y = |v: f64| H - B - v / top * (H - B - T);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"11\">"
        );
        let _ = writeln!(s, "<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>");
        // Axes.
        let _ = writeln!(
            s,
            "<path d=\"M{L},{T} V{} H{}\" stroke=\"black\" fill=\"none\"/>",
            H - B,
            W - R
        );
        // Ticks at round values (1, 2 or 5 times a power of ten), at most 5 per axis.
        let step = nice_step(top / 1.05, 5.0).max(1.0); // entries are whole
        let mut v = 0.0;
        while v <= top {
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}</text>",
                L - 6.0,
                y(v) + 4.0,
                v
            );
            v += step;
        }
        let t_step = nice_step(t_max / 1e9, 5.0);
        let decimals = (-t_step.log10().floor()).max(0.0) as usize;
        let mut i = 0.0;
        while i * t_step <= t_max / 1e9 * (1.0 + 1e-9) {
            let t = i * t_step;
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{t:.decimals$} s</text>",
                x(t * 1e9),
                H - B + 16.0,
            );
            i += 1.0;
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">time since the first packet</text>",
            (L + W - R) / 2.0,
            H - 6.0
        );
        let _ = writeln!(s, "<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">entries</text>", H / 2.0, H / 2.0);
        // nf_conntrack_max.
        if max > 0 {
            let _ = writeln!(
                s,
                "<line x1=\"{L}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"red\" stroke-dasharray=\"6 4\"/>",
                y(max as f64),
                W - R
            );
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"red\">nf_conntrack_max {max}</text>",
                W - R,
                y(max as f64) - 4.0
            );
        }
        // Occupancy.
        s.push_str("<polyline fill=\"none\" stroke=\"steelblue\" stroke-width=\"1.5\" points=\"");
        let _ = write!(s, "{L:.1},{:.1}", y(0.0));
        for p in &self.points {
            let _ = write!(s, " {:.1},{:.1}", x(p.t_ns as f64), y(p.peak as f64));
        }
        s.push_str("\"/>\n</svg>\n");
        s
    }
}

/// The smallest step of 1, 2 or 5 times a power of ten that cuts `range` into at most
/// `ticks` intervals.
fn nice_step(range: f64, ticks: f64) -> f64 {
    if range <= 0.0 || !range.is_finite() {
        return 1.0;
    }
    let mut p = 10f64.powf((range / ticks).log10().floor());
    loop {
        for m in [1.0, 2.0, 5.0] {
            if range / (m * p) <= ticks {
                return m * p;
            }
        }
        p *= 10.0;
    }
}

/// How an entry is grouped at the peak: the TCP or SCTP state as `conntrack -L` names it,
/// or the protocol with UNREPLIED/REPLIED/ASSURED.
pub fn state_key(f: &Flow) -> String {
    let proto = ctkit_model::proto::l4_name(f.orig.proto).unwrap_or("unknown");
    let state = match f.protoinfo {
        Some(ProtoInfo::Tcp(t)) => t
            .state
            .and_then(|s| ctkit_model::TcpState::from_u8(s).name()),
        Some(ProtoInfo::Sctp(x)) => x.state.and_then(|s| SctpState(s).name()),
        _ => None,
    };
    if let Some(name) = state {
        return format!("{proto} {name}");
    }
    let st = f.status_bits();
    let what = if st.contains(Status::ASSURED) {
        "ASSURED"
    } else if st.contains(Status::SEEN_REPLY) {
        "REPLIED"
    } else {
        "UNREPLIED"
    };
    format!("{proto} {what}")
}

/// What the report says.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Packets replayed.
    pub packets: u64,
    /// `nf_conntrack_max` used.
    pub max: u64,
    /// Most entries at once.
    pub peak: u64,
    /// When (seconds since the first packet).
    pub peak_at_ns: u64,
    /// Packet number (1-based) that made the peak.
    pub peak_packet: u64,
    /// Packets the tracker dropped (any reason).
    pub dropped_packets: u64,
    /// The engine's counters at the end.
    pub stats: Stats,
    /// Entries by state at the peak.
    pub by_state: BTreeMap<String, u64>,
    /// `by_state` is of the final table (standard input cannot be replayed a second time).
    pub by_state_at_end: bool,
    /// Entries after the last packet.
    pub final_entries: u64,
}

impl Report {
    /// Human-readable text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "packets replayed:   {}", self.packets);
        let _ = writeln!(s, "nf_conntrack_max:   {}", self.max);
        let pct = if self.max > 0 {
            format!(
                " ({:.1} % of max)",
                self.peak as f64 * 100.0 / self.max as f64
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "peak entries:       {}{pct} at {:.3} s (packet {})",
            self.peak,
            self.peak_at_ns as f64 / 1e9,
            self.peak_packet
        );
        let _ = writeln!(s, "drops (table full): {}", self.stats.drop);
        let _ = writeln!(s, "early drops:        {}", self.stats.early_drop);
        let _ = writeln!(s, "packets dropped:    {}", self.dropped_packets);
        let _ = writeln!(s, "invalid packets:    {}", self.stats.invalid);
        let _ = writeln!(s, "final entries:      {}", self.final_entries);
        if !self.by_state.is_empty() {
            if self.by_state_at_end {
                let _ = writeln!(
                    s,
                    "entries at the end by state (standard input is read once):"
                );
            } else {
                let _ = writeln!(s, "entries at the peak by state:");
            }
            let mut v: Vec<_> = self.by_state.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (k, n) in v {
                let _ = writeln!(s, "  {k:<20} {n}");
            }
        }
        s
    }

    /// One JSON object.
    pub fn json(&self) -> String {
        let by_state: serde_json::Map<String, serde_json::Value> = self
            .by_state
            .iter()
            .map(|(k, v)| (k.clone(), (*v).into()))
            .collect();
        let v = serde_json::json!({
            "packets": self.packets,
            "max": self.max,
            "peak": self.peak,
            "peak_at": self.peak_at_ns as f64 / 1e9,
            "peak_packet": self.peak_packet,
            "drop": self.stats.drop,
            "early_drop": self.stats.early_drop,
            "dropped_packets": self.dropped_packets,
            "invalid": self.stats.invalid,
            "insert_failed": self.stats.insert_failed,
            "expect_new": self.stats.expect_new,
            "expect_create": self.stats.expect_create,
            "expect_delete": self.stats.expect_delete,
            "final": self.final_entries,
        });
        let mut v = v;
        let key = if self.by_state_at_end {
            "by_state_at_end"
        } else {
            "by_state_at_peak"
        };
        v[key] = by_state.into();
        format!("{v}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(nice_step(9781.0, 5.0), 2000.0);
        assert_eq!(nice_step(100.0, 5.0), 20.0);
        assert_eq!(nice_step(1.0, 5.0), 0.2);
        assert_eq!(nice_step(0.0, 5.0), 1.0);
        assert_eq!(nice_step(262144.0, 5.0), 100000.0);
    }

    #[test]
    fn state_key_names_tcp_and_sctp_states_and_the_status_of_the_others() {
        use ctkit_model::{SctpInfo, TcpInfo};
        let mut f = Flow::default();
        f.orig.proto = 132;
        f.protoinfo = Some(ProtoInfo::Sctp(SctpInfo {
            state: Some(4),
            ..SctpInfo::default()
        }));
        assert_eq!(state_key(&f), "sctp ESTABLISHED");
        f.orig.proto = 6;
        f.protoinfo = Some(ProtoInfo::Tcp(TcpInfo {
            state: Some(7),
            ..TcpInfo::default()
        }));
        assert_eq!(state_key(&f), "tcp TIME_WAIT");
        f.orig.proto = 17;
        f.protoinfo = None;
        assert_eq!(state_key(&f), "udp UNREPLIED");
    }

    #[test]
    fn series_keeps_the_interval_peak_and_last_value() {
        let mut s = Series::new(1_000_000_000);
        let st = Stats {
            drop: 2,
            ..Stats::default()
        };
        s.record(10_000_000_000, 1, &Stats::default());
        s.record(10_500_000_000, 5, &Stats::default());
        s.record(10_900_000_000, 3, &st);
        s.record(13_000_000_000, 2, &st);
        s.finish();
        assert_eq!(
            s.csv(),
            "seconds,entries,peak,drop,early_drop\n1.000,3,5,2,0\n4.000,2,2,2,0\n"
        );
        let svg = s.svg(10);
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("nf_conntrack_max 10"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
