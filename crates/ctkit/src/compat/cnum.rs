//! C library number conversions exactly as glibc does them (`strtoul`, `strtol`, `atoi`,
//! `atol`), because conntrack feeds raw argv words to them and accepts whatever they return.

fn skip_space(b: &[u8]) -> usize {
    b.iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .count()
}

/// Result of a `strto*` conversion: the value and how many bytes were consumed (0 when no
/// digits were found, as `endptr == nptr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv<T> {
    /// Converted value.
    pub value: T,
    /// Bytes consumed (`endptr - nptr`).
    pub end: usize,
}

/// Magnitude parse shared by strtoul/strtol: (negative, magnitude saturated at u64::MAX,
/// overflowed, end).
fn parse_mag(s: &str, base: u32) -> (bool, u64, bool, usize) {
    let b = s.as_bytes();
    let mut i = skip_space(b);
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut base = base;
    if (base == 0 || base == 16)
        && i + 1 < b.len()
        && b[i] == b'0'
        && (b[i + 1] | 0x20) == b'x'
        && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if b.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut v: u64 = 0;
    let mut over = false;
    while i < b.len() {
        let d = match (b[i] as char).to_digit(36) {
            Some(d) if d < base => d as u64,
            _ => break,
        };
        match v.checked_mul(base as u64).and_then(|x| x.checked_add(d)) {
            Some(x) => v = x,
            None => {
                over = true;
                v = u64::MAX;
            }
        }
        i += 1;
    }
    if i == start {
        return (false, 0, false, 0);
    }
    (neg, v, over, i)
}

/// `strtoul(s, &end, base)` on a 64-bit system (`unsigned long` = u64).
pub fn strtoul(s: &str, base: u32) -> Conv<u64> {
    let (neg, mag, over, end) = parse_mag(s, base);
    let value = if over {
        u64::MAX
    } else if neg {
        mag.wrapping_neg()
    } else {
        mag
    };
    Conv { value, end }
}

/// `strtol(s, &end, base)` (`long` = i64, saturating like glibc).
pub fn strtol(s: &str, base: u32) -> Conv<i64> {
    let (neg, mag, over, end) = parse_mag(s, base);
    let value = if neg {
        if over || mag > i64::MAX as u64 + 1 {
            i64::MIN
        } else {
            (mag as i64).wrapping_neg()
        }
    } else if over || mag > i64::MAX as u64 {
        i64::MAX
    } else {
        mag as i64
    };
    Conv { value, end }
}

/// `atol(s)` = `strtol(s, NULL, 10)`.
pub fn atol(s: &str) -> i64 {
    strtol(s, 10).value
}

/// `atoi(s)` = `(int) strtol(s, NULL, 10)`.
pub fn atoi(s: &str) -> i32 {
    atol(s) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoul_bases_and_leniency() {
        assert_eq!(strtoul("0x10", 0).value, 16);
        assert_eq!(strtoul("010", 0).value, 8);
        assert_eq!(strtoul("  12abc", 0), Conv { value: 12, end: 4 });
        assert_eq!(strtoul("abc", 0), Conv { value: 0, end: 0 });
        assert_eq!(strtoul("-1", 0).value, u64::MAX);
        assert_eq!(strtoul("0x", 0), Conv { value: 0, end: 1 });
        assert_eq!(strtoul("99999999999999999999999", 10).value, u64::MAX);
        assert_eq!(strtoul("08", 0), Conv { value: 0, end: 1 });
    }

    #[test]
    fn atoi_truncates_like_c() {
        assert_eq!(atoi("80"), 80);
        assert_eq!(atoi(" -5x"), -5);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi("4294967376"), 80);
        assert_eq!(atol("99999999999999999999"), i64::MAX);
    }
}
