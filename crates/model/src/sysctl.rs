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
}
