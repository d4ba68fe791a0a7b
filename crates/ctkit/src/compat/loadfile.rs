//! `-R FILE|-` / `--load-file`: conntrack's batch mode (`ct_parse_file`, `ct_file_parse_line`,
//! `add_param_to_argv` taken from iptables' xshared.c). Every line is parsed and validated
//! before anything runs; only -I/-A/-U/-D/-F on the conntrack table are allowed.

use crate::compat::error::CompatError;
use crate::compat::options::CmdRow;
use crate::compat::parse::{parse_words, ParseEnv, ParseState};
use crate::compat::request::{CompatRequest, OutputFlags};
use std::io::Read;

/// `MAX_ARGC`.
const MAX_ARGC: usize = 255;
/// `sizeof(ct_param_buf.buffer)`.
const MAX_PARAM: usize = 1024;
/// `fgets` buffer size in `ct_parse_file`: longer lines are read in pieces.
const LINE_BUF: usize = 10240;

/// The words of one line, unescaped into one reused buffer (no allocation per word).
#[derive(Debug, Default)]
pub struct Words {
    buf: Vec<u8>,
    /// End offset in `buf` of each word.
    ends: Vec<usize>,
    /// Per-word lossy copies, only for a line that is not valid UTF-8.
    lossy: Vec<String>,
}

impl Words {
    /// Forgets the previous line.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    fn end_word(&mut self, before: usize) -> Result<(), CompatError> {
        // `argv` holds the program name too: MAX_ARGC counts it.
        if before + self.ends.len() + 1 >= MAX_ARGC {
            return Err(CompatError::param("too many arguments"));
        }
        self.ends.push(self.buf.len());
        Ok(())
    }

    /// Splits one line as `add_param_to_argv` does: blanks separate words, `"…"` quotes with
    /// `\` escaping inside, a closing quote ends the word. `before` words (the program name)
    /// precede these in argv.
    pub fn split(&mut self, line: &[u8], before: usize) -> Result<(), CompatError> {
        let mut start = self.buf.len();
        let mut quote_open = false;
        let mut escaped = false;
        for &c in line {
            if c == 0 {
                break;
            }
            if quote_open {
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                    continue;
                } else if c == b'"' {
                    quote_open = false;
                    // The closing quote ends the word, even an empty one.
                    self.end_word(before)?;
                    start = self.buf.len();
                    continue;
                }
            } else {
                match c {
                    b'"' => {
                        quote_open = true;
                        continue;
                    }
                    b' ' | b'\t' | b'\n' => {
                        if self.buf.len() > start {
                            self.end_word(before)?;
                            start = self.buf.len();
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            self.buf.push(c);
            if self.buf.len() - start >= MAX_PARAM {
                return Err(CompatError::param("Parameter too long!"));
            }
        }
        if self.buf.len() > start {
            self.end_word(before)?;
        }
        Ok(())
    }

    /// `progname` followed by the words, borrowed (a word that is not valid UTF-8 is
    /// converted lossily, as before).
    pub fn argv<'a>(&'a mut self, progname: &'a str) -> Vec<&'a str> {
        let mut v = Vec::with_capacity(self.ends.len() + 1);
        v.push(progname);
        // Concatenated words may be valid UTF-8 where a single one is not (a character cut
        // by a word boundary): then each word is converted on its own, as before.
        match std::str::from_utf8(&self.buf)
            .ok()
            .filter(|t| self.ends.iter().all(|&e| t.is_char_boundary(e)))
        {
            Some(text) => {
                let mut s = 0;
                for &e in &self.ends {
                    v.push(&text[s..e]);
                    s = e;
                }
            }
            None => {
                self.lossy.clear();
                let mut s = 0;
                for &e in &self.ends {
                    self.lossy
                        .push(String::from_utf8_lossy(&self.buf[s..e]).into_owned());
                    s = e;
                }
                v.extend(self.lossy.iter().map(String::as_str));
            }
        }
        v
    }
}

/// Splits one line into owned words, appended to `argv` (see [`Words::split`]).
pub fn split_line(argv: &mut Vec<String>, line: &[u8]) -> Result<(), CompatError> {
    let mut w = Words::default();
    w.split(line, argv.len())?;
    let words = w.argv("");
    argv.extend(words[1..].iter().map(|s| s.to_string()));
    Ok(())
}

/// The pieces `fgets(buffer, 10240, file)` returns, in order.
struct FgetsLines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for FgetsLines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let max = self.rest.len().min(LINE_BUF - 1);
        let end = match self.rest[..max].iter().position(|&c| c == b'\n') {
            Some(p) => p + 1,
            None => max,
        };
        let (line, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(line)
    }
}

fn fgets_lines(data: &[u8]) -> FgetsLines<'_> {
    FgetsLines { rest: data }
}

/// ``Cannot use command `X' with --load-file`` names (`ct_unsupp_cmd_parse_file`).
fn unsupported_name(r: &CompatRequest) -> &'static str {
    match r.row {
        CmdRow::CtList => "-L",
        CmdRow::CtGet => "-G",
        CmdRow::CtEvent => "-E",
        CmdRow::CtVersion => "-V",
        CmdRow::CtHelp => "-h",
        CmdRow::ExpList => "-L expect",
        CmdRow::ExpCreate => "-C expect",
        CmdRow::ExpDelete => "-D expect",
        CmdRow::ExpGet => "-G expect",
        CmdRow::ExpFlush => "-F expect",
        CmdRow::ExpEvent => "-E expect",
        CmdRow::CtCount => "-C",
        CmdRow::ExpCount => "-C expect",
        CmdRow::CtStats => "-S",
        CmdRow::ExpStats => "-S expect",
        _ => "unknown",
    }
}

/// Parses every line of `data` in order and hands each request to `sink`, with its line
/// number. Parse errors stop at once; a command that `-R` does not allow is reported only
/// after every line parsed (as conntrack checks them after parsing the whole file).
pub fn parse_each(
    data: &[u8],
    progname: &str,
    env: &ParseEnv,
    state: &mut ParseState,
    sink: impl FnMut(CompatRequest, usize) -> Result<(), CompatError>,
) -> Result<(), CompatError> {
    let r = parse_range(data, 0, progname, env, state, sink);
    match r.stopped.or(r.unsupported) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What [`parse_range`] found.
#[derive(Debug, Default)]
pub struct RangeResult {
    /// The error that stopped parsing (a bad line, or one `sink` refused).
    pub stopped: Option<CompatError>,
    /// The first line whose command `-R` does not allow (reported after every line).
    pub unsupported: Option<CompatError>,
    /// How many lines (`fgets` pieces) the range held, when it was parsed to its end.
    pub lines: usize,
}

/// [`parse_each`] over `data` whose first line is line `first_line + 1` of the file
/// (`data` must start at a line boundary).
pub fn parse_range(
    data: &[u8],
    first_line: usize,
    progname: &str,
    env: &ParseEnv,
    state: &mut ParseState,
    sink: impl FnMut(CompatRequest, usize) -> Result<(), CompatError>,
) -> RangeResult {
    parse_range_with(data, first_line, progname, env, state, &mut FnSink(sink))
}

/// Where [`parse_range_with`] hands each line.
pub trait LineSink {
    /// Offered every command line first (not comments or blank lines): `true` when the sink
    /// has validated and taken it itself, updating `state` as parsing it would.
    fn line(&mut self, _line: &[u8], _lineno: usize, _state: &mut ParseState) -> bool {
        false
    }
    /// The request the parser made of line `lineno` and the state it left; an error stops
    /// the range.
    fn request(
        &mut self,
        req: CompatRequest,
        lineno: usize,
        state: &ParseState,
    ) -> Result<(), CompatError>;
}

struct FnSink<F>(F);

impl<F: FnMut(CompatRequest, usize) -> Result<(), CompatError>> LineSink for FnSink<F> {
    fn request(
        &mut self,
        req: CompatRequest,
        lineno: usize,
        _state: &ParseState,
    ) -> Result<(), CompatError> {
        (self.0)(req, lineno)
    }
}

/// [`parse_range`] with a [`LineSink`] that may take lines without the parser.
pub fn parse_range_with(
    data: &[u8],
    first_line: usize,
    progname: &str,
    env: &ParseEnv,
    state: &mut ParseState,
    sink: &mut impl LineSink,
) -> RangeResult {
    let mut out = RangeResult::default();
    let mut words = Words::default();
    for (n, raw) in fgets_lines(data).enumerate() {
        let lineno = first_line + n + 1;
        out.lines = n + 1;
        let start = raw
            .iter()
            .position(|&c| c != b' ' && c != b'\t')
            .unwrap_or(raw.len());
        let line = &raw[start..];
        if line.first() == Some(&b'\n') || line.first() == Some(&b'#') {
            continue;
        }
        if sink.line(line, lineno, state) {
            continue;
        }
        let with_line = |mut e: CompatError| {
            e.line = Some(lineno);
            e
        };
        words.clear();
        if let Err(e) = words.split(line, 1) {
            out.stopped = Some(with_line(e));
            return out;
        }
        let req = match parse_words(words.argv(progname), env, state) {
            Ok(r) => r,
            Err(e) => {
                out.stopped = Some(with_line(e));
                return out;
            }
        };
        let ok = matches!(
            req.row,
            CmdRow::CtCreate
                | CmdRow::CtAdd
                | CmdRow::CtUpdate
                | CmdRow::CtDelete
                | CmdRow::CtFlush
        );
        if !ok && out.unsupported.is_none() {
            let mut e = CompatError::param(format!(
                "Cannot use command `{}' with --load-file",
                unsupported_name(&req)
            ));
            e.line = Some(lineno);
            out.unsupported = Some(e);
        }
        if let Err(e) = sink.request(req, lineno, state) {
            out.stopped = Some(e);
            return out;
        }
    }
    out
}

/// The last line (`fgets` piece) of `data`, empty when there is none; found from the end
/// (pieces restart after each newline, so only the last newline-ended line is cut).
pub fn last_line(data: &[u8]) -> &[u8] {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let start = body.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
    fgets_lines(&data[start..]).last().unwrap_or(&[])
}

/// Parses file contents into requests (all lines first; errors carry their line number).
/// Holds every request in memory: for big files use [`parse_each`] twice (validate, then
/// run), as `compat::main` does.
pub fn parse_contents(
    data: &[u8],
    progname: &str,
    env: &ParseEnv,
    state: &mut ParseState,
) -> Result<Vec<CompatRequest>, CompatError> {
    let mut reqs = Vec::new();
    parse_each(data, progname, env, state, |r, _| {
        reqs.push(r);
        Ok(())
    })?;
    // conntrack's output mask is one global: every line runs with the final union.
    let out = OutputFlags(state.output);
    for r in &mut reqs {
        r.output = out;
    }
    Ok(reqs)
}

/// Reads `FILE` (`-` = stdin, reported as `/dev/stdin`).
pub fn read_file(file: &str) -> Result<Vec<u8>, CompatError> {
    let name = if file == "-" { "/dev/stdin" } else { file };
    let mut data = Vec::new();
    let read = if file == "-" {
        std::io::stdin().lock().read_to_end(&mut data).map(|_| ())
    } else {
        std::fs::File::open(name).and_then(|mut f| match read_halves(&f)? {
            Some(d) => {
                data = d;
                Ok(())
            }
            None => f.read_to_end(&mut data).map(|_| ()),
        })
    };
    if read.is_err() {
        return Err(CompatError::param(format!(
            "Failed to open file {name} for reading"
        )));
    }
    Ok(data)
}

/// Below this size a file is read by one thread.
const READ_SPLIT_MIN: u64 = 8 << 20;

/// A big regular file read in two halves on two threads (the copy out of the page cache and
/// the page faults of the buffer are a tenth of `-R`'s validation time); `None` when the file
/// is small, not a regular file, or its size changed while it was read (then it is read the
/// plain way, from the start).
fn read_halves(f: &std::fs::File) -> std::io::Result<Option<Vec<u8>>> {
    use std::os::unix::fs::FileExt;
    let meta = f.metadata()?;
    if !meta.is_file() || meta.len() < READ_SPLIT_MIN || meta.len() > usize::MAX as u64 / 2 {
        return Ok(None);
    }
    let len = meta.len() as usize;
    let mut data = vec![0u8; len];
    let (head, tail) = data.split_at_mut(len / 2);
    let fill = |buf: &mut [u8], mut at: u64| -> std::io::Result<bool> {
        let mut done = 0;
        while done < buf.len() {
            match f.read_at(&mut buf[done..], at) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    done += n;
                    at += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    };
    let (a, b) = std::thread::scope(|s| {
        let second = s.spawn(|| fill(tail, (len / 2) as u64));
        let a = fill(head, 0);
        (a, second.join().expect("reading thread"))
    });
    // Complete, and nothing after the end: else the file changed under us.
    let whole = a? && b? && f.read_at(&mut [0u8; 1], len as u64)? == 0;
    Ok(whole.then_some(data))
}

/// Reads `FILE` (`-` = stdin, reported as `/dev/stdin`) and parses it.
pub fn parse_file(
    file: &str,
    progname: &str,
    env: &ParseEnv,
    state: &mut ParseState,
) -> Result<Vec<CompatRequest>, CompatError> {
    let data = read_file(file)?;
    parse_contents(&data, progname, env, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::request::Command;

    fn words(line: &str) -> Vec<String> {
        let mut v = Vec::new();
        split_line(&mut v, line.as_bytes()).unwrap();
        v
    }

    #[test]
    fn splits_on_blanks_and_quotes() {
        assert_eq!(words("-D  -s 1.1.1.1\n"), vec!["-D", "-s", "1.1.1.1"]);
        assert_eq!(words("a \"b c\" d"), vec!["a", "b c", "d"]);
        assert_eq!(words("\"a\\\"b\""), vec!["a\"b"]);
        assert_eq!(words("\"ab\"cd"), vec!["ab", "cd"]);
        assert_eq!(words("\"\""), vec![""]);
        assert_eq!(words("x\ty"), vec!["x", "y"]);
    }

    #[test]
    fn limits() {
        let long = "a".repeat(1024);
        let mut v = Vec::new();
        assert_eq!(
            split_line(&mut v, long.as_bytes()).unwrap_err().message,
            "Parameter too long!"
        );
        let many = "a ".repeat(300);
        let mut v = vec!["conntrack".to_string()];
        assert_eq!(
            split_line(&mut v, many.as_bytes()).unwrap_err().message,
            "too many arguments"
        );
    }

    /// The splitter before words were borrowed (one `String` per word), kept as the
    /// reference the one-buffer splitter must agree with.
    fn reference_split(argv: &mut Vec<String>, line: &[u8]) -> Result<(), CompatError> {
        fn add(argv: &mut Vec<String>, what: &[u8]) -> Result<(), CompatError> {
            if argv.len() + 1 >= MAX_ARGC {
                return Err(CompatError::param("too many arguments"));
            }
            argv.push(String::from_utf8_lossy(what).into_owned());
            Ok(())
        }
        let mut param: Vec<u8> = Vec::new();
        let (mut quote_open, mut escaped) = (false, false);
        let push = |param: &mut Vec<u8>, c: u8| -> Result<(), CompatError> {
            param.push(c);
            if param.len() >= MAX_PARAM {
                return Err(CompatError::param("Parameter too long!"));
            }
            Ok(())
        };
        for &c in line {
            if c == 0 {
                break;
            }
            if quote_open {
                if escaped {
                    push(&mut param, c)?;
                    escaped = false;
                    continue;
                } else if c == b'\\' {
                    escaped = true;
                    continue;
                } else if c == b'"' {
                    quote_open = false;
                } else {
                    push(&mut param, c)?;
                    continue;
                }
            } else if c == b'"' {
                quote_open = true;
                continue;
            }
            match c {
                b'"' => {}
                b' ' | b'\t' | b'\n' => {
                    if param.is_empty() {
                        continue;
                    }
                }
                _ => {
                    push(&mut param, c)?;
                    continue;
                }
            }
            add(argv, &param)?;
            param.clear();
        }
        if !param.is_empty() {
            add(argv, &param)?;
        }
        Ok(())
    }

    fn both(line: &[u8]) -> (Result<Vec<String>, String>, Result<Vec<String>, String>) {
        let mut a = vec!["conntrack".to_string()];
        let ra = reference_split(&mut a, line)
            .map(|_| a)
            .map_err(|e| e.message);
        let mut b = vec!["conntrack".to_string()];
        let rb = split_line(&mut b, line).map(|_| b).map_err(|e| e.message);
        (ra, rb)
    }

    #[test]
    fn one_buffer_splitter_agrees_with_the_reference_on_edge_cases() {
        let long = "a".repeat(1100);
        let many = "a ".repeat(300);
        let cases: Vec<&[u8]> = vec![
            b"-I -s 1.2.3.4 -p tcp --sport 1\n",
            b"\"\" \"a b\"c \"x\\\"y\" \"unterminated",
            b"a\0b c",
            b"\xc3 \xa9 caf\xc3\xa9 \xff\xfe",
            b"\"\xc3\"\xa9",
            long.as_bytes(),
            many.as_bytes(),
            b"",
            b"   \t\n",
        ];
        for c in cases {
            let (a, b) = both(c);
            assert_eq!(a, b, "{:?}", String::from_utf8_lossy(c));
        }
    }

    proptest::proptest! {
        #[test]
        fn one_buffer_splitter_agrees_with_the_reference(
            line in proptest::collection::vec(
                proptest::sample::select(vec![
                    b' ', b'\t', b'\n', b'"', b'\\', b'a', b'-', b'0', 0xc3, 0xa9, 0xff, 0,
                ]),
                0..64,
            )
        ) {
            let (a, b) = both(&line);
            proptest::prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn a_big_file_read_in_two_halves_is_the_file() {
        let path = std::env::temp_dir().join(format!("ctkit-read-halves-{}", std::process::id()));
        let data: Vec<u8> = (0..(READ_SPLIT_MIN as usize + 12_345))
            .map(|i| (i * 7 + i / 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let halves = read_halves(&f).unwrap();
        let got = read_file(path.to_str().unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(halves.is_some_and(|h| h == data));
        assert!(got == data);
    }

    #[test]
    fn the_last_line_is_the_last_fgets_piece() {
        let long = "x".repeat(LINE_BUF + 5);
        for data in [
            format!("a\n\nb c\n{long}\nz"),
            format!("a\n{long}\n"),
            long.clone(),
            "a\n".to_string(),
            "a\n\n".to_string(),
            "\n".to_string(),
            String::new(),
            "a\nb".to_string(),
        ] {
            let d = data.as_bytes();
            assert_eq!(
                last_line(d),
                fgets_lines(d).last().unwrap_or(&[]),
                "{data:?}"
            );
        }
    }

    #[test]
    fn parses_all_lines_then_checks_commands() {
        let env = ParseEnv::default();
        let mut st = ParseState::default();
        let data = b"# comment\n\n   -D -s 192.0.2.1\n-F\n";
        let r = parse_contents(data, "conntrack", &env, &mut st).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].command, Command::Delete);
        assert_eq!(r[1].command, Command::Flush);

        let mut st = ParseState::default();
        let e = parse_contents(b"-F\n-L\n", "conntrack", &env, &mut st).unwrap_err();
        assert_eq!(e.message, "Cannot use command `-L' with --load-file");
        assert_eq!(e.line, Some(2));

        let mut st = ParseState::default();
        let e = parse_contents(b"-F\n-D -s x\n-L\n", "conntrack", &env, &mut st).unwrap_err();
        assert_eq!(e.message, "Invalid IP address `x'");
        assert_eq!(e.line, Some(2));

        let mut st = ParseState::default();
        let e = parse_contents(b"-I expect\n", "conntrack", &env, &mut st).unwrap_err();
        assert_eq!(
            e.message,
            "You need to supply the `--src' option for this command"
        );
    }
}
