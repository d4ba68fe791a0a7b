//! Stable, always-run counterpart of the cargo-fuzz target `capture_read`: 20,000 captures
//! made by mutating valid ones (every format, byte order and link type) go through the
//! reader; it must never panic, and every input must end in a clean end or a typed error
//! within a bounded number of packets.

use ctkit_capture::{write, Capture};

const ITERATIONS: usize = 20_000;

/// xorshift64*: deterministic, so a failure reproduces from the printed iteration.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let ip4 = [
        0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    let mut eth = vec![0u8; 12];
    eth.extend_from_slice(&[0x81, 0, 0, 1, 0x08, 0]);
    eth.extend_from_slice(&ip4);
    let mut out = Vec::new();
    for le in [true, false] {
        for (lt, frame) in [
            (1u16, &eth[..]),
            (101, &ip4[..]),
            (0, &[2, 0, 0, 0, 0x45][..]),
        ] {
            let mut b = Vec::new();
            write::pcap_header(&mut b, u32::from(lt), !le, le, 65535);
            write::pcap_record(&mut b, 1_000_000_123, frame, !le, le);
            write::pcap_record(&mut b, 2_000_000_123, frame, !le, le);
            out.push(b);
            let mut b = Vec::new();
            write::pcapng_shb(&mut b, le);
            write::pcapng_idb(&mut b, lt, Some(9), le);
            write::pcapng_epb(&mut b, 0, 77, frame, le);
            write::pcapng_spb(&mut b, frame, le);
            write::block(&mut b, 2, &[0; 24], le);
            out.push(b);
        }
    }
    out
}

#[test]
fn mutated_captures_never_panic() {
    let seeds = seeds();
    let mut r = Rng(0x5eed_cafe);
    let mut errors = 0;
    for i in 0..ITERATIONS {
        let mut b = seeds[r.below(seeds.len())].clone();
        for _ in 0..1 + r.below(4) {
            match r.below(4) {
                0 if !b.is_empty() => {
                    let at = r.below(b.len());
                    b[at] = r.next() as u8;
                }
                1 if !b.is_empty() => b.truncate(r.below(b.len())),
                2 => {
                    let at = r.below(b.len() + 1);
                    b.insert(at, r.next() as u8);
                }
                _ if b.len() > 4 => {
                    let at = r.below(b.len() - 4);
                    b[at..at + 4].copy_from_slice(&(r.next() as u32).to_le_bytes());
                }
                _ => {}
            }
        }
        let res = std::panic::catch_unwind(|| {
            let Ok(mut c) = Capture::new(&b[..]) else {
                return true;
            };
            for _ in 0..100 {
                match c.next_packet() {
                    Ok(Some(_)) => {}
                    Ok(None) => return false,
                    Err(_) => return true,
                }
            }
            panic!("more than 100 packets from a tiny input");
        });
        match res {
            Ok(e) => errors += usize::from(e),
            Err(_) => panic!("iteration {i} panicked on {b:02x?}"),
        }
    }
    // The mutations must exercise the error paths, not only the happy one.
    assert!(errors > ITERATIONS / 10, "only {errors} errors");
}
