//! `ctkit sysctl` against the kernel: `set` in a namespace changes what that namespace's
//! kernel reports and uses (an unreplied UDP entry's timeout), and nothing elsewhere;
//! read-only sysctls outside the initial namespace; bad names and values exit 2 and write
//! nothing; `--persist` keeps one line per name (under the global lock, the file restored);
//! `size` with a fixed slabinfo gives exact numbers.

mod support;

use support::lab::{BLACKHOLE_PORT, SERVER4};
use support::traffic;
use support::{
    ctkit_bin, require_kernel, run_ctkit as ctkit, GlobalLock, Lab, LabOptions, Netns, RestoreFile,
};

const CONF: &str = "/etc/sysctl.d/90-ctkit-conntrack.conf";

fn read(ns: &Netns, name: &str) -> String {
    ns.exec_ok(&["cat", &format!("/proc/sys/net/netfilter/{name}")])
        .trim()
        .to_string()
}

/// A namespace with conntrack's sysctls present (they appear once the module is loaded).
fn conntrack_ns(test: &str) -> Option<Netns> {
    if !require_kernel(test) {
        return None;
    }
    Some(Netns::new())
}

#[test]
fn set_changes_the_timeout_the_namespace_kernel_uses_and_nothing_elsewhere() {
    if !support::kernel::require_tools(
        "set_changes_the_timeout_the_namespace_kernel_uses_and_nothing_elsewhere",
        &["nft", "python3"],
    ) {
        return;
    }
    let lab = Lab::new(LabOptions::default());
    let other = Netns::new();
    let host_before =
        std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_udp_timeout").unwrap();
    assert_eq!(read(&lab.router, "nf_conntrack_udp_timeout"), "30");
    let r = ctkit(
        &lab.router,
        &[
            "sysctl",
            "set",
            "nf_conntrack_udp_timeout=45",
            "net.netfilter.nf_conntrack_tcp_timeout_established=86400",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "nf_conntrack_udp_timeout: 30 -> 45\n\
         nf_conntrack_tcp_timeout_established: 432000 -> 86400\n"
    );
    assert_eq!(read(&lab.router, "nf_conntrack_udp_timeout"), "45");
    assert_eq!(
        read(&lab.router, "nf_conntrack_tcp_timeout_established"),
        "86400"
    );
    // Per namespace: another namespace and the initial one keep theirs.
    assert_eq!(read(&other, "nf_conntrack_udp_timeout"), "30");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_udp_timeout").unwrap(),
        host_before
    );
    // The kernel uses it: an unreplied UDP entry starts at 45 s, not 30.
    traffic::udp_noreply(&lab.client, SERVER4, BLACKHOLE_PORT);
    let out = lab.router.exec_ok(&[
        "/usr/sbin/conntrack",
        "-L",
        "-p",
        "udp",
        "--dport",
        &BLACKHOLE_PORT.to_string(),
    ]);
    let timeout: u32 = out.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!((31..=45).contains(&timeout), "timeout {timeout}: {out}");
    // `get` and the listing read the same value.
    let r = ctkit(&lab.router, &["sysctl", "get", "nf_conntrack_udp_timeout"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "nf_conntrack_udp_timeout = 45\n")
    );
    let r = ctkit(&lab.router, &["sysctl", "--changed", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "nf_conntrack_tcp_timeout_established",
            "nf_conntrack_udp_timeout"
        ]
    );
    assert_eq!(rows[1]["value"], 45);
    assert_eq!(rows[1]["default"], 30);
    assert_eq!(rows[1]["differs"], true);
    assert_eq!(rows[0]["floor"], 7440);
    assert_eq!(rows[0]["below_floor"], false);
}

#[test]
fn max_and_buckets_are_read_only_outside_the_initial_namespace() {
    let Some(ns) = conntrack_ns("max_and_buckets_are_read_only_outside_the_initial_namespace")
    else {
        return;
    };
    // nf_conntrack_max is read twice: no other test may change it in between.
    let _shared = GlobalLock::shared();
    let before = read(&ns, "nf_conntrack_max");
    for name in ["nf_conntrack_max", "nf_conntrack_buckets"] {
        let r = ctkit(
            &ns,
            &[
                "sysctl",
                "set",
                "nf_conntrack_udp_timeout=40",
                &format!("{name}=1024"),
            ],
        );
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("{name} is read-only in this network namespace"))
                && r.stderr.contains("only in the initial namespace"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(read(&ns, "nf_conntrack_max"), before);
    // Nothing was written: the valid assignment before the refused one too.
    assert_eq!(read(&ns, "nf_conntrack_udp_timeout"), "30");
}

#[test]
fn max_is_writable_in_the_initial_namespace() {
    if !require_kernel("max_is_writable_in_the_initial_namespace") {
        return;
    }
    const MAX: &str = "/proc/sys/net/netfilter/nf_conntrack_max";
    let _lock = GlobalLock::acquire();
    let old: u64 = std::fs::read_to_string(MAX)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _restore = support::RestoreValue::set(MAX, &old.to_string());
    let new = old + 512;
    let out = std::process::Command::new(ctkit_bin())
        .args(["sysctl", "set", &format!("nf_conntrack_max={new}")])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("nf_conntrack_max: {old} -> {new}\n")
    );
    assert_eq!(
        std::fs::read_to_string(MAX).unwrap().trim(),
        new.to_string()
    );
}

#[test]
fn bad_names_and_values_exit_2_and_write_nothing() {
    let Some(ns) = conntrack_ns("bad_names_and_values_exit_2_and_write_nothing") else {
        return;
    };
    for (args, msg) in [
        (
            &[
                "sysctl",
                "set",
                "nf_conntrack_udp_timeout=45",
                "nf_conntrack_bogus=1",
            ][..],
            "unknown conntrack sysctl `nf_conntrack_bogus'",
        ),
        (
            &[
                "sysctl",
                "set",
                "nf_conntrack_udp_timeout=45",
                "nf_conntrack_acct=2",
            ][..],
            "nf_conntrack_acct: 2 is out of range (0..1)",
        ),
        (
            &["sysctl", "set", "nf_conntrack_udp_timeout=forty"][..],
            "`forty' is not a whole number",
        ),
        (&["sysctl", "set", "nf_conntrack_count=1"][..], "read-only"),
        (&["sysctl", "set"][..], "needs NAME=VALUE"),
        (
            &["sysctl", "get", "nf_conntrack_bogus"][..],
            "unknown conntrack sysctl",
        ),
        (&["sysctl", "--bogus"][..], "unknown argument `--bogus'"),
        (
            &["sysctl", "size"][..],
            "exactly one of --max N and --memory BYTES",
        ),
        (&["sysctl", "size", "--max", "0"][..], "positive number"),
    ] {
        let r = ctkit(&ns, args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(msg), "{args:?}: {}", r.stderr);
    }
    assert_eq!(read(&ns, "nf_conntrack_udp_timeout"), "30");
    let r = ctkit(&ns, &["sysctl", "get", "nf_conntrack_helper"]);
    assert_eq!(r.code, 1, "removed in 6.0: absent");
    assert!(r.stderr.contains("not present"), "{}", r.stderr);
}

#[test]
fn a_value_the_kernel_refuses_puts_back_the_ones_written_before() {
    let Some(ns) = conntrack_ns("a_value_the_kernel_refuses_puts_back_the_ones_written_before")
    else {
        return;
    };
    // The kernel keeps frag6_high_thresh >= frag6_low_thresh (proc_doulongvec_minmax with
    // the low threshold as minimum): 1 is refused with EINVAL after udp_timeout was written.
    let high = read(&ns, "nf_conntrack_frag6_high_thresh");
    let r = ctkit(
        &ns,
        &[
            "sysctl",
            "set",
            "nf_conntrack_udp_timeout=45",
            "nf_conntrack_frag6_high_thresh=1",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the kernel refused nf_conntrack_frag6_high_thresh=1")
            && r.stderr
                .contains("the 1 value(s) written before were restored"),
        "{}",
        r.stderr
    );
    assert_eq!(read(&ns, "nf_conntrack_udp_timeout"), "30");
    assert_eq!(read(&ns, "nf_conntrack_frag6_high_thresh"), high);
}

#[test]
fn persist_keeps_one_line_per_name_in_sysctl_d() {
    let Some(ns) = conntrack_ns("persist_keeps_one_line_per_name_in_sysctl_d") else {
        return;
    };
    let _lock = GlobalLock::acquire();
    let _restore = RestoreFile::capture(CONF);
    let _ = std::fs::remove_file(CONF);
    let r = ctkit(
        &ns,
        &["sysctl", "set", "nf_conntrack_udp_timeout=45", "--persist"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("persisted in {CONF}")),
        "{}",
        r.stdout
    );
    let r = ctkit(
        &ns,
        &[
            "sysctl",
            "set",
            "--persist",
            "nf_conntrack_icmp_timeout=60",
            "nf_conntrack_udp_timeout=50",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(CONF).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [
            "net.netfilter.nf_conntrack_udp_timeout = 50",
            "net.netfilter.nf_conntrack_icmp_timeout = 60"
        ]
    );
    assert_eq!(read(&ns, "nf_conntrack_udp_timeout"), "50");
    // A refused set persists nothing.
    let r = ctkit(&ns, &["sysctl", "set", "--persist", "nf_conntrack_max=1"]);
    assert_eq!(r.code, 1);
    assert_eq!(std::fs::read_to_string(CONF).unwrap(), text);
}

#[test]
fn size_from_a_fixed_slabinfo_gives_exact_numbers() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let slab = dir.join(format!("slabinfo-{}", std::process::id()));
    std::fs::write(
        &slab,
        "slabinfo - version: 2.1\n\
         nf_conntrack         256    320    320   16    1 : tunables    0    0    0 : slabdata     20     20      0\n",
    )
    .unwrap();
    let bin = ctkit_bin();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&bin)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v
    };
    let s = slab.to_str().unwrap();
    let v = run(&[
        "sysctl",
        "size",
        "--max",
        "1000000",
        "--slabinfo",
        s,
        "--json",
    ]);
    assert_eq!(v["objsize"], 320);
    assert_eq!(v["max"], 1_000_000);
    assert_eq!(v["buckets"], 1_000_448);
    assert_eq!(v["memory_bytes"], 1_000_000u64 * 320 + 1_000_448 * 8);
    assert_eq!(
        v["commands"][0],
        "sysctl -w net.netfilter.nf_conntrack_buckets=1000448"
    );
    // 512 MiB / (512 × 328 B) = 3196 units of 512 entries.
    let v = run(&[
        "sysctl",
        "size",
        "--memory",
        "512M",
        "--slabinfo",
        s,
        "--json",
    ]);
    assert_eq!(
        (v["max"].as_u64(), v["buckets"].as_u64()),
        (Some(1_636_352), Some(1_636_352))
    );
    assert_eq!(v["memory_bytes"], 1_636_352u64 * 328);
    let v = run(&[
        "sysctl",
        "size",
        "--max",
        "1000",
        "--objsize",
        "256",
        "--json",
    ]);
    assert_eq!(
        (v["buckets"].as_u64(), v["memory_bytes"].as_u64()),
        (Some(1024), Some(1000 * 256 + 1024 * 8))
    );
    let out = std::process::Command::new(&bin)
        .args([
            "sysctl",
            "size",
            "--max",
            "1000",
            "--slabinfo",
            "/nonexistent/slabinfo",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --objsize BYTES"));
    let _ = std::fs::remove_file(&slab);
}
