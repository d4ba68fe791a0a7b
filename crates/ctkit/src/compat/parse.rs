//! conntrack 1.4.7's `do_parse`: argv → validated [`CompatRequest`].
//!
//! Follows conntrack-tools 1.4.7 `src/conntrack.c` (`do_parse`, `check_type`, `add_command`,
//! `parse_parameter[_mask]`, `parse_u32_mask`, `nfct_parse_addr_from_opt`, `findproto`,
//! `generic_opt_check`) and the `parse_options`/`final_check` of `extensions/libct_proto_*.c`.
//! Errors carry conntrack's exact text and exit class. State that conntrack keeps in globals
//! across the lines of a `-R` file (the last protocol handler, the output mask, the label map)
//! lives in [`ParseState`].

use crate::compat::cnum::{atoi, atol, strtoul};
use crate::compat::error::CompatError;
use crate::compat::getopt::{Getopt, Next};
use crate::compat::inet::{parse_addr, prefix_mask, split_address_and_port};
use crate::compat::labelmap;
use crate::compat::netdb;
use crate::compat::options::{
    self, matrix_row, proto_spec, CmdRow, Col, LongOpt, ProtoHandler, ProtoOpt, GENERIC_LONG_OPTS,
    GETOPT_STR, LABELMAP_VAL, LOOKUP_ORDER, NUMBER_OF_OPT, OPTFLAGS,
};
use crate::compat::request::*;
use ctkit_model::filter::{FlowFilter, IcmpMatch, NatMatch, Network, TupleMatch};
use ctkit_model::protoinfo::{
    DccpInfo, ProtoInfo, SctpInfo, TcpInfo, IP_CT_TCP_FLAG_BE_LIBERAL, IP_CT_TCP_FLAG_CLOSE_INIT,
    IP_CT_TCP_FLAG_SACK_PERM,
};
use ctkit_model::{Expect, Family, Labels, Status};
use std::net::IpAddr;
use std::path::PathBuf;

/// Where the parser reads system files from (injectable for tests).
#[derive(Clone, Debug)]
pub struct ParseEnv {
    /// `/etc/protocols`.
    pub protocols_path: PathBuf,
    /// `POSIXLY_CORRECT` set in the environment.
    pub posixly_correct: bool,
}

impl Default for ParseEnv {
    fn default() -> Self {
        ParseEnv {
            protocols_path: PathBuf::from(netdb::PROTOCOLS_PATH),
            posixly_correct: std::env::var_os("POSIXLY_CORRECT").is_some(),
        }
    }
}

/// conntrack's globals that survive from one parsed command to the next (`-R` lines).
#[derive(Clone, Debug)]
pub struct ParseState {
    /// The last protocol handler (`static struct ctproto_handler *h`).
    pub last_proto: Option<ProtoHandler>,
    /// `output_mask` (ORed over every `-o`, every line).
    pub output: u32,
    /// The label map once loaded.
    pub labelmap: Option<LabelMap>,
    /// Path the label map is read from (`--labelmap` changes it).
    pub labelmap_path: PathBuf,
    /// Lines conntrack writes to stderr while parsing (warnings, perror), in order.
    pub warnings: Vec<String>,
}

impl Default for ParseState {
    fn default() -> Self {
        ParseState {
            last_proto: None,
            output: 0,
            labelmap: None,
            labelmap_path: PathBuf::from(labelmap::CONNLABEL_PATH),
            warnings: Vec::new(),
        }
    }
}

impl ParseState {
    /// Whether parsing a line from `self` or from `other` gives the same result: equal in
    /// everything but the collected warnings.
    pub fn same_for_parsing(&self, other: &ParseState) -> bool {
        self.last_proto == other.last_proto
            && self.output == other.output
            && self.labelmap == other.labelmap
            && self.labelmap_path == other.labelmap_path
    }

    /// `labelmap_init`: load once; each failed attempt prints `nfct_labelmap_new: <strerror>`.
    fn labelmap_init(&mut self) {
        if self.labelmap.is_some() {
            return;
        }
        match labelmap::load(&self.labelmap_path) {
            Ok(m) => self.labelmap = Some(m),
            Err(e) => self.warnings.push(format!("nfct_labelmap_new: {e}\n")),
        }
    }

    fn label_bit(&self, name: &str) -> Result<u32, CompatError> {
        self.labelmap
            .as_ref()
            .and_then(|m| m.bit(name))
            .ok_or_else(|| CompatError::param(format!("unknown label '{name}'")))
    }
}

const OUTPUT_NAMES: [(&str, u32); 9] = [
    ("xml", OutputFlags::XML),
    ("extended", OutputFlags::EXTENDED),
    ("timestamp", OutputFlags::TIMESTAMP),
    ("id", OutputFlags::ID),
    ("ktimestamp", OutputFlags::KTIMESTAMP),
    ("labels", OutputFlags::LABELS),
    ("userspace", 0),
    ("save", OutputFlags::SAVE),
    ("json", OutputFlags::JSON),
];

const EVENT_NAMES: [(&str, u32); 4] = [
    ("ALL", EventMask::ALL),
    ("NEW", EventMask::NEW),
    ("UPDATES", EventMask::UPDATES),
    ("DESTROY", EventMask::DESTROY),
];

const STATUS_NAMES: [(&str, u32); 7] = [
    ("ASSURED", Status::ASSURED.0),
    ("SEEN_REPLY", Status::SEEN_REPLY.0),
    ("UNSET", 0),
    ("FIXED_TIMEOUT", Status::FIXED_TIMEOUT.0),
    ("EXPECTED", Status::EXPECTED.0),
    ("OFFLOAD", Status::OFFLOAD.0),
    ("HW_OFFLOAD", Status::HW_OFFLOAD.0),
];

/// `strncasecmp(token, name, token.len()) == 0`: the token is a case-insensitive prefix.
fn ci_prefix(token: &str, name: &str) -> bool {
    token.len() <= name.len()
        && name.as_bytes()[..token.len()].eq_ignore_ascii_case(token.as_bytes())
}

/// `do_parse_parameter`: the SRC_NAT/DST_NAT warnings come first, then the table, first match.
fn parse_token(
    token: &str,
    table: &[(&str, u32)],
    value: &mut u32,
    warnings: &mut Vec<String>,
) -> bool {
    if ci_prefix(token, "SRC_NAT") {
        warnings.push("WARNING: ignoring SRC_NAT, use --src-nat instead\n".into());
        return true;
    }
    if ci_prefix(token, "DST_NAT") {
        warnings.push("WARNING: ignoring DST_NAT, use --dst-nat instead\n".into());
        return true;
    }
    match table.iter().find(|(n, _)| ci_prefix(token, n)) {
        Some((_, v)) => {
            *value |= v;
            true
        }
        None => false,
    }
}

fn bad_parameter(rest: &str) -> CompatError {
    CompatError::param(format!("Bad parameter `{rest}'"))
}

/// `parse_parameter` (`-e`, `-o`).
fn parse_list(
    arg: &str,
    table: &[(&str, u32)],
    value: &mut u32,
    warnings: &mut Vec<String>,
) -> Result<(), CompatError> {
    let mut rest = arg;
    while let Some(comma) = rest.find(',') {
        if comma == 0 || !parse_token(&rest[..comma], table, value, warnings) {
            return Err(bad_parameter(rest));
        }
        rest = &rest[comma + 1..];
    }
    if rest.is_empty() || !parse_token(rest, table, value, warnings) {
        return Err(bad_parameter(rest));
    }
    Ok(())
}

/// `parse_parameter_mask` (`-u`): `!X` goes to the mask, `UNREPLIED` (case-sensitive prefix of
/// the rest of the string) masks SEEN_REPLY with value 0.
fn parse_status(
    arg: &str,
    status: &mut u32,
    mask: &mut u32,
    warnings: &mut Vec<String>,
) -> Result<(), CompatError> {
    let mut rest = arg;
    while let Some(comma) = rest.find(',') {
        if comma == 0 {
            return Err(bad_parameter(rest));
        }
        let negated = rest.starts_with('!');
        if negated {
            rest = &rest[1..];
        }
        let comma = comma - negated as usize;
        if comma == 0 {
            return Err(bad_parameter(rest));
        }
        if !negated && rest.starts_with("UNREPLIED") {
            *mask |= Status::SEEN_REPLY.0;
            rest = &rest[comma + 1..];
            continue;
        }
        let target = if negated { &mut *mask } else { &mut *status };
        if !parse_token(&rest[..comma], &STATUS_NAMES, target, warnings) {
            return Err(bad_parameter(rest));
        }
        rest = &rest[comma + 1..];
    }
    let negated = rest.starts_with('!');
    if negated {
        rest = &rest[1..];
    }
    if !negated && rest.starts_with("UNREPLIED") {
        *mask |= Status::SEEN_REPLY.0;
        return Ok(());
    }
    let target = if negated { mask } else { status };
    if rest.is_empty() || !parse_token(rest, &STATUS_NAMES, target, warnings) {
        return Err(bad_parameter(rest));
    }
    Ok(())
}

/// `parse_u32_mask`.
fn parse_mark(arg: &str) -> MarkMask {
    let v = strtoul(arg, 0);
    let value = v.value as u32;
    let mask = match arg[v.end..].strip_prefix('/') {
        Some(m) => strtoul(m, 0).value as u32,
        None => u32::MAX,
    };
    MarkMask { value, mask }
}

/// `findproto`: registered names (case-insensitive), then /etc/protocols (→ unknown handler),
/// then a number 0..255 (`strtoul` base 0, whole string).
fn findproto(env: &ParseEnv, name: &str) -> Option<Protocol> {
    for h in LOOKUP_ORDER {
        let spec = proto_spec(h);
        if spec.name.eq_ignore_ascii_case(name) {
            return Some(Protocol {
                num: spec.protonum,
                handler: h,
            });
        }
    }
    if let Some(num) = netdb::proto_by_name(&env.protocols_path, name) {
        return Some(Protocol {
            num,
            handler: ProtoHandler::Unknown,
        });
    }
    let c = strtoul(name, 0);
    if c.end == 0 || c.end != name.len() || c.value > 255 {
        return None;
    }
    let num = c.value as u8;
    let handler = LOOKUP_ORDER
        .iter()
        .copied()
        .find(|h| proto_spec(*h).protonum == num)
        .unwrap_or(ProtoHandler::Unknown);
    Some(Protocol { num, handler })
}

/// conntrack's command bits folded into (command, table, matrix row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cmd {
    command: Command,
    table: Table,
    row: CmdRow,
}

fn cmd2type(c: char, table: Table) -> Option<Cmd> {
    let exp = table == Table::Expect;
    let (command, row) = match (c, exp) {
        ('L', false) => (Command::List, CmdRow::CtList),
        ('L', true) => (Command::List, CmdRow::ExpList),
        ('I', false) => (Command::Create { excl: true }, CmdRow::CtCreate),
        ('I', true) => (Command::Create { excl: true }, CmdRow::ExpCreate),
        ('D', false) => (Command::Delete, CmdRow::CtDelete),
        ('D', true) => (Command::Delete, CmdRow::ExpDelete),
        ('G', false) => (Command::Get, CmdRow::CtGet),
        ('G', true) => (Command::Get, CmdRow::ExpGet),
        ('F', false) => (Command::Flush, CmdRow::CtFlush),
        ('F', true) => (Command::Flush, CmdRow::ExpFlush),
        ('E', false) => (Command::Event, CmdRow::CtEvent),
        ('E', true) => (Command::Event, CmdRow::ExpEvent),
        ('V', _) => (Command::Version, CmdRow::CtVersion),
        ('h', _) => (Command::Help, CmdRow::CtHelp),
        ('C', false) => (Command::Count, CmdRow::CtCount),
        ('C', true) => (Command::Count, CmdRow::ExpCount),
        ('S', false) => (Command::Stats, CmdRow::CtStats),
        ('S', true) => (Command::Stats, CmdRow::ExpStats),
        ('U', false) => (Command::Update, CmdRow::CtUpdate),
        ('A', false) => (Command::Create { excl: false }, CmdRow::CtAdd),
        _ => return None,
    };
    let table = match (c, table) {
        ('V' | 'h', _) => Table::Conntrack,
        (_, t) => t,
    };
    Some(Cmd {
        command,
        table,
        row,
    })
}

fn family_of(a: IpAddr) -> AddrFamily {
    match a {
        IpAddr::V4(_) => AddrFamily::Inet,
        IpAddr::V6(_) => AddrFamily::Inet6,
    }
}

fn model_family(f: AddrFamily) -> Option<Family> {
    match f {
        AddrFamily::Inet => Some(Family::Ipv4),
        AddrFamily::Inet6 => Some(Family::Ipv6),
        AddrFamily::Unspec => None,
    }
}

/// Which template an address option writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tmpl {
    Ct,
    Exp,
    Mask,
}

struct Parser<'a, 'w> {
    env: &'a ParseEnv,
    state: &'a mut ParseState,
    g: Getopt<'w>,
    /// The long options the `-p` handlers added (after [`GENERIC_LONG_OPTS`]).
    extra: Vec<LongOpt>,
    offset: u32,
    cmd: Option<Cmd>,
    options: OptionSet,
    family: AddrFamily,
    ct: CtTemplate,
    exp: CtTemplate,
    mask: CtTemplate,
    proto: Option<Protocol>,
    l4flags: u32,
    status: u32,
    status_mask: u32,
    status_given: bool,
    mark: Option<MarkMask>,
    event_mask: u32,
    buffer_size: Option<u64>,
    label_filter: Option<Labels>,
    label_modify: Option<Labels>,
    /// `-j IP` wrote the template's original IPv4 source (see
    /// `FlowFilter::orig_src_unmatchable`), not overwritten by a later IPv4 `-s`.
    any_nat_wrote_src: bool,
}

impl<'w> Parser<'_, 'w> {
    fn tmpl(&mut self, t: Tmpl) -> &mut CtTemplate {
        match t {
            Tmpl::Ct => &mut self.ct,
            Tmpl::Exp => &mut self.exp,
            Tmpl::Mask => &mut self.mask,
        }
    }

    fn long_name(&self, c: char) -> &'static str {
        GENERIC_LONG_OPTS
            .iter()
            .chain(self.extra.iter())
            .find(|o| o.val == c as u32)
            .map(|o| o.name)
            .unwrap_or("unknown")
    }

    fn set_family(&mut self, f: AddrFamily) -> Result<(), CompatError> {
        if self.family == AddrFamily::Unspec {
            self.family = f;
        } else if self.family != f {
            return Err(CompatError::param("mismatched address family"));
        }
        Ok(())
    }

    /// `nfct_set_addr_opt`.
    fn set_addr_opt(&mut self, c: char, t: Tmpl, a: IpAddr) {
        if let Some(col) = Col::of_val(c) {
            self.options.set(col);
        }
        let tp = self.tmpl(t);
        match c {
            's' | '{' | '[' => {
                tp.flow.orig.src = a;
                tp.attrs.set(Attrs::ORIG_SRC | Attrs::ORIG_L3PROTO);
                tp.flow.has_orig = true;
            }
            'd' | '}' | ']' => {
                tp.flow.orig.dst = a;
                tp.attrs.set(Attrs::ORIG_DST | Attrs::ORIG_L3PROTO);
                tp.flow.has_orig = true;
            }
            'r' => {
                tp.flow.reply.src = a;
                tp.attrs.set(Attrs::REPL_SRC | Attrs::REPL_L3PROTO);
                tp.flow.has_reply = true;
            }
            'q' => {
                tp.flow.reply.dst = a;
                tp.attrs.set(Attrs::REPL_DST | Attrs::REPL_L3PROTO);
                tp.flow.has_reply = true;
            }
            'n' => {
                tp.snat_ip = Some(a);
                tp.attrs.set(Attrs::SNAT_IP | Attrs::ORIG_L3PROTO);
            }
            'g' => {
                tp.dnat_ip = Some(a);
                tp.attrs.set(Attrs::DNAT_IP | Attrs::ORIG_L3PROTO);
            }
            // 'j': conntrack writes through table slots it never filled (see report); the NAT
            // details are set by the caller.
            _ => {}
        }
    }

    /// `nfct_parse_addr_from_opt`.
    fn addr_opt(
        &mut self,
        c: char,
        arg: &str,
        t: Tmpl,
        mask_t: Option<Tmpl>,
    ) -> Result<IpAddr, CompatError> {
        let (addr, masklen) = parse_addr(arg);
        let Some(addr) = addr else {
            return Err(CompatError::param(format!("Invalid IP address `{arg}'")));
        };
        self.set_family(family_of(addr))?;
        let maskopt = match c {
            's' | '[' => Some('{'),
            'd' | ']' => Some('}'),
            _ => None,
        };
        if masklen.is_some() && maskopt.is_none() {
            return Err(CompatError::param(format!(
                "CIDR notation unavailable for `--{}'",
                self.long_name(c)
            )));
        }
        if masklen == Some(Err(())) {
            return Err(CompatError::param("Invalid netmask"));
        }
        self.set_addr_opt(c, t, addr);
        let (Some(Ok(len)), Some(mo), Some(mt)) = (masklen, maskopt, mask_t) else {
            return Ok(addr);
        };
        let v6 = addr.is_ipv6();
        if len == if v6 { 128 } else { 32 } {
            return Ok(addr);
        }
        self.set_addr_opt(mo, mt, prefix_mask(v6, len));
        Ok(addr)
    }

    /// conntrack's `get_optional_arg`: nothing if getopt attached a value, else the next word
    /// unless it starts with `-` or `!`.
    fn optional_arg(&mut self, attached: Option<&str>) -> Option<&'w str> {
        if attached.is_some() {
            return None;
        }
        let w: &'w str = self.g.argv.get(self.g.optind)?;
        if w.starts_with('-') || w.starts_with('!') {
            return None;
        }
        self.g.optind += 1;
        Some(w)
    }

    fn check_type(&mut self, attached: Option<&str>) -> Result<Table, CompatError> {
        let Some(t) = self.optional_arg(attached) else {
            return Ok(Table::Conntrack);
        };
        for (name, table) in [
            ("expect", Table::Expect),
            ("conntrack", Table::Conntrack),
            ("dying", Table::Dying),
            ("unconfirmed", Table::Unconfirmed),
        ] {
            if name.starts_with(t) {
                return Ok(table);
            }
        }
        Err(CompatError::param(format!("unknown type `{t}'")))
    }

    fn add_command(&mut self, c: Cmd) -> Result<(), CompatError> {
        if self.cmd.is_some() {
            return Err(CompatError::param("Invalid commands combination"));
        }
        self.cmd = Some(c);
        Ok(())
    }

    fn command(&mut self, c: char, attached: Option<&str>) -> Result<(), CompatError> {
        let table = self.check_type(attached)?;
        if c == 'L' {
            let (lookup, keep) = match table {
                Table::Dying | Table::Unconfirmed => (Table::Conntrack, table),
                t => (t, t),
            };
            let mut cmd = cmd2type('L', lookup).expect("-L exists");
            cmd.table = keep;
            return self.add_command(cmd);
        }
        if matches!(table, Table::Dying | Table::Unconfirmed) {
            return Err(CompatError::param(
                "Can't do that command with tables `dying' and `unconfirmed'",
            ));
        }
        match cmd2type(c, table) {
            Some(cmd) => self.add_command(cmd),
            None => Err(CompatError::param(format!(
                "Can't do --{} on {}",
                self.long_name(c),
                if table == Table::Conntrack {
                    "conntrack"
                } else {
                    "expectations"
                }
            ))),
        }
    }

    fn labels_from(&mut self, arg: &str) -> Result<Labels, CompatError> {
        let mut l = Labels::default();
        // parse_label_get_max runs over every name first: same first error.
        for name in arg.split(',') {
            l.set(self.state.label_bit(name)?);
        }
        Ok(l)
    }

    fn proto_option(&mut self, val: u32, arg: &str) -> Result<(), CompatError> {
        let Some(h) = self.state.last_proto else {
            return Ok(());
        };
        let spec = proto_spec(h);
        // conntrack passes `c - h->option_offset` as a char: only the low byte survives.
        let Some((opt, bit)) = spec.code(val & 0xff) else {
            return Ok(());
        };
        let gre = h == ProtoHandler::Gre;
        let port = || -> u16 {
            if gre {
                strtoul(arg, 0).value as u16
            } else {
                atoi(arg) as u16
            }
        };
        let pnum = spec.protonum;
        match opt {
            ProtoOpt::OrigSport | ProtoOpt::OrigDport => set_port(
                &mut self.ct,
                false,
                opt == ProtoOpt::OrigSport,
                port(),
                pnum,
            ),
            ProtoOpt::ReplSport | ProtoOpt::ReplDport => {
                set_port(&mut self.ct, true, opt == ProtoOpt::ReplSport, port(), pnum)
            }
            ProtoOpt::MaskSport | ProtoOpt::MaskDport => set_port(
                &mut self.mask,
                false,
                opt == ProtoOpt::MaskSport,
                port(),
                pnum,
            ),
            ProtoOpt::TupleSport | ProtoOpt::TupleDport => {
                let p = port();
                // tcp/sctp/dccp store the network-order port's low byte as the protocol
                // (`nfct_set_attr_u8(exptuple, ATTR_ORIG_L4PROTO, port)`), udp/udplite/gre the
                // protocol number.
                let l4 = match h {
                    ProtoHandler::Tcp | ProtoHandler::Sctp | ProtoHandler::Dccp => (p >> 8) as u8,
                    _ => pnum,
                };
                let t = &mut self.exp;
                if opt == ProtoOpt::TupleSport {
                    t.flow.orig.sport = p;
                    t.attrs.set(Attrs::ORIG_PORT_SRC);
                } else {
                    t.flow.orig.dport = p;
                    t.attrs.set(Attrs::ORIG_PORT_DST);
                }
                t.flow.orig.proto = l4;
                t.attrs.set(Attrs::ORIG_L4PROTO);
            }
            ProtoOpt::State => self.state_option(h, arg)?,
            ProtoOpt::OrigVtag | ProtoOpt::ReplVtag => {
                // conntrack's sctp extension applies htonl and libnetfilter_conntrack htonl
                // again: the kernel gets the tag with its bytes swapped (on little-endian
                // hosts). -o save prints it swapped back, so its lines round-trip.
                let v = u32::from_be(atoi(arg) as u32);
                let mut info = match self.ct.flow.protoinfo {
                    Some(ProtoInfo::Sctp(s)) => s,
                    _ => SctpInfo::default(),
                };
                if opt == ProtoOpt::OrigVtag {
                    info.vtag_orig = Some(v);
                    self.ct.attrs.set(Attrs::SCTP_VTAG_ORIG);
                } else {
                    info.vtag_reply = Some(v);
                    self.ct.attrs.set(Attrs::SCTP_VTAG_REPL);
                }
                self.ct.flow.protoinfo = Some(ProtoInfo::Sctp(info));
            }
            ProtoOpt::Role => {
                let role = if ci_prefix(arg, "client") {
                    0
                } else if ci_prefix(arg, "server") {
                    1
                } else {
                    return Err(CompatError::param(format!("Unknown DCCP role `{arg}'")));
                };
                let mut info = match self.ct.flow.protoinfo {
                    Some(ProtoInfo::Dccp(d)) => d,
                    _ => DccpInfo::default(),
                };
                info.role = Some(role);
                self.ct.flow.protoinfo = Some(ProtoInfo::Dccp(info));
                self.ct.attrs.set(Attrs::DCCP_ROLE);
            }
            ProtoOpt::IcmpType | ProtoOpt::IcmpCode | ProtoOpt::IcmpId => {
                let t = &mut self.ct;
                match opt {
                    ProtoOpt::IcmpType => {
                        t.flow.orig.icmp_type = atoi(arg) as u8;
                        t.attrs.set(Attrs::ICMP_TYPE);
                    }
                    ProtoOpt::IcmpCode => {
                        t.flow.orig.icmp_code = atoi(arg) as u8;
                        t.attrs.set(Attrs::ICMP_CODE);
                    }
                    _ => {
                        t.flow.orig.icmp_id = atoi(arg) as u16;
                        t.attrs.set(Attrs::ICMP_ID);
                    }
                }
                t.flow.orig.proto = pnum;
                t.attrs.set(Attrs::ORIG_L4PROTO);
                if t.attrs.has(Attrs::REPL_L3PROTO) {
                    t.flow.reply.proto = pnum;
                    t.attrs.set(Attrs::REPL_L4PROTO);
                }
            }
        }
        self.l4flags |= 1 << bit;
        Ok(())
    }

    fn state_option(&mut self, h: ProtoHandler, arg: &str) -> Result<(), CompatError> {
        match h {
            ProtoHandler::Tcp => {
                let names = ctkit_model::TcpState::NAMES;
                let state = match names.iter().position(|n| *n == arg) {
                    Some(i) => i as u8,
                    None if arg == "LISTEN" => 9,
                    None => {
                        return Err(CompatError::param(format!("unknown TCP state `{arg}'")));
                    }
                };
                let mut info = match self.ct.flow.protoinfo {
                    Some(ProtoInfo::Tcp(t)) => t,
                    _ => TcpInfo::default(),
                };
                info.state = Some(state);
                self.ct.flow.protoinfo = Some(ProtoInfo::Tcp(info));
                self.ct.attrs.set(Attrs::TCP_STATE);
            }
            ProtoHandler::Sctp => {
                // conntrack 1.4.7 looks names up in an 8-entry table; unknown names crash it
                // (NULL strcmp). We report an error instead.
                const SCTP: [&str; 8] = [
                    "NONE",
                    "CLOSED",
                    "COOKIE_WAIT",
                    "COOKIE_ECHOED",
                    "ESTABLISHED",
                    "SHUTDOWN_SENT",
                    "SHUTDOWN_RECD",
                    "SHUTDOWN_ACK_SENT",
                ];
                let Some(i) = SCTP.iter().position(|n| *n == arg) else {
                    return Err(CompatError::param(format!("unknown SCTP state `{arg}'")));
                };
                let mut info = match self.ct.flow.protoinfo {
                    Some(ProtoInfo::Sctp(s)) => s,
                    _ => SctpInfo::default(),
                };
                info.state = Some(i as u8);
                self.ct.flow.protoinfo = Some(ProtoInfo::Sctp(info));
                self.ct.attrs.set(Attrs::SCTP_STATE);
            }
            ProtoHandler::Dccp => {
                let names = ctkit_model::protoinfo::DCCP_STATE_NAMES;
                let Some(i) = names.iter().position(|n| *n == arg) else {
                    return Err(CompatError::param(format!("Unknown DCCP state `{arg}'")));
                };
                let mut info = match self.ct.flow.protoinfo {
                    Some(ProtoInfo::Dccp(d)) => d,
                    _ => DccpInfo::default(),
                };
                info.state = Some(i as u8);
                self.ct.flow.protoinfo = Some(ProtoInfo::Dccp(info));
                self.ct.attrs.set(Attrs::DCCP_STATE);
            }
            _ => {}
        }
        Ok(())
    }

    fn nat_option(&mut self, c: char, attached: Option<&str>) -> Result<(), CompatError> {
        if let Some(col) = Col::of_val(c) {
            self.options.set(col);
        }
        let Some(arg) = self.optional_arg(attached) else {
            return Ok(());
        };
        let (address, port) = split_address_and_port(arg)?;
        let addr = self.addr_opt(c, &address, Tmpl::Ct, None)?;
        if c == 'j' {
            self.any_nat_wrote_src = true;
        }
        let port = port.map(|p| atoi(&p) as u16);
        let sides: &[char] = match c {
            'j' => &['g', 'n'],
            'n' => &['n'],
            _ => &['g'],
        };
        for side in sides {
            if *side == 'n' {
                self.ct.snat_ip = Some(addr);
                self.ct.attrs.set(Attrs::SNAT_IP);
                if let Some(p) = port {
                    self.ct.snat_port = Some(p);
                    self.ct.attrs.set(Attrs::SNAT_PORT);
                }
            } else {
                self.ct.dnat_ip = Some(addr);
                self.ct.attrs.set(Attrs::DNAT_IP);
                if let Some(p) = port {
                    self.ct.dnat_port = Some(p);
                    self.ct.attrs.set(Attrs::DNAT_PORT);
                }
            }
        }
        Ok(())
    }

    fn label_option(&mut self, c: char, arg: Option<&str>) -> Result<(), CompatError> {
        if let Some(col) = Col::of_val(c) {
            self.options.set(col);
        }
        self.state.labelmap_init();
        if self.options.has(Col::AddLabel) && self.options.has(Col::DelLabel) {
            return Err(CompatError::other(
                "cannot use --label-add and --label-del at the same time",
            ));
        }
        let arg = if c == '>' {
            match self.optional_arg(arg) {
                Some(a) => a,
                None => return Ok(()),
            }
        } else {
            arg.unwrap_or_default()
        };
        let l = self.labels_from(arg)?;
        let slot = if c == 'l' {
            &mut self.label_filter
        } else {
            &mut self.label_modify
        };
        let mut merged = slot.unwrap_or_default();
        for b in l.bits() {
            merged.set(b);
        }
        *slot = Some(merged);
        Ok(())
    }

    fn generic(&mut self, c: char, arg: Option<&str>) -> Result<(), CompatError> {
        let a = || arg.unwrap_or_default();
        match c {
            'L' | 'I' | 'D' | 'G' | 'F' | 'E' | 'V' | 'h' | 'C' | 'S' | 'U' | 'A' => {
                self.command(c, arg)?
            }
            's' | 'd' | 'r' | 'q' => {
                self.addr_opt(c, a(), Tmpl::Ct, Some(Tmpl::Mask))?;
                if c == 's' && self.ct.flow.orig.src.is_ipv4() {
                    self.any_nat_wrote_src = false;
                }
            }
            '[' | ']' => {
                self.addr_opt(c, a(), Tmpl::Exp, Some(Tmpl::Mask))?;
            }
            '{' | '}' => {
                self.addr_opt(c, a(), Tmpl::Mask, None)?;
            }
            'p' => {
                self.options.set(Col::Proto);
                let name = a();
                let Some(p) = findproto(self.env, name) else {
                    return Err(CompatError::param(format!("`{name}' unsupported protocol")));
                };
                self.offset += 256;
                let offset = self.offset;
                self.extra
                    .extend(proto_spec(p.handler).opts.iter().map(|o| LongOpt {
                        val: o.val + offset,
                        ..*o
                    }));
                self.ct.flow.orig.proto = p.num;
                self.ct.attrs.set(Attrs::ORIG_L4PROTO);
                self.state.last_proto = Some(p.handler);
                self.proto = Some(p);
            }
            't' => {
                self.options.set(Col::Timeout);
                self.ct.flow.timeout = Some(atol(a()) as u32);
                self.ct.attrs.set(Attrs::TIMEOUT);
            }
            'u' => {
                self.options.set(Col::Status);
                parse_status(
                    a(),
                    &mut self.status,
                    &mut self.status_mask,
                    &mut self.state.warnings,
                )?;
                // conntrack sets the kernel mask to the value only while it is still 0, so a
                // second -u keeps the first one's mask (`-u ASSURED -u SEEN_REPLY` lists
                // nothing: (status & ASSURED) == ASSURED|SEEN_REPLY never holds).
                if self.status_mask == 0 {
                    self.status_mask = self.status;
                }
                // conntrack 1.4.7 also stores the status value into its mark template
                // (`tmpl->mark.value = status`): after `-m V[/M] -u S` the mark value is S,
                // for the -L/-D filter, -U and -I alike; a later -m replaces it again.
                if let Some(m) = &mut self.mark {
                    m.value = self.status;
                }
                self.status_given = true;
                self.ct.flow.status = Some(Status(self.status));
                self.ct.attrs.set(Attrs::STATUS);
            }
            'e' => {
                self.options.set(Col::EventMask);
                parse_list(
                    a(),
                    &EVENT_NAMES,
                    &mut self.event_mask,
                    &mut self.state.warnings,
                )?;
            }
            'o' => {
                self.options.set(Col::Output);
                let mut out = self.state.output;
                let r = parse_list(a(), &OUTPUT_NAMES, &mut out, &mut self.state.warnings);
                self.state.output = out;
                r?;
                if out & OutputFlags::LABELS != 0 {
                    self.state.labelmap_init();
                }
                if out & OutputFlags::SAVE != 0 && out & !OutputFlags::SAVE != 0 {
                    return Err(CompatError::other(
                        "cannot combine save output with any other output type, use -o save only",
                    ));
                }
            }
            'z' => self.options.set(Col::Zero),
            'n' | 'g' | 'j' => self.nat_option(c, arg)?,
            'w' | '(' | ')' => {
                let v = strtoul(a(), 0).value as u16;
                let col = Col::of_val(c).expect("zone column");
                self.options.set(col);
                match c {
                    'w' => {
                        self.ct.flow.zone = Some(v);
                        self.ct.attrs.set(Attrs::ZONE);
                    }
                    '(' => {
                        self.ct.flow.orig.zone = Some(v);
                        self.ct.attrs.set(Attrs::ORIG_ZONE);
                    }
                    _ => {
                        self.ct.flow.reply.zone = Some(v);
                        self.ct.attrs.set(Attrs::REPL_ZONE);
                    }
                }
            }
            'i' | 'c' => {
                let v = strtoul(a(), 0).value as u32;
                if c == 'i' {
                    self.options.set(Col::Id);
                    self.ct.flow.id = Some(v);
                    self.ct.attrs.set(Attrs::ID);
                } else {
                    self.options.set(Col::Secmark);
                    self.ct.flow.secmark = Some(v);
                    self.ct.attrs.set(Attrs::SECMARK);
                }
            }
            'm' => {
                self.options.set(Col::Mark);
                self.mark = Some(parse_mark(a()));
            }
            'l' | '<' | '>' => self.label_option(c, arg)?,
            'a' => self
                .state
                .warnings
                .push("WARNING: ignoring -a, deprecated option.\n".into()),
            'f' => {
                self.options.set(Col::Family);
                let v = a();
                if v.starts_with("ipv4") {
                    self.set_family(AddrFamily::Inet)?;
                } else if v.starts_with("ipv6") {
                    self.set_family(AddrFamily::Inet6)?;
                } else {
                    return Err(CompatError::param(format!("`{v}' unsupported protocol")));
                }
            }
            'b' => {
                self.buffer_size = Some(atol(a()) as u64);
                self.options.set(Col::BufferSize);
            }
            LABELMAP_VAL => {
                self.state.labelmap_path = PathBuf::from(a());
                self.state.labelmap = None;
            }
            _ => {}
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), CompatError> {
        loop {
            match self.g.next(GETOPT_STR, &[GENERIC_LONG_OPTS, &self.extra]) {
                Next::End => return Ok(()),
                Next::MissingArg => {
                    return Err(CompatError::param(format!(
                        "option `{}' requires an argument",
                        self.g.previous()
                    )))
                }
                Next::Unknown => {
                    return Err(CompatError::param(format!(
                        "unknown option `{}'",
                        self.g.previous()
                    )))
                }
                Next::Opt { val, arg } if val >= 256 => {
                    self.proto_option(val, arg.unwrap_or(""))?
                }
                Next::Opt { val, arg } => {
                    let c = char::from_u32(val).unwrap_or('\0');
                    self.generic(c, arg)?
                }
            }
        }
    }
}

/// `generic_opt_check` over one matrix row; `pairs` are the coupled flag sets for the "3" rule.
/// Returns `Ok(None)` when fine, `Ok(Some(partial))` when the pairing rule failed.
fn opt_check(
    given: u32,
    row: &[u8],
    num_opts: usize,
    names: &[&str],
    pairs: Option<[u32; 2]>,
) -> Result<Option<i32>, CompatError> {
    let mut special = false;
    for i in 0..num_opts {
        let cell = row.get(i).copied().unwrap_or(0);
        let name = names.get(i).copied().unwrap_or("(null)");
        if given & (1 << i) == 0 {
            if cell == options::COMPULSORY {
                return Err(CompatError::param(format!(
                    "You need to supply the `--{name}' option for this command"
                )));
            }
        } else if cell == options::ILLEGAL {
            return Err(CompatError::param(format!(
                "Illegal option `--{name}' with this command"
            )));
        }
        if cell == options::PAIRED {
            special = true;
        }
    }
    let Some(pairs) = pairs.filter(|_| special) else {
        return Ok(None);
    };
    let mut partial = -1;
    for (i, p) in pairs.iter().enumerate() {
        if given & p == *p {
            return Ok(None);
        }
        if given & p != 0 && partial < 0 {
            partial = i as i32;
        }
    }
    Ok(Some(partial))
}

/// Sets one port of a template's original or reply tuple, with the protocol it belongs to,
/// and marks both attributes as given (`ATTR_*_PORT_*`, `ATTR_*_L4PROTO`).
fn set_port(t: &mut CtTemplate, reply: bool, src: bool, port: u16, proto: u8) {
    let (tuple, port_attr, proto_attr) = match (reply, src) {
        (false, true) => (&mut t.flow.orig, Attrs::ORIG_PORT_SRC, Attrs::ORIG_L4PROTO),
        (false, false) => (&mut t.flow.orig, Attrs::ORIG_PORT_DST, Attrs::ORIG_L4PROTO),
        (true, true) => (&mut t.flow.reply, Attrs::REPL_PORT_SRC, Attrs::REPL_L4PROTO),
        (true, false) => (&mut t.flow.reply, Attrs::REPL_PORT_DST, Attrs::REPL_L4PROTO),
    };
    if src {
        tuple.sport = port;
    } else {
        tuple.dport = port;
    }
    tuple.proto = proto;
    t.attrs.set(port_attr);
    t.attrs.set(proto_attr);
}

/// Parses one conntrack command line (`argv[0]` included) into a validated request.
pub fn parse(
    argv: Vec<String>,
    env: &ParseEnv,
    state: &mut ParseState,
) -> Result<CompatRequest, CompatError> {
    parse_words(argv.iter().map(String::as_str).collect(), env, state)
}

/// [`parse`] over borrowed words (the `-R` loader splits each line into one buffer).
pub fn parse_words(
    argv: Vec<&str>,
    env: &ParseEnv,
    state: &mut ParseState,
) -> Result<CompatRequest, CompatError> {
    let mut p = Parser {
        env,
        g: Getopt::new(argv, env.posixly_correct),
        state,
        extra: Vec::new(),
        offset: 0,
        cmd: None,
        options: OptionSet::default(),
        family: AddrFamily::Unspec,
        ct: CtTemplate::default(),
        exp: CtTemplate::default(),
        mask: CtTemplate::default(),
        proto: None,
        l4flags: 0,
        status: 0,
        status_mask: 0,
        status_given: false,
        mark: None,
        event_mask: 0,
        buffer_size: None,
        label_filter: None,
        label_modify: None,
        any_nat_wrote_src: false,
    };
    p.run()?;
    finish(&mut p)
}

fn finish(p: &mut Parser<'_, '_>) -> Result<CompatRequest, CompatError> {
    let cmd = p.cmd.unwrap_or(Cmd {
        command: Command::Help,
        table: Table::Conntrack,
        row: CmdRow::None,
    });
    if p.family == AddrFamily::Unspec
        && !matches!(
            cmd.row,
            CmdRow::CtList
                | CmdRow::CtUpdate
                | CmdRow::CtDelete
                | CmdRow::CtGet
                | CmdRow::CtFlush
                | CmdRow::CtEvent
        )
    {
        p.family = AddrFamily::Inet;
    }
    if p.options.has(Col::AnyNat) && (p.options.has(Col::SrcNat) || p.options.has(Col::DstNat)) {
        return Err(CompatError::param(
            "cannot specify `--src-nat' or `--dst-nat' with `--any-nat'",
        ));
    }
    let row = matrix_row(cmd.row);
    let pairs = [
        Col::OrigSrc.bit() | Col::OrigDst.bit(),
        Col::ReplSrc.bit() | Col::ReplDst.bit(),
    ];
    match opt_check(p.options.0, &row, NUMBER_OF_OPT, &OPTFLAGS, Some(pairs))? {
        None => {}
        Some(1) => {
            return Err(CompatError::param(
                "you have to specify `--reply-src' and `--reply-dst'",
            ))
        }
        Some(_) => {
            return Err(CompatError::param(
                "you have to specify `--src' and `--dst'",
            ))
        }
    }
    if cmd.command != Command::Help {
        if let Some(h) = p.state.last_proto.filter(|h| *h != ProtoHandler::Unknown) {
            let spec = proto_spec(h);
            let mut prow = [0u8; 32];
            for (i, cell) in prow.iter_mut().enumerate().take(spec.num_opts) {
                *cell = spec.cell(cmd.row, i);
            }
            let prow = &prow[..spec.num_opts.min(32)];
            let pairs = spec.paired.then_some([0b11, 0b1100]);
            match opt_check(p.l4flags, prow, spec.num_opts, spec.optflags, pairs)? {
                None => {}
                Some(1) => return Err(CompatError::param(spec.pair_msg_reply)),
                Some(_) => return Err(CompatError::param(spec.pair_msg_orig)),
            }
            if h == ProtoHandler::Tcp {
                let state = match p.ct.flow.protoinfo {
                    Some(ProtoInfo::Tcp(t)) => t.state.unwrap_or(0),
                    _ => 0,
                };
                let mut flags = IP_CT_TCP_FLAG_BE_LIBERAL | IP_CT_TCP_FLAG_SACK_PERM;
                if state >= 7 {
                    flags |= IP_CT_TCP_FLAG_CLOSE_INIT;
                }
                let mut info = match p.ct.flow.protoinfo {
                    Some(ProtoInfo::Tcp(t)) => t,
                    _ => TcpInfo::default(),
                };
                info.flags_orig = Some((flags, flags));
                info.flags_reply = Some((flags, flags));
                p.ct.flow.protoinfo = Some(ProtoInfo::Tcp(info));
                p.ct.attrs.set(Attrs::TCP_FLAGS);
            }
        }
    }
    let filters = matches!(
        (cmd.row, cmd.table),
        (CmdRow::CtList, Table::Conntrack)
            | (CmdRow::CtUpdate, _)
            | (CmdRow::CtDelete, _)
            | (CmdRow::CtEvent, _)
    );
    let mut deferred = None;
    if cmd.row == CmdRow::CtList
        && cmd.table == Table::Conntrack
        && p.options.any_comparison()
        && p.options.has(Col::Zero)
    {
        deferred = Some(CompatError::param("Can't use -z with filtering parameters"));
    }
    if filters && deferred.is_none() {
        if p.options.has(Col::MaskSrc) && !p.options.has(Col::OrigSrc) {
            deferred = Some(CompatError::param("Can't use --mask-src without --src"));
        } else if p.options.has(Col::MaskDst) && !p.options.has(Col::OrigDst) {
            deferred = Some(CompatError::param("Can't use --mask-dst without --dst"));
        }
    }
    let status = p.status_given.then_some(StatusSpec {
        value: p.status,
        kernel_mask: p.status_mask,
    });
    let label_modify = if p.options.has(Col::AddLabel) {
        Some(LabelModify::Add(p.label_modify.unwrap_or_default()))
    } else if p.options.has(Col::DelLabel) {
        Some(LabelModify::Del(p.label_modify))
    } else {
        None
    };
    let filter = build_filter(p, filters);
    let expect = (cmd.table == Table::Expect).then(|| Expect {
        master: p.ct.flow.orig,
        tuple: p.exp.flow.orig,
        mask: p.mask.flow.orig,
        timeout: p.ct.flow.timeout,
        ..Expect::default()
    });
    let proto_help = match (cmd.command, p.proto) {
        (Command::Help, Some(pr)) if p.options.has(Col::Proto) => {
            let spec = proto_spec(pr.handler);
            let name = if pr.handler == ProtoHandler::Unknown {
                netdb::proto_by_number(&p.env.protocols_path, pr.num)
                    .unwrap_or_else(|| "unknown".to_string())
            } else {
                spec.name.to_string()
            };
            Some((name, spec.help))
        }
        _ => None,
    };
    Ok(CompatRequest {
        command: cmd.command,
        table: cmd.table,
        row: cmd.row,
        family: p.family,
        options: p.options,
        proto: p.proto,
        ct: p.ct,
        exptuple: p.exp,
        mask: p.mask,
        expect,
        mark: p.mark,
        status,
        zero: p.options.has(Col::Zero),
        output: OutputFlags(p.state.output),
        event_mask: EventMask(p.event_mask),
        buffer_size: p.buffer_size,
        label_filter: p.label_filter,
        label_modify,
        labelmap: p.state.labelmap.clone(),
        filter,
        deferred_error: deferred,
        proto_help,
    })
}

fn tuple_match(t: &CtTemplate, orig: bool) -> TupleMatch {
    let a = t.attrs;
    let (tp, l3, l4, src, dst, sp, dp, zone) = if orig {
        (
            &t.flow.orig,
            Attrs::ORIG_L3PROTO,
            Attrs::ORIG_L4PROTO,
            Attrs::ORIG_SRC,
            Attrs::ORIG_DST,
            Attrs::ORIG_PORT_SRC,
            Attrs::ORIG_PORT_DST,
            Attrs::ORIG_ZONE,
        )
    } else {
        (
            &t.flow.reply,
            Attrs::REPL_L3PROTO,
            Attrs::REPL_L4PROTO,
            Attrs::REPL_SRC,
            Attrs::REPL_DST,
            Attrs::REPL_PORT_SRC,
            Attrs::REPL_PORT_DST,
            Attrs::REPL_ZONE,
        )
    };
    let l3fam = if a.has(src) {
        Some(tp.src)
    } else if a.has(dst) {
        Some(tp.dst)
    } else {
        t.snat_ip.or(t.dnat_ip)
    };
    TupleMatch {
        l3: if a.has(l3) {
            l3fam.map(|ip| {
                if ip.is_ipv6() {
                    Family::Ipv6
                } else {
                    Family::Ipv4
                }
            })
        } else {
            None
        },
        proto: a.has(l4).then_some(tp.proto),
        src: a.has(src).then_some(tp.src),
        dst: a.has(dst).then_some(tp.dst),
        sport: a.has(sp).then_some(tp.sport),
        dport: a.has(dp).then_some(tp.dport),
        zone: if a.has(zone) { tp.zone } else { None },
    }
}

fn build_filter(p: &Parser<'_, '_>, filters: bool) -> FlowFilter {
    let ct = &p.ct;
    let a = ct.attrs;
    let mut orig = tuple_match(ct, true);
    let mut src_net = None;
    let mut dst_net = None;
    let fam = model_family(p.family);
    // After `-s NET/LEN -j IP` the CIDR check reads the overwritten source: no match either.
    let orig_src_unmatchable = p.any_nat_wrote_src;
    if filters {
        if let Some(fam) = fam {
            if p.options.has(Col::MaskSrc) && a.has(Attrs::ORIG_SRC) {
                let m = p.mask.flow.orig.src;
                src_net = masked_net(fam, ct.flow.orig.src, m);
                orig.src = None;
            }
            if p.options.has(Col::MaskDst) && a.has(Attrs::ORIG_DST) {
                let m = p.mask.flow.orig.dst;
                dst_net = masked_net(fam, ct.flow.orig.dst, m);
                orig.dst = None;
            }
        }
    }
    let (tcp, sctp, dccp) = match ct.flow.protoinfo {
        Some(ProtoInfo::Tcp(t)) => (t.state, None, None),
        Some(ProtoInfo::Sctp(s)) => (None, s.state, None),
        Some(ProtoInfo::Dccp(d)) => (None, None, d.state),
        None => (None, None, None),
    };
    let nat = |ip: Option<IpAddr>, port: Option<u16>| NatMatch { addr: ip, port };
    let o = p.options;
    FlowFilter {
        compare: o.any_comparison(),
        orig,
        reply: tuple_match(ct, false),
        icmp: IcmpMatch {
            icmp_type: a.has(Attrs::ICMP_TYPE).then_some(ct.flow.orig.icmp_type),
            code: a.has(Attrs::ICMP_CODE).then_some(ct.flow.orig.icmp_code),
            id: a.has(Attrs::ICMP_ID).then_some(ct.flow.orig.icmp_id),
        },
        id: ct.flow.id,
        mark_exact: None,
        timeout: ct.flow.timeout,
        status_subset: ct.flow.status.map(|s| s.0),
        status_masked: None,
        tcp_state: tcp,
        sctp_state: sctp,
        dccp_state: dccp,
        zone: ct.flow.zone,
        orig_src_unmatchable,
        mark: p.mark.map(|m| (m.value, m.mask)),
        src_nat: o.has(Col::SrcNat).then(|| nat(ct.snat_ip, ct.snat_port)),
        dst_nat: o.has(Col::DstNat).then(|| nat(ct.dnat_ip, ct.dnat_port)),
        any_nat: o.has(Col::AnyNat).then(|| nat(ct.snat_ip, ct.snat_port)),
        labels: p.label_filter,
        src_net,
        dst_net,
        family: fam,
        update_cmp_orig: o.0 & (Col::OrigSrc.bit() | Col::OrigDst.bit() | Col::Proto.bit()) != 0,
        update_cmp_repl: o.0 & (Col::ReplSrc.bit() | Col::ReplDst.bit() | Col::Proto.bit()) != 0,
    }
}

fn masked_net(fam: Family, addr: IpAddr, mask: IpAddr) -> Option<Network> {
    // An unset mask attribute reads as zeroes in conntrack (`nfct_get_attr` of a fresh object).
    let mask = match (addr, mask) {
        (IpAddr::V6(_), IpAddr::V4(_)) => IpAddr::V6(0u128.into()),
        (_, m) => m,
    };
    let network = match (addr, mask) {
        (IpAddr::V4(a), IpAddr::V4(m)) => IpAddr::V4((a.to_bits() & m.to_bits()).into()),
        (IpAddr::V6(a), IpAddr::V6(m)) => IpAddr::V6((a.to_bits() & m.to_bits()).into()),
        _ => return None,
    };
    Some(Network {
        family: fam,
        network,
        mask,
    })
}
