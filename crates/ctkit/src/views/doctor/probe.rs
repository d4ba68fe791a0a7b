//! What `doctor` (and `watch`'s header) read about the host besides the flows: the network
//! namespace's inode (`/proc/self/ns/net`, nsfs), conntrack sysctls
//! (`/proc/sys/net/netfilter`), the `nf_conntrack` slab's object size (`/proc/slabinfo`,
//! slabinfo version 2.1: `name active_objs num_objs objsize …`), and one streaming pass over
//! the table that groups entries by source and by state.
//!
//! The grouping is private to doctor and small on purpose (counts per source address, per
//! protocol/state, per helper); the `summary` view owns the general one.

use ctkit_model::proto::{l4_name, IPPROTO_TCP};
use ctkit_model::protoinfo::TcpState;
use ctkit_model::{Flow, Status};
use std::collections::HashMap;
use std::net::IpAddr;

/// The calling process's network namespace inode (`net:[INODE]`).
pub fn netns_inode() -> Option<u64> {
    let link = std::fs::read_link("/proc/self/ns/net").ok()?;
    parse_ns_link(&link.to_string_lossy())
}

/// `net:[4026532301]` → 4026532301.
pub fn parse_ns_link(s: &str) -> Option<u64> {
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// A conntrack sysctl's value (`/proc/sys/net/netfilter/NAME`), trimmed.
pub fn sysctl(name: &str) -> Option<String> {
    let p = format!("{}/{name}", ctkit_model::sysctl::PROC_DIR);
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// A numeric conntrack sysctl.
pub fn sysctl_u64(name: &str) -> Option<u64> {
    sysctl(name)?.parse().ok()
}

/// The `nf_conntrack` slab line of `/proc/slabinfo`: (active objects, object size in bytes).
pub fn parse_slabinfo(text: &str) -> Option<(u64, u64)> {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some("nf_conntrack"))?;
    let mut f = line.split_whitespace().skip(1);
    let active = f.next()?.parse().ok()?;
    let _num: u64 = f.next()?.parse().ok()?;
    let objsize = f.next()?.parse().ok()?;
    Some((active, objsize))
}

/// What one pass over the table found.
#[derive(Clone, Debug, Default)]
pub struct TableShape {
    /// Entries seen.
    pub entries: u64,
    /// Entries per original source address.
    pub by_src: HashMap<IpAddr, u64>,
    /// Entries per (l4 protocol, TCP state or 255, unreplied).
    pub by_state: HashMap<(u8, u8, bool), u64>,
    /// Entries without `IPS_SEEN_REPLY`.
    pub unreplied: u64,
    /// TCP entries in TIME_WAIT.
    pub time_wait: u64,
    /// TCP entries in ESTABLISHED.
    pub established: u64,
    /// Entries per helper name.
    pub helpers: HashMap<String, u64>,
}

impl TableShape {
    /// Counts one entry.
    pub fn add(&mut self, f: &Flow) {
        self.entries += 1;
        *self.by_src.entry(f.orig.src).or_insert(0) += 1;
        let unreplied = !f.status_bits().contains(Status::SEEN_REPLY);
        let tcp = if f.orig.proto == IPPROTO_TCP {
            f.tcp_state().unwrap_or(255)
        } else {
            255
        };
        *self
            .by_state
            .entry((f.orig.proto, tcp, unreplied))
            .or_insert(0) += 1;
        self.unreplied += unreplied as u64;
        self.time_wait += (tcp == TcpState::TimeWait.to_u8()) as u64;
        self.established += (tcp == TcpState::Established.to_u8()) as u64;
        if let Some(h) = &f.helper {
            match self.helpers.get_mut(h.as_str()) {
                Some(n) => *n += 1,
                None => {
                    self.helpers.insert(h.as_str().to_string(), 1);
                }
            }
        }
    }

    /// The `n` sources holding most entries, most first (ties by address).
    pub fn top_sources(&self, n: usize) -> Vec<(IpAddr, u64)> {
        top(self.by_src.iter().map(|(k, v)| (*k, *v)), n)
    }

    /// The `n` biggest state groups as (label, count), most first.
    pub fn top_states(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .by_state
            .iter()
            .map(|(k, c)| (state_label(*k), *c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

fn top<K: Ord + Copy>(it: impl Iterator<Item = (K, u64)>, n: usize) -> Vec<(K, u64)> {
    let mut v: Vec<(K, u64)> = it.collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// `tcp TIME_WAIT`, `udp UNREPLIED`, `icmp`, …
fn state_label((proto, tcp, unreplied): (u8, u8, bool)) -> String {
    let p = l4_name(proto)
        .map(str::to_string)
        .unwrap_or_else(|| proto.to_string());
    let mut s = p;
    if tcp != 255 {
        s.push(' ');
        s.push_str(TcpState::from_u8(tcp).name().unwrap_or("?"));
    }
    if unreplied {
        s.push_str(" UNREPLIED");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctkit_model::{ProtoInfo, TcpInfo};

    #[test]
    fn ns_link_and_slabinfo() {
        assert_eq!(parse_ns_link("net:[4026531833]"), Some(4026531833));
        assert_eq!(parse_ns_link("mnt:[1]"), None);
        let slab = "slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize> …\n\
                    nf_conntrack_expect  0  0  208  19  1 : tunables 0 0 0 : slabdata 0 0 0\n\
                    nf_conntrack      203168 203168    256   16    1 : tunables 0 0 0 : slabdata 12698 12698 0\n";
        assert_eq!(parse_slabinfo(slab), Some((203168, 256)));
        assert_eq!(parse_slabinfo("nothing"), None);
    }

    #[test]
    fn shape_groups_sources_and_states() {
        let mut s = TableShape::default();
        let mut f = Flow::default();
        f.orig.proto = 17;
        f.orig.src = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            s.add(&f);
        }
        f.orig.src = "192.0.2.3".parse().unwrap();
        f.orig.proto = 6;
        f.status = Some(Status::SEEN_REPLY);
        f.protoinfo = Some(ProtoInfo::Tcp(TcpInfo {
            state: Some(7),
            ..Default::default()
        }));
        s.add(&f);
        assert_eq!(s.entries, 4);
        assert_eq!(s.unreplied, 3);
        assert_eq!(s.time_wait, 1);
        assert_eq!(
            s.top_sources(1),
            vec![("192.0.2.2".parse::<IpAddr>().unwrap(), 3)]
        );
        assert_eq!(
            s.top_states(5),
            vec![
                ("udp UNREPLIED".to_string(), 3),
                ("tcp TIME_WAIT".to_string(), 1)
            ]
        );
    }
}
