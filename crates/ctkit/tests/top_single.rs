//! `ctkit top -1` (iptstate's single run) on a real table: plain text whatever stdout is,
//! finite into a file and into `head`, sorted and filtered as asked, and the iptstate
//! option letters.

mod support;

use support::{ctkit_bin, require_oracle, Netns};

/// Loads entries with the oracle's `-R` (one `-I` line each). More than 64 of them only under
/// [`support::GlobalLock::shared`] (another test's lowered `nf_conntrack_max` would refuse
/// them).
fn load(ns: &Netns, lines: &str) {
    let r = support::run_tool(
        ns,
        support::oracle_bin(),
        &["-R", "-"],
        Some(lines.as_bytes()),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

const TABLE: &str = "\
-I -s 192.0.2.10 -d 198.51.100.2 -p tcp --sport 40000 --dport 443 --state ESTABLISHED -u ASSURED -t 3000\n\
-I -s 192.0.2.9 -d 198.51.100.1 -p tcp --sport 41000 --dport 22 --state TIME_WAIT -t 100\n\
-I -s 192.0.2.100 -d 198.51.100.53 -p udp --sport 53000 --dport 53 -t 30\n\
-I -s 192.0.2.7 -d 203.0.113.5 -p icmp --icmp-type 8 --icmp-code 0 --icmp-id 99 -t 30\n\
-I -s 2001:db8::1 -d 2001:db8::2 -p tcp --sport 1000 --dport 7000 --state ESTABLISHED -t 2000\n\
-I -s 192.0.2.8 -d 203.0.113.10 -p tcp --sport 4000 --dport 80 -r 198.51.100.2 -q 192.0.2.8 --reply-port-src 8080 --reply-port-dst 4000 --state SYN_SENT -t 120 -w 7 -m 42\n";

/// Runs `sh -c SCRIPT` in `ns` with `$CTKIT` set; returns (stdout, stderr, status).
fn sh(ns: &Netns, script: &str) -> (String, String, i32) {
    let out = ns
        .command(&["sh", "-c", script])
        .env("CTKIT", ctkit_bin())
        .env_remove("COLUMNS")
        .env_remove("COLS")
        .output()
        .expect("run sh");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// The words of each line, TTL (h:mm:ss, which ticks) replaced by `TTL`.
fn words(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| {
            l.split_whitespace()
                .map(|w| {
                    let parts: Vec<&str> = w.split(':').collect();
                    let ttl = parts.len() == 3
                        && parts
                            .iter()
                            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                    if ttl {
                        "TTL".to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect()
        })
        .collect()
}

fn w(lines: &[&str]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

#[test]
fn single_run_to_a_file_is_plain_text_sorted_by_source() {
    if !require_oracle("single_run_to_a_file_is_plain_text_sorted_by_source") {
        return;
    }
    let ns = Netns::new();
    load(&ns, TABLE);
    let (out, err, code) = sh(&ns, "$CTKIT top -1 -t > /tmp/ctkit-top-$$.txt; s=$?; cat /tmp/ctkit-top-$$.txt; rm -f /tmp/ctkit-top-$$.txt; exit $s");
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(!out.contains('\x1b'), "no escape sequences: {out:?}");
    assert_eq!(
        words(&out),
        w(&[
            "ctkit top -- Sort by: SrcIP",
            "Total States: 6 -- TCP: 4 UDP: 1 ICMP: 1 Other: 0 (Filtered: 0)",
            "Source Destination Prt State TTL",
            "192.0.2.7 203.0.113.5 icmp 8/0 (99) TTL",
            "192.0.2.8:4000 203.0.113.10:80 tcp SYN_SENT TTL",
            "192.0.2.9:41000 198.51.100.1:22 tcp TIME_WAIT TTL",
            "192.0.2.10:40000 198.51.100.2:443 tcp ESTABLISHED TTL",
            "192.0.2.100:53000 198.51.100.53:53 udp TTL",
            "[2001:db8::1]:1000 [2001:db8::2]:7000 tcp ESTABLISHED TTL",
        ])
    );
    // Without a terminal and without $COLUMNS, no value is cut and lines have no padding.
    assert!(out.lines().all(|l| !l.ends_with(' ')), "{out}");
}

#[test]
fn single_run_options_sort_filter_and_show_nat_zone_mark() {
    if !require_oracle("single_run_options_sort_filter_and_show_nat_zone_mark") {
        return;
    }
    let ns = Netns::new();
    load(&ns, TABLE);
    let (out, _, code) = sh(&ns, "$CTKIT top -1 -rb D -L");
    assert_eq!(code, 0);
    assert_eq!(
        words(&out),
        w(&[
            "ctkit top -- Sort by: DstPort reverse",
            "Source Destination Prt State TTL",
            "[2001:db8::1]:1000 [2001:db8::2]:7000 tcp ESTABLISHED TTL",
            "192.0.2.10:40000 198.51.100.2:443 tcp ESTABLISHED TTL",
            "192.0.2.8:4000 203.0.113.10:80 tcp SYN_SENT TTL",
            "192.0.2.9:41000 198.51.100.1:22 tcp TIME_WAIT TTL",
            "192.0.2.7 203.0.113.5 icmp 8/0 (99) TTL",
        ])
    );
    let (out, _, _) = sh(&ns, "$CTKIT top -1 -d 198.51.100.0/24 -i --nat --ext");
    assert_eq!(
        words(&out),
        w(&[
            "ctkit top -- Sort by: SrcIP",
            "Filters: dst: 198.51.100.0/24 (Inverted)",
            "Source Destination Reply Source Reply Destination Prt State TTL Zone Mark Flags",
            "192.0.2.7 203.0.113.5 203.0.113.5 192.0.2.7 icmp 8/0 (99) TTL 0 UNREPLIED",
            "192.0.2.8:4000 203.0.113.10:80 198.51.100.2:8080 192.0.2.8:4000 tcp SYN_SENT TTL 7 42 UNREPLIED",
            "[2001:db8::1]:1000 [2001:db8::2]:7000 [2001:db8::2]:7000 [2001:db8::1]:1000 tcp ESTABLISHED TTL 0 UNREPLIED",
        ])
    );
    let (out, _, _) = sh(
        &ns,
        "$CTKIT top -1 --filter 'tcp and not state time_wait and ipv4' --proto tcp",
    );
    assert_eq!(
        words(&out)[2..],
        w(&[
            "192.0.2.8:4000 203.0.113.10:80 tcp SYN_SENT TTL",
            "192.0.2.10:40000 198.51.100.2:443 tcp ESTABLISHED TTL",
        ])[..]
    );
    let (out, _, _) = sh(&ns, "$CTKIT top -1 --group dport");
    assert_eq!(
        words(&out),
        w(&[
            "ctkit top -- Sort by: SrcIP",
            "Group Entries Share",
            "icmp 1 16.7%",
            "tcp/22 1 16.7%",
            "tcp/80 1 16.7%",
            "tcp/443 1 16.7%",
            "tcp/7000 1 16.7%",
            "udp/53 1 16.7%",
        ])
    );
}

#[test]
fn single_run_into_head_is_finite_and_exits_zero() {
    if !require_oracle("single_run_into_head_is_finite_and_exits_zero") {
        return;
    }
    // 5000 unreplied entries, needed until the last count: the shared lock for the whole
    // test, taken before the namespace so that it is flushed and gone before the release.
    let _shared = support::GlobalLock::shared();
    let ns = Netns::new();
    let mut lines = String::new();
    // 5000 lines of output (about 250 KB): far more than a pipe holds once head is gone.
    for i in 0..5000u32 {
        lines.push_str(&format!(
            "-I -s 192.0.2.{} -d 198.51.100.1 -p udp --sport {} --dport 53 -t 300\n",
            1 + i / 2500,
            1024 + i % 2500
        ));
    }
    load(&ns, &lines);
    let (out, err, _) = sh(
        &ns,
        "$CTKIT top -1 2>/tmp/ctkit-top-$$.err | head -n 3; echo \"status ${?}\"; cat /tmp/ctkit-top-$$.err; rm -f /tmp/ctkit-top-$$.err",
    );
    assert_eq!(err, "");
    assert_eq!(
        words(&out),
        w(&[
            "ctkit top -- Sort by: SrcIP",
            "Source Destination Prt State TTL",
            "192.0.2.1:1024 198.51.100.1:53 udp TTL",
            "status 0",
        ])
    );
    // The whole listing into a file: every entry, once.
    let (out, _, code) = sh(&ns, "$CTKIT top -1 > /tmp/ctkit-top-$$.txt; s=$?; wc -l < /tmp/ctkit-top-$$.txt; rm -f /tmp/ctkit-top-$$.txt; exit $s");
    // 10000 hash nodes out of the global table before the lock goes (ns is dropped next).
    let flush = support::run_tool(&ns, support::oracle_bin(), &["-F"], None);
    assert_eq!(flush.code, 0, "{}", flush.stderr);
    assert_eq!((out.trim(), code), ("5002", 0));
}

#[test]
fn bad_options_exit_1_like_iptstate() {
    let out = std::process::Command::new(ctkit_bin())
        .args(["top", "-b", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ctkit top: invalid sort column `x' (-b takes one of S d D p s t b P r)\nRun `ctkit top -h` for the options.\n"
    );
    let out = std::process::Command::new(ctkit_bin())
        .args(["top", "-Q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = std::process::Command::new(ctkit_bin())
        .args(["top", "--filter", "tcp and"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("ctkit top: --filter: the expression ends too early\n"));
    let out = std::process::Command::new(ctkit_bin())
        .args(["top", "-h"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "-b, --sort",
        "-c, --no-color",
        "-C, --counters",
        "-d, --dst-filter",
        "-D, --dstpt-filter",
        "-f, --no-loopback",
        "-i, --invert-filters",
        "-l, --lookup",
        "-L, --no-dns",
        "-m, --mark-truncated",
        "-o, --no-dynamic",
        "-p, --no-scroll",
        "-r, --reverse",
        "-R, --rate",
        "-s, --src-filter",
        "-S, --srcpt-filter",
        "-t, --totals",
        "-1, --single",
    ] {
        assert!(help.contains(opt), "{opt} missing from:\n{help}");
    }
    // The live view needs a terminal.
    let out = std::process::Command::new(ctkit_bin())
        .args(["top"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

/// A saved `conntrack -L` listing (conntrack 1.4.7 text).
const SAVED: &str = "\
tcp      6 431999 ESTABLISHED src=192.0.2.1 dst=198.51.100.2 sport=1234 dport=80 src=198.51.100.2 dst=192.0.2.1 sport=80 dport=1234 [ASSURED] mark=0 use=1
udp      17 29 src=192.0.2.5 dst=198.51.100.9 sport=53000 dport=53 [UNREPLIED] src=198.51.100.9 dst=192.0.2.5 sport=53 dport=53000 mark=0 use=1
tcp      6 118 SYN_SENT src=192.0.2.8 dst=203.0.113.10 sport=4000 dport=80 [UNREPLIED] src=198.51.100.2 dst=192.0.2.8 sport=8080 dport=4000 mark=42 zone=7 use=1
icmp     1 29 src=192.0.2.7 dst=203.0.113.5 type=8 code=0 id=99 [UNREPLIED] src=203.0.113.5 dst=192.0.2.7 type=0 code=0 id=99 mark=0 use=1
";

#[test]
fn single_run_reads_a_saved_listing_from_a_file_and_from_stdin() {
    let dir = std::env::temp_dir().join(format!("ctkit-top-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("saved.txt");
    std::fs::write(&file, SAVED).unwrap();
    let want = "\
ctkit top -- Sort by: TTL
Source          Destination     Reply Source      Reply Destination Prt  State       TTL       Zone Mark Flags
192.0.2.5:53000 198.51.100.9:53 198.51.100.9:53   192.0.2.5:53000   udp                0:00:29      0    UNREPLIED
192.0.2.7       203.0.113.5     203.0.113.5       192.0.2.7         icmp 8/0 (99)      0:00:29      0    UNREPLIED
192.0.2.8:4000  203.0.113.10:80 198.51.100.2:8080 192.0.2.8:4000    tcp  SYN_SENT      0:01:58 7    42   UNREPLIED
192.0.2.1:1234  198.51.100.2:80 198.51.100.2:80   192.0.2.1:1234    tcp  ESTABLISHED 119:59:59      0    ASSURED
";
    let out = std::process::Command::new(ctkit_bin())
        .args(["top", "-1", "-b", "t", "--nat", "--ext", "--from"])
        .arg(&file)
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    let out = support::netns::output_with_stdin(
        {
            let mut c = std::process::Command::new(ctkit_bin());
            c.args(["top", "-1", "-b", "t", "--nat", "--ext", "--from", "-"])
                .env_remove("COLUMNS");
            c
        },
        SAVED.as_bytes(),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    // The list filters and the expression apply to saved flows too; --json prints objects.
    let out = std::process::Command::new(ctkit_bin())
        .args([
            "top",
            "-1",
            "--json",
            "--zone",
            "7",
            "--filter",
            "dnat or nat",
            "--from",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"bytes\":null,\"dport\":80,\"dst\":\"203.0.113.10\",\"flags\":\"UNREPLIED\",\"mark\":42,\
         \"packets\":null,\"proto\":\"tcp\",\"reply_dport\":4000,\"reply_dst\":\"192.0.2.8\",\
         \"reply_sport\":8080,\"reply_src\":\"198.51.100.2\",\"sport\":4000,\"src\":\"192.0.2.8\",\
         \"state\":\"SYN_SENT\",\"timeout\":118,\"zone\":7}\n"
    );
    let out = std::process::Command::new(ctkit_bin())
        .args(["top", "-1", "--from"])
        .arg(dir.join("missing.txt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
