//! TCP connection tracking as net/netfilter/nf_conntrack_proto_tcp.c (kernel 6.x) does it:
//! the state table `tcp_conntracks[dir][index][old]` as data, `tcp_error` flag validation,
//! `tcp_new` (including loose pickup), the IGNORE/resync logic, RST rules, window tracking
//! (`tcp_in_window`, after Guido van Rooij's "Real Stateful TCP Packet Filtering in IP
//! Filter") and the timeout choice after an accepted packet.

use crate::packet::{be16, be32};

/// `enum tcp_conntrack` numbers.
pub(crate) mod st {
    pub const NO: u8 = 0;
    pub const SS: u8 = 1;
    pub const SR: u8 = 2;
    pub const ES: u8 = 3;
    pub const FW: u8 = 4;
    pub const CW: u8 = 5;
    pub const LA: u8 = 6;
    pub const TW: u8 = 7;
    pub const CL: u8 = 8;
    pub const S2: u8 = 9;
    /// `TCP_CONNTRACK_MAX`: invalid.
    pub const IV: u8 = 10;
    /// `TCP_CONNTRACK_IGNORE`.
    pub const IG: u8 = 11;
    /// `TCP_CONNTRACK_RETRANS` (timeout slot).
    pub const RETRANS: usize = 12;
    /// `TCP_CONNTRACK_UNACK` (timeout slot).
    pub const UNACK: usize = 13;
}

/// `enum tcp_bit_set`: the packet's class.
pub(crate) mod idx {
    pub const SYN: u8 = 0;
    pub const SYNACK: u8 = 1;
    pub const FIN: u8 = 2;
    pub const ACK: u8 = 3;
    pub const RST: u8 = 4;
    pub const NONE: u8 = 5;
}

use st::*;

/// `tcp_conntracks[dir][index][old_state]`, kernel 6.x.
pub(crate) const TCP_CONNTRACKS: [[[u8; 10]; 6]; 2] = [
    [
        //  NO  SS  SR  ES  FW  CW  LA  TW  CL  S2
        [SS, SS, IG, IG, IG, IG, IG, SS, SS, S2], // syn
        [IV, IV, SR, IV, IV, IV, IV, IV, IV, SR], // synack
        [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV], // fin
        [ES, IV, ES, ES, CW, CW, TW, TW, CL, IV], // ack
        [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL], // rst
        [IV, IV, IV, IV, IV, IV, IV, IV, IV, IV], // none
    ],
    [
        [IV, S2, IV, IV, IV, IV, IV, SS, IV, S2], // syn
        [IV, SR, IG, IG, IG, IG, IG, IG, IG, SR], // synack
        [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV], // fin
        [IV, IG, SR, ES, CW, CW, TW, TW, CL, IG], // ack
        [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL], // rst
        [IV, IV, IV, IV, IV, IV, IV, IV, IV, IV], // none
    ],
];

/// `IP_CT_TCP_FLAG_*` (per direction) and the `last_flags` bits.
pub(crate) mod fl {
    pub const WINDOW_SCALE: u8 = 0x01;
    pub const SACK_PERM: u8 = 0x02;
    pub const CLOSE_INIT: u8 = 0x04;
    pub const BE_LIBERAL: u8 = 0x08;
    pub const DATA_UNACKNOWLEDGED: u8 = 0x10;
    pub const MAXACK_SET: u8 = 0x20;
    pub const EXP_CHALLENGE_ACK: u8 = 0x40;
    pub const SIMULTANEOUS_OPEN: u8 = 0x80;
}

/// `struct ip_ct_tcp_state` (packed plain old data: it is stored in the slab's bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, packed)]
pub(crate) struct TcpSide {
    pub td_end: u32,
    pub td_maxend: u32,
    pub td_maxwin: u32,
    pub td_maxack: u32,
    pub td_scale: u8,
    pub flags: u8,
}

/// `struct ip_ct_tcp` (packed plain old data: it is stored in the slab's bytes, see
/// `proto::ProtoRec`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, packed)]
pub(crate) struct TcpCt {
    pub seen: [TcpSide; 2],
    pub state: u8,
    pub last_dir: u8,
    pub retrans: u8,
    pub last_index: u8,
    pub last_seq: u32,
    pub last_ack: u32,
    pub last_end: u32,
    pub last_win: u16,
    pub last_wscale: u8,
    pub last_flags: u8,
}

/// TCP flag bits.
pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const PSH: u8 = 0x08;
pub(crate) const ACK: u8 = 0x10;
pub(crate) const URG: u8 = 0x20;
pub(crate) const ECE: u8 = 0x40;
pub(crate) const CWR: u8 = 0x80;

/// A TCP header as the tracker reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seg<'a> {
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub flags: u8,
    /// Options (between the fixed header and `doff*4`).
    pub opts: &'a [u8],
    /// Payload bytes.
    pub payload: &'a [u8],
}

impl Seg<'_> {
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// `segment_seq_plus_len`.
    pub fn end(&self) -> u32 {
        self.seq
            .wrapping_add(self.payload.len() as u32)
            .wrapping_add(self.has(SYN) as u32)
            .wrapping_add(self.has(FIN) as u32)
    }

    /// `get_conntrack_index`.
    pub fn index(&self) -> u8 {
        if self.has(RST) {
            idx::RST
        } else if self.has(SYN) {
            if self.has(ACK) {
                idx::SYNACK
            } else {
                idx::SYN
            }
        } else if self.has(FIN) {
            idx::FIN
        } else if self.has(ACK) {
            idx::ACK
        } else {
            idx::NONE
        }
    }
}

/// `tcp_error` minus the checksum (checked by the caller): `None` for a truncated header or
/// an invalid flag combination.
pub(crate) fn parse_seg(l4: &[u8]) -> Option<Seg<'_>> {
    if l4.len() < 20 {
        return None;
    }
    let doff = ((l4[12] >> 4) as usize) * 4;
    if doff < 20 || l4.len() < doff {
        return None;
    }
    let flags = l4[13];
    let f = flags & !(ECE | CWR | PSH);
    let valid = matches!(
        f,
        x if x == SYN
            || x == SYN | URG
            || x == SYN | ACK
            || x == RST
            || x == RST | ACK
            || x == FIN | ACK
            || x == FIN | ACK | URG
            || x == ACK
            || x == ACK | URG
    );
    if !valid {
        return None;
    }
    Some(Seg {
        seq: be32(l4, 4)?,
        ack: be32(l4, 8)?,
        win: be16(l4, 14)?,
        flags,
        opts: &l4[20..doff],
        payload: &l4[doff..],
    })
}

fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// `tcp_options`: window scale and SACK-permitted into `side`.
fn tcp_options(opts: &[u8], side: &mut TcpSide) {
    if opts.is_empty() {
        return;
    }
    side.td_scale = 0;
    side.flags &= fl::BE_LIBERAL;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return,
            1 => i += 1,
            op => {
                let Some(&size) = opts.get(i + 1) else { return };
                let size = size as usize;
                if size < 2 || size > opts.len() - i {
                    return;
                }
                if op == 4 && size == 2 {
                    side.flags |= fl::SACK_PERM;
                } else if op == 3 && size == 3 {
                    side.td_scale = opts[i + 2].min(14);
                    side.flags |= fl::WINDOW_SCALE;
                }
                i += size;
            }
        }
    }
}

/// `tcp_sack`: the highest right edge of the SACK blocks, if after `sack`.
fn tcp_sack(opts: &[u8], sack: &mut u32) {
    if opts.len() == 12 && opts[..4] == [1, 1, 8, 10] {
        return;
    }
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return,
            1 => i += 1,
            op => {
                let Some(&size) = opts.get(i + 1) else { return };
                let size = size as usize;
                if size < 2 || size > opts.len() - i {
                    return;
                }
                if op == 5 && size >= 10 && (size - 2).is_multiple_of(8) {
                    let mut b = i + 2;
                    while b + 8 <= i + size {
                        if let Some(right) = be32(opts, b + 4) {
                            if after(right, *sack) {
                                *sack = right;
                            }
                        }
                        b += 8;
                    }
                    return;
                }
                i += size;
            }
        }
    }
}

/// What `tcp_in_window` decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WinRes {
    Accept,
    Ignore,
    Invalid,
}

const MAXACKWINCONST: u32 = 66000;

fn maxackwindow(s: &TcpSide) -> u32 {
    s.td_maxwin.max(MAXACKWINCONST)
}

/// `tcp_init_sender`.
fn init_sender(ct: &mut TcpCt, dir: usize, seg: &Seg<'_>, end: u32, win: u32) {
    let s = &mut ct.seen[dir];
    s.td_end = end;
    s.td_maxend = end;
    s.td_maxwin = if win == 0 { 1 } else { win };
    tcp_options(seg.opts, s);
    if dir == 1
        && !(ct.seen[1].flags & fl::WINDOW_SCALE != 0 && ct.seen[0].flags & fl::WINDOW_SCALE != 0)
    {
        ct.seen[1].td_scale = 0;
        ct.seen[0].td_scale = 0;
    }
}

/// `tcp_in_window` (no NAT sequence offsets). `liberal_sysctl` is `nf_conntrack_tcp_be_liberal`.
pub(crate) fn in_window(
    ct: &mut TcpCt,
    dir: usize,
    index: u8,
    seg: &Seg<'_>,
    liberal_sysctl: bool,
) -> WinRes {
    let rdir = 1 - dir;
    let mut seq = seg.seq;
    let mut ack = seg.ack;
    let mut sack = ack;
    let win_raw = seg.win;
    let mut win = win_raw as u32;
    let mut end = seg.end();
    if ct.seen[rdir].flags & fl::SACK_PERM != 0 {
        tcp_sack(seg.opts, &mut sack);
    }
    let liberal = |ct: &TcpCt, r: WinRes| {
        if ct.seen[dir].flags & fl::BE_LIBERAL != 0 || liberal_sysctl {
            WinRes::Accept
        } else {
            r
        }
    };

    if ct.seen[dir].td_maxwin == 0 {
        if seg.has(SYN) {
            init_sender(ct, dir, seg, end, win);
            if !seg.has(ACK) {
                return WinRes::Accept;
            }
        } else {
            let s = &mut ct.seen[dir];
            s.td_end = end;
            let swin = win << s.td_scale;
            s.td_maxwin = if swin == 0 { 1 } else { swin };
            s.td_maxend = end.wrapping_add(s.td_maxwin);
            let r = &mut ct.seen[rdir];
            if r.td_maxwin == 0 {
                r.td_end = sack;
                r.td_maxend = sack;
            } else if sack == r.td_end.wrapping_add(1) {
                r.td_end = r.td_end.wrapping_add(1);
            }
        }
    } else if seg.has(SYN) && after(end, ct.seen[dir].td_end) && (ct.state == SS || ct.state == SR)
    {
        init_sender(ct, dir, seg, end, win);
        if dir == 1 && !seg.has(ACK) {
            return WinRes::Accept;
        }
    }

    if !seg.has(ACK) || (seg.has(RST) && ack == 0) {
        ack = ct.seen[rdir].td_end;
        sack = ack;
    }

    if seg.has(RST) && seq == 0 && ct.state == SS {
        seq = ct.seen[dir].td_end;
        end = seq;
    }

    let (sender, receiver) = (ct.seen[dir], ct.seen[rdir]);
    let seq_ok = before(seq, sender.td_maxend.wrapping_add(1));
    if !seq_ok {
        let overshot = end.wrapping_sub(sender.td_maxend).wrapping_add(1);
        let ack_ok = after(
            sack,
            receiver
                .td_end
                .wrapping_sub(maxackwindow(&sender))
                .wrapping_sub(1),
        );
        let in_recv_win = receiver.td_maxwin != 0
            && after(
                end,
                sender
                    .td_end
                    .wrapping_sub(receiver.td_maxwin)
                    .wrapping_sub(1),
            );
        if in_recv_win
            && ack_ok
            && overshot <= receiver.td_maxwin
            && before(sack, receiver.td_end.wrapping_add(1))
        {
            ct.seen[dir].td_end = end;
            ct.seen[dir].flags |= fl::DATA_UNACKNOWLEDGED;
            return liberal(ct, WinRes::Ignore);
        }
        return liberal(ct, WinRes::Invalid);
    }
    if !before(sack, receiver.td_end.wrapping_add(1)) {
        return liberal(ct, WinRes::Invalid);
    }
    let in_recv_win = receiver.td_maxwin == 0
        || after(
            end,
            sender
                .td_end
                .wrapping_sub(receiver.td_maxwin)
                .wrapping_sub(1),
        );
    if !in_recv_win {
        return liberal(ct, WinRes::Ignore);
    }
    if !after(
        sack,
        receiver
            .td_end
            .wrapping_sub(maxackwindow(&sender))
            .wrapping_sub(1),
    ) {
        return liberal(ct, WinRes::Ignore);
    }

    if !seg.has(SYN) {
        win <<= ct.seen[dir].td_scale;
    }
    // Update sender data.
    let swin = win.wrapping_add(sack.wrapping_sub(ack));
    let s = &mut ct.seen[dir];
    if s.td_maxwin < swin {
        s.td_maxwin = swin;
    }
    if after(end, s.td_end) {
        s.td_end = end;
        s.flags |= fl::DATA_UNACKNOWLEDGED;
    }
    if seg.has(ACK) {
        if s.flags & fl::MAXACK_SET == 0 {
            s.td_maxack = ack;
            s.flags |= fl::MAXACK_SET;
        } else if after(ack, s.td_maxack) {
            s.td_maxack = ack;
        }
    }
    let s_maxend = s.td_maxend;
    // Update receiver data.
    let r = &mut ct.seen[rdir];
    if r.td_maxwin != 0 && after(end, s_maxend) {
        r.td_maxwin = r.td_maxwin.wrapping_add(end.wrapping_sub(s_maxend));
    }
    if after(sack.wrapping_add(win), r.td_maxend.wrapping_sub(1)) {
        r.td_maxend = sack.wrapping_add(win);
        if win == 0 {
            r.td_maxend = r.td_maxend.wrapping_add(1);
        }
    }
    if ack == r.td_end {
        r.flags &= !fl::DATA_UNACKNOWLEDGED;
    }
    // Check retransmissions.
    if index == idx::ACK {
        if ct.last_dir as usize == dir
            && ct.last_seq == seq
            && ct.last_ack == ack
            && ct.last_end == end
            && ct.last_win == win_raw
        {
            ct.retrans = ct.retrans.saturating_add(1);
        } else {
            ct.last_dir = dir as u8;
            ct.last_seq = seq;
            ct.last_ack = ack;
            ct.last_end = end;
            ct.last_win = win_raw;
            ct.retrans = 0;
        }
    }
    WinRes::Accept
}

/// `tcp_new`: the initial state of a new entry, or `None` when this packet cannot create one.
pub(crate) fn tcp_new(seg: &Seg<'_>, loose: bool) -> Option<TcpCt> {
    let new_state = TCP_CONNTRACKS[0][seg.index() as usize][NO as usize];
    let mut ct = TcpCt::default();
    if new_state >= IV {
        return None;
    }
    let s = &mut ct.seen[0];
    s.td_end = seg.end();
    s.td_maxwin = if seg.win == 0 { 1 } else { seg.win as u32 };
    if new_state == SS {
        s.td_maxend = s.td_end;
        tcp_options(seg.opts, s);
    } else if !loose {
        return None;
    } else {
        s.td_maxend = s.td_end.wrapping_add(s.td_maxwin);
        ct.seen[0].flags = fl::SACK_PERM | fl::BE_LIBERAL;
        ct.seen[1].flags = fl::SACK_PERM | fl::BE_LIBERAL;
    }
    ct.last_index = idx::NONE;
    Some(ct)
}

/// `tcp_can_early_drop`.
pub(crate) fn can_early_drop(state: u8) -> bool {
    matches!(state, FW | LA | TW | CL | CW)
}

/// The switches and timeouts `nf_conntrack_tcp_packet` reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TcpCfg {
    /// Per state (index = state number) plus RETRANS and UNACK, in jiffies.
    pub timeouts: [u32; 14],
    pub be_liberal: bool,
    pub ignore_invalid_rst: bool,
    pub max_retrans: u8,
}

/// What `nf_conntrack_tcp_packet` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TcpRes {
    /// Accepted; refresh the timeout to this many jiffies (or keep it when `None`).
    Accept {
        timeout: Option<u32>,
        /// The state changed (`IPCT_PROTOINFO`).
        protoinfo: bool,
        /// ASSURED was set now (`IPCT_ASSURED`).
        assured: bool,
        /// An RST before SEEN_REPLY: delete the entry (`nf_ct_kill_acct`).
        kill: bool,
    },
    /// `-NF_ACCEPT`: invalid, the packet gets no entry.
    Invalid,
    /// `-NF_REPEAT`: the old entry was killed; look up again (a fresh entry is created).
    Repeat,
}

/// What the entry's status says, for the TCP logic.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CtView {
    pub seen_reply: bool,
    pub assured: bool,
    /// Jiffies until the entry expires now.
    pub expires_in: u32,
}

fn accept(timeout: Option<u32>, protoinfo: bool, assured: bool, kill: bool) -> TcpRes {
    TcpRes::Accept {
        timeout,
        protoinfo,
        assured,
        kill,
    }
}

/// `nf_conntrack_tcp_established`.
fn established(ct: &TcpCt, v: &CtView) -> bool {
    ct.state == ES && v.assured
}

/// `nf_tcp_handle_invalid`: an ASSURED entry whose FIN/RST exchange went out of window gets
/// its timeout shrunk to UNACK. Returns the new timeout, if shrunk.
fn handle_invalid(ct: &mut TcpCt, dir: usize, index: u8, v: &CtView, cfg: &TcpCfg) -> Option<u32> {
    if !v.assured {
        return None;
    }
    if index != idx::RST && index != idx::FIN {
        return None;
    }
    if ct.last_dir as usize != dir && (ct.last_index == idx::FIN || ct.last_index == idx::RST) {
        if v.expires_in < 120 * crate::tracker::HZ {
            return None;
        }
        let t = cfg.timeouts[UNACK];
        if v.expires_in > t {
            return Some(t);
        }
        None
    } else {
        ct.last_index = index;
        ct.last_dir = dir as u8;
        None
    }
}

/// `nf_conntrack_tcp_packet` after `tcp_error`/`tcp_new`. `shrink` receives a timeout to set
/// when an invalid packet shrinks it.
pub(crate) fn tcp_packet(
    ct: &mut TcpCt,
    dir: usize,
    seg: &Seg<'_>,
    v: &CtView,
    cfg: &TcpCfg,
    shrink: &mut Option<u32>,
) -> TcpRes {
    let mut old_state = ct.state;
    let index = seg.index();
    let mut new_state = TCP_CONNTRACKS[dir][index as usize][old_state as usize];
    let rdir = 1 - dir;
    let mut skip_window = false;

    match new_state {
        SS | IG => {
            let mut handled = false;
            if new_state == SS {
                if old_state < TW {
                    handled = true; // plain SYN_SENT transition: window check below
                } else if (ct.seen[dir].flags | ct.seen[rdir].flags) & fl::CLOSE_INIT != 0
                    || (ct.last_dir as usize == dir && ct.last_index == idx::RST)
                {
                    return TcpRes::Repeat;
                }
            }
            if !handled {
                // IGNORE (or SYN_SENT from TW/CL without a reason to reopen: falls through).
                if index == idx::SYNACK
                    && ct.last_index == idx::SYN
                    && ct.last_dir as usize != dir
                    && seg.ack == ct.last_end
                {
                    old_state = SS;
                    new_state = SR;
                    let ld = ct.last_dir as usize;
                    ct.seen[ld].td_end = ct.last_end;
                    ct.seen[ld].td_maxend = ct.last_end;
                    ct.seen[ld].td_maxwin = if ct.last_win == 0 {
                        1
                    } else {
                        ct.last_win as u32
                    };
                    ct.seen[ld].td_scale = ct.last_wscale;
                    ct.last_flags &= !fl::EXP_CHALLENGE_ACK;
                    ct.seen[ld].flags = ct.last_flags;
                    let s = &mut ct.seen[dir];
                    s.td_end = 0;
                    s.td_maxend = 0;
                    s.td_maxwin = 0;
                    s.td_maxack = 0;
                    s.td_scale = 0;
                    s.flags &= fl::BE_LIBERAL;
                } else {
                    ct.last_index = index;
                    ct.last_dir = dir as u8;
                    ct.last_seq = seg.seq;
                    ct.last_end = seg.end();
                    ct.last_win = seg.win;
                    if index == idx::SYN && dir == 0 {
                        let mut seen = TcpSide::default();
                        ct.last_flags = 0;
                        ct.last_wscale = 0;
                        tcp_options(seg.opts, &mut seen);
                        if seen.flags & fl::WINDOW_SCALE != 0 {
                            ct.last_flags |= fl::WINDOW_SCALE;
                            ct.last_wscale = seen.td_scale;
                        }
                        if seen.flags & fl::SACK_PERM != 0 {
                            ct.last_flags |= fl::SACK_PERM;
                        }
                        if old_state == LA {
                            ct.last_flags |= fl::EXP_CHALLENGE_ACK;
                        }
                    }
                    if old_state == SS && index == idx::ACK && dir == 1 {
                        ct.last_ack = seg.ack;
                    }
                    return accept(None, false, false, false);
                }
            }
        }
        IV => return TcpRes::Invalid,
        // RFC 5961 challenge ACK after a SYN in LAST_ACK: not the last ACK.
        TW if old_state == LA
            && index == idx::ACK
            && ct.last_dir as usize != dir
            && ct.last_index == idx::SYN
            && ct.last_flags & fl::EXP_CHALLENGE_ACK != 0 =>
        {
            ct.last_flags &= !fl::EXP_CHALLENGE_ACK;
            return accept(None, false, false, false);
        }
        S2 => ct.last_flags |= fl::SIMULTANEOUS_OPEN,
        SR if dir == 1 && index == idx::ACK && ct.last_flags & fl::SIMULTANEOUS_OPEN != 0 => {
            new_state = ES;
        }
        CL if index == idx::RST => 'rst: {
            if can_early_drop(ct.state) {
                skip_window = true;
                break 'rst;
            }
            if ct.seen[rdir].flags & fl::MAXACK_SET != 0 && ct.last_index != idx::SYN {
                let seq = seg.seq;
                if seq == 0 && !established(ct, v) {
                    break 'rst;
                }
                if before(seq, ct.seen[rdir].td_maxack) && !cfg.ignore_invalid_rst {
                    return TcpRes::Invalid;
                }
                if !established(ct, v) || seq == ct.seen[rdir].td_maxack {
                    break 'rst;
                }
                if ct.last_index == idx::ACK && ct.last_dir as usize == dir && seq == ct.last_end {
                    break 'rst;
                }
                new_state = old_state;
            }
            if ((v.seen_reply && ct.last_index == idx::SYN)
                || (!v.assured && ct.last_index == idx::ACK))
                && seg.ack == ct.last_end
            {
                skip_window = true;
                break 'rst;
            }
            if old_state == SS
                && ct.last_index == idx::ACK
                && ct.last_dir == 1
                && seg.seq == ct.last_ack
            {
                skip_window = true;
            }
        }
        _ => {}
    }

    if !skip_window {
        match in_window(ct, dir, index, seg, cfg.be_liberal) {
            WinRes::Ignore => return accept(None, false, false, false),
            WinRes::Invalid => {
                *shrink = handle_invalid(ct, dir, index, v, cfg);
                return TcpRes::Invalid;
            }
            WinRes::Accept => {}
        }
    }

    ct.last_index = index;
    ct.last_dir = dir as u8;
    ct.state = new_state;
    if old_state != new_state && new_state == FW {
        ct.seen[dir].flags |= fl::CLOSE_INIT;
    }
    let t = &cfg.timeouts;
    let ns = new_state as usize;
    let mut timeout = if ct.retrans >= cfg.max_retrans && t[ns] > t[RETRANS] {
        t[RETRANS]
    } else if index == idx::RST {
        t[CL as usize]
    } else if (ct.seen[0].flags | ct.seen[1].flags) & fl::DATA_UNACKNOWLEDGED != 0
        && t[ns] > t[UNACK]
    {
        t[UNACK]
    } else if ct.last_win == 0 && t[ns] > t[RETRANS] {
        t[RETRANS]
    } else {
        t[ns]
    };
    let protoinfo = new_state != old_state;
    let mut assured = false;
    if !v.seen_reply {
        if seg.has(RST) {
            return accept(None, protoinfo, false, true);
        }
        if index == idx::SYN && old_state == SS {
            return accept(None, protoinfo, false, false);
        }
        if new_state == ES && timeout > t[UNACK] {
            timeout = t[UNACK];
        }
    } else if !v.assured && (old_state == SR || old_state == ES) && new_state == ES {
        assured = true;
    }
    accept(Some(timeout), protoinfo, assured, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's table, transcribed from the reference (tracker-semantics.md 1.3) as text,
    /// so that the data above is checked against an independent copy cell by cell.
    const REFERENCE: &str = "
O syn    | SS | SS | IG | IG | IG | IG | IG | SS | SS | S2
O synack | IV | IV | SR | IV | IV | IV | IV | IV | IV | SR
O fin    | IV | IV | FW | FW | LA | LA | LA | TW | CL | IV
O ack    | ES | IV | ES | ES | CW | CW | TW | TW | CL | IV
O rst    | IV | CL | CL | CL | CL | CL | CL | CL | CL | CL
R syn    | IV | S2 | IV | IV | IV | IV | IV | SS | IV | S2
R synack | IV | SR | IG | IG | IG | IG | IG | IG | IG | SR
R fin    | IV | IV | FW | FW | LA | LA | LA | TW | CL | IV
R ack    | IV | IG | SR | ES | CW | CW | TW | TW | CL | IG
R rst    | IV | CL | CL | CL | CL | CL | CL | CL | CL | CL
";

    fn code(s: &str) -> u8 {
        match s {
            "NO" => NO,
            "SS" => SS,
            "SR" => SR,
            "ES" => ES,
            "FW" => FW,
            "CW" => CW,
            "LA" => LA,
            "TW" => TW,
            "CL" => CL,
            "S2" => S2,
            "IV" => IV,
            "IG" => IG,
            _ => panic!("{s}"),
        }
    }

    /// [`REFERENCE`] as a table (the `none` rows are all IV).
    fn reference() -> [[[u8; 10]; 6]; 2] {
        let mut t = [[[IV; 10]; 6]; 2];
        for line in REFERENCE.lines().filter(|l| !l.trim().is_empty()) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (d, class) = cells[0].split_once(' ').unwrap();
            let dir = usize::from(d != "O");
            let index = match class.trim() {
                "syn" => idx::SYN,
                "synack" => idx::SYNACK,
                "fin" => idx::FIN,
                "ack" => idx::ACK,
                "rst" => idx::RST,
                c => panic!("{c}"),
            };
            for old in 0..10 {
                t[dir][index as usize][old] = code(cells[1 + old]);
            }
        }
        t
    }

    #[test]
    fn test_table_every_cell_matches_the_reference() {
        let mut checked = 0;
        for line in REFERENCE.lines().filter(|l| !l.trim().is_empty()) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (d, class) = cells[0].split_once(' ').unwrap();
            let dir = if d == "O" { 0 } else { 1 };
            let index = match class.trim() {
                "syn" => idx::SYN,
                "synack" => idx::SYNACK,
                "fin" => idx::FIN,
                "ack" => idx::ACK,
                "rst" => idx::RST,
                c => panic!("{c}"),
            };
            for old in 0..10 {
                assert_eq!(
                    TCP_CONNTRACKS[dir][index as usize][old],
                    code(cells[1 + old]),
                    "dir {dir} class {class} old {old}"
                );
                checked += 1;
            }
        }
        for by_dir in &TCP_CONNTRACKS {
            for cell in by_dir[idx::NONE as usize] {
                assert_eq!(cell, IV);
                checked += 1;
            }
        }
        assert_eq!(checked, 2 * 6 * 10);
    }

    /// Two TCP endpoints talking through the tracker's TCP handler: each side's next
    /// sequence number and ISN, and what the tracker core keeps beside `ip_ct_tcp`
    /// (SEEN_REPLY, ASSURED), updated as `nf_conntrack_in` would.
    struct Sim {
        ct: TcpCt,
        isn: [u32; 2],
        nxt: [u32; 2],
        seen_reply: bool,
        assured: bool,
        cfg: TcpCfg,
    }

    impl Sim {
        /// A connection driven into `state` by a canonical exchange (client = original).
        fn into(state: u8) -> Sim {
            let mut s = Sim {
                ct: TcpCt::default(),
                isn: [1000, 5000],
                nxt: [1000, 5000],
                seen_reply: false,
                assured: false,
                cfg: crate::tracker::Derived::of(&crate::Config::kernel_defaults()).tcp,
            };
            let path: &[(usize, u8)] = match state {
                SS => &[(0, SYN)],
                S2 => &[(0, SYN), (1, SYN)],
                SR => &[(0, SYN), (1, SYN | ACK)],
                ES => &[(0, SYN), (1, SYN | ACK), (0, ACK)],
                FW => &[(0, SYN), (1, SYN | ACK), (0, ACK), (0, FIN | ACK)],
                CW => &[(0, SYN), (1, SYN | ACK), (0, ACK), (0, FIN | ACK), (1, ACK)],
                LA => &[
                    (0, SYN),
                    (1, SYN | ACK),
                    (0, ACK),
                    (0, FIN | ACK),
                    (1, ACK),
                    (1, FIN | ACK),
                ],
                TW => &[
                    (0, SYN),
                    (1, SYN | ACK),
                    (0, ACK),
                    (0, FIN | ACK),
                    (1, ACK),
                    (1, FIN | ACK),
                    (0, ACK),
                ],
                CL => &[(0, SYN), (1, SYN | ACK), (0, ACK), (0, RST | ACK)],
                _ => unreachable!(),
            };
            for &(dir, flags) in path {
                let r = s.send(dir, flags, false);
                assert!(
                    matches!(r, TcpRes::Accept { kill: false, .. }),
                    "building {state}: {r:?}"
                );
            }
            assert_eq!(s.ct.state, state, "building {state}");
            s
        }

        /// One segment from `dir` with `flags`: the next sequence number (a SYN resent
        /// from its ISN when `resend`), acknowledging all the peer sent.
        fn send(&mut self, dir: usize, flags: u8, resend: bool) -> TcpRes {
            let seq = if resend { self.isn[dir] } else { self.nxt[dir] };
            // An RST from a side that has received nothing acknowledges nothing.
            let flags = if flags & RST != 0 && self.nxt[1 - dir] == self.isn[1 - dir] {
                RST
            } else {
                flags
            };
            let seg = Seg {
                seq,
                ack: if flags & ACK != 0 {
                    self.nxt[1 - dir]
                } else {
                    0
                },
                win: 64000,
                flags,
                opts: &[],
                payload: &[],
            };
            let r = if self.ct.state == NO && self.ct.seen[0].td_end == 0 {
                match tcp_new(&seg, true) {
                    Some(ct) => {
                        self.ct = ct;
                        let view = CtView {
                            seen_reply: false,
                            assured: false,
                            expires_in: 0,
                        };
                        tcp_packet(&mut self.ct, dir, &seg, &view, &self.cfg, &mut None)
                    }
                    None => TcpRes::Invalid,
                }
            } else {
                let view = CtView {
                    seen_reply: self.seen_reply,
                    assured: self.assured,
                    expires_in: 60 * crate::tracker::HZ,
                };
                tcp_packet(&mut self.ct, dir, &seg, &view, &self.cfg, &mut None)
            };
            if let TcpRes::Accept { assured, .. } = r {
                self.nxt[dir] = seg.end();
                self.seen_reply |= dir == 1;
                self.assured |= assured;
            }
            r
        }
    }

    const NAMES: [&str; 12] = [
        "NO", "SS", "SR", "ES", "FW", "CW", "LA", "TW", "CL", "S2", "IV", "IG",
    ];

    /// The packet path against the kernel's table ([`REFERENCE`]), cell by cell: a connection in each
    /// state (by real segments, client = original direction), then one in-window segment of
    /// each class from each direction; the resulting verdict and state must be the cell's:
    /// IV → invalid, state kept; IG → accepted without a timeout refresh, state kept; SS
    /// from TIME_WAIT/CLOSE → the old entry goes and the packet is looked up again (it then
    /// creates a fresh SYN_SENT entry); any other state → accepted, in that state. NONE
    /// has only the original direction (a reply needs an entry), checked through `tcp_new`.
    #[test]
    fn test_packet_path_reaches_every_cell_of_the_kernel_table() {
        let classes: [(u8, &str, u8); 5] = [
            (idx::SYN, "syn", SYN),
            (idx::SYNACK, "synack", SYN | ACK),
            (idx::FIN, "fin", FIN | ACK),
            (idx::ACK, "ack", ACK),
            (idx::RST, "rst", RST | ACK),
        ];
        let kernel = reference();
        let mut bad = Vec::new();
        let mut checked = 0;
        for (index, cname, flags) in classes {
            // NONE: only a new connection's first packet.
            let want = kernel[0][index as usize][NO as usize];
            let seg = Seg {
                seq: 1000,
                ack: if flags & ACK != 0 { 77 } else { 0 },
                win: 64000,
                flags,
                opts: &[],
                payload: &[],
            };
            // tcp_new only sets up the window; the state comes from the table lookup in
            // tcp_packet that follows (SYN → SYN_SENT, ACK → picked up ESTABLISHED).
            let got = match tcp_new(&seg, true) {
                None => IV,
                Some(mut ct) => {
                    let view = CtView {
                        seen_reply: false,
                        assured: false,
                        expires_in: 0,
                    };
                    let cfg = crate::tracker::Derived::of(&crate::Config::kernel_defaults()).tcp;
                    match tcp_packet(&mut ct, 0, &seg, &view, &cfg, &mut None) {
                        TcpRes::Accept { .. } => ct.state,
                        _ => IG,
                    }
                }
            };
            if got != want {
                bad.push(format!(
                    "O {cname} NO: want {} got {}",
                    NAMES[want as usize], NAMES[got as usize]
                ));
            }
            checked += 1;
            for old in [SS, SR, ES, FW, CW, LA, TW, CL, S2] {
                for (dir, by_class) in kernel.iter().enumerate() {
                    let want = by_class[index as usize][old as usize];
                    let mut sim = Sim::into(old);
                    // A SYN (or SYN/ACK) from a side that already sent one is its
                    // retransmission; otherwise a fresh one.
                    let syn_sent = sim.nxt[dir] != sim.isn[dir];
                    let resend = flags & SYN != 0 && syn_sent && !matches!(old, TW | CL);
                    let r = sim.send(dir, flags, resend);
                    let d = if dir == 0 { "O" } else { "R" };
                    // Before SEEN_REPLY the kernel keeps the timeout on a SYN in SYN_SENT
                    // (a retransmit, or the peer's SYN of a simultaneous open) and kills
                    // the entry on an RST; everywhere else an accepted transition
                    // refreshes it.
                    let no_refresh_ok = old == SS && (index == idx::SYN || index == idx::RST);
                    let got = match r {
                        TcpRes::Invalid if sim.ct.state == old => "IV".to_string(),
                        TcpRes::Repeat => "SS".to_string(),
                        TcpRes::Accept {
                            timeout: None,
                            kill: false,
                            ..
                        } if want == IG && sim.ct.state == old => "IG".to_string(),
                        TcpRes::Accept { timeout, .. } if timeout.is_some() || no_refresh_ok => {
                            NAMES[sim.ct.state as usize].to_string()
                        }
                        other => format!("{other:?} in {}", NAMES[sim.ct.state as usize]),
                    };
                    if got != NAMES[want as usize] {
                        bad.push(format!(
                            "{d} {cname} {}: want {} got {got}",
                            NAMES[old as usize], NAMES[want as usize]
                        ));
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 5 * (1 + 9 * 2));
        assert!(
            bad.is_empty(),
            "cells the packet path disagrees on:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn test_tcp_error_flag_combinations() {
        let mut h = [0u8; 20];
        h[12] = 5 << 4;
        let valid = [
            SYN,
            SYN | URG,
            SYN | ACK,
            RST,
            RST | ACK,
            FIN | ACK,
            FIN | ACK | URG,
            ACK,
            ACK | URG,
        ];
        for f in 0..=255u8 {
            h[13] = f;
            let base = f & !(ECE | CWR | PSH);
            assert_eq!(
                parse_seg(&h).is_some(),
                valid.contains(&base),
                "flags {f:#x}"
            );
        }
        h[13] = ACK;
        h[12] = 4 << 4;
        assert!(parse_seg(&h).is_none(), "doff below 5");
        h[12] = 6 << 4;
        assert!(parse_seg(&h).is_none(), "doff beyond the segment");
    }

    #[test]
    fn test_options_window_scale_capped_at_14_and_sack_perm() {
        let mut s = TcpSide::default();
        tcp_options(&[1, 3, 3, 20, 4, 2, 0, 0], &mut s);
        assert_eq!(s.td_scale, 14);
        assert_eq!(s.flags, fl::WINDOW_SCALE | fl::SACK_PERM);
        let mut s = TcpSide::default();
        tcp_options(&[3, 9, 7], &mut s); // bad length: stop
        assert_eq!(s.flags, 0);
    }

    #[test]
    fn test_sack_takes_the_highest_right_edge() {
        let mut sack = 100;
        let opts = [
            1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 5, 0, 0, 0, 200,
        ];
        tcp_sack(&opts, &mut sack);
        assert_eq!(sack, 256);
    }
}
