//! `ctkit summary` over the other sources: a saved `conntrack -L` file, a saved
//! /proc/net/nf_conntrack, standard input and `--from proc` give the same groups as the
//! kernel for the same table; the sed recipe run on the saved /proc file counts the reply
//! sources `--by reply-src` counts.

mod support;

use std::collections::BTreeMap;
use support::lab::{DNAT_PORT, DNAT_TO_PORT, DNAT_VIP, SERVER4, SNAT_PORT};
use support::traffic;
use support::{ctkit_bin, oracle_bin, Lab, LabOptions, Netns};

/// `summary --json` groups (the whole line) and the total without its `source` member.
fn run(ns: &Netns, args: &[&str], stdin: Option<&[u8]>) -> (Vec<String>, serde_json::Value) {
    let bin = ctkit_bin();
    let mut argv = vec![bin.to_str().unwrap(), "summary", "--all", "--json"];
    argv.extend_from_slice(args);
    let out = match stdin {
        Some(s) => ns.exec_stdin(&argv, s),
        None => ns.exec(&argv),
    };
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut groups = Vec::new();
    let mut total = serde_json::Value::Null;
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["type"] == "total" {
            v.as_object_mut().unwrap().remove("source");
            total = v;
        } else {
            groups.push(l.to_string());
        }
    }
    (groups, total)
}

#[test]
fn summary_of_saved_files_stdin_and_proc_equals_summary_of_the_kernel() {
    if !support::kernel::require_tools(
        "summary_of_saved_files_stdin_and_proc_equals_summary_of_the_kernel",
        &["nft", "python3", "ping"],
    ) {
        return;
    }
    let lab = Lab::new(LabOptions {
        nat: true,
        ..LabOptions::default()
    });
    lab.router.sh_ok(
        "sysctl -qw net.netfilter.nf_conntrack_udp_timeout=900 \
         net.netfilter.nf_conntrack_icmp_timeout=900 \
         net.netfilter.nf_conntrack_icmpv6_timeout=900 \
         net.netfilter.nf_conntrack_tcp_timeout_time_wait=900",
    );
    traffic::mixed(&lab);
    traffic::tcp_server(&lab.server, SERVER4, SNAT_PORT);
    traffic::tcp_server(&lab.server, SERVER4, DNAT_TO_PORT);
    traffic::tcp_hold(&lab.client, SERVER4, SNAT_PORT, 10);
    traffic::tcp_hold(&lab.client, DNAT_VIP, DNAT_PORT, 10);
    lab.settle();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let saved_l = dir.join(format!("summary-L-{}.txt", std::process::id()));
    let saved_proc = dir.join(format!("summary-proc-{}.txt", std::process::id()));
    let listing = lab.router.exec_ok(&[oracle_bin().to_str().unwrap(), "-L"]);
    std::fs::write(&saved_l, &listing).unwrap();
    let proc_text = lab.router.exec_ok(&["cat", "/proc/net/nf_conntrack"]);
    std::fs::write(&saved_proc, &proc_text).unwrap();
    for keys in [
        "src",
        "src,dport,state",
        "nat",
        "reply-src",
        "proto,zone,mark",
    ] {
        let kernel = run(&lab.router, &["--by", keys], None);
        assert!(!kernel.0.is_empty());
        let l = saved_l.to_str().unwrap();
        let p = saved_proc.to_str().unwrap();
        assert_eq!(
            run(&lab.router, &["--by", keys, "--from", l], None),
            kernel,
            "{keys} -L file"
        );
        assert_eq!(
            run(&lab.router, &["--by", keys, "--from", p], None),
            kernel,
            "{keys} proc file"
        );
        assert_eq!(
            run(
                &lab.router,
                &["--by", keys, "--from", "-"],
                Some(listing.as_bytes())
            ),
            kernel,
            "{keys} stdin"
        );
        assert_eq!(
            run(&lab.router, &["--by", keys, "--from", "proc"], None),
            kernel,
            "{keys} proc"
        );
    }
    // With a filter, on a file.
    let l = saved_l.to_str().unwrap();
    assert_eq!(
        run(
            &lab.router,
            &["--by", "src", "--proto", "udp", "--from", l],
            None
        ),
        run(&lab.router, &["--by", "src", "--proto", "udp"], None)
    );
    // The recipe on the saved /proc file is `--by reply-src` on it (/proc spells IPv6
    // addresses in full: compare them as addresses).
    let recipe = lab.router.sh_ok(&format!(
        r"sed -ne 's/^.*src=\([^ ]*\).*/\1/p' {} | sort | uniq -c",
        saved_proc.display()
    ));
    let recipe: BTreeMap<String, u64> = recipe
        .lines()
        .map(|l| {
            let (n, ip) = l.trim().split_once(' ').unwrap();
            let ip: std::net::IpAddr = ip.trim().parse().unwrap();
            (ip.to_string(), n.parse().unwrap())
        })
        .collect();
    let (groups, _) = run(
        &lab.router,
        &["--by", "reply-src", "--from", saved_proc.to_str().unwrap()],
        None,
    );
    let ours: BTreeMap<String, u64> = groups
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["key"]["reply_src"].as_str().unwrap().to_string(),
                v["entries"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ours, recipe);
    let _ = std::fs::remove_file(&saved_l);
    let _ = std::fs::remove_file(&saved_proc);
}

#[test]
fn a_malformed_file_is_exit_1_and_lenient_counts_the_skipped_lines() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let f = dir.join(format!("summary-bad-{}.txt", std::process::id()));
    std::fs::write(
        &f,
        "tcp      6 431999 ESTABLISHED src=192.0.2.2 dst=198.51.100.2 sport=40000 dport=80 src=198.51.100.2 dst=192.0.2.2 sport=80 dport=40000 [ASSURED] mark=0 use=1\n\
         this is not a conntrack line\n\
         udp      17 29 src=192.0.2.3 dst=198.51.100.2 sport=40001 dport=53 [UNREPLIED] src=198.51.100.2 dst=192.0.2.3 sport=53 dport=40001 mark=0 use=1\n",
    )
    .unwrap();
    let bin = ctkit_bin();
    let p = f.to_str().unwrap();
    let out = std::process::Command::new(&bin)
        .args(["summary", "--from", p])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(":2:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(&bin)
        .args(["summary", "--from", p, "--lenient", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["entries"], 2);
    assert_eq!(last["unreplied"], 1);
    assert_eq!(last["assured"], 1);
    assert_eq!(last["skipped"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 1 malformed line"));
    let _ = std::fs::remove_file(&f);
}
