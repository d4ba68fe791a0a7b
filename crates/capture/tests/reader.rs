//! The reader against captures written by `ctkit_capture::write`: every format variant,
//! every link type, truncation and corruption at each byte, and property tests.

use ctkit_capture::{write, Capture, CaptureError, Kind};
use proptest::prelude::*;

const IP4: &[u8] = &[
    0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
];

fn eth(l3: &[u8], vlans: usize) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    for _ in 0..vlans {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    }
    f.extend_from_slice(if l3[0] >> 4 == 6 {
        &[0x86, 0xdd]
    } else {
        &[0x08, 0x00]
    });
    f.extend_from_slice(l3);
    f
}

fn read_all(bytes: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, CaptureError> {
    let mut c = Capture::new(bytes)?;
    let mut v = Vec::new();
    while let Some(p) = c.next_packet()? {
        v.push((p.ts_ns, p.l3.to_vec()));
    }
    Ok(v)
}

#[test]
fn pcap_in_both_byte_orders_and_units_gives_ns_timestamps() {
    for le in [true, false] {
        for nanos in [true, false] {
            let mut b = Vec::new();
            write::pcap_header(&mut b, 1, nanos, le, 65535);
            write::pcap_record(&mut b, 1_700_000_000_123_456_789, &eth(IP4, 0), nanos, le);
            write::pcap_record(&mut b, 1_700_000_001_000_001_000, &eth(IP4, 2), nanos, le);
            let got = read_all(&b).unwrap();
            let first = if nanos {
                1_700_000_000_123_456_789
            } else {
                1_700_000_000_123_456_000
            };
            assert_eq!(
                got,
                vec![
                    (first, IP4.to_vec()),
                    (1_700_000_001_000_001_000, IP4.to_vec())
                ]
            );
            assert_eq!(Capture::new(&b[..]).unwrap().kind(), Kind::Pcap);
        }
    }
}

#[test]
fn pcap_skips_non_ip_frames_and_counts_them() {
    let mut b = Vec::new();
    write::pcap_header(&mut b, 1, false, true, 65535);
    let mut arp = eth(IP4, 0);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    write::pcap_record(&mut b, 1_000, &arp, false, true);
    write::pcap_record(&mut b, 2_000, &eth(IP4, 1), false, true);
    let mut c = Capture::new(&b[..]).unwrap();
    assert_eq!(c.next_packet().unwrap().unwrap().l3, IP4);
    assert!(c.next_packet().unwrap().is_none());
    let s = c.stats();
    assert_eq!((s.records, s.packets, s.skipped), (2, 1, 1));
}

#[test]
fn pcap_link_types_sll_sll2_raw_null() {
    let mut sll = vec![0u8; 14];
    sll.extend_from_slice(&[0x08, 0x00]);
    sll.extend_from_slice(IP4);
    let mut sll2 = vec![0x08, 0x00];
    sll2.extend_from_slice(&[0u8; 18]);
    sll2.extend_from_slice(IP4);
    let mut null = vec![2, 0, 0, 0];
    null.extend_from_slice(IP4);
    for (lt, frame) in [
        (113, sll),
        (276, sll2),
        (101, IP4.to_vec()),
        (228, IP4.to_vec()),
        (0, null),
    ] {
        let mut b = Vec::new();
        write::pcap_header(&mut b, lt, false, true, 65535);
        write::pcap_record(&mut b, 5_000, &frame, false, true);
        assert_eq!(
            read_all(&b).unwrap(),
            vec![(5_000, IP4.to_vec())],
            "linktype {lt}"
        );
    }
}

#[test]
fn unsupported_link_type_and_bad_magic_are_typed_errors() {
    let mut b = Vec::new();
    write::pcap_header(&mut b, 105, false, true, 65535);
    assert!(matches!(
        Capture::new(&b[..]),
        Err(CaptureError::UnsupportedLinkType {
            record: 0,
            linktype: 105
        })
    ));
    match Capture::new(&b"hello world"[..]) {
        Err(CaptureError::NotACapture { found }) => assert_eq!(found, b"hell"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    match Capture::new(&[][..]) {
        Err(e @ CaptureError::NotACapture { .. }) => assert_eq!(
            e.to_string(),
            "not a pcap or pcapng capture (the input is empty)"
        ),
        other => panic!("{:?}", other.map(|_| ())),
    }
    match Capture::new(&b"hello world"[..]) {
        Err(e) => assert_eq!(
            e.to_string(),
            "not a pcap or pcapng capture (it starts with [68, 65, 6c, 6c])"
        ),
        Ok(_) => panic!("text read as a capture"),
    }
    match Capture::new(&[0x1f, 0x8b, 8, 0, 0, 0][..]) {
        Err(e) => assert_eq!(
            e.to_string(),
            "not a pcap or pcapng capture (gzip-compressed: decompress it first, e.g. zcat \
             FILE | ctkit replay -)"
        ),
        Ok(_) => panic!("gzip read as a capture"),
    }
}

#[test]
fn pcapng_both_endians_tsresol_epb_spb_and_unknown_blocks() {
    for le in [true, false] {
        let mut b = Vec::new();
        write::pcapng_shb(&mut b, le);
        write::pcapng_idb(&mut b, 1, None, le); // µs
        write::pcapng_idb(&mut b, 101, Some(9), le); // ns
        write::pcapng_idb(&mut b, 1, Some(0x80 | 10), le); // 2^-10 s
        write::block(&mut b, 0x0bad, &[1, 2, 3], le); // unknown: skipped
        write::pcapng_epb(&mut b, 0, 1_700_000_000_000_001, &eth(IP4, 0), le);
        write::pcapng_epb(&mut b, 1, 1_700_000_000_000_000_002, IP4, le);
        write::pcapng_epb(&mut b, 2, 3 * 1024 + 512, &eth(IP4, 1), le);
        write::pcapng_spb(&mut b, &eth(IP4, 0), le);
        let got = read_all(&b).unwrap();
        let want = vec![
            (1_700_000_000_000_001_000, IP4.to_vec()),
            (1_700_000_000_000_000_002, IP4.to_vec()),
            (3_500_000_000, IP4.to_vec()),
            (3_500_000_000, IP4.to_vec()),
        ];
        assert_eq!(got, want, "le={le}");
    }
}

#[test]
fn pcapng_new_section_changes_byte_order_and_resets_interfaces() {
    let mut b = Vec::new();
    write::pcapng_shb(&mut b, true);
    write::pcapng_idb(&mut b, 101, Some(9), true);
    write::pcapng_epb(&mut b, 0, 10, IP4, true);
    write::pcapng_shb(&mut b, false);
    write::pcapng_idb(&mut b, 228, Some(9), false);
    write::pcapng_epb(&mut b, 0, 20, IP4, false);
    write::pcapng_epb(&mut b, 1, 30, IP4, false);
    let mut c = Capture::new(&b[..]).unwrap();
    assert_eq!(c.next_packet().unwrap().unwrap().ts_ns, 10);
    assert_eq!(c.next_packet().unwrap().unwrap().ts_ns, 20);
    match c.next_packet() {
        Err(CaptureError::Corrupt {
            record: 7, what, ..
        }) => {
            assert_eq!(what, "packet on an undescribed interface")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_truncation_is_an_error_naming_the_record_or_a_clean_end() {
    let mut b = Vec::new();
    write::pcap_header(&mut b, 1, false, true, 65535);
    for i in 0..3 {
        write::pcap_record(&mut b, i * 1000, &eth(IP4, 0), false, true);
    }
    let rec = 16 + 14 + IP4.len();
    for cut in 0..b.len() {
        let r = read_all(&b[..cut]);
        if cut >= 24 && (cut - 24) % rec == 0 {
            assert_eq!(r.unwrap().len(), (cut - 24) / rec, "cut {cut}");
        } else if cut < 4 {
            assert!(
                matches!(r, Err(CaptureError::NotACapture { .. })),
                "cut {cut}"
            );
        } else if cut < 24 {
            assert!(
                matches!(r, Err(CaptureError::Truncated { record: 0, .. })),
                "cut {cut}"
            );
        } else {
            let want = ((cut - 24) / rec + 1) as u64;
            match r {
                Err(CaptureError::Truncated { record, offset }) => {
                    assert_eq!(record, want, "cut {cut}");
                    assert_eq!(offset, (24 + (want as usize - 1) * rec) as u64);
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn pcapng_corrupt_lengths_are_errors() {
    let mut b = Vec::new();
    write::pcapng_shb(&mut b, true);
    write::pcapng_idb(&mut b, 1, None, true);
    let at = b.len();
    write::pcapng_epb(&mut b, 0, 1, &eth(IP4, 0), true);
    let mut bad = b.clone();
    let n = bad.len();
    bad[n - 4] ^= 4; // trailing length
    assert!(matches!(
        read_all(&bad),
        Err(CaptureError::Corrupt { record: 3, .. })
    ));
    let mut bad = b.clone();
    bad[at + 4] = 13; // not a multiple of 4
    assert!(matches!(
        read_all(&bad),
        Err(CaptureError::Corrupt { record: 3, .. })
    ));
    let mut bad = b.clone();
    bad[at + 8 + 12] = 0xff; // caplen beyond the block
    assert!(matches!(
        read_all(&bad),
        Err(CaptureError::Corrupt { record: 3, .. })
    ));
    let mut bad = b;
    bad[8] = 0; // byte-order magic
    assert!(matches!(
        read_all(&bad),
        Err(CaptureError::Corrupt { record: 1, .. })
    ));
}

proptest! {
    #[test]
    fn pcap_round_trips_any_packets(
        pkts in proptest::collection::vec((any::<u32>(), 0u32..1_000_000, proptest::collection::vec(any::<u8>(), 1..300)), 0..20),
        le in any::<bool>(), vlans in 0usize..3,
    ) {
        let mut b = Vec::new();
        write::pcap_header(&mut b, 1, false, le, 65535);
        let mut want = Vec::new();
        for (s, us, mut l3) in pkts {
            l3[0] = 0x45;
            let ts = u64::from(s) * 1_000_000_000 + u64::from(us) * 1000;
            write::pcap_record(&mut b, ts, &eth(&l3, vlans), false, le);
            want.push((ts, l3));
        }
        prop_assert_eq!(read_all(&b).unwrap(), want);
    }

    #[test]
    fn pcapng_round_trips_any_packets(
        pkts in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 1..300)), 0..20),
        le in any::<bool>(),
    ) {
        let mut b = Vec::new();
        write::pcapng_shb(&mut b, le);
        write::pcapng_idb(&mut b, 229, Some(9), le);
        let mut want = Vec::new();
        for (ts, l3) in pkts {
            write::pcapng_epb(&mut b, 0, ts, &l3, le);
            want.push((ts, l3));
        }
        prop_assert_eq!(read_all(&b).unwrap(), want);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..2000), ng in any::<bool>()) {
        let mut b = Vec::new();
        if ng {
            write::pcapng_shb(&mut b, true);
        } else {
            write::pcap_header(&mut b, 1, false, true, 65535);
        }
        b.extend_from_slice(&tail);
        let _ = read_all(&b);
    }
}

#[test]
fn a_record_cut_by_the_snap_length_says_how_much_is_missing() {
    let mut b = Vec::new();
    write::pcap_header(&mut b, 1, false, true, 30);
    let frame = eth(IP4, 0);
    let at = b.len();
    write::pcap_record(&mut b, 1_000, &frame[..30], false, true);
    // The wire length stays the frame's (14 + 20 bytes): 4 bytes were cut off.
    b[at + 12..at + 16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
    write::pcap_record(&mut b, 2_000, &frame, false, true);
    let mut c = Capture::new(&b[..]).unwrap();
    let p = c.next_packet().unwrap().unwrap();
    assert_eq!((p.l3.len(), p.orig_len, p.cut_len), (16, 34, 4));
    let p = c.next_packet().unwrap().unwrap();
    assert_eq!((p.l3.len(), p.orig_len, p.cut_len), (20, 34, 0));
}

#[test]
fn pcapng_epb_flags_say_whether_a_frame_was_sent_or_received() {
    for le in [true, false] {
        let put32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if le { x.to_le_bytes() } else { x.to_be_bytes() })
        };
        let put16 = |v: &mut Vec<u8>, x: u16| {
            v.extend_from_slice(&if le { x.to_le_bytes() } else { x.to_be_bytes() })
        };
        let mut b = Vec::new();
        write::pcapng_shb(&mut b, le);
        write::pcapng_idb(&mut b, 1, None, le);
        let frame = eth(IP4, 0);
        // No option, inbound, outbound, "not available", a comment before outbound.
        for opts in [
            vec![],
            vec![(2u16, 1u32)],
            vec![(2, 2)],
            vec![(2, 0)],
            vec![(1, 0x6869), (2, 2)],
        ] {
            let mut body = Vec::new();
            for x in [0, 0, 1000, frame.len() as u32, frame.len() as u32] {
                put32(&mut body, x);
            }
            body.extend_from_slice(&frame);
            while body.len() % 4 != 0 {
                body.push(0);
            }
            for (code, value) in &opts {
                put16(&mut body, *code);
                put16(&mut body, 4);
                put32(&mut body, *value);
            }
            if !opts.is_empty() {
                body.extend_from_slice(&[0; 4]);
            }
            write::block(&mut b, 6, &body, le);
        }
        let mut c = Capture::new(&b[..]).unwrap();
        let mut dirs = Vec::new();
        while let Some(p) = c.next_packet().unwrap() {
            dirs.push(p.outgoing);
        }
        assert_eq!(
            dirs,
            [None, Some(false), Some(true), None, Some(true)],
            "le {le}"
        );
    }
}

#[test]
fn sll2_frames_written_for_tests_read_back_with_their_direction_and_packet() {
    let v4 = [
        0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    let mut b = Vec::new();
    write::pcap_header(&mut b, 276, false, true, 65535);
    for (l3, out) in [(&v4[..], true), (&v6[..], false)] {
        let mut f = Vec::new();
        write::sll2_frame(&mut f, l3, 7, out);
        assert_eq!(f.len(), 20 + l3.len());
        write::pcap_record(&mut b, 1_000_000_000, &f, false, true);
    }
    let mut c = Capture::new(&b[..]).unwrap();
    let mut got = Vec::new();
    while let Some(p) = c.next_packet().unwrap() {
        got.push((p.l3.to_vec(), p.outgoing));
    }
    assert_eq!(got, [(v4.to_vec(), Some(true)), (v6, Some(false))]);
}

#[test]
fn pcapng_packets_on_an_unsupported_link_are_skipped_and_counted_unless_nothing_else_is() {
    // Interface 0: 802.11 (105, unsupported); interface 1: raw IP.
    let mut b = Vec::new();
    write::pcapng_shb(&mut b, true);
    write::pcapng_idb(&mut b, 105, None, true);
    write::pcapng_idb(&mut b, 101, None, true);
    write::pcapng_epb(&mut b, 0, 1, b"radio", true);
    write::pcapng_epb(&mut b, 1, 2, IP4, true);
    write::pcapng_epb(&mut b, 0, 3, b"radio", true);
    let mut c = Capture::new(&b[..]).unwrap();
    let mut got = Vec::new();
    while let Some(p) = c.next_packet().unwrap() {
        got.push(p.l3.to_vec());
    }
    assert_eq!(got, [IP4.to_vec()]);
    let s = c.stats();
    assert_eq!(
        (s.packets, s.unsupported, s.unsupported_linktype),
        (1, 2, Some(105))
    );
    // Only the unsupported interface: the first such packet (block 3) is the error.
    let mut b = Vec::new();
    write::pcapng_shb(&mut b, true);
    write::pcapng_idb(&mut b, 105, None, true);
    write::pcapng_epb(&mut b, 0, 1, b"radio", true);
    write::pcapng_epb(&mut b, 0, 2, b"radio", true);
    let e = read_all(&b).unwrap_err();
    assert!(
        matches!(
            e,
            CaptureError::UnsupportedLinkType {
                record: 3,
                linktype: 105
            }
        ),
        "{e:?}"
    );
}
