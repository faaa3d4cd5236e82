//! Logpush lines through the exporter's line parser, in order, as a batch
//! reads a push body: wherever the byte scanner reads a line (with the key
//! shape the lines before taught it), `serde_json` must accept the line and
//! read the same record. Neither may panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = edgewatch_exporters::fuzzing::logpush_lines(data) {
        panic!("{e}");
    }
});
