//! pcapng files (`draft-ietf-opsawg-pcapng`): a sequence of blocks `type, total length, body,
//! total length`, grouped in sections. Each Section Header Block sets the byte order (from its
//! byte-order magic) and starts a new list of interfaces; Interface Description Blocks give
//! each interface its link type and timestamp resolution (`if_tsresol`, option 9) and offset
//! (`if_tsoffset`, option 14); Enhanced (6), Simple (3) and obsolete Packet (2) Blocks carry
//! the frames. Every other block is skipped.

use crate::input::Input;
use crate::{io_err, u16_at, u32_at, CaptureError, Frame, Link, MAX_RECORD};
use std::io::Read;

/// The Section Header Block type, the same bytes in both byte orders.
pub(crate) const SHB_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const OPT_ENDOFOPT: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// Timestamp units of an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsRes {
    /// 10^-n seconds.
    Pow10(u8),
    /// 2^-n seconds.
    Pow2(u8),
}

impl TsRes {
    fn to_ns(self, ts: u64) -> u64 {
        match self {
            TsRes::Pow10(n) if n <= 9 => ts.saturating_mul(10u64.pow(u32::from(9 - n))),
            TsRes::Pow10(n) if n - 9 < 20 => ts / 10u64.pow(u32::from(n - 9)),
            TsRes::Pow10(_) => 0,
            TsRes::Pow2(n) if n < 128 => {
                u64::try_from((u128::from(ts) * 1_000_000_000) >> n).unwrap_or(u64::MAX)
            }
            TsRes::Pow2(_) => 0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Iface {
    linktype: u32,
    link: Option<Link>,
    snaplen: u32,
    res: TsRes,
    /// `if_tsoffset` in seconds.
    offset_s: i64,
}

/// The state of a pcapng stream: the current section's byte order and interfaces.
#[derive(Default)]
pub(crate) struct Pcapng {
    le: bool,
    in_section: bool,
    ifaces: Vec<Iface>,
    /// The last packet time, for Simple Packet Blocks (which have none).
    last_ts: u64,
}

impl Pcapng {
    /// The next frame, skipping blocks that carry none.
    pub(crate) fn next_frame<R: Read>(
        &mut self,
        input: &mut Input<R>,
        record: &mut u64,
    ) -> Result<Option<Frame>, CaptureError> {
        loop {
            let offset = input.offset();
            if !input.fill(8).map_err(io_err(offset))? {
                if input.avail() == 0 {
                    return Ok(None);
                }
                return Err(CaptureError::Truncated {
                    record: *record + 1,
                    offset,
                });
            }
            *record += 1;
            let rec = *record;
            let corrupt = |what| CaptureError::Corrupt {
                record: rec,
                offset,
                what,
            };
            let truncated = CaptureError::Truncated {
                record: rec,
                offset,
            };
            let is_shb = input.peek(4) == SHB_TYPE;
            if is_shb {
                if !input.fill(12).map_err(io_err(offset))? {
                    return Err(truncated);
                }
                self.le = match input.peek(12)[8..12] {
                    [0x4d, 0x3c, 0x2b, 0x1a] => true,
                    [0x1a, 0x2b, 0x3c, 0x4d] => false,
                    _ => return Err(corrupt("section header with a bad byte-order magic")),
                };
            } else if !self.in_section {
                return Err(corrupt("block outside a section (no section header first)"));
            }
            let le = self.le;
            let h = input.peek(8);
            let btype = u32_at(h, 0, le);
            let total = u32_at(h, 4, le) as usize;
            if total < 12 || !total.is_multiple_of(4) {
                return Err(corrupt("block length not a multiple of 4 of at least 12"));
            }
            if total > MAX_RECORD {
                return Err(corrupt("block length larger than 16 MiB"));
            }
            if !input.fill(total).map_err(io_err(offset))? {
                return Err(truncated);
            }
            let start = input.consume(total);
            let b = input.slice(start, total);
            if u32_at(b, total - 4, le) as usize != total {
                return Err(corrupt(
                    "block trailing length differs from its leading length",
                ));
            }
            let body = &b[8..total - 4];
            let body_at = start + 8;
            if is_shb {
                if body.len() < 16 || u16_at(body, 4, le) != 1 {
                    return Err(corrupt(
                        "section header of an unsupported version (not 1.x)",
                    ));
                }
                self.in_section = true;
                self.ifaces.clear();
                continue;
            }
            match btype {
                IDB => {
                    let iface = parse_idb(body, le)
                        .ok_or_else(|| corrupt("malformed interface description"))?;
                    self.ifaces.push(iface);
                }
                EPB | PB => {
                    if body.len() < 20 {
                        return Err(corrupt("packet block shorter than its fixed fields"));
                    }
                    let id = if btype == EPB {
                        u32_at(body, 0, le) as usize
                    } else {
                        usize::from(u16_at(body, 0, le))
                    };
                    let iface = *self
                        .ifaces
                        .get(id)
                        .ok_or_else(|| corrupt("packet on an undescribed interface"))?;
                    let ts = u64::from(u32_at(body, 4, le)) << 32 | u64::from(u32_at(body, 8, le));
                    let caplen = u32_at(body, 12, le) as usize;
                    let orig_len = u32_at(body, 16, le);
                    if caplen > body.len() - 20 {
                        return Err(corrupt("captured length beyond the block"));
                    }
                    let link = iface.link.ok_or(CaptureError::UnsupportedLinkType {
                        record: rec,
                        linktype: iface.linktype,
                    })?;
                    let ns = iface.res.to_ns(ts);
                    let ts_ns = if iface.offset_s >= 0 {
                        ns.saturating_add((iface.offset_s as u64).saturating_mul(1_000_000_000))
                    } else {
                        ns.saturating_sub(
                            iface.offset_s.unsigned_abs().saturating_mul(1_000_000_000),
                        )
                    };
                    self.last_ts = ts_ns;
                    let outgoing = if btype == EPB {
                        epb_direction(body.get(20 + caplen.div_ceil(4) * 4..).unwrap_or(&[]), le)
                    } else {
                        None
                    };
                    return Ok(Some(Frame {
                        ts_ns,
                        link,
                        start: body_at + 20,
                        caplen,
                        orig_len,
                        outgoing,
                    }));
                }
                SPB => {
                    if body.len() < 4 {
                        return Err(corrupt("simple packet block without its length"));
                    }
                    let iface = *self
                        .ifaces
                        .first()
                        .ok_or_else(|| corrupt("packet on an undescribed interface"))?;
                    let orig_len = u32_at(body, 0, le);
                    let mut caplen = (orig_len as usize).min(body.len() - 4);
                    if iface.snaplen != 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    let link = iface.link.ok_or(CaptureError::UnsupportedLinkType {
                        record: rec,
                        linktype: iface.linktype,
                    })?;
                    return Ok(Some(Frame {
                        ts_ns: self.last_ts,
                        link,
                        start: body_at + 4,
                        caplen,
                        orig_len,
                        outgoing: None,
                    }));
                }
                _ => {}
            }
        }
    }
}

/// An Interface Description Block body: link type, snap length, then options.
fn parse_idb(body: &[u8], le: bool) -> Option<Iface> {
    if body.len() < 8 {
        return None;
    }
    let linktype = u32::from(u16_at(body, 0, le));
    let mut iface = Iface {
        linktype,
        link: Link::from_linktype(linktype),
        snaplen: u32_at(body, 4, le),
        res: TsRes::Pow10(6),
        offset_s: 0,
    };
    let mut opts = &body[8..];
    while opts.len() >= 4 {
        let code = u16_at(opts, 0, le);
        let len = usize::from(u16_at(opts, 2, le));
        if code == OPT_ENDOFOPT {
            break;
        }
        let padded = (len + 3) & !3;
        let value = opts.get(4..4 + len)?;
        match (code, len) {
            (IF_TSRESOL, 1) => {
                let v = value[0];
                iface.res = if v & 0x80 != 0 {
                    TsRes::Pow2(v & 0x7f)
                } else {
                    TsRes::Pow10(v)
                };
            }
            (IF_TSOFFSET, 8) => {
                let b: [u8; 8] = value.try_into().ok()?;
                iface.offset_s = if le {
                    i64::from_le_bytes(b)
                } else {
                    i64::from_be_bytes(b)
                };
            }
            _ => {}
        }
        opts = opts.get(4 + padded..).unwrap_or(&[]);
    }
    Some(iface)
}

/// `epb_flags` (option 2): bits 0-1 are the direction, 1 inbound, 2 outbound; `None` when
/// absent, unknown or malformed (`opts`: the options after the packet data, possibly empty
/// or cut).
fn epb_direction(opts: &[u8], le: bool) -> Option<bool> {
    let mut opts = opts;
    while opts.len() >= 4 {
        let code = u16_at(opts, 0, le);
        let len = usize::from(u16_at(opts, 2, le));
        if code == OPT_ENDOFOPT {
            return None;
        }
        if code == 2 && len == 4 {
            return match u32_at(opts.get(4..8)?, 0, le) & 3 {
                1 => Some(false),
                2 => Some(true),
                _ => None,
            };
        }
        opts = opts.get(4 + len.div_ceil(4) * 4..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_resolutions_convert_to_nanoseconds() {
        assert_eq!(TsRes::Pow10(6).to_ns(1_500_000), 1_500_000_000);
        assert_eq!(TsRes::Pow10(9).to_ns(7), 7);
        assert_eq!(TsRes::Pow10(12).to_ns(7_000), 7);
        assert_eq!(TsRes::Pow10(200).to_ns(u64::MAX), 0);
        assert_eq!(TsRes::Pow2(10).to_ns(1024), 1_000_000_000);
        assert_eq!(TsRes::Pow2(0).to_ns(u64::MAX), u64::MAX);
        assert_eq!(TsRes::Pow10(0).to_ns(u64::MAX), u64::MAX);
    }
}
