//! Which rows `ctkit top` shows: iptstate's filters (source/destination address with an
//! optional prefix, source/destination port, one global invert, hide loopback, hide DNS
//! states: iptstate.cc's `src_filter`/`dst_filter`/`srcpt`/`dstpt`/`invert`/`noloop`/
//! `skipdns`) and ctkit's filter expression.
//!
//! # Filter expression grammar
//!
//! ```text
//! expr    := and ( "or" and )*
//! and     := unary ( ["and"] unary )*          (juxtaposition means "and")
//! unary   := ("not" | "!") unary | "(" expr ")" | atom
//! atom    := tcp | udp | icmp | icmp6 | sctp | dccp | gre | udplite   (protocol)
//!          | proto NAME|NUMBER
//!          | ipv4 | ipv6 | nat | snat | dnat | assured | unreplied
//!          | state NAME                  (ESTABLISHED, TIME_WAIT, … ; case-insensitive)
//!          | src ADDR[/LEN] | dst ADDR[/LEN] | host ADDR[/LEN]   (original tuple; host = either)
//!          | sport PORT[-PORT] | dport PORT[-PORT] | port PORT[-PORT]
//!          | mark N[/MASK] | zone N      (N decimal or 0x hex)
//! ```
//!
//! Examples: `tcp and state established and dport 443`, `udp not dport 53`,
//! `src 192.0.2.0/24 or zone 7`, `unreplied and (udp or icmp)`.

use super::row::{addr_key, state_name, Row};
use ctkit_model::proto::{self, IPPROTO_UDP};
use ctkit_model::Status;
use std::net::IpAddr;

/// An address with a prefix length (`IP[/LEN]`; iptstate also takes `/NETMASK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Cidr {
    /// Parses `IP`, `IP/LEN` or `IP/DOTTED.NETMASK`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| format!("invalid IP address `{a}'"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            None => max,
            Some(l) => match (l.parse::<u8>(), l.parse::<std::net::Ipv4Addr>()) {
                (Ok(n), _) if n <= max => n,
                (_, Ok(m)) if addr.is_ipv4() => {
                    let bits = u32::from(m);
                    if bits.leading_ones() + bits.trailing_zeros() != 32 {
                        return Err(format!("invalid netmask `{l}'"));
                    }
                    bits.leading_ones() as u8
                }
                _ => return Err(format!("invalid prefix length `{l}'")),
            },
        };
        Ok(Cidr { addr, len })
    }

    /// Whether the row address `b` (family `v6`) is inside.
    pub fn contains(&self, b: &[u8; 16], v6: bool) -> bool {
        if self.addr.is_ipv6() != v6 {
            return false;
        }
        let bits: u32 = if v6 { 128 } else { 32 };
        let want = match self.addr {
            IpAddr::V4(a) => u32::from(a) as u128,
            IpAddr::V6(a) => u128::from(a),
        };
        let have = addr_key(b, v6);
        let shift = bits - self.len as u32;
        if shift >= bits {
            return true;
        }
        (want >> shift) == (have >> shift)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.len == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.len)
        }
    }
}

/// iptstate's filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IptFilters {
    /// `-s`: original source network.
    pub src: Option<Cidr>,
    /// `-d`: original destination network.
    pub dst: Option<Cidr>,
    /// `-S`: source port.
    pub sport: Option<u16>,
    /// `-D`: destination port.
    pub dport: Option<u16>,
    /// `-i`: show what the four filters above reject instead.
    pub invert: bool,
    /// `-f`: hide entries on loopback.
    pub no_loopback: bool,
    /// `-L`: hide DNS states (destination port 53).
    pub no_dns: bool,
}

impl IptFilters {
    /// Whether any of `-s -d -S -D` is set.
    pub fn any(&self) -> bool {
        self.src.is_some() || self.dst.is_some() || self.sport.is_some() || self.dport.is_some()
    }

    /// Whether `r` is shown. As iptstate: loopback and DNS hiding are applied first and are
    /// not inverted; the address/port filters must all match, and `-i` inverts their result.
    pub fn matches(&self, r: &Row) -> bool {
        if self.no_loopback && is_loopback(r) {
            return false;
        }
        if self.no_dns && r.dport == 53 && r.has_ports() {
            return false;
        }
        if !self.any() {
            return true;
        }
        let v6 = r.is_v6();
        let hit = self.src.is_none_or(|c| c.contains(&r.src, v6))
            && self.dst.is_none_or(|c| c.contains(&r.dst, v6))
            && self.sport.is_none_or(|p| r.has_ports() && r.sport == p)
            && self.dport.is_none_or(|p| r.has_ports() && r.dport == p);
        hit != self.invert
    }

    /// The "Filters:" line iptstate prints, `None` without filters.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(c) = self.src {
            parts.push(format!("src: {c}"));
        }
        if let Some(p) = self.sport {
            parts.push(format!("sport: {p}"));
        }
        if let Some(c) = self.dst {
            parts.push(format!("dst: {c}"));
        }
        if let Some(p) = self.dport {
            parts.push(format!("dport: {p}"));
        }
        if parts.is_empty() {
            return None;
        }
        let mut s = format!("Filters: {}", parts.join(", "));
        if self.invert {
            s.push_str(" (Inverted)");
        }
        Some(s)
    }
}

fn is_loopback(r: &Row) -> bool {
    r.src_ip().is_loopback() || r.dst_ip().is_loopback()
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Not.
    Not(Box<Expr>),
    /// Layer 4 protocol number.
    Proto(u8),
    /// Address family (true: IPv6).
    Family(bool),
    /// Protocol state by kernel number, for the protocols that have the name.
    State(String),
    /// Status bits all set.
    Status(u32),
    /// Status bit `SEEN_REPLY` clear (conntrack's UNREPLIED).
    Unreplied,
    /// Any NAT.
    Nat,
    /// Source network.
    Src(Cidr),
    /// Destination network.
    Dst(Cidr),
    /// Either network.
    Host(Cidr),
    /// Source port range.
    Sport(u16, u16),
    /// Destination port range.
    Dport(u16, u16),
    /// Either port in range.
    Port(u16, u16),
    /// Mark value and mask.
    Mark(u32, u32),
    /// Zone.
    Zone(u16),
}

fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' | ')' | '!' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

struct Parser {
    toks: Vec<String>,
    pos: usize,
}

fn num(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("`{s}' is not a number"))
}

fn port_range(s: &str) -> Result<(u16, u16), String> {
    let p = |x: &str| x.parse::<u16>().map_err(|_| format!("`{x}' is not a port"));
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (p(a)?, p(b)?);
            if a > b {
                return Err(format!("empty port range `{s}'"));
            }
            Ok((a, b))
        }
        None => {
            let a = p(s)?;
            Ok((a, a))
        }
    }
}

fn proto_by_name(s: &str) -> Option<u8> {
    Some(match s {
        "tcp" => proto::IPPROTO_TCP,
        "udp" => proto::IPPROTO_UDP,
        "icmp" => proto::IPPROTO_ICMP,
        "icmp6" | "icmpv6" => proto::IPPROTO_ICMPV6,
        "sctp" => proto::IPPROTO_SCTP,
        "dccp" => proto::IPPROTO_DCCP,
        "gre" => proto::IPPROTO_GRE,
        "udplite" => proto::IPPROTO_UDPLITE,
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(String::as_str)
    }
    fn next(&mut self) -> Option<String> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn arg(&mut self, what: &str) -> Result<String, String> {
        self.next().ok_or_else(|| format!("`{what}' needs a value"))
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.peek().is_some_and(|t| t.eq_ignore_ascii_case("or")) {
            self.pos += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        loop {
            match self.peek() {
                None | Some(")") => break,
                Some(t) if t.eq_ignore_ascii_case("or") => break,
                Some(t) if t.eq_ignore_ascii_case("and") => {
                    self.pos += 1;
                }
                _ => {}
            }
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        let t = self.next().ok_or("the expression ends too early")?;
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "not" | "!" => Ok(Expr::Not(Box::new(self.unary()?))),
            "(" => {
                let e = self.or()?;
                match self.next().as_deref() {
                    Some(")") => Ok(e),
                    _ => Err("missing `)'".into()),
                }
            }
            ")" => Err("unexpected `)'".into()),
            _ => self.atom(&lower),
        }
    }
    fn atom(&mut self, t: &str) -> Result<Expr, String> {
        if let Some(p) = proto_by_name(t) {
            return Ok(Expr::Proto(p));
        }
        Ok(match t {
            "proto" => {
                let v = self.arg("proto")?.to_ascii_lowercase();
                match proto_by_name(&v) {
                    Some(p) => Expr::Proto(p),
                    None => Expr::Proto(v.parse().map_err(|_| format!("unknown protocol `{v}'"))?),
                }
            }
            "ipv4" => Expr::Family(false),
            "ipv6" => Expr::Family(true),
            "nat" => Expr::Nat,
            "snat" => Expr::Status(Status::SRC_NAT.0),
            "dnat" => Expr::Status(Status::DST_NAT.0),
            "assured" => Expr::Status(Status::ASSURED.0),
            "unreplied" => Expr::Unreplied,
            "state" => {
                let v = self.arg("state")?.to_ascii_uppercase();
                let known = (0..=9u8).any(|s| {
                    [6u8, 132, 33]
                        .iter()
                        .any(|p| state_name(*p, s) == Some(v.as_str()))
                });
                if !known {
                    return Err(format!("unknown state `{v}'"));
                }
                Expr::State(v)
            }
            "src" => Expr::Src(Cidr::parse(&self.arg("src")?)?),
            "dst" => Expr::Dst(Cidr::parse(&self.arg("dst")?)?),
            "host" => Expr::Host(Cidr::parse(&self.arg("host")?)?),
            "sport" => {
                let (a, b) = port_range(&self.arg("sport")?)?;
                Expr::Sport(a, b)
            }
            "dport" => {
                let (a, b) = port_range(&self.arg("dport")?)?;
                Expr::Dport(a, b)
            }
            "port" => {
                let (a, b) = port_range(&self.arg("port")?)?;
                Expr::Port(a, b)
            }
            "mark" => {
                let v = self.arg("mark")?;
                match v.split_once('/') {
                    Some((a, m)) => {
                        let m = num(m)?;
                        Expr::Mark(num(a)? & m, m)
                    }
                    None => Expr::Mark(num(&v)?, u32::MAX),
                }
            }
            "zone" => {
                let v = self.arg("zone")?;
                let z = num(&v)?;
                Expr::Zone(u16::try_from(z).map_err(|_| format!("zone `{v}' is too big"))?)
            }
            other => return Err(format!("unknown word `{other}'")),
        })
    }
}

impl Expr {
    /// Parses a filter expression (see the module documentation).
    pub fn parse(s: &str) -> Result<Expr, String> {
        let mut p = Parser {
            toks: tokens(s),
            pos: 0,
        };
        if p.toks.is_empty() {
            return Err("empty expression".into());
        }
        let e = p.or()?;
        if let Some(t) = p.peek() {
            return Err(format!("unexpected `{t}'"));
        }
        Ok(e)
    }

    /// Whether `r` matches.
    pub fn matches(&self, r: &Row) -> bool {
        let in_range = |p: u16, a: u16, b: u16| r.has_ports() && (a..=b).contains(&p);
        match self {
            Expr::And(a, b) => a.matches(r) && b.matches(r),
            Expr::Or(a, b) => a.matches(r) || b.matches(r),
            Expr::Not(a) => !a.matches(r),
            Expr::Proto(p) => r.proto == *p,
            Expr::Family(v6) => r.is_v6() == *v6,
            Expr::State(s) => r.state_name() == Some(s.as_str()),
            Expr::Status(bits) => r.status & bits == *bits,
            Expr::Unreplied => !r.status().contains(Status::SEEN_REPLY),
            Expr::Nat => r.is_nat() || r.status().intersects(Status::SRC_NAT | Status::DST_NAT),
            Expr::Src(c) => c.contains(&r.src, r.is_v6()),
            Expr::Dst(c) => c.contains(&r.dst, r.is_v6()),
            Expr::Host(c) => c.contains(&r.src, r.is_v6()) || c.contains(&r.dst, r.is_v6()),
            Expr::Sport(a, b) => in_range(r.sport, *a, *b),
            Expr::Dport(a, b) => in_range(r.dport, *a, *b),
            Expr::Port(a, b) => in_range(r.sport, *a, *b) || in_range(r.dport, *a, *b),
            Expr::Mark(v, m) => r.mark & m == *v,
            Expr::Zone(z) => r.zone == *z,
        }
    }
}

impl std::fmt::Display for Expr {
    /// The expression in the grammar's words; parsing the text gives an equivalent
    /// expression (`or` inside `and` and compound `not` are parenthesised).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use Expr::*;
        let range = |f: &mut std::fmt::Formatter<'_>, w: &str, a: &u16, b: &u16| {
            if a == b {
                write!(f, "{w} {a}")
            } else {
                write!(f, "{w} {a}-{b}")
            }
        };
        match self {
            And(a, b) => {
                for (i, x) in [a, b].into_iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    match **x {
                        Or(..) => write!(f, "({x})")?,
                        _ => write!(f, "{x}")?,
                    }
                }
                Ok(())
            }
            Or(a, b) => write!(f, "{a} or {b}"),
            Not(a) => match **a {
                And(..) | Or(..) => write!(f, "not ({a})"),
                _ => write!(f, "not {a}"),
            },
            Proto(p) => match proto::l4_name(*p) {
                Some(n) => f.write_str(n),
                None => write!(f, "proto {p}"),
            },
            Family(v6) => f.write_str(if *v6 { "ipv6" } else { "ipv4" }),
            State(st) => write!(f, "state {st}"),
            Status(b) => f.write_str(match *b {
                b if b == ctkit_model::Status::SRC_NAT.0 => "snat",
                b if b == ctkit_model::Status::DST_NAT.0 => "dnat",
                _ => "assured",
            }),
            Unreplied => f.write_str("unreplied"),
            Nat => f.write_str("nat"),
            Src(c) => write!(f, "src {c}"),
            Dst(c) => write!(f, "dst {c}"),
            Host(c) => write!(f, "host {c}"),
            Sport(a, b) => range(f, "sport", a, b),
            Dport(a, b) => range(f, "dport", a, b),
            Port(a, b) => range(f, "port", a, b),
            Mark(v, m) if *m == u32::MAX => write!(f, "mark {v}"),
            Mark(v, m) => write!(f, "mark {v:#x}/{m:#x}"),
            Zone(z) => write!(f, "zone {z}"),
        }
    }
}

/// Whether a row is a UDP DNS query (iptstate's `-L`), exposed for the totals.
pub fn is_dns(r: &Row) -> bool {
    r.proto == IPPROTO_UDP && r.dport == 53
}

#[cfg(test)]
mod tests {
    use super::super::row::tests::tcp_flow;
    use super::super::row::NatTable;
    use super::*;

    fn row(src: &str, sport: u16, dst: &str, dport: u16) -> Row {
        Row::from_flow(&tcp_flow(src, sport, dst, dport), &mut NatTable::default())
    }

    #[test]
    fn cidr_parses_prefix_and_netmask() {
        assert_eq!(Cidr::parse("192.0.2.0/24").unwrap().len, 24);
        assert_eq!(Cidr::parse("192.0.2.0/255.255.255.0").unwrap().len, 24);
        assert_eq!(Cidr::parse("2001:db8::/32").unwrap().len, 32);
        assert_eq!(Cidr::parse("192.0.2.1").unwrap().len, 32);
        assert!(Cidr::parse("192.0.2.0/33").is_err());
        assert!(Cidr::parse("192.0.2.0/255.0.255.0").is_err());
        assert!(Cidr::parse("nope").is_err());
    }

    #[test]
    fn cidr_contains_checks_family_and_prefix() {
        let c = Cidr::parse("192.0.2.0/24").unwrap();
        assert!(c.contains(&row("192.0.2.77", 1, "198.51.100.1", 2).src, false));
        assert!(!c.contains(&row("192.0.3.1", 1, "198.51.100.1", 2).src, false));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(&row("203.0.113.1", 1, "198.51.100.1", 2).src, false));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(&row("2001:db8::5", 1, "2001:db8::6", 2).src, true));
        assert!(!v6.contains(&row("192.0.2.1", 1, "198.51.100.1", 2).src, false));
    }

    #[test]
    fn ipt_filters_match_all_given_and_invert_flips_them() {
        let a = row("192.0.2.1", 1000, "198.51.100.2", 80);
        let b = row("192.0.2.9", 1001, "198.51.100.2", 443);
        let mut f = IptFilters {
            src: Some(Cidr::parse("192.0.2.0/24").unwrap()),
            dport: Some(80),
            ..IptFilters::default()
        };
        assert!(f.matches(&a));
        assert!(!f.matches(&b));
        f.invert = true;
        assert!(!f.matches(&a));
        assert!(f.matches(&b));
        assert_eq!(
            f.describe().unwrap(),
            "Filters: src: 192.0.2.0/24, dport: 80 (Inverted)"
        );
    }

    #[test]
    fn loopback_and_dns_hiding_are_not_inverted() {
        let lo = row("127.0.0.1", 5000, "127.0.0.1", 22);
        let dns = row("192.0.2.1", 5000, "198.51.100.53", 53);
        let f = IptFilters {
            no_loopback: true,
            no_dns: true,
            invert: true,
            sport: Some(1),
            ..IptFilters::default()
        };
        assert!(!f.matches(&lo));
        assert!(!f.matches(&dns));
        assert!(f.matches(&row("192.0.2.1", 5000, "198.51.100.53", 80)));
    }

    #[test]
    fn expressions_parse_with_precedence() {
        let e = Expr::parse("tcp dport 80 or udp").unwrap();
        assert_eq!(
            e,
            Expr::Or(
                Box::new(Expr::And(
                    Box::new(Expr::Proto(6)),
                    Box::new(Expr::Dport(80, 80))
                )),
                Box::new(Expr::Proto(17))
            )
        );
        assert_eq!(
            Expr::parse("not (zone 7)").unwrap(),
            Expr::Not(Box::new(Expr::Zone(7)))
        );
        assert_eq!(
            Expr::parse("mark 0x10/0xf0").unwrap(),
            Expr::Mark(0x10, 0xf0)
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        assert_eq!(Expr::parse("").unwrap_err(), "empty expression");
        assert_eq!(Expr::parse("dport").unwrap_err(), "`dport' needs a value");
        assert_eq!(Expr::parse("state FOO").unwrap_err(), "unknown state `FOO'");
        assert_eq!(Expr::parse("(tcp").unwrap_err(), "missing `)'");
        assert_eq!(Expr::parse("tcp )").unwrap_err(), "unexpected `)'");
        assert_eq!(Expr::parse("frob").unwrap_err(), "unknown word `frob'");
        assert_eq!(
            Expr::parse("dport 9-1").unwrap_err(),
            "empty port range `9-1'"
        );
    }

    #[test]
    fn expressions_print_in_their_own_grammar() {
        let e = Expr::parse("not (tcp or udp) and (dport 80-90 or mark 0x10/0xf0) and not zone 7")
            .unwrap();
        assert_eq!(
            e.to_string(),
            "not (tcp or udp) and (dport 80-90 or mark 0x10/0xf0) and not zone 7"
        );
        assert_eq!(Expr::parse(&e.to_string()).unwrap(), e);
    }

    const WORDS: &[&str] = &[
        "tcp",
        "udp",
        "icmp",
        "not",
        "!",
        "and",
        "or",
        "(",
        ")",
        "state",
        "established",
        "src",
        "dst",
        "host",
        "192.0.2.0/24",
        "2001:db8::/32",
        "sport",
        "dport",
        "port",
        "80",
        "1-1024",
        "mark",
        "0x10/0xff",
        "zone",
        "7",
        "nat",
        "snat",
        "dnat",
        "assured",
        "unreplied",
        "ipv4",
        "ipv6",
        "proto",
        "47",
        "x",
        "/",
        "-",
    ];

    proptest::proptest! {
        #[test]
        fn parsing_any_text_never_panics(s in "\\PC{0,40}") {
            let _ = Expr::parse(&s);
            let _ = Cidr::parse(&s);
        }

        #[test]
        fn printed_expressions_parse_back_to_the_same_meaning(
            words in proptest::collection::vec(proptest::sample::select(WORDS), 1..12),
            rows in proptest::collection::vec((0u8..4, 0u16..200, 0u16..3), 8),
        ) {
            let text = words.join(" ");
            if let Ok(e) = Expr::parse(&text) {
                let again = Expr::parse(&e.to_string()).expect("printed text parses");
                proptest::prop_assert_eq!(again.to_string(), e.to_string());
                for (host, port, proto) in rows {
                    let mut r = row(&format!("192.0.2.{host}"), 1000, "198.51.100.2", port);
                    r.proto = [6, 17, 1][proto as usize];
                    r.zone = 7 * (host as u16 % 2);
                    proptest::prop_assert_eq!(e.matches(&r), again.matches(&r));
                }
            }
        }
    }

    #[test]
    fn expressions_match_rows() {
        let mut r = row("192.0.2.1", 1000, "198.51.100.2", 443);
        r.zone = 7;
        r.mark = 0x12;
        let t = |s: &str| Expr::parse(s).unwrap().matches(&r);
        assert!(t("tcp and state established and dport 443"));
        assert!(t("state established"));
        assert!(!t("udp"));
        assert!(t("not udp"));
        assert!(t("port 400-500"));
        assert!(!t("sport 400-500"));
        assert!(t("zone 7 mark 0x10/0xf0"));
        assert!(!t("mark 0x10"));
        assert!(t("src 192.0.2.0/24 dst 198.51.100.0/24"));
        assert!(t("host 198.51.100.2"));
        assert!(t("assured"));
        assert!(!t("unreplied"));
        assert!(!t("nat"));
        assert!(t("ipv4 and !ipv6"));
    }
}
