//! nginx `combined` lines, with trailing fields, through the file input's
//! line parser and a batch: no panic whatever the bytes, a record read
//! makes sense (status, time, client, a path without its query, durations
//! finite and not negative), and the batch counts the lines and the
//! malformed ones as the parser reads them one by one.
#![no_main]

use std::sync::LazyLock;

use edgewatch_exporters::format::combined::Trailing::{
    self, Host, Ignore, RequestTime, UpstreamCacheStatus, UpstreamResponseTime,
};
use edgewatch_exporters::fuzzing::Counter;
use libfuzzer_sys::fuzz_target;

const CATALOG: &str = "customers:
  - id: acme
    hosts: [www.acme.example, '*.api.acme.example']
    slos:
      availability: {objective: 99, errors: [5xx]}
";

/// The `trailing` of a file input, chosen by the first byte's low two bits
/// (the seeds start with an ASCII digit: `1` is the full `log_format`).
const TRAILING: [&[Trailing]; 4] = [
    &[],
    &[RequestTime, UpstreamResponseTime, Host, UpstreamCacheStatus],
    &[RequestTime],
    &[UpstreamResponseTime, Ignore, Host],
];

static COUNTER: LazyLock<Counter> = LazyLock::new(|| {
    let catalog = edgewatch_catalog::load_str("fuzz.yaml", CATALOG).expect("catalog").catalog;
    Counter::new(&catalog).expect("an exporter with the default configuration")
});

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the trailing fields, and (bit 2) whether the
    // file input names a host (a one-host file).
    let (choice, lines) = data.split_first().map_or((0, data), |(b, rest)| (*b, rest));
    let trailing = TRAILING[usize::from(choice & 3)];
    let host = (choice & 4 != 0).then_some("www.acme.example");
    if let Err(e) = COUNTER.nginx_lines(lines, trailing, host) {
        panic!("{e}");
    }
});
