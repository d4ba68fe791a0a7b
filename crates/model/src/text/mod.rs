//! Parsers for what conntrack(8), the kernel's /proc table and ctkit print, back into model
//! values: one parser per format, shared by every `--from` source and view.
//!
//! | module | reads | formatter it inverts |
//! |---|---|---|
//! | [`parse_flow_into`] (flow.rs) | default and `-o extended` lines (with `-o id`, `-o ktimestamp` dates in UTC, labels, event tags, `-o timestamp` prefix, `[USERSPACE]` suffix), `/proc/net/nf_conntrack` (zero-padded IPv6, `zone=`, `use=`, GRE `timeout=`), old `/proc/net/ip_conntrack` | [`crate::format::text`] |
//! | [`save`] | `-o save` lines (`-A`/`-I`/`-U`/`-D` + options) | [`crate::format::save`] |
//! | [`xml`] | `-o xml` records | [`crate::format::xml`] |
//! | [`json`] | ctkit `-o json` lines | [`crate::format::json`] |
//! | [`detect()`] | which of these a dump is, from its first non-empty line | |
//! | [`reader`] | a whole dump, streamed in 1 MiB reads into one reused `Flow` | |
//!
//! Parsers work on bytes in place (no allocation, no UTF-8 check of the line) and fill a
//! caller-owned [`crate::Flow`]. What a format does not carry cannot come back: the text line
//! keeps only the SEEN_REPLY, ASSURED, OFFLOAD and HW_OFFLOAD status bits, `delta-time=D`
//! alone becomes a timestamp with start 0 and stop D seconds (which prints the same
//! `delta-time`), XML has no ICMP type/code/id, save has no mark, counters, helper or labels,
//! JSON has no SCTP verification tags or DCCP role. The guarantee, checked by property tests
//! for every format, is that formatting a parsed record with the same options reproduces it
//! byte for byte. Malformed input gives a [`ParseError`] naming the field and the 1-based
//! byte column; nothing panics (fuzz target `dump_parse`).

pub mod bytes;
pub mod detect;
mod flow;
pub mod json;
pub mod reader;
pub mod save;
pub mod xml;

pub use detect::{detect, DumpFormat};
pub use flow::{parse_flow_into, parse_flow_line, parse_proc_line, ParsedLine};
pub use reader::{DumpReader, LineSplitter};

/// The timestamp a lone `delta-time=D` (or `<deltatime>`) stands for, chosen so the
/// formatters print the same `D` again: start 0 and stop D seconds (`D = 0` stops at 1 ns,
/// since a zero stop means "still alive"). conntrack prints a negative age (a clock step) as a
/// huge unsigned number; `negative` accepts those as a start after a stop at 0 (the text
/// line's arithmetic; XML's cannot print them back). `None`: D is beyond what a nanosecond
/// timestamp holds (584 years).
pub(crate) fn delta_only(d: u64, negative: bool) -> Option<crate::flow::Timestamp> {
    const NS: u64 = 1_000_000_000;
    const MAX_S: u64 = u64::MAX / NS;
    if d <= MAX_S {
        return Some(crate::flow::Timestamp {
            start: 0,
            stop: Some((d * NS).max(1)),
        });
    }
    let back = (d as i64).checked_neg().filter(|b| *b > 0)? as u64;
    (negative && back <= MAX_S).then_some(crate::flow::Timestamp {
        start: back * NS,
        stop: Some(1),
    })
}

/// What a parsed record said besides its flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineInfo {
    /// The event kind (`[NEW]` tag, XML `type=`, JSON `"event"`, save `-A`/`-I`/`-U`/`-D`).
    pub event: Option<crate::format::EventKind>,
    /// Whether a text line had the `-o extended` (and /proc) layer 3 prefix.
    pub extended: bool,
    /// `portid` of a `[USERSPACE]` suffix (JSON `"userspace"`).
    pub userspace_portid: Option<u32>,
    /// The `-E -o timestamp` receive time (seconds, microseconds).
    pub event_time: Option<(i64, u32)>,
}

/// What went wrong in a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The line ended before a required field.
    #[error("missing field")]
    Missing,
    /// A number did not parse or is out of range.
    #[error("bad number")]
    BadNumber,
    /// An address did not parse.
    #[error("bad address")]
    BadAddress,
    /// The two addresses of a tuple, or the two tuples, are of different families.
    #[error("address family mismatch")]
    FamilyMismatch,
    /// A protocol or family name conntrack does not print.
    #[error("unknown protocol name")]
    UnknownProto,
    /// The protocol name does not belong to the number printed next to it.
    #[error("protocol name does not match its number")]
    ProtoMismatch,
    /// A state name that the protocol's table does not have.
    #[error("unknown state")]
    UnknownState,
    /// A label name missing from the label map (or labels without a map).
    #[error("unknown label")]
    UnknownLabel,
    /// A `[start=…]`/`[stop=…]` date that is not `ctime` output.
    #[error("bad date")]
    BadDate,
    /// A token that cannot appear here.
    #[error("unexpected token")]
    Unexpected,
}

/// A parse failure: which field, where, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} in field `{field}` at column {column}")]
pub struct ParseError {
    /// The field being read (`src`, `sport`, `timeout`, `state`, …).
    pub field: &'static str,
    /// 1-based byte column where the offending token starts (line length + 1 at the end).
    pub column: usize,
    /// What went wrong.
    pub kind: ParseErrorKind,
}
