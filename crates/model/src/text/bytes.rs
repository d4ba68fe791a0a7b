//! Byte-level helpers shared by the text parsers: a blank-separated token cursor, decimal and
//! hexadecimal numbers and IP addresses read straight from bytes (no UTF-8 check of the line,
//! no allocation).

use super::{ParseError, ParseErrorKind as K};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Strips a trailing `\n` or `\r\n`.
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A decimal number of at most 20 digits that fits `T` (no sign, no blanks).
pub fn dec<T: TryFrom<u64>>(v: &[u8]) -> Option<T> {
    if v.is_empty() || v.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(d as u64)?;
    }
    T::try_from(n).ok()
}

/// A hexadecimal number (no `0x`) that fits `T`.
pub fn hex<T: TryFrom<u64>>(v: &[u8]) -> Option<T> {
    if v.is_empty() || v.len() > 16 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        n = (n << 4) | d as u64;
    }
    T::try_from(n).ok()
}

/// `v` without leading and trailing blanks.
pub fn trim_blank(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| *b != b' ').unwrap_or(v.len());
    let end = v.iter().rposition(|b| *b != b' ').map_or(start, |e| e + 1);
    &v[start..end]
}

/// The token as text, when it is UTF-8.
pub fn utf8(v: &[u8]) -> Option<&str> {
    std::str::from_utf8(v).ok()
}

/// A dotted-quad IPv4 address (no leading zeros, as `inet_ntop` and `%pI4` print).
pub fn ipv4(v: &[u8]) -> Option<Ipv4Addr> {
    let mut out = [0u8; 4];
    let mut k = 0;
    let mut n: u32 = 0;
    let mut digits = 0;
    for &b in v {
        if b == b'.' {
            if digits == 0 || k == 3 {
                return None;
            }
            out[k] = n as u8;
            k += 1;
            n = 0;
            digits = 0;
            continue;
        }
        let d = b.wrapping_sub(b'0');
        // No leading zero, at most three digits, at most 255.
        if d > 9 || (digits > 0 && n == 0) || digits == 3 {
            return None;
        }
        n = n * 10 + d as u32;
        digits += 1;
        if n > 255 {
            return None;
        }
    }
    if digits == 0 || k != 3 {
        return None;
    }
    out[3] = n as u8;
    Some(Ipv4Addr::from(out))
}

/// An IPv4 or IPv6 address (IPv6 in any form `inet_pton` accepts, zero-padded groups too).
pub fn ip(v: &[u8]) -> Option<IpAddr> {
    if v.contains(&b':') {
        utf8(v)?.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        ipv4(v).map(IpAddr::V4)
    }
}

/// A cursor over the blank-separated tokens of one line.
pub struct Cur<'a> {
    /// The line (without its end of line).
    pub s: &'a [u8],
    /// Byte offset of the next unread byte.
    pub pos: usize,
    /// The last peeked token (start, end), valid while `pos` has not moved.
    peeked: Option<(usize, usize, usize)>,
}

impl<'a> Cur<'a> {
    /// A cursor at the start of `s`.
    pub fn new(s: &'a [u8]) -> Cur<'a> {
        Cur {
            s,
            pos: 0,
            peeked: None,
        }
    }

    /// Next blank-separated token without consuming it, with its start offset.
    pub fn peek(&mut self) -> Option<(usize, &'a [u8])> {
        if let Some((from, start, end)) = self.peeked {
            if from == self.pos {
                return Some((start, &self.s[start..end]));
            }
        }
        let from = self.pos;
        let mut start = from;
        while self.s.get(start) == Some(&b' ') {
            start += 1;
        }
        if start >= self.s.len() {
            self.pos = start;
            return None;
        }
        let rest = &self.s[start..];
        let end = start + memchr::memchr(b' ', rest).unwrap_or(rest.len());
        self.pos = start;
        self.peeked = Some((start, start, end));
        Some((start, &self.s[start..end]))
    }

    /// Next token, consumed.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<(usize, &'a [u8])> {
        let t = self.peek()?;
        self.pos = t.0 + t.1.len();
        Some(t)
    }

    /// An error in `field` at byte offset `at`.
    pub fn err(&self, field: &'static str, at: usize, kind: K) -> ParseError {
        ParseError {
            field,
            column: at + 1,
            kind,
        }
    }

    /// The next token, or a `Missing` error at the end of the line.
    pub fn need(&mut self, field: &'static str) -> Result<(usize, &'a [u8]), ParseError> {
        let end = self.s.len();
        self.next().ok_or(self.err(field, end, K::Missing))
    }

    /// Reads `key=value` and returns the value.
    pub fn kv(&mut self, field: &'static str, key: &[u8]) -> Result<(usize, &'a [u8]), ParseError> {
        let (at, t) = self.need(field)?;
        match t.strip_prefix(key).and_then(|r| r.strip_prefix(b"=")) {
            Some(v) => Ok((at, v)),
            None => Err(self.err(field, at, K::Unexpected)),
        }
    }

    /// Reads `key=N` (decimal).
    pub fn num<T: TryFrom<u64>>(
        &mut self,
        field: &'static str,
        key: &[u8],
    ) -> Result<T, ParseError> {
        let (at, v) = self.kv(field, key)?;
        dec(v).ok_or(self.err(field, at, K::BadNumber))
    }

    /// Reads `key=ADDRESS`.
    pub fn addr(&mut self, field: &'static str, key: &[u8]) -> Result<IpAddr, ParseError> {
        let (at, v) = self.kv(field, key)?;
        ip(v).ok_or(self.err(field, at, K::BadAddress))
    }

    /// Whether the next token is `key=…`.
    pub fn peek_is(&mut self, key: &[u8]) -> bool {
        self.peek().is_some_and(|(_, t)| {
            t.strip_prefix(key)
                .is_some_and(|r| r.first() == Some(&b'='))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_reject_signs_blanks_and_overflow() {
        assert_eq!(dec::<u16>(b"65535"), Some(65535));
        assert_eq!(dec::<u16>(b"65536"), None);
        assert_eq!(dec::<u64>(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(dec::<u64>(b"18446744073709551616"), None);
        assert_eq!(dec::<u32>(b"+1"), None);
        assert_eq!(dec::<u32>(b""), None);
        assert_eq!(hex::<u16>(b"fFfF"), Some(0xffff));
        assert_eq!(hex::<u16>(b"10000"), None);
        assert_eq!(hex::<u16>(b"0x1"), None);
    }

    #[test]
    fn addresses_parse_as_inet_pton_does() {
        assert_eq!(ip(b"192.0.2.1"), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(ipv4(b"192.0.2.01"), None);
        assert_eq!(ipv4(b"192.0.2"), None);
        assert_eq!(ipv4(b"192.0.2.1.5"), None);
        assert_eq!(ipv4(b"256.0.0.1"), None);
        assert_eq!(
            ip(b"2001:0db8:0000:0000:0000:0000:0000:0001"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            ip(b"::ffff:192.0.2.1"),
            Some("::ffff:192.0.2.1".parse().unwrap())
        );
        assert_eq!(ip(b"2001:db8::g"), None);
    }
}
