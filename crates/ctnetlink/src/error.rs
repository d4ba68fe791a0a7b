//! The crate's typed errors: malformed input (with attribute path, offset and lengths), kernel
//! errors from `NLMSG_ERROR`/`NLMSG_DONE`, and socket errors.

use std::fmt;

/// Where in a message a malformed attribute sits: kernel names from the outside in
/// (`CTA_TUPLE_ORIG/CTA_TUPLE_IP/CTA_IP_V4_SRC`). Fixed capacity, no allocation.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct AttrPath {
    names: [&'static str; 4],
    len: u8,
}

impl AttrPath {
    /// The names, outermost first.
    pub fn names(&self) -> &[&'static str] {
        &self.names[..self.len as usize]
    }

    /// Prepends an enclosing attribute's name (drops the innermost when full).
    pub fn within(mut self, name: &'static str) -> AttrPath {
        let n = (self.len as usize).min(self.names.len() - 1);
        self.names.copy_within(0..n, 1);
        self.names[0] = name;
        self.len = (n + 1) as u8;
        self
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 {
            return f.write_str("(top level)");
        }
        f.write_str(&self.names().join("/"))
    }
}

impl fmt::Debug for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An attribute or its payload has an impossible length.
    #[error("malformed attribute {path} at offset {offset}: {what} (expected {expected} bytes, got {actual})")]
    Attr {
        /// Attribute names from the outside in.
        path: AttrPath,
        /// Byte offset of the attribute header within the message payload it was read from.
        offset: usize,
        /// What was being checked.
        what: &'static str,
        /// Expected length (a minimum for header checks).
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// A netlink message header is malformed or truncated.
    #[error("malformed netlink message at offset {offset}: {what} (expected {expected} bytes, got {actual})")]
    Msg {
        /// Offset of the message within the receive buffer.
        offset: usize,
        /// What was being checked.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// The kernel answered with `NLMSG_ERROR` (or a dump ended with a negative `NLMSG_DONE`).
    #[error("kernel error: {} (errno {errno}){}", errno_text(*errno), ext_text(msg))]
    Kernel {
        /// Positive errno (`ENOENT`, `EEXIST`, `EINVAL`, ...).
        errno: i32,
        /// `NLMSGERR_ATTR_MSG` from extended ACK, when the kernel sent one.
        msg: Option<String>,
        /// `NLMSGERR_ATTR_OFFS`: offset of the offending attribute in the request.
        offset: Option<u32>,
        /// Sequence number of the request that failed.
        seq: u32,
    },
    /// A datagram was larger than the receive buffer (`MSG_TRUNC`).
    #[error("netlink datagram truncated: {size} bytes, buffer {buf}")]
    Truncated {
        /// Real datagram size.
        size: usize,
        /// Buffer size.
        buf: usize,
    },
    /// The kernel sent something the protocol does not allow here.
    #[error("unexpected netlink message: {0}")]
    Protocol(&'static str),
    /// A request could not be built from the given values.
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// A socket system call failed (`ENOBUFS` on an event socket means events were lost;
    /// see [`Error::is_enobufs`]).
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
}

fn errno_text(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno).to_string()
}

fn ext_text(msg: &Option<String>) -> String {
    match msg {
        Some(m) => format!(": {m}"),
        None => String::new(),
    }
}

impl Error {
    /// The positive errno of a kernel or socket error.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// Whether this is `ENOBUFS`: the receive queue overflowed and messages (events) were
    /// lost. The socket stays usable.
    pub fn is_enobufs(&self) -> bool {
        self.errno() == Some(libc::ENOBUFS)
    }

    /// Whether this is a kernel `ENOENT` (no such entry).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Kernel { errno, .. } if *errno == libc::ENOENT)
    }

    /// Whether this is a kernel `EEXIST` (entry exists).
    pub fn is_exists(&self) -> bool {
        matches!(self, Error::Kernel { errno, .. } if *errno == libc::EEXIST)
    }

    /// Adds an enclosing attribute name to a malformed-attribute error's path.
    pub fn within(self, name: &'static str) -> Error {
        match self {
            Error::Attr {
                path,
                offset,
                what,
                expected,
                actual,
            } => Error::Attr {
                path: path.within(name),
                offset,
                what,
                expected,
                actual,
            },
            e => e,
        }
    }
}

/// `map_err` helper: `r.map_err(at("CTA_MARK"))`.
pub(crate) fn at(name: &'static str) -> impl FnOnce(Error) -> Error {
    move |e| e.within(name)
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_path_prepends_outer_names() {
        let p = AttrPath::default()
            .within("CTA_IP_V4_SRC")
            .within("CTA_TUPLE_IP")
            .within("CTA_TUPLE_ORIG");
        assert_eq!(p.to_string(), "CTA_TUPLE_ORIG/CTA_TUPLE_IP/CTA_IP_V4_SRC");
    }

    #[test]
    fn kernel_error_reports_errno_and_ext_ack() {
        let e = Error::Kernel {
            errno: libc::ENOENT,
            msg: Some("nope".into()),
            offset: None,
            seq: 3,
        };
        assert!(e.is_not_found());
        assert_eq!(e.errno(), Some(2));
        assert!(e.to_string().ends_with("(errno 2): nope"), "{e}");
        let io = Error::Io(std::io::Error::from_raw_os_error(libc::ENOBUFS));
        assert!(io.is_enobufs());
    }
}
