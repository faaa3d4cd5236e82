//! Lines out of bytes: a stream read a chunk at a time becomes runs of
//! whole lines ([`LineBuffer`]), and a run becomes its lines ([`split`]).
//! Push bodies and tailed files share both, so they agree on what a line
//! is: bytes up to `\n` (a `\r` before it dropped), blank lines skipped, and
//! a line longer than [`MAX_LINE`] dropped and counted.

use std::io::{self, Read};

/// Read this much at a time.
pub(crate) const CHUNK: usize = 256 * 1024;
/// A line longer than this is dropped and counted as one long line.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// What has been read of a stream and not yet passed on: the start of a
/// line whose newline has not come yet. A caller alternates
/// [`fill`](Self::fill) and [`lines`](Self::lines).
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    /// Allocated on the first read, zeroed once, reused after.
    buf: Vec<u8>,
    /// `buf[start..end]` is read and not yet passed on.
    start: usize,
    end: usize,
    /// Dropping the rest of an over-long line.
    skipping: bool,
    /// Lines dropped for being longer than [`MAX_LINE`].
    pub(crate) long_lines: u64,
}

impl LineBuffer {
    /// Reads once from `src`, at most [`CHUNK`] bytes, after the partial
    /// line; returns how many bytes came (0 at the end of `src`).
    pub(crate) fn fill(&mut self, src: &mut impl Read) -> io::Result<usize> {
        // The partial line moves to the front.
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < self.end + CHUNK {
            // Room for a partial line and a chunk from the start, so an
            // ordinary stream allocates (and zeroes) once.
            self.buf.resize((self.end + CHUNK).max(2 * CHUNK), 0);
        }
        let n = src.read(&mut self.buf[self.end..self.end + CHUNK])?;
        self.end += n;
        Ok(n)
    }

    /// Everything read and not yet passed on.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The whole lines read so far, each ending in `\n` (empty when none
    /// is complete); they are passed on, the partial line stays.
    pub(crate) fn lines(&mut self) -> &[u8] {
        if self.skipping {
            // The tail of an over-long line: dropped through its newline.
            let Some(nl) = memchr::memchr(b'\n', self.buffered()) else {
                self.start = self.end;
                return &[];
            };
            self.start += nl + 1;
            self.skipping = false;
        }
        let from = self.start;
        if let Some(last) = memchr::memrchr(b'\n', self.buffered()) {
            self.start += last + 1;
            return &self.buf[from..self.start];
        }
        if self.end - from > MAX_LINE {
            self.long_lines += 1;
            self.skipping = true;
            self.start = self.end;
        }
        &[]
    }

    /// The start of a line whose newline has not been read yet: the last
    /// line of a stream that ends without one.
    pub(crate) fn partial(&self) -> &[u8] {
        self.buffered()
    }

    /// Forgets the partial line (the file was truncated under it).
    pub(crate) fn clear(&mut self) {
        (self.start, self.end, self.skipping) = (0, 0, false);
    }
}

/// The lines of `data`, newline-separated, without a trailing `\r`; blank
/// lines are skipped.
pub(crate) fn split(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len())).filter_map(move |end| {
        let line = &data[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (!line.iter().all(u8::is_ascii_whitespace)).then_some(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every run of lines `src` gives, read to its end, and the partial line.
    fn runs(mut src: &[u8], buffer: &mut LineBuffer) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut out = Vec::new();
        while buffer.fill(&mut src).unwrap() > 0 {
            let lines = buffer.lines();
            if !lines.is_empty() {
                out.push(lines.to_vec());
            }
        }
        (out, buffer.partial().to_vec())
    }

    #[test]
    fn passes_whole_lines_and_keeps_the_partial_one() {
        let mut b = LineBuffer::default();
        let (runs, partial) = runs(b"a\nb\nc", &mut b);
        assert_eq!((runs, partial), (vec![b"a\nb\n".to_vec()], b"c".to_vec()));
        let mut src = &b"d\n"[..];
        b.fill(&mut src).unwrap();
        assert_eq!(b.lines(), b"cd\n");
        assert!(b.partial().is_empty());
    }

    #[test]
    fn a_line_across_many_chunks_is_one_line() {
        let mut data = vec![b'x'; 3 * CHUNK];
        data.extend_from_slice(b"\nshort\n");
        let mut b = LineBuffer::default();
        let (runs, _) = runs(&data, &mut b);
        assert_eq!(runs.concat(), data);
        assert_eq!(b.long_lines, 0);
    }

    #[test]
    fn drops_an_overlong_line_and_keeps_what_follows() {
        let mut data = b"a\n".to_vec();
        data.extend(vec![b'x'; 3 * MAX_LINE]);
        data.extend_from_slice(b"\nb\nc");
        let mut b = LineBuffer::default();
        let (runs, partial) = runs(&data, &mut b);
        assert_eq!((runs.concat(), partial), (b"a\nb\n".to_vec(), b"c".to_vec()));
        assert_eq!(b.long_lines, 1);
    }

    #[test]
    fn splits_lines_without_blanks_or_carriage_returns() {
        let lines: Vec<&[u8]> = split(b"a\r\n\n  \nb\nc").collect();
        assert_eq!(lines, [&b"a"[..], b"b", b"c"]);
        assert_eq!(split(b"").count(), 0);
    }
}
