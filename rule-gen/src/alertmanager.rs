//! Alertmanager routing and Prometheus scrape fragments, as typed structs.
//!
//! Every alert goes to the edgewatch receiver, which keys incidents by
//! `customer` (and `incident`), so one customer's outage is one incident
//! whatever fires for it, and routes them to Jira, PagerDuty and the rest
//! from the catalog. Alertmanager groups the same way (one group per
//! customer and severity), times each severity, and inhibits only what is
//! not news: customers' no-data while the exporter itself is down, a
//! traffic drop while the customer's no-data alert says more. The routes
//! are per severity, so they do not grow with the catalog.

use serde::Serialize;

use edgewatch_catalog::names::{AlertKind, Severity, label};

/// Where Alertmanager sends notifications, and how Prometheus finds the
/// exporters.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The receiver's webhook URL.
    pub receiver_url: String,
    /// The exporters' `host:port` addresses.
    pub exporter_targets: Vec<String>,
    /// The scrape job that scrapes them: the exporter-down and no-data
    /// alerts read its `up` ([`DEFAULT_EXPORTER_JOB`] unless your own
    /// scrape configuration names it otherwise).
    pub exporter_job: String,
    /// A file holding the receiver's bearer token, for Alertmanager's
    /// `http_config.authorization.credentials_file`; `None`: no auth.
    pub receiver_credentials_file: Option<String>,
    /// Alertmanager's URL, for Prometheus' `alerting` section and the
    /// scrape of Alertmanager's own metrics.
    pub alertmanager_url: String,
    /// Alertmanager's own PagerDuty notifier for pages about edgewatch
    /// itself (the receiver down, Alertmanager's webhooks failing), which
    /// must reach a human when the receiver cannot; `None`: no such route.
    pub fallback_pagerduty: Option<FallbackPagerDuty>,
    /// A dead man's switch's webhook URL that gets the always-firing
    /// heartbeat; `None`: the heartbeat goes to a receiver without
    /// notifiers (never to the edgewatch receiver).
    pub heartbeat_url: Option<String>,
    /// Prometheus' own URL: the example configuration scrapes it (its rule
    /// evaluation times, on the health dashboard); `None`: it does not.
    pub prometheus_url: Option<String>,
}

/// PagerDuty, straight from Alertmanager.
#[derive(Debug, Clone)]
pub struct FallbackPagerDuty {
    /// The file holding the Events API v2 routing key (`routing_key_file`).
    pub routing_key_file: String,
    /// The Events API URL, when not PagerDuty's own.
    pub url: Option<String>,
}

/// The scrape job `prometheus/scrape-edgewatch.yml` names by default.
pub const DEFAULT_EXPORTER_JOB: &str = "edgewatch-exporter";

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Config {
    pub(crate) route: Route,
    pub(crate) receivers: Vec<Receiver>,
    pub(crate) inhibit_rules: Vec<Inhibit>,
}

/// The part an existing configuration takes: routes, the receivers of
/// the heartbeat and the fallback (the `edgewatch` receiver is yours to
/// define), and inhibit rules.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Fragment {
    pub(crate) routes: Vec<Route>,
    pub(crate) receivers: Vec<Receiver>,
    pub(crate) inhibit_rules: Vec<Inhibit>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Route {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) receiver: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) matchers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) group_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group_wait: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) repeat_interval: Option<String>,
    /// Go on to the next routes after this one matched.
    #[serde(rename = "continue", skip_serializing_if = "std::ops::Not::not")]
    pub(crate) continue_: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) routes: Vec<Route>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Receiver {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) webhook_configs: Vec<Webhook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) pagerduty_configs: Vec<PagerDutyConfig>,
}

/// Alertmanager's built-in PagerDuty notifier.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PagerDutyConfig {
    pub(crate) routing_key_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
    pub(crate) send_resolved: bool,
    pub(crate) severity: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Webhook {
    pub(crate) url: String,
    pub(crate) send_resolved: bool,
    /// 0: all alerts of a group in one notification.
    pub(crate) max_alerts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) http_config: Option<HttpConfig>,
}

/// Alertmanager's HTTP client settings: the receiver's bearer token.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HttpConfig {
    pub(crate) authorization: Authorization,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Authorization {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) credentials_file: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Inhibit {
    pub(crate) source_matchers: Vec<String>,
    pub(crate) target_matchers: Vec<String>,
    pub(crate) equal: Vec<String>,
}

pub(crate) const RECEIVER: &str = "edgewatch";
/// The receiver of the heartbeat: a dead man's switch, or nothing.
const HEARTBEAT: &str = "edgewatch-heartbeat";
/// The receiver of the pages about edgewatch itself, past the receiver.
const FALLBACK: &str = "edgewatch-fallback";

/// Timing per severity (group wait, group interval, repeat). A page waits
/// 5s for what fires with it; every severity's changes, resolutions
/// included, go out within a minute, so an incident resolves minutes after
/// its last alert (the receiver ignores repeats).
fn timing(s: Severity) -> (&'static str, &'static str, &'static str) {
    match s {
        Severity::Page => ("5s", "1m", "4h"),
        Severity::Ticket => ("30s", "1m", "24h"),
        Severity::Info => ("1m", "1m", "4d"),
    }
}

fn matcher(k: &str, v: &str) -> String {
    format!("{k}=\"{v}\"")
}

/// The routes: the heartbeat's first (it never reaches the receiver);
/// then, when configured, edgewatch's own pages to Alertmanager's PagerDuty
/// notifier (and on to the receiver, which may be up); then one per
/// severity to the receiver.
pub(crate) fn routes(d: &Delivery) -> Vec<Route> {
    let mut routes = vec![Route {
        receiver: Some(HEARTBEAT.to_owned()),
        matchers: vec![matcher("alertname", crate::pipeline::HEARTBEAT)],
        group_by: vec!["alertname".to_owned()],
        group_wait: Some("0s".to_owned()),
        group_interval: Some("1m".to_owned()),
        repeat_interval: Some("1m".to_owned()),
        ..Route::default()
    }];
    if d.fallback_pagerduty.is_some() {
        let (wait, interval, repeat) = timing(Severity::Page);
        routes.push(Route {
            receiver: Some(FALLBACK.to_owned()),
            matchers: vec![
                format!("component=~\"{}\"", crate::pipeline::FALLBACK_COMPONENTS),
                matcher(label::SEVERITY, Severity::Page.as_str()),
            ],
            group_by: vec!["alertname".to_owned()],
            group_wait: Some(wait.to_owned()),
            group_interval: Some(interval.to_owned()),
            repeat_interval: Some(repeat.to_owned()),
            continue_: true,
            ..Route::default()
        });
    }
    routes.extend(Severity::ALL.iter().map(|s| {
        let (wait, interval, repeat) = timing(*s);
        Route {
            receiver: Some(RECEIVER.to_owned()),
            matchers: vec![matcher(label::SEVERITY, s.as_str())],
            group_wait: Some(wait.to_owned()),
            group_interval: Some(interval.to_owned()),
            repeat_interval: Some(repeat.to_owned()),
            ..Route::default()
        }
    }));
    routes
}

/// The heartbeat's and the fallback's receivers, as `d` configures them.
pub(crate) fn own_receivers(d: &Delivery) -> Vec<Receiver> {
    let heartbeat = Receiver {
        name: HEARTBEAT.to_owned(),
        webhook_configs: d
            .heartbeat_url
            .iter()
            .map(|url| Webhook { url: url.clone(), send_resolved: false, max_alerts: 0, http_config: None })
            .collect(),
        ..Receiver::default()
    };
    let fallback = d.fallback_pagerduty.as_ref().map(|f| Receiver {
        name: FALLBACK.to_owned(),
        pagerduty_configs: vec![PagerDutyConfig {
            routing_key_file: f.routing_key_file.clone(),
            url: f.url.clone(),
            send_resolved: true,
            severity: "critical",
        }],
        ..Receiver::default()
    });
    std::iter::once(heartbeat).chain(fallback).collect()
}

pub(crate) fn inhibit_rules() -> Vec<Inhibit> {
    vec![
        // The exporter down says it all: every customer's no-data and
        // traffic anomaly then are its echo.
        Inhibit {
            source_matchers: vec![matcher("alertname", "EdgewatchExporterDown")],
            target_matchers: vec![format!(
                "{}=~\"{}|{}\"",
                label::ALERT_KIND,
                AlertKind::NoData.as_str(),
                AlertKind::TrafficAnomaly.as_str()
            )],
            equal: Vec::new(),
        },
        // No requests at all is the news; a drop against last week is its echo.
        Inhibit {
            source_matchers: vec![matcher("alertname", "EdgewatchNoData")],
            target_matchers: vec![matcher("alertname", "EdgewatchTrafficDrop")],
            equal: vec![label::CUSTOMER.to_owned()],
        },
    ]
}

/// `group_by` as the receiver keys incidents: one notification never mixes
/// two customers, and carries all of one customer's alerts of a severity.
pub(crate) fn group_by() -> Vec<String> {
    vec![label::CUSTOMER.to_owned(), label::INCIDENT.to_owned()]
}

pub(crate) fn config(d: &Delivery) -> Config {
    let (wait, interval, repeat) = timing(Severity::Ticket);
    Config {
        route: Route {
            receiver: Some(RECEIVER.to_owned()),
            group_by: group_by(),
            group_wait: Some(wait.to_owned()),
            group_interval: Some(interval.to_owned()),
            repeat_interval: Some(repeat.to_owned()),
            routes: routes(d),
            ..Route::default()
        },
        receivers: std::iter::once(Receiver {
            name: RECEIVER.to_owned(),
            webhook_configs: vec![Webhook {
                url: d.receiver_url.clone(),
                send_resolved: true,
                max_alerts: 0,
                http_config: d.receiver_credentials_file.clone().map(|credentials_file| HttpConfig {
                    authorization: Authorization { kind: "Bearer", credentials_file },
                }),
            }],
            ..Receiver::default()
        })
        .chain(own_receivers(d))
        .collect(),
        inhibit_rules: inhibit_rules(),
    }
}

/// A Prometheus `scrape_configs` fragment for the exporters.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScrapeFragment {
    pub(crate) scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScrapeConfig {
    pub(crate) job_name: String,
    pub(crate) scrape_interval: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metrics_path: Option<String>,
    pub(crate) static_configs: Vec<StaticConfig>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct StaticConfig {
    pub(crate) targets: Vec<String>,
}

/// A complete Prometheus configuration around the scrape job: the rule
/// files beside it, and alerting to Alertmanager.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PrometheusConfig {
    pub(crate) global: Global,
    pub(crate) rule_files: Vec<String>,
    pub(crate) alerting: Alerting,
    pub(crate) scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Global {
    pub(crate) scrape_interval: String,
    pub(crate) evaluation_interval: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Alerting {
    pub(crate) alertmanagers: Vec<AlertmanagerConfig>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct AlertmanagerConfig {
    pub(crate) scheme: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) path_prefix: Option<String>,
    pub(crate) static_configs: Vec<StaticConfig>,
}

/// `prometheus/prometheus.example.yml`: the rule files are relative to it
/// (Prometheus resolves them from the configuration's folder).
pub(crate) fn prometheus(d: &Delivery, interval: &str) -> PrometheusConfig {
    let am = url::Url::parse(&d.alertmanager_url).ok();
    let scheme = am.as_ref().map_or("http", url::Url::scheme).to_owned();
    let target = am
        .as_ref()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| "localhost:9093".to_owned());
    let path_prefix = am.as_ref().map(|u| u.path().trim_end_matches('/').to_owned()).filter(|p| !p.is_empty());
    let mut scrape_configs = scrape(d, interval).scrape_configs;
    scrape_configs.extend(d.prometheus_url.as_deref().and_then(|u| job_for("prometheus", u, interval, true)));
    PrometheusConfig {
        global: Global { scrape_interval: interval.to_owned(), evaluation_interval: interval.to_owned() },
        rule_files: vec![
            "../rules/*.yml".to_owned(),
            "../rules/customers/*.yml".to_owned(),
            "../rules/profiles/*.yml".to_owned(),
        ],
        alerting: Alerting {
            alertmanagers: vec![AlertmanagerConfig {
                scheme,
                path_prefix,
                static_configs: vec![StaticConfig { targets: vec![target] }],
            }],
        },
        scrape_configs,
    }
}

/// A scrape job for the server at `url`: its host and port, and, when
/// `prefixed`, its path as the prefix of `/metrics`.
fn job_for(job: &str, url: &str, interval: &str, prefixed: bool) -> Option<ScrapeConfig> {
    let u = url::Url::parse(url).ok()?;
    let target = format!("{}:{}", u.host_str()?, u.port_or_known_default()?);
    let prefix = u.path().trim_end_matches('/');
    Some(ScrapeConfig {
        job_name: job.to_owned(),
        scrape_interval: interval.to_owned(),
        scheme: (u.scheme() == "https").then(|| "https".to_owned()),
        metrics_path: (prefixed && !prefix.is_empty()).then(|| format!("{prefix}/metrics")),
        static_configs: vec![StaticConfig { targets: vec![target] }],
    })
}

/// The exporters' job, the receiver's (its `/metrics`, on the host and port
/// of its webhook URL) and Alertmanager's, which the pipeline alerts read.
pub(crate) fn scrape(d: &Delivery, interval: &str) -> ScrapeFragment {
    let mut scrape_configs = vec![ScrapeConfig {
        job_name: d.exporter_job.clone(),
        scrape_interval: interval.to_owned(),
        scheme: None,
        metrics_path: None,
        static_configs: vec![StaticConfig { targets: d.exporter_targets.clone() }],
    }];
    // The receiver's `/metrics` is beside its webhook, at its root.
    scrape_configs.extend(job_for(crate::pipeline::RECEIVER_JOB, &d.receiver_url, interval, false));
    // Alertmanager's own metrics: whether its webhooks fail.
    scrape_configs.extend(job_for(crate::pipeline::ALERTMANAGER_JOB, &d.alertmanager_url, interval, true));
    ScrapeFragment { scrape_configs }
}
