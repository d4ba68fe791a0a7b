//! The userspace tracker's options, one parser for every command that runs it: `ctkit replay
//! CAPTURE` and each read-only view reading `--from CAPTURE` (list, summary, doctor, top,
//! watch, count, stats). `--set NAME=VALUE` takes any conntrack sysctl of
//! [`ctkit_model::sysctl`] (6.18's names, values checked as the kernel's proc handlers do),
//! `--sysctl-from-kernel` starts from this namespace's values, `--helper ftp=PORT` and
//! `--no-helpers` choose the helpers as `ct helper` rules would, `--seed N` fixes the hash seed
//! (the kernel's `nf_conntrack_hash_rnd`), which makes early-drop victims repeatable.
//!
//! [`crate::views::common::parse_view_args`] takes these flags for every view; a view whose
//! source is not a capture rejects them there (they would change nothing).

use ctkit_engine::{Config, Helper};

/// The flags of this module that take a value.
pub const VALUE_FLAGS: &[&str] = &["--set", "--helper", "--seed"];

/// The usage lines of these options, for the views' help texts.
pub const USAGE: &str = "\
  --set NAME=VALUE  any conntrack sysctl (nf_conntrack_max=65536, …), repeatable
  --sysctl-from-kernel  start from this namespace's values instead of 6.18's defaults
                 (checksums stay unverified unless --set nf_conntrack_checksum=1)
  --helper ftp=PORT  attach the FTP helper to TCP PORT too (as a `ct helper' rule; 21 by default)
  --no-helpers   no helper at all (then --helper adds back)
  --seed N       hash seed (makes early-drop victims repeatable)";

/// The help line of the read-only views for these options (a literal, for `concat!`).
macro_rules! capture_help {
    () => {
        "With --from CAPTURE (pcap, pcapng) the capture is replayed through the userspace tracker,
configured as for `ctkit replay': --set NAME=VALUE (any conntrack sysctl), --sysctl-from-kernel,
--helper ftp=PORT, --no-helpers, --seed N; with any other source these are usage errors.
"
    };
}
pub(crate) use capture_help;

/// The engine settings, in the order given (applied by [`EngineArgs::config`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineArgs {
    /// `--sysctl-from-kernel`: start from the running kernel's values.
    pub from_kernel: bool,
    /// `--set NAME=VALUE`, in order.
    pub sets: Vec<(String, String)>,
    /// `--no-helpers`.
    pub no_helpers: bool,
    /// `--helper ftp=PORT`.
    pub helpers: Vec<(Helper, u16)>,
    /// `--seed N`.
    pub seed: Option<u64>,
    /// The first of these flags given (for messages); `None`: none was.
    pub first: Option<&'static str>,
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag}: `{v}' is not a valid number"))
}

impl EngineArgs {
    /// Whether no engine option was given.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Takes `flag` when it is one of these options (`value` yields its value); returns
    /// whether it was.
    pub fn take(
        &mut self,
        flag: &str,
        value: impl FnOnce() -> Result<String, String>,
    ) -> Result<bool, String> {
        let name: &'static str = match flag {
            "--sysctl-from-kernel" => {
                self.from_kernel = true;
                "--sysctl-from-kernel"
            }
            "--no-helpers" => {
                self.no_helpers = true;
                "--no-helpers"
            }
            "--set" => {
                let v = value()?;
                let (n, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--set: `{v}' is not NAME=VALUE"))?;
                self.sets.push((n.to_string(), val.to_string()));
                "--set"
            }
            "--helper" => {
                let v = value()?;
                let (n, port) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--helper: `{v}' is not HELPER=PORT (ftp=21)"))?;
                let helper = match n {
                    "ftp" => Helper::Ftp,
                    other => {
                        return Err(format!("--helper: unknown helper `{other}' (known: ftp)"))
                    }
                };
                let port: u16 = number("--helper", port)?;
                if port == 0 {
                    return Err("--helper: port 0 carries no connection".into());
                }
                self.helpers.push((helper, port));
                "--helper"
            }
            "--seed" => {
                self.seed = Some(number("--seed", &value()?)?);
                "--seed"
            }
            _ => return Ok(false),
        };
        self.first.get_or_insert(name);
        Ok(true)
    }

    /// Checks every `--set` name and value, so a bad one is a usage error found before any
    /// input is read; the check does not depend on the starting point (defaults or
    /// `--sysctl-from-kernel`).
    pub fn validate(&self) -> Result<(), String> {
        let mut probe = Config::kernel_defaults();
        for (name, value) in &self.sets {
            probe
                .set(name, value)
                .map_err(|e| format!("--set {name}={value}: {e}"))?;
        }
        Ok(())
    }

    /// The engine configuration: defaults (or the kernel's), then `--no-helpers`, the helpers
    /// and every `--set`.
    ///
    /// `--sysctl-from-kernel` takes every value but `nf_conntrack_checksum`, which stays at
    /// the engine's 0: the kernel verifies checksums only of packets it receives (and a NIC
    /// has usually verified them already), while a capture also holds the sent packets with
    /// their offloaded, unfilled checksums, which the engine would all call INVALID where the
    /// capture does not say which were sent (Ethernet pcap; Linux cooked captures and
    /// pcapng's `epb_flags` do say, and the replay then skips their verification). `--set
    /// nf_conntrack_checksum=1` still turns verification on.
    pub fn config(&self) -> Result<Config, String> {
        let mut cfg = if self.from_kernel {
            let mut c =
                Config::from_running_kernel().map_err(|e| format!("--sysctl-from-kernel: {e}"))?;
            let checksum = Config::kernel_defaults().get("nf_conntrack_checksum");
            c.set("nf_conntrack_checksum", &checksum.unwrap_or(0).to_string())
                .map_err(|e| format!("--sysctl-from-kernel: {e}"))?;
            c
        } else {
            Config::kernel_defaults()
        };
        if self.no_helpers {
            cfg.clear_helpers();
        }
        for (h, port) in &self.helpers {
            cfg.set_helper(*h, *port);
        }
        for (name, value) in &self.sets {
            cfg.set(name, value)
                .map_err(|e| format!("--set {name}={value}: {e}"))?;
        }
        Ok(cfg)
    }

    /// `--seed`, or a random seed.
    pub fn seed_or_random(&self) -> u64 {
        self.seed.unwrap_or_else(random_seed)
    }
}

/// A hash seed nobody can predict (the table is then hash-flooding resistant), as the kernel
/// draws `nf_conntrack_hash_rnd`.
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<EngineArgs, String> {
        let mut e = EngineArgs::default();
        let mut it = words.iter();
        while let Some(w) = it.next() {
            let took = e.take(w, || {
                it.next()
                    .map(|s| s.to_string())
                    .ok_or_else(|| "needs a value".to_string())
            })?;
            assert!(took, "{w}");
        }
        e.validate()?;
        Ok(e)
    }

    #[test]
    fn options_are_kept_in_order_and_the_first_is_named() {
        let e = parse(&[
            "--seed",
            "9",
            "--set",
            "nf_conntrack_max=10",
            "--helper",
            "ftp=2121",
            "--no-helpers",
        ])
        .unwrap();
        assert_eq!(e.first, Some("--seed"));
        assert_eq!(e.seed, Some(9));
        assert_eq!(e.sets, [("nf_conntrack_max".into(), "10".into())]);
        assert_eq!(e.helpers, [(Helper::Ftp, 2121)]);
        assert!(e.no_helpers && !e.is_empty());
        assert_eq!(e.config().unwrap().get("nf_conntrack_max"), Some(10));
        assert!(EngineArgs::default().is_empty());
        assert!(!EngineArgs::default()
            .take("--zone", || Ok("1".into()))
            .unwrap());
    }

    proptest::proptest! {
        #[test]
        fn any_value_is_taken_or_refused_never_a_panic(
            flag in proptest::sample::select(vec!["--set", "--helper", "--seed", "--no-helpers"]),
            v in "\\PC{0,40}",
        ) {
            let mut e = EngineArgs::default();
            if e.take(flag, || Ok(v.clone())).is_ok() {
                proptest::prop_assert_eq!(e.first, Some(flag));
                let _ = e.validate().and_then(|()| e.config().map(|_| ()));
            }
        }
    }

    #[test]
    fn bad_values_name_the_flag() {
        assert_eq!(
            parse(&["--set", "bogus=1"]).unwrap_err(),
            "--set bogus=1: unknown sysctl `bogus'"
        );
        assert_eq!(
            parse(&["--seed", "x"]).unwrap_err(),
            "--seed: `x' is not a valid number"
        );
        assert_eq!(
            parse(&["--helper", "ftp"]).unwrap_err(),
            "--helper: `ftp' is not HELPER=PORT (ftp=21)"
        );
    }
}
