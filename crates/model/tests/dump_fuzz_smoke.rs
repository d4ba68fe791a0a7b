//! Stable, always-run counterpart of the cargo-fuzz target `dump_parse`: 50,000 lines made
//! by mutating real dump lines (every fixture, every format) and freshly printed ones go
//! through every dump parser and the streaming reader; nothing may panic, and what parses must
//! print, parse and print again identically (tests/common/fuzz_check.rs).

mod common;

use common::fuzz_check::{check, Outcome};
use ctkit_model::LabelMap;

const ITERATIONS: usize = 50_000;

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
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes and words the parsers care about.
const PIECES: &[&[u8]] = &[
    b" ",
    b"=",
    b"[",
    b"]",
    b"<",
    b">",
    b"/",
    b"\"",
    b"{",
    b"}",
    b",",
    b":",
    b"0",
    b"9",
    b"0x",
    b"-",
    b".",
    b"\n",
    b"\t",
    b"\\",
    b"\\u00e9",
    b"\xff",
    b"\xc3",
    b"src=",
    b"dst=",
    b"sport=",
    b"[UNREPLIED]",
    b"[ASSURED]",
    b"labels=",
    b"zone=",
    b"delta-time=",
    b"[start=Sat Nov 28 16:27:49 2026]",
    b"ipv6",
    b"tcp",
    b"udp",
    b"icmp",
    b"gre",
    b"unknown",
    b"ESTABLISHED",
    b"-p",
    b"-s",
    b"-g",
    b"--state",
    b"</flow>",
    b"<meta direction=\"reply\">",
    b"\"orig\":",
    b"18446744073709551616",
    b"4294967295",
    b"65536",
    b"::",
    b"2001:db8::1",
    b"255.255.255.255",
    b"[USERSPACE] portid=",
];

fn fixture_lines() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut lines = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let text = std::fs::read(&p).unwrap();
        for l in text.split_inclusive(|b| *b == b'\n') {
            lines.push(l.to_vec());
        }
    }
    assert!(lines.len() > 80, "fixtures missing: {}", lines.len());
    lines
}

fn mutate(r: &mut Rng, line: &mut Vec<u8>) {
    for _ in 0..r.below(3) {
        let at = r.below(line.len() + 1);
        match r.below(6) {
            0 if !line.is_empty() => {
                let i = r.below(line.len());
                line[i] = r.next() as u8;
            }
            1 if !line.is_empty() => {
                let end = (at + 1 + r.below(12)).min(line.len());
                let start = at.min(end);
                line.drain(start..end);
            }
            2 => {
                let p = PIECES[r.below(PIECES.len())];
                line.splice(at..at, p.iter().copied());
            }
            3 => line.truncate(at),
            4 if line.len() > 4 => {
                // Repeat a slice (duplicated fields).
                let start = r.below(line.len() - 1);
                let end = (start + 1 + r.below(30)).min(line.len());
                let dup = line[start..end].to_vec();
                line.splice(at..at, dup);
            }
            _ => {
                // Swap a digit run for another number.
                if let Some(i) = line.iter().position(|b| b.is_ascii_digit()) {
                    let n = r.next() >> r.below(64);
                    let end = line[i..]
                        .iter()
                        .position(|b| !b.is_ascii_digit())
                        .map_or(line.len(), |e| i + e);
                    line.splice(i..end, n.to_string().bytes());
                }
            }
        }
    }
}

#[test]
fn mutated_lines_never_panic_and_what_parses_reprints_stably() {
    let lines = fixture_lines();
    let map = LabelMap::parse(b"0 zero\n1 one\n5 five\n").unwrap();
    let mut r = Rng(0x5eed_d0d0_cafe_f00d);
    let mut out = Outcome::default();
    for i in 0..ITERATIONS {
        let mut line = lines[r.below(lines.len())].clone();
        mutate(&mut r, &mut line);
        let map = (i % 2 == 0).then_some(&map);
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut o = Outcome::default();
            check(&line, map, &mut o);
            o
        }));
        match res {
            Ok(o) => {
                out.parsed += o.parsed;
                out.rejected += o.rejected;
            }
            Err(_) => panic!("iteration {i}: input {:?}", String::from_utf8_lossy(&line)),
        }
    }
    // The mutations must leave many lines parseable and break many others.
    assert!(out.parsed > ITERATIONS / 5, "{out:?}");
    assert!(out.rejected > ITERATIONS, "{out:?}");
}

#[test]
fn whole_fixture_files_with_mutations_go_through_the_reader() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut r = Rng(7);
    for e in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        for _ in 0..200 {
            let mut d = data.clone();
            mutate(&mut r, &mut d);
            check(&d, None, &mut Outcome::default());
        }
    }
}

#[test]
fn inputs_the_fuzzer_found_stay_fixed() {
    for input in [
        &b" --sport 1 "[..],
        b"-p icmpv6 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 9\n",
        b"-m 2",
        b"<flow><meta direction=\"original\"><layer3 protonum=\"2\" protoname=\"ipv4</dst></layer3><layer4 protonum=\"6\" protoname=\"tcp\"><sport>443</sport><dport>41001</dport></layer4><counters><packets>0</packets><bytes>0</bytes></counters></meta><meta direction=\"independent\"><state>SYN_SENT</state><timeout>108</timeout><mark>0</mark><use>1</use><id>2521736281</id><unreplied/><deltatime>1</deltatime></meta></flow>\n",
    ] {
        check(input, None, &mut Outcome::default());
    }
}
