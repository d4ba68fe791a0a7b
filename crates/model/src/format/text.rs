//! The default conntrack(8) flow line (`-L`, `-G`, `-D`, `-U`, `-E`), with `-o extended`,
//! `-o id`, `-o ktimestamp`, `-o labels` and the event decorations, following
//! libnetfilter_conntrack 1.0.9 `__snprintf_conntrack_default` and conntrack 1.4.7's callbacks.
//!
//! Field order: `[event ]` `[ipv4     2 ]` `proto    N ` `[timeout ]` `[STATE ]` `src= dst= `
//! `sport= dport= | type= code= id= | srckey=0x dstkey=0x ` `[zone-orig= ]` `[packets= bytes= ]`
//! `[[UNREPLIED] ]` reply tuple `[zone-reply= ]` `[packets= bytes= ]`
//! `[[HW_OFFLOAD]|[OFFLOAD]|[ASSURED] ]` `[mark= ]` `[secmark= ]` `[secctx= ]` `[zone= ]`
//! `[delta-time= ]` `[[start=ctime] ]` `[[stop=ctime] ]` `[helper= ]` `[use= ]` `[id= ]`
//! `[labels=a,b ]`, then the last blank is removed.
//!
//! Oracle quirks reproduced: DCCP states are looked up in the SCTP name table; out-of-range
//! states print the table's `NONE`; a labels attribute with no named bit prints `labels`.

use super::{end_record, flow_af, l3_name, l4_name, wr, EventKind, LocalOffset, Userspace};
use crate::flow::{Counters, Flow, Labels};
use crate::labelmap::LabelMap;
use crate::proto;
use crate::protoinfo::ProtoInfo;
use crate::status::Status;
use crate::tuple::Tuple;

/// Options of the default line. `Default` gives a plain `-L` line at time 0 in UTC.
#[derive(Clone, Copy, Debug)]
pub struct TextOptions<'a> {
    /// Event kind prefix (`-E`); `None` for listings.
    pub event: Option<EventKind>,
    /// `-o extended`: the `ipv4     2 ` prefix.
    pub extended: bool,
    /// `-o id`: `id=` (only when the kernel sent `CTA_ID`).
    pub id: bool,
    /// `-o ktimestamp`: `[start=…] [stop=…]` (conntrack 1.4.7 honours it for -L and -E; -D and
    /// the -U re-print ignore it).
    pub ktimestamp: bool,
    /// Label names; `labels=` is printed only when a map is loaded (`-o labels`, `-l`,
    /// `--label-add`/`--label-del`; -D never prints labels).
    pub labelmap: Option<&'a LabelMap>,
    /// Current wall-clock seconds, for `delta-time` of entries without a stop time.
    pub now: i64,
    /// Local time offset, for the `ctime` dates of `-o ktimestamp`.
    pub local_offset: LocalOffset,
    /// `-E -o timestamp`: (seconds, microseconds) printed first as `[%-.8ld.%-.6ld]\t`.
    pub event_time: Option<(i64, u32)>,
    /// The event's `[USERSPACE]` suffix (events only).
    pub userspace: Option<Userspace<'a>>,
}

impl Default for TextOptions<'_> {
    fn default() -> Self {
        TextOptions {
            event: None,
            extended: false,
            id: false,
            ktimestamp: false,
            labelmap: None,
            now: 0,
            local_offset: super::utc,
            event_time: None,
            userspace: None,
        }
    }
}

/// Appends one complete default-format line (with its `\n`) for `flow`.
pub fn write_flow(out: &mut Vec<u8>, flow: &Flow, opts: &TextOptions<'_>) {
    if let Some((s, us)) = opts.event_time {
        super::write_event_timestamp(out, s, us);
    }
    let start = out.len();
    write_fields(out, flow, opts);
    // "Delete the last blank space".
    if out.len() > start && out.last() == Some(&b' ') {
        out.pop();
    }
    end_record(out, opts.userspace.as_ref());
}

fn kv(out: &mut Vec<u8>, key: &[u8], v: u64) {
    out.extend_from_slice(key);
    wr::u64_dec(out, v);
    out.push(b' ');
}

fn write_fields(out: &mut Vec<u8>, f: &Flow, o: &TextOptions<'_>) {
    if let Some(ev) = o.event {
        wr::str_right(out, ev.tag(), 9);
        out.push(b' ');
    }
    if o.extended {
        let af = flow_af(f);
        wr::str_left(out, l3_name(af), 8);
        out.push(b' ');
        wr::u64_dec(out, af as u64);
        out.push(b' ');
    }
    let p = if f.has_orig { f.orig.proto } else { 0 };
    wr::str_left(out, l4_name(p), 8);
    out.push(b' ');
    wr::u64_dec(out, p as u64);
    out.push(b' ');
    if let Some(t) = f.timeout {
        kv(out, b"", t as u64);
    }
    if let Some(s) = state_name_text(f) {
        out.extend_from_slice(s.as_bytes());
        out.push(b' ');
    }
    if f.has_orig {
        tuple_text(out, &f.orig);
    }
    if let Some(z) = f.orig.zone.filter(|_| f.has_orig) {
        kv(out, b"zone-orig=", z as u64);
    }
    if let Some(c) = f.counters_orig {
        counters(out, &c);
    }
    if let Some(s) = f.status {
        if !s.contains(Status::SEEN_REPLY) {
            out.extend_from_slice(b"[UNREPLIED] ");
        }
    }
    if f.has_reply {
        tuple_text(out, &f.reply);
    }
    if let Some(z) = f.reply.zone.filter(|_| f.has_reply) {
        kv(out, b"zone-reply=", z as u64);
    }
    if let Some(c) = f.counters_reply {
        counters(out, &c);
    }
    if let Some(s) = f.status {
        if s.intersects(Status::HW_OFFLOAD) {
            out.extend_from_slice(b"[HW_OFFLOAD] ");
        } else if s.intersects(Status::OFFLOAD) {
            out.extend_from_slice(b"[OFFLOAD] ");
        } else if s.intersects(Status::ASSURED) {
            out.extend_from_slice(b"[ASSURED] ");
        }
    }
    if let Some(m) = f.mark {
        kv(out, b"mark=", m as u64);
    }
    if let Some(m) = f.secmark {
        kv(out, b"secmark=", m as u64);
    }
    if let Some(c) = &f.secctx {
        out.extend_from_slice(b"secctx=");
        out.extend_from_slice(c.as_str().as_bytes());
        out.push(b' ');
    }
    if let Some(z) = f.zone {
        kv(out, b"zone=", z as u64);
    }
    if let Some(ts) = f.timestamp {
        kv(out, b"delta-time=", delta_time(ts.start, ts.stop, o.now));
        if o.ktimestamp {
            out.extend_from_slice(b"[start=");
            let s = (ts.start / 1_000_000_000) as i64;
            wr::ctime(out, s + (o.local_offset)(s));
            out.extend_from_slice(b"] ");
            if let Some(stop) = ts.stop {
                out.extend_from_slice(b"[stop=");
                let s = (stop / 1_000_000_000) as i64;
                wr::ctime(out, s + (o.local_offset)(s));
                out.extend_from_slice(b"] ");
            }
        }
    }
    if let Some(h) = &f.helper {
        out.extend_from_slice(b"helper=");
        out.extend_from_slice(h.as_str().as_bytes());
        out.push(b' ');
    }
    if let Some(u) = f.use_count {
        kv(out, b"use=", u as u64);
    }
    if o.id {
        if let Some(id) = f.id {
            kv(out, b"id=", id as u64);
        }
    }
    if let (Some(map), Some(l)) = (o.labelmap, &f.labels) {
        out.extend_from_slice(b"labels=");
        for_each_label_name(l, map, |n| {
            out.extend_from_slice(n.as_bytes());
            out.push(b',');
        });
        // Drops the last ',' — or the '=' when no bit had a name (library quirk).
        out.pop();
        out.push(b' ');
    }
}

/// `delta-time`: whole seconds from start to stop, or to `now` when the entry has no (or a
/// zero) stop time; computed in `time_t` and printed as `%llu` (a negative difference wraps).
pub fn delta_time(start_ns: u64, stop_ns: Option<u64>, now: i64) -> u64 {
    let stop = match stop_ns {
        Some(s) if s != 0 => (s / 1_000_000_000) as i64,
        _ => now,
    };
    stop.wrapping_sub((start_ns / 1_000_000_000) as i64) as u64
}

/// Calls `f` with the name of each set label bit that has a non-empty name, lowest first.
pub fn for_each_label_name(l: &Labels, map: &LabelMap, mut f: impl FnMut(&str)) {
    for bit in l.bits() {
        if let Some(n) = map.name(bit) {
            if !n.is_empty() {
                f(n);
            }
        }
    }
}

/// The state word of the default line: TCP, SCTP, or DCCP (through the SCTP table, as the
/// library does), each falling back to entry 0 when out of range.
pub fn state_name_text(f: &Flow) -> Option<&'static str> {
    match f.protoinfo? {
        ProtoInfo::Tcp(t) => t.state.map(|s| super::state_from(&super::TCP_STATES, s)),
        ProtoInfo::Sctp(s) => s.state.map(|s| super::state_from(&super::SCTP_STATES, s)),
        ProtoInfo::Dccp(d) => d.state.map(|s| super::state_from(&super::SCTP_STATES, s)),
    }
}

fn counters(out: &mut Vec<u8>, c: &Counters) {
    kv(out, b"packets=", c.packets);
    kv(out, b"bytes=", c.bytes);
}

/// `src=… dst=… ` plus the layer 4 words of one tuple.
pub(crate) fn tuple_text(out: &mut Vec<u8>, t: &Tuple) {
    out.extend_from_slice(b"src=");
    wr::ip(out, t.src);
    out.extend_from_slice(b" dst=");
    wr::ip(out, t.dst);
    out.push(b' ');
    l4_text(out, t);
}

/// The layer 4 words of a tuple (`__snprintf_proto`).
pub(crate) fn l4_text(out: &mut Vec<u8>, t: &Tuple) {
    match t.proto {
        p if proto::has_ports(p) => {
            kv(out, b"sport=", t.sport as u64);
            kv(out, b"dport=", t.dport as u64);
        }
        proto::IPPROTO_GRE => {
            out.extend_from_slice(b"srckey=0x");
            wr::u64_hex(out, t.sport as u64);
            out.extend_from_slice(b" dstkey=0x");
            wr::u64_hex(out, t.dport as u64);
            out.push(b' ');
        }
        proto::IPPROTO_ICMP | proto::IPPROTO_ICMPV6 => {
            kv(out, b"type=", t.icmp_type as u64);
            kv(out, b"code=", t.icmp_code as u64);
            kv(out, b"id=", t.icmp_id as u64);
        }
        _ => {}
    }
}
