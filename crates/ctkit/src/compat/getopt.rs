//! A work-alike of glibc's `getopt_long` as conntrack calls it (`opterr = 0`, option string
//! starting with `:`), including GNU argument permutation.
//!
//! Follows glibc posix/getopt.c (`_getopt_internal_r`, `process_long_option`, `exchange`):
//! non-options are skipped and later moved behind the options, long options match exactly or
//! by unique prefix (several prefix matches are ambiguous unless they are the same option), and
//! the caller may advance `optind` itself, as conntrack's `get_optional_arg` does. With
//! `opterr = 0` glibc prints nothing; conntrack reports `argv[optind-1]` itself.
//! `POSIXLY_CORRECT` (or a leading `+`) stops at the first non-option, like glibc.

use crate::compat::options::{ArgKind, LongOpt};

/// What one `getopt_long` call returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// An option: its value and its argument, if one was taken.
    Opt {
        /// The option's `val` (short letter, or merged protocol value).
        val: u32,
        /// `optarg`, borrowed from the argument vector.
        arg: Option<&'a str>,
    },
    /// `:`: a required argument is missing.
    MissingArg,
    /// `?`: unknown or ambiguous option, or an argument given to an option that takes none.
    Unknown,
    /// `-1`: no more options.
    End,
}

/// Parser state over a permutable vector of borrowed words (element 0 is the program name).
#[derive(Debug)]
pub struct Getopt<'a> {
    /// The argument vector; permuted in place as glibc does.
    pub argv: Vec<&'a str>,
    /// `optind`: index of the next element to scan. Callers may advance it.
    pub optind: usize,
    nextchar: Option<(usize, usize)>,
    first_nonopt: usize,
    last_nonopt: usize,
    require_order: bool,
}

impl<'a> Getopt<'a> {
    /// Starts a scan (`optind = 0` re-initialisation). `posixly_correct` mirrors the
    /// `POSIXLY_CORRECT` environment variable.
    pub fn new(argv: Vec<&'a str>, posixly_correct: bool) -> Getopt<'a> {
        Getopt {
            argv,
            optind: 1,
            nextchar: None,
            first_nonopt: 1,
            last_nonopt: 1,
            require_order: posixly_correct,
        }
    }

    /// `argv[optind - 1]`, what conntrack quotes in its getopt error messages.
    pub fn previous(&self) -> &str {
        let i = self.optind.saturating_sub(1);
        self.argv.get(i).copied().unwrap_or("")
    }

    fn is_nonoption(&self, i: usize) -> bool {
        let a = self.argv[i].as_bytes();
        a.first() != Some(&b'-') || a.len() == 1
    }

    /// glibc `exchange`: moves the skipped non-options [first_nonopt, last_nonopt) behind the
    /// options scanned since [last_nonopt, optind).
    fn exchange(&mut self) {
        let (a, b, c) = (self.first_nonopt, self.last_nonopt, self.optind);
        self.argv[a..c].rotate_left(b - a);
        self.first_nonopt += c - b;
        self.last_nonopt = c;
    }

    /// One `getopt_long(argc, argv, shortopts, longopts, NULL)` call; `longopts` is the
    /// concatenation of the given tables, in order.
    pub fn next(&mut self, shortopts: &str, longopts: &[&[LongOpt]]) -> Next<'a> {
        let argc = self.argv.len();
        let short = shortopts.strip_prefix(':').unwrap_or(shortopts);
        let exhausted = match self.nextchar {
            None => true,
            Some((i, p)) => p >= self.argv[i].len(),
        };
        if exhausted {
            if self.last_nonopt > self.optind {
                self.last_nonopt = self.optind;
            }
            if self.first_nonopt > self.optind {
                self.first_nonopt = self.optind;
            }
            if !self.require_order {
                if self.first_nonopt != self.last_nonopt && self.last_nonopt != self.optind {
                    self.exchange();
                } else if self.last_nonopt != self.optind {
                    self.first_nonopt = self.optind;
                }
                while self.optind < argc && self.is_nonoption(self.optind) {
                    self.optind += 1;
                }
                self.last_nonopt = self.optind;
            }
            if self.optind != argc && self.argv[self.optind] == "--" {
                self.optind += 1;
                if self.first_nonopt != self.last_nonopt && self.last_nonopt != self.optind {
                    self.exchange();
                } else if self.first_nonopt == self.last_nonopt {
                    self.first_nonopt = self.optind;
                }
                self.last_nonopt = argc;
                self.optind = argc;
            }
            if self.optind == argc {
                if self.first_nonopt != self.last_nonopt {
                    self.optind = self.first_nonopt;
                }
                self.nextchar = None;
                return Next::End;
            }
            if self.is_nonoption(self.optind) {
                // Only reachable in REQUIRE_ORDER mode.
                self.nextchar = None;
                return Next::End;
            }
            if self.argv[self.optind].as_bytes()[1] == b'-' {
                self.nextchar = Some((self.optind, 2));
                return self.long_option(longopts);
            }
            self.nextchar = Some((self.optind, 1));
        }
        self.short_option(short)
    }

    fn short_option(&mut self, short: &str) -> Next<'a> {
        let argc = self.argv.len();
        let (i, p) = self.nextchar.expect("scanning a word");
        let word: &'a str = self.argv[i];
        // Options are ASCII; a non-ASCII byte is simply an unknown option.
        let c = word.as_bytes()[p];
        let c_len = word[p..].chars().next().map(char::len_utf8).unwrap_or(1);
        let np = p + c_len;
        let at_end = np >= word.len();
        self.nextchar = Some((i, np));
        if at_end {
            self.optind += 1;
        }
        let spec = if c.is_ascii() && c != b':' && c != b';' {
            short.bytes().position(|b| b == c)
        } else {
            None
        };
        let Some(pos) = spec else {
            return Next::Unknown;
        };
        let rest = &short.as_bytes()[pos + 1..];
        if rest.first() == Some(&b':') {
            let optional = rest.get(1) == Some(&b':');
            let arg = if !at_end {
                let a = &word[np..];
                self.optind += 1;
                Some(a)
            } else if optional {
                None
            } else if self.optind == argc {
                self.nextchar = None;
                return Next::MissingArg;
            } else {
                let a = self.argv[self.optind];
                self.optind += 1;
                Some(a)
            };
            self.nextchar = None;
            return Next::Opt { val: c as u32, arg };
        }
        Next::Opt {
            val: c as u32,
            arg: None,
        }
    }

    fn long_option(&mut self, longopts: &[&[LongOpt]]) -> Next<'a> {
        let argc = self.argv.len();
        let word: &'a str = &self.argv[self.optind][2..];
        let (name, value) = match word.bytes().position(|b| b == b'=') {
            Some(eq) => (&word[..eq], Some(&word[eq + 1..])),
            None => (word, None),
        };
        let all = || longopts.iter().flat_map(|t| t.iter());
        let mut found: Option<&LongOpt> = exact(longopts, name);
        if found.is_none() {
            let mut ambiguous = false;
            for o in all().filter(|o| o.name.starts_with(name)) {
                match found {
                    None => found = Some(o),
                    Some(f) if f.arg != o.arg || f.val != o.val => ambiguous = true,
                    Some(_) => {}
                }
            }
            if ambiguous {
                self.nextchar = None;
                self.optind += 1;
                return Next::Unknown;
            }
        }
        let Some(opt) = found.copied() else {
            self.nextchar = None;
            self.optind += 1;
            return Next::Unknown;
        };
        self.optind += 1;
        self.nextchar = None;
        let arg = match (value, opt.arg) {
            (Some(_), ArgKind::None) => return Next::Unknown,
            (Some(v), _) => Some(v),
            (None, ArgKind::Required) => {
                if self.optind < argc {
                    let a = self.argv[self.optind];
                    self.optind += 1;
                    Some(a)
                } else {
                    return Next::MissingArg;
                }
            }
            (None, _) => None,
        };
        Next::Opt { val: opt.val, arg }
    }
}

/// The first option named exactly `name` (length and first byte are compared before the
/// name: most candidates are rejected without a `memcmp`).
fn exact<'o>(longopts: &[&'o [LongOpt]], name: &str) -> Option<&'o LongOpt> {
    let n = name.as_bytes();
    let first = *n.first()?;
    for table in longopts {
        for o in table.iter() {
            let b = o.name.as_bytes();
            if b.len() == n.len() && b[0] == first && b == n {
                return Some(o);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::options::{GENERIC_LONG_OPTS, GETOPT_STR};

    fn argv<'a>(s: &[&'a str]) -> Vec<&'a str> {
        std::iter::once("conntrack")
            .chain(s.iter().copied())
            .collect()
    }

    fn all<'a>(args: &[&'a str]) -> (Vec<Next<'a>>, Getopt<'a>) {
        let mut g = Getopt::new(argv(args), false);
        let mut out = vec![];
        loop {
            let n = g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]);
            let end = n == Next::End;
            out.push(n);
            if end || out.len() > 20 {
                break;
            }
        }
        (out, g)
    }

    fn opt(c: char, arg: Option<&str>) -> Next<'_> {
        Next::Opt { val: c as u32, arg }
    }

    #[test]
    fn stray_words_are_permuted_behind_options() {
        let (out, g) = all(&["conntrack", "-L"]);
        assert_eq!(out, vec![opt('L', None), Next::End]);
        assert_eq!(g.argv, argv(&["-L", "conntrack"]));
        assert_eq!(g.optind, 2);
    }

    #[test]
    fn optional_argument_only_when_attached() {
        let (out, _) = all(&["-Lexpect"]);
        assert_eq!(out, vec![opt('L', Some("expect")), Next::End]);
        let (out, _) = all(&["--dump=expect"]);
        assert_eq!(out, vec![opt('L', Some("expect")), Next::End]);
        let (out, _) = all(&["-L", "expect"]);
        assert_eq!(out, vec![opt('L', None), Next::End]);
    }

    #[test]
    fn required_argument_attached_or_next_word() {
        let (out, _) = all(&["-s1.2.3.4", "-d", "5.6.7.8"]);
        assert_eq!(
            out,
            vec![
                opt('s', Some("1.2.3.4")),
                opt('d', Some("5.6.7.8")),
                Next::End
            ]
        );
    }

    #[test]
    fn missing_argument_reports_the_option_word() {
        let mut g = Getopt::new(argv(&["-L", "-s"]), false);
        assert_eq!(g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]), opt('L', None));
        assert_eq!(g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]), Next::MissingArg);
        assert_eq!(g.previous(), "-s");
    }

    #[test]
    fn unknown_short_inside_a_cluster_reports_previous_word() {
        // conntrack -L -xs → "unknown option `-L'" (oracle).
        let mut g = Getopt::new(argv(&["-L", "-xs"]), false);
        g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]);
        assert_eq!(g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]), Next::Unknown);
        assert_eq!(g.previous(), "-L");
    }

    #[test]
    fn long_prefixes_unique_exact_and_ambiguous() {
        let (out, _) = all(&["--zo", "1"]);
        assert_eq!(out[0], opt('w', Some("1")));
        let (out, _) = all(&["--src", "1"]);
        assert_eq!(out[0], opt('s', Some("1")));
        let mut g = Getopt::new(argv(&["--la", "x"]), false);
        assert_eq!(g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]), Next::Unknown);
        assert_eq!(g.previous(), "--la");
        let mut g = Getopt::new(argv(&["--foo"]), false);
        assert_eq!(g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]), Next::Unknown);
        assert_eq!(g.previous(), "--foo");
    }

    #[test]
    fn value_for_a_flag_is_unknown() {
        let mut g = Getopt::new(argv(&["--zero=1"]), false);
        assert_eq!(g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]), Next::Unknown);
        assert_eq!(g.previous(), "--zero=1");
    }

    #[test]
    fn double_dash_ends_options() {
        let (out, g) = all(&["a", "--", "-L"]);
        assert_eq!(out, vec![Next::End]);
        assert_eq!(g.argv, argv(&["--", "a", "-L"]));
    }

    #[test]
    fn caller_may_consume_next_word() {
        let mut g = Getopt::new(argv(&["x", "-L", "expect", "-o", "xml"]), false);
        assert_eq!(g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]), opt('L', None));
        assert_eq!(g.argv[g.optind], "expect");
        g.optind += 1;
        assert_eq!(
            g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]),
            opt('o', Some("xml"))
        );
        assert_eq!(g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]), Next::End);
    }

    #[test]
    fn posixly_correct_stops_at_first_word() {
        let mut g = Getopt::new(argv(&["x", "-L"]), true);
        assert_eq!(g.next(GETOPT_STR, &[GENERIC_LONG_OPTS]), Next::End);
    }
}
