//! `-R` line templates: validating a big file without running the full option parser on every
//! line.
//!
//! The files `-R` loads (conntrack's `-o save` output, generated tables) repeat one line shape
//! with other addresses, ports and timeouts. The first line of a shape is parsed by
//! [`parse_words`](crate::compat::parse::parse_words) and kept as a template; a later line
//! whose words equal the template's, except the values of the address (`-s -d -r -q`), port
//! (`--sport --dport --reply-port-src --reply-port-dst` and their long forms) and timeout
//! (`-t`) options, reuses the template's request with those values parsed by the functions
//! the parser itself calls on them (`parse_addr`, `atoi`, `atol`; plain dotted quads and up
//! to nine decimal digits are converted directly, to the same result) and written where it
//! writes them (`nfct_set_addr_opt`, the port setters of `extensions/libct_proto_*.c`,
//! `ATTR_TIMEOUT`). A line laid out like its template (same blanks) is compared in one piece
//! between its values, any other word by word.
//!
//! Why that is the parser's result: a template line is `-I` or `-A` followed by option/value
//! pairs, every option spelled out in full and taking a required argument. glibc's
//! `getopt_long` consumes the word after such an option as its argument whatever its text, so
//! two lines of one shape run the same options in the same order, with the same values except
//! in the value slots, and no option's outcome depends on another option's value but the
//! address family, which is checked. A value that would make the parser fail (an address that
//! does not parse, a netmask, another family) sends the line to the parser, which reports it.
//! The parser state the template started from must match (`-p` handler, output mask, label
//! map), and options that change that state or print warnings are not part of any template.

use crate::compat::cnum::{atoi, atol};
use crate::compat::inet::parse_addr;
use crate::compat::options::{proto_spec, ProtoHandler, ProtoOpt, PROTOS};
use crate::compat::parse::ParseState;
use crate::compat::request::{AddrFamily, Command, CompatRequest, Table};
use ctkit_model::Flow;
use std::net::IpAddr;

/// Templates kept per validating thread (a file may alternate a few shapes, e.g. TCP and UDP).
const MAX_TEMPLATES: usize = 4;
/// Longest template line, in words (conntrack allows 255).
const MAX_WORDS: usize = 64;
/// A word this long goes to the parser, which reports `Parameter too long!` at 1024.
const MAX_WORD: usize = 1000;

/// What an option word of a template line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opt {
    /// `-s`/`-d`/`-r`/`-q`: the letter.
    Addr(char),
    /// `-t`.
    Timeout,
    /// `-p`: at most one per template (two would mix two handlers' option tables).
    Proto,
    /// A generic option whose value is compared, not substituted.
    Fixed,
    /// A protocol option (known once the template's handler is): the long name.
    ProtoName(&'static str),
}

/// Generic options a template may hold: each takes a required argument, and none changes the
/// parser state or warns.
const GENERIC: &[(&str, Opt)] = &[
    ("-s", Opt::Addr('s')),
    ("--src", Opt::Addr('s')),
    ("--orig-src", Opt::Addr('s')),
    ("-d", Opt::Addr('d')),
    ("--dst", Opt::Addr('d')),
    ("--orig-dst", Opt::Addr('d')),
    ("-r", Opt::Addr('r')),
    ("--reply-src", Opt::Addr('r')),
    ("-q", Opt::Addr('q')),
    ("--reply-dst", Opt::Addr('q')),
    ("-t", Opt::Timeout),
    ("--timeout", Opt::Timeout),
    ("-p", Opt::Proto),
    ("--protonum", Opt::Proto),
    ("-u", Opt::Fixed),
    ("--status", Opt::Fixed),
    ("-m", Opt::Fixed),
    ("--mark", Opt::Fixed),
    ("-c", Opt::Fixed),
    ("--secmark", Opt::Fixed),
    ("-w", Opt::Fixed),
    ("--zone", Opt::Fixed),
    ("--orig-zone", Opt::Fixed),
    ("--reply-zone", Opt::Fixed),
    ("-f", Opt::Fixed),
    ("--family", Opt::Fixed),
];

fn classify(word: &[u8]) -> Option<Opt> {
    if let Some((_, o)) = GENERIC.iter().find(|(n, _)| n.as_bytes() == word) {
        return Some(*o);
    }
    let name = word.strip_prefix(b"--")?;
    // Every protocol option takes a required argument (`lv` in options.rs).
    PROTOS
        .iter()
        .flat_map(|p| p.opts.iter())
        .find(|o| o.name.as_bytes() == name)
        .map(|o| Opt::ProtoName(o.name))
}

/// Handlers whose four port options are set with `atoi` (GRE's use `strtoul`).
fn atoi_ports(h: ProtoHandler) -> bool {
    matches!(
        h,
        ProtoHandler::Tcp
            | ProtoHandler::Udp
            | ProtoHandler::Udplite
            | ProtoHandler::Sctp
            | ProtoHandler::Dccp
    )
}

/// Up to nine decimal digits: what `atoi`/`atol` (`strtol(word, NULL, 10)`) return for them.
fn digits(word: &[u8]) -> Option<u32> {
    if word.is_empty() || word.len() > 9 || !word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(word.iter().fold(0, |v, &c| v * 10 + u32::from(c - b'0')))
}

fn family_of(a: IpAddr) -> AddrFamily {
    match a {
        IpAddr::V4(_) => AddrFamily::Inet,
        IpAddr::V6(_) => AddrFamily::Inet6,
    }
}

/// An address in plain dotted-quad form (four decimal parts of at most three digits, no
/// leading zero, each at most 255): what `parse_addr` (glibc `inet_aton`) returns for it;
/// `None` for any other text, which goes to `parse_addr` itself.
fn dotted_quad(word: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut parts = [0u8; 4];
    let (mut n, mut v, mut digits) = (0usize, 0u32, 0u32);
    for &c in word {
        if c.is_ascii_digit() {
            // No leading zero: "0" alone is a part, "01" is inet_aton's octal.
            if digits == 3 || (digits == 1 && v == 0) {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
            digits += 1;
        } else if c == b'.' && digits > 0 && n < 3 {
            parts[n] = u8::try_from(v).ok()?;
            (n, v, digits) = (n + 1, 0, 0);
        } else {
            return None;
        }
    }
    if n != 3 || digits == 0 {
        return None;
    }
    parts[3] = u8::try_from(v).ok()?;
    Some(std::net::Ipv4Addr::from(parts))
}

/// The word separators of `Words::split`.
fn blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n')
}

/// What a word of a template line does with a new line's word in its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Must be byte-equal.
    Same,
    /// An address option's value: `s`, `d`, `r` or `q`.
    Addr(char),
    /// A port option's value: reply tuple?, source port?
    Port { reply: bool, src: bool },
    /// `-t`'s value.
    Timeout,
}

/// A value parsed from a slot.
#[derive(Clone, Copy, Debug)]
enum Val {
    Addr(IpAddr),
    Num(u32),
}

/// The blank-separated words of a line as `Words::split` cuts them, or `None` when the line
/// holds anything that splitter treats specially (quotes, NUL) or a very long word.
fn words(line: &[u8], out: &mut Vec<(u32, u32)>) -> Option<()> {
    out.clear();
    let mut start = None;
    for (i, &c) in line.iter().enumerate() {
        match c {
            b'"' | 0 => return None,
            b' ' | b'\t' | b'\n' => {
                if let Some(s) = start.take() {
                    out.push((s as u32, i as u32));
                }
            }
            _ => {
                if start.is_none() {
                    start = Some(i);
                }
            }
        }
    }
    if let Some(s) = start {
        out.push((s as u32, line.len() as u32));
    }
    let ok = out.len() <= MAX_WORDS && out.iter().all(|&(s, e)| (e - s) as usize <= MAX_WORD);
    ok.then_some(())
}

/// The option words of a line of template shape: `-I|-A (OPT VALUE)*`, at most one `-p`.
fn shape(line: &[u8], w: &[(u32, u32)]) -> Option<Vec<Option<Opt>>> {
    let word = |i: usize| &line[w[i].0 as usize..w[i].1 as usize];
    if w.len().is_multiple_of(2) || !matches!(word(0), b"-I" | b"-A") {
        return None;
    }
    let mut opts = vec![None; w.len()];
    let mut protos = 0;
    for i in (1..w.len()).step_by(2) {
        let o = classify(word(i))?;
        protos += usize::from(o == Opt::Proto);
        opts[i] = Some(o);
    }
    (protos <= 1).then_some(opts)
}

/// One learned line shape.
#[derive(Debug)]
struct Template {
    /// The template line's bytes and word spans.
    text: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// Per word: what a new line's word there means.
    slots: Vec<Slot>,
    /// The text around the value words (one more than `value_slots`), and their slots.
    segs: Vec<(u32, u32)>,
    value_slots: Vec<Slot>,
    /// The request, values rewritten by each line that matches.
    req: CompatRequest,
    /// The family every address must have.
    family: AddrFamily,
    /// The parser state the template was parsed from (warnings cleared).
    before: ParseState,
    /// What parsing the line left in the state (`-p` sets the handler).
    after_proto: Option<ProtoHandler>,
}

impl Template {
    /// Parses `line` against this template: `None` unless it has the template's shape and
    /// every value parses as the parser would take it.
    fn values(&self, line: &[u8], vals: &mut Vec<Val>) -> Option<()> {
        vals.clear();
        if self.values_in_layout(line, vals).is_some() {
            return Some(());
        }
        vals.clear();
        self.values_by_word(line, vals)
    }

    /// [`Template::values`] for a line laid out as the template (the same blanks between
    /// words, the same end): the text between value words is compared in one piece.
    fn values_in_layout(&self, line: &[u8], vals: &mut Vec<Val>) -> Option<()> {
        let (last, segs) = self.segs.split_last()?;
        let mut pos = 0;
        for (&(s, e), slot) in segs.iter().zip(&self.value_slots) {
            let seg = &self.text[s as usize..e as usize];
            if !line[pos..].starts_with(seg) {
                return None;
            }
            pos += seg.len();
            let rest = &line[pos..];
            let len = rest.iter().position(|&c| blank(c)).unwrap_or(rest.len());
            self.value(*slot, &rest[..len], vals)?;
            pos += len;
        }
        (line[pos..] == self.text[last.0 as usize..last.1 as usize]).then_some(())
    }

    /// [`Template::values`] word by word: a fixed word is compared in place, a value word is
    /// cut at the next blank.
    fn values_by_word(&self, line: &[u8], vals: &mut Vec<Val>) -> Option<()> {
        let mut pos = 0;
        for (&(ts, te), slot) in self.spans.iter().zip(&self.slots) {
            while pos < line.len() && blank(line[pos]) {
                pos += 1;
            }
            let rest = &line[pos..];
            if *slot == Slot::Same {
                let want = &self.text[ts as usize..te as usize];
                if !rest.starts_with(want) || rest.get(want.len()).is_some_and(|&c| !blank(c)) {
                    return None;
                }
                pos += want.len();
                continue;
            }
            let len = rest.iter().position(|&c| blank(c)).unwrap_or(rest.len());
            self.value(*slot, &rest[..len], vals)?;
            pos += len;
        }
        // Nothing but blanks after the last word.
        line[pos..].iter().all(|&c| blank(c)).then_some(())
    }

    /// Parses the value `word` of `slot` onto `vals`.
    fn value(&self, slot: Slot, word: &[u8], vals: &mut Vec<Val>) -> Option<()> {
        // Plain forms first: digits and dots only, nothing the splitter treats specially.
        let plain = match slot {
            Slot::Addr(_) if self.family == AddrFamily::Inet => {
                dotted_quad(word).map(|a| Val::Addr(IpAddr::V4(a)))
            }
            Slot::Port { .. } => digits(word).map(|v| Val::Num(v as u16 as u32)),
            Slot::Timeout => digits(word).map(Val::Num),
            _ => None,
        };
        if let Some(v) = plain {
            vals.push(v);
            return Some(());
        }
        // What the splitter treats specially, or no word at all: the parser decides.
        if word.is_empty() || word.len() > MAX_WORD || word.iter().any(|&c| c == b'"' || c == 0) {
            return None;
        }
        let text = std::str::from_utf8(word).ok()?;
        let v = match slot {
            Slot::Addr(_) => match parse_addr(text) {
                (Some(a), None) if family_of(a) == self.family => Val::Addr(a),
                _ => return None,
            },
            Slot::Port { .. } => Val::Num(atoi(text) as u16 as u32),
            Slot::Timeout => Val::Num(atol(text) as u32),
            Slot::Same => return None,
        };
        vals.push(v);
        Some(())
    }

    /// Writes the values where the parser writes them, in line order (a repeated option's
    /// last value wins, as in the parser).
    fn apply(&mut self, vals: &[Val]) {
        let flow = &mut self.req.ct.flow;
        for (slot, v) in self.slots.iter().filter(|s| **s != Slot::Same).zip(vals) {
            match (slot, *v) {
                (Slot::Addr(c), Val::Addr(a)) => match c {
                    's' => flow.orig.src = a,
                    'd' => flow.orig.dst = a,
                    'r' => flow.reply.src = a,
                    _ => flow.reply.dst = a,
                },
                (Slot::Port { reply, src }, Val::Num(p)) => {
                    let t = if *reply {
                        &mut flow.reply
                    } else {
                        &mut flow.orig
                    };
                    if *src {
                        t.sport = p as u16;
                    } else {
                        t.dport = p as u16;
                    }
                }
                (Slot::Timeout, Val::Num(t)) => flow.timeout = Some(t),
                _ => unreachable!("slot and value kinds pair up"),
            }
        }
    }
}

/// A line of template shape the parser is about to parse: learned if it parses as a create.
#[derive(Debug)]
struct Pending {
    text: Vec<u8>,
    spans: Vec<(u32, u32)>,
    opts: Vec<Option<Opt>>,
    before: ParseState,
    warnings: usize,
}

/// The templates of one validating thread.
#[derive(Debug, Default)]
pub struct Templates {
    list: Vec<Template>,
    pending: Option<Pending>,
    spans: Vec<(u32, u32)>,
    vals: Vec<Val>,
}

/// A create line answered from a template.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    /// The flow to create (`exec::creation_flow` of the request).
    pub flow: Flow,
    /// `-I` (fail if it exists) rather than `-A`.
    pub excl: bool,
}

impl Templates {
    /// Answers `line` from a template (updating `state` as parsing it would; [`Templates::hit`]
    /// then gives the line's create), or returns `false` and, when the line has template
    /// shape, remembers it so that [`Templates::learn`] can keep the parser's request for it.
    pub fn line(&mut self, line: &[u8], state: &mut ParseState) -> bool {
        self.pending = None;
        let mut vals = std::mem::take(&mut self.vals);
        let mut hit = false;
        for i in 0..self.list.len() {
            let t = &self.list[i];
            if t.before.same_for_parsing(state) && t.values(line, &mut vals).is_some() {
                let t = &mut self.list[i];
                t.apply(&vals);
                state.last_proto = t.after_proto;
                // The template that matched goes first: it is the one `hit` reads.
                self.list[..=i].rotate_right(1);
                hit = true;
                break;
            }
        }
        self.vals = vals;
        if !hit && words(line, &mut self.spans).is_some() {
            if let Some(opts) = shape(line, &self.spans) {
                let mut before = state.clone();
                before.warnings.clear();
                self.pending = Some(Pending {
                    text: line.to_vec(),
                    spans: self.spans.clone(),
                    opts,
                    before,
                    warnings: state.warnings.len(),
                });
            }
        }
        hit
    }

    /// The create of the line [`Templates::line`] last answered.
    pub fn hit(&self) -> Hit {
        let t = &self.list[0];
        Hit {
            flow: crate::compat::exec::creation_flow(&t.req),
            excl: matches!(t.req.command, Command::Create { excl: true }),
        }
    }

    /// The parser's request for the line last offered to [`Templates::line`] and the state it
    /// left: kept as a template when that line had template shape and is a plain create.
    pub fn learn(&mut self, req: &CompatRequest, state: &ParseState) {
        let Some(p) = self.pending.take() else {
            return;
        };
        let plain_create = matches!(req.command, Command::Create { .. })
            && req.table == Table::Conntrack
            && req.deferred_error.is_none()
            && req.buffer_size.is_none()
            && req.ct.snat_ip.is_none()
            && req.ct.dnat_ip.is_none()
            && !crate::compat::exec::reply_tuple_lacks_ports(req);
        let same_state = state.warnings.len() == p.warnings
            && state.output == p.before.output
            && state.labelmap == p.before.labelmap
            && state.labelmap_path == p.before.labelmap_path;
        if !plain_create || !same_state {
            return;
        }
        let handler = req.proto.map(|pr| pr.handler);
        let mut slots = vec![Slot::Same; p.spans.len()];
        for (i, o) in p.opts.iter().enumerate() {
            let Some(o) = o else { continue };
            slots[i + 1] = match *o {
                Opt::Addr(c) => Slot::Addr(c),
                Opt::Timeout => Slot::Timeout,
                Opt::Proto | Opt::Fixed => Slot::Same,
                Opt::ProtoName(name) => match handler.filter(|h| atoi_ports(*h)) {
                    Some(h) => port_slot(h, name),
                    None => Slot::Same,
                },
            };
        }
        let mut segs = Vec::new();
        let mut value_slots = Vec::new();
        let mut from = 0;
        for (&(s, e), slot) in p.spans.iter().zip(&slots) {
            if *slot != Slot::Same {
                segs.push((from, s));
                value_slots.push(*slot);
                from = e;
            }
        }
        segs.push((from, p.text.len() as u32));
        let t = Template {
            text: p.text,
            spans: p.spans,
            slots,
            segs,
            value_slots,
            req: req.clone(),
            family: req.family,
            before: p.before,
            after_proto: state.last_proto,
        };
        self.list.insert(0, t);
        self.list.truncate(MAX_TEMPLATES);
    }
}

/// The slot of protocol option `name` under handler `h`: one of the four ports, else `Same`.
fn port_slot(h: ProtoHandler, name: &str) -> Slot {
    let spec = proto_spec(h);
    let code = spec
        .opts
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| spec.code(o.val & 0xff));
    match code {
        Some((ProtoOpt::OrigSport, _)) => Slot::Port {
            reply: false,
            src: true,
        },
        Some((ProtoOpt::OrigDport, _)) => Slot::Port {
            reply: false,
            src: false,
        },
        Some((ProtoOpt::ReplSport, _)) => Slot::Port {
            reply: true,
            src: true,
        },
        Some((ProtoOpt::ReplDport, _)) => Slot::Port {
            reply: true,
            src: false,
        },
        _ => Slot::Same,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::loadfile::{parse_range_with, LineSink};
    use crate::compat::parse::ParseEnv;

    /// Collects what each line became: a template hit or the parser's request.
    #[derive(Default)]
    struct Probe {
        t: Templates,
        hits: Vec<(usize, Hit)>,
        parsed: Vec<(usize, CompatRequest)>,
    }

    impl LineSink for Probe {
        fn line(&mut self, line: &[u8], lineno: usize, state: &mut ParseState) -> bool {
            let hit = self.t.line(line, state);
            if hit {
                self.hits.push((lineno, self.t.hit()));
            }
            hit
        }
        fn request(
            &mut self,
            req: CompatRequest,
            lineno: usize,
            state: &ParseState,
        ) -> Result<(), crate::compat::error::CompatError> {
            self.t.learn(&req, state);
            self.parsed.push((lineno, req));
            Ok(())
        }
    }

    /// What one line became, comparable across the two paths.
    #[derive(Debug, PartialEq)]
    enum Out {
        Create(usize, Box<Flow>, bool),
        Other(usize, String),
    }

    fn out_of(req: &CompatRequest, line: usize) -> Out {
        let plain = matches!(req.command, Command::Create { .. })
            && req.table == Table::Conntrack
            && req.deferred_error.is_none()
            && req.buffer_size.is_none();
        if plain {
            Out::Create(
                line,
                Box::new(crate::compat::exec::creation_flow(req)),
                matches!(req.command, Command::Create { excl: true }),
            )
        } else {
            Out::Other(line, format!("{req:?}"))
        }
    }

    /// Outcomes, the error (message, line) that stopped the range, and the final state.
    type Run = (Vec<Out>, Option<(String, Option<usize>)>, String);

    fn via_parser(text: &str) -> Run {
        let mut st = ParseState::default();
        let mut outs = Vec::new();
        let r = crate::compat::loadfile::parse_range(
            text.as_bytes(),
            0,
            "conntrack",
            &ParseEnv::default(),
            &mut st,
            |req, line| {
                outs.push(out_of(&req, line));
                Ok(())
            },
        );
        let err = r.stopped.or(r.unsupported).map(|e| (e.message, e.line));
        (outs, err, format!("{st:?}"))
    }

    fn via_templates(text: &str) -> (Run, usize) {
        let mut p = Probe::default();
        let mut st = ParseState::default();
        let r = parse_range_with(
            text.as_bytes(),
            0,
            "conntrack",
            &ParseEnv::default(),
            &mut st,
            &mut p,
        );
        let mut outs: Vec<Out> = p
            .hits
            .iter()
            .map(|(l, h)| Out::Create(*l, Box::new(h.flow), h.excl))
            .chain(p.parsed.iter().map(|(l, r)| out_of(r, *l)))
            .collect();
        outs.sort_by_key(|o| match o {
            Out::Create(l, ..) | Out::Other(l, _) => *l,
        });
        let err = r.stopped.or(r.unsupported).map(|e| (e.message, e.line));
        ((outs, err, format!("{st:?}")), p.hits.len())
    }

    fn same_as_parser(text: &str) -> usize {
        let (got, hits) = via_templates(text);
        assert_eq!(got, via_parser(text), "{text}");
        hits
    }

    const TCP: &str = "-I -s 198.51.100.1 -d 203.0.113.1 -p tcp --sport 1024 --dport 80 --state ESTABLISHED -u ASSURED -t 7200\n";

    #[test]
    fn lines_of_one_shape_after_the_second_are_answered_from_the_template() {
        // Line 1 runs from the empty state, line 2 from the TCP handler's: both are parsed.
        let text: String = (0..10)
            .map(|i| {
                TCP.replace("1024", &(1024 + i).to_string())
                    .replace(".1 -d", &format!(".{} -d", 1 + i % 3))
            })
            .collect();
        assert_eq!(same_as_parser(&text), 8);
    }

    #[test]
    fn dotted_quads_are_what_parse_addr_makes_of_them() {
        for w in ["0.0.0.0", "192.0.2.1", "255.255.255.255", "10.20.30.40"] {
            assert_eq!(
                dotted_quad(w.as_bytes()).map(IpAddr::V4),
                parse_addr(w).0,
                "{w}"
            );
        }
        // Other forms are left to parse_addr (octal parts, short forms, masks, junk).
        for w in [
            "010.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.4/24",
            "1..2.3",
            "",
            "1.2.3.",
            "0x7f.0.0.1",
            "1.2.3.4 ",
            "1000.1.1.1",
        ] {
            assert_eq!(dotted_quad(w.as_bytes()), None, "{w}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_dotted_quad_is_what_parse_addr_makes_of_it(a: u32) {
            let text = std::net::Ipv4Addr::from(a).to_string();
            proptest::prop_assert_eq!(
                dotted_quad(text.as_bytes()).map(IpAddr::V4),
                parse_addr(&text).0
            );
        }
    }

    #[test]
    fn digit_words_convert_as_atoi_and_atol_do() {
        for w in ["0", "7", "099", "65535", "65536", "123456789"] {
            let v = digits(w.as_bytes()).unwrap();
            assert_eq!(v as u16, atoi(w) as u16, "{w:?}");
            assert_eq!(v, atol(w) as u32, "{w:?}");
        }
        // Everything else is left to atoi/atol.
        for w in [
            "1234567890",
            "-1",
            "+5",
            " 5",
            "80abc",
            "0x50",
            "",
            "\u{663}",
        ] {
            assert_eq!(digits(w.as_bytes()), None, "{w:?}");
        }
    }

    #[test]
    fn values_the_parser_would_refuse_go_to_the_parser() {
        for bad in ["x", "192.0.2.0/24", "2001:db8::1", "1.2.3.4/33"] {
            let text = format!("{TCP}{TCP}{}", TCP.replace("198.51.100.1", bad));
            assert_eq!(same_as_parser(&text), 0, "{bad}");
        }
        // Odd but accepted values are taken as the parser takes them.
        let odd = format!(
            "{TCP}{TCP}{}{}",
            TCP.replace("1024", "80abc").replace("7200", "-1"),
            TCP.replace("198.51.100.1", "10").replace("80", "70000"),
        );
        assert_eq!(same_as_parser(&odd), 2);
    }

    #[test]
    fn ipv6_lines_are_answered_from_an_ipv6_template() {
        let line = |i: usize| {
            format!(
                "-A -s 2001:db8::{i:x} -d 2001:db8:1::{i} -p udp --sport {i} --dport 53 -t {}\n",
                30 + i
            )
        };
        let text: String = (1..=5).map(line).collect();
        assert_eq!(same_as_parser(&text), 3);
        // An IPv4 address in an IPv6 template's slot goes to the parser.
        let mixed = format!(
            "{}{}{}",
            line(1),
            line(2),
            line(3).replace("2001:db8::3", "192.0.2.3")
        );
        assert_eq!(same_as_parser(&mixed), 0);
    }

    #[test]
    fn options_that_change_the_parser_state_make_no_template() {
        let text = TCP.replace(" -t", " -o xml -t").repeat(4);
        assert_eq!(same_as_parser(&text), 0);
        let text = TCP.replace("-p tcp", "-p udp -p tcp").repeat(4);
        assert_eq!(same_as_parser(&text), 0);
        let text = TCP.replace("--sport", "--sp").repeat(4);
        assert_eq!(same_as_parser(&text), 0);
        let text = TCP.replace("-I", "-I \"conntrack\"").repeat(4);
        assert_eq!(same_as_parser(&text), 0);
    }

    /// Line shapes with `{A}` (address), `{P}` (port-like) and `{T}` (timeout-like) holes.
    const SHAPES: &[&str] = &[
        "-I -s {A} -d {A} -p tcp --sport {P} --dport {P} --state ESTABLISHED -u ASSURED -t {T}",
        "-A -s {A} -d {A} -p udp --sport {P} --dport {P} -t {T}",
        "-I -s {A} -d {A} -r {A} -q {A} -p tcp --orig-port-src {P} --orig-port-dst {P} --reply-port-src {P} --reply-port-dst {P} --state SYN_SENT -t {T}",
        "-I -s {A} -d {A} -p icmp --icmp-type 8 --icmp-code 0 --icmp-id {P} -t {T}",
        "-I --src {A} --dst {A} --protonum sctp --sport {P} --dport {P} --state ESTABLISHED --timeout {T}",
        "-I -s {A} -s {A} -d {A} -p tcp --sport {P} --sport {P} --dport {P} --state LISTEN -t {T} -m {P}",
        "-I -s {A} -d {A} -t {T} -u SEEN_REPLY",
        "-I -s {A} -d {A} --sport {P} -p tcp --dport {P} -t {T}",
        "-A -r {A} -q {A} -p dccp --reply-port-src {P} --reply-port-dst {P} -t {T} -w {P}",
        "-I -s {A} -d {A} -p 17 --sport {P} --dport {P} -t {T} -f ipv4",
        "-I -s {A} -d {A} -p tcp --sport {P} --dport {P} --state ESTABLISHED -t {T} -o id",
        "-D -s {A}",
        "# comment {A}",
    ];
    const ADDRS: &[&str] = &[
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.200",
        "2001:db8::1",
        "2001:db8::2",
        "10",
        "1.2.3",
        "300.1.1.1",
        "192.0.2.0/24",
        "x",
        "0x7f.1",
    ];
    const NUMS: &[&str] = &[
        "80",
        "0",
        "443",
        "65535",
        "65536",
        "-1",
        "80abc",
        "0x50",
        "099",
        "4294967296",
        "7200",
    ];

    proptest::proptest! {
        #[test]
        fn templates_give_what_the_parser_gives(
            shapes in (0..SHAPES.len(), 0..SHAPES.len()),
            lines in proptest::collection::vec(
                (
                    proptest::bool::ANY,
                    proptest::collection::vec((0..2 * ADDRS.len(), 0..2 * NUMS.len()), 4),
                    0..3usize,
                ),
                1..40,
            )
        ) {
            // Two shapes per file, values mostly ordinary (indexes past the pools pick from
            // their first entries), so that templates are learned and hit.
            let text: String = lines
                .iter()
                .map(|(second, vals, blanks)| {
                    let mut l = SHAPES[if *second { shapes.1 } else { shapes.0 }].to_string();
                    for (a, n) in vals {
                        let addr = ADDRS[if *a < ADDRS.len() { *a } else { *a % 3 }];
                        let num = NUMS[if *n < NUMS.len() { *n } else { *n % 4 }];
                        l = l.replacen("{A}", addr, 1).replacen("{P}", num, 1);
                        l = l.replacen("{T}", NUMS[(*n + *a) % NUMS.len()], 1);
                    }
                    // Some lines laid out differently (more blanks): compared word by word.
                    let l = l.replace("{A}", "192.0.2.9").replace("{P}", "5");
                    l.replacen(' ', " \t", *blanks) + if *blanks == 2 { " \n" } else { "\n" }
                })
                .collect();
            let (got, _) = via_templates(&text);
            proptest::prop_assert_eq!(got, via_parser(&text));
        }
    }

    #[test]
    fn the_generated_files_do_hit_templates() {
        let text = format!(
            "{}\n{}\n{}\n{}\n",
            SHAPES[2]
                .replace("{A}", "192.0.2.1")
                .replace("{P}", "5")
                .replace("{T}", "9"),
            SHAPES[2]
                .replace("{A}", "192.0.2.2")
                .replace("{P}", "6")
                .replace("{T}", "9"),
            SHAPES[2]
                .replace("{A}", "192.0.2.3")
                .replace("{P}", "7")
                .replace("{T}", "10"),
            SHAPES[8]
                .replace("{A}", "2001:db8::3")
                .replace("{P}", "7")
                .replace("{T}", "10"),
        );
        assert_eq!(same_as_parser(&text), 1);
    }
}
