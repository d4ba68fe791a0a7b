//! The program behind a netlink port id, for the `[USERSPACE] portid=N progname=X` suffix of
//! `-E` lines, found as conntrack 1.4.7's `get_progname` finds it: the port's socket inode
//! from `/proc/net/netlink` (protocol `NETLINK_NETFILTER`), then the process holding a
//! `socket:[inode]` descriptor, first the process whose pid is the port id (a process's first
//! netlink socket gets its pid), else any process; its name from `/proc/PID/stat`. The last
//! answer is cached per (port id, inode), as conntrack does.

use std::path::Path;

/// `NETLINK_NETFILTER`.
const NETLINK_NETFILTER: u32 = 12;

/// Remembers the last lookup.
#[derive(Default)]
pub struct PortNames {
    last: Option<(u32, u64, Option<String>)>,
}

impl PortNames {
    /// The program name for `portid`, if its socket and an owner are found.
    pub fn name(&mut self, portid: u32) -> Option<String> {
        let table = std::fs::read_to_string("/proc/net/netlink").ok()?;
        let inode = netfilter_inode(&table, portid)?;
        if let Some((p, i, name)) = &self.last {
            if *p == portid && *i == inode {
                return name.clone();
            }
        }
        let name = owner_name(Path::new("/proc"), portid, inode);
        self.last = Some((portid, inode, name.clone()));
        name
    }
}

/// The inode of the `NETLINK_NETFILTER` socket bound to `portid`, from the text of
/// `/proc/net/netlink` (`sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode`).
pub fn netfilter_inode(table: &str, portid: u32) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let proto: u32 = f.get(1)?.parse().ok()?;
        let pid: u32 = f.get(2)?.parse().ok()?;
        let inode: u64 = f.get(9)?.parse().ok()?;
        (proto == NETLINK_NETFILTER && pid == portid).then_some(inode)
    })
}

/// The name in `/proc/PID/stat` (`PID (name) …`, up to the first `)`, as conntrack's
/// `%*u (%m[^)]`).
pub fn stat_name(stat: &str) -> Option<String> {
    let open = stat.find('(')?;
    let rest = &stat[open + 1..];
    let close = rest.find(')')?;
    (close > 0).then(|| rest[..close].to_string())
}

fn holds_socket(proc_root: &Path, pid: u64, inode: u64) -> bool {
    let want = format!("socket:[{inode}]");
    let Ok(dir) = std::fs::read_dir(proc_root.join(pid.to_string()).join("fd")) else {
        return false;
    };
    dir.flatten()
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == want.as_str()))
}

fn name_of(proc_root: &Path, pid: u64) -> Option<String> {
    let stat = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    stat_name(&stat)
}

fn owner_name(proc_root: &Path, portid: u32, inode: u64) -> Option<String> {
    let first = u64::from(portid);
    if holds_socket(proc_root, first, inode) {
        return name_of(proc_root, first);
    }
    let dir = std::fs::read_dir(proc_root).ok()?;
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        if pid <= 1 || pid == first {
            continue;
        }
        if holds_socket(proc_root, pid, inode) {
            return name_of(proc_root, pid);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
00000000e3405387 0   0          00000000 0        0        0     2        0        4
00000000bc319e2c 12  4949       00000000 0        0        0     2        0        224
00000000bc319e2d 12  3619265430 00000000 0        0        0     2        0        225
00000000bc319e2e 4   3619265430 00000000 0        0        0     2        0        226
";

    #[test]
    fn inode_of_the_netfilter_socket_of_a_port() {
        assert_eq!(netfilter_inode(TABLE, 4949), Some(224));
        assert_eq!(netfilter_inode(TABLE, 3619265430), Some(225));
        assert_eq!(netfilter_inode(TABLE, 1), None);
        assert_eq!(netfilter_inode("", 1), None);
    }

    #[test]
    fn stat_name_stops_at_the_first_parenthesis() {
        assert_eq!(stat_name("42 (python3) S 1 …").as_deref(), Some("python3"));
        assert_eq!(stat_name("42 (a) b) S").as_deref(), Some("a"));
        assert_eq!(stat_name("42 () S"), None);
        assert_eq!(stat_name("garbage"), None);
    }

    #[test]
    fn own_netfilter_socket_is_found() {
        // A NETLINK_NETFILTER socket of this process, bound by the kernel to our pid or
        // another port id, is looked up to this process's name.
        let Ok(sock) = ctkit_ctnetlink::EventSocket::subscribe(&[1]) else {
            return; // no netlink here (unprivileged sandbox): nothing to look up
        };
        let table = std::fs::read_to_string("/proc/net/netlink").unwrap_or_default();
        let me = std::process::id();
        let any = table
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u32>().ok())
            .find(|p| *p == me);
        if let Some(p) = any {
            let mut names = PortNames::default();
            assert_eq!(
                names.name(p),
                stat_name(&std::fs::read_to_string("/proc/self/stat").unwrap())
            );
        }
        drop(sock);
    }
}
