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
        let start = self.wire.len();
        encode_mutation(
            &mut self.wire,
            Mutation::Create { excl },
            exec::create_family(&f),
            &f,
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
            lane: lane_of(&f),
        });
        match self.ops.last_mut() {
            Some(Op::Creates(r)) if r.end == idx => r.end = idx + 1,
            _ => self.ops.push(Op::Creates(idx..idx + 1)),
        }
        true
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
