//! Writes a synthetic Ethernet pcap of complete TCP connections for benchmarks:
//! `synth_pcap OUT PACKETS [CONCURRENT] [GAP_US]`. Each connection is 10 packets (handshake, two
//! request/response exchanges with 100-byte payloads, FIN/ACK both ways, last ACK), with
//! correct checksums, documentation addresses (192.0.2.0/24 → 198.51.100.0/24) and GAP_US
//! microseconds between packets (default 100: 1000 new connections a second, about 120,000
//! entries in TIME_WAIT at steady state, below the default nf_conntrack_max); CONCURRENT
//! connections (default 1000) are interleaved.

use ctkit_capture::write;
use std::io::Write;

fn csum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One Ethernet/IPv4/TCP frame.
#[allow(clippy::too_many_arguments)]
fn frame(
    out: &mut Vec<u8>,
    src: [u8; 4],
    dst: [u8; 4],
    sp: u16,
    dp: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: usize,
) {
    out.clear();
    out.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let total = (40 + payload) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let c = csum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    out.extend_from_slice(&ip);
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&sp.to_be_bytes());
    tcp[2..4].copy_from_slice(&dp.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(&tcp);
    out.resize(out.len() + payload, b'x');
    let mut pseudo = 0u32;
    for w in [&src[..], &dst[..]] {
        pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]))
            + u32::from(u16::from_be_bytes([w[2], w[3]]));
    }
    pseudo += 6 + (20 + payload) as u32;
    let c = csum(&out[start..], pseudo);
    out[start + 16..start + 18].copy_from_slice(&c.to_be_bytes());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: synth_pcap OUT PACKETS [CONCURRENT] [GAP_US]");
        std::process::exit(2);
    }
    let packets: u64 = args[2].parse().expect("PACKETS");
    let concurrent: u64 = args.get(3).map_or(1000, |c| c.parse().expect("CONCURRENT"));
    let gap_ns: u64 = args.get(4).map_or(100, |g| g.parse().expect("GAP_US")) * 1000;
    let f = std::fs::File::create(&args[1]).expect("create OUT");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut buf = Vec::new();
    write::pcap_header(&mut buf, 1, false, true, 65535);
    let mut ts: u64 = 1_700_000_000_000_000_000;
    let mut fr = Vec::with_capacity(256);
    let mut written = 0u64;
    let mut conn = 0u64;
    'outer: loop {
        let batch = conn;
        conn += concurrent;
        for step in 0..10u8 {
            for c in batch..batch + concurrent {
                if written == packets {
                    break 'outer;
                }
                let cl = [192, 0, 2, (c % 250) as u8 + 1];
                let sv = [198, 51, 100, ((c / 250) % 250) as u8 + 1];
                let sp = 1024 + (c % 60000) as u16;
                let (iss, irs) = (
                    (c as u32).wrapping_mul(7919),
                    (c as u32).wrapping_mul(104_729),
                );
                // (from client?, seq, ack, flags, payload)
                let (fwd, seq, ack, flags, len) = match step {
                    0 => (true, iss, 0, 0x02, 0),
                    1 => (false, irs, iss.wrapping_add(1), 0x12, 0),
                    2 => (true, iss.wrapping_add(1), irs.wrapping_add(1), 0x10, 0),
                    3 => (true, iss.wrapping_add(1), irs.wrapping_add(1), 0x18, 100),
                    4 => (false, irs.wrapping_add(1), iss.wrapping_add(101), 0x18, 100),
                    5 => (
                        true,
                        iss.wrapping_add(101),
                        irs.wrapping_add(101),
                        0x18,
                        100,
                    ),
                    6 => (
                        false,
                        irs.wrapping_add(101),
                        iss.wrapping_add(201),
                        0x18,
                        100,
                    ),
                    7 => (true, iss.wrapping_add(201), irs.wrapping_add(201), 0x11, 0),
                    8 => (false, irs.wrapping_add(201), iss.wrapping_add(202), 0x11, 0),
                    _ => (true, iss.wrapping_add(202), irs.wrapping_add(202), 0x10, 0),
                };
                if fwd {
                    frame(&mut fr, cl, sv, sp, 80, seq, ack, flags, len);
                } else {
                    frame(&mut fr, sv, cl, 80, sp, seq, ack, flags, len);
                }
                write::pcap_record(&mut buf, ts, &fr, false, true);
                ts += gap_ns;
                written += 1;
                if buf.len() > 1 << 20 {
                    w.write_all(&buf).expect("write");
                    buf.clear();
                }
            }
        }
    }
    w.write_all(&buf).expect("write");
    w.flush().expect("flush");
    eprintln!(
        "{written} packets, {} connections",
        conn.min(packets.div_ceil(10))
    );
}
