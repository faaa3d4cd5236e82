//! The `--web.*` flags the exporter and the receiver share: the web config
//! file and the limits against slow and careless clients.

use std::path::PathBuf;

use anyhow::bail;
use edgewatch_catalog::Duration;

#[derive(Debug, clap::Args)]
pub(crate) struct WebArgs {
    /// TLS, basic auth and response headers, in exporter-toolkit's format.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config: Option<PathBuf>,
    /// Longest time from a connection's first byte to the end of a request's
    /// head (and for a TLS handshake).
    #[arg(long = "web.header-timeout", value_name = "DURATION", default_value = "10s")]
    header_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    #[arg(long = "web.idle-timeout", value_name = "DURATION", default_value = "75s")]
    idle_timeout: Duration,
    /// How long a request body (or a response the client does not read) may
    /// stand still; 408 after that.
    #[arg(long = "web.body-idle-timeout", value_name = "DURATION", default_value = "10s")]
    body_idle_timeout: Duration,
    /// Bytes per second a request body must average past its first
    /// body-idle-timeout of waiting; 408 below it. 0 turns it off.
    #[arg(long = "web.min-body-rate", value_name = "BYTES", default_value_t = 4096)]
    min_body_rate: u64,
    /// Connections open at once; past it the one that waited longest
    /// without a request in progress is closed. Keep it under `ulimit -n`.
    #[arg(long = "web.max-connections", value_name = "N", default_value_t = 512)]
    max_connections: usize,
    /// Pushes or webhooks handled at once; more get 503 with Retry-After
    /// (the exporter's default: twice the cores, at least 4; the
    /// receiver's: 64).
    #[arg(long = "web.max-in-flight", value_name = "N")]
    max_in_flight: Option<usize>,
    /// On SIGTERM, how long requests in progress may take before they are
    /// cut; the process exits at most a few seconds later.
    #[arg(long = "web.shutdown-grace", value_name = "DURATION", default_value = "10s")]
    shutdown_grace: Duration,
}

impl WebArgs {
    /// The web config file (or none) under these limits; `in_flight` is
    /// the service's default for `--web.max-in-flight`.
    pub(crate) fn load(&self, in_flight: usize) -> anyhow::Result<edgewatch_web::WebConfig> {
        let limits = edgewatch_web::Limits {
            header_timeout: self.header_timeout.to_std(),
            idle_timeout: self.idle_timeout.to_std(),
            body_idle_timeout: self.body_idle_timeout.to_std(),
            min_body_rate: self.min_body_rate,
            max_connections: self.max_connections,
            max_in_flight: self.max_in_flight.unwrap_or(in_flight),
            shutdown_grace: self.shutdown_grace.to_std(),
        };
        let problems = limits.problems();
        if !problems.is_empty() {
            bail!("{}", problems.iter().map(|p| format!("--web.{p}")).collect::<Vec<_>>().join("; "));
        }
        let web = match &self.web_config {
            Some(path) => edgewatch_web::WebConfig::load(path)?,
            None => edgewatch_web::WebConfig::default(),
        };
        Ok(web.with_limits(limits))
    }
}
