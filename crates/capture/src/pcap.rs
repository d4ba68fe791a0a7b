//! Classic libpcap files (`draft-ietf-opsawg-pcap`): a 24-byte file header whose magic gives
//! the byte order and the timestamp unit, then 16-byte record headers, each followed by
//! `incl_len` captured bytes.

use crate::input::Input;
use crate::{io_err, u32_at, CaptureError, Frame, Link, MAX_RECORD};
use std::io::Read;

const FILE_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;

/// (little-endian, nanosecond) for a pcap magic number as stored.
pub(crate) fn magic(m: &[u8]) -> Option<(bool, bool)> {
    match m {
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((true, false)),
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((false, false)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((true, true)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((false, true)),
        _ => None,
    }
}

/// A pcap file's parameters.
pub(crate) struct Pcap {
    le: bool,
    nanos: bool,
    link: Link,
}

impl Pcap {
    /// Reads the file header.
    pub(crate) fn open<R: Read>(input: &mut Input<R>) -> Result<Pcap, CaptureError> {
        if !input.fill(FILE_HEADER).map_err(io_err(0))? {
            return Err(CaptureError::Truncated {
                record: 0,
                offset: 0,
            });
        }
        let h = input.peek(FILE_HEADER);
        let (le, nanos) = magic(&h[..4]).expect("sniffed as pcap");
        if crate::u16_at(h, 4, le) != 2 {
            return Err(CaptureError::Corrupt {
                record: 0,
                offset: 0,
                what: "unsupported pcap major version (not 2)",
            });
        }
        let linktype = u32_at(h, 20, le);
        let link = Link::from_linktype(linktype).ok_or(CaptureError::UnsupportedLinkType {
            record: 0,
            linktype,
        })?;
        input.consume(FILE_HEADER);
        Ok(Pcap { le, nanos, link })
    }

    /// The next record.
    pub(crate) fn next_frame<R: Read>(
        &mut self,
        input: &mut Input<R>,
        record: &mut u64,
    ) -> Result<Option<Frame>, CaptureError> {
        let offset = input.offset();
        if !input.fill(RECORD_HEADER).map_err(io_err(offset))? {
            if input.avail() == 0 {
                return Ok(None);
            }
            return Err(CaptureError::Truncated {
                record: *record + 1,
                offset,
            });
        }
        *record += 1;
        let h = input.peek(RECORD_HEADER);
        let le = self.le;
        let secs = u64::from(u32_at(h, 0, le));
        let frac = u64::from(u32_at(h, 4, le));
        let incl = u32_at(h, 8, le) as usize;
        let orig_len = u32_at(h, 12, le);
        if incl > MAX_RECORD {
            return Err(CaptureError::Corrupt {
                record: *record,
                offset,
                what: "captured length larger than 16 MiB",
            });
        }
        if !input.fill(RECORD_HEADER + incl).map_err(io_err(offset))? {
            return Err(CaptureError::Truncated {
                record: *record,
                offset,
            });
        }
        let start = input.consume(RECORD_HEADER + incl) + RECORD_HEADER;
        let frac_ns = if self.nanos { frac } else { frac * 1000 };
        Ok(Some(Frame {
            ts_ns: secs * 1_000_000_000 + frac_ns,
            link: self.link,
            start,
            caplen: incl,
            orig_len,
            outgoing: None,
        }))
    }
}
