//! The flow-line parser (see the module docs of [`crate::text`]): default, `-o extended`,
//! event and /proc lines, byte by byte into a caller-owned [`Flow`].

use super::bytes::{self, Cur};
use super::{LineInfo, ParseError, ParseErrorKind as K};
use crate::flow::{Counters, Flow, HelperName, Labels, SecCtx, Timestamp};
use crate::format::{wr, EventKind, SCTP_STATES, TCP_STATES};
use crate::labelmap::LabelMap;
use crate::proto;
use crate::protoinfo::{DccpInfo, ProtoInfo, SctpInfo, TcpInfo, DCCP_STATE_NAMES};
use crate::status::Status;
use crate::tuple::Tuple;

/// A parsed line (the owned form of [`parse_flow_into`]'s result).
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

/// Parses a default or `-o extended` conntrack line (trailing `\n` allowed). `labelmap`
/// resolves `labels=` names; labels without a map are an error.
pub fn parse_flow_line(line: &str, labelmap: Option<&LabelMap>) -> Result<ParsedLine, ParseError> {
    let mut flow = Flow::default();
    let info = parse_flow_into(line.as_bytes(), labelmap, false, &mut flow)?;
    Ok(ParsedLine {
        flow,
        event: info.event,
        extended: info.extended,
        userspace_portid: info.userspace_portid,
    })
}

/// Parses a /proc/net/nf_conntrack line (always with the layer 3 prefix).
pub fn parse_proc_line(line: &str) -> Result<ParsedLine, ParseError> {
    let mut flow = Flow::default();
    let info = parse_flow_into(line.as_bytes(), None, true, &mut flow)?;
    Ok(ParsedLine {
        flow,
        event: info.event,
        extended: info.extended,
        userspace_portid: info.userspace_portid,
    })
}

fn l4_num(t: &[u8]) -> Option<u8> {
    if t == b"unknown" {
        return Some(255);
    }
    [
        proto::IPPROTO_TCP,
        proto::IPPROTO_UDP,
        proto::IPPROTO_ICMP,
        proto::IPPROTO_ICMPV6,
        proto::IPPROTO_UDPLITE,
        proto::IPPROTO_SCTP,
        proto::IPPROTO_GRE,
        proto::IPPROTO_DCCP,
    ]
    .into_iter()
    .find(|p| proto::l4_name(*p).map(str::as_bytes) == Some(t))
}

fn is_l3_name(t: &[u8]) -> bool {
    matches!(t, b"ipv4" | b"ipv6")
}

/// Parses one conntrack text line into `f` (cleared first): the default layout (`conntrack
/// -L`, `/proc/net/ip_conntrack`), the `-o extended` one (`/proc/net/nf_conntrack`), with the
/// optional `-E` decorations (`-o timestamp` prefix, event tag, `[USERSPACE]` suffix).
/// `need_l3` rejects lines without the layer 3 prefix. A trailing `\n` or `\r\n` is allowed.
pub fn parse_flow_into(
    line: &[u8],
    map: Option<&LabelMap>,
    need_l3: bool,
    f: &mut Flow,
) -> Result<LineInfo, ParseError> {
    let line = bytes::trim_eol(line);
    f.clear();
    let mut c = Cur::new(line);
    let mut info = LineInfo::default();
    // `-E -o timestamp`: `[SECONDS.MICROS]\t`.
    if line.first() == Some(&b'[') && line.get(1).is_some_and(u8::is_ascii_digit) {
        let end = line
            .iter()
            .position(|b| *b == b']')
            .ok_or(c.err("time", 0, K::BadNumber))?;
        let (s, us) = split2(&line[1..end], b'.').ok_or(c.err("time", 0, K::BadNumber))?;
        let secs = bytes::dec::<i64>(s).ok_or(c.err("time", 0, K::BadNumber))?;
        let micros = bytes::dec::<u32>(us).ok_or(c.err("time", 0, K::BadNumber))?;
        info.event_time = Some((secs, micros));
        c.pos = end + 1;
        if line.get(c.pos) == Some(&b'\t') {
            c.pos += 1;
        }
    }
    if let Some((_, t)) = c.peek() {
        info.event = match t {
            b"[NEW]" => Some(EventKind::New),
            b"[UPDATE]" => Some(EventKind::Update),
            b"[DESTROY]" => Some(EventKind::Destroy),
            _ => None,
        };
        if info.event.is_some() {
            c.next();
        }
    }
    // Layer 3 prefix: `ipv4 2` / `ipv6 10` (or `unknown N` followed by a layer 4 name).
    let mut l3: Option<u8> = None;
    let save = c.pos;
    let (at, t) = c.need("proto")?;
    info.extended = if is_l3_name(t) {
        true
    } else if t == b"unknown" {
        let _ = c.next();
        let third = c.peek().map(|x| x.1);
        c.pos = save;
        c.next();
        third.and_then(l4_num).is_some()
    } else {
        false
    };
    if info.extended {
        let (nat, n) = c.need("l3proto")?;
        let n: u8 = bytes::dec(n).ok_or(c.err("l3proto", nat, K::BadNumber))?;
        if crate::format::l3_name(n).as_bytes() != t {
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
    let p: u8 = bytes::dec(n).ok_or(c.err("protonum", nat, K::BadNumber))?;
    if crate::format::l4_name(p).as_bytes() != name {
        return Err(c.err(
            "proto",
            at,
            if l4_num(name).is_some() {
                K::ProtoMismatch
            } else {
                K::UnknownProto
            },
        ));
    }
    // Timeout (absent for offloaded entries in /proc; old kernels could print it negative
    // for an entry about to expire, read as 0).
    if let Some((at, t)) = c.peek() {
        if t.iter().all(u8::is_ascii_digit) {
            c.next();
            f.timeout = Some(bytes::dec(t).ok_or(c.err("timeout", at, K::BadNumber))?);
        } else if t.len() > 1 && t[0] == b'-' && t[1..].iter().all(u8::is_ascii_digit) {
            c.next();
            f.timeout = Some(0);
        }
    }
    // /proc's GRE extra, `timeout=N, stream_timeout=N ` (gre_print_conntrack): not a flow
    // attribute anywhere else, skipped.
    if p == proto::IPPROTO_GRE && c.peek().is_some_and(|t| t.1.starts_with(b"timeout=")) {
        c.next();
        if c.peek_is(b"stream_timeout") {
            c.next();
        }
    }
    // State.
    if let Some((at, t)) = c.peek() {
        if !t.contains(&b'=') && t.first() != Some(&b'[') {
            c.next();
            f.protoinfo = Some(state_info(p, t).ok_or(c.err("state", at, K::UnknownState))?);
        }
    }
    f.orig = tuple(&mut c, p)?;
    f.has_orig = true;
    if c.peek_is(b"zone-orig") {
        f.orig.zone = Some(c.num("zone-orig", b"zone-orig")?);
    }
    if c.peek_is(b"packets") {
        f.counters_orig = Some(counters(&mut c)?);
    }
    let mut status = Status::SEEN_REPLY;
    if c.peek().is_some_and(|t| t.1 == b"[UNREPLIED]") {
        c.next();
        status = Status(0);
    }
    if c.peek_is(b"src") {
        let at = c.pos;
        f.reply = tuple(&mut c, p)?;
        f.has_reply = true;
        if f.reply.family() != f.orig.family() {
            return Err(c.err("src", at, K::FamilyMismatch));
        }
        if c.peek_is(b"zone-reply") {
            f.reply.zone = Some(c.num("zone-reply", b"zone-reply")?);
        }
        if c.peek_is(b"packets") {
            f.counters_reply = Some(counters(&mut c)?);
        }
    }
    if let Some(n) = l3 {
        if n != f.orig.family().af() {
            return Err(c.err("l3proto", 0, K::FamilyMismatch));
        }
    }
    let mut delta: Option<u64> = None;
    while let Some((at, t)) = c.peek() {
        match t {
            b"[ASSURED]" => status |= Status::ASSURED,
            b"[OFFLOAD]" => status |= Status::OFFLOAD,
            b"[HW_OFFLOAD]" => status |= Status::HW_OFFLOAD,
            b"labels" => f.labels = Some(Labels::default()),
            b"[USERSPACE]" => {
                c.next();
                info.userspace_portid = Some(c.num("portid", b"portid")?);
                if c.peek_is(b"progname") {
                    // The process name runs to the end of the line (it may hold blanks).
                    c.pos = line.len();
                }
                continue;
            }
            _ if t.starts_with(b"[start=") || t.starts_with(b"[stop=") => {
                let is_start = t.starts_with(b"[start=");
                let field = if is_start { "start" } else { "stop" };
                let rest = &line[at..];
                let close =
                    rest.iter()
                        .position(|b| *b == b']')
                        .ok_or(c.err(field, at, K::BadDate))?;
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
                let (k, v) = split2(t, b'=').ok_or(c.err("attribute", at, K::Unexpected))?;
                let bad = |field| c.err(field, at, K::BadNumber);
                match k {
                    b"mark" => f.mark = Some(bytes::dec(v).ok_or(bad("mark"))?),
                    b"secmark" => f.secmark = Some(bytes::dec(v).ok_or(bad("secmark"))?),
                    b"secctx" => {
                        let s = bytes::utf8(v).ok_or(c.err("secctx", at, K::Unexpected))?;
                        f.secctx = Some(SecCtx::new(s));
                    }
                    b"zone" => f.zone = Some(bytes::dec(v).ok_or(bad("zone"))?),
                    b"delta-time" => delta = Some(bytes::dec(v).ok_or(bad("delta-time"))?),
                    b"helper" => {
                        let s = bytes::utf8(v).ok_or(c.err("helper", at, K::Unexpected))?;
                        f.helper = Some(HelperName::new(s));
                    }
                    b"use" => f.use_count = Some(bytes::dec(v).ok_or(bad("use"))?),
                    b"id" => f.id = Some(bytes::dec(v).ok_or(bad("id"))?),
                    b"labels" => {
                        let map = map.ok_or(c.err("labels", at, K::UnknownLabel))?;
                        let mut l = Labels::default();
                        for name in v.split(|b| *b == b',') {
                            let bit = bytes::utf8(name)
                                .and_then(|n| map.bit(n))
                                .filter(|b| *b < 128)
                                .ok_or(c.err("labels", at, K::UnknownLabel))?;
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
    // With `[start=…]` (and no `[stop=…]`) the entry was alive: its age counts from its
    // start, so `delta-time` only stands alone.
    if let (Some(d), None) = (delta, f.timestamp) {
        let ts = super::delta_only(d, true).ok_or(c.err("delta-time", line.len(), K::BadNumber))?;
        f.timestamp = Some(ts);
    }
    f.status = Some(status);
    Ok(info)
}

/// Splits at the first `sep`.
fn split2(t: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = t.iter().position(|b| *b == sep)?;
    Some((&t[..i], &t[i + 1..]))
}

/// The protoinfo for a state word of the default line (TCP, SCTP, and DCCP through the SCTP
/// table as the library prints it).
fn state_info(p: u8, name: &[u8]) -> Option<ProtoInfo> {
    let find = |table: &[&str; 10]| table.iter().position(|n| n.as_bytes() == name);
    match p {
        proto::IPPROTO_TCP => Some(ProtoInfo::Tcp(TcpInfo {
            state: Some(find(&TCP_STATES)? as u8),
            ..TcpInfo::default()
        })),
        proto::IPPROTO_SCTP => Some(ProtoInfo::Sctp(SctpInfo {
            state: Some(find(&SCTP_STATES)? as u8),
            ..SctpInfo::default()
        })),
        // conntrack prints DCCP through the SCTP table; /proc prints the DCCP names.
        proto::IPPROTO_DCCP => Some(ProtoInfo::Dccp(DccpInfo {
            state: Some(find(&SCTP_STATES).or_else(|| find(&DCCP_STATE_NAMES))? as u8),
            ..DccpInfo::default()
        })),
        _ => None,
    }
}

fn tuple(c: &mut Cur<'_>, p: u8) -> Result<Tuple, ParseError> {
    let mut t = Tuple {
        proto: p,
        ..Tuple::default()
    };
    t.src = c.addr("src", b"src")?;
    let at = c.pos;
    t.dst = c.addr("dst", b"dst")?;
    if t.src.is_ipv4() != t.dst.is_ipv4() {
        return Err(c.err("dst", at, K::FamilyMismatch));
    }
    match p {
        _ if proto::has_ports(p) => {
            t.sport = c.num("sport", b"sport")?;
            t.dport = c.num("dport", b"dport")?;
        }
        proto::IPPROTO_GRE => {
            t.sport = hexkey(c, "srckey")?;
            t.dport = hexkey(c, "dstkey")?;
        }
        proto::IPPROTO_ICMP | proto::IPPROTO_ICMPV6 => {
            t.icmp_type = c.num("type", b"type")?;
            t.icmp_code = c.num("code", b"code")?;
            t.icmp_id = c.num("id", b"id")?;
        }
        _ => {}
    }
    Ok(t)
}

fn hexkey(c: &mut Cur<'_>, key: &'static str) -> Result<u16, ParseError> {
    let (at, v) = c.kv(key, key.as_bytes())?;
    v.strip_prefix(b"0x")
        .and_then(bytes::hex::<u16>)
        .ok_or(c.err(key, at, K::BadNumber))
}

fn counters(c: &mut Cur<'_>) -> Result<Counters, ParseError> {
    Ok(Counters {
        packets: c.num("packets", b"packets")?,
        bytes: c.num("bytes", b"bytes")?,
    })
}

/// Parses `ctime` output (`Sat Nov 28 16:27:29 2026`, UTC) to seconds since the epoch.
fn parse_ctime(s: &[u8]) -> Option<i64> {
    let mut it = s.split(|b| *b == b' ').filter(|w| !w.is_empty());
    let wday = it.next()?;
    let mon = it.next()?;
    let day: u32 = bytes::dec(it.next()?)?;
    let hms = it.next()?;
    let year: i64 = bytes::dec(it.next()?)?;
    if it.next().is_some() || !wr::WDAYS.iter().any(|d| d.as_bytes() == wday) {
        return None;
    }
    let month = wr::MONTHS.iter().position(|m| m.as_bytes() == mon)? as u32 + 1;
    let mut p = hms.split(|b| *b == b':');
    let h: u32 = bytes::dec(p.next()?)?;
    let m: u32 = bytes::dec(p.next()?)?;
    let sec: u32 = bytes::dec(p.next()?)?;
    if p.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(wr::unix_from_civil(year, month, day, h, m, sec))
}
