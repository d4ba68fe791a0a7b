//! The three listing outputs of `ctkit replay`: events (`conntrack -E -o timestamp` text or
//! JSON lines, through the same `model::format` writers the compat `-E` uses), one line per
//! packet (the `ct state` a rule would see), and the final table (`conntrack -L` text or
//! JSON lines, timeouts relative to the last packet).

use super::driver::{secs_us, Step};
use super::packet;
use crate::views::common::ViewArgs;
use ctkit_engine::{CtInfo, Event, EventKind};
use ctkit_model::format::{self, JsonOptions, TextOptions};
use ctkit_model::Flow;
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

/// Appends one per-packet line:
/// `SEC.USEC  PROTO SRC[:PORT] -> DST[:PORT] [FLAGS]  STATE DIRECTION[ dropped]`, or its JSON.
pub fn write_packet(out: &mut Vec<u8>, s: &Step<'_>, json: bool, scratch: &mut String) {
    let (sec, us) = secs_us(s.ts_ns);
    let v = s.verdict;
    let state = state_name(v.info);
    let dir = match v.info {
        CtInfo::Invalid | CtInfo::Untracked => "-",
        _ if v.reply => "reply",
        _ => "original",
    };
    let sum = packet::summarize(s.l3);
    scratch.clear();
    use std::fmt::Write as _;
    let proto = sum
        .map(|p| {
            ctkit_model::proto::l4_name(p.proto).map_or_else(|| p.proto.to_string(), String::from)
        })
        .unwrap_or_else(|| "?".into());
    let addr = |a: std::net::IpAddr, port: Option<u16>, json: bool| -> String {
        match (port, json) {
            (Some(p), false) if a.is_ipv6() => format!("[{a}]:{p}"),
            (Some(p), false) => format!("{a}:{p}"),
            _ => a.to_string(),
        }
    };
    let mut flags = String::new();
    if let Some(f) = sum.and_then(|p| p.tcp_flags) {
        packet::tcp_flags(&mut flags, f);
    }
    if json {
        let _ = write!(
            scratch,
            "{{\"packet\":{},\"time\":{sec}.{us:06},\"proto\":\"{proto}\"",
            s.index + 1
        );
        if let Some(p) = sum {
            let _ = write!(scratch, ",\"src\":\"{}\",\"dst\":\"{}\"", p.src, p.dst);
            if let Some((sp, dp)) = p.ports {
                let _ = write!(scratch, ",\"sport\":{sp},\"dport\":{dp}");
            }
            if let Some((t, c, id)) = p.icmp {
                let _ = write!(scratch, ",\"type\":{t},\"code\":{c},\"id\":{id}");
            }
            if !flags.is_empty() {
                let _ = write!(scratch, ",\"flags\":\"{flags}\"");
            }
        }
        let dir_json = if dir == "-" {
            "null".to_string()
        } else {
            format!("\"{dir}\"")
        };
        let _ = writeln!(
            scratch,
            ",\"state\":\"{state}\",\"direction\":{dir_json},\"dropped\":{}}}",
            v.dropped
        );
    } else {
        let _ = write!(scratch, "[{sec}.{us:06}]\t{proto} ");
        match sum {
            Some(p) => {
                let (sp, dp) = p.ports.unzip();
                let _ = write!(
                    scratch,
                    "{} -> {}",
                    addr(p.src, sp, false),
                    addr(p.dst, dp, false)
                );
                if let Some((t, c, id)) = p.icmp {
                    let _ = write!(scratch, " type={t} code={c} id={id}");
                }
                if !flags.is_empty() {
                    let _ = write!(scratch, " [{flags}]");
                }
                if p.fragment {
                    scratch.push_str(" fragment");
                }
            }
            None => scratch.push_str("(no IP header)"),
        }
        let _ = write!(scratch, "\t{state} {dir}");
        if v.dropped {
            scratch.push_str(" dropped");
        }
        scratch.push('\n');
    }
    out.extend_from_slice(scratch.as_bytes());
}
