//! Fuzz target: arbitrary bytes as one dump line through every `--from` parser (default and
//! extended text, /proc, -o save, -o xml, -o json) and as a whole file through format
//! detection and the streaming reader; whatever parses must print, parse and print again
//! identically. The checks live in crates/model/tests/common/fuzz_check.rs, shared with the
//! stable smoke test crates/model/tests/dump_fuzz_smoke.rs.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/model/tests/common/fuzz_check.rs"]
mod fuzz_check;

use std::sync::OnceLock;

static MAP: OnceLock<ctkit_model::LabelMap> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let map = MAP.get_or_init(|| ctkit_model::LabelMap::parse(b"0 zero\n1 one\n5 five\n").unwrap());
    let mut out = fuzz_check::Outcome::default();
    fuzz_check::check(data, None, &mut out);
    fuzz_check::check(data, Some(map), &mut out);
});
