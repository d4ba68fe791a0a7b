//! The `-o xml` record parser: one `<flow>…</flow>` line as libnetfilter_conntrack's
//! `__snprintf_conntrack_xml` prints it ([`crate::format::xml`]); the document header and
//! footer lines (`<?xml …?>`, `<conntrack>`, `</conntrack>`) carry no flow.
//!
//! Lossy spots of the format come back as the formatter reads them: `<state>` goes through
//! the TCP name table for every protocol (the library's quirk), ICMP tuples have no type, code
//! or id (printed empty), `<deltatime>` alone becomes a timestamp with start 0. `<when>` is
//! skipped. Columns in errors are 1-based byte offsets of the offending tag.

use super::bytes;
use super::{LineInfo, ParseError, ParseErrorKind as K};
use crate::flow::{Counters, Flow, HelperName, Labels, SecCtx, Timestamp};
use crate::format::{EventKind, TCP_STATES};
use crate::labelmap::LabelMap;
use crate::proto;
use crate::protoinfo::{DccpInfo, ProtoInfo, SctpInfo, TcpInfo};
use crate::status::Status;
use crate::tuple::Tuple;

/// Whether `line` is one of the document lines around the records.
pub fn is_frame_line(line: &[u8]) -> bool {
    let l = bytes::trim_eol(line);
    l.starts_with(b"<?xml") || l == b"<conntrack>" || l == b"</conntrack>"
}

/// One piece of the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok<'a> {
    /// `<name attrs>`.
    Open(&'a [u8], &'a [u8]),
    /// `</name>`.
    Close(&'a [u8]),
    /// `<name/>`.
    Empty(&'a [u8]),
    /// Text between tags.
    Text(&'a [u8]),
}

struct Lex<'a> {
    s: &'a [u8],
    pos: usize,
    /// The last token peeked: (at, length, token), valid while `pos == at`.
    peeked: std::cell::Cell<Option<(usize, usize, Tok<'a>)>>,
}

impl<'a> Lex<'a> {
    fn err(&self, field: &'static str, kind: K) -> ParseError {
        ParseError {
            field,
            column: self.pos + 1,
            kind,
        }
    }

    fn peek(&self) -> Result<Option<(usize, Tok<'a>)>, ParseError> {
        if let Some((at, n, t)) = self.peeked.get() {
            if at == self.pos {
                return Ok(Some((n, t)));
            }
        }
        let r = self.lex()?;
        if let Some((n, t)) = r {
            self.peeked.set(Some((self.pos, n, t)));
        }
        Ok(r)
    }

    fn lex(&self) -> Result<Option<(usize, Tok<'a>)>, ParseError> {
        let s = &self.s[self.pos..];
        if s.is_empty() {
            return Ok(None);
        }
        if s[0] != b'<' {
            let end = s.iter().position(|b| *b == b'<').unwrap_or(s.len());
            return Ok(Some((end, Tok::Text(&s[..end]))));
        }
        let close = s
            .iter()
            .position(|b| *b == b'>')
            .ok_or(self.err("tag", K::Unexpected))?;
        let inner = &s[1..close];
        let tok = if let Some(name) = inner.strip_prefix(b"/") {
            Tok::Close(name)
        } else if let Some(name) = inner.strip_suffix(b"/") {
            Tok::Empty(name)
        } else {
            match inner.iter().position(|b| *b == b' ') {
                Some(i) => Tok::Open(&inner[..i], &inner[i + 1..]),
                None => Tok::Open(inner, b""),
            }
        };
        Ok(Some((close + 1, tok)))
    }

    fn next(&mut self) -> Result<Option<Tok<'a>>, ParseError> {
        Ok(self.peek()?.map(|(n, t)| {
            self.pos += n;
            t
        }))
    }

    fn need(&mut self, field: &'static str) -> Result<Tok<'a>, ParseError> {
        self.next()?.ok_or(self.err(field, K::Missing))
    }

    fn open(&mut self, name: &'static str) -> Result<&'a [u8], ParseError> {
        let at = self.pos;
        match self.need(name)? {
            Tok::Open(n, a) if n == name.as_bytes() => Ok(a),
            _ => Err(ParseError {
                field: name,
                column: at + 1,
                kind: K::Unexpected,
            }),
        }
    }

    fn close(&mut self, name: &'static str) -> Result<(), ParseError> {
        let at = self.pos;
        match self.need(name)? {
            Tok::Close(n) if n == name.as_bytes() => Ok(()),
            _ => Err(ParseError {
                field: name,
                column: at + 1,
                kind: K::Unexpected,
            }),
        }
    }

    /// `<name>` already read: the text up to `</name>` (empty when none).
    fn text(&mut self, name: &'static str) -> Result<&'a [u8], ParseError> {
        let t = match self.peek()? {
            Some((n, Tok::Text(t))) => {
                self.pos += n;
                t
            }
            _ => b"",
        };
        self.close(name)?;
        Ok(t)
    }

    /// `<name>` already read: a number up to `</name>`.
    fn num<T: TryFrom<u64>>(&mut self, name: &'static str) -> Result<T, ParseError> {
        let at = self.pos;
        let t = self.text(name)?;
        bytes::dec(t).ok_or(ParseError {
            field: name,
            column: at + 1,
            kind: K::BadNumber,
        })
    }

    fn is_close(&self, name: &[u8]) -> bool {
        matches!(self.peek(), Ok(Some((_, Tok::Close(n)))) if n == name)
    }
}

/// The value of attribute `key` in `attrs` (`key="value"`).
fn attr<'a>(attrs: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut rest = attrs;
    loop {
        let eq = rest.iter().position(|b| *b == b'=')?;
        let k = bytes::trim_blank(&rest[..eq]);
        let v = rest[eq + 1..].strip_prefix(b"\"")?;
        let end = v.iter().position(|b| *b == b'"')?;
        if k == key {
            return Some(&v[..end]);
        }
        rest = &v[end + 1..];
    }
}

/// Parses one XML flow record line into `f` (cleared first).
pub fn parse_xml_into(
    line: &[u8],
    map: Option<&LabelMap>,
    f: &mut Flow,
) -> Result<LineInfo, ParseError> {
    let line = bytes::trim_eol(line);
    f.clear();
    let mut info = LineInfo::default();
    let mut x = Lex {
        s: line,
        pos: 0,
        peeked: std::cell::Cell::new(None),
    };
    let attrs = x.open("flow")?;
    if let Some(t) = attr(attrs, b"type") {
        info.event = Some(match t {
            b"new" => EventKind::New,
            b"update" => EventKind::Update,
            b"destroy" => EventKind::Destroy,
            _ => return Err(x.err("type", K::Unexpected)),
        });
    }
    let mut l4 = 0u8;
    let mut state: Option<u8> = None;
    let mut delta: Option<u64> = None;
    loop {
        let at = x.pos;
        match x.need("flow")? {
            Tok::Close(b"flow") => break,
            Tok::Open(b"meta", a) => match attr(a, b"direction") {
                Some(b"original") => {
                    let (present, p, c) = meta_tuple(&mut x, &mut f.orig)?;
                    f.has_orig = present;
                    f.counters_orig = c;
                    // The protocol of an absent tuple is not the flow's (printed as 0).
                    if present {
                        l4 = p;
                    }
                }
                Some(b"reply") => {
                    let (present, p, c) = meta_tuple(&mut x, &mut f.reply)?;
                    f.has_reply = present;
                    f.counters_reply = c;
                    if !f.has_orig && present {
                        l4 = p;
                    }
                }
                Some(b"independent") => {
                    let mut status = Status::SEEN_REPLY;
                    independent(&mut x, f, map, &mut state, &mut delta, &mut status)?;
                    f.status = Some(status);
                }
                _ => return Err(err_at("direction", at, K::Unexpected)),
            },
            Tok::Open(b"when", _) => while !matches!(x.need("when")?, Tok::Close(b"when")) {},
            // The library prints these two even when no other independent field opened
            // the `<meta direction="independent">` element.
            tok @ (Tok::Open(b"labels", _) | Tok::Open(b"secctx", _)) => {
                let mut status = Status::SEEN_REPLY;
                item(&mut x, tok, at, f, map, &mut state, &mut delta, &mut status)?;
            }
            Tok::Open(b"helper", _) => {
                let h = x.text("helper")?;
                let h = bytes::utf8(h).ok_or(err_at("helper", at, K::Unexpected))?;
                f.helper = Some(HelperName::new(h));
            }
            _ => return Err(err_at("flow", at, K::Unexpected)),
        }
    }
    if f.has_orig && f.has_reply && f.orig.family() != f.reply.family() {
        return Err(err_at("reply", 0, K::FamilyMismatch));
    }
    f.orig.proto = l4;
    f.reply.proto = l4;
    if let Some(s) = state {
        f.protoinfo = Some(match l4 {
            proto::IPPROTO_TCP => ProtoInfo::Tcp(TcpInfo {
                state: Some(s),
                ..TcpInfo::default()
            }),
            proto::IPPROTO_SCTP => ProtoInfo::Sctp(SctpInfo {
                state: Some(s),
                ..SctpInfo::default()
            }),
            proto::IPPROTO_DCCP => ProtoInfo::Dccp(DccpInfo {
                state: Some(s),
                ..DccpInfo::default()
            }),
            _ => return Err(err_at("state", 0, K::UnknownState)),
        });
    }
    if let Some(d) = delta {
        if f.timestamp.is_none() {
            f.timestamp =
                Some(super::delta_only(d, false).ok_or(err_at("deltatime", 0, K::BadNumber))?);
        }
    }
    // conntrack 1.4.7 appends the event's originator after `</flow>`.
    let rest = &line[x.pos..];
    if !rest.is_empty() {
        let mut c = super::bytes::Cur::new(rest);
        match c.next() {
            Some((_, b"[USERSPACE]")) => {
                info.userspace_portid = Some(c.num("portid", b"portid").map_err(|mut e| {
                    e.column += x.pos;
                    e
                })?)
            }
            _ => return Err(err_at("flow", x.pos, K::Unexpected)),
        }
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

/// `<meta direction="original|reply">` read: layer 3 and 4, zone, counters, `</meta>`.
/// Returns (tuple present, layer 4 protocol number, counters).
fn meta_tuple(x: &mut Lex<'_>, t: &mut Tuple) -> Result<(bool, u8, Option<Counters>), ParseError> {
    let at = x.pos;
    let a = x.open("layer3")?;
    let l3: u8 =
        attr(a, b"protonum")
            .and_then(bytes::dec)
            .ok_or(err_at("layer3", at, K::BadNumber))?;
    let mut src = None;
    let mut dst = None;
    while !x.is_close(b"layer3") {
        let at = x.pos;
        match x.need("layer3")? {
            Tok::Open(b"src", _) => {
                src = Some(bytes::ip(x.text("src")?).ok_or(err_at("src", at, K::BadAddress))?)
            }
            Tok::Open(b"dst", _) => {
                dst = Some(bytes::ip(x.text("dst")?).ok_or(err_at("dst", at, K::BadAddress))?)
            }
            _ => return Err(err_at("layer3", at, K::Unexpected)),
        }
    }
    x.close("layer3")?;
    let present = match (src, dst) {
        (Some(s), Some(d)) => {
            if s.is_ipv4() != d.is_ipv4()
                || crate::format::l3_name(l3) != if s.is_ipv4() { "ipv4" } else { "ipv6" }
            {
                return Err(err_at("layer3", at, K::FamilyMismatch));
            }
            t.src = s;
            t.dst = d;
            true
        }
        (None, None) => false,
        _ => return Err(err_at("layer3", at, K::Missing)),
    };
    let at = x.pos;
    let a = x.open("layer4")?;
    let p: u8 =
        attr(a, b"protonum")
            .and_then(bytes::dec)
            .ok_or(err_at("layer4", at, K::BadNumber))?;
    if attr(a, b"protoname") != Some(crate::format::l4_name(p).as_bytes()) {
        return Err(err_at("layer4", at, K::ProtoMismatch));
    }
    t.proto = p;
    while !x.is_close(b"layer4") {
        let at = x.pos;
        let tok = x.need("layer4")?;
        let Tok::Open(name, _) = tok else {
            return Err(err_at("layer4", at, K::Unexpected));
        };
        match name {
            b"sport" => t.sport = x.num("sport")?,
            b"dport" => t.dport = x.num("dport")?,
            b"srckey" | b"dstkey" => {
                let field = if name == b"srckey" {
                    "srckey"
                } else {
                    "dstkey"
                };
                let v = x.text(field)?;
                let k = v
                    .strip_prefix(b"0x")
                    .and_then(bytes::hex::<u16>)
                    .ok_or(err_at(field, at, K::BadNumber))?;
                if field == "srckey" {
                    t.sport = k;
                } else {
                    t.dport = k;
                }
            }
            _ => return Err(err_at("layer4", at, K::Unexpected)),
        }
    }
    x.close("layer4")?;
    let mut counters = None;
    loop {
        let at = x.pos;
        match x.need("meta")? {
            Tok::Close(b"meta") => break,
            Tok::Open(b"zone", _) => t.zone = Some(x.num("zone")?),
            Tok::Open(b"counters", _) => {
                x.open("packets")?;
                let packets = x.num("packets")?;
                x.open("bytes")?;
                let bytes = x.num("bytes")?;
                x.close("counters")?;
                counters = Some(Counters { packets, bytes });
            }
            _ => return Err(err_at("meta", at, K::Unexpected)),
        }
    }
    Ok((present, p, counters))
}

/// `<meta direction="independent">` read: everything up to `</meta>`.
fn independent(
    x: &mut Lex<'_>,
    f: &mut Flow,
    map: Option<&LabelMap>,
    state: &mut Option<u8>,
    delta: &mut Option<u64>,
    status: &mut Status,
) -> Result<(), ParseError> {
    loop {
        let at = x.pos;
        match x.need("meta")? {
            Tok::Close(b"meta") => return Ok(()),
            tok => item(x, tok, at, f, map, state, delta, status)?,
        }
    }
}

/// One field of the independent `<meta>` (`tok` just read at byte `at`).
#[allow(clippy::too_many_arguments)]
fn item(
    x: &mut Lex<'_>,
    tok: Tok<'_>,
    at: usize,
    f: &mut Flow,
    map: Option<&LabelMap>,
    state: &mut Option<u8>,
    delta: &mut Option<u64>,
    status: &mut Status,
) -> Result<(), ParseError> {
    {
        match tok {
            Tok::Empty(b"assured") => *status |= Status::ASSURED,
            Tok::Empty(b"unreplied") => *status = Status(status.0 & !Status::SEEN_REPLY.0),
            Tok::Open(b"state", _) => {
                let s = x.text("state")?;
                let i = TCP_STATES
                    .iter()
                    .position(|n| n.as_bytes() == s)
                    .ok_or(err_at("state", at, K::UnknownState))?;
                *state = Some(i as u8);
            }
            Tok::Open(b"timeout", _) => f.timeout = Some(x.num("timeout")?),
            Tok::Open(b"mark", _) => f.mark = Some(x.num("mark")?),
            Tok::Open(b"secmark", _) => f.secmark = Some(x.num("secmark")?),
            Tok::Open(b"zone", _) => f.zone = Some(x.num("zone")?),
            Tok::Open(b"use", _) => f.use_count = Some(x.num("use")?),
            Tok::Open(b"id", _) => f.id = Some(x.num("id")?),
            Tok::Open(b"deltatime", _) => *delta = Some(x.num("deltatime")?),
            Tok::Open(b"secctx", _) => {
                let s =
                    bytes::utf8(x.text("secctx")?).ok_or(err_at("secctx", at, K::Unexpected))?;
                f.secctx = Some(SecCtx::new(s));
            }
            Tok::Open(b"labels", _) => {
                let mut l = Labels::default();
                while !x.is_close(b"labels") {
                    let at = x.pos;
                    x.open("label")?;
                    let name = x.text("label")?;
                    let bit = map
                        .and_then(|m| m.bit(bytes::utf8(name)?))
                        .filter(|b| *b < 128)
                        .ok_or(err_at("label", at, K::UnknownLabel))?;
                    l.set(bit);
                }
                x.close("labels")?;
                f.labels = Some(l);
            }
            Tok::Open(b"timestamp", _) => {
                let mut ts = Timestamp::default();
                x.open("start")?;
                ts.start = x.num("start")?;
                if !x.is_close(b"timestamp") {
                    x.open("stop")?;
                    ts.stop = Some(x.num("stop")?);
                }
                x.close("timestamp")?;
                f.timestamp = Some(ts);
            }
            _ => return Err(err_at("meta", at, K::Unexpected)),
        }
    }
    Ok(())
}
