//! `ctkit replay --sysctl-from-kernel` inside a namespace whose conntrack sysctls were
//! changed: the replay takes the namespace's timeouts, but not its `nf_conntrack_checksum=1`
//! (a capture holds sent packets with offloaded, unfilled checksums; the kernel verifies
//! only what it receives), unless `--set nf_conntrack_checksum=1` asks for it.

mod support;

use ctkit_capture::write;
use ctkit_engine::build;
use support::Netns;

const T0: u64 = 1_796_640_803_000_000_000;

/// A UDP query whose checksum is garbage (as tcpdump sees a sent, offloaded packet) and its
/// answer with a good checksum, 1 s apart.
fn udp_exchange() -> Vec<u8> {
    let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
    let mut q = build::udp(a, b, 40000, 53, b"query");
    q[26..28].copy_from_slice(&[0x12, 0x34]);
    let r = build::udp(b, a, 53, 40000, b"answer");
    let mut f = Vec::new();
    write::pcap_header(&mut f, 101, false, true, 65535);
    write::pcap_record(&mut f, T0, &q, false, true);
    write::pcap_record(&mut f, T0 + 1_000_000_000, &r, false, true);
    f
}

#[test]
fn sysctl_from_kernel_takes_the_namespaces_timeouts_but_not_its_checksum_switch() {
    if !support::require_kernel("sysctl_from_kernel_takes_the_namespaces_timeouts") {
        return;
    }
    let ns = Netns::new();
    ns.exec_ok(&[
        "sysctl",
        "-qw",
        "net.netfilter.nf_conntrack_udp_timeout=11",
        "net.netfilter.nf_conntrack_checksum=1",
    ]);
    let p = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("replay-sysctl-{}.pcap", std::process::id()));
    std::fs::write(&p, udp_exchange()).unwrap();
    let ctkit = env!("CARGO_BIN_EXE_ctkit");
    let path = p.to_str().unwrap();
    let fwd = "src=192.0.2.1 dst=192.0.2.2 sport=40000 dport=53";
    let rev = "src=192.0.2.2 dst=192.0.2.1 sport=53 dport=40000";
    // The namespace's udp timeout, counted from the answer (the last packet).
    assert_eq!(
        ns.exec_ok(&[ctkit, "replay", path, "--sysctl-from-kernel"]),
        format!("udp      17 11 {fwd} {rev} mark=0 use=1\n")
    );
    // Without the flag: 6.18's 30 s.
    assert_eq!(
        ns.exec_ok(&[ctkit, "replay", path]),
        format!("udp      17 30 {fwd} {rev} mark=0 use=1\n")
    );
    // Verification asked for: the query is INVALID, the answer opens its own entry.
    assert_eq!(
        ns.exec_ok(&[
            ctkit,
            "replay",
            path,
            "--sysctl-from-kernel",
            "--set",
            "nf_conntrack_checksum=1",
        ]),
        format!("udp      17 11 {rev} [UNREPLIED] {fwd} mark=0 use=1\n")
    );
    let _ = std::fs::remove_file(&p);
}
