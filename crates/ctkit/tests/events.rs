//! `-E` against the oracle: both tools listen in the same namespace at the same time, the same
//! changes are made, both are stopped with SIGINT; their outputs (event lines, XML header and
//! footer, the `N flow events have been shown.` summary) must be identical. Only the optional
//! `progname=` of the `[USERSPACE]` suffix is dropped: each tool looks the sender up in /proc
//! when the event arrives, and a short-lived sender may be gone by then.

mod support;

use support::normalize::normalize_banner;
use support::{require_oracle, Netns};

fn strip_progname(s: &str) -> String {
    s.lines()
        .map(|l| match l.find(" progname=") {
            Some(i) => {
                let rest = &l[i + 1..];
                let end = rest.find(' ').map(|e| i + 1 + e).unwrap_or(l.len());
                format!("{}{}", &l[..i], &l[end..])
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Shell: waits (at most 10 s) until two NETLINK_NETFILTER sockets of this namespace have
/// joined multicast groups (`/proc/net/netlink`: protocol 12, a non-zero group mask), i.e.
/// both listeners are subscribed; a fixed sleep was too short on a loaded machine.
const WAIT_FOR_TWO_LISTENERS: &str = r#"for i in $(seq 200); do
  [ "$(awk '$2 == 12 && $4 != "00000000"' /proc/net/netlink | wc -l)" -ge 2 ] && break
  sleep 0.05
done"#;

fn events_both(ns: &Netns, opts: &str) -> ((String, String), (String, String)) {
    let subject = support::subject::subject_conntrack();
    let subject = subject.to_str().expect("utf-8 path");
    let script = format!(
        r#"d=$(mktemp -d)
/usr/sbin/conntrack -E {opts} >$d/o.out 2>$d/o.err & a=$!
{subject} -E {opts} >$d/s.out 2>$d/s.err & b=$!
{WAIT_FOR_TWO_LISTENERS}
C=/usr/sbin/conntrack
$C -I -s 192.0.2.1 -d 198.51.100.1 -p udp --sport 1000 --dport 53 -t 30 >/dev/null 2>&1
$C -I -s 192.0.2.2 -d 198.51.100.1 -p tcp --sport 1001 --dport 80 --state ESTABLISHED -t 60 >/dev/null 2>&1
$C -U -s 192.0.2.1 -m 5 >/dev/null 2>&1
$C -D -s 192.0.2.2 >/dev/null 2>&1
$C -D -s 192.0.2.1 >/dev/null 2>&1
sleep 1
kill -INT $a $b
wait $a; echo "oracle exit $?" >>$d/o.err
wait $b; echo "subject exit $?" >>$d/s.err
for f in o.out o.err s.out s.err; do echo "@@$f"; cat $d/$f; done
rm -rf $d"#
    );
    let out = ns.exec(&["bash", "-c", &script]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let part = |name: &str| -> String {
        let start = text.find(&format!("@@{name}\n")).expect("section") + name.len() + 3;
        let end = text[start..]
            .find("@@")
            .map(|e| start + e)
            .unwrap_or(text.len());
        text[start..end].to_string()
    };
    let oe = part("o.err").replace("oracle exit", "exit");
    let se = part("s.err").replace("subject exit", "exit");
    (
        (strip_progname(&part("o.out")), normalize_banner(&oe)),
        (strip_progname(&part("s.out")), normalize_banner(&se)),
    )
}

#[test]
fn events_match_conntrack_in_every_format() {
    if !require_oracle("events_match_conntrack_in_every_format") {
        return;
    }
    for opts in [
        "",
        "-o xml",
        "-o save",
        "-e NEW,DESTROY",
        "-p udp",
        "-o extended,id",
    ] {
        let ns = Netns::new();
        let (want, got) = events_both(&ns, opts);
        assert_eq!(got, want, "conntrack -E {opts}");
        if opts.is_empty() {
            // Two NEW, one UPDATE, two DESTROY.
            assert_eq!(want.0.lines().count(), 5, "{}", want.0);
            assert_eq!(
                want.1,
                "conntrack v1.4.7 (BANNER): 5 flow events have been shown.\nexit 0\n"
            );
        }
    }
}

/// A sender whose netlink port id is not its pid (its second socket, port id chosen by the
/// kernel) that stays alive: both tools name it (`progname=python3`), conntrack by finding
/// the socket's inode in /proc/net/netlink and its owner in /proc/*/fd.
#[test]
fn userspace_progname_of_a_second_socket_matches_conntrack() {
    if !support::kernel::require_tools(
        "userspace_progname_of_a_second_socket_matches_conntrack",
        &["python3"],
    ) || !require_oracle("userspace_progname_of_a_second_socket_matches_conntrack")
    {
        return;
    }
    let ns = Netns::new();
    let subject = support::subject::subject_conntrack();
    let subject = subject.to_str().expect("utf-8 path");
    // Flush (IPCTNL_MSG_CT_DELETE without attributes) from the second socket, then linger.
    let sender = r#"
import socket, struct, time
a = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12); a.bind((0, 0))
b = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12); b.bind((0, 0))
b.send(struct.pack("=IHHII", 20, (1 << 8) | 2, 1 | 4, 1, 0) + struct.pack("=BBH", 2, 0, 0))
time.sleep(1.5)
"#;
    let script = format!(
        r#"d=$(mktemp -d)
C=/usr/sbin/conntrack
# With the default nf_conntrack_events=2, an entry created while nobody listens carries no
# event extension and dies silently: 1 gives every entry one.
sysctl -qw net.netfilter.nf_conntrack_events=1
$C -I -s 192.0.2.1 -d 198.51.100.1 -p udp --sport 1000 --dport 53 -t 30 >/dev/null 2>&1
$C -E >$d/o.out 2>$d/o.err & a=$!
{subject} -E >$d/s.out 2>$d/s.err & b=$!
{WAIT_FOR_TWO_LISTENERS}
python3 -c '{sender}'
kill -INT $a $b
wait $a $b
for f in o.out s.out; do echo "@@$f"; cat $d/$f; done
rm -rf $d"#
    );
    let out = ns.exec(&["bash", "-c", &script]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (o, s) = text.split_once("@@s.out\n").expect("both outputs");
    let o = o.trim_start_matches("@@o.out\n");
    assert!(o.contains(" progname=python3\n"), "{text}");
    assert_eq!(s, o);
}
