//! The live status: exporter targets up, lines ingested per second, alerts
//! pending and firing (from Prometheus), and the receiver's actions (from
//! its own metrics).

/// An HTTP client for loopback (reqwest is built without a crypto
/// provider; ring is the workspace's).
pub(crate) fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().unwrap_or_default()
}

/// Where the status comes from.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) client: reqwest::Client,
    /// Prometheus' base URL, when it runs.
    pub(crate) prometheus: Option<String>,
    /// The receiver's base URL.
    pub(crate) receiver: String,
}

impl Probe {
    async fn query(&self, base: &str, q: &str) -> Option<f64> {
        let resp = self.client.get(format!("{base}/api/v1/query")).query(&[("query", q)]).send().await.ok()?;
        let doc: serde_json::Value = resp.json().await.ok()?;
        let result = doc["data"]["result"].as_array()?;
        // No series: zero (a count of nothing).
        Some(result.first().and_then(|r| r["value"][1].as_str()?.parse().ok()).unwrap_or(0.0))
    }

    /// The receiver's metric `name` (summed over its series).
    fn metric(text: &str, name: &str) -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
            // An empty sum is -0.0; show 0.
            + 0.0
    }

    /// One line: what runs and what it does now.
    pub(crate) async fn read(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.prometheus {
            let up = self.query(p, r#"count(up{job="edgewatch-exporter"} == 1)"#).await;
            let lines = self.query(p, "sum(rate(edgewatch_exporter_lines_total[1m]))").await;
            // The pipeline's heartbeat always fires: it is no news.
            let firing = self.query(p, r#"count(ALERTS{alertstate="firing",alertname!="EdgewatchHeartbeat"})"#).await;
            // An alert that fired and ended between two lines (30 s apart
            // off a terminal) would not be seen otherwise.
            let fired = self
                .query(p, r#"count(max_over_time(ALERTS{alertstate="firing",alertname!="EdgewatchHeartbeat"}[15m]))"#)
                .await;
            let pending = self.query(p, r#"count(ALERTS{alertstate="pending"})"#).await;
            match (up, lines, firing, fired, pending) {
                (Some(up), Some(lines), Some(firing), Some(fired), Some(pending)) => parts.push(format!(
                    "exporter scraped: {}; {lines:.0} lines/s; alerts {firing:.0} firing ({fired:.0} in the last 15m), {pending:.0} pending",
                    if up >= 1.0 { "yes" } else { "no" }
                )),
                _ => parts.push("Prometheus: not answering yet".to_owned()),
            }
        }
        let metrics =
            async { self.client.get(format!("{}/metrics", self.receiver)).send().await.ok()?.text().await.ok() }.await;
        match metrics {
            Some(text) => {
                let delivered = |outcome: &str| {
                    text.lines()
                        .filter(|l| {
                            l.starts_with("edgewatch_receiver_actions_total{")
                                && l.contains(&format!("outcome=\"{outcome}\""))
                        })
                        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                        .sum::<f64>()
                        + 0.0
                };
                parts.push(format!(
                    "receiver: {:.0} notifications, {:.0} incidents open, {:.0} actions delivered, {:.0} pending, {:.0} dead",
                    Self::metric(&text, "edgewatch_receiver_notifications_total"),
                    Self::metric(&text, "edgewatch_receiver_incidents_open"),
                    delivered("delivered"),
                    Self::metric(&text, "edgewatch_receiver_outbox_pending"),
                    Self::metric(&text, "edgewatch_receiver_dead_letters"),
                ));
            }
            None => parts.push("receiver: not answering".to_owned()),
        }
        parts.join(" · ")
    }
}
