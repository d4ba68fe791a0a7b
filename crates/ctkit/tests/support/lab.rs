//! Test topologies that make the kernel track real connections: veth pairs between
//! namespaces and an nft ruleset with `ct state` rules in a middle "router" namespace, plus
//! optional NAT, the FTP helper (expectations), zones, marks and labels.
//!
//! ```text
//!  client ──c0────r0── router ──r1────s0── server
//!  192.0.2.2/24   .1           198.51.100.1  .2/24
//!  2001:db8:1::2  ::1          2001:db8:2::1 ::2
//! ```
//! The router forwards and tracks everything; its table is the one tests inspect. All
//! addresses are documentation ranges (RFC 5737 / RFC 3849).

use std::time::Duration;

use super::diff::table_snapshot;
use super::netns::Netns;

/// Client address (IPv4).
pub const CLIENT4: &str = "192.0.2.2";
/// Router address on the client side (IPv4).
pub const ROUTER_C4: &str = "192.0.2.1";
/// Router address on the server side (IPv4), also the SNAT address.
pub const ROUTER_S4: &str = "198.51.100.1";
/// Server address (IPv4).
pub const SERVER4: &str = "198.51.100.2";
/// Client address (IPv6).
pub const CLIENT6: &str = "2001:db8:1::2";
/// Server address (IPv6).
pub const SERVER6: &str = "2001:db8:2::2";
/// Virtual address DNATed by the router to [`SERVER4`] (port [`DNAT_PORT`] → [`DNAT_TO_PORT`]).
pub const DNAT_VIP: &str = "203.0.113.10";
/// Port on [`DNAT_VIP`] that is DNATed.
pub const DNAT_PORT: u16 = 80;
/// Server port DNAT sends to.
pub const DNAT_TO_PORT: u16 = 8080;
/// TCP destination port SNATed to [`ROUTER_S4`].
pub const SNAT_PORT: u16 = 8081;
/// UDP destination port whose flows get conntrack zone [`ZONE`].
pub const ZONE_PORT: u16 = 5007;
/// The zone used for [`ZONE_PORT`].
pub const ZONE: u16 = 7;
/// TCP destination port whose flows get ct mark [`MARK`].
pub const MARK_PORT: u16 = 5001;
/// The ct mark set on [`MARK_PORT`] flows.
pub const MARK: u32 = 42;
/// UDP destination port silently dropped by the server (flows stay UNREPLIED, no ICMP).
pub const BLACKHOLE_PORT: u16 = 9999;
/// TCP destination port whose flows get ct label [`LABEL`] (with `LabOptions::labels`).
pub const LABEL_PORT: u16 = 5003;
/// The ct label name (bit [`LABEL_BIT`] in /etc/xtables/connlabel.conf).
pub const LABEL: &str = "ctkit-test";
/// Label maps: libnetfilter_conntrack (the oracle) reads /etc/xtables/connlabel.conf,
/// Debian's nft reads /etc/connlabel.conf.
pub const CONNLABEL_FILES: [&str; 2] = ["/etc/xtables/connlabel.conf", "/etc/connlabel.conf"];
/// The label bit.
pub const LABEL_BIT: u32 = 5;

/// Creates a veth pair `if_a` (in `a`) ⟷ `if_b` (in `b`), brings both up and adds the
/// addresses (`"192.0.2.2/24"`, `"2001:db8:1::2/64"`; IPv6 ones without DAD).
pub fn veth_pair(a: &Netns, if_a: &str, addrs_a: &[&str], b: &Netns, if_b: &str, addrs_b: &[&str]) {
    a.exec_ok(&[
        "ip",
        "link",
        "add",
        if_a,
        "type",
        "veth",
        "peer",
        "name",
        if_b,
        "netns",
        b.name(),
    ]);
    for (ns, ifname, addrs) in [(a, if_a, addrs_a), (b, if_b, addrs_b)] {
        for addr in addrs {
            if addr.contains(':') {
                ns.exec_ok(&["ip", "-6", "addr", "add", addr, "dev", ifname, "nodad"]);
            } else {
                ns.exec_ok(&["ip", "addr", "add", addr, "dev", ifname]);
            }
        }
        ns.exec_ok(&["ip", "link", "set", ifname, "up"]);
    }
}

/// Loads an nft ruleset into `ns`; panics with nft's message and the ruleset on failure.
pub fn nft_load(ns: &Netns, ruleset: &str) {
    let out = ns.exec_stdin(&["nft", "-f", "-"], ruleset.as_bytes());
    assert!(
        out.status.success(),
        "[{}] nft -f failed: {}\n{ruleset}",
        ns.name(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the router's nft ruleset adds on top of plain `ct state` tracking.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabOptions {
    /// SNAT for TCP port [`SNAT_PORT`] and DNAT [`DNAT_VIP`]:[`DNAT_PORT`] → server:[`DNAT_TO_PORT`].
    pub nat: bool,
    /// `ct helper "ftp"` on TCP port 21 (fills the expectation table).
    pub ftp: bool,
    /// `ct zone set` [`ZONE`] for UDP port [`ZONE_PORT`].
    pub zone: bool,
    /// `ct mark set` [`MARK`] for TCP port [`MARK_PORT`].
    pub mark: bool,
    /// `ct label set` [`LABEL`] for TCP port [`LABEL_PORT`]. The caller must hold
    /// [`super::GlobalLock`] and have written [`CONNLABEL_FILES`] (see
    /// [`Lab::connlabel_conf`]).
    pub labels: bool,
}

/// Three namespaces (client, router, server) with the router tracking connections.
pub struct Lab {
    /// Where traffic starts.
    pub client: Netns,
    /// Forwards and tracks: the table under test.
    pub router: Netns,
    /// Where servers listen.
    pub server: Netns,
}

impl Lab {
    /// Builds the topology and loads the router ruleset.
    pub fn new(opts: LabOptions) -> Lab {
        let lab = Lab {
            client: Netns::new(),
            router: Netns::new(),
            server: Netns::new(),
        };
        veth_pair(
            &lab.client,
            "c0",
            &["192.0.2.2/24", "2001:db8:1::2/64"],
            &lab.router,
            "r0",
            &["192.0.2.1/24", "2001:db8:1::1/64"],
        );
        veth_pair(
            &lab.router,
            "r1",
            &["198.51.100.1/24", "2001:db8:2::1/64"],
            &lab.server,
            "s0",
            &["198.51.100.2/24", "2001:db8:2::2/64"],
        );
        lab.client.sh_ok(
            "ip route add default via 192.0.2.1 && ip -6 route add default via 2001:db8:1::1",
        );
        lab.server.sh_ok(
            "ip route add default via 198.51.100.1 && ip -6 route add default via 2001:db8:2::1",
        );
        lab.router.sh_ok(
            "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
             net.netfilter.nf_conntrack_acct=0",
        );
        nft_load(&lab.router, &Self::router_ruleset(opts));
        // The server drops BLACKHOLE_PORT silently, so such flows stay UNREPLIED without ICMP.
        nft_load(
            &lab.server,
            &format!(
                "table inet ctkit_srv {{\n  chain input {{\n    type filter hook input priority filter;\n    \
                 udp dport {BLACKHOLE_PORT} drop\n  }}\n}}\n"
            ),
        );
        lab
    }

    /// The router's nft ruleset text for `opts`.
    pub fn router_ruleset(opts: LabOptions) -> String {
        let mut r = String::from("table inet ctkit {\n");
        if opts.ftp {
            r += "  ct helper ftp-std { type \"ftp\" protocol tcp; }\n";
        }
        r += "  chain rawpre {\n    type filter hook prerouting priority raw;\n";
        if opts.zone {
            r += &format!(
                "    iifname \"r0\" udp dport {ZONE_PORT} ct zone set {ZONE}\n    \
                 iifname \"r1\" udp sport {ZONE_PORT} ct zone set {ZONE}\n"
            );
        }
        r += "  }\n  chain helpers {\n    type filter hook prerouting priority filter;\n";
        if opts.ftp {
            r += "    tcp dport 21 ct helper set \"ftp-std\"\n";
        }
        r += "  }\n  chain tracked {\n    type filter hook forward priority filter; policy accept;\n";
        if opts.mark {
            r += &format!("    tcp dport {MARK_PORT} ct mark set {MARK}\n");
        }
        if opts.labels {
            r += &format!("    tcp dport {LABEL_PORT} ct label set \"{LABEL}\"\n");
        }
        r += "    ct state established,related accept\n    ct state new accept\n  }\n}\n";
        if opts.nat {
            r += &format!(
                "table ip ctkit_nat {{\n  chain dnatpre {{\n    type nat hook prerouting priority dstnat;\n    \
                 ip daddr {DNAT_VIP} tcp dport {DNAT_PORT} dnat to {SERVER4}:{DNAT_TO_PORT}\n  }}\n  \
                 chain snatpost {{\n    type nat hook postrouting priority srcnat;\n    \
                 oifname \"r1\" tcp dport {SNAT_PORT} snat to {ROUTER_S4}\n  }}\n}}\n"
            );
        }
        r
    }

    /// Long timeouts in the router's namespace (per-namespace sysctls), so that no entry of a
    /// test's traffic expires between two tools' looks at the table on a loaded machine.
    pub fn keep_entries(&self) {
        self.router.sh_ok(
            "for t in icmp_timeout icmpv6_timeout udp_timeout udp_timeout_stream \
             tcp_timeout_time_wait tcp_timeout_close tcp_timeout_syn_sent tcp_timeout_fin_wait \
             tcp_timeout_close_wait tcp_timeout_last_ack generic_timeout; do \
             sysctl -qw net.netfilter.nf_conntrack_$t=3600; done",
        );
    }

    /// Content for /etc/xtables/connlabel.conf defining [`LABEL`].
    pub fn connlabel_conf() -> String {
        format!("{LABEL_BIT} {LABEL}\n")
    }

    /// Waits until the router's table (flows and expectations, timeouts normalised) is the
    /// same in two consecutive looks 50 ms apart (at most ~3 s), so that two tools run one
    /// after the other see the same table.
    pub fn settle(&self) {
        let mut last = table_snapshot(&self.router);
        for _ in 0..60 {
            std::thread::sleep(Duration::from_millis(50));
            let now = table_snapshot(&self.router);
            if now == last {
                return;
            }
            last = now;
        }
    }
}
