//! A client of Prometheus' HTTP query API (`/api/v1/query` and
//! `/api/v1/query_range`), which Thanos and Mimir serve too: give the URL
//! up to the `/api/v1` part (Mimir: `http://mimir/prometheus`). Queries go
//! as POST forms, so a selector naming a thousand customers fits.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;

/// What went wrong talking to Prometheus.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// Not a URL.
    #[error("`{0}` is not a Prometheus URL (give http://host:9090, or Mimir's http://host/prometheus)")]
    Url(String),
    /// No connection, or no answer in time.
    #[error("Prometheus at {url} is unreachable: {source}")]
    Unreachable {
        /// The Prometheus URL, its password masked.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not the API's success.
    #[error("Prometheus at {url} answered {status}: {message} (query: {query})")]
    Answer {
        /// The Prometheus URL, its password masked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The API's `errorType: error`, or the start of the body.
        message: String,
        /// The query sent, cut to 300 characters.
        query: String,
    },
}

/// One series of an instant query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels (`__name__` included when the query kept it).
    pub labels: BTreeMap<String, String>,
    /// The value at the query's time, possibly NaN or infinite.
    pub value: f64,
}

/// One series of a range query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels (`__name__` included when the query kept it).
    pub labels: BTreeMap<String, String>,
    /// `(unix milliseconds, value)` at each step that had a value.
    pub values: Vec<(i64, f64)>,
}

/// A Prometheus HTTP API endpoint.
#[derive(Clone)]
pub struct Prometheus {
    base: url::Url,
    /// `base` with any password masked: what messages show.
    shown: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus").field("url", &self.shown).finish_non_exhaustive()
    }
}

/// `url` with the password of its user info masked, so that messages
/// never hold it (textual, so a URL that does not parse is masked too).
fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        // Not a URL as Prometheus's are written: keep nothing before an `@`.
        return url.rfind('@').map_or_else(|| url.to_owned(), |at| format!("***{}", &url[at..]));
    };
    let authority_end = url[scheme_end..].find(['/', '?', '#']).map_or(url.len(), |i| scheme_end + i);
    let Some(at) = url[scheme_end..authority_end].rfind('@').map(|i| scheme_end + i) else { return url.to_owned() };
    match url[scheme_end..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..scheme_end + colon], &url[at..]),
        None => url.to_owned(),
    }
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorItem {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixItem {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// Seconds with milliseconds, as the API takes times and steps.
pub(crate) fn api_time(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn parse_value(s: &str) -> f64 {
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or(f64::NAN),
    }
}

impl Prometheus {
    /// A client of the API under `url`; each request may take `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, PromError> {
        let shown = mask_password(url);
        let mut base = url::Url::parse(url).map_err(|_| PromError::Url(shown.clone()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(PromError::Url(shown));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("edgewatch-report/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| PromError::Unreachable { url: shown.clone(), source })?;
        let shown = mask_password(base.as_str());
        Ok(Self { base, shown, client })
    }

    /// The base URL, for messages: any password masked.
    pub fn url(&self) -> &str {
        &self.shown
    }

    async fn call(&self, path: &str, form: &[(&str, String)]) -> Result<Data, PromError> {
        let query = form.first().map(|(_, q)| q.clone()).unwrap_or_default();
        let url = self.base.join(path).map_err(|_| PromError::Url(self.shown.clone()))?;
        let answer = self
            .client
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|source| PromError::Unreachable { url: self.shown.clone(), source: source.without_url() })?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|source| PromError::Unreachable { url: self.shown.clone(), source: source.without_url() })?;
        let short = |q: &str| match q.char_indices().nth(300) {
            Some((cut, _)) => format!("{}…", &q[..cut]),
            None => q.to_owned(),
        };
        let fail = |message: String| PromError::Answer {
            url: self.shown.clone(),
            status: status.as_u16(),
            message,
            query: short(&query),
        };
        let envelope: Envelope = serde_json::from_slice(&body).map_err(|_| {
            let text = String::from_utf8_lossy(&body);
            fail(format!("not the query API's JSON: {}", short(text.trim())))
        })?;
        for w in &envelope.warnings {
            tracing::warn!(warning = %w, "Prometheus warned about a query.");
        }
        match envelope {
            Envelope { status: s, data: Some(data), .. } if s == "success" && status.is_success() => Ok(data),
            Envelope { error_type, error, .. } => Err(fail(format!(
                "{}: {}",
                error_type.unwrap_or_else(|| "error".to_owned()),
                error.unwrap_or_else(|| "no message".to_owned())
            ))),
        }
    }

    /// `query` at instant `at`: a vector (or a scalar, as one unlabelled sample).
    pub async fn instant(&self, query: &str, at: Timestamp) -> Result<Vec<Sample>, PromError> {
        let data =
            self.call("api/v1/query", &[("query", query.to_owned()), ("time", api_time(at.as_millisecond()))]).await?;
        let bad = |what: &str| PromError::Answer {
            url: self.shown.clone(),
            status: 200,
            message: format!("unexpected result: {what}"),
            query: query.to_owned(),
        };
        match data.result_type.as_str() {
            "vector" => {
                let items: Vec<VectorItem> = serde_json::from_value(data.result).map_err(|e| bad(&e.to_string()))?;
                Ok(items.into_iter().map(|i| Sample { labels: i.metric, value: parse_value(&i.value.1) }).collect())
            }
            "scalar" => {
                let (_, v): (f64, String) = serde_json::from_value(data.result).map_err(|e| bad(&e.to_string()))?;
                Ok(vec![Sample { labels: BTreeMap::new(), value: parse_value(&v) }])
            }
            other => Err(bad(other)),
        }
    }

    /// `query` at every `step` from `start` to `end` (both included when on a step).
    pub async fn range(
        &self,
        query: &str,
        start: Timestamp,
        end: Timestamp,
        step_ms: i64,
    ) -> Result<Vec<Series>, PromError> {
        let form = [
            ("query", query.to_owned()),
            ("start", api_time(start.as_millisecond())),
            ("end", api_time(end.as_millisecond())),
            ("step", api_time(step_ms)),
        ];
        let data = self.call("api/v1/query_range", &form).await?;
        let items: Vec<MatrixItem> = serde_json::from_value(data.result).map_err(|e| PromError::Answer {
            url: self.shown.clone(),
            status: 200,
            message: format!("unexpected result: {e}"),
            query: query.to_owned(),
        })?;
        Ok(items
            .into_iter()
            .map(|i| Series {
                labels: i.metric,
                // Times come as float seconds with millisecond precision.
                #[allow(clippy::cast_possible_truncation)]
                values: i.values.into_iter().map(|(t, v)| ((t * 1000.0).round() as i64, parse_value(&v))).collect(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_milliseconds() {
        assert_eq!(api_time(1_700_000_000_001), "1700000000.001");
        assert_eq!(api_time(86_400_000), "86400.000");
    }

    #[test]
    fn urls_are_checked_and_keep_their_prefix() {
        assert!(matches!(Prometheus::new("localhost:9090", Duration::from_secs(1)), Err(PromError::Url(_))));
        let p = Prometheus::new("http://mimir.example/prometheus", Duration::from_secs(1)).unwrap();
        assert_eq!(p.base.join("api/v1/query").unwrap().as_str(), "http://mimir.example/prometheus/api/v1/query");
    }

    #[test]
    fn passwords_in_the_url_never_show() {
        let p = Prometheus::new("https://noc:s3cret@prom.example:9090/", Duration::from_secs(1)).unwrap();
        assert_eq!(p.url(), "https://noc:***@prom.example:9090/");
        assert!(!format!("{p:?}").contains("s3cret"), "{p:?}");
        let Err(e) = Prometheus::new("htp:/noc:s3cret@prom", Duration::from_secs(1)) else { panic!("a bad URL") };
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert_eq!(mask_password("http://noc:s3cret@prom/a@b"), "http://noc:***@prom/a@b");
        assert_eq!(mask_password("http://noc@prom"), "http://noc@prom");
        assert_eq!(mask_password("http://prom:9090/x:y@z"), "http://prom:9090/x:y@z");
    }
}
