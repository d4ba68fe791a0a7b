//! Opening a [`FlowSource`] from the `--from` flag every read-only view takes.
//!
//! `--from kernel` (the default) dumps over ctnetlink; the other origins (`proc`, a file, `-`
//! for standard input, a capture) are read by their own modules. Views ask for
//! [`open`] and use only the trait, so each view works on every source.

mod capture;
pub mod kernel;

use ctkit_model::{FlowSource, SourceError};

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

/// Opens the source `spec` names.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn FlowSource>, SourceError> {
    match spec {
        SourceSpec::Kernel => Ok(Box::new(kernel::KernelSource::open()?)),
        SourceSpec::File(p) if capture_magic(p) => Ok(Box::new(capture::CaptureSource::open(p)?)),
        other => Err(SourceError::Other(format!(
            "source {other:?} is not readable yet"
        ))),
    }
}

/// Whether the file at `path` starts with pcap or pcapng magic.
fn capture_magic(path: &str) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| ctkit_capture::sniff(&head).is_some())
}
