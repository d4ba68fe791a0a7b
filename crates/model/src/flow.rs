//! A connection-tracking entry (`struct nf_conn` as ctnetlink exposes it, `CTA_*` in
//! include/uapi/linux/netfilter/nfnetlink_conntrack.h).
//!
//! Every attribute the kernel may omit is an `Option`, so a formatter prints exactly what was
//! present (as libnetfilter_conntrack does with its attribute bitmap). The type owns no heap
//! memory: a dump reuses one `Flow` for every entry (`Flow::clear`).

use crate::protoinfo::ProtoInfo;
use crate::status::Status;
use crate::tuple::Tuple;

/// Packet and byte counters of one direction (`CTA_COUNTERS_ORIG`/`_REPLY`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// `CTA_COUNTERS_PACKETS`.
    pub packets: u64,
    /// `CTA_COUNTERS_BYTES`.
    pub bytes: u64,
}

/// `CTA_TIMESTAMP` (nanoseconds since the epoch, wall clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// `CTA_TIMESTAMP_START`.
    pub start: u64,
    /// `CTA_TIMESTAMP_STOP`, set once the entry died.
    pub stop: Option<u64>,
}

/// Connection labels (`CTA_LABELS`): a bit set, 128 bits on current kernels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Labels {
    /// Raw bytes as the kernel sends them (bit N is bit N%32 of the N/32-th host-order u32).
    pub bytes: [u8; 16],
    /// How many of `bytes` the kernel sent.
    pub len: u8,
}

impl Labels {
    /// Whether label bit `bit` is set.
    pub fn is_set(&self, bit: u32) -> bool {
        let word = (bit / 32) as usize;
        if (word + 1) * 4 > self.len as usize {
            return false;
        }
        let w = u32::from_ne_bytes(self.bytes[word * 4..word * 4 + 4].try_into().unwrap());
        w & (1 << (bit % 32)) != 0
    }

    /// Sets label bit `bit` (0..128), growing `len` to cover it.
    pub fn set(&mut self, bit: u32) {
        if bit >= 128 {
            return;
        }
        let word = (bit / 32) as usize;
        let mut w = u32::from_ne_bytes(self.bytes[word * 4..word * 4 + 4].try_into().unwrap());
        w |= 1 << (bit % 32);
        self.bytes[word * 4..word * 4 + 4].copy_from_slice(&w.to_ne_bytes());
        self.len = self.len.max(((word + 1) * 4) as u8);
    }

    /// Whether no bit is set.
    pub fn is_empty(&self) -> bool {
        self.bytes[..self.len as usize].iter().all(|b| *b == 0)
    }

    /// The set bits, lowest first.
    pub fn bits(&self) -> impl Iterator<Item = u32> + '_ {
        (0..(self.len as u32) * 8).filter(|b| self.is_set(*b))
    }
}

/// A short inline string (helper names are at most `NF_CT_HELPER_NAME_LEN` = 16 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HelperName {
    buf: [u8; 32],
    len: u8,
}

impl HelperName {
    /// Copies `s`, truncated to 32 bytes at a character boundary.
    pub fn new(s: &str) -> HelperName {
        let mut end = s.len().min(32);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = [0u8; 32];
        buf[..end].copy_from_slice(&s.as_bytes()[..end]);
        HelperName {
            buf,
            len: end as u8,
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only ever filled from a &str cut at a char boundary.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl std::fmt::Debug for HelperName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// A security context string (`CTA_SECCTX`/`CTA_SECCTX_NAME`), inline up to 128 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecCtx {
    buf: [u8; 128],
    len: u8,
}

impl SecCtx {
    /// Copies `s`, truncated to 128 bytes at a character boundary.
    pub fn new(s: &str) -> SecCtx {
        let mut end = s.len().min(128);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = [0u8; 128];
        buf[..end].copy_from_slice(&s.as_bytes()[..end]);
        SecCtx {
            buf,
            len: end as u8,
        }
    }

    /// The context.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl std::fmt::Debug for SecCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// `CTA_SEQ_ADJ_ORIG` / `CTA_SEQ_ADJ_REPLY`: the TCP sequence-number rewrite of one direction
/// after a NAT helper changed a payload's length (kernel `struct nf_ct_seqadj`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqAdj {
    /// `CTA_SEQADJ_CORRECTION_POS`: the sequence number where the last length change starts.
    pub correction_pos: u32,
    /// `CTA_SEQADJ_OFFSET_BEFORE`: offset applied to sequence numbers before that position.
    pub offset_before: i32,
    /// `CTA_SEQADJ_OFFSET_AFTER`: offset applied from that position on.
    pub offset_after: i32,
}

/// `CTA_SYNPROXY`: the state a SYN proxy keeps to splice the two halves of a connection
/// (kernel `struct nf_conn_synproxy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Synproxy {
    /// `CTA_SYNPROXY_ISN`: the initial sequence number the proxy chose.
    pub isn: u32,
    /// `CTA_SYNPROXY_ITS`: the initial timestamp value.
    pub its: u32,
    /// `CTA_SYNPROXY_TSOFF`: the timestamp offset applied.
    pub tsoff: u32,
}

/// One conntrack entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    /// `CTA_TUPLE_ORIG`.
    pub orig: Tuple,
    /// `CTA_TUPLE_REPLY`.
    pub reply: Tuple,
    /// Whether `CTA_TUPLE_ORIG` was present.
    pub has_orig: bool,
    /// Whether `CTA_TUPLE_REPLY` was present.
    pub has_reply: bool,
    /// `CTA_TUPLE_MASTER` (expected connections).
    pub master: Option<Tuple>,
    /// `CTA_STATUS`.
    pub status: Option<Status>,
    /// `CTA_TIMEOUT`, seconds left.
    pub timeout: Option<u32>,
    /// `CTA_MARK`.
    pub mark: Option<u32>,
    /// `CTA_SECMARK`.
    pub secmark: Option<u32>,
    /// `CTA_ZONE`.
    pub zone: Option<u16>,
    /// `CTA_USE`.
    pub use_count: Option<u32>,
    /// `CTA_ID` (a 32-bit hash, not unique).
    pub id: Option<u32>,
    /// `CTA_COUNTERS_ORIG`.
    pub counters_orig: Option<Counters>,
    /// `CTA_COUNTERS_REPLY`.
    pub counters_reply: Option<Counters>,
    /// `CTA_PROTOINFO`.
    pub protoinfo: Option<ProtoInfo>,
    /// `CTA_HELP` / `CTA_HELP_NAME`.
    pub helper: Option<HelperName>,
    /// `CTA_LABELS`.
    pub labels: Option<Labels>,
    /// `CTA_TIMESTAMP`.
    pub timestamp: Option<Timestamp>,
    /// `CTA_SECCTX` / `CTA_SECCTX_NAME`.
    pub secctx: Option<SecCtx>,
    /// `CTA_SEQ_ADJ_ORIG`.
    pub seq_adj_orig: Option<SeqAdj>,
    /// `CTA_SEQ_ADJ_REPLY`.
    pub seq_adj_reply: Option<SeqAdj>,
    /// `CTA_SYNPROXY`.
    pub synproxy: Option<Synproxy>,
}

impl Flow {
    /// Resets every field, keeping the allocation-free storage for reuse.
    pub fn clear(&mut self) {
        *self = Flow::default();
    }

    /// The status bits, or none.
    pub fn status_bits(&self) -> Status {
        self.status.unwrap_or_default()
    }

    /// The TCP state, when the entry carries TCP protoinfo.
    pub fn tcp_state(&self) -> Option<u8> {
        match self.protoinfo {
            Some(ProtoInfo::Tcp(t)) => t.state,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_set_and_query_bits() {
        let mut l = Labels::default();
        l.set(0);
        l.set(33);
        assert!(l.is_set(0));
        assert!(l.is_set(33));
        assert!(!l.is_set(1));
        assert_eq!(l.len, 8);
        assert_eq!(l.bits().collect::<Vec<_>>(), vec![0, 33]);
        l.set(200);
        assert_eq!(l.len, 8);
    }

    #[test]
    fn helper_name_truncates_at_char_boundary() {
        let h = HelperName::new("ftp");
        assert_eq!(h.as_str(), "ftp");
        let long = "é".repeat(20);
        assert_eq!(HelperName::new(&long).as_str().len(), 32);
    }
}
