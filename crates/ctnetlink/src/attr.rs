//! Zero-copy netlink attribute (TLV) walking and building.
//!
//! Layout per include/uapi/linux/netlink.h: `struct nlattr { u16 nla_len; u16 nla_type; }`
//! followed by the payload, padded to 4 bytes. Netfilter payloads are big-endian, so only
//! big-endian accessors exist here. Contract (after smoltcp's wire module): `AttrIter` never
//! panics on any input; it yields one error for the first malformed header and then stops.

use crate::error::{AttrPath, Error, Result};
use crate::uapi::{NLA_ALIGNTO, NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK};

/// Rounds `len` up to the attribute alignment.
pub const fn align(len: usize) -> usize {
    (len + NLA_ALIGNTO - 1) & !(NLA_ALIGNTO - 1)
}

mod field {
    pub const LEN: core::ops::Range<usize> = 0..2;
    pub const TYPE: core::ops::Range<usize> = 2..4;
}

/// One attribute borrowed from a receive buffer.
#[derive(Clone, Copy, Debug)]
pub struct Attr<'a> {
    kind: u16,
    payload: &'a [u8],
    offset: usize,
}

impl<'a> Attr<'a> {
    /// The attribute type with `NLA_F_NESTED`/`NLA_F_NET_BYTEORDER` masked off.
    pub fn kind(&self) -> u16 {
        self.kind
    }

    /// The payload bytes.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Offset of the attribute header in the buffer it was walked from.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The nested attributes inside this one.
    pub fn nested(&self) -> AttrIter<'a> {
        AttrIter::new(self.payload)
    }

    fn exact<const N: usize>(&self, what: &'static str) -> Result<[u8; N]> {
        self.payload.try_into().map_err(|_| Error::Attr {
            path: AttrPath::default(),
            offset: self.offset,
            what,
            expected: N,
            actual: self.payload.len(),
        })
    }

    /// A one-byte payload.
    pub fn u8(&self) -> Result<u8> {
        Ok(self.exact::<1>("u8 payload")?[0])
    }

    /// A big-endian u16 payload.
    pub fn be16(&self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.exact("be16 payload")?))
    }

    /// A big-endian u32 payload.
    pub fn be32(&self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.exact("be32 payload")?))
    }

    /// A big-endian u64 payload.
    pub fn be64(&self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.exact("be64 payload")?))
    }

    /// A 4-byte payload as raw bytes (IPv4 address).
    pub fn bytes4(&self) -> Result<[u8; 4]> {
        self.exact("IPv4 address")
    }

    /// A 16-byte payload as raw bytes (IPv6 address).
    pub fn bytes16(&self) -> Result<[u8; 16]> {
        self.exact("IPv6 address")
    }

    /// A NUL-terminated (or not) string payload; invalid UTF-8 is an error.
    pub fn str(&self) -> Result<&'a str> {
        let end = self
            .payload
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(self.payload.len());
        std::str::from_utf8(&self.payload[..end]).map_err(|_| Error::Attr {
            path: AttrPath::default(),
            offset: self.offset,
            what: "UTF-8 string",
            expected: end,
            actual: self.payload.len(),
        })
    }
}

/// Iterator over the attributes of a buffer. Yields at most one error, then ends.
#[derive(Clone, Debug)]
pub struct AttrIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> AttrIter<'a> {
    /// Walks the attributes packed in `buf`.
    pub fn new(buf: &'a [u8]) -> AttrIter<'a> {
        AttrIter {
            buf,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attr<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let fail = |what, expected, actual| Error::Attr {
            path: AttrPath::default(),
            offset: self.pos,
            what,
            expected,
            actual,
        };
        if rest.len() < NLA_HDRLEN {
            self.done = true;
            return Some(Err(fail("attribute header", NLA_HDRLEN, rest.len())));
        }
        let len = u16::from_ne_bytes([rest[field::LEN.start], rest[field::LEN.start + 1]]) as usize;
        let kind = u16::from_ne_bytes([rest[field::TYPE.start], rest[field::TYPE.start + 1]]);
        if len < NLA_HDRLEN {
            self.done = true;
            return Some(Err(fail(
                "attribute length below header size",
                NLA_HDRLEN,
                len,
            )));
        }
        if len > rest.len() {
            self.done = true;
            return Some(Err(fail("attribute longer than buffer", len, rest.len())));
        }
        let attr = Attr {
            kind: kind & NLA_TYPE_MASK,
            payload: &rest[NLA_HDRLEN..len],
            offset: self.pos,
        };
        self.pos += align(len).min(rest.len());
        Some(Ok(attr))
    }
}

/// Appends netlink messages and attributes to a reusable buffer. Lengths and padding are
/// computed here, never written by callers.
#[derive(Debug, Default)]
pub struct Builder {
    buf: Vec<u8>,
    msg_start: usize,
}

/// A started nested attribute; pass it back to [`Builder::end_nest`].
#[must_use]
#[derive(Debug)]
pub struct Nest(usize);

impl Builder {
    /// An empty builder.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// An empty builder with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Builder {
        Builder {
            buf: Vec::with_capacity(bytes),
            msg_start: 0,
        }
    }

    /// Appends complete messages built elsewhere.
    pub fn extend_from(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes built so far (zero or more complete messages).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes built so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was built.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Forgets everything, keeping the allocation.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.msg_start = 0;
    }

    /// Starts a netfilter message: `nlmsghdr` + `nfgenmsg`.
    pub fn begin_msg(&mut self, nl_type: u16, flags: u16, seq: u32, family: u8, res_id: u16) {
        self.msg_start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, patched in end_msg
        self.buf.extend_from_slice(&nl_type.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it
        self.buf.push(family);
        self.buf.push(crate::uapi::NFNETLINK_V0);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
    }

    /// Clears `flags` in the `nlmsg_flags` of the message starting at byte `start`.
    pub fn clear_flags(&mut self, start: usize, flags: u16) {
        let at = start + 6;
        let old = u16::from_ne_bytes([self.buf[at], self.buf[at + 1]]);
        self.buf[at..at + 2].copy_from_slice(&(old & !flags).to_ne_bytes());
    }

    /// Finishes the current message by writing its length.
    pub fn end_msg(&mut self) {
        let len = (self.buf.len() - self.msg_start) as u32;
        self.buf[self.msg_start..self.msg_start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// Appends an attribute with a raw payload.
    pub fn put(&mut self, kind: u16, payload: &[u8]) {
        let len = (NLA_HDRLEN + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    /// Appends a u8 attribute.
    pub fn put_u8(&mut self, kind: u16, v: u8) {
        self.put(kind, &[v]);
    }

    /// Appends a big-endian u16 attribute.
    pub fn put_be16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_be_bytes());
    }

    /// Appends a big-endian u32 attribute.
    pub fn put_be32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_be_bytes());
    }

    /// Appends a big-endian u64 attribute.
    pub fn put_be64(&mut self, kind: u16, v: u64) {
        self.put(kind, &v.to_be_bytes());
    }

    /// Appends a NUL-terminated string attribute.
    pub fn put_str(&mut self, kind: u16, s: &str) {
        let len = (NLA_HDRLEN + s.len() + 1) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.pad();
    }

    /// Starts a nested attribute.
    pub fn begin_nest(&mut self, kind: u16) -> Nest {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        Nest(at)
    }

    /// Closes a nested attribute.
    pub fn end_nest(&mut self, nest: Nest) {
        let len = (self.buf.len() - nest.0) as u16;
        self.buf[nest.0..nest.0 + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn pad(&mut self) {
        let n = align(self.buf.len()) - self.buf.len();
        self.buf.extend(std::iter::repeat_n(0u8, n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(bytes: &[u8]) -> Vec<Result<(u16, Vec<u8>)>> {
        AttrIter::new(bytes)
            .map(|r| r.map(|a| (a.kind(), a.payload().to_vec())))
            .collect()
    }

    #[test]
    fn attr_iter_reads_padded_attributes() {
        let mut b = Builder::new();
        b.put_u8(1, 7);
        b.put_be32(2, 0x01020304);
        let got: Vec<_> = attrs(b.as_bytes())
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(got, vec![(1, vec![7]), (2, vec![1, 2, 3, 4])]);
        assert_eq!(b.len(), 8 + 8);
    }

    #[test]
    fn attr_iter_truncated_header_is_one_error() {
        let got = attrs(&[5, 0]);
        assert_eq!(got.len(), 1);
        assert!(matches!(
            got[0],
            Err(Error::Attr {
                expected: 4,
                actual: 2,
                ..
            })
        ));
    }

    #[test]
    fn attr_iter_impossible_lengths_are_errors() {
        // length 2 < header
        assert!(matches!(
            attrs(&[2, 0, 1, 0])[0],
            Err(Error::Attr { actual: 2, .. })
        ));
        // length 12 > buffer 8
        let got = attrs(&[12, 0, 1, 0, 0, 0, 0, 0]);
        assert!(matches!(
            got[0],
            Err(Error::Attr {
                expected: 12,
                actual: 8,
                ..
            })
        ));
    }

    #[test]
    fn nested_attributes_round_trip_and_mask_flags() {
        let mut b = Builder::new();
        let n = b.begin_nest(3);
        b.put_be16(1, 80);
        b.put_str(2, "ftp");
        b.end_nest(n);
        let outer: Vec<_> = AttrIter::new(b.as_bytes()).map(|r| r.unwrap()).collect();
        assert_eq!(outer.len(), 1);
        assert_eq!(outer[0].kind(), 3);
        let inner: Vec<_> = outer[0].nested().map(|r| r.unwrap()).collect();
        assert_eq!(inner[0].be16().unwrap(), 80);
        assert_eq!(inner[1].str().unwrap(), "ftp");
    }

    #[test]
    fn wrong_payload_size_is_an_error() {
        let mut b = Builder::new();
        b.put_be16(1, 80);
        let a = AttrIter::new(b.as_bytes()).next().unwrap().unwrap();
        assert!(matches!(
            a.be32(),
            Err(Error::Attr {
                expected: 4,
                actual: 2,
                ..
            })
        ));
    }

    proptest::proptest! {
        #[test]
        fn attr_iter_never_panics_and_ends(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let mut n = 0;
            for r in AttrIter::new(&bytes) {
                n += 1;
                if let Ok(a) = r { let _ = a.nested().count(); }
            }
            proptest::prop_assert!(n <= bytes.len() / 4 + 1);
        }
    }
}
