//! `ctkit replay` on what a router's `tcpdump -i any` records, against the router's kernel:
//! every forwarded packet appears twice (received on one interface, then sent on the other
//! with its TTL or hop limit one lower) and datagrams larger than the MTU come in fragments.
//! The kernel tracks each packet once, after reassembly (`nf_defrag_ipv4/6`); the replay
//! must give the router's events (`conntrack -E -o timestamp`) and its final table with the
//! accounting counters (`nf_conntrack_acct=1`), timeouts and stamps aside.
//!
//! ```text
//!  C ──c0──── r0  R (forwards, tracks, captures -i any)  r1 ────s0── S
//!  192.0.2.2      192.0.2.1            198.51.100.1          198.51.100.2
//!  2001:db8:1::2  2001:db8:1::1        2001:db8:2::1         2001:db8:2::2
//! ```

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use support::lab::nft_load;
use support::normalize::{normalize_stamps, normalize_timeouts, sort_lines};
use support::{oracle_bin, veth_pair, Netns};

/// The server: TCP echo (one read, then close after the client) on 7000 and UDP echo on 7001, both families.
const SERVER: &str = r#"
import socket, sys, threading
def tcp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('::', 7000)); s.listen(8)
    while True:
        # Echo, then close only after the client did: no simultaneous close, whose
        # kernel events may show a state ahead of their packet (two CPUs).
        c, _ = s.accept(); c.sendall(c.recv(100)); c.recv(100); c.close()
def udp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(('::', 7001))
    while True:
        d, p = s.recvfrom(9000); s.sendto(d, p)
for f in (tcp, udp):
    threading.Thread(target=f, daemon=True).start()
print('ready', flush=True)
sys.stdin.read()
"#;

/// The client: a TCP exchange, then a 3000-byte UDP datagram and its echo per family
/// (fragmented both ways on 1500-byte links).
const CLIENT: &str = r#"
import socket, time
c = socket.create_connection(('198.51.100.2', 7000), timeout=5)
c.sendall(b'hello'); c.recv(100); c.close(); time.sleep(0.2)
for af, addr in ((socket.AF_INET, '198.51.100.2'), (socket.AF_INET6, '2001:db8:2::2')):
    s = socket.socket(af, socket.SOCK_DGRAM); s.settimeout(5)
    s.sendto(b'F' * 3000, (addr, 7001))
    assert len(s.recv(9000)) == 3000
print('done', flush=True)
"#;

fn stop(child: &mut Child) {
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[test]
fn a_routers_any_capture_with_fragments_replays_to_the_routers_events_and_counters() {
    if !support::kernel::require_tools(
        "a_routers_any_capture_with_fragments_replays",
        &["tcpdump", "nft", "python3"],
    ) {
        return;
    }
    let (c, r, s) = (Netns::new(), Netns::new(), Netns::new());
    veth_pair(
        &c,
        "c0",
        &["192.0.2.2/24", "2001:db8:1::2/64"],
        &r,
        "r0",
        &["192.0.2.1/24", "2001:db8:1::1/64"],
    );
    veth_pair(
        &s,
        "s0",
        &["198.51.100.2/24", "2001:db8:2::2/64"],
        &r,
        "r1",
        &["198.51.100.1/24", "2001:db8:2::1/64"],
    );
    c.sh_ok("ip route add default via 192.0.2.1 && ip -6 route add default via 2001:db8:1::1");
    s.sh_ok("ip route add default via 198.51.100.1 && ip -6 route add default via 2001:db8:2::1");
    r.exec_ok(&[
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
        "net.netfilter.nf_conntrack_acct=1",
    ]);
    nft_load(
        &r,
        "table inet t {\n  chain forw {\n    type filter hook forward priority 0;\n    \
         ct state new counter\n    ct state established counter\n  }\n}\n",
    );
    assert_eq!(s.spawn_ready(&["python3", "-c", SERVER]), "ready");

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let pcap = dir.join(format!("replay-any-{}.pcap", std::process::id()));
    let events_file = dir.join(format!("replay-any-{}.events", std::process::id()));
    let mut events = r
        .command(&[oracle_bin().to_str().unwrap(), "-E", "-o", "timestamp"])
        .stdout(std::fs::File::create(&events_file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("conntrack -E");
    r.wait_for_nfnetlink_listeners(1, None);
    let mut tcpdump = r
        .command(&[
            "tcpdump",
            "-q",
            "-U",
            "-i",
            "any",
            "-y",
            "LINUX_SLL2",
            "-w",
            pcap.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump");
    // tcpdump says "listening on any" once it captures; its standard error is read to the
    // end (its last words come when it stops).
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = tcpdump.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening on") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(20))
        .expect("tcpdump is listening");
    // "listening" comes before the any device's socket sees every interface.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(c.exec_ok(&["python3", "-c", CLIENT]).trim(), "done");
    // libpcap hands packets over a ring block at a time, a block at the latest after 1 s.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let table = r.exec_ok(&[oracle_bin().to_str().unwrap(), "-L"]);
    stop(&mut tcpdump);
    stop(&mut events);
    // (A packet tcpdump lost would show in the comparisons below.)
    let _ = reader.join();
    let kernel_events = std::fs::read_to_string(&events_file).unwrap();
    let _ = std::fs::remove_file(&events_file);

    let replay = |args: &[&str]| {
        let mut v = vec![
            "replay",
            pcap.to_str().unwrap(),
            "--set",
            "nf_conntrack_acct=1",
        ];
        v.extend_from_slice(args);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_ctkit"))
            .args(&v)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let norm = |s: &str| normalize_timeouts(&normalize_stamps(s));
    // TCP (6 events), UDP over IPv4 and over IPv6 (2 each).
    assert_eq!(kernel_events.lines().count(), 10, "{kernel_events}");
    assert_eq!(norm(&replay(&["--events"])), norm(&kernel_events));
    // Each packet counted once: the same packets= and bytes= as the kernel's.
    assert_eq!(
        sort_lines(&normalize_timeouts(&replay(&[]))),
        sort_lines(&normalize_timeouts(&table))
    );
    assert!(table.contains("packets=1 bytes=3028 "), "{table}");
    // What happened to each packet: the fragments held, the datagrams reassembled, the
    // second copies (the forwarded ones) not tracked again.
    let per_packet = replay(&["--per-packet", "--proto", "udp"]);
    let states: Vec<&str> = per_packet
        .lines()
        .filter_map(|l| l.rsplit('\t').next())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "copy -").count(),
        states.len() / 2,
        "{per_packet}"
    );
    assert_eq!(
        per_packet.matches(" reassembled\t").count(),
        4,
        "{per_packet}"
    );
    let _ = std::fs::remove_file(&pcap);
}
