//! `--from FILE` and `--from -`: a saved dump in any format ctkit or conntrack(8) prints
//! (`conntrack -L` text with its `-o` variants, `-o extended`, /proc/net/nf_conntrack and
//! ip_conntrack copies, `-o save`, `-o xml`, ctkit `-o json`), detected from the first
//! non-empty line and parsed by `ctkit_model::text`. A packet capture is handed to
//! [`super::open_capture`].
//!
//! Label names in text and XML dumps are resolved with the system map
//! (/etc/xtables/connlabel.conf) when it exists.

use super::capture::CaptureSource;
use super::{OpenOptions, SourceSpec};
use ctkit_model::text::{DumpFormat, DumpReader, LineSplitter};
use ctkit_model::{Flow, FlowSource, LabelMap, ScanReport, SourceError};
use std::fs::File;
use std::io::{Cursor, Read};
use std::ops::ControlFlow;

/// How the spec is named in messages: the path as given, `-` as `standard input`.
pub fn display_name(spec: &SourceSpec) -> String {
    match spec {
        SourceSpec::File(p) => p.clone(),
        SourceSpec::Stdin => "standard input".to_string(),
        SourceSpec::Kernel => "kernel".to_string(),
        SourceSpec::Proc => "proc".to_string(),
    }
}

/// A saved dump being read.
pub struct FileSource {
    spec: SourceSpec,
    name: String,
    format: Option<DumpFormat>,
    lenient: bool,
    /// The reader of the first pass (opened for detection); later passes reopen the file.
    first: Option<DumpReader<Box<dyn Read>>>,
    scans: u32,
}

fn io_error(name: &str, e: std::io::Error) -> SourceError {
    SourceError::Io {
        path: name.to_string(),
        source: e,
    }
}

fn labelmap() -> Option<LabelMap> {
    LabelMap::load(None).ok().flatten()
}

/// Opens `spec` (a file or standard input): a dump source, or a capture.
pub fn open(spec: &SourceSpec, o: &OpenOptions) -> Result<Box<dyn FlowSource>, SourceError> {
    let name = display_name(spec);
    let input: Box<dyn Read> = match spec {
        SourceSpec::File(p) => Box::new(File::open(p).map_err(|e| io_error(&name, e))?),
        _ => Box::new(std::io::stdin()),
    };
    let mut lines = LineSplitter::new(input);
    let head = lines.head(4).map_err(|e| io_error(&name, e))?;
    if super::is_capture(head) {
        return super::open_capture(spec, from_start(spec, lines)?, &o.engine);
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Err(SourceError::Format {
            path: name,
            message: "gzip-compressed: decompress it first (zcat FILE | ctkit … --from -)"
                .to_string(),
        });
    }
    super::engine_unused(o, &format!("{name}, a saved dump"))?;
    let reader = DumpReader::new(lines, &name, None, labelmap(), o.lenient)?;
    Ok(Box::new(FileSource {
        spec: spec.clone(),
        name,
        format: reader.format(),
        lenient: o.lenient,
        first: Some(reader),
        scans: 0,
    }))
}

/// The input again from its first byte: a regular file reopened, or the bytes read for
/// detection followed by the rest (standard input, a pipe such as `<(zcat cap.pcap.gz)`,
/// which cannot be read twice).
fn from_start(
    spec: &SourceSpec,
    lines: LineSplitter<Box<dyn Read>>,
) -> Result<Box<dyn Read>, SourceError> {
    Ok(match spec {
        SourceSpec::File(p) if std::fs::metadata(p).is_ok_and(|m| m.is_file()) => {
            Box::new(File::open(p).map_err(|e| io_error(&display_name(spec), e))?)
        }
        _ => {
            let (buffered, rest) = lines.into_parts();
            Box::new(Cursor::new(buffered).chain(rest))
        }
    })
}

/// Opens `spec` (a file or standard input) as a packet capture only, for what exists only in
/// a replay (`what`: "expectations" for `list --table expect --from CAPTURE`, "per-CPU
/// counters" for `stats --from CAPTURE`). A saved dump or any other file is a format error
/// saying so.
/// `engine` configures the replay.
pub fn open_capture_only(
    spec: &SourceSpec,
    what: &str,
    engine: &crate::views::engine::EngineArgs,
) -> Result<CaptureSource, SourceError> {
    let name = display_name(spec);
    let input: Box<dyn Read> = match spec {
        SourceSpec::File(p) => Box::new(File::open(p).map_err(|e| io_error(&name, e))?),
        _ => Box::new(std::io::stdin()),
    };
    let mut lines = LineSplitter::new(input);
    let head = lines.head(4).map_err(|e| io_error(&name, e))?;
    if !super::is_capture(head) {
        return Err(SourceError::Format {
            path: name,
            message: format!(
                "not a packet capture: saved dumps hold connections only; \
                 {what} come from a capture (pcap, pcapng) or the kernel"
            ),
        });
    }
    CaptureSource::from_reader(&name, from_start(spec, lines)?, engine)
}

impl FileSource {
    /// The detected format (`None`: the input had no line).
    pub fn format(&self) -> Option<DumpFormat> {
        self.format
    }
}

impl FlowSource for FileSource {
    fn describe(&self) -> String {
        let what = self.format.map_or("empty", DumpFormat::name);
        match self.spec {
            SourceSpec::Stdin => format!("standard input ({what})"),
            _ => format!("file {} ({what})", self.name),
        }
    }

    fn scan(
        &mut self,
        f: &mut dyn FnMut(&Flow) -> ControlFlow<()>,
    ) -> Result<ScanReport, SourceError> {
        self.scans += 1;
        let mut reader = match self.first.take() {
            Some(r) => r,
            None => match &self.spec {
                SourceSpec::File(p) => {
                    let file: Box<dyn Read> =
                        Box::new(File::open(p).map_err(|e| io_error(&self.name, e))?);
                    DumpReader::new(
                        LineSplitter::new(file),
                        &self.name,
                        self.format,
                        labelmap(),
                        self.lenient,
                    )?
                }
                _ => {
                    return Err(SourceError::Other(
                        "standard input can be read only once".to_string(),
                    ))
                }
            },
        };
        reader.scan(f)
    }

    fn is_live(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_again_on_every_scan_and_describes_its_format() {
        let p = std::env::temp_dir().join(format!("ctkit-file-src-{}", std::process::id()));
        std::fs::write(
            &p,
            "udp      17 20 src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2 [UNREPLIED] src=192.0.2.2 dst=192.0.2.1 sport=2 dport=1 mark=0 use=1\n",
        )
        .unwrap();
        let spec = SourceSpec::File(p.display().to_string());
        let mut s = open(&spec, &OpenOptions::default()).unwrap();
        assert_eq!(
            s.describe(),
            format!("file {} (conntrack -L text)", p.display())
        );
        assert!(!s.is_live());
        for _ in 0..2 {
            let mut ports = Vec::new();
            let r = s
                .scan(&mut |f| {
                    ports.push(f.orig.dport);
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!((r.flows, ports), (1, vec![2]));
        }
        assert_eq!(s.counters().unwrap(), ctkit_model::TableCounters::default());
        std::fs::remove_file(&p).unwrap();
        // Gone between scans: an I/O error naming the file.
        let e = s.scan(&mut |_| ControlFlow::Continue(())).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!("{}: ", p.display())),
            "{e}"
        );
    }
}
