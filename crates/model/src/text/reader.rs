//! Streaming a saved dump: big reads, lines split in place, one reused [`Flow`], the format
//! detected from the first non-empty line. This is the whole of a `--from FILE` or `--from -`
//! source except opening the file; /proc sources use it with the format fixed.

use super::{detect, DumpFormat};
use crate::flow::Flow;
use crate::labelmap::LabelMap;
use crate::source::{ScanReport, SourceError};
use std::io::{self, Read};
use std::ops::ControlFlow;

/// Bytes read at a time.
pub const CHUNK: usize = 1 << 20;
/// Longest line accepted (a flow line is a few hundred bytes; this stops a binary file with
/// no newline from filling memory).
pub const MAX_LINE: usize = 64 * 1024;

/// Splits what a reader yields into lines without copying them out of its buffer.
pub struct LineSplitter<R> {
    r: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    last_start: usize,
    line_no: u64,
}

impl<R: Read> LineSplitter<R> {
    /// A splitter reading [`CHUNK`] bytes at a time.
    pub fn new(r: R) -> LineSplitter<R> {
        LineSplitter::with_chunk(r, CHUNK)
    }

    /// A splitter with its own read size (tests use tiny ones to cross chunk edges).
    pub fn with_chunk(r: R, chunk: usize) -> LineSplitter<R> {
        LineSplitter {
            r,
            buf: vec![0; chunk.max(1)],
            start: 0,
            end: 0,
            eof: false,
            last_start: 0,
            line_no: 0,
        }
    }

    /// 1-based number of the line last returned.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.last_start = 0;
        }
        if self.end == self.buf.len() {
            // A line longer than the buffer (only with small chunks; next_line bounds it).
            let grow = self.buf.len().max(4096);
            self.buf.resize(self.buf.len() + grow, 0);
        }
        loop {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The first bytes of the input, not consumed (at least `n` unless the input is shorter).
    pub fn head(&mut self, n: usize) -> io::Result<&[u8]> {
        while self.end - self.start < n && !self.eof {
            self.fill()?;
        }
        Ok(&self.buf[self.start..self.end])
    }

    /// The next line with its `\n` (the last line may lack it); `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        let mut scanned = 0;
        loop {
            let avail = &self.buf[self.start + scanned..self.end];
            if let Some(i) = memchr::memchr(b'\n', avail) {
                let s = self.start;
                let e = self.start + scanned + i + 1;
                self.last_start = s;
                self.start = e;
                self.line_no += 1;
                return Ok(Some(&self.buf[s..e]));
            }
            scanned = self.end - self.start;
            if scanned >= MAX_LINE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("line {} is longer than {MAX_LINE} bytes", self.line_no + 1),
                ));
            }
            if self.eof {
                if scanned == 0 {
                    return Ok(None);
                }
                let s = self.start;
                self.last_start = s;
                self.start = self.end;
                self.line_no += 1;
                return Ok(Some(&self.buf[s..self.end]));
            }
            self.fill()?;
        }
    }

    /// The bytes read but not yet returned, and the reader (to hand the stream on whole).
    pub fn into_parts(self) -> (Vec<u8>, R) {
        (self.buf[self.start..self.end].to_vec(), self.r)
    }

    /// Gives back the line last returned by [`LineSplitter::next_line`], so the next call
    /// returns it again.
    pub fn unread(&mut self) {
        if self.line_no > 0 {
            self.start = self.last_start;
            self.line_no -= 1;
        }
    }
}

/// One pass over a saved dump. See the module documentation.
pub struct DumpReader<R> {
    lines: LineSplitter<R>,
    format: Option<DumpFormat>,
    path: String,
    labelmap: Option<LabelMap>,
    lenient: bool,
    flow: Flow,
}

impl<R: Read> DumpReader<R> {
    /// Detects the format from the first non-empty line (`format` given: no detection).
    /// `path` names the input in errors. An input with no line yields no flow.
    pub fn new(
        mut lines: LineSplitter<R>,
        path: &str,
        format: Option<DumpFormat>,
        labelmap: Option<LabelMap>,
        lenient: bool,
    ) -> Result<DumpReader<R>, SourceError> {
        let io_err = |e| SourceError::Io {
            path: path.to_string(),
            source: e,
        };
        let mut format = format;
        if format.is_none() {
            let mut no = 0;
            while let Some(line) = lines.next_line().map_err(io_err)? {
                no += 1;
                if detect::is_blank(line) {
                    continue;
                }
                let found = detect(line);
                format = Some(found.ok_or_else(|| SourceError::Format {
                    path: path.to_string(),
                    message: format!(
                        "line {}: not in a format ctkit reads (conntrack -L text, -o extended, \
                         /proc/net/nf_conntrack, /proc/net/ip_conntrack, -o save, -o xml, \
                         ctkit -o json): {}",
                        no,
                        preview(line)
                    ),
                })?);
                lines.unread();
                break;
            }
        }
        Ok(DumpReader {
            lines,
            format,
            path: path.to_string(),
            labelmap,
            lenient,
            flow: Flow::default(),
        })
    }

    /// The detected (or given) format; `None` for an empty input.
    pub fn format(&self) -> Option<DumpFormat> {
        self.format
    }

    /// Streams every flow to `f` until it returns `Break`. A malformed line is an error
    /// naming the path, the 1-based line and the field, or (lenient) is skipped and counted.
    pub fn scan(
        &mut self,
        f: &mut dyn FnMut(&Flow) -> ControlFlow<()>,
    ) -> Result<ScanReport, SourceError> {
        let mut report = ScanReport::default();
        let Some(format) = self.format else {
            return Ok(report);
        };
        let map = self.labelmap.as_ref();
        loop {
            let line = match self.lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    return Err(SourceError::Io {
                        path: self.path.clone(),
                        source: e,
                    })
                }
            };
            match format.parse_into(line, map, &mut self.flow) {
                Ok(Some(_)) => {
                    as_the_kernel_reports(format, &mut self.flow);
                    report.flows += 1;
                    if f(&self.flow).is_break() {
                        break;
                    }
                }
                Ok(None) => {}
                Err(_) if self.lenient => report.skipped += 1,
                Err(e) => {
                    let hint = if e.kind == super::ParseErrorKind::UnknownLabel {
                        "; label names are looked up in /etc/xtables/connlabel.conf"
                    } else {
                        ""
                    };
                    return Err(SourceError::Parse {
                        path: self.path.clone(),
                        line: self.lines.line_no(),
                        message: format!("{e} ({}{hint})", format.name()),
                    });
                }
            }
        }
        Ok(report)
    }
}

/// What a listed entry is in ctnetlink's terms, where a text format says it differently:
/// /proc prints the default zone as `zone=0`, which ctnetlink never sends
/// (`ctnetlink_dump_zone_id` skips `NF_CT_DEFAULT_ZONE_ID`); and every entry a table listing
/// shows is in the hash table, `CONFIRMED`, a bit only JSON prints.
fn as_the_kernel_reports(format: DumpFormat, f: &mut Flow) {
    if format == DumpFormat::Json {
        return;
    }
    if f.zone == Some(0) && matches!(format, DumpFormat::Text | DumpFormat::Extended) {
        f.zone = None;
    }
    if let Some(s) = &mut f.status {
        *s |= crate::status::Status::CONFIRMED;
    }
}

/// The start of a line for an error message, printable.
fn preview(line: &[u8]) -> String {
    let l = super::bytes::trim_eol(line);
    let cut = &l[..l.len().min(60)];
    let mut s: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if l.len() > 60 {
        s.push('…');
    }
    format!("`{s}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitter_crosses_chunk_edges_and_keeps_a_last_line_without_newline() {
        let text = b"one\n\ntwo three\nfour";
        for chunk in [1, 2, 3, 5, 64] {
            let mut s = LineSplitter::with_chunk(&text[..], chunk);
            let mut got = Vec::new();
            while let Some(l) = s.next_line().unwrap() {
                got.push(String::from_utf8(l.to_vec()).unwrap());
            }
            assert_eq!(got, ["one\n", "\n", "two three\n", "four"], "chunk {chunk}");
            assert_eq!(s.line_no(), 4);
        }
    }

    #[test]
    fn unread_gives_the_line_back() {
        let mut s = LineSplitter::with_chunk(&b"a\nb\n"[..], 2);
        assert_eq!(s.next_line().unwrap(), Some(&b"a\n"[..]));
        s.unread();
        assert_eq!(s.line_no(), 0);
        assert_eq!(s.next_line().unwrap(), Some(&b"a\n"[..]));
        assert_eq!(s.next_line().unwrap(), Some(&b"b\n"[..]));
        assert_eq!(s.next_line().unwrap(), None);
    }

    #[test]
    fn an_endless_line_is_an_error_not_a_memory_hog() {
        let big = vec![b'x'; MAX_LINE + 10];
        let mut s = LineSplitter::with_chunk(&big[..], 4096);
        let e = s.next_line().unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("line 1 is longer than {MAX_LINE} bytes")
        );
    }
}
