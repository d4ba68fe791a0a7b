//! Packet captures in, IP packets out: a streaming reader of pcap and pcapng files for the
//! conntrack replay.
//!
//! Formats follow the IETF drafts `draft-ietf-opsawg-pcap` (classic pcap: both byte orders,
//! microsecond `0xa1b2c3d4` and nanosecond `0xa1b23c4d` magic) and
//! `draft-ietf-opsawg-pcapng` (Section Header Blocks of either byte order, Interface
//! Description Blocks with `if_tsresol`/`if_tsoffset`, Enhanced, Simple and the obsolete
//! Packet Blocks; other blocks are skipped). Link layers are in [`link`].
//!
//! The reader streams from any [`Read`]: one reused buffer, records parsed in place, the
//! packet handed out as a borrowed slice — no per-packet allocation and no whole-file load.
//! Frames without an IP packet (ARP, …) are skipped and counted; so are pcapng packets on
//! an interface of a link type the reader does not know (a capture with several interfaces
//! may mix them), unless no frame at all was usable: then that is the error. Bad input is a
//! [`CaptureError`] naming the record, never a panic.
//!
//! ```no_run
//! let f = std::fs::File::open("x.pcap").unwrap();
//! let mut cap = ctkit_capture::Capture::new(f).unwrap();
//! while let Some(p) = cap.next_packet().unwrap() {
//!     println!("{} ns: {} bytes of IP", p.ts_ns, p.l3.len());
//! }
//! ```
#![deny(missing_docs)]

mod input;
pub mod link;
mod pcap;
mod pcapng;
pub mod write;

use input::Input;
pub use link::Link;
use std::io::{self, Read};

/// The largest record accepted (real captures stay under 256 KiB).
pub const MAX_RECORD: usize = 16 << 20;

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Reading the input failed.
    #[error("read error at byte {offset}: {source}")]
    Io {
        /// Where in the file.
        offset: u64,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The input starts with neither pcap nor pcapng magic.
    #[error("not a pcap or pcapng capture ({})", starts_with(found))]
    NotACapture {
        /// The first bytes (fewer when the input is shorter).
        found: Vec<u8>,
    },
    /// The input ends inside a record (or the file header, record 0).
    #[error("{}: truncated (the input ends inside it)", place(*.record, *.offset))]
    Truncated {
        /// The record (pcap: packet records from 1; pcapng: blocks from 1).
        record: u64,
        /// Its first byte.
        offset: u64,
    },
    /// A record is malformed.
    #[error("{}: {what}", place(*.record, *.offset))]
    Corrupt {
        /// The record.
        record: u64,
        /// Its first byte.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A link type the reader cannot strip to IP.
    #[error("{}: unsupported link type {linktype} (supported: Ethernet, Linux SLL/SLL2, raw IP, BSD loopback)", place_of(*.record))]
    UnsupportedLinkType {
        /// The record that introduced or used it.
        record: u64,
        /// The `LINKTYPE_` value.
        linktype: u32,
    },
}

/// What a non-capture input starts with, for [`CaptureError::NotACapture`].
fn starts_with(found: &[u8]) -> String {
    if found.is_empty() {
        "the input is empty".to_string()
    } else if found.starts_with(&[0x1f, 0x8b]) {
        "gzip-compressed: decompress it first, e.g. zcat FILE | ctkit replay -".to_string()
    } else if found.starts_with(b"\x28\xb5\x2f\xfd") {
        "zstd-compressed: decompress it first, e.g. zstdcat FILE | ctkit replay -".to_string()
    } else {
        format!("it starts with {found:02x?}")
    }
}

/// Where an error is: record 0 is the pcap file header (pcapng numbers its first block 1).
fn place(record: u64, offset: u64) -> String {
    if record == 0 {
        "file header".to_string()
    } else {
        format!("record {record} at byte {offset}")
    }
}

/// [`place`] without the offset.
fn place_of(record: u64) -> String {
    if record == 0 {
        "file header".to_string()
    } else {
        format!("record {record}")
    }
}

/// Which file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Classic libpcap.
    Pcap,
    /// pcapng.
    Pcapng,
}

/// The format `head` (the first 4 bytes of a file, or more) announces.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    let m = head.get(..4)?;
    if pcap::magic(m).is_some() {
        Some(Kind::Pcap)
    } else if m == pcapng::SHB_TYPE {
        Some(Kind::Pcapng)
    } else {
        None
    }
}

/// One IP packet of the capture, borrowed from the reader until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Capture time, nanoseconds since the epoch (saturating).
    pub ts_ns: u64,
    /// The captured bytes from the IP header on (may be cut short by the snap length).
    pub l3: &'a [u8],
    /// The frame's length on the wire (link header included).
    pub orig_len: u32,
    /// Bytes of the frame the snap length cut off (`orig_len` minus the captured length;
    /// 0 for a whole frame): `l3` is that much shorter than the packet was.
    pub cut_len: u32,
    /// Whether the capturing host sent the frame (`Some(true)`) or received it
    /// (`Some(false)`), when the capture says: Linux cooked captures (`tcpdump -i any`) in
    /// their header, pcapng in an enhanced packet block's `epb_flags` (dumpcap).
    pub outgoing: Option<bool>,
}

/// What a reader has seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Records (pcap) or blocks (pcapng) read, file header excluded.
    pub records: u64,
    /// IP packets handed out.
    pub packets: u64,
    /// Frames skipped because they carry no IP packet.
    pub skipped: u64,
    /// pcapng packets skipped because their interface has a link type the reader cannot
    /// strip to IP ([`CaptureError::UnsupportedLinkType`] when no other frame was usable).
    pub unsupported: u64,
    /// The first such link type (`LINKTYPE_` value).
    pub unsupported_linktype: Option<u32>,
}

/// A frame found by a format parser: where it lies in the input buffer.
pub(crate) struct Frame {
    pub ts_ns: u64,
    pub link: Link,
    pub start: usize,
    pub caplen: usize,
    pub orig_len: u32,
    /// Sent (`Some(true)`) or received, when the format says (pcapng's `epb_flags`).
    pub outgoing: Option<bool>,
}

enum Format {
    Pcap(pcap::Pcap),
    Pcapng(pcapng::Pcapng),
}

/// A streaming capture reader. See the crate documentation.
pub struct Capture<R> {
    input: Input<R>,
    format: Format,
    stats: CaptureStats,
    /// The record of the first packet skipped for its link type.
    first_unsupported: u64,
}

pub(crate) fn io_err(offset: u64) -> impl FnOnce(io::Error) -> CaptureError {
    move |source| CaptureError::Io { offset, source }
}

impl<R: Read> Capture<R> {
    /// Reads the file header (pcap) or checks the first Section Header Block (pcapng).
    pub fn new(r: R) -> Result<Capture<R>, CaptureError> {
        let mut input = Input::new(r);
        input.fill(4).map_err(io_err(0))?;
        let head = input.peek(input.avail().min(4));
        let format = match sniff(head) {
            Some(Kind::Pcap) => Format::Pcap(pcap::Pcap::open(&mut input)?),
            Some(Kind::Pcapng) => Format::Pcapng(pcapng::Pcapng::default()),
            None => {
                return Err(CaptureError::NotACapture {
                    found: head.to_vec(),
                })
            }
        };
        Ok(Capture {
            input,
            format,
            stats: CaptureStats::default(),
            first_unsupported: 0,
        })
    }

    /// The file format.
    pub fn kind(&self) -> Kind {
        match self.format {
            Format::Pcap(_) => Kind::Pcap,
            Format::Pcapng(_) => Kind::Pcapng,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> CaptureStats {
        self.stats
    }

    /// The next IP packet, `None` at the clean end of the input.
    ///
    /// A pcapng packet on an interface of an unsupported link type is skipped and counted
    /// ([`CaptureStats::unsupported`]); when the input ends without any usable frame, the
    /// first such packet's [`CaptureError::UnsupportedLinkType`] is returned instead.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        loop {
            let frame = match &mut self.format {
                Format::Pcap(p) => p.next_frame(&mut self.input, &mut self.stats.records)?,
                Format::Pcapng(p) => match p.next_frame(&mut self.input, &mut self.stats.records) {
                    // The block is consumed: reading goes on after it.
                    Err(CaptureError::UnsupportedLinkType { record, linktype }) => {
                        self.stats.unsupported += 1;
                        if self.stats.unsupported_linktype.is_none() {
                            self.stats.unsupported_linktype = Some(linktype);
                            self.first_unsupported = record;
                        }
                        continue;
                    }
                    r => r?,
                },
            };
            let Some(f) = frame else {
                return match self.stats.unsupported_linktype {
                    Some(linktype) if self.stats.packets + self.stats.skipped == 0 => {
                        Err(CaptureError::UnsupportedLinkType {
                            record: self.first_unsupported,
                            linktype,
                        })
                    }
                    _ => Ok(None),
                };
            };
            let bytes = self.input.slice(f.start, f.caplen);
            match f.link.l3_offset(bytes) {
                Some(off) => {
                    self.stats.packets += 1;
                    return Ok(Some(Packet {
                        ts_ns: f.ts_ns,
                        l3: self.input.slice(f.start + off, f.caplen - off),
                        orig_len: f.orig_len,
                        cut_len: f.orig_len.saturating_sub(f.caplen as u32),
                        outgoing: f.link.outgoing(bytes).or(f.outgoing),
                    }));
                }
                None => self.stats.skipped += 1,
            }
        }
    }
}

/// Reads a u16 in the given byte order (`b` has at least 2 bytes).
pub(crate) fn u16_at(b: &[u8], at: usize, le: bool) -> u16 {
    let a = [b[at], b[at + 1]];
    if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    }
}

/// Reads a u32 in the given byte order.
pub(crate) fn u32_at(b: &[u8], at: usize, le: bool) -> u32 {
    let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    }
}
