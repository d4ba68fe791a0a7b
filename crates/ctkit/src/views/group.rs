//! Grouping conntrack entries by keys (`src`, `dport`, `state`, …) and counting them, the core
//! of `ctkit summary` (and of the views that rank entries: `doctor`, `top`).
//!
//! Each entry's key is encoded into a reused byte buffer and looked up in a map of boxed keys,
//! so a stream of entries allocates only when a new group appears: memory grows with groups,
//! not entries. The encoding is prefix-free per key (addresses carry their family), so the
//! concatenation for several keys is unambiguous, and byte order sorts addresses and ports
//! numerically (IPv4 before IPv6).
//!
//! Directions: a key names the direction it reads. `src`, `dst`, `sport`, `dport` and `pair`
//! read the original tuple (`CTA_TUPLE_ORIG`: the side that opened the connection, the
//! client); `reply-src` and `reply-dst` read the reply tuple (`CTA_TUPLE_REPLY`). The sed
//! recipe `s/^.*src=\([^ ]*\).*/\1/p` on /proc/net/nf_conntrack matches the *last* `src=`,
//! which is the reply source (the server, or the NAT target): that is `reply-src` here.
//!
//! `nat` is the address a NAT rewrote, read from the tuples as the kernel built them in
//! `nf_nat_setup_info`: source NAT when the reply tuple does not come back to the original
//! source (reply dst ≠ orig src, or for port protocols reply dport ≠ orig sport), the
//! translated source being the reply dst; destination NAT when the reply does not come from
//! the original destination (reply src ≠ orig dst, or reply sport ≠ orig dport), the translated
//! destination being the reply src. An entry can have both. This is what `IPS_SRC_NAT` and
//! `IPS_DST_NAT` mean, but it works for sources that do not carry status bits (/proc).

use ctkit_model::proto::{has_ports, l4_name};
use ctkit_model::protoinfo::{ProtoInfo, SctpState, TcpState, DCCP_STATE_NAMES};
use ctkit_model::{Flow, Status};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What entries can be grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// Original source address (the client).
    Src,
    /// Original destination address.
    Dst,
    /// Original source port (`-` for protocols without ports).
    Sport,
    /// Original destination port (`-` for protocols without ports).
    Dport,
    /// Layer 4 protocol.
    Proto,
    /// The protocol tracker's state (TCP; SCTP and DCCP prefixed with their name; `-` else).
    State,
    /// Conntrack zone (0 when the kernel sent none).
    Zone,
    /// Connection mark (0 when the kernel sent none).
    Mark,
    /// Original source and destination.
    Pair,
    /// The address NAT translated to (see the module documentation).
    Nat,
    /// Reply source address (the server, or where DNAT sent the flow).
    ReplySrc,
    /// Reply destination address (the client, or the SNAT address).
    ReplyDst,
}

/// One key's names: as typed in `--by`, the column header (naming the direction), the JSON
/// member.
struct KeyInfo {
    key: Key,
    name: &'static str,
    header: &'static str,
    json: &'static str,
}

/// Every key, in the order `--help` lists them.
const KEYS: &[KeyInfo] = &[
    KeyInfo {
        key: Key::Src,
        name: "src",
        header: "src (orig)",
        json: "src",
    },
    KeyInfo {
        key: Key::Dst,
        name: "dst",
        header: "dst (orig)",
        json: "dst",
    },
    KeyInfo {
        key: Key::Sport,
        name: "sport",
        header: "sport (orig)",
        json: "sport",
    },
    KeyInfo {
        key: Key::Dport,
        name: "dport",
        header: "dport (orig)",
        json: "dport",
    },
    KeyInfo {
        key: Key::Proto,
        name: "proto",
        header: "proto",
        json: "proto",
    },
    KeyInfo {
        key: Key::State,
        name: "state",
        header: "state",
        json: "state",
    },
    KeyInfo {
        key: Key::Zone,
        name: "zone",
        header: "zone",
        json: "zone",
    },
    KeyInfo {
        key: Key::Mark,
        name: "mark",
        header: "mark",
        json: "mark",
    },
    KeyInfo {
        key: Key::Pair,
        name: "pair",
        header: "src -> dst (orig)",
        json: "pair",
    },
    KeyInfo {
        key: Key::Nat,
        name: "nat",
        header: "nat (from reply)",
        json: "nat",
    },
    KeyInfo {
        key: Key::ReplySrc,
        name: "reply-src",
        header: "src (reply)",
        json: "reply_src",
    },
    KeyInfo {
        key: Key::ReplyDst,
        name: "reply-dst",
        header: "dst (reply)",
        json: "reply_dst",
    },
];

impl Key {
    fn info(self) -> &'static KeyInfo {
        KEYS.iter()
            .find(|k| k.key == self)
            .expect("every key is in KEYS")
    }

    /// The name as typed after `--by`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The column header, naming the direction the key reads.
    pub fn header(self) -> &'static str {
        self.info().header
    }

    /// The member name in JSON output.
    pub fn json_name(self) -> &'static str {
        self.info().json
    }

    /// Every key name, for help and error texts.
    pub fn names() -> impl Iterator<Item = &'static str> {
        KEYS.iter().map(|k| k.name)
    }

    /// Parses a comma-separated list (`src,dport`); rejects unknown and repeated keys.
    pub fn parse_list(s: &str) -> Result<Vec<Key>, String> {
        let mut keys = Vec::new();
        for word in s.split(',') {
            let word = word.trim();
            let key = KEYS
                .iter()
                .find(|k| k.name == word || k.json == word)
                .map(|k| k.key)
                .ok_or_else(|| {
                    format!(
                        "unknown key `{word}' for --by (keys: {})",
                        Key::names().collect::<Vec<_>>().join(", ")
                    )
                })?;
            if keys.contains(&key) {
                return Err(format!("key `{word}' given twice in --by"));
            }
            keys.push(key);
        }
        Ok(keys)
    }
}

/// Per-group counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Entries in the group.
    pub entries: u64,
    /// Entries without a reply yet (no `IPS_SEEN_REPLY`: conntrack prints `[UNREPLIED]`).
    pub unreplied: u64,
    /// Entries with `IPS_ASSURED`.
    pub assured: u64,
}

impl Counts {
    fn add(&mut self, flow: &Flow) {
        self.entries += 1;
        if let Some(s) = flow.status {
            if !s.contains(Status::SEEN_REPLY) {
                self.unreplied += 1;
            }
            if s.contains(Status::ASSURED) {
                self.assured += 1;
            }
        }
    }

    /// Adds another group's counters.
    pub fn merge(&mut self, o: &Counts) {
        self.entries += o.entries;
        self.unreplied += o.unreplied;
        self.assured += o.assured;
    }
}

/// The tracker family of a state value in the key encoding.
const STATE_NONE: u8 = 0;
const STATE_TCP: u8 = 1;
const STATE_SCTP: u8 = 2;
const STATE_DCCP: u8 = 3;

/// NAT kinds in the key encoding (bits).
const NAT_SRC: u8 = 1;
const NAT_DST: u8 = 2;

fn put_addr(out: &mut Vec<u8>, a: IpAddr) {
    match a {
        IpAddr::V4(v) => {
            out.push(4);
            out.extend_from_slice(&v.octets());
        }
        IpAddr::V6(v) => {
            out.push(6);
            out.extend_from_slice(&v.octets());
        }
    }
}

fn put_port(out: &mut Vec<u8>, proto: u8, port: u16) {
    if has_ports(proto) {
        out.push(1);
        out.extend_from_slice(&port.to_be_bytes());
    } else {
        out.push(0);
    }
}

/// Whether the reply tuple shows source NAT (see the module documentation).
fn is_snat(f: &Flow) -> bool {
    f.has_reply
        && (f.reply.dst != f.orig.src || (has_ports(f.orig.proto) && f.reply.dport != f.orig.sport))
}

/// Whether the reply tuple shows destination NAT.
fn is_dnat(f: &Flow) -> bool {
    f.has_reply
        && (f.reply.src != f.orig.dst || (has_ports(f.orig.proto) && f.reply.sport != f.orig.dport))
}

/// Appends `key`'s encoding of `f` to `out`.
fn encode(key: Key, f: &Flow, out: &mut Vec<u8>) {
    match key {
        Key::Src => put_addr(out, f.orig.src),
        Key::Dst => put_addr(out, f.orig.dst),
        Key::Sport => put_port(out, f.orig.proto, f.orig.sport),
        Key::Dport => put_port(out, f.orig.proto, f.orig.dport),
        Key::Proto => out.push(f.orig.proto),
        Key::State => {
            let (family, state) = match f.protoinfo {
                Some(ProtoInfo::Tcp(t)) => (STATE_TCP, t.state),
                Some(ProtoInfo::Sctp(s)) => (STATE_SCTP, s.state),
                Some(ProtoInfo::Dccp(d)) => (STATE_DCCP, d.state),
                None => (STATE_NONE, None),
            };
            match state {
                Some(s) => out.extend_from_slice(&[family, s]),
                None => out.extend_from_slice(&[STATE_NONE, 0]),
            }
        }
        Key::Zone => out.extend_from_slice(&f.zone.unwrap_or(0).to_be_bytes()),
        Key::Mark => out.extend_from_slice(&f.mark.unwrap_or(0).to_be_bytes()),
        Key::Pair => {
            put_addr(out, f.orig.src);
            put_addr(out, f.orig.dst);
        }
        Key::Nat => {
            let (s, d) = (is_snat(f), is_dnat(f));
            out.push(if s { NAT_SRC } else { 0 } | if d { NAT_DST } else { 0 });
            if s {
                put_addr(out, f.reply.dst);
            }
            if d {
                put_addr(out, f.reply.src);
            }
        }
        Key::ReplySrc => put_addr(out, f.reply.src),
        Key::ReplyDst => put_addr(out, f.reply.dst),
    }
}

/// One key's value of a group, decoded for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// An address.
    Addr(IpAddr),
    /// A port, `None` for protocols without ports.
    Port(Option<u16>),
    /// A layer 4 protocol number.
    Proto(u8),
    /// A tracker state: family (0 none, 1 TCP, 2 SCTP, 3 DCCP) and number.
    State(u8, u8),
    /// A zone.
    Zone(u16),
    /// A mark.
    Mark(u32),
    /// Source and destination.
    Pair(IpAddr, IpAddr),
    /// Translated source and destination addresses.
    Nat(Option<IpAddr>, Option<IpAddr>),
}

fn state_name(family: u8, s: u8) -> Option<String> {
    let known = |n: Option<&str>| n.map(str::to_string).unwrap_or_else(|| s.to_string());
    match family {
        STATE_TCP => Some(known(TcpState::from_u8(s).name())),
        STATE_SCTP => Some(format!("sctp:{}", known(SctpState(s).name()))),
        STATE_DCCP => Some(format!(
            "dccp:{}",
            known(DCCP_STATE_NAMES.get(s as usize).copied())
        )),
        _ => None,
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Addr(a) => write!(f, "{a}"),
            Value::Port(Some(p)) => write!(f, "{p}"),
            Value::Port(None) => f.write_str("-"),
            Value::Proto(p) => match l4_name(p) {
                Some(n) => f.write_str(n),
                None => write!(f, "{p}"),
            },
            Value::State(fam, s) => match state_name(fam, s) {
                Some(n) => f.write_str(&n),
                None => f.write_str("-"),
            },
            Value::Zone(z) => write!(f, "{z}"),
            Value::Mark(m) => write!(f, "{m}"),
            Value::Pair(a, b) => write!(f, "{a} -> {b}"),
            Value::Nat(None, None) => f.write_str("none"),
            Value::Nat(s, d) => {
                if let Some(s) = s {
                    write!(f, "snat {s}")?;
                }
                if let Some(d) = d {
                    if s.is_some() {
                        f.write_str(" ")?;
                    }
                    write!(f, "dnat {d}")?;
                }
                Ok(())
            }
        }
    }
}

impl Value {
    /// The value as JSON: addresses and names as strings, numbers as numbers, `null` for
    /// "none" (no ports, no state, no NAT).
    pub fn to_json(self) -> serde_json::Value {
        use serde_json::{json, Value as J};
        match self {
            Value::Addr(a) => json!(a.to_string()),
            Value::Port(p) => p.map_or(J::Null, |p| json!(p)),
            Value::Proto(p) => json!(l4_name(p).map_or_else(|| p.to_string(), str::to_string)),
            Value::State(fam, s) => state_name(fam, s).map_or(J::Null, |n| json!(n)),
            Value::Zone(z) => json!(z),
            Value::Mark(m) => json!(m),
            Value::Pair(a, b) => json!({"src": a.to_string(), "dst": b.to_string()}),
            Value::Nat(None, None) => J::Null,
            Value::Nat(s, d) => {
                let mut o = serde_json::Map::new();
                if let Some(s) = s {
                    o.insert("snat".into(), json!(s.to_string()));
                }
                if let Some(d) = d {
                    o.insert("dnat".into(), json!(d.to_string()));
                }
                J::Object(o)
            }
        }
    }
}

/// Reads encoded key bytes back.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }
    fn addr(&mut self) -> IpAddr {
        match self.u8() {
            6 => {
                let mut o = [0u8; 16];
                let b = self.take(16);
                o[..b.len()].copy_from_slice(b);
                IpAddr::V6(Ipv6Addr::from(o))
            }
            _ => {
                let mut o = [0u8; 4];
                let b = self.take(4);
                o[..b.len()].copy_from_slice(b);
                IpAddr::V4(Ipv4Addr::from(o))
            }
        }
    }
    fn be<const N: usize>(&mut self) -> [u8; N] {
        let mut o = [0u8; N];
        let b = self.take(N);
        o[..b.len()].copy_from_slice(b);
        o
    }
}

fn decode_one(key: Key, c: &mut Cursor<'_>) -> Value {
    match key {
        Key::Src | Key::Dst | Key::ReplySrc | Key::ReplyDst => Value::Addr(c.addr()),
        Key::Sport | Key::Dport => match c.u8() {
            1 => Value::Port(Some(u16::from_be_bytes(c.be()))),
            _ => Value::Port(None),
        },
        Key::Proto => Value::Proto(c.u8()),
        Key::State => {
            let fam = c.u8();
            Value::State(fam, c.u8())
        }
        Key::Zone => Value::Zone(u16::from_be_bytes(c.be())),
        Key::Mark => Value::Mark(u32::from_be_bytes(c.be())),
        Key::Pair => {
            let a = c.addr();
            Value::Pair(a, c.addr())
        }
        Key::Nat => {
            let kind = c.u8();
            let s = (kind & NAT_SRC != 0).then(|| c.addr());
            let d = (kind & NAT_DST != 0).then(|| c.addr());
            Value::Nat(s, d)
        }
    }
}

/// A group: its encoded key and counters.
#[derive(Clone, Copy, Debug)]
pub struct Group<'a> {
    /// The encoded key (decode with [`Grouper::values`]).
    pub key: &'a [u8],
    /// The counters.
    pub counts: Counts,
}

/// Counts entries per group of `keys`.
pub struct Grouper {
    keys: Vec<Key>,
    map: HashMap<Box<[u8]>, Counts>,
    scratch: Vec<u8>,
    total: Counts,
}

impl Grouper {
    /// A grouper for the tuple of `keys` (in that order).
    pub fn new(keys: Vec<Key>) -> Grouper {
        Grouper {
            keys,
            map: HashMap::new(),
            scratch: Vec::with_capacity(64),
            total: Counts::default(),
        }
    }

    /// The keys.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Counts `flow` into its group; allocates only when the group is new.
    pub fn add(&mut self, flow: &Flow) {
        self.scratch.clear();
        for &k in &self.keys {
            encode(k, flow, &mut self.scratch);
        }
        self.total.add(flow);
        match self.map.get_mut(self.scratch.as_slice()) {
            Some(c) => c.add(flow),
            None => {
                let mut c = Counts::default();
                c.add(flow);
                self.map.insert(self.scratch.as_slice().into(), c);
            }
        }
    }

    /// Counters over every entry added.
    pub fn total(&self) -> Counts {
        self.total
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The `n` largest groups (all with `None`), largest first; ties in key order (addresses
    /// and ports ascending).
    pub fn top(&self, n: Option<usize>) -> Vec<Group<'_>> {
        let mut all: Vec<Group<'_>> = self
            .map
            .iter()
            .map(|(k, c)| Group { key: k, counts: *c })
            .collect();
        let order = |a: &Group<'_>, b: &Group<'_>| {
            b.counts
                .entries
                .cmp(&a.counts.entries)
                .then_with(|| a.key.cmp(b.key))
        };
        if let Some(n) = n {
            if n < all.len() {
                if n > 0 {
                    all.select_nth_unstable_by(n - 1, order);
                }
                all.truncate(n);
            }
        }
        all.sort_unstable_by(order);
        all
    }

    /// Decodes a group's key into one value per key.
    pub fn values(&self, key: &[u8]) -> Vec<Value> {
        let mut c = Cursor(key);
        self.keys.iter().map(|&k| decode_one(k, &mut c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctkit_model::protoinfo::TcpInfo;
    use ctkit_model::Tuple;

    fn flow(src: &str, dst: &str, proto: u8, sport: u16, dport: u16) -> Flow {
        let orig = Tuple {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            proto,
            sport,
            dport,
            ..Tuple::default()
        };
        Flow {
            orig,
            reply: orig.invert().unwrap_or(orig),
            has_orig: true,
            has_reply: true,
            status: Some(Status(Status::SEEN_REPLY.0 | Status::ASSURED.0)),
            ..Flow::default()
        }
    }

    fn shown(g: &Grouper, n: Option<usize>) -> Vec<(String, u64)> {
        g.top(n)
            .iter()
            .map(|x| {
                let v: Vec<String> = g.values(x.key).iter().map(|v| v.to_string()).collect();
                (v.join(" | "), x.counts.entries)
            })
            .collect()
    }

    #[test]
    fn src_counts_the_original_source_not_the_reply_source() {
        let mut g = Grouper::new(vec![Key::Src]);
        let mut f = flow("192.0.2.2", "203.0.113.10", 6, 1000, 80);
        // DNAT to 198.51.100.2:8080: the reply comes from the server.
        f.reply.src = "198.51.100.2".parse().unwrap();
        f.reply.sport = 8080;
        g.add(&f);
        g.add(&f);
        assert_eq!(shown(&g, None), [("192.0.2.2".to_string(), 2)]);
        let mut r = Grouper::new(vec![Key::ReplySrc]);
        r.add(&f);
        assert_eq!(shown(&r, None), [("198.51.100.2".to_string(), 1)]);
    }

    #[test]
    fn nat_reads_snat_from_reply_dst_and_dnat_from_reply_src() {
        let mut g = Grouper::new(vec![Key::Nat]);
        let plain = flow("192.0.2.2", "198.51.100.2", 17, 5000, 53);
        let mut snat = flow("192.0.2.2", "198.51.100.2", 6, 5000, 8081);
        snat.reply.dst = "198.51.100.1".parse().unwrap();
        let mut masq_port = flow("192.0.2.3", "198.51.100.2", 6, 5000, 8081);
        masq_port.reply.dport = 6000;
        let mut dnat = flow("192.0.2.2", "203.0.113.10", 6, 5001, 80);
        dnat.reply.src = "198.51.100.2".parse().unwrap();
        dnat.reply.sport = 8080;
        let mut both = dnat;
        both.reply.dst = "198.51.100.1".parse().unwrap();
        for f in [&plain, &snat, &snat, &masq_port, &dnat, &both] {
            g.add(f);
        }
        assert_eq!(
            shown(&g, None),
            [
                ("snat 198.51.100.1".to_string(), 2),
                ("none".to_string(), 1),
                ("snat 192.0.2.3".to_string(), 1),
                ("dnat 198.51.100.2".to_string(), 1),
                ("snat 198.51.100.1 dnat 198.51.100.2".to_string(), 1),
            ]
        );
    }

    #[test]
    fn several_keys_group_by_their_tuple_and_portless_protocols_show_a_dash() {
        let mut g = Grouper::new(Key::parse_list("proto,dport,state").unwrap());
        let mut t = flow("192.0.2.2", "198.51.100.2", 6, 1000, 80);
        t.protoinfo = Some(ProtoInfo::Tcp(TcpInfo {
            state: Some(3),
            ..TcpInfo::default()
        }));
        let mut t2 = t;
        t2.orig.sport = 1001;
        let mut icmp = flow("192.0.2.2", "198.51.100.2", 1, 0, 0);
        icmp.status = Some(Status(0));
        g.add(&t);
        g.add(&t2);
        g.add(&icmp);
        assert_eq!(
            shown(&g, None),
            [
                ("tcp | 80 | ESTABLISHED".to_string(), 2),
                ("icmp | - | -".to_string(), 1)
            ]
        );
        let top = g.top(None);
        assert_eq!(top[1].counts.unreplied, 1);
        assert_eq!(top[0].counts.assured, 2);
        assert_eq!(
            g.total(),
            Counts {
                entries: 3,
                unreplied: 1,
                assured: 2
            }
        );
    }

    #[test]
    fn top_keeps_the_largest_groups_and_breaks_ties_by_address() {
        let mut g = Grouper::new(vec![Key::Src]);
        for (src, n) in [
            ("192.0.2.9", 1),
            ("192.0.2.10", 3),
            ("192.0.2.1", 3),
            ("2001:db8::1", 2),
        ] {
            for _ in 0..n {
                g.add(&flow(src, "198.51.100.2", 6, 1, 2));
            }
        }
        assert_eq!(g.len(), 4);
        assert_eq!(
            shown(&g, Some(3)),
            [
                ("192.0.2.1".to_string(), 3),
                ("192.0.2.10".to_string(), 3),
                ("2001:db8::1".to_string(), 2)
            ]
        );
        assert_eq!(shown(&g, Some(0)), []);
        assert_eq!(shown(&g, Some(10)).len(), 4);
    }

    #[test]
    fn key_lists_reject_unknown_and_repeated_keys() {
        assert_eq!(
            Key::parse_list("src,reply-dst,nat").unwrap(),
            [Key::Src, Key::ReplyDst, Key::Nat]
        );
        assert!(Key::parse_list("src,bogus")
            .unwrap_err()
            .contains("unknown key `bogus'"));
        assert!(Key::parse_list("src,src").unwrap_err().contains("twice"));
        assert!(Key::parse_list("").is_err());
    }

    #[test]
    fn values_round_trip_through_the_encoding() {
        let mut f = flow("2001:db8::1", "2001:db8::2", 132, 7, 9);
        f.zone = Some(7);
        f.mark = Some(0xdead_beef);
        f.protoinfo = Some(ProtoInfo::Sctp(ctkit_model::SctpInfo {
            state: Some(4),
            ..Default::default()
        }));
        let keys: Vec<Key> = KEYS.iter().map(|k| k.key).collect();
        let mut g = Grouper::new(keys);
        g.add(&f);
        let v = g.values(g.top(None)[0].key);
        let s: Vec<String> = v.iter().map(|v| v.to_string()).collect();
        assert_eq!(
            s,
            [
                "2001:db8::1",
                "2001:db8::2",
                "7",
                "9",
                "sctp",
                "sctp:ESTABLISHED",
                "7",
                "3735928559",
                "2001:db8::1 -> 2001:db8::2",
                "none",
                "2001:db8::2",
                "2001:db8::1"
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn key_lists_never_panic_and_accept_only_known_names(t in "[a-z,_ -]{0,40}") {
            if let Ok(keys) = Key::parse_list(&t) {
                for (w, k) in t.split(',').zip(&keys) {
                    proptest::prop_assert!(w.trim() == k.name() || w.trim() == k.json_name());
                }
            }
        }

        #[test]
        fn every_flow_decodes_to_the_values_it_was_grouped_by(
            a in proptest::array::uniform4(0u8..=255),
            b in proptest::array::uniform16(0u8..=255),
            proto in proptest::sample::select(vec![1u8, 6, 17, 58, 132, 47]),
            sport: u16, dport: u16, mark: u32, zone: u16,
        ) {
            let mut f = flow("192.0.2.1", "198.51.100.1", proto, sport, dport);
            f.orig.src = IpAddr::V4(Ipv4Addr::from(a));
            f.reply.dst = IpAddr::V6(Ipv6Addr::from(b));
            f.reply.src = f.orig.dst;
            f.reply.sport = f.orig.dport;
            f.reply.dport = f.orig.sport;
            f.mark = Some(mark);
            f.zone = Some(zone);
            let keys: Vec<Key> = KEYS.iter().map(|k| k.key).collect();
            let mut g = Grouper::new(keys);
            g.add(&f);
            let v = g.values(g.top(None)[0].key);
            proptest::prop_assert_eq!(v[0], Value::Addr(f.orig.src));
            let ports = has_ports(proto);
            proptest::prop_assert_eq!(v[2], Value::Port(ports.then_some(sport)));
            proptest::prop_assert_eq!(v[3], Value::Port(ports.then_some(dport)));
            proptest::prop_assert_eq!(v[6], Value::Zone(zone));
            proptest::prop_assert_eq!(v[7], Value::Mark(mark));
            proptest::prop_assert_eq!(v[11], Value::Addr(f.reply.dst));
            proptest::prop_assert_eq!(v[9], Value::Nat(Some(f.reply.dst), None));
        }
    }
}
