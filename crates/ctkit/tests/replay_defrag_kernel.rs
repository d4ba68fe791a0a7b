//! `ctkit replay`'s IP reassembly against the kernel's (`nf_defrag_ipv4/6`) on the edge cases
//! where the two families differ: hand-made fragments are sent through a raw socket into a
//! namespace that tracks (nft `ct state`), and written to a capture that `ctkit replay`
//! tracks; the datagrams that became entries must be the same. Each case has its own source
//! port:
//!
//! - 4001: IPv4 fragments in order (one run), then one wholly inside that run: a duplicate,
//!   the datagram completes;
//! - 4002: the same with the first two out of order (two runs): an overlap, the queue dies;
//! - 4003: IPv4, a last fragment ending before data already held: the queue dies;
//! - 5001: IPv6, the same bad last fragment: only the fragment is dropped, the datagram
//!   completes.

mod support;

use ctkit_capture::write;
use std::path::PathBuf;
use std::process::Command;
use support::lab::nft_load;
use support::{veth_pair, Netns};

/// Sends the packets given as hex lines on stdin through a raw socket (the headers as given).
const SEND: &str = r#"
import socket, sys
for line in sys.stdin:
    p = bytes.fromhex(line.strip())
    v6 = p[0] >> 4 == 6
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.sendto(p, ("2001:db8::2" if v6 else "192.0.2.2", 0))
print("sent")
"#;

fn csum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 fragment of the UDP datagram `udp` (identification `id`): `udp[off..end]`.
fn frag4(udp: &[u8], id: u16, off: usize, end: usize, more: bool) -> Vec<u8> {
    let data = &udp[off..end];
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&(20 + data.len() as u16).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&((off / 8) as u16 | if more { 0x2000 } else { 0 }).to_be_bytes());
    p.extend_from_slice(&[64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    let c = csum(&p, 0);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(data);
    p
}

/// An IPv6 fragment of `udp` (identification `id`): `data` at `off`.
fn frag6(id: u32, off: usize, data: &[u8], more: bool) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(8 + data.len() as u16).to_be_bytes());
    p.extend_from_slice(&[44, 64]);
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    p.extend_from_slice(&[17, 0]);
    p.extend_from_slice(&(off as u16 | u16::from(more)).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(data);
    p
}

/// A UDP datagram (header and 3000 bytes) to port 53 with its checksum over the addresses.
fn udp(v6: bool, sport: u16) -> Vec<u8> {
    let (a, b): (std::net::IpAddr, std::net::IpAddr) = if v6 {
        (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        )
    } else {
        ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap())
    };
    let whole = ctkit_engine::build::udp(a, b, sport, 53, &[0x61; 3000]);
    whole[if v6 { 40 } else { 20 }..].to_vec()
}

fn packets() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (sport, swap) in [(4001u16, false), (4002, true)] {
        let u = udp(false, sport);
        let mut f = vec![
            frag4(&u, sport, 0, 1480, true),
            frag4(&u, sport, 1480, 2960, true),
        ];
        if swap {
            f.swap(0, 1);
        }
        f.push(frag4(&u, sport, 1472, 1496, true));
        f.push(frag4(&u, sport, 2960, u.len(), false));
        out.extend(f);
    }
    let u = udp(false, 4003);
    out.push(frag4(&u, 4003, 0, 1480, true));
    out.push(frag4(&u, 4003, 8, 16, false));
    out.push(frag4(&u, 4003, 1480, 2960, true));
    out.push(frag4(&u, 4003, 2960, u.len(), false));
    let u = udp(true, 5001);
    out.push(frag6(5001, 0, &u[..1448], true));
    out.push(frag6(5001, 8, &[0; 8], false));
    out.push(frag6(5001, 1448, &u[1448..2896], true));
    out.push(frag6(5001, 2896, &u[2896..], false));
    out
}

/// The UDP source ports of the entries in a `conntrack -L`-style listing, sorted.
fn sports(listing: &str) -> Vec<String> {
    let mut v: Vec<String> = listing
        .lines()
        .filter(|l| l.starts_with("udp"))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("sport=")))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn duplicates_overlaps_and_bad_ends_reassemble_as_in_the_kernel_for_ipv4_and_ipv6() {
    if !support::kernel::require_tools(
        "duplicates_overlaps_and_bad_ends_reassemble_as_in_the_kernel",
        &["nft", "python3"],
    ) {
        return;
    }
    let pkts = packets();
    let (a, b) = (Netns::new(), Netns::new());
    veth_pair(
        &a,
        "a0",
        &["192.0.2.1/24", "2001:db8::1/64"],
        &b,
        "b0",
        &["192.0.2.2/24", "2001:db8::2/64"],
    );
    // Neighbours known, so no packet waits for resolution.
    let mac = b.exec_ok(&["cat", "/sys/class/net/b0/address"]);
    a.exec_ok(&[
        "ip",
        "neigh",
        "add",
        "192.0.2.2",
        "lladdr",
        mac.trim(),
        "dev",
        "a0",
    ]);
    a.exec_ok(&[
        "ip",
        "neigh",
        "add",
        "2001:db8::2",
        "lladdr",
        mac.trim(),
        "dev",
        "a0",
    ]);
    nft_load(
        &b,
        "table inet t {\n  chain pre {\n    type filter hook prerouting priority 0;\n    \
         ct state new counter\n  }\n}\n",
    );
    let hex: String = pkts
        .iter()
        .map(|p| p.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
        .collect();
    let sent = a.exec_stdin(&["python3", "-c", SEND], hex.as_bytes());
    assert_eq!(String::from_utf8_lossy(&sent.stdout), "sent\n", "{sent:?}");
    let oracle = support::oracle_bin().to_string_lossy().into_owned();
    let mut kernel = String::new();
    for _ in 0..50 {
        kernel = b.exec_ok(&[oracle.as_str(), "-L"]);
        if sports(&kernel).len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(sports(&kernel), ["sport=4001", "sport=5001"], "{kernel}");

    let mut f = Vec::new();
    write::pcap_header(&mut f, 101, false, true, 65535);
    for (i, p) in pkts.iter().enumerate() {
        write::pcap_record(&mut f, 1_000_000_000_000 + i as u64 * 1000, p, false, true);
    }
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("replay-defrag-{}.pcap", std::process::id()));
    std::fs::write(&path, &f).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ctkit"))
        .args(["replay", path.to_str().unwrap()])
        .output()
        .expect("run ctkit");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sports(&String::from_utf8_lossy(&out.stdout)),
        sports(&kernel)
    );
}
