//! The expectation table (net/netfilter/nf_conntrack_expect.c): related connections a helper
//! announced, matched against new tuples (masked: any source port), consumed by the first
//! match, dying with their master or after their timeout.

use crate::table::{Addr, Key};
use crate::tracker::{expired, Fam, Tracker};

/// One expectation (`struct nf_conntrack_expect`, FTP's shape: TCP, source port wild).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expectation {
    /// Address family of the master (4 or 6).
    pub fam: u8,
    /// Expected source address (the peer of the announcing side).
    pub src: [u8; 16],
    /// Announced destination address and port.
    pub dst: [u8; 16],
    pub dport: u16,
    pub proto: u8,
    pub zone: u16,
    /// The master entry (family table index).
    pub master: u32,
    /// The master's original tuple (for the child's `master`).
    pub master_tuple: ctkit_model::Tuple,
    /// Expiry (jiffies, wrapping clock).
    pub expires: u32,
    /// Creation order, for "the oldest is evicted".
    pub serial: u64,
}

/// Per-direction FTP helper state (`struct nf_ct_ftp_master`): sequence numbers right after
/// a '\n' seen in each direction.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FtpState {
    pub seq_aft_nl: [[u32; 2]; 2],
    pub seq_aft_nl_num: [u8; 2],
}

/// `FTP` expectations live 5 minutes (`ftp_exp_policy.timeout`), in jiffies.
pub(crate) const FTP_EXPECT_TIMEOUT_MS: u32 = 300 * crate::tracker::HZ;

impl Tracker {
    /// `nf_ct_find_expectation`: the expectation a new tuple matches (expired ones are
    /// skipped).
    pub(crate) fn find_expectation<A: Fam>(
        &mut self,
        key: &Key<A>,
        now_ms: u32,
    ) -> Option<Expectation> {
        if self.expects.is_empty() {
            return None;
        }
        self.expects
            .iter()
            .find(|x| {
                x.fam == A::FAM
                    && !expired(x.expires, now_ms)
                    && x.proto == key.proto
                    && x.zone == key.zone
                    && x.dport == key.dport
                    && A::from16(&x.src) == key.src
                    && A::from16(&x.dst) == key.dst
            })
            .copied()
    }

    /// The expectation was used by a new connection: it goes (not PERMANENT).
    pub(crate) fn consume_expectation(&mut self, x: &Expectation) {
        if let Some(i) = self.expects.iter().position(|e| e.serial == x.serial) {
            self.expects.remove(i);
            self.stats.expect_delete += 1;
        }
    }

    /// All expectations of a master go with it (`nf_ct_remove_expectations`).
    pub(crate) fn remove_expectations_of(&mut self, fam: u8, idx: u32) {
        let before = self.expects.len();
        self.expects.retain(|x| !(x.fam == fam && x.master == idx));
        self.stats.expect_delete += (before - self.expects.len()) as u64;
    }

    /// Timed-out expectations go.
    pub(crate) fn expire_expectations(&mut self, now_ms: u32) {
        let before = self.expects.len();
        self.expects.retain(|x| !expired(x.expires, now_ms));
        self.stats.expect_delete += (before - self.expects.len()) as u64;
    }

    /// `nf_ct_expect_related`: max_expected 1 per master (the oldest goes), then the
    /// table-wide `nf_ct_expect_max`. Returns whether it was inserted.
    pub(crate) fn insert_expectation(&mut self, mut x: Expectation, now_ms: u32) -> bool {
        self.expire_expectations(now_ms);
        // An identical expectation is replaced.
        if let Some(i) = self.expects.iter().position(|e| {
            e.fam == x.fam
                && e.src == x.src
                && e.dst == x.dst
                && e.dport == x.dport
                && e.zone == x.zone
        }) {
            self.expects.remove(i);
            self.stats.expect_delete += 1;
        }
        let mine = self
            .expects
            .iter()
            .filter(|e| e.fam == x.fam && e.master == x.master)
            .count();
        if mine >= 1 {
            if let Some(i) = self
                .expects
                .iter()
                .enumerate()
                .filter(|(_, e)| e.fam == x.fam && e.master == x.master)
                .min_by_key(|(_, e)| e.serial)
                .map(|(i, _)| i)
            {
                self.expects.remove(i);
                self.stats.expect_delete += 1;
            }
        }
        if self.expects.len() >= self.d.expect_max {
            return false;
        }
        self.expect_serial += 1;
        x.serial = self.expect_serial;
        self.expects.push(x);
        self.stats.expect_create += 1;
        true
    }
}

#[allow(dead_code)]
fn _addr_is_used<A: Addr>(_: A) {}
