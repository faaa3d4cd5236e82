//! How long a client may take and how many may be served at once: the
//! defences against slow and careless clients, the same for every service.

use std::time::Duration;

/// Timeouts and caps for one listener. Every field has a default that suits
/// Logpush, Alertmanager and Prometheus as clients; see docs/exporter.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// From a connection's first byte (or its TLS handshake's start) to the
    /// end of a request's head.
    pub header_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long a request body, or a response the client does not read,
    /// may stand still; also the time granted before `min_body_rate` counts.
    pub body_idle_timeout: Duration,
    /// Bytes per second a body must average over the time spent waiting for
    /// it, past the first `body_idle_timeout`. Zero turns it off.
    pub min_body_rate: u64,
    /// Connections open at once; past it the connection that has waited
    /// longest without a request in progress is closed for the new one.
    pub max_connections: usize,
    /// Requests that carry work (every method but GET and HEAD: pushes,
    /// webhooks) handled at once; more get 503 with `Retry-After`.
    /// GET requests (health, readiness, metrics) are never held back.
    pub max_in_flight: usize,
    /// After shutdown is asked for: how long requests in progress may take
    /// before they are cut.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            // Longer than Prometheus' usual scrape intervals, so scrapes reuse
            // their connection (nginx's keepalive_timeout is 75 s too).
            idle_timeout: Duration::from_secs(75),
            body_idle_timeout: Duration::from_secs(10),
            min_body_rate: 4 * 1024,
            max_connections: 512,
            max_in_flight: 64,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// What is wrong with these limits, if anything: each problem starts
    /// with the setting's name as the `--web.` flags spell it.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, d) in [
            ("header-timeout", self.header_timeout),
            ("idle-timeout", self.idle_timeout),
            ("body-idle-timeout", self.body_idle_timeout),
        ] {
            if d.is_zero() {
                problems.push(format!("{name}: must be longer than zero"));
            }
        }
        if self.max_connections == 0 {
            problems.push("max-connections: must be at least 1".to_owned());
        }
        if self.max_in_flight == 0 {
            problems.push("max-in-flight: must be at least 1".to_owned());
        }
        problems
    }
}
