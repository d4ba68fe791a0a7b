//! The replay loop shared by `ctkit replay` and the capture flow source: packets from a
//! capture, in file order, through the userspace tracker, with time taken from the packet
//! timestamps (as Suricata does offline). Time never runs backwards for the engine: a packet
//! stamped earlier than its predecessor (merged interfaces) is tracked at the later time.
//!
//! Before each packet the engine's garbage collection runs up to the packet's time, so
//! expiries are seen where the kernel's GC would see them.
//!
//! Two loops: [`replay_batched`] hands the engine [`Tracker::PIPELINE`] packets at a time with
//! their own timestamps ([`Tracker::process_batch_at`]: same results, overlapped cache
//! misses), for outputs that need each packet's verdict and the events but not the table
//! between packets; [`replay`] tracks one packet at a time, for callers that look at the
//! table after every packet (the what-if peak).

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

/// Tracks every packet of `cap` in `zone` (at most `limit` packets) in batches, calling
/// `each` for every packet once its batch has been tracked (in capture order; the tracker
/// has then seen the whole batch, so its table and events may be ahead of the packet) until
/// it returns `Break`.
pub fn replay_batched<R: Read>(
    cap: &mut Capture<R>,
    t: &mut Tracker,
    zone: u16,
    limit: Option<u64>,
    mut each: impl FnMut(&mut Tracker, &Step<'_>) -> ControlFlow<()>,
) -> Result<Progress, CaptureError> {
    const N: usize = Tracker::PIPELINE;
    let mut prog = Progress::default();
    // The batch's packets, copied out of the reader's buffer: bytes, then (ts, now, end).
    let mut data: Vec<u8> = Vec::with_capacity(N * 1600);
    let mut meta: Vec<(u64, u64, usize)> = Vec::with_capacity(N);
    let mut verdicts = [Verdict {
        info: ctkit_engine::CtInfo::Invalid,
        reply: false,
        dropped: false,
    }; N];
    loop {
        data.clear();
        meta.clear();
        let mut last = prog.last_ns;
        // A damaged record ends the replay, after the packets before it.
        let mut damage = None;
        while meta.len() < N && limit.is_none_or(|l| prog.packets + (meta.len() as u64) < l) {
            let p = match cap.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    damage = Some(e);
                    break;
                }
            };
            let now = p.ts_ns.max(last);
            last = now;
            data.extend_from_slice(p.l3);
            meta.push((p.ts_ns, now, data.len()));
        }
        if meta.is_empty() {
            return damage.map_or(Ok(prog), Err);
        }
        let mut pkts: [(u64, &[u8]); N] = [(0, &[]); N];
        let mut start = 0;
        for (slot, &(_, now, end)) in pkts.iter_mut().zip(&meta) {
            *slot = (now, &data[start..end]);
            start = end;
        }
        let n = meta.len();
        t.process_batch_at(zone, &pkts[..n], &mut verdicts[..n]);
        for (i, (&(ts_ns, now, _), &(_, l3))) in meta.iter().zip(&pkts[..n]).enumerate() {
            prog.first_ns.get_or_insert(now);
            let step = Step {
                index: prog.packets,
                ts_ns,
                now,
                l3,
                verdict: verdicts[i],
            };
            prog.packets += 1;
            prog.last_ns = now;
            if each(t, &step).is_break() {
                return Ok(prog);
            }
        }
        if let Some(e) = damage {
            return Err(e);
        }
    }
}

/// Splits nanoseconds into conntrack's `-o timestamp` (seconds, microseconds).
pub fn secs_us(ns: u64) -> (i64, u32) {
    (
        (ns / 1_000_000_000) as i64,
        ((ns % 1_000_000_000) / 1000) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctkit_capture::write;
    use ctkit_engine::build;

    /// 150 UDP packets over 3 minutes (raw IP), two of them stamped earlier than their
    /// predecessor, the queries answered every third packet.
    fn capture() -> Vec<u8> {
        let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let mut f = Vec::new();
        write::pcap_header(&mut f, 101, true, true, 65535);
        for i in 0..150u64 {
            let port = 1000 + (i / 3) as u16;
            let p = if i % 3 == 2 {
                build::udp(b, a, 53, port, b"r")
            } else {
                build::udp(a, b, port, 53, b"q")
            };
            let mut ts = 1_000_000_000_000 + i * 1_200_000_000;
            if i == 70 || i == 130 {
                ts -= 5_000_000_000;
            }
            write::pcap_record(&mut f, ts, &p, true, true);
        }
        f
    }

    fn run(batched: bool, limit: Option<u64>) -> (Progress, Vec<String>, Vec<String>) {
        let bytes = capture();
        let mut cap = Capture::new(&bytes[..]).unwrap();
        let mut t = Tracker::new(Config::kernel_defaults(), 3);
        let mut steps = Vec::new();
        let mut events = Vec::new();
        let mut each = |t: &mut Tracker, s: &Step<'_>| {
            steps.push(format!("{} {} {} {:?}", s.index, s.ts_ns, s.now, s.verdict));
            t.drain_events(&mut |e| events.push(format!("{} {:?} {:?}", e.at, e.kind, e.flow)));
            ControlFlow::Continue(())
        };
        let prog = if batched {
            replay_batched(&mut cap, &mut t, 0, limit, &mut each)
        } else {
            replay(&mut cap, &mut t, 0, limit, &mut each)
        }
        .unwrap();
        (prog, steps, events)
    }

    #[test]
    fn batched_loop_gives_the_steps_and_events_of_the_packet_loop() {
        let one = run(false, None);
        assert_eq!(one.0.packets, 150);
        assert!(
            one.2.iter().any(|e| e.contains("Destroy")),
            "entries expire"
        );
        assert_eq!(run(true, None), one);
        // A limit that ends inside a batch.
        let (p, steps, _) = run(true, Some(100));
        assert_eq!((p.packets, steps.len()), (100, 100));
        assert_eq!(steps, one.1[..100]);
    }
}
