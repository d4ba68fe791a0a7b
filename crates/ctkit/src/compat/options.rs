//! The option registry of conntrack(8) 1.4.7: every long/short option, its argument kind, the
//! command × option matrix and the per-protocol matrices, all as data.
//!
//! Facts follow conntrack-tools 1.4.7 `src/conntrack.c` (`original_opts`, `getopt_str`,
//! `commands_v_options`, `optflags`) and `extensions/libct_proto_*.c` (`opts`,
//! `*_commands_v_options`, `*_optflags`). Column order and long-name order matter: getopt_long
//! resolves prefixes in table order and the matrix check reports the first failing column.

/// How an option takes its argument (`struct option.has_arg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `no_argument`.
    None,
    /// `required_argument`.
    Required,
    /// `optional_argument`: only an attached value (`-Lx`, `--dump=x`) is an optarg; conntrack
    /// itself may then peek at the next argv word.
    Optional,
}

/// One entry of a getopt_long option table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongOpt {
    /// Long name without the leading `--`.
    pub name: &'static str,
    /// Argument kind.
    pub arg: ArgKind,
    /// The value getopt returns: the short letter for generic options, the protocol-local code
    /// for protocol options (the merged table adds a multiple of 256, like conntrack).
    pub val: u32,
}

const fn lo(name: &'static str, arg: ArgKind, val: char) -> LongOpt {
    LongOpt {
        name,
        arg,
        val: val as u32,
    }
}

use ArgKind::{None as N, Optional as O, Required as R};

/// `original_opts` in conntrack 1.4.7, in table order, plus ctkit's `--labelmap` (1.4.9).
pub const GENERIC_LONG_OPTS: &[LongOpt] = &[
    lo("dump", O, 'L'),
    lo("create", O, 'I'),
    lo("add", O, 'A'),
    lo("delete", O, 'D'),
    lo("update", O, 'U'),
    lo("get", O, 'G'),
    lo("flush", O, 'F'),
    lo("event", O, 'E'),
    lo("counter", O, 'C'),
    lo("stats", N, 'S'),
    lo("version", N, 'V'),
    lo("help", N, 'h'),
    lo("orig-src", R, 's'),
    lo("src", R, 's'),
    lo("orig-dst", R, 'd'),
    lo("dst", R, 'd'),
    lo("reply-src", R, 'r'),
    lo("reply-dst", R, 'q'),
    lo("protonum", R, 'p'),
    lo("timeout", R, 't'),
    lo("status", R, 'u'),
    lo("zero", N, 'z'),
    lo("event-mask", R, 'e'),
    lo("tuple-src", R, '['),
    lo("tuple-dst", R, ']'),
    lo("mask-src", R, '{'),
    lo("mask-dst", R, '}'),
    lo("nat-range", R, 'a'),
    lo("mark", R, 'm'),
    lo("secmark", R, 'c'),
    lo("id", O, 'i'),
    lo("family", R, 'f'),
    lo("src-nat", O, 'n'),
    lo("dst-nat", O, 'g'),
    lo("output", R, 'o'),
    lo("buffer-size", R, 'b'),
    lo("any-nat", O, 'j'),
    lo("zone", R, 'w'),
    lo("label", R, 'l'),
    lo("label-add", R, '<'),
    lo("label-del", O, '>'),
    lo("orig-zone", R, '('),
    lo("reply-zone", R, ')'),
    // ctkit extension taken from conntrack-tools 1.4.9: `--labelmap PATH`.
    lo("labelmap", R, LABELMAP_VAL),
];

/// getopt value of the `--labelmap` extension (no short form; any char outside the short string).
pub const LABELMAP_VAL: char = '\u{7f}';

/// conntrack 1.4.7's `getopt_str` (leading `:`: report missing arguments as `:`, print nothing).
pub const GETOPT_STR: &str =
    ":L::I::U::D::G::E::F::A::hVs:d:r:q:p:t:u:e:a:z[:]:{:}:m:i:f:o:n::g::c:b:C::Sj::w:l:<:>::(:):";

/// The columns of the command × option matrix (`enum ct_options`, bit = column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Col {
    /// `CT_OPT_ORIG_SRC` (`-s`).
    OrigSrc = 0,
    /// `CT_OPT_ORIG_DST` (`-d`).
    OrigDst,
    /// `CT_OPT_REPL_SRC` (`-r`).
    ReplSrc,
    /// `CT_OPT_REPL_DST` (`-q`).
    ReplDst,
    /// `CT_OPT_PROTO` (`-p`).
    Proto,
    /// `CT_OPT_TIMEOUT` (`-t`).
    Timeout,
    /// `CT_OPT_STATUS` (`-u`).
    Status,
    /// `CT_OPT_ZERO` (`-z`).
    Zero,
    /// `CT_OPT_EVENT_MASK` (`-e`).
    EventMask,
    /// `CT_OPT_EXP_SRC` (`--tuple-src`).
    ExpSrc,
    /// `CT_OPT_EXP_DST` (`--tuple-dst`).
    ExpDst,
    /// `CT_OPT_MASK_SRC` (`--mask-src`, or CIDR on `-s`/`--tuple-src`).
    MaskSrc,
    /// `CT_OPT_MASK_DST`.
    MaskDst,
    /// `CT_OPT_NATRANGE` (never set: `-a` is ignored).
    NatRange,
    /// `CT_OPT_MARK` (`-m`).
    Mark,
    /// `CT_OPT_ID` (`-i`).
    Id,
    /// `CT_OPT_FAMILY` (`-f`).
    Family,
    /// `CT_OPT_SRC_NAT` (`-n`).
    SrcNat,
    /// `CT_OPT_DST_NAT` (`-g`).
    DstNat,
    /// `CT_OPT_OUTPUT` (`-o`).
    Output,
    /// `CT_OPT_SECMARK` (`-c`).
    Secmark,
    /// `CT_OPT_BUFFERSIZE` (`-b`).
    BufferSize,
    /// `CT_OPT_ANY_NAT` (`-j`).
    AnyNat,
    /// `CT_OPT_ZONE` (`-w`).
    Zone,
    /// `CT_OPT_LABEL` (`-l`).
    Label,
    /// `CT_OPT_ADD_LABEL` (`--label-add`).
    AddLabel,
    /// `CT_OPT_DEL_LABEL` (`--label-del`).
    DelLabel,
    /// `CT_OPT_ORIG_ZONE` (`--orig-zone`).
    OrigZone,
    /// `CT_OPT_REPL_ZONE` (`--reply-zone`).
    ReplZone,
}

/// `NUMBER_OF_OPT`.
pub const NUMBER_OF_OPT: usize = 29;

/// `optflags`: the name each column is reported with in matrix errors.
pub const OPTFLAGS: [&str; NUMBER_OF_OPT] = [
    "src",
    "dst",
    "reply-src",
    "reply-dst",
    "protonum",
    "timeout",
    "status",
    "zero",
    "event-mask",
    "tuple-src",
    "tuple-dst",
    "mask-src",
    "mask-dst",
    "nat-range",
    "mark",
    "id",
    "family",
    "src-nat",
    "dst-nat",
    "output",
    "secmark",
    "buffer-size",
    "any-nat",
    "zone",
    "label",
    "label-add",
    "label-del",
    "orig-zone",
    "reply-zone",
];

impl Col {
    /// The bit of this column in an option set.
    pub const fn bit(self) -> u32 {
        1 << (self as u8)
    }

    /// The column a generic short letter sets (`opt2type` plus the fixed ones), if any.
    pub fn of_val(c: char) -> Option<Col> {
        Some(match c {
            's' => Col::OrigSrc,
            'd' => Col::OrigDst,
            'r' => Col::ReplSrc,
            'q' => Col::ReplDst,
            'p' => Col::Proto,
            't' => Col::Timeout,
            'u' => Col::Status,
            'z' => Col::Zero,
            'e' => Col::EventMask,
            '[' => Col::ExpSrc,
            ']' => Col::ExpDst,
            '{' => Col::MaskSrc,
            '}' => Col::MaskDst,
            'm' => Col::Mark,
            'i' => Col::Id,
            'f' => Col::Family,
            'n' => Col::SrcNat,
            'g' => Col::DstNat,
            'o' => Col::Output,
            'c' => Col::Secmark,
            'b' => Col::BufferSize,
            'j' => Col::AnyNat,
            'w' => Col::Zone,
            'l' => Col::Label,
            '<' => Col::AddLabel,
            '>' => Col::DelLabel,
            '(' => Col::OrigZone,
            ')' => Col::ReplZone,
            _ => return None,
        })
    }
}

/// Matrix rows (`enum ct_command` bit numbers in conntrack.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CmdRow {
    /// `CT_LIST`.
    CtList = 0,
    /// `CT_CREATE`.
    CtCreate,
    /// `CT_UPDATE`.
    CtUpdate,
    /// `CT_DELETE`.
    CtDelete,
    /// `CT_GET`.
    CtGet,
    /// `CT_FLUSH`.
    CtFlush,
    /// `CT_EVENT`.
    CtEvent,
    /// `CT_VERSION`.
    CtVersion,
    /// `CT_HELP`.
    CtHelp,
    /// `EXP_LIST`.
    ExpList,
    /// `EXP_CREATE`.
    ExpCreate,
    /// `EXP_DELETE`.
    ExpDelete,
    /// `EXP_GET`.
    ExpGet,
    /// `EXP_FLUSH`.
    ExpFlush,
    /// `EXP_EVENT`.
    ExpEvent,
    /// `CT_COUNT`.
    CtCount,
    /// `EXP_COUNT`.
    ExpCount,
    /// `CT_STATS`.
    CtStats,
    /// `EXP_STATS`.
    ExpStats,
    /// `CT_ADD`.
    CtAdd,
    /// No command given: conntrack indexes one past the table, which reads as all zeros.
    None,
}

/// `NUMBER_OF_CMD`.
pub const NUMBER_OF_CMD: usize = 20;

/// Matrix cell meaning.
pub const ILLEGAL: u8 = 0;
/// Compulsory.
pub const COMPULSORY: u8 = 1;
/// Optional.
pub const OPTIONAL: u8 = 2;
/// "Need (src and dst) or (reply-src and reply-dst)".
pub const PAIRED: u8 = 3;

/// `commands_v_options` of conntrack 1.4.7. Columns: s d r q p t u z e [ ] { } a m i f n g o c b
/// j w l < > ( ).
pub const COMMANDS_V_OPTIONS: [[u8; NUMBER_OF_OPT]; NUMBER_OF_CMD] = [
    /* CT_LIST */
    [
        2, 2, 2, 2, 2, 0, 2, 2, 0, 0, 0, 2, 2, 0, 2, 0, 2, 2, 2, 2, 2, 0, 2, 2, 2, 0, 0, 2, 2,
    ],
    /* CT_CREATE */
    [
        3, 3, 3, 3, 1, 1, 2, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 0, 0, 2, 0, 2, 0, 2, 2,
    ],
    /* CT_UPDATE */
    [
        2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 0, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 0, 0,
    ],
    /* CT_DELETE */
    [
        2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 0, 2, 2, 2, 2, 2, 2, 0, 0, 0, 2, 2, 0, 0, 2, 2,
    ],
    /* CT_GET */
    [
        3, 3, 3, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0,
    ],
    /* CT_FLUSH */
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    /* CT_EVENT */
    [
        2, 2, 2, 2, 2, 0, 0, 0, 2, 0, 0, 2, 2, 0, 2, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 2, 2,
    ],
    /* CT_VERSION */
    [0; NUMBER_OF_OPT],
    /* CT_HELP */
    [
        0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    /* EXP_LIST */
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    /* EXP_CREATE */
    [
        1, 1, 2, 2, 1, 1, 2, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    /* EXP_DELETE */
    [
        1, 1, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    /* EXP_GET */
    [
        1, 1, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    /* EXP_FLUSH */
    [0; NUMBER_OF_OPT],
    /* EXP_EVENT */
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    /* CT_COUNT */
    [0; NUMBER_OF_OPT],
    /* EXP_COUNT */
    [0; NUMBER_OF_OPT],
    /* CT_STATS */
    [0; NUMBER_OF_OPT],
    /* EXP_STATS */
    [0; NUMBER_OF_OPT],
    /* CT_ADD */
    [
        3, 3, 3, 3, 1, 1, 2, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 0, 0, 2, 0, 2, 0, 2, 2,
    ],
];

/// The matrix row of a command (all zeros for "no command").
pub fn matrix_row(row: CmdRow) -> [u8; NUMBER_OF_OPT] {
    match row {
        CmdRow::None => [0; NUMBER_OF_OPT],
        r => COMMANDS_V_OPTIONS[r as usize],
    }
}

/// The protocols conntrack has an extension for (`extensions/libct_proto_*.c`), plus the
/// "unknown" handler used for any other protocol number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtoHandler {
    /// `libct_proto_tcp.c`.
    Tcp,
    /// `libct_proto_udp.c`.
    Udp,
    /// `libct_proto_udplite.c`.
    Udplite,
    /// `libct_proto_sctp.c`.
    Sctp,
    /// `libct_proto_dccp.c`.
    Dccp,
    /// `libct_proto_icmp.c`.
    Icmp,
    /// `libct_proto_icmpv6.c`.
    Icmpv6,
    /// `libct_proto_gre.c`.
    Gre,
    /// `libct_proto_unknown.c` (no options).
    Unknown,
}

/// What a protocol option does (its meaning in the handler's `parse_options`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtoOpt {
    /// Original source port / GRE key.
    OrigSport,
    /// Original destination port / GRE key.
    OrigDport,
    /// Reply source port / key.
    ReplSport,
    /// Reply destination port / key.
    ReplDport,
    /// Expectation mask source port / key.
    MaskSport,
    /// Expectation mask destination port / key.
    MaskDport,
    /// `--state`.
    State,
    /// Expectation tuple source port / key.
    TupleSport,
    /// Expectation tuple destination port / key.
    TupleDport,
    /// SCTP `--orig-vtag`.
    OrigVtag,
    /// SCTP `--reply-vtag`.
    ReplVtag,
    /// DCCP `--role`.
    Role,
    /// ICMP/ICMPv6 type.
    IcmpType,
    /// ICMP/ICMPv6 code.
    IcmpCode,
    /// ICMP/ICMPv6 id.
    IcmpId,
}

/// One protocol's option table, matrix and messages.
#[derive(Debug)]
pub struct ProtoSpec {
    /// Handler.
    pub handler: ProtoHandler,
    /// Name as conntrack registers it (matched case-insensitively by `-p`).
    pub name: &'static str,
    /// IANA protocol number.
    pub protonum: u8,
    /// The `opts` table, in order; `val` is the handler-local code.
    pub opts: &'static [LongOpt],
    /// Handler-local code → meaning and flag bit (`1 << bit`).
    pub codes: &'static [(u32, ProtoOpt, u8)],
    /// `*_optflags`, indexed by flag bit (names in matrix errors).
    pub optflags: &'static [&'static str],
    /// `*_commands_v_options`: rows indexed like [`COMMANDS_V_OPTIONS`], columns = flag bits.
    pub matrix: &'static [&'static [u8]],
    /// Number of columns checked (`*_NUMBER_OF_OPT`/`*_OPT_MAX`).
    pub num_opts: usize,
    /// Message for the "3" rule when the partial match is the original pair (or none).
    pub pair_msg_orig: &'static str,
    /// Message for the "3" rule when the partial match is the reply pair.
    pub pair_msg_reply: &'static str,
    /// Whether the handler applies the "3" pairing rule at all (icmp does not).
    pub paired: bool,
    /// `help()` text printed after the usage for `-h -p NAME`.
    pub help: &'static str,
}

const fn lv(name: &'static str, val: u32) -> LongOpt {
    LongOpt { name, arg: R, val }
}

const PORT_MATRIX: &[&[u8]] = &[
    /* CT_LIST */ &[2, 2, 2, 2, 0, 0, 2, 0, 0],
    /* CT_CREATE */ &[3, 3, 3, 3, 0, 0, 1, 0, 0],
    /* CT_UPDATE */ &[2, 2, 2, 2, 0, 0, 2, 0, 0],
    /* CT_DELETE */ &[2, 2, 2, 2, 0, 0, 2, 0, 0],
    /* CT_GET */ &[3, 3, 3, 3, 0, 0, 2, 0, 0],
    /* CT_FLUSH */ &[0; 9],
    /* CT_EVENT */ &[2, 2, 2, 2, 0, 0, 2, 0, 0],
    /* CT_VERSION */ &[0; 9],
    /* CT_HELP */ &[0; 9],
    /* EXP_LIST */ &[0; 9],
    /* EXP_CREATE */ &[1, 1, 0, 0, 1, 1, 0, 1, 1],
    /* EXP_DELETE */ &[1, 1, 1, 1, 0, 0, 0, 0, 0],
    /* EXP_GET */ &[1, 1, 1, 1, 0, 0, 0, 0, 0],
    /* EXP_FLUSH */ &[0; 9],
    /* EXP_EVENT */ &[0; 9],
    /* CT_COUNT */ &[0; 9],
    /* EXP_COUNT */ &[0; 9],
    /* CT_STATS */ &[0; 9],
    /* EXP_STATS */ &[0; 9],
    /* CT_ADD */ &[3, 3, 3, 3, 0, 0, 1, 0, 0],
];

const UDP_MATRIX: &[&[u8]] = &[
    /* CT_LIST */ &[2, 2, 2, 2, 0, 0, 0, 0],
    /* CT_CREATE */ &[3, 3, 3, 3, 0, 0, 0, 0],
    /* CT_UPDATE */ &[2, 2, 2, 2, 0, 0, 0, 0],
    /* CT_DELETE */ &[2, 2, 2, 2, 0, 0, 0, 0],
    /* CT_GET */ &[3, 3, 3, 3, 0, 0, 0, 0],
    /* CT_FLUSH */ &[0; 8],
    /* CT_EVENT */ &[2, 2, 2, 2, 0, 0, 0, 0],
    /* CT_VERSION */ &[0; 8],
    /* CT_HELP */ &[0; 8],
    /* EXP_LIST */ &[0; 8],
    /* EXP_CREATE */ &[1, 1, 0, 0, 1, 1, 1, 1],
    /* EXP_DELETE */ &[1, 1, 1, 1, 0, 0, 0, 0],
    /* EXP_GET */ &[1, 1, 1, 1, 0, 0, 0, 0],
    /* EXP_FLUSH */ &[0; 8],
    /* EXP_EVENT */ &[0; 8],
    /* CT_COUNT */ &[0; 8],
    /* EXP_COUNT */ &[0; 8],
    /* CT_STATS */ &[0; 8],
    /* EXP_STATS */ &[0; 8],
    /* CT_ADD */ &[3, 3, 3, 3, 0, 0, 0, 0],
];

const GRE_MATRIX: &[&[u8]] = &[
    /* CT_LIST */ &[2, 2, 2, 2, 0, 0, 0, 0],
    /* CT_CREATE */ &[3, 3, 3, 3, 0, 0, 0, 0],
    /* CT_UPDATE */ &[2, 2, 2, 2, 0, 0, 0, 0],
    /* CT_DELETE */ &[2, 2, 2, 2, 0, 0, 0, 0],
    /* CT_GET */ &[3, 3, 3, 3, 0, 0, 0, 0],
    /* CT_FLUSH */ &[0; 8],
    /* CT_EVENT */ &[2, 2, 2, 2, 0, 0, 0, 0],
    /* CT_VERSION */ &[0; 8],
    /* CT_HELP */ &[0; 8],
    /* EXP_LIST */ &[0; 8],
    /* EXP_CREATE */ &[1, 1, 1, 1, 1, 1, 1, 1],
    /* EXP_DELETE */ &[1, 1, 1, 1, 0, 0, 0, 0],
    /* EXP_GET */ &[1, 1, 1, 1, 0, 0, 0, 0],
    /* EXP_FLUSH */ &[0; 8],
    /* EXP_EVENT */ &[0; 8],
    /* CT_COUNT */ &[0; 8],
    /* EXP_COUNT */ &[0; 8],
    /* CT_STATS */ &[0; 8],
    /* EXP_STATS */ &[0; 8],
    /* CT_ADD */ &[3, 3, 3, 3, 0, 0, 0, 0],
];

const SCTP_MATRIX: &[&[u8]] = &[
    /* CT_LIST */ &[2, 2, 2, 2, 0, 0, 2, 0, 0, 0, 0],
    /* CT_CREATE */ &[3, 3, 3, 3, 0, 0, 1, 0, 0, 1, 1],
    /* CT_UPDATE */ &[2, 2, 2, 2, 0, 0, 2, 0, 0, 2, 2],
    /* CT_DELETE */ &[2, 2, 2, 2, 0, 0, 2, 0, 0, 0, 0],
    /* CT_GET */ &[3, 3, 3, 3, 0, 0, 2, 0, 0, 2, 2],
    /* CT_FLUSH */ &[0; 11],
    /* CT_EVENT */ &[2, 2, 2, 2, 0, 0, 2, 0, 0, 0, 0],
    /* CT_VERSION */ &[0; 11],
    /* CT_HELP */ &[0; 11],
    /* EXP_LIST */ &[0; 11],
    /* EXP_CREATE */ &[1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1],
    /* EXP_DELETE */ &[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    /* EXP_GET */ &[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    /* EXP_FLUSH */ &[0; 11],
    /* EXP_EVENT */ &[0; 11],
    /* CT_COUNT */ &[0; 11],
    /* EXP_COUNT */ &[0; 11],
    /* CT_STATS */ &[0; 11],
    /* EXP_STATS */ &[0; 11],
    /* CT_ADD */ &[3, 3, 3, 3, 0, 0, 1, 0, 0, 1, 1],
];

const DCCP_MATRIX: &[&[u8]] = &[
    /* CT_LIST */ &[2, 2, 2, 2, 0, 0, 2, 0, 0, 0],
    /* CT_CREATE */ &[3, 3, 3, 3, 0, 0, 1, 0, 0, 1],
    /* CT_UPDATE */ &[2, 2, 2, 2, 0, 0, 2, 0, 0, 0],
    /* CT_DELETE */ &[2, 2, 2, 2, 0, 0, 2, 0, 0, 0],
    /* CT_GET */ &[3, 3, 3, 3, 0, 0, 2, 0, 0, 0],
    /* CT_FLUSH */ &[0; 10],
    /* CT_EVENT */ &[2, 2, 2, 2, 0, 0, 2, 0, 0, 0],
    /* CT_VERSION */ &[0; 10],
    /* CT_HELP */ &[0; 10],
    /* EXP_LIST */ &[0; 10],
    /* EXP_CREATE */ &[1, 1, 0, 0, 1, 1, 0, 1, 1, 1],
    /* EXP_DELETE */ &[1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
    /* EXP_GET */ &[1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
    /* EXP_FLUSH */ &[0; 10],
    /* EXP_EVENT */ &[0; 10],
    /* CT_COUNT */ &[0; 10],
    /* EXP_COUNT */ &[0; 10],
    /* CT_STATS */ &[0; 10],
    /* EXP_STATS */ &[0; 10],
    /* CT_ADD */ &[3, 3, 3, 3, 0, 0, 1, 0, 0, 1],
];

const ICMP_MATRIX: &[&[u8]] = &[
    /* CT_LIST */ &[2, 2, 2],
    /* CT_CREATE */ &[1, 1, 2],
    /* CT_UPDATE */ &[2, 2, 2],
    /* CT_DELETE */ &[2, 2, 2],
    /* CT_GET */ &[1, 1, 2],
    /* CT_FLUSH */ &[0; 3],
    /* CT_EVENT */ &[2, 2, 2],
    /* CT_VERSION */ &[0; 3],
    /* CT_HELP */ &[0; 3],
    /* EXP_LIST */ &[0; 3],
    /* EXP_CREATE */ &[0; 3],
    /* EXP_DELETE */ &[0; 3],
    /* EXP_GET */ &[0; 3],
    /* EXP_FLUSH */ &[0; 3],
    /* EXP_EVENT */ &[0; 3],
    /* CT_COUNT */ &[0; 3],
    /* EXP_COUNT */ &[0; 3],
    /* CT_STATS */ &[0; 3],
    /* EXP_STATS */ &[0; 3],
    /* CT_ADD */ &[1, 1, 2],
];

use ProtoOpt as P;

const PORT_CODES_TCP: &[(u32, ProtoOpt, u8)] = &[
    ('1' as u32, P::OrigSport, 0),
    ('2' as u32, P::OrigDport, 1),
    ('3' as u32, P::ReplSport, 2),
    ('4' as u32, P::ReplDport, 3),
    ('5' as u32, P::MaskSport, 4),
    ('6' as u32, P::MaskDport, 5),
    ('7' as u32, P::State, 6),
    ('8' as u32, P::TupleSport, 7),
    ('9' as u32, P::TupleDport, 8),
];

const PORT_CODES_UDP: &[(u32, ProtoOpt, u8)] = &[
    ('1' as u32, P::OrigSport, 0),
    ('2' as u32, P::OrigDport, 1),
    ('3' as u32, P::ReplSport, 2),
    ('4' as u32, P::ReplDport, 3),
    ('5' as u32, P::MaskSport, 4),
    ('6' as u32, P::MaskDport, 5),
    ('7' as u32, P::TupleSport, 6),
    ('8' as u32, P::TupleDport, 7),
];

const CODES_SCTP: &[(u32, ProtoOpt, u8)] = &[
    (1, P::OrigSport, 0),
    (2, P::OrigDport, 1),
    (3, P::ReplSport, 2),
    (4, P::ReplDport, 3),
    (5, P::MaskSport, 4),
    (6, P::MaskDport, 5),
    (7, P::State, 6),
    (8, P::TupleSport, 7),
    (9, P::TupleDport, 8),
    (10, P::OrigVtag, 9),
    (11, P::ReplVtag, 10),
];

const CODES_DCCP: &[(u32, ProtoOpt, u8)] = &[
    (1, P::OrigSport, 0),
    (2, P::OrigDport, 1),
    (3, P::ReplSport, 2),
    (4, P::ReplDport, 3),
    (5, P::MaskSport, 4),
    (6, P::MaskDport, 5),
    (7, P::State, 6),
    (8, P::TupleSport, 7),
    (9, P::TupleDport, 8),
    (10, P::Role, 9),
];

const CODES_ICMP: &[(u32, ProtoOpt, u8)] = &[
    ('1' as u32, P::IcmpType, 0),
    ('2' as u32, P::IcmpCode, 1),
    ('3' as u32, P::IcmpId, 2),
];

const PORT_HELP: &str = "  --orig-port-src\t\toriginal source port\n  --orig-port-dst\t\toriginal destination port\n  --reply-port-src\t\treply source port\n  --reply-port-dst\t\treply destination port\n  --mask-port-src\t\tmask source port\n  --mask-port-dst\t\tmask destination port\n  --tuple-port-src\t\texpectation tuple src port\n  --tuple-port-src\t\texpectation tuple dst port\n";

/// Every protocol extension of conntrack 1.4.7.
pub const PROTOS: &[ProtoSpec] = &[
    ProtoSpec {
        handler: ProtoHandler::Tcp,
        name: "tcp",
        protonum: 6,
        opts: &[
            lv("orig-port-src", '1' as u32),
            lv("sport", '1' as u32),
            lv("orig-port-dst", '2' as u32),
            lv("dport", '2' as u32),
            lv("reply-port-src", '3' as u32),
            lv("reply-port-dst", '4' as u32),
            lv("mask-port-src", '5' as u32),
            lv("mask-port-dst", '6' as u32),
            lv("state", '7' as u32),
            lv("tuple-port-src", '8' as u32),
            lv("tuple-port-dst", '9' as u32),
        ],
        codes: PORT_CODES_TCP,
        optflags: &[
            "sport",
            "dport",
            "reply-port-src",
            "reply-port-dst",
            "mask-port-src",
            "mask-port-dst",
            "state",
            "tuple-port-src",
            "tuple-port-dst",
        ],
        matrix: PORT_MATRIX,
        num_opts: 10,
        pair_msg_orig: "you have to specify `--sport' and `--dport'",
        pair_msg_reply: "you have to specify `--reply-src-port' and `--reply-dst-port'",
        paired: true,
        help: "  --orig-port-src\t\toriginal source port\n  --orig-port-dst\t\toriginal destination port\n  --reply-port-src\t\treply source port\n  --reply-port-dst\t\treply destination port\n  --mask-port-src\t\tmask source port\n  --mask-port-dst\t\tmask destination port\n  --tuple-port-src\t\texpectation tuple src port\n  --tuple-port-src\t\texpectation tuple dst port\n  --state\t\t\tTCP state, fe. ESTABLISHED\n",
    },
    ProtoSpec {
        handler: ProtoHandler::Udp,
        name: "udp",
        protonum: 17,
        opts: &[
            lv("orig-port-src", '1' as u32),
            lv("sport", '1' as u32),
            lv("orig-port-dst", '2' as u32),
            lv("dport", '2' as u32),
            lv("reply-port-src", '3' as u32),
            lv("reply-port-dst", '4' as u32),
            lv("mask-port-src", '5' as u32),
            lv("mask-port-dst", '6' as u32),
            lv("tuple-port-src", '7' as u32),
            lv("tuple-port-dst", '8' as u32),
        ],
        codes: PORT_CODES_UDP,
        optflags: &[
            "sport",
            "dport",
            "reply-port-src",
            "reply-port-dst",
            "mask-port-src",
            "mask-port-dst",
            "tuple-port-src",
            "tuple-port-dst",
        ],
        matrix: UDP_MATRIX,
        num_opts: 9,
        pair_msg_orig: "you have to specify `--sport' and `--dport'",
        pair_msg_reply: "you have to specify `--reply-src-port' and `--reply-dst-port'",
        paired: true,
        help: PORT_HELP,
    },
    ProtoSpec {
        handler: ProtoHandler::Udplite,
        name: "udplite",
        protonum: 136,
        opts: &[
            lv("orig-port-src", '1' as u32),
            lv("orig-port-dst", '2' as u32),
            lv("reply-port-src", '3' as u32),
            lv("reply-port-dst", '4' as u32),
            lv("mask-port-src", '5' as u32),
            lv("mask-port-dst", '6' as u32),
            lv("tuple-port-src", '7' as u32),
            lv("tuple-port-dst", '8' as u32),
            lv("sport", '1' as u32),
            lv("dport", '2' as u32),
        ],
        codes: PORT_CODES_UDP,
        optflags: &[
            "sport",
            "dport",
            "reply-port-src",
            "reply-port-dst",
            "mask-port-src",
            "mask-port-dst",
            "tuple-port-src",
            "tuple-port-dst",
        ],
        matrix: UDP_MATRIX,
        num_opts: 11,
        pair_msg_orig: "you have to specify `--sport' and `--dport'",
        pair_msg_reply: "you have to specify `--reply-src-port' and `--reply-dst-port'",
        paired: true,
        help: PORT_HELP,
    },
    ProtoSpec {
        handler: ProtoHandler::Sctp,
        name: "sctp",
        protonum: 132,
        opts: &[
            lv("orig-port-src", 1),
            lv("orig-port-dst", 2),
            lv("reply-port-src", 3),
            lv("reply-port-dst", 4),
            lv("mask-port-src", 5),
            lv("mask-port-dst", 6),
            lv("state", 7),
            lv("tuple-port-src", 8),
            lv("tuple-port-dst", 9),
            lv("orig-vtag", 10),
            lv("reply-vtag", 11),
            lv("sport", 1),
            lv("dport", 2),
        ],
        codes: CODES_SCTP,
        optflags: &[
            "sport",
            "dport",
            "reply-port-src",
            "reply-port-dst",
            "mask-port-src",
            "mask-port-dst",
            "state",
            "tuple-port-src",
            "tuple-port-dst",
            "orig-vtag",
            "reply-vtag",
        ],
        matrix: SCTP_MATRIX,
        num_opts: 14,
        pair_msg_orig: "you have to specify `--sport' and `--dport'",
        pair_msg_reply: "you have to specify `--reply-src-port' and `--reply-dst-port'",
        paired: true,
        help: "  --orig-port-src\t\toriginal source port\n  --orig-port-dst\t\toriginal destination port\n  --reply-port-src\t\treply source port\n  --reply-port-dst\t\treply destination port\n  --mask-port-src\t\tmask source port\n  --mask-port-dst\t\tmask destination port\n  --tuple-port-src\t\texpectation tuple src port\n  --tuple-port-src\t\texpectation tuple dst port\n  --state\t\t\tSCTP state, fe. ESTABLISHED\n  --orig-vtag\t\toriginal verification tag\n  --reply-vtag\t\treply verification tag\n",
    },
    ProtoSpec {
        handler: ProtoHandler::Dccp,
        name: "dccp",
        protonum: 33,
        opts: &[
            lv("orig-port-src", 1),
            lv("orig-port-dst", 2),
            lv("reply-port-src", 3),
            lv("reply-port-dst", 4),
            lv("mask-port-src", 5),
            lv("mask-port-dst", 6),
            lv("state", 7),
            lv("tuple-port-src", 8),
            lv("tuple-port-dst", 9),
            lv("sport", 1),
            lv("dport", 2),
            lv("role", 10),
        ],
        codes: CODES_DCCP,
        optflags: &[
            "sport",
            "dport",
            "reply-port-src",
            "reply-port-dst",
            "mask-port-src",
            "mask-port-dst",
            "state",
            "tuple-port-src",
            "tuple-port-dst",
            "role",
        ],
        matrix: DCCP_MATRIX,
        num_opts: 13,
        pair_msg_orig: "you have to specify `--sport' and `--dport'",
        pair_msg_reply: "you have to specify `--reply-port-src' and `--report-port-dst'",
        paired: true,
        help: "  --orig-port-src\t\toriginal source port\n  --orig-port-dst\t\toriginal destination port\n  --reply-port-src\t\treply source port\n  --reply-port-dst\t\treply destination port\n  --mask-port-src\t\tmask source port\n  --mask-port-dst\t\tmask destination port\n  --tuple-port-src\t\texpectation tuple src port\n  --tuple-port-src\t\texpectation tuple dst port\n  --state\t\t\tDCCP state, fe. RESPOND\n",
    },
    ProtoSpec {
        handler: ProtoHandler::Icmp,
        name: "icmp",
        protonum: 1,
        opts: &[
            lv("icmp-type", '1' as u32),
            lv("icmp-code", '2' as u32),
            lv("icmp-id", '3' as u32),
        ],
        codes: CODES_ICMP,
        optflags: &["icmp-type", "icmp-code", "icmp-id"],
        matrix: ICMP_MATRIX,
        num_opts: 4,
        pair_msg_orig: "",
        pair_msg_reply: "",
        paired: false,
        help: "  --icmp-type\t\t\ticmp type\n  --icmp-code\t\t\ticmp code\n  --icmp-id\t\t\ticmp id\n",
    },
    ProtoSpec {
        handler: ProtoHandler::Icmpv6,
        name: "icmpv6",
        protonum: 58,
        opts: &[
            lv("icmpv6-type", '1' as u32),
            lv("icmpv6-code", '2' as u32),
            lv("icmpv6-id", '3' as u32),
        ],
        codes: CODES_ICMP,
        optflags: &["icmpv6-type", "icmpv6-code", "icmpv6-id"],
        matrix: ICMP_MATRIX,
        num_opts: 4,
        pair_msg_orig: "",
        pair_msg_reply: "",
        paired: false,
        help: "  --icmpv6-type\t\t\ticmpv6 type\n  --icmpv6-code\t\t\ticmpv6 code\n  --icmpv6-id\t\t\ticmpv6 id\n",
    },
    ProtoSpec {
        handler: ProtoHandler::Gre,
        name: "gre",
        protonum: 47,
        opts: &[
            lv("orig-key-src", '1' as u32),
            lv("srckey", '1' as u32),
            lv("orig-key-dst", '2' as u32),
            lv("dstkey", '2' as u32),
            lv("reply-key-src", '3' as u32),
            lv("reply-key-dst", '4' as u32),
            lv("mask-key-src", '5' as u32),
            lv("mask-key-dst", '6' as u32),
            lv("tuple-key-src", '7' as u32),
            lv("tuple-key-dst", '8' as u32),
        ],
        codes: PORT_CODES_UDP,
        optflags: &[
            "srckey",
            "dstkey",
            "reply-key-src",
            "reply-key-dst",
            "mask-key-src",
            "mask-key-dst",
            "tuple-key-src",
            "tuple-key-dst",
        ],
        matrix: GRE_MATRIX,
        num_opts: 11,
        pair_msg_orig: "you have to specify `--srckey' and `--dstkey'",
        pair_msg_reply: "you have to specify `--reply-src-key' and `--reply-dst-key'",
        paired: true,
        help: "  --orig-key-src\t\toriginal source key\n  --orig-key-dst\t\toriginal destination key\n  --reply-key-src\t\treply source key\n  --reply-key-dst\t\treply destination key\n  --mask-key-src\t\tmask source key\n  --mask-key-dst\t\tmask destination key\n  --tuple-key-src\t\texpectation tuple src key\n  --tuple-key-src\t\texpectation tuple dst key\n",
    },
    ProtoSpec {
        handler: ProtoHandler::Unknown,
        name: "unknown",
        protonum: 0,
        opts: &[],
        codes: &[],
        optflags: &[],
        matrix: &[],
        num_opts: 0,
        pair_msg_orig: "",
        pair_msg_reply: "",
        paired: false,
        help: "  no options (unsupported)\n",
    },
];

/// The registered handlers in conntrack's lookup order (`register_proto` prepends, so the last
/// registered is searched first; the unknown handler is not in the list).
pub const LOOKUP_ORDER: [ProtoHandler; 8] = [
    ProtoHandler::Gre,
    ProtoHandler::Icmpv6,
    ProtoHandler::Icmp,
    ProtoHandler::Dccp,
    ProtoHandler::Sctp,
    ProtoHandler::Udplite,
    ProtoHandler::Udp,
    ProtoHandler::Tcp,
];

/// The spec of a handler.
pub fn proto_spec(h: ProtoHandler) -> &'static ProtoSpec {
    PROTOS
        .iter()
        .find(|p| p.handler == h)
        .unwrap_or(&PROTOS[PROTOS.len() - 1])
}

impl ProtoSpec {
    /// The meaning and flag bit of a handler-local code.
    pub fn code(&self, local: u32) -> Option<(ProtoOpt, u8)> {
        self.codes
            .iter()
            .find(|(c, _, _)| *c == local)
            .map(|(_, o, b)| (*o, *b))
    }

    /// The matrix cell for a command row and flag bit (0 outside the table, as in C).
    pub fn cell(&self, row: CmdRow, bit: usize) -> u8 {
        if row == CmdRow::None {
            return 0;
        }
        self.matrix
            .get(row as usize)
            .and_then(|r| r.get(bit))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_matrix_column_has_a_registered_option() {
        for (col, flag) in OPTFLAGS.iter().enumerate() {
            if *flag == "nat-range" {
                // `-a`/`--nat-range` is registered but never sets its column.
                assert!(GENERIC_LONG_OPTS.iter().any(|o| o.name == "nat-range"));
                continue;
            }
            let found = GENERIC_LONG_OPTS.iter().any(|o| {
                char::from_u32(o.val)
                    .and_then(Col::of_val)
                    .map(|c| c as usize == col)
                    .unwrap_or(false)
            });
            assert!(found, "column {col} ({flag}) has no option");
        }
    }

    #[test]
    fn generic_long_names_are_unique() {
        let mut seen = HashSet::new();
        for o in GENERIC_LONG_OPTS {
            assert!(seen.insert(o.name), "duplicate {}", o.name);
        }
    }

    #[test]
    fn protocol_long_names_are_unique_and_codes_known() {
        for p in PROTOS {
            let mut seen = HashSet::new();
            for o in p.opts {
                assert!(seen.insert(o.name), "{}: duplicate {}", p.name, o.name);
                let (_, bit) = p.code(o.val).expect("code registered");
                assert!((bit as usize) < p.optflags.len());
            }
            for row in p.matrix {
                assert!(row.len() <= p.num_opts);
            }
            if p.handler != ProtoHandler::Unknown {
                assert_eq!(p.matrix.len(), NUMBER_OF_CMD, "{}", p.name);
            }
        }
    }

    #[test]
    fn short_letters_of_long_options_are_in_getopt_string() {
        for o in GENERIC_LONG_OPTS {
            let c = char::from_u32(o.val).unwrap();
            if c == LABELMAP_VAL {
                continue;
            }
            let pos = GETOPT_STR.find(c).expect("letter in getopt string");
            let rest = &GETOPT_STR[pos + 1..];
            let kind = if rest.starts_with("::") {
                ArgKind::Optional
            } else if rest.starts_with(':') {
                ArgKind::Required
            } else {
                ArgKind::None
            };
            if c == 'i' {
                // conntrack quirk: `-i` requires an argument, `--id` takes an optional one.
                assert_eq!((kind, o.arg), (ArgKind::Required, ArgKind::Optional));
                continue;
            }
            assert_eq!(kind, o.arg, "--{} vs -{c}", o.name);
        }
    }

    #[test]
    fn optflags_match_column_names() {
        assert_eq!(OPTFLAGS[Col::Zone as usize], "zone");
        assert_eq!(OPTFLAGS[Col::ReplZone as usize], "reply-zone");
        assert_eq!(OPTFLAGS.len(), NUMBER_OF_OPT);
    }

    #[test]
    fn odd_matrix_cells_match_conntrack() {
        let list = matrix_row(CmdRow::CtList);
        assert_eq!(list[Col::Id as usize], ILLEGAL);
        let get = matrix_row(CmdRow::CtGet);
        assert_eq!(get[Col::Zone as usize], ILLEGAL);
        let del = matrix_row(CmdRow::CtDelete);
        assert_eq!(del[Col::AnyNat as usize], ILLEGAL);
        let create = matrix_row(CmdRow::CtCreate);
        assert_eq!(create[Col::Family as usize], ILLEGAL);
        assert_eq!(create[Col::Output as usize], ILLEGAL);
        assert_eq!(create[Col::Proto as usize], COMPULSORY);
        assert_eq!(create[Col::OrigSrc as usize], PAIRED);
        assert_eq!(matrix_row(CmdRow::None), [0; NUMBER_OF_OPT]);
    }
}
