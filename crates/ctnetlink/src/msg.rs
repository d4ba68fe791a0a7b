//! Netlink message framing: `struct nlmsghdr` (16 bytes, host order) followed, for netfilter
//! messages, by `struct nfgenmsg` (family, version, big-endian res_id) and attributes
//! (include/uapi/linux/netlink.h, include/uapi/linux/netfilter/nfnetlink.h).

use crate::attr::AttrIter;
use crate::error::{Error, Result};
use crate::uapi::{NFGENMSG_LEN, NLMSG_HDRLEN};

mod field {
    pub const LEN: core::ops::Range<usize> = 0..4;
    pub const TYPE: core::ops::Range<usize> = 4..6;
    pub const FLAGS: core::ops::Range<usize> = 6..8;
    pub const SEQ: core::ops::Range<usize> = 8..12;
    pub const PID: core::ops::Range<usize> = 12..16;
}

/// One netlink message borrowed from a receive buffer.
#[derive(Clone, Copy, Debug)]
pub struct NlMsg<'a> {
    buf: &'a [u8],
}

fn ne16(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}
fn ne32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

impl<'a> NlMsg<'a> {
    /// `nlmsg_type`.
    pub fn kind(&self) -> u16 {
        ne16(&self.buf[field::TYPE])
    }
    /// `nlmsg_flags`.
    pub fn flags(&self) -> u16 {
        ne16(&self.buf[field::FLAGS])
    }
    /// `nlmsg_seq`.
    pub fn seq(&self) -> u32 {
        ne32(&self.buf[field::SEQ])
    }
    /// `nlmsg_pid`: the sending port (0 for the kernel's own events).
    pub fn pid(&self) -> u32 {
        ne32(&self.buf[field::PID])
    }
    /// The bytes after the 16-byte header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[NLMSG_HDRLEN..]
    }

    /// `nfgenmsg.nfgen_family`; errors when the payload is shorter than `nfgenmsg`.
    pub fn nfgen_family(&self) -> Result<u8> {
        self.check_nfgen()?;
        Ok(self.payload()[0])
    }

    /// `nfgenmsg.res_id` (big-endian on the wire).
    pub fn nfgen_res_id(&self) -> Result<u16> {
        self.check_nfgen()?;
        let p = self.payload();
        Ok(u16::from_be_bytes([p[2], p[3]]))
    }

    /// The attributes after `nfgenmsg`.
    pub fn attrs(&self) -> Result<AttrIter<'a>> {
        self.check_nfgen()?;
        Ok(AttrIter::new(&self.payload()[NFGENMSG_LEN..]))
    }

    fn check_nfgen(&self) -> Result<()> {
        if self.payload().len() < NFGENMSG_LEN {
            return Err(Error::Msg {
                offset: 0,
                what: "nfgenmsg",
                expected: NFGENMSG_LEN,
                actual: self.payload().len(),
            });
        }
        Ok(())
    }

    /// For `NLMSG_ERROR`: the (negative) error code, 0 for an ACK.
    pub fn error_code(&self) -> Result<i32> {
        let p = self.payload();
        if p.len() < 4 {
            return Err(Error::Msg {
                offset: 0,
                what: "nlmsgerr",
                expected: 4,
                actual: p.len(),
            });
        }
        Ok(ne32(p) as i32)
    }

    /// For `NLMSG_ERROR`: the sequence number of the request it answers (from the echoed
    /// header), falling back to this message's own sequence number.
    pub fn error_seq(&self) -> u32 {
        let p = self.payload();
        if p.len() >= 4 + NLMSG_HDRLEN {
            ne32(&p[4 + field::SEQ.start..4 + field::SEQ.end])
        } else {
            self.seq()
        }
    }
}

/// Iterator over the messages of one datagram. Yields one error for a malformed header, then
/// ends.
#[derive(Clone, Debug)]
pub struct MsgIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> MsgIter<'a> {
    /// Walks the messages in `buf`.
    pub fn new(buf: &'a [u8]) -> MsgIter<'a> {
        MsgIter {
            buf,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for MsgIter<'a> {
    type Item = Result<NlMsg<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let fail = |what, expected, actual| Error::Msg {
            offset: self.pos,
            what,
            expected,
            actual,
        };
        if rest.len() < NLMSG_HDRLEN {
            self.done = true;
            return Some(Err(fail("nlmsghdr", NLMSG_HDRLEN, rest.len())));
        }
        let len = ne32(&rest[field::LEN]) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            self.done = true;
            return Some(Err(fail("nlmsg_len", len.max(NLMSG_HDRLEN), rest.len())));
        }
        self.pos += crate::attr::align(len).min(rest.len());
        Some(Ok(NlMsg { buf: &rest[..len] }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Builder;

    #[test]
    fn msg_iter_reads_two_messages_and_their_headers() {
        let mut b = Builder::new();
        b.begin_msg(0x0100, 0x0002, 7, 2, 0x0102);
        b.put_be32(3, 9);
        b.end_msg();
        b.begin_msg(0x0101, 0, 8, 10, 0);
        b.end_msg();
        let msgs: Vec<_> = MsgIter::new(b.as_bytes()).map(|m| m.unwrap()).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].kind(), 0x0100);
        assert_eq!(msgs[0].flags(), 2);
        assert_eq!(msgs[0].seq(), 7);
        assert_eq!(msgs[0].nfgen_family().unwrap(), 2);
        assert_eq!(msgs[0].nfgen_res_id().unwrap(), 0x0102);
        let a = msgs[0].attrs().unwrap().next().unwrap().unwrap();
        assert_eq!(a.be32().unwrap(), 9);
        assert_eq!(msgs[1].nfgen_family().unwrap(), 10);
    }

    #[test]
    fn msg_iter_rejects_bad_length_once() {
        let mut bytes = vec![0u8; 20];
        bytes[0] = 40; // claims 40 bytes, has 20
        let v: Vec<_> = MsgIter::new(&bytes).collect();
        assert_eq!(v.len(), 1);
        assert!(matches!(
            v[0],
            Err(Error::Msg {
                what: "nlmsg_len",
                ..
            })
        ));
    }

    proptest::proptest! {
        #[test]
        fn msg_iter_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            for m in MsgIter::new(&bytes).flatten() {
                let _ = m.attrs().map(|a| a.count());
                let _ = m.error_code();
                let _ = m.error_seq();
            }
        }
    }
}
