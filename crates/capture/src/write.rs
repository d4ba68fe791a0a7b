//! Writing captures, for tests, fuzzing seeds and benchmarks: the same formats the reader
//! takes, in either byte order. Each function appends to a caller-owned buffer.

/// Appends a pcap file header (`nanos`: the nanosecond magic; `le`: little-endian).
pub fn pcap_header(out: &mut Vec<u8>, linktype: u32, nanos: bool, le: bool, snaplen: u32) {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    put32(out, magic, le);
    put16(out, 2, le);
    put16(out, 4, le);
    put32(out, 0, le);
    put32(out, 0, le);
    put32(out, snaplen, le);
    put32(out, linktype, le);
}

/// Appends a pcap record: time `ts_ns` (cut to microseconds unless `nanos`), `frame`.
pub fn pcap_record(out: &mut Vec<u8>, ts_ns: u64, frame: &[u8], nanos: bool, le: bool) {
    put32(out, (ts_ns / 1_000_000_000) as u32, le);
    let frac = ts_ns % 1_000_000_000;
    put32(out, if nanos { frac } else { frac / 1000 } as u32, le);
    put32(out, frame.len() as u32, le);
    put32(out, frame.len() as u32, le);
    out.extend_from_slice(frame);
}

/// Appends a pcapng Section Header Block (version 1.0, unknown section length).
pub fn pcapng_shb(out: &mut Vec<u8>, le: bool) {
    let mut body = Vec::new();
    put32(&mut body, 0x1a2b_3c4d, le);
    put16(&mut body, 1, le);
    put16(&mut body, 0, le);
    body.extend_from_slice(&[0xff; 8]);
    block(out, 0x0a0d_0d0a, &body, le);
}

/// Appends an Interface Description Block; `tsresol` is the raw `if_tsresol` byte (`None`:
/// the default microseconds).
pub fn pcapng_idb(out: &mut Vec<u8>, linktype: u16, tsresol: Option<u8>, le: bool) {
    let mut body = Vec::new();
    put16(&mut body, linktype, le);
    put16(&mut body, 0, le);
    put32(&mut body, 0, le);
    if let Some(r) = tsresol {
        put16(&mut body, 9, le);
        put16(&mut body, 1, le);
        body.extend_from_slice(&[r, 0, 0, 0]);
        put16(&mut body, 0, le);
        put16(&mut body, 0, le);
    }
    block(out, 1, &body, le);
}

/// Appends an Enhanced Packet Block with the raw timestamp `ts` (in the interface's units).
pub fn pcapng_epb(out: &mut Vec<u8>, iface: u32, ts: u64, frame: &[u8], le: bool) {
    let mut body = Vec::with_capacity(20 + frame.len() + 3);
    put32(&mut body, iface, le);
    put32(&mut body, (ts >> 32) as u32, le);
    put32(&mut body, ts as u32, le);
    put32(&mut body, frame.len() as u32, le);
    put32(&mut body, frame.len() as u32, le);
    body.extend_from_slice(frame);
    block(out, 6, &body, le);
}

/// Appends a Simple Packet Block (no timestamp, interface 0).
pub fn pcapng_spb(out: &mut Vec<u8>, frame: &[u8], le: bool) {
    let mut body = Vec::new();
    put32(&mut body, frame.len() as u32, le);
    body.extend_from_slice(frame);
    block(out, 3, &body, le);
}

/// Appends a block of any type (`body` is padded to 4 bytes).
pub fn block(out: &mut Vec<u8>, btype: u32, body: &[u8], le: bool) {
    let padded = (body.len() + 3) & !3;
    let total = (12 + padded) as u32;
    put32(out, btype, le);
    put32(out, total, le);
    out.extend_from_slice(body);
    out.resize(out.len() + padded - body.len(), 0);
    put32(out, total, le);
}

fn put16(out: &mut Vec<u8>, v: u16, le: bool) {
    out.extend_from_slice(&if le { v.to_le_bytes() } else { v.to_be_bytes() });
}

fn put32(out: &mut Vec<u8>, v: u32, le: bool) {
    out.extend_from_slice(&if le { v.to_le_bytes() } else { v.to_be_bytes() });
}

/// Appends a Linux cooked v2 frame (`LINKTYPE_LINUX_SLL2`, what `tcpdump -i any` writes)
/// carrying IP packet `l3`, captured on interface `ifindex`: sent by the host
/// (`PACKET_OUTGOING`) or received for it (`PACKET_HOST`). The protocol follows the IP
/// version of `l3`; the link-layer address is a fixed 6-byte one.
pub fn sll2_frame(out: &mut Vec<u8>, l3: &[u8], ifindex: u32, outgoing: bool) {
    let proto: u16 = if l3.first().is_some_and(|b| b >> 4 == 6) {
        0x86dd
    } else {
        0x0800
    };
    put16(out, proto, false);
    put16(out, 0, false); // reserved
    put32(out, ifindex, false);
    put16(out, 1, false); // ARPHRD_ETHER
    out.push(if outgoing { 4 } else { 0 });
    out.push(6); // address length
    out.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
    out.extend_from_slice(l3);
}
