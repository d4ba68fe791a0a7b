//! `ctkit doctor`'s judgement: the thresholds as one table, findings with their fixes, and the
//! exit status (0 ok, 1 warning, 2 critical, as Nagios/Icinga plugins and most monitoring
//! checks read it).
//!
//! Each threshold names a metric, the value at which it becomes a warning and a critical
//! finding, and the table fill below which it does not matter (a host whose table is mostly
//! TIME_WAIT is fine while the table is nearly empty). Sources of the numbers:
//! - fill 75 % warning: node_exporter's mixin alert `NodeHighNumberConntrackEntriesUsed`
//!   (entries/limit > 0.75); 95 % critical: the kernel starts dropping at 100 % and early_drop
//!   only rescues unassured flows;
//! - `drop` rising = packets dropped because the table was full (critical); `early_drop` and
//!   `insert_failed` rising are the usual alerts (warning); `drop` that rose in the past only
//!   is a warning;
//! - `max / buckets` above 8: average chain length at a full table beyond the guides'
//!   buckets = max/4…max/8;
//! - shares of one source, UNREPLIED, TIME_WAIT, ESTABLISHED at 50 %, once the table is at
//!   least half full.

use serde::Serialize;

/// How bad a finding is. Ordered: the worst decides the exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational, or within the thresholds.
    Ok,
    /// Worth a look: exit status 1.
    Warning,
    /// Acting now is needed: exit status 2.
    Critical,
}

impl Severity {
    /// The exit status monitoring systems read.
    pub fn exit_code(self) -> u8 {
        match self {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Critical => 2,
        }
    }

    /// The word shown in the report.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// A metric's limits. `None` = this level is never reached by this metric alone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    /// The metric key (also the finding id).
    pub metric: &'static str,
    /// At or above: warning.
    pub warn: Option<f64>,
    /// At or above: critical.
    pub crit: Option<f64>,
    /// The metric is only judged when the table is at least this full (percent).
    pub min_fill_pct: f64,
    /// What crossing it means.
    pub meaning: &'static str,
}

/// Above zero, for counters where any increase counts.
const ANY: f64 = f64::MIN_POSITIVE;

/// Every threshold `doctor` applies.
pub const THRESHOLDS: &[Threshold] = &[
    Threshold {
        metric: "fill_pct",
        warn: Some(75.0),
        crit: Some(95.0),
        min_fill_pct: 0.0,
        meaning: "entries against nf_conntrack_max; at 100 % new flows are dropped",
    },
    Threshold {
        metric: "drop_per_s",
        warn: None,
        crit: Some(ANY),
        min_fill_pct: 0.0,
        meaning: "packets dropped now because the table was full",
    },
    Threshold {
        metric: "drop",
        warn: Some(ANY),
        crit: None,
        min_fill_pct: 0.0,
        meaning: "packets dropped since the table was created because it was full",
    },
    Threshold {
        metric: "early_drop_per_s",
        warn: Some(ANY),
        crit: None,
        min_fill_pct: 0.0,
        meaning: "unassured entries evicted now to make room (table full)",
    },
    Threshold {
        metric: "insert_failed_per_s",
        warn: Some(ANY),
        crit: None,
        min_fill_pct: 0.0,
        meaning: "entries lost an insertion race (parallel DNS A/AAAA through NAT)",
    },
    Threshold {
        metric: "invalid_per_s",
        warn: Some(100.0),
        crit: None,
        min_fill_pct: 0.0,
        meaning: "packets conntrack could not classify (out of window, bad checksum, …)",
    },
    Threshold {
        metric: "search_restart_per_s",
        warn: Some(100.0),
        crit: None,
        min_fill_pct: 0.0,
        meaning: "lookups restarted by a concurrent hash table resize",
    },
    Threshold {
        metric: "chaintoolong_per_s",
        warn: Some(ANY),
        crit: None,
        min_fill_pct: 0.0,
        meaning: "inserts refused because a hash chain was too long (hash flooding or too \
                  few buckets)",
    },
    Threshold {
        metric: "max_per_bucket",
        warn: Some(8.0),
        crit: None,
        min_fill_pct: 0.0,
        meaning: "nf_conntrack_max / nf_conntrack_buckets: average chain length when full",
    },
    Threshold {
        metric: "expect_fill_pct",
        warn: Some(75.0),
        crit: Some(95.0),
        min_fill_pct: 0.0,
        meaning: "expectations against nf_conntrack_expect_max",
    },
    Threshold {
        metric: "top_source_pct",
        warn: Some(50.0),
        crit: None,
        min_fill_pct: 50.0,
        meaning: "share of the table held by one source address (critical while fill_pct is)",
    },
    Threshold {
        metric: "unreplied_pct",
        warn: Some(50.0),
        crit: None,
        min_fill_pct: 50.0,
        meaning: "share of entries that never saw a reply (scans, floods, dead peers)",
    },
    Threshold {
        metric: "time_wait_pct",
        warn: Some(50.0),
        crit: None,
        min_fill_pct: 50.0,
        meaning: "share of entries in TCP TIME_WAIT (short connections, 120 s each)",
    },
    Threshold {
        metric: "established_pct",
        warn: Some(50.0),
        crit: None,
        min_fill_pct: 90.0,
        meaning: "share of entries in TCP ESTABLISHED (idle ones live 5 days by default)",
    },
];

/// The thresholds as a text table (`ctkit doctor --thresholds`).
pub fn thresholds_text() -> String {
    let lim = |v: Option<f64>| match v {
        None => "-".to_string(),
        Some(ANY) => "> 0".to_string(),
        Some(x) => format!(">= {x}"),
    };
    let mut s = format!(
        "{:<22} {:>8} {:>8} {:>9}  meaning\n",
        "metric", "warning", "critical", "when fill"
    );
    for t in THRESHOLDS {
        s.push_str(&format!(
            "{:<22} {:>8} {:>8} {:>9}  {}\n",
            t.metric,
            lim(t.warn),
            lim(t.crit),
            format!(">= {} %", t.min_fill_pct),
            t.meaning
        ));
    }
    s
}

/// The threshold of `metric`.
pub fn threshold(metric: &str) -> Option<&'static Threshold> {
    THRESHOLDS.iter().find(|t| t.metric == metric)
}

/// Judges `value` of `metric` at table fill `fill_pct` (unknown fill: judged).
pub fn judge(metric: &str, value: f64, fill_pct: Option<f64>) -> Severity {
    let Some(t) = threshold(metric) else {
        return Severity::Ok;
    };
    if fill_pct.is_some_and(|f| f < t.min_fill_pct) {
        return Severity::Ok;
    }
    if t.crit.is_some_and(|c| value >= c) {
        Severity::Critical
    } else if t.warn.is_some_and(|w| value >= w) {
        Severity::Warning
    } else {
        Severity::Ok
    }
}

/// A command that fixes (or investigates) a finding, in ctkit's words and the plain tool's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// The ctkit command.
    pub ctkit: String,
    /// The same with the standard tools (`sysctl -w …`, `conntrack -D …`).
    pub plain: String,
    /// Why this value (RFC, kernel default, memory cost).
    pub why: String,
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Stable id (`fill_pct`, `drop`, `top_source`, `log_table_full`, …).
    pub id: String,
    /// How bad.
    pub severity: Severity,
    /// The measured value, when there is one.
    pub value: Option<f64>,
    /// What was seen, in one line.
    pub message: String,
    /// How to fix it.
    pub fixes: Vec<Fix>,
}

/// The worst severity of `findings` (ok when empty).
pub fn worst(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

/// `sysctl NAME=VALUE` as a fix: `ctkit sysctl set` and `sysctl -w`.
pub fn sysctl_fix(name: &str, value: u64, why: impl Into<String>) -> Fix {
    Fix {
        ctkit: format!("ctkit sysctl set {name}={value}"),
        plain: format!("sysctl -w net.netfilter.{name}={value}"),
        why: why.into(),
    }
}

/// The `nf_conntrack_max` to suggest for `count` entries at `max`: twice the larger of the two,
/// rounded up to a power of two, at least 65536.
pub fn suggested_max(count: u64, max: u64) -> u64 {
    (count.max(max).max(1) * 2).next_power_of_two().max(65536)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(sev: Severity) -> Finding {
        Finding {
            id: "x".into(),
            severity: sev,
            value: None,
            message: String::new(),
            fixes: vec![],
        }
    }

    #[test]
    fn thresholds_give_the_documented_severity() {
        assert_eq!(judge("fill_pct", 74.9, None), Severity::Ok);
        assert_eq!(judge("fill_pct", 75.0, None), Severity::Warning);
        assert_eq!(judge("fill_pct", 95.0, None), Severity::Critical);
        assert_eq!(judge("drop_per_s", 0.0, None), Severity::Ok);
        assert_eq!(judge("drop_per_s", 0.5, None), Severity::Critical);
        assert_eq!(judge("drop", 3.0, None), Severity::Warning);
        assert_eq!(judge("early_drop_per_s", 1.0, None), Severity::Warning);
        assert_eq!(judge("max_per_bucket", 4.0, None), Severity::Ok);
        assert_eq!(judge("max_per_bucket", 8.0, None), Severity::Warning);
        // Shares only count once the table is half full.
        assert_eq!(judge("top_source_pct", 90.0, Some(10.0)), Severity::Ok);
        assert_eq!(judge("top_source_pct", 90.0, Some(60.0)), Severity::Warning);
        assert_eq!(judge("no_such_metric", 1e9, None), Severity::Ok);
    }

    #[test]
    fn the_worst_finding_is_the_exit_status() {
        assert_eq!(worst(&[]).exit_code(), 0);
        let ok = finding(Severity::Ok);
        let w = finding(Severity::Warning);
        let c = finding(Severity::Critical);
        assert_eq!(worst(std::slice::from_ref(&ok)).exit_code(), 0);
        assert_eq!(worst(&[ok.clone(), w.clone()]).exit_code(), 1);
        assert_eq!(worst(&[w, c, ok]).exit_code(), 2);
    }

    #[test]
    fn every_threshold_is_unique_and_ordered() {
        for (i, t) in THRESHOLDS.iter().enumerate() {
            assert!(THRESHOLDS[..i].iter().all(|o| o.metric != t.metric));
            if let (Some(w), Some(c)) = (t.warn, t.crit) {
                assert!(w < c, "{}", t.metric);
            }
        }
    }

    #[test]
    fn thresholds_print_one_line_each() {
        let t = thresholds_text();
        assert_eq!(t.lines().count(), THRESHOLDS.len() + 1);
        assert!(t.contains("fill_pct"));
        assert!(t
            .lines()
            .any(|l| l.starts_with("drop_per_s") && l.contains("> 0")));
    }

    #[test]
    fn suggested_max_doubles_and_rounds() {
        assert_eq!(suggested_max(64, 64), 65536);
        assert_eq!(suggested_max(40_000, 1_250_000), 4_194_304);
        assert_eq!(suggested_max(100_000, 262_144), 524_288);
        assert_eq!(suggested_max(0, 0), 65536);
    }

    #[test]
    fn sysctl_fix_has_both_spellings() {
        let f = sysctl_fix("nf_conntrack_max", 131072, "");
        assert_eq!(f.ctkit, "ctkit sysctl set nf_conntrack_max=131072");
        assert_eq!(f.plain, "sysctl -w net.netfilter.nf_conntrack_max=131072");
    }
}
