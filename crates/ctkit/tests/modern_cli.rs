//! The modern commands (`ctkit list|get|delete|create|update|flush|count|stats|events`) on a
//! real table, each test in its own namespace.

mod support;

use support::{ctkit_bin, require_kernel, Netns};

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

fn ctkit(ns: &Netns, args: &[&str]) -> Run {
    let bin = ctkit_bin();
    let mut full = vec![bin.to_str().expect("utf-8 path")];
    full.extend_from_slice(args);
    let out = ns.exec(&full);
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

fn load(ns: &Netns) {
    for args in [
        &[
            "create",
            "--proto",
            "tcp",
            "--src",
            "192.0.2.1",
            "--dst",
            "198.51.100.1",
            "--sport",
            "1000",
            "--dport",
            "80",
            "--state",
            "ESTABLISHED",
            "--timeout",
            "300",
            "--mark",
            "7",
        ][..],
        &[
            "create",
            "--src",
            "192.0.2.2",
            "--dst",
            "198.51.100.1",
            "--proto",
            "udp",
            "--sport",
            "1001",
            "--dport",
            "53",
            "--timeout",
            "300",
        ][..],
        &[
            "create",
            "--src",
            "2001:db8::1",
            "--dst",
            "2001:db8::2",
            "--proto",
            "udp",
            "--sport",
            "1002",
            "--dport",
            "53",
            "--timeout",
            "300",
        ][..],
    ] {
        let r = ctkit(ns, args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
}

#[test]
fn modern_list_json_has_exact_fields() {
    if !require_kernel("modern_list_json_has_exact_fields") {
        return;
    }
    let ns = Netns::new();
    load(&ns);
    let r = ctkit(&ns, &["list", "--proto", "tcp", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON line");
    assert_eq!(v["family"], "ipv4");
    assert_eq!(v["proto"], "tcp");
    assert_eq!(v["state"], "ESTABLISHED");
    assert_eq!(v["orig"]["src"], "192.0.2.1");
    assert_eq!(v["orig"]["dport"], 80);
    assert_eq!(v["reply"]["src"], "198.51.100.1");
    assert_eq!(v["reply"]["dport"], 1000);
    assert_eq!(v["mark"], 7);
    let r = ctkit(&ns, &["list", "--family", "ipv6"]);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.starts_with("udp      17 "), "{}", r.stdout);
}

#[test]
fn modern_delete_dry_run_changes_nothing_then_delete_removes_exactly_the_match() {
    if !require_kernel(
        "modern_delete_dry_run_changes_nothing_then_delete_removes_exactly_the_match",
    ) {
        return;
    }
    let ns = Netns::new();
    load(&ns);
    let dry = ctkit(&ns, &["delete", "--proto", "udp", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(dry.stdout.lines().count(), 2, "{}", dry.stdout);
    assert!(
        dry.stderr
            .ends_with("2 flow entries would be deleted (dry run).\n"),
        "{}",
        dry.stderr
    );
    assert_eq!(ctkit(&ns, &["count"]).stdout, "3\n");
    let del = ctkit(&ns, &["delete", "--src", "192.0.2.2"]);
    assert_eq!(del.code, 0, "{}", del.stderr);
    assert_eq!(del.stdout.lines().count(), 1);
    assert_eq!(ctkit(&ns, &["count"]).stdout, "2\n");
    let none = ctkit(&ns, &["delete", "--src", "192.0.2.99"]);
    assert_eq!(none.code, 1);
    let flush_dry = ctkit(&ns, &["flush", "--dry-run"]);
    assert_eq!(flush_dry.stdout.lines().count(), 2);
    assert_eq!(ctkit(&ns, &["count"]).stdout, "2\n");
    assert_eq!(ctkit(&ns, &["flush"]).code, 0);
    assert_eq!(
        ctkit(&ns, &["count", "--json"]).stdout.split(',').next(),
        Some("{\"entries\":0")
    );
}

#[test]
fn modern_get_missing_entry_exits_1_and_stats_json_has_cpus() {
    if !require_kernel("modern_get_missing_entry_exits_1_and_stats_json_has_cpus") {
        return;
    }
    let ns = Netns::new();
    let r = ctkit(
        &ns,
        &[
            "get",
            "--proto",
            "udp",
            "--src",
            "192.0.2.9",
            "--dst",
            "198.51.100.9",
            "--sport",
            "1",
            "--dport",
            "2",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("such conntrack doesn't exist"),
        "{}",
        r.stderr
    );
    let s = ctkit(&ns, &["stats", "--json"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    // One object per possible CPU ("0-1" → 2).
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").expect("cpu list");
    let cpus: usize = possible
        .trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum();
    assert_eq!(s.stdout.lines().count(), cpus, "{}", s.stdout);
    for line in s.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        assert!(v["cpu"].is_number() && v["found"].is_number(), "{line}");
    }
}

#[test]
fn modern_usage_errors_exit_2() {
    let bin = ctkit_bin();
    for args in [
        &["lsit"][..],
        &["list", "--bogus"][..],
        &["list", "--dry-run"][..],
        &[][..],
    ] {
        let out = std::process::Command::new(&bin)
            .args(args)
            .output()
            .expect("run ctkit");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let v = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .expect("run ctkit");
    assert_eq!(
        String::from_utf8_lossy(&v.stdout),
        "ctkit 0.1.0 (conntrack v1.4.7 compatible)\n"
    );
}
