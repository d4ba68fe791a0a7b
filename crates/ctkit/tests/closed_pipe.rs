//! `conntrack -L | head` ends silently: conntrack is killed by SIGPIPE (status 141 in the
//! shell) with nothing on stderr, and ctkit must end the same way, without a panic message.

mod support;

use support::{require_oracle, GlobalLock, Netns};

fn listing_into_head(ns: &Netns, bin: &str) -> (String, String) {
    let out = ns.exec(&[
        "bash",
        "-c",
        &format!("{bin} -L 2>/tmp/ctkit-pipe-$$.err | head -n 1 >/dev/null; echo ${{PIPESTATUS[0]}}; cat /tmp/ctkit-pipe-$$.err; rm -f /tmp/ctkit-pipe-$$.err"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, err) = text.split_once('\n').unwrap_or((&text, ""));
    (status.to_string(), err.to_string())
}

#[test]
fn list_into_closed_pipe_ends_by_sigpipe_like_conntrack() {
    if !require_oracle("list_into_closed_pipe_ends_by_sigpipe_like_conntrack") {
        return;
    }
    // 20000 unreplied entries: more than another test's lowered nf_conntrack_max admits or
    // its flagged GC leaves alone. Shared lock for the whole test, taken before the namespace
    // so that the table is flushed and the namespace gone before it is released.
    let _shared = GlobalLock::shared();
    let ns = Netns::new();
    // Enough entries that the listing outlives `head`.
    let mut load = String::new();
    for i in 0..20000u32 {
        load.push_str(&format!(
            "-I -s 192.0.2.{} -d 198.51.100.1 -p udp --sport {} --dport 53 -t 300\n",
            1 + i / 10000,
            1024 + i % 10000
        ));
    }
    let r = support::run_tool(
        &ns,
        support::oracle_bin(),
        &["-R", "-"],
        Some(load.as_bytes()),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let subject = support::subject::subject_conntrack();
    let want = listing_into_head(&ns, "/usr/sbin/conntrack");
    let got = listing_into_head(&ns, subject.to_str().expect("utf-8 path"));
    // 40000 hash nodes out of the global table before the lock goes (ns is dropped next).
    let flush = support::run_tool(&ns, support::oracle_bin(), &["-F"], None);
    assert_eq!(flush.code, 0, "{}", flush.stderr);
    assert_eq!(want, ("141".to_string(), String::new()));
    assert_eq!(got, want);
}
