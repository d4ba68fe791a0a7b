//! `ctkit list --from SPEC [FILTERS] [--json | -o FORMAT]`: lists the entries of any source
//! (kernel, /proc, a saved dump, standard input) exactly as `conntrack -L` prints the same
//! entries: the same formatters (`ctkit_model::format`), the same `-o` options (validated by
//! the compat parser), the same filters ([`crate::views::common`]) and the same summary line on
//! standard error. Without `--from`, `ctkit list` runs the compat path unchanged.
//!
//! `--table expect --from CAPTURE` lists the expectations a capture's replay left pending,
//! as `conntrack -L expect` lists the kernel's.

use crate::compat::request::{Command, OutputFlags, Table};
use crate::compat::{self, messages, parse};
use crate::views::common::parse_view_args;
use ctkit_model::format::{self, JsonOptions, SaveOptions, TextOptions, XmlOptions};
use ctkit_model::{Flow, LabelMap};
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

/// Whether a modern `list` command line names a source or gives a capture source's engine
/// options (then [`main`] runs it, and refuses those without a capture).
pub fn wants(args: &[String]) -> bool {
    args.iter().any(|a| {
        let flag = a.split_once('=').map_or(a.as_str(), |(f, _)| f);
        flag == "--from"
            || crate::views::engine::VALUE_FLAGS.contains(&flag)
            || matches!(flag, "--sysctl-from-kernel" | "--no-helpers")
    })
}

fn usage_error(msg: &str) -> ExitCode {
    crate::views::usage_error(msg)
}

/// How records are printed: conntrack's choice of formatter for `-L` with `-o`.
struct Printer {
    output: OutputFlags,
    labelmap: Option<LabelMap>,
    now: i64,
    xml_started: bool,
}

impl Printer {
    fn flow(&mut self, out: &mut Vec<u8>, f: &Flow) {
        let o = self.output;
        let labelmap = self.labelmap.as_ref();
        if o.has(OutputFlags::JSON) {
            format::write_flow_json(
                out,
                f,
                &JsonOptions {
                    labelmap,
                    ..JsonOptions::default()
                },
            );
        } else if o.has(OutputFlags::SAVE) {
            format::write_flow_save(
                out,
                f,
                &SaveOptions {
                    event: Some(format::EventKind::New),
                    userspace: None,
                },
            );
        } else if o.has(OutputFlags::XML) {
            if !self.xml_started {
                out.extend_from_slice(format::xml::XML_HEADER.as_bytes());
                self.xml_started = true;
            }
            format::write_flow_xml(
                out,
                f,
                &XmlOptions {
                    ktimestamp: o.has(OutputFlags::KTIMESTAMP),
                    labelmap,
                    now: self.now,
                    ..XmlOptions::default()
                },
            );
        } else {
            format::write_flow(
                out,
                f,
                &TextOptions {
                    extended: o.has(OutputFlags::EXTENDED),
                    id: o.has(OutputFlags::ID),
                    ktimestamp: o.has(OutputFlags::KTIMESTAMP),
                    labelmap,
                    now: self.now,
                    ..TextOptions::default()
                },
            );
        }
    }
}

fn write_out(buf: &mut Vec<u8>) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(buf).and_then(|_| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            compat::closed_pipe();
        }
    }
    buf.clear();
}

/// The `-o` value as conntrack reads it (its errors, its label map for `-o labels`).
fn output_flags(
    value: Option<&str>,
    json: bool,
) -> Result<(OutputFlags, Option<LabelMap>), String> {
    let mut argv = vec!["ctkit".to_string(), "-L".to_string()];
    if let Some(v) = value {
        argv.push("-o".into());
        argv.push(v.to_string());
    }
    let env = parse::ParseEnv::default();
    let mut state = parse::ParseState::default();
    let req = parse::parse(argv, &env, &mut state)
        .map_err(|e| messages::render_error(&e).trim_end().to_string())?;
    let mut output = req.output;
    if json {
        output.0 |= OutputFlags::JSON;
    }
    let labelmap = req.labelmap.as_ref().and_then(|m| {
        let mut text = String::new();
        for (bit, name) in &m.entries {
            text.push_str(&format!("{bit} {name}\n"));
        }
        LabelMap::parse(text.as_bytes())
    });
    Ok((output, labelmap))
}

/// Runs `ctkit list` with `--from` (`args`: the words after `list`).
pub fn main(args: &[String]) -> ExitCode {
    let v = match parse_view_args(args, &["--output", "-o", "--table"]) {
        Ok(v) => v,
        Err(e) => return usage_error(&e),
    };
    let mut output: Option<String> = None;
    let mut expect = false;
    let mut i = 0;
    while i < v.rest.len() {
        let (flag, inline) = match v.rest[i].split_once('=') {
            Some((f, val)) if f.starts_with("--") => (f, Some(val.to_string())),
            _ => (v.rest[i].as_str(), None),
        };
        let value = match inline {
            Some(val) => val,
            None => {
                i += 1;
                v.rest.get(i).cloned().unwrap_or_default()
            }
        };
        match flag {
            "--output" | "-o" => output = Some(value),
            "--table" if value == "conntrack" => expect = false,
            "--table" if value == "expect" => expect = true,
            "--table" => {
                return usage_error(&format!(
                    "--from reads the conntrack and expect tables only, not `{value}'"
                ))
            }
            _ => return usage_error(&format!("unknown flag `{flag}' for `list --from'")),
        }
        i += 1;
    }
    let (output, labelmap) = match output_flags(output.as_deref(), v.json) {
        Ok(x) => x,
        Err(e) => return usage_error(&e),
    };
    if expect {
        return list_expect(&v, output);
    }
    let mut source = match v.open_source() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctkit: list: {e}");
            return ExitCode::from(1);
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut p = Printer {
        output,
        labelmap,
        now,
        xml_started: false,
    };
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut n = 0u64;
    let r = source.scan(&mut |f| {
        if v.matches(f) {
            p.flow(&mut buf, f);
            n += 1;
            if buf.len() >= 60 * 1024 {
                write_out(&mut buf);
            }
        }
        ControlFlow::Continue(())
    });
    if p.xml_started {
        buf.extend_from_slice(format::xml::XML_FOOTER.as_bytes());
    }
    write_out(&mut buf);
    match r {
        Ok(report) => {
            if report.skipped > 0 {
                eprintln!(
                    "ctkit: list: skipped {} malformed line(s) (--lenient)",
                    report.skipped
                );
            }
            if let Some(s) = messages::summary(Command::List, Table::Conntrack, n) {
                eprint!("{s}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ctkit: list: {e}");
            ExitCode::from(1)
        }
    }
}

/// `list --table expect --from CAPTURE`: the expectations the replay left pending, printed
/// as `conntrack -L expect` prints the kernel's (the same writers: text, `-o xml`, `--json`;
/// `-o timestamp` stamps each line with the last packet's time, when the table was "read"),
/// then conntrack's `N expectations have been shown.` on standard error. Only a capture has
/// an expectation table; the list filters select connections and are refused.
fn list_expect(v: &crate::views::common::ViewArgs, output: OutputFlags) -> ExitCode {
    use crate::source::SourceSpec;
    if v.filtered {
        return usage_error("the list filters select connections, not expectations");
    }
    if matches!(v.from, SourceSpec::Kernel | SourceSpec::Proc) {
        return usage_error(
            "--table expect --from: only a capture has expectations; \
             for the kernel's, run `ctkit list --table expect` without --from",
        );
    }
    let mut source =
        match crate::source::file::open_capture_only(&v.from, "expectations", &v.engine) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ctkit: list: {e}");
                return ExitCode::from(1);
            }
        };
    let xml = output.has(OutputFlags::XML);
    let json = output.has(OutputFlags::JSON);
    let stamp = output.has(OutputFlags::TIMESTAMP);
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut n = 0u64;
    // The engine's time is needed before the first line (for -o timestamp): collect first.
    let mut expects = Vec::new();
    let last_ns = match source.for_each_expect(&mut |e| expects.push(*e)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ctkit: list: {e}");
            return ExitCode::from(1);
        }
    };
    let now = crate::views::replay::driver::secs_us(last_ns);
    let o = format::expect::ExpectOptions {
        event_time: (stamp && !xml).then_some(now),
        when: (stamp && xml).then_some(now.0),
        ..Default::default()
    };
    for e in &expects {
        if json {
            format::write_expect_json(&mut buf, e, &JsonOptions::default());
        } else if xml {
            if n == 0 {
                buf.extend_from_slice(format::expect::EXPECT_XML_HEADER.as_bytes());
            }
            format::write_expect_xml(&mut buf, e, &o);
        } else {
            format::write_expect(&mut buf, e, &o);
        }
        n += 1;
    }
    if xml && n > 0 {
        buf.extend_from_slice(format::expect::EXPECT_XML_FOOTER.as_bytes());
    }
    write_out(&mut buf);
    if let Some(s) = messages::summary(Command::List, Table::Expect, n) {
        eprint!("{s}");
    }
    ExitCode::SUCCESS
}
