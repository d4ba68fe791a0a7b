//! Columns and cells of `ctkit top`, shared by the screen and the single-run (`-1`) text:
//! which columns exist (iptstate's `Source Destination Prt State TTL [Bytes Packets]`,
//! then ctkit's rate, NAT, zone/mark/flags and aggregation columns), how wide they are
//! (iptstate's dynamic formatting: fixed columns as wide as their widest shown value, the
//! address columns share what is left), how cells read, and the incremental search.

use super::row::{unpack, Row, F_MARK, F_ZONE};
use super::view::{AggKey, Group, SortKey, Totals, View};
use ctkit_model::Status;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Resolved names: hosts (reverse DNS, filled asynchronously) and services (/etc/services).
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// Address → name (`None`: looked up, no name).
    pub hosts: HashMap<IpAddr, Option<String>>,
    /// (port, is UDP) → service name.
    pub services: HashMap<(u16, bool), String>,
}

impl Names {
    /// Reads /etc/services (`name port/proto`), ignoring what it cannot read.
    pub fn load_services(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut w = line.split_whitespace();
            let (Some(name), Some(pp)) = (w.next(), w.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            let udp = match proto {
                "tcp" => false,
                "udp" => true,
                _ => continue,
            };
            self.services
                .entry((port, udp))
                .or_insert_with(|| name.to_string());
        }
    }
}

/// What the cells show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fmt {
    /// `-C`: Bytes and Packets.
    pub counters: bool,
    /// Rate columns (with counters, once two scans were seen).
    pub rates: bool,
    /// `n`: reply tuple columns.
    pub nat: bool,
    /// `z`: Zone, Mark, Flags.
    pub ext: bool,
    /// `-l`: names instead of addresses and port numbers.
    pub lookup: bool,
    /// `-m`: '+' on truncated values.
    pub mark_truncated: bool,
    /// Not `-o`: widths from the shown values.
    pub dynamic: bool,
}

/// A column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    /// Original source (`addr:port`).
    Src,
    /// Original destination.
    Dst,
    /// Protocol.
    Proto,
    /// State.
    State,
    /// Time left.
    Ttl,
    /// Bytes, both directions.
    Bytes,
    /// Packets, both directions.
    Packets,
    /// Bytes per second.
    Rate,
    /// Packets per second.
    PacketRate,
    /// Reply source (the translated destination under DNAT).
    ReplySrc,
    /// Reply destination (the translated source under SNAT).
    ReplyDst,
    /// Zone.
    Zone,
    /// Mark.
    Mark,
    /// ASSURED / UNREPLIED / SNAT / DNAT.
    Flags,
    /// The aggregation key.
    Key,
    /// Entries in the group.
    Entries,
    /// The group's share of shown entries.
    Share,
}

impl Col {
    /// The header text.
    pub fn header(self) -> &'static str {
        match self {
            Col::Src => "Source",
            Col::Dst => "Destination",
            Col::Proto => "Prt",
            Col::State => "State",
            Col::Ttl => "TTL",
            Col::Bytes => "Bytes",
            Col::Packets => "Packets",
            Col::Rate => "Bytes/s",
            Col::PacketRate => "Pkts/s",
            Col::ReplySrc => "Reply Source",
            Col::ReplyDst => "Reply Destination",
            Col::Zone => "Zone",
            Col::Mark => "Mark",
            Col::Flags => "Flags",
            Col::Key => "Group",
            Col::Entries => "Entries",
            Col::Share => "Share",
        }
    }

    /// Address-like columns share the free width.
    pub fn flexible(self) -> bool {
        matches!(
            self,
            Col::Src | Col::Dst | Col::ReplySrc | Col::ReplyDst | Col::Key
        )
    }

    /// Numbers are right-aligned.
    pub fn right(self) -> bool {
        matches!(
            self,
            Col::Ttl
                | Col::Bytes
                | Col::Packets
                | Col::Rate
                | Col::PacketRate
                | Col::Entries
                | Col::Share
        )
    }

    /// Width in fixed (`-o`) formatting.
    fn fixed_width(self) -> usize {
        match self {
            Col::Proto => 6,
            Col::State => 13,
            Col::Ttl => 10,
            Col::Bytes => 12,
            Col::Packets => 10,
            Col::Rate => 9,
            Col::PacketRate => 8,
            Col::Zone => 6,
            Col::Mark => 11,
            Col::Flags => 18,
            Col::Entries => 9,
            Col::Share => 7,
            _ => 0,
        }
    }

    /// Which end of a too-long value is kept (true: the left part).
    fn keep_left(self, lookup: bool) -> bool {
        // iptstate: names are cut from the right for the source and from the left for the
        // destination; addresses the other way round.
        match self {
            Col::Src | Col::ReplySrc => lookup,
            Col::Dst | Col::ReplyDst => !lookup,
            _ => true,
        }
    }
}

/// The columns for `fmt` (and the aggregation view, when grouping).
pub fn columns(fmt: &Fmt, group: Option<AggKey>) -> Vec<Col> {
    let mut c = Vec::new();
    if group.is_some() {
        c.extend([Col::Key, Col::Entries, Col::Share]);
        if fmt.counters {
            c.extend([Col::Bytes, Col::Packets]);
            if fmt.rates {
                c.extend([Col::Rate, Col::PacketRate]);
            }
        }
        return c;
    }
    c.extend([Col::Src, Col::Dst]);
    if fmt.nat {
        c.extend([Col::ReplySrc, Col::ReplyDst]);
    }
    c.extend([Col::Proto, Col::State, Col::Ttl]);
    if fmt.counters {
        c.extend([Col::Bytes, Col::Packets]);
        if fmt.rates {
            c.extend([Col::Rate, Col::PacketRate]);
        }
    }
    if fmt.ext {
        c.extend([Col::Zone, Col::Mark, Col::Flags]);
    }
    c
}

/// [`columns`] for a screen `width` wide: the rate columns go first when the address
/// columns would get less than an IPv4 `address:port` (22 characters) each.
pub fn columns_for_width(fmt: &Fmt, group: Option<AggKey>, width: usize) -> Vec<Col> {
    let mut c = columns(fmt, group);
    for drop in [Col::PacketRate, Col::Rate] {
        let flex = c.iter().filter(|x| x.flexible()).count();
        let fixed: usize = c.iter().map(|x| x.fixed_width()).sum();
        if fixed + flex * 22 > width {
            c.retain(|x| *x != drop);
        }
    }
    c
}

/// `h:mm:ss`, as iptstate prints the TTL.
pub fn ttl(secs: u32) -> String {
    let mut s = String::new();
    write_ttl(&mut s, secs);
    s
}

/// Appends `n` in decimal (no `core::fmt`: this runs for every cell of a million rows).
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

fn push_2(out: &mut String, n: u32) {
    out.push((b'0' + (n / 10) as u8) as char);
    out.push((b'0' + (n % 10) as u8) as char);
}

fn write_ttl(out: &mut String, secs: u32) {
    push_u64(out, (secs / 3600) as u64);
    out.push(':');
    push_2(out, secs / 60 % 60);
    out.push(':');
    push_2(out, secs % 60);
}

fn push_ip(out: &mut String, a: IpAddr) {
    match a {
        IpAddr::V4(v) => {
            for (i, o) in v.octets().iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u64(out, *o as u64);
            }
        }
        IpAddr::V6(v) => {
            let _ = write!(out, "{v}");
        }
    }
}

fn write_state(out: &mut String, r: &Row) {
    use ctkit_model::proto::{IPPROTO_ICMP, IPPROTO_ICMPV6};
    match r.proto {
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            push_u64(out, r.icmp_type as u64);
            out.push('/');
            push_u64(out, r.icmp_code as u64);
            out.push_str(" (");
            push_u64(out, r.icmp_id as u64);
            out.push(')');
        }
        _ => out.push_str(r.state_name().unwrap_or("")),
    }
}

/// 1234567 → `1.2M` (powers of 1000), for rates.
pub fn human(v: f64) -> String {
    const UNITS: [&str; 5] = ["", "K", "M", "G", "T"];
    let mut v = v;
    let mut u = 0;
    while v >= 999.5 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

fn endpoint(
    out: &mut String,
    addr: IpAddr,
    port: Option<(u16, bool)>,
    names: &Names,
    lookup: bool,
) {
    let name = if lookup {
        names.hosts.get(&addr).and_then(|n| n.as_deref())
    } else {
        None
    };
    match (name, addr, port) {
        (Some(n), _, _) => out.push_str(n),
        (None, IpAddr::V6(a), Some(_)) => {
            let _ = write!(out, "[{a}]");
        }
        (None, a, _) => push_ip(out, a),
    }
    if let Some((p, udp)) = port {
        out.push(':');
        match names.services.get(&(p, udp)).filter(|_| lookup) {
            Some(s) => out.push_str(s),
            None => push_u64(out, p as u64),
        }
    }
}

/// The flags text: ASSURED or UNREPLIED, then SNAT/DNAT.
pub fn flags_text(r: &Row) -> String {
    let s = r.status();
    let mut v: Vec<&str> = Vec::new();
    if s.contains(Status::ASSURED) {
        v.push("ASSURED");
    } else if !s.contains(Status::SEEN_REPLY) {
        v.push("UNREPLIED");
    }
    if s.contains(Status::SRC_NAT) {
        v.push("SNAT");
    }
    if s.contains(Status::DST_NAT) {
        v.push("DNAT");
    }
    v.join(" ")
}

/// Writes the cell of `col` for row `ri` of the snapshot into `out` (cleared first).
pub fn row_cell(out: &mut String, col: Col, ri: usize, v: &View, names: &Names, fmt: &Fmt) {
    out.clear();
    let r = &v.snap.rows[ri];
    let rate = v.snap.rate(ri);
    let udp = r.proto == ctkit_model::proto::IPPROTO_UDP;
    let ports = r.has_ports();
    match col {
        Col::Src => endpoint(
            out,
            r.src_ip(),
            ports.then_some((r.sport, udp)),
            names,
            fmt.lookup,
        ),
        Col::Dst => endpoint(
            out,
            r.dst_ip(),
            ports.then_some((r.dport, udp)),
            names,
            fmt.lookup,
        ),
        Col::ReplySrc | Col::ReplyDst => {
            let rep = r.reply(&v.snap.nat);
            let (a, p) = if col == Col::ReplySrc {
                (rep.src, rep.sport)
            } else {
                (rep.dst, rep.dport)
            };
            endpoint(
                out,
                unpack(&a, r.is_v6()),
                ports.then_some((p, udp)),
                names,
                fmt.lookup,
            )
        }
        Col::Proto => out.push_str(&r.proto_name()),
        Col::State => write_state(out, r),
        Col::Ttl => write_ttl(out, r.timeout),
        Col::Bytes => push_u64(out, r.bytes),
        Col::Packets => push_u64(out, r.packets),
        Col::Rate | Col::PacketRate => {
            if let Some([b, p]) = rate {
                out.push_str(&human(if col == Col::Rate { b } else { p } as f64));
            }
        }
        Col::Zone => {
            if r.flags & F_ZONE != 0 {
                let _ = write!(out, "{}", r.zone);
            }
        }
        Col::Mark => {
            if r.flags & F_MARK != 0 {
                let _ = write!(out, "{}", r.mark);
            }
        }
        Col::Flags => out.push_str(&flags_text(r)),
        Col::Key | Col::Entries | Col::Share => {}
    }
}

/// The group key as shown: an address, `proto/port` or `proto STATE`.
pub fn group_label(r: &Row, k: AggKey, names: &Names, lookup: bool) -> String {
    let mut s = String::new();
    match k {
        AggKey::Src => endpoint(&mut s, r.src_ip(), None, names, lookup),
        AggKey::Dst => endpoint(&mut s, r.dst_ip(), None, names, lookup),
        AggKey::Dport => {
            if r.has_ports() {
                let _ = write!(s, "{}/{}", r.proto_name(), r.dport);
            } else {
                s.push_str(&r.proto_name());
            }
        }
        AggKey::State => {
            s.push_str(&r.proto_name());
            if let Some(n) = r.state_name() {
                let _ = write!(s, " {n}");
            }
        }
    }
    s
}

/// Writes the cell of `col` for group `g` into `out`.
pub fn group_cell(out: &mut String, col: Col, g: &Group, v: &View, names: &Names, fmt: &Fmt) {
    out.clear();
    let r = &v.snap.rows[g.sample as usize];
    let shown = v.totals.total - v.totals.filtered;
    match col {
        Col::Key => {
            let k = v
                .settings
                .as_ref()
                .and_then(|s| s.group)
                .unwrap_or(AggKey::Src);
            out.push_str(&group_label(r, k, names, fmt.lookup));
        }
        Col::Entries => {
            let _ = write!(out, "{}", g.count);
        }
        Col::Share => {
            let pct = if shown == 0 {
                0.0
            } else {
                g.count as f64 * 100.0 / shown as f64
            };
            let _ = write!(out, "{pct:.1}%");
        }
        Col::Bytes => {
            let _ = write!(out, "{}", g.bytes);
        }
        Col::Packets => {
            let _ = write!(out, "{}", g.packets);
        }
        Col::Rate => out.push_str(&human(g.rate_bytes)),
        Col::PacketRate => out.push_str(&human(g.rate_packets)),
        _ => {}
    }
}

/// The cells of display line `i` of `v`.
pub fn line_cells(v: &View, i: usize, cols: &[Col], names: &Names, fmt: &Fmt) -> Vec<String> {
    let mut cells = Vec::new();
    fill_cells(&mut cells, v, i, cols, names, fmt);
    cells
}

/// [`line_cells`] into reused storage (no allocation once the strings have grown).
pub fn fill_cells(
    cells: &mut Vec<String>,
    v: &View,
    i: usize,
    cols: &[Col],
    names: &Names,
    fmt: &Fmt,
) {
    cells.resize_with(cols.len(), String::new);
    for (s, &c) in cells.iter_mut().zip(cols) {
        match &v.groups {
            Some(g) => group_cell(s, c, &g[i], v, names, fmt),
            None => row_cell(s, c, v.order[i] as usize, v, names, fmt),
        }
    }
}

/// Column widths (each includes one space of separation; the last column may be cut).
///
/// `total`: the screen width, or `None` for unlimited (every value whole). `lines`: the
/// cells of the lines that will be shown (for dynamic widths).
pub fn widths(cols: &[Col], total: Option<usize>, lines: &[Vec<String>], fmt: &Fmt) -> Vec<usize> {
    let widest = |i: usize| {
        lines
            .iter()
            .map(|l| l[i].chars().count())
            .max()
            .unwrap_or(0)
            .max(cols[i].header().len())
            + 1
    };
    let mut w: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.flexible() {
                0
            } else if fmt.dynamic || total.is_none() {
                widest(i)
            } else {
                c.fixed_width()
            }
        })
        .collect();
    let flex: Vec<usize> = (0..cols.len()).filter(|&i| cols[i].flexible()).collect();
    match total {
        None => {
            for &i in &flex {
                w[i] = widest(i);
            }
        }
        Some(total) => {
            let used: usize = w.iter().sum();
            let free = total.saturating_sub(used);
            let n = flex.len().max(1);
            for (k, &i) in flex.iter().enumerate() {
                // Earlier columns get the remainder, at least the header and a space.
                let share = free / n + usize::from(k < free % n);
                w[i] = share.max(cols[i].header().len() + 1);
            }
        }
    }
    w
}

/// `text` fitted into `width - 1` characters (one space separates columns).
pub fn fit(text: &str, width: usize, col: Col, fmt: &Fmt) -> String {
    fit_cow(text, width, col, fmt).into_owned()
}

fn fit_cow<'a>(text: &'a str, width: usize, col: Col, fmt: &Fmt) -> std::borrow::Cow<'a, str> {
    let room = width.saturating_sub(1);
    let n = if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    };
    if n <= room {
        return text.into();
    }
    let mark = fmt.mark_truncated && room > 0;
    let keep = room - usize::from(mark);
    let left = col.keep_left(fmt.lookup);
    let mut s: String = if left {
        text.chars().take(keep).collect()
    } else {
        text.chars().skip(n - keep).collect()
    };
    if mark {
        if left {
            s.push('+');
        } else {
            s.insert(0, '+');
        }
    }
    s.into()
}

/// One table line: every cell fitted and padded (numbers right-aligned in their column
/// minus the separating space), trailing spaces kept as iptstate prints them.
pub fn join(cols: &[Col], widths: &[usize], cells: &[String], fmt: &Fmt) -> String {
    let mut out = String::new();
    join_into(&mut out, cols, widths, cells, fmt);
    out
}

/// [`join`] appended to `out`.
pub fn join_into(out: &mut String, cols: &[Col], widths: &[usize], cells: &[String], fmt: &Fmt) {
    const SPACES: &str = "                                                                ";
    let pad = |out: &mut String, mut n: usize| {
        while n > 0 {
            let k = n.min(SPACES.len());
            out.push_str(&SPACES[..k]);
            n -= k;
        }
    };
    for (i, c) in cols.iter().enumerate() {
        let w = widths[i];
        let t = fit_cow(&cells[i], w, *c, fmt);
        let len = if t.is_ascii() {
            t.len()
        } else {
            t.chars().count()
        };
        if c.right() {
            pad(out, w.saturating_sub(1).saturating_sub(len));
            out.push_str(&t);
            out.push(' ');
        } else {
            out.push_str(&t);
            pad(out, w.saturating_sub(len));
        }
    }
}

/// The header line.
pub fn header_line(cols: &[Col], widths: &[usize], fmt: &Fmt) -> String {
    let cells: Vec<String> = cols.iter().map(|c| c.header().to_string()).collect();
    let mut out = String::new();
    for (i, c) in cols.iter().enumerate() {
        let t = fit(&cells[i], widths[i], *c, fmt);
        let _ = write!(out, "{:<width$}", t, width = widths[i]);
    }
    out
}

/// iptstate's totals line.
pub fn totals_line(t: &Totals) -> String {
    format!(
        "Total States: {} -- TCP: {} UDP: {} ICMP: {} Other: {} (Filtered: {})",
        t.total, t.tcp, t.udp, t.icmp, t.other, t.filtered
    )
}

/// The sort label with ` reverse`, as iptstate shows it. (iptstate says SrcName/DstName
/// with `-l` and sorts by name; ctkit sorts by address, as names arrive asynchronously.)
pub fn sort_label(sort: SortKey, reverse: bool) -> String {
    if reverse {
        format!("{} reverse", sort.label())
    } else {
        sort.label().to_string()
    }
}

/// The text searched for line `i`: the row's source, destination, protocol, state and
/// (when NATed) reply tuple, as shown, lower-cased.
pub fn search_text(v: &View, i: usize) -> String {
    let names = Names::default();
    let fmt = Fmt {
        nat: true,
        ext: true,
        ..Fmt::default()
    };
    let cols = match &v.groups {
        Some(_) => vec![Col::Key],
        None => vec![
            Col::Src,
            Col::Dst,
            Col::ReplySrc,
            Col::ReplyDst,
            Col::Proto,
            Col::State,
            Col::Flags,
        ],
    };
    line_cells(v, i, &cols, &names, &fmt)
        .join(" ")
        .to_lowercase()
}

/// The first line at or after `from` (wrapping around) whose text contains `needle`
/// (case-insensitive).
pub fn search(v: &View, needle: &str, from: usize) -> Option<usize> {
    let n = v.len();
    if n == 0 || needle.is_empty() {
        return None;
    }
    let needle = needle.to_lowercase();
    (0..n)
        .map(|k| (from + k) % n)
        .find(|&i| search_text(v, i).contains(&needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_h_mm_ss() {
        assert_eq!(ttl(299), "0:04:59");
        assert_eq!(ttl(432000), "120:00:00");
    }

    #[test]
    fn fast_number_and_address_formatting_matches_display() {
        for n in [0u64, 7, 10, 65535, 4_294_967_296, u64::MAX] {
            let mut s = String::new();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        for a in ["0.0.0.0", "192.0.2.1", "255.255.255.255", "2001:db8::1"] {
            let ip: IpAddr = a.parse().unwrap();
            let mut s = String::new();
            push_ip(&mut s, ip);
            assert_eq!(s, a);
        }
    }

    #[test]
    fn human_rates() {
        assert_eq!(human(999.0), "999");
        assert_eq!(human(1500.0), "1.5K");
        assert_eq!(human(2_000_000.0), "2.0M");
    }

    #[test]
    fn fit_cuts_addresses_and_names_at_iptstates_ends() {
        let f = Fmt {
            mark_truncated: true,
            ..Fmt::default()
        };
        assert_eq!(fit("2001:db8::1234:5", 8, Col::Src, &f), "+1234:5");
        assert_eq!(fit("2001:db8::1234:5", 8, Col::Dst, &f), "2001:d+");
        let f = Fmt {
            lookup: true,
            ..Fmt::default()
        };
        assert_eq!(fit("host.example.org", 8, Col::Src, &f), "host.ex");
        assert_eq!(fit("host.example.org", 8, Col::Dst, &f), "ple.org");
    }

    #[test]
    fn services_are_read_from_etc_services_format() {
        let mut n = Names::default();
        n.load_services("# c\nhttp 80/tcp www # web\ndomain 53/udp\nbad x/tcp\n");
        assert_eq!(n.services.get(&(80, false)).unwrap(), "http");
        assert_eq!(n.services.get(&(53, true)).unwrap(), "domain");
        assert_eq!(n.services.len(), 2);
    }
}
