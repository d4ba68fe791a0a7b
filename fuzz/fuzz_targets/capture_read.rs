//! Fuzz target: arbitrary bytes as a capture file through the pcap/pcapng reader, to the end
//! of the input or the first error; nothing may panic and every packet slice must lie inside
//! the input's record. The stable counterpart is crates/capture/tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(mut cap) = ctkit_capture::Capture::new(data) else {
        return;
    };
    while let Ok(Some(p)) = cap.next_packet() {
        assert!(p.l3.len() <= data.len());
    }
});
