//! `Config::from_running_kernel` reads this namespace's /proc/sys/net/netfilter (read only).

use ctkit_engine::Config;

#[test]
fn test_from_running_kernel_reads_every_present_sysctl() {
    let dir = std::path::Path::new("/proc/sys/net/netfilter");
    if !dir.join("nf_conntrack_max").exists() {
        assert!(
            std::env::var("CTKIT_REQUIRE_KERNEL").as_deref() != Ok("1"),
            "conntrack sysctls missing (CTKIT_REQUIRE_KERNEL=1)"
        );
        eprintln!("SKIP test_from_running_kernel_reads_every_present_sysctl: no conntrack sysctls");
        return;
    }
    let c = Config::from_running_kernel().expect("readable");
    for s in ctkit_model::sysctl::SYSCTLS {
        let Ok(text) = std::fs::read_to_string(dir.join(s.name)) else {
            continue;
        };
        if s.name == "nf_conntrack_count" {
            assert_eq!(c.get(s.name), None);
            continue;
        }
        // Global sizes other tests may change (under the project lock) while this runs.
        if matches!(
            s.name,
            "nf_conntrack_max" | "nf_conntrack_buckets" | "nf_conntrack_expect_max"
        ) {
            assert!(c.get(s.name).is_some(), "{}", s.name);
            continue;
        }
        assert_eq!(
            c.get(s.name),
            Some(text.trim().parse::<u64>().unwrap()),
            "{}",
            s.name
        );
    }
}
