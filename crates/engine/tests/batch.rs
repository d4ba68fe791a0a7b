//! `Tracker::process_batch` against `Tracker::process`: whatever the call sizes, the same
//! verdicts, table, counters and events, including while the index grows, entries die
//! mid-batch (RST) and a batch spans several warm-up rounds; `Tracker::process_batch_at`
//! (each packet at its own time) likewise, with entries expiring and the GC running
//! mid-batch.

use ctkit_engine::build::{self, flags::*, Tcp};
use ctkit_engine::{Config, CtInfo, Event, Tracker, Verdict};
use proptest::prelude::*;
use std::net::IpAddr;

const SEC: u64 = 1_000_000_000;

fn tcp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, seq: u32, ack: u32, flags: u8) -> Vec<u8> {
    build::tcp(src, dst, &Tcp::bare(sport, dport, seq, ack, flags))
}

/// Packets of `n` flows, stage by stage (so one batch holds many flows' packets of one
/// kind): SYNs, SYN/ACKs, ACKs, then for flow i by i % 4: data, RST, FIN, UDP/IPv6/garbage.
fn traffic(n: u16) -> Vec<Vec<u8>> {
    let c = |i: u16| -> IpAddr { format!("192.0.2.{}", 1 + i % 200).parse().unwrap() };
    let s: IpAddr = "198.51.100.2".parse().unwrap();
    let (a6, b6): (IpAddr, IpAddr) = (
        "2001:db8::1".parse().unwrap(),
        "2001:db8::2".parse().unwrap(),
    );
    let sp = |i: u16| 10_000 + i;
    let mut v = Vec::new();
    for i in 0..n {
        v.push(tcp(c(i), s, sp(i), 443, 1000, 0, SYN));
    }
    for i in 0..n {
        v.push(tcp(s, c(i), 443, sp(i), 5000, 1001, SYN | ACK));
    }
    for i in 0..n {
        v.push(tcp(c(i), s, sp(i), 443, 1001, 5001, ACK));
    }
    for i in 0..n {
        v.push(match i % 4 {
            0 => tcp(c(i), s, sp(i), 443, 1001, 5001, ACK | PSH),
            1 => tcp(s, c(i), 443, sp(i), 5001, 1001, RST),
            2 => tcp(c(i), s, sp(i), 443, 1001, 5001, FIN | ACK),
            _ if i % 8 == 3 => build::udp(a6, b6, sp(i), 53, b"q"),
            _ => vec![0x45, 0, 0, 1],
        });
    }
    // Packets of flows reset above come back as new ones.
    for i in (1..n).step_by(4) {
        v.push(tcp(c(i), s, sp(i), 443, 7000, 0, SYN));
    }
    v
}

fn config() -> Config {
    let mut c = Config::kernel_defaults();
    c.set("nf_conntrack_events", "1").unwrap();
    c
}

fn table(t: &Tracker, now: u64) -> Vec<String> {
    let mut v = Vec::new();
    t.for_each_flow(now, &mut |f| v.push(format!("{f:?}")));
    v
}

fn events(t: &mut Tracker) -> Vec<Event> {
    let mut v = Vec::new();
    t.drain_events(&mut |e| v.push(e.clone()));
    v
}

/// Runs `pkts` through `process` one by one and through `process_batch` in calls of the
/// sizes `cuts` (cycled), and checks that both trackers end equal.
fn check(pkts: &[Vec<u8>], cuts: &[usize]) {
    let now = SEC;
    let mut a = Tracker::new(config(), 7);
    let mut b = Tracker::new(config(), 7);
    let va: Vec<Verdict> = pkts.iter().map(|p| a.process(now, 0, p)).collect();
    let refs: Vec<&[u8]> = pkts.iter().map(|p| p.as_slice()).collect();
    let mut vb = vec![
        Verdict {
            info: CtInfo::Invalid,
            reply: false,
            dropped: false,
        };
        refs.len()
    ];
    let mut at = 0;
    for &cut in cuts.iter().cycle() {
        if at == refs.len() {
            break;
        }
        let end = (at + cut.max(1)).min(refs.len());
        b.process_batch(now, 0, &refs[at..end], &mut vb[at..end]);
        at = end;
    }
    assert_eq!(va, vb);
    assert_eq!(a.stats(), b.stats());
    assert_eq!(a.len(), b.len());
    assert_eq!(table(&a, now), table(&b, now));
    assert_eq!(events(&mut a), events(&mut b));
}

/// Runs `pkts` at `times` through `process` and through `process_batch_at` in calls of the
/// sizes `cuts` (cycled), and checks that both trackers end equal.
fn check_at(pkts: &[Vec<u8>], times: &[u64], cuts: &[usize]) {
    let mut a = Tracker::new(config(), 9);
    let mut b = Tracker::new(config(), 9);
    let va: Vec<Verdict> = pkts
        .iter()
        .zip(times)
        .map(|(p, &t)| a.process(t, 0, p))
        .collect();
    let timed: Vec<(u64, &[u8])> = times
        .iter()
        .copied()
        .zip(pkts.iter().map(|p| p.as_slice()))
        .collect();
    let mut vb = vec![
        Verdict {
            info: CtInfo::Invalid,
            reply: false,
            dropped: false,
        };
        timed.len()
    ];
    let mut at = 0;
    for &cut in cuts.iter().cycle() {
        if at == timed.len() {
            break;
        }
        let end = (at + cut.max(1)).min(timed.len());
        b.process_batch_at(0, &timed[at..end], &mut vb[at..end]);
        at = end;
    }
    let last = *times.last().unwrap_or(&0);
    assert_eq!(va, vb);
    assert_eq!(a.stats(), b.stats());
    assert_eq!(a.len(), b.len());
    assert_eq!(table(&a, last), table(&b, last));
    assert_eq!(events(&mut a), events(&mut b));
}

#[test]
fn test_batch_at_with_expiry_and_gc_mid_batch_matches_process() {
    // 500 flows over 400 s of capture time: SYN_SENT (120 s), UDP (30 s) and CLOSE entries
    // expire and are reaped by GC passes that fall inside batches.
    let pkts = traffic(500);
    let times: Vec<u64> = (0..pkts.len() as u64)
        .map(|i| SEC + i * 400 * SEC / pkts.len() as u64)
        .collect();
    let mut seen = Vec::new();
    check_at(&pkts, &times, &[pkts.len()]);
    check_at(&pkts, &times, &[31, 64, 200]);
    // The scenario does exercise expiry: entries were destroyed by time, not only by RST.
    let mut t = Tracker::new(config(), 9);
    for (p, &at) in pkts.iter().zip(&times) {
        t.process(at, 0, p);
    }
    t.drain_events(&mut |e| seen.push(e.kind));
    let destroyed = seen
        .iter()
        .filter(|k| **k == ctkit_engine::EventKind::Destroy)
        .count();
    assert!(destroyed > 500 / 4, "{destroyed} DESTROY events");
}

#[test]
fn test_batches_of_many_rounds_match_process_while_the_index_grows() {
    // 3,000 flows: the index grows from 16 slots to 8,192 inside the first batch.
    let pkts = traffic(3000);
    check(&pkts, &[pkts.len()]);
    check(&pkts, &[1000, 7, 33]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn prop_any_split_into_batches_matches_process(
        n in 1u16..400,
        cuts in proptest::collection::vec(1usize..200, 1..6),
    ) {
        check(&traffic(n), &cuts);
    }

    #[test]
    fn prop_any_split_of_timed_packets_matches_process(
        n in 1u16..300,
        gap_ms in 1u64..2000,
        cuts in proptest::collection::vec(1usize..200, 1..6),
    ) {
        let pkts = traffic(n);
        let times: Vec<u64> = (0..pkts.len() as u64).map(|i| SEC + i * gap_ms * 1_000_000).collect();
        check_at(&pkts, &times, &cuts);
    }
}
