//! edgewatch receiver: the Alertmanager webhook target. Every notification
//! is stored durably before the answer, grouped into incidents under a key
//! that does not depend on Alertmanager's routes, enriched from the catalog
//! and Prometheus, and delivered to the destinations the catalog routes it
//! to (Jira, PagerDuty, a log), in order, with retries and dead letters.
//!
//! Flow: [`http`] parses and authenticates; [`store`] records the
//! notification, the incidents it changes ([`incident`]) and one outbox row
//! per action and destination, in one transaction; [`deliver`] renders each
//! action's text ([`text`], with [`live`] values) when it is due and hands
//! it to its destination ([`dest`]).

pub mod action;
pub mod config;
mod deliver;
pub mod dest;
mod http;
pub mod incident;
mod live;
mod metrics;
pub mod payload;
mod policy;
pub mod store;
pub mod text;
pub mod time;

use std::collections::BTreeMap;
use std::sync::Arc;

use edgewatch_catalog::{Catalog, Secret};

pub use crate::config::Config;
use crate::dest::Destination;
pub use crate::http::WEBHOOK_PATH;
use crate::store::{Store, StoreError};

/// Why the receiver could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration has mistakes (each named).
    #[error("invalid receiver configuration:\n  {}", .0.join("\n  "))]
    Config(Vec<String>),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A destination could not be set up.
    #[error(transparent)]
    Destination(#[from] dest::BuildError),
    /// The templates do not load.
    #[error(transparent)]
    Templates(#[from] text::TextError),
    /// The bearer token could not be read.
    #[error("auth.bearer_token: {0}")]
    Secret(#[from] edgewatch_catalog::SecretError),
    /// The HTTP client for Prometheus could not be built.
    #[error("prometheus: {0}")]
    Client(#[from] reqwest::Error),
}

/// What the handlers and the deliverer share.
#[derive(Debug)]
pub(crate) struct Inner {
    store: Arc<dyn Store>,
    policy: policy::CatalogPolicy,
    catalog: Arc<Catalog>,
    destinations: BTreeMap<String, Destination>,
    templates: text::Templates,
    prometheus: Option<live::Prometheus>,
    bases: text::LinkBases,
    delivery: Delivery,
    key_labels: Vec<String>,
    body_limit: u64,
    bearer: Option<Secret>,
    metrics: metrics::Metrics,
    wake: tokio::sync::Notify,
    in_flight: deliver::InFlight,
    retention_ms: i64,
    /// Set when shutdown begins: `/-/ready` answers 503.
    stopping: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Clone, Copy)]
struct Delivery {
    max_attempts: u32,
    initial_backoff: std::time::Duration,
    max_backoff: std::time::Duration,
    concurrency: usize,
    settle_ms: i64,
}

/// A receiver, ready to serve.
#[derive(Debug, Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
}

impl Receiver {
    /// Checks `config` against `catalog`, opens the store, reads secrets
    /// through `env` and sets up every destination of the catalog.
    pub fn build(config: &Config, catalog: Catalog, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, BuildError> {
        let problems = config.validate(&catalog);
        if !problems.is_empty() {
            return Err(BuildError::Config(problems));
        }
        let store = store::sqlite::Sqlite::open(&config.data_dir)?;
        let held = store.use_key_labels(&config.incidents.key_labels)?;
        if held > 0 {
            tracing::info!(
                incidents = held,
                "Incident key labels changed: the incidents firing keep their alerts until they resolve."
            );
        }
        let client = dest::http::client(config.delivery.timeout.to_std())?;
        let mut destinations = BTreeMap::new();
        for (name, d) in &catalog.destinations {
            let name = name.as_str();
            let built = match d {
                edgewatch_catalog::model::Destination::Jira(j) => {
                    Destination::Jira(dest::jira::Jira::build(name, j, env, client.clone())?)
                }
                edgewatch_catalog::model::Destination::PagerDuty(p) => {
                    Destination::PagerDuty(dest::pagerduty::PagerDuty::build(name, p, env, client.clone())?)
                }
                edgewatch_catalog::model::Destination::Log(l) => {
                    Destination::Log(dest::log::Log::build(name, &l.path)?)
                }
            };
            destinations.insert(name.to_owned(), built);
        }
        let bearer = config.auth.bearer_token.as_ref().map(|s| s.resolve(env)).transpose()?;
        let prometheus =
            config.prometheus.as_ref().map(|p| live::Prometheus::new(client.clone(), &p.url, p.timeout.to_std()));
        let templates = text::Templates::load(&catalog.templates, config.templates.as_deref())?;
        let catalog = Arc::new(catalog);
        Ok(Self {
            inner: Arc::new(Inner {
                store: Arc::new(store),
                policy: policy::CatalogPolicy::new(Arc::clone(&catalog), config),
                catalog,
                destinations,
                templates,
                prometheus,
                bases: text::LinkBases {
                    grafana: config.grafana_url.clone(),
                    alertmanager: config.alertmanager_url.clone(),
                },
                delivery: Delivery {
                    max_attempts: config.delivery.max_attempts,
                    initial_backoff: config.delivery.initial_backoff.to_std(),
                    max_backoff: config.delivery.max_backoff.to_std(),
                    concurrency: config.delivery.concurrency,
                    settle_ms: time::millis(config.delivery.settle),
                },
                key_labels: config.incidents.key_labels.clone(),
                body_limit: config.body_limit.0,
                bearer,
                metrics: metrics::Metrics::default(),
                wake: tokio::sync::Notify::new(),
                in_flight: deliver::InFlight::default(),
                retention_ms: time::millis(config.retention),
                stopping: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// The HTTP endpoints, for serving or for tests.
    pub fn router(&self) -> axum::Router {
        http::router(Arc::clone(&self.inner))
    }

    /// Webhooks handled at once unless `--web.max-in-flight` says
    /// otherwise. Each holds at most `body_limit` bytes.
    pub const DEFAULT_IN_FLIGHT: usize = 64;

    /// Delivers and prunes in the background, until the returned handle is
    /// aborted or dropped with the runtime.
    pub fn spawn_workers(&self) -> tokio::task::JoinHandle<()> {
        let permits = Arc::new(tokio::sync::Semaphore::new(self.inner.delivery.concurrency));
        // Never told to stop: the sender lives in the task.
        let (stop, until) = tokio::sync::watch::channel(false);
        let workers = self.spawn_workers_until(permits, until);
        tokio::spawn(async move {
            let _stop = stop;
            let _ = workers.await;
        })
    }

    fn spawn_workers_until(
        &self,
        permits: Arc<tokio::sync::Semaphore>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let pruner = {
                let inner = Arc::clone(&inner);
                async move {
                    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
                    loop {
                        tick.tick().await;
                        let store = Arc::clone(&inner.store);
                        let before = time::now_ms() - inner.retention_ms;
                        match tokio::task::spawn_blocking(move || store.prune(before)).await {
                            Ok(Ok(p)) => tracing::info!(
                                notifications = p.notifications,
                                incidents = p.incidents,
                                actions = p.actions,
                                "pruned history"
                            ),
                            Ok(Err(e)) => tracing::warn!(error = %e, "pruning failed"),
                            Err(e) => tracing::warn!(error = %e, "pruning task failed"),
                        }
                    }
                }
            };
            // The pruner has nothing to finish: it ends with the deliverer.
            tokio::select! {
                () = deliver::run(inner, permits, stop) => {}
                () = pruner => {}
            }
        })
    }

    /// Serves on `listener` with the web config's TLS, basic auth,
    /// headers and limits, delivering in the background, until `shutdown`
    /// completes. Then `/-/ready` answers 503, no new delivery starts, and
    /// webhooks and deliveries in progress get the grace period to finish.
    /// A delivery cut off is run again at the next start, after the settle
    /// time, as after a crash (docs/receiver.md).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        web: &edgewatch_web::WebConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let concurrency = self.inner.delivery.concurrency;
        let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let (stop, until) = tokio::sync::watch::channel(false);
        let workers = self.spawn_workers_until(Arc::clone(&permits), until);
        let grace = web.limits().shutdown_grace;
        let began = Arc::new(std::sync::OnceLock::new());
        let shutdown = {
            let (inner, began) = (Arc::clone(&self.inner), Arc::clone(&began));
            async move {
                shutdown.await;
                let _ = began.set(tokio::time::Instant::now());
                inner.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
                let _ = stop.send(true);
            }
        };
        let result = edgewatch_web::serve(listener, self.router(), web, shutdown).await;
        let deadline = *began.get_or_init(tokio::time::Instant::now) + grace;
        let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
        if tokio::time::timeout_at(deadline, permits.acquire_many(all)).await.is_err() {
            let cut = concurrency - permits.available_permits();
            tracing::warn!(
                deliveries = cut,
                "Deliveries still in progress at the end of the grace period were stopped; they run again at the next start."
            );
        }
        workers.abort();
        result
    }
}

/// Opens the store in `data_dir` without starting a receiver: for the
/// `dead-letters` commands, which may run beside a running receiver.
pub fn open_store(data_dir: &std::path::Path) -> Result<impl Store, StoreError> {
    store::sqlite::Sqlite::open(data_dir)
}
