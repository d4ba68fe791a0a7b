//! The replay loop shared by `ctkit replay` and the capture flow source: packets from a
//! capture, in file order, through the userspace tracker, with time taken from the packet
//! timestamps (as Suricata does offline). Time never runs backwards for the engine: a packet
//! stamped earlier than its predecessor (merged interfaces) is tracked at the later time.
//!
//! Before each packet the engine's garbage collection runs up to the packet's time
//! ([`Tracker::advance`]), so expiries are seen where the kernel's GC would see them.

use ctkit_capture::{Capture, CaptureError};
use ctkit_engine::{Config, Tracker, Verdict};
use std::io::Read;
use std::ops::ControlFlow;

/// Turns event generation off (`nf_conntrack_events=0`) for replays that print no events;
/// the table, verdicts and counters are the same (the sysctl only gates event delivery).
pub fn events_off(cfg: &mut Config) {
    // A known sysctl with a valid value: cannot fail.
    let _ = cfg.set("nf_conntrack_events", "0");
}

/// A capture opened from a path (`-`: standard input).
pub type CaptureReader = Capture<Box<dyn Read>>;

/// Opens `path` (`-` for standard input) as a capture; the error is worded for the user.
pub fn open(path: &str) -> Result<CaptureReader, String> {
    let r: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?)
    };
    Capture::new(r).map_err(|e| format!("{path}: {e}"))
}

/// One packet as the loop hands it to its caller.
pub struct Step<'a> {
    /// 0-based index among the capture's IP packets.
    pub index: u64,
    /// The packet's own timestamp.
    pub ts_ns: u64,
    /// The time the engine was given (never earlier than the previous packet's).
    pub now: u64,
    /// The IP packet.
    pub l3: &'a [u8],
    /// The tracker's verdict.
    pub verdict: Verdict,
}

/// What a replay went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// IP packets tracked.
    pub packets: u64,
    /// The first packet's time.
    pub first_ns: Option<u64>,
    /// The engine's time after the last packet.
    pub last_ns: u64,
}

/// Tracks every packet of `cap` in `zone` (at most `limit` packets), calling `each` after
/// each one until it returns `Break`.
pub fn replay<R: Read>(
    cap: &mut Capture<R>,
    t: &mut Tracker,
    zone: u16,
    limit: Option<u64>,
    mut each: impl FnMut(&mut Tracker, &Step<'_>) -> ControlFlow<()>,
) -> Result<Progress, CaptureError> {
    let mut prog = Progress::default();
    while limit.is_none_or(|l| prog.packets < l) {
        let Some(p) = cap.next_packet()? else { break };
        let now = p.ts_ns.max(prog.last_ns);
        prog.first_ns.get_or_insert(now);
        t.advance(now);
        let verdict = t.process(now, zone, p.l3);
        let step = Step {
            index: prog.packets,
            ts_ns: p.ts_ns,
            now,
            l3: p.l3,
            verdict,
        };
        prog.packets += 1;
        prog.last_ns = now;
        if each(t, &step).is_break() {
            break;
        }
    }
    Ok(prog)
}

/// Splits nanoseconds into conntrack's `-o timestamp` (seconds, microseconds).
pub fn secs_us(ns: u64) -> (i64, u32) {
    (
        (ns / 1_000_000_000) as i64,
        ((ns % 1_000_000_000) / 1000) as u32,
    )
}
