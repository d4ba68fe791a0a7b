//! Kernel constants, spelled as the kernel spells them.
//!
//! Sources (uapi headers, checked against linux-libc-dev 6.1 and torvalds/linux master):
//! - include/uapi/linux/netlink.h (`NETLINK_*`, `NLM_F_*`, `NLMSG_*`, `NLA_F_*`, `NLMSGERR_ATTR_*`)
//! - include/uapi/linux/netfilter/nfnetlink.h (`NFNL_SUBSYS_*`, `NFNLGRP_*`, `struct nfgenmsg`)
//! - include/uapi/linux/netfilter/nfnetlink_conntrack.h (`IPCTNL_MSG_*`, `CTA_*`)
//! - include/uapi/linux/netfilter/nf_conntrack_common.h (`IPS_*` live in `ctkit_model::Status`)
//! - include/uapi/linux/netfilter/nf_conntrack_tcp.h (`struct nf_ct_tcp_flags`)
//! - net/netfilter/nf_internals.h (`CTA_FILTER_F_*`: kernel-internal but ABI)

// ---- include/uapi/linux/netlink.h ----
/// `NETLINK_NETFILTER`: the netfilter netlink protocol.
pub const NETLINK_NETFILTER: i32 = 12;

pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_ECHO: u16 = 0x08;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;
// Modifiers to GET request
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_ATOMIC: u16 = 0x400;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
// Modifiers to NEW request
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_APPEND: u16 = 0x800;
// Flags for ACK message
pub const NLM_F_CAPPED: u16 = 0x100;
pub const NLM_F_ACK_TLVS: u16 = 0x200;

pub const NLMSG_NOOP: u16 = 0x1;
pub const NLMSG_ERROR: u16 = 0x2;
pub const NLMSG_DONE: u16 = 0x3;
pub const NLMSG_OVERRUN: u16 = 0x4;
pub const NLMSG_MIN_TYPE: u16 = 0x10;

/// `NLMSG_ALIGNTO`.
pub const NLMSG_ALIGNTO: usize = 4;
/// `sizeof(struct nlmsghdr)`.
pub const NLMSG_HDRLEN: usize = 16;
/// `NLA_ALIGNTO`.
pub const NLA_ALIGNTO: usize = 4;
/// `sizeof(struct nlattr)`.
pub const NLA_HDRLEN: usize = 4;
pub const NLA_F_NESTED: u16 = 1 << 15;
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

// enum nlmsgerr_attrs
pub const NLMSGERR_ATTR_UNUSED: u16 = 0;
pub const NLMSGERR_ATTR_MSG: u16 = 1;
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
pub const NLMSGERR_ATTR_COOKIE: u16 = 3;
pub const NLMSGERR_ATTR_POLICY: u16 = 4;
pub const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
pub const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

// SOL_NETLINK socket options
pub const SOL_NETLINK: i32 = 270;
pub const NETLINK_ADD_MEMBERSHIP: i32 = 1;
pub const NETLINK_DROP_MEMBERSHIP: i32 = 2;
pub const NETLINK_PKTINFO: i32 = 3;
pub const NETLINK_BROADCAST_ERROR: i32 = 4;
pub const NETLINK_NO_ENOBUFS: i32 = 5;
pub const NETLINK_LISTEN_ALL_NSID: i32 = 8;
pub const NETLINK_CAP_ACK: i32 = 10;
pub const NETLINK_EXT_ACK: i32 = 11;
pub const NETLINK_GET_STRICT_CHK: i32 = 12;

// ---- include/uapi/linux/netfilter/nfnetlink.h ----
// enum nfnetlink_groups
pub const NFNLGRP_NONE: u32 = 0;
pub const NFNLGRP_CONNTRACK_NEW: u32 = 1;
pub const NFNLGRP_CONNTRACK_UPDATE: u32 = 2;
pub const NFNLGRP_CONNTRACK_DESTROY: u32 = 3;
pub const NFNLGRP_CONNTRACK_EXP_NEW: u32 = 4;
pub const NFNLGRP_CONNTRACK_EXP_UPDATE: u32 = 5;
pub const NFNLGRP_CONNTRACK_EXP_DESTROY: u32 = 6;

/// `NFNETLINK_V0`.
pub const NFNETLINK_V0: u8 = 0;
/// `sizeof(struct nfgenmsg)`.
pub const NFGENMSG_LEN: usize = 4;

pub const NFNL_SUBSYS_NONE: u8 = 0;
pub const NFNL_SUBSYS_CTNETLINK: u8 = 1;
pub const NFNL_SUBSYS_CTNETLINK_EXP: u8 = 2;

/// `NFNL_SUBSYS_ID(x)`.
pub const fn nfnl_subsys_id(x: u16) -> u8 {
    ((x & 0xff00) >> 8) as u8
}
/// `NFNL_MSG_TYPE(x)`.
pub const fn nfnl_msg_type(x: u16) -> u8 {
    (x & 0x00ff) as u8
}
/// The `nlmsg_type` for a subsystem and message: `(subsys << 8) | msg`.
pub const fn nfnl_type(subsys: u8, msg: u8) -> u16 {
    ((subsys as u16) << 8) | msg as u16
}

// ---- include/uapi/linux/netfilter/nfnetlink_conntrack.h ----
// enum cntl_msg_types
pub const IPCTNL_MSG_CT_NEW: u8 = 0;
pub const IPCTNL_MSG_CT_GET: u8 = 1;
pub const IPCTNL_MSG_CT_DELETE: u8 = 2;
pub const IPCTNL_MSG_CT_GET_CTRZERO: u8 = 3;
pub const IPCTNL_MSG_CT_GET_STATS_CPU: u8 = 4;
pub const IPCTNL_MSG_CT_GET_STATS: u8 = 5;
pub const IPCTNL_MSG_CT_GET_DYING: u8 = 6;
pub const IPCTNL_MSG_CT_GET_UNCONFIRMED: u8 = 7;

// enum ctnl_exp_msg_types
pub const IPCTNL_MSG_EXP_NEW: u8 = 0;
pub const IPCTNL_MSG_EXP_GET: u8 = 1;
pub const IPCTNL_MSG_EXP_DELETE: u8 = 2;
pub const IPCTNL_MSG_EXP_GET_STATS_CPU: u8 = 3;

// enum ctattr_type
pub const CTA_UNSPEC: u16 = 0;
pub const CTA_TUPLE_ORIG: u16 = 1;
pub const CTA_TUPLE_REPLY: u16 = 2;
pub const CTA_STATUS: u16 = 3;
pub const CTA_PROTOINFO: u16 = 4;
pub const CTA_HELP: u16 = 5;
pub const CTA_NAT_SRC: u16 = 6;
pub const CTA_NAT: u16 = CTA_NAT_SRC;
pub const CTA_TIMEOUT: u16 = 7;
pub const CTA_MARK: u16 = 8;
pub const CTA_COUNTERS_ORIG: u16 = 9;
pub const CTA_COUNTERS_REPLY: u16 = 10;
pub const CTA_USE: u16 = 11;
pub const CTA_ID: u16 = 12;
pub const CTA_NAT_DST: u16 = 13;
pub const CTA_TUPLE_MASTER: u16 = 14;
pub const CTA_SEQ_ADJ_ORIG: u16 = 15;
pub const CTA_NAT_SEQ_ADJ_ORIG: u16 = CTA_SEQ_ADJ_ORIG;
pub const CTA_SEQ_ADJ_REPLY: u16 = 16;
pub const CTA_NAT_SEQ_ADJ_REPLY: u16 = CTA_SEQ_ADJ_REPLY;
pub const CTA_SECMARK: u16 = 17;
pub const CTA_ZONE: u16 = 18;
pub const CTA_SECCTX: u16 = 19;
pub const CTA_TIMESTAMP: u16 = 20;
pub const CTA_MARK_MASK: u16 = 21;
pub const CTA_LABELS: u16 = 22;
pub const CTA_LABELS_MASK: u16 = 23;
pub const CTA_SYNPROXY: u16 = 24;
pub const CTA_FILTER: u16 = 25;
pub const CTA_STATUS_MASK: u16 = 26;

// enum ctattr_tuple
pub const CTA_TUPLE_UNSPEC: u16 = 0;
pub const CTA_TUPLE_IP: u16 = 1;
pub const CTA_TUPLE_PROTO: u16 = 2;
pub const CTA_TUPLE_ZONE: u16 = 3;

// enum ctattr_ip
pub const CTA_IP_UNSPEC: u16 = 0;
pub const CTA_IP_V4_SRC: u16 = 1;
pub const CTA_IP_V4_DST: u16 = 2;
pub const CTA_IP_V6_SRC: u16 = 3;
pub const CTA_IP_V6_DST: u16 = 4;

// enum ctattr_l4proto
pub const CTA_PROTO_UNSPEC: u16 = 0;
pub const CTA_PROTO_NUM: u16 = 1;
pub const CTA_PROTO_SRC_PORT: u16 = 2;
pub const CTA_PROTO_DST_PORT: u16 = 3;
pub const CTA_PROTO_ICMP_ID: u16 = 4;
pub const CTA_PROTO_ICMP_TYPE: u16 = 5;
pub const CTA_PROTO_ICMP_CODE: u16 = 6;
pub const CTA_PROTO_ICMPV6_ID: u16 = 7;
pub const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
pub const CTA_PROTO_ICMPV6_CODE: u16 = 9;

// enum ctattr_protoinfo
pub const CTA_PROTOINFO_UNSPEC: u16 = 0;
pub const CTA_PROTOINFO_TCP: u16 = 1;
pub const CTA_PROTOINFO_DCCP: u16 = 2;
pub const CTA_PROTOINFO_SCTP: u16 = 3;

// enum ctattr_protoinfo_tcp
pub const CTA_PROTOINFO_TCP_UNSPEC: u16 = 0;
pub const CTA_PROTOINFO_TCP_STATE: u16 = 1;
pub const CTA_PROTOINFO_TCP_WSCALE_ORIGINAL: u16 = 2;
pub const CTA_PROTOINFO_TCP_WSCALE_REPLY: u16 = 3;
pub const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: u16 = 4;
pub const CTA_PROTOINFO_TCP_FLAGS_REPLY: u16 = 5;

// enum ctattr_protoinfo_dccp
pub const CTA_PROTOINFO_DCCP_UNSPEC: u16 = 0;
pub const CTA_PROTOINFO_DCCP_STATE: u16 = 1;
pub const CTA_PROTOINFO_DCCP_ROLE: u16 = 2;
pub const CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ: u16 = 3;
pub const CTA_PROTOINFO_DCCP_PAD: u16 = 4;

// enum ctattr_protoinfo_sctp
pub const CTA_PROTOINFO_SCTP_UNSPEC: u16 = 0;
pub const CTA_PROTOINFO_SCTP_STATE: u16 = 1;
pub const CTA_PROTOINFO_SCTP_VTAG_ORIGINAL: u16 = 2;
pub const CTA_PROTOINFO_SCTP_VTAG_REPLY: u16 = 3;

// enum ctattr_counters
pub const CTA_COUNTERS_UNSPEC: u16 = 0;
pub const CTA_COUNTERS_PACKETS: u16 = 1;
pub const CTA_COUNTERS_BYTES: u16 = 2;
pub const CTA_COUNTERS32_PACKETS: u16 = 3;
pub const CTA_COUNTERS32_BYTES: u16 = 4;
pub const CTA_COUNTERS_PAD: u16 = 5;

// enum ctattr_tstamp
pub const CTA_TIMESTAMP_UNSPEC: u16 = 0;
pub const CTA_TIMESTAMP_START: u16 = 1;
pub const CTA_TIMESTAMP_STOP: u16 = 2;
pub const CTA_TIMESTAMP_PAD: u16 = 3;

// enum ctattr_nat
pub const CTA_NAT_UNSPEC: u16 = 0;
pub const CTA_NAT_V4_MINIP: u16 = 1;
pub const CTA_NAT_MINIP: u16 = CTA_NAT_V4_MINIP;
pub const CTA_NAT_V4_MAXIP: u16 = 2;
pub const CTA_NAT_MAXIP: u16 = CTA_NAT_V4_MAXIP;
pub const CTA_NAT_PROTO: u16 = 3;
pub const CTA_NAT_V6_MINIP: u16 = 4;
pub const CTA_NAT_V6_MAXIP: u16 = 5;

// enum ctattr_protonat
pub const CTA_PROTONAT_UNSPEC: u16 = 0;
pub const CTA_PROTONAT_PORT_MIN: u16 = 1;
pub const CTA_PROTONAT_PORT_MAX: u16 = 2;

// enum ctattr_seqadj
pub const CTA_SEQADJ_UNSPEC: u16 = 0;
pub const CTA_SEQADJ_CORRECTION_POS: u16 = 1;
pub const CTA_SEQADJ_OFFSET_BEFORE: u16 = 2;
pub const CTA_SEQADJ_OFFSET_AFTER: u16 = 3;

// enum ctattr_synproxy
pub const CTA_SYNPROXY_UNSPEC: u16 = 0;
pub const CTA_SYNPROXY_ISN: u16 = 1;
pub const CTA_SYNPROXY_ITS: u16 = 2;
pub const CTA_SYNPROXY_TSOFF: u16 = 3;

// enum ctattr_expect
pub const CTA_EXPECT_UNSPEC: u16 = 0;
pub const CTA_EXPECT_MASTER: u16 = 1;
pub const CTA_EXPECT_TUPLE: u16 = 2;
pub const CTA_EXPECT_MASK: u16 = 3;
pub const CTA_EXPECT_TIMEOUT: u16 = 4;
pub const CTA_EXPECT_ID: u16 = 5;
pub const CTA_EXPECT_HELP_NAME: u16 = 6;
pub const CTA_EXPECT_ZONE: u16 = 7;
pub const CTA_EXPECT_FLAGS: u16 = 8;
pub const CTA_EXPECT_CLASS: u16 = 9;
pub const CTA_EXPECT_NAT: u16 = 10;
pub const CTA_EXPECT_FN: u16 = 11;

// enum ctattr_expect_nat
pub const CTA_EXPECT_NAT_UNSPEC: u16 = 0;
pub const CTA_EXPECT_NAT_DIR: u16 = 1;
pub const CTA_EXPECT_NAT_TUPLE: u16 = 2;

// enum ctattr_help
pub const CTA_HELP_UNSPEC: u16 = 0;
pub const CTA_HELP_NAME: u16 = 1;
pub const CTA_HELP_INFO: u16 = 2;

// enum ctattr_secctx
pub const CTA_SECCTX_UNSPEC: u16 = 0;
pub const CTA_SECCTX_NAME: u16 = 1;

// enum ctattr_stats_cpu
pub const CTA_STATS_UNSPEC: u16 = 0;
pub const CTA_STATS_SEARCHED: u16 = 1;
pub const CTA_STATS_FOUND: u16 = 2;
pub const CTA_STATS_NEW: u16 = 3;
pub const CTA_STATS_INVALID: u16 = 4;
pub const CTA_STATS_IGNORE: u16 = 5;
pub const CTA_STATS_DELETE: u16 = 6;
pub const CTA_STATS_DELETE_LIST: u16 = 7;
pub const CTA_STATS_INSERT: u16 = 8;
pub const CTA_STATS_INSERT_FAILED: u16 = 9;
pub const CTA_STATS_DROP: u16 = 10;
pub const CTA_STATS_EARLY_DROP: u16 = 11;
pub const CTA_STATS_ERROR: u16 = 12;
pub const CTA_STATS_SEARCH_RESTART: u16 = 13;
pub const CTA_STATS_CLASH_RESOLVE: u16 = 14;
pub const CTA_STATS_CHAIN_TOOLONG: u16 = 15;

// enum ctattr_stats_global
pub const CTA_STATS_GLOBAL_UNSPEC: u16 = 0;
pub const CTA_STATS_GLOBAL_ENTRIES: u16 = 1;
pub const CTA_STATS_GLOBAL_MAX_ENTRIES: u16 = 2;

// enum ctattr_expect_stats
pub const CTA_STATS_EXP_UNSPEC: u16 = 0;
pub const CTA_STATS_EXP_NEW: u16 = 1;
pub const CTA_STATS_EXP_CREATE: u16 = 2;
pub const CTA_STATS_EXP_DELETE: u16 = 3;

// enum ctattr_filter
pub const CTA_FILTER_UNSPEC: u16 = 0;
pub const CTA_FILTER_ORIG_FLAGS: u16 = 1;
pub const CTA_FILTER_REPLY_FLAGS: u16 = 2;

// ---- net/netfilter/nf_internals.h: CTA_FILTER flag bits ----
pub const CTA_FILTER_F_CTA_IP_SRC: u32 = 1 << 0;
pub const CTA_FILTER_F_CTA_IP_DST: u32 = 1 << 1;
pub const CTA_FILTER_F_CTA_TUPLE_ZONE: u32 = 1 << 2;
pub const CTA_FILTER_F_CTA_PROTO_NUM: u32 = 1 << 3;
pub const CTA_FILTER_F_CTA_PROTO_SRC_PORT: u32 = 1 << 4;
pub const CTA_FILTER_F_CTA_PROTO_DST_PORT: u32 = 1 << 5;
pub const CTA_FILTER_F_CTA_PROTO_ICMP_TYPE: u32 = 1 << 6;
pub const CTA_FILTER_F_CTA_PROTO_ICMP_CODE: u32 = 1 << 7;
pub const CTA_FILTER_F_CTA_PROTO_ICMP_ID: u32 = 1 << 8;
pub const CTA_FILTER_F_CTA_PROTO_ICMPV6_TYPE: u32 = 1 << 9;
pub const CTA_FILTER_F_CTA_PROTO_ICMPV6_CODE: u32 = 1 << 10;
pub const CTA_FILTER_F_CTA_PROTO_ICMPV6_ID: u32 = 1 << 11;
pub const CTA_FILTER_F_MAX: u32 = 1 << 12;
pub const CTA_FILTER_F_ALL: u32 = CTA_FILTER_F_MAX - 1;

// ---- include/uapi/linux/netfilter/nf_conntrack_tcp.h ----
/// `sizeof(struct nf_ct_tcp_flags)` (`__u8 flags; __u8 mask;`).
pub const NF_CT_TCP_FLAGS_LEN: usize = 2;

/// The printable kernel name of a top-level `CTA_*` attribute (for error paths).
pub fn cta_name(ty: u16) -> &'static str {
    const NAMES: [&str; 27] = [
        "CTA_UNSPEC",
        "CTA_TUPLE_ORIG",
        "CTA_TUPLE_REPLY",
        "CTA_STATUS",
        "CTA_PROTOINFO",
        "CTA_HELP",
        "CTA_NAT_SRC",
        "CTA_TIMEOUT",
        "CTA_MARK",
        "CTA_COUNTERS_ORIG",
        "CTA_COUNTERS_REPLY",
        "CTA_USE",
        "CTA_ID",
        "CTA_NAT_DST",
        "CTA_TUPLE_MASTER",
        "CTA_SEQ_ADJ_ORIG",
        "CTA_SEQ_ADJ_REPLY",
        "CTA_SECMARK",
        "CTA_ZONE",
        "CTA_SECCTX",
        "CTA_TIMESTAMP",
        "CTA_MARK_MASK",
        "CTA_LABELS",
        "CTA_LABELS_MASK",
        "CTA_SYNPROXY",
        "CTA_FILTER",
        "CTA_STATUS_MASK",
    ];
    NAMES.get(ty as usize).copied().unwrap_or("CTA_?")
}
