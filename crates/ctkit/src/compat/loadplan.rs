//! `-R` execution: every line is validated before the first request that changes the kernel
//! (as conntrack's `ct_parse_file` parses the whole file first), then the file streams to the
//! kernel.
//!
//! 1. [`validate`]: a big file is validated in two halves on two threads; lines of a known
//!    shape are answered from [`fastline`] templates instead of the full parser. Nothing is
//!    kept but the parser's final state (warnings, output mask).
//! 2. [`run`]: a helper thread parses the file again (templates again) and encodes each create
//!    line into its final `IPCTNL_MSG_CT_NEW` message (sequence number = line number),
//!    [`BATCH_MAX_MSGS`] per datagram, while this thread sends the datagrams on one socket;
//!    other lines run through [`exec::run_batch`] in file order, sharing an
//!    [`exec::LoadRun`] (1.4.7's `-U` state across lines). As in conntrack 1.4.7, `-A` goes
//!    out with `NLM_F_EXCL` like `-I` (its `EEXIST` is no error), `-n/-g` ask the kernel for
//!    the NAT binding, and a reply tuple without its ports fails at its line. Messages carry no
//!    `NLM_F_ACK`: the kernel answers only the lines it refuses, and the sending `sendmsg`
//!    has run every message of its datagram when it returns, so a non-blocking drain after
//!    each datagram sees its errors.
//!
//! One socket, not two: the kernel runs `CT_NEW` under the ctnetlink subsystem mutex
//! (`NFNL_CB_MUTEX`, one for all network namespaces), so a second socket overlapped only the
//! few percent of the work outside it and spun on the mutex (`mutex_spin_on_owner`) for the
//! rest. The second CPU parses and encodes ahead instead. On a kernel error the datagram's
//! lowest failing line is reported (as conntrack stops at its first failing line) and
//! nothing after that datagram is sent; its later lines have been applied.
//!
//! [`fastline`]: crate::compat::fastline

use crate::compat::error::CompatError;
use crate::compat::exec;
use crate::compat::fastline::Templates;
use crate::compat::loadfile::{last_line, parse_range, parse_range_with, LineSink, RangeResult};
use crate::compat::parse::{ParseEnv, ParseState};
use crate::compat::request::{Command, CompatRequest, MarkMask, OutputFlags, Table};
use ctkit_ctnetlink::attr::Builder;
use ctkit_ctnetlink::BATCH_MAX_MSGS;
use ctkit_ctnetlink::{encode_mutation, Conn, EmitExtras, Error as NlError, Mutation};
use ctkit_model::Flow;
use std::sync::mpsc;

/// Receive buffer of the sending socket: a datagram's worth of error replies (each echoes
/// its request) must fit.
const ACK_RCVBUF: usize = 4 << 20;
/// Datagrams and other lines the encoder may be ahead of the sender: 64 datagrams (about
/// 3 MB, 50–100 ms of kernel work) let it finish, and free the file, before the last ones
/// are sent.
const QUEUE: usize = 64;

/// Whether `req` is a create line that goes out in a datagram (the rest run one by one: a
/// reply tuple without its ports fails there, at its line, as the kernel refuses it for
/// conntrack).
fn batched_create(req: &CompatRequest) -> bool {
    matches!(req.command, Command::Create { .. })
        && req.table == Table::Conntrack
        && req.deferred_error.is_none()
        && req.buffer_size.is_none()
        && !exec::reply_tuple_lacks_ports(req)
}

/// Up to [`BATCH_MAX_MSGS`] encoded create lines.
#[derive(Debug, Default)]
struct Datagram {
    wire: Builder,
    /// Per message: line number (= sequence number) and `-I` (rather than `-A`).
    lines: Vec<(u32, bool)>,
}

impl Datagram {
    /// Both `-I` and `-A` go out with `NLM_F_EXCL`, as conntrack 1.4.7 sends them: an `-A`
    /// line leaves an existing entry as it is (its `EEXIST` is not an error, see
    /// [`send_datagram`]).
    fn push(&mut self, f: &Flow, x: &EmitExtras, excl: bool, line: usize) {
        encode_mutation(
            &mut self.wire,
            Mutation::Create { excl: true },
            exec::create_family(f),
            f,
            x,
            line as u32,
            false,
        );
        self.lines.push((line as u32, excl));
    }

    fn clear(&mut self) {
        self.wire.clear();
        self.lines.clear();
    }
}

/// What the encoder hands the sender, in file order.
#[derive(Debug)]
enum Item {
    Creates(Datagram),
    Other(Box<CompatRequest>),
}

/// The parsing side of [`run`]: turns lines into [`Item`]s.
struct Encoder {
    tx: mpsc::SyncSender<Item>,
    spare: mpsc::Receiver<Datagram>,
    cur: Datagram,
    templates: Templates,
    output: OutputFlags,
    /// The sender has stopped (a kernel error): parse no further.
    stopped: bool,
}

impl Encoder {
    fn send(&mut self, item: Item) {
        if self.tx.send(item).is_err() {
            self.stopped = true;
        }
    }

    fn flush(&mut self) {
        if self.cur.lines.is_empty() {
            return;
        }
        let next = self.spare.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.cur, next);
        self.send(Item::Creates(full));
    }

    fn create(&mut self, f: &Flow, x: &EmitExtras, excl: bool, line: usize) {
        self.cur.push(f, x, excl, line);
        if self.cur.lines.len() == BATCH_MAX_MSGS {
            self.flush();
        }
    }
}

impl LineSink for Encoder {
    fn line(&mut self, line: &[u8], lineno: usize, state: &mut ParseState) -> bool {
        if self.stopped || !self.templates.line(line, state) {
            return false;
        }
        let hit = self.templates.hit();
        // Template lines carry no -n/-g (those options make no template).
        self.create(&hit.flow, &EmitExtras::default(), hit.excl, lineno);
        true
    }

    fn request(
        &mut self,
        mut req: CompatRequest,
        lineno: usize,
        state: &ParseState,
    ) -> Result<(), CompatError> {
        if self.stopped {
            return Err(CompatError::other(String::new()));
        }
        if let Some(e) = req.deferred_error {
            return Err(e);
        }
        self.templates.learn(&req, state);
        if batched_create(&req) {
            let excl = matches!(req.command, Command::Create { excl: true });
            let x = exec::creation_extras(&req);
            self.create(&exec::creation_flow(&req), &x, excl, lineno);
        } else {
            self.flush();
            // conntrack's output mask is one global: every line runs with the final union.
            req.output = self.output;
            self.send(Item::Other(Box::new(req)));
        }
        Ok(())
    }
}

fn create_err(e: &NlError, excl: bool) -> CompatError {
    exec::nl_fail_cmd(e, Command::Create { excl }, Table::Conntrack)
}

/// Sends one datagram and returns the error of its lowest refused line, if any.
fn send_datagram(conn: &mut Conn, d: &Datagram) -> Result<(), CompatError> {
    let r = conn
        .send_quiet(d.wire.as_bytes())
        .map_err(|e| create_err(&e, true))?;
    // Replies lost to a full queue are the newest: the earliest failure is kept.
    if !r.complete && r.errors.is_empty() {
        let e = NlError::Io(std::io::Error::from_raw_os_error(libc::ENOBUFS));
        return Err(create_err(&e, true));
    }
    let excl_of = |seq: u32| {
        d.lines
            .iter()
            .find(|(l, _)| *l == seq)
            .is_none_or(|(_, x)| *x)
    };
    // An `-A` line whose entry exists: left alone, as conntrack 1.4.7 does.
    let refused = r
        .errors
        .into_iter()
        .filter(|(seq, e)| excl_of(*seq) || e.errno() != Some(libc::EEXIST));
    match refused.min_by_key(|(seq, _)| *seq) {
        None => Ok(()),
        Some((seq, e)) => Err(create_err(&e, excl_of(seq))),
    }
}

/// Runs a validated file in order (`initial` = the state validation started from, `output` =
/// the final output mask); the first failing line ends the run (exit 1). The file is freed
/// on the parsing thread as soon as it is parsed, while the last datagrams are still sent.
pub fn run(
    data: Vec<u8>,
    progname: &str,
    env: &ParseEnv,
    initial: ParseState,
    output: OutputFlags,
) -> Result<(), CompatError> {
    let last_mark = last_line_mark(&data, progname, env, &initial);
    let mut conn: Option<Conn> = None;
    let (tx, rx) = mpsc::sync_channel::<Item>(QUEUE);
    let (spare_tx, spare_rx) = mpsc::channel::<Datagram>();
    std::thread::scope(|scope| {
        let encoder = scope.spawn(move || {
            let mut enc = Encoder {
                tx,
                spare: spare_rx,
                cur: Datagram::default(),
                templates: Templates::default(),
                output,
                stopped: false,
            };
            let mut state = initial;
            let r = parse_range_with(&data, 0, progname, env, &mut state, &mut enc);
            enc.flush();
            drop(data);
            // A line that fails now passed validation: only a system file that changed in
            // between (/etc/protocols, the label map) can do that. Report it.
            match r.stopped.or(r.unsupported) {
                Some(e) if !enc.stopped => Err(e),
                _ => Ok(()),
            }
        });
        let sent = (|| {
            let mut run = exec::LoadRun::new(last_mark);
            for item in rx.iter() {
                match item {
                    Item::Creates(mut d) => {
                        if conn.is_none() {
                            let c = Conn::open().map_err(|e| create_err(&e, true))?;
                            let _ = c.socket().set_rcvbuf(ACK_RCVBUF);
                            conn = Some(c);
                        }
                        let c = conn.as_mut().expect("opened above");
                        send_datagram(c, &d)?;
                        d.clear();
                        let _ = spare_tx.send(d);
                    }
                    Item::Other(req) => exec::run_batch(std::slice::from_ref(&*req), &mut run)?,
                }
            }
            Ok(())
        })();
        // Dropping the queue stops the encoder at its next line.
        drop(rx);
        let parsed = encoder.join().expect("encoder thread");
        sent.and(parsed)
    })
}

/// How many lines from the end [`last_line_mark`] looks at for the last command line.
const LAST_LINE_SCAN: usize = 64;

/// The `-m` of the file's last command line (see [`exec::LoadRun`]), parsed from the state
/// the run starts from (a `-m` value does not depend on earlier lines). Blank and comment
/// lines at the end are skipped.
fn last_line_mark(
    data: &[u8],
    progname: &str,
    env: &ParseEnv,
    initial: &ParseState,
) -> Option<MarkMask> {
    let mut rest = data;
    for _ in 0..LAST_LINE_SCAN {
        // The last fgets piece: a suffix of `rest`.
        let line = last_line(rest);
        if line.is_empty() {
            break;
        }
        let mut state = initial.clone();
        let mut got = None;
        let _ = parse_range(line, 0, progname, env, &mut state, |req, _| {
            got = Some(req.mark);
            Ok(())
        });
        if let Some(mark) = got {
            return mark;
        }
        rest = &rest[..rest.len() - line.len()];
    }
    None
}

/// The outcome of validating a whole `-R` file: the error to report, if any, and the parser
/// state after it (warnings, output mask).
pub struct Validated {
    /// `Err`: the file must not run.
    pub result: Result<(), CompatError>,
    /// The parser state at the end (or at the error).
    pub state: ParseState,
}

/// Validates lines, answering lines of a known shape from [`Templates`].
#[derive(Default)]
struct Checker {
    templates: Templates,
}

impl LineSink for Checker {
    fn line(&mut self, line: &[u8], _lineno: usize, state: &mut ParseState) -> bool {
        self.templates.line(line, state)
    }

    fn request(
        &mut self,
        req: CompatRequest,
        _lineno: usize,
        state: &ParseState,
    ) -> Result<(), CompatError> {
        // Errors conntrack raises only when it reaches a line are raised here too.
        if let Some(e) = req.deferred_error {
            return Err(e);
        }
        self.templates.learn(&req, state);
        Ok(())
    }
}

fn validate_range(
    data: &[u8],
    first_line: usize,
    progname: &str,
    env: &ParseEnv,
    state: &mut ParseState,
) -> RangeResult {
    parse_range_with(
        data,
        first_line,
        progname,
        env,
        state,
        &mut Checker::default(),
    )
}

/// Below this size a file is validated on one thread.
const SPLIT_MIN: usize = 1 << 20;

/// Validates every line of an `-R` file before anything reaches the kernel. A big file is
/// validated in two halves on two threads: the second half starts from the state its first
/// line would see if the last line of the first half were the only line before it; when the
/// first half ends in a different state (an earlier `-p`, `-o` or label map is still in
/// effect), the second half is validated again from the right state. Errors are the ones a
/// single pass reports: the first line that stops parsing, else the first command `-R` does
/// not allow.
pub fn validate(data: &[u8], progname: &str, env: &ParseEnv, initial: &ParseState) -> Validated {
    validate_split(data, progname, env, initial, SPLIT_MIN)
}

/// [`validate`], splitting files of at least `split_min` bytes.
fn validate_split(
    data: &[u8],
    progname: &str,
    env: &ParseEnv,
    initial: &ParseState,
    split_min: usize,
) -> Validated {
    let split = (data.len() >= split_min)
        .then(|| data[data.len() / 2..].iter().position(|&c| c == b'\n'))
        .flatten()
        .map(|p| data.len() / 2 + p + 1)
        .filter(|&m| m < data.len());
    let Some(mid) = split else {
        let mut state = initial.clone();
        let r = validate_range(data, 0, progname, env, &mut state);
        let result = match r.stopped.or(r.unsupported) {
            Some(e) => Err(e),
            None => Ok(()),
        };
        return Validated { result, state };
    };
    let (head, tail) = data.split_at(mid);
    let ((ra, state_a), (guess, mut rb, state_b)) = std::thread::scope(|s| {
        let second = s.spawn(|| {
            let mut state = initial.clone();
            let _ = parse_range(last_line(head), 0, progname, env, &mut state, |_, _| Ok(()));
            state.warnings.clear();
            let guess = state.clone();
            // Line numbers from 1: the first half's line count is added once it is known.
            let r = validate_range(tail, 0, progname, env, &mut state);
            (guess, r, state)
        });
        let mut state = initial.clone();
        let r = validate_range(head, 0, progname, env, &mut state);
        let b = second.join().expect("validation thread");
        ((r, state), b)
    });
    if let Some(e) = ra.stopped {
        return Validated {
            result: Err(e),
            state: state_a,
        };
    }
    let lines_a = ra.lines;
    for e in [&mut rb.stopped, &mut rb.unsupported].into_iter().flatten() {
        e.line = e.line.map(|l| l + lines_a);
    }
    let (rb, mut state) = if state_a.same_for_parsing(&guess) {
        let mut st = state_b;
        let mut w = state_a.warnings;
        w.append(&mut st.warnings);
        st.warnings = w;
        (rb, st)
    } else {
        let mut st = state_a;
        let r = validate_range(tail, lines_a, progname, env, &mut st);
        (r, st)
    };
    state.warnings.shrink_to_fit();
    let result = match rb.stopped.or(ra.unsupported).or(rb.unsupported) {
        Some(e) => Err(e),
        None => Ok(()),
    };
    Validated { result, state }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`run`]'s encoder hands the sender for `text` (validated from the empty state;
    /// `output` = the final output mask).
    fn items(text: &str, output: u32) -> Vec<Item> {
        let (tx, rx) = mpsc::sync_channel::<Item>(1 << 16);
        let (_spare_tx, spare_rx) = mpsc::channel::<Datagram>();
        let mut enc = Encoder {
            tx,
            spare: spare_rx,
            cur: Datagram::default(),
            templates: Templates::default(),
            output: OutputFlags(output),
            stopped: false,
        };
        let mut st = ParseState::default();
        let r = parse_range_with(
            text.as_bytes(),
            0,
            "conntrack",
            &ParseEnv::default(),
            &mut st,
            &mut enc,
        );
        assert!(r.stopped.is_none() && r.unsupported.is_none());
        enc.flush();
        drop(enc);
        rx.iter().collect()
    }

    /// (length, flags, seq, family) of each message of a datagram.
    fn headers(wire: &[u8]) -> Vec<(usize, u16, u32, u8)> {
        let mut out = Vec::new();
        let mut rest = wire;
        while !rest.is_empty() {
            let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
            let flags = u16::from_ne_bytes(rest[6..8].try_into().unwrap());
            let seq = u32::from_ne_bytes(rest[8..12].try_into().unwrap());
            out.push((len, flags, seq, rest[16]));
            rest = &rest[len..];
        }
        out
    }

    #[test]
    fn create_lines_go_out_as_their_line_numbered_exclusive_messages_without_ack() {
        use ctkit_ctnetlink::uapi::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL};
        let got = items(
            "-I -s 192.0.2.1 -d 198.51.100.1 -p tcp --sport 1 --dport 2 -t 10 --state LISTEN\n\
             # comment\n\
             -A -s 192.0.2.2 -d 198.51.100.1 -p udp --sport 1 --dport 2 -t 10\n\
             -D -s 192.0.2.9 -o xml\n\
             -I -s 2001:db8::1 -d 2001:db8::2 -p udp --sport 1 --dport 2 -t 10\n",
            OutputFlags::XML,
        );
        assert_eq!(got.len(), 3, "{got:?}");
        let Item::Creates(d) = &got[0] else {
            panic!("{:?}", got[0])
        };
        assert_eq!(d.lines, vec![(1, true), (3, false)]);
        let h = headers(d.wire.as_bytes());
        assert_eq!(h.iter().map(|m| m.2).collect::<Vec<_>>(), vec![1, 3]);
        // -A goes out with NLM_F_EXCL as -I does (conntrack 1.4.7 sends it for both).
        for m in &h {
            assert_eq!(m.1 & NLM_F_ACK, 0);
            assert_ne!(m.1 & NLM_F_CREATE, 0);
            assert_ne!(m.1 & NLM_F_EXCL, 0);
            assert_eq!(m.3, 2);
        }
        match &got[1] {
            Item::Other(r) => {
                assert_eq!(r.command, Command::Delete);
                // The file's final output mask applies to every line.
                assert_eq!(r.output, OutputFlags(OutputFlags::XML));
            }
            i => panic!("{i:?}"),
        }
        let Item::Creates(d) = &got[2] else {
            panic!("{:?}", got[2])
        };
        assert_eq!(d.lines, vec![(5, true)]);
        // The IPv6 line's nfgenmsg family.
        assert_eq!(headers(d.wire.as_bytes())[0].3, 10);
    }

    #[test]
    fn datagrams_hold_batch_max_messages_and_template_lines_encode_like_parsed_ones() {
        let text = file(2 * BATCH_MAX_MSGS + 3, |_| {
            "-p tcp --state ESTABLISHED".into()
        });
        let got = items(&text, 0);
        let sizes: Vec<usize> = got
            .iter()
            .map(|i| match i {
                Item::Creates(d) => d.lines.len(),
                Item::Other(_) => 0,
            })
            .collect();
        assert_eq!(sizes, vec![BATCH_MAX_MSGS, BATCH_MAX_MSGS, 3]);
        // Every line encoded on its own through the parser gives the same bytes.
        let mut want = Datagram::default();
        for (i, line) in text.lines().enumerate() {
            let mut st = ParseState::default();
            let argv = std::iter::once("conntrack".to_string())
                .chain(line.split(' ').map(String::from))
                .collect();
            let req = crate::compat::parse::parse(argv, &ParseEnv::default(), &mut st).unwrap();
            want.push(
                &exec::creation_flow(&req),
                &EmitExtras::default(),
                true,
                i + 1,
            );
        }
        let wire: Vec<u8> = got
            .iter()
            .flat_map(|i| match i {
                Item::Creates(d) => d.wire.as_bytes().to_vec(),
                Item::Other(_) => Vec::new(),
            })
            .collect();
        assert!(wire == want.wire.as_bytes(), "wire differs");
    }

    fn sequential(data: &[u8]) -> Validated {
        let mut state = ParseState::default();
        let r = validate_range(data, 0, "conntrack", &ParseEnv::default(), &mut state);
        Validated {
            result: match r.stopped.or(r.unsupported) {
                Some(e) => Err(e),
                None => Ok(()),
            },
            state,
        }
    }

    /// Test files are small: split any file.
    fn validate_small(data: &[u8]) -> Validated {
        validate_split(
            data,
            "conntrack",
            &ParseEnv::default(),
            &ParseState::default(),
            0,
        )
    }

    fn same_as_sequential(data: &[u8]) {
        let want = sequential(data);
        let got = validate_small(data);
        assert_eq!(got.state.warnings, want.state.warnings);
        assert_eq!(got.state.output, want.state.output);
        assert!(got.state.same_for_parsing(&want.state));
        match (want.result, got.result) {
            (Ok(()), Ok(())) => {}
            (Err(w), Err(g)) => {
                assert_eq!((w.message, w.line), (g.message, g.line));
            }
            (w, g) => panic!("{w:?} vs {g:?}"),
        }
    }

    /// `n` create lines; line `i` gets `extra(i)` appended.
    fn file(n: usize, extra: impl Fn(usize) -> String) -> String {
        (0..n)
            .map(|i| {
                format!(
                    "-I {} -s 198.51.100.{} -d 203.0.113.1 --sport {} --dport 80 -t 60 -u ASSURED\n",
                    extra(i),
                    1 + i / 60000,
                    1024 + i % 60000,
                )
            })
            .collect()
    }

    #[test]
    fn two_thread_validation_equals_one_pass_when_every_line_names_its_protocol() {
        same_as_sequential(file(1600, |_| "-p tcp --state ESTABLISHED".into()).as_bytes());
    }

    #[test]
    fn two_thread_validation_redoes_the_second_half_when_an_earlier_state_is_in_effect() {
        // conntrack keeps the output mask across lines: `-o xml` on an early line and
        // `-o save` on a late one cannot be combined. The split falls among comment lines, so
        // the second half's guessed state (after one comment) has no mask: the second half
        // must be redone from the first half's real state to find the error.
        let first = file(300, |_| "-p tcp --state ESTABLISHED".into()) + "-D -s 192.0.2.9 -o xml\n";
        let comments = "#\n".repeat(40_000);
        let second = "-D -s 192.0.2.8 -o save\n".to_string() + &file(300, |_| "-p udp".into());
        let data = format!("{first}{comments}{second}");
        let mid = data.len() / 2;
        assert!(mid > first.len() && mid < first.len() + comments.len());
        same_as_sequential(data.as_bytes());
        let got = validate_small(data.as_bytes());
        let e = got.result.unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.line),
            (
                "cannot combine save output with any other output type, use -o save only",
                Some(40_302)
            )
        );
    }

    #[test]
    fn two_thread_validation_reports_the_errors_one_pass_reports() {
        let base = file(1600, |_| "-p udp".into());
        let mut lines: Vec<String> = base.lines().map(|l| format!("{l}\n")).collect();
        // A bad line in the second half only.
        lines[1200] = "-I -s x -d 203.0.113.1 -p udp\n".into();
        same_as_sequential(lines.concat().as_bytes());
        // Bad lines in both halves: the first one.
        lines[100] = "-I -s y -d 203.0.113.1 -p udp\n".into();
        same_as_sequential(lines.concat().as_bytes());
        // A command -R refuses in the first half, a bad line in the second: the bad line.
        lines[100] = "-L\n".into();
        same_as_sequential(lines.concat().as_bytes());
        // Refused commands in both halves, nothing else wrong: the first refused one.
        lines[1200] = "-S\n".into();
        same_as_sequential(lines.concat().as_bytes());
        // Warnings from both halves, in order.
        lines[100] = "-F -a x\n".into();
        lines[1200] = "-F -a x\n".into();
        same_as_sequential(lines.concat().as_bytes());
        let v = validate_small(lines.concat().as_bytes());
        assert_eq!(v.state.warnings.len(), 2);
    }
}
