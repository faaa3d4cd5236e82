//! How the dashboards reach Grafana: file provisioning (a dashboards
//! provider with folders from the file tree, and a datasources example), or
//! Kubernetes objects for the Grafana sidecar or grafana-operator.

use std::collections::BTreeMap;

use serde::Serialize;

/// `provisioning/dashboards/*.yml`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DashboardProviders {
    pub(crate) api_version: u8,
    pub(crate) providers: Vec<Provider>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Provider {
    pub(crate) name: &'static str,
    pub(crate) org_id: u32,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// Removing a customer from the catalog removes its dashboard.
    pub(crate) disable_deletion: bool,
    pub(crate) update_interval_seconds: u32,
    /// The catalog is the source: UI edits would be overwritten anyway.
    pub(crate) allow_ui_updates: bool,
    pub(crate) options: ProviderOptions,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProviderOptions {
    pub(crate) path: String,
    /// A folder per tier, from the folders under `path`.
    pub(crate) folders_from_files_structure: bool,
}

/// `provisioning/datasources/*.yml`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Datasources {
    pub(crate) api_version: u8,
    pub(crate) datasources: Vec<Datasource>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Datasource {
    pub(crate) name: &'static str,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) uid: &'static str,
    pub(crate) access: &'static str,
    pub(crate) url: String,
    pub(crate) is_default: bool,
    pub(crate) editable: bool,
    pub(crate) json_data: BTreeMap<&'static str, serde_json::Value>,
}

/// Kubernetes object metadata.
#[derive(Debug, Serialize)]
pub(crate) struct Metadata {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    pub(crate) labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) annotations: BTreeMap<String, String>,
}

/// A `ConfigMap` the Grafana sidecar (kube-prometheus-stack, grafana chart)
/// picks up by its `grafana_dashboard: "1"` label.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigMap {
    pub(crate) api_version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) metadata: Metadata,
    pub(crate) data: BTreeMap<String, String>,
}

/// grafana-operator's dashboard object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GrafanaDashboard {
    pub(crate) api_version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) metadata: Metadata,
    pub(crate) spec: GrafanaDashboardSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GrafanaDashboardSpec {
    pub(crate) instance_selector: LabelSelector,
    pub(crate) folder: String,
    pub(crate) uid: String,
    pub(crate) resync_period: &'static str,
    pub(crate) json: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LabelSelector {
    pub(crate) match_labels: BTreeMap<String, String>,
}

/// The sidecar's default folder annotation (`FOLDER_ANNOTATION` of
/// k8s-sidecar): the dashboard lands in that subfolder, which Grafana shows
/// as a folder when the provider reads folders from the file tree.
pub(crate) const SIDECAR_FOLDER_ANNOTATION: &str = "k8s-sidecar-target-directory";

/// A file provider for the dashboards under `dir`, a folder per subfolder.
pub(crate) fn providers(dir: &str) -> DashboardProviders {
    DashboardProviders {
        api_version: 1,
        providers: vec![Provider {
            name: "edgewatch",
            org_id: 1,
            kind: "file",
            disable_deletion: false,
            update_interval_seconds: 60,
            allow_ui_updates: false,
            options: ProviderOptions { path: dir.to_owned(), folders_from_files_structure: true },
        }],
    }
}

/// Prometheus (the dashboards' default, uid `prometheus`) and Alertmanager.
pub(crate) fn datasources(
    prometheus: &str,
    alertmanager: &str,
    scrape_interval: edgewatch_catalog::Duration,
) -> Datasources {
    Datasources {
        api_version: 1,
        datasources: vec![
            Datasource {
                name: "Prometheus",
                kind: "prometheus",
                uid: "prometheus",
                access: "proxy",
                url: prometheus.to_owned(),
                is_default: true,
                editable: false,
                json_data: [
                    ("httpMethod", "POST".into()),
                    ("prometheusType", "Prometheus".into()),
                    // `$__rate_interval` is at least four of these.
                    ("timeInterval", scrape_interval.to_string().into()),
                ]
                .into(),
            },
            Datasource {
                name: "Alertmanager",
                kind: "alertmanager",
                uid: "alertmanager",
                access: "proxy",
                url: alertmanager.to_owned(),
                is_default: false,
                editable: false,
                json_data: [("handleGrafanaManagedAlerts", false.into()), ("implementation", "prometheus".into())]
                    .into(),
            },
        ],
    }
}
