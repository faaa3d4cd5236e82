//! edgewatch exporters: per-customer Layer-7 metrics from HTTP request logs
//! and synthetic probes.
//!
//! Batches pushed over HTTP (Logpush's) and lines of tailed files are
//! decompressed, parsed (each input's lines by its [`format`]) and
//! aggregated per batch without locks ([`batch`]), then merged into one
//! shared state ([`state`]) that `/metrics` exposes. Each request is matched
//! to a customer through the catalog's hosts; traffic of no customer is
//! counted under `customer="unknown"`, never dropped. Cardinality is bounded
//! by fixed label sets ([`classify`]), per-customer host caps, a series cap
//! and idle expiry. The catalog's probes run on their own schedule
//! (`probe`) and their results are exposed beside the request metrics.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let catalog = edgewatch_catalog::load(std::path::Path::new("examples/catalog"))?.catalog;
//! let config = edgewatch_exporters::config::Config::default();
//! let exporter = edgewatch_exporters::Exporter::build(&config, &catalog, |k| std::env::var(k).ok())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9817").await?;
//! exporter.serve(listener, &edgewatch_web::WebConfig::default(), std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod batch;
mod batch_hosts;
mod chunks;
mod classify;
mod common;
pub mod config;
mod context;
mod expose;
mod files;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
mod hosts;
mod http;
mod ingest;
mod known_hosts;
mod lines;
mod native;
mod probe;
mod proto;
mod record;
mod series;
mod slo;
mod state;
mod tail;
mod tally;
mod timestamp;
mod topk;
mod writer;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use edgewatch_catalog::{Catalog, Secret, SecretError};

use crate::config::{Config, PushConfig};
use crate::context::Context;
use crate::hosts::HostIndex;
use crate::series::Bounds;
use crate::state::{Limits, State};

/// Why an exporter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration is wrong; every problem is listed.
    #[error("invalid exporter configuration:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
    /// A push input's secret could not be read.
    #[error("push input `{input}`: {source}")]
    Secret {
        /// The push input's `name`.
        input: String,
        /// What resolving the reference said (never the secret itself).
        #[source]
        source: SecretError,
    },
    /// A probe's header secret could not be read.
    #[error("customer `{customer}`, probe `{probe}`: header `{header}`: {source}")]
    ProbeSecret {
        /// The customer's id.
        customer: String,
        /// The probe's name.
        probe: String,
        /// The header whose value is the secret.
        header: String,
        /// What resolving the reference said (never the secret itself).
        #[source]
        source: SecretError,
    },
    /// A probe's request cannot be sent (it never names a secret's value).
    #[error("customer `{customer}`, probe `{probe}`: {message}")]
    Probe {
        /// The customer's id.
        customer: String,
        /// The probe's name.
        probe: String,
        /// What is wrong.
        message: String,
    },
    /// `probes.ca_file` cannot be used.
    #[error("probes.ca_file `{}`: {message}", path.display())]
    ProbeCaFile {
        /// The CA bundle as configured.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A configured exporter, ready to serve.
#[derive(Debug, Clone)]
pub struct Exporter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    state: Mutex<State>,
    cx: Context,
    pushes: Vec<Push>,
    files: Vec<config::FileConfig>,
    state_dir: std::path::PathBuf,
    prober: Arc<probe::Prober>,
    /// Cleared when shutdown begins.
    ready: AtomicBool,
    /// File inputs not yet opened and read once; ready only at zero.
    starting: AtomicUsize,
}

#[derive(Debug)]
pub(crate) struct Push {
    config: PushConfig,
    secret: Option<Secret>,
}

impl Inner {
    /// The state; a panic elsewhere while holding it leaves counters that
    /// are still worth serving, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Exporter {
    /// Validates the configuration, reads secrets (the push inputs' and the
    /// probes' header secrets) and sets up the state and the probes.
    /// `env` looks up environment variables.
    pub fn build(config: &Config, catalog: &Catalog, env: impl Fn(&str) -> Option<String>) -> Result<Self, BuildError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(BuildError::Invalid(problems));
        }
        let mut pushes = Vec::new();
        for p in &config.push {
            let secret = if let Some(a) = &p.auth {
                Some(a.secret.resolve(&env).map_err(|source| BuildError::Secret { input: p.name.clone(), source })?)
            } else {
                tracing::warn!(input = %p.name, path = %p.path, "Push input accepts batches without authentication.");
                None
            };
            pushes.push(Push { config: p.clone(), secret });
        }
        let prober = probe::Prober::build(&config.probes, catalog, &env)?;
        // The latency SLOs are judged per request (`slo.rs`), so the
        // histograms keep only the configured buckets, for quantiles.
        let bounds = Bounds::new(config.histograms.buckets.clone()).with_native(config.histograms.native.spec());
        let lag_bounds = Bounds::new(vec![1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0]);
        let l = &config.limits;
        let limits = Limits {
            hosts_per_customer: l.hosts_per_customer,
            max_series: l.max_series,
            idle_timeout: l.idle_timeout.to_std(),
            // Ten slots over the window.
            top_slot: (l.top_window.to_std() / 10).max(Duration::from_secs(1)),
            top_slots: 10,
            top_capacity: l.top_keys,
        };
        let ids = catalog.customers.iter().map(|c| c.id.to_string()).collect();
        let slos = slo::Slos::of(catalog);
        let state = State::new(ids, &slos, limits, bounds.clone(), lag_bounds.clone());
        let cx = Context {
            hosts: HostIndex::new(catalog),
            bounds,
            lag_bounds,
            top_keys: l.top_keys,
            request_sample: l.top_requests_sample.max(1),
            slos,
            batch_hosts: l.batch_hosts,
            hosts_per_customer: l.hosts_per_customer,
            known: Arc::clone(&state.known),
            spare_tallies: std::sync::Mutex::default(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                cx,
                pushes,
                files: config.files.clone(),
                state_dir: config.state_dir.clone(),
                prober: Arc::new(prober),
                ready: AtomicBool::new(true),
                starting: AtomicUsize::new(0),
            }),
        })
    }

    /// The HTTP endpoints, for serving or for tests.
    pub fn router(&self) -> axum::Router {
        http::router(Arc::clone(&self.inner))
    }

    /// Pushes parsed at once unless `--web.max-in-flight` says otherwise:
    /// twice the cores (a push waits on the network part of the time), at
    /// least 4. Each holds at most one batch's memory (docs/exporter.md).
    pub fn default_in_flight() -> usize {
        std::thread::available_parallelism().map_or(4, |n| n.get() * 2).max(4)
    }

    /// Serves on `listener`, with the web config's TLS, basic auth and
    /// headers, and runs the probes, until `shutdown` completes; then drains.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        web: &edgewatch_web::WebConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let inner = Arc::clone(&self.inner);
        let files = files::spawn(&inner, &inner.files, &inner.state_dir)?;
        let probes = inner.prober.spawn();
        let expiry = tokio::spawn({
            let inner = Arc::clone(&inner);
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    inner.lock().expire(std::time::Instant::now());
                }
            }
        });
        let draining = Arc::clone(&inner);
        let shutdown = async move {
            shutdown.await;
            // Readiness drops first, so load balancers stop sending.
            draining.ready.store(false, Ordering::Relaxed);
        };
        let result = edgewatch_web::serve(listener, self.router(), web, shutdown).await;
        expiry.abort();
        probes.stop();
        files.stop();
        result
    }
}

/// Whole seconds since 1970.
pub(crate) fn unix_now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Seconds since 1970, as a float, for ingest lag.
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
