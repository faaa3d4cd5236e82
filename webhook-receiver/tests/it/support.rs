//! What the tests share: a receiver serving on loopback and delivering,
//! the alerts of the customer `shop` and the notifications that carry them,
//! waiting for what the receiver does in the background; and, for the tests
//! of one destination, an incident of `acme`, its text, and a delivery.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use edgewatch_catalog::names::Severity;
use edgewatch_test_kit::postgres::PostgresServer;
use edgewatch_webhook_receiver::testing::{
    ActionKind, AlertState, Change, Delivery, DeliveryError, Destination, Incident, Link, Message, Outcome, Status,
};
use edgewatch_webhook_receiver::{Config, DeadLetters, Receiver, WEBHOOK_PATH};
use serde_json::{Value, json};

/// A PagerDuty integration key: 32 characters, as PagerDuty's are.
pub(crate) const PD_KEY: &str = "e93facc04764012d7bfb002500d5d1a6";

/// Where a test's receiver keeps its state: the behaviour tests run on
/// both ([`on_both_stores`]).
#[derive(Debug)]
pub(crate) enum Backend {
    /// `receiver.db` in the test's `data` folder.
    Sqlite,
    /// A PostgreSQL server of the test's own.
    Postgres(PostgresServer),
    /// The PostgreSQL database at this URL, which another receiver of
    /// the test owns (receivers sharing one database).
    Shared(String),
}

impl Backend {
    /// A fresh PostgreSQL server for the test `name`.
    pub(crate) fn postgres(name: &str) -> Self {
        Self::Postgres(PostgresServer::start(name))
    }

    /// The name tests and scratch folders carry.
    pub(crate) const fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres(_) | Self::Shared(_) => "postgres",
        }
    }

    /// The `store:` line of the receiver's configuration.
    fn config(&self) -> String {
        match self {
            Self::Sqlite => String::new(),
            Self::Postgres(server) => format!("store: '{}'\n", server.url()),
            Self::Shared(url) => format!("store: '{url}'\n"),
        }
    }
}

/// A test of what the store keeps, run once on SQLite and once on
/// PostgreSQL: `mod name { fn sqlite, fn postgres }`, each calling the body
/// with its [`Backend`].
macro_rules! on_both_stores {
    ($(#[$doc:meta])* async fn $name:ident($store:ident) $body:block) => {
        $(#[$doc])*
        mod $name {
            #[allow(clippy::wildcard_imports)]
            use super::*;

            async fn test($store: $crate::support::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                test($crate::support::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                test($crate::support::Backend::postgres(stringify!($name))).await;
            }
        }
    };
}
pub(crate) use on_both_stores;

/// A receiver on a loopback port, delivering in the background.
pub(crate) struct Running {
    /// `http://127.0.0.1:<port>`.
    pub(crate) url: String,
    /// The test's scratch folder: `catalog.yaml`, the SQLite store in `data`.
    pub(crate) dir: PathBuf,
    pub(crate) client: reqwest::Client,
    /// Its configuration, for opening its store beside it.
    pub(crate) config: Config,
    /// Its store (a PostgreSQL server lives as long as the receiver).
    pub(crate) store: Backend,
}

impl Running {
    /// A receiver on SQLite in a fresh scratch folder named `name`; see [`Running::start_in`].
    pub(crate) async fn start(name: &str, catalog: &str, config: &str, env: &[(&str, &str)]) -> Self {
        Self::start_on(Backend::Sqlite, name, catalog, config, env).await
    }

    /// A receiver on `store` in a fresh scratch folder named `name`.
    pub(crate) async fn start_on(
        store: Backend,
        name: &str,
        catalog: &str,
        config: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let dir = edgewatch_test_kit::scratch_dir(&format!("{name}-{}", store.name()));
        Self::start_in_on(store, dir, catalog, config, env).await
    }

    /// A receiver on SQLite in `dir`: `catalog` is written to
    /// `dir/catalog.yaml`, `config` follows `data_dir: dir/data` in its
    /// configuration (in both, `{dir}` stands for `dir`), and `env` answers
    /// its secret references.
    pub(crate) async fn start_in(dir: PathBuf, catalog: &str, config: &str, env: &[(&str, &str)]) -> Self {
        Self::start_in_on(Backend::Sqlite, dir, catalog, config, env).await
    }

    /// [`Running::start_in`] on `store`.
    pub(crate) async fn start_in_on(
        store: Backend,
        dir: PathBuf,
        catalog: &str,
        config: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let here = |text: &str| text.replace("{dir}", &dir.display().to_string());
        let file = dir.join("catalog.yaml");
        std::fs::write(&file, here(catalog)).unwrap();
        let catalog = edgewatch_catalog::load(&file)
            .unwrap_or_else(|e| panic!("{}", edgewatch_catalog::render(&e.diagnostics)))
            .catalog;
        let text = format!("data_dir: '{}'\n{}{}", dir.join("data").display(), store.config(), here(config));
        let config = Config::parse(&text).unwrap();
        let lookup = |k: &str| env.iter().find(|(name, _)| *name == k).map(|(_, v)| (*v).to_owned());
        let receiver = Receiver::build(&config, catalog, &lookup).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        receiver.spawn_workers();
        tokio::spawn(async move { axum::serve(listener, receiver.router()).await });
        Self { url, dir, client: edgewatch_test_kit::http_client(), config, store }
    }

    /// Where Alertmanager posts.
    pub(crate) fn webhook(&self) -> String {
        format!("{}{WEBHOOK_PATH}", self.url)
    }

    /// Posts `body` to the webhook, with `token` as the bearer token if any:
    /// the status and the answer.
    pub(crate) async fn post(&self, body: &str, token: Option<&str>) -> (u16, String) {
        let mut request = self.client.post(self.webhook()).body(body.to_owned());
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let answer = request.send().await.unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    /// Posts `body` with `token`; it must be taken.
    pub(crate) async fn post_ok_with(&self, body: &str, token: &str) {
        let (status, answer) = self.post(body, Some(token)).await;
        assert_eq!(status, 200, "{answer}");
    }

    /// Posts `body` without a token; it must be taken.
    pub(crate) async fn post_ok(&self, body: &str) {
        let (status, answer) = self.post(body, None).await;
        assert_eq!(status, 200, "{answer}");
    }

    /// `/metrics`.
    pub(crate) async fn metrics(&self) -> String {
        self.client.get(format!("{}/metrics", self.url)).send().await.unwrap().text().await.unwrap()
    }

    /// The store's dead letters.
    pub(crate) fn dead_letters(&self) -> DeadLetters {
        DeadLetters::connect(&self.config, &|_| None).unwrap()
    }

    /// The lines of the log destination writing to `dir/audit.jsonl`, once
    /// there are `n`, within `secs`.
    pub(crate) async fn lines(&self, n: usize, secs: u64) -> Vec<Value> {
        lines(&self.dir.join("audit.jsonl"), n, secs).await
    }
}

/// The JSON lines of `path`, once there are `n`, within `secs`.
pub(crate) async fn lines(path: &Path, n: usize, secs: u64) -> Vec<Value> {
    let mut found = Vec::new();
    eventually(&format!("{n} lines in {}", path.display()), secs, || {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        found = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        found.len() >= n
    })
    .await;
    found
}

/// Waits until `check` holds, for at most `secs`; `what` names it if not.
pub(crate) async fn eventually(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "not within {secs}s: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An alert of the customer `shop`, labelled as edgewatch's rules label it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Alert {
    pub(crate) fingerprint: &'static str,
    pub(crate) name: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) severity: &'static str,
    pub(crate) summary: &'static str,
    /// The `description` annotation, if not empty.
    pub(crate) description: &'static str,
    pub(crate) labels: &'static [(&'static str, &'static str)],
}

/// Availability burning fast: a page.
pub(crate) const BURN: Alert = Alert {
    fingerprint: "b000000000000001",
    name: "EdgewatchErrorBudgetBurnFast",
    kind: "burn_rate_fast",
    severity: "page",
    summary: "shop: availability SLO error budget burning fast",
    description: "",
    labels: &[("slo", "availability")],
};

/// The origin failing: a ticket.
pub(crate) const ORIGIN: Alert = Alert {
    fingerprint: "0000000000000002",
    name: "EdgewatchOriginErrors",
    kind: "origin_errors",
    severity: "ticket",
    summary: "shop: 7% of origin requests fail",
    description: "",
    labels: &[],
};

/// A probe failing: a page.
pub(crate) const PROBE: Alert = Alert {
    fingerprint: "p000000000000003",
    name: "EdgewatchProbeDown",
    kind: "probe_down",
    severity: "page",
    summary: "shop: probe home fails from 66.67% of its addresses",
    description: "",
    labels: &[("probe", "home")],
};

/// A certificate about to expire: a ticket, an incident of its own.
pub(crate) const CERTIFICATE: Alert = Alert {
    fingerprint: "c000000000000004",
    name: "EdgewatchCertificateExpiry",
    kind: "certificate_expiry",
    severity: "ticket",
    summary: "shop: the certificate of shop.example expires in 6 days",
    description: "",
    labels: &[("incident", "certificate")],
};

impl Alert {
    /// The same alert under another fingerprint.
    pub(crate) const fn with_fingerprint(self, fingerprint: &'static str) -> Self {
        Self { fingerprint, ..self }
    }

    /// A notification of it firing since 08:00.
    pub(crate) fn firing(&self) -> String {
        self.notification("2026-11-21T08:00:00Z", None)
    }

    /// A notification of it, started at 08:00, resolved at `ends`.
    pub(crate) fn resolved(&self, ends: &str) -> String {
        self.notification("2026-11-21T08:00:00Z", Some(ends))
    }

    /// A version 4 notification of this alert alone, started at `starts`,
    /// firing or (with `ends`) resolved, as Alertmanager sends it when it
    /// groups by alert name.
    pub(crate) fn notification(&self, starts: &str, ends: Option<&str>) -> String {
        let status = if ends.is_some() { "resolved" } else { "firing" };
        let mut labels = json!({
            "alertname": self.name, "customer": "shop", "severity": self.severity, "alert_kind": self.kind,
        });
        for (k, v) in self.labels {
            labels[*k] = json!(v);
        }
        let mut annotations = json!({"summary": self.summary});
        if !self.description.is_empty() {
            annotations["description"] = json!(self.description);
        }
        json!({
            "receiver": "edgewatch", "status": status, "version": "4",
            "groupKey": format!("{{}}:{{alertname=\"{}\"}}", self.name),
            "truncatedAlerts": 0, "groupLabels": {"alertname": self.name}, "commonLabels": labels,
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
            "alerts": [{
                "status": status, "labels": labels, "annotations": annotations,
                "startsAt": starts, "endsAt": ends.unwrap_or("0001-01-01T00:00:00Z"),
                "generatorURL": "http://prometheus:9090/graph", "fingerprint": self.fingerprint,
            }],
        })
        .to_string()
    }
}

/// The dedup key of [`incident`].
pub(crate) const DEDUP: &str = "edgewatch-0123456789abcdef01234567";

/// One alert of [`incident`].
pub(crate) fn alert(fingerprint: &str, status: Status) -> AlertState {
    AlertState {
        fingerprint: fingerprint.to_owned(),
        status,
        labels: BTreeMap::from([("alertname".to_owned(), "SLOFastBurn".to_owned())]),
        annotations: BTreeMap::new(),
        starts_at: "2026-11-21T07:12:11.828Z".to_owned(),
        ends_at: (status == Status::Resolved).then(|| "2026-11-21T07:40:00Z".to_owned()),
        generator_url: "http://prometheus:9090/graph?g0.expr=up".to_owned(),
    }
}

/// An incident of `acme` as a destination is given it: availability
/// burning fast, a page, one alert firing.
pub(crate) fn incident() -> Incident {
    Incident {
        id: 7,
        key: "acme/SLOFastBurn/availability".to_owned(),
        grouped_by: BTreeMap::new(),
        dedup: DEDUP.to_owned(),
        customer: Some("acme".to_owned()),
        alertname: "SLOFastBurn".to_owned(),
        severity: Some(Severity::Page),
        alert_kind: Some("fast_burn".to_owned()),
        slo: Some("availability".to_owned()),
        probe: None,
        status: Status::Firing,
        started_at: "2026-11-21T07:12:11.828Z".to_owned(),
        resolved_at: None,
        alerts: vec![alert("1a30ba71cca2921f", Status::Firing)],
        alertmanager_url: "http://alertmanager.example:9093".to_owned(),
        change: Change::default(),
        engaged: None,
        notified: None,
        last_sent: BTreeMap::new(),
    }
}

/// `i`, every alert of it ended.
pub(crate) fn resolved(mut i: Incident) -> Incident {
    i.status = Status::Resolved;
    i.resolved_at = Some("2026-11-21T07:40:00Z".to_owned());
    for a in &mut i.alerts {
        a.status = Status::Resolved;
    }
    i
}

/// The text rendered for [`incident`]: a title, a description of several
/// lines, a comment, dashboard and runbook links, and details.
pub(crate) fn message() -> Message {
    Message {
        title: "acme availability: error budget burning 14.4x".to_owned(),
        description: "Burn rate 14.4 over 1h and 5m.\nCustomer: acme (enterprise)\n\nSee the dashboard.".to_owned(),
        comment: "2 alerts firing.".to_owned(),
        links: vec![
            Link { text: "Dashboard".to_owned(), href: "https://grafana.example/d/edgewatch-acme".to_owned() },
            Link { text: "Runbook".to_owned(), href: "https://runbooks.example/alerts/burn_rate_fast".to_owned() },
        ],
        details: BTreeMap::from([
            ("customer".to_owned(), json!("acme")),
            ("tier".to_owned(), json!("gold")),
            ("burn_rate".to_owned(), json!(14.2)),
        ]),
        customer_title: "ACME: investigating errors on some requests".to_owned(),
        customer_body: "Since 2026-11-21 07:12 UTC, ACME is seeing errors on some requests.".to_owned(),
    }
}

/// One action for `incident`, as the deliverer hands it to `dest`.
pub(crate) async fn deliver(
    dest: &Destination,
    kind: ActionKind,
    incident: &Incident,
    message: &Message,
    external: Option<&str>,
    customer: Option<&edgewatch_catalog::Customer>,
) -> Result<Outcome, DeliveryError> {
    // Each call is an action of its own, as the deliverer's are.
    static ACTIONS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    let action = ACTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dest.deliver(&Delivery { kind, action, incident, message, external, customer, alertmanager_url: None }).await
}
