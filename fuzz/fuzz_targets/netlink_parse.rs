//! Fuzz target: arbitrary bytes as one received netlink datagram, through framing, flow,
//! expectation and stats parsing, with a parse → emit → parse round trip for everything that
//! parses. The checks live in crates/ctnetlink/tests/common/fuzz_check.rs, shared with the
//! stable smoke test tests/fuzz_smoke.rs.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/ctnetlink/tests/common/fuzz_check.rs"]
mod fuzz_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_check::check_datagram(data);
    // The same bytes as a bare attribute stream (the payload after nfgenmsg).
    fuzz_check::check_attrs(data);
});
