//! The NETLINK_NETFILTER socket: the only module of ctkit with `unsafe` (libc system calls).
//!
//! Blocking `AF_NETLINK`/`SOCK_RAW` socket per netlink(7); options from
//! include/uapi/linux/netlink.h (`SOL_NETLINK` level) and socket(7) (`SO_RCVBUFFORCE`).
#![allow(unsafe_code)]

use crate::error::{Error, Result};
use crate::uapi::{NETLINK_NETFILTER, SOL_NETLINK};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A bound netfilter netlink socket.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    portid: u32,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Socket {
    /// Opens and binds a socket in the calling thread's network namespace.
    pub fn open() -> Result<Socket> {
        // SAFETY: plain socket(2) call with constant arguments; the result is checked.
        let fd = cvt(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_NETFILTER,
            )
        })?;
        // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: addr is a valid sockaddr_nl of `len` bytes for the duration of the call.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                len,
            )
        })?;
        let mut got_len = len;
        // SAFETY: addr and got_len are valid for writes of a sockaddr_nl.
        cvt(unsafe {
            libc::getsockname(
                fd.as_raw_fd(),
                &mut addr as *mut libc::sockaddr_nl as *mut libc::sockaddr,
                &mut got_len,
            )
        })?;
        Ok(Socket {
            fd,
            portid: addr.nl_pid,
        })
    }

    /// The port id the kernel assigned (`nl_pid`).
    pub fn portid(&self) -> u32 {
        self.portid
    }

    /// Sends one datagram holding one or more complete messages to the kernel.
    pub fn send(&self, buf: &[u8]) -> Result<()> {
        // SAFETY: sockaddr_nl all-zero is valid (destination: the kernel, port 0).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        loop {
            // SAFETY: buf is valid for reads of buf.len() bytes; addr for its size.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    buf.as_ptr() as *const libc::c_void,
                    buf.len(),
                    0,
                    &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::Io(e));
            }
            return Ok(());
        }
    }

    /// Receives one datagram into `buf` (its capacity is the limit), returning its length.
    /// A datagram larger than the buffer is an [`Error::Truncated`].
    pub fn recv(&self, buf: &mut Vec<u8>) -> Result<usize> {
        self.recv_flags(buf, 0)
    }

    /// [`Socket::recv`] without waiting: `Ok(None)` when nothing is queued.
    pub fn try_recv(&self, buf: &mut Vec<u8>) -> Result<Option<usize>> {
        match self.recv_flags(buf, libc::MSG_DONTWAIT) {
            Ok(n) => Ok(Some(n)),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn recv_flags(&self, buf: &mut Vec<u8>, flags: libc::c_int) -> Result<usize> {
        buf.clear();
        let cap = buf.capacity();
        loop {
            // SAFETY: the pointer is valid for writes of `cap` bytes (the Vec's capacity).
            let r = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    cap,
                    libc::MSG_TRUNC | flags,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::Io(e));
            }
            let n = r as usize;
            if n > cap {
                return Err(Error::Truncated { size: n, buf: cap });
            }
            // SAFETY: the kernel initialised the first n <= cap bytes.
            unsafe { buf.set_len(n) };
            return Ok(n);
        }
    }

    fn setsockopt_int(
        &self,
        level: libc::c_int,
        name: libc::c_int,
        v: libc::c_int,
    ) -> io::Result<()> {
        // SAFETY: v is a valid c_int for the duration of the call.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                &v as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })
        .map(|_| ())
    }

    fn getsockopt_int(&self, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: v and len are valid for writes.
        cvt(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                &mut v as *mut libc::c_int as *mut libc::c_void,
                &mut len,
            )
        })?;
        Ok(v)
    }

    /// Sets the receive buffer: `SO_RCVBUFFORCE` (needs CAP_NET_ADMIN), falling back to
    /// `SO_RCVBUF`. Returns the effective size the kernel reports (it doubles the request).
    pub fn set_rcvbuf(&self, bytes: usize) -> Result<usize> {
        let v = bytes.min(i32::MAX as usize) as libc::c_int;
        if self
            .setsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v)
            .is_err()
        {
            self.setsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUF, v)?;
        }
        self.rcvbuf()
    }

    /// The current receive buffer size.
    pub fn rcvbuf(&self) -> Result<usize> {
        Ok(self.getsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUF)? as usize)
    }

    /// Joins a multicast group (`NETLINK_ADD_MEMBERSHIP`).
    pub fn add_membership(&self, group: u32) -> Result<()> {
        Ok(self.setsockopt_int(
            SOL_NETLINK,
            crate::uapi::NETLINK_ADD_MEMBERSHIP,
            group as i32,
        )?)
    }

    /// Turns a netlink boolean option on or off (`NETLINK_EXT_ACK`, `NETLINK_NO_ENOBUFS`, …).
    pub fn set_netlink_flag(&self, option: i32, on: bool) -> Result<()> {
        Ok(self.setsockopt_int(SOL_NETLINK, option, on as i32)?)
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
