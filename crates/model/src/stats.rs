//! Conntrack statistics as ctnetlink reports them: per-CPU counters (`CTA_STATS_*`,
//! `IPCTNL_MSG_CT_GET_STATS_CPU`), per-CPU expectation counters (`CTA_STATS_EXP_*`) and the
//! global entry count (`CTA_STATS_GLOBAL_ENTRIES`), from
//! include/uapi/linux/netfilter/nfnetlink_conntrack.h (kernel 6.18).

/// Per-CPU conntrack counters; `None` where the kernel did not send the attribute.
///
/// `values[i]` holds attribute type `i + 1` (`CTA_STATS_SEARCHED` = 1 … `CTA_STATS_CHAIN_TOOLONG`
/// = 15), followed by four slots for attribute types a newer kernel may add (16..=19), which
/// conntrack(8) prints as `unknown1`..`unknown4`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// CPU number (`nfgenmsg.res_id`).
    pub cpu: u16,
    /// Counter values indexed by attribute type minus one.
    pub values: [Option<u32>; CpuStats::SLOTS],
}

impl CpuStats {
    /// Number of attribute slots (15 known + 4 unknown).
    pub const SLOTS: usize = 19;

    /// Names conntrack(8) prints, indexed like `values` (attribute type minus one).
    pub const NAMES: [&'static str; CpuStats::SLOTS] = [
        "searched",
        "found",
        "new",
        "invalid",
        "ignore",
        "delete",
        "delete_list",
        "insert",
        "insert_failed",
        "drop",
        "early_drop",
        "error",
        "search_restart",
        "clash_resolve",
        "chaintoolong",
        "unknown1",
        "unknown2",
        "unknown3",
        "unknown4",
    ];

    /// `CTA_STATS_FOUND` etc.: the slot for attribute type `attr` (1-based), if any.
    pub fn slot(attr: u16) -> Option<usize> {
        (1..=Self::SLOTS as u16)
            .contains(&attr)
            .then(|| attr as usize - 1)
    }

    /// Sets the value of attribute type `attr`; ignores types beyond the known slots.
    pub fn set(&mut self, attr: u16, value: u32) {
        if let Some(i) = Self::slot(attr) {
            self.values[i] = Some(value);
        }
    }

    /// The value of a counter by its printed name.
    pub fn get(&self, name: &str) -> Option<u32> {
        let i = Self::NAMES.iter().position(|n| *n == name)?;
        self.values[i]
    }
}

/// Per-CPU expectation counters (`CTA_STATS_EXP_NEW`, `_CREATE`, `_DELETE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpCpuStats {
    /// CPU number (`nfgenmsg.res_id`).
    pub cpu: u16,
    /// `CTA_STATS_EXP_NEW`, printed as `expect_new`.
    pub expect_new: Option<u32>,
    /// `CTA_STATS_EXP_CREATE`, printed as `expect_create`.
    pub expect_create: Option<u32>,
    /// `CTA_STATS_EXP_DELETE`, printed as `expect_delete`.
    pub expect_delete: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_by_attribute_type() {
        let mut s = CpuStats::default();
        s.set(2, 7); // CTA_STATS_FOUND
        s.set(15, 1); // CTA_STATS_CHAIN_TOOLONG
        s.set(40, 9);
        s.set(0, 9);
        assert_eq!(s.get("found"), Some(7));
        assert_eq!(s.get("chaintoolong"), Some(1));
        assert_eq!(s.values.iter().flatten().count(), 2);
    }
}
