//! conntrack's error classes (`enum exittype` in conntrack.h) as a typed value.

/// How conntrack exits on an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `PARAMETER_PROBLEM`: exit 2, followed by the "Try `conntrack -h'…" line.
    Parameter,
    /// `OTHER_PROBLEM`: exit 1, no hint line.
    Other,
}

/// An error conntrack reports with `exit_error()`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompatError {
    /// The text after the banner.
    pub message: String,
    /// Exit class.
    pub kind: ErrorKind,
    /// For `-R` files: the 1-based line that failed (not printed: conntrack does not say).
    pub line: Option<usize>,
}

impl CompatError {
    /// A parameter problem (exit 2 + hint line).
    pub fn param(message: impl Into<String>) -> CompatError {
        CompatError {
            message: message.into(),
            kind: ErrorKind::Parameter,
            line: None,
        }
    }

    /// Any other problem (exit 1).
    pub fn other(message: impl Into<String>) -> CompatError {
        CompatError {
            message: message.into(),
            kind: ErrorKind::Other,
            line: None,
        }
    }

    /// The process exit code conntrack uses.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Parameter => 2,
            ErrorKind::Other => 1,
        }
    }

    /// Whether the "Try `conntrack -h'…" line follows.
    pub fn wants_hint(&self) -> bool {
        self.kind == ErrorKind::Parameter
    }
}
