//! Reads a capture to the end and prints packets, skipped frames and the rate: the reader's
//! own throughput (`capcount FILE`).

fn main() {
    let path = std::env::args().nth(1).expect("usage: capcount FILE");
    let f = std::fs::File::open(&path).expect("open");
    let start = std::time::Instant::now();
    let mut cap = ctkit_capture::Capture::new(f).expect("capture");
    let mut bytes = 0u64;
    while let Some(p) = cap.next_packet().expect("read") {
        bytes += p.l3.len() as u64;
    }
    let s = cap.stats();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} packets ({} skipped, {bytes} IP bytes) in {secs:.3} s: {:.1} M packets/s",
        s.packets,
        s.skipped,
        s.packets as f64 / secs / 1e6
    );
}
