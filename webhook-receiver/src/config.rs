//! `receiver.yml`: where the store lives, how Alertmanager authenticates,
//! where enrichment and links point, how incidents group, how delivery
//! retries, and how long history is kept.
//!
//! Parsed (serde, unknown keys rejected), then validated (pure, every
//! problem reported), then built into a [`crate::Receiver`] (effects).

use std::path::PathBuf;

use edgewatch_catalog::{ByteSize, Duration, SecretRef};
use serde::Deserialize;

use crate::incident::DEFAULT_KEY_LABELS;

/// The receiver's configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The folder holding `receiver.db` (the SQLite store) and files the
    /// receiver writes (reports).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Where incidents and the outbox are kept: `sqlite` (the default,
    /// `receiver.db` in `data_dir`, one receiver) or a PostgreSQL URL
    /// (`postgres://edgewatch@db:5432/edgewatch`), which several receivers
    /// may share.
    pub store: Option<String>,
    /// The PostgreSQL password (`env:NAME` or `file:PATH`); never in the URL.
    pub store_password: Option<SecretRef>,
    /// What Alertmanager must send.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Live values for tickets and pages.
    pub prometheus: Option<PrometheusConfig>,
    /// The exporters whose top offenders mitigation suggestions read.
    pub exporters: Option<ExportersConfig>,
    /// Grafana's base URL, for dashboard links.
    pub grafana_url: Option<String>,
    /// Alertmanager's URL for links, when the notifications' `externalURL`
    /// is not reachable by people (a pod name).
    pub alertmanager_url: Option<String>,
    /// How alerts group into incidents.
    #[serde(default)]
    pub incidents: IncidentConfig,
    /// How actions are delivered.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// Resolved incidents, delivered actions and notifications older than
    /// this are deleted.
    #[serde(default = "default_retention")]
    pub retention: Duration,
    /// The largest notification body taken.
    #[serde(default = "default_body_limit")]
    pub body_limit: ByteSize,
    /// Destinations (catalog names) for alerts whose `customer` label names
    /// no customer of the catalog. Empty: such alerts are stored and
    /// counted, and go nowhere.
    #[serde(default)]
    pub unrouted: Vec<String>,
    /// A folder of templates (`title.hbs`, `description.hbs`,
    /// `comment.hbs`) replacing the built-in ones.
    pub templates: Option<PathBuf>,
    /// Reports written on a schedule (`edgewatch receiver` runs them).
    pub reports: Option<edgewatch_reports::schedule::Config>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            store: None,
            store_password: None,
            auth: AuthConfig::default(),
            prometheus: None,
            exporters: None,
            grafana_url: None,
            alertmanager_url: None,
            incidents: IncidentConfig::default(),
            delivery: DeliveryConfig::default(),
            retention: default_retention(),
            body_limit: default_body_limit(),
            unrouted: Vec::new(),
            templates: None,
            reports: None,
        }
    }
}

/// The store `store` names.
#[derive(Debug, Clone)]
pub(crate) enum StoreKind {
    /// `receiver.db` in `data_dir`.
    Sqlite,
    /// PostgreSQL; the password is read when connecting, and the TLS
    /// roots when the store is opened.
    Postgres(Box<postgres::Config>, crate::store::tls::Tls),
}

/// Alertmanager's `http_config.authorization` (Bearer). Basic auth and TLS
/// come from `--web.config.file`, as for the exporter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The token the webhook requires (`env:NAME` or `file:PATH`).
    pub bearer_token: Option<SecretRef>,
}

/// Where live values come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Prometheus' base URL (`http://prometheus:9090`).
    pub url: String,
    /// How long a ticket waits for live values before going without them.
    #[serde(default = "default_prometheus_timeout")]
    pub timeout: Duration,
}

/// Where top offenders come from: every exporter that takes the customers'
/// logs (behind a load balancer, each one: their counts are merged).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportersConfig {
    /// Each exporter's base URL (`http://exporter-1:9817`).
    pub urls: Vec<String>,
    /// How long a ticket waits for the exporters before it goes saying the
    /// suggestion is missing, and why.
    #[serde(default = "default_exporters_timeout")]
    pub timeout: Duration,
}

/// How alerts group into incidents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentConfig {
    /// Labels whose values make the key; alerts with none of them group by
    /// their `alertname`.
    #[serde(default = "default_key_labels")]
    pub key_labels: Vec<String>,
    /// An incident firing again within this after resolving reopens (same
    /// issue, same page); later, a new one opens.
    #[serde(default = "default_reopen_window")]
    pub reopen_window: Duration,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        Self { key_labels: default_key_labels(), reopen_window: default_reopen_window() }
    }
}

/// Delivery retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Per request.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Attempts before an action becomes a dead letter.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The first wait; doubled each time, with jitter.
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: Duration,
    /// The longest wait (also caps a `Retry-After`).
    #[serde(default = "default_max_backoff")]
    pub max_backoff: Duration,
    /// Actions delivered at once to each destination (each incident and
    /// destination stays in order): a slow destination fills its own.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// After a crash, how long an interrupted attempt waits before it runs
    /// again: long enough for Jira's search to see an issue the interrupted
    /// attempt may have created, so it is found by its label, not created twice.
    #[serde(default = "default_settle")]
    pub settle: Duration,
    /// With receivers sharing a PostgreSQL store: how long an action a
    /// receiver took stays its own. A receiver that dies leaves its actions
    /// to the others after this; longer than `timeout` (an attempt ends
    /// within its lease) and at least `settle`.
    #[serde(default = "default_lease")]
    pub lease: Duration,
    /// How long a new update to a ticket or page waits before it goes,
    /// taking the news of the notifications that come meanwhile: in a
    /// storm, alerts joining an incident from several Alertmanager groups
    /// are one update, not one each. Another action of the incident (its
    /// resolve, an escalation) sends the waiting update at once, before
    /// it; a note waits for it. 0 (the default): updates go at once.
    #[serde(default = "default_update_hold")]
    pub update_hold: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            timeout: default_timeout(),
            max_attempts: default_max_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            concurrency: default_concurrency(),
            settle: default_settle(),
            lease: default_lease(),
            update_hold: default_update_hold(),
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data/receiver")
}
fn default_retention() -> Duration {
    Duration::from_millis(30 * 86_400_000)
}
fn default_body_limit() -> ByteSize {
    ByteSize(4 << 20)
}
fn default_prometheus_timeout() -> Duration {
    Duration::from_millis(2_000)
}
fn default_exporters_timeout() -> Duration {
    Duration::from_millis(3_000)
}
fn default_key_labels() -> Vec<String> {
    DEFAULT_KEY_LABELS.iter().map(|s| (*s).to_owned()).collect()
}
fn default_reopen_window() -> Duration {
    Duration::from_millis(3_600_000)
}
fn default_timeout() -> Duration {
    Duration::from_millis(10_000)
}
fn default_max_attempts() -> u32 {
    12
}
fn default_initial_backoff() -> Duration {
    Duration::from_millis(2_000)
}
fn default_max_backoff() -> Duration {
    Duration::from_millis(600_000)
}
fn default_concurrency() -> usize {
    64
}
fn default_settle() -> Duration {
    Duration::from_millis(10_000)
}
fn default_lease() -> Duration {
    Duration::from_millis(60_000)
}
fn default_update_hold() -> Duration {
    Duration::from_millis(0)
}

/// The longest `delivery.update_hold`: Alertmanager's own default
/// `group_interval`; a longer hold keeps a ticket behind what Alertmanager
/// already told.
const MAX_UPDATE_HOLD_MS: u64 = 300_000;

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

impl Config {
    /// Reads `receiver.yml`.
    pub fn parse(text: &str) -> Result<Self, edgewatch_catalog::yaml::DeError> {
        edgewatch_catalog::yaml::from_str(text)
    }

    /// The store, as messages name it: the SQLite folder, or the
    /// PostgreSQL URL (which holds no password).
    pub fn store_label(&self) -> String {
        match self.store.as_deref().filter(|s| *s != "sqlite") {
            Some(url) => url.to_owned(),
            None => self.data_dir.display().to_string(),
        }
    }

    /// Whether the store is PostgreSQL (else SQLite in `data_dir`).
    pub fn is_postgres(&self) -> bool {
        matches!(self.store_kind(), Ok(StoreKind::Postgres(..)))
    }

    /// Which store `store` names (without reading the password).
    pub(crate) fn store_kind(&self) -> Result<StoreKind, String> {
        let Some(text) = self.store.as_deref().filter(|s| *s != "sqlite") else {
            return Ok(StoreKind::Sqlite);
        };
        let url = url::Url::parse(text).map_err(|e| format!("store: `{text}` is not `sqlite` or a URL: {e}"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(format!("store: `{}:` is not a store; use `sqlite` or a `postgres://` URL", url.scheme()));
        }
        // Not the URL again: it holds the password.
        if url.password().is_some() || url.query_pairs().any(|(k, _)| k == "password") {
            return Err(
                "store: the URL holds a password; give it as `store_password: env:NAME` or `file:PATH`".to_owned()
            );
        }
        let (tls, rest) = crate::store::tls::Tls::from_url(&url).map_err(|e| format!("store: `{text}`: {e}"))?;
        let config: postgres::Config = rest.as_str().parse().map_err(|e| format!("store: `{text}`: {e}"))?;
        if config.get_user().is_none() {
            return Err(format!("store: `{text}` names no user (`postgres://USER@HOST/DB`)"));
        }
        Ok(StoreKind::Postgres(Box::new(config), tls))
    }

    /// Every problem, in plain words, against the catalog's destinations
    /// (empty when fine).
    pub fn validate(&self, catalog: &edgewatch_catalog::Catalog) -> Vec<String> {
        let mut problems = Vec::new();
        match self.store_kind() {
            Ok(StoreKind::Sqlite) if self.store_password.is_some() => {
                problems.push("store_password: set, but the store is SQLite".to_owned());
            }
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
        for (field, url) in [
            ("prometheus.url", self.prometheus.as_ref().map(|p| p.url.as_str())),
            ("grafana_url", self.grafana_url.as_deref()),
            ("alertmanager_url", self.alertmanager_url.as_deref()),
        ] {
            if let Some(u) = url.filter(|u| !is_http_url(u)) {
                problems.push(format!("{field}: `{u}` is not an http(s) URL"));
            }
        }
        if let Some(e) = &self.exporters {
            if e.urls.is_empty() {
                problems.push("exporters.urls: list at least one exporter, or leave `exporters` out".to_owned());
            }
            for (i, u) in e.urls.iter().enumerate() {
                if !is_http_url(u) {
                    problems.push(format!("exporters.urls[{i}]: `{u}` is not an http(s) URL"));
                }
            }
            if e.timeout.as_millis() == 0 {
                problems.push("exporters.timeout: must be above 0".to_owned());
            }
        }
        if self.incidents.key_labels.is_empty() {
            problems.push("incidents.key_labels: name at least one label (`alertname`)".to_owned());
        }
        let d = &self.delivery;
        if d.max_attempts == 0 {
            problems.push("delivery.max_attempts: must be at least 1".to_owned());
        }
        if d.concurrency == 0 {
            problems.push("delivery.concurrency: must be at least 1".to_owned());
        }
        if d.timeout.as_millis() == 0 || d.initial_backoff.as_millis() == 0 {
            problems.push("delivery: timeout and initial_backoff must be above 0".to_owned());
        }
        if d.lease <= d.timeout || d.lease < d.settle {
            problems.push(format!(
                "delivery.lease: {} must be longer than timeout {} and at least settle {}",
                d.lease, d.timeout, d.settle
            ));
        }
        let hold = d.update_hold.as_millis();
        if hold != 0 && !(1_000..=MAX_UPDATE_HOLD_MS).contains(&hold) {
            problems.push(format!("delivery.update_hold: {} must be 0 (off) or from 1s to 5m", d.update_hold));
        }
        if d.max_backoff < d.initial_backoff {
            problems.push(format!(
                "delivery.max_backoff: {} is shorter than initial_backoff {}",
                d.max_backoff, d.initial_backoff
            ));
        }
        if self.retention.as_millis() < 3_600_000 {
            problems
                .push(format!("retention: {} is under an hour; history would go before it is read", self.retention));
        }
        if self.body_limit.0 < 1024 {
            problems.push(format!("body_limit: {} cannot hold a notification", self.body_limit));
        }
        if let Some(reports) = &self.reports {
            problems.extend(reports.validate(catalog, "reports"));
        }
        for (i, name) in self.unrouted.iter().enumerate() {
            if !catalog.destinations.keys().any(|d| d.as_str() == name) {
                problems.push(format!("unrouted[{i}]: `{name}` is not a destination of the catalog"));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_is_valid() {
        let catalog =
            edgewatch_catalog::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/catalog")))
                .unwrap()
                .catalog;
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/receiver.yml")).unwrap();
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.validate(&catalog), Vec::<String>::new());
        assert_eq!(c.delivery.settle.to_string(), "10s");
        assert_eq!(c.incidents.key_labels, ["customer", "incident"]);
    }

    #[test]
    fn defaults_are_valid_and_mistakes_are_named() {
        let catalog =
            edgewatch_catalog::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/catalog")))
                .unwrap()
                .catalog;
        assert!(Config::default().validate(&catalog).is_empty());
        let c = Config::parse(
            "prometheus: {url: 'prometheus:9090'}\nexporters: {urls: ['http://e:9817', 'e2:9817']}\ndelivery: {max_attempts: 0, initial_backoff: 10m, max_backoff: 1m, lease: 10s}\nunrouted: [noc-jira, nowhere]\nretention: 5m\n",
        )
        .unwrap();
        assert_eq!(
            c.validate(&catalog),
            [
                "prometheus.url: `prometheus:9090` is not an http(s) URL",
                "exporters.urls[1]: `e2:9817` is not an http(s) URL",
                "delivery.max_attempts: must be at least 1",
                "delivery.lease: 10s must be longer than timeout 10s and at least settle 10s",
                "delivery.max_backoff: 1m is shorter than initial_backoff 10m",
                "retention: 5m is under an hour; history would go before it is read",
                "unrouted[1]: `nowhere` is not a destination of the catalog",
            ]
        );
        let store = |text: &str| Config::parse(text).unwrap().validate(&catalog);
        for fine in ["0s", "1s", "5m"] {
            assert!(store(&format!("delivery: {{update_hold: {fine}}}\n")).is_empty(), "{fine}");
        }
        for wrong in ["500ms", "6m"] {
            assert_eq!(
                store(&format!("delivery: {{update_hold: {wrong}}}\n")),
                [format!("delivery.update_hold: {wrong} must be 0 (off) or from 1s to 5m")]
            );
        }
        assert!(store("store: sqlite\n").is_empty());
        assert!(store("store: postgres://edgewatch@db:5432/edgewatch\nstore_password: env:PG_PASSWORD\n").is_empty());
        assert!(store("store: postgres://edgewatch@db/edgewatch?sslmode=verify-full&sslrootcert=/ca.pem\n").is_empty());
        for (text, says) in [
            ("store: postgres://edgewatch:hunter2@db/edgewatch\n", "the URL holds a password"),
            ("store: postgres://edgewatch@db/edgewatch?password=hunter2\n", "the URL holds a password"),
            ("store: mysql://edgewatch@db/edgewatch\n", "`mysql:` is not a store"),
            ("store: receiver.db\n", "is not `sqlite` or a URL"),
            ("store: postgres://db/edgewatch\n", "names no user"),
            ("store: postgres://edgewatch@db/edgewatch?sslmode=allow\n", "sslmode `allow` is not one of"),
            ("store_password: env:PG_PASSWORD\n", "store_password: set, but the store is SQLite"),
        ] {
            let problems = store(text);
            assert!(problems.iter().any(|p| p.contains(says)), "{text}: {problems:?}");
            // The password itself is never repeated.
            assert!(!problems.iter().any(|p| p.contains("hunter2")), "{problems:?}");
        }
        let e = Config::parse("data_dir: x\nlisten: y\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `listen`"), "{e}");
    }
}
