//! The `-o json` line parser: one object per line in ctkit's flow schema (docs/json-schema.md,
//! written by [`crate::format::json`]). A small JSON reader over the line's bytes, no
//! allocation; keys it does not know are skipped (the schema only ever adds keys).

use super::bytes;
use super::{LineInfo, ParseError, ParseErrorKind as K};
use crate::flow::{Counters, Flow, HelperName, Labels, SecCtx, SeqAdj, Synproxy, Timestamp};
use crate::format::EventKind;
use crate::proto;
use crate::protoinfo::{
    DccpInfo, ProtoInfo, SctpInfo, SctpState, TcpInfo, TcpState, DCCP_STATE_NAMES,
};
use crate::status::Status;
use crate::tuple::Tuple;

/// Longest string value decoded (`secctx` keeps 128 bytes, helper names 32).
const STR_MAX: usize = 256;

struct J<'a> {
    s: &'a [u8],
    pos: usize,
}

/// A decoded string value, in a fixed buffer.
struct Str {
    buf: [u8; STR_MAX],
    len: usize,
}

impl Str {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<'a> J<'a> {
    fn err(&self, field: &'static str, kind: K) -> ParseError {
        ParseError {
            field,
            column: self.pos + 1,
            kind,
        }
    }

    fn ws(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8, field: &'static str) -> Result<(), ParseError> {
        self.ws();
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            Ok(())
        } else if self.pos >= self.s.len() {
            Err(self.err(field, K::Missing))
        } else {
            Err(self.err(field, K::Unexpected))
        }
    }

    fn peek_is(&mut self, c: u8) -> bool {
        self.ws();
        self.s.get(self.pos) == Some(&c)
    }

    /// A string without escapes, borrowed (keys and names).
    fn raw_str(&mut self, field: &'static str) -> Result<&'a [u8], ParseError> {
        self.eat(b'"', field)?;
        let rest = &self.s[self.pos..];
        let end = rest
            .iter()
            .position(|b| *b == b'"' || *b == b'\\')
            .ok_or(self.err(field, K::Missing))?;
        if rest[end] == b'\\' {
            // Not one of ours: keys and names never need escaping.
            return Err(self.err(field, K::Unexpected));
        }
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    /// A string with escapes decoded (at most [`STR_MAX`] bytes kept).
    fn string(&mut self, field: &'static str) -> Result<Str, ParseError> {
        self.eat(b'"', field)?;
        let mut out = Str {
            buf: [0; STR_MAX],
            len: 0,
        };
        let put = |b: &[u8], out: &mut Str| {
            for &c in b {
                if out.len < STR_MAX {
                    out.buf[out.len] = c;
                    out.len += 1;
                }
            }
        };
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(self.err(field, K::Missing));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(self.err(field, K::Missing));
                    };
                    self.pos += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let h = self
                                .s
                                .get(self.pos..self.pos + 4)
                                .and_then(bytes::hex::<u32>)
                                .ok_or(self.err(field, K::Unexpected))?;
                            self.pos += 4;
                            char::from_u32(h).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(self.err(field, K::Unexpected)),
                    };
                    let mut b = [0u8; 4];
                    put(ch.encode_utf8(&mut b).as_bytes(), &mut out);
                }
                c if c < 0x20 => return Err(self.err(field, K::Unexpected)),
                c => put(&[c], &mut out),
            }
        }
    }

    /// An unsigned integer.
    fn num<T: TryFrom<u64>>(&mut self, field: &'static str) -> Result<T, ParseError> {
        self.ws();
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        bytes::dec(&self.s[start..self.pos]).ok_or(ParseError {
            field,
            column: start + 1,
            kind: K::BadNumber,
        })
    }

    /// A signed 32-bit integer.
    fn int(&mut self, field: &'static str) -> Result<i32, ParseError> {
        self.ws();
        let start = self.pos;
        let neg = self.peek_is(b'-');
        if neg {
            self.pos += 1;
        }
        let bad = ParseError {
            field,
            column: start + 1,
            kind: K::BadNumber,
        };
        let m: u64 = self.num(field).map_err(|_| bad)?;
        let v = if neg { -(m as i64) } else { m as i64 };
        i32::try_from(v).map_err(|_| bad)
    }

    /// Skips any value (unknown keys).
    fn skip(&mut self, depth: u32) -> Result<(), ParseError> {
        self.ws();
        if depth > 32 {
            return Err(self.err("value", K::Unexpected));
        }
        match self.s.get(self.pos) {
            Some(b'"') => self.string("value").map(|_| ()),
            Some(b'{') => {
                self.pos += 1;
                if self.peek_is(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.raw_str("key")?;
                    self.eat(b':', "value")?;
                    self.skip(depth + 1)?;
                    if self.peek_is(b',') {
                        self.pos += 1;
                    } else {
                        return self.eat(b'}', "value");
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                if self.peek_is(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if self.peek_is(b',') {
                        self.pos += 1;
                    } else {
                        return self.eat(b']', "value");
                    }
                }
            }
            Some(_) => {
                let start = self.pos;
                while self
                    .s
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || b"+-.".contains(c))
                {
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.err("value", K::Unexpected));
                }
                Ok(())
            }
            None => Err(self.err("value", K::Missing)),
        }
    }

    /// Calls `f(key)` for each member of an object; `f` reads the value.
    fn object(
        &mut self,
        field: &'static str,
        mut f: impl FnMut(&mut Self, &'a [u8]) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        self.eat(b'{', field)?;
        if self.peek_is(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let k = self.raw_str(field)?;
            self.eat(b':', field)?;
            f(self, k)?;
            if self.peek_is(b',') {
                self.pos += 1;
            } else {
                return self.eat(b'}', field);
            }
        }
    }

    /// Calls `f` for each element of an array.
    fn array(
        &mut self,
        field: &'static str,
        mut f: impl FnMut(&mut Self) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        self.eat(b'[', field)?;
        if self.peek_is(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            f(self)?;
            if self.peek_is(b',') {
                self.pos += 1;
            } else {
                return self.eat(b']', field);
            }
        }
    }
}

/// Parses one JSON flow line into `f` (cleared first).
pub fn parse_json_into(line: &[u8], f: &mut Flow) -> Result<LineInfo, ParseError> {
    f.clear();
    let mut info = LineInfo::default();
    let mut j = J { s: line, pos: 0 };
    let mut protonum: Option<u8> = None;
    let mut state: Option<(usize, Str)> = None;
    let mut family_at: Option<(usize, &[u8])> = None;
    j.object("flow", |j, k| {
        match k {
            b"event" => {
                let at = j.pos;
                info.event = Some(match j.raw_str("event")? {
                    b"new" => EventKind::New,
                    b"update" => EventKind::Update,
                    b"destroy" => EventKind::Destroy,
                    _ => return Err(err_at("event", at, K::Unexpected)),
                })
            }
            b"family" => {
                let at = j.pos;
                family_at = Some((at, j.raw_str("family")?));
            }
            b"proto" => {
                j.raw_str("proto")?;
            }
            b"protonum" => protonum = Some(j.num("protonum")?),
            b"timeout" => f.timeout = Some(j.num("timeout")?),
            b"state" => {
                let at = j.pos;
                state = Some((at, j.string("state")?));
            }
            b"orig" => {
                let (t, c) = tuple(j, "orig")?;
                f.orig = t;
                f.counters_orig = c;
                f.has_orig = true;
            }
            b"reply" => {
                let (t, c) = tuple(j, "reply")?;
                f.reply = t;
                f.counters_reply = c;
                f.has_reply = true;
            }
            b"status" => {
                let mut s = Status(0);
                j.array("status", |j| {
                    let at = j.pos;
                    let n = j.raw_str("status")?;
                    let bit = match Status::NAMES.iter().position(|x| x.as_bytes() == n) {
                        Some(b) => b as u32,
                        None => n
                            .strip_prefix(b"BIT")
                            .and_then(bytes::dec::<u32>)
                            .filter(|b| (16..32).contains(b))
                            .ok_or(err_at("status", at, K::Unexpected))?,
                    };
                    s.0 |= 1 << bit;
                    Ok(())
                })?;
                f.status = Some(s);
            }
            b"mark" => f.mark = Some(j.num("mark")?),
            b"secmark" => f.secmark = Some(j.num("secmark")?),
            b"secctx" => {
                let at = j.pos;
                let s = j.string("secctx")?;
                let s = bytes::utf8(s.bytes()).ok_or(err_at("secctx", at, K::Unexpected))?;
                f.secctx = Some(SecCtx::new(s));
            }
            b"zone" => f.zone = Some(j.num("zone")?),
            b"use" => f.use_count = Some(j.num("use")?),
            b"id" => f.id = Some(j.num("id")?),
            b"helper" => {
                let at = j.pos;
                let s = j.string("helper")?;
                let s = bytes::utf8(s.bytes()).ok_or(err_at("helper", at, K::Unexpected))?;
                f.helper = Some(HelperName::new(s));
            }
            b"labels" => {
                let mut l = Labels::default();
                j.array("labels", |j| {
                    let at = j.pos;
                    let b: u32 = j.num("labels")?;
                    if b >= 128 {
                        return Err(err_at("labels", at, K::BadNumber));
                    }
                    l.set(b);
                    Ok(())
                })?;
                f.labels = Some(l);
            }
            b"timestamp" => {
                let mut ts = Timestamp::default();
                let mut start = false;
                j.object("timestamp", |j, k| {
                    match k {
                        b"start" => {
                            ts.start = j.num("start")?;
                            start = true;
                        }
                        b"stop" => ts.stop = Some(j.num("stop")?),
                        _ => j.skip(1)?,
                    }
                    Ok(())
                })?;
                if !start {
                    return Err(j.err("start", K::Missing));
                }
                f.timestamp = Some(ts);
            }
            b"seq_adj_orig" => f.seq_adj_orig = Some(seq_adj(j, "seq_adj_orig")?),
            b"seq_adj_reply" => f.seq_adj_reply = Some(seq_adj(j, "seq_adj_reply")?),
            b"synproxy" => {
                let mut s = Synproxy::default();
                let mut seen = 0u8;
                j.object("synproxy", |j, k| {
                    match k {
                        b"isn" => (s.isn, seen) = (j.num("isn")?, seen | 1),
                        b"its" => (s.its, seen) = (j.num("its")?, seen | 2),
                        b"tsoff" => (s.tsoff, seen) = (j.num("tsoff")?, seen | 4),
                        _ => j.skip(1)?,
                    }
                    Ok(())
                })?;
                if seen != 7 {
                    return Err(j.err("synproxy", K::Missing));
                }
                f.synproxy = Some(s);
            }
            b"userspace" => j.object("userspace", |j, k| {
                match k {
                    b"portid" => info.userspace_portid = Some(j.num("portid")?),
                    _ => j.skip(1)?,
                }
                Ok(())
            })?,
            _ => j.skip(0)?,
        }
        Ok(())
    })?;
    j.ws();
    if j.pos < j.s.len() {
        return Err(j.err("flow", K::Unexpected));
    }
    let p = protonum.ok_or(err_at("protonum", line.len(), K::Missing))?;
    for (present, t, name) in [
        (f.has_orig, &mut f.orig, "orig"),
        (f.has_reply, &mut f.reply, "reply"),
    ] {
        t.proto = p;
        if present && !proto::has_ports(p) && p != proto::IPPROTO_GRE && (t.sport | t.dport) != 0 {
            return Err(err_at(name, 0, K::Unexpected));
        }
    }
    if f.has_orig && f.has_reply && f.orig.family() != f.reply.family() {
        return Err(err_at("reply", 0, K::FamilyMismatch));
    }
    if let Some((at, fam)) = family_at {
        let want = if f.has_orig || f.has_reply {
            let t = if f.has_orig { &f.orig } else { &f.reply };
            t.family().name().as_bytes()
        } else {
            b"unknown"
        };
        if fam != want {
            return Err(err_at("family", at, K::FamilyMismatch));
        }
    }
    if let Some((at, s)) = state {
        let n = s.bytes();
        let idx = |table: &[&str; 10]| {
            table
                .iter()
                .position(|x| x.as_bytes() == n)
                .map(|i| i as u8)
        };
        let bad = || err_at("state", at, K::UnknownState);
        f.protoinfo = Some(match p {
            proto::IPPROTO_TCP => ProtoInfo::Tcp(TcpInfo {
                state: Some(idx(&TcpState::NAMES).ok_or_else(bad)?),
                ..TcpInfo::default()
            }),
            proto::IPPROTO_SCTP => ProtoInfo::Sctp(SctpInfo {
                state: Some(idx(&SctpState::NAMES).ok_or_else(bad)?),
                ..SctpInfo::default()
            }),
            proto::IPPROTO_DCCP => ProtoInfo::Dccp(DccpInfo {
                state: Some(idx(&DCCP_STATE_NAMES).ok_or_else(bad)?),
                ..DccpInfo::default()
            }),
            _ => return Err(bad()),
        });
    }
    Ok(info)
}

fn err_at(field: &'static str, at: usize, kind: K) -> ParseError {
    ParseError {
        field,
        column: at + 1,
        kind,
    }
}

/// A `seq_adj_orig` / `seq_adj_reply` object; every member is required.
fn seq_adj(j: &mut J<'_>, field: &'static str) -> Result<SeqAdj, ParseError> {
    let mut a = SeqAdj::default();
    let mut seen = 0u8;
    j.object(field, |j, k| {
        match k {
            b"correction_pos" => {
                a.correction_pos = j.num("correction_pos")?;
                seen |= 1;
            }
            b"offset_before" => {
                a.offset_before = j.int("offset_before")?;
                seen |= 2;
            }
            b"offset_after" => {
                a.offset_after = j.int("offset_after")?;
                seen |= 4;
            }
            _ => j.skip(1)?,
        }
        Ok(())
    })?;
    if seen != 7 {
        return Err(j.err(field, K::Missing));
    }
    Ok(a)
}

fn tuple(j: &mut J<'_>, field: &'static str) -> Result<(Tuple, Option<Counters>), ParseError> {
    let mut t = Tuple::default();
    let (mut src, mut dst) = (false, false);
    let mut packets: Option<u64> = None;
    let mut bytes_: Option<u64> = None;
    let start = j.pos;
    j.object(field, |j, k| {
        match k {
            b"src" | b"dst" => {
                let at = j.pos;
                let which = if k == b"src" { "src" } else { "dst" };
                let a = bytes::ip(j.raw_str(which)?).ok_or(err_at(which, at, K::BadAddress))?;
                if k == b"src" {
                    t.src = a;
                    src = true;
                } else {
                    t.dst = a;
                    dst = true;
                }
            }
            b"sport" | b"srckey" => t.sport = j.num("sport")?,
            b"dport" | b"dstkey" => t.dport = j.num("dport")?,
            b"type" => t.icmp_type = j.num("type")?,
            b"code" => t.icmp_code = j.num("code")?,
            b"id" => t.icmp_id = j.num("id")?,
            b"zone" => t.zone = Some(j.num("zone")?),
            b"packets" => packets = Some(j.num("packets")?),
            b"bytes" => bytes_ = Some(j.num("bytes")?),
            _ => j.skip(1)?,
        }
        Ok(())
    })?;
    if !(src && dst) {
        return Err(err_at(field, start, K::Missing));
    }
    if t.src.is_ipv4() != t.dst.is_ipv4() {
        return Err(err_at(field, start, K::FamilyMismatch));
    }
    let c = match (packets, bytes_) {
        (Some(packets), Some(bytes)) => Some(Counters { packets, bytes }),
        (None, None) => None,
        _ => return Err(err_at(field, start, K::Missing)),
    };
    Ok((t, c))
}
