//! A push body to a [`Batch`]: gzip or plain, read as it arrives,
//! decompressed in bounded chunks, split into lines and aggregated. Nothing
//! reaches shared state until the whole body has been read, so a body that
//! fails half-way (and will be sent again) is never counted twice.

use std::io::{BufRead, Read};

use flate2::bufread::MultiGzDecoder;

use crate::batch::Batch;
use crate::context::Context;
use crate::format::Format;
use crate::lines::{CHUNK, LineBuffer};

/// What became of a body.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Counted.
    Counted(Box<Batch>),
    /// Logpush's destination check (`{"content":"tests"}`); nothing to count.
    Validation,
}

/// Why a body was refused; nothing of it was counted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IngestError {
    #[error("the body is larger than {0} bytes once decompressed")]
    TooLarge(u64),
    #[error("truncated or corrupt gzip stream: {0}")]
    BadGzip(String),
    #[error("the body could not be read: {0}")]
    Read(String),
}

/// Counts a body read from `src`, gzip or plain, as it arrives.
pub(crate) fn process(
    src: impl BufRead,
    gzip: bool,
    max: u64,
    format: &Format,
    cx: &Context,
    now: f64,
) -> Result<Outcome, IngestError> {
    if gzip {
        count(MultiGzDecoder::new(src), max, format, cx, now, |e| IngestError::BadGzip(e.to_string()))
    } else {
        count(src, max, format, cx, now, |e| IngestError::Read(e.to_string()))
    }
}

fn count(
    mut src: impl Read,
    max: u64,
    format: &Format,
    cx: &Context,
    now: f64,
    broken: impl Fn(std::io::Error) -> IngestError,
) -> Result<Outcome, IngestError> {
    let mut batch = Batch::new(cx);
    let mut lines = LineBuffer::default();
    let mut total: u64 = 0;
    let mut first = true;
    loop {
        let n = lines.fill(&mut src).map_err(&broken)?;
        total += n as u64;
        if total > max {
            return Err(IngestError::TooLarge(max));
        }
        if first && n < CHUNK && is_validation(lines.buffered()) && src.read(&mut [0u8; 1]).is_ok_and(|m| m == 0) {
            return Ok(Outcome::Validation);
        }
        first = false;
        if n == 0 {
            // The last line may lack its newline.
            batch.add_lines(lines.partial(), format, cx, now);
            // Lines too long to keep count as malformed.
            batch.lines += lines.long_lines;
            batch.malformed += lines.long_lines;
            return Ok(Outcome::Counted(Box::new(batch)));
        }
        batch.add_lines(lines.lines(), format, cx, now);
    }
}

fn is_validation(body: &[u8]) -> bool {
    let t = body.trim_ascii();
    t == br#"{"content":"tests"}"# || t == b"test"
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;
    use crate::batch::tests::context;
    use crate::lines::MAX_LINE;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn lines(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            writeln!(out, r#"{{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"RayID":"{i:016x}","ClientRequestPath":"/{}"}}"#, "x".repeat(i % 700)).unwrap();
        }
        out
    }

    fn counted(o: Result<Outcome, IngestError>) -> Batch {
        match o {
            Ok(Outcome::Counted(b)) => *b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gzip_and_plain_count_the_same() {
        let cx = context();
        let data = lines(3000);
        let plain = counted(process(&data[..], false, 1 << 30, &crate::batch::tests::LOGPUSH, &cx, 0.0));
        let zipped = counted(process(&gz(&data)[..], true, 1 << 30, &crate::batch::tests::LOGPUSH, &cx, 0.0));
        assert_eq!((plain.lines, zipped.lines), (3000, 3000));
        assert_eq!(zipped.malformed, 0, "no line is cut at a chunk boundary");
        assert!(plain.series.iter().eq(zipped.series.iter()));
    }

    #[test]
    fn a_truncated_stream_counts_nothing() {
        let cx = context();
        let z = gz(&lines(3000));
        let r = process(&z[..z.len() / 2], true, 1 << 30, &crate::batch::tests::LOGPUSH, &cx, 0.0);
        assert!(matches!(r, Err(IngestError::BadGzip(_))), "{r:?}");
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let cx = context();
        let bomb = gz(&vec![b' '; 64 << 20]);
        assert!(bomb.len() < 1 << 20, "64 MiB of spaces compress to {} bytes", bomb.len());
        let r = process(&bomb[..], true, 8 << 20, &crate::batch::tests::LOGPUSH, &cx, 0.0);
        assert!(matches!(r, Err(IngestError::TooLarge(_))), "{r:?}");
    }

    #[test]
    fn answers_the_validation_upload() {
        let cx = context();
        assert!(matches!(
            process(&gz(br#"{"content":"tests"}"#)[..], true, 1 << 20, &crate::batch::tests::LOGPUSH, &cx, 0.0),
            Ok(Outcome::Validation)
        ));
        assert!(matches!(
            process(&b"test"[..], false, 1 << 20, &crate::batch::tests::LOGPUSH, &cx, 0.0),
            Ok(Outcome::Validation)
        ));
    }

    #[test]
    fn an_overlong_line_is_one_malformed_line() {
        let cx = context();
        let mut data = lines(2);
        data.extend(vec![b'x'; 3 * MAX_LINE]);
        data.push(b'\n');
        data.extend(lines(2));
        let b = counted(process(&gz(&data)[..], true, 1 << 30, &crate::batch::tests::LOGPUSH, &cx, 0.0));
        assert_eq!((b.lines, b.malformed), (5, 1));
    }
}
