//! The expectation table (net/netfilter/nf_conntrack_expect.c): related connections a helper
//! announced, matched against new tuples (masked: any source port), consumed by the first
//! match, dying with their master or after their timeout.
//!
//! Every insertion and removal raises an expectation event as ctnetlink reports it
//! (`nf_ct_expect_event_report`: `IPEXP_NEW` after `nf_ct_expect_insert`, `IPEXP_DESTROY` from
//! `nf_ct_unlink_expect_report`, whether the expectation was used, replaced, timed out or
//! went with its master), the stream `conntrack -E expect` prints.

use crate::config::Helper;
use crate::table::{Addr, Key};
use crate::tracker::{expired, ms, EventKind, Fam, Tracker, HZ, TICK_NS};
use crate::Nanos;
use ctkit_model::{Expect, HelperName, Tuple};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One expectation event, as a ctnetlink listener of the expectation groups would receive it
/// (`conntrack -E expect`).
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectEvent {
    /// [`EventKind::New`] or [`EventKind::Destroy`] (the kernel raises no expectation
    /// update).
    pub kind: EventKind,
    /// When (the packet's or the garbage collection's `now`).
    pub at: Nanos,
    /// The expectation at that moment (timeout relative to `at`).
    pub expect: Expect,
}

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
    /// The master's helper (`CTA_EXPECT_HELP_NAME`).
    pub helper: Helper,
}

impl Expectation {
    /// As ctnetlink reports it (`ctnetlink_exp_dump_expect`): the expected tuple with a wild
    /// source port, the mask (`ctnetlink_exp_dump_mask`: source address and port from the
    /// mask, every destination bit set), the master's original tuple, seconds left, class 0,
    /// no flags, the helper's name, and no zone: 6.18 reports none for an expectation whose
    /// master is in a zone (`conntrack -L expect` prints no `zone=`; replay_kernel.rs
    /// `ftp_passive_in_a_zone`).
    pub(crate) fn as_model(&self, now_ms: u32, id: u32) -> Expect {
        let addr = |b: &[u8; 16]| -> IpAddr {
            if self.fam == 4 {
                IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            } else {
                IpAddr::V6(Ipv6Addr::from(*b))
            }
        };
        let ones = addr(&[0xff; 16]);
        let left = self.expires.wrapping_sub(now_ms) as i32;
        Expect {
            master: self.master_tuple,
            tuple: Tuple {
                src: addr(&self.src),
                dst: addr(&self.dst),
                proto: self.proto,
                sport: 0,
                dport: self.dport,
                ..Tuple::default()
            },
            mask: Tuple {
                src: ones,
                dst: ones,
                proto: self.proto,
                sport: 0,
                dport: 0xffff,
                ..Tuple::default()
            },
            timeout: Some(left.max(0) as u32 / HZ),
            id: Some(id),
            helper: Some(HelperName::new(self.helper.name())),
            zone: None,
            flags: Some(0),
            class: Some(0),
            ..Expect::default()
        }
    }
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
                    && A::from16(&x.src) == { key.src }
                    && A::from16(&x.dst) == { key.dst }
            })
            .copied()
    }

    /// The expectation was used by a new connection: it goes (not PERMANENT).
    pub(crate) fn consume_expectation(&mut self, now: Nanos, x: &Expectation) {
        if let Some(i) = self.expects.iter().position(|e| e.serial == x.serial) {
            self.unlink_expectation(now, i);
        }
    }

    /// All expectations of a master go with it (`nf_ct_remove_expectations`).
    pub(crate) fn remove_expectations_of(&mut self, now: Nanos, fam: u8, idx: u32) {
        self.unlink_expectations_where(now, |x| x.fam == fam && x.master == idx);
    }

    /// Timed-out expectations go, in expiry order, each stamped with its expiry (the start
    /// of its jiffy: the kernel's per-expectation timer fires then), seconds left 0.
    pub(crate) fn expire_expectations(&mut self, now: Nanos) {
        let now_ms = ms(now);
        let oldest_due = |t: &Tracker| {
            (0..t.expects.len())
                .filter(|&i| expired(t.expects[i].expires, now_ms))
                .min_by_key(
                    |&i| std::cmp::Reverse(now_ms.wrapping_sub(t.expects[i].expires) as i32),
                )
        };
        while let Some(i) = oldest_due(self) {
            let ago = now_ms.wrapping_sub(self.expects[i].expires) as u64;
            let at = (now - now % TICK_NS).saturating_sub(ago * TICK_NS);
            self.unlink_expectation(at, i);
        }
    }

    /// Every expectation `gone` selects goes, oldest first.
    fn unlink_expectations_where(&mut self, now: Nanos, gone: impl Fn(&Expectation) -> bool) {
        let mut i = 0;
        while i < self.expects.len() {
            if gone(&self.expects[i]) {
                self.unlink_expectation(now, i);
            } else {
                i += 1;
            }
        }
    }

    /// `nf_ct_unlink_expect_report`: out of the table, counted, DESTROY event.
    fn unlink_expectation(&mut self, now: Nanos, i: usize) {
        let x = self.expects.remove(i);
        self.stats.expect_delete += 1;
        self.push_expect_event(EventKind::Destroy, now, &x);
        self.expect_next = self.earliest_expiry();
    }

    /// The earliest expiry among the expectations (the wrapping clock's order, from the
    /// first one).
    fn earliest_expiry(&self) -> u32 {
        let Some(first) = self.expects.first() else {
            return 0;
        };
        self.expects.iter().fold(first.expires, |m, x| {
            if (x.expires.wrapping_sub(m) as i32) < 0 {
                x.expires
            } else {
                m
            }
        })
    }

    /// Queues an expectation event (when events are on, as for entries).
    fn push_expect_event(&mut self, kind: EventKind, at: Nanos, x: &Expectation) {
        if !self.d.events {
            return;
        }
        let expect = x.as_model(ms(at), self.expect_id(x));
        self.expect_events.push(ExpectEvent { kind, at, expect });
    }

    /// A 32-bit id per expectation (the kernel hashes the object's address; ours hashes
    /// the creation number).
    pub(crate) fn expect_id(&self, x: &Expectation) -> u32 {
        let mut h = x.serial.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ self.seed();
        h = (h ^ (h >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        (h ^ (h >> 29)) as u32
    }

    /// `nf_ct_expect_related`: max_expected 1 per master (the oldest goes), then the
    /// table-wide `nf_ct_expect_max`. Returns whether it was inserted.
    pub(crate) fn insert_expectation(&mut self, mut x: Expectation, now: Nanos) -> bool {
        self.expire_expectations(now);
        // An identical expectation is replaced.
        if let Some(i) = self.expects.iter().position(|e| {
            e.fam == x.fam
                && e.src == x.src
                && e.dst == x.dst
                && e.dport == x.dport
                && e.zone == x.zone
        }) {
            self.unlink_expectation(now, i);
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
                self.unlink_expectation(now, i);
            }
        }
        if self.expects.len() >= self.d.expect_max {
            return false;
        }
        self.expect_serial += 1;
        x.serial = self.expect_serial;
        self.expects.push(x);
        self.expect_next = self.earliest_expiry();
        self.stats.expect_create += 1;
        self.push_expect_event(EventKind::New, now, &x);
        true
    }
}

#[allow(dead_code)]
fn _addr_is_used<A: Addr>(_: A) {}
