//! From a snapshot to what is shown: filter, sort (iptstate's columns, numerically) and
//! optionally group. Pure functions of ([`Snapshot`], [`Settings`]), run on the worker
//! thread, never on the UI thread; the result ([`View`]) holds row indices, not copies.

use super::filter::{Expr, IptFilters};
use super::row::{addr_key, NatTable, Row, F_COUNTERS, F_RATE, NO_STATE};
use ctkit_model::proto::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use ctkit_model::TableCounters;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One scan of the source.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every entry that passed the command-line list filters.
    pub rows: Vec<Row>,
    /// Reply tuples of translated entries (`Row::nat` indexes here).
    pub nat: NatTable,
    /// Table-wide counters (entries, max, per-CPU sums), where the source has them.
    pub counters: TableCounters,
    /// When the scan ended (injected clock).
    pub taken: Duration,
    /// Scan number, from 1.
    pub seq: u64,
    /// Whether any entry carried counters (`nf_conntrack_acct=1`).
    pub accounting: bool,
    /// Lines a lenient text source skipped.
    pub skipped: u64,
    /// Whether rates were computed (a previous scan with counters exists).
    pub rated: bool,
    /// Bytes and packets per second since the previous scan, indexed like `rows` (empty
    /// until rated; valid where the row has `F_RATE`).
    pub rates: Vec<[f32; 2]>,
}

impl Snapshot {
    /// The rates of row `i`, when known.
    pub fn rate(&self, i: usize) -> Option<[f32; 2]> {
        let r = self.rows.get(i)?;
        (r.flags & F_RATE != 0)
            .then(|| self.rates.get(i).copied())
            .flatten()
    }
}

/// Sort columns, in iptstate's `b` order (Bytes and Packets only with counters), then
/// ctkit's rate column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// SrcIP (iptstate's default).
    SrcIp,
    /// SrcPort (`-b S`).
    SrcPort,
    /// DstIP (`-b d`).
    DstIp,
    /// DstPort (`-b D`).
    DstPort,
    /// Prt (`-b p`).
    Proto,
    /// State (`-b s`), in the kernel's state order.
    State,
    /// TTL (`-b t`), numerically.
    Ttl,
    /// Bytes (`-b b`).
    Bytes,
    /// Packets (`-b P`).
    Packets,
    /// Bytes per second (`-b r`).
    Rate,
}

/// One sort column: key, `-b` letter, label.
pub const SORT_KEYS: &[(SortKey, Option<char>, &str)] = &[
    (SortKey::SrcIp, None, "SrcIP"),
    (SortKey::SrcPort, Some('S'), "SrcPort"),
    (SortKey::DstIp, Some('d'), "DstIP"),
    (SortKey::DstPort, Some('D'), "DstPort"),
    (SortKey::Proto, Some('p'), "Proto"),
    (SortKey::State, Some('s'), "State"),
    (SortKey::Ttl, Some('t'), "TTL"),
    (SortKey::Bytes, Some('b'), "Bytes"),
    (SortKey::Packets, Some('P'), "Packets"),
    (SortKey::Rate, Some('r'), "Rate"),
];

impl SortKey {
    /// The label iptstate shows after "Sort:".
    pub fn label(self) -> &'static str {
        SORT_KEYS
            .iter()
            .find(|k| k.0 == self)
            .map(|k| k.2)
            .unwrap_or("")
    }

    /// The key for a `-b` letter.
    pub fn from_letter(c: char) -> Option<SortKey> {
        SORT_KEYS.iter().find(|k| k.1 == Some(c)).map(|k| k.0)
    }

    /// Whether the key needs counters (`-C`).
    pub fn needs_counters(self) -> bool {
        matches!(self, SortKey::Bytes | SortKey::Packets | SortKey::Rate)
    }

    /// The next (`b`) or previous (`B`) key; counter keys are skipped without counters.
    pub fn cycle(self, forward: bool, counters: bool) -> SortKey {
        let n = SORT_KEYS.len();
        let mut i = SORT_KEYS.iter().position(|k| k.0 == self).unwrap_or(0);
        loop {
            i = if forward {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            let k = SORT_KEYS[i].0;
            if counters || !k.needs_counters() {
                return k;
            }
        }
    }
}

/// What the aggregation view groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggKey {
    /// Original source address.
    Src,
    /// Original destination address.
    Dst,
    /// Protocol and destination port.
    Dport,
    /// Protocol and state.
    State,
}

impl AggKey {
    /// `a` cycles none → src → dst → dport → state → none.
    pub fn cycle(k: Option<AggKey>) -> Option<AggKey> {
        match k {
            None => Some(AggKey::Src),
            Some(AggKey::Src) => Some(AggKey::Dst),
            Some(AggKey::Dst) => Some(AggKey::Dport),
            Some(AggKey::Dport) => Some(AggKey::State),
            Some(AggKey::State) => None,
        }
    }

    /// The word for `--group` and the screen.
    pub fn name(self) -> &'static str {
        match self {
            AggKey::Src => "src",
            AggKey::Dst => "dst",
            AggKey::Dport => "dport",
            AggKey::State => "state",
        }
    }

    /// Parses `src|dst|dport|state`.
    pub fn parse(s: &str) -> Option<AggKey> {
        [AggKey::Src, AggKey::Dst, AggKey::Dport, AggKey::State]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// Everything that decides which rows are shown and in which order.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Sort column.
    pub sort: SortKey,
    /// `-r`.
    pub reverse: bool,
    /// iptstate's filters.
    pub filters: IptFilters,
    /// The filter expression (`--filter`, key `e`).
    pub expr: Option<Expr>,
    /// The aggregation view.
    pub group: Option<AggKey>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sort: SortKey::SrcIp,
            reverse: false,
            filters: IptFilters::default(),
            expr: None,
            group: None,
        }
    }
}

/// Per-protocol counts of iptstate's totals line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Entries in the snapshot.
    pub total: u64,
    /// TCP entries.
    pub tcp: u64,
    /// UDP entries.
    pub udp: u64,
    /// ICMP and ICMPv6 entries.
    pub icmp: u64,
    /// Anything else.
    pub other: u64,
    /// Entries hidden by the filters.
    pub filtered: u64,
}

/// One group of the aggregation view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Group {
    /// A row of the group (its key fields name the group).
    pub sample: u32,
    /// Entries.
    pub count: u64,
    /// Bytes summed.
    pub bytes: u64,
    /// Packets summed.
    pub packets: u64,
    /// Bytes per second summed.
    pub rate_bytes: f64,
    /// Packets per second summed.
    pub rate_packets: f64,
}

/// What is shown: the snapshot, and the shown rows' indices in order.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// The scan.
    pub snap: Arc<Snapshot>,
    /// Indices into `snap.rows`, in display order.
    pub order: Vec<u32>,
    /// The groups, in display order, when grouping.
    pub groups: Option<Vec<Group>>,
    /// Totals line counts.
    pub totals: Totals,
    /// The settings this view was built with.
    pub settings: Option<Settings>,
}

impl View {
    /// Lines of the table (rows or groups).
    pub fn len(&self) -> usize {
        match &self.groups {
            Some(g) => g.len(),
            None => self.order.len(),
        }
    }

    /// Whether nothing is shown.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The row at display position `i` (table mode).
    pub fn row(&self, i: usize) -> Option<&Row> {
        self.order.get(i).map(|&j| &self.snap.rows[j as usize])
    }
}

/// Whether `r` passes the filters of `s`.
pub fn shown(r: &Row, s: &Settings) -> bool {
    s.filters.matches(r) && s.expr.as_ref().is_none_or(|e| e.matches(r))
}

/// The sort key of row `i` under `k`: (primary, address, tie-break << 32 | index),
/// compared in order; 32 bytes, so sorting a million rows needs 32 MB besides the rows.
fn sort_key(r: &Row, i: u32, k: SortKey, rate: f32) -> (u64, u128, u64) {
    let v6 = r.is_v6();
    let fam = v6 as u64;
    let src = addr_key(&r.src, v6);
    let dst = addr_key(&r.dst, v6);
    let tie = |hi: u16, lo: u16| ((hi as u64) << 48) | ((lo as u64) << 32) | i as u64;
    let by_src = tie(r.sport, r.dport);
    match k {
        SortKey::SrcIp => (fam, src, by_src),
        SortKey::SrcPort => (r.sport as u64, src, by_src),
        SortKey::DstIp => (fam, dst, tie(r.dport, r.sport)),
        SortKey::DstPort => (r.dport as u64, dst, tie(r.sport, 0)),
        SortKey::Proto => (((r.proto as u64) << 1) | fam, src, by_src),
        SortKey::State => {
            let st = if r.state == NO_STATE { 0xff } else { r.state };
            (((r.proto as u64) << 8) | st as u64, src, by_src)
        }
        SortKey::Ttl => (r.timeout as u64, src, by_src),
        SortKey::Bytes => (r.bytes, src, by_src),
        SortKey::Packets => (r.packets, src, by_src),
        SortKey::Rate => (rate.max(0.0).to_bits() as u64, src, by_src),
    }
}

/// Filters, sorts and groups `snap` under `s`.
pub fn build_view(snap: Arc<Snapshot>, s: &Settings) -> View {
    let mut totals = Totals {
        total: snap.rows.len() as u64,
        ..Totals::default()
    };
    // Sized once: no doubling (and no copy at each doubling) with a million rows.
    let mut keyed: Vec<(u64, u128, u64)> = Vec::new();
    if s.group.is_none() {
        keyed.reserve_exact(snap.rows.len());
    }
    let mut order: Vec<u32> = Vec::new();
    for (i, r) in snap.rows.iter().enumerate() {
        match r.proto {
            IPPROTO_TCP => totals.tcp += 1,
            IPPROTO_UDP => totals.udp += 1,
            IPPROTO_ICMP | IPPROTO_ICMPV6 => totals.icmp += 1,
            _ => totals.other += 1,
        }
        if !shown(r, s) {
            totals.filtered += 1;
            continue;
        }
        if s.group.is_some() {
            order.push(i as u32);
        } else {
            let rate = snap.rate(i).map_or(0.0, |x| x[0]);
            keyed.push(sort_key(r, i as u32, s.sort, rate));
        }
    }
    let groups = match s.group {
        Some(g) => Some(group(&snap, &order, g, s.reverse)),
        None => {
            keyed.sort_unstable();
            order = keyed.iter().map(|k| k.2 as u32).collect();
            drop(keyed);
            if s.reverse {
                order.reverse();
            }
            None
        }
    };
    View {
        snap,
        order,
        groups,
        totals,
        settings: Some(s.clone()),
    }
}

/// The group key of a row.
pub fn group_key(r: &Row, k: AggKey) -> (u128, u32) {
    let v6 = r.is_v6();
    match k {
        AggKey::Src => (addr_key(&r.src, v6), v6 as u32),
        AggKey::Dst => (addr_key(&r.dst, v6), v6 as u32),
        AggKey::Dport => (
            0,
            ((r.proto as u32) << 16) | if r.has_ports() { r.dport as u32 } else { 0 },
        ),
        AggKey::State => (0, ((r.proto as u32) << 8) | r.state as u32),
    }
}

fn group(snap: &Snapshot, shown: &[u32], k: AggKey, reverse: bool) -> Vec<Group> {
    let mut map: HashMap<(u128, u32), Group> = HashMap::new();
    for &i in shown {
        let r = &snap.rows[i as usize];
        let g = map.entry(group_key(r, k)).or_insert(Group {
            sample: i,
            count: 0,
            bytes: 0,
            packets: 0,
            rate_bytes: 0.0,
            rate_packets: 0.0,
        });
        g.count += 1;
        g.bytes += r.bytes;
        g.packets += r.packets;
        if let Some([b, p]) = snap.rate(i as usize) {
            g.rate_bytes += b as f64;
            g.rate_packets += p as f64;
        }
    }
    let mut v: Vec<((u128, u32), Group)> = map.into_iter().collect();
    // Most entries first; ties in key order.
    v.sort_unstable_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    let mut out: Vec<Group> = v.into_iter().map(|x| x.1).collect();
    if reverse {
        out.reverse();
    }
    out
}

/// Per-entry counters of the previous scan, sorted by identity, for rates.
#[derive(Clone, Debug, Default)]
pub struct RateMemory {
    prev: Vec<(u64, u64, u64)>,
    taken: Option<Duration>,
}

impl RateMemory {
    /// Fills the rate fields of `snap`'s rows from the previous scan's counters and
    /// remembers this scan's. Entries seen once (or a first scan) get no rate.
    pub fn apply(&mut self, snap: &mut Snapshot) {
        if !snap.accounting {
            self.prev.clear();
            self.taken = None;
            return;
        }
        let mut cur: Vec<(u64, u64, u64)> = snap
            .rows
            .iter()
            .filter(|r| r.flags & F_COUNTERS != 0)
            .map(|r| (r.identity(), r.bytes, r.packets))
            .collect();
        cur.sort_unstable();
        if let Some(t0) = self.taken {
            let dt = snap.taken.saturating_sub(t0).as_secs_f64();
            if dt > 0.0 {
                let mut rated = false;
                let mut rates = vec![[0f32; 2]; snap.rows.len()];
                for (r, rate) in snap.rows.iter_mut().zip(rates.iter_mut()) {
                    if r.flags & F_COUNTERS == 0 {
                        continue;
                    }
                    let id = r.identity();
                    let i = self.prev.partition_point(|p| p.0 < id);
                    if let Some(&(pid, b, p)) = self.prev.get(i) {
                        if pid == id && r.bytes >= b && r.packets >= p {
                            *rate = [
                                ((r.bytes - b) as f64 / dt) as f32,
                                ((r.packets - p) as f64 / dt) as f32,
                            ];
                            r.flags |= F_RATE;
                            rated = true;
                        }
                    }
                }
                snap.rated = rated;
                if rated {
                    snap.rates = rates;
                }
            }
        }
        self.prev = cur;
        self.taken = Some(snap.taken);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::filter::Cidr;
    use super::super::row::{tests::tcp_flow, Row};
    use super::*;
    use ctkit_model::{Counters, Flow, ProtoInfo};

    /// A snapshot of the given flows.
    pub(crate) fn snap_of(flows: &[Flow]) -> Arc<Snapshot> {
        let mut s = Snapshot::default();
        for f in flows {
            s.rows.push(Row::from_flow(f, &mut s.nat));
            s.accounting |= f.counters_orig.is_some();
        }
        Arc::new(s)
    }

    fn ids(v: &View) -> Vec<String> {
        (0..v.len())
            .map(|i| {
                let r = v.row(i).unwrap();
                format!("{}:{}", r.src_ip(), r.sport)
            })
            .collect()
    }

    fn sample() -> Arc<Snapshot> {
        let mut a = tcp_flow("192.0.2.10", 3000, "198.51.100.2", 443);
        a.timeout = Some(50);
        a.counters_orig = Some(Counters {
            packets: 5,
            bytes: 900,
        });
        let mut b = tcp_flow("192.0.2.9", 4000, "198.51.100.1", 80);
        b.timeout = Some(400);
        b.protoinfo = Some(ProtoInfo::Tcp(ctkit_model::TcpInfo {
            state: Some(7),
            ..Default::default()
        }));
        b.counters_orig = Some(Counters {
            packets: 50,
            bytes: 100,
        });
        let mut c = tcp_flow("2001:db8::1", 1000, "2001:db8::2", 22);
        c.timeout = Some(10);
        c.counters_orig = Some(Counters {
            packets: 1,
            bytes: 60,
        });
        let mut d = tcp_flow("192.0.2.100", 2000, "198.51.100.3", 53);
        d.orig.proto = 17;
        d.protoinfo = None;
        d.timeout = Some(30);
        d.counters_orig = Some(Counters {
            packets: 2,
            bytes: 2000,
        });
        snap_of(&[a, b, c, d])
    }

    fn view(sort: SortKey, reverse: bool) -> Vec<String> {
        let s = Settings {
            sort,
            reverse,
            ..Settings::default()
        };
        ids(&build_view(sample(), &s))
    }

    #[test]
    fn sort_by_source_is_numeric_ipv4_before_ipv6() {
        assert_eq!(
            view(SortKey::SrcIp, false),
            [
                "192.0.2.9:4000",
                "192.0.2.10:3000",
                "192.0.2.100:2000",
                "2001:db8::1:1000"
            ]
        );
        assert_eq!(
            view(SortKey::SrcIp, true),
            [
                "2001:db8::1:1000",
                "192.0.2.100:2000",
                "192.0.2.10:3000",
                "192.0.2.9:4000"
            ]
        );
    }

    #[test]
    fn sort_by_every_column() {
        assert_eq!(
            view(SortKey::SrcPort, false),
            [
                "2001:db8::1:1000",
                "192.0.2.100:2000",
                "192.0.2.10:3000",
                "192.0.2.9:4000"
            ]
        );
        assert_eq!(
            view(SortKey::DstIp, false),
            [
                "192.0.2.9:4000",
                "192.0.2.10:3000",
                "192.0.2.100:2000",
                "2001:db8::1:1000"
            ]
        );
        assert_eq!(
            view(SortKey::DstPort, false),
            [
                "2001:db8::1:1000",
                "192.0.2.100:2000",
                "192.0.2.9:4000",
                "192.0.2.10:3000"
            ]
        );
        assert_eq!(
            view(SortKey::Proto, false),
            [
                "192.0.2.9:4000",
                "192.0.2.10:3000",
                "2001:db8::1:1000",
                "192.0.2.100:2000"
            ]
        );
        // ESTABLISHED (3) before TIME_WAIT (7); UDP after TCP.
        assert_eq!(
            view(SortKey::State, false),
            [
                "192.0.2.10:3000",
                "2001:db8::1:1000",
                "192.0.2.9:4000",
                "192.0.2.100:2000"
            ]
        );
        assert_eq!(
            view(SortKey::Ttl, false),
            [
                "2001:db8::1:1000",
                "192.0.2.100:2000",
                "192.0.2.10:3000",
                "192.0.2.9:4000"
            ]
        );
        assert_eq!(
            view(SortKey::Bytes, true),
            [
                "192.0.2.100:2000",
                "192.0.2.10:3000",
                "192.0.2.9:4000",
                "2001:db8::1:1000"
            ]
        );
        assert_eq!(
            view(SortKey::Packets, true),
            [
                "192.0.2.9:4000",
                "192.0.2.10:3000",
                "192.0.2.100:2000",
                "2001:db8::1:1000"
            ]
        );
    }

    #[test]
    fn sort_cycle_follows_iptstate_and_skips_counters_without_them() {
        let mut k = SortKey::SrcIp;
        let mut seen = vec![];
        for _ in 0..8 {
            k = k.cycle(true, false);
            seen.push(k.label());
        }
        assert_eq!(
            seen,
            ["SrcPort", "DstIP", "DstPort", "Proto", "State", "TTL", "SrcIP", "SrcPort"]
        );
        assert_eq!(SortKey::SrcIp.cycle(false, true), SortKey::Rate);
        assert_eq!(SortKey::SrcIp.cycle(false, false), SortKey::Ttl);
        assert_eq!(SortKey::Ttl.cycle(true, true), SortKey::Bytes);
    }

    #[test]
    fn filters_hide_rows_and_count_them() {
        let s = Settings {
            filters: IptFilters {
                dst: Some(Cidr::parse("198.51.100.0/24").unwrap()),
                invert: true,
                ..Default::default()
            },
            ..Settings::default()
        };
        let v = build_view(sample(), &s);
        assert_eq!(ids(&v), ["2001:db8::1:1000"]);
        assert_eq!(
            v.totals,
            Totals {
                total: 4,
                tcp: 3,
                udp: 1,
                icmp: 0,
                other: 0,
                filtered: 3
            }
        );
        let s = Settings {
            expr: Some(Expr::parse("tcp and not state time_wait").unwrap()),
            ..Settings::default()
        };
        assert_eq!(
            ids(&build_view(sample(), &s)),
            ["192.0.2.10:3000", "2001:db8::1:1000"]
        );
    }

    #[test]
    fn grouping_counts_and_orders_by_entries() {
        let flows: Vec<Flow> = (0..5)
            .map(|i| {
                let src = if i < 3 { "192.0.2.1" } else { "192.0.2.2" };
                let mut f = tcp_flow(src, 1000 + i, "198.51.100.2", 80);
                f.counters_orig = Some(Counters {
                    packets: 1,
                    bytes: 10,
                });
                f
            })
            .collect();
        let s = Settings {
            group: Some(AggKey::Src),
            ..Settings::default()
        };
        let v = build_view(snap_of(&flows), &s);
        let g = v.groups.as_ref().unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].count, g[0].bytes), (3, 30));
        assert_eq!(
            v.snap.rows[g[0].sample as usize].src_ip().to_string(),
            "192.0.2.1"
        );
        assert_eq!(g[1].count, 2);
        let s = Settings {
            group: Some(AggKey::Dport),
            ..Settings::default()
        };
        assert_eq!(build_view(snap_of(&flows), &s).len(), 1);
    }

    #[test]
    fn many_rows_sort_into_a_permutation_in_key_order() {
        // 2^18 rows: big enough for every code path of the sort, seconds in a debug build.
        let n = 262_144u32;
        let rows: Vec<Row> = (0..n)
            .map(|i| {
                // Sources spread over 198.51.100.0/24 in a scrambled order, ports repeating.
                let j = i.wrapping_mul(2_654_435_761) % n;
                let mut src = [0u8; 16];
                src[..4].copy_from_slice(&[198, 51, 100, (j % 251) as u8]);
                Row {
                    src,
                    proto: 6,
                    sport: (j % 60000) as u16,
                    timeout: j,
                    ..Row::default()
                }
            })
            .collect();
        let s = Snapshot {
            rows,
            ..Snapshot::default()
        };
        let snap = Arc::new(s);
        for key in [SortKey::SrcIp, SortKey::Ttl] {
            let v = build_view(
                snap.clone(),
                &Settings {
                    sort: key,
                    ..Settings::default()
                },
            );
            assert_eq!(v.len(), n as usize);
            let mut seen = vec![false; n as usize];
            for &i in &v.order {
                assert!(!std::mem::replace(&mut seen[i as usize], true));
            }
            let k = |i: usize| {
                let r = v.row(i).unwrap();
                match key {
                    SortKey::Ttl => (r.timeout as u64, 0),
                    _ => (r.src[3] as u64, r.sport as u64),
                }
            };
            assert!((1..n as usize).all(|i| k(i - 1) <= k(i)), "{key:?}");
        }
    }

    #[test]
    fn rates_come_from_counter_deltas_between_scans() {
        let mut mem = RateMemory::default();
        let mut f = tcp_flow("192.0.2.1", 1, "198.51.100.2", 80);
        f.counters_orig = Some(Counters {
            packets: 10,
            bytes: 1000,
        });
        let mut s1 = (*snap_of(&[f])).clone();
        s1.taken = Duration::from_secs(10);
        mem.apply(&mut s1);
        assert_eq!(s1.rows[0].flags & F_RATE, 0);
        f.counters_orig = Some(Counters {
            packets: 30,
            bytes: 5000,
        });
        let mut s2 = (*snap_of(&[f])).clone();
        s2.taken = Duration::from_secs(12);
        mem.apply(&mut s2);
        assert_eq!(s2.rate(0).map(|[b, p]| (b, p)).unwrap(), (2000.0, 10.0));
        assert_ne!(s2.rows[0].flags & F_RATE, 0);
        assert!(s2.rated && !s1.rated);
    }
}
