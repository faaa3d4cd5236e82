//! Alertmanager routing and Prometheus scrape fragments, as typed structs.
//!
//! Every alert goes to the edgewatch receiver, which routes it to Jira,
//! PagerDuty and the rest from the catalog; Alertmanager groups, times and
//! inhibits. Routes are per customer and severity, so a customer's timing
//! can be tuned without touching the others.

use serde::Serialize;

use edgewatch_catalog::Catalog;
use edgewatch_catalog::names::{AlertKind, Severity, label};

/// Where Alertmanager sends notifications, and how Prometheus finds the
/// exporters.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The receiver's webhook URL.
    pub receiver_url: String,
    /// The exporters' `host:port` addresses.
    pub exporter_targets: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Config {
    pub(crate) route: Route,
    pub(crate) receivers: Vec<Receiver>,
    pub(crate) inhibit_rules: Vec<Inhibit>,
}

/// The part an existing configuration takes: routes and inhibit rules.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Fragment {
    pub(crate) routes: Vec<Route>,
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) routes: Vec<Route>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Receiver {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) webhook_configs: Vec<Webhook>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Webhook {
    pub(crate) url: String,
    pub(crate) send_resolved: bool,
    /// 0: all alerts of a group in one notification.
    pub(crate) max_alerts: u32,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Inhibit {
    pub(crate) source_matchers: Vec<String>,
    pub(crate) target_matchers: Vec<String>,
    pub(crate) equal: Vec<String>,
}

pub(crate) const RECEIVER: &str = "edgewatch";

/// Timing per severity: pages wake people quickly and repeat often; tickets
/// and info gather longer and repeat daily.
fn timing(s: Severity) -> (&'static str, &'static str, &'static str) {
    match s {
        Severity::Page => ("30s", "5m", "4h"),
        Severity::Ticket => ("5m", "30m", "24h"),
        Severity::Info => ("10m", "1h", "7d"),
    }
}

fn matcher(k: &str, v: &str) -> String {
    format!("{k}=\"{v}\"")
}

pub(crate) fn routes(catalog: &Catalog) -> Vec<Route> {
    let mut routes = Vec::new();
    for c in &catalog.customers {
        for s in Severity::ALL {
            let (wait, interval, repeat) = timing(*s);
            routes.push(Route {
                receiver: Some(RECEIVER.to_owned()),
                matchers: vec![matcher(label::CUSTOMER, c.id.as_str()), matcher(label::SEVERITY, s.as_str())],
                group_wait: Some(wait.to_owned()),
                group_interval: Some(interval.to_owned()),
                repeat_interval: Some(repeat.to_owned()),
                ..Route::default()
            });
        }
    }
    routes
}

pub(crate) fn inhibit_rules() -> Vec<Inhibit> {
    vec![
        // The page says it already; a ticket for the same trouble is noise.
        Inhibit {
            source_matchers: vec![matcher(label::SEVERITY, Severity::Page.as_str())],
            target_matchers: vec![matcher(label::SEVERITY, Severity::Ticket.as_str())],
            equal: vec![label::CUSTOMER.to_owned(), label::SLO.to_owned()],
        },
        // A site that does not answer is slow too; the probe alert is the news.
        Inhibit {
            source_matchers: vec![matcher(label::ALERT_KIND, AlertKind::ProbeDown.as_str())],
            target_matchers: vec!["slo_kind=\"latency\"".to_owned()],
            equal: vec![label::CUSTOMER.to_owned()],
        },
    ]
}

/// `group_by` that keeps customers (and SLOs) apart: one notification never
/// mixes two customers.
pub(crate) fn group_by() -> Vec<String> {
    vec!["alertname".to_owned(), label::CUSTOMER.to_owned(), label::SLO.to_owned(), label::SEVERITY.to_owned()]
}

pub(crate) fn config(catalog: &Catalog, d: &Delivery) -> Config {
    Config {
        route: Route {
            receiver: Some(RECEIVER.to_owned()),
            group_by: group_by(),
            group_wait: Some("30s".to_owned()),
            group_interval: Some("5m".to_owned()),
            repeat_interval: Some("4h".to_owned()),
            routes: routes(catalog),
            ..Route::default()
        },
        receivers: vec![Receiver {
            name: RECEIVER.to_owned(),
            webhook_configs: vec![Webhook { url: d.receiver_url.clone(), send_resolved: true, max_alerts: 0 }],
        }],
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
    pub(crate) static_configs: Vec<StaticConfig>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct StaticConfig {
    pub(crate) targets: Vec<String>,
}

pub(crate) fn scrape(d: &Delivery, interval: &str) -> ScrapeFragment {
    ScrapeFragment {
        scrape_configs: vec![ScrapeConfig {
            job_name: "edgewatch-exporter".to_owned(),
            scrape_interval: interval.to_owned(),
            static_configs: vec![StaticConfig { targets: d.exporter_targets.clone() }],
        }],
    }
}
