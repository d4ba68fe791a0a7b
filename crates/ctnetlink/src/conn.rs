//! Request/response machinery on one socket: streaming dumps, single requests with ACK,
//! batched mutations (many messages per `sendmsg`), statistics and expectations
//! (message types from nfnetlink_conntrack.h; dump framing from net/netlink/af_netlink.c).

use crate::attr::{AttrIter, Builder};
use crate::error::{Error, Result};
use crate::expect::{emit_expect, parse_expect};
use crate::flow::{emit_flow, parse_flow, EmitExtras};
use crate::msg::{MsgIter, NlMsg};
use crate::socket::Socket;
use crate::uapi::*;
use ctkit_model::stats::{CpuStats, ExpCpuStats};
use ctkit_model::{Expect, Flow};
use std::ops::ControlFlow;

/// Which conntrack list a dump walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// The confirmed table (`IPCTNL_MSG_CT_GET`).
    Conntrack,
    /// Entries being destroyed (`IPCTNL_MSG_CT_GET_DYING`).
    Dying,
    /// Entries not yet confirmed (`IPCTNL_MSG_CT_GET_UNCONFIRMED`).
    Unconfirmed,
}

/// Kernel-side filters of a conntrack dump. Results must still be rechecked in userspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpRequest {
    /// `nfgen_family`: `AF_UNSPEC` (0) dumps both families.
    pub family: u8,
    /// Dump with `IPCTNL_MSG_CT_GET_CTRZERO` (read and zero counters).
    pub zero_counters: bool,
    /// `CTA_MARK` + `CTA_MARK_MASK`.
    pub mark: Option<(u32, u32)>,
    /// `CTA_STATUS` + `CTA_STATUS_MASK` (kernel 5.15+).
    pub status: Option<(u32, u32)>,
    /// `CTA_ZONE` (dump filter on kernel 6.8+).
    pub zone: Option<u16>,
    /// `CTA_FILTER` with `CTA_TUPLE_ORIG`/`CTA_TUPLE_REPLY` (kernel 5.8+; `family` must be
    /// `AF_INET` or `AF_INET6`, else the kernel answers `EOPNOTSUPP`).
    pub tuple: Option<TupleFilter>,
}

/// The tuple part of a kernel dump filter: the fields named by each direction's flags
/// (`CTA_FILTER_F_*`) must equal the given tuple's. The kernel checks ports and ICMP fields
/// only with `CTA_FILTER_F_CTA_PROTO_NUM`, and (6.18 and every kernel since 5.8) inverts
/// IPv6 address matches (`!ipv6_addr_cmp`): don't set the address flags for IPv6.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TupleFilter {
    /// `CTA_FILTER_ORIG_FLAGS` (0: no original-tuple filter).
    pub orig_flags: u32,
    /// The original-tuple values.
    pub orig: ctkit_model::Tuple,
    /// `CTA_FILTER_REPLY_FLAGS` (0: no reply-tuple filter).
    pub reply_flags: u32,
    /// The reply-tuple values.
    pub reply: ctkit_model::Tuple,
}

impl TupleFilter {
    /// Whether any field is filtered.
    pub fn is_empty(&self) -> bool {
        self.orig_flags == 0 && self.reply_flags == 0
    }
}

/// `IPCTNL_MSG_CT_GET_STATS`: the global counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobalStats {
    /// `CTA_STATS_GLOBAL_ENTRIES`.
    pub entries: Option<u32>,
    /// `CTA_STATS_GLOBAL_MAX_ENTRIES`.
    pub max_entries: Option<u32>,
}

/// The kind of a mutation message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// `IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE` (+`NLM_F_EXCL` when `excl`).
    Create {
        /// Fail with EEXIST if the entry exists.
        excl: bool,
    },
    /// `IPCTNL_MSG_CT_NEW` without `NLM_F_CREATE`: change an existing entry.
    Update,
    /// `IPCTNL_MSG_CT_DELETE`.
    Delete,
}

const RECV_BUF: usize = 64 * 1024;
/// How many recent dump keys are checked for resume repeats.
const RECENT: usize = 16;
/// Datagrams in flight between the receiving and the parsing thread of a dump.
const PIPELINE_DEPTH: usize = 8;
/// Messages per `sendmsg` in a batch.
pub const BATCH_MAX_MSGS: usize = 256;

/// A ctnetlink request socket.
#[derive(Debug)]
pub struct Conn {
    sock: Socket,
    seq: u32,
    rbuf: Vec<u8>,
    b: Builder,
    flow: Flow,
}

fn ct(msg: u8) -> u16 {
    nfnl_type(NFNL_SUBSYS_CTNETLINK, msg)
}
fn exp(msg: u8) -> u16 {
    nfnl_type(NFNL_SUBSYS_CTNETLINK_EXP, msg)
}

fn kernel_error(m: &NlMsg<'_>, code: i32) -> Error {
    let mut msg = None;
    let mut offset = None;
    // With NETLINK_EXT_ACK the TLVs follow the echoed request header (capped: header only).
    let p = m.payload();
    if m.flags() & NLM_F_ACK_TLVS != 0 && p.len() >= 4 + NLMSG_HDRLEN {
        let echoed = u32::from_ne_bytes([p[4], p[5], p[6], p[7]]) as usize;
        let skip = if m.flags() & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            echoed
        };
        if let Some(tlv) = p.get(4 + crate::attr::align(skip)..) {
            for a in AttrIter::new(tlv).flatten() {
                match a.kind() {
                    NLMSGERR_ATTR_MSG => msg = a.str().ok().map(str::to_owned),
                    NLMSGERR_ATTR_OFFS => {
                        offset = a.payload().try_into().ok().map(u32::from_ne_bytes)
                    }
                    _ => {}
                }
            }
        }
    }
    Error::Kernel {
        errno: -code,
        msg,
        offset,
        seq: m.error_seq(),
    }
}

impl Conn {
    /// Opens a request socket in the calling thread's network namespace.
    pub fn open() -> Result<Conn> {
        let sock = Socket::open()?;
        let _ = sock.set_netlink_flag(NETLINK_EXT_ACK, true);
        Ok(Conn {
            sock,
            seq: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as u32)
                .unwrap_or(1),
            rbuf: Vec::with_capacity(RECV_BUF),
            b: Builder::new(),
            flow: Flow::default(),
        })
    }

    /// The underlying socket (receive buffer size, port id).
    pub fn socket(&self) -> &Socket {
        &self.sock
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Starts the one request message in the builder; returns its sequence number.
    fn begin(&mut self, nl_type: u16, flags: u16, family: u8) -> u32 {
        let seq = self.next_seq();
        self.b.clear();
        self.b.begin_msg(nl_type, flags, seq, family, 0);
        seq
    }

    /// Finishes the request in the builder and waits for its ACK.
    fn finish_and_ack(&mut self, seq: u32) -> Result<()> {
        self.b.end_msg();
        self.roundtrip(seq, |_| Ok(ControlFlow::Continue(())))
    }

    /// Sends what is in the builder and reads replies until `NLMSG_DONE` or the ACK of
    /// `seq`, handing each data message to `f`. `f` may stop early; the rest of the reply is
    /// still drained so the socket stays usable.
    fn roundtrip(
        &mut self,
        seq: u32,
        mut f: impl FnMut(&NlMsg<'_>) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        self.sock.send(self.b.as_bytes())?;
        let mut reply = Reply::new(seq);
        loop {
            self.sock.recv(&mut self.rbuf)?;
            if let Some(r) = reply.feed(&self.rbuf, &mut f) {
                return r;
            }
        }
    }

    /// [`Conn::roundtrip`] for dumps, with receiving and processing overlapped: a scoped
    /// thread reads datagrams (the kernel builds the next dump chunk inside that `recv`)
    /// while this thread parses and hands out the previous one.
    fn roundtrip_pipelined(
        &mut self,
        seq: u32,
        mut f: impl FnMut(&NlMsg<'_>) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        use std::sync::mpsc;
        self.sock.send(self.b.as_bytes())?;
        let sock = &self.sock;
        let (full_tx, full_rx) = mpsc::sync_channel::<Result<Vec<u8>>>(PIPELINE_DEPTH);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        for _ in 0..PIPELINE_DEPTH + 2 {
            let _ = empty_tx.send(Vec::with_capacity(RECV_BUF));
        }
        std::thread::scope(|scope| {
            scope.spawn(move || loop {
                let mut buf = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(RECV_BUF));
                match sock.recv(&mut buf) {
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        return;
                    }
                    Ok(_) => {
                        let last = reply_complete(&buf, seq);
                        if full_tx.send(Ok(buf)).is_err() || last {
                            return;
                        }
                    }
                }
            });
            let mut reply = Reply::new(seq);
            for buf in full_rx.iter() {
                let buf = buf?;
                if let Some(r) = reply.feed(&buf, &mut f) {
                    return r;
                }
                let _ = empty_tx.send(buf);
            }
            Err(Error::Protocol("dump ended without NLMSG_DONE"))
        })
    }

    /// Streams a conntrack dump, calling `f` with one reused [`Flow`] per entry. Entries the
    /// kernel repeats when it resumes a dump in the same bucket are dropped (compared against
    /// the previous chunk only).
    pub fn dump(
        &mut self,
        table: Table,
        req: &DumpRequest,
        mut f: impl FnMut(&Flow) -> ControlFlow<()>,
    ) -> Result<()> {
        let msg = match table {
            Table::Conntrack if req.zero_counters => IPCTNL_MSG_CT_GET_CTRZERO,
            Table::Conntrack => IPCTNL_MSG_CT_GET,
            Table::Dying => IPCTNL_MSG_CT_GET_DYING,
            Table::Unconfirmed => IPCTNL_MSG_CT_GET_UNCONFIRMED,
        };
        let seq = self.begin(ct(msg), NLM_F_REQUEST | NLM_F_DUMP, req.family);
        if table == Table::Conntrack {
            if let Some((v, m)) = req.mark {
                self.b.put_be32(CTA_MARK, v);
                self.b.put_be32(CTA_MARK_MASK, m);
            }
            if let Some((v, m)) = req.status {
                self.b.put_be32(CTA_STATUS, v);
                self.b.put_be32(CTA_STATUS_MASK, m);
            }
            if let Some(z) = req.zone {
                self.b.put_be16(CTA_ZONE, z);
            }
            if let Some(t) = req.tuple.filter(|t| !t.is_empty()) {
                if t.orig_flags != 0 {
                    crate::tuple::emit_tuple(&mut self.b, CTA_TUPLE_ORIG, &t.orig);
                }
                if t.reply_flags != 0 {
                    crate::tuple::emit_tuple(&mut self.b, CTA_TUPLE_REPLY, &t.reply);
                }
                let n = self.b.begin_nest(CTA_FILTER);
                // NLA_U32: host byte order.
                self.b
                    .put(CTA_FILTER_ORIG_FLAGS, &t.orig_flags.to_ne_bytes());
                self.b
                    .put(CTA_FILTER_REPLY_FLAGS, &t.reply_flags.to_ne_bytes());
                self.b.end_nest(n);
            }
        }
        self.b.end_msg();
        let mut flow = std::mem::take(&mut self.flow);
        // A resumed dump restarts inside the bucket where the previous chunk stopped, so a
        // repeat can only be one of the last few entries seen (hash chains average <= 2).
        let mut recent = [(ctkit_model::Tuple::default(), None::<u16>); RECENT];
        let mut n_recent = 0usize;
        let r = self.roundtrip_pipelined(seq, |m| {
            parse_flow(m.attrs()?, &mut flow)?;
            let key = (flow.orig, flow.zone);
            if recent[..n_recent.min(RECENT)].contains(&key) {
                return Ok(ControlFlow::Continue(()));
            }
            recent[n_recent % RECENT] = key;
            n_recent += 1;
            Ok(f(&flow))
        });
        self.flow = flow;
        r
    }

    /// Sends one flow request and waits for its ACK.
    pub fn mutate(&mut self, kind: Mutation, family: u8, f: &Flow, x: &EmitExtras) -> Result<()> {
        let seq = self.next_seq();
        self.b.clear();
        push_mutation(&mut self.b, kind, family, f, x, seq);
        self.roundtrip(seq, |_| Ok(ControlFlow::Continue(())))
    }

    /// `IPCTNL_MSG_CT_GET` of one entry by its original (or reply) tuple and zone.
    pub fn get(&mut self, family: u8, key: &Flow, out: &mut Flow) -> Result<()> {
        let seq = self.begin(ct(IPCTNL_MSG_CT_GET), NLM_F_REQUEST | NLM_F_ACK, family);
        emit_flow(&mut self.b, &lookup_key(key), &EmitExtras::default());
        self.b.end_msg();
        let mut found = false;
        self.roundtrip(seq, |m| {
            parse_flow(m.attrs()?, out)?;
            found = true;
            Ok(ControlFlow::Continue(()))
        })?;
        if !found {
            return Err(Error::Protocol("GET answered without an entry"));
        }
        Ok(())
    }

    /// Flushes the conntrack table of `family` (0: both), optionally only entries whose
    /// mark matches (`CTA_MARK`/`CTA_MARK_MASK`).
    pub fn flush(&mut self, family: u8, mark: Option<(u32, u32)>) -> Result<()> {
        let seq = self.begin(ct(IPCTNL_MSG_CT_DELETE), NLM_F_REQUEST | NLM_F_ACK, family);
        if let Some((v, m)) = mark {
            self.b.put_be32(CTA_MARK, v);
            self.b.put_be32(CTA_MARK_MASK, m);
        }
        self.finish_and_ack(seq)
    }

    /// `IPCTNL_MSG_CT_GET_STATS`.
    pub fn stats(&mut self) -> Result<GlobalStats> {
        let seq = self.begin(ct(IPCTNL_MSG_CT_GET_STATS), NLM_F_REQUEST | NLM_F_ACK, 0);
        self.b.end_msg();
        let mut g = GlobalStats::default();
        self.roundtrip(seq, |m| {
            g = parse_global_stats(m)?;
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(g)
    }

    /// `IPCTNL_MSG_CT_GET_STATS_CPU`: one call per possible CPU.
    pub fn stats_cpu(&mut self, mut f: impl FnMut(&CpuStats)) -> Result<()> {
        let seq = self.begin(
            ct(IPCTNL_MSG_CT_GET_STATS_CPU),
            NLM_F_REQUEST | NLM_F_DUMP,
            0,
        );
        self.b.end_msg();
        self.roundtrip(seq, |m| {
            f(&parse_cpu_stats(m)?);
            Ok(ControlFlow::Continue(()))
        })
    }

    /// `IPCTNL_MSG_EXP_GET_STATS_CPU`.
    pub fn stats_expect_cpu(&mut self, mut f: impl FnMut(&ExpCpuStats)) -> Result<()> {
        let seq = self.begin(
            exp(IPCTNL_MSG_EXP_GET_STATS_CPU),
            NLM_F_REQUEST | NLM_F_DUMP,
            0,
        );
        self.b.end_msg();
        self.roundtrip(seq, |m| {
            f(&parse_exp_cpu_stats(m)?);
            Ok(ControlFlow::Continue(()))
        })
    }

    /// Streams the expectation table.
    pub fn dump_expect(
        &mut self,
        family: u8,
        mut f: impl FnMut(&Expect) -> ControlFlow<()>,
    ) -> Result<()> {
        let seq = self.begin(exp(IPCTNL_MSG_EXP_GET), NLM_F_REQUEST | NLM_F_DUMP, family);
        self.b.end_msg();
        let mut e = Expect::default();
        self.roundtrip(seq, |m| {
            parse_expect(m.attrs()?, &mut e)?;
            Ok(f(&e))
        })
    }

    /// `IPCTNL_MSG_EXP_GET` of one expectation by its tuple.
    pub fn get_expect(&mut self, family: u8, key: &Expect, out: &mut Expect) -> Result<()> {
        let seq = self.begin(exp(IPCTNL_MSG_EXP_GET), NLM_F_REQUEST | NLM_F_ACK, family);
        crate::tuple::emit_tuple(&mut self.b, CTA_EXPECT_TUPLE, &key.tuple);
        self.b.end_msg();
        let mut found = false;
        self.roundtrip(seq, |m| {
            parse_expect(m.attrs()?, out)?;
            found = true;
            Ok(ControlFlow::Continue(()))
        })?;
        if !found {
            return Err(Error::Protocol("GET answered without an expectation"));
        }
        Ok(())
    }

    /// `IPCTNL_MSG_EXP_NEW` (create, `NLM_F_EXCL`).
    pub fn create_expect(&mut self, family: u8, e: &Expect) -> Result<()> {
        let seq = self.begin(
            exp(IPCTNL_MSG_EXP_NEW),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            family,
        );
        emit_expect(&mut self.b, e);
        self.finish_and_ack(seq)
    }

    /// `IPCTNL_MSG_EXP_DELETE` of one expectation by its tuple.
    pub fn delete_expect(&mut self, family: u8, e: &Expect) -> Result<()> {
        let seq = self.begin(
            exp(IPCTNL_MSG_EXP_DELETE),
            NLM_F_REQUEST | NLM_F_ACK,
            family,
        );
        crate::tuple::emit_tuple(&mut self.b, CTA_EXPECT_TUPLE, &e.tuple);
        self.finish_and_ack(seq)
    }

    /// Flushes the expectation table.
    pub fn flush_expect(&mut self, family: u8) -> Result<()> {
        let seq = self.begin(
            exp(IPCTNL_MSG_EXP_DELETE),
            NLM_F_REQUEST | NLM_F_ACK,
            family,
        );
        self.finish_and_ack(seq)
    }

    /// Sends `datagram` (complete messages from [`encode_mutation`], each with `NLM_F_ACK`
    /// and its own sequence number) in one `sendmsg`, then reads until `count` ACKs or
    /// errors have arrived, calling `on_result(seq, result)` for each, in arrival order
    /// (the kernel answers in message order).
    pub fn send_acked(
        &mut self,
        datagram: &[u8],
        count: usize,
        mut on_result: impl FnMut(u32, Result<()>),
    ) -> Result<()> {
        self.sock.send(datagram)?;
        let mut left = count;
        while left > 0 {
            self.sock.recv(&mut self.rbuf)?;
            for m in MsgIter::new(&self.rbuf) {
                let m = m?;
                if m.kind() != NLMSG_ERROR {
                    continue;
                }
                left = left.saturating_sub(1);
                let code = m.error_code()?;
                let r = if code < 0 {
                    Err(kernel_error(&m, code))
                } else {
                    Ok(())
                };
                on_result(m.error_seq(), r);
            }
        }
        Ok(())
    }

    /// Sends `datagram` (complete messages from [`encode_mutation`] with `ack = false`, each
    /// with its own sequence number) in one `sendmsg` and returns the kernel's error replies
    /// as `(seq, error)`, in message order; a message without one succeeded. The kernel runs
    /// every message of the datagram inside `sendmsg` and queues an error reply for each
    /// failure before it returns, so the queue is drained without waiting.
    ///
    /// `complete` is false when the receive queue overflowed (`ENOBUFS`): the replies kept
    /// are the earliest ones (the queue drops the newest), so everything up to the last
    /// reply returned is still exact. Give the socket a receive buffer that holds a
    /// datagram's worth of error replies (each echoes its request).
    pub fn send_quiet(&mut self, datagram: &[u8]) -> Result<QuietReplies> {
        self.sock.send(datagram)?;
        let mut out = QuietReplies {
            errors: Vec::new(),
            complete: true,
        };
        loop {
            match self.sock.try_recv(&mut self.rbuf) {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(out),
                Err(e) if e.is_enobufs() => {
                    out.complete = false;
                    continue;
                }
                Err(e) => return Err(e),
            }
            for m in MsgIter::new(&self.rbuf) {
                let m = m?;
                if m.kind() != NLMSG_ERROR {
                    continue;
                }
                let code = m.error_code()?;
                if code < 0 {
                    out.errors.push((m.error_seq(), kernel_error(&m, code)));
                }
            }
        }
    }

    /// Starts a batch of mutations sent many per `sendmsg`.
    pub fn batch(&mut self) -> Batch<'_> {
        self.b.clear();
        Batch {
            conn: self,
            queued: 0,
            first_seq: 0,
            first_index: 0,
            next_index: 0,
            stopped: false,
        }
    }
}

/// The state of one request's reply across datagrams.
struct Reply {
    seq: u32,
    stopped: bool,
    pending_err: Option<Error>,
}

impl Reply {
    fn new(seq: u32) -> Reply {
        Reply {
            seq,
            stopped: false,
            pending_err: None,
        }
    }

    fn finish(&mut self) -> Option<Result<()>> {
        Some(self.pending_err.take().map_or(Ok(()), Err))
    }

    /// Processes one datagram; `Some` once the reply is complete (`NLMSG_DONE`, the ACK or
    /// error for `seq`, or a single-part answer).
    fn feed(
        &mut self,
        buf: &[u8],
        f: &mut impl FnMut(&NlMsg<'_>) -> Result<ControlFlow<()>>,
    ) -> Option<Result<()>> {
        for m in MsgIter::new(buf) {
            let m = match m {
                Ok(m) => m,
                Err(e) => return Some(Err(e)),
            };
            if m.seq() != self.seq && m.kind() != NLMSG_ERROR {
                continue;
            }
            match m.kind() {
                NLMSG_DONE => {
                    let p = m.payload();
                    if p.len() >= 4 {
                        let code = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
                        if code < 0 && self.pending_err.is_none() {
                            self.pending_err = Some(Error::Kernel {
                                errno: -code,
                                msg: None,
                                offset: None,
                                seq: self.seq,
                            });
                        }
                    }
                    return self.finish();
                }
                NLMSG_ERROR => {
                    if m.error_seq() != self.seq {
                        continue;
                    }
                    match m.error_code() {
                        Ok(code) if code < 0 => return Some(Err(kernel_error(&m, code))),
                        Ok(_) => return self.finish(),
                        Err(e) => return Some(Err(e)),
                    }
                }
                NLMSG_NOOP | NLMSG_OVERRUN => {}
                _ => {
                    if !self.stopped && self.pending_err.is_none() {
                        match f(&m) {
                            Ok(ControlFlow::Break(())) => self.stopped = true,
                            Ok(ControlFlow::Continue(())) => {}
                            Err(e) => self.pending_err = Some(e),
                        }
                    }
                    if m.flags() & NLM_F_MULTI == 0 {
                        return self.finish();
                    }
                }
            }
        }
        None
    }
}

/// Whether a datagram completes the reply to `seq` (what the receiving thread of a
/// pipelined dump checks to know when to stop reading). A malformed datagram also ends it:
/// the parsing side reports the error.
fn reply_complete(buf: &[u8], seq: u32) -> bool {
    for m in MsgIter::new(buf) {
        let Ok(m) = m else { return true };
        match m.kind() {
            NLMSG_DONE if m.seq() == seq => return true,
            NLMSG_ERROR if m.error_seq() == seq => return true,
            NLMSG_DONE | NLMSG_ERROR | NLMSG_NOOP | NLMSG_OVERRUN => {}
            _ if m.seq() == seq && m.flags() & NLM_F_MULTI == 0 => return true,
            _ => {}
        }
    }
    false
}

/// Parses an `IPCTNL_MSG_CT_GET_STATS` reply.
pub fn parse_global_stats(m: &NlMsg<'_>) -> Result<GlobalStats> {
    let mut g = GlobalStats::default();
    for a in m.attrs()? {
        let a = a?;
        match a.kind() {
            CTA_STATS_GLOBAL_ENTRIES => g.entries = Some(a.be32()?),
            CTA_STATS_GLOBAL_MAX_ENTRIES => g.max_entries = Some(a.be32()?),
            _ => {}
        }
    }
    Ok(g)
}

/// Parses one `IPCTNL_MSG_CT_GET_STATS_CPU` reply message (the CPU is `nfgenmsg.res_id`).
pub fn parse_cpu_stats(m: &NlMsg<'_>) -> Result<CpuStats> {
    let mut s = CpuStats {
        cpu: m.nfgen_res_id()?,
        ..CpuStats::default()
    };
    for a in m.attrs()? {
        let a = a?;
        s.set(a.kind(), a.be32()?);
    }
    Ok(s)
}

/// Parses one `IPCTNL_MSG_EXP_GET_STATS_CPU` reply message.
pub fn parse_exp_cpu_stats(m: &NlMsg<'_>) -> Result<ExpCpuStats> {
    let mut s = ExpCpuStats {
        cpu: m.nfgen_res_id()?,
        ..ExpCpuStats::default()
    };
    for a in m.attrs()? {
        let a = a?;
        match a.kind() {
            CTA_STATS_EXP_NEW => s.expect_new = Some(a.be32()?),
            CTA_STATS_EXP_CREATE => s.expect_create = Some(a.be32()?),
            CTA_STATS_EXP_DELETE => s.expect_delete = Some(a.be32()?),
            _ => {}
        }
    }
    Ok(s)
}

/// Appends one complete mutation message to `b`, with `NLM_F_ACK` for
/// [`Conn::send_acked`] or without for [`Conn::send_quiet`]: messages can be built ahead of
/// time and sent later.
pub fn encode_mutation(
    b: &mut Builder,
    kind: Mutation,
    family: u8,
    f: &Flow,
    x: &EmitExtras,
    seq: u32,
    ack: bool,
) {
    let start = b.len();
    push_mutation(b, kind, family, f, x, seq);
    if !ack {
        b.clear_flags(start, NLM_F_ACK);
    }
}

/// What [`Conn::send_quiet`] read back.
#[derive(Debug)]
pub struct QuietReplies {
    /// `(seq, error)` of each refused message, in message order.
    pub errors: Vec<(u32, Error)>,
    /// False when replies were lost to a full receive queue (only the earliest were kept).
    pub complete: bool,
}

/// Appends one mutation message to `b`.
fn push_mutation(b: &mut Builder, kind: Mutation, family: u8, f: &Flow, x: &EmitExtras, seq: u32) {
    let (msg, flags, ff, xx) = match kind {
        Mutation::Create { excl } => (
            IPCTNL_MSG_CT_NEW,
            NLM_F_CREATE | if excl { NLM_F_EXCL } else { 0 },
            *f,
            EmitExtras {
                with_reply: true,
                ..*x
            },
        ),
        Mutation::Update => (IPCTNL_MSG_CT_NEW, 0, *f, *x),
        Mutation::Delete => (
            IPCTNL_MSG_CT_DELETE,
            0,
            lookup_key(f),
            EmitExtras::default(),
        ),
    };
    b.begin_msg(ct(msg), NLM_F_REQUEST | NLM_F_ACK | flags, seq, family, 0);
    emit_flow(b, &ff, &xx);
    b.end_msg();
}

/// Only what identifies an entry: one tuple and the zone.
fn lookup_key(f: &Flow) -> Flow {
    Flow {
        orig: f.orig,
        reply: f.reply,
        has_orig: f.has_orig,
        has_reply: f.has_reply && !f.has_orig,
        zone: f.zone,
        ..Flow::default()
    }
}

/// Mutations queued on a [`Conn`] and sent [`BATCH_MAX_MSGS`] per `sendmsg`; each message
/// carries `NLM_F_ACK` and its own sequence number, and results come back in order.
///
/// The kernel processes every message of a sent datagram even when an earlier one failed, so
/// a caller that must stop at the first error sees at most one datagram's worth of later
/// messages applied.
#[derive(Debug)]
pub struct Batch<'c> {
    conn: &'c mut Conn,
    queued: usize,
    first_seq: u32,
    first_index: u64,
    next_index: u64,
    /// `on_result` returned `Break`: nothing more is queued or sent.
    stopped: bool,
}

impl Batch<'_> {
    /// Queues a mutation; sends the batch when full. `on_result(index, result)` is called for
    /// every message whose ACK arrived, in order; returning `Break` stops reporting (the
    /// batch then refuses further pushes).
    pub fn push(
        &mut self,
        kind: Mutation,
        family: u8,
        f: &Flow,
        x: &EmitExtras,
        on_result: &mut impl FnMut(u64, Result<()>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>> {
        if self.stopped {
            return Ok(ControlFlow::Break(()));
        }
        let seq = self.conn.next_seq();
        if self.queued == 0 {
            self.first_seq = seq;
            self.first_index = self.next_index;
        }
        push_mutation(&mut self.conn.b, kind, family, f, x, seq);
        self.queued += 1;
        self.next_index += 1;
        if self.queued >= BATCH_MAX_MSGS {
            return self.flush(on_result);
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Sends what is queued and collects its ACKs. Once `on_result` has returned `Break`,
    /// sends nothing more and returns `Break`.
    pub fn flush(
        &mut self,
        on_result: &mut impl FnMut(u64, Result<()>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>> {
        if self.stopped {
            return Ok(ControlFlow::Break(()));
        }
        if self.queued == 0 {
            return Ok(ControlFlow::Continue(()));
        }
        self.conn.sock.send(self.conn.b.as_bytes())?;
        self.conn.b.clear();
        let mut left = self.queued;
        self.queued = 0;
        let mut flow = ControlFlow::Continue(());
        while left > 0 {
            self.conn.sock.recv(&mut self.conn.rbuf)?;
            for m in MsgIter::new(&self.conn.rbuf) {
                let m = m?;
                if m.kind() != NLMSG_ERROR {
                    continue;
                }
                let seq = m.error_seq();
                let idx = seq.wrapping_sub(self.first_seq) as u64;
                if idx >= self.next_index - self.first_index {
                    continue;
                }
                left -= 1;
                let code = m.error_code()?;
                let r = if code < 0 {
                    Err(kernel_error(&m, code))
                } else {
                    Ok(())
                };
                if flow.is_continue() {
                    flow = on_result(self.first_index + idx, r);
                }
            }
        }
        self.stopped = flow.is_break();
        Ok(flow)
    }
}
