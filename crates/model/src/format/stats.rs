//! `-S`, `-S expect` and `-C` output of conntrack 1.4.7 (`nfct_stats_cb`, `nfexp_stats_cb`,
//! `nfct_global_stats_cb` and the /proc fallback `display_proc_conntrack_stats` in
//! src/conntrack.c).
//!
//! Per-CPU lines are `cpu=%-4u\t` followed by `name=%u ` for each attribute present, in
//! attribute order, keeping the trailing blank, then `\n`.

use super::wr;
use crate::stats::{CpuStats, ExpCpuStats};

fn cpu_prefix(out: &mut Vec<u8>, cpu: u64) {
    out.extend_from_slice(b"cpu=");
    let s = out.len();
    wr::u64_dec(out, cpu);
    for _ in out.len() - s..4 {
        out.push(b' ');
    }
    out.push(b'\t');
}

fn field(out: &mut Vec<u8>, name: &str, v: u32) {
    out.extend_from_slice(name.as_bytes());
    out.push(b'=');
    wr::u64_dec(out, v as u64);
    out.push(b' ');
}

/// Appends one `-S` line for a CPU (`IPCTNL_MSG_CT_GET_STATS_CPU` reply).
pub fn write_cpu_stats(out: &mut Vec<u8>, s: &CpuStats) {
    cpu_prefix(out, s.cpu as u64);
    for (name, v) in CpuStats::NAMES.iter().zip(s.values.iter()) {
        if let Some(v) = v {
            field(out, name, *v);
        }
    }
    out.push(b'\n');
}

/// Appends one `-S expect` line for a CPU (`IPCTNL_MSG_EXP_GET_STATS_CPU` reply).
pub fn write_exp_cpu_stats(out: &mut Vec<u8>, s: &ExpCpuStats) {
    cpu_prefix(out, s.cpu as u64);
    for (name, v) in [
        ("expect_new", s.expect_new),
        ("expect_create", s.expect_create),
        ("expect_delete", s.expect_delete),
    ] {
        if let Some(v) = v {
            field(out, name, v);
        }
    }
    out.push(b'\n');
}

/// Appends one line of the /proc/net/stat/nf_conntrack fallback: `cpu=%-4u\t` then
/// `name=value ` for every header column (`names`) with the row's hex values already parsed
/// (`values`, missing ones print 0), then `\n`.
pub fn write_proc_stats_line(out: &mut Vec<u8>, cpu: u32, names: &[&str], values: &[u32]) {
    cpu_prefix(out, cpu as u64);
    for (i, name) in names.iter().enumerate() {
        field(out, name, values.get(i).copied().unwrap_or(0));
    }
    out.push(b'\n');
}

/// Appends the `-C` line (`%d\n` of `CTA_STATS_GLOBAL_ENTRIES`, or of
/// /proc/sys/net/netfilter/nf_conntrack_count).
pub fn write_count(out: &mut Vec<u8>, n: u32) {
    wr::i64_dec(out, n as i32 as i64);
    out.push(b'\n');
}
