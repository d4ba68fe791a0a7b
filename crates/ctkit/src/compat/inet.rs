//! Address parsing as conntrack does it: glibc `inet_aton` (lenient IPv4: `1`, `0x7f.1`,
//! octal, trailing whitespace), else `inet_pton(AF_INET6)`, `/N` netmasks parsed with `strtol`
//! (`parse_addr` in conntrack.c), and the NAT `IP[:port]` / `[IPv6]:port` splitter
//! (`split_address_and_port`).

use crate::compat::cnum::strtol;
use crate::compat::error::CompatError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// glibc `inet_aton`.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    const MAX: [u64; 4] = [0xffff_ffff, 0xff_ffff, 0xffff, 0xff];
    let b = s.as_bytes();
    let mut parts: [u8; 4] = [0; 4];
    let mut n = 0usize;
    let mut i = 0usize;
    let mut val: u64;
    loop {
        if !b.get(i).is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        let c = crate::compat::cnum::strtoul(&s[i..], 0);
        if c.value > 0xffff_ffff {
            return None;
        }
        val = c.value;
        i += c.end;
        if b.get(i) == Some(&b'.') {
            if n > 2 || val > 0xff {
                return None;
            }
            parts[n] = val as u8;
            n += 1;
            i += 1;
        } else {
            break;
        }
    }
    if let Some(&c) = b.get(i) {
        if !(c.is_ascii() && (c == b' ' || (b'\t'..=b'\r').contains(&c))) {
            return None;
        }
    }
    if val > MAX[n] {
        return None;
    }
    let word = u32::from_be_bytes(parts) | val as u32;
    Some(Ipv4Addr::from(word))
}

/// glibc `inet_pton(AF_INET6)` (Rust's parser accepts the same RFC 4291 text forms).
pub fn inet_pton6(s: &str) -> Option<Ipv6Addr> {
    s.parse().ok()
}

/// The netmask part of `parse_addr`: `None` = no `/`, `Some(Err(()))` = invalid (-2).
pub type MaskLen = Option<Result<u32, ()>>;

/// conntrack's `parse_addr`: the address (truncated to `INET6_ADDRSTRLEN - 1` bytes first, as
/// the C copies it into a 46-byte buffer) and its `/N`.
pub fn parse_addr(arg: &str) -> (Option<IpAddr>, MaskLen) {
    let mut end = arg.len().min(45);
    while !arg.is_char_boundary(end) {
        end -= 1;
    }
    let buf = &arg[..end];
    let (addr, mask) = match buf.find('/') {
        Some(p) => {
            let tail = &buf[p + 1..];
            let c = strtol(tail, 10);
            // `end != slash + strlen(slash)`: an empty tail leaves end at the start, which is
            // also the end: "/" alone is mask 0.
            let m = c.value as i32;
            let ok = m >= 0 && (c.end == tail.len() || tail.is_empty());
            (&buf[..p], Some(if ok { Ok(m as u32) } else { Err(()) }))
        }
        None => (buf, None),
    };
    if let Some(v4) = inet_aton(addr) {
        let mask = match mask {
            Some(Ok(m)) if m > 32 => Some(Err(())),
            m => m,
        };
        return (Some(IpAddr::V4(v4)), mask);
    }
    if let Some(v6) = inet_pton6(addr) {
        let mask = match mask {
            Some(Ok(m)) if m > 128 => Some(Err(())),
            m => m,
        };
        return (Some(IpAddr::V6(v6)), mask);
    }
    (None, mask)
}

/// The netmask address for a prefix length (`nfct_build_netmask`).
pub fn prefix_mask(v6: bool, len: u32) -> IpAddr {
    if v6 {
        let m = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        IpAddr::V6(Ipv6Addr::from(m))
    } else {
        let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        IpAddr::V4(Ipv4Addr::from(m))
    }
}

fn valid_port(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| c.is_ascii_digit())
        && s.parse::<u32>().is_ok_and(|p| p <= 65535)
}

/// `split_address_and_port`: the address text and the optional port text.
pub fn split_address_and_port(arg: &str) -> Result<(String, Option<String>), CompatError> {
    let mut address: Option<String> = None;
    let mut port_at: Option<usize> = None;
    if let Some(open) = arg.find('[') {
        let start = open + 1;
        match arg[start..].find(']') {
            Some(0) => return Err(CompatError::param("No IPv6 address specified")),
            None => return Err(CompatError::param("No closing ']' around IPv6 address")),
            Some(len) => {
                let close = start + len;
                if let Some(c) = arg[close..].find(':') {
                    address = Some(arg[start..close].to_string());
                    port_at = Some(close + c);
                }
            }
        }
    } else if let Some(c) = arg.find(':') {
        if !arg[c + 1..].contains(':') {
            address = Some(arg[..c].to_string());
            port_at = Some(c);
        }
    }
    match port_at {
        Some(c) => {
            let port = &arg[c + 1..];
            if port.is_empty() {
                return Err(CompatError::param("No port specified after `:'"));
            }
            if !valid_port(port) {
                return Err(CompatError::param(format!("Invalid port `{port}'")));
            }
            Ok((address.unwrap_or_default(), Some(port.to_string())))
        }
        None => Ok((arg.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Option<String> {
        inet_aton(s).map(|a| a.to_string())
    }

    #[test]
    fn inet_aton_is_lenient_like_glibc() {
        assert_eq!(v4("1").as_deref(), Some("0.0.0.1"));
        assert_eq!(v4("0x7f.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("010.0.0.1").as_deref(), Some("8.0.0.1"));
        assert_eq!(v4("1.2.3").as_deref(), Some("1.2.0.3"));
        assert_eq!(v4("1.2.65535").as_deref(), Some("1.2.255.255"));
        assert_eq!(v4("1.2.3.4 trailing").as_deref(), Some("1.2.3.4"));
        assert_eq!(v4("4294967295").as_deref(), Some("255.255.255.255"));
        assert_eq!(v4("4294967296"), None);
        assert_eq!(v4("1.2.3.256"), None);
        assert_eq!(v4("256.1"), None);
        assert_eq!(v4("08"), None);
        assert_eq!(v4("1.2.3.4.5"), None);
        assert_eq!(v4("1."), None);
        assert_eq!(v4("x"), None);
        assert_eq!(v4(""), None);
        assert_eq!(v4("::1"), None);
    }

    #[test]
    fn parse_addr_masks() {
        assert_eq!(parse_addr("1.2.3.0/24").1, Some(Ok(24)));
        assert_eq!(parse_addr("1.2.3.0/33").1, Some(Err(())));
        assert_eq!(parse_addr("1.2.3.0/").1, Some(Ok(0)));
        assert_eq!(parse_addr("1.2.3.0/x").1, Some(Err(())));
        assert_eq!(parse_addr("1.2.3.0/-1").1, Some(Err(())));
        assert_eq!(parse_addr("::1/128").1, Some(Ok(128)));
        assert_eq!(parse_addr("::1/129").1, Some(Err(())));
        assert_eq!(parse_addr("foo").0, None);
        assert_eq!(
            parse_addr("2001:DB8::3.3.3.3").0,
            Some("2001:db8::303:303".parse().unwrap())
        );
    }

    #[test]
    fn prefix_masks() {
        assert_eq!(prefix_mask(false, 24).to_string(), "255.255.255.0");
        assert_eq!(prefix_mask(false, 0).to_string(), "0.0.0.0");
        assert_eq!(prefix_mask(true, 32).to_string(), "ffff:ffff::");
    }

    #[test]
    fn nat_address_port_split() {
        let ok = |s: &str| split_address_and_port(s).unwrap();
        assert_eq!(ok("1.2.3.4"), ("1.2.3.4".into(), None));
        assert_eq!(ok("1.2.3.4:80"), ("1.2.3.4".into(), Some("80".into())));
        assert_eq!(ok("::1"), ("::1".into(), None));
        assert_eq!(ok("[::1]:80"), ("::1".into(), Some("80".into())));
        assert_eq!(ok("[::1]"), ("[::1]".into(), None));
        let err = |s: &str| split_address_and_port(s).unwrap_err().message;
        assert_eq!(err("1.2.3.4:"), "No port specified after `:'");
        assert_eq!(err("1.2.3.4:65536"), "Invalid port `65536'");
        assert_eq!(err("[]:1"), "No IPv6 address specified");
        assert_eq!(err("[::1"), "No closing ']' around IPv6 address");
    }
}
