//! Gates for tests that need the kernel: root, conntrack (loaded or loadable), `ip`, and for
//! differential tests the oracle binary. When a gate fails the test prints a visible
//! `SKIP <test>: <reason>` and returns early, unless `CTKIT_REQUIRE_KERNEL=1`, in which case
//! the test fails (CI sets it, so a machine without the kernel features cannot pass silently).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::subject::{oracle_bin, subject_is_oracle};

/// True when `CTKIT_REQUIRE_KERNEL=1`: kernel tests must run and may not skip.
pub fn kernel_required() -> bool {
    std::env::var("CTKIT_REQUIRE_KERNEL").is_ok_and(|v| v == "1")
}

/// Effective uid read from `/proc/self/status` (no `unsafe` needed).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn modprobe(modules: &[&str]) -> bool {
    Command::new("modprobe")
        .arg("-a")
        .args(modules)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn which(cmd: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(cmd).is_file())
}

/// Why kernel tests cannot run here, or `None` when they can. Computed once per process;
/// loads the conntrack modules as a side effect.
fn kernel_unavailable() -> Option<&'static str> {
    static REASON: OnceLock<Option<String>> = OnceLock::new();
    REASON
        .get_or_init(|| {
            if effective_uid() != Some(0) {
                return Some("not root".into());
            }
            if !which("ip") {
                return Some("`ip` (iproute2) not installed".into());
            }
            // Load what the tests use; only nf_conntrack itself is mandatory.
            let _ = modprobe(&[
                "nf_conntrack",
                "nf_conntrack_netlink",
                "nf_conntrack_ftp",
                "nf_nat",
            ]);
            if !Path::new("/proc/sys/net/netfilter/nf_conntrack_max").exists()
                && !Path::new("/sys/module/nf_conntrack").exists()
            {
                return Some("nf_conntrack not available (not loaded, modprobe failed)".into());
            }
            None
        })
        .as_deref()
}

fn skip_or_fail(name: &str, reason: &str) -> bool {
    if kernel_required() {
        panic!("{name}: CTKIT_REQUIRE_KERNEL=1 but cannot run: {reason}");
    }
    eprintln!("SKIP {name}: {reason}");
    false
}

/// True when the test may use the kernel (root, conntrack available, `ip` present).
/// Otherwise prints `SKIP <name>: <reason>` and returns false, or panics under
/// `CTKIT_REQUIRE_KERNEL=1`.
pub fn require_kernel(name: &str) -> bool {
    match kernel_unavailable() {
        None => true,
        Some(reason) => skip_or_fail(name, reason),
    }
}

/// [`require_kernel`] plus the oracle `/usr/sbin/conntrack` and, unless the oracle is the
/// subject, a real ctkit binary (cargo always builds it, so this only checks the oracle).
pub fn require_oracle(name: &str) -> bool {
    if !require_kernel(name) {
        return false;
    }
    if !oracle_bin().is_file() {
        return skip_or_fail(name, "oracle /usr/sbin/conntrack not installed");
    }
    let _ = subject_is_oracle();
    true
}

/// [`require_kernel`] plus the given commands on PATH (e.g. `nft`, `python3`, `ping`).
pub fn require_tools(name: &str, tools: &[&str]) -> bool {
    if !require_oracle(name) {
        return false;
    }
    for tool in tools {
        if !which(tool) {
            return skip_or_fail(name, &format!("`{tool}` not installed"));
        }
    }
    true
}
