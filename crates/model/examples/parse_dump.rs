//! Parse-only throughput of the dump reader: reads a saved dump (any format ctkit reads),
//! counts its flows and prints the time per line. Used by bench/sources.sh.
//!
//!     cargo run --release -p ctkit-model --example parse_dump -- FILE

use ctkit_model::text::{DumpReader, LineSplitter};
use std::ops::ControlFlow;
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_dump FILE");
    let t = Instant::now();
    let file = std::fs::File::open(&path).expect("open");
    let mut r = DumpReader::new(LineSplitter::new(file), &path, None, None, false).expect("detect");
    let mut sport_sum = 0u64;
    let report = r
        .scan(&mut |f| {
            sport_sum = sport_sum.wrapping_add(f.orig.sport as u64);
            ControlFlow::Continue(())
        })
        .expect("scan");
    let s = t.elapsed().as_secs_f64();
    println!(
        "{}: {} flows ({}) in {:.3} s, {:.0} ns per line (checksum {sport_sum})",
        path,
        report.flows,
        r.format().map_or("empty", |f| f.name()),
        s,
        s * 1e9 / report.flows.max(1) as f64
    );
}
