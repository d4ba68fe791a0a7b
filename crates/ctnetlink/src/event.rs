//! Conntrack and expectation events: multicast groups `NFNLGRP_CONNTRACK_*`
//! (include/uapi/linux/netfilter/nfnetlink.h). NEW and UPDATE both arrive as
//! `IPCTNL_MSG_CT_NEW`; NEW carries `NLM_F_CREATE` (as libnetfilter_conntrack decides).
//! DESTROY is `IPCTNL_MSG_CT_DELETE`. Overflow of the receive queue surfaces as `ENOBUFS`;
//! the socket stays usable after it.

use crate::error::Result;
use crate::expect::parse_expect;
use crate::flow::parse_flow;
use crate::msg::MsgIter;
use crate::socket::Socket;
use crate::uapi::*;
use ctkit_model::{Expect, Flow};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// A new entry.
    New,
    /// An entry changed (the message is partial: unchanged parts may be missing).
    Update,
    /// An entry was destroyed.
    Destroy,
}

/// One event, borrowing the socket's reused buffers.
#[derive(Debug)]
pub enum Event<'a> {
    /// A conntrack entry event.
    Flow {
        /// New, update or destroy.
        kind: EventType,
        /// The entry.
        flow: &'a Flow,
        /// `nlmsg_pid` of the message: the port of the process that caused it, 0 for the
        /// kernel.
        portid: u32,
    },
    /// An expectation event.
    Expect {
        /// New, update or destroy.
        kind: EventType,
        /// The expectation.
        expect: &'a Expect,
        /// Sender port, as for flows.
        portid: u32,
    },
}

/// A socket subscribed to event groups.
#[derive(Debug)]
pub struct EventSocket {
    sock: Socket,
    rbuf: Vec<u8>,
    flow: Flow,
    expect: Expect,
}

impl EventSocket {
    /// Opens a socket in the calling thread's namespace, joined to `groups`
    /// (`NFNLGRP_CONNTRACK_NEW` … `NFNLGRP_CONNTRACK_EXP_DESTROY`).
    pub fn subscribe(groups: &[u32]) -> Result<EventSocket> {
        let sock = Socket::open()?;
        for g in groups {
            sock.add_membership(*g)?;
        }
        Ok(EventSocket {
            sock,
            rbuf: Vec::with_capacity(256 * 1024),
            flow: Flow::default(),
            expect: Expect::default(),
        })
    }

    /// The socket (receive buffer size).
    pub fn socket(&self) -> &Socket {
        &self.sock
    }

    /// Blocks for one datagram and calls `f` for each event in it. `ENOBUFS` means events
    /// were lost ([`crate::Error::is_enobufs`]); keep calling.
    pub fn recv(&mut self, mut f: impl FnMut(Event<'_>)) -> Result<()> {
        self.sock.recv(&mut self.rbuf)?;
        for m in MsgIter::new(&self.rbuf) {
            let m = m?;
            let subsys = nfnl_subsys_id(m.kind());
            let msg = nfnl_msg_type(m.kind());
            let kind = match msg {
                IPCTNL_MSG_CT_NEW if m.flags() & NLM_F_CREATE != 0 => EventType::New,
                IPCTNL_MSG_CT_NEW => EventType::Update,
                IPCTNL_MSG_CT_DELETE => EventType::Destroy,
                _ => continue,
            };
            match subsys {
                NFNL_SUBSYS_CTNETLINK => {
                    parse_flow(m.attrs()?, &mut self.flow)?;
                    f(Event::Flow {
                        kind,
                        flow: &self.flow,
                        portid: m.pid(),
                    });
                }
                NFNL_SUBSYS_CTNETLINK_EXP => {
                    parse_expect(m.attrs()?, &mut self.expect)?;
                    f(Event::Expect {
                        kind,
                        expect: &self.expect,
                        portid: m.pid(),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}
