//! The replay loop shared by `ctkit replay` and the capture flow source: packets from a
//! capture, in file order, through the userspace tracker, with time taken from the packet
//! timestamps (as Suricata does offline). Time never runs backwards for the engine: a packet
//! stamped earlier than its predecessor (merged interfaces) is tracked at the later time.
//!
//! Before each packet the engine's garbage collection runs up to the packet's time, so
//! expiries are seen where the kernel's GC would see them.
//!
//! Fragments are reassembled first, as `nf_defrag_ipv4/6` do before conntrack
//! ([`super::defrag`]): the engine sees the whole datagram when its last fragment arrives.
//!
//! The second copy of a packet in a `tcpdump -i any` capture is not tracked again
//! ([`super::copies`]).
//!
//! A packet the snap length cut short is padded with zeros to the length its IP header
//! gives, as the kernel saw it whole (see `pad_cut`).
//!
//! Two loops: [`replay_batched`] hands the engine [`Tracker::PIPELINE`] packets at a time with
//! their own timestamps ([`Tracker::process_batch_at`]: same results, overlapped cache
//! misses), for outputs that need each packet's verdict and the events but not the table
//! between packets; [`replay`] tracks one packet at a time, for callers that look at the
//! table after every packet (the what-if peak).

use super::copies::Copies;
use super::defrag::{self, Defrag};
use ctkit_capture::{Capture, CaptureError, Packet};
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

/// The note for packets the reader skipped for their link type (pcapng interfaces of a kind
/// it cannot strip to IP), printed once after a replay as tcpdump-like tools do; `None` when
/// there were none, or nothing else (then the reader's error says it).
pub fn unsupported_note(name: &str, s: &ctkit_capture::CaptureStats) -> Option<String> {
    if s.packets + s.skipped == 0 {
        return None;
    }
    let lt = s.unsupported_linktype?;
    Some(format!(
        "{name}: skipped {} packet(s) on interfaces of an unsupported link type \
         (LINKTYPE {lt}; supported: Ethernet, Linux SLL/SLL2, raw IP, BSD loopback)",
        s.unsupported
    ))
}

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
    /// The tracker's verdict ([`HELD`] for a fragment the reassembly kept or dropped).
    pub verdict: Verdict,
    /// What the reassembly did with the packet ([`Fate::Reassembled`]: `l3` is the whole
    /// datagram this fragment completed).
    pub fate: Fate,
}

/// What became of a packet before the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Tracked as it is.
    Whole,
    /// A fragment kept until its datagram is complete (the kernel steals it: no rule sees it).
    Held,
    /// A fragment the reassembly dropped (overlap, bad length, too large, memory limit).
    Dropped,
    /// The fragment that completed its datagram: the whole datagram is tracked instead.
    Reassembled,
    /// The second copy of a packet in a `tcpdump -i any` capture (forwarded, or looped
    /// back): conntrack tracked the first ([`super::copies`]).
    Copy,
}

/// The verdict a step carries for a packet conntrack never saw (a fragment held or dropped
/// by the reassembly, a second copy).
pub const HELD: Verdict = Verdict {
    info: ctkit_engine::CtInfo::Untracked,
    reply: false,
    dropped: false,
};

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
    let mut front = Front::new(t);
    let mut buf = Vec::new();
    let res = loop {
        if limit.is_some_and(|l| prog.packets >= l) {
            break Ok(prog);
        }
        let p = match cap.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break Ok(prog),
            Err(e) => break Err(e),
        };
        let now = p.ts_ns.max(prog.last_ns);
        prog.first_ns.get_or_insert(now);
        t.advance(now);
        buf.clear();
        let fate = front.take(now, &p, &mut buf);
        let verdict = match fate {
            Fate::Whole | Fate::Reassembled => {
                front.verify_for(t, p.outgoing == Some(true));
                t.process(now, zone, &buf)
            }
            Fate::Held | Fate::Dropped | Fate::Copy => HELD,
        };
        let step = Step {
            index: prog.packets,
            ts_ns: p.ts_ns,
            now,
            l3: &buf,
            verdict,
            fate,
        };
        prog.packets += 1;
        prog.last_ns = now;
        if each(t, &step).is_break() {
            break Ok(prog);
        }
    };
    front.verify_for(t, false);
    res
}

/// What happens to a captured packet before conntrack sees it, shared by both loops: the
/// bytes a short snap length cut off are restored as zeros, the second copy of a `tcpdump
/// -i any` capture is recognised ([`Copies`]), fragments are reassembled ([`Defrag`]); and
/// with `nf_conntrack_checksum=1`, checksums are verified only for what the capturing host
/// received (the kernel verifies in PRE_ROUTING; a sent packet may carry the unfilled
/// checksum of an offloading NIC).
struct Front {
    defrag: Defrag,
    copies: Copies,
    whole: Vec<u8>,
    /// `nf_conntrack_checksum` is on.
    verify: bool,
}

impl Front {
    fn new(t: &Tracker) -> Front {
        Front {
            defrag: Defrag::new(),
            copies: Copies::new(),
            whole: Vec::new(),
            verify: t.config().get("nf_conntrack_checksum").unwrap_or(0) != 0,
        }
    }

    /// Appends `p`'s IP bytes to `buf` (padded when the snap length cut them), and says what
    /// becomes of them; a fragment that completes its datagram is replaced in `buf` by the
    /// whole datagram.
    fn take(&mut self, now: u64, p: &Packet<'_>, buf: &mut Vec<u8>) -> Fate {
        let start = buf.len();
        buf.extend_from_slice(p.l3);
        if p.cut_len > 0 {
            pad_cut(buf, start, p.cut_len);
        }
        if p.outgoing
            .is_some_and(|out| self.copies.is_copy(now, &buf[start..], out))
        {
            return Fate::Copy;
        }
        if !defrag::is_fragment(&buf[start..]) {
            return Fate::Whole;
        }
        let fate = self.defrag.push(now, &buf[start..], &mut self.whole);
        if fate == Fate::Reassembled {
            buf.truncate(start);
            buf.extend_from_slice(&self.whole);
        }
        fate
    }

    /// Sets the tracker's checksum verification for the packets that follow: off for
    /// packets the capturing host `sent`, else as configured.
    fn verify_for(&self, t: &mut Tracker, sent: bool) {
        if self.verify {
            t.verify_checksums(!sent);
        }
    }
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
    // The batch's packets, copied out of the reader's buffer: bytes, then (ts, now, end,
    // what the reassembly did, whether the capturing host sent it).
    let mut data: Vec<u8> = Vec::with_capacity(N * 1600);
    let mut meta: Vec<(u64, u64, usize, Fate, bool)> = Vec::with_capacity(N);
    let mut front = Front::new(t);
    // With nf_conntrack_checksum=1 the batch is tracked in runs of one direction,
    // verification off around the packets the capturing host sent ([`Front`]).
    let mut sent = [false; N];
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
            let fate = front.take(now, &p, &mut data);
            meta.push((p.ts_ns, now, data.len(), fate, p.outgoing == Some(true)));
        }
        if meta.is_empty() {
            return damage.map_or(Ok(prog), Err);
        }
        // Every packet's bytes; the tracked ones (not held or dropped fragments) also go
        // to the engine, in order.
        let mut all: [&[u8]; N] = [&[]; N];
        let mut pkts: [(u64, &[u8]); N] = [(0, &[]); N];
        let mut n = 0;
        let mut start = 0;
        for (slot, &(_, now, end, fate, out)) in all.iter_mut().zip(&meta) {
            *slot = &data[start..end];
            start = end;
            if matches!(fate, Fate::Whole | Fate::Reassembled) {
                pkts[n] = (now, *slot);
                sent[n] = out;
                n += 1;
            }
        }
        if front.verify && sent[..n].contains(&true) {
            let mut i = 0;
            while i < n {
                let out = sent[i];
                let j = sent[i..n]
                    .iter()
                    .position(|&o| o != out)
                    .map_or(n, |k| i + k);
                front.verify_for(t, out);
                t.process_batch_at(zone, &pkts[i..j], &mut verdicts[i..j]);
                i = j;
            }
            front.verify_for(t, false);
        } else if n > 0 {
            t.process_batch_at(zone, &pkts[..n], &mut verdicts[..n]);
        }
        let mut tracked = verdicts[..n].iter();
        for (&(ts_ns, now, _, fate, _), &l3) in meta.iter().zip(&all) {
            prog.first_ns.get_or_insert(now);
            let verdict = match fate {
                Fate::Whole | Fate::Reassembled => *tracked.next().expect("one per packet"),
                Fate::Held | Fate::Dropped | Fate::Copy => HELD,
            };
            let step = Step {
                index: prog.packets,
                ts_ns,
                now,
                l3,
                verdict,
                fate,
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

/// The length an IP packet's header gives: IPv4's total length, IPv6's payload length plus
/// its 40-byte header (`None` for a jumbogram's 0, or too few bytes).
fn ip_len(l3: &[u8]) -> Option<usize> {
    let be16 = |i: usize| Some(u16::from_be_bytes([*l3.get(i)?, *l3.get(i + 1)?]) as usize);
    match l3.first()? >> 4 {
        4 => be16(2),
        6 => be16(4).filter(|&n| n > 0).map(|n| n + 40),
        _ => None,
    }
}

/// A packet the snap length cut short (`buf[start..]`, `cut` bytes missing) is padded with
/// zeros up to the length its IP header gives, so the engine counts the bytes the kernel
/// saw: TCP window tracking takes a segment's end from its length, so a header-only capture
/// (`tcpdump -s 96`) replays like a whole one, except that a helper finds nothing in the
/// zeros. A header claiming more than the wire carried is left alone (`ip_rcv` drops such a
/// packet before conntrack; the engine calls it INVALID).
fn pad_cut(buf: &mut Vec<u8>, start: usize, cut: u32) {
    let have = buf.len() - start;
    if let Some(want) = ip_len(&buf[start..]) {
        if want > have && want <= have + cut as usize {
            buf.resize(start + want, 0);
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

    /// A TCP connection with 1000-byte segments both ways and a close, in raw IP; every
    /// record cut to `snap` bytes (its wire length kept) when given.
    fn tcp_transfer(snap: Option<usize>) -> Vec<u8> {
        use build::flags::{ACK, FIN, PSH, SYN};
        let (c, s) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        static DATA: [u8; 1000] = [0x61; 1000];
        let data: &'static [u8] = &DATA;
        let seg = |fwd: bool, seq: u32, ack: u32, flags: u8, payload: &'static [u8]| {
            let (src, dst, sport, dport) = if fwd {
                (c, s, 40000, 80)
            } else {
                (s, c, 80, 40000)
            };
            let t = build::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                win: 65535,
                opts: &[],
                payload,
            };
            build::tcp(src, dst, &t)
        };
        let (a, b) = (1000u32, 5000u32);
        let pkts = [
            seg(true, a, 0, SYN, b""),
            seg(false, b, a + 1, SYN | ACK, b""),
            seg(true, a + 1, b + 1, ACK, b""),
            seg(true, a + 1, b + 1, PSH | ACK, data),
            seg(true, a + 1001, b + 1, PSH | ACK, data),
            seg(false, b + 1, a + 2001, PSH | ACK, data),
            seg(true, a + 2001, b + 1001, ACK, b""),
            seg(false, b + 1001, a + 2001, PSH | ACK, data),
            seg(true, a + 2001, b + 2001, FIN | ACK, b""),
            seg(false, b + 2001, a + 2002, FIN | ACK, b""),
            seg(true, a + 2002, b + 2002, ACK, b""),
        ];
        let mut f = Vec::new();
        write::pcap_header(&mut f, 101, false, true, 65535);
        for (i, p) in pkts.iter().enumerate() {
            let at = f.len();
            let ts = 1_000_000_000_000 + i as u64 * 1_000_000;
            match snap {
                Some(n) if p.len() > n => {
                    write::pcap_record(&mut f, ts, &p[..n], false, true);
                    f[at + 12..at + 16].copy_from_slice(&(p.len() as u32).to_le_bytes());
                }
                _ => write::pcap_record(&mut f, ts, p, false, true),
            }
        }
        f
    }

    /// Events and final table of a replay of `bytes` (both loops give the same).
    fn replay_all(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
        let mut out: Vec<(Vec<String>, Vec<String>)> = Vec::new();
        for batched in [false, true] {
            let mut cap = Capture::new(bytes).unwrap();
            let mut t = Tracker::new(Config::kernel_defaults(), 3);
            let mut events = Vec::new();
            let mut each = |t: &mut Tracker, _: &Step<'_>| {
                t.drain_events(&mut |e| events.push(format!("{:?} {:?}", e.kind, e.flow)));
                ControlFlow::Continue(())
            };
            let prog = if batched {
                replay_batched(&mut cap, &mut t, 0, None, &mut each)
            } else {
                replay(&mut cap, &mut t, 0, None, &mut each)
            }
            .unwrap();
            let mut table = Vec::new();
            t.for_each_flow(prog.last_ns, &mut |f| table.push(format!("{f:?}")));
            out.push((events, table));
        }
        assert_eq!(out[0], out[1]);
        out.pop().unwrap()
    }

    #[test]
    fn a_capture_cut_by_the_snap_length_replays_like_the_whole_one() {
        let whole = replay_all(&tcp_transfer(None));
        assert_eq!(whole.0.len(), 6, "{:?}", whole.0);
        assert!(whole.1[0].contains("state: Some(7)"), "{:?}", whole.1); // TIME_WAIT
                                                                         // Headers only (tcpdump -s 54 of raw IP: IPv4 + TCP + 14 bytes of payload).
        assert_eq!(replay_all(&tcp_transfer(Some(54))), whole);
        // A header claiming more than the wire carried is not padded: INVALID.
        let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let mut p = build::udp(a, b, 1, 2, b"x");
        p[2..4].copy_from_slice(&100u16.to_be_bytes());
        let mut f = Vec::new();
        write::pcap_header(&mut f, 101, false, true, 65535);
        write::pcap_record(&mut f, 1_000_000_000, &p, false, true);
        let mut cap = Capture::new(&f[..]).unwrap();
        let mut t = Tracker::new(Config::kernel_defaults(), 3);
        let mut seen = Vec::new();
        replay(&mut cap, &mut t, 0, None, |_, s| {
            seen.push((s.l3.len(), s.verdict.info));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen, [(29, ctkit_engine::CtInfo::Invalid)]);
    }

    #[test]
    fn both_loops_verify_checksums_only_of_packets_the_capture_host_received() {
        // Linux cooked v2 frames: the host's query leaves with an unfilled (offloaded)
        // checksum, the answer comes back right, a stranger's datagram comes in bad.
        let sll2 = |l3: &[u8], outgoing: bool| {
            let mut f = Vec::new();
            write::sll2_frame(&mut f, l3, 2, outgoing);
            f
        };
        let bad = |mut p: Vec<u8>| {
            p[26..28].copy_from_slice(&[0x12, 0x34]);
            p
        };
        let (host, peer, other) = (
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            "192.0.2.3".parse().unwrap(),
        );
        let frames = [
            sll2(&bad(build::udp(host, peer, 5000, 53, b"q")), true),
            sll2(&build::udp(peer, host, 53, 5000, b"a"), false),
            sll2(&bad(build::udp(other, host, 7, 9, b"x")), false),
        ];
        let mut f = Vec::new();
        write::pcap_header(&mut f, 276, false, true, 65535);
        for (i, fr) in frames.iter().enumerate() {
            write::pcap_record(&mut f, 1_000_000_000_000 + i as u64, fr, false, true);
        }
        use ctkit_engine::CtInfo::{Established, Invalid, New};
        for batched in [false, true] {
            let mut cfg = Config::kernel_defaults();
            cfg.set("nf_conntrack_checksum", "1").unwrap();
            let mut t = Tracker::new(cfg, 3);
            let mut cap = Capture::new(&f[..]).unwrap();
            let mut seen = Vec::new();
            let each = |_: &mut Tracker, s: &Step<'_>| {
                seen.push(s.verdict.info);
                ControlFlow::Continue(())
            };
            if batched {
                replay_batched(&mut cap, &mut t, 0, None, each)
            } else {
                replay(&mut cap, &mut t, 0, None, each)
            }
            .unwrap();
            assert_eq!(seen, [New, Established, Invalid], "batched: {batched}");
            assert_eq!(t.stats().invalid, 1, "batched: {batched}");
        }
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
