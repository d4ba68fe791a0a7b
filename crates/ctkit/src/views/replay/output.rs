//! The listing outputs of `ctkit replay`: events (`conntrack -E -o timestamp` text or
//! JSON lines, through the same `model::format` writers the compat `-E` uses), one line per
//! packet (the `ct state` a rule would see), the final table (`conntrack -L` text or
//! JSON lines, timeouts relative to the last packet), and the expectations (`conntrack -L
//! expect` / `-E expect -o timestamp` lines through the compat's expectation writer, or JSON).

use super::driver::{secs_us, Fate, Step};
use super::packet;
use crate::views::common::ViewArgs;
use ctkit_engine::{CtInfo, Event, EventKind, ExpectEvent};
use ctkit_model::format::{self, JsonOptions, TextOptions};
use ctkit_model::{Expect, Flow};
use std::io::Write;

/// Buffered standard output; a closed pipe ends the program as conntrack's does.
pub struct Out {
    buf: Vec<u8>,
}

impl Out {
    /// An empty buffer.
    pub fn new() -> Out {
        Out {
            buf: Vec::with_capacity(1 << 16),
        }
    }

    /// The buffer to append a record to; written out when it is large.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        if self.buf.len() >= 1 << 16 {
            self.flush();
        }
        &mut self.buf
    }

    /// Writes what is buffered.
    pub fn flush(&mut self) {
        let mut o = std::io::stdout().lock();
        if let Err(e) = o.write_all(&self.buf).and_then(|_| o.flush()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                crate::compat::closed_pipe();
            }
            eprintln!("ctkit: writing output: {e}");
            std::process::exit(1);
        }
        self.buf.clear();
    }
}

impl Default for Out {
    fn default() -> Self {
        Out::new()
    }
}

/// The formatter's kind for an engine event.
pub fn event_kind(k: EventKind) -> format::EventKind {
    match k {
        EventKind::New => format::EventKind::New,
        EventKind::Update => format::EventKind::Update,
        EventKind::Destroy => format::EventKind::Destroy,
    }
}

/// Appends one event record (`[sec.usec]\t[NEW] tcp …` or a JSON line) if it passes the
/// filters.
pub fn write_event(out: &mut Vec<u8>, e: &Event, view: &ViewArgs) {
    if !view.matches(&e.flow) {
        return;
    }
    let kind = Some(event_kind(e.kind));
    let t = secs_us(e.at);
    if view.json {
        format::write_flow_json(
            out,
            &e.flow,
            &JsonOptions {
                event: kind,
                event_time: Some(t),
                ..JsonOptions::default()
            },
        );
    } else {
        format::write_flow(
            out,
            &e.flow,
            &TextOptions {
                event: kind,
                event_time: Some(t),
                now: t.0,
                ..TextOptions::default()
            },
        );
    }
}

/// Appends one entry of the final table (`conntrack -L` line or JSON line) if it passes the
/// filters; `now_s` is the last packet's time in seconds.
pub fn write_entry(out: &mut Vec<u8>, f: &Flow, view: &ViewArgs, now_s: i64) -> bool {
    if !view.matches(f) {
        return false;
    }
    if view.json {
        format::write_flow_json(out, f, &JsonOptions::default());
    } else {
        format::write_flow(
            out,
            f,
            &TextOptions {
                now: now_s,
                ..TextOptions::default()
            },
        );
    }
    true
}

/// Appends one expectation event (`[sec.usec]\t[NEW] 300 proto=6 …`, conntrack's
/// `-E expect -o timestamp` line, or a JSON line).
pub fn write_expect_event(out: &mut Vec<u8>, e: &ExpectEvent, view: &ViewArgs) {
    let event = Some(event_kind(e.kind));
    let t = secs_us(e.at);
    if view.json {
        format::write_expect_json(
            out,
            &e.expect,
            &JsonOptions {
                event,
                event_time: Some(t),
                ..JsonOptions::default()
            },
        );
    } else {
        format::write_expect(
            out,
            &e.expect,
            &format::ExpectOptions {
                event,
                event_time: Some(t),
                ..format::ExpectOptions::default()
            },
        );
    }
}

/// Appends one pending expectation (`conntrack -L expect` line or JSON line).
pub fn write_expect(out: &mut Vec<u8>, e: &Expect, view: &ViewArgs) {
    if view.json {
        format::write_expect_json(out, e, &JsonOptions::default());
    } else {
        format::write_expect(out, e, &format::ExpectOptions::default());
    }
}

/// The `ct state` word a rule matches.
pub fn state_name(i: CtInfo) -> &'static str {
    match i {
        CtInfo::New => "new",
        CtInfo::Established => "established",
        CtInfo::Related => "related",
        CtInfo::Invalid => "invalid",
        CtInfo::Untracked => "untracked",
    }
}

/// Whether a packet passes the list filters (`--per-packet`): they see the entry its
/// headers make ([`packet::Summary::flow`]: tuples, oriented by the verdict's direction); a
/// packet without an IP header passes none.
pub fn packet_matches(s: &Step<'_>, view: &ViewArgs) -> bool {
    let reply = s.verdict.reply && !matches!(s.verdict.info, CtInfo::Invalid | CtInfo::Untracked);
    packet::summarize(s.l3).is_some_and(|p| view.matches(&p.flow(reply)))
}

/// Appends one per-packet line:
/// `[SEC.USEC]\tPROTO SRC[:PORT] -> DST[:PORT] [FLAGS][ fragment][ reassembled]\tSTATE
/// DIRECTION[ dropped]`, or its JSON. A fragment the reassembly kept is `held -` (conntrack
/// never sees it); the one completing its datagram shows the datagram and its verdict; the
/// second copy of a packet in a `-i any` capture is `copy -`. Written straight into `out` (no allocation per packet).
pub fn write_packet(out: &mut Vec<u8>, s: &Step<'_>, json: bool) {
    use std::io::Write as _;
    let (sec, us) = secs_us(s.ts_ns);
    let v = s.verdict;
    // A fragment the reassembly kept or dropped never reached conntrack: "held"; nor did a
    // packet's second copy: "copy".
    let held = matches!(s.fate, Fate::Held | Fate::Dropped | Fate::Copy);
    let state = match s.fate {
        Fate::Copy => "copy",
        _ if held => "held",
        _ => state_name(v.info),
    };
    let dropped = v.dropped || s.fate == Fate::Dropped;
    let dir = match v.info {
        _ if held => None,
        CtInfo::Invalid | CtInfo::Untracked => None,
        _ if v.reply => Some("reply"),
        _ => Some("original"),
    };
    let sum = packet::summarize(s.l3);
    let mut flags = [0u8; 9];
    let flags = match sum.and_then(|p| p.tcp_flags) {
        Some(f) => packet::tcp_flags(&mut flags, f),
        None => "",
    };
    let proto = |out: &mut Vec<u8>, p: u8| {
        match ctkit_model::proto::l4_name(p) {
            Some(n) => out.extend_from_slice(n.as_bytes()),
            None => {
                let _ = write!(out, "{p}");
            }
        };
    };
    if json {
        let _ = write!(
            out,
            "{{\"packet\":{},\"time\":{sec}.{us:06},\"proto\":",
            s.index + 1
        );
        match sum {
            Some(p) => {
                out.push(b'"');
                proto(out, p.proto);
                let _ = write!(out, "\",\"src\":\"{}\",\"dst\":\"{}\"", p.src, p.dst);
                if let Some((sp, dp)) = p.ports {
                    let _ = write!(out, ",\"sport\":{sp},\"dport\":{dp}");
                }
                if let Some((t, c, id)) = p.icmp {
                    let _ = write!(out, ",\"type\":{t},\"code\":{c},\"id\":{id}");
                }
                if !flags.is_empty() {
                    let _ = write!(out, ",\"flags\":\"{flags}\"");
                }
            }
            None => out.extend_from_slice(b"null"),
        }
        let _ = write!(out, ",\"state\":\"{state}\",\"direction\":");
        match dir {
            Some(d) => {
                let _ = write!(out, "\"{d}\"");
            }
            None => out.extend_from_slice(b"null"),
        }
        match s.fate {
            Fate::Whole => {}
            Fate::Held => out.extend_from_slice(b",\"fragment\":\"held\""),
            Fate::Dropped => out.extend_from_slice(b",\"fragment\":\"dropped\""),
            Fate::Reassembled => out.extend_from_slice(b",\"fragment\":\"reassembled\""),
            Fate::Copy => {}
        }
        let _ = writeln!(out, ",\"dropped\":{dropped}}}");
        return;
    }
    let _ = write!(out, "[{sec}.{us:06}]\t");
    match sum {
        Some(p) => {
            proto(out, p.proto);
            out.push(b' ');
            for (i, (a, port)) in [(p.src, p.ports.map(|x| x.0)), (p.dst, p.ports.map(|x| x.1))]
                .into_iter()
                .enumerate()
            {
                if i == 1 {
                    out.extend_from_slice(b" -> ");
                }
                let _ = match (port, a.is_ipv6()) {
                    (Some(port), true) => write!(out, "[{a}]:{port}"),
                    (Some(port), false) => write!(out, "{a}:{port}"),
                    (None, _) => write!(out, "{a}"),
                };
            }
            if let Some((t, c, id)) = p.icmp {
                let _ = write!(out, " type={t} code={c}");
                if packet::icmp_has_id(p.proto, t) {
                    let _ = write!(out, " id={id}");
                }
            }
            if !flags.is_empty() {
                let _ = write!(out, " [{flags}]");
            }
            if p.fragment {
                out.extend_from_slice(b" fragment");
            }
            if s.fate == Fate::Reassembled {
                out.extend_from_slice(b" reassembled");
            }
        }
        None => out.extend_from_slice(b"? (no IP header)"),
    }
    let _ = write!(out, "\t{state} {}", dir.unwrap_or("-"));
    if dropped {
        out.extend_from_slice(b" dropped");
    }
    out.push(b'\n');
}
