//! Arbitrary bytes as captured packets into replay's front end: the IP reassembly
//! (`views/replay/defrag.rs`) and the detection of `tcpdump -i any` second copies
//! (`views/replay/copies.rs`) must never panic, and a reassembled datagram must be a
//! consistent IP packet of at most 65535 bytes of payload. The two modules are compiled in
//! from the binary crate's sources (ctkit has no library target).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// What `defrag.rs` takes from `super::driver`.
mod driver {
    #[allow(dead_code)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Fate {
        Whole,
        Held,
        Dropped,
        Reassembled,
        Copy,
    }
}

#[path = "../../crates/ctkit/src/views/replay/copies.rs"]
mod copies;
#[path = "../../crates/ctkit/src/views/replay/defrag.rs"]
mod defrag;

use driver::Fate;

fuzz_target!(|data: &[u8]| {
    let mut df = defrag::Defrag::new();
    let mut cp = copies::Copies::new();
    let mut out = Vec::new();
    let mut now = 1_000_000_000u64;
    // Packets separated by 0xfe; each one's first byte: time step (low 6 bits, in
    // seconds) and whether it was outgoing (bit 6) or of unknown direction (bit 7).
    for chunk in data.split(|b| *b == 0xfe) {
        let Some((&ctl, pkt)) = chunk.split_first() else {
            continue;
        };
        now += u64::from(ctl & 0x3f) * 1_000_000_000;
        if ctl & 0x80 == 0 && cp.is_copy(now, pkt, ctl & 0x40 != 0) {
            continue;
        }
        if !defrag::is_fragment(pkt) {
            continue;
        }
        if df.push(now, pkt, &mut out) == Fate::Reassembled {
            match out[0] >> 4 {
                4 => {
                    let len = usize::from(u16::from_be_bytes([out[2], out[3]]));
                    assert!(len == out.len() && len <= 65535);
                }
                6 => {
                    let len = usize::from(u16::from_be_bytes([out[4], out[5]]));
                    assert!(len + 40 == out.len() && len <= 65535);
                }
                v => panic!("version {v}"),
            }
        }
    }
});
