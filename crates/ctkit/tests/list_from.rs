//! `ctkit list --from SPEC`: saved dumps in every format (fixtures of a real 6.18 table, see
//! crates/model/tests/fixtures), standard input, malformed files (exact error text, exit
//! status, `--lenient` counts), captures and unknown files; then, on a real table in a
//! namespace, every format conntrack and ctkit print, saved and read back, and `--from proc`,
//! against the kernel's own listing.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use support::normalize::{normalize_timeouts, normalize_use, sort_lines};
use support::{ctkit_bin, oracle_bin, require_kernel, Lab, LabOptions, Netns};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures")
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

fn run(out: Output) -> Run {
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// `ctkit list ARGS` run in the fixtures directory (so relative names appear in messages).
fn list(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(ctkit_bin());
    cmd.arg("list").args(args).current_dir(fixtures());
    match stdin {
        Some(data) => run(support::netns::output_with_stdin(cmd, data)),
        None => run(cmd.stdin(Stdio::null()).output().unwrap()),
    }
}

fn summary(n: usize) -> String {
    format!(
        "conntrack v1.4.7 (ctkit {}): {n} flow entries have been shown.\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[test]
fn list_from_a_saved_listing_prints_it_again_byte_for_byte() {
    let r = list(&["--from", "conntrack-L.txt"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, read_fixture("conntrack-L.txt"));
    assert_eq!(r.stderr, summary(11));
    for (file, opts, want) in [
        (
            "conntrack-L-extended.txt",
            "extended",
            "conntrack-L-extended.txt",
        ),
        ("conntrack-L-save.txt", "save", "conntrack-L-save.txt"),
        ("conntrack-L-xml.xml", "xml", "conntrack-L-xml.xml"),
        ("ctkit-list.json", "json", "ctkit-list.json"),
        // A JSON dump printed as -o save: the same entries conntrack saved (but for SCTP's
        // verification tags, which the JSON schema does not carry).
        ("ctkit-list.json", "save", "conntrack-L-save.txt"),
    ] {
        let r = list(&["--from", file, "-o", opts], None);
        assert_eq!(r.code, 0, "{file}: {}", r.stderr);
        let want = read_fixture(want).replace(" --orig-vtag 1 --reply-vtag 2", "");
        let got = r.stdout.replace(" --orig-vtag 1 --reply-vtag 2", "");
        assert_eq!(
            normalize_timeouts(&got),
            normalize_timeouts(&want),
            "{file} -o {opts}"
        );
    }
    let r = list(&["--from", "conntrack-L-xml.xml", "--json"], None);
    assert_eq!(r.stdout.lines().count(), 11);
    assert!(
        r.stdout.starts_with(
            "{\"family\":\"ipv6\",\"proto\":\"icmpv6\",\"protonum\":58,\"timeout\":28,"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn list_from_a_proc_copy_prints_what_conntrack_prints() {
    // An OpenWrt-style `cat /proc/net/nf_conntrack` copied elsewhere.
    let r = list(
        &["--from", "proc-nf_conntrack-6.18.txt", "--proto", "tcp"],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "tcp      6 108 SYN_SENT src=192.0.2.2 dst=198.51.100.1 sport=41001 dport=443 packets=0 bytes=0 [UNREPLIED] src=198.51.100.1 dst=192.0.2.2 sport=443 dport=41001 packets=0 bytes=0 mark=0 delta-time=1 use=2\n\
         tcp      6 431988 ESTABLISHED src=192.0.2.1 dst=198.51.100.1 sport=41000 dport=80 packets=0 bytes=0 src=198.51.100.1 dst=192.0.2.1 sport=80 dport=41000 packets=0 bytes=0 [ASSURED] mark=6 delta-time=1 use=2\n\
         tcp      6 431988 ESTABLISHED src=192.0.2.5 dst=198.51.100.1 sport=41002 dport=80 packets=0 bytes=0 src=192.0.2.80 dst=192.0.2.5 sport=80 dport=41002 packets=0 bytes=0 [ASSURED] mark=0 zone=5 delta-time=1 use=2\n"
    );
    assert_eq!(r.stderr, summary(3));
    let r = list(
        &["--from", "proc-ip_conntrack-2.6.txt", "--src", "192.0.2.11"],
        None,
    );
    assert_eq!(
        r.stdout,
        "tcp      6 117 SYN_SENT src=192.0.2.11 dst=198.51.100.9 sport=40001 dport=80 [UNREPLIED] src=198.51.100.9 dst=192.0.2.11 sport=80 dport=40001 use=1\n"
    );
    let r = list(
        &[
            "--from",
            "proc-nf_conntrack-6.18.txt",
            "--family",
            "ipv6",
            "--proto",
            "udp",
            "-o",
            "extended",
        ],
        None,
    );
    assert_eq!(
        r.stdout,
        "ipv6     10 udp      17 168 src=2001:db8::1 dst=2001:db8::53 sport=5353 dport=53 packets=0 bytes=0 [UNREPLIED] src=2001:db8::53 dst=2001:db8::1 sport=53 dport=5353 packets=0 bytes=0 mark=0 delta-time=1 use=2\n"
    );
}

#[test]
fn list_from_stdin_detects_the_format() {
    let data = read_fixture("conntrack-L-save.txt");
    let r = list(&["--from", "-", "--proto", "gre"], Some(data.as_bytes()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "gre      47 169 src=192.0.2.1 dst=192.0.2.2 srckey=0x5 dstkey=0x6 [UNREPLIED] src=192.0.2.2 dst=192.0.2.1 srckey=0x6 dstkey=0x5\n"
    );
    let r = list(&["--from", "-"], Some(b""));
    assert_eq!((r.code, r.stdout.as_str(), r.stderr), (0, "", summary(0)));
}

#[test]
fn a_malformed_line_stops_with_file_line_and_field() {
    let r = list(&["--from", "proc-malformed.txt"], None);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stdout.lines().count(),
        1,
        "lines before the bad one are printed: {}",
        r.stdout
    );
    assert_eq!(
        r.stderr,
        "ctkit: list: proc-malformed.txt:3: bad address in field `dst` at column 56 (/proc or -o extended text)\n"
    );
}

#[test]
fn lenient_skips_malformed_lines_and_says_how_many() {
    let r = list(&["--from", "proc-malformed.txt", "--lenient"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 3, "{}", r.stdout);
    assert_eq!(
        r.stderr,
        format!(
            "ctkit: list: skipped 4 malformed line(s) (--lenient)\n{}",
            summary(3)
        )
    );
}

#[test]
fn captures_unknown_formats_and_missing_files_are_clear_errors() {
    let dir = std::env::temp_dir().join(format!("ctkit-list-from-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Captures are read by the capture reader (a truncated one is its error); see replay_cli.rs
    // for whole captures as a source.
    let pcap = dir.join("x.pcap");
    std::fs::write(&pcap, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0]).unwrap();
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "hello\n").unwrap();
    let r = list(&["--from", pcap.to_str().unwrap()], None);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        format!(
            "ctkit: list: {}: file header: truncated (the input ends inside it)\n",
            pcap.display()
        )
    );
    let r = list(
        &["--from", "-"],
        Some(&[0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0]),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("ctkit: list: standard input: record 1 at byte 0: truncated"),
        "{}",
        r.stderr
    );
    let r = list(&["--from", notes.to_str().unwrap()], None);
    assert_eq!(r.code, 1);
    assert!(r.stderr.ends_with("line 1: not in a format ctkit reads (conntrack -L text, -o extended, /proc/net/nf_conntrack, /proc/net/ip_conntrack, -o save, -o xml, ctkit -o json): `hello'\n"), "{}", r.stderr);
    let gz = dir.join("dump.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    let r = list(&["--from", gz.to_str().unwrap()], None);
    assert_eq!(
        (r.code, r.stderr),
        (
            1,
            format!(
                "ctkit: list: {}: gzip-compressed: decompress it first (zcat FILE | ctkit … --from -)\n",
                gz.display()
            )
        )
    );
    let r = list(&["--from", "no-such-file"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "ctkit: list: no-such-file: No such file or directory (os error 2)\n"
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn list_from_rejects_other_tables_and_unknown_flags() {
    let r = list(&["--from", "conntrack-L.txt", "--table", "dying"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("ctkit: --from reads the conntrack and expect tables only, not `dying'\n"),
        "{}",
        r.stderr
    );
    // Only a capture's replay has an expectation table (replay_cli.rs lists one).
    let r = list(&["--from", "conntrack-L.txt", "--table", "expect"], None);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.ends_with(
            ": not a packet capture: saved dumps hold connections only; \
             expectations come from a capture (pcap, pcapng) or the kernel\n"
        ),
        "{}",
        r.stderr
    );
    let r = list(&["--from", "conntrack-L.txt", "--bogus"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("ctkit: unknown flag `--bogus' for `list --from'\n"),
        "{}",
        r.stderr
    );
    let r = list(&["--from", "conntrack-L.txt", "-o", "nonsense"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // No match: no XML document at all, as conntrack.
    let r = list(
        &["--from", "conntrack-L.txt", "--proto", "dccp", "-o", "xml"],
        None,
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
}

// --- on a real table -------------------------------------------------------------------

fn sh(ns: &Netns, script: &str) -> String {
    ns.sh_ok(script)
}

/// What may differ between two looks at one table: timeouts tick, reference counts move,
/// /proc prints `zone=0` and full IPv6 groups conntrack does not, order of listing.
fn norm(s: &str) -> String {
    sort_lines(&normalize_use(&normalize_timeouts(
        &s.replace(" zone=0", ""),
    )))
}

#[test]
fn every_saved_format_of_a_real_table_lists_as_the_kernel_does() {
    if !require_kernel("every_saved_format_of_a_real_table_lists_as_the_kernel_does") {
        return;
    }
    let lab = Lab::new(LabOptions {
        nat: true,
        zone: true,
        mark: true,
        ..LabOptions::default()
    });
    lab.keep_entries();
    support::traffic::mixed(&lab);
    lab.settle();
    let dir = std::env::temp_dir().join(format!("ctkit-list-from-k-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    let oracle = oracle_bin().display().to_string();
    let ctkit = ctkit_bin().display().to_string();
    sh(
        &lab.router,
        &format!(
            "{oracle} -L > {d}/l.txt 2>/dev/null; {oracle} -L -o extended > {d}/e.txt 2>/dev/null; \
             {oracle} -L -o save > {d}/s.txt 2>/dev/null; {oracle} -L -o xml > {d}/x.xml 2>/dev/null; \
             {oracle} -L -o id > {d}/i.txt 2>/dev/null; cat /proc/net/nf_conntrack > {d}/p.txt; \
             {ctkit} list --json > {d}/j.json 2>/dev/null"
        ),
    );
    let kernel = sh(&lab.router, &format!("{oracle} -L 2>/dev/null"));
    let n = kernel.lines().count();
    assert!(n >= 8, "the lab made too few flows:\n{kernel}");
    for (file, opts, want) in [
        ("l.txt", "", kernel.clone()),
        ("e.txt", "", kernel.clone()),
        ("i.txt", "", kernel.clone()),
        ("p.txt", "", kernel.clone()),
        ("j.json", "", kernel.clone()),
        (
            "e.txt",
            "extended",
            sh(&lab.router, &format!("{oracle} -L -o extended 2>/dev/null")),
        ),
        (
            "s.txt",
            "save",
            sh(&lab.router, &format!("{oracle} -L -o save 2>/dev/null")),
        ),
        (
            "x.xml",
            "xml",
            sh(&lab.router, &format!("{oracle} -L -o xml 2>/dev/null")),
        ),
        (
            "j.json",
            "xml",
            sh(&lab.router, &format!("{oracle} -L -o xml 2>/dev/null")),
        ),
        (
            "p.txt",
            "save",
            sh(&lab.router, &format!("{oracle} -L -o save 2>/dev/null")),
        ),
    ] {
        let path = format!("{d}/{file}");
        let mut args = vec!["list", "--from", path.as_str()];
        if !opts.is_empty() {
            args.extend(["-o", opts]);
        }
        let r = run(lab.router.exec(
            &[&ctkit as &str]
                .into_iter()
                .chain(args.iter().copied())
                .collect::<Vec<_>>(),
        ));
        assert_eq!(r.code, 0, "{file}: {}", r.stderr);
        assert_eq!(norm(&r.stdout), norm(&want), "--from {file} -o {opts}");
        assert_eq!(r.stderr, summary(n), "{file}");
    }
    // Filters mean what they mean for conntrack -L.
    let r = run(lab.router.exec(&[
        &ctkit as &str,
        "list",
        "--from",
        &format!("{d}/p.txt"),
        "--proto",
        "tcp",
        "--dport",
        "7000",
    ]));
    let want = sh(
        &lab.router,
        &format!("{oracle} -L -p tcp --dport 7000 2>/dev/null"),
    );
    assert_eq!(norm(&r.stdout), norm(&want));
    assert!(!want.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn from_proc_lists_the_namespaces_table_as_conntrack_does() {
    if !require_kernel("from_proc_lists_the_namespaces_table_as_conntrack_does") {
        return;
    }
    let lab = Lab::new(LabOptions {
        nat: true,
        ..LabOptions::default()
    });
    lab.keep_entries();
    support::traffic::mixed(&lab);
    lab.settle();
    let oracle = oracle_bin().display().to_string();
    let ctkit = ctkit_bin().display().to_string();
    let kernel = sh(&lab.router, &format!("{oracle} -L 2>/dev/null"));
    let r = run(lab.router.exec(&[ctkit.as_str(), "list", "--from", "proc"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(norm(&r.stdout), norm(&kernel));
    // /proc's `use=` counts its reader; reported as ctnetlink reports it.
    let ones = |s: &str| s.matches(" use=1").count();
    assert_eq!(ones(&r.stdout), ones(&kernel), "{}", r.stdout);
    assert_eq!(ones(&kernel), kernel.lines().count());
    assert_eq!(r.stderr, summary(kernel.lines().count()));
    // Another namespace has its own (empty) table.
    let other = Netns::new();
    let r = run(other.exec(&[ctkit.as_str(), "list", "--from", "proc"]));
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    let r = run(lab
        .router
        .exec(&[ctkit.as_str(), "list", "--from", "proc", "--proto", "icmp"]));
    let want = sh(&lab.router, &format!("{oracle} -L -p icmp 2>/dev/null"));
    assert_eq!(want.lines().count(), 1, "{want}");
    assert_eq!(norm(&r.stdout), norm(&want));
}

#[test]
fn saved_labels_are_named_with_the_systems_label_map() {
    let name = "saved_labels_are_named_with_the_systems_label_map";
    if !require_kernel(name) {
        return;
    }
    let _lock = support::GlobalLock::acquire();
    let _conf = support::lab::CONNLABEL_FILES
        .map(|f| support::RestoreFile::replace(f, Lab::connlabel_conf().as_bytes()));
    let lab = Lab::new(LabOptions {
        labels: true,
        ..LabOptions::default()
    });
    lab.keep_entries();
    support::traffic::tcp_server(&lab.server, "::", support::lab::LABEL_PORT);
    support::traffic::tcp_hold(
        &lab.client,
        support::lab::SERVER4,
        support::lab::LABEL_PORT,
        10,
    );
    support::traffic::ping(&lab.client, support::lab::SERVER4);
    lab.settle();
    let dir = std::env::temp_dir().join(format!("ctkit-list-from-l-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let oracle = oracle_bin().display().to_string();
    let ctkit = ctkit_bin().display().to_string();
    for (fmt, file) in [("labels", "l.txt"), ("xml,labels", "x.xml")] {
        let path = dir.join(file).display().to_string();
        sh(
            &lab.router,
            &format!("{oracle} -L -o {fmt} > {path} 2>/dev/null"),
        );
        let want = sh(&lab.router, &format!("{oracle} -L -o {fmt} 2>/dev/null"));
        assert!(want.contains(support::lab::LABEL), "{want}");
        let r = run(lab
            .router
            .exec(&[ctkit.as_str(), "list", "--from", &path, "-o", fmt]));
        assert_eq!(r.code, 0, "{fmt}: {}", r.stderr);
        assert_eq!(norm(&r.stdout), norm(&want), "-o {fmt}");
        // Label filters work on saved entries too.
        let r = run(lab.router.exec(&[
            ctkit.as_str(),
            "list",
            "--from",
            &path,
            "--label",
            support::lab::LABEL,
        ]));
        assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
