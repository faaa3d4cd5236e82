//! edgewatch receiver: the Alertmanager webhook target. Every notification
//! is stored durably before the answer, grouped into incidents under a key
//! that does not depend on Alertmanager's routes, enriched from the catalog
//! and Prometheus, and delivered to the destinations the catalog routes it
//! to (Jira, PagerDuty, a log), in order, with retries and dead letters.
//!
//! The public face: the [`Receiver`] and its [`Config`], why it would not
//! start ([`BuildError`]), [`DeadLetters`] to list and replay, the incident [`History`] for
//! reports, and
//! [`check_templates`] for `edgewatch check`.
//!
//! Flow: `http` checks and reads a webhook (the intake); `store` records
//! the notification, the incidents it changes (`incident`, under the
//! catalog's `policy`) and one outbox row per action and destination, in one
//! transaction; `deliver` renders each action's text (`text`, with `live`
//! values) when it is due and hands it to its destination (`dest`). This
//! file only wires them.

// `pub` items of `action`, `dest` and `time` are re-exported by `testing`;
// without that feature they are reachable from the crate only.
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
mod action;
mod config;
mod customer_text;
mod dead_letters;
mod deliver;
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
mod dest;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod history;
mod http;
mod incident;
mod live;
mod metrics;
mod mitigation;
mod notes;
mod offenders;
mod outreach;
mod payload;
mod policy;
mod report_source;
mod shared_work;
mod store;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;
mod text;
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
mod time;

use std::collections::BTreeMap;
use std::sync::Arc;

use edgewatch_catalog::Catalog;

pub use crate::action::ActionKind;
pub use crate::config::{AuthConfig, Config, DeliveryConfig, ExportersConfig, IncidentConfig, PrometheusConfig};
pub use crate::dead_letters::DeadLetters;
pub use crate::dest::BuildError as DestinationError;
use crate::dest::Destination;
pub use crate::dest::email::{MailError, Mailer};
pub use crate::history::{AlertRecord, ExternalRef, History, IncidentRecord, OffenderRecord};
pub use crate::http::{NOTES_PATH, OUTREACH_PATH, WEBHOOK_PATH};
pub use crate::mitigation::cloudflare::{Cloudflare, CloudflareError, DEFAULT_BASE as CLOUDFLARE_API, Phase, Placed};
pub use crate::mitigation::handle::{Mitigations, Suggested};
pub use crate::mitigation::{CustomRule, Mode, RateLimit, RateLimitRule, Row, Suggestion};
pub use crate::notes::Notes;
pub use crate::offenders::{Bounded, Dimension};
pub use crate::outreach::{Outreach, OutreachError};
pub use crate::report_source::ReportIncidents;
pub use crate::shared_work::SharedWork;
pub use crate::store::{
    AppliedRule, DeadLetter, Held, MAX_AUTHOR, MAX_NOTE, NewAppliedRule, NewNote, Note, NoteError, NoteKind, RuleKind,
    StoreError,
};
pub use crate::text::TextError;

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
    Destination(#[from] DestinationError),
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

/// A receiver, ready to serve: the webhook's intake and the deliverer,
/// which share the store, the metrics and a wake-up.
#[derive(Debug, Clone)]
pub struct Receiver {
    intake: Arc<http::Intake>,
    deliverer: Arc<deliver::Deliverer>,
}

impl Receiver {
    /// Checks `config` against `catalog`, opens the store, reads secrets
    /// through `env` and sets up every destination of the catalog.
    pub fn build(config: &Config, catalog: Catalog, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, BuildError> {
        let problems = config.validate(&catalog);
        if !problems.is_empty() {
            return Err(BuildError::Config(problems));
        }
        let store = store::open(config, env)?;
        let held = store.use_key_labels(&config.incidents.key_labels)?;
        // The catalog's routes may have changed since the schedule of the
        // incidents firing was computed: the first look computes it again.
        store.reschedule()?;
        if held > 0 {
            tracing::info!(
                incidents = held,
                "Incident key labels changed: the incidents firing keep their alerts until they resolve."
            );
        }
        let client = dest::http::client(config.delivery.timeout.to_std())?;
        let mut destinations = BTreeMap::new();
        for (name, d) in &catalog.destinations {
            destinations.insert(
                name.as_str().to_owned(),
                Destination::build(name.as_str(), d, env, &client, config.delivery.timeout.to_std())?,
            );
        }
        let bearer = config.auth.bearer_token.as_ref().map(|s| s.resolve(env)).transpose()?;
        let prometheus =
            config.prometheus.as_ref().map(|p| live::Prometheus::new(client.clone(), &p.url, p.timeout.to_std()));
        let exporters =
            config.exporters.as_ref().map(|e| offenders::Exporters::new(client.clone(), &e.urls, e.timeout.to_std()));
        let templates = text::Templates::load(&catalog.templates, config.templates.as_deref())?;
        let catalog = Arc::new(catalog);
        let metrics = Arc::new(metrics::Metrics::default());
        store.count_commits(Arc::clone(&metrics));
        let wake = Arc::new(tokio::sync::Notify::new());
        let policy = Arc::new(policy::CatalogPolicy::new(Arc::clone(&catalog), config));
        let intake = http::Intake {
            store: Arc::clone(&store),
            policy: Arc::clone(&policy),
            key_labels: config.incidents.key_labels.clone(),
            body_limit: config.body_limit.0,
            bearer,
            metrics: Arc::clone(&metrics),
            wake: Arc::clone(&wake),
            stopping: std::sync::atomic::AtomicBool::new(false),
        };
        let deliverer = deliver::Deliverer {
            store,
            destinations,
            catalog,
            templates,
            prometheus,
            exporters,
            policy,
            bases: text::LinkBases {
                grafana: config.grafana_url.clone(),
                alertmanager: config.alertmanager_url.clone(),
            },
            settings: deliver::Settings::new(config),
            metrics,
            wake,
            in_flight: deliver::InFlight::default(),
        };
        Ok(Self { intake: Arc::new(intake), deliverer: Arc::new(deliverer) })
    }

    /// The HTTP endpoints, for serving or for tests.
    pub fn router(&self) -> axum::Router {
        http::router(Arc::clone(&self.intake))
    }

    /// Webhooks handled at once unless `--web.max-in-flight` says
    /// otherwise. Each holds at most `body_limit` bytes.
    pub const DEFAULT_IN_FLIGHT: usize = 64;

    /// Delivers and prunes in the background, until the returned handle is
    /// aborted or dropped with the runtime.
    pub fn spawn_workers(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(deliver::Workers::start(Arc::clone(&self.deliverer)).run())
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
        let workers = deliver::Workers::start(Arc::clone(&self.deliverer));
        let began = Arc::new(std::sync::OnceLock::new());
        let shutdown = {
            let (intake, began, stop) = (Arc::clone(&self.intake), Arc::clone(&began), workers.stopper());
            async move {
                shutdown.await;
                let _ = began.set(tokio::time::Instant::now());
                intake.stop();
                stop();
            }
        };
        let result = edgewatch_web::serve(listener, self.router(), web, shutdown).await;
        let deadline = *began.get_or_init(tokio::time::Instant::now) + web.limits().shutdown_grace;
        workers.finish(deadline).await;
        result
    }
}

/// Checks the catalog's `templates:` as the receiver loads them at start
/// (strict handlebars, no HTML escaping): the error names the template.
pub fn check_templates(templates: &BTreeMap<String, String>) -> Result<(), TextError> {
    text::Templates::load(templates, None).map(drop)
}
