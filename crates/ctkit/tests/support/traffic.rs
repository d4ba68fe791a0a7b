//! Traffic generators run inside lab namespaces: python3 servers and clients (TCP
//! connect/transfer/close or hold, UDP with and without reply, UDP to a closed port for an
//! ICMP port-unreachable error, an FTP-like control connection) and `ping` for ICMP echo.
//! Every generator prints one readiness line; held connections live until the namespace
//! is dropped.

use super::lab::Lab;
use super::netns::Netns;

/// One python3 program for every role; argv: ROLE FAMILY ADDR PORT [ARG].
const PY: &str = r#"
import socket, sys, threading, time
role, fam, addr, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
arg = sys.argv[5] if len(sys.argv) > 5 else ''
af = socket.AF_INET6 if fam == '6' else socket.AF_INET

def hold():
    print('up', flush=True)
    sys.stdin.read()

def echo_conn(c):
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    finally:
        c.close()

def ftp_conn(c):
    f = c.makefile('rb')
    c.sendall(b'220 ctkit test ftp\r\n')
    for line in f:
        cmd = line.strip().upper()
        if cmd.startswith(b'PASV'):
            h = addr.replace('.', ',')
            dp = int(arg or '2121')
            c.sendall(('227 Entering Passive Mode (%s,%d,%d).\r\n' % (h, dp >> 8, dp & 255)).encode())
        elif cmd.startswith(b'PORT'):
            c.sendall(b'200 PORT command successful.\r\n')
        elif cmd.startswith(b'QUIT'):
            c.sendall(b'221 bye\r\n')
            break
        else:
            c.sendall(b'500 ?\r\n')
    c.close()

if role in ('tcp-server', 'ftp-server'):
    s = socket.socket(af, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    print('ready', flush=True)
    h = echo_conn if role == 'tcp-server' else ftp_conn
    while True:
        c, _ = s.accept()
        threading.Thread(target=h, args=(c,), daemon=True).start()
elif role == 'udp-server':
    s = socket.socket(af, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print('ready', flush=True)
    while True:
        d, peer = s.recvfrom(65536)
        s.sendto(d, peer)
elif role in ('tcp-close', 'tcp-hold'):
    c = socket.create_connection((addr, port), timeout=5)
    n = int(arg or '1000')
    c.sendall(b'x' * n)
    got = 0
    while got < n:
        d = c.recv(65536)
        if not d:
            break
        got += len(d)
    if role == 'tcp-hold':
        hold()
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):
        pass
    c.close()
    time.sleep(0.05)
    print('done', flush=True)
elif role in ('udp-reply', 'udp-noreply', 'udp-closed'):
    s = socket.socket(af, socket.SOCK_DGRAM)
    if arg:
        s.bind(('::' if fam == '6' else '0.0.0.0', int(arg)))
    s.connect((addr, port))
    s.settimeout(1.0)
    s.send(b'ping')
    result = 'sent'
    if role != 'udp-noreply':
        try:
            s.recv(65536)
            result = 'reply'
        except ConnectionRefusedError:
            result = 'refused'
        except socket.timeout:
            result = 'timeout'
    print(result, flush=True)
elif role == 'tcp-fill':
    conns = []
    while True:
        try:
            c = socket.create_connection((addr, port), timeout=float(arg or '0.3'))
        except OSError:
            break
        c.sendall(b'x')
        c.recv(1)
        conns.append(c)
    print(len(conns), flush=True)
    sys.stdin.read()
elif role == 'ftp-pasv':
    c = socket.create_connection((addr, port), timeout=5)
    f = c.makefile('rb')
    f.readline()
    for cmd in (arg or 'PASV').split(';'):
        c.sendall((cmd + '\r\n').encode())
        f.readline()
    hold()
else:
    sys.exit('unknown role ' + role)
"#;

fn fam(addr: &str) -> &'static str {
    if addr.contains(':') {
        "6"
    } else {
        "4"
    }
}

/// Runs a generator to completion in `ns`; returns its printed result word.
fn run(ns: &Netns, role: &str, addr: &str, port: u16, arg: &str) -> String {
    let port = port.to_string();
    let out = ns.exec_ok(&["python3", "-c", PY, role, fam(addr), addr, &port, arg]);
    out.trim().to_string()
}

/// Starts a generator in the background in `ns`; returns its readiness line.
fn start(ns: &Netns, role: &str, addr: &str, port: u16, arg: &str) -> String {
    let port = port.to_string();
    ns.spawn_ready(&["python3", "-c", PY, role, fam(addr), addr, &port, arg])
}

/// A TCP echo server on `addr:port` in `ns` (runs until `ns` is dropped).
pub fn tcp_server(ns: &Netns, addr: &str, port: u16) {
    assert_eq!(start(ns, "tcp-server", addr, port, ""), "ready");
}

/// A UDP echo server on `addr:port` in `ns`.
pub fn udp_server(ns: &Netns, addr: &str, port: u16) {
    assert_eq!(start(ns, "udp-server", addr, port, ""), "ready");
}

/// An FTP-like server on `addr:port` answering `PASV` with `227 … (addr,dport)`.
pub fn ftp_server(ns: &Netns, addr: &str, port: u16, data_port: u16) {
    assert_eq!(
        start(ns, "ftp-server", addr, port, &data_port.to_string()),
        "ready"
    );
}

/// Connects, sends and receives back `bytes`, then closes both ways (TIME_WAIT).
pub fn tcp_close(ns: &Netns, addr: &str, port: u16, bytes: usize) {
    assert_eq!(run(ns, "tcp-close", addr, port, &bytes.to_string()), "done");
}

/// Connects, exchanges `bytes`, and keeps the connection open (ESTABLISHED) until `ns`
/// is dropped.
pub fn tcp_hold(ns: &Netns, addr: &str, port: u16, bytes: usize) {
    assert_eq!(start(ns, "tcp-hold", addr, port, &bytes.to_string()), "up");
}

/// Opens connections one after the other, each exchanging one byte (ESTABLISHED and ASSURED,
/// so neither early drop nor the GC may evict them), until a connect gets no answer within
/// 0.3 s (its SYN was dropped: the table is full); holds them until `ns` is dropped and
/// returns how many were opened.
pub fn tcp_fill(ns: &Netns, addr: &str, port: u16) -> usize {
    let n = start(ns, "tcp-fill", addr, port, "0.3");
    n.parse()
        .unwrap_or_else(|_| panic!("tcp-fill printed {n:?}"))
}

/// Sends one UDP datagram from source port `sport` (0 = any) and waits for the echo.
pub fn udp_reply(ns: &Netns, addr: &str, port: u16, sport: u16) {
    let arg = if sport == 0 {
        String::new()
    } else {
        sport.to_string()
    };
    assert_eq!(run(ns, "udp-reply", addr, port, &arg), "reply");
}

/// Sends one UDP datagram and expects nothing back (use [`super::lab::BLACKHOLE_PORT`]).
pub fn udp_noreply(ns: &Netns, addr: &str, port: u16) {
    assert_eq!(run(ns, "udp-noreply", addr, port, ""), "sent");
}

/// Sends UDP to a closed port and expects ICMP port unreachable (an ICMP error that is
/// RELATED to the UDP flow).
pub fn udp_closed(ns: &Netns, addr: &str, port: u16) {
    assert_eq!(run(ns, "udp-closed", addr, port, ""), "refused");
}

/// One ICMP (or ICMPv6) echo request/reply with ping.
pub fn ping(ns: &Netns, addr: &str) {
    let flag = if addr.contains(':') { "-6" } else { "-4" };
    ns.exec_ok(&["ping", flag, "-c", "1", "-W", "2", "-q", addr]);
}

/// Opens an FTP control connection, sends `command` (`PASV` or `PORT h1,…,p2`; several
/// separated by `;`, each after the reply to the one before), reads the replies and holds the
/// connection (the helper's expectation stays). The kernel's FTP helper reads a client
/// command only after a newline it has seen in that direction: `PORT` must not come first.
pub fn ftp_control(ns: &Netns, addr: &str, port: u16, command: &str) {
    assert_eq!(start(ns, "ftp-pasv", addr, port, command), "up");
}

/// A varied mix through the lab router: TCP held/closed (IPv4, IPv6), UDP with reply,
/// without reply, to a closed port, ICMP echo (IPv4, IPv6).
pub fn mixed(lab: &Lab) {
    use super::lab::{BLACKHOLE_PORT, SERVER4, SERVER6};
    tcp_server(&lab.server, "::", 7000);
    udp_server(&lab.server, "::", 7001);
    tcp_hold(&lab.client, SERVER4, 7000, 100);
    tcp_close(&lab.client, SERVER4, 7000, 2000);
    tcp_hold(&lab.client, SERVER6, 7000, 10);
    udp_reply(&lab.client, SERVER4, 7001, 40001);
    udp_reply(&lab.client, SERVER6, 7001, 40002);
    udp_noreply(&lab.client, SERVER4, BLACKHOLE_PORT);
    udp_closed(&lab.client, SERVER4, 7999);
    ping(&lab.client, SERVER4);
    ping(&lab.client, SERVER6);
}
