//! Live values from Prometheus for a ticket or a page: the SLI now, the
//! status mix, latency percentiles. Bounded by a short timeout: when
//! Prometheus is slow or down the action goes without them.

use std::collections::BTreeMap;
use std::time::Duration;

use edgewatch_catalog::names::{label, metric, recorded};
use serde::Deserialize;

use crate::action::Incident;

/// A Prometheus to ask.
#[derive(Debug, Clone)]
pub(crate) struct Prometheus {
    client: reqwest::Client,
    base: String,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Answer {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Sample>,
}

#[derive(Deserialize)]
struct Sample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

impl Prometheus {
    /// Prometheus at `base`, waited for at most `timeout` per action.
    pub(crate) fn new(client: reqwest::Client, base: &str, timeout: Duration) -> Self {
        Self { client, base: base.trim_end_matches('/').to_owned(), timeout }
    }

    async fn query(&self, q: &str) -> Option<Vec<Sample>> {
        let resp = self.client.get(format!("{}/api/v1/query", self.base)).query(&[("query", q)]).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        Some(resp.json::<Answer>().await.ok()?.data.result)
    }

    /// Named values for the incident, as text; empty when Prometheus does
    /// not answer in time.
    pub(crate) async fn values(&self, i: &Incident) -> BTreeMap<String, String> {
        let Some(customer) = &i.customer else { return BTreeMap::new() };
        let c = format!("{}=\"{customer}\"", label::CUSTOMER);
        let slo = i.slo.as_ref().map(|s| format!("{c},{}=\"{s}\"", label::SLO));
        let status = format!("sum by ({}) (rate({}{{{c}}}[5m]))", label::STATUS_CLASS, metric::REQUESTS_TOTAL);
        let p95 =
            format!("histogram_quantile(0.95, sum by (le) (rate({}_bucket{{{c}}}[5m])))", metric::EDGE_TTFB_SECONDS);
        let all = async {
            let sli = async {
                match &slo {
                    Some(sel) => self.query(&format!("1 - {}{{{sel}}}", recorded::sli_error_ratio("1h"))).await,
                    None => None,
                }
            };
            let burn = async {
                match &slo {
                    Some(sel) => self.query(&format!("{}{{{sel}}}", recorded::burn_rate("1h"))).await,
                    None => None,
                }
            };
            tokio::join!(sli, burn, self.query(&status), self.query(&p95))
        };
        let Ok((sli, burn, status, p95)) = tokio::time::timeout(self.timeout, all).await else {
            tracing::info!(incident = %i.key, "Prometheus did not answer in time; delivering without live values");
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        let first =
            |v: Option<Vec<Sample>>| v.and_then(|s| s.into_iter().next()).and_then(|s| s.value.1.parse::<f64>().ok());
        if let Some(v) = first(sli).filter(|v| v.is_finite()) {
            out.insert("SLI over the last hour".to_owned(), format!("{:.3}%", v * 100.0));
        }
        if let Some(v) = first(burn).filter(|v| v.is_finite()) {
            out.insert("Burn rate over the last hour".to_owned(), format!("{v:.1}x"));
        }
        if let Some(mut samples) = status.filter(|s| !s.is_empty()) {
            samples.sort_by(|a, b| a.metric.get(label::STATUS_CLASS).cmp(&b.metric.get(label::STATUS_CLASS)));
            let text: Vec<String> = samples
                .iter()
                .filter_map(|s| {
                    Some(format!("{} {:.1}/s", s.metric.get(label::STATUS_CLASS)?, s.value.1.parse::<f64>().ok()?))
                })
                .collect();
            out.insert("Requests by status (5m)".to_owned(), text.join(", "));
        }
        if let Some(v) = first(p95).filter(|v| v.is_finite()) {
            out.insert("Edge time to first byte, p95 (5m)".to_owned(), format!("{:.0} ms", v * 1000.0));
        }
        out
    }
}
