//! CPU cost of the hit path on a cache-resident table: `hitloop FLOWS ROUNDS`.
use ctkit_engine::build::{self, flags::*, Tcp};
use ctkit_engine::{Config, Tracker};
use std::net::{IpAddr, Ipv4Addr};
fn main() {
    let mut a = std::env::args().skip(1);
    let n: u32 = a.next().and_then(|x| x.parse().ok()).unwrap_or(1000);
    let rounds: u32 = a.next().and_then(|x| x.parse().ok()).unwrap_or(1000);
    let mut c = Config::kernel_defaults();
    c.set("nf_conntrack_events", "0").unwrap();
    let mut t = Tracker::new(c, 1);
    let s: IpAddr = "198.51.100.2".parse().unwrap();
    let mut hits = Vec::new();
    for i in 0..n {
        let cl = IpAddr::V4(Ipv4Addr::from(0xc000_0200 | (i & 0xff)));
        let sp = 1024 + (i >> 8) as u16;
        let p = |src, dst, sport, dport, seq, ack, flags| {
            build::tcp(src, dst, &Tcp::bare(sport, dport, seq, ack, flags))
        };
        t.process(1, 0, &p(cl, s, sp, 443, 1000, 0, SYN));
        t.process(1, 0, &p(s, cl, 443, sp, 5000, 1001, SYN | ACK));
        t.process(1, 0, &p(cl, s, sp, 443, 1001, 5001, ACK));
        hits.push(p(cl, s, sp, 443, 1001, 5001, ACK | PSH));
    }
    let st = std::time::Instant::now();
    let c0 = cpu_ns();
    let mut k = 0u64;
    for r in 0..rounds {
        for h in &hits {
            k += t.process(2 + r as u64, 0, h).reply as u64;
        }
    }
    let cpu = (cpu_ns() - c0) as f64 / 1e9;
    let el = st.elapsed().as_secs_f64();
    let pk = n as f64 * rounds as f64;
    println!(
        "wall {:.1} ns/packet ({:.2} M/s); CPU {:.1} ns/packet ({:.2} M/s) {k}",
        el * 1e9 / pk,
        pk / el / 1e6,
        cpu * 1e9 / pk,
        pk / cpu / 1e6
    );
}

/// On-CPU time of this thread in ns (`/proc/thread-self/schedstat`, first field): a cost that
/// does not grow with the machine's load, unlike wall time.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}
