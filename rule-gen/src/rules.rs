//! Prometheus rule files as typed structs, serialized with serde: never
//! text templates.

use std::collections::BTreeMap;

use serde::Serialize;

/// A rule file (`groups:`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RuleFile {
    pub(crate) groups: Vec<Group>,
}

/// A rule group. No group-level `labels` or `query_offset`: rules must load
/// in Prometheus 2.42.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Group {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) interval: Option<String>,
    /// Thanos Ruler only: `warn` or `abort`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) partial_response_strategy: Option<String>,
    pub(crate) rules: Vec<Rule>,
}

/// A Mimir or Cortex ruler namespace file (what `mimirtool rules load` takes).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NamespaceFile {
    pub(crate) namespace: String,
    pub(crate) groups: Vec<Group>,
}

/// A prometheus-operator `PrometheusRule`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrometheusRule {
    pub(crate) api_version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) metadata: Metadata,
    pub(crate) spec: RuleFile,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Metadata {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) labels: BTreeMap<String, String>,
}

/// A recording or alerting rule.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) alert: Option<String>,
    pub(crate) expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub(crate) for_: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) annotations: BTreeMap<String, String>,
}

impl Rule {
    pub(crate) fn record(name: impl Into<String>, expr: impl Into<String>) -> Self {
        Self {
            record: Some(name.into()),
            alert: None,
            expr: expr.into(),
            for_: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }

    pub(crate) fn alert(name: impl Into<String>, expr: impl Into<String>) -> Self {
        Self { record: None, alert: Some(name.into()), ..Self::record("", expr) }
    }

    #[must_use]
    pub(crate) fn label(mut self, k: &str, v: impl Into<String>) -> Self {
        self.labels.insert(k.to_owned(), v.into());
        self
    }

    #[must_use]
    pub(crate) fn annotation(mut self, k: &str, v: impl Into<String>) -> Self {
        self.annotations.insert(k.to_owned(), v.into());
        self
    }

    #[must_use]
    pub(crate) fn for_(mut self, d: impl Into<String>) -> Self {
        self.for_ = Some(d.into());
        self
    }
}
