//! A customer's top offenders, read from every exporter's `/api/v1/top`
//! (docs/exporter.md) and merged with their error bounds: behind a load
//! balancer each exporter saw part of the traffic, so a value's count is
//! the sum of the parts, and a value one exporter did not list is charged
//! that exporter's `unlisted` bound (at most that much there, at least 0).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

/// What a request is counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Ip,
    Asn,
    Country,
    Path,
    UserAgent,
}

impl Dimension {
    /// Every dimension, in the order tickets show them.
    pub const ALL: [Self; 5] = [Self::Ip, Self::Asn, Self::Country, Self::Path, Self::UserAgent];

    /// The exporter's name for it (`by=`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Asn => "asn",
            Self::Country => "country",
            Self::Path => "path",
            Self::UserAgent => "user_agent",
        }
    }

    /// How people call it.
    pub const fn title(self) -> &'static str {
        match self {
            Self::Ip => "IP address",
            Self::Asn => "AS number",
            Self::Country => "country",
            Self::Path => "path",
            Self::UserAgent => "user agent",
        }
    }
}

/// A count known within bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounded {
    /// At least this many.
    pub low: u64,
    /// At most this many.
    pub high: u64,
}

/// One value along a dimension: its requests, and its mitigated or failed ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Key {
    pub value: String,
    /// Among all the customer's requests.
    pub requests: Bounded,
    /// Among its blocked, challenged or failed requests.
    pub offending: Bounded,
}

/// A customer's top values over the exporters' window, merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Offenders {
    /// The window the exporters count over, in seconds.
    pub window_seconds: u64,
    /// The customer's requests in the window.
    pub requests: u64,
    /// Its blocked, challenged or failed requests.
    pub offending: u64,
    /// Per dimension, the values any exporter listed, heaviest offending first.
    pub by: BTreeMap<Dimension, Vec<Key>>,
    /// Exporters that answered.
    pub answered: usize,
    /// Exporters that did not, each with why.
    pub missing: Vec<String>,
}

/// Why no exporter's offenders could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OffendersError {
    /// No exporter is configured (`exporters:` in receiver.yml).
    #[error("no exporters are configured (`exporters.urls` in receiver.yml)")]
    NoExporters,
    /// None answered.
    #[error("no exporter answered: {}", .0.join("; "))]
    NoAnswer(Vec<String>),
}

/// One exporter's answer about one set and dimension (the wire format).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Answer {
    pub(crate) window_seconds: u64,
    pub(crate) total: u64,
    /// Older exporters do not say: a value they did not list is charged 0
    /// as its upper bound then, which is what they promised (nothing).
    #[serde(default)]
    pub(crate) unlisted: u64,
    pub(crate) top: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Entry {
    pub(crate) value: String,
    pub(crate) count: u64,
    pub(crate) error: u64,
}

/// The two sets an exporter counts.
const SETS: [&str; 2] = ["offending", "requests"];

/// How many values each exporter lists per set and dimension.
const LISTED: usize = 20;

/// Merges several exporters' answers about one set and dimension: per
/// value, the bounds, and the total.
pub(crate) fn merge(answers: &[Answer]) -> (u64, BTreeMap<String, Bounded>) {
    let total = answers.iter().map(|a| a.total).sum();
    let mut values: BTreeMap<String, Bounded> = BTreeMap::new();
    for a in answers {
        for e in &a.top {
            values.entry(e.value.clone()).or_default();
        }
    }
    for (value, b) in &mut values {
        for a in answers {
            match a.top.iter().find(|e| &e.value == value) {
                Some(e) => {
                    b.low += e.count.saturating_sub(e.error);
                    b.high += e.count;
                }
                None => b.high += a.unlisted,
            }
        }
    }
    (total, values)
}

/// The exporters to ask.
#[derive(Debug, Clone)]
pub(crate) struct Exporters {
    client: reqwest::Client,
    urls: Vec<String>,
    timeout: Duration,
}

impl Exporters {
    pub(crate) fn new(client: reqwest::Client, urls: &[String], timeout: Duration) -> Self {
        let urls = urls.iter().map(|u| u.trim_end_matches('/').to_owned()).collect();
        Self { client, urls, timeout }
    }

    /// The customer's offenders from every exporter, within the timeout.
    pub(crate) async fn read(&self, customer: &str) -> Result<Offenders, OffendersError> {
        if self.urls.is_empty() {
            return Err(OffendersError::NoExporters);
        }
        let mut tasks = JoinSet::new();
        for url in &self.urls {
            let (client, url, customer, timeout) =
                (self.client.clone(), url.clone(), customer.to_owned(), self.timeout);
            tasks.spawn(async move {
                let got = tokio::time::timeout(timeout, ask(&client, &url, &customer)).await;
                let got = got.unwrap_or_else(|_| Err(format!("no answer within {}s", timeout.as_secs_f64())));
                (url, got)
            });
        }
        let mut answered = Vec::new();
        let mut missing = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((_, Ok(sets))) => answered.push(sets),
                Ok((url, Err(why))) => missing.push(format!("{url}: {why}")),
                Err(e) => missing.push(format!("a request task failed: {e}")),
            }
        }
        missing.sort();
        if answered.is_empty() {
            return Err(OffendersError::NoAnswer(missing));
        }
        Ok(combine(&answered, missing))
    }
}

/// One exporter's answers: per set (offending, requests), per dimension.
type Sets = [Vec<Answer>; 2];

/// Every set and dimension from one exporter, or why not.
async fn ask(client: &reqwest::Client, url: &str, customer: &str) -> Result<Sets, String> {
    let mut sets: Sets = [Vec::new(), Vec::new()];
    for (s, set) in SETS.iter().enumerate() {
        for d in Dimension::ALL {
            let n = LISTED.to_string();
            let query = [("customer", customer), ("by", d.as_str()), ("n", n.as_str()), ("of", set)];
            let resp = client
                .get(format!("{url}/api/v1/top"))
                .query(&query)
                .send()
                .await
                .map_err(crate::dest::http::describe)?;
            let status = resp.status();
            if !status.is_success() {
                let body = resp.text().await.unwrap_or_default();
                return Err(format!("{status}: {}", body.chars().take(200).collect::<String>().trim()));
            }
            let answer: Answer =
                resp.json().await.map_err(|e| format!("an answer that does not decode: {}", e.without_url()))?;
            sets[s].push(answer);
        }
    }
    Ok(sets)
}

/// The exporters' answers, merged per set and dimension.
fn combine(exporters: &[Sets], missing: Vec<String>) -> Offenders {
    let window_seconds = exporters.iter().filter_map(|s| s[0].first()).map(|a| a.window_seconds).max().unwrap_or(0);
    let mut by = BTreeMap::new();
    let (mut requests, mut offending) = (0, 0);
    for (i, d) in Dimension::ALL.into_iter().enumerate() {
        let of = |set: usize| exporters.iter().filter_map(|s| s[set].get(i).cloned()).collect::<Vec<_>>();
        let (off_total, off) = merge(&of(0));
        let (req_total, req) = merge(&of(1));
        if i == 0 {
            (offending, requests) = (off_total, req_total);
        }
        let mut keys: Vec<Key> = off
            .keys()
            .chain(req.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|v| Key {
                value: v.clone(),
                requests: req.get(v).copied().unwrap_or_else(|| unlisted(exporters, 1, i)),
                offending: off.get(v).copied().unwrap_or_else(|| unlisted(exporters, 0, i)),
            })
            .collect();
        keys.sort_by(|a, b| {
            b.offending
                .high
                .cmp(&a.offending.high)
                .then(b.requests.high.cmp(&a.requests.high))
                .then(a.value.cmp(&b.value))
        });
        by.insert(d, keys);
    }
    Offenders { window_seconds, requests, offending, by, answered: exporters.len(), missing }
}

/// The bounds of a value no exporter listed in `set` along dimension `i`.
fn unlisted(exporters: &[Sets], set: usize, i: usize) -> Bounded {
    Bounded { low: 0, high: exporters.iter().filter_map(|s| s[set].get(i)).map(|a| a.unlisted).sum() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(total: u64, unlisted: u64, top: &[(&str, u64, u64)]) -> Answer {
        Answer {
            window_seconds: 300,
            total,
            unlisted,
            top: top.iter().map(|(v, c, e)| Entry { value: (*v).to_owned(), count: *c, error: *e }).collect(),
        }
    }

    #[test]
    fn a_value_one_exporter_did_not_list_is_charged_its_unlisted_bound() {
        let a = answer(100, 5, &[("192.0.2.1", 60, 0), ("192.0.2.2", 20, 2)]);
        let b = answer(50, 3, &[("192.0.2.1", 30, 1)]);
        let (total, merged) = merge(&[a, b]);
        assert_eq!(total, 150);
        assert_eq!(merged["192.0.2.1"], Bounded { low: 89, high: 90 });
        assert_eq!(merged["192.0.2.2"], Bounded { low: 18, high: 23 }, "b did not list it: 0 to 3 there");
    }

    proptest::proptest! {
        /// Whatever the split of a stream between exporters, each merged
        /// value's bounds hold its true count, when each exporter's
        /// answer holds its part (as the exporter's summaries guarantee).
        #[test]
        fn merged_bounds_hold_the_truth(
            parts in proptest::collection::vec(proptest::collection::vec((0u8..6, 1u64..50), 0..30), 1..4),
            listed in 0usize..6,
        ) {
            let mut truth: BTreeMap<String, u64> = BTreeMap::new();
            let mut answers = Vec::new();
            for part in &parts {
                let mut counts: BTreeMap<String, u64> = BTreeMap::new();
                for (k, w) in part {
                    *counts.entry(format!("k{k}")).or_default() += w;
                    *truth.entry(format!("k{k}")).or_default() += w;
                }
                let mut sorted: Vec<_> = counts.into_iter().collect();
                sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let unlisted = sorted.get(listed).map_or(0, |e| e.1);
                let top: Vec<_> = sorted.iter().take(listed).map(|(k, c)| (k.as_str(), *c, 0)).collect();
                answers.push(answer(part.iter().map(|p| p.1).sum(), unlisted, &top));
            }
            let (total, merged) = merge(&answers);
            proptest::prop_assert_eq!(total, truth.values().sum::<u64>());
            for (k, b) in merged {
                let t = truth[&k];
                proptest::prop_assert!(b.low <= t && t <= b.high, "{k}: {t} outside {b:?}");
            }
        }
    }
}
