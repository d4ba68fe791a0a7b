//! `ctkit sysctl set --persist`: keeps conntrack sysctls in one sysctl.d(5) file,
//! `/etc/sysctl.d/90-ctkit-conntrack.conf`, one `net.netfilter.NAME = VALUE` line per name.
//!
//! Updating is idempotent: the line for a name is replaced where it is (later duplicates
//! dropped), new names are appended, comments and other lines stay. sysctl.d syntax: `key =
//! value`, the key in dotted or slashed form, an optional leading `-` (ignore errors).
//! The file is written to a temporary name in the same directory and renamed over.

use std::io;
use std::path::Path;

/// The file `--persist` maintains (late in the 90s so it overrides distribution defaults).
pub const CONF_PATH: &str = "/etc/sysctl.d/90-ctkit-conntrack.conf";

const HEADER: &str = "# conntrack sysctls set with `ctkit sysctl set --persist`; ctkit replaces\n\
                      # the line of a name in place. Applied at boot by systemd-sysctl.\n";

/// The sysctl name a sysctl.d line sets (`nf_conntrack_max` for
/// `net.netfilter.nf_conntrack_max = 1`), if it sets a net.netfilter one.
fn line_name(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if t.starts_with('#') || t.starts_with(';') {
        return None;
    }
    let (key, _) = t.split_once('=')?;
    let key = key.trim().trim_start_matches('-');
    key.strip_prefix("net.netfilter.")
        .or_else(|| key.strip_prefix("net/netfilter/"))
}

/// `text` with a line `net.netfilter.NAME = VALUE` for every pair: replacing the first line
/// that sets NAME, dropping later ones, appending the rest.
pub fn update_conf(text: &str, pairs: &[(&str, u64)]) -> String {
    let mut out = String::new();
    if text.is_empty() {
        out += HEADER;
    }
    let mut written = vec![false; pairs.len()];
    for line in text.lines() {
        match line_name(line).and_then(|n| pairs.iter().position(|(p, _)| *p == n)) {
            Some(i) if written[i] => {}
            Some(i) => {
                out += &format!("net.netfilter.{} = {}\n", pairs[i].0, pairs[i].1);
                written[i] = true;
            }
            None => {
                out += line;
                out.push('\n');
            }
        }
    }
    for (i, (n, v)) in pairs.iter().enumerate() {
        if !written[i] {
            out += &format!("net.netfilter.{n} = {v}\n");
        }
    }
    out
}

/// Updates the file at `path` (created, with its directory, when missing).
pub fn update_file(path: &Path, pairs: &[(&str, u64)]) -> io::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("ctkit-tmp-{}", std::process::id()));
    std::fs::write(&tmp, update_conf(&old, pairs))?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_gets_a_header_and_one_line_per_name() {
        let t = update_conf(
            "",
            &[("nf_conntrack_udp_timeout", 60), ("nf_conntrack_max", 1024)],
        );
        assert_eq!(
            t,
            format!(
                "{HEADER}net.netfilter.nf_conntrack_udp_timeout = 60\n\
                 net.netfilter.nf_conntrack_max = 1024\n"
            )
        );
    }

    #[test]
    fn updating_replaces_in_place_drops_duplicates_and_is_idempotent() {
        let old = "# mine\n\
                   net/netfilter/nf_conntrack_udp_timeout=10\n\
                   net.ipv4.ip_forward = 1\n\
                   -net.netfilter.nf_conntrack_udp_timeout = 20\n\
                   net.netfilter.nf_conntrack_acct = 1\n";
        let pairs = [("nf_conntrack_udp_timeout", 60), ("nf_conntrack_max", 1024)];
        let new = update_conf(old, &pairs);
        assert_eq!(
            new,
            "# mine\n\
             net.netfilter.nf_conntrack_udp_timeout = 60\n\
             net.ipv4.ip_forward = 1\n\
             net.netfilter.nf_conntrack_acct = 1\n\
             net.netfilter.nf_conntrack_max = 1024\n"
        );
        assert_eq!(update_conf(&new, &pairs), new);
        assert_eq!(
            update_conf(&new, &[("nf_conntrack_max", 2048)]),
            new.replace("nf_conntrack_max = 1024", "nf_conntrack_max = 2048")
        );
    }

    #[test]
    fn comments_naming_a_sysctl_are_kept() {
        let old = "# net.netfilter.nf_conntrack_max = 5\n";
        assert_eq!(
            update_conf(old, &[("nf_conntrack_max", 7)]),
            "# net.netfilter.nf_conntrack_max = 5\nnet.netfilter.nf_conntrack_max = 7\n"
        );
    }

    proptest::proptest! {
        #[test]
        fn updating_any_text_sets_each_name_once_and_is_idempotent(
            text in "(([#;-]?(net[./]netfilter[./])?nf_conntrack_(max|udp_timeout|acct) ?= ?[0-9a-z]{0,4})|[ -~]{0,30})(\n(([#;-]?(net[./]netfilter[./])?nf_conntrack_(max|udp_timeout|acct) ?= ?[0-9]{0,4})|[ -~]{0,30})){0,8}",
            v in 0u64..100000,
        ) {
            let pairs = [("nf_conntrack_udp_timeout", v), ("nf_conntrack_max", 7)];
            let once = update_conf(&text, &pairs);
            proptest::prop_assert_eq!(update_conf(&once, &pairs), once.clone());
            for (n, v) in pairs {
                let set: Vec<&str> = once.lines().filter(|l| line_name(l) == Some(n)).collect();
                proptest::prop_assert_eq!(set, vec![format!("net.netfilter.{n} = {v}")]);
            }
        }
    }
}
