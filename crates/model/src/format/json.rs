//! ctkit's `-o json` output: one JSON object per flow per line (JSON Lines), hand-written for
//! speed. The schema is documented in docs/json-schema.md; keys appear in a fixed order and
//! keys whose kernel attribute was absent are omitted.

use super::{end_record_json, flow_af, l3_name, wr, EventKind, Userspace};
use crate::flow::Flow;
use crate::labelmap::LabelMap;
use crate::proto;
use crate::protoinfo::{ProtoInfo, SctpState, TcpState, DCCP_STATE_NAMES};
use crate::status::Status;
use crate::tuple::Tuple;

/// Options of the JSON line.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonOptions<'a> {
    /// Event kind (`"event"` key); `None` for listings.
    pub event: Option<EventKind>,
    /// Label names (`"label_names"` key) when a map is loaded.
    pub labelmap: Option<&'a LabelMap>,
    /// Event receive time (seconds, microseconds) (`"time"` key).
    pub event_time: Option<(i64, u32)>,
    /// Event originator (`"userspace"` key).
    pub userspace: Option<Userspace<'a>>,
}

/// Appends `s` as a JSON string literal (quotes included), escaping `"`, `\` and control
/// characters.
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &c in s.as_bytes() {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            c if c < 0x20 || c == 0x7f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 0xf) as usize]);
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

struct Obj<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Obj<'o> {
    fn new(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }
    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }
    fn num(&mut self, k: &str, v: u64) {
        let o = self.key(k);
        wr::u64_dec(o, v);
    }
    fn int(&mut self, k: &str, v: i32) {
        let o = self.key(k);
        if v < 0 {
            o.push(b'-');
        }
        wr::u64_dec(o, v.unsigned_abs() as u64);
    }
    fn str(&mut self, k: &str, v: &str) {
        let o = self.key(k);
        json_str(o, v);
    }
    fn end(self) {
        self.out.push(b'}');
    }
}

fn ip_str(out: &mut Vec<u8>, a: std::net::IpAddr) {
    out.push(b'"');
    wr::ip(out, a);
    out.push(b'"');
}

fn tuple_obj(out: &mut Vec<u8>, t: &Tuple, c: Option<crate::flow::Counters>) {
    let mut o = Obj::new(out);
    ip_str(o.key("src"), t.src);
    ip_str(o.key("dst"), t.dst);
    match t.proto {
        p if proto::has_ports(p) => {
            o.num("sport", t.sport as u64);
            o.num("dport", t.dport as u64);
        }
        proto::IPPROTO_GRE => {
            o.num("srckey", t.sport as u64);
            o.num("dstkey", t.dport as u64);
        }
        proto::IPPROTO_ICMP | proto::IPPROTO_ICMPV6 => {
            o.num("type", t.icmp_type as u64);
            o.num("code", t.icmp_code as u64);
            o.num("id", t.icmp_id as u64);
        }
        _ => {}
    }
    if let Some(z) = t.zone {
        o.num("zone", z as u64);
    }
    if let Some(c) = c {
        o.num("packets", c.packets);
        o.num("bytes", c.bytes);
    }
    o.end();
}

/// The protocol's own state name (no library quirks), or `None`.
fn state_name(f: &Flow) -> Option<&'static str> {
    match f.protoinfo? {
        ProtoInfo::Tcp(t) => TcpState::from_u8(t.state?).name(),
        ProtoInfo::Sctp(s) => SctpState(s.state?).name(),
        ProtoInfo::Dccp(d) => DCCP_STATE_NAMES.get(d.state? as usize).copied(),
    }
}

/// Appends one JSON object line (with its `\n`) for `f`.
pub fn write_flow_json(out: &mut Vec<u8>, f: &Flow, opts: &JsonOptions<'_>) {
    let mut o = Obj::new(out);
    if let Some(ev) = opts.event {
        o.str("event", ev.name());
    }
    if let Some((s, us)) = opts.event_time {
        let w = o.key("time");
        wr::i64_dec(w, s);
        w.push(b'.');
        wr::u64_dec_zero(w, us as u64, 6);
    }
    let af = flow_af(f);
    o.str("family", l3_name(af));
    let p = if f.has_orig {
        f.orig.proto
    } else {
        f.reply.proto
    };
    o.str("proto", proto::l4_name(p).unwrap_or("unknown"));
    o.num("protonum", p as u64);
    if let Some(t) = f.timeout {
        o.num("timeout", t as u64);
    }
    if let Some(s) = state_name(f) {
        o.str("state", s);
    }
    if f.has_orig {
        tuple_obj(o.key("orig"), &f.orig, f.counters_orig);
    }
    if f.has_reply {
        tuple_obj(o.key("reply"), &f.reply, f.counters_reply);
    }
    if let Some(s) = f.status {
        let w = o.key("status");
        w.push(b'[');
        let mut first = true;
        for bit in 0..32 {
            if s.0 & (1 << bit) == 0 {
                continue;
            }
            if !first {
                w.push(b',');
            }
            first = false;
            match Status::NAMES.get(bit) {
                Some(n) => json_str(w, n),
                None => {
                    w.extend_from_slice(b"\"BIT");
                    wr::u64_dec(w, bit as u64);
                    w.push(b'"');
                }
            }
        }
        w.push(b']');
    }
    if let Some(m) = f.mark {
        o.num("mark", m as u64);
    }
    if let Some(m) = f.secmark {
        o.num("secmark", m as u64);
    }
    if let Some(c) = &f.secctx {
        o.str("secctx", c.as_str());
    }
    if let Some(z) = f.zone {
        o.num("zone", z as u64);
    }
    if let Some(u) = f.use_count {
        o.num("use", u as u64);
    }
    if let Some(id) = f.id {
        o.num("id", id as u64);
    }
    if let Some(h) = &f.helper {
        o.str("helper", h.as_str());
    }
    if let Some(l) = &f.labels {
        let w = o.key("labels");
        w.push(b'[');
        for (i, b) in l.bits().enumerate() {
            if i > 0 {
                w.push(b',');
            }
            wr::u64_dec(w, b as u64);
        }
        w.push(b']');
        if let Some(map) = opts.labelmap {
            let w = o.key("label_names");
            w.push(b'[');
            let mut first = true;
            super::text::for_each_label_name(l, map, |n| {
                if !first {
                    w.push(b',');
                }
                first = false;
                json_str(w, n);
            });
            w.push(b']');
        }
    }
    if let Some(ts) = f.timestamp {
        let mut t = Obj::new(o.key("timestamp"));
        t.num("start", ts.start);
        if let Some(stop) = ts.stop {
            t.num("stop", stop);
        }
        t.end();
    }
    for (key, adj) in [
        ("seq_adj_orig", f.seq_adj_orig),
        ("seq_adj_reply", f.seq_adj_reply),
    ] {
        if let Some(a) = adj {
            let mut s = Obj::new(o.key(key));
            s.num("correction_pos", a.correction_pos as u64);
            s.int("offset_before", a.offset_before);
            s.int("offset_after", a.offset_after);
            s.end();
        }
    }
    if let Some(p) = f.synproxy {
        let mut s = Obj::new(o.key("synproxy"));
        s.num("isn", p.isn as u64);
        s.num("its", p.its as u64);
        s.num("tsoff", p.tsoff as u64);
        s.end();
    }
    if let Some(us) = opts.userspace {
        let mut u = Obj::new(o.key("userspace"));
        u.num("portid", us.portid as u64);
        if let Some(p) = us.progname {
            u.str("progname", p);
        }
        u.end();
    }
    o.end();
    end_record_json(out);
}

/// Appends one JSON object line (with its `\n`) for the expectation `e` (schema in
/// docs/json-schema.md, "Expectation objects"); `opts.event` and `opts.event_time` as for
/// flows, the other options do not apply.
pub fn write_expect_json(out: &mut Vec<u8>, e: &crate::expect::Expect, opts: &JsonOptions<'_>) {
    use crate::expect::{NF_CT_EXPECT_INACTIVE, NF_CT_EXPECT_PERMANENT, NF_CT_EXPECT_USERSPACE};
    let mut o = Obj::new(out);
    if let Some(ev) = opts.event {
        o.str("event", ev.name());
    }
    if let Some((s, us)) = opts.event_time {
        let w = o.key("time");
        wr::i64_dec(w, s);
        w.push(b'.');
        wr::u64_dec_zero(w, us as u64, 6);
    }
    o.str("family", l3_name(e.tuple.family().af()));
    let p = e.tuple.proto;
    o.str("proto", proto::l4_name(p).unwrap_or("unknown"));
    o.num("protonum", p as u64);
    if let Some(t) = e.timeout {
        o.num("timeout", t as u64);
    }
    tuple_obj(o.key("expected"), &e.tuple, None);
    // The mask's protocol is the expected tuple's (`ctnetlink_exp_dump_mask`).
    let mask = Tuple { proto: p, ..e.mask };
    tuple_obj(o.key("mask"), &mask, None);
    tuple_obj(o.key("master"), &e.master, None);
    if let Some(z) = e.zone {
        o.num("zone", z as u64);
    }
    if let Some(f) = e.flags {
        let w = o.key("flags");
        w.push(b'[');
        let mut first = true;
        for (bit, name) in [
            (NF_CT_EXPECT_PERMANENT, "PERMANENT"),
            (NF_CT_EXPECT_INACTIVE, "INACTIVE"),
            (NF_CT_EXPECT_USERSPACE, "USERSPACE"),
        ] {
            if f & bit != 0 {
                if !first {
                    w.push(b',');
                }
                first = false;
                json_str(w, name);
            }
        }
        w.push(b']');
    }
    if let Some(c) = e.class {
        o.num("class", c as u64);
    }
    if let Some(h) = &e.helper {
        o.str("helper", h.as_str());
    }
    if let Some(id) = e.id {
        o.num("id", id as u64);
    }
    o.end();
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::Expect;
    use crate::flow::HelperName;

    #[test]
    fn expectation_json_line_has_every_key_in_schema_order() {
        let t = |s: &str, d: &str, sp, dp| Tuple {
            src: s.parse().unwrap(),
            dst: d.parse().unwrap(),
            proto: 6,
            sport: sp,
            dport: dp,
            ..Tuple::default()
        };
        let e = Expect {
            master: t("192.0.2.1", "192.0.2.2", 40000, 21),
            tuple: t("192.0.2.1", "192.0.2.2", 0, 2121),
            mask: t("255.255.255.255", "255.255.255.255", 0, 0xffff),
            timeout: Some(299),
            id: Some(7),
            helper: Some(HelperName::new("ftp")),
            flags: Some(crate::expect::NF_CT_EXPECT_PERMANENT),
            class: Some(0),
            ..Expect::default()
        };
        let mut out = Vec::new();
        write_expect_json(
            &mut out,
            &e,
            &JsonOptions {
                event: Some(EventKind::New),
                event_time: Some((5, 42)),
                ..JsonOptions::default()
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"event\":\"new\",\"time\":5.000042,\"family\":\"ipv4\",\"proto\":\"tcp\",\
             \"protonum\":6,\"timeout\":299,\
             \"expected\":{\"src\":\"192.0.2.1\",\"dst\":\"192.0.2.2\",\"sport\":0,\"dport\":2121},\
             \"mask\":{\"src\":\"255.255.255.255\",\"dst\":\"255.255.255.255\",\"sport\":0,\"dport\":65535},\
             \"master\":{\"src\":\"192.0.2.1\",\"dst\":\"192.0.2.2\",\"sport\":40000,\"dport\":21},\
             \"flags\":[\"PERMANENT\"],\"class\":0,\"helper\":\"ftp\",\"id\":7}\n"
        );
    }
}
