//! The `-o save` line of conntrack 1.4.7 (`ct_save_snprintf` in src/conntrack.c with the
//! `print_opts` of extensions/libct_proto_*.c): a `conntrack -R` command that recreates the
//! entry.
//!
//! Layout: `-A|-U|-D` `[-t T]` `[-u A,B|UNSET]` `[-c S]` `[-w Z]` `[--orig-zone Z]`
//! `[--reply-zone Z]` `-s A -d B` `-r|-g C` `-q|-n D` `-p NAME <proto options>` or `-p N`.
//! Status names are the four settable bits in bit order (EXPECTED, SEEN_REPLY, ASSURED,
//! FIXED_TIMEOUT), `UNSET` when none is set. `-g`/`-n` replace `-r`/`-q` only for IPv4 entries
//! whose status has DST_NAT_DONE/SRC_NAT_DONE and whose reply address differs
//! (`nfct_getobjopt(NFCT_GOPT_IS_DNAT/IS_SNAT)`). Mark, labels, secctx and helper are not saved.
//! Trailing blanks are removed.

use super::{end_record, flow_af, wr, EventKind, Userspace};
use crate::flow::Flow;
use crate::proto::{self, Family};
use crate::protoinfo::ProtoInfo;
use crate::status::Status;
use std::net::IpAddr;

/// Options of the save line.
#[derive(Clone, Copy, Debug, Default)]
pub struct SaveOptions<'a> {
    /// Prefix: conntrack passes `New` (`-A`) for `-L`, `-U` re-prints and NEW events,
    /// `Update` (`-U`) for UPDATE events, `Destroy` (`-D`) for `-D` and DESTROY events;
    /// `None` prints no prefix.
    pub event: Option<EventKind>,
    /// The event's `[USERSPACE]` suffix.
    pub userspace: Option<Userspace<'a>>,
}

/// DCCP state names of extensions/libct_proto_dccp.c.
const DCCP_STATES: [&str; 10] = crate::protoinfo::DCCP_STATE_NAMES;
/// DCCP role names (`--role`).
const DCCP_ROLES: [&str; 2] = ["client", "server"];

/// Appends one complete save line (with its `\n`).
pub fn write_flow_save(out: &mut Vec<u8>, f: &Flow, o: &SaveOptions<'_>) {
    let start = out.len();
    match o.event {
        Some(EventKind::New) => out.extend_from_slice(b"-A "),
        Some(EventKind::Update) => out.extend_from_slice(b"-U "),
        Some(EventKind::Destroy) => out.extend_from_slice(b"-D "),
        None => {}
    }
    if let Some(t) = f.timeout {
        opt_u64(out, b"-t ", t as u64);
    }
    if let Some(s) = f.status {
        out.extend_from_slice(b"-u ");
        let mut any = false;
        for (bit, name) in [
            (Status::EXPECTED, "EXPECTED"),
            (Status::SEEN_REPLY, "SEEN_REPLY"),
            (Status::ASSURED, "ASSURED"),
            (Status::FIXED_TIMEOUT, "FIXED_TIMEOUT"),
        ] {
            if s.contains(bit) {
                if any {
                    out.push(b',');
                }
                out.extend_from_slice(name.as_bytes());
                any = true;
            }
        }
        if !any {
            out.extend_from_slice(b"UNSET");
        }
        out.push(b' ');
    }
    if let Some(v) = f.secmark {
        opt_u64(out, b"-c ", v as u64);
    }
    if let Some(v) = f.zone {
        opt_u64(out, b"-w ", v as u64);
    }
    if let Some(v) = f.orig.zone {
        opt_u64(out, b"--orig-zone ", v as u64);
    }
    if let Some(v) = f.reply.zone {
        opt_u64(out, b"--reply-zone ", v as u64);
    }
    if flow_af(f) == 0 {
        // conntrack warns on stderr and prints what it has so far.
        finish(out, start, o);
        return;
    }
    let v4 = flow_af(f) == Family::AF_INET;
    let st = f.status;
    let is_dnat =
        v4 && st.is_some_and(|s| s.contains(Status::DST_NAT_DONE)) && f.reply.src != f.orig.dst;
    let is_snat =
        v4 && st.is_some_and(|s| s.contains(Status::SRC_NAT_DONE)) && f.reply.dst != f.orig.src;
    if f.has_orig {
        opt_ip(out, b"-s ", f.orig.src);
        opt_ip(out, b"-d ", f.orig.dst);
    }
    if f.has_reply {
        opt_ip(out, if is_dnat { b"-g " } else { b"-r " }, f.reply.src);
        opt_ip(out, if is_snat { b"-n " } else { b"-q " }, f.reply.dst);
    }
    let p = if f.has_orig {
        f.orig.proto
    } else {
        f.reply.proto
    };
    match proto::l4_name(p) {
        Some(name) => {
            out.extend_from_slice(b"-p ");
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            proto_opts(out, f, p);
        }
        None => opt_u64(out, b"-p ", p as u64),
    }
    finish(out, start, o);
}

fn finish(out: &mut Vec<u8>, start: usize, o: &SaveOptions<'_>) {
    while out.len() > start && out.last() == Some(&b' ') {
        out.pop();
    }
    end_record(out, o.userspace.as_ref());
}

fn opt_u64(out: &mut Vec<u8>, key: &[u8], v: u64) {
    out.extend_from_slice(key);
    wr::u64_dec(out, v);
    out.push(b' ');
}

fn opt_str(out: &mut Vec<u8>, key: &[u8], v: &str) {
    out.extend_from_slice(key);
    out.extend_from_slice(v.as_bytes());
    out.push(b' ');
}

fn opt_ip(out: &mut Vec<u8>, key: &[u8], a: IpAddr) {
    out.extend_from_slice(key);
    wr::ip(out, a);
    out.push(b' ');
}

/// Whether the kernel sent ports for this flow. The model keeps no presence bit for ports;
/// kernels without a DCCP tracker (6.16+) send none for DCCP, which shows as all-zero ports.
fn ports_present(f: &Flow, p: u8) -> bool {
    if p == proto::IPPROTO_DCCP {
        return [f.orig.sport, f.orig.dport, f.reply.sport, f.reply.dport]
            .iter()
            .any(|x| *x != 0);
    }
    proto::has_ports(p)
}

fn proto_opts(out: &mut Vec<u8>, f: &Flow, p: u8) {
    let (o, r) = (&f.orig, &f.reply);
    match p {
        proto::IPPROTO_ICMP | proto::IPPROTO_ICMPV6 => {
            let (t, c, i): (&[u8], &[u8], &[u8]) = if p == proto::IPPROTO_ICMP {
                (b"--icmp-type ", b"--icmp-code ", b"--icmp-id ")
            } else {
                (b"--icmpv6-type ", b"--icmpv6-code ", b"--icmpv6-id ")
            };
            if f.has_orig {
                opt_u64(out, t, o.icmp_type as u64);
                opt_u64(out, c, o.icmp_code as u64);
                opt_u64(out, i, o.icmp_id as u64);
            }
        }
        proto::IPPROTO_GRE => {
            if f.has_orig {
                opt_u64(out, b"--srckey ", o.sport as u64);
                opt_u64(out, b"--dstkey ", o.dport as u64);
            }
            if f.has_reply {
                opt_u64(out, b"--reply-key-src ", r.sport as u64);
                opt_u64(out, b"--reply-key-dst ", r.dport as u64);
            }
        }
        _ => {
            if ports_present(f, p) {
                if f.has_orig {
                    opt_u64(out, b"--sport ", o.sport as u64);
                    opt_u64(out, b"--dport ", o.dport as u64);
                }
                if f.has_reply {
                    opt_u64(out, b"--reply-port-src ", r.sport as u64);
                    opt_u64(out, b"--reply-port-dst ", r.dport as u64);
                }
            }
            match (p, f.protoinfo) {
                (proto::IPPROTO_TCP, Some(ProtoInfo::Tcp(t))) => {
                    if let Some(n) = t.state.and_then(|s| super::TCP_STATES.get(s as usize)) {
                        opt_str(out, b"--state ", n);
                    }
                }
                (proto::IPPROTO_SCTP, Some(ProtoInfo::Sctp(s))) => {
                    if let Some(n) = s.state.and_then(|v| super::SCTP_STATES.get(v as usize)) {
                        opt_str(out, b"--state ", n);
                    }
                    // conntrack 1.4.7 prints the tags through ntohl twice (its sctp
                    // extension and libnetfilter_conntrack): byte-swapped on little-endian
                    // hosts, as it also reads them back with `-I`/`-R`.
                    if let Some(v) = s.vtag_orig {
                        opt_u64(out, b"--orig-vtag ", u32::from_be(v) as u64);
                    }
                    if let Some(v) = s.vtag_reply {
                        opt_u64(out, b"--reply-vtag ", u32::from_be(v) as u64);
                    }
                }
                (proto::IPPROTO_DCCP, Some(ProtoInfo::Dccp(d))) => {
                    if let Some(n) = d.state.and_then(|v| DCCP_STATES.get(v as usize)) {
                        opt_str(out, b"--state ", n);
                    }
                    if let Some(n) = d.role.and_then(|v| DCCP_ROLES.get(v as usize)) {
                        opt_str(out, b"--role ", n);
                    }
                }
                _ => {}
            }
        }
    }
}
