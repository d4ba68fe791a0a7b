//! `ctkit replay CAPTURE`: runs a pcap/pcapng capture through ctkit's userspace tracker
//! (crates/engine, faithful to Linux nf_conntrack), with time taken from the packet
//! timestamps, and prints what the kernel's table would have shown:
//!
//! - default: the final table as `conntrack -L` prints it, timeouts relative to the last
//!   packet;
//! - `--events`: the event stream as `conntrack -E -o timestamp` prints it (or `--json`);
//! - `--expect`: the expectation table as `conntrack -L expect` prints it (with `--events`,
//!   the expectation events as `conntrack -E expect -o timestamp` prints them);
//! - `--per-packet`: the `ct state` a firewall rule would see for each packet;
//! - `--what-if`: peak, drops, early drops, states at the peak, final count; `--csv`/`--svg`.
//!
//! Every mode takes the engine configuration flags (`--set NAME=VALUE` for any conntrack
//! sysctl, `--sysctl-from-kernel`, `--helper ftp=PORT`, `--no-helpers`, `--zone`, `--seed`;
//! all but `--zone` parsed by [`crate::views::engine`], shared with `--from CAPTURE`).
//!
//! Submodules: [`args`] (flags), [`driver`] (the replay loop, shared with the capture flow
//! source), [`defrag`] (reassembly before tracking, as nf_defrag), [`copies`] (second copies
//! in `-i any` captures), [`packet`] (naming packets), [`output`] (events, per-packet, table),
//! [`whatif`] (the report and its plots).

pub mod args;
pub mod copies;
pub mod defrag;
pub mod driver;
pub mod output;
pub mod packet;
pub mod whatif;

use args::{Mode, ReplayArgs};
use ctkit_engine::Tracker;
use output::Out;
use std::ops::ControlFlow;
use std::process::ExitCode;

/// Runs `ctkit replay`.
pub fn main(args: &[String]) -> ExitCode {
    let a = match args::parse(args) {
        Ok(a) => a,
        Err(e) if e == args::USAGE => {
            println!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => return super::usage_error(&e),
    };
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctkit: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(a: &ReplayArgs) -> Result<(), String> {
    let mut cap = driver::open(&a.capture)?;
    let mut cfg = a.engine.config()?;
    if a.mode != Mode::Events {
        // Only --events prints events: not building them is ~10 % of the replay.
        driver::events_off(&mut cfg);
    }
    let mut t = Tracker::new(cfg.clone(), a.seed);
    let mut out = Out::new();
    // What was printed before a capture error (a truncated file) still comes out.
    let r = print(a, &mut cap, &mut t, &cfg, &mut out);
    out.flush();
    if let Some(note) = driver::unsupported_note(&a.capture, &cap.stats()) {
        eprintln!("ctkit: {note}");
    }
    r
}

/// The output of `a.mode`.
fn print(
    a: &ReplayArgs,
    cap: &mut driver::CaptureReader,
    t: &mut Tracker,
    cfg: &ctkit_engine::Config,
    out: &mut Out,
) -> Result<(), String> {
    let cap_err = |e: ctkit_capture::CaptureError| format!("{}: {e}", a.capture);
    match a.mode {
        Mode::Events if a.expect => {
            driver::replay_batched(cap, t, a.zone, None, |t, _| {
                t.drain_events(&mut |_| {});
                let buf = out.buf();
                t.drain_expect_events(&mut |e| output::write_expect_event(buf, e, &a.view));
                ControlFlow::Continue(())
            })
            .map_err(cap_err)?;
        }
        Mode::Events => {
            driver::replay_batched(cap, t, a.zone, None, |t, _| {
                let buf = out.buf();
                t.drain_events(&mut |e| output::write_event(buf, e, &a.view));
                ControlFlow::Continue(())
            })
            .map_err(cap_err)?;
        }
        Mode::PerPacket => {
            driver::replay_batched(cap, t, a.zone, None, |t, s| {
                t.drain_events(&mut |_| {});
                if a.view.filtered && !output::packet_matches(s, &a.view) {
                    return ControlFlow::Continue(());
                }
                output::write_packet(out.buf(), s, a.view.json);
                ControlFlow::Continue(())
            })
            .map_err(cap_err)?;
        }
        Mode::Table => {
            let prog = driver::replay_batched(cap, t, a.zone, None, |t, _| {
                t.drain_events(&mut |_| {});
                ControlFlow::Continue(())
            })
            .map_err(cap_err)?;
            if a.expect {
                t.for_each_expect(prog.last_ns, &mut |e| {
                    output::write_expect(out.buf(), e, &a.view);
                });
            } else {
                let now_s = driver::secs_us(prog.last_ns).0;
                t.for_each_flow(prog.last_ns, &mut |f| {
                    output::write_entry(out.buf(), f, &a.view, now_s);
                });
            }
        }
        Mode::WhatIf => {
            let report = what_if(a, cap, t, cfg.get("nf_conntrack_max").unwrap_or(0))?;
            let text = if a.view.json {
                report.json()
            } else {
                report.text()
            };
            out.buf().extend_from_slice(text.as_bytes());
        }
    }
    Ok(())
}

/// The what-if pass: the occupancy series and the counters, then a second replay up to the
/// peak for the state breakdown there.
fn what_if(
    a: &ReplayArgs,
    cap: &mut driver::CaptureReader,
    t: &mut Tracker,
    max: u64,
) -> Result<whatif::Report, String> {
    let cap_err = |e: ctkit_capture::CaptureError| format!("{}: {e}", a.capture);
    let mut series = whatif::Series::new(1_000_000_000);
    let mut r = whatif::Report {
        max,
        ..whatif::Report::default()
    };
    let mut first = None;
    let prog = driver::replay(cap, t, a.zone, None, |t, s| {
        t.drain_events(&mut |_| {});
        let first = *first.get_or_insert(s.now);
        let n = t.len() as u64;
        series.record(s.now, n, &t.stats());
        if n > r.peak {
            r.peak = n;
            r.peak_at_ns = s.now - first;
            r.peak_packet = s.index + 1;
        }
        r.dropped_packets += u64::from(s.verdict.dropped);
        ControlFlow::Continue(())
    })
    .map_err(cap_err)?;
    series.finish();
    r.packets = prog.packets;
    r.stats = t.stats();
    r.final_entries = t.len() as u64;
    if r.peak_packet > 0 {
        if a.capture == "-" {
            // Standard input cannot be read twice: the breakdown is of the final table.
            r.by_state_at_end = true;
            t.for_each_flow(prog.last_ns, &mut |f| {
                *r.by_state.entry(whatif::state_key(f)).or_default() += 1;
            });
        } else {
            let mut cap2 = driver::open(&a.capture)?;
            let mut cfg2 = a.engine.config()?;
            driver::events_off(&mut cfg2);
            let mut t2 = Tracker::new(cfg2, a.seed);
            let p2 = driver::replay(&mut cap2, &mut t2, a.zone, Some(r.peak_packet), |t, _| {
                t.drain_events(&mut |_| {});
                ControlFlow::Continue(())
            })
            .map_err(cap_err)?;
            t2.for_each_flow(p2.last_ns, &mut |f| {
                *r.by_state.entry(whatif::state_key(f)).or_default() += 1;
            });
        }
    }
    if let Some(path) = &a.csv {
        std::fs::write(path, series.csv()).map_err(|e| format!("{path}: {e}"))?;
    }
    if let Some(path) = &a.svg {
        std::fs::write(path, series.svg(max)).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(r)
}
