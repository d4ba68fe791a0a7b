//! The `-o save` line parser: the `conntrack -R` command line conntrack 1.4.7 prints
//! ([`crate::format::save`]), also accepted with `-I` and the long option names conntrack(8)
//! takes, options in any order.
//!
//! What the line does not carry is derived as the kernel would: reply ports default to the
//! inverted original ones, the ICMP reply gets the reply type of the request
//! (`nf_conntrack_invert_icmp_tuple`), `-g`/`-n` (a NATed reply address) set the
//! `DST_NAT(_DONE)`/`SRC_NAT(_DONE)` status bits. A line without `-r`/`-q` has no reply tuple
//! (as printed). Mark, labels, helper, counters and timestamps are never saved.

use super::bytes::{self, Cur};
use super::{LineInfo, ParseError, ParseErrorKind as K};
use crate::flow::Flow;
use crate::format::{EventKind, SCTP_STATES, TCP_STATES};
use crate::proto;
use crate::protoinfo::{DccpInfo, ProtoInfo, SctpInfo, TcpInfo, DCCP_STATE_NAMES};
use crate::status::Status;
use crate::tuple::{invert_icmp_type, invert_icmpv6_type};
use std::net::IpAddr;

/// The settable status names of `-u` (`EXPECTED`, `SEEN_REPLY`, `ASSURED`, `FIXED_TIMEOUT`).
const STATUS_NAMES: [(&[u8], Status); 4] = [
    (b"EXPECTED", Status::EXPECTED),
    (b"SEEN_REPLY", Status::SEEN_REPLY),
    (b"ASSURED", Status::ASSURED),
    (b"FIXED_TIMEOUT", Status::FIXED_TIMEOUT),
];

/// What an option sets; the table below maps every spelling to one of these.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Opt {
    Timeout,
    Status,
    Secmark,
    Mark,
    Zone,
    OrigZone,
    ReplyZone,
    Src,
    Dst,
    ReplySrc,
    ReplyDst,
    DstNat,
    SrcNat,
    Proto,
    Sport,
    Dport,
    ReplySport,
    ReplyDport,
    State,
    OrigVtag,
    ReplyVtag,
    Role,
    IcmpType,
    IcmpCode,
    IcmpId,
    SrcKey,
    DstKey,
    ReplyKeySrc,
    ReplyKeyDst,
}

/// Option spellings (conntrack's short and long names) → what they set.
const OPTS: &[(&[u8], Opt)] = &[
    (b"-t", Opt::Timeout),
    (b"--timeout", Opt::Timeout),
    (b"-u", Opt::Status),
    (b"--status", Opt::Status),
    (b"-c", Opt::Secmark),
    (b"--secmark", Opt::Secmark),
    (b"-m", Opt::Mark),
    (b"--mark", Opt::Mark),
    (b"-w", Opt::Zone),
    (b"--zone", Opt::Zone),
    (b"--orig-zone", Opt::OrigZone),
    (b"--reply-zone", Opt::ReplyZone),
    (b"-s", Opt::Src),
    (b"--src", Opt::Src),
    (b"--orig-src", Opt::Src),
    (b"-d", Opt::Dst),
    (b"--dst", Opt::Dst),
    (b"--orig-dst", Opt::Dst),
    (b"-r", Opt::ReplySrc),
    (b"--reply-src", Opt::ReplySrc),
    (b"-q", Opt::ReplyDst),
    (b"--reply-dst", Opt::ReplyDst),
    (b"-g", Opt::DstNat),
    (b"--dst-nat", Opt::DstNat),
    (b"-n", Opt::SrcNat),
    (b"--src-nat", Opt::SrcNat),
    (b"-p", Opt::Proto),
    (b"--proto", Opt::Proto),
    (b"--sport", Opt::Sport),
    (b"--orig-port-src", Opt::Sport),
    (b"--dport", Opt::Dport),
    (b"--orig-port-dst", Opt::Dport),
    (b"--reply-port-src", Opt::ReplySport),
    (b"--reply-port-dst", Opt::ReplyDport),
    (b"--state", Opt::State),
    (b"--orig-vtag", Opt::OrigVtag),
    (b"--reply-vtag", Opt::ReplyVtag),
    (b"--role", Opt::Role),
    (b"--icmp-type", Opt::IcmpType),
    (b"--icmpv6-type", Opt::IcmpType),
    (b"--icmp-code", Opt::IcmpCode),
    (b"--icmpv6-code", Opt::IcmpCode),
    (b"--icmp-id", Opt::IcmpId),
    (b"--icmpv6-id", Opt::IcmpId),
    (b"--srckey", Opt::SrcKey),
    (b"--dstkey", Opt::DstKey),
    (b"--reply-key-src", Opt::ReplyKeySrc),
    (b"--reply-key-dst", Opt::ReplyKeyDst),
];

/// The command words a saved line may start with.
const COMMANDS: [(&[u8], EventKind); 6] = [
    (b"-A", EventKind::New),
    (b"--add", EventKind::New),
    (b"-I", EventKind::New),
    (b"--create", EventKind::New),
    (b"-U", EventKind::Update),
    (b"-D", EventKind::Destroy),
];

/// Whether `line` looks like a save line (its first word is a conntrack command or option).
pub fn looks_like_save(line: &[u8]) -> bool {
    let first = line.split(|b| *b == b' ').find(|w| !w.is_empty());
    first
        .is_some_and(|w| COMMANDS.iter().any(|(c, _)| *c == w) || OPTS.iter().any(|(o, _)| *o == w))
}

#[derive(Default)]
struct Parts {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    rsrc: Option<IpAddr>,
    rdst: Option<IpAddr>,
    dnat: bool,
    snat: bool,
    proto: Option<u8>,
    ports: [Option<u16>; 4],
    keys: [Option<u16>; 4],
    icmp: [Option<u16>; 3],
    state: Option<(usize, &'static str)>,
    vtags: [Option<u32>; 2],
    role: Option<(usize, u8)>,
}

/// Parses one save line into `f` (cleared first). A trailing `\n` or `\r\n` is allowed.
pub fn parse_save_into(line: &[u8], f: &mut Flow) -> Result<LineInfo, ParseError> {
    let line = bytes::trim_eol(line);
    f.clear();
    let mut c = Cur::new(line);
    let mut info = LineInfo::default();
    let mut p = Parts::default();
    if let Some((_, w)) = c.peek() {
        if let Some((_, ev)) = COMMANDS.iter().find(|(c, _)| *c == w) {
            info.event = Some(*ev);
            c.next();
        }
    }
    while let Some((at, w)) = c.next() {
        if w == b"[USERSPACE]" {
            info.userspace_portid = Some(c.num("portid", b"portid")?);
            // The process name runs to the end of the line.
            break;
        }
        let opt = OPTS
            .iter()
            .find(|(n, _)| *n == w)
            .map(|(_, o)| *o)
            .ok_or(c.err("option", at, K::Unexpected))?;
        let field = opt_field(opt);
        let (vat, v) = c.need(field)?;
        let bad = |kind| c.err(field, vat, kind);
        let num16 = || bytes::dec::<u16>(v).ok_or(bad(K::BadNumber));
        let num32 = || bytes::dec::<u32>(v).ok_or(bad(K::BadNumber));
        let addr = || bytes::ip(v).ok_or(bad(K::BadAddress));
        match opt {
            Opt::Timeout => f.timeout = Some(num32()?),
            Opt::Status => f.status = Some(status(v).ok_or(bad(K::Unexpected))?),
            Opt::Secmark => f.secmark = Some(num32()?),
            Opt::Mark => f.mark = Some(num32()?),
            Opt::Zone => f.zone = Some(num16()?),
            Opt::OrigZone => f.orig.zone = Some(num16()?),
            Opt::ReplyZone => f.reply.zone = Some(num16()?),
            Opt::Src => p.src = Some(addr()?),
            Opt::Dst => p.dst = Some(addr()?),
            Opt::ReplySrc => p.rsrc = Some(addr()?),
            Opt::ReplyDst => p.rdst = Some(addr()?),
            Opt::DstNat => {
                p.rsrc = Some(addr()?);
                p.dnat = true;
            }
            Opt::SrcNat => {
                p.rdst = Some(addr()?);
                p.snat = true;
            }
            Opt::Proto => {
                let n = match bytes::dec::<u8>(v) {
                    Some(n) => n,
                    None => (0..=255u8)
                        .find(|n| proto::l4_name(*n).map(str::as_bytes) == Some(v))
                        .ok_or(bad(K::UnknownProto))?,
                };
                p.proto = Some(n);
            }
            Opt::Sport => p.ports[0] = Some(num16()?),
            Opt::Dport => p.ports[1] = Some(num16()?),
            Opt::ReplySport => p.ports[2] = Some(num16()?),
            Opt::ReplyDport => p.ports[3] = Some(num16()?),
            Opt::SrcKey => p.keys[0] = Some(num16()?),
            Opt::DstKey => p.keys[1] = Some(num16()?),
            Opt::ReplyKeySrc => p.keys[2] = Some(num16()?),
            Opt::ReplyKeyDst => p.keys[3] = Some(num16()?),
            Opt::IcmpType => p.icmp[0] = Some(bytes::dec::<u8>(v).ok_or(bad(K::BadNumber))? as u16),
            Opt::IcmpCode => p.icmp[1] = Some(bytes::dec::<u8>(v).ok_or(bad(K::BadNumber))? as u16),
            Opt::IcmpId => p.icmp[2] = Some(num16()?),
            // Save lines carry the tags as conntrack 1.4.7 prints them (byte-swapped on
            // little-endian hosts, see format::save); the flow holds the kernel's value.
            Opt::OrigVtag => p.vtags[0] = Some(u32::from_be(num32()?)),
            Opt::ReplyVtag => p.vtags[1] = Some(u32::from_be(num32()?)),
            Opt::State => {
                // Resolved against the protocol's table once `-p` is known.
                let s = bytes::utf8(v).ok_or(bad(K::UnknownState))?;
                let all = TCP_STATES
                    .iter()
                    .chain(SCTP_STATES.iter())
                    .chain(DCCP_STATE_NAMES.iter());
                let name = all.copied().find(|n| *n == s).ok_or(bad(K::UnknownState))?;
                p.state = Some((vat, name));
            }
            Opt::Role => {
                let r = match v {
                    b"client" => 0,
                    b"server" => 1,
                    _ => return Err(bad(K::Unexpected)),
                };
                p.role = Some((vat, r));
            }
        }
    }
    assemble(&c, p, f)?;
    Ok(info)
}

fn opt_field(o: Opt) -> &'static str {
    match o {
        Opt::Timeout => "timeout",
        Opt::Status => "status",
        Opt::Secmark => "secmark",
        Opt::Mark => "mark",
        Opt::Zone => "zone",
        Opt::OrigZone => "orig-zone",
        Opt::ReplyZone => "reply-zone",
        Opt::Src => "src",
        Opt::Dst => "dst",
        Opt::ReplySrc => "reply-src",
        Opt::ReplyDst => "reply-dst",
        Opt::DstNat => "dst-nat",
        Opt::SrcNat => "src-nat",
        Opt::Proto => "proto",
        Opt::Sport => "sport",
        Opt::Dport => "dport",
        Opt::ReplySport => "reply-port-src",
        Opt::ReplyDport => "reply-port-dst",
        Opt::State => "state",
        Opt::OrigVtag => "orig-vtag",
        Opt::ReplyVtag => "reply-vtag",
        Opt::Role => "role",
        Opt::IcmpType => "icmp-type",
        Opt::IcmpCode => "icmp-code",
        Opt::IcmpId => "icmp-id",
        Opt::SrcKey => "srckey",
        Opt::DstKey => "dstkey",
        Opt::ReplyKeySrc => "reply-key-src",
        Opt::ReplyKeyDst => "reply-key-dst",
    }
}

fn status(v: &[u8]) -> Option<Status> {
    if v == b"UNSET" {
        return Some(Status(0));
    }
    let mut s = Status(0);
    for name in v.split(|b| *b == b',') {
        s |= STATUS_NAMES.iter().find(|(n, _)| *n == name)?.1;
    }
    Some(s)
}

fn assemble(c: &Cur<'_>, p: Parts, f: &mut Flow) -> Result<(), ParseError> {
    let end = c.s.len();
    let n = p.proto.unwrap_or(0);
    match (p.src, p.dst) {
        (Some(s), Some(d)) => {
            if s.is_ipv4() != d.is_ipv4() {
                return Err(c.err("dst", end, K::FamilyMismatch));
            }
            f.orig.src = s;
            f.orig.dst = d;
            f.has_orig = true;
        }
        (None, None) => {}
        (Some(_), None) => return Err(c.err("dst", end, K::Missing)),
        (None, Some(_)) => return Err(c.err("src", end, K::Missing)),
    }
    let proto_opts = p
        .ports
        .iter()
        .chain(&p.keys)
        .chain(&p.icmp)
        .any(Option::is_some)
        || p.state.is_some()
        || p.vtags.iter().any(Option::is_some)
        || p.role.is_some();
    // conntrack requires `-p` for addresses' tuples and every protocol option.
    if (f.has_orig || proto_opts) && p.proto.is_none() {
        return Err(c.err("proto", end, K::Missing));
    }
    // …and an entry needs a tuple (conntrack saves none without one).
    if !f.has_orig && p.rsrc.is_none() && p.rdst.is_none() {
        return Err(c.err("src", end, K::Missing));
    }
    f.orig.proto = n;
    f.reply.proto = n;
    let t = &mut f.orig;
    match n {
        _ if proto::has_ports(n) => {
            t.sport = p.ports[0].unwrap_or(0);
            t.dport = p.ports[1].unwrap_or(0);
        }
        proto::IPPROTO_GRE => {
            t.sport = p.keys[0].unwrap_or(0);
            t.dport = p.keys[1].unwrap_or(0);
        }
        proto::IPPROTO_ICMP | proto::IPPROTO_ICMPV6 => {
            t.icmp_type = p.icmp[0].unwrap_or(0) as u8;
            t.icmp_code = p.icmp[1].unwrap_or(0) as u8;
            t.icmp_id = p.icmp[2].unwrap_or(0);
        }
        _ => {}
    }
    // The reply tuple: as given, else the inverted original.
    let orig_zone = f.orig.zone;
    let reply_zone = f.reply.zone;
    let mut r = f.orig;
    r.src = f.orig.dst;
    r.dst = f.orig.src;
    r.sport = f.orig.dport;
    r.dport = f.orig.sport;
    if n == proto::IPPROTO_ICMP {
        r.icmp_type = invert_icmp_type(r.icmp_type).unwrap_or(r.icmp_type);
    } else if n == proto::IPPROTO_ICMPV6 {
        r.icmp_type = invert_icmpv6_type(r.icmp_type).unwrap_or(r.icmp_type);
    }
    if let Some(a) = p.rsrc {
        r.src = a;
    }
    if let Some(a) = p.rdst {
        r.dst = a;
    }
    let reply_given = p.rsrc.is_some() || p.rdst.is_some();
    if reply_given && (p.rsrc.is_none() || p.rdst.is_none()) {
        let field = if p.rsrc.is_none() {
            "reply-src"
        } else {
            "reply-dst"
        };
        return Err(c.err(field, end, K::Missing));
    }
    if proto::has_ports(n) {
        r.sport = p.ports[2].unwrap_or(r.sport);
        r.dport = p.ports[3].unwrap_or(r.dport);
    } else if n == proto::IPPROTO_GRE {
        r.sport = p.keys[2].unwrap_or(r.sport);
        r.dport = p.keys[3].unwrap_or(r.dport);
    }
    if r.src.is_ipv4() != r.dst.is_ipv4() || (f.has_orig && r.src.is_ipv4() != f.orig.src.is_ipv4())
    {
        return Err(c.err("reply-src", end, K::FamilyMismatch));
    }
    f.orig.zone = orig_zone;
    r.zone = reply_zone;
    f.reply = r;
    f.has_reply = reply_given;
    if let Some(s) = &mut f.status {
        if p.dnat {
            *s |= Status::DST_NAT | Status::DST_NAT_DONE;
        }
        if p.snat {
            *s |= Status::SRC_NAT | Status::SRC_NAT_DONE;
        }
    }
    if let Some((at, name)) = p.state {
        let idx = |table: &[&str; 10]| table.iter().position(|x| *x == name).map(|i| i as u8);
        let unknown = || c.err("state", at, K::UnknownState);
        f.protoinfo = Some(match n {
            proto::IPPROTO_TCP => ProtoInfo::Tcp(TcpInfo {
                state: Some(idx(&TCP_STATES).ok_or_else(unknown)?),
                ..TcpInfo::default()
            }),
            proto::IPPROTO_SCTP => ProtoInfo::Sctp(SctpInfo {
                state: Some(idx(&SCTP_STATES).ok_or_else(unknown)?),
                ..SctpInfo::default()
            }),
            proto::IPPROTO_DCCP => ProtoInfo::Dccp(DccpInfo {
                state: Some(idx(&DCCP_STATE_NAMES).ok_or_else(unknown)?),
                ..DccpInfo::default()
            }),
            _ => return Err(unknown()),
        });
    }
    if p.vtags.iter().any(Option::is_some) {
        match &mut f.protoinfo {
            Some(ProtoInfo::Sctp(s)) => {
                s.vtag_orig = p.vtags[0];
                s.vtag_reply = p.vtags[1];
            }
            None if n == proto::IPPROTO_SCTP => {
                f.protoinfo = Some(ProtoInfo::Sctp(SctpInfo {
                    vtag_orig: p.vtags[0],
                    vtag_reply: p.vtags[1],
                    ..SctpInfo::default()
                }))
            }
            _ => return Err(c.err("orig-vtag", end, K::Unexpected)),
        }
    }
    if let Some((at, role)) = p.role {
        match &mut f.protoinfo {
            Some(ProtoInfo::Dccp(d)) => d.role = Some(role),
            None if n == proto::IPPROTO_DCCP => {
                f.protoinfo = Some(ProtoInfo::Dccp(DccpInfo {
                    role: Some(role),
                    ..DccpInfo::default()
                }))
            }
            _ => return Err(c.err("role", at, K::Unexpected)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(l: &str) -> Result<(Flow, LineInfo), ParseError> {
        let mut f = Flow::default();
        parse_save_into(l.as_bytes(), &mut f).map(|i| (f, i))
    }

    #[test]
    fn create_lines_with_long_options_and_no_reply_tuple() {
        let (f, i) = parse(
            "-I --orig-src 192.0.2.1 --orig-dst 192.0.2.2 -p tcp --sport 1 --dport 2 \
             --state ESTABLISHED --timeout 30 -u ASSURED,SEEN_REPLY -m 5\n",
        )
        .unwrap();
        assert_eq!(i.event, Some(EventKind::New));
        assert!(f.has_orig && !f.has_reply);
        assert_eq!(
            (f.orig.sport, f.orig.dport, f.timeout, f.mark),
            (1, 2, Some(30), Some(5))
        );
        assert_eq!(f.status, Some(Status::ASSURED | Status::SEEN_REPLY));
        assert_eq!(f.tcp_state(), Some(3));
    }

    #[test]
    fn nat_reply_addresses_set_the_nat_status_and_icmp_reply_is_derived() {
        let (f, i) = parse(
            "-D -t 5 -u SEEN_REPLY -s 192.0.2.1 -d 203.0.113.10 -g 198.51.100.2 -q 192.0.2.1 \
             -p icmp --icmp-type 8 --icmp-code 0 --icmp-id 7 [USERSPACE] portid=42 progname=a b",
        )
        .unwrap();
        assert_eq!(
            (i.event, i.userspace_portid),
            (Some(EventKind::Destroy), Some(42))
        );
        let s = f.status.unwrap();
        assert!(s.contains(Status::DST_NAT | Status::DST_NAT_DONE | Status::SEEN_REPLY));
        assert_eq!((f.reply.icmp_type, f.reply.icmp_id), (0, 7));
        assert_eq!(f.reply.src.to_string(), "198.51.100.2");
    }

    #[test]
    fn bad_save_lines_name_their_field() {
        let e = |l: &str| parse(l).unwrap_err();
        assert_eq!(
            (
                e("-A -s 192.0.2.1 -p tcp").field,
                e("-A -s 192.0.2.1 -p tcp").kind
            ),
            ("dst", K::Missing)
        );
        assert_eq!(e("-A -s 192.0.2.1 -d 192.0.2.2 --sport 1").field, "proto");
        assert_eq!(e("-A -p tcp --sport 1").field, "src");
        assert_eq!((e("-A -m 2").field, e("-A -m 2").kind), ("src", K::Missing));
        assert_eq!(
            e("-A -s 192.0.2.1 -d 2001:db8::1 -p udp").kind,
            K::FamilyMismatch
        );
        assert_eq!(
            e("-A -s 192.0.2.1 -d 192.0.2.2 -p udp --state ESTABLISHED").kind,
            K::UnknownState
        );
        assert_eq!(e("-A -u BOGUS").field, "status");
        assert_eq!(e("-A -p frob").kind, K::UnknownProto);
        assert_eq!(
            e("-A -s 192.0.2.1 -d 192.0.2.2 -r 192.0.2.2 -p udp").field,
            "reply-dst"
        );
        assert_eq!(e("-A -t").kind, K::Missing);
        assert_eq!(e("-F").field, "option");
    }
}
