//! Connection label names: the `/etc/xtables/connlabel.conf` map, parsed exactly as
//! libnetfilter_conntrack's `nfct_labelmap_new` (src/conntrack/labels.c) does.
//!
//! File rules, as the library applies them line by line (`fgets` into a 1024-byte buffer, so a
//! longer line is read as several pieces):
//! - a line starting with `#` is skipped;
//! - the line must start with a number read by `strtoul(…, 0)` (leading blanks, `0x` hex and
//!   `0` octal allowed) below 1024, else it is skipped;
//! - the rest, trimmed of POSIX blanks and the newline, is the name; an empty name is skipped;
//! - names may use only `a-z A-Z 0-9`, space and `-`, else the line is skipped;
//! - the first line for a bit wins; a name already used is skipped (its bit stays free);
//! - a file with no usable line yields no map at all (`None`).

use std::collections::HashMap;

/// Largest bit number plus one the file may name (`MAX_BITS`).
pub const MAX_BITS: u32 = 1024;

/// The default map path (`CONNLABEL_CFG`).
pub const DEFAULT_PATH: &str = "/etc/xtables/connlabel.conf";

/// A loaded label map: bit → name and name → bit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelMap {
    by_bit: Vec<Option<Box<str>>>,
    by_name: HashMap<Box<str>, u32>,
}

impl LabelMap {
    /// Parses the file contents; `None` when no line names a label (as the C library returns
    /// NULL).
    pub fn parse(contents: &[u8]) -> Option<LabelMap> {
        let mut map = LabelMap::default();
        let mut seen = [0u32; (MAX_BITS / 32) as usize];
        for line in fgets_lines(contents, 1023) {
            if line.first() == Some(&b'#') {
                continue;
            }
            let Some((bit, rest)) = strtoul0(line) else {
                continue;
            };
            if bit >= MAX_BITS as u64 {
                continue;
            }
            let bit = bit as u32;
            if seen[(bit / 32) as usize] & (1 << (bit % 32)) != 0 {
                continue;
            }
            let Some(name) = trim_label(rest) else {
                continue;
            };
            if !name
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b' ' || *c == b'-')
            {
                continue;
            }
            // Only ASCII at this point.
            let name = std::str::from_utf8(name).unwrap_or_default();
            if map.by_name.contains_key(name) {
                continue;
            }
            map.by_name.insert(name.into(), bit);
            if map.by_bit.len() <= bit as usize {
                map.by_bit.resize(bit as usize + 1, None);
            }
            map.by_bit[bit as usize] = Some(name.into());
            seen[(bit / 32) as usize] |= 1 << (bit % 32);
        }
        if map.by_name.is_empty() {
            None
        } else {
            Some(map)
        }
    }

    /// Reads and parses a map file (`None` path = [`DEFAULT_PATH`]). `Ok(None)` when the file
    /// names no label.
    pub fn load(path: Option<&std::path::Path>) -> std::io::Result<Option<LabelMap>> {
        let p = path.unwrap_or_else(|| std::path::Path::new(DEFAULT_PATH));
        Ok(LabelMap::parse(&std::fs::read(p)?))
    }

    /// The name of `bit`: `None` past the highest named bit, `Some("")` for an unnamed bit below
    /// it (`nfct_labelmap_get_name`).
    pub fn name(&self, bit: u32) -> Option<&str> {
        self.by_bit
            .get(bit as usize)
            .map(|n| n.as_deref().unwrap_or(""))
    }

    /// The bit named `name` (`nfct_labelmap_get_bit`), exact and case-sensitive.
    pub fn bit(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// Number of names in the map.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether the map is empty (never true for a map returned by [`LabelMap::parse`]).
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// Splits like repeated `fgets(buf, max+1)`: pieces end after `\n` or after `max` bytes.
fn fgets_lines(mut s: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if s.is_empty() {
            return None;
        }
        let end = match s.iter().take(max).position(|c| *c == b'\n') {
            Some(i) => i + 1,
            None => s.len().min(max),
        };
        let (a, b) = s.split_at(end);
        s = b;
        Some(a)
    })
}

fn is_space_posix(c: u8) -> bool {
    matches!(c, b' ' | b'\x0c' | b'\r' | b'\t' | b'\x0b')
}

/// `strtoul(s, &end, 0)`: returns the value (saturated) and the rest, `None` when no digits.
fn strtoul0(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut i = 0;
    while i < s.len() && (is_space_posix(s[i]) || s[i] == b'\n') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let (radix, mut j) = if s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        (16, i + 2)
    } else if s.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let start = j;
    let mut v: u64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(j).and_then(|c| (*c as char).to_digit(radix)) {
        match v
            .checked_mul(radix as u64)
            .and_then(|x| x.checked_add(d as u64))
        {
            Some(x) => v = x,
            None => overflow = true,
        }
        j += 1;
    }
    if j == start {
        return None;
    }
    if overflow {
        v = u64::MAX;
    } else if neg {
        v = v.wrapping_neg();
    }
    Some((v, &s[j..]))
}

fn trim_label(s: &[u8]) -> Option<&[u8]> {
    let mut a = 0;
    while a < s.len() && is_space_posix(s[a]) {
        a += 1;
    }
    let mut s = &s[a..];
    if let Some(nl) = s.iter().position(|c| *c == b'\n') {
        s = &s[..nl];
    }
    while s.last().is_some_and(|c| is_space_posix(*c)) {
        s = &s[..s.len() - 1];
    }
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The file used with the conntrack 1.4.7 oracle (`-o labels` printed `labels=one,five,last`
    // for bits 1, 5 and 127 and `labels=seven` for bit 7).
    const ORACLE_FILE: &[u8] =
        b"# comment\n0 zero\n1 one\n  2   two words  \n5 five\n0x7 seven\n127 last\n";

    #[test]
    fn parse_oracle_file() {
        let m = LabelMap::parse(ORACLE_FILE).unwrap();
        assert_eq!(m.bit("zero"), Some(0));
        assert_eq!(m.bit("two words"), Some(2));
        assert_eq!(m.bit("seven"), Some(7));
        assert_eq!(m.bit("last"), Some(127));
        assert_eq!(m.name(1), Some("one"));
        assert_eq!(m.name(3), Some(""));
        assert_eq!(m.name(128), None);
        assert_eq!(m.len(), 6);
    }

    #[test]
    fn duplicates_insane_names_and_range() {
        let m =
            LabelMap::parse(b"1 a\n1 b\n2 a\n3 bad;name\n1024 big\n-1 neg\n010 oct\n4\n").unwrap();
        assert_eq!(m.bit("a"), Some(1));
        assert_eq!(m.bit("b"), None);
        assert_eq!(m.name(2), Some(""));
        assert_eq!(m.bit("bad;name"), None);
        assert_eq!(m.bit("big"), None);
        assert_eq!(m.bit("neg"), None);
        assert_eq!(m.bit("oct"), Some(8));
    }

    #[test]
    fn number_glued_to_name_and_empty_file() {
        let m = LabelMap::parse(b"3foo\n").unwrap();
        assert_eq!(m.bit("foo"), Some(3));
        assert_eq!(LabelMap::parse(b"# nothing\n\n"), None);
        assert_eq!(LabelMap::parse(b""), None);
    }

    #[test]
    fn long_line_is_split_like_fgets() {
        let mut f = vec![b'1', b' '];
        f.extend(std::iter::repeat_n(b'a', 1500));
        f.extend_from_slice(b"\n2 ok\n");
        let m = LabelMap::parse(&f).unwrap();
        assert_eq!(m.bit("ok"), Some(2));
        assert_eq!(m.name(1).map(str::len), Some(1021));
    }
}
