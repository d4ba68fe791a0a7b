//! The validated result of parsing a conntrack(8) 1.4.7 command line: everything the executor
//! needs to run it against the kernel, with conntrack's own semantics spelled out per field.
//!
//! The three "template objects" mirror conntrack's `struct ct_tmpl` (`ct`, `exptuple`, `mask`):
//! a [`CtTemplate`] is a `ctkit_model::Flow` plus the set of attributes that were actually given
//! (libnetfilter_conntrack's attribute bitmap, `ATTR_*` names), because conntrack's semantics
//! depend on presence, not on values.

use crate::compat::error::CompatError;
use crate::compat::options::{CmdRow, Col, ProtoHandler};
use ctkit_model::filter::FlowFilter;
use ctkit_model::{Expect, Flow, Labels};
use std::net::IpAddr;

/// The command (`enum ct_command`, table folded in separately).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-L`/`--dump`.
    List,
    /// `-G`/`--get`.
    Get,
    /// `-D`/`--delete`.
    Delete,
    /// `-I` (`excl: true`, NLM_F_EXCL) or `-A` (`excl: false`).
    Create {
        /// `-I`: fail with EEXIST if the entry exists.
        excl: bool,
    },
    /// `-U`/`--update`.
    Update,
    /// `-E`/`--event`.
    Event,
    /// `-F`/`--flush`.
    Flush,
    /// `-C`/`--count`.
    Count,
    /// `-S`/`--stats`.
    Stats,
    /// `-V`/`--version`.
    Version,
    /// `-h`/`--help`, or no command at all (conntrack prints the usage in both cases).
    Help,
}

/// The table a command works on (`check_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// `conntrack` (default).
    Conntrack,
    /// `expect`.
    Expect,
    /// `dying` (only with `-L`).
    Dying,
    /// `unconfirmed` (only with `-L`).
    Unconfirmed,
}

/// The address family of the request (`cmd->family`), sent in `nfgenmsg.nfgen_family`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrFamily {
    /// `AF_UNSPEC`: both families (default for L/U/D/G/F/E).
    Unspec,
    /// `AF_INET` (default for every other command).
    Inet,
    /// `AF_INET6`.
    Inet6,
}

impl AddrFamily {
    /// The kernel number.
    pub fn af(self) -> u8 {
        match self {
            AddrFamily::Unspec => 0,
            AddrFamily::Inet => 2,
            AddrFamily::Inet6 => 10,
        }
    }
}

/// The set of matrix columns given on the command line (`cmd->options`, `CT_OPT_*` bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptionSet(pub u32);

impl OptionSet {
    /// Whether the column's option was given.
    pub fn has(self, c: Col) -> bool {
        self.0 & c.bit() != 0
    }

    /// Marks the column as given.
    pub fn set(&mut self, c: Col) {
        self.0 |= c.bit();
    }

    /// `CT_COMPARISON`: the options that make conntrack run `nfct_cmp` on each entry.
    pub const COMPARISON: u32 = Col::Proto.bit()
        | Col::OrigSrc.bit()
        | Col::OrigDst.bit()
        | Col::ReplSrc.bit()
        | Col::ReplDst.bit()
        | Col::Mark.bit()
        | Col::Secmark.bit()
        | Col::Status.bit()
        | Col::Id.bit()
        | Col::Zone.bit()
        | Col::Label.bit()
        | Col::OrigZone.bit()
        | Col::ReplZone.bit();

    /// Whether any `CT_COMPARISON` option was given.
    pub fn any_comparison(self) -> bool {
        self.0 & Self::COMPARISON != 0
    }
}

/// Which attributes of a [`CtTemplate`] are set (libnetfilter_conntrack `ATTR_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attrs(pub u64);

#[allow(missing_docs)]
impl Attrs {
    pub const ORIG_L3PROTO: u64 = 1 << 0;
    pub const ORIG_SRC: u64 = 1 << 1;
    pub const ORIG_DST: u64 = 1 << 2;
    pub const REPL_L3PROTO: u64 = 1 << 3;
    pub const REPL_SRC: u64 = 1 << 4;
    pub const REPL_DST: u64 = 1 << 5;
    pub const ORIG_L4PROTO: u64 = 1 << 6;
    pub const REPL_L4PROTO: u64 = 1 << 7;
    pub const ORIG_PORT_SRC: u64 = 1 << 8;
    pub const ORIG_PORT_DST: u64 = 1 << 9;
    pub const REPL_PORT_SRC: u64 = 1 << 10;
    pub const REPL_PORT_DST: u64 = 1 << 11;
    pub const ICMP_TYPE: u64 = 1 << 12;
    pub const ICMP_CODE: u64 = 1 << 13;
    pub const ICMP_ID: u64 = 1 << 14;
    pub const TIMEOUT: u64 = 1 << 15;
    pub const STATUS: u64 = 1 << 16;
    pub const MARK: u64 = 1 << 17;
    pub const SECMARK: u64 = 1 << 18;
    pub const ID: u64 = 1 << 19;
    pub const ZONE: u64 = 1 << 20;
    pub const ORIG_ZONE: u64 = 1 << 21;
    pub const REPL_ZONE: u64 = 1 << 22;
    pub const TCP_STATE: u64 = 1 << 23;
    /// `ATTR_TCP_FLAGS_ORIG/REPL` + `ATTR_TCP_MASK_ORIG/REPL` (set by the tcp final check).
    pub const TCP_FLAGS: u64 = 1 << 24;
    pub const SCTP_STATE: u64 = 1 << 25;
    pub const SCTP_VTAG_ORIG: u64 = 1 << 26;
    pub const SCTP_VTAG_REPL: u64 = 1 << 27;
    pub const DCCP_STATE: u64 = 1 << 28;
    pub const DCCP_ROLE: u64 = 1 << 29;
    pub const SNAT_IP: u64 = 1 << 30;
    pub const DNAT_IP: u64 = 1 << 31;
    pub const SNAT_PORT: u64 = 1 << 32;
    pub const DNAT_PORT: u64 = 1 << 33;

    /// Whether every bit of `a` is set.
    pub fn has(self, a: u64) -> bool {
        self.0 & a == a
    }

    /// Sets `a`.
    pub fn set(&mut self, a: u64) {
        self.0 |= a;
    }
}

/// One of conntrack's template objects: values in `flow`, presence in `attrs`.
///
/// Values are host order. For ICMP the type/code/id live in `flow.orig`. NAT targets
/// (`-n/-g/-j IP[:port]`) are kept apart in `snat`/`dnat` (`ATTR_SNAT_*`/`ATTR_DNAT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtTemplate {
    /// Attribute values.
    pub flow: Flow,
    /// Which attributes are set.
    pub attrs: Attrs,
    /// `ATTR_SNAT_IPV4/IPV6` (`-n IP`).
    pub snat_ip: Option<IpAddr>,
    /// `ATTR_SNAT_PORT` (`-n IP:port`).
    pub snat_port: Option<u16>,
    /// `ATTR_DNAT_IPV4/IPV6` (`-g IP`).
    pub dnat_ip: Option<IpAddr>,
    /// `ATTR_DNAT_PORT`.
    pub dnat_port: Option<u16>,
}

/// `-m/--mark VALUE[/MASK]` (`struct u32_mask`; mask defaults to all ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkMask {
    /// Value.
    pub value: u32,
    /// Mask.
    pub mask: u32,
}

/// `-u/--status` as conntrack keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusSpec {
    /// The bits named without `!` (also set as `ATTR_STATUS` in [`CompatRequest::ct`]).
    pub value: u32,
    /// The kernel dump filter mask (`filter_status_kernel.mask`): the `!X`/UNREPLIED bits, or
    /// `value` when none was negated.
    pub kernel_mask: u32,
}

/// `-o/--output` flags (`_O_*`), plus ctkit's `json`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputFlags(pub u32);

#[allow(missing_docs)]
impl OutputFlags {
    pub const XML: u32 = 1 << 0;
    pub const EXTENDED: u32 = 1 << 1;
    pub const TIMESTAMP: u32 = 1 << 2;
    pub const ID: u32 = 1 << 3;
    pub const KTIMESTAMP: u32 = 1 << 4;
    pub const LABELS: u32 = 1 << 5;
    pub const SAVE: u32 = 1 << 6;
    /// ctkit extension: one JSON object per line.
    pub const JSON: u32 = 1 << 7;

    /// Whether `f` is set.
    pub fn has(self, f: u32) -> bool {
        self.0 & f != 0
    }
}

/// `-e/--event-mask` (`CT_EVENT_F_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventMask(pub u32);

#[allow(missing_docs)]
impl EventMask {
    pub const NEW: u32 = 1;
    pub const UPDATES: u32 = 2;
    pub const DESTROY: u32 = 4;
    pub const ALL: u32 = 7;

    /// The netlink multicast groups to join for conntrack events (`NFNLGRP_CONNTRACK_NEW` = 1,
    /// `_UPDATE` = 2, `_DESTROY` = 3), or for expectation events (`_EXP_NEW` = 4, `_EXP_UPDATE`
    /// = 5, `_EXP_DESTROY` = 6). Without `-e`, conntrack joins all three.
    pub fn groups(self, expect: bool) -> Vec<u32> {
        let base = if expect { 3 } else { 0 };
        let mut g = Vec::new();
        for (bit, grp) in [(Self::NEW, 1), (Self::UPDATES, 2), (Self::DESTROY, 3)] {
            if self.0 & bit != 0 {
                g.push(base + grp);
            }
        }
        g
    }
}

/// `--label-add` / `--label-del`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelModify {
    /// `--label-add A[,B]`: set these bits.
    Add(Labels),
    /// `--label-del [A,B]`: clear these bits, or all labels when `None`.
    Del(Option<Labels>),
}

/// A connlabel map (`/etc/xtables/connlabel.conf`): bit ↔ name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelMap {
    /// (bit, name) in file order, first name per bit wins for printing.
    pub entries: Vec<(u32, String)>,
}

impl LabelMap {
    /// The bit of a name (`nfct_labelmap_get_bit`).
    pub fn bit(&self, name: &str) -> Option<u32> {
        self.entries
            .iter()
            .find(|(_, n)| n == name)
            .map(|(b, _)| *b)
    }

    /// The name of a bit (`nfct_labelmap_get_name`).
    pub fn name(&self, bit: u32) -> Option<&str> {
        self.entries
            .iter()
            .find(|(b, _)| *b == bit)
            .map(|(_, n)| n.as_str())
    }
}

/// The `-p` protocol as conntrack resolved it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protocol {
    /// Protocol number (`ATTR_L4PROTO`).
    pub num: u8,
    /// The extension handling it (`Unknown` for names from /etc/protocols and other numbers).
    pub handler: ProtoHandler,
}

/// A fully parsed and validated conntrack command.
#[derive(Clone, Debug, PartialEq)]
pub struct CompatRequest {
    /// The command.
    pub command: Command,
    /// The table (`expect` selects the expectation variant of the command).
    pub table: Table,
    /// The matrix row conntrack validated against (`cmd->cmd`).
    pub row: CmdRow,
    /// The family for the request header and kernel dump filter (`cmd->family`).
    pub family: AddrFamily,
    /// Which options were given (`cmd->options`).
    pub options: OptionSet,
    /// The last `-p` (protocol handler `h`) if any.
    pub proto: Option<Protocol>,
    /// `tmpl->ct`: the conntrack object (tuples, status, timeout, zones, protoinfo, NAT).
    pub ct: CtTemplate,
    /// `tmpl->exptuple`: the expectation tuple (`--tuple-src/dst`, `--tuple-port-*`).
    pub exptuple: CtTemplate,
    /// `tmpl->mask`: the expectation mask (`--mask-src/dst`, CIDR masks, `--mask-port-*`).
    pub mask: CtTemplate,
    /// For expectation commands: master = `ct.flow.orig`, tuple = `exptuple.flow.orig`,
    /// mask = `mask.flow.orig`, timeout from `-t` (`ATTR_EXP_TIMEOUT`).
    pub expect: Option<Expect>,
    /// `-m`.
    pub mark: Option<MarkMask>,
    /// `-u`.
    pub status: Option<StatusSpec>,
    /// `-z`: dump with `IPCTNL_MSG_CT_GET_CTRZERO`.
    pub zero: bool,
    /// `-o` (cumulative: in `-R` mode conntrack keeps one global mask for every line).
    pub output: OutputFlags,
    /// `-e` (only meaningful when `options` has `EventMask`).
    pub event_mask: EventMask,
    /// `-b` (`atol`, as `size_t`).
    pub buffer_size: Option<u64>,
    /// `-l`: every listed label must be set (AND).
    pub label_filter: Option<Labels>,
    /// `--label-add` / `--label-del`.
    pub label_modify: Option<LabelModify>,
    /// The loaded label map, when any label option or `-o labels` asked for it (also used to
    /// print `labels=` names).
    pub labelmap: Option<LabelMap>,
    /// The userspace filter conntrack applies on -L/-D/-E (and, partly, -U).
    pub filter: FlowFilter,
    /// A parameter error conntrack only raises when executing (`Can't use -z with filtering
    /// parameters`, `Can't use --mask-src without --src`): the executor must report it where
    /// conntrack does (before dumping for -L/-D/-U; after opening the event socket and the
    /// buffer-size NOTICE for -E).
    pub deferred_error: Option<CompatError>,
    /// For `-h -p X`: the name to print in ``Proto `X' help:`` and the help text.
    pub proto_help: Option<(String, &'static str)>,
}
