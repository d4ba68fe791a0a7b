//! The compat executor: runs validated [`CompatRequest`]s against the kernel through
//! ctkit-ctnetlink, printing exactly what conntrack 1.4.7 prints (`do_command_ct` in
//! conntrack-tools src/conntrack.c).
//!
//! Where ctkit is faster by design: dumps stream through one reused `Flow`; the tuple part of
//! a -L/-D filter the kernel can check exactly goes into `CTA_FILTER` (always rechecked
//! here); `-D` queues the deletes of the dump on a second socket,
//! [`ctkit_ctnetlink::BATCH_MAX_MSGS`] per `sendmsg` and without ACKs (the kernel answers
//! only refused deletes), instead of one round trip per entry; `-R` runs through
//! [`crate::compat::loadplan`].

use crate::compat::error::CompatError;
use crate::compat::messages;
use crate::compat::request::{
    Attrs, Command, CompatRequest, LabelModify, MarkMask, OutputFlags, Table,
};
use ctkit_ctnetlink::{
    Conn, DumpRequest, EmitExtras, Error as NlError, Event, EventSocket, EventType, Mutation,
    Table as NlTable, TupleFilter,
};
use ctkit_model::format::{self, EventKind, JsonOptions, SaveOptions, TextOptions, XmlOptions};
use ctkit_model::{Flow, LabelMap, Labels, ProtoInfo, Status};
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Buffered stdout that ends the program as conntrack does on a closed pipe.
struct Out {
    buf: Vec<u8>,
}

impl Out {
    fn new() -> Out {
        Out {
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    fn maybe_flush(&mut self) {
        if self.buf.len() >= 60 * 1024 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let mut o = std::io::stdout().lock();
        if let Err(e) = o.write_all(&self.buf).and_then(|_| o.flush()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                crate::compat::closed_pipe();
            }
        }
        self.buf.clear();
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        self.flush();
    }
}

/// How records are printed for one request.
struct Printer {
    output: OutputFlags,
    labelmap: Option<LabelMap>,
    now: i64,
    /// Whether XML records get the lazy document header (conntrack: -L, -G, -E; -D and the
    /// -U re-print write bare `<flow>` lines).
    xml_header: bool,
    xml_started: bool,
}

impl Printer {
    fn new(req: &CompatRequest) -> Printer {
        let labelmap = req.labelmap.as_ref().and_then(|m| {
            let mut text = String::new();
            for (bit, name) in &m.entries {
                text.push_str(&format!("{bit} {name}\n"));
            }
            LabelMap::parse(text.as_bytes())
        });
        Printer {
            output: req.output,
            labelmap,
            now: now_secs(),
            xml_header: true,
            xml_started: false,
        }
    }

    /// One record in the context `c`.
    fn flow(&mut self, out: &mut Vec<u8>, f: &Flow, c: &Record<'_>) {
        let Record {
            event,
            save_kind,
            for_delete,
            event_time,
            userspace,
        } = *c;
        let o = self.output;
        let labelmap = if for_delete {
            None
        } else {
            self.labelmap.as_ref()
        };
        if o.has(OutputFlags::JSON) {
            format::write_flow_json(
                out,
                f,
                &JsonOptions {
                    event,
                    labelmap,
                    event_time,
                    userspace,
                },
            );
        } else if o.has(OutputFlags::SAVE) {
            format::write_flow_save(
                out,
                f,
                &SaveOptions {
                    event: Some(save_kind),
                    userspace,
                },
            );
        } else if o.has(OutputFlags::XML) {
            if !self.xml_started && self.xml_header {
                out.extend_from_slice(format::xml::XML_HEADER.as_bytes());
                self.xml_started = true;
            }
            format::write_flow_xml(
                out,
                f,
                &XmlOptions {
                    event,
                    ktimestamp: o.has(OutputFlags::KTIMESTAMP) && !for_delete,
                    labelmap,
                    now: self.now,
                    when: if event.is_some() && o.has(OutputFlags::TIMESTAMP) {
                        event_time.map(|t| t.0)
                    } else {
                        None
                    },
                    userspace,
                    ..XmlOptions::default()
                },
            );
        } else {
            format::write_flow(
                out,
                f,
                &TextOptions {
                    event,
                    extended: o.has(OutputFlags::EXTENDED),
                    id: o.has(OutputFlags::ID),
                    ktimestamp: o.has(OutputFlags::KTIMESTAMP) && !for_delete,
                    labelmap,
                    now: self.now,
                    event_time: if o.has(OutputFlags::TIMESTAMP) {
                        event_time
                    } else {
                        None
                    },
                    userspace,
                    ..TextOptions::default()
                },
            );
        }
    }

    fn finish(&self, out: &mut Vec<u8>) {
        if self.xml_started {
            out.extend_from_slice(format::xml::XML_FOOTER.as_bytes());
        }
    }
}

/// Where a record is printed from, which decides prefixes and omitted fields.
#[derive(Clone, Copy)]
struct Record<'a> {
    /// Event prefix (events only).
    event: Option<EventKind>,
    /// The `-o save` prefix for this context.
    save_kind: EventKind,
    /// -D drops labels and ktimestamp, as conntrack's delete callback does.
    for_delete: bool,
    /// Event receive time (`-o timestamp`).
    event_time: Option<(i64, u32)>,
    /// The `[USERSPACE]` suffix of events.
    userspace: Option<format::Userspace<'a>>,
}

impl Record<'_> {
    /// -L, -G and the -U re-print.
    const LISTING: Record<'static> = Record {
        event: None,
        save_kind: EventKind::New,
        for_delete: false,
        event_time: None,
        userspace: None,
    };
    /// -D.
    const DELETED: Record<'static> = Record {
        event: None,
        save_kind: EventKind::Destroy,
        for_delete: true,
        event_time: None,
        userspace: None,
    };
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_us() -> (i64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_micros())
}

fn fail(e: CompatError) -> ExitCode {
    messages::print_error(&e);
    ExitCode::from(e.exit_code())
}

/// Maps a netlink error to conntrack's `Operation failed: …` (exit 1).
fn nl_fail(e: &NlError, req: &CompatRequest) -> CompatError {
    nl_fail_cmd(e, req.command, req.table)
}

/// [`nl_fail`] for a command known without its request.
pub(crate) fn nl_fail_cmd(e: &NlError, command: Command, table: Table) -> CompatError {
    match e.errno() {
        Some(errno) => messages::operation_failed(errno, command, table),
        None => CompatError::other(format!("Operation failed: {e}")),
    }
}

fn open(req: &CompatRequest) -> Result<Conn, CompatError> {
    let c = Conn::open().map_err(|e| nl_fail(&e, req))?;
    if let Some(sz) = req.buffer_size {
        if let Ok(got) = c.socket().set_rcvbuf(sz as usize) {
            eprintln!("NOTICE: Netlink socket buffer size has been set to {got} bytes.");
        }
    }
    Ok(c)
}

fn summary(req: &CompatRequest, n: u64) {
    if let Some(s) = messages::summary(req.command, req.table, n) {
        eprint!("{s}");
    }
}

/// Runs one request (single command line) and returns the process exit code.
pub fn run(req: CompatRequest) -> ExitCode {
    if let Some(e) = &req.deferred_error {
        if req.command != Command::Event {
            return fail(e.clone());
        }
    }
    let r = match (req.command, req.table) {
        (Command::List, Table::Expect) => list_expect(&req),
        (Command::List, _) => list(&req),
        (Command::Get, Table::Expect) => get_expect(&req),
        (Command::Get, _) => get(&req),
        (Command::Delete, Table::Expect) => delete_expect(&req),
        (Command::Delete, _) => delete(&req, true),
        (Command::Create { .. }, Table::Expect) => create_expect(&req),
        (Command::Create { .. }, _) => create(&req, true),
        (Command::Update, _) => update(&req, true),
        (Command::Event, _) => events(&req),
        (Command::Flush, _) => flush(&req),
        (Command::Count, _) => count(&req),
        (Command::Stats, _) => stats(&req),
        (Command::Version | Command::Help, _) => Ok(0),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(e),
    }
}

/// What an `-R` run carries from line to line: conntrack 1.4.7 keeps one modifier socket for
/// the whole file, so the `-U` replies its queries leave unread ([`Reprint`]) are read by the
/// next `-U` line's queries.
///
/// It also parses the whole file before running it and keeps the template of the line parsed
/// last as the one `-U` computes marks from (`cur_tmpl`): every `-U` line with `-m` applies
/// the `-m` of the file's last line, none (no change) when that line has no `-m`.
pub struct LoadRun {
    reprint: Option<Reprint>,
    /// The `-m` of the file's last line.
    last_mark: Option<MarkMask>,
}

impl LoadRun {
    /// The state at the start of a file whose last line has `-m` `last_mark`.
    pub fn new(last_mark: Option<MarkMask>) -> LoadRun {
        LoadRun {
            reprint: None,
            last_mark,
        }
    }
}

/// Runs a chunk of `-R` requests in order: no summaries, zero counts are not errors, the
/// first kernel error stops with exit 1. Consecutive create lines go out in batches.
pub fn run_batch(reqs: &[CompatRequest], run: &mut LoadRun) -> Result<(), CompatError> {
    let mut i = 0;
    while i < reqs.len() {
        let req = &reqs[i];
        if let Some(e) = &req.deferred_error {
            return Err(e.clone());
        }
        match (req.command, req.table) {
            (Command::Create { .. }, Table::Conntrack) => {
                let mut j = i;
                while j < reqs.len()
                    && matches!(reqs[j].command, Command::Create { .. })
                    && reqs[j].table == Table::Conntrack
                    && reqs[j].deferred_error.is_none()
                {
                    j += 1;
                }
                create_many(&reqs[i..j])?;
                i = j;
                continue;
            }
            (Command::Create { .. }, Table::Expect) => create_expect(req)?,
            (Command::Delete, Table::Expect) => delete_expect(req)?,
            (Command::Delete, _) => delete(req, false)?,
            (Command::Update, _) => {
                let r = run.reprint.get_or_insert_with(|| Reprint::new(req, true));
                // Each line's GET goes out with that line's family.
                r.family = req.family.af();
                let code = if req.mark.is_some() {
                    let mark = run.last_mark.unwrap_or(MarkMask { value: 0, mask: 0 });
                    let req = CompatRequest {
                        mark: Some(mark),
                        ..req.clone()
                    };
                    update_with(&req, r, false)
                } else {
                    update_with(req, r, false)
                };
                r.out.flush();
                code?
            }
            (Command::Flush, _) => flush(req)?,
            _ => 0,
        };
        i += 1;
    }
    Ok(())
}

/// The kernel-side part of a -L/-D selection: family, mark, (kernel 6.8+) zone and, when
/// the family is known, the tuple fields [`kernel_tuple_filter`] can push. Every result is
/// rechecked by the userspace filter, so a kernel that ignores a filter only costs time.
fn dump_request(req: &CompatRequest) -> DumpRequest {
    let family = req.family.af();
    DumpRequest {
        family,
        zero_counters: req.zero,
        mark: req.mark.map(|m| (m.value & m.mask, m.mask)),
        zone: req.filter.zone.filter(|z| *z != 0),
        tuple: kernel_tuple_filter(&req.filter, family),
        ..DumpRequest::default()
    }
}

/// The dumps of a `-D`: [`family_dumps`] of its [`dump_request`].
fn delete_dumps(req: &CompatRequest) -> Vec<DumpRequest> {
    family_dumps(&req.filter, dump_request(req))
}

/// `d` with the tuple fields of `filter` the kernel can check ([`kernel_tuple_filter`]), or,
/// when `d` names no family but tuple fields could be filtered in the kernel (which needs a
/// family), one dump per family, each filtered. Only the order of the entries differs from
/// one unfiltered dump (hash order either way).
pub(crate) fn family_dumps(
    filter: &ctkit_model::filter::FlowFilter,
    d: DumpRequest,
) -> Vec<DumpRequest> {
    let d = DumpRequest {
        tuple: kernel_tuple_filter(filter, d.family),
        ..d
    };
    if d.family != 0 {
        return vec![d];
    }
    let per_family: Vec<DumpRequest> = [libc::AF_INET as u8, libc::AF_INET6 as u8]
        .into_iter()
        .map(|family| DumpRequest {
            family,
            tuple: kernel_tuple_filter(filter, family),
            ..d
        })
        .collect();
    if per_family.iter().all(|d| d.tuple.is_some()) {
        per_family
    } else {
        vec![d]
    }
}

/// The `CTA_FILTER` part of the userspace filter that the kernel can check exactly: the
/// protocol and ports of a port protocol (TCP, UDP, UDP-Lite, SCTP, DCCP) and IPv4
/// addresses (exact ones, not CIDR), on either tuple. It only ever drops entries the
/// userspace filter drops too. IPv6 addresses stay in userspace: the kernel inverts their
/// match (`ctnetlink_filter_match_tuple`, 6.18), which a recheck could not undo (the entry
/// wanted would never arrive). `None` without a family (the kernel refuses CTA_FILTER on
/// AF_UNSPEC) or when nothing can be pushed.
pub(crate) fn kernel_tuple_filter(
    f: &ctkit_model::filter::FlowFilter,
    family: u8,
) -> Option<TupleFilter> {
    use ctkit_ctnetlink::uapi::*;
    if !f.compare || (family != libc::AF_INET as u8 && family != libc::AF_INET6 as u8) {
        return None;
    }
    let side = |m: &ctkit_model::filter::TupleMatch| {
        let mut t = ctkit_model::Tuple::default();
        let mut flags = 0;
        if family == libc::AF_INET as u8 {
            if let Some(a @ std::net::IpAddr::V4(_)) = m.src {
                t.src = a;
                flags |= CTA_FILTER_F_CTA_IP_SRC;
            }
            if let Some(a @ std::net::IpAddr::V4(_)) = m.dst {
                t.dst = a;
                flags |= CTA_FILTER_F_CTA_IP_DST;
            }
        }
        if let Some(p) = m.proto.filter(|p| ctkit_model::proto::has_ports(*p)) {
            t.proto = p;
            flags |= CTA_FILTER_F_CTA_PROTO_NUM;
            if let Some(sp) = m.sport {
                t.sport = sp;
                flags |= CTA_FILTER_F_CTA_PROTO_SRC_PORT;
            }
            if let Some(dp) = m.dport {
                t.dport = dp;
                flags |= CTA_FILTER_F_CTA_PROTO_DST_PORT;
            }
        }
        (flags, t)
    };
    let (orig_flags, orig) = side(&f.orig);
    let (reply_flags, reply) = side(&f.reply);
    let t = TupleFilter {
        orig_flags,
        orig,
        reply_flags,
        reply,
    };
    (!t.is_empty()).then_some(t)
}

/// [`Conn::dump`] that falls back to a dump without the tuple filter when the kernel
/// refuses it (before 5.8: `EINVAL`/`EOPNOTSUPP` at dump start, before any entry).
pub(crate) fn dump_with_fallback(
    conn: &mut Conn,
    table: NlTable,
    d: &DumpRequest,
    mut f: impl FnMut(&Flow) -> ControlFlow<()>,
) -> Result<(), NlError> {
    let mut seen = false;
    let r = conn.dump(table, d, |fl| {
        seen = true;
        f(fl)
    });
    match r {
        Err(e)
            if d.tuple.is_some()
                && !seen
                && matches!(e.errno(), Some(libc::EINVAL | libc::EOPNOTSUPP)) =>
        {
            let plain = DumpRequest { tuple: None, ..*d };
            conn.dump(table, &plain, f)
        }
        r => r,
    }
}

fn list(req: &CompatRequest) -> Result<u8, CompatError> {
    let mut conn = open(req)?;
    let table = match req.table {
        Table::Dying => NlTable::Dying,
        Table::Unconfirmed => NlTable::Unconfirmed,
        _ => NlTable::Conntrack,
    };
    let mut filter = req.filter;
    let dreq = if table == NlTable::Conntrack {
        let mut d = dump_request(req);
        if let Some(st) = req.status {
            // conntrack -L filters status in the kernel; recheck it here as well.
            d.status = Some((st.value, st.kernel_mask));
            filter.status_masked = Some((st.value, st.kernel_mask));
        }
        d
    } else {
        DumpRequest {
            family: req.family.af(),
            ..DumpRequest::default()
        }
    };
    let mut p = Printer::new(req);
    let mut out = Out::new();
    let mut n = 0u64;
    let r = dump_with_fallback(&mut conn, table, &dreq, |f| {
        if filter.matches(f) {
            p.flow(&mut out.buf, f, &Record::LISTING);
            n += 1;
            out.maybe_flush();
        }
        ControlFlow::Continue(())
    });
    p.finish(&mut out.buf);
    out.flush();
    r.map_err(|e| nl_fail(&e, req))?;
    summary(req, n);
    Ok(0)
}

/// `ctkit delete --dry-run` / `ctkit flush --dry-run`: prints, as `-D` would, every entry
/// the command would delete, and deletes nothing. The selection is exactly `-D`'s (same
/// kernel mark filter, same userspace filter).
pub fn dry_run_delete(req: &CompatRequest) -> ExitCode {
    let r = (|| {
        let mut conn = open(req)?;
        let mut p = Printer::new(req);
        p.xml_header = false;
        let mut out = Out::new();
        let mut n = 0u64;
        dump_with_fallback(&mut conn, NlTable::Conntrack, &dump_request(req), |f| {
            if req.filter.matches(f) {
                p.flow(&mut out.buf, f, &Record::DELETED);
                n += 1;
                out.maybe_flush();
            }
            ControlFlow::Continue(())
        })
        .map_err(|e| nl_fail(&e, req))?;
        out.flush();
        eprintln!(
            "{}{n} flow entries would be deleted (dry run).",
            messages::banner()
        );
        Ok(0)
    })();
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(e),
    }
}

/// The flow to create from the template: a missing direction is the inverse of the other.
pub(crate) fn creation_flow(req: &CompatRequest) -> Flow {
    let a = req.ct.attrs;
    let mut f = req.ct.flow;
    let orig = a.has(Attrs::ORIG_SRC) || a.has(Attrs::ORIG_DST);
    let repl = a.has(Attrs::REPL_SRC) || a.has(Attrs::REPL_DST);
    f.has_orig = orig || !repl;
    f.has_reply = true;
    if orig && !repl {
        if let Some(r) = f.orig.invert() {
            let zone = f.reply.zone;
            f.reply = r;
            f.reply.zone = zone;
        }
    } else if repl && !orig {
        if let Some(o) = f.reply.invert() {
            let zone = f.orig.zone;
            f.orig = o;
            f.orig.zone = zone;
        }
        f.has_orig = true;
    }
    if let Some(p) = req.proto {
        f.orig.proto = p.num;
        f.reply.proto = p.num;
    }
    // libnetfilter_conntrack's ICMP setters fill the reply tuple too: type inverted (255,
    // which the kernel rejects, when it has no inverse), code and id copied.
    match f.orig.proto {
        ctkit_model::proto::IPPROTO_ICMP | ctkit_model::proto::IPPROTO_ICMPV6 => {
            let inv = if f.orig.proto == ctkit_model::proto::IPPROTO_ICMP {
                ctkit_model::tuple::invert_icmp_type(f.orig.icmp_type)
            } else {
                ctkit_model::tuple::invert_icmpv6_type(f.orig.icmp_type)
            };
            f.reply.icmp_type = inv.unwrap_or(255);
            f.reply.icmp_code = f.orig.icmp_code;
            f.reply.icmp_id = f.orig.icmp_id;
        }
        _ => {}
    }
    if let Some(m) = req.mark {
        f.mark = Some(m.value);
    }
    if let Some(s) = req.status {
        f.status = Some(Status(s.value));
    }
    if let Some(LabelModify::Add(l)) = req.label_modify {
        f.labels = Some(l);
    }
    f
}

/// conntrack sends a reply tuple given with -r/-q (beside -s/-d) with the protocol only when
/// its reply ports (GRE: keys) were given too; the kernel refuses such a reply tuple without
/// them (EINVAL, `Operation failed: invalid parameters`).
pub(crate) fn reply_tuple_lacks_ports(req: &CompatRequest) -> bool {
    let a = req.ct.attrs;
    let orig = a.has(Attrs::ORIG_SRC) || a.has(Attrs::ORIG_DST);
    let repl = a.has(Attrs::REPL_SRC) || a.has(Attrs::REPL_DST);
    let ported = req.proto.is_some_and(|p| {
        ctkit_model::proto::has_ports(p.num) || p.num == ctkit_model::proto::IPPROTO_GRE
    });
    orig && repl && ported && !a.has(Attrs::REPL_L4PROTO)
}

/// The request extras of a creation: -n/-g IP[:port] ask the kernel's NAT for a binding
/// (CTA_NAT_SRC/DST), as conntrack does.
pub(crate) fn creation_extras(req: &CompatRequest) -> EmitExtras {
    EmitExtras {
        snat: req.ct.snat_ip.map(|ip| (ip, req.ct.snat_port)),
        dnat: req.ct.dnat_ip.map(|ip| (ip, req.ct.dnat_port)),
        ..EmitExtras::default()
    }
}

pub(crate) fn create_family(f: &Flow) -> u8 {
    ctkit_ctnetlink::tuple::tuple_af(&f.orig)
}

/// Set by the modern commands, which keep what conntrack 1.4.7 gets wrong fixed: `add`
/// creates or updates (no `NLM_F_EXCL`), `update` reaches entries in a zone.
pub(crate) static MODERN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn create(req: &CompatRequest, with_summary: bool) -> Result<u8, CompatError> {
    let mut conn = open(req)?;
    let f = creation_flow(req);
    if reply_tuple_lacks_ports(req) {
        return Err(messages::operation_failed(
            libc::EINVAL,
            req.command,
            req.table,
        ));
    }
    let x = creation_extras(req);
    let excl = matches!(req.command, Command::Create { excl: true });
    // conntrack 1.4.7 sends -A with NLM_F_EXCL as well: an existing entry is left as it is,
    // and -A reports it as `0 flow entries have been added.` (exit 0). The modern `add`
    // updates it (and still counts only new entries).
    let upsert = !excl && MODERN.load(Ordering::Relaxed);
    if upsert {
        let mut tmp = Flow::default();
        let key = Flow {
            has_reply: false,
            ..f
        };
        let existed = conn.get(create_family(&f), &key, &mut tmp).is_ok();
        conn.mutate(Mutation::Create { excl: false }, create_family(&f), &f, &x)
            .map_err(|e| nl_fail(&e, req))?;
        if with_summary {
            summary(req, u64::from(!existed));
        }
        return Ok(0);
    }
    let existed = match conn.mutate(Mutation::Create { excl: true }, create_family(&f), &f, &x) {
        Ok(()) => false,
        Err(e) if !excl && e.errno() == Some(libc::EEXIST) => true,
        Err(e) => return Err(nl_fail(&e, req)),
    };
    if with_summary {
        summary(req, u64::from(!existed));
    }
    Ok(0)
}

fn create_many(reqs: &[CompatRequest]) -> Result<(), CompatError> {
    let mut conn = open(&reqs[0])?;
    let mut failed: Option<CompatError> = None;
    let mut on = |i: u64, r: Result<(), NlError>| match r {
        Ok(()) => ControlFlow::Continue(()),
        Err(e)
            if e.errno() == Some(libc::EEXIST)
                && matches!(reqs[i as usize].command, Command::Create { excl: false }) =>
        {
            ControlFlow::Continue(())
        }
        Err(e) => {
            failed = Some(nl_fail(&e, &reqs[i as usize]));
            ControlFlow::Break(())
        }
    };
    let mut batch = conn.batch();
    let mut refused = None;
    for req in reqs {
        // Refused at its line, after the lines before it ran (the kernel's EINVAL for
        // conntrack, see `create`).
        if reply_tuple_lacks_ports(req) {
            refused = Some(messages::operation_failed(
                libc::EINVAL,
                req.command,
                req.table,
            ));
            break;
        }
        let f = creation_flow(req);
        // -A goes out with NLM_F_EXCL too (see `create`); `on` skips its EEXIST.
        let flow = batch
            .push(
                Mutation::Create { excl: true },
                create_family(&f),
                &f,
                &creation_extras(req),
                &mut on,
            )
            .map_err(|e| nl_fail(&e, req))?;
        if flow.is_break() {
            break;
        }
    }
    let _ = batch.flush(&mut on).map_err(|e| nl_fail(&e, &reqs[0]))?;
    match failed.or(refused) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn get(req: &CompatRequest) -> Result<u8, CompatError> {
    let mut conn = open(req)?;
    let mut key = req.ct.flow;
    key.has_orig = req.ct.attrs.has(Attrs::ORIG_SRC);
    key.has_reply = !key.has_orig;
    if !key.has_orig {
        // conntrack 1.4.7 sends a reply-tuple-only GET the kernel refuses.
        return Err(messages::operation_failed(
            libc::EINVAL,
            req.command,
            req.table,
        ));
    }
    let mut f = Flow::default();
    let fam = if key.has_orig {
        ctkit_ctnetlink::tuple::tuple_af(&key.orig)
    } else {
        ctkit_ctnetlink::tuple::tuple_af(&key.reply)
    };
    conn.get(fam, &key, &mut f).map_err(|e| nl_fail(&e, req))?;
    // -i: conntrack's GET callback drops an entry with another id (0 shown, exit 1).
    if let (Some(want), Some(have)) = (req.ct.flow.id, f.id) {
        if want != have {
            summary(req, 0);
            return Ok(1);
        }
    }
    let mut p = Printer::new(req);
    let mut out = Out::new();
    p.flow(&mut out.buf, &f, &Record::LISTING);
    out.flush();
    summary(req, 1);
    Ok(0)
}

fn delete(req: &CompatRequest, interactive: bool) -> Result<u8, CompatError> {
    let mut dumper = open(req)?;
    let deleter = open(req)?;
    let _ = deleter.socket().set_rcvbuf(DELETE_RCVBUF);
    let mut d = Deleter {
        conn: deleter,
        wire: ctkit_ctnetlink::attr::Builder::new(),
        pending: Vec::with_capacity(ctkit_ctnetlink::BATCH_MAX_MSGS),
        printer: Printer::new(req),
        out: Out::new(),
        n: 0,
        failed: None,
    };
    d.printer.xml_header = false;
    let mut io_err: Option<NlError> = None;
    for dreq in delete_dumps(req) {
        if d.failed.is_some() || io_err.is_some() {
            break;
        }
        let r = dump_with_fallback(&mut dumper, NlTable::Conntrack, &dreq, |f| {
            if !req.filter.matches(f) {
                return ControlFlow::Continue(());
            }
            match d.push(f) {
                Ok(flow) => flow,
                Err(e) => {
                    io_err = Some(e);
                    ControlFlow::Break(())
                }
            }
        });
        if let Err(e) = r {
            io_err.get_or_insert(e);
        }
    }
    if d.failed.is_none() && io_err.is_none() {
        if let Err(e) = d.flush() {
            io_err = Some(e);
        }
    }
    d.out.flush();
    if let Some(e) = d.failed.or(io_err) {
        return Err(nl_fail(&e, req));
    }
    if interactive {
        summary(req, d.n);
        if d.n == 0 {
            return Ok(1);
        }
    }
    Ok(0)
}

/// Receive buffer of the deleting socket: a datagram's worth of error replies must fit.
const DELETE_RCVBUF: usize = 4 << 20;

/// `-D`'s deleting side: entries of the dump are queued as `IPCTNL_MSG_CT_DELETE` messages
/// without `NLM_F_ACK` ([`Conn::send_quiet`]) and sent [`ctkit_ctnetlink::BATCH_MAX_MSGS`]
/// per `sendmsg` while the dump goes on; the kernel answers only the deletes it refused, so
/// every other entry of the datagram is printed and counted as deleted. An entry that was
/// gone already (`ENOENT`) is skipped, as conntrack does; any other error stops.
struct Deleter {
    conn: Conn,
    wire: ctkit_ctnetlink::attr::Builder,
    pending: Vec<Flow>,
    printer: Printer,
    out: Out,
    n: u64,
    failed: Option<NlError>,
}

impl Deleter {
    fn push(&mut self, f: &Flow) -> Result<ControlFlow<()>, NlError> {
        ctkit_ctnetlink::encode_mutation(
            &mut self.wire,
            Mutation::Delete,
            ctkit_ctnetlink::tuple::tuple_af(&f.orig),
            f,
            &EmitExtras::default(),
            self.pending.len() as u32,
            false,
        );
        self.pending.push(*f);
        if self.pending.len() == ctkit_ctnetlink::BATCH_MAX_MSGS {
            self.flush()?;
        }
        Ok(if self.failed.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    }

    fn flush(&mut self) -> Result<(), NlError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let r = self.conn.send_quiet(self.wire.as_bytes());
        self.wire.clear();
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                self.pending.clear();
                return Err(e);
            }
        };
        // With lost replies, only entries up to the last reply kept are known.
        let known = if r.complete {
            self.pending.len()
        } else {
            r.errors.last().map_or(0, |(seq, _)| *seq as usize + 1)
        };
        let mut errors = r.errors.into_iter().peekable();
        for (i, f) in self.pending.iter().enumerate().take(known) {
            if let Some((_, e)) = errors.next_if(|(seq, _)| *seq as usize == i) {
                if e.is_not_found() {
                    continue;
                }
                self.failed = Some(e);
                break;
            }
            self.printer.flow(&mut self.out.buf, f, &Record::DELETED);
            self.n += 1;
            self.out.maybe_flush();
        }
        let lost = known < self.pending.len() && self.failed.is_none();
        self.pending.clear();
        if lost {
            return Err(NlError::Io(std::io::Error::from_raw_os_error(
                libc::ENOBUFS,
            )));
        }
        Ok(())
    }
}

/// conntrack's `-U`: for each selected entry, the original tuple plus the template's meta
/// attributes, mark computed as `(old & ~mask) ^ value`, status ORed, labels changed; an
/// entry that would not change is skipped.
fn update(req: &CompatRequest, interactive: bool) -> Result<u8, CompatError> {
    let mut reprint = Reprint::new(req, interactive);
    update_with(req, &mut reprint, interactive)
}

/// [`update`] with 1.4.7's output state `reprint` (an `-R` run shares one across lines).
fn update_with(
    req: &CompatRequest,
    reprint: &mut Reprint,
    interactive: bool,
) -> Result<u8, CompatError> {
    let mut dumper = open(req)?;
    let mut changer = open(req)?;
    let a = req.ct.attrs;
    let mut n = 0u64;
    let mut err: Option<NlError> = None;
    let dreq = DumpRequest {
        family: req.family.af(),
        ..DumpRequest::default()
    };
    let mut fatal: Option<CompatError> = None;
    let r = dumper.dump(NlTable::Conntrack, &dreq, |ct| {
        if !req.filter.matches_update(ct) {
            return ControlFlow::Continue(());
        }
        let mut t = Flow {
            orig: ct.orig,
            has_orig: true,
            zone: ct.zone,
            ..Flow::default()
        };
        // conntrack 1.4.7 copies only the original tuple into its update: an entry in a zone
        // is looked for in zone 0 (ENOENT, reported and not counted, see Reprint).
        if reprint.active() && !MODERN.load(Ordering::Relaxed) {
            t.zone = None;
        }
        let mut changed = false;
        if a.has(Attrs::TIMEOUT) {
            t.timeout = req.ct.flow.timeout;
            changed |= t.timeout != ct.timeout;
        }
        if let Some(m) = req.mark {
            let old = ct.mark.unwrap_or(0);
            let new = (old & !m.mask) ^ m.value;
            t.mark = Some(new);
            changed |= new != old;
        }
        if let Some(s) = req.status {
            let old = ct.status_bits().0;
            let new = old | s.value;
            t.status = Some(Status(new));
            changed |= new != old;
        }
        if a.0 & PROTOINFO_ATTRS != 0 {
            t.protoinfo = req.ct.flow.protoinfo;
            changed |= protoinfo_changed(a, &req.ct.flow, ct);
        }
        let mut mask = None;
        if let Some(lm) = req.label_modify {
            let old = ct.labels.unwrap_or_default();
            let mut new = old;
            new.len = 16;
            match lm {
                LabelModify::Add(l) => {
                    for b in l.bits() {
                        new.set(b);
                    }
                }
                LabelModify::Del(None) => new.bytes = [0; 16],
                LabelModify::Del(Some(l)) => {
                    for (x, y) in new.bytes.iter_mut().zip(l.bytes.iter()) {
                        *x &= !*y;
                    }
                }
            }
            changed |= new.bytes != old.bytes;
            mask = Some(Labels {
                bytes: [0xff; 16],
                len: 16,
            });
            t.labels = Some(new);
        }
        if !changed {
            return ControlFlow::Continue(());
        }
        let fam = ctkit_ctnetlink::tuple::tuple_af(&ct.orig);
        let x = EmitExtras {
            labels_mask: mask,
            ..EmitExtras::default()
        };
        let result = changer.mutate(Mutation::Update, fam, &t, &x);
        match result {
            Err(e) if e.is_not_found() && !reprint.active() => ControlFlow::Continue(()),
            Err(e) if !reprint.active() || e.errno().is_none() => {
                err = Some(e);
                ControlFlow::Break(())
            }
            r => match reprint.updated(&mut changer, &t, r.err().and_then(|e| e.errno())) {
                Ok(true) => {
                    n += 1;
                    ControlFlow::Continue(())
                }
                Ok(false) => ControlFlow::Continue(()),
                Err(e) => {
                    fatal = Some(e);
                    ControlFlow::Break(())
                }
            },
        }
    });
    reprint.out.flush();
    if let Some(e) = fatal {
        return Err(e);
    }
    if let Some(e) = err.or(r.err()) {
        return Err(nl_fail(&e, req));
    }
    if interactive {
        summary(req, n);
        if n == 0 {
            return Ok(1);
        }
    }
    Ok(0)
}

/// conntrack 1.4.7's `-U` output, reproduced. Its update callback sends the UPDATE and then
/// a GET (with `print_cb`) on one socket, and each query reads one reply message while the
/// kernel queues one per UPDATE (ack or error) and two per GET (entry and ack, or an error):
/// replies drift. An UPDATE query that reads an error prints `Operation failed: …` without
/// the banner; a GET query that reads an entry prints it, one that reads ENOENT skips the
/// entry uncounted, any other error ends the command (banner, exit 1); the rest count. With
/// all updates accepted, the 1st, 3rd, 5th… entry get printed, by the 1st, 4th, 7th… GET.
/// Without a family (no -f, no address) its GET is AF_UNSPEC, which the kernel refuses; ctkit
/// then prints nothing and counts every update (1.4.7's libmnl regression, fixed in 1.4.8).
struct Reprint {
    family: u8,
    command: Command,
    table: Table,
    /// Reply messages not yet read by 1.4.7's queries.
    queue: std::collections::VecDeque<Reply>,
    printer: Printer,
    out: Out,
}

/// One queued reply message: an ack, a GET's entry (its original tuple and zone, fetched
/// when read), an error.
enum Reply {
    Ack,
    Entry(ctkit_model::Tuple, Option<u16>),
    Error(i32),
}

impl Reprint {
    fn new(req: &CompatRequest, interactive: bool) -> Reprint {
        let mut printer = Printer::new(req);
        printer.xml_header = false;
        Reprint {
            family: if interactive { req.family.af() } else { 0 },
            command: req.command,
            table: req.table,
            queue: std::collections::VecDeque::new(),
            printer,
            out: Out::new(),
        }
    }

    /// Whether the simulation runs (interactive, with a family).
    fn active(&self) -> bool {
        self.family != 0
    }

    /// An UPDATE of template `t` was sent; `errno` is the kernel's refusal, if any. Returns
    /// whether 1.4.7 counts the entry, or the error that ends the command.
    fn updated(
        &mut self,
        conn: &mut Conn,
        t: &Flow,
        errno: Option<i32>,
    ) -> Result<bool, CompatError> {
        if !self.active() {
            return Ok(true);
        }
        self.queue.push_back(errno.map_or(Reply::Ack, Reply::Error));
        if let Some(Reply::Error(e)) = self.queue.pop_front() {
            eprintln!(
                "Operation failed: {}",
                messages::err2str(e, self.command, self.table)
            );
        }
        // The GET, with the same template, finds the entry unless the update did not
        // (ENOENT: gone, or in a zone the template lacks).
        if errno == Some(libc::ENOENT) {
            self.queue.push_back(Reply::Error(libc::ENOENT));
        } else {
            self.queue.push_back(Reply::Entry(t.orig, t.zone));
            self.queue.push_back(Reply::Ack);
        }
        match self.queue.pop_front() {
            Some(Reply::Entry(orig, zone)) => {
                let k = Flow {
                    orig,
                    has_orig: true,
                    zone,
                    ..Flow::default()
                };
                let mut f = Flow::default();
                if conn.get(self.family, &k, &mut f).is_ok() {
                    self.printer.flow(&mut self.out.buf, &f, &Record::LISTING);
                    self.out.maybe_flush();
                }
                Ok(true)
            }
            Some(Reply::Error(libc::ENOENT)) => Ok(false),
            Some(Reply::Error(e)) => Err(messages::operation_failed(e, self.command, self.table)),
            Some(Reply::Ack) | None => Ok(true),
        }
    }
}

/// The protocol-state options of `-U` (`--state`, `--orig-vtag`, `--reply-vtag`, `--role`).
const PROTOINFO_ATTRS: u64 = Attrs::TCP_STATE
    | Attrs::SCTP_STATE
    | Attrs::SCTP_VTAG_ORIG
    | Attrs::SCTP_VTAG_REPL
    | Attrs::DCCP_STATE
    | Attrs::DCCP_ROLE;

/// Whether `-U`'s protocol options change `ct`, as `nfct_cmp(ALL|MASK)` sees it: the TCP,
/// SCTP and DCCP states compare strictly (an entry without one differs); verification tags
/// and the DCCP role are not compared at all.
fn protoinfo_changed(a: Attrs, want: &Flow, ct: &Flow) -> bool {
    fn states(f: &Flow) -> [Option<u8>; 3] {
        match f.protoinfo {
            Some(ProtoInfo::Tcp(t)) => [t.state, None, None],
            Some(ProtoInfo::Sctp(s)) => [None, s.state, None],
            Some(ProtoInfo::Dccp(d)) => [None, None, d.state],
            None => [None; 3],
        }
    }
    let (w, h) = (states(want), states(ct));
    [Attrs::TCP_STATE, Attrs::SCTP_STATE, Attrs::DCCP_STATE]
        .iter()
        .zip(w.iter().zip(h.iter()))
        .any(|(bit, (w, h))| a.has(*bit) && w != h)
}

fn flush(req: &CompatRequest) -> Result<u8, CompatError> {
    let mut conn = open(req)?;
    let r = if req.table == Table::Expect {
        conn.flush_expect(req.family.af())
    } else {
        conn.flush(req.family.af(), None)
    };
    eprint!("{}", messages::flushed(req.table));
    r.map_err(|e| nl_fail(&e, req))?;
    Ok(0)
}

fn count(req: &CompatRequest) -> Result<u8, CompatError> {
    let mut conn = open(req)?;
    let mut out = Out::new();
    if req.table == Table::Expect {
        let mut n = 0u32;
        conn.dump_expect(req.family.af(), |_| {
            n += 1;
            ControlFlow::Continue(())
        })
        .map_err(|e| nl_fail(&e, req))?;
        format::write_count(&mut out.buf, n);
        return Ok(0);
    }
    // Like conntrack: when GET_STATS fails, say so, print the /proc count anyway, exit 1.
    let (n, code) = match conn.stats() {
        Ok(g) if g.entries.is_some() => (g.entries.unwrap_or(0), 0),
        Ok(_) => (proc_count()?, 0),
        Err(e) => {
            messages::print_error(&nl_fail(&e, req));
            (proc_count()?, 1)
        }
    };
    format::write_count(&mut out.buf, n);
    Ok(code)
}

fn proc_count() -> Result<u32, CompatError> {
    std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| CompatError::other("Operation failed: cannot read the entry count"))
}

/// The /proc/net/stat/nf_conntrack fallback of `-S`: the header names, then one line of hex
/// counters per CPU.
fn proc_stats(out: &mut Vec<u8>) -> Result<(), CompatError> {
    let text = std::fs::read_to_string("/proc/net/stat/nf_conntrack").map_err(|e| {
        CompatError::other(format!("Operation failed: {}", messages::io_error_text(&e)))
    })?;
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let mut values = Vec::with_capacity(names.len());
    for (cpu, line) in lines.enumerate() {
        values.clear();
        values.extend(
            line.split_whitespace()
                .map(|v| u32::from_str_radix(v, 16).unwrap_or(0)),
        );
        format::write_proc_stats_line(out, cpu as u32, &names, &values);
    }
    Ok(())
}

fn stats(req: &CompatRequest) -> Result<u8, CompatError> {
    let mut conn = open(req)?;
    let mut out = Out::new();
    let r = if req.table == Table::Expect {
        conn.stats_expect_cpu(|s| format::write_exp_cpu_stats(&mut out.buf, s))
    } else {
        conn.stats_cpu(|s| format::write_cpu_stats(&mut out.buf, s))
    };
    match r {
        Ok(()) => Ok(0),
        Err(e) if req.table != Table::Expect => {
            // conntrack reports the failure, then prints /proc/net/stat/nf_conntrack.
            messages::print_error(&nl_fail(&e, req));
            out.buf.clear();
            proc_stats(&mut out.buf)?;
            Ok(1)
        }
        Err(e) => Err(nl_fail(&e, req)),
    }
}

fn list_expect(req: &CompatRequest) -> Result<u8, CompatError> {
    let mut conn = open(req)?;
    let mut out = Out::new();
    let mut n = 0u64;
    let xml = req.output.has(OutputFlags::XML);
    let json = req.output.has(OutputFlags::JSON);
    // conntrack 1.4.7 stamps listed expectations too with -o timestamp: the receive time
    // before each text line, `<when>` in XML.
    let stamp = req.output.has(OutputFlags::TIMESTAMP);
    conn.dump_expect(req.family.af(), |e| {
        let now = now_us();
        let o = format::expect::ExpectOptions {
            event_time: (stamp && !xml).then_some(now),
            when: (stamp && xml).then_some(now.0),
            ..Default::default()
        };
        if json {
            format::write_expect_json(&mut out.buf, e, &JsonOptions::default());
        } else if xml {
            if n == 0 {
                out.buf
                    .extend_from_slice(format::expect::EXPECT_XML_HEADER.as_bytes());
            }
            format::write_expect_xml(&mut out.buf, e, &o);
        } else {
            format::write_expect(&mut out.buf, e, &o);
        }
        n += 1;
        ControlFlow::Continue(())
    })
    .map_err(|e| nl_fail(&e, req))?;
    if xml && n > 0 {
        out.buf
            .extend_from_slice(format::expect::EXPECT_XML_FOOTER.as_bytes());
    }
    out.flush();
    summary(req, n);
    Ok(0)
}

fn get_expect(req: &CompatRequest) -> Result<u8, CompatError> {
    let mut conn = open(req)?;
    // conntrack sends the -s/-d/-p tuple (the kernel looks it up as an expected tuple,
    // under the expectation's mask), as for -D expect.
    let mut key = req.expect.unwrap_or_default();
    key.tuple = req.ct.flow.orig;
    let mut e = ctkit_model::Expect::default();
    conn.get_expect(req.family.af(), &key, &mut e)
        .map_err(|err| nl_fail(&err, req))?;
    let mut out = Out::new();
    if req.output.has(OutputFlags::JSON) {
        format::write_expect_json(&mut out.buf, &e, &JsonOptions::default());
    } else {
        format::write_expect(&mut out.buf, &e, &format::expect::ExpectOptions::default());
    }
    summary(req, 1);
    Ok(0)
}

fn delete_expect(req: &CompatRequest) -> Result<u8, CompatError> {
    let mut conn = open(req)?;
    let mut key = req.expect.unwrap_or_default();
    key.tuple = req.ct.flow.orig;
    conn.delete_expect(req.family.af(), &key)
        .map_err(|e| nl_fail(&e, req))?;
    // conntrack 1.4.7 counts nothing for a deleted expectation: it says `0 expectations have
    // been shown.` and exits 1, as for any command that counted 0 (-R rejects -D expect).
    summary(req, 0);
    Ok(1)
}

fn create_expect(req: &CompatRequest) -> Result<u8, CompatError> {
    let mut conn = open(req)?;
    let e = req.expect.unwrap_or_default();
    conn.create_expect(req.family.af(), &e)
        .map_err(|err| nl_fail(&err, req))?;
    summary(req, 1);
    Ok(0)
}

/// The formatter's name for a kernel event type.
fn event_kind(t: EventType) -> EventKind {
    match t {
        EventType::New => EventKind::New,
        EventType::Update => EventKind::Update,
        EventType::Destroy => EventKind::Destroy,
    }
}

fn events(req: &CompatRequest) -> Result<u8, CompatError> {
    let expect = req.table == Table::Expect;
    let groups = if req.options.has(crate::compat::options::Col::EventMask) {
        req.event_mask.groups(expect)
    } else if expect {
        vec![4, 5, 6]
    } else {
        vec![1, 2, 3]
    };
    let mut sock = EventSocket::subscribe(&groups).map_err(|e| {
        // conntrack: libmnl's perror, then its own message.
        eprintln!(
            "mnl_socket_bind: {}",
            messages::strerror(e.errno().unwrap_or(libc::EPERM))
        );
        CompatError::other("Can't open netlink socket")
    })?;
    if let Some(sz) = req.buffer_size {
        if let Ok(got) = sock.socket().set_rcvbuf(sz as usize) {
            eprintln!("NOTICE: Netlink socket buffer size has been set to {got} bytes.");
        }
    }
    if let Some(e) = &req.deferred_error {
        return Err(e.clone());
    }
    let counter = Arc::new(AtomicU64::new(0));
    let xml_open = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let counter = counter.clone();
        let xml_open = xml_open.clone();
        let table = req.table;
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ])
        .map_err(|e| CompatError::other(format!("Operation failed: {e}")))?;
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                let mut o = std::io::stdout().lock();
                if xml_open.load(Ordering::SeqCst) {
                    let footer = if table == Table::Expect {
                        format::expect::EXPECT_XML_FOOTER
                    } else {
                        format::xml::XML_FOOTER
                    };
                    let _ = o.write_all(footer.as_bytes());
                }
                let _ = o.flush();
                let n = counter.load(Ordering::SeqCst);
                let s = if table == Table::Expect {
                    messages::expect_events_summary(n)
                } else {
                    messages::summary(Command::Event, table, n).unwrap_or_default()
                };
                eprint!("{s}");
                std::process::exit(0);
            }
        });
    }
    let mut p = Printer::new(req);
    let mut port_names = crate::compat::portname::PortNames::default();
    let mut rcvbuf = sock.socket().rcvbuf().unwrap_or(212992);
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let r = sock.recv(|ev| {
            let t = now_us();
            match ev {
                Event::Flow { kind, flow, portid } => {
                    if !req.filter.matches(flow) {
                        return;
                    }
                    let k = event_kind(kind);
                    let name = if portid != 0 {
                        port_names.name(portid)
                    } else {
                        None
                    };
                    let us = (portid != 0).then_some(format::Userspace {
                        portid,
                        progname: name.as_deref(),
                    });
                    let rec = Record {
                        event: Some(k),
                        save_kind: k,
                        for_delete: false,
                        event_time: Some(t),
                        userspace: us,
                    };
                    p.flow(&mut out, flow, &rec);
                    if p.xml_started {
                        xml_open.store(true, Ordering::SeqCst);
                    }
                }
                Event::Expect { kind, expect, .. } => {
                    let k = event_kind(kind);
                    let event_time = req.output.has(OutputFlags::TIMESTAMP).then_some(t);
                    if req.output.has(OutputFlags::JSON) {
                        // Like flow events: JSON carries the receive time always.
                        let o = JsonOptions {
                            event: Some(k),
                            event_time: Some(t),
                            ..JsonOptions::default()
                        };
                        format::write_expect_json(&mut out, expect, &o);
                    } else if req.output.has(OutputFlags::XML) {
                        // The `<expect>` document opens before the first record.
                        if !xml_open.swap(true, Ordering::SeqCst) {
                            out.extend_from_slice(format::expect::EXPECT_XML_HEADER.as_bytes());
                        }
                        let o = format::expect::ExpectOptions {
                            event: Some(k),
                            when: event_time.map(|t| t.0),
                            ..Default::default()
                        };
                        format::write_expect_xml(&mut out, expect, &o);
                    } else {
                        let o = format::expect::ExpectOptions {
                            event: Some(k),
                            event_time,
                            ..Default::default()
                        };
                        format::write_expect(&mut out, expect, &o);
                    }
                }
            }
            // Each event is written as it arrives, even into a pipe.
            let mut o = std::io::stdout().lock();
            if let Err(e) = o.write_all(&out).and_then(|_| o.flush()) {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    crate::compat::closed_pipe();
                }
            }
            out.clear();
            counter.fetch_add(1, Ordering::SeqCst);
        });
        match r {
            Ok(()) => {}
            Err(e) if e.is_enobufs() => {
                eprintln!("WARNING: We have hit ENOBUFS! We are losing events.");
                eprintln!(
                    "This message means that the current netlink socket buffer size is too small."
                );
                eprintln!("Please, check --buffer-size in conntrack(8) manpage.");
                if rcvbuf < 64 << 20 {
                    rcvbuf = rcvbuf.saturating_mul(2);
                    if let Ok(got) = sock.socket().set_rcvbuf(rcvbuf) {
                        rcvbuf = got;
                    }
                }
            }
            Err(e) => return Err(nl_fail(&e, req)),
        }
    }
}
