//! conntrack(8) output formats, byte-for-byte as Debian's conntrack 1.4.7 prints them through
//! libnetfilter_conntrack 1.0.9 (`src/conntrack/snprintf_default.c`, `snprintf_xml.c`,
//! `src/expect/snprintf_default.c`, `snprintf_xml.c`) and conntrack-tools `src/conntrack.c`
//! (`-o save`, `-S`, `-C`, event prefixes and suffixes), plus ctkit's own JSON lines.
//!
//! Every writer appends one complete record (including its `\n`) to a caller-owned
//! `Vec<u8>`: no allocation per entry beyond growing that buffer, no `format!`.
//!
//! | module | what |
//! |---|---|
//! | [`text`] | default/`-o extended`/`-o id`/`-o ktimestamp`/`-o labels` line, event prefix and suffixes |
//! | [`xml`] | `-o xml` flow line, lazy header and footer |
//! | [`save`] | `-o save` line |
//! | [`json`] | ctkit's `-o json` line (schema in docs/json-schema.md) |
//! | [`expect`] | expectation line (default and XML) |
//! | [`stats`] | `-S`, `-S expect` (per-CPU) and `-C` lines |

pub mod expect;
pub mod json;
pub mod save;
pub mod stats;
pub mod text;
pub mod wr;
pub mod xml;

use crate::flow::Flow;
use crate::proto;
use crate::tuple::Tuple;

pub use expect::{write_expect, write_expect_xml, ExpectOptions};
pub use json::{write_expect_json, write_flow_json, JsonOptions};
pub use save::{write_flow_save, SaveOptions};
pub use stats::{write_count, write_cpu_stats, write_exp_cpu_stats, write_proc_stats_line};
pub use text::{write_flow, TextOptions};
pub use xml::{write_flow_xml, XmlOptions};

/// What kind of event a record reports (`NFCT_T_NEW`/`_UPDATE`/`_DESTROY`); `None` in options
/// means a dump/get/delete listing (`NFCT_T_UNKNOWN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE`: printed `    [NEW] `.
    New,
    /// `IPCTNL_MSG_CT_NEW` without `NLM_F_CREATE`: printed ` [UPDATE] `.
    Update,
    /// `IPCTNL_MSG_CT_DELETE`: printed `[DESTROY] `.
    Destroy,
}

impl EventKind {
    /// The bracketed tag (`[NEW]`, `[UPDATE]`, `[DESTROY]`).
    pub fn tag(self) -> &'static str {
        match self {
            EventKind::New => "[NEW]",
            EventKind::Update => "[UPDATE]",
            EventKind::Destroy => "[DESTROY]",
        }
    }

    /// The lower-case name (XML `type=` attribute, JSON `event`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::New => "new",
            EventKind::Update => "update",
            EventKind::Destroy => "destroy",
        }
    }
}

/// The originator of an event, for conntrack 1.4.7's ` [USERSPACE] portid=N[ progname=X]`
/// suffix. conntrack appends it to **every** event record (default, XML and save alike)
/// whose netlink header carries a non-zero `nlmsg_pid`; `progname` is what it found in /proc
/// for that port id, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Userspace<'a> {
    /// `nlmsghdr.nlmsg_pid` of the event.
    pub portid: u32,
    /// Process name owning that netlink port, when found.
    pub progname: Option<&'a str>,
}

/// Returns the local time offset from UTC, in seconds, at a UTC instant (what `localtime`
/// applies). ctime/`<when>` output uses it.
pub type LocalOffset = fn(i64) -> i64;

/// The UTC offset function (offset 0), the default.
pub fn utc(_t: i64) -> i64 {
    0
}

/// Appends the `-E -o timestamp` prefix of a flow event, `[%-.8ld.%-.6ld]\t`: seconds
/// zero-padded to at least 8 digits, microseconds to 6.
pub fn write_event_timestamp(out: &mut Vec<u8>, secs: i64, usecs: u32) {
    out.push(b'[');
    if secs < 0 {
        out.push(b'-');
    }
    wr::u64_dec_zero(out, secs.unsigned_abs(), 8);
    out.push(b'.');
    wr::u64_dec_zero(out, usecs as u64, 6);
    out.extend_from_slice(b"]\t");
}

/// Appends the `[USERSPACE] portid=N[ progname=X]` suffix with its leading space.
pub fn write_userspace(out: &mut Vec<u8>, us: &Userspace<'_>) {
    out.extend_from_slice(b" [USERSPACE] portid=");
    wr::u64_dec(out, us.portid as u64);
    if let Some(p) = us.progname {
        out.extend_from_slice(b" progname=");
        out.extend_from_slice(p.as_bytes());
    }
}

/// Ends a record as conntrack does: optional userspace suffix, then `\n`.
pub(crate) fn end_record(out: &mut Vec<u8>, us: Option<&Userspace<'_>>) {
    if let Some(us) = us {
        write_userspace(out, us);
    }
    out.push(b'\n');
}

pub(crate) fn end_record_json(out: &mut Vec<u8>) {
    out.push(b'\n');
}

/// libnetfilter_conntrack's `l3proto2str` with its `unknown` fallback.
pub fn l3_name(af: u8) -> &'static str {
    match af {
        proto::Family::AF_INET => "ipv4",
        proto::Family::AF_INET6 => "ipv6",
        _ => "unknown",
    }
}

/// libnetfilter_conntrack's `proto2str` with its `unknown` fallback.
pub fn l4_name(p: u8) -> &'static str {
    proto::l4_name(p).unwrap_or("unknown")
}

/// The tuple's `(l3protonum, protonum)` as the library sees it: `(0, 0)` when absent.
pub(crate) fn tuple_nums(t: &Tuple, present: bool) -> (u8, u8) {
    if present {
        (t.family().af(), t.proto)
    } else {
        (0, 0)
    }
}

/// The flow's layer 3 family number (`ATTR_ORIG_L3PROTO`, falling back to the reply tuple).
pub(crate) fn flow_af(f: &Flow) -> u8 {
    if f.has_orig {
        f.orig.family().af()
    } else if f.has_reply {
        f.reply.family().af()
    } else {
        0
    }
}

/// libnetfilter_conntrack's TCP state names (`states[]`, `TCP_CONNTRACK_MAX` = 10).
pub const TCP_STATES: [&str; 10] = crate::protoinfo::TcpState::NAMES;
/// libnetfilter_conntrack's SCTP state names (`sctp_states[]`, `SCTP_CONNTRACK_MAX` = 10).
pub const SCTP_STATES: [&str; 10] = crate::protoinfo::SctpState::NAMES;

pub(crate) fn state_from(table: &[&'static str; 10], v: u8) -> &'static str {
    table.get(v as usize).copied().unwrap_or(table[0])
}
