//! `-R` execution plan: while the file is validated (every line before the first kernel
//! request, as conntrack's `ct_parse_file` does), each conntrack create line is encoded once
//! into its final `IPCTNL_MSG_CT_NEW` message (sequence number = line number), so nothing is
//! parsed twice. Other lines keep their parsed request and run through [`exec::run_batch`].
//!
//! Messages carry no `NLM_F_ACK`: the kernel answers only the lines it refuses, so one
//! `sendmsg` per [`BATCH_MAX_MSGS`] lines and a non-blocking drain is all the traffic.
//!
//! Creates go out on two sockets at once (the kernel inserts on both CPUs): lines are split
//! into two lanes by a key symmetric in the tuple's two ends, so two lines that could name
//! the same entry (same tuple, either direction) stay in one lane, in file order. A line
//! whose reply tuple is not the inverse of its original (NAT) could clash through either
//! tuple: a window holding one runs on one socket. Both lanes run in lockstep windows of
//! [`BATCH_MAX_MSGS`] messages each; on a kernel error the window's lowest failing line is
//! reported (as conntrack stops at its first failing line), so at most one window of later
//! lines has been applied (one datagram did before).

use crate::compat::error::CompatError;
use crate::compat::exec;
use crate::compat::fastline::Templates;
use crate::compat::loadfile::{
    count_lines, last_line, parse_range, parse_range_with, LineSink, RangeResult,
};
use crate::compat::parse::{ParseEnv, ParseState};
use crate::compat::request::{Command, CompatRequest, OutputFlags, Table};
use ctkit_ctnetlink::attr::Builder;
use ctkit_ctnetlink::BATCH_MAX_MSGS;
use ctkit_ctnetlink::{encode_mutation, Conn, EmitExtras, Error as NlError, Mutation};
use ctkit_model::{Flow, Tuple};
use std::net::IpAddr;
use std::ops::Range;
use std::sync::mpsc;

/// Non-create lines kept parsed in memory; beyond this the plan is abandoned and the file is
/// parsed a second time to run, streaming (bounded memory for files of deletes/updates).
const MAX_OTHER: usize = 4096;
/// The lane of a line that must not run beside others.
const SERIAL: u8 = 2;
/// Receive buffer of the sending sockets: a datagram's worth of error replies (each echoes
/// its request) must fit.
const ACK_RCVBUF: usize = 4 << 20;

/// One encoded create line.
#[derive(Clone, Copy, Debug)]
struct Msg {
    start: usize,
    end: usize,
    line: u32,
    excl: bool,
    lane: u8,
}

#[derive(Debug)]
enum Op {
    /// Consecutive create lines: indices into [`Plan::msgs`].
    Creates(Range<usize>),
    /// Any other line, run on its own.
    Other(Box<CompatRequest>),
}

/// The validated file, ready to run.
#[derive(Debug, Default)]
pub struct Plan {
    wire: Builder,
    msgs: Vec<Msg>,
    ops: Vec<Op>,
    others: usize,
}

/// A 64-bit mix (splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn addr_bits(a: &IpAddr) -> u64 {
    match a {
        IpAddr::V4(v) => u64::from(u32::from(*v)),
        IpAddr::V6(v) => {
            let b = u128::from(*v);
            (b as u64) ^ ((b >> 64) as u64).rotate_left(17)
        }
    }
}

/// Protocols whose tuples carry ports (or GRE keys) that swap under inversion.
fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 33 | 132 | 136 | 47)
}

/// One end of a tuple; ports only for protocols that have them (others key by address).
fn end_key(addr: &IpAddr, port: u16, proto: u8) -> u64 {
    let p = if has_ports(proto) { u64::from(port) } else { 0 };
    mix(addr_bits(addr) ^ (p << 48) ^ (p << 7))
}

/// Equal for a tuple and its inverse: XOR of both ends' keys.
fn tuple_key(t: &Tuple) -> u64 {
    end_key(&t.src, t.sport, t.proto) ^ end_key(&t.dst, t.dport, t.proto) ^ u64::from(t.proto)
}

/// Whether `r` is `o` inverted (ends swapped), so both tuples share one key.
fn is_inverse(o: &Tuple, r: &Tuple) -> bool {
    o.src == r.dst
        && o.dst == r.src
        && o.proto == r.proto
        && (!has_ports(o.proto) || (o.sport == r.dport && o.dport == r.sport))
}

fn lane_of(f: &Flow) -> u8 {
    if !is_inverse(&f.orig, &f.reply) {
        return SERIAL;
    }
    (mix(tuple_key(&f.orig)) & 1) as u8
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Plan {
        Plan::default()
    }

    /// An empty plan for a file of `file_bytes` bytes: room for as many messages as a file
    /// of create lines gives (a message is about twice its line), so the buffer is not
    /// copied while it grows (pages never written are never resident).
    pub fn for_file(file_bytes: usize) -> Plan {
        Plan {
            wire: Builder::with_capacity(file_bytes.saturating_mul(2)),
            msgs: Vec::with_capacity(file_bytes / 80),
            ..Plan::default()
        }
    }

    /// Adds the validated request of line `line`. `false`: the plan gives up (too many
    /// non-create lines, or a line whose execution prints, like `-b`'s NOTICE) and the caller
    /// runs the file the streaming way.
    pub fn push(&mut self, req: CompatRequest, line: usize) -> bool {
        let create = matches!(req.command, Command::Create { .. })
            && req.table == Table::Conntrack
            && req.deferred_error.is_none()
            && req.buffer_size.is_none();
        if !create {
            self.others += 1;
            if self.others > MAX_OTHER || req.buffer_size.is_some() {
                return false;
            }
            self.ops.push(Op::Other(Box::new(req)));
            return true;
        }
        let f = exec::creation_flow(&req);
        let excl = matches!(req.command, Command::Create { excl: true });
        self.push_flow(&f, excl, line);
        true
    }

    /// Adds create line `line`: flow `f`, `-I` when `excl`.
    pub fn push_flow(&mut self, f: &Flow, excl: bool, line: usize) {
        let start = self.wire.len();
        encode_mutation(
            &mut self.wire,
            Mutation::Create { excl },
            exec::create_family(f),
            f,
            &EmitExtras::default(),
            line as u32,
            false,
        );
        let idx = self.msgs.len();
        self.msgs.push(Msg {
            start,
            end: self.wire.len(),
            line: line as u32,
            excl,
            lane: lane_of(f),
        });
        match self.ops.last_mut() {
            Some(Op::Creates(r)) if r.end == idx => r.end = idx + 1,
            _ => self.ops.push(Op::Creates(idx..idx + 1)),
        }
    }

    /// Appends `other`, the plan of the lines after this plan's.
    fn append(&mut self, other: Plan) {
        let base = self.wire.len();
        let first = self.msgs.len();
        self.wire.extend_from(other.wire.as_bytes());
        self.msgs.extend(other.msgs.into_iter().map(|m| Msg {
            start: m.start + base,
            end: m.end + base,
            ..m
        }));
        for op in other.ops {
            match (self.ops.last_mut(), op) {
                (Some(Op::Creates(r)), Op::Creates(o)) if r.end == o.start + first => {
                    r.end = o.end + first
                }
                (_, Op::Creates(o)) => self.ops.push(Op::Creates(o.start + first..o.end + first)),
                (_, other) => self.ops.push(other),
            }
        }
        self.others += other.others;
    }

    /// conntrack's output mask is one global: every line runs with the final union.
    pub fn set_output(&mut self, output: OutputFlags) {
        for op in &mut self.ops {
            if let Op::Other(r) = op {
                r.output = output;
            }
        }
    }

    /// Runs the lines in file order; the first failing line ends the run (exit 1).
    pub fn run(&self) -> Result<(), CompatError> {
        let create_err = |e: &NlError, excl: bool| {
            exec::nl_fail_cmd(e, Command::Create { excl }, Table::Conntrack)
        };
        if self.msgs.is_empty() {
            return self.run_others_only();
        }
        let open = || -> Result<Conn, CompatError> {
            let c = Conn::open().map_err(|e| create_err(&e, true))?;
            let _ = c.socket().set_rcvbuf(ACK_RCVBUF);
            Ok(c)
        };
        let mut a = open()?;
        let mut b = open()?;
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<Range<usize>>();
            let (rtx, rrx) = mpsc::channel::<Result<Vec<Failed>, NlError>>();
            scope.spawn(move || {
                let mut buf = Vec::new();
                for w in rx {
                    if rtx.send(self.send(&mut b, w, Some(1), &mut buf)).is_err() {
                        break;
                    }
                }
            });
            let mut buf = Vec::new();
            let r = (|| {
                for op in &self.ops {
                    let r = match op {
                        Op::Other(req) => {
                            exec::run_batch(std::slice::from_ref(&**req))?;
                            continue;
                        }
                        Op::Creates(r) => r.clone(),
                    };
                    let mut i = r.start;
                    while i < r.end {
                        let w = i..(i + 2 * BATCH_MAX_MSGS).min(r.end);
                        i = w.end;
                        let serial = self.msgs[w.clone()].iter().any(|m| m.lane == SERIAL);
                        let mut failed = if serial {
                            self.send(&mut a, w, None, &mut buf)
                        } else {
                            // The helper's lane goes first so both sockets work at once.
                            let _ = tx.send(w.clone());
                            let mine = self.send(&mut a, w, Some(0), &mut buf);
                            let theirs = rrx
                                .recv()
                                .unwrap_or(Err(NlError::Protocol("sender thread ended")));
                            match (mine, theirs) {
                                (Ok(mut x), Ok(y)) => {
                                    x.extend(y);
                                    Ok(x)
                                }
                                (Err(e), _) | (_, Err(e)) => Err(e),
                            }
                        }
                        .map_err(|e| create_err(&e, true))?;
                        failed.sort_by_key(|f| f.line);
                        if let Some(f) = failed.first() {
                            return Err(create_err(&f.error, f.excl));
                        }
                    }
                }
                Ok(())
            })();
            drop(tx);
            r
        })
    }

    fn run_others_only(&self) -> Result<(), CompatError> {
        for op in &self.ops {
            if let Op::Other(req) = op {
                exec::run_batch(std::slice::from_ref(&**req))?;
            }
        }
        Ok(())
    }

    /// Sends the messages of `window` in `lane` (all when `None`), [`BATCH_MAX_MSGS`] per
    /// datagram, and returns the lines the kernel refused.
    fn send(
        &self,
        conn: &mut Conn,
        window: Range<usize>,
        lane: Option<u8>,
        buf: &mut Vec<u8>,
    ) -> Result<Vec<Failed>, NlError> {
        let msgs = &self.msgs[window];
        let wire = self.wire.as_bytes();
        let mut failed = Vec::new();
        let mut n = 0;
        buf.clear();
        let mut flush = |conn: &mut Conn, buf: &mut Vec<u8>, n: &mut usize| {
            let r = conn.send_quiet(buf);
            buf.clear();
            *n = 0;
            // Replies lost to a full queue are the newest: the earliest failure is kept,
            // and only the earliest is reported.
            let r = r?;
            if !r.complete && r.errors.is_empty() {
                return Err(NlError::Io(std::io::Error::from_raw_os_error(
                    libc::ENOBUFS,
                )));
            }
            for (seq, error) in r.errors {
                let excl = msgs.iter().find(|m| m.line == seq).is_none_or(|m| m.excl);
                failed.push(Failed {
                    line: seq,
                    excl,
                    error,
                });
            }
            Ok::<(), NlError>(())
        };
        for m in msgs.iter().filter(|m| lane.is_none_or(|l| l == m.lane)) {
            buf.extend_from_slice(&wire[m.start..m.end]);
            n += 1;
            if n == BATCH_MAX_MSGS {
                flush(conn, buf, &mut n)?;
            }
        }
        if n > 0 {
            flush(conn, buf, &mut n)?;
        }
        Ok(failed)
    }
}

/// The outcome of validating a whole `-R` file: the plan (`None` when abandoned, see
/// [`Plan::push`]) or the error to report, and the parser state after it (warnings, output
/// mask).
pub struct Validated {
    /// The plan, `Ok(None)` when the file must run the streaming way.
    pub plan: Result<Option<Plan>, CompatError>,
    /// The parser state at the end (or at the error).
    pub state: ParseState,
}

/// Below this size a file is validated on one thread.
const SPLIT_MIN: usize = 1 << 20;

/// Validates lines into a plan, answering lines of a known shape from [`Templates`].
struct Validator {
    plan: Option<Plan>,
    templates: Templates,
}

impl LineSink for Validator {
    fn line(&mut self, line: &[u8], lineno: usize, state: &mut ParseState) -> bool {
        // Once the plan is abandoned, every line only needs validating: the parser does it.
        let Some(plan) = self.plan.as_mut() else {
            return false;
        };
        match self.templates.line(line, state) {
            Some(hit) => {
                plan.push_flow(&hit.flow, hit.excl, lineno);
                true
            }
            None => false,
        }
    }

    fn request(
        &mut self,
        req: CompatRequest,
        lineno: usize,
        state: &ParseState,
    ) -> Result<(), CompatError> {
        if let Some(e) = req.deferred_error {
            return Err(e);
        }
        if self.plan.is_some() {
            self.templates.learn(&req, state);
        }
        if self.plan.as_mut().is_some_and(|p| !p.push(req, lineno)) {
            self.plan = None;
        }
        Ok(())
    }
}

fn validate_range(
    data: &[u8],
    first_line: usize,
    progname: &str,
    env: &ParseEnv,
    state: &mut ParseState,
) -> (RangeResult, Option<Plan>) {
    let mut v = Validator {
        plan: Some(Plan::for_file(data.len())),
        templates: Templates::default(),
    };
    let r = parse_range_with(data, first_line, progname, env, state, &mut v);
    (r, v.plan)
}

/// Validates every line of an `-R` file and builds its [`Plan`], before anything reaches
/// the kernel. A big file is validated in two halves on two threads: the second half starts
/// from the state its first line would see if the last line of the first half were the only
/// line before it; when the first half ends in a different state (an earlier `-p`, `-o` or
/// label map is still in effect), the second half is validated again from the right state.
/// Errors are the ones a single pass reports: the first line that stops parsing, else the
/// first command `-R` does not allow.
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
        let (r, plan) = validate_range(data, 0, progname, env, &mut state);
        let plan = match r.stopped.or(r.unsupported) {
            Some(e) => Err(e),
            None => Ok(plan),
        };
        return Validated { plan, state };
    };
    let (head, tail) = data.split_at(mid);
    let ((ra, plan_a, state_a), (guess, rb, plan_b, state_b, lines_a)) = std::thread::scope(|s| {
        let second = s.spawn(|| {
            let lines_a = count_lines(head);
            let mut state = initial.clone();
            let _ = parse_range(last_line(head), 0, progname, env, &mut state, |_, _| Ok(()));
            state.warnings.clear();
            let guess = state.clone();
            let (r, plan) = validate_range(tail, lines_a, progname, env, &mut state);
            (guess, r, plan, state, lines_a)
        });
        let mut state = initial.clone();
        let (r, plan) = validate_range(head, 0, progname, env, &mut state);
        let b = second.join().expect("validation thread");

        ((r, plan, state), b)
    });
    if let Some(e) = ra.stopped {
        return Validated {
            plan: Err(e),
            state: state_a,
        };
    }
    let (rb, plan_b, mut state) = if state_a.same_for_parsing(&guess) {
        let mut st = state_b;
        let mut w = state_a.warnings;
        w.append(&mut st.warnings);
        st.warnings = w;
        (rb, plan_b, st)
    } else {
        let mut st = state_a;
        let (r, plan) = validate_range(tail, lines_a, progname, env, &mut st);
        (r, plan, st)
    };
    state.warnings.shrink_to_fit();
    let plan = match rb.stopped.or(ra.unsupported).or(rb.unsupported) {
        Some(e) => Err(e),
        None => Ok(match (plan_a, plan_b) {
            (Some(mut a), Some(b)) => {
                a.append(b);
                Some(a)
            }
            _ => None,
        }),
    };
    Validated { plan, state }
}

/// A line the kernel refused.
#[derive(Debug)]
struct Failed {
    line: u32,
    excl: bool,
    error: NlError,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn t(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8) -> Tuple {
        Tuple {
            src,
            dst,
            sport,
            dport,
            proto,
            ..Tuple::default()
        }
    }

    #[test]
    fn a_tuple_and_its_inverse_share_the_lane_key() {
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let b = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7));
        let c = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 9));
        for proto in [6, 17, 1, 132] {
            let o = t(a, 1000, c, 80, proto);
            let r = t(c, 80, a, 1000, proto);
            assert_eq!(tuple_key(&o), tuple_key(&r));
            assert!(is_inverse(&o, &r));
            let o6 = t(b, 5, b, 6, proto);
            assert_eq!(tuple_key(&o6), tuple_key(&t(b, 6, b, 5, proto)));
        }
        // A NAT reply tuple is not the inverse: such a line runs alone.
        let f = Flow {
            orig: t(a, 1000, c, 80, 6),
            reply: t(c, 80, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)), 1000, 6),
            ..Flow::default()
        };
        assert_eq!(lane_of(&f), SERIAL);
    }

    fn plan_of(text: &str) -> Plan {
        use crate::compat::loadfile::parse_each;
        use crate::compat::parse::{ParseEnv, ParseState};
        let mut plan = Plan::new();
        let mut st = ParseState::default();
        parse_each(
            text.as_bytes(),
            "conntrack",
            &ParseEnv::default(),
            &mut st,
            |r, line| {
                assert!(plan.push(r, line));
                Ok(())
            },
        )
        .unwrap();
        plan.set_output(OutputFlags(st.output));
        plan
    }

    #[test]
    fn create_lines_are_encoded_once_with_their_line_as_sequence_and_no_ack() {
        let plan = plan_of(
            "-I -s 192.0.2.1 -d 198.51.100.1 -p tcp --sport 1 --dport 2 -t 10 --state LISTEN\n\
             # comment\n\
             -A -s 192.0.2.2 -d 198.51.100.1 -p udp --sport 1 --dport 2 -t 10\n\
             -D -s 192.0.2.9 -o xml\n\
             -I -s 2001:db8::1 -d 2001:db8::2 -p udp --sport 1 --dport 2 -t 10\n",
        );
        let lines: Vec<(u32, bool)> = plan.msgs.iter().map(|m| (m.line, m.excl)).collect();
        assert_eq!(lines, vec![(1, true), (3, false), (5, true)]);
        assert!(matches!(plan.ops[0], Op::Creates(ref r) if *r == (0..2)));
        match &plan.ops[1] {
            Op::Other(r) => {
                assert_eq!(r.command, Command::Delete);
                // The file's final output mask applies to every line.
                assert_eq!(r.output, OutputFlags(OutputFlags::XML));
            }
            op => panic!("{op:?}"),
        }
        assert!(matches!(plan.ops[2], Op::Creates(ref r) if *r == (2..3)));
        let wire = plan.wire.as_bytes();
        for m in &plan.msgs {
            let msg = &wire[m.start..m.end];
            let len = u32::from_ne_bytes(msg[0..4].try_into().unwrap()) as usize;
            let flags = u16::from_ne_bytes(msg[6..8].try_into().unwrap());
            let seq = u32::from_ne_bytes(msg[8..12].try_into().unwrap());
            assert_eq!(len, msg.len());
            assert_eq!(seq, m.line);
            assert_eq!(flags & ctkit_ctnetlink::uapi::NLM_F_ACK, 0);
            assert_ne!(flags & ctkit_ctnetlink::uapi::NLM_F_CREATE, 0);
            assert_eq!(
                flags & ctkit_ctnetlink::uapi::NLM_F_EXCL != 0,
                m.excl,
                "line {}",
                m.line
            );
        }
        // The IPv6 line's nfgenmsg family.
        assert_eq!(wire[plan.msgs[2].start + 16], 10);
    }

    #[test]
    fn a_file_of_many_other_lines_abandons_the_plan() {
        let mut plan = Plan::new();
        let mut st = crate::compat::parse::ParseState::default();
        let env = crate::compat::parse::ParseEnv::default();
        let mut kept = true;
        for i in 0..=MAX_OTHER {
            let argv = vec!["conntrack".to_string(), "-F".to_string()];
            let r = crate::compat::parse::parse(argv, &env, &mut st).unwrap();
            kept = plan.push(r, i + 1);
        }
        assert!(!kept);
    }

    /// A plan as comparable values: wire bytes, (line, excl, lane) per message, op shapes.
    type Shape = (Vec<u8>, Vec<(u32, bool, u8)>, Vec<String>);

    fn shape(p: &Plan) -> Shape {
        let msgs = p.msgs.iter().map(|m| (m.line, m.excl, m.lane)).collect();
        let ops = p
            .ops
            .iter()
            .map(|o| match o {
                Op::Creates(r) => format!("creates {r:?}"),
                Op::Other(req) => format!("{:?} {:?} {:?}", req.command, req.ct.flow.orig, req.ct),
            })
            .collect();
        (p.wire.as_bytes().to_vec(), msgs, ops)
    }

    fn sequential(data: &[u8]) -> Validated {
        let mut state = ParseState::default();
        let (r, plan) = validate_range(data, 0, "conntrack", &ParseEnv::default(), &mut state);
        Validated {
            plan: match r.stopped.or(r.unsupported) {
                Some(e) => Err(e),
                None => Ok(plan),
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
        match (want.plan, got.plan) {
            (Ok(Some(w)), Ok(Some(g))) => assert!(shape(&w) == shape(&g), "plans differ"),
            (Err(w), Err(g)) => {
                assert_eq!((w.message, w.line), (g.message, g.line));
            }
            (w, g) => panic!(
                "{:?} vs {:?}",
                w.map(|p| p.map(|p| p.msgs.len())),
                g.map(|p| p.map(|p| p.msgs.len()))
            ),
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
    fn two_thread_validation_redoes_the_second_half_when_an_earlier_protocol_is_in_effect() {
        // conntrack keeps the last `-p` handler across lines: after `-p tcp` lines, a `-D`
        // line without `-p` still gets TCP's flag attributes in its template. The split falls
        // among comment lines, so the second half's guessed state (after one comment) lacks
        // the handler: it must be redone from the first half's real state.
        let tcp = file(300, |_| "-p tcp --state ESTABLISHED".into());
        let comments = "#\n".repeat(40_000);
        let deletes: String = (0..300)
            .map(|i| format!("-D -s 192.0.2.{}\n", i % 250))
            .collect();
        let data = format!("{tcp}{comments}{deletes}");
        let mid = data.len() / 2;
        assert!(mid > tcp.len() && mid < tcp.len() + comments.len());
        same_as_sequential(data.as_bytes());
        let got = validate_small(data.as_bytes());
        let plan = got.plan.unwrap().unwrap();
        match plan.ops.last() {
            Some(Op::Other(r)) => {
                assert!(r.ct.attrs.has(crate::compat::request::Attrs::TCP_FLAGS));
            }
            op => panic!("{op:?}"),
        }
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

    #[test]
    fn lanes_split_a_port_range_about_evenly() {
        let a = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
        let c = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
        let ones: usize = (1024..5120u16)
            .map(|p| {
                let o = t(a, p, c, 80, 6);
                let f = Flow {
                    orig: o,
                    reply: t(c, 80, a, p, 6),
                    ..Flow::default()
                };
                lane_of(&f) as usize
            })
            .sum();
        assert!((1800..2300).contains(&ones), "{ones} of 4096 in lane 1");
    }
}
