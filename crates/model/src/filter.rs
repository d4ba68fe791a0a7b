//! The userspace flow filter conntrack(8) applies to dumped and event entries.
//!
//! Follows conntrack-tools 1.4.7 `src/conntrack.c` (`nfct_filter`: `filter_nat`, `filter_mark`,
//! `filter_label`, `filter_network`, then `nfct_cmp(obj, ct, NFCT_CMP_ALL | NFCT_CMP_MASK)` when
//! a comparison option was given) and libnetfilter_conntrack `src/conntrack/compare.c` and
//! `objopt.c` (`NFCT_GOPT_IS_SNAT/DNAT/SPAT/DPAT`). Every `Option` field is "attribute given";
//! with `NFCT_CMP_MASK` a given attribute the entry lacks is a mismatch. `matches_update` is the
//! different selection `-U` uses. Nothing here allocates.

use crate::flow::{Flow, Labels};
use crate::proto::{self, Family};
use crate::protoinfo::ProtoInfo;
use crate::status::Status;
use crate::tuple::Tuple;
use std::net::IpAddr;

/// Tuple attributes to compare (one direction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TupleMatch {
    /// `ATTR_ORIG_L3PROTO` / `ATTR_REPL_L3PROTO`.
    pub l3: Option<Family>,
    /// `ATTR_ORIG_L4PROTO` / `ATTR_REPL_L4PROTO`.
    pub proto: Option<u8>,
    /// Source address (exact; CIDR goes through [`Network`]).
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// Source port / GRE key (compared only for port protocols, as libnetfilter_conntrack).
    pub sport: Option<u16>,
    /// Destination port.
    pub dport: Option<u16>,
    /// Per-direction zone (`ATTR_ORIG_ZONE` / `ATTR_REPL_ZONE`).
    pub zone: Option<u16>,
}

/// ICMP attributes (`ATTR_ICMP_TYPE/CODE/ID`, compared on the original tuple).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IcmpMatch {
    /// Type.
    pub icmp_type: Option<u8>,
    /// Code.
    pub code: Option<u8>,
    /// Identifier.
    pub id: Option<u16>,
}

/// A NAT target to look for (`-n`/`-g`/`-j [IP[:port]]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatMatch {
    /// The address. conntrack 1.4.7 only compares IPv4 addresses (`ATTR_SNAT_IPV4`/
    /// `ATTR_DNAT_IPV4`); an IPv6 address here is ignored, exactly as it does.
    pub addr: Option<IpAddr>,
    /// The port, compared with the reply tuple.
    pub port: Option<u16>,
}

/// A CIDR network on the original source or destination (`filter_network`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    /// Family the entry must have (`filter_family`); the entry's original l3 must equal it.
    pub family: Family,
    /// The address already masked.
    pub network: IpAddr,
    /// The mask.
    pub mask: IpAddr,
}

/// conntrack's userspace filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowFilter {
    /// Run the `nfct_cmp(ALL|MASK)` part (conntrack: any `CT_COMPARISON` option given).
    pub compare: bool,
    /// Original tuple attributes.
    pub orig: TupleMatch,
    /// Reply tuple attributes.
    pub reply: TupleMatch,
    /// ICMP attributes.
    pub icmp: IcmpMatch,
    /// `ATTR_ID`.
    pub id: Option<u32>,
    /// `ATTR_MARK` on the comparison object (conntrack never sets it for filters).
    pub mark_exact: Option<u32>,
    /// `ATTR_TIMEOUT` (exact).
    pub timeout: Option<u32>,
    /// `ATTR_STATUS`: the entry's status must contain these bits (`cmp_status` with MASK).
    pub status_subset: Option<u32>,
    /// `(value, mask)`: `(status & mask) == value`, what the kernel dump filter does for `-L`
    /// (not part of conntrack's userspace check; for callers without kernel filtering).
    pub status_masked: Option<(u32, u32)>,
    /// `ATTR_TCP_STATE`.
    pub tcp_state: Option<u8>,
    /// `ATTR_SCTP_STATE`.
    pub sctp_state: Option<u8>,
    /// `ATTR_DCCP_STATE`.
    pub dccp_state: Option<u8>,
    /// `ATTR_ZONE`.
    pub zone: Option<u16>,
    /// conntrack 1.4.7's `-j IP` also writes the template's original IPv4 source (its option
    /// tables have no `j` row, so the address lands in attribute 0, `ATTR_ORIG_IPV4_SRC`, and
    /// the family byte over it): once `nfct_cmp` runs, no entry matches. A later IPv4 `-s`
    /// (or an IPv4 `-s` CIDR) overwrites it.
    pub orig_src_unmatchable: bool,
    /// `-m VALUE/MASK`: `(mark & mask) == value`, entry must carry a mark (`filter_mark`).
    pub mark: Option<(u32, u32)>,
    /// `-n`.
    pub src_nat: Option<NatMatch>,
    /// `-g`.
    pub dst_nat: Option<NatMatch>,
    /// `-j`: match SNAT or DNAT (uses `src_nat`/`dst_nat` targets; they may be unset).
    pub any_nat: Option<NatMatch>,
    /// `-l`: every bit must be set (`filter_label`).
    pub labels: Option<Labels>,
    /// CIDR on the original source.
    pub src_net: Option<Network>,
    /// CIDR on the original destination.
    pub dst_net: Option<Network>,
    /// Family of the message/entry (`-E` checks `nfgen_family`); `None` = any.
    pub family: Option<Family>,
    /// `-U`: compare the original tuple (conntrack: any of `-s -d -p` given).
    pub update_cmp_orig: bool,
    /// `-U`: compare the reply tuple (any of `-r -q -p` given).
    pub update_cmp_repl: bool,
}

/// `__cmp` of compare.c: both set → compare; only the filter has it → `!mask`; else match.
fn cmp<T, U>(want: Option<T>, have: Option<U>, mask: bool, eq: impl Fn(T, U) -> bool) -> bool {
    match (want, have) {
        (Some(w), Some(h)) => eq(w, h),
        (Some(_), None) => !mask,
        _ => true,
    }
}

fn gate<T>(present: bool, x: T) -> Option<T> {
    if present {
        Some(x)
    } else {
        None
    }
}

fn ip_eq(a: IpAddr, b: IpAddr) -> bool {
    a == b
}

fn masked(addr: IpAddr, mask: IpAddr) -> Option<IpAddr> {
    match (addr, mask) {
        (IpAddr::V4(a), IpAddr::V4(m)) => Some(IpAddr::V4((a.to_bits() & m.to_bits()).into())),
        (IpAddr::V6(a), IpAddr::V6(m)) => Some(IpAddr::V6((a.to_bits() & m.to_bits()).into())),
        _ => None,
    }
}

/// `NFCT_GOPT_IS_SNAT`: SRC_NAT_DONE and the reply destination differs from the original source.
pub fn is_snat(f: &Flow) -> bool {
    f.status.is_some_and(|s| s.intersects(Status::SRC_NAT_DONE)) && f.reply.dst != f.orig.src
}

/// `NFCT_GOPT_IS_DNAT`: DST_NAT_DONE and the reply source differs from the original destination.
pub fn is_dnat(f: &Flow) -> bool {
    f.status.is_some_and(|s| s.intersects(Status::DST_NAT_DONE)) && f.reply.src != f.orig.dst
}

/// `NFCT_GOPT_IS_SPAT`: source port translated.
pub fn is_spat(f: &Flow) -> bool {
    f.status.is_none_or(|s| s.intersects(Status::SRC_NAT_DONE))
        && l4dst_all(&f.reply) != l4src_all(&f.orig)
}

/// libnetfilter_conntrack's `l4src.all` bytes: the source port, ICMP id or GRE key.
fn l4src_all(t: &Tuple) -> [u8; 2] {
    match t.proto {
        proto::IPPROTO_ICMP | proto::IPPROTO_ICMPV6 => t.icmp_id.to_be_bytes(),
        _ => t.sport.to_be_bytes(),
    }
}

/// libnetfilter_conntrack's `l4dst.all` bytes: the destination port, ICMP type and code, or
/// GRE key.
fn l4dst_all(t: &Tuple) -> [u8; 2] {
    match t.proto {
        proto::IPPROTO_ICMP | proto::IPPROTO_ICMPV6 => [t.icmp_type, t.icmp_code],
        _ => t.dport.to_be_bytes(),
    }
}

/// `NFCT_GOPT_IS_DPAT`: destination port translated.
pub fn is_dpat(f: &Flow) -> bool {
    f.status.is_none_or(|s| s.intersects(Status::DST_NAT_DONE))
        && l4src_all(&f.reply) != l4dst_all(&f.orig)
}

/// One side of `filter_nat`: does the entry show this kind of NAT to `want`?
fn nat_side(f: &Flow, want: &NatMatch, snat: bool) -> bool {
    let (is_nat, is_pat) = if snat {
        (is_snat(f), is_spat(f))
    } else {
        (is_dnat(f), is_dpat(f))
    };
    // The reply-tuple fields a SNAT (reply dst) or DNAT (reply src) shows up in.
    let (raddr, rport) = if snat {
        (f.reply.dst, f.reply.dport)
    } else {
        (f.reply.src, f.reply.sport)
    };
    let mut has = false;
    let check_address = matches!(want.addr, Some(IpAddr::V4(_)));
    if let Some(a) = want.addr.filter(|_| check_address) {
        has = is_nat && a == raddr;
    }
    if let Some(p) = want.port {
        let ret = is_pat && p == rport;
        if check_address && has && !ret {
            has = false;
        }
        if !check_address && ret {
            has = true;
        }
    }
    if !check_address && want.port.is_none() && (is_nat || is_pat) {
        has = true;
    }
    has
}

impl FlowFilter {
    /// `filter_nat`: whether the entry passes the NAT options.
    pub fn nat_ok(&self, f: &Flow) -> bool {
        if let Some(any) = &self.any_nat {
            let s = self.src_nat.as_ref().unwrap_or(any);
            let d = self.dst_nat.as_ref().unwrap_or(any);
            return nat_side(f, s, true) || nat_side(f, d, false);
        }
        match (&self.src_nat, &self.dst_nat) {
            (Some(s), Some(d)) => nat_side(f, s, true) && nat_side(f, d, false),
            (Some(s), None) => nat_side(f, s, true),
            (None, Some(d)) => nat_side(f, d, false),
            (None, None) => true,
        }
    }

    /// `filter_mark`.
    pub fn mark_ok(&self, f: &Flow) -> bool {
        match self.mark {
            Some((value, mask)) => f.mark.is_some_and(|m| m & mask == value),
            None => true,
        }
    }

    /// `filter_label`: every requested label bit set (an entry without labels fails).
    pub fn labels_ok(&self, f: &Flow) -> bool {
        let Some(want) = &self.labels else {
            return true;
        };
        let Some(have) = &f.labels else {
            return false;
        };
        want.bits().all(|b| have.is_set(b))
    }

    /// `filter_network`: CIDR checks on the original addresses.
    pub fn network_ok(&self, f: &Flow) -> bool {
        for (net, addr) in [(&self.src_net, f.orig.src), (&self.dst_net, f.orig.dst)] {
            if let Some(n) = net {
                if !f.has_orig || f.orig.family() != n.family {
                    return false;
                }
                if masked(addr, n.mask) != Some(n.network) {
                    return false;
                }
            }
        }
        true
    }

    fn tuple_ok(
        &self,
        want: &TupleMatch,
        have: &Tuple,
        present: bool,
        mask: bool,
        orig: bool,
    ) -> bool {
        if !cmp(want.l3, gate(present, have.family()), mask, |a, b| a == b) {
            return false;
        }
        if let Some(p) = want.proto {
            match gate(present, have.proto) {
                None if mask => return false,
                None => {}
                Some(hp) => {
                    if hp != p {
                        return false;
                    }
                    if proto::has_ports(p) {
                        if !cmp(want.sport, Some(have.sport), mask, |a, b| a == b)
                            || !cmp(want.dport, Some(have.dport), mask, |a, b| a == b)
                        {
                            return false;
                        }
                    } else if orig && (p == proto::IPPROTO_ICMP || p == proto::IPPROTO_ICMPV6) {
                        // ATTR_ICMP_* belong to the original tuple (libnetfilter_conntrack compare.c).
                        let i = &self.icmp;
                        if !cmp(i.id, Some(have.icmp_id), mask, |a, b| a == b)
                            || !cmp(i.code, Some(have.icmp_code), mask, |a, b| a == b)
                            || !cmp(i.icmp_type, Some(have.icmp_type), mask, |a, b| a == b)
                        {
                            return false;
                        }
                    }
                }
            }
        }
        cmp(want.src, gate(present, have.src), mask, ip_eq)
            && cmp(want.dst, gate(present, have.dst), mask, ip_eq)
            // ATTR_ORIG_ZONE/ATTR_REPL_ZONE compare non-strictly: an entry without
            // CTA_TUPLE_ZONE (the kernel sends it only for a one-direction zone) reads as 0.
            && cmp(want.zone, Some(have.zone.unwrap_or(0)), mask, |a, b| a == b)
    }

    fn meta_ok(&self, f: &Flow) -> bool {
        let tcp = match f.protoinfo {
            Some(ProtoInfo::Tcp(t)) => t.state,
            _ => None,
        };
        let sctp = match f.protoinfo {
            Some(ProtoInfo::Sctp(s)) => s.state,
            _ => None,
        };
        let dccp = match f.protoinfo {
            Some(ProtoInfo::Dccp(d)) => d.state,
            _ => None,
        };
        cmp(self.id, f.id, true, |a, b| a == b)
            && cmp(self.mark_exact, f.mark, true, |a, b| a == b)
            && cmp(self.timeout, f.timeout, true, |a, b| a == b)
            && cmp(self.status_subset, f.status, true, |a, b: Status| {
                b.0 & a == a
            })
            && cmp(self.tcp_state, tcp, true, |a, b| a == b)
            && cmp(self.sctp_state, sctp, true, |a, b| a == b)
            && cmp(self.dccp_state, dccp, true, |a, b| a == b)
            // The kernel omits CTA_ZONE for zone 0: an entry without it is in zone 0.
            && cmp(self.zone, Some(f.zone.unwrap_or(0)), true, |a, b| a == b)
        // ATTR_SECMARK is not part of nfct_cmp (compare.c has no cmp_secmark): `-c` never
        // filters, so it is not in this struct.
    }

    /// `nfct_cmp(obj, ct, NFCT_CMP_ALL | NFCT_CMP_MASK)`.
    pub fn cmp_all_mask(&self, f: &Flow) -> bool {
        if self.orig_src_unmatchable {
            return false;
        }
        self.meta_ok(f)
            && self.tuple_ok(&self.orig, &f.orig, f.has_orig, true, true)
            && self.tuple_ok(&self.reply, &f.reply, f.has_reply, true, false)
    }

    /// Whether conntrack would show (`-L`, `-E`) or delete (`-D`) this entry.
    pub fn matches(&self, f: &Flow) -> bool {
        if let Some(fam) = self.family {
            if f.has_orig && f.orig.family() != fam {
                return false;
            }
        }
        if let Some((value, mask)) = self.status_masked {
            if f.status_bits().0 & mask != value {
                return false;
            }
        }
        if !self.nat_ok(f) || !self.mark_ok(f) || !self.labels_ok(f) || !self.network_ok(f) {
            return false;
        }
        !self.compare || self.cmp_all_mask(f)
    }

    /// Whether `-U` selects this entry (`mnl_nfct_update_cb`: NAT, labels, CIDR, id, then
    /// `nfct_cmp` of the original/reply tuple without MASK semantics).
    pub fn matches_update(&self, f: &Flow) -> bool {
        if !self.nat_ok(f) || !self.labels_ok(f) || !self.network_ok(f) {
            return false;
        }
        if let (Some(a), Some(b)) = (self.id, f.id) {
            if a != b {
                return false;
            }
        }
        if self.update_cmp_orig && !self.tuple_ok(&self.orig, &f.orig, f.has_orig, false, true) {
            return false;
        }
        if self.update_cmp_repl && !self.tuple_ok(&self.reply, &f.reply, f.has_reply, false, false)
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protoinfo::TcpInfo;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn tcp_flow() -> Flow {
        Flow {
            orig: Tuple {
                src: ip("192.0.2.1"),
                dst: ip("198.51.100.1"),
                proto: 6,
                sport: 40000,
                dport: 80,
                ..Tuple::default()
            },
            reply: Tuple {
                src: ip("198.51.100.1"),
                dst: ip("192.0.2.1"),
                proto: 6,
                sport: 80,
                dport: 40000,
                ..Tuple::default()
            },
            has_orig: true,
            has_reply: true,
            status: Some(Status::SEEN_REPLY | Status::ASSURED | Status::CONFIRMED),
            mark: Some(0x12),
            protoinfo: Some(ProtoInfo::Tcp(TcpInfo {
                state: Some(3),
                ..TcpInfo::default()
            })),
            ..Flow::default()
        }
    }

    fn snat_flow() -> Flow {
        let mut f = tcp_flow();
        f.reply.dst = ip("203.0.113.9");
        f.reply.dport = 5555;
        f.status = Some(Status::SEEN_REPLY | Status::SRC_NAT | Status::SRC_NAT_DONE);
        f
    }

    #[test]
    fn empty_filter_matches_everything() {
        assert!(FlowFilter::default().matches(&tcp_flow()));
    }

    #[test]
    fn orig_address_and_ports_compare_exactly() {
        let mut flt = FlowFilter {
            compare: true,
            ..FlowFilter::default()
        };
        flt.orig.src = Some(ip("192.0.2.1"));
        flt.orig.l3 = Some(Family::Ipv4);
        assert!(flt.matches(&tcp_flow()));
        flt.orig.src = Some(ip("192.0.2.2"));
        assert!(!flt.matches(&tcp_flow()));
        flt.orig.src = None;
        flt.orig.proto = Some(6);
        flt.orig.dport = Some(80);
        assert!(flt.matches(&tcp_flow()));
        flt.orig.dport = Some(81);
        assert!(!flt.matches(&tcp_flow()));
        flt.orig.proto = Some(17);
        flt.orig.dport = None;
        assert!(!flt.matches(&tcp_flow()));
    }

    #[test]
    fn family_mismatch_on_l3proto() {
        let mut flt = FlowFilter {
            compare: true,
            ..FlowFilter::default()
        };
        flt.orig.l3 = Some(Family::Ipv6);
        assert!(!flt.matches(&tcp_flow()));
    }

    #[test]
    fn compare_is_skipped_without_comparison_options() {
        let mut flt = FlowFilter::default();
        flt.orig.src = Some(ip("192.0.2.9"));
        assert!(flt.matches(&tcp_flow()));
    }

    #[test]
    fn status_is_a_subset_check_and_masked_is_kernel_style() {
        let mut flt = FlowFilter {
            compare: true,
            status_subset: Some(Status::ASSURED.0),
            ..FlowFilter::default()
        };
        assert!(flt.matches(&tcp_flow()));
        flt.status_subset = Some(Status::EXPECTED.0);
        assert!(!flt.matches(&tcp_flow()));
        // UNREPLIED: SEEN_REPLY must be clear.
        let flt = FlowFilter {
            status_masked: Some((0, Status::SEEN_REPLY.0)),
            ..FlowFilter::default()
        };
        assert!(!flt.matches(&tcp_flow()));
    }

    #[test]
    fn tcp_state_and_missing_attribute_with_mask() {
        let mut flt = FlowFilter {
            compare: true,
            tcp_state: Some(3),
            ..FlowFilter::default()
        };
        assert!(flt.matches(&tcp_flow()));
        flt.tcp_state = Some(1);
        assert!(!flt.matches(&tcp_flow()));
        let mut f = tcp_flow();
        f.protoinfo = None;
        flt.tcp_state = Some(3);
        assert!(!flt.matches(&f));
    }

    #[test]
    fn zones_compare_per_attribute() {
        let mut flt = FlowFilter {
            compare: true,
            zone: Some(7),
            ..FlowFilter::default()
        };
        let mut f = tcp_flow();
        assert!(!flt.matches(&f));
        f.zone = Some(7);
        assert!(flt.matches(&f));
        flt.orig.zone = Some(1);
        assert!(!flt.matches(&f));
        f.orig.zone = Some(1);
        assert!(flt.matches(&f));
    }

    #[test]
    fn tuple_zone_missing_reads_as_zero() {
        // conntrack 1.4.7: `--orig-zone 0` lists entries without CTA_TUPLE_ZONE,
        // `--orig-zone 7` does not (even when CTA_ZONE is 7).
        let mut flt = FlowFilter {
            compare: true,
            ..FlowFilter::default()
        };
        let mut f = tcp_flow();
        f.zone = Some(7);
        flt.orig.zone = Some(0);
        assert!(flt.matches(&f));
        flt.orig.zone = Some(7);
        assert!(!flt.matches(&f));
        flt.orig.zone = None;
        flt.reply.zone = Some(0);
        assert!(flt.matches(&f));
        f.reply.zone = Some(3);
        assert!(!flt.matches(&f));
    }

    #[test]
    fn mark_value_mask() {
        let flt = FlowFilter {
            mark: Some((0x10, 0xf0)),
            ..FlowFilter::default()
        };
        assert!(flt.matches(&tcp_flow()));
        let flt = FlowFilter {
            mark: Some((0x20, 0xf0)),
            ..FlowFilter::default()
        };
        assert!(!flt.matches(&tcp_flow()));
        let mut f = tcp_flow();
        f.mark = None;
        let flt = FlowFilter {
            mark: Some((0, 0)),
            ..FlowFilter::default()
        };
        assert!(!flt.matches(&f));
    }

    #[test]
    fn labels_are_anded_and_required() {
        let mut want = Labels::default();
        want.set(1);
        want.set(5);
        let flt = FlowFilter {
            labels: Some(want),
            ..FlowFilter::default()
        };
        let mut f = tcp_flow();
        assert!(!flt.matches(&f));
        let mut have = Labels::default();
        have.set(1);
        f.labels = Some(have);
        assert!(!flt.matches(&f));
        have.set(5);
        have.set(9);
        f.labels = Some(have);
        assert!(flt.matches(&f));
    }

    #[test]
    fn cidr_network_on_orig_source() {
        let flt = FlowFilter {
            src_net: Some(Network {
                family: Family::Ipv4,
                network: ip("192.0.2.0"),
                mask: ip("255.255.255.0"),
            }),
            ..FlowFilter::default()
        };
        assert!(flt.matches(&tcp_flow()));
        let flt = FlowFilter {
            dst_net: Some(Network {
                family: Family::Ipv4,
                network: ip("192.0.2.0"),
                mask: ip("255.255.255.0"),
            }),
            ..FlowFilter::default()
        };
        assert!(!flt.matches(&tcp_flow()));
        let flt6 = FlowFilter {
            src_net: Some(Network {
                family: Family::Ipv6,
                network: ip("2001:db8::"),
                mask: ip("ffff:ffff::"),
            }),
            ..FlowFilter::default()
        };
        assert!(!flt6.matches(&tcp_flow()));
    }

    #[test]
    fn snat_without_address_matches_any_snat() {
        let flt = FlowFilter {
            src_nat: Some(NatMatch::default()),
            ..FlowFilter::default()
        };
        assert!(flt.matches(&snat_flow()));
        assert!(!flt.matches(&tcp_flow()));
    }

    #[test]
    fn snat_address_and_port_compare_reply_destination() {
        let mut flt = FlowFilter {
            src_nat: Some(NatMatch {
                addr: Some(ip("203.0.113.9")),
                port: None,
            }),
            ..FlowFilter::default()
        };
        assert!(flt.matches(&snat_flow()));
        flt.src_nat = Some(NatMatch {
            addr: Some(ip("203.0.113.9")),
            port: Some(5555),
        });
        assert!(flt.matches(&snat_flow()));
        flt.src_nat = Some(NatMatch {
            addr: Some(ip("203.0.113.9")),
            port: Some(1),
        });
        assert!(!flt.matches(&snat_flow()));
        flt.src_nat = Some(NatMatch {
            addr: Some(ip("203.0.113.8")),
            port: None,
        });
        assert!(!flt.matches(&snat_flow()));
    }

    #[test]
    fn ipv6_nat_address_is_ignored_like_conntrack_147() {
        let flt = FlowFilter {
            src_nat: Some(NatMatch {
                addr: Some(ip("2001:db8::1")),
                port: None,
            }),
            ..FlowFilter::default()
        };
        assert!(flt.matches(&snat_flow()));
    }

    #[test]
    fn dnat_and_snat_together_mean_and_any_means_or() {
        let both = FlowFilter {
            src_nat: Some(NatMatch::default()),
            dst_nat: Some(NatMatch::default()),
            ..FlowFilter::default()
        };
        assert!(!both.matches(&snat_flow()));
        let any = FlowFilter {
            any_nat: Some(NatMatch::default()),
            ..FlowFilter::default()
        };
        assert!(any.matches(&snat_flow()));
        assert!(!any.matches(&tcp_flow()));
    }

    #[test]
    fn update_selection_ignores_meta_and_missing_attributes() {
        let mut flt = FlowFilter {
            update_cmp_orig: true,
            status_subset: Some(Status::EXPECTED.0),
            ..FlowFilter::default()
        };
        flt.orig.src = Some(ip("192.0.2.1"));
        assert!(flt.matches_update(&tcp_flow()));
        flt.orig.src = Some(ip("192.0.2.7"));
        assert!(!flt.matches_update(&tcp_flow()));
        flt.orig.src = None;
        flt.id = Some(5);
        let mut f = tcp_flow();
        assert!(flt.matches_update(&f));
        f.id = Some(6);
        assert!(!flt.matches_update(&f));
    }

    #[test]
    fn icmp_fields_compare_inside_protocol() {
        let mut f = tcp_flow();
        f.orig.proto = 1;
        f.orig.icmp_type = 8;
        f.orig.icmp_id = 7;
        let mut flt = FlowFilter {
            compare: true,
            ..FlowFilter::default()
        };
        flt.orig.proto = Some(1);
        flt.icmp.icmp_type = Some(8);
        assert!(flt.matches(&f));
        flt.icmp.id = Some(8);
        assert!(!flt.matches(&f));
    }
}
