//! `ctkit sysctl size --max N | --memory BYTES`: how much memory a conntrack table of N
//! entries takes, or how many entries a memory budget holds, and the sysctls that apply it.
//!
//! Formula (kernel 6.18, net/netfilter/nf_conntrack_core.c):
//!
//! ```text
//! memory  = max × objsize + buckets × 8
//! buckets = roundup(max, PAGE_SIZE / 8)          (512 with 4 KiB pages)
//! ```
//!
//! - `objsize` is the size of one object of the `nf_conntrack` slab cache (`struct nf_conn`
//!   as allocated: 256 B on this 6.18 build, 304–320 B on older kernels), read live from the
//!   `objsize` column of `/proc/slabinfo` (root only; `--slabinfo FILE` reads a saved copy,
//!   `--objsize B` gives it directly). Extensions (NAT, accounting, timestamps, labels,
//!   helpers) are allocated separately per entry and come on top when enabled.
//! - Each bucket is a `struct hlist_nulls_head`, one pointer (8 B). `nf_ct_alloc_hashtable`
//!   rounds the bucket count up to whole pages (`roundup(size, PAGE_SIZE / sizeof(struct
//!   hlist_nulls_head))`); writing `nf_conntrack_buckets` resizes the table the same way.
//! - At boot, 6.18 sizes buckets from memory (262144 on 64-bit machines with more than 4 GiB)
//!   and sets `nf_conntrack_max` = buckets (factor 1: every entry is hashed twice, once per
//!   direction, so chains average 2 entries at a full table). Only when the module parameter
//!   `hashsize` is given is the old factor 8 used. We keep max = buckets: `--max N` gives
//!   buckets = N rounded up to the page multiple; `--memory` picks the largest multiple of
//!   that rounding unit that fits, so max and buckets are equal.
//! - Both sysctls are writable only in the initial network namespace; set buckets first.

use super::{emit, read_value, Failure};
use serde::Serialize;
use std::path::Path;

/// `sizeof(struct hlist_nulls_head)` on 64-bit kernels.
pub const BUCKET_SIZE: u64 = 8;

/// The sizing result.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Size {
    /// `nf_conntrack_max`.
    pub max: u64,
    /// `nf_conntrack_buckets` (after the kernel's rounding).
    pub buckets: u64,
    /// Bytes per entry (slab object size).
    pub objsize: u64,
    /// Bytes per bucket.
    pub bucket_size: u64,
    /// `max × objsize`.
    pub entries_bytes: u64,
    /// `buckets × bucket_size`.
    pub hash_bytes: u64,
    /// The sum.
    pub memory_bytes: u64,
}

/// Buckets are rounded up to a multiple of this (`PAGE_SIZE / sizeof(hlist_nulls_head)`).
pub fn bucket_unit(page_size: u64) -> u64 {
    (page_size / BUCKET_SIZE).max(1)
}

fn make(max: u64, buckets: u64, objsize: u64) -> Size {
    let entries_bytes = max.saturating_mul(objsize);
    let hash_bytes = buckets.saturating_mul(BUCKET_SIZE);
    Size {
        max,
        buckets,
        objsize,
        bucket_size: BUCKET_SIZE,
        entries_bytes,
        hash_bytes,
        memory_bytes: entries_bytes.saturating_add(hash_bytes),
    }
}

/// The table for `max` entries.
pub fn for_max(max: u64, objsize: u64, page_size: u64) -> Size {
    let unit = bucket_unit(page_size);
    make(max, max.div_ceil(unit) * unit, objsize)
}

/// The largest table with max = buckets that fits in `bytes`; `None` if not even one
/// rounding unit fits.
pub fn for_memory(bytes: u64, objsize: u64, page_size: u64) -> Option<Size> {
    let unit = bucket_unit(page_size);
    let per_unit = unit * (objsize + BUCKET_SIZE);
    let n = bytes / per_unit * unit;
    (n > 0).then(|| make(n, n, objsize))
}

/// The `objsize` column of the `nf_conntrack` line of a /proc/slabinfo text
/// (`name active_objs num_objs objsize objperslab pagesperslab : …`).
pub fn slab_objsize(slabinfo: &str) -> Option<u64> {
    slabinfo.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next()? == "nf_conntrack")
            .then(|| w.nth(2)?.parse().ok())
            .flatten()
    })
}

/// `AT_PAGESZ` from /proc/self/auxv (pairs of native-endian u64), 4096 when unreadable.
pub fn page_size() -> u64 {
    const AT_PAGESZ: u64 = 6;
    let Ok(aux) = std::fs::read("/proc/self/auxv") else {
        return 4096;
    };
    aux.chunks_exact(16)
        .find_map(|c| {
            let k = u64::from_ne_bytes(c[..8].try_into().ok()?);
            let v = u64::from_ne_bytes(c[8..].try_into().ok()?);
            (k == AT_PAGESZ).then_some(v)
        })
        .filter(|v| *v > 0)
        .unwrap_or(4096)
}

/// A byte count: digits with an optional K, M, G, T suffix (powers of 1024; `KiB`, `MB` and
/// `k` spell the same).
pub fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let shift = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// The commands that apply `s` (buckets first: resizing does not touch max).
pub fn commands(s: &Size) -> Vec<String> {
    vec![
        format!("sysctl -w net.netfilter.nf_conntrack_buckets={}", s.buckets),
        format!("sysctl -w net.netfilter.nf_conntrack_max={}", s.max),
        format!(
            "ctkit sysctl set nf_conntrack_buckets={} nf_conntrack_max={} --persist",
            s.buckets, s.max
        ),
    ]
}

/// The text report.
pub fn render(s: &Size, objsize_from: &str, unit: u64, now: Option<(String, String)>) -> String {
    let mut out = format!(
        "slab object size      {} B per entry ({objsize_from})\n\
         nf_conntrack_max      {}\n\
         nf_conntrack_buckets  {} (a multiple of {unit}: the kernel rounds the hash table to \
         whole pages)\n\
         memory                {} = {} entries × {} B + {} buckets × {} B ({} + {})\n",
        s.objsize,
        s.max,
        s.buckets,
        human(s.memory_bytes),
        s.max,
        s.objsize,
        s.buckets,
        s.bucket_size,
        human(s.entries_bytes),
        human(s.hash_bytes),
    );
    if s.buckets > 0 {
        out += &format!(
            "chains at a full table average {:.2} entries (each entry is hashed in both \
             directions)\n",
            2.0 * s.max as f64 / s.buckets as f64
        );
    }
    if let Some((max, buckets)) = now {
        out += &format!("now: nf_conntrack_max {max}, nf_conntrack_buckets {buckets}\n");
    }
    out += "apply (initial network namespace, as root; per-entry extensions such as NAT or \
            accounting add to the memory):\n";
    for c in commands(s) {
        out += &format!("  {c}\n");
    }
    out
}

/// `ctkit sysctl size …` (the live sysctls are read from `dir`).
pub fn run(dir: &Path, args: &[String]) -> Result<(), Failure> {
    let mut max = None;
    let mut memory = None;
    let mut objsize = None;
    let mut slabinfo = "/proc/slabinfo".to_string();
    let mut json = false;
    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (args[i].as_str(), None),
        };
        let mut value = || -> Result<String, Failure> {
            inline
                .clone()
                .or_else(|| {
                    i += 1;
                    args.get(i).cloned()
                })
                .ok_or_else(|| Failure::Usage(format!("`{flag}' needs a value")))
        };
        let number = |v: String, what: &str| -> Result<u64, Failure> {
            parse_bytes(&v).filter(|n| *n > 0).ok_or_else(|| {
                Failure::Usage(format!("`{what}' needs a positive number, not `{v}'"))
            })
        };
        match flag {
            "--max" => {
                let v = value()?;
                max = Some(v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Failure::Usage(format!("`--max' needs a positive number, not `{v}'"))
                })?);
                if max > Some(i32::MAX as u64) {
                    return Err(Failure::Usage(format!(
                        "`--max' {v} is above the kernel's limit ({})",
                        i32::MAX
                    )));
                }
            }
            "--memory" => memory = Some(number(value()?, "--memory")?),
            "--objsize" => objsize = Some(number(value()?, "--objsize")?),
            "--slabinfo" => slabinfo = value()?,
            "--json" => json = true,
            other => return Err(Failure::Usage(format!("size: unknown argument `{other}'"))),
        }
        i += 1;
    }
    let (objsize, from) = match objsize {
        Some(o) => (o, "--objsize".to_string()),
        None => {
            let text = std::fs::read_to_string(&slabinfo).map_err(|e| {
                Failure::Runtime(format!(
                    "{slabinfo}: {e} (reading it needs root; or give --objsize BYTES)"
                ))
            })?;
            let o = slab_objsize(&text).ok_or_else(|| {
                Failure::Runtime(format!(
                    "{slabinfo}: no nf_conntrack line (is the nf_conntrack module loaded?); \
                     give --objsize BYTES"
                ))
            })?;
            (o, format!("nf_conntrack objsize in {slabinfo}"))
        }
    };
    let page = page_size();
    let size = match (max, memory) {
        (Some(m), None) => for_max(m, objsize, page),
        (None, Some(b)) => for_memory(b, objsize, page).ok_or_else(|| {
            Failure::Usage(format!(
                "{b} bytes do not hold even {} entries",
                bucket_unit(page)
            ))
        })?,
        _ => {
            return Err(Failure::Usage(
                "size needs exactly one of --max N and --memory BYTES".into(),
            ))
        }
    };
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            size: &'a Size,
            objsize_from: &'a str,
            commands: Vec<String>,
        }
        let o = Out {
            size: &size,
            objsize_from: &from,
            commands: commands(&size),
        };
        return emit(&(serde_json::to_string(&o).expect("serialises") + "\n"));
    }
    let now = read_value(dir, "nf_conntrack_max").zip(read_value(dir, "nf_conntrack_buckets"));
    emit(&render(&size, &from, bucket_unit(page), now))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLABINFO: &str = "slabinfo - version: 2.1\n\
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n\
nf_conntrack_expect      0      0    208   19    1 : tunables    0    0    0 : slabdata      0      0      0\n\
nf_conntrack         256    320    256   16    1 : tunables    0    0    0 : slabdata     20     20      0\n";

    #[test]
    fn objsize_is_the_fourth_column_of_the_nf_conntrack_line() {
        assert_eq!(slab_objsize(SLABINFO), Some(256));
        assert_eq!(slab_objsize("nf_conntrack_expect 0 0 208 19 1\n"), None);
        assert_eq!(slab_objsize("nf_conntrack 1 2\n"), None);
    }

    #[test]
    fn a_million_entries_at_256_bytes() {
        let s = for_max(1_000_000, 256, 4096);
        // 1_000_000 rounded up to a multiple of 512.
        assert_eq!(s.buckets, 1_000_448);
        assert_eq!(s.entries_bytes, 256_000_000);
        assert_eq!(s.hash_bytes, 8_003_584);
        assert_eq!(s.memory_bytes, 264_003_584);
        // The 6.18 default on this VM: 262144 = 512 × 512, no rounding.
        let d = for_max(262_144, 256, 4096);
        assert_eq!((d.buckets, d.memory_bytes), (262_144, 262_144 * 264));
        // Older kernels' 320 B objects; 64 KiB pages round to 8192.
        assert_eq!(for_max(1000, 320, 65536).buckets, 8192);
    }

    #[test]
    fn a_memory_budget_gives_equal_max_and_buckets_in_page_multiples() {
        let s = for_memory(1 << 30, 256, 4096).unwrap();
        // 1 GiB / (512 × 264 B) = 7943 whole units of 512.
        assert_eq!((s.max, s.buckets), (4_066_816, 4_066_816));
        assert_eq!(s.memory_bytes, 1_073_639_424);
        assert!(s.memory_bytes <= 1 << 30);
        assert!(for_memory((512 * 264) - 1, 256, 4096).is_none());
        assert_eq!(for_memory(512 * 264, 256, 4096).unwrap().max, 512);
    }

    #[test]
    fn byte_counts_take_binary_suffixes() {
        assert_eq!(parse_bytes("1G"), Some(1 << 30));
        assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_bytes("64k"), Some(64 << 10));
        assert_eq!(parse_bytes("1000"), Some(1000));
        assert_eq!(parse_bytes("1.5G"), None);
        assert_eq!(parse_bytes("G"), None);
        assert_eq!(parse_bytes("99999999999T"), None);
    }

    #[test]
    fn commands_set_buckets_before_max() {
        let c = commands(&for_max(1_000_000, 256, 4096));
        assert_eq!(
            c,
            [
                "sysctl -w net.netfilter.nf_conntrack_buckets=1000448",
                "sysctl -w net.netfilter.nf_conntrack_max=1000000",
                "ctkit sysctl set nf_conntrack_buckets=1000448 nf_conntrack_max=1000000 --persist",
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic_on_any_text(t in "\\PC{0,80}") {
            let _ = slab_objsize(&t);
            let _ = parse_bytes(&t);
        }

        #[test]
        fn a_budget_table_fits_and_one_more_unit_would_not(
            bytes in 1u64..(1 << 40),
            objsize in 64u64..1024,
        ) {
            if let Some(s) = for_memory(bytes, objsize, 4096) {
                proptest::prop_assert!(s.memory_bytes <= bytes);
                proptest::prop_assert_eq!(s.max % 512, 0);
                let next = for_max(s.max + 512, objsize, 4096);
                proptest::prop_assert!(next.memory_bytes > bytes);
            } else {
                proptest::prop_assert!(bytes < 512 * (objsize + 8));
            }
        }
    }
}
