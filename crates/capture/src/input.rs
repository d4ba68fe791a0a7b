//! The streaming input buffer under both file formats: records are parsed in place from one
//! reused buffer that is refilled from any [`Read`] (a file, a pipe, standard input), so a
//! capture is never loaded whole and no packet is copied twice.

use std::io::{self, Read};

/// Initial buffer size: large reads amortise the system calls; records larger than this
/// (jumbo frames, 256 KiB snaplen GSO packets) grow it once.
const INITIAL: usize = 256 * 1024;

/// A refillable window over the input.
pub(crate) struct Input<R> {
    r: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// File offset of `buf[pos]`.
    offset: u64,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(r: R) -> Input<R> {
        Input {
            r,
            buf: vec![0; INITIAL],
            pos: 0,
            end: 0,
            offset: 0,
        }
    }

    /// Bytes available without reading.
    pub(crate) fn avail(&self) -> usize {
        self.end - self.pos
    }

    /// The file offset of the next unconsumed byte.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Makes `n` bytes available at the read position; `false` when the input ends first
    /// (what was available stays available).
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.avail() >= n {
            return Ok(true);
        }
        if self.pos + n > self.buf.len() && self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.avail() < n {
            if self.end == self.buf.len() {
                // Grow only as data actually arrives, so a corrupt length in a short file
                // costs no more memory than the file itself.
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// The next `n` available bytes (call [`Input::fill`] first).
    pub(crate) fn peek(&self, n: usize) -> &[u8] {
        &self.buf[self.pos..self.pos + n]
    }

    /// Consumes `n` available bytes; returns where they start in the buffer, valid until the
    /// next [`Input::fill`].
    pub(crate) fn consume(&mut self, n: usize) -> usize {
        let at = self.pos;
        self.pos += n;
        self.offset += n as u64;
        at
    }

    /// Buffer bytes `range` (from [`Input::consume`]).
    pub(crate) fn slice(&self, start: usize, len: usize) -> &[u8] {
        &self.buf[start..start + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 3 bytes per call.
    struct Dribble<'a>(&'a [u8]);
    impl Read for Dribble<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out.len().min(3).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn fill_gathers_short_reads_and_reports_the_end() {
        let data: Vec<u8> = (0..=255).collect();
        let mut i = Input::new(Dribble(&data));
        assert!(i.fill(10).unwrap());
        assert_eq!(i.peek(4), [0, 1, 2, 3]);
        let at = i.consume(4);
        assert_eq!(i.slice(at, 2), [0, 1]);
        assert_eq!(i.offset(), 4);
        assert!(i.fill(252).unwrap());
        assert!(!i.fill(253).unwrap());
        assert_eq!(i.avail(), 252);
    }

    #[test]
    fn fill_grows_past_the_initial_size_and_compacts() {
        let data = vec![7u8; INITIAL * 3];
        let mut i = Input::new(&data[..]);
        assert!(i.fill(10).unwrap());
        i.consume(10);
        assert!(i.fill(INITIAL * 2).unwrap());
        assert_eq!(i.peek(3), [7, 7, 7]);
        assert_eq!(i.offset(), 10);
    }
}
