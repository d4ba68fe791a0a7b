//! The tracker's configuration, by the kernel's sysctl names
//! ([`ctkit_model::sysctl::SYSCTLS`]), plus which helpers are attached to which ports.

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

/// Engine configuration: every modelled sysctl plus the helper assignments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    // Filled in by the engine's implementation.
}

impl Config {
    /// Kernel 6.18's defaults; `nf_conntrack_max` 262144 (what a 24 GiB machine computes),
    /// ftp on TCP port 21.
    pub fn kernel_defaults() -> Config {
        todo!("engine")
    }

    /// Sets a sysctl by name (`nf_conntrack_…` or `net.netfilter.nf_conntrack_…`).
    pub fn set(&mut self, _name: &str, _value: &str) -> Result<(), ConfigError> {
        todo!("engine")
    }

    /// A sysctl's value by name.
    pub fn get(&self, _name: &str) -> Option<u64> {
        todo!("engine")
    }

    /// The running kernel's values (`/proc/sys/net/netfilter`), over the defaults.
    pub fn from_running_kernel() -> Result<Config, ConfigError> {
        todo!("engine")
    }

    /// Attaches `helper` to TCP connections to `port` (as an admin's `ct helper` rule would).
    pub fn set_helper(&mut self, _helper: Helper, _port: u16) {
        todo!("engine")
    }

    /// No helpers at all.
    pub fn clear_helpers(&mut self) {
        todo!("engine")
    }
}
