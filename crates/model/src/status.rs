//! Connection status bits, `enum ip_conntrack_status` in
//! include/uapi/linux/netfilter/nf_conntrack_common.h (kernel 6.18).

use std::fmt;

/// The `CTA_STATUS` bit set of a connection.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Status(pub u32);

impl Status {
    /// `IPS_EXPECTED`: an expected connection (its first packet was RELATED).
    pub const EXPECTED: Status = Status(1 << 0);
    /// `IPS_SEEN_REPLY`: packets were seen in both directions.
    pub const SEEN_REPLY: Status = Status(1 << 1);
    /// `IPS_ASSURED`: never early-dropped.
    pub const ASSURED: Status = Status(1 << 2);
    /// `IPS_CONFIRMED`: the entry is in the hash table.
    pub const CONFIRMED: Status = Status(1 << 3);
    /// `IPS_SRC_NAT`.
    pub const SRC_NAT: Status = Status(1 << 4);
    /// `IPS_DST_NAT`.
    pub const DST_NAT: Status = Status(1 << 5);
    /// `IPS_SEQ_ADJUST`.
    pub const SEQ_ADJUST: Status = Status(1 << 6);
    /// `IPS_SRC_NAT_DONE`.
    pub const SRC_NAT_DONE: Status = Status(1 << 7);
    /// `IPS_DST_NAT_DONE`.
    pub const DST_NAT_DONE: Status = Status(1 << 8);
    /// `IPS_DYING`.
    pub const DYING: Status = Status(1 << 9);
    /// `IPS_FIXED_TIMEOUT`.
    pub const FIXED_TIMEOUT: Status = Status(1 << 10);
    /// `IPS_TEMPLATE`.
    pub const TEMPLATE: Status = Status(1 << 11);
    /// `IPS_UNTRACKED` (reused in-kernel as `IPS_NAT_CLASH`).
    pub const UNTRACKED: Status = Status(1 << 12);
    /// `IPS_HELPER`.
    pub const HELPER: Status = Status(1 << 13);
    /// `IPS_OFFLOAD`.
    pub const OFFLOAD: Status = Status(1 << 14);
    /// `IPS_HW_OFFLOAD`.
    pub const HW_OFFLOAD: Status = Status(1 << 15);

    /// Kernel names of the bits, in bit order (index = bit number).
    pub const NAMES: [&'static str; 16] = [
        "EXPECTED",
        "SEEN_REPLY",
        "ASSURED",
        "CONFIRMED",
        "SRC_NAT",
        "DST_NAT",
        "SEQ_ADJUST",
        "SRC_NAT_DONE",
        "DST_NAT_DONE",
        "DYING",
        "FIXED_TIMEOUT",
        "TEMPLATE",
        "UNTRACKED",
        "HELPER",
        "OFFLOAD",
        "HW_OFFLOAD",
    ];

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Status) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub fn intersects(self, other: Status) -> bool {
        self.0 & other.0 != 0
    }

    /// The raw bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl std::ops::BitOr for Status {
    type Output = Status;
    fn bitor(self, rhs: Status) -> Status {
        Status(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Status {
    fn bitor_assign(&mut self, rhs: Status) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (bit, name) in Self::NAMES.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        let rest = self.0 & !0xffff;
        if rest != 0 {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{rest:#x}")?;
            first = false;
        }
        if first {
            f.write_str("0")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_debug_lists_names_in_bit_order() {
        let s = Status::ASSURED | Status::SEEN_REPLY | Status::CONFIRMED;
        assert_eq!(format!("{s:?}"), "SEEN_REPLY|ASSURED|CONFIRMED");
        assert_eq!(format!("{:?}", Status(0)), "0");
        assert_eq!(format!("{:?}", Status(1 << 20)), "0x100000");
    }

    #[test]
    fn status_contains_and_intersects() {
        let s = Status::ASSURED | Status::SEEN_REPLY;
        assert!(s.contains(Status::ASSURED));
        assert!(!s.contains(Status::ASSURED | Status::EXPECTED));
        assert!(s.intersects(Status::ASSURED | Status::EXPECTED));
    }
}
