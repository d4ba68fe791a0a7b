//! `ctkit count --from SRC` and `ctkit stats --from CAPTURE`: conntrack's `-C` and `-S`
//! (`-S expect` with `--table expect`) read from a source instead of the kernel, printed by
//! the same writers (`ctkit_model::format::stats`) or as the JSON lines `ctkit count|stats
//! --json` prints for the kernel.
//!
//! `count` works on every source (the source's own count when it has one, e.g. a capture's
//! replay counts entries expired but not yet reaped, as `nf_conntrack_count` does; else the
//! entries scanned). `stats` needs per-CPU counters, which only a capture's replay has from a
//! file: the userspace tracker is one CPU, so it prints one `cpu=0` line under the kernel's
//! names. The kernel's own counters stay with `ctkit stats` without `--from`.

use crate::compat::write_stdout;
use crate::source::SourceSpec;
use crate::views::common::parse_view_args;
use crate::views::usage_error;
use ctkit_model::format;
use ctkit_model::stats::{CpuStats, ExpCpuStats};
use std::ops::ControlFlow;
use std::process::ExitCode;

/// Whether a modern `count`/`stats` command line names a source (then [`main`] runs it).
pub fn wants(cmd: &str, args: &[String]) -> bool {
    matches!(cmd, "count" | "stats") && super::list::wants(args)
}

/// Runs `ctkit count|stats --from …` (`args`: the words after the command).
pub fn main(cmd: &str, args: &[String]) -> ExitCode {
    let v = match parse_view_args(args, &["--table"]) {
        Ok(v) => v,
        Err(e) => return usage_error(&e),
    };
    if v.filtered {
        return usage_error(&format!("`{cmd}' takes no list filter"));
    }
    let mut expect = false;
    let mut words = v.rest.iter();
    while let Some(w) = words.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, val)) if f.starts_with("--") => (f, Some(val.to_string())),
            _ => (w.as_str(), None),
        };
        match flag {
            "--table" if cmd == "stats" => {
                match inline.or_else(|| words.next().cloned()).as_deref() {
                    Some("conntrack") => expect = false,
                    Some("expect") => expect = true,
                    other => {
                        return usage_error(&format!(
                            "stats --from: --table is conntrack or expect, not `{}'",
                            other.unwrap_or("")
                        ))
                    }
                }
            }
            _ => return usage_error(&format!("unknown flag `{flag}' for `{cmd} --from'")),
        }
    }
    let r = if cmd == "count" {
        count(&v)
    } else {
        stats(&v, expect)
    };
    match r {
        Ok(text) => {
            write_stdout(&text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ctkit: {cmd}: {e}");
            ExitCode::from(1)
        }
    }
}

fn count(v: &crate::views::common::ViewArgs) -> Result<String, String> {
    let mut src = v.open_source().map_err(|e| e.to_string())?;
    let c = src.counters().map_err(|e| e.to_string())?;
    let n = match c.entries {
        Some(n) => n,
        None => {
            let mut n = 0u64;
            src.scan(&mut |_| {
                n += 1;
                ControlFlow::Continue(())
            })
            .map_err(|e| e.to_string())?;
            n
        }
    };
    if v.json {
        let max = c.max.map_or("null".to_string(), |m| m.to_string());
        return Ok(format!("{{\"entries\":{n},\"max\":{max}}}\n"));
    }
    let mut out = Vec::new();
    format::stats::write_count(&mut out, n.min(u64::from(u32::MAX)) as u32);
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn stats(v: &crate::views::common::ViewArgs, expect: bool) -> Result<String, String> {
    if matches!(v.from, SourceSpec::Kernel | SourceSpec::Proc) {
        return Err(
            "--from: per-CPU counters come from a capture's replay; for the kernel's, run \
             `ctkit stats` without --from"
                .to_string(),
        );
    }
    let mut src = super::file::open_capture_only(&v.from, "per-CPU counters", &v.engine)
        .map_err(|e| e.to_string())?;
    let s = src.stats().map_err(|e| e.to_string())?;
    let clamp = |x: u64| x.min(u64::from(u32::MAX)) as u32;
    let mut out = Vec::new();
    if expect {
        let e = ExpCpuStats {
            cpu: 0,
            expect_new: Some(clamp(s.expect_new)),
            expect_create: Some(clamp(s.expect_create)),
            expect_delete: Some(clamp(s.expect_delete)),
        };
        if v.json {
            return Ok(format!(
                "{{\"cpu\":0,\"expect_new\":{},\"expect_create\":{},\"expect_delete\":{}}}\n",
                s.expect_new, s.expect_create, s.expect_delete
            ));
        }
        format::stats::write_exp_cpu_stats(&mut out, &e);
    } else {
        let sum = super::capture::cpu_sum(&s);
        let mut c = CpuStats::default();
        for (slot, v) in c.values.iter_mut().zip(sum.iter()) {
            *slot = v.map(clamp);
        }
        if v.json {
            let mut j = String::from("{\"cpu\":0");
            for (name, v) in CpuStats::NAMES.iter().zip(sum.iter()) {
                if let Some(v) = v {
                    j.push_str(&format!(",\"{name}\":{v}"));
                }
            }
            j.push_str("}\n");
            return Ok(j);
        }
        format::stats::write_cpu_stats(&mut out, &c);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
