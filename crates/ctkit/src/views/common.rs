//! The flags every read-only view shares, parsed in one place.
//!
//! - `--from SPEC`: where flows come from (`kernel`, the default; `proc`; `-` for standard
//!   input; a file path: a saved dump in any format we print, or a capture).
//! - `--lenient`: text sources skip malformed lines and count them instead of stopping.
//! - `--json`: machine-readable output.
//! - The filters of `ctkit list` (`--proto`, `--src`, `--dst`, `--sport`, `--state`,
//!   `--status`, `--mark`, `--zone`, …): the same table as the modern commands
//!   ([`crate::modern::FLAGS`]), translated to conntrack options and run through the compat
//!   parser, so a filter means exactly what it means for `conntrack -L`.
//!
//! - The engine options of a capture source (`--set NAME=VALUE`, `--sysctl-from-kernel`,
//!   `--helper ftp=PORT`, `--no-helpers`, `--seed N`: [`crate::views::engine`]), the same as
//!   `ctkit replay`'s; with any other source they are a usage error.
//!
//! Flags a view does not share stay in [`ViewArgs::rest`] for the view to parse.

use crate::compat::parse::{self, ParseEnv, ParseState};
use crate::modern::FLAGS;
use crate::source::SourceSpec;
use crate::views::engine::EngineArgs;
use ctkit_ctnetlink::DumpRequest;
use ctkit_model::filter::FlowFilter;
use ctkit_model::Flow;

/// The shared flags of a read-only view.
#[derive(Clone, Debug)]
pub struct ViewArgs {
    /// `--from` (default: the kernel).
    pub from: SourceSpec,
    /// `--lenient`.
    pub lenient: bool,
    /// `--json`.
    pub json: bool,
    /// Whether any filter flag was given.
    pub filtered: bool,
    /// The list filter (conntrack's userspace filter plus the `-u` status check).
    pub filter: FlowFilter,
    /// What can be asked of the kernel's dumps directly (family, mark, status, zone, tuple
    /// fields; one dump per family when tuple fields need one); the
    /// results are still checked against [`ViewArgs::filter`].
    pub dumps: Vec<DumpRequest>,
    /// The engine options for a capture source.
    pub engine: EngineArgs,
    /// The words this module did not recognise, in order, for the view itself.
    pub rest: Vec<String>,
}

impl ViewArgs {
    /// Whether `flow` passes the filters.
    pub fn matches(&self, flow: &Flow) -> bool {
        self.filter.matches(flow)
    }

    /// How to open `--from`: lenient when `--lenient` was given; from the kernel, with the
    /// filters it can apply pushed into its dumps ([`ViewArgs::dumps`]).
    pub fn open_options(&self) -> crate::source::OpenOptions {
        crate::source::OpenOptions {
            lenient: self.lenient,
            kernel_dumps: self.dumps.clone(),
            engine: self.engine.clone(),
        }
    }

    /// Opens the source `--from` names with [`ViewArgs::open_options`].
    pub fn open_source(
        &self,
    ) -> Result<Box<dyn ctkit_model::FlowSource>, ctkit_model::SourceError> {
        crate::source::open_with(&self.from, &self.open_options())
    }
}

/// Splits `--flag=value` into its parts.
fn split_inline(a: &str) -> (&str, Option<&str>) {
    match a.split_once('=') {
        Some((f, v)) if f.starts_with("--") => (f, Some(v)),
        _ => (a, None),
    }
}

/// Walks a view's own words (what [`ViewArgs::rest`] holds): `--flag VALUE`, `--flag=VALUE`
/// and bare flags, so each view only says what its flags mean.
pub struct Words<'a> {
    args: &'a [String],
    next: usize,
    flag: &'a str,
    inline: Option<&'a str>,
}

impl<'a> Words<'a> {
    /// Starts before the first word.
    pub fn new(args: &'a [String]) -> Words<'a> {
        Words {
            args,
            next: 0,
            flag: "",
            inline: None,
        }
    }

    /// The next flag, without its `=VALUE` (kept for [`Words::value`]); `None` at the end.
    pub fn next_flag(&mut self) -> Option<&'a str> {
        let word = self.args.get(self.next)?;
        self.next += 1;
        (self.flag, self.inline) = split_inline(word);
        Some(self.flag)
    }

    /// The current flag's value: what followed `=`, else the next word.
    pub fn value(&mut self) -> Result<&'a str, String> {
        if let Some(v) = self.inline.take() {
            return Ok(v);
        }
        let v = self
            .args
            .get(self.next)
            .ok_or_else(|| format!("`{}' needs a value", self.flag))?;
        self.next += 1;
        Ok(v)
    }
}

/// Flags of [`FLAGS`] that select entries (the others change or print them).
fn is_filter_flag(name: &str) -> bool {
    !matches!(
        name,
        "--timeout"
            | "--label-add"
            | "--label-del"
            | "--output"
            | "--event-mask"
            | "--buffer-size"
            | "--zero"
    )
}

/// Parses the shared flags out of `args` (the words after the command name).
///
/// `value_flags` names the view's own flags that take a value, so their values are not
/// mistaken for flags; they and every unknown word go to [`ViewArgs::rest`]. Engine options
/// with a source that is not a capture are an error: `--from kernel` or `proc`, or a file
/// whose first bytes are no capture's (standard input is checked when it is opened).
pub fn parse_view_args(args: &[String], value_flags: &[&str]) -> Result<ViewArgs, String> {
    let v = parse_replay_view_args(args, value_flags)?;
    if let Some(flag) = v.engine.first {
        let what = match &v.from {
            SourceSpec::Kernel => Some("the kernel's table (--from kernel, the default)".into()),
            SourceSpec::Proc => Some("/proc/net/nf_conntrack (--from proc)".into()),
            SourceSpec::File(p) => (!file_is_capture(p)).then(|| format!("{p}, a saved dump")),
            SourceSpec::Stdin => None,
        };
        if let Some(what) = what {
            return Err(not_a_capture(flag, &what));
        }
    }
    Ok(v)
}

/// The message for engine option `flag` given with a source that is not a capture (`what`).
pub fn not_a_capture(flag: &str, what: &str) -> String {
    format!(
        "`{flag}' configures the replay of a packet capture (--from FILE.pcap); \
         it does nothing for {what}"
    )
}

/// Whether the file at `path` starts like a capture; `true` when it cannot be read (opening
/// it reports why) or is no regular file (a pipe, `<(zcat …)`, would lose what is read
/// here: the source checks it when it opens it).
fn file_is_capture(path: &str) -> bool {
    use std::io::Read;
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return true;
    }
    let Ok(f) = std::fs::File::open(path) else {
        return true;
    };
    let mut head = Vec::with_capacity(4);
    match f.take(4).read_to_end(&mut head) {
        Ok(_) => crate::source::is_capture(&head),
        Err(_) => true,
    }
}

/// [`parse_view_args`] without the source check, for `ctkit replay` (its capture is an
/// argument, not `--from`).
pub fn parse_replay_view_args(args: &[String], value_flags: &[&str]) -> Result<ViewArgs, String> {
    let mut from = SourceSpec::Kernel;
    let mut lenient = false;
    let mut json = false;
    let mut proto: Option<String> = None;
    let mut opts: Vec<String> = Vec::new();
    let mut rest = Vec::new();
    let mut engine = EngineArgs::default();
    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = split_inline(&args[i]);
        let mut value = |what: &str| -> Result<String, String> {
            if let Some(v) = inline {
                return Ok(v.to_string());
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("`{what}' needs a value"))
        };
        if engine.take(flag, || value(flag))? {
            i += 1;
            continue;
        }
        match flag {
            "--from" => from = SourceSpec::parse(&value("--from")?),
            "--lenient" => lenient = true,
            "--json" => json = true,
            "--proto" | "-p" => proto = Some(value("--proto")?),
            f if value_flags.contains(&f) => {
                rest.push(args[i].clone());
                if inline.is_none() {
                    i += 1;
                    match args.get(i) {
                        Some(v) => rest.push(v.clone()),
                        None => return Err(format!("`{f}' needs a value")),
                    }
                }
            }
            f => match FLAGS.iter().find(|(n, ..)| *n == f && is_filter_flag(n)) {
                Some((name, opt, takes, _)) => {
                    opts.push(opt.to_string());
                    if *takes {
                        opts.push(value(name)?);
                    } else if let Some(v) = inline {
                        opts.push(v.to_string());
                    }
                }
                None => rest.push(args[i].clone()),
            },
        }
        i += 1;
    }
    engine.validate()?;
    let filtered = proto.is_some() || !opts.is_empty();
    let mut argv = vec!["ctkit".to_string(), "-L".to_string()];
    if let Some(p) = proto {
        argv.push("-p".into());
        argv.push(p);
    }
    argv.extend(opts);
    let env = ParseEnv::default();
    let mut state = ParseState::default();
    let req = parse::parse(argv, &env, &mut state).map_err(|e| {
        crate::compat::messages::render_error(&e)
            .trim_end()
            .to_string()
    })?;
    if let Some(e) = &req.deferred_error {
        return Err(crate::compat::messages::render_error(e)
            .trim_end()
            .to_string());
    }
    let mut filter = req.filter;
    let mut dump = DumpRequest {
        family: req.family.af(),
        mark: req.mark.map(|m| (m.value & m.mask, m.mask)),
        zone: req.filter.zone.filter(|z| *z != 0),
        ..DumpRequest::default()
    };
    if let Some(st) = req.status {
        dump.status = Some((st.value, st.kernel_mask));
        filter.status_masked = Some((st.value, st.kernel_mask));
    }
    Ok(ViewArgs {
        from,
        lenient,
        json,
        filtered,
        filter,
        dumps: crate::compat::exec::family_dumps(&filter, dump),
        engine,
        rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, own: &[&str]) -> Result<ViewArgs, String> {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse_view_args(&v, own)
    }

    #[test]
    fn words_take_values_inline_or_from_the_next_word() {
        let v: Vec<String> = "--top 5 --csv --by=src,dst --x= -c"
            .split_whitespace()
            .map(String::from)
            .collect();
        let mut w = Words::new(&v);
        assert_eq!(w.next_flag(), Some("--top"));
        assert_eq!(w.value(), Ok("5"));
        assert_eq!(w.next_flag(), Some("--csv"));
        assert_eq!(w.next_flag(), Some("--by"));
        assert_eq!(w.value(), Ok("src,dst"));
        assert_eq!(w.next_flag(), Some("--x"));
        assert_eq!(w.value(), Ok(""));
        assert_eq!(w.next_flag(), Some("-c"));
        assert_eq!(w.value(), Err("`-c' needs a value".to_string()));
        assert_eq!(w.next_flag(), None);
    }

    #[test]
    fn shared_flags_are_taken_and_the_rest_is_left_in_order() {
        let a = p(
            "--by src --from proc --json --top 5 --lenient",
            &["--by", "--top"],
        )
        .unwrap();
        assert_eq!(a.from, SourceSpec::Proc);
        assert!(a.json && a.lenient && !a.filtered);
        assert_eq!(a.rest, ["--by", "src", "--top", "5"]);
    }

    #[test]
    fn list_filters_become_conntracks_filter() {
        let a = p("--dport 53 --proto udp --src=192.0.2.0/24", &[]).unwrap();
        assert!(a.filtered);
        assert_eq!(a.filter.orig.proto, Some(17));
        assert_eq!(a.filter.orig.dport, Some(53));
        assert!(a.filter.src_net.is_some());
        assert_eq!(a.dumps.len(), 1);
        assert_eq!(a.dumps[0].family, 2);
    }

    #[test]
    fn port_filters_are_pushed_to_the_kernel_one_dump_per_family() {
        use ctkit_ctnetlink::uapi::{CTA_FILTER_F_CTA_PROTO_DST_PORT, CTA_FILTER_F_CTA_PROTO_NUM};
        let a = p("--proto tcp --dport 443", &[]).unwrap();
        let fams: Vec<u8> = a.dumps.iter().map(|d| d.family).collect();
        assert_eq!(fams, [2, 10]);
        for d in &a.dumps {
            let t = d.tuple.expect("tuple filter");
            assert_eq!(
                t.orig_flags,
                CTA_FILTER_F_CTA_PROTO_NUM | CTA_FILTER_F_CTA_PROTO_DST_PORT
            );
            assert_eq!((t.orig.proto, t.orig.dport, t.reply_flags), (6, 443, 0));
        }
        // Nothing the kernel could filter by tuple: one whole-table dump.
        let b = p("--mark 7", &[]).unwrap();
        assert_eq!(b.dumps.len(), 1);
        assert_eq!((b.dumps[0].family, b.dumps[0].tuple), (0, None));
        assert_eq!(b.dumps[0].mark, Some((7, u32::MAX)));
    }

    #[test]
    fn a_bad_filter_is_conntracks_error_text() {
        let e = p("--sport 80", &[]).unwrap_err();
        assert!(e.contains("--sport"), "{e}");
        assert_eq!(p("--from", &[]).unwrap_err(), "`--from' needs a value");
    }
}
