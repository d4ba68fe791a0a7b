//! Opening a [`FlowSource`] from the `--from` flag every read-only view takes.
//!
//! `--from kernel` (the default) dumps over ctnetlink; `proc` reads
//! `/proc/net/nf_conntrack` (or the old `/proc/net/ip_conntrack`) of the calling thread's
//! network namespace; a path or `-` (standard input) is a saved dump in any format ctkit or
//! conntrack(8) prints, detected from its first line (parsers: `ctkit_model::text`). Views ask
//! for [`open`] and use only the trait, so each view works on every source.
//!
//! `--lenient` (text sources skip malformed lines and count them) is an [`OpenOptions`] field,
//! and so are a capture's engine options (`--set`, `--helper`, `--seed`, …:
//! [`crate::views::engine`]), refused by every other source; views open their source through
//! `ViewArgs::open_source`, which passes them on.

pub mod capture;
pub mod counters;
pub mod file;
pub mod kernel;
pub mod list;
pub mod proc;

use ctkit_model::{FlowSource, SourceError};
use std::io::Read;

/// What `--from` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// The running kernel's table over ctnetlink (the calling thread's network namespace).
    Kernel,
    /// `/proc/net/nf_conntrack` (or `/proc/net/ip_conntrack` on old kernels).
    Proc,
    /// Standard input, format auto-detected.
    Stdin,
    /// A saved file (or capture), format auto-detected.
    File(String),
}

impl SourceSpec {
    /// Reads a `--from` value: `kernel`, `proc`, `-`, or a path.
    pub fn parse(s: &str) -> SourceSpec {
        match s {
            "kernel" => SourceSpec::Kernel,
            "proc" => SourceSpec::Proc,
            "-" => SourceSpec::Stdin,
            p => SourceSpec::File(p.to_string()),
        }
    }
}

/// How a source is opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Skip malformed lines of text sources and count them (`ScanReport::skipped`) instead of
    /// failing on the first.
    pub lenient: bool,
    /// The dumps of a scan and what the kernel may filter in each (`--from kernel` only;
    /// every entry is still rechecked by the view's filter). Empty: one dump of the whole
    /// table.
    pub kernel_dumps: Vec<ctkit_ctnetlink::DumpRequest>,
    /// How a capture is replayed (`--set`, `--helper`, `--seed`, …); with any other source
    /// a non-empty set is an error.
    pub engine: crate::views::engine::EngineArgs,
}

/// Opens the source `spec` names with explicit options.
pub fn open_with(spec: &SourceSpec, o: &OpenOptions) -> Result<Box<dyn FlowSource>, SourceError> {
    match spec {
        SourceSpec::Kernel => {
            engine_unused(o, "the kernel's table (--from kernel)")?;
            let mut k = kernel::KernelSource::open()?;
            k.set_requests(o.kernel_dumps.clone());
            Ok(Box::new(k))
        }
        SourceSpec::Proc => {
            engine_unused(o, "/proc/net/nf_conntrack (--from proc)")?;
            Ok(Box::new(proc::ProcSource::open(o.lenient)?))
        }
        SourceSpec::Stdin | SourceSpec::File(_) => file::open(spec, o),
    }
}

/// An error when engine options were given for a source that is not a capture (`what`);
/// the views reject them earlier, while parsing ([`crate::views::common::parse_view_args`]).
pub fn engine_unused(o: &OpenOptions, what: &str) -> Result<(), SourceError> {
    match o.engine.first {
        Some(flag) => Err(SourceError::Other(crate::views::common::not_a_capture(
            flag, what,
        ))),
        None => Ok(()),
    }
}

/// Whether `head` (the first bytes of an input) starts like a packet capture: pcap in either
/// byte order, microsecond or nanosecond (`a1b2c3d4`, `a1b23c4d`), or pcapng (a Section
/// Header Block, `0a0d0d0a`).
pub fn is_capture(head: &[u8]) -> bool {
    const MAGICS: [[u8; 4]; 5] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        [0x0a, 0x0d, 0x0d, 0x0a],
    ];
    head.len() >= 4 && MAGICS.iter().any(|m| head[..4] == m[..])
}

/// Opens a packet capture `spec` names; `input` yields it from its first byte. The capture
/// is replayed through the userspace tracker ([`capture`]) configured by `engine`.
pub fn open_capture(
    spec: &SourceSpec,
    input: Box<dyn Read>,
    engine: &crate::views::engine::EngineArgs,
) -> Result<Box<dyn FlowSource>, SourceError> {
    Ok(Box::new(capture::CaptureSource::from_reader(
        &file::display_name(spec),
        input,
        engine,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_magics_are_recognised() {
        assert!(is_capture(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]));
        assert!(is_capture(&[0x0a, 0x0d, 0x0d, 0x0a]));
        assert!(is_capture(&[0xa1, 0xb2, 0x3c, 0x4d]));
        assert!(!is_capture(b"tcp      6"));
        assert!(!is_capture(&[0xd4, 0xc3]));
    }
}
