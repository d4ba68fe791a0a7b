//! `-h` usage text and `-V` line, byte-identical to conntrack 1.4.7's (`usage()`,
//! `extension_help()`); the `-V` line names ctkit after the compatibility level.

use crate::compat::messages::version_line;

const BODY: &str = "\nCommands:\n  -L [table] [options]\t\tList conntrack or expectation table\n  -G [table] parameters\t\tGet conntrack or expectation\n  -D [table] parameters\t\tDelete conntrack or expectation\n  -I [table] parameters\t\tCreate a conntrack or expectation\n  -U [table] parameters\t\tUpdate a conntrack\n  -E [table] [options]\t\tShow events\n  -F [table]\t\t\tFlush table\n  -C [table]\t\t\tShow counter\n  -S\t\t\t\tShow statistics\n\nTables: conntrack, expect, dying, unconfirmed\n\nConntrack parameters and options:\n  -n, --src-nat ip\t\t\tsource NAT ip\n  -g, --dst-nat ip\t\t\tdestination NAT ip\n  -j, --any-nat ip\t\t\tsource or destination NAT ip\n  -m, --mark mark\t\t\tSet mark\n  -c, --secmark secmark\t\t\tSet selinux secmark\n  -e, --event-mask eventmask\t\tEvent mask, eg. NEW,DESTROY\n  -z, --zero \t\t\t\tZero counters while listing\n  -o, --output type[,...]\t\tOutput format, eg. xml\n  -l, --label label[,...]\t\tconntrack labels\n\nExpectation parameters and options:\n  --tuple-src ip\tSource address in expect tuple\n  --tuple-dst ip\tDestination address in expect tuple\n\nUpdating parameters and options:\n  --label-add label\tAdd label\n  --label-del label\tDelete label\n\nCommon parameters and options:\n  -s, --src, --orig-src ip\t\tSource address from original direction\n  -d, --dst, --orig-dst ip\t\tDestination address from original direction\n  -r, --reply-src ip\t\tSource addres from reply direction\n  -q, --reply-dst ip\t\tDestination address from reply direction\n  -p, --protonum proto\t\tLayer 4 Protocol, eg. 'tcp'\n  -f, --family proto\t\tLayer 3 Protocol, eg. 'ipv6'\n  -t, --timeout timeout\t\tSet timeout\n  -u, --status status\t\tSet status, eg. ASSURED\n  -w, --zone value\t\tSet conntrack zone\n  --orig-zone value\t\tSet zone for original direction\n  --reply-zone value\t\tSet zone for reply direction\n  -b, --buffer-size\t\tNetlink socket buffer size\n  --mask-src ip\t\t\tSource mask address\n  --mask-dst ip\t\t\tDestination mask address\n\n";

/// The usage text conntrack prints on stdout for `-h` (and with no command); `prog` is argv[0]
/// as invoked.
pub fn usage(prog: &str) -> String {
    format!(
        "Command line interface for the connection tracking system. Version {}\nUsage: {prog} [commands] [options]\n{BODY}",
        crate::compat::messages::COMPAT_VERSION
    )
}

/// ``Proto `NAME' help:`` plus the extension's option list (`-h -p NAME`).
pub fn proto_help(name: &str, text: &str) -> String {
    format!("Proto `{name}' help:\n{text}")
}

/// The `-V` line (stdout).
pub fn version() -> String {
    format!("{}\n", version_line())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_starts_and_ends_like_conntrack() {
        let u = usage("/usr/sbin/conntrack");
        assert!(u.starts_with("Command line interface for the connection tracking system. Version 1.4.7\nUsage: /usr/sbin/conntrack [commands] [options]\n\nCommands:\n"));
        assert!(u.ends_with("  --mask-dst ip\t\t\tDestination mask address\n\n"));
    }

    #[test]
    fn version_line_names_ctkit() {
        assert_eq!(version(), "conntrack v1.4.7 (ctkit 0.1.0)\n");
    }
}
