//! Entry points for the fuzz targets in `fuzz/` (a crate outside the
//! workspace), which cannot reach the private parsers: for fuzzing only,
//! hidden from the documentation, and free to change with the targets.
//!
//! Each runs a parser the way the exporter runs it and answers `Err`, with
//! what went wrong, when an invariant breaks; the target panics on it. Any
//! panic inside is a bug of the exporter.

use edgewatch_catalog::Catalog;

use crate::batch::Batch;
use crate::format::combined::{Combined, Trailing};
use crate::format::json::{self, Shape};
use crate::format::{Format, Logpush};
use crate::lines::split as lines;
use crate::record::Record;

/// Reads the lines of a Logpush body in order, as a batch does: the byte
/// scanner with the key shape the lines before taught it, and `serde_json`
/// on every line. Wherever both read a line (the scanner with the shape of
/// the lines before, and again with the one this line taught), they must
/// read the same record: the scanner is only a faster road to the same
/// answer. The scanner may read lines `serde_json` rejects (see
/// `format::json::scan`: it does not check what it skips, nor the bytes inside
/// strings); that they are read without a panic is all that is asked.
pub fn logpush_lines(data: &[u8]) -> Result<(), String> {
    let mut shape = Shape::default();
    for line in lines(data) {
        let slow = json::parse_serde(line, &Logpush);
        for pass in ["with the shape of the lines before", "with the shape of this line"] {
            if let (Ok(slow), Some(fast)) = (&slow, json::scan(line, &Logpush, &mut shape))
                && *slow != fast
            {
                return Err(format!(
                    "the scanner ({pass}) and serde_json disagree on {}:\n  scanner:    {fast:?}\n  serde_json: {slow:?}",
                    String::from_utf8_lossy(line)
                ));
            }
        }
    }
    Ok(())
}

/// Counts lines as a file input does: in a batch of an exporter over one
/// catalog, with the default configuration.
#[derive(Debug)]
pub struct Counter {
    exporter: crate::Exporter,
}

impl Counter {
    /// A counter for the customers of `catalog`.
    pub fn new(catalog: &Catalog) -> Result<Self, crate::BuildError> {
        Ok(Self { exporter: crate::Exporter::build(&crate::config::Config::default(), catalog, |_| None)? })
    }

    /// Reads the lines of `data` as nginx `combined` with `trailing` fields
    /// (and `host` for a one-host file), each on its own, then counts them
    /// in a batch as a file input does. A record read must make sense (a
    /// status, a time, a client address, a path without its query,
    /// durations finite and not negative), and the batch must count as many
    /// lines, and as many malformed ones, as were read.
    pub fn nginx_lines(&self, data: &[u8], trailing: &[Trailing], host: Option<&str>) -> Result<(), String> {
        let (mut read, mut malformed) = (0u64, 0u64);
        for line in lines(data) {
            read += 1;
            let Ok(r) = crate::format::combined::parse(line, trailing, host) else {
                malformed += 1;
                continue;
            };
            check_combined(&r).map_err(|e| format!("{e} in {r:?} from {}", String::from_utf8_lossy(line)))?;
        }
        let format = Format::Combined(Combined { trailing: trailing.to_vec(), host: host.map(str::to_owned) });
        let cx = &self.exporter.inner.cx;
        let mut batch = Batch::new(cx);
        batch.add_lines(data, &format, cx, 1_800_000_000.0);
        let counted = (batch.lines, batch.malformed);
        batch.recycle(cx);
        if counted != (read, malformed) {
            return Err(format!(
                "the batch counted {counted:?} (lines, malformed) where the lines read one by one give {:?}",
                (read, malformed)
            ));
        }
        Ok(())
    }
}

fn check_combined(r: &Record<'_>) -> Result<(), &'static str> {
    if r.edge_status.is_none() || r.end.is_none() || r.client_ip.is_none() {
        return Err("no status, time or client address");
    }
    if r.path.as_deref().is_some_and(|p| p.contains(&b'?')) {
        return Err("a path with its query");
    }
    if [r.ttfb, r.origin_duration].into_iter().flatten().any(|d| !d.is_finite() || d < 0.0) {
        return Err("a duration that is not finite, or negative");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_lines_keep_the_invariants() {
        let logpush = concat!(
            r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"EdgeEndTimestamp":"2026-11-21T04:00:00Z"}"#,
            "\r\n\n",
            r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":502,"EdgeEndTimestamp":1763697600}"#,
            "\n{not json\n",
        );
        logpush_lines(logpush.as_bytes()).unwrap();
        let catalog = edgewatch_catalog::load_str("c.yaml", "customers:\n  - {id: acme, hosts: [www.acme.example]}\n")
            .unwrap()
            .catalog;
        let nginx = concat!(
            r#"203.0.113.9 - - [21/Nov/2026:05:00:00 +0100] "GET /a?b HTTP/1.1" 502 512 "-" "curl" 0.120 www.acme.example"#,
            "\nnot nginx\n",
        );
        let counter = Counter::new(&catalog).unwrap();
        counter.nginx_lines(nginx.as_bytes(), &[Trailing::RequestTime, Trailing::Host], None).unwrap();
    }
}
