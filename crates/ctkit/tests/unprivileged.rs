//! Without CAP_NET_ADMIN, ctkit must fail exactly as conntrack 1.4.7 does: same messages,
//! same fallbacks (`-C` and `-S` still print the /proc values), same exit codes.

mod support;

use support::normalize::normalize_banner;
use support::{require_oracle, Netns};

fn as_nobody(ns: &Netns, bin: &str, args: &str) -> (String, String, i32) {
    let out = ns.sh(&format!(
        "timeout 5 setpriv --reuid=65534 --regid=65534 --clear-groups {bin} {args}"
    ));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        normalize_banner(&String::from_utf8_lossy(&out.stderr)),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn unprivileged_commands_fail_like_conntrack() {
    if !require_oracle("unprivileged_commands_fail_like_conntrack") {
        return;
    }
    let ns = Netns::new();
    let subject = support::subject::subject_conntrack();
    let subject = subject.to_str().expect("utf-8 path");
    for args in [
        "-L",
        "-C",
        "-S",
        "-E",
        "-F",
        "-D -s 192.0.2.1",
        "-G -s 192.0.2.1 -d 192.0.2.2 -p udp --sport 1 --dport 2",
        "-I -s 192.0.2.1 -d 192.0.2.2 -p udp --sport 1 --dport 2 -t 5",
        "-L expect",
    ] {
        let want = as_nobody(&ns, "/usr/sbin/conntrack", args);
        let got = as_nobody(&ns, subject, args);
        assert_eq!(got, want, "conntrack {args} as an unprivileged user");
    }
    // The exact text scripts see.
    let (_, err, code) = as_nobody(&ns, subject, "-L");
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "conntrack v1.4.7 (BANNER): Operation failed: sorry, you must be root or get CAP_NET_ADMIN capability to do this\n"
    );
}
