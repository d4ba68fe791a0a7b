//! The flow-line parser (see the module docs of [`crate::text`]).

use super::{ParseError, ParseErrorKind as K};
use crate::flow::{Counters, Flow, HelperName, Labels, SecCtx, Timestamp};
use crate::format::{wr, EventKind, SCTP_STATES, TCP_STATES};
use crate::labelmap::LabelMap;
use crate::proto;
use crate::protoinfo::{DccpInfo, ProtoInfo, SctpInfo, TcpInfo};
use crate::status::Status;
use crate::tuple::Tuple;
use std::net::IpAddr;

/// A parsed line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedLine {
    /// The flow.
    pub flow: Flow,
    /// The event prefix, if any.
    pub event: Option<EventKind>,
    /// Whether the line had the `-o extended` layer 3 prefix.
    pub extended: bool,
    /// `portid` of a `[USERSPACE]` suffix.
    pub userspace_portid: Option<u32>,
}

struct Cur<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cur<'a> {
    fn skip_ws(&mut self) {
        while self.s.as_bytes().get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }
    /// Next blank-separated token without consuming it, with its start offset.
    fn peek(&mut self) -> Option<(usize, &'a str)> {
        self.skip_ws();
        if self.pos >= self.s.len() {
            return None;
        }
        let rest = &self.s[self.pos..];
        let end = rest.find(' ').unwrap_or(rest.len());
        Some((self.pos, &rest[..end]))
    }
    fn next(&mut self) -> Option<(usize, &'a str)> {
        let t = self.peek()?;
        self.pos = t.0 + t.1.len();
        Some(t)
    }
    fn err(&self, field: &'static str, at: usize, kind: K) -> ParseError {
        ParseError {
            field,
            column: at + 1,
            kind,
        }
    }
    fn need(&mut self, field: &'static str) -> Result<(usize, &'a str), ParseError> {
        let end = self.s.len();
        self.next().ok_or(self.err(field, end, K::Missing))
    }
    /// Reads `key=value` and returns the value.
    fn kv(&mut self, field: &'static str, key: &str) -> Result<(usize, &'a str), ParseError> {
        let (at, t) = self.need(field)?;
        match t.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
            Some(v) => Ok((at, v)),
            None => Err(self.err(field, at, K::Unexpected)),
        }
    }
    fn num<T: std::str::FromStr>(
        &mut self,
        field: &'static str,
        key: &str,
    ) -> Result<T, ParseError> {
        let (at, v) = self.kv(field, key)?;
        parse_num(v).ok_or(self.err(field, at, K::BadNumber))
    }
    fn peek_is(&mut self, key: &str) -> bool {
        self.peek()
            .is_some_and(|(_, t)| t.strip_prefix(key).is_some_and(|r| r.starts_with('=')))
    }
}

fn parse_num<T: std::str::FromStr>(v: &str) -> Option<T> {
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Parses a default or `-o extended` conntrack line (trailing `\n` allowed). `labelmap`
/// resolves `labels=` names; labels without a map are an error.
pub fn parse_flow_line(line: &str, labelmap: Option<&LabelMap>) -> Result<ParsedLine, ParseError> {
    parse(line, labelmap, false)
}

/// Parses a /proc/net/nf_conntrack line (always with the layer 3 prefix).
pub fn parse_proc_line(line: &str) -> Result<ParsedLine, ParseError> {
    parse(line, None, true)
}

fn is_l4_name(t: &str) -> bool {
    t == "unknown" || (0..=255u8).any(|p| proto::l4_name(p) == Some(t))
}

fn is_l3_name(t: &str) -> bool {
    matches!(t, "ipv4" | "ipv6")
}

fn parse(line: &str, map: Option<&LabelMap>, need_l3: bool) -> Result<ParsedLine, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut c = Cur { s: line, pos: 0 };
    let mut f = Flow::default();
    let mut event = None;
    if let Some((_, t)) = c.peek() {
        event = match t {
            "[NEW]" => Some(EventKind::New),
            "[UPDATE]" => Some(EventKind::Update),
            "[DESTROY]" => Some(EventKind::Destroy),
            _ => None,
        };
        if event.is_some() {
            c.next();
        }
    }
    // Layer 3 prefix: `ipv4 2` / `ipv6 10` (or `unknown N` followed by a layer 4 name).
    let mut l3: Option<u8> = None;
    let save = c.pos;
    let (at, t) = c.need("proto")?;
    let extended = if is_l3_name(t) {
        true
    } else if t == "unknown" {
        let _ = c.next();
        let third = c.peek().map(|x| x.1);
        c.pos = save;
        c.next();
        third.is_some_and(is_l4_name)
    } else {
        false
    };
    if extended {
        let (nat, n) = c.need("l3proto")?;
        let n: u8 = parse_num(n).ok_or(c.err("l3proto", nat, K::BadNumber))?;
        if crate::format::l3_name(n) != t {
            return Err(c.err("l3proto", at, K::ProtoMismatch));
        }
        l3 = Some(n);
    } else {
        if need_l3 {
            return Err(c.err("l3proto", at, K::UnknownProto));
        }
        c.pos = save;
    }
    let (at, name) = c.need("proto")?;
    let (nat, n) = c.need("protonum")?;
    let p: u8 = parse_num(n).ok_or(c.err("protonum", nat, K::BadNumber))?;
    if crate::format::l4_name(p) != name {
        return Err(c.err(
            "proto",
            at,
            if is_l4_name(name) {
                K::ProtoMismatch
            } else {
                K::UnknownProto
            },
        ));
    }
    // Timeout.
    if let Some((at, t)) = c.peek() {
        if t.bytes().all(|b| b.is_ascii_digit()) {
            c.next();
            f.timeout = Some(parse_num(t).ok_or(c.err("timeout", at, K::BadNumber))?);
        }
    }
    // State.
    if let Some((at, t)) = c.peek() {
        if !t.contains('=') && !t.starts_with('[') {
            c.next();
            f.protoinfo = Some(state_info(p, t).ok_or(c.err("state", at, K::UnknownState))?);
        }
    }
    f.orig = tuple(&mut c, p)?;
    f.has_orig = true;
    if c.peek_is("zone-orig") {
        f.orig.zone = Some(c.num("zone-orig", "zone-orig")?);
    }
    if c.peek_is("packets") {
        f.counters_orig = Some(counters(&mut c)?);
    }
    let mut status = Status::SEEN_REPLY;
    if c.peek().is_some_and(|t| t.1 == "[UNREPLIED]") {
        c.next();
        status = Status(0);
    }
    if c.peek_is("src") {
        f.reply = tuple(&mut c, p)?;
        f.has_reply = true;
        if f.reply.family() != f.orig.family() {
            let at = c.pos;
            return Err(c.err("src", at, K::FamilyMismatch));
        }
        if c.peek_is("zone-reply") {
            f.reply.zone = Some(c.num("zone-reply", "zone-reply")?);
        }
        if c.peek_is("packets") {
            f.counters_reply = Some(counters(&mut c)?);
        }
    }
    if let Some(n) = l3 {
        if n != f.orig.family().af() {
            return Err(c.err("l3proto", 0, K::FamilyMismatch));
        }
    }
    let mut delta: Option<u64> = None;
    let mut userspace_portid = None;
    while let Some((at, t)) = c.peek() {
        match t {
            "[ASSURED]" => status |= Status::ASSURED,
            "[OFFLOAD]" => status |= Status::OFFLOAD,
            "[HW_OFFLOAD]" => status |= Status::HW_OFFLOAD,
            "labels" => f.labels = Some(Labels::default()),
            "[USERSPACE]" => {
                c.next();
                userspace_portid = Some(c.num("portid", "portid")?);
                if c.peek_is("progname") {
                    c.next();
                }
                continue;
            }
            _ if t.starts_with("[start=") || t.starts_with("[stop=") => {
                let is_start = t.starts_with("[start=");
                let field = if is_start { "start" } else { "stop" };
                let rest = &line[at..];
                let close = rest.find(']').ok_or(c.err(field, at, K::BadDate))?;
                let date = &rest[if is_start { 7 } else { 6 }..close];
                let secs = parse_ctime(date).ok_or(c.err(field, at, K::BadDate))?;
                let ns = (secs as u64).wrapping_mul(1_000_000_000);
                let ts = f.timestamp.get_or_insert(Timestamp::default());
                if is_start {
                    ts.start = ns;
                } else {
                    ts.stop = Some(ns);
                }
                c.pos = at + close + 1;
                continue;
            }
            _ => {
                let (k, v) = t
                    .split_once('=')
                    .ok_or(c.err("attribute", at, K::Unexpected))?;
                let bad = |field| c.err(field, at, K::BadNumber);
                match k {
                    "mark" => f.mark = Some(parse_num(v).ok_or(bad("mark"))?),
                    "secmark" => f.secmark = Some(parse_num(v).ok_or(bad("secmark"))?),
                    "secctx" => f.secctx = Some(SecCtx::new(v)),
                    "zone" => f.zone = Some(parse_num(v).ok_or(bad("zone"))?),
                    "delta-time" => delta = Some(parse_num(v).ok_or(bad("delta-time"))?),
                    "helper" => f.helper = Some(HelperName::new(v)),
                    "use" => f.use_count = Some(parse_num(v).ok_or(bad("use"))?),
                    "id" => f.id = Some(parse_num(v).ok_or(bad("id"))?),
                    "labels" => {
                        let map = map.ok_or(c.err("labels", at, K::UnknownLabel))?;
                        let mut l = Labels::default();
                        for name in v.split(',') {
                            let bit = map.bit(name).ok_or(c.err("labels", at, K::UnknownLabel))?;
                            if bit >= 128 {
                                return Err(c.err("labels", at, K::UnknownLabel));
                            }
                            l.set(bit);
                        }
                        f.labels = Some(l);
                    }
                    _ => return Err(c.err("attribute", at, K::Unexpected)),
                }
            }
        }
        c.next();
    }
    if let Some(d) = delta {
        match &mut f.timestamp {
            None => {
                f.timestamp = Some(Timestamp {
                    start: 0,
                    stop: Some(d.wrapping_mul(1_000_000_000)),
                })
            }
            Some(ts) if ts.stop.is_none() => {
                ts.stop = Some(ts.start.wrapping_add(d.wrapping_mul(1_000_000_000)))
            }
            Some(_) => {}
        }
    }
    f.status = Some(status);
    Ok(ParsedLine {
        flow: f,
        event,
        extended,
        userspace_portid,
    })
}

fn state_info(p: u8, name: &str) -> Option<ProtoInfo> {
    match p {
        proto::IPPROTO_TCP => {
            let s = TCP_STATES.iter().position(|n| *n == name)? as u8;
            Some(ProtoInfo::Tcp(TcpInfo {
                state: Some(s),
                ..TcpInfo::default()
            }))
        }
        proto::IPPROTO_SCTP => {
            let s = SCTP_STATES.iter().position(|n| *n == name)? as u8;
            Some(ProtoInfo::Sctp(SctpInfo {
                state: Some(s),
                ..SctpInfo::default()
            }))
        }
        // The library prints DCCP states through the SCTP table.
        proto::IPPROTO_DCCP => {
            let s = SCTP_STATES.iter().position(|n| *n == name)? as u8;
            Some(ProtoInfo::Dccp(DccpInfo {
                state: Some(s),
                ..DccpInfo::default()
            }))
        }
        _ => None,
    }
}

fn addr(c: &mut Cur<'_>, field: &'static str) -> Result<IpAddr, ParseError> {
    let (at, v) = c.kv(field, field)?;
    v.parse().map_err(|_| c.err(field, at, K::BadAddress))
}

fn tuple(c: &mut Cur<'_>, p: u8) -> Result<Tuple, ParseError> {
    let mut t = Tuple {
        proto: p,
        ..Tuple::default()
    };
    t.src = addr(c, "src")?;
    let at = c.pos;
    t.dst = addr(c, "dst")?;
    if t.src.is_ipv4() != t.dst.is_ipv4() {
        return Err(c.err("dst", at, K::FamilyMismatch));
    }
    match p {
        _ if proto::has_ports(p) => {
            t.sport = c.num("sport", "sport")?;
            t.dport = c.num("dport", "dport")?;
        }
        proto::IPPROTO_GRE => {
            t.sport = hexkey(c, "srckey")?;
            t.dport = hexkey(c, "dstkey")?;
        }
        proto::IPPROTO_ICMP | proto::IPPROTO_ICMPV6 => {
            t.icmp_type = c.num("type", "type")?;
            t.icmp_code = c.num("code", "code")?;
            t.icmp_id = c.num("id", "id")?;
        }
        _ => {}
    }
    Ok(t)
}

fn hexkey(c: &mut Cur<'_>, key: &'static str) -> Result<u16, ParseError> {
    let (at, v) = c.kv(key, key)?;
    v.strip_prefix("0x")
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|h| u16::from_str_radix(h, 16).ok())
        .ok_or(c.err(key, at, K::BadNumber))
}

fn counters(c: &mut Cur<'_>) -> Result<Counters, ParseError> {
    Ok(Counters {
        packets: c.num("packets", "packets")?,
        bytes: c.num("bytes", "bytes")?,
    })
}

/// Parses `ctime` output (`Sat Nov 28 16:27:29 2026`, UTC) to seconds since the epoch.
fn parse_ctime(s: &str) -> Option<i64> {
    let mut it = s.split_ascii_whitespace();
    let wday = it.next()?;
    let mon = it.next()?;
    let day: u32 = parse_num(it.next()?)?;
    let hms = it.next()?;
    let year: i64 = it.next()?.parse().ok()?;
    if it.next().is_some() || !wr::WDAYS.contains(&wday) {
        return None;
    }
    let month = wr::MONTHS.iter().position(|m| *m == mon)? as u32 + 1;
    let mut p = hms.split(':');
    let h: u32 = parse_num(p.next()?)?;
    let m: u32 = parse_num(p.next()?)?;
    let sec: u32 = parse_num(p.next()?)?;
    if p.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(wr::unix_from_civil(year, month, day, h, m, sec))
}
