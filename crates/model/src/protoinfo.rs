//! Per-protocol connection state (`CTA_PROTOINFO_TCP`, `_SCTP`, `_DCCP`).
//!
//! State numbering follows `enum tcp_conntrack` (include/uapi/linux/netfilter/nf_conntrack_tcp.h),
//! `enum sctp_conntrack` (nf_conntrack_sctp.h) and `enum ct_dccp_states`; names are the ones
//! conntrack(8) prints.

/// `enum tcp_conntrack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    /// `TCP_CONNTRACK_NONE`.
    None,
    /// `TCP_CONNTRACK_SYN_SENT`.
    SynSent,
    /// `TCP_CONNTRACK_SYN_RECV`.
    SynRecv,
    /// `TCP_CONNTRACK_ESTABLISHED`.
    Established,
    /// `TCP_CONNTRACK_FIN_WAIT`.
    FinWait,
    /// `TCP_CONNTRACK_CLOSE_WAIT`.
    CloseWait,
    /// `TCP_CONNTRACK_LAST_ACK`.
    LastAck,
    /// `TCP_CONNTRACK_TIME_WAIT`.
    TimeWait,
    /// `TCP_CONNTRACK_CLOSE`.
    Close,
    /// `TCP_CONNTRACK_SYN_SENT2` (conntrack(8) prints and accepts it as `LISTEN` too).
    SynSent2,
    /// A value this code does not know.
    Unknown(u8),
}

impl TcpState {
    /// Names as conntrack(8) prints them, indexed by the kernel number.
    pub const NAMES: [&'static str; 10] = [
        "NONE",
        "SYN_SENT",
        "SYN_RECV",
        "ESTABLISHED",
        "FIN_WAIT",
        "CLOSE_WAIT",
        "LAST_ACK",
        "TIME_WAIT",
        "CLOSE",
        "SYN_SENT2",
    ];

    /// The state for a kernel number.
    pub fn from_u8(v: u8) -> TcpState {
        use TcpState::*;
        match v {
            0 => None,
            1 => SynSent,
            2 => SynRecv,
            3 => Established,
            4 => FinWait,
            5 => CloseWait,
            6 => LastAck,
            7 => TimeWait,
            8 => Close,
            9 => SynSent2,
            n => Unknown(n),
        }
    }

    /// The kernel number.
    pub fn to_u8(self) -> u8 {
        use TcpState::*;
        match self {
            None => 0,
            SynSent => 1,
            SynRecv => 2,
            Established => 3,
            FinWait => 4,
            CloseWait => 5,
            LastAck => 6,
            TimeWait => 7,
            Close => 8,
            SynSent2 => 9,
            Unknown(n) => n,
        }
    }

    /// The name conntrack prints, `None` for unknown values.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES.get(self.to_u8() as usize).copied()
    }
}

/// `enum sctp_conntrack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SctpState(pub u8);

impl SctpState {
    /// Names as conntrack(8) prints them, indexed by the kernel number.
    pub const NAMES: [&'static str; 10] = [
        "NONE",
        "CLOSED",
        "COOKIE_WAIT",
        "COOKIE_ECHOED",
        "ESTABLISHED",
        "SHUTDOWN_SENT",
        "SHUTDOWN_RECD",
        "SHUTDOWN_ACK_SENT",
        "HEARTBEAT_SENT",
        "HEARTBEAT_ACKED",
    ];

    /// The name, `None` for unknown values.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES.get(self.0 as usize).copied()
    }
}

/// `CTA_PROTOINFO_TCP`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpInfo {
    /// `CTA_PROTOINFO_TCP_STATE`.
    pub state: Option<u8>,
    /// `CTA_PROTOINFO_TCP_WSCALE_ORIGINAL`.
    pub wscale_orig: Option<u8>,
    /// `CTA_PROTOINFO_TCP_WSCALE_REPLY`.
    pub wscale_reply: Option<u8>,
    /// `CTA_PROTOINFO_TCP_FLAGS_ORIGINAL` as (flags, mask) (`struct nf_ct_tcp_flags`).
    pub flags_orig: Option<(u8, u8)>,
    /// `CTA_PROTOINFO_TCP_FLAGS_REPLY` as (flags, mask).
    pub flags_reply: Option<(u8, u8)>,
}

/// `IP_CT_TCP_FLAG_WINDOW_SCALE`.
pub const IP_CT_TCP_FLAG_WINDOW_SCALE: u8 = 0x01;
/// `IP_CT_TCP_FLAG_SACK_PERM`.
pub const IP_CT_TCP_FLAG_SACK_PERM: u8 = 0x02;
/// `IP_CT_TCP_FLAG_CLOSE_INIT`.
pub const IP_CT_TCP_FLAG_CLOSE_INIT: u8 = 0x04;
/// `IP_CT_TCP_FLAG_BE_LIBERAL`.
pub const IP_CT_TCP_FLAG_BE_LIBERAL: u8 = 0x08;
/// `IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED`.
pub const IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED: u8 = 0x10;
/// `IP_CT_TCP_FLAG_MAXACK_SET`.
pub const IP_CT_TCP_FLAG_MAXACK_SET: u8 = 0x20;

/// `CTA_PROTOINFO_SCTP`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SctpInfo {
    /// `CTA_PROTOINFO_SCTP_STATE`.
    pub state: Option<u8>,
    /// `CTA_PROTOINFO_SCTP_VTAG_ORIGINAL`.
    pub vtag_orig: Option<u32>,
    /// `CTA_PROTOINFO_SCTP_VTAG_REPLY`.
    pub vtag_reply: Option<u32>,
}

/// `CTA_PROTOINFO_DCCP`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DccpInfo {
    /// `CTA_PROTOINFO_DCCP_STATE`.
    pub state: Option<u8>,
    /// `CTA_PROTOINFO_DCCP_ROLE`.
    pub role: Option<u8>,
    /// `CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ`.
    pub handshake_seq: Option<u64>,
}

/// DCCP state names as conntrack(8) prints them (`enum ct_dccp_states`).
pub const DCCP_STATE_NAMES: [&str; 10] = [
    "NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE",
    "INVALID",
];

/// `CTA_PROTOINFO`: at most one protocol's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtoInfo {
    /// TCP.
    Tcp(TcpInfo),
    /// SCTP.
    Sctp(SctpInfo),
    /// DCCP.
    Dccp(DccpInfo),
}
