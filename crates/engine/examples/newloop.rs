//! CPU cost of creating entries: `newloop FLOWS` SYNs of distinct flows into an empty table.
use ctkit_engine::build::{self, flags::*, Tcp};
use ctkit_engine::{Config, Tracker};
use std::net::{IpAddr, Ipv4Addr};
fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(200_000);
    let s: IpAddr = "198.51.100.2".parse().unwrap();
    let syns: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let cl = IpAddr::V4(Ipv4Addr::from(0xc000_0200 | (i & 0xff)));
            build::tcp(cl, s, &Tcp::bare(1024 + (i >> 8) as u16, 443, 1, 0, SYN))
        })
        .collect();
    for _ in 0..3 {
        let mut c = Config::kernel_defaults();
        c.set("nf_conntrack_events", "0").unwrap();
        c.set("nf_conntrack_max", "0").unwrap();
        let mut t = Tracker::new(c, 1);
        let st = std::time::Instant::now();
        let c0 = cpu_ns();
        for p in &syns {
            t.process(1, 0, p);
        }
        let cpu = (cpu_ns() - c0) as f64 / 1e9;
        let el = st.elapsed().as_secs_f64();
        println!(
            "wall {:.1} ns/new flow ({:.2} M/s); CPU {:.1} ns/new flow ({:.2} M/s), {} entries",
            el * 1e9 / n as f64,
            n as f64 / el / 1e6,
            cpu * 1e9 / n as f64,
            n as f64 / cpu / 1e6,
            t.len()
        );
    }
}

/// On-CPU time of this thread in ns (`/proc/thread-self/schedstat`, first field): a cost that
/// does not grow with the machine's load, unlike wall time.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}
