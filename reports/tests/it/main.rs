//! The reports crate's integration tests, one binary: reports against the
//! real Prometheus holding backfilled history (`history`), and Prometheus
//! failing (`failures`).

// Tests: counts are small integers, exact figures are compared exactly,
// timings are printed, and failures should be loud.
#![allow(
    clippy::cast_precision_loss,
    clippy::float_cmp,
    clippy::print_stderr,
    clippy::too_many_lines,
    clippy::type_complexity,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod data;
mod failures;
mod history;
