//! The conntrack sysctls (`/proc/sys/net/netfilter/nf_conntrack_*`) as data: name, kernel
//! default, unit and one-line meaning.
//!
//! Defaults are kernel 6.18's, read from a fresh network namespace of a 6.18.44 kernel and
//! checked against Documentation/networking/nf_conntrack-sysctl.rst. Sizes the kernel computes
//! at boot (`nf_conntrack_max`, `_buckets`, `_expect_max`) have no fixed default. The
//! `sysctl` view, `doctor` and the userspace tracker's configuration all read this one table,
//! so a name means the same everywhere.

/// The unit of a sysctl's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Seconds (the timeouts).
    Seconds,
    /// A count of entries.
    Entries,
    /// A count of bytes.
    Bytes,
    /// 0 or 1.
    Bool,
    /// A small enumerated setting (`nf_conntrack_events`: 0, 1, 2; `log_invalid`: a protocol).
    Mode,
}

/// A sysctl's kernel default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    /// The same on every machine.
    Fixed(u64),
    /// Computed from the machine's memory at boot (or from another sysctl).
    Computed,
    /// Read-only: the kernel reports it (`nf_conntrack_count`).
    ReadOnly,
}

/// One conntrack sysctl.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sysctl {
    /// The file name under `/proc/sys/net/netfilter/` (`sysctl net.netfilter.NAME`).
    pub name: &'static str,
    /// Kernel 6.18's default.
    pub default: Default,
    /// The unit.
    pub unit: Unit,
    /// What it does, in one line.
    pub meaning: &'static str,
}

const fn s(name: &'static str, default: u64, meaning: &'static str) -> Sysctl {
    Sysctl {
        name,
        default: Default::Fixed(default),
        unit: Unit::Seconds,
        meaning,
    }
}

const fn v(name: &'static str, default: Default, unit: Unit, meaning: &'static str) -> Sysctl {
    Sysctl {
        name,
        default,
        unit,
        meaning,
    }
}

/// Where the sysctls live.
pub const PROC_DIR: &str = "/proc/sys/net/netfilter";

/// Every conntrack sysctl of kernel 6.18, table-wide settings first, then timeouts by protocol.
pub const SYSCTLS: &[Sysctl] = &[
    v(
        "nf_conntrack_max",
        Default::Computed,
        Unit::Entries,
        "most entries the table may hold; new flows beyond it are early-dropped or dropped",
    ),
    v(
        "nf_conntrack_count",
        Default::ReadOnly,
        Unit::Entries,
        "entries in the table now (includes unconfirmed and expired-but-not-reaped ones)",
    ),
    v(
        "nf_conntrack_buckets",
        Default::Computed,
        Unit::Entries,
        "hash table buckets (writable only in the initial namespace)",
    ),
    v(
        "nf_conntrack_expect_max",
        Default::Computed,
        Unit::Entries,
        "most expectations (helper-announced related flows) the table may hold",
    ),
    v(
        "nf_conntrack_acct",
        Default::Fixed(0),
        Unit::Bool,
        "count packets and bytes per entry (new entries only)",
    ),
    v(
        "nf_conntrack_timestamp",
        Default::Fixed(0),
        Unit::Bool,
        "record start and stop time per entry (new entries only)",
    ),
    v(
        "nf_conntrack_events",
        Default::Fixed(2),
        Unit::Mode,
        "event reporting: 0 off, 1 on, 2 only while a listener is subscribed",
    ),
    v(
        "nf_conntrack_checksum",
        Default::Fixed(1),
        Unit::Bool,
        "verify checksums of incoming packets; bad ones are INVALID",
    ),
    v(
        "nf_conntrack_log_invalid",
        Default::Fixed(0),
        Unit::Mode,
        "log INVALID packets of this protocol number (255 = all) to the kernel log",
    ),
    v(
        "nf_conntrack_helper",
        Default::Fixed(0),
        Unit::Bool,
        "attach helpers by port automatically (removed in 6.0; explicit `ct helper` rules instead)",
    ),
    v(
        "nf_conntrack_tcp_loose",
        Default::Fixed(1),
        Unit::Bool,
        "pick up TCP connections already in progress (a mid-stream ACK creates an entry)",
    ),
    v(
        "nf_conntrack_tcp_be_liberal",
        Default::Fixed(0),
        Unit::Bool,
        "mark only out-of-window RSTs INVALID; accept every other out-of-window segment",
    ),
    v(
        "nf_conntrack_tcp_ignore_invalid_rst",
        Default::Fixed(0),
        Unit::Bool,
        "accept out-of-window RSTs instead of marking them INVALID",
    ),
    v(
        "nf_conntrack_tcp_max_retrans",
        Default::Fixed(3),
        Unit::Entries,
        "retransmissions without an ACK before the max_retrans timeout applies",
    ),
    s(
        "nf_conntrack_tcp_timeout_syn_sent",
        120,
        "TCP: SYN seen, no answer yet",
    ),
    s(
        "nf_conntrack_tcp_timeout_syn_recv",
        60,
        "TCP: SYN/ACK seen, handshake not finished",
    ),
    s(
        "nf_conntrack_tcp_timeout_established",
        432000,
        "TCP: idle established connection (5 days)",
    ),
    s(
        "nf_conntrack_tcp_timeout_fin_wait",
        120,
        "TCP: one side sent FIN",
    ),
    s(
        "nf_conntrack_tcp_timeout_close_wait",
        60,
        "TCP: FIN acknowledged, other side still open",
    ),
    s(
        "nf_conntrack_tcp_timeout_last_ack",
        30,
        "TCP: both FINs sent, last ACK awaited",
    ),
    s(
        "nf_conntrack_tcp_timeout_time_wait",
        120,
        "TCP: closed, waiting for stray segments",
    ),
    s("nf_conntrack_tcp_timeout_close", 10, "TCP: closed by RST"),
    s(
        "nf_conntrack_tcp_timeout_max_retrans",
        300,
        "TCP: cap after tcp_max_retrans unanswered retransmissions",
    ),
    s(
        "nf_conntrack_tcp_timeout_unacknowledged",
        300,
        "TCP: cap while sent data is unacknowledged",
    ),
    s(
        "nf_conntrack_udp_timeout",
        30,
        "UDP: unreplied flow, and the first 2 s of a replied one",
    ),
    s(
        "nf_conntrack_udp_timeout_stream",
        120,
        "UDP: flow with traffic both ways (ASSURED)",
    ),
    s(
        "nf_conntrack_icmp_timeout",
        30,
        "ICMP: echo and other request/reply pairs",
    ),
    s(
        "nf_conntrack_icmpv6_timeout",
        30,
        "ICMPv6: echo and other request/reply pairs",
    ),
    s(
        "nf_conntrack_generic_timeout",
        600,
        "protocols without their own tracker",
    ),
    s("nf_conntrack_gre_timeout", 30, "GRE: unreplied"),
    s(
        "nf_conntrack_gre_timeout_stream",
        180,
        "GRE: traffic both ways",
    ),
    s("nf_conntrack_sctp_timeout_closed", 10, "SCTP: CLOSED"),
    s(
        "nf_conntrack_sctp_timeout_cookie_wait",
        3,
        "SCTP: INIT sent",
    ),
    s(
        "nf_conntrack_sctp_timeout_cookie_echoed",
        3,
        "SCTP: COOKIE ECHO sent",
    ),
    s(
        "nf_conntrack_sctp_timeout_established",
        210,
        "SCTP: established association",
    ),
    s(
        "nf_conntrack_sctp_timeout_shutdown_sent",
        3,
        "SCTP: SHUTDOWN sent",
    ),
    s(
        "nf_conntrack_sctp_timeout_shutdown_recd",
        3,
        "SCTP: SHUTDOWN received",
    ),
    s(
        "nf_conntrack_sctp_timeout_shutdown_ack_sent",
        3,
        "SCTP: SHUTDOWN ACK sent",
    ),
    s(
        "nf_conntrack_sctp_timeout_heartbeat_sent",
        30,
        "SCTP: HEARTBEAT sent on an idle association",
    ),
    s(
        "nf_conntrack_frag6_timeout",
        60,
        "IPv6 reassembly: how long fragments wait",
    ),
    v(
        "nf_conntrack_frag6_high_thresh",
        Default::Fixed(4194304),
        Unit::Bytes,
        "IPv6 reassembly: memory above which fragments are dropped",
    ),
    v(
        "nf_conntrack_frag6_low_thresh",
        Default::Fixed(3145728),
        Unit::Bytes,
        "IPv6 reassembly: memory reclaim target",
    ),
];

/// The sysctl called `name`; `net.netfilter.` in front of the name is accepted.
pub fn find(name: &str) -> Option<&'static Sysctl> {
    let name = name
        .strip_prefix("net.netfilter.")
        .or_else(|| name.strip_prefix("net/netfilter/"))
        .unwrap_or(name);
    SYSCTLS.iter().find(|s| s.name == name)
}

/// The fixed kernel default of `name`, if it has one.
pub fn default_of(name: &str) -> Option<u64> {
    match find(name)?.default {
        Default::Fixed(v) => Some(v),
        _ => None,
    }
}

/// A standard's lower bound on a sysctl's value (a NAT that times out sooner breaks it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Floor {
    /// The lowest value the standard allows.
    pub value: u64,
    /// The standard and requirement (`RFC 5382 REQ-5`).
    pub source: &'static str,
}

/// Advice on one sysctl: what the standards or common practice say about its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advice {
    /// The sysctl's name (as in [`SYSCTLS`]).
    pub name: &'static str,
    /// The standard's minimum, where one exists.
    pub floor: Option<Floor>,
    /// The advice, one or two sentences.
    pub text: &'static str,
}

const fn floor(value: u64, source: &'static str) -> Option<Floor> {
    Some(Floor { value, source })
}

/// Advice for the sysctls where a standard or a well-known practice exists, parallel to
/// [`SYSCTLS`].
///
/// Sources: RFC 5382 (NAT behavioral requirements for TCP) REQ-5: the established idle timeout
/// MUST NOT be less than 2 h 4 min (7440 s, the 2 h keepalive interval of RFC 1122 plus room
/// for its probes), the transitory one not less than 4 min; RFC 4787 (UDP) REQ-5: a UDP
/// mapping MUST NOT expire in less than 2 min, 5 min or more RECOMMENDED; RFC 5508 (ICMP)
/// REQ-1: an ICMP query mapping MUST NOT expire in less than 60 s.
pub const ADVICE: &[Advice] = &[
    Advice {
        name: "nf_conntrack_max",
        floor: None,
        text: "size it to peak entries plus headroom (`ctkit sysctl size`); when full, new flows \
               are dropped (`ctkit stats`: drop, early_drop)",
    },
    Advice {
        name: "nf_conntrack_buckets",
        floor: None,
        text: "keep it equal to nf_conntrack_max (the kernel default: chains average 2, as each \
               entry is hashed in both directions); the kernel rounds it up to a multiple of 512",
    },
    Advice {
        name: "nf_conntrack_acct",
        floor: None,
        text: "1 adds packet/byte counters to every new entry (a few % CPU on busy routers); \
               needed for per-flow traffic views",
    },
    Advice {
        name: "nf_conntrack_tcp_timeout_established",
        floor: floor(7440, "RFC 5382 REQ-5"),
        text: "the 5-day default is the usual table filler on NAT gateways (peers that vanish \
               without FIN or RST stay 5 days); 86400 (1 day) or lower frees them sooner while \
               connections with standard 2 h keepalives live on; never below 7440 (2 h 4 min)",
    },
    Advice {
        name: "nf_conntrack_tcp_timeout_syn_sent",
        floor: None,
        text: "RFC 5382 asks NATs for at least 240 s in transitory states; Linux keeps 120 s so \
               SYN floods and scans leave the table sooner",
    },
    Advice {
        name: "nf_conntrack_tcp_timeout_time_wait",
        floor: None,
        text: "120 s is 2 × the 60 s TIME_WAIT of Linux hosts; lowering it below that lets a \
               reused port hit a stale entry",
    },
    Advice {
        name: "nf_conntrack_udp_timeout",
        floor: None,
        text: "unreplied UDP (scans, one-way DNS queries); low values free the table quickly; \
               replied flows use udp_timeout_stream",
    },
    Advice {
        name: "nf_conntrack_udp_timeout_stream",
        floor: floor(120, "RFC 4787 REQ-5"),
        text: "a NAT UDP mapping must not expire in less than 2 min (120 s); 300 s (5 min) or \
               more is RFC 4787's recommendation for NAT gateways (VoIP, VPNs, games)",
    },
    Advice {
        name: "nf_conntrack_icmp_timeout",
        floor: floor(60, "RFC 5508 REQ-1"),
        text: "an ICMP query mapping on a NAT must not expire in less than 60 s; the 30 s \
               default is below it (matters for long-interval ping monitors behind NAT)",
    },
    Advice {
        name: "nf_conntrack_icmpv6_timeout",
        floor: None,
        text: "IPv6 is usually not NATed; the 30 s default only bounds echo entries",
    },
    Advice {
        name: "nf_conntrack_generic_timeout",
        floor: None,
        text: "applies to every protocol without a tracker (ESP, OSPF, …); 600 s keeps \
               one-way tunnels alive; lower it only if such entries fill the table",
    },
    Advice {
        name: "nf_conntrack_gre_timeout_stream",
        floor: None,
        text: "PPTP and GRE tunnels send keepalives every 60 s; keep it above that",
    },
    Advice {
        name: "nf_conntrack_tcp_be_liberal",
        floor: None,
        text: "1 hides window-tracking problems (asymmetric routing, offload) instead of \
               fixing them; prefer 0",
    },
    Advice {
        name: "nf_conntrack_tcp_loose",
        floor: None,
        text: "0 stops picking up connections mid-stream (stricter firewall; breaks flows \
               that survive a conntrack flush or a failover)",
    },
];

/// The advice on `name`, if any.
pub fn advice_of(name: &str) -> Option<&'static Advice> {
    let s = find(name)?;
    ADVICE.iter().find(|a| a.name == s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        for (i, a) in SYSCTLS.iter().enumerate() {
            assert!(a.name.starts_with("nf_conntrack_"), "{}", a.name);
            assert!(
                SYSCTLS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn find_accepts_the_dotted_name() {
        assert_eq!(
            default_of("net.netfilter.nf_conntrack_tcp_timeout_established"),
            Some(432000)
        );
        assert_eq!(default_of("nf_conntrack_udp_timeout_stream"), Some(120));
        assert_eq!(default_of("nf_conntrack_max"), None);
        assert!(find("nf_conntrack_bogus").is_none());
    }

    #[test]
    fn advice_names_are_sysctls_and_floors_sit_at_or_below_the_defaults_they_bound() {
        for (i, a) in ADVICE.iter().enumerate() {
            assert!(find(a.name).is_some(), "{}", a.name);
            assert!(
                ADVICE[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
        let est = advice_of("net.netfilter.nf_conntrack_tcp_timeout_established").unwrap();
        assert_eq!(est.floor.unwrap().value, 7440);
        assert_eq!(
            advice_of("nf_conntrack_udp_timeout_stream")
                .unwrap()
                .floor
                .unwrap()
                .value,
            120
        );
        // The 6.18 ICMP default (30 s) is below RFC 5508's 60 s: advice must say so.
        assert!(default_of("nf_conntrack_icmp_timeout").unwrap() < 60);
        assert!(advice_of("nf_conntrack_events").is_none());
    }
}
