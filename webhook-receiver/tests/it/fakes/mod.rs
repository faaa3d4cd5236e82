//! Contract fakes of the services the receiver calls, served in-process on
//! loopback. A test binary includes them with `mod fakes;`.

// Each test binary uses some of the fakes and some of each: what one leaves
// unused is not dead, and `pub` here is for the binaries, not a public API.
#![allow(dead_code, unreachable_pub)]
// Test support: a failure here is a failed test, with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::missing_panics_doc)]

pub mod cloudflare;
pub mod jira;
pub mod pagerduty;
pub mod statuspage;
