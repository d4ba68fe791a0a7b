//! Byte-level writers shared by the formatters: decimal and hex integers, IPv4 and IPv6
//! addresses exactly as glibc's `inet_ntoa`/`inet_ntop` print them, and `ctime(3)` dates.
//!
//! Everything appends to a caller-owned `Vec<u8>`; nothing allocates beyond growing it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Appends `v` in decimal.
#[inline]
pub fn u64_dec(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `v` in decimal, with a leading `-` when negative.
pub fn i64_dec(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    u64_dec(out, v.unsigned_abs());
}

/// Appends `v` in decimal, zero-padded to at least `width` digits (printf `%.Nd`).
pub fn u64_dec_zero(out: &mut Vec<u8>, v: u64, width: usize) {
    let start = out.len();
    u64_dec(out, v);
    let n = out.len() - start;
    if n < width {
        let pad = width - n;
        out.splice(start..start, std::iter::repeat_n(b'0', pad));
    }
}

/// Appends `v` in lowercase hex without leading zeros (printf `%x`).
pub fn u64_hex(out: &mut Vec<u8>, mut v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `s` left-justified in a field of `width` bytes (printf `%-Ns`).
pub fn str_left(out: &mut Vec<u8>, s: &str, width: usize) {
    out.extend_from_slice(s.as_bytes());
    for _ in s.len()..width {
        out.push(b' ');
    }
}

/// Appends `s` right-justified in a field of `width` bytes (printf `%Ns`).
pub fn str_right(out: &mut Vec<u8>, s: &str, width: usize) {
    for _ in s.len()..width {
        out.push(b' ');
    }
    out.extend_from_slice(s.as_bytes());
}

/// Appends an IPv4 address in dotted quad (`inet_ntoa`).
pub fn ipv4(out: &mut Vec<u8>, a: Ipv4Addr) {
    let o = a.octets();
    for (i, b) in o.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        u64_dec(out, *b as u64);
    }
}

/// Appends an IPv6 address exactly as glibc's `inet_ntop(AF_INET6)` prints it: lowercase hex
/// without leading zeros, the first longest run of two or more zero groups compressed to `::`,
/// and a dotted IPv4 tail when the first six groups are zero and the seventh is not
/// (`::a.b.c.d`), or for IPv4-mapped addresses (`::ffff:a.b.c.d`).
pub fn ipv6(out: &mut Vec<u8>, a: Ipv6Addr) {
    let w = a.segments();
    // Longest run of zero words (first one wins on ties), only if at least 2 long.
    let (mut best_base, mut best_len) = (usize::MAX, 0usize);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            let len = i - start;
            if len > best_len {
                best_base = start;
                best_len = len;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_base = usize::MAX;
        best_len = 0;
    }
    let mut i = 0;
    while i < 8 {
        if best_base != usize::MAX && i >= best_base && i < best_base + best_len {
            if i == best_base {
                out.push(b':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(b':');
        }
        if i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            ipv4(out, Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            return;
        }
        u64_hex(out, w[i] as u64);
        i += 1;
    }
    if best_base != usize::MAX && best_base + best_len == 8 {
        out.push(b':');
    }
}

/// Appends an address as libnetfilter_conntrack prints it.
pub fn ip(out: &mut Vec<u8>, a: IpAddr) {
    match a {
        IpAddr::V4(v) => ipv4(out, v),
        IpAddr::V6(v) => ipv6(out, v),
    }
}

/// A broken-down civil time (what `localtime_r` fills).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tm {
    /// Year, e.g. 2026.
    pub year: i64,
    /// Month 1..=12.
    pub month: u32,
    /// Day of month 1..=31.
    pub day: u32,
    /// Hour 0..=23.
    pub hour: u32,
    /// Minute 0..=59.
    pub min: u32,
    /// Second 0..=59.
    pub sec: u32,
    /// Day of week, 0 = Sunday.
    pub wday: u32,
}

/// Converts seconds since the epoch (already shifted to local time) to a civil date
/// (Howard Hinnant's days-from-civil inverse, proleptic Gregorian).
pub fn tm_from_unix(t: i64) -> Tm {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    Tm {
        year,
        month,
        day,
        hour: secs / 3600,
        min: secs / 60 % 60,
        sec: secs % 60,
        wday: (days + 4).rem_euclid(7) as u32,
    }
}

/// Seconds since the epoch for a civil date (inverse of [`tm_from_unix`], ignoring `wday`).
pub fn unix_from_civil(year: i64, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hour as i64 * 3600 + min as i64 * 60 + sec as i64
}

/// English day names as `ctime(3)` prints them.
pub const WDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/// English month names as `ctime(3)` prints them.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Appends `ctime(3)` output without its newline: `Sat Nov 28 16:27:29 2026`
/// (`"%.3s %.3s%3d %.2d:%.2d:%.2d %d"`), for the local time `t` (already offset).
pub fn ctime(out: &mut Vec<u8>, t: i64) {
    let tm = tm_from_unix(t);
    out.extend_from_slice(WDAYS[tm.wday as usize].as_bytes());
    out.push(b' ');
    out.extend_from_slice(MONTHS[(tm.month - 1) as usize].as_bytes());
    if tm.day < 10 {
        out.extend_from_slice(b"  ");
    } else {
        out.push(b' ');
    }
    u64_dec(out, tm.day as u64);
    out.push(b' ');
    u64_dec_zero(out, tm.hour as u64, 2);
    out.push(b':');
    u64_dec_zero(out, tm.min as u64, 2);
    out.push(b':');
    u64_dec_zero(out, tm.sec as u64, 2);
    out.push(b' ');
    i64_dec(out, tm.year);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> String {
        let mut o = Vec::new();
        ipv6(&mut o, s.parse().unwrap());
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn ipv6_matches_glibc_inet_ntop() {
        // Expected strings are what glibc's inet_ntop prints (conntrack -L oracle for the
        // first three: `::`, `::1`, `::ffff:192.0.2.1`).
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("::1"), "::1");
        assert_eq!(v6("::ffff:192.0.2.1"), "::ffff:192.0.2.1");
        assert_eq!(v6("::192.0.2.1"), "::192.0.2.1");
        // The rest were checked against glibc through Python's socket.inet_ntop.
        assert_eq!(v6("::2"), "::2");
        assert_eq!(v6("::100"), "::100");
        assert_eq!(v6("::0.1.0.0"), "::0.1.0.0");
        assert_eq!(v6("::1:2"), "::0.1.0.2");
        assert_eq!(v6("::1:0:0:0"), "::1:0:0:0");
        assert_eq!(v6("1::ffff:1.2.3.4"), "1::ffff:102:304");
        assert_eq!(v6("::ffff:0:0"), "::ffff:0.0.0.0");
        assert_eq!(v6("2001:db8::1"), "2001:db8::1");
        assert_eq!(v6("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
        assert_eq!(v6("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
        assert_eq!(v6("2001:db8:1:1:1:1:0:1"), "2001:db8:1:1:1:1:0:1");
        assert_eq!(v6("fe80::"), "fe80::");
        assert_eq!(v6("1:0:0:0:0:0:0:0"), "1::");
        assert_eq!(v6("0:0:0:0:0:1:0:0"), "::1:0:0");
        assert_eq!(v6("64:ff9b::c000:201"), "64:ff9b::c000:201");
    }

    #[test]
    fn ctime_pads_day_with_space() {
        let mut o = Vec::new();
        // 2026-11-28 16:27:29 UTC (conntrack -L -o ktimestamp oracle printed
        // `[start=Sat Nov 28 16:27:29 2026]`).
        ctime(&mut o, 1_795_883_249);
        assert_eq!(o, b"Sat Nov 28 16:27:29 2026");
        o.clear();
        ctime(&mut o, 0);
        assert_eq!(o, b"Thu Jan  1 00:00:00 1970");
    }

    #[test]
    fn civil_round_trip() {
        for t in [0i64, 1_795_883_249, 951_782_400, 4_102_444_799, -86_400] {
            let tm = tm_from_unix(t);
            assert_eq!(
                unix_from_civil(tm.year, tm.month, tm.day, tm.hour, tm.min, tm.sec),
                t
            );
        }
    }

    #[test]
    fn zero_padding_and_hex() {
        let mut o = Vec::new();
        u64_dec_zero(&mut o, 42, 6);
        o.push(b' ');
        u64_hex(&mut o, 0x1234);
        o.push(b' ');
        u64_dec(&mut o, u64::MAX);
        assert_eq!(o, b"000042 1234 18446744073709551615");
    }
}
