//! The FTP helper (net/netfilter/nf_conntrack_ftp.c): PORT and EPRT in the original
//! direction, 227 and 229 in the reply direction, parsed only from a segment that starts
//! right after a '\n' seen earlier in that direction, announce a data connection that becomes
//! an expectation (source = the peer, any source port, destination = the announced address
//! and port). Matching is case-insensitive; a command cut at the segment's end drops the
//! packet; an address other than the sender's creates nothing (the module's `loose`=0).

use crate::config::Helper;
use crate::expect::{Expectation, FTP_EXPECT_TIMEOUT_MS};
use crate::tracker::{ms, Fam, Tracker};
use crate::Nanos;

/// What a command parser found: the address (16 bytes, IPv4 in the first 4) and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cmd {
    pub addr: [u8; 16],
    pub port: u16,
}

/// `find_pattern`'s three outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    No,
    Partial,
    Yes(Cmd),
}

fn is_digit(c: u8) -> bool {
    c.is_ascii_digit()
}

/// `try_number`: `n` numbers separated by `sep`, ended by `term` (or anything when `term`
/// is 0); the length consumed, 0 on failure. Arithmetic wraps like the kernel's u32.
fn try_number(data: &[u8], arr: &mut [u32], sep: u8, term: u8) -> usize {
    arr.iter_mut().for_each(|a| *a = 0);
    let n = arr.len();
    let mut i = 0;
    for (len, &c) in data.iter().enumerate() {
        if i >= n {
            break;
        }
        if is_digit(c) {
            arr[i] = arr[i].wrapping_mul(10).wrapping_add((c - b'0') as u32);
        } else if c == sep {
            i += 1;
        } else {
            if (c == term || term == 0) && i == n - 1 {
                return len;
            }
            return 0;
        }
    }
    0
}

fn v4_of(a: &[u32; 6]) -> u32 {
    (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]
}

/// `try_rfc959`: "h1,h2,h3,h4,p1,p2".
fn try_rfc959(data: &[u8], cmd: &mut Cmd, term: u8) -> usize {
    let mut a = [0u32; 6];
    let len = try_number(data, &mut a, b',', term);
    if len == 0 {
        return 0;
    }
    cmd.addr[..4].copy_from_slice(&v4_of(&a).to_be_bytes());
    cmd.port = ((a[4] << 8) | a[5]) as u16;
    len
}

/// `try_rfc1123`: skip to the first digit, then RFC 959 numbers with no terminator.
fn try_rfc1123(data: &[u8], cmd: &mut Cmd) -> usize {
    let Some(i) = data.iter().position(|c| is_digit(*c)) else {
        return 0;
    };
    try_rfc959(&data[i..], cmd, 0)
}

/// `get_port`: digits from `start` to `delim`; the index after the delimiter, 0 on failure.
fn get_port(data: &[u8], start: usize, delim: u8, port: &mut u16) -> usize {
    let mut tmp: u16 = 0;
    for (i, &c) in data.iter().enumerate().skip(start) {
        if c == delim {
            if tmp == 0 {
                break;
            }
            *port = tmp;
            return i + 1;
        } else if is_digit(c) {
            tmp = tmp.wrapping_mul(10).wrapping_add((c - b'0') as u16);
        } else {
            break;
        }
    }
    0
}

fn bad_delim(d: u8) -> bool {
    is_digit(d) || !(33..=126).contains(&d)
}

/// `try_eprt`: "|1|a.b.c.d|port|" or "|2|v6addr|port|" (family must be the connection's).
fn try_eprt(data: &[u8], cmd: &mut Cmd, v6: bool) -> usize {
    if data.len() <= 3 {
        return 0;
    }
    let delim = data[0];
    if bad_delim(delim) || data[2] != delim {
        return 0;
    }
    if (!v6 && data[1] != b'1') || (v6 && data[1] != b'2') {
        return 0;
    }
    let length = if data[1] == b'1' {
        let mut a = [0u32; 4];
        let l = try_number(&data[3..], &mut a, b'.', delim);
        if l != 0 {
            let ip = (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3];
            cmd.addr[..4].copy_from_slice(&ip.to_be_bytes());
        }
        l
    } else {
        // in6_pton up to the delimiter.
        let rest = &data[3..];
        match rest.iter().position(|c| *c == delim) {
            Some(end) => match std::str::from_utf8(&rest[..end])
                .ok()
                .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
            {
                Some(a) => {
                    cmd.addr = a.octets();
                    end
                }
                None => 0,
            },
            None => 0,
        }
    };
    if length == 0 {
        return 0;
    }
    get_port(data, 3 + length + 1, delim, &mut cmd.port)
}

/// `try_epsv_response`: "|||port|".
fn try_epsv(data: &[u8], cmd: &mut Cmd) -> usize {
    if data.len() <= 3 {
        return 0;
    }
    let delim = data[0];
    if bad_delim(delim) || data[1] != delim || data[2] != delim {
        return 0;
    }
    get_port(data, 3, delim, &mut cmd.port)
}

#[derive(Clone, Copy)]
enum Getnum {
    Rfc959,
    Eprt,
    Rfc1123,
    Epsv,
}

/// `search[dir][]`: pattern, skip character, terminator, parser.
type Search = (&'static [u8], u8, u8, Getnum);

const SEARCH: [[Search; 2]; 2] = [
    [
        (b"PORT", b' ', b'\r', Getnum::Rfc959),
        (b"EPRT", b' ', b'\r', Getnum::Eprt),
    ],
    [
        (b"227 ", 0, 0, Getnum::Rfc1123),
        (b"229 ", b'(', b')', Getnum::Epsv),
    ],
];

/// `find_pattern` for one search entry, the pattern anchored at the segment's start.
fn find_pattern(
    data: &[u8],
    (pattern, skip, term, getnum): (&[u8], u8, u8, Getnum),
    cmd: &mut Cmd,
    v6: bool,
) -> Found {
    let plen = pattern.len();
    if data.len() <= plen {
        return if data.eq_ignore_ascii_case(&pattern[..data.len()]) {
            Found::Partial
        } else {
            Found::No
        };
    }
    if !data[..plen].eq_ignore_ascii_case(pattern) {
        return Found::No;
    }
    let mut i = plen;
    if skip != 0 {
        while data[i] != skip {
            if i == data.len() - 1 {
                return Found::Partial;
            }
            i += 1;
        }
        i += 1;
    }
    let rest = &data[i..];
    let n = match getnum {
        Getnum::Rfc959 => try_rfc959(rest, cmd, term),
        Getnum::Eprt => try_eprt(rest, cmd, v6),
        Getnum::Rfc1123 => try_rfc1123(rest, cmd),
        Getnum::Epsv => try_epsv(rest, cmd),
    };
    if n == 0 {
        Found::Partial
    } else {
        Found::Yes(*cmd)
    }
}

/// Parses one segment of direction `dir` whose sender address is `sender` (16 bytes).
pub(crate) fn parse(data: &[u8], dir: usize, sender: [u8; 16], v6: bool) -> Found {
    let mut cmd = Cmd {
        addr: sender,
        port: 0,
    };
    for s in SEARCH[dir] {
        match find_pattern(data, s, &mut cmd, v6) {
            Found::No => continue,
            f => return f,
        }
    }
    Found::No
}

fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Tracker {
    /// Runs the entry's helper on an accepted packet (`help()` at confirmation time).
    /// Returns whether the packet is dropped.
    pub(crate) fn run_ftp<A: Fam>(
        &mut self,
        now: Nanos,
        idx: u32,
        dir: usize,
        established: bool,
        seg_seq: u32,
        payload: &[u8],
    ) -> bool {
        if !established || payload.is_empty() {
            return false;
        }
        let e = A::table(self).entries[idx as usize];
        let Some(x) = self.ext.get_mut(&(A::FAM, idx)) else {
            return false;
        };
        if x.helper != Some(Helper::Ftp) {
            return false;
        }
        let ends_in_nl = payload.last() == Some(&b'\n');
        let nl_seq = seg_seq.wrapping_add(payload.len() as u32);
        let st = &mut x.ftp;
        let after_nl = st.seq_aft_nl[dir][..st.seq_aft_nl_num[dir] as usize].contains(&seg_seq);
        let mut dropped = false;
        let mut expect = None;
        if after_nl {
            let k = e.key_dir(dir);
            match parse(payload, dir, k.src.to16(), A::FAM == 6) {
                Found::Partial => dropped = true,
                Found::No => {}
                Found::Yes(cmd) => {
                    if cmd.addr == k.src.to16() {
                        let rk = e.key_dir(1 - dir);
                        expect = Some(Expectation {
                            fam: A::FAM,
                            src: rk.src.to16(),
                            dst: rk.dst.to16(),
                            dport: cmd.port,
                            proto: crate::proto::TCP,
                            zone: e.key.zone,
                            master: idx,
                            master_tuple: { e.key }.tuple(),
                            expires: ms(now).wrapping_add(FTP_EXPECT_TIMEOUT_MS),
                            serial: 0,
                            helper: Helper::Ftp,
                        });
                    }
                }
            }
        }
        if let Some(x) = expect {
            if !self.insert_expectation(x, now) {
                dropped = true;
            }
        }
        if dropped {
            // `goto out`: the newline bookkeeping is skipped.
            return true;
        }
        if ends_in_nl {
            if let Some(x) = self.ext.get_mut(&(A::FAM, idx)) {
                let st = &mut x.ftp;
                let n = st.seq_aft_nl_num[dir] as usize;
                if !st.seq_aft_nl[dir][..n].contains(&nl_seq) {
                    if n < 2 {
                        st.seq_aft_nl[dir][n] = nl_seq;
                        st.seq_aft_nl_num[dir] += 1;
                    } else {
                        let s = st.seq_aft_nl[dir];
                        let oldest = if before(s[0], s[1]) { 0 } else { 1 };
                        if before(s[oldest], nl_seq) {
                            st.seq_aft_nl[dir][oldest] = nl_seq;
                        }
                    }
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&a);
        b
    }

    const SENDER: [u8; 4] = [192, 0, 2, 1];

    #[test]
    fn test_port_command_parses_address_and_port() {
        let f = parse(b"PORT 192,0,2,1,4,1\r\n", 0, v4(SENDER), false);
        assert_eq!(
            f,
            Found::Yes(Cmd {
                addr: v4(SENDER),
                port: 1025
            })
        );
        let f = parse(b"port 192,0,2,9,0,20\r\n", 0, v4(SENDER), false);
        assert_eq!(
            f,
            Found::Yes(Cmd {
                addr: v4([192, 0, 2, 9]),
                port: 20
            })
        );
    }

    #[test]
    fn test_port_cut_at_segment_end_is_partial() {
        assert_eq!(
            parse(b"PORT 192,0,2,1,4", 0, v4(SENDER), false),
            Found::Partial
        );
        assert_eq!(parse(b"PO", 0, v4(SENDER), false), Found::Partial);
        assert_eq!(parse(b"USER x\r\n", 0, v4(SENDER), false), Found::No);
    }

    #[test]
    fn test_eprt_v4_and_v6() {
        assert_eq!(
            parse(b"EPRT |1|192.0.2.1|5000|\r\n", 0, v4(SENDER), false),
            Found::Yes(Cmd {
                addr: v4(SENDER),
                port: 5000
            })
        );
        let a: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            parse(b"EPRT |2|2001:db8::1|6000|\r\n", 0, a.octets(), true),
            Found::Yes(Cmd {
                addr: a.octets(),
                port: 6000
            })
        );
        // Wrong family for the connection.
        assert_eq!(
            parse(b"EPRT |2|2001:db8::1|6000|\r\n", 0, v4(SENDER), false),
            Found::Partial
        );
    }

    #[test]
    fn test_227_and_229_replies() {
        assert_eq!(
            parse(
                b"227 Entering Passive Mode (192,0,2,1,200,10).\r\n",
                1,
                v4(SENDER),
                false
            ),
            Found::Yes(Cmd {
                addr: v4(SENDER),
                port: 200 * 256 + 10
            })
        );
        assert_eq!(
            parse(b"227 =192,0,2,1,0,21\r\n", 1, v4(SENDER), false),
            Found::Yes(Cmd {
                addr: v4(SENDER),
                port: 21
            })
        );
        assert_eq!(
            parse(
                b"229 Entering Extended Passive Mode (|||6446|)\r\n",
                1,
                v4(SENDER),
                false
            ),
            Found::Yes(Cmd {
                addr: v4(SENDER),
                port: 6446
            })
        );
        assert_eq!(
            parse(b"229 no paren\r\n", 1, v4(SENDER), false),
            Found::Partial
        );
        // Commands are only looked for in their own direction.
        assert_eq!(
            parse(b"PORT 192,0,2,1,4,1\r\n", 1, v4(SENDER), false),
            Found::No
        );
    }
}
