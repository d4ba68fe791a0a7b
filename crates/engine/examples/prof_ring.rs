//! temp
use ctkit_engine::build::{self, flags::*, Tcp};
use ctkit_engine::{Config, CtInfo, Tracker, Verdict};
use std::net::{IpAddr, Ipv4Addr};
fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: u32 = std::env::args()
        .nth(2)
        .and_then(|x| x.parse().ok())
        .unwrap_or(10);
    let mut c = Config::kernel_defaults();
    c.set("nf_conntrack_events", "0").unwrap();
    c.set("nf_conntrack_max", &(2 * n).to_string()).unwrap();
    c.set("nf_conntrack_buckets", &n.to_string()).unwrap();
    let mut t = Tracker::new(c, 1);
    let s: IpAddr = "198.51.100.2".parse().unwrap();
    let mut hits = Vec::new();
    for i in 0..n {
        let cl = IpAddr::V4(Ipv4Addr::from(0xc000_0200 | (i & 0xff)));
        let sp = 1024 + (i >> 8) as u16;
        let p = |src, dst, sport, dport, seq, ack, flags| {
            build::tcp(
                src,
                dst,
                &Tcp {
                    sport,
                    dport,
                    seq,
                    ack,
                    flags,
                    win: 64240,
                    opts: &[],
                    payload: b"",
                },
            )
        };
        t.process(1, 0, &p(cl, s, sp, 443, 1000, 0, SYN));
        t.process(1, 0, &p(s, cl, 443, sp, 5000, 1001, SYN | ACK));
        t.process(1, 0, &p(cl, s, sp, 443, 1001, 5001, ACK));
        hits.push(p(cl, s, sp, 443, 1001, 5001, ACK | PSH));
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..hits.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        hits.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let plen = hits[0].len();
    let ring: Vec<u8> = hits.iter().flatten().copied().collect();
    drop(hits);
    let mut out = [Verdict {
        info: CtInfo::Invalid,
        reply: false,
        dropped: false,
    }; 32];
    let mut batch: Vec<&[u8]> = Vec::with_capacity(32);
    let st = std::time::Instant::now();
    let mut est = 0usize;
    for r in 0..rounds {
        for c in ring.chunks(32 * plen) {
            batch.clear();
            batch.extend(c.chunks(plen));
            t.process_batch(2_000_000_000 + r as u64, 0, &batch, &mut out[..batch.len()]);
            est += out[..batch.len()]
                .iter()
                .filter(|v| v.info == CtInfo::Established)
                .count();
        }
    }
    let el = st.elapsed().as_secs_f64();
    println!(
        "{:.2} M/s wall {est}",
        (n as f64 * rounds as f64) / el / 1e6
    );
}
