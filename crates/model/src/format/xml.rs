//! The `-o xml` flow record (libnetfilter_conntrack 1.0.9 `__snprintf_conntrack_xml`) and the
//! document header/footer conntrack 1.4.7 prints around it.
//!
//! conntrack prints [`XML_HEADER`] lazily before the first record (nothing at all when no
//! record matched) and [`XML_FOOTER`] after the last one (for `-E`, from its signal handler).
//! `-D -o xml` prints records without header or footer. Each record is one line:
//! `<flow[ type="new|update|destroy"]>` + original and reply `<meta>` + independent `<meta>` +
//! `[<when>…</when>]` + `[<helper>…</helper>]` + `</flow>`.
//!
//! Oracle quirks reproduced: SCTP and DCCP `<state>` values are looked up in the TCP name
//! table (SCTP ESTABLISHED prints `FIN_WAIT`); ICMP tuples have an empty `<layer4>`; reply
//! `<counters>` are printed when the *original* counters are present; a labels attribute with
//! no named bit prints `<labels></labels>`.

use super::{end_record, l3_name, l4_name, tuple_nums, wr, EventKind, LocalOffset, Userspace};
use crate::flow::{Counters, Flow};
use crate::labelmap::LabelMap;
use crate::proto;
use crate::protoinfo::ProtoInfo;
use crate::status::Status;
use crate::tuple::Tuple;

/// What conntrack prints before the first XML record of a flow listing or event stream.
pub const XML_HEADER: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<conntrack>\n";
/// What conntrack prints after the last XML flow record.
pub const XML_FOOTER: &str = "</conntrack>\n";

/// Options of the XML record. `Default` gives a plain `-L -o xml` record at time 0 in UTC.
#[derive(Clone, Copy, Debug)]
pub struct XmlOptions<'a> {
    /// Event kind (`type=` attribute).
    pub event: Option<EventKind>,
    /// `-o ktimestamp`: `<timestamp><start>ns</start><stop>ns</stop></timestamp>`.
    pub ktimestamp: bool,
    /// Label names; `<labels>` is printed only when a map is loaded.
    pub labelmap: Option<&'a LabelMap>,
    /// Current wall-clock seconds, for `<deltatime>` of entries without a stop time.
    pub now: i64,
    /// `-E -o xml,timestamp`: print `<when>` with this wall-clock second (local time).
    pub when: Option<i64>,
    /// Local time offset used for `<when>`.
    pub local_offset: LocalOffset,
    /// The event's `[USERSPACE]` suffix (conntrack 1.4.7 appends it after `</flow>` too).
    pub userspace: Option<Userspace<'a>>,
}

impl Default for XmlOptions<'_> {
    fn default() -> Self {
        XmlOptions {
            event: None,
            ktimestamp: false,
            labelmap: None,
            now: 0,
            when: None,
            local_offset: super::utc,
            userspace: None,
        }
    }
}

fn tag_u64(out: &mut Vec<u8>, name: &str, v: u64) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
    wr::u64_dec(out, v);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

fn tag_str(out: &mut Vec<u8>, name: &str, v: &str) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
    out.extend_from_slice(v.as_bytes());
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

/// Appends one complete XML flow record line (with its `\n`).
pub fn write_flow_xml(out: &mut Vec<u8>, f: &Flow, o: &XmlOptions<'_>) {
    match o.event {
        Some(ev) => {
            out.extend_from_slice(b"<flow type=\"");
            out.extend_from_slice(ev.name().as_bytes());
            out.extend_from_slice(b"\">");
        }
        None => out.extend_from_slice(b"<flow>"),
    }
    let orig_counters = f.counters_orig.is_some();
    meta_tuple(
        out,
        "original",
        &f.orig,
        f.has_orig,
        f.counters_orig,
        orig_counters,
    );
    meta_tuple(
        out,
        "reply",
        &f.reply,
        f.has_reply,
        f.counters_reply,
        orig_counters,
    );

    let state = state_name_xml(f);
    let open = state.is_some()
        || f.timeout.is_some()
        || f.mark.is_some()
        || f.secmark.is_some()
        || f.zone.is_some()
        || f.use_count.is_some()
        || f.status.is_some()
        || f.id.is_some()
        || f.timestamp.is_some();
    if open {
        out.extend_from_slice(b"<meta direction=\"independent\">");
    }
    if let Some(s) = state {
        tag_str(out, "state", s);
    }
    if let Some(t) = f.timeout {
        tag_u64(out, "timeout", t as u64);
    }
    if let Some(m) = f.mark {
        tag_u64(out, "mark", m as u64);
    }
    if let (Some(map), Some(l)) = (o.labelmap, &f.labels) {
        out.extend_from_slice(b"<labels>");
        super::text::for_each_label_name(l, map, |n| tag_str(out, "label", n));
        out.extend_from_slice(b"</labels>");
    }
    if let Some(m) = f.secmark {
        tag_u64(out, "secmark", m as u64);
    }
    if let Some(c) = &f.secctx {
        tag_str(out, "secctx", c.as_str());
    }
    if let Some(z) = f.zone {
        tag_u64(out, "zone", z as u64);
    }
    if let Some(u) = f.use_count {
        tag_u64(out, "use", u as u64);
    }
    if let Some(id) = f.id {
        tag_u64(out, "id", id as u64);
    }
    if let Some(s) = f.status {
        if s.contains(Status::ASSURED) {
            out.extend_from_slice(b"<assured/>");
        }
        if !s.contains(Status::SEEN_REPLY) {
            out.extend_from_slice(b"<unreplied/>");
        }
    }
    if let Some(ts) = f.timestamp {
        if o.ktimestamp {
            out.extend_from_slice(b"<timestamp>");
            tag_u64(out, "start", ts.start);
            if let Some(stop) = ts.stop {
                tag_u64(out, "stop", stop);
            }
            out.extend_from_slice(b"</timestamp>");
        }
        let delta = match ts.stop {
            Some(stop) => ((stop.wrapping_sub(ts.start) / 1_000_000_000) as i64) as u64,
            None => o.now.wrapping_sub((ts.start / 1_000_000_000) as i64) as u64,
        };
        tag_u64(out, "deltatime", delta);
    }
    if open {
        out.extend_from_slice(b"</meta>");
    }
    if let Some(now) = o.when {
        write_when(out, now + (o.local_offset)(now));
    }
    if let Some(h) = &f.helper {
        tag_str(out, "helper", h.as_str());
    }
    out.extend_from_slice(b"</flow>");
    end_record(out, o.userspace.as_ref());
}

/// `<when><hour>…</hour><min>%02d</min><sec>%02d</sec><wday>1-7</wday><day>…</day>`
/// `<month>1-12</month><year>…</year></when>` for a local time.
pub(crate) fn write_when(out: &mut Vec<u8>, local: i64) {
    let tm = wr::tm_from_unix(local);
    out.extend_from_slice(b"<when>");
    tag_u64(out, "hour", tm.hour as u64);
    out.extend_from_slice(b"<min>");
    wr::u64_dec_zero(out, tm.min as u64, 2);
    out.extend_from_slice(b"</min><sec>");
    wr::u64_dec_zero(out, tm.sec as u64, 2);
    out.extend_from_slice(b"</sec>");
    tag_u64(out, "wday", tm.wday as u64 + 1);
    tag_u64(out, "day", tm.day as u64);
    tag_u64(out, "month", tm.month as u64);
    out.extend_from_slice(b"<year>");
    wr::i64_dec(out, tm.year);
    out.extend_from_slice(b"</year></when>");
}

/// The `<state>` value: every protocol through the TCP name table (library quirk).
fn state_name_xml(f: &Flow) -> Option<&'static str> {
    let v = match f.protoinfo? {
        ProtoInfo::Tcp(t) => t.state?,
        ProtoInfo::Sctp(s) => s.state?,
        ProtoInfo::Dccp(d) => d.state?,
    };
    Some(super::state_from(&super::TCP_STATES, v))
}

fn meta_tuple(
    out: &mut Vec<u8>,
    dir: &str,
    t: &Tuple,
    present: bool,
    counters: Option<Counters>,
    print_counters: bool,
) {
    out.extend_from_slice(b"<meta direction=\"");
    out.extend_from_slice(dir.as_bytes());
    out.extend_from_slice(b"\">");
    let (l3, l4) = tuple_nums(t, present);
    layer3_open(out, l3);
    if present {
        addr(out, "src", t);
        addr(out, "dst", t);
    }
    out.extend_from_slice(b"</layer3>");
    layer4_open(out, l4);
    if present {
        l4_ports(out, t);
    }
    out.extend_from_slice(b"</layer4>");
    if let Some(z) = t.zone.filter(|_| present) {
        tag_u64(out, "zone", z as u64);
    }
    if print_counters {
        let c = counters.unwrap_or_default();
        out.extend_from_slice(b"<counters>");
        tag_u64(out, "packets", c.packets);
        tag_u64(out, "bytes", c.bytes);
        out.extend_from_slice(b"</counters>");
    }
    out.extend_from_slice(b"</meta>");
}

pub(crate) fn layer3_open(out: &mut Vec<u8>, l3: u8) {
    out.extend_from_slice(b"<layer3 protonum=\"");
    wr::u64_dec(out, l3 as u64);
    out.extend_from_slice(b"\" protoname=\"");
    out.extend_from_slice(l3_name(l3).as_bytes());
    out.extend_from_slice(b"\">");
}

pub(crate) fn layer4_open(out: &mut Vec<u8>, l4: u8) {
    out.extend_from_slice(b"<layer4 protonum=\"");
    wr::u64_dec(out, l4 as u64);
    out.extend_from_slice(b"\" protoname=\"");
    out.extend_from_slice(l4_name(l4).as_bytes());
    out.extend_from_slice(b"\">");
}

pub(crate) fn addr(out: &mut Vec<u8>, which: &str, t: &Tuple) {
    out.push(b'<');
    out.extend_from_slice(which.as_bytes());
    out.push(b'>');
    wr::ip(out, if which == "src" { t.src } else { t.dst });
    out.extend_from_slice(b"</");
    out.extend_from_slice(which.as_bytes());
    out.push(b'>');
}

/// `<sport><dport>` for port protocols, `<srckey>0x…</srckey><dstkey>0x…</dstkey>` for GRE,
/// nothing otherwise.
pub(crate) fn l4_ports(out: &mut Vec<u8>, t: &Tuple) {
    match t.proto {
        p if proto::has_ports(p) => {
            tag_u64(out, "sport", t.sport as u64);
            tag_u64(out, "dport", t.dport as u64);
        }
        proto::IPPROTO_GRE => {
            out.extend_from_slice(b"<srckey>0x");
            wr::u64_hex(out, t.sport as u64);
            out.extend_from_slice(b"</srckey><dstkey>0x");
            wr::u64_hex(out, t.dport as u64);
            out.extend_from_slice(b"</dstkey>");
        }
        _ => {}
    }
}
