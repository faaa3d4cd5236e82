//! Historical reports of edgewatch customers: for each customer and a
//! period, the SLIs against their objectives, the error budget consumed,
//! traffic, latency, probes, security and incidents, in HTML (one
//! self-contained file), Markdown and JSON.
//!
//! Everything is read from Prometheus' HTTP API (or Thanos' or Mimir's):
//! the exporters' raw counters, increased over each calendar day of the
//! period in its time zone ([`query`] says how, and why the windows are
//! exact on Prometheus 2 and 3 alike). Incidents come from an
//! [`IncidentSource`]; what each consumed is read from Prometheus over its
//! own window.
//!
//! Layout: [`period`] resolves `--period`/`--from`/`--to` in a time zone;
//! [`prom`] is the API client; `query` the queries; `build` turns their
//! answers into [`Report`]s ([`model`]); `render` writes them as JSON,
//! Markdown and HTML (with `svg` charts); [`noc`] makes the NOC review of
//! all customers from their reports (`render_noc` writes it); `output`
//! writes files so that a file that exists is complete.

mod build;
mod fmt;
pub mod incidents;
pub mod model;
pub mod noc;
mod output;
pub mod period;
pub mod prom;
pub mod query;
mod render;
mod render_noc;
pub mod schedule;
mod svg;

pub use build::{ReportError, Selection, build, select};
pub use incidents::{Incident, IncidentSource, NoIncidents};
pub use model::Report;
pub use noc::{NocReview, review};
pub use output::{Format, OutputError, customer_file_name, file_name, review_file_name, write_all, write_review};
pub use period::{Period, PeriodSpec};
pub use prom::Prometheus;
pub use render::{html, json, markdown};
pub use render_noc::{noc_html, noc_json, noc_markdown};
