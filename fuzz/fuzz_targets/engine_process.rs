//! Arbitrary bytes as packets into the userspace tracker: `process` must never panic, with
//! checksums verified or not, over IPv4 and IPv6, with the table kept across inputs of one
//! run (time advancing so that GC and expiry run too).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut cfg = ctkit_engine::Config::kernel_defaults();
    cfg.set("nf_conntrack_max", "16").unwrap();
    cfg.set("nf_conntrack_buckets", "4").unwrap();
    if data.first().is_some_and(|b| b & 1 == 1) {
        cfg.set("nf_conntrack_checksum", "1").unwrap();
    }
    let mut t = ctkit_engine::Tracker::new(cfg, 1);
    // Several packets per input, separated by 0xfe bytes.
    let mut now = 1_000_000_000u64;
    for pkt in data.split(|b| *b == 0xfe) {
        let _ = t.process(now, 0, pkt);
        now += 7_000_000_000;
    }
    t.advance(now + 1_000_000_000_000);
    t.for_each_flow(now, &mut |_| {});
    t.drain_events(&mut |_| {});
});
