//! The engine against the live kernel: real traffic between two network namespaces (veth,
//! an nft `ct state` rule on the server side), captured with tcpdump on the server's
//! interface while `conntrack -E` listens in the server namespace; the captured packets are
//! then fed to the engine and its events must be the kernel's, line by line (timeouts may
//! differ by one second: the kernel's jiffies tick between the refresh and the event).
//!
//! Needs root, ip, nft, tcpdump, python3 and conntrack; skips visibly otherwise (fails under
//! `CTKIT_REQUIRE_KERNEL=1`). Touches no global state: everything lives in its namespaces.

use ctkit_engine::{Config, EventKind, Tracker};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn kernel_required() -> bool {
    std::env::var("CTKIT_REQUIRE_KERNEL").is_ok_and(|v| v == "1")
}

fn have(tool: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join(tool).is_file())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Whether the test can run; prints the reason when it cannot (and fails when required).
fn gate(name: &str) -> bool {
    let missing: Vec<&str> = ["ip", "nft", "tcpdump", "python3", "conntrack"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    let why = if !is_root() {
        Some("not root".to_string())
    } else if !missing.is_empty() {
        Some(format!("missing {}", missing.join(", ")))
    } else {
        None
    };
    match why {
        None => true,
        Some(w) => {
            assert!(!kernel_required(), "{name}: {w} (CTKIT_REQUIRE_KERNEL=1)");
            eprintln!("SKIP {name}: {w}");
            false
        }
    }
}

/// A namespace, deleted (with its processes) on drop.
struct Ns {
    name: String,
    bg: Vec<Child>,
}

impl Ns {
    fn new(tag: &str) -> Ns {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("ctkit-eng-{}-{n}-{tag}", std::process::id());
        run(&["ip", "netns", "add", &name]);
        let ns = Ns {
            name,
            bg: Vec::new(),
        };
        for k in ["accept_dad=0", "router_solicitations=0", "accept_ra=0"] {
            ns.ok(&["sysctl", "-qw", &format!("net.ipv6.conf.default.{k}")]);
        }
        ns.ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    fn cmd(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c
    }

    fn ok(&self, argv: &[&str]) -> String {
        let out = self.cmd(argv).output().expect("spawn");
        assert!(
            out.status.success(),
            "{argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        for c in &mut self.bg {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(argv: &[&str]) {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Server and client programs (python3, as the project's other kernel tests use).
const PY: &str = r#"
import socket, sys, time
role = sys.argv[1]
if role == 'server':
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('192.0.2.2', 8080)); s.listen(4)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('192.0.2.2', 5353))
    print('ready', flush=True)
    c, _ = s.accept()
    d = c.recv(100); c.sendall(b'pong'); time.sleep(0.2); c.close()
    for i in range(3):
        m, a = u.recvfrom(100); u.sendto(b'r', a)
    time.sleep(30)
elif role == 'ftp-server':
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('192.0.2.2', 21)); s.listen(4)
    d = socket.socket(); d.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    d.bind(('192.0.2.2', 5001)); d.listen(4)
    print('ready', flush=True)
    c, _ = s.accept(); f = c.makefile('rb')
    c.sendall(b'220 ctkit\r\n')
    f.readline()
    c.sendall(b'227 Entering Passive Mode (192,0,2,2,19,137).\r\n')
    dc, _ = d.accept(); dc.sendall(b'data'); time.sleep(0.2); dc.close()
    f.readline(); c.sendall(b'221 bye\r\n'); time.sleep(0.2); c.close()
    time.sleep(30)
elif role == 'ftp-client':
    c = socket.create_connection(('192.0.2.2', 21)); f = c.makefile('rb')
    f.readline(); c.sendall(b'PASV\r\n'); f.readline()
    time.sleep(0.2)
    d = socket.create_connection(('192.0.2.2', 5001)); d.recv(10); time.sleep(0.4); d.close()
    time.sleep(0.2); c.sendall(b'QUIT\r\n'); f.readline(); time.sleep(0.3); c.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(1)
    u.connect(('192.0.2.2', 9)); u.send(b'x')
    try:
        u.recv(10)
    except Exception:
        pass
    time.sleep(0.3)
    try:
        socket.create_connection(('192.0.2.2', 8081), timeout=1)
    except OSError:
        pass
    time.sleep(0.3)
    print('done', flush=True)
elif role == 'server6':
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('2001:db8::2', 8080)); s.listen(4)
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(('2001:db8::2', 5353))
    print('ready', flush=True)
    c, _ = s.accept()
    d = c.recv(100); c.sendall(b'pong'); time.sleep(0.2); c.close()
    m, a = u.recvfrom(100); u.sendto(b'r', a)
    time.sleep(30)
elif role == 'client6':
    c = socket.create_connection(('2001:db8::2', 8080)); c.sendall(b'ping'); c.recv(100)
    time.sleep(0.4); c.close(); time.sleep(0.3)
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.sendto(b'q', ('2001:db8::2', 5353)); u.recv(10)
    u.sendto(b'q', ('2001:db8::2', 5354))
    time.sleep(0.3)
    print('done', flush=True)
else:
    c = socket.create_connection(('192.0.2.2', 8080)); c.sendall(b'ping'); c.recv(100)
    time.sleep(0.4); c.close(); time.sleep(0.3)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('192.0.2.1', 40001))
    for gap in (0, 0.5, 2.5):
        time.sleep(gap); u.sendto(b'q', ('192.0.2.2', 5353)); u.recv(10)
    print('done', flush=True)
"#;

/// Reads a classic pcap file (Ethernet link type): (timestamp ns, IPv4 packet).
fn read_pcap(bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    if bytes.len() < 24 {
        return out;
    }
    let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    let (le, nano) = match magic {
        0xa1b2c3d4 => (true, false),
        0xa1b23c4d => (true, true),
        0xd4c3b2a1 => (false, false),
        0x4d3cb2a1 => (false, true),
        _ => return out,
    };
    let u32at = |b: &[u8], i: usize| {
        let a: [u8; 4] = b[i..i + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let sec = u32at(bytes, off) as u64;
        let frac = u32at(bytes, off + 4) as u64;
        let caplen = u32at(bytes, off + 8) as usize;
        off += 16;
        if off + caplen > bytes.len() {
            break;
        }
        let frame = &bytes[off..off + caplen];
        off += caplen;
        let ns = sec * 1_000_000_000 + if nano { frac } else { frac * 1000 };
        if frame.len() > 14 && (frame[12..14] == [0x08, 0x00] || frame[12..14] == [0x86, 0xdd]) {
            out.push((ns, frame[14..].to_vec()));
        }
    }
    out
}

/// "[kind] proto ... " with the timeout split out: (line without timeout, timeout).
fn split_timeout(line: &str) -> (String, Option<u32>) {
    let toks: Vec<&str> = line.split_whitespace().collect();
    // [KIND] name number [timeout] ...
    if toks.len() > 3 {
        if let Ok(t) = toks[3].parse::<u32>() {
            let mut rest = toks.clone();
            rest.remove(3);
            return (rest.join(" "), Some(t));
        }
    }
    (toks.join(" "), None)
}

/// Runs `server` and `client` (roles of [`PY`]) between two fresh namespaces, optionally
/// `extra_nft` rules in the server's table, then `pinging` once; returns (kernel events,
/// engine events), each line as conntrack -E prints it.
fn kernel_vs_engine(
    server: &str,
    client: &str,
    extra_nft: &[&str],
    pinging: bool,
) -> (Vec<String>, Vec<String>) {
    let c = Ns::new("c");
    let mut s = Ns::new("s");
    run(&[
        "ip", "link", "add", "ve-c", "netns", &c.name, "type", "veth", "peer", "name", "ve-s",
        "netns", &s.name,
    ]);
    c.ok(&["ip", "addr", "add", "192.0.2.1/24", "dev", "ve-c"]);
    s.ok(&["ip", "addr", "add", "192.0.2.2/24", "dev", "ve-s"]);
    c.ok(&[
        "ip",
        "addr",
        "add",
        "2001:db8::1/64",
        "dev",
        "ve-c",
        "nodad",
    ]);
    s.ok(&[
        "ip",
        "addr",
        "add",
        "2001:db8::2/64",
        "dev",
        "ve-s",
        "nodad",
    ]);
    c.ok(&["ip", "link", "set", "ve-c", "up"]);
    s.ok(&["ip", "link", "set", "ve-s", "up"]);
    s.ok(&["nft", "add table inet t"]);
    s.ok(&[
        "nft",
        "add chain inet t in { type filter hook input priority 0; }",
    ]);
    s.ok(&[
        "nft",
        "add rule inet t in ct state new,established,related accept",
    ]);
    for r in extra_nft {
        s.ok(&["nft", r]);
    }
    let pcap = std::env::temp_dir().join(format!("{}.pcap", s.name));
    let pcap_s = pcap.to_str().unwrap().to_string();
    // tcpdump: wait for "listening on".
    let mut td = s
        .cmd(&[
            "tcpdump", "-i", "ve-s", "-n", "-U", "-s", "0", "-w", &pcap_s,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump");
    let mut err = BufReader::new(td.stderr.take().unwrap());
    let mut l = String::new();
    err.read_line(&mut l).unwrap();
    assert!(l.contains("listening"), "tcpdump: {l}");
    let ev_path = std::env::temp_dir().join(format!("{}.events", s.name));
    let mut ev = s
        .cmd(&["conntrack", "-E", "-o", "timestamp"])
        .stdout(std::fs::File::create(&ev_path).expect("events file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("conntrack -E");
    std::thread::sleep(Duration::from_millis(400));
    let mut srv = s
        .cmd(&["python3", "-c", PY, server])
        .stdout(Stdio::piped())
        .spawn()
        .expect("server");
    let mut so = BufReader::new(srv.stdout.take().unwrap());
    l.clear();
    so.read_line(&mut l).unwrap();
    assert_eq!(l.trim(), "ready");
    s.bg.push(srv);
    let out = c.ok(&["python3", "-c", PY, client]);
    assert_eq!(out.trim(), "done");
    if pinging {
        c.ok(&["ping", "-c", "1", "-W", "1", "192.0.2.2"]);
        c.ok(&["ping", "-6", "-c", "1", "-W", "1", "2001:db8::2"]);
    }
    // Both writers may lag behind on a busy machine: send a marker (UDP to port 9999, last),
    // then wait (at most 20 s) until the capture holds it and `conntrack -E` printed its
    // entry; then stop them (SIGTERM flushes tcpdump's -U output).
    c.ok(&[
        "python3",
        "-c",
        "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'm', ('192.0.2.2', 9999))",
    ]);
    let marker_captured = |bytes: &[u8]| {
        read_pcap(bytes)
            .iter()
            .any(|(_, p)| p.len() >= 24 && p[9] == 17 && p[22..24] == [0x27, 0x0f])
    };
    for _ in 0..200 {
        let events = std::fs::read_to_string(&ev_path).unwrap_or_default();
        let bytes = std::fs::read(&pcap).unwrap_or_default();
        if events.contains("dport=9999") && marker_captured(&bytes) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The kernel's table now, and when.
    let listed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let listing = s.ok(&["conntrack", "-L"]);
    let listed_by = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let _ = Command::new("kill").arg(td.id().to_string()).status();
    let _ = td.wait();
    let _ = ev.kill();
    let _ = ev.wait();
    let kernel_text = std::fs::read_to_string(&ev_path).unwrap_or_default();
    let _ = std::fs::remove_file(&ev_path);
    let bytes = std::fs::read(&pcap).expect("pcap");
    let _ = std::fs::remove_file(&pcap);
    let packets = read_pcap(&bytes);
    assert!(packets.len() >= 10, "captured {} packets", packets.len());

    let mut t = Tracker::new(Config::kernel_defaults(), 1);
    for (ts, p) in &packets {
        t.process(*ts, 0, p);
    }
    let mut engine = Vec::new();
    t.drain_events(&mut |e| {
        let kind = match e.kind {
            EventKind::New => ctkit_model::format::EventKind::New,
            EventKind::Update => ctkit_model::format::EventKind::Update,
            EventKind::Destroy => ctkit_model::format::EventKind::Destroy,
        };
        let o = ctkit_model::format::text::TextOptions {
            event: Some(kind),
            ..Default::default()
        };
        let mut out = Vec::new();
        ctkit_model::format::text::write_flow(&mut out, &e.flow, &o);
        engine.push(String::from_utf8(out).unwrap().trim_end().to_string());
    });
    let kernel: Vec<String> = kernel_text
        .lines()
        .filter(|l| l.starts_with('['))
        .map(|l| l.split_once('\t').map(|x| x.1).unwrap_or(l).to_string())
        .collect();
    // conntrack -L against for_each_flow at the moment it started: same lines (any order);
    // the kernel's timeouts may be lower by the time the listing took to start and run
    // (seconds on a loaded machine), plus one.
    let mut table = Vec::new();
    t.for_each_flow(listed_at, &mut |f| {
        let mut out = Vec::new();
        ctkit_model::format::text::write_flow(&mut out, f, &Default::default());
        table.push(String::from_utf8(out).unwrap().trim_end().to_string());
    });
    let mut kl: Vec<(String, Option<u32>)> = listing
        .lines()
        .map(|l| split_timeout(&format!("[L] {l}")))
        .collect();
    let mut el: Vec<(String, Option<u32>)> = table
        .iter()
        .map(|l| split_timeout(&format!("[L] {l}")))
        .collect();
    kl.sort();
    el.sort();
    let report = format!("conntrack -L:\n{listing}\nengine:\n{}", table.join("\n"));
    assert_eq!(kl.len(), el.len(), "{report}");
    for ((kr, kt), (er, et)) in kl.iter().zip(&el) {
        assert_eq!(kr, er, "{report}");
        let (a, b) = (kt.unwrap_or(0) as i64, et.unwrap_or(0) as i64);
        let slack = (listed_by - listed_at).div_ceil(1_000_000_000) as i64 + 1;
        assert!(a <= b + 1 && a >= b - slack, "timeout {a} vs {b}\n{report}");
    }
    (kernel, engine)
}

/// Kernel and engine event lines must be equal, timeouts within one second.
fn assert_same_events(kernel: &[String], engine: &[String]) {
    let report = format!(
        "kernel:\n{}\nengine:\n{}",
        kernel.join("\n"),
        engine.join("\n")
    );
    assert_eq!(kernel.len(), engine.len(), "{report}");
    for (k, e) in kernel.iter().zip(engine) {
        let (kr, kt) = split_timeout(k);
        let (er, et) = split_timeout(e);
        assert_eq!(kr, er, "{report}");
        match (kt, et) {
            (Some(a), Some(b)) => assert!(a <= b && a + 1 >= b, "timeout {a} vs {b}\n{report}"),
            (a, b) => assert_eq!(a, b, "{report}"),
        }
    }
}

#[test]
fn test_kernel_event_sequence_matches_engine_on_captured_packets() {
    if !gate("test_kernel_event_sequence_matches_engine_on_captured_packets") {
        return;
    }
    let (kernel, engine) = kernel_vs_engine("server", "client", &[], false);
    // TCP: NEW, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT; UDP: NEW,
    // the reply (SEEN_REPLY), the packet after 2 s (ASSURED, stream timeout); the marker's NEW.
    assert_eq!(kernel.len(), 11, "{kernel:#?}");
    assert_same_events(&kernel, &engine);
}

#[test]
fn test_kernel_ftp_helper_icmp_ping_and_refused_tcp_match_engine() {
    if !gate("test_kernel_ftp_helper_icmp_ping_and_refused_tcp_match_engine") {
        return;
    }
    let (kernel, engine) = kernel_vs_engine(
        "ftp-server",
        "ftp-client",
        &[
            "add ct helper inet t ftp-std { type \"ftp\" protocol tcp; }",
            "add chain inet t pre { type filter hook prerouting priority 0; }",
            "add rule inet t pre tcp dport 21 ct helper set \"ftp-std\"",
        ],
        true,
    );
    assert!(
        kernel.iter().any(|l| l.contains("helper=ftp")),
        "{kernel:#?}"
    );
    assert!(
        kernel
            .iter()
            .any(|l| l.contains("[NEW] tcp") && l.contains("dport=5001")),
        "the data connection: {kernel:#?}"
    );
    assert!(kernel.iter().any(|l| l.contains("icmp")), "{kernel:#?}");
    assert!(
        kernel
            .iter()
            .any(|l| l.starts_with("[DESTROY] tcp") && l.contains("dport=8081")),
        "the refused connection (SYN answered by RST) is deleted at once: {kernel:#?}"
    );
    assert_same_events(&kernel, &engine);
}

#[test]
fn test_kernel_ipv6_tcp_udp_icmpv6_match_engine() {
    if !gate("test_kernel_ipv6_tcp_udp_icmpv6_match_engine") {
        return;
    }
    let (kernel, engine) = kernel_vs_engine("server6", "client6", &[], true);
    assert!(
        kernel
            .iter()
            .any(|l| l.contains("ESTABLISHED src=2001:db8::1")),
        "{kernel:#?}"
    );
    assert!(kernel.iter().any(|l| l.contains("icmpv6")), "{kernel:#?}");
    assert_same_events(&kernel, &engine);
}
