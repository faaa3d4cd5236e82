//! One module per subcommand.

pub(crate) mod check;
pub(crate) mod exporter;
pub(crate) mod incidents;
pub(crate) mod mitigate;
pub(crate) mod outreach;
pub(crate) mod receiver;
pub(crate) mod render;
pub(crate) mod report;
mod runtime;
mod scheduled_reports;
pub(crate) mod up;
mod web;
