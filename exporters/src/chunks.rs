//! A request body read on a blocking thread while it is still arriving.
//!
//! The HTTP task hands each chunk of the body over a bounded channel; the
//! parser reads them through [`std::io::BufRead`] without copying. The bound
//! is the backpressure: a batch is decompressed and counted as fast as it is
//! sent, and at most a few chunks of it are held in memory at once.

use std::io::{self, BufRead, Read};

use bytes::{Buf as _, Bytes, BytesMut};
use tokio::sync::mpsc;

/// Chunks in flight between the HTTP task and the parser.
pub(crate) const IN_FLIGHT: usize = 8;

/// The parser's end of the channel. The body ends when the sender is
/// dropped; whether it ended whole is for the sender to say.
#[derive(Debug)]
pub(crate) struct ChunkReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChunkReader {
    pub(crate) fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        Self { rx, current: Bytes::new() }
    }

    /// Whether the body starts with gzip's magic bytes, waiting for as many
    /// chunks as that takes (a chunk may be a single byte).
    pub(crate) fn starts_with_gzip_magic(&mut self) -> bool {
        while self.current.len() < 2 {
            let Some(next) = self.rx.blocking_recv() else { break };
            let mut joined = BytesMut::from(&self.current[..]);
            joined.extend_from_slice(&next);
            self.current = joined.freeze();
        }
        self.current.starts_with(&[0x1f, 0x8b])
    }
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(next) => self.current = next,
                None => break,
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, n: usize) {
        self.current.advance(n.min(self.current.len()));
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_chunk_in_order_and_sees_magic_across_chunks() {
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        let sender = std::thread::spawn(move || {
            for part in [&[0x1f][..], &[0x8b, 1, 2][..], &[][..], &[3][..]] {
                tx.blocking_send(Bytes::copy_from_slice(part)).unwrap();
            }
        });
        let mut r = ChunkReader::new(rx);
        assert!(r.starts_with_gzip_magic());
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        sender.join().unwrap();
        assert_eq!(all, [0x1f, 0x8b, 1, 2, 3]);
    }

    #[test]
    fn a_short_plain_body_is_not_gzip() {
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        tx.try_send(Bytes::from_static(b"x")).unwrap();
        drop(tx);
        let mut r = ChunkReader::new(rx);
        assert!(!r.starts_with_gzip_magic());
        let mut all = String::new();
        r.read_to_string(&mut all).unwrap();
        assert_eq!(all, "x");
    }
}
