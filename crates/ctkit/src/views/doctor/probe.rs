//! What `doctor` (and `watch`'s header) read about the host besides the flows: the network
//! namespace's inode (`/proc/self/ns/net`, nsfs), conntrack sysctls
//! (`/proc/sys/net/netfilter`), the `nf_conntrack` slab's object size (`/proc/slabinfo`,
//! slabinfo version 2.1: `name active_objs num_objs objsize …`), and one streaming pass over
//! the table that groups entries by source and by state.
//!
//! Grouping by source and by state uses the `summary` view's [`crate::views::group`].

use crate::views::group::{Counts, Grouper, Key};
use ctkit_model::proto::IPPROTO_TCP;
use ctkit_model::protoinfo::TcpState;
use ctkit_model::{Flow, Status};
use std::collections::HashMap;

/// The calling process's network namespace inode (`net:[INODE]`).
pub fn netns_inode() -> Option<u64> {
    let link = std::fs::read_link("/proc/self/ns/net").ok()?;
    parse_ns_link(&link.to_string_lossy())
}

/// `net:[4026532301]` → 4026532301.
pub fn parse_ns_link(s: &str) -> Option<u64> {
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// A hint to append to an error that is a missing privilege (`EPERM`/`EACCES`).
pub fn privilege_hint(msg: &str) -> &'static str {
    if msg.contains("Operation not permitted") || msg.contains("Permission denied") {
        " (conntrack's netlink interface and /proc/net/nf_conntrack need root or CAP_NET_ADMIN)"
    } else {
        ""
    }
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

/// What one pass over the table found. The grouping is [`crate::views::group`]'s (the
/// `summary` view's), by original source and by protocol + tracker state.
pub struct TableShape {
    /// Entries seen.
    pub entries: u64,
    by_src: Grouper,
    by_state: Grouper,
    /// Entries without `IPS_SEEN_REPLY`.
    pub unreplied: u64,
    /// TCP entries in TIME_WAIT.
    pub time_wait: u64,
    /// TCP entries in ESTABLISHED.
    pub established: u64,
    /// Entries per helper name.
    pub helpers: HashMap<String, u64>,
}

impl Default for TableShape {
    fn default() -> TableShape {
        TableShape {
            entries: 0,
            by_src: Grouper::new(vec![Key::Src]),
            by_state: Grouper::new(vec![Key::Proto, Key::State]),
            unreplied: 0,
            time_wait: 0,
            established: 0,
            helpers: HashMap::new(),
        }
    }
}

impl TableShape {
    /// Counts one entry.
    pub fn add(&mut self, f: &Flow) {
        self.entries += 1;
        self.by_src.add(f);
        self.by_state.add(f);
        let unreplied = !f.status_bits().contains(Status::SEEN_REPLY);
        let tcp = if f.orig.proto == IPPROTO_TCP {
            f.tcp_state()
        } else {
            None
        };
        self.unreplied += unreplied as u64;
        self.time_wait += (tcp == Some(TcpState::TimeWait.to_u8())) as u64;
        self.established += (tcp == Some(TcpState::Established.to_u8())) as u64;
        if let Some(h) = &f.helper {
            match self.helpers.get_mut(h.as_str()) {
                Some(n) => *n += 1,
                None => {
                    self.helpers.insert(h.as_str().to_string(), 1);
                }
            }
        }
    }

    /// The `n` sources holding most entries, most first (ties by address), with how many of
    /// them are unreplied.
    pub fn top_sources(&self, n: usize) -> Vec<(String, Counts)> {
        labelled(&self.by_src, n)
    }

    /// The `n` biggest protocol/state groups (`tcp TIME_WAIT`, `udp`), most first.
    pub fn top_states(&self, n: usize) -> Vec<(String, Counts)> {
        labelled(&self.by_state, n)
    }
}

/// The top `n` groups of `g` with their values joined by spaces (`-`, "no state", left out).
fn labelled(g: &Grouper, n: usize) -> Vec<(String, Counts)> {
    g.top(Some(n))
        .iter()
        .map(|grp| {
            let words: Vec<String> = g
                .values(grp.key)
                .iter()
                .map(|v| v.to_string())
                .filter(|w| w != "-")
                .collect();
            (words.join(" "), grp.counts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctkit_model::{ProtoInfo, TcpInfo};

    #[test]
    fn privilege_errors_get_a_hint() {
        assert!(privilege_hint("kernel: Operation not permitted (os error 1)").contains("root"));
        assert_eq!(privilege_hint("no such file"), "");
    }

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
        f.status = Some(Status::default());
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
        let src = s.top_sources(1);
        assert_eq!(src.len(), 1);
        assert_eq!(src[0].0, "192.0.2.2");
        assert_eq!((src[0].1.entries, src[0].1.unreplied), (3, 3));
        let st: Vec<(String, u64)> = s
            .top_states(5)
            .into_iter()
            .map(|(l, c)| (l, c.entries))
            .collect();
        assert_eq!(
            st,
            vec![("udp".to_string(), 3), ("tcp TIME_WAIT".to_string(), 1)]
        );
    }
}
