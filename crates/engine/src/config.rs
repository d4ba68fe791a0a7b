//! The tracker's configuration, by the kernel's sysctl names
//! ([`ctkit_model::sysctl::SYSCTLS`]), plus which helpers are attached to which ports.
//!
//! Values are kept in one array parallel to `SYSCTLS`, so every name the model knows is
//! settable and readable here with the same meaning. Sizes the kernel computes at boot get the
//! values a 6.18 kernel computes on a machine with more than 4 GiB of RAM
//! (`nf_conntrack_buckets` = `nf_conntrack_max` = 262144, `nf_conntrack_expect_max` = 4096).

use ctkit_model::sysctl::{self, Default as SysDefault, Unit, SYSCTLS};

/// Why a setting was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// Not a conntrack sysctl the engine models.
    #[error("unknown sysctl `{0}'")]
    UnknownName(String),
    /// The value does not parse or is out of range.
    #[error("bad value `{value}' for {name}: {why}")]
    BadValue {
        /// The sysctl.
        name: String,
        /// The value given.
        value: String,
        /// Why.
        why: String,
    },
    /// Reading the running kernel's values failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// A connection-tracking helper the engine implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Helper {
    /// `nf_conntrack_ftp`: PORT, EPRT, 227 and 229 create expectations.
    Ftp,
}

impl Helper {
    /// The kernel's helper name (`helper=` in conntrack's output).
    pub fn name(self) -> &'static str {
        match self {
            Helper::Ftp => "ftp",
        }
    }
}

/// Engine configuration: every modelled sysctl plus the helper assignments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// One value per entry of `SYSCTLS` (same index).
    values: Vec<u64>,
    /// (helper, TCP destination port of the original direction).
    helpers: Vec<(Helper, u16)>,
}

/// What a 6.18 kernel computes for `nf_conntrack_buckets` (and so `nf_conntrack_max`) with
/// more than 4 GiB of RAM.
pub const DEFAULT_BUCKETS: u64 = 262144;
/// `nf_conntrack_buckets` is a multiple of this: `PAGE_SIZE / sizeof(struct hlist_nulls_head)`
/// with 4 KiB pages (`nf_ct_alloc_hashtable`), so no table is smaller.
pub const BUCKET_UNIT: u64 = 512;
/// `nf_conntrack_expect_max` the same kernel reports.
pub const DEFAULT_EXPECT_MAX: u64 = 4096;

fn computed_default(name: &str) -> u64 {
    match name {
        "nf_conntrack_max" | "nf_conntrack_buckets" => DEFAULT_BUCKETS,
        "nf_conntrack_expect_max" => DEFAULT_EXPECT_MAX,
        _ => 0,
    }
}

fn index_of(name: &str) -> Option<usize> {
    let s = sysctl::find(name)?;
    SYSCTLS.iter().position(|x| x.name == s.name)
}

impl Config {
    /// Kernel 6.18's defaults; `nf_conntrack_max` 262144 (what a 24 GiB machine computes),
    /// ftp on TCP port 21. One deliberate difference: `nf_conntrack_checksum` is 0 (the kernel
    /// says 1), because captured packets usually carry offloaded, unfilled checksums.
    pub fn kernel_defaults() -> Config {
        let values = SYSCTLS
            .iter()
            .map(|s| match s.default {
                SysDefault::Fixed(v) => v,
                SysDefault::Computed => computed_default(s.name),
                SysDefault::ReadOnly => 0,
            })
            .collect();
        let mut c = Config {
            values,
            helpers: vec![(Helper::Ftp, 21)],
        };
        // Captures carry checksums offloaded to the NIC (zero or garbage on the sending
        // host): verifying them would make every such packet INVALID, so the engine's default
        // is off. Set it to 1 (or use `from_running_kernel`) to verify as the kernel does.
        c.set("nf_conntrack_checksum", "0").expect("known sysctl");
        c
    }

    /// Sets a sysctl by name (`nf_conntrack_…` or `net.netfilter.nf_conntrack_…`).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let i = index_of(name).ok_or_else(|| ConfigError::UnknownName(name.to_string()))?;
        let s = &SYSCTLS[i];
        let bad = |why: &str| ConfigError::BadValue {
            name: s.name.to_string(),
            value: value.to_string(),
            why: why.to_string(),
        };
        if s.default == SysDefault::ReadOnly {
            return Err(bad("read-only"));
        }
        let v: u64 = value
            .trim()
            .parse()
            .map_err(|_| bad("not a non-negative integer"))?;
        match s.unit {
            Unit::Bool if v > 1 => return Err(bad("must be 0 or 1")),
            // The kernel keeps these in an int (timeouts as jiffies of an unsigned int).
            _ if v > i32::MAX as u64 => return Err(bad("too large")),
            _ => {}
        }
        let v = if s.name == "nf_conntrack_buckets" {
            if v == 0 {
                return Err(bad("must be at least 1"));
            }
            // `nf_ct_alloc_hashtable` rounds the table up to whole pages of bucket heads:
            // writing 1 gives 512, 600 gives 1024.
            v.div_ceil(BUCKET_UNIT) * BUCKET_UNIT
        } else {
            v
        };
        self.values[i] = v;
        Ok(())
    }

    /// A sysctl's value by name.
    pub fn get(&self, name: &str) -> Option<u64> {
        let i = index_of(name)?;
        if SYSCTLS[i].default == SysDefault::ReadOnly {
            return None;
        }
        Some(self.values[i])
    }

    /// A modelled value by its short name (internal: names are checked by the tests below).
    pub(crate) fn val(&self, name: &str) -> u64 {
        self.get(name).unwrap_or(0)
    }

    /// The running kernel's values (`/proc/sys/net/netfilter`), over the defaults.
    pub fn from_running_kernel() -> Result<Config, ConfigError> {
        Self::from_dir(std::path::Path::new(sysctl::PROC_DIR))
    }

    /// Values read from a directory laid out like `/proc/sys/net/netfilter` (missing files
    /// keep their defaults).
    pub fn from_dir(dir: &std::path::Path) -> Result<Config, ConfigError> {
        let mut c = Config::kernel_defaults();
        for s in SYSCTLS {
            if s.default == SysDefault::ReadOnly {
                continue;
            }
            let path = dir.join(s.name);
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(ConfigError::Io {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })
                }
            };
            c.set(s.name, text.trim()).map_err(|e| ConfigError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        }
        Ok(c)
    }

    /// Attaches `helper` to TCP connections to `port` (as an admin's `ct helper` rule would).
    pub fn set_helper(&mut self, helper: Helper, port: u16) {
        if !self.helpers.contains(&(helper, port)) {
            self.helpers.push((helper, port));
        }
    }

    /// No helpers at all.
    pub fn clear_helpers(&mut self) {
        self.helpers.clear();
    }

    /// The helper attached to TCP connections to `port`, if any.
    pub fn helper_for(&self, proto: u8, port: u16) -> Option<Helper> {
        if proto != ctkit_model::proto::IPPROTO_TCP {
            return None;
        }
        self.helpers
            .iter()
            .find(|(_, p)| *p == port)
            .map(|(h, _)| *h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kernel_6_18s() {
        let c = Config::kernel_defaults();
        assert_eq!(c.get("nf_conntrack_tcp_timeout_established"), Some(432000));
        assert_eq!(c.get("net.netfilter.nf_conntrack_udp_timeout"), Some(30));
        assert_eq!(c.get("nf_conntrack_udp_timeout_stream"), Some(120));
        assert_eq!(c.get("nf_conntrack_max"), Some(262144));
        assert_eq!(c.get("nf_conntrack_buckets"), Some(262144));
        assert_eq!(c.get("nf_conntrack_expect_max"), Some(4096));
        assert_eq!(c.get("nf_conntrack_tcp_loose"), Some(1));
        assert_eq!(c.get("nf_conntrack_count"), None);
        assert_eq!(c.get("nf_conntrack_bogus"), None);
        assert_eq!(c.helper_for(6, 21), Some(Helper::Ftp));
        assert_eq!(c.helper_for(17, 21), None);
    }

    #[test]
    fn set_checks_names_and_values() {
        let mut c = Config::kernel_defaults();
        c.set("net.netfilter.nf_conntrack_tcp_timeout_established", "3600")
            .unwrap();
        assert_eq!(c.get("nf_conntrack_tcp_timeout_established"), Some(3600));
        assert_eq!(
            c.set("nf_conntrack_nope", "1"),
            Err(ConfigError::UnknownName("nf_conntrack_nope".into()))
        );
        assert!(matches!(
            c.set("nf_conntrack_tcp_loose", "2"),
            Err(ConfigError::BadValue { .. })
        ));
        assert!(matches!(
            c.set("nf_conntrack_max", "-1"),
            Err(ConfigError::BadValue { .. })
        ));
        assert!(matches!(
            c.set("nf_conntrack_count", "1"),
            Err(ConfigError::BadValue { .. })
        ));
    }

    /// As the kernel's sysctl write (checked on 6.18: 1 reads back 512, 600 reads back 1024).
    #[test]
    fn buckets_are_rounded_up_to_whole_pages_of_bucket_heads() {
        let mut c = Config::kernel_defaults();
        for (set, got) in [("1", 512), ("512", 512), ("600", 1024), ("262144", 262144)] {
            c.set("nf_conntrack_buckets", set).unwrap();
            assert_eq!(c.get("nf_conntrack_buckets"), Some(got), "{set}");
        }
        assert!(matches!(
            c.set("nf_conntrack_buckets", "0"),
            Err(ConfigError::BadValue { .. })
        ));
    }

    #[test]
    fn helpers_set_and_clear() {
        let mut c = Config::kernel_defaults();
        c.set_helper(Helper::Ftp, 2121);
        assert_eq!(c.helper_for(6, 2121), Some(Helper::Ftp));
        c.clear_helpers();
        assert_eq!(c.helper_for(6, 21), None);
    }

    #[test]
    fn from_dir_reads_files_over_defaults() {
        let dir = std::env::temp_dir().join(format!("ctkit-engine-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("nf_conntrack_udp_timeout"), "60\n").unwrap();
        let c = Config::from_dir(&dir).unwrap();
        assert_eq!(c.get("nf_conntrack_udp_timeout"), Some(60));
        assert_eq!(c.get("nf_conntrack_udp_timeout_stream"), Some(120));
        std::fs::write(dir.join("nf_conntrack_tcp_loose"), "x\n").unwrap();
        assert!(matches!(
            Config::from_dir(&dir),
            Err(ConfigError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
