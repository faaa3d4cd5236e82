//! The receiver's integration tests, in one binary
//! (`cargo test -p edgewatch-webhook-receiver --test it`):
//!
//! - [`webhook`]: the webhook as Alertmanager meets it (auth, limits, bad
//!   input, duplicates, readiness), and the text of what is delivered;
//! - [`delivery`]: delivery through the whole receiver, to the fakes;
//! - [`incidents`]: one incident per customer problem, routed by severity;
//! - [`alertmanager`], [`live`]: with the real Alertmanager and Prometheus;
//! - [`ha`]: several receivers on one PostgreSQL database;
//! - [`jira`], [`pagerduty`], [`statuspage`]: each destination against its contract fake,
//!   the fake against the service's contract, and the delivery contract
//!   ([`contract::check`]) through the whole receiver;
//! - [`email`]: the e-mail destination against a real SMTP server
//!   (aiosmtpd, STARTTLS and a login), the delivery contract included;
//! - [`cloudflare`]: `edgewatch mitigate`'s rulesets API client against
//!   the Cloudflare contract fake;
//! - [`contract`]: the delivery contract every destination keeps;
//! - [`fakes`]: the contract fakes of Jira, PagerDuty and Cloudflare (the root crate's
//!   tests include them too);
//! - [`support`]: what the tests share: a receiver on loopback, alerts and
//!   notifications, waiting.
//!
//! A new destination gets a module here that calls [`contract::check`]
//! with a fake of its service.

// A failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alertmanager;
mod cloudflare;
mod contract;
mod delivery;
mod email;
mod fakes;
mod ha;
mod incidents;
mod jira;
mod live;
mod pagerduty;
mod statuspage;
mod support;
mod webhook;
