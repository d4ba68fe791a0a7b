//! Expectation records (`-L expect`, `-G expect`, `-E expect`), following
//! libnetfilter_conntrack 1.0.9 `__snprintf_expect_default` and `__snprintf_expect_xml`, and
//! conntrack 1.4.7's expectation callbacks.
//!
//! Default layout: `[event ]` `[timeout ]` `proto=N` `src= dst=` l4 words `mask-src= mask-dst=`
//! mask l4 words `master-src= master-dst=` master l4 words `[zone= ]`
//! `[PERMANENT,INACTIVE,USERSPACE ]` `[class= ]` `[helper=NAME]`, last blank removed.
//! conntrack 1.4.7 has no save format for expectations (`-o save` prints this line), prints no
//! `[USERSPACE]` suffix on expectation events, and uses `[%-8ld.%-6ld]\t` (space padded) for
//! `-E expect -o timestamp`. XML documents use `<expect>` as the root element.
//!
//! The mask tuple is printed with the expected tuple's protocol: the kernel always sends the
//! mask's `CTA_PROTO_NUM` equal to it (`ctnetlink_exp_dump_mask`).

use super::text::l4_text;
use super::xml::{addr, l4_ports, layer3_open, layer4_open, write_when};
use super::{wr, EventKind, LocalOffset};
use crate::expect::{
    Expect, NF_CT_EXPECT_INACTIVE, NF_CT_EXPECT_PERMANENT, NF_CT_EXPECT_USERSPACE,
};
use crate::tuple::Tuple;

/// What conntrack prints before the first XML expectation record.
pub const EXPECT_XML_HEADER: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<expect>\n";
/// What conntrack prints after the last XML expectation record (`-E expect` only).
pub const EXPECT_XML_FOOTER: &str = "</expect>\n";

/// Options of expectation records.
#[derive(Clone, Copy, Debug)]
pub struct ExpectOptions {
    /// Event kind prefix (`-E expect`).
    pub event: Option<EventKind>,
    /// `-E expect -o timestamp` (default format): (seconds, microseconds) printed first as
    /// `[%-8ld.%-6ld]\t`.
    pub event_time: Option<(i64, u32)>,
    /// `-o xml,timestamp`: `<when>` for this wall-clock second.
    pub when: Option<i64>,
    /// Local time offset used for `<when>`.
    pub local_offset: LocalOffset,
}

impl Default for ExpectOptions {
    fn default() -> Self {
        ExpectOptions {
            event: None,
            event_time: None,
            when: None,
            local_offset: super::utc,
        }
    }
}

/// Appends the expectation-event timestamp prefix `[%-8ld.%-6ld]\t` (left-justified, blank
/// padded).
pub fn write_expect_event_timestamp(out: &mut Vec<u8>, secs: i64, usecs: u32) {
    out.push(b'[');
    let s = out.len();
    wr::i64_dec(out, secs);
    for _ in out.len() - s..8 {
        out.push(b' ');
    }
    out.push(b'.');
    let s = out.len();
    wr::u64_dec(out, usecs as u64);
    for _ in out.len() - s..6 {
        out.push(b' ');
    }
    out.extend_from_slice(b"]\t");
}

fn addrs(out: &mut Vec<u8>, src_tag: &[u8], dst_tag: &[u8], t: &Tuple) {
    out.extend_from_slice(src_tag);
    wr::ip(out, t.src);
    out.push(b' ');
    out.extend_from_slice(dst_tag);
    wr::ip(out, t.dst);
    out.push(b' ');
}

/// Appends one complete default-format expectation line (with its `\n`).
pub fn write_expect(out: &mut Vec<u8>, e: &Expect, o: &ExpectOptions) {
    if let Some((s, us)) = o.event_time {
        write_expect_event_timestamp(out, s, us);
    }
    let start = out.len();
    if let Some(ev) = o.event {
        wr::str_right(out, ev.tag(), 9);
        out.push(b' ');
    }
    if let Some(t) = e.timeout {
        wr::u64_dec(out, t as u64);
        out.push(b' ');
    }
    out.extend_from_slice(b"proto=");
    wr::u64_dec(out, e.tuple.proto as u64);
    out.push(b' ');
    addrs(out, b"src=", b"dst=", &e.tuple);
    l4_text(out, &e.tuple);
    let mask = Tuple {
        proto: e.tuple.proto,
        ..e.mask
    };
    addrs(out, b"mask-src=", b"mask-dst=", &mask);
    l4_text(out, &mask);
    addrs(out, b"master-src=", b"master-dst=", &e.master);
    l4_text(out, &e.master);
    if let Some(z) = e.zone {
        out.extend_from_slice(b"zone=");
        wr::u64_dec(out, z as u64);
        out.push(b' ');
    }
    let flags = e.flags.unwrap_or(0);
    let mut delim: &[u8] = b"";
    for (bit, name) in [
        (NF_CT_EXPECT_PERMANENT, &b"PERMANENT"[..]),
        (NF_CT_EXPECT_INACTIVE, b"INACTIVE"),
        (NF_CT_EXPECT_USERSPACE, b"USERSPACE"),
    ] {
        if flags & bit != 0 {
            out.extend_from_slice(delim);
            out.extend_from_slice(name);
            delim = b",";
        }
    }
    if flags != 0 {
        out.push(b' ');
    }
    if let Some(c) = e.class {
        out.extend_from_slice(b"class=");
        wr::u64_dec(out, c as u64);
        out.push(b' ');
    }
    if let Some(h) = &e.helper {
        out.extend_from_slice(b"helper=");
        out.extend_from_slice(h.as_str().as_bytes());
    }
    if out.len() > start && out.last() == Some(&b' ') {
        out.pop();
    }
    out.push(b'\n');
}

/// Appends one complete XML expectation record line (with its `\n`).
pub fn write_expect_xml(out: &mut Vec<u8>, e: &Expect, o: &ExpectOptions) {
    match o.event {
        Some(ev) => {
            out.extend_from_slice(b"<flow type=\"");
            out.extend_from_slice(ev.name().as_bytes());
            out.extend_from_slice(b"\">");
        }
        None => out.extend_from_slice(b"<flow>"),
    }
    let mask = Tuple {
        proto: e.tuple.proto,
        ..e.mask
    };
    layer3_open(out, e.tuple.family().af());
    for (name, t) in [
        ("expected", &e.tuple),
        ("mask", &mask),
        ("master", &e.master),
    ] {
        open(out, name);
        addr(out, "src", t);
        addr(out, "dst", t);
        close(out, name);
    }
    out.extend_from_slice(b"</layer3>");
    layer4_open(out, e.tuple.proto);
    for (name, t) in [
        ("expected", &e.tuple),
        ("mask", &mask),
        ("master", &e.master),
    ] {
        open(out, name);
        l4_ports(out, t);
        close(out, name);
    }
    out.extend_from_slice(b"</layer4><meta>");
    if let Some(h) = &e.helper {
        out.extend_from_slice(b"<helper-name>");
        out.extend_from_slice(h.as_str().as_bytes());
        out.extend_from_slice(b"</helper-name>");
    }
    if let Some(t) = e.timeout {
        out.extend_from_slice(b"<timeout>");
        wr::u64_dec(out, t as u64);
        out.extend_from_slice(b"</timeout>");
    }
    if let Some(z) = e.zone {
        out.extend_from_slice(b"<zone>");
        wr::u64_dec(out, z as u64);
        out.extend_from_slice(b"</zone>");
    }
    if let Some(c) = e.class {
        out.extend_from_slice(b"<class>");
        wr::u64_dec(out, c as u64);
        out.extend_from_slice(b"</class>");
    }
    if let Some(now) = o.when {
        write_when(out, now + (o.local_offset)(now));
    }
    let flags = e.flags.unwrap_or(0);
    if flags & NF_CT_EXPECT_PERMANENT != 0 {
        out.extend_from_slice(b"<permanent/>");
    }
    if flags & NF_CT_EXPECT_INACTIVE != 0 {
        out.extend_from_slice(b"<inactive/>");
    }
    if flags & NF_CT_EXPECT_USERSPACE != 0 {
        out.extend_from_slice(b"<userspace/>");
    }
    out.extend_from_slice(b"</meta></flow>\n");
}

fn open(out: &mut Vec<u8>, n: &str) {
    out.push(b'<');
    out.extend_from_slice(n.as_bytes());
    out.push(b'>');
}

fn close(out: &mut Vec<u8>, n: &str) {
    out.extend_from_slice(b"</");
    out.extend_from_slice(n.as_bytes());
    out.push(b'>');
}
