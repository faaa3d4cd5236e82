//! edgewatch dashboards: a Grafana dashboard per customer and a NOC
//! overview, from the catalog, with what Grafana needs to load them.
//!
//! Output (target [`Target::Files`]):
//!
//! - `grafana/dashboards/<tier>/edgewatch-<id>.json`: each customer's
//!   dashboard, in a folder per tier (`customers` without a tier);
//! - `grafana/dashboards/noc/edgewatch_noc.json`: the NOC overview;
//! - `grafana/dashboards/noc/edgewatch_health.json`: edgewatch's own
//!   health (ingest, the receiver, rule evaluation);
//! - `grafana/provisioning/dashboards/edgewatch.yml`: a file provider that
//!   makes folders from that tree;
//! - `grafana/provisioning/datasources/edgewatch.yml`: Prometheus and
//!   Alertmanager datasources, as an example to adapt.
//!
//! Or Kubernetes objects ([`Target::Sidecar`], [`Target::GrafanaOperator`]).
//! Dashboards are v1 JSON at [`SCHEMA_VERSION`], with the datasource as a
//! variable, uids from the customer id (the alerts link to them), and panel
//! ids in layout order: the same catalog gives the same bytes.

mod customer;
mod health;
mod layout;
mod model;
mod noc;
mod options;
mod panel;
pub mod picture;
mod provisioning;
mod text;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use edgewatch_catalog::OutputFile;
use edgewatch_catalog::model::CustomerDashboards;
use edgewatch_catalog::{Catalog, Customer};

pub use crate::model::{Dashboard, GridPos, Panel, SCHEMA_VERSION};
use crate::provisioning::{
    ConfigMap, GrafanaDashboard, GrafanaDashboardSpec, LabelSelector, Metadata, SIDECAR_FOLDER_ANNOTATION,
};

/// How the dashboards are deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// JSON files and Grafana provisioning files.
    Files {
        /// Where Grafana will find the `grafana/dashboards` tree.
        dashboards_dir: String,
        /// The Prometheus URL for the datasource example.
        prometheus_url: String,
        /// The Alertmanager URL for the datasource example.
        alertmanager_url: String,
    },
    /// `ConfigMap`s for the Grafana sidecar (`grafana_dashboard: "1"`).
    Sidecar {
        /// `metadata.namespace`, if any.
        namespace: Option<String>,
    },
    /// `GrafanaDashboard` objects for grafana-operator.
    GrafanaOperator {
        /// `metadata.namespace`, if any.
        namespace: Option<String>,
        /// Labels of the Grafana instances to load the dashboards into.
        instance_selector: BTreeMap<String, String>,
    },
}

/// How to render.
#[derive(Debug, Clone)]
pub struct Options {
    /// The deployment format.
    pub target: Target,
    /// Names the catalog in file headers.
    pub catalog_name: String,
    /// Grafana's base URL; its path prefixes links between dashboards.
    pub grafana_url: String,
    /// How often Prometheus scrapes the exporters (the datasource's
    /// `timeInterval`, which sizes `$__rate_interval`).
    pub scrape_interval: edgewatch_catalog::Duration,
}

impl Options {
    /// The path Grafana is served under (`""` or `/grafana`), for links.
    fn grafana_path(&self) -> String {
        url::Url::parse(&self.grafana_url).map(|u| u.path().trim_end_matches('/').to_owned()).unwrap_or_default()
    }
}

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// `--grafana-url` is not an absolute URL.
    #[error("Grafana URL `{0}` is not an absolute http(s) URL")]
    GrafanaUrl(String),
    /// A file could not be serialized.
    #[error("cannot serialize {path}: {message}")]
    Serialize {
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// The folder a customer's dashboard goes in: its tier.
fn folder(c: &Customer) -> &str {
    c.tier.as_ref().map_or("customers", edgewatch_catalog::Slug::as_str)
}

/// The folder of the shared customer dashboard.
const SHARED_FOLDER: &str = "customers";

/// The folder of the NOC overview.
const NOC_FOLDER: &str = "noc";

/// Every dashboard: the customers' in catalog order, then the NOC
/// overview and edgewatch's health.
pub fn dashboards(catalog: &Catalog, opts: &Options) -> Result<Vec<Dashboard>, RenderError> {
    check_url(opts)?;
    let mut out: Vec<Dashboard> = match catalog.customer_dashboards {
        CustomerDashboards::Each => catalog.customers.iter().map(|c| customer::dashboard(catalog, c, opts)).collect(),
        CustomerDashboards::Shared => vec![customer::shared(catalog, opts)],
    };
    out.push(noc::dashboard(catalog, opts));
    out.push(health::dashboard());
    Ok(out)
}

fn check_url(opts: &Options) -> Result<(), RenderError> {
    match url::Url::parse(&opts.grafana_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        _ => Err(RenderError::GrafanaUrl(opts.grafana_url.clone())),
    }
}

/// A dashboard as Grafana reads it: pretty JSON, ending in a newline.
pub fn to_json(d: &Dashboard) -> Result<String, RenderError> {
    serde_json::to_string_pretty(d)
        .map(|s| s + "\n")
        .map_err(|e| RenderError::Serialize { path: d.uid().to_owned(), message: e.to_string() })
}

fn yaml<T: serde::Serialize>(path: String, header: &str, value: &T) -> Result<OutputFile, RenderError> {
    let body = edgewatch_catalog::yaml::to_string(value)
        .map_err(|e| RenderError::Serialize { path: path.clone(), message: e.to_string() })?;
    Ok(OutputFile { path: PathBuf::from(path), contents: format!("{header}{body}") })
}

/// Every dashboard file for `catalog`, sorted by path.
pub fn render(catalog: &Catalog, opts: &Options) -> Result<Vec<OutputFile>, RenderError> {
    let mut files = files(catalog, opts)?.collect::<Result<Vec<_>, _>>()?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Every dashboard file for `catalog`, made one at a time as the iterator
/// is read (at 10,000 customers they are 400 MB of JSON, which a caller
/// that writes each as it comes never holds at once); not sorted.
pub fn files<'a>(
    catalog: &'a Catalog,
    opts: &'a Options,
) -> Result<impl Iterator<Item = Result<OutputFile, RenderError>> + 'a, RenderError> {
    check_url(opts)?;
    let header = header(opts);
    let provisioning = match &opts.target {
        Target::Files { dashboards_dir, prometheus_url, alertmanager_url } => {
            vec![
                yaml(
                    "grafana/provisioning/dashboards/edgewatch.yml".to_owned(),
                    &header,
                    &provisioning::providers(dashboards_dir),
                ),
                yaml(
                    "grafana/provisioning/datasources/edgewatch.yml".to_owned(),
                    &header,
                    &provisioning::datasources(prometheus_url, alertmanager_url, opts.scrape_interval),
                ),
            ]
        }
        _ => Vec::new(),
    };
    // Each customer's dashboard in its tier's folder, or the shared one.
    let each = catalog.customer_dashboards == CustomerDashboards::Each;
    let shared = (!each).then(|| (customer::shared(catalog, opts), SHARED_FOLDER));
    let customers = catalog
        .customers
        .iter()
        .filter(move |_| each)
        .map(move |c| (customer::dashboard(catalog, c, opts), folder(c)))
        .chain(shared);
    let own = [(noc::dashboard(catalog, opts), NOC_FOLDER), (health::dashboard(), NOC_FOLDER)];
    let boards = customers.chain(own).map(move |(d, folder)| dashboard_file(&d, folder, &opts.target, &header));
    Ok(boards.chain(provisioning))
}

/// The first line of every YAML file.
fn header(opts: &Options) -> String {
    format!(
        "# Generated by edgewatch from {}. Do not edit: change the catalog and run `edgewatch render`.\n",
        opts.catalog_name
    )
}

/// One dashboard's file, as `target` deploys it.
fn dashboard_file(d: &Dashboard, folder: &str, target: &Target, header: &str) -> Result<OutputFile, RenderError> {
    let json = to_json(d)?;
    // Kubernetes names: lowercase, digits and dashes.
    let object_name =
        format!("edgewatch-dashboard-{}", d.uid().trim_start_matches("edgewatch").trim_start_matches(['-', '_']));
    let metadata = |namespace: &Option<String>, labels: BTreeMap<String, String>, annotations| Metadata {
        name: object_name.clone(),
        namespace: namespace.clone(),
        labels: [("app.kubernetes.io/managed-by".to_owned(), "edgewatch".to_owned())]
            .into_iter()
            .chain(labels)
            .collect(),
        annotations,
    };
    Ok(match target {
        Target::Files { .. } => {
            OutputFile { path: PathBuf::from(format!("grafana/dashboards/{folder}/{}.json", d.uid())), contents: json }
        }
        Target::Sidecar { namespace } => yaml(
            format!("grafana/sidecar/{object_name}.yaml"),
            header,
            &ConfigMap {
                api_version: "v1",
                kind: "ConfigMap",
                metadata: metadata(
                    namespace,
                    [("grafana_dashboard".to_owned(), "1".to_owned())].into(),
                    [(SIDECAR_FOLDER_ANNOTATION.to_owned(), folder.to_owned())].into(),
                ),
                data: [(format!("{}.json", d.uid()), json)].into(),
            },
        )?,
        Target::GrafanaOperator { namespace, instance_selector } => yaml(
            format!("grafana/grafana-operator/{object_name}.yaml"),
            header,
            &GrafanaDashboard {
                api_version: "grafana.integreatly.org/v1beta1",
                kind: "GrafanaDashboard",
                metadata: metadata(namespace, BTreeMap::new(), BTreeMap::new()),
                spec: GrafanaDashboardSpec {
                    instance_selector: LabelSelector { match_labels: instance_selector.clone() },
                    folder: folder.to_owned(),
                    uid: d.uid().to_owned(),
                    resync_period: "10m",
                    json,
                },
            },
        )?,
    })
}
