//! Alertmanager's webhook payload (version 4), as real Alertmanager sends
//! it: unknown fields are ignored (`routeLabels`, newer additions), firing
//! alerts carry `endsAt: 0001-01-01T00:00:00Z`, the receiver name arrives
//! regex-escaped, and `truncatedAlerts` counts alerts left out.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::action::Status;

/// One notification. Decoding checks every field of version 4 (a missing
/// `status` is refused); some are not read yet.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Notification {
    /// Always `"4"`.
    pub version: String,
    /// The aggregation group (`<route key>:<group labels>`).
    pub group_key: String,
    /// Alerts Alertmanager left out (`max_alerts`).
    #[serde(default)]
    pub truncated_alerts: u64,
    /// `firing` when any alert in the set fires.
    pub status: Status,
    /// The receiver's name, regex-escaped by Alertmanager.
    pub receiver: String,
    /// The group's labels (may be empty).
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    /// Labels every alert shares.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations every alert shares.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Alertmanager's own URL.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<Alert>,
}

/// One alert of a notification.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Alert {
    pub status: Status,
    /// Its labels (`alertname` among them).
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When it started, RFC 3339.
    pub starts_at: String,
    /// When it ended; the zero time while firing.
    #[serde(default)]
    pub ends_at: String,
    /// Link to the expression in Prometheus.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    /// Alertmanager's hash of the label set.
    pub fingerprint: String,
}

impl Alert {
    /// `endsAt`, unless it is Go's zero time (a firing alert) or empty.
    pub(crate) fn ended(&self) -> Option<&str> {
        (!self.ends_at.is_empty() && !self.ends_at.starts_with("0001-01-01")).then_some(self.ends_at.as_str())
    }
}

/// Why a body is not a notification: 400 when it is not JSON, 422 when it
/// is JSON but not what Alertmanager sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PayloadError {
    /// Not JSON; with the line and column of the problem.
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Malformed {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// JSON, but missing a field or with a wrong type.
    #[error("not an Alertmanager notification: {0}")]
    Invalid(String),
    /// A version other than 4.
    #[error("unsupported payload version `{0}`: edgewatch takes Alertmanager's version 4")]
    Version(String),
}

impl PayloadError {
    /// The HTTP status the webhook answers with.
    pub(crate) const fn status(&self) -> StatusCode {
        match self {
            Self::Malformed { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid(_) | Self::Version(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// Reads a body.
pub(crate) fn parse(body: &[u8]) -> Result<Notification, PayloadError> {
    // JSON between systems is UTF-8 (RFC 8259), and the store keeps the body
    // as text. serde_json checks only the strings it keeps, not those of
    // fields it ignores: the whole body is checked, so that what is stored
    // is what came.
    let text = std::str::from_utf8(body).map_err(|e| {
        let before = std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        PayloadError::Malformed {
            line: 1 + before.matches('\n').count(),
            column: 1 + before.len() - line_start,
            message: "invalid UTF-8".to_owned(),
        }
    })?;
    let n: Notification = serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                PayloadError::Malformed { line: e.line(), column: e.column(), message: strip_position(&e) }
            }
            Category::Data => PayloadError::Invalid(e.to_string()),
        }
    })?;
    if n.version != "4" {
        return Err(PayloadError::Version(n.version));
    }
    if let Some(a) = n.alerts.iter().find(|a| !a.labels.contains_key("alertname")) {
        return Err(PayloadError::Invalid(format!("alert {} has no `alertname` label", a.fingerprint)));
    }
    Ok(n)
}

/// `serde_json`'s message without its trailing "at line L column C", which
/// the error carries separately.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    text.rfind(" at line ").map_or(text.clone(), |i| text[..i].to_owned())
}

impl Notification {
    /// A hash of what the notification says (group, and each alert's
    /// fingerprint, status and times): equal for Alertmanager's retries and
    /// for the same group sent by two HA peers, so the store keeps one.
    pub(crate) fn dedup_hash(&self) -> String {
        let mut alerts: Vec<_> = self
            .alerts
            .iter()
            .map(|a| {
                let status = match a.status {
                    Status::Firing => "firing",
                    Status::Resolved => "resolved",
                };
                format!("{}\u{1f}{status}\u{1f}{}\u{1f}{}", a.fingerprint, a.starts_at, a.ended().unwrap_or(""))
            })
            .collect();
        alerts.sort();
        let mut h = Sha256::new();
        h.update(self.receiver.as_bytes());
        h.update([0x1e]);
        h.update(self.group_key.as_bytes());
        for a in alerts {
            h.update([0x1e]);
            h.update(a.as_bytes());
        }
        hex(&h.finalize())
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What Alertmanager 0.34 sends, with a field this code does not know.
    pub(crate) const SAMPLE: &str = r#"{"receiver":"noc\\.jira","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"EdgewatchErrorBudgetBurnFast","customer":"acme-retail","slo":"availability","severity":"page","alert_kind":"burn_rate_fast"},"annotations":{"summary":"acme-retail: availability SLO error budget burning fast"},"startsAt":"2026-11-21T08:00:00.000Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":"1a30ba71cca2921f"}],"groupLabels":{},"commonLabels":{"alertname":"EdgewatchErrorBudgetBurnFast"},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"{}/{customer=\"acme-retail\"}:{alertname=\"EdgewatchErrorBudgetBurnFast\"}","truncatedAlerts":0,"notification_reason":"first notification","routeLabels":{"team":"noc"}}"#;

    #[test]
    fn reads_what_alertmanager_sends() {
        let n = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(n.receiver, "noc\\.jira");
        assert_eq!(n.alerts[0].ended(), None, "the zero time means still firing");
        assert_eq!(n.external_url, "http://alertmanager:9093");
        assert_eq!(n.alerts[0].generator_url, "http://prometheus:9090/graph");
    }

    #[test]
    fn bad_bodies_say_where_and_what() {
        let e = parse(b"{\"version\": \"4\",\n \"alerts\": [}").unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(matches!(e, PayloadError::Malformed { line: 2, column: 13, .. }), "{e}");
        let e = parse(b"{\"version\": \"4\"}").unwrap_err();
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.to_string().contains("missing field `groupKey`"), "{e}");
        let e = parse(SAMPLE.replace("\"version\":\"4\"", "\"version\":\"3\"").as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), "unsupported payload version `3`: edgewatch takes Alertmanager's version 4");
        let e = parse(
            SAMPLE.replace("\"alertname\":\"EdgewatchErrorBudgetBurnFast\",\"customer\"", "\"customer\"").as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "not an Alertmanager notification: alert 1a30ba71cca2921f has no `alertname` label");
    }

    #[test]
    fn a_body_that_is_not_utf8_is_malformed_even_where_nothing_reads_it() {
        // Found by fuzzing: serde_json skipped an unknown field's string
        // without checking it, and the store kept another text than came.
        let mut body = SAMPLE.replace("first notification", "first \u{1}").into_bytes();
        let at = body.iter().position(|b| *b == 1).unwrap();
        body[at] = 0xff;
        let e = parse(&body).unwrap_err();
        assert_eq!(e, PayloadError::Malformed { line: 1, column: at + 1, message: "invalid UTF-8".to_owned() });
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let e = parse(b"{\n  \"version\": \"4\xc3\"}").unwrap_err();
        assert!(matches!(e, PayloadError::Malformed { line: 2, column: 16, .. }), "{e}");
    }

    #[test]
    fn retries_and_ha_peers_hash_alike_and_changes_do_not() {
        let a = parse(SAMPLE.as_bytes()).unwrap();
        // Another peer: other external URL and reason, same content.
        let b = parse(SAMPLE.replace("first notification", "repeat interval elapsed").as_bytes()).unwrap();
        assert_eq!(a.dedup_hash(), b.dedup_hash());
        let resolved = SAMPLE
            .replace("\"status\":\"firing\",\"labels\"", "\"status\":\"resolved\",\"labels\"")
            .replace("0001-01-01T00:00:00Z", "2026-11-21T09:00:00Z");
        assert_ne!(a.dedup_hash(), parse(resolved.as_bytes()).unwrap().dedup_hash());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = parse(&body);
        }
    }
}
