//! An expectation (`struct nf_conntrack_expect`, `CTA_EXPECT_*` in nfnetlink_conntrack.h):
//! a connection a helper (FTP, SIP, …) announced and that will be RELATED when it arrives.

use crate::flow::HelperName;
use crate::tuple::Tuple;

/// `NF_CT_EXPECT_PERMANENT`.
pub const NF_CT_EXPECT_PERMANENT: u32 = 0x1;
/// `NF_CT_EXPECT_INACTIVE`.
pub const NF_CT_EXPECT_INACTIVE: u32 = 0x2;
/// `NF_CT_EXPECT_USERSPACE`.
pub const NF_CT_EXPECT_USERSPACE: u32 = 0x4;

/// `CTA_EXPECT_NAT`: where the expected connection will be NATed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExpectNat {
    /// `CTA_EXPECT_NAT_DIR`.
    pub dir: u32,
    /// `CTA_EXPECT_NAT_TUPLE`.
    pub tuple: Tuple,
}

/// One expectation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// `CTA_EXPECT_MASTER`: the original tuple of the connection that created it.
    pub master: Tuple,
    /// `CTA_EXPECT_TUPLE`: the expected connection's original tuple.
    pub tuple: Tuple,
    /// `CTA_EXPECT_MASK`: which bits of `tuple` must match.
    pub mask: Tuple,
    /// `CTA_EXPECT_TIMEOUT`, seconds left.
    pub timeout: Option<u32>,
    /// `CTA_EXPECT_ID`.
    pub id: Option<u32>,
    /// `CTA_EXPECT_HELP_NAME`.
    pub helper: Option<HelperName>,
    /// `CTA_EXPECT_ZONE`.
    pub zone: Option<u16>,
    /// `CTA_EXPECT_FLAGS`.
    pub flags: Option<u32>,
    /// `CTA_EXPECT_CLASS`.
    pub class: Option<u32>,
    /// `CTA_EXPECT_NAT`.
    pub nat: Option<ExpectNat>,
    /// `CTA_EXPECT_FN`: the expectation function name (e.g. `nat-follow-master`).
    pub fn_name: Option<HelperName>,
}
