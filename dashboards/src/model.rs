//! The Grafana dashboard JSON model (v1, `schemaVersion` [`SCHEMA_VERSION`]),
//! as far as edgewatch uses it. Field names follow Grafana's; every struct
//! serializes to what the foundation SDK's JSON schema accepts.

use serde::Serialize;

/// The schema version the dashboards are written at; Grafana migrates older
/// ones on load, and 41 is read by every Grafana since 11.
pub const SCHEMA_VERSION: u32 = 41;

/// A dashboard.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub(crate) uid: String,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) tags: Vec<String>,
    pub(crate) timezone: &'static str,
    /// Provisioned from files: changes made in the UI would be overwritten.
    pub(crate) editable: bool,
    /// 1: a shared crosshair across panels.
    pub(crate) graph_tooltip: u8,
    pub(crate) time: TimeRange,
    pub(crate) refresh: &'static str,
    pub(crate) schema_version: u32,
    pub(crate) links: Vec<DashboardLink>,
    pub(crate) templating: Templating,
    pub(crate) annotations: Annotations,
    pub(crate) panels: Vec<Item>,
}

impl Dashboard {
    /// A dashboard with edgewatch's settings (UTC, last 6h, refreshed every
    /// minute, shared crosshair, read-only) and nothing in it yet.
    pub(crate) fn base(uid: String, title: String, description: String, tags: Vec<String>) -> Self {
        Self {
            uid,
            title,
            description,
            tags,
            timezone: "utc",
            editable: false,
            graph_tooltip: 1,
            time: TimeRange { from: "now-6h".to_owned(), to: "now" },
            refresh: "1m",
            schema_version: SCHEMA_VERSION,
            links: Vec::new(),
            templating: Templating { list: Vec::new() },
            annotations: Annotations { list: Vec::new() },
            panels: Vec::new(),
        }
    }

    /// The uid Grafana and the alerts' links know it by.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The title Grafana shows (and searches).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Panels in order, without rows.
    pub fn panels(&self) -> impl Iterator<Item = &Panel> {
        self.panels.iter().filter_map(|i| match i {
            Item::Panel(p) => Some(p.as_ref()),
            Item::Row(_) => None,
        })
    }

    /// Every `PromQL` expression the dashboard sends: panel targets, then
    /// annotations. Template variables are left in.
    pub fn queries(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.panels().flat_map(|p| p.targets.iter().map(|t| t.expr.as_str())).collect();
        out.extend(self.annotations.list.iter().filter_map(|a| a.expr.as_deref()));
        out
    }

    /// The series selectors of `label_values(...)` variable queries.
    pub fn variable_selectors(&self) -> Vec<&str> {
        self.templating
            .list
            .iter()
            .filter(|v| v.kind == VariableKind::Query)
            .filter_map(|v| v.query.strip_prefix("label_values(")?.rsplit_once(',').map(|(sel, _)| sel.trim()))
            .collect()
    }

    /// Rows and panels with their grid positions, for pictures.
    pub fn layout(&self) -> impl Iterator<Item = (&str, &str, GridPos)> {
        self.panels.iter().map(|i| match i {
            Item::Panel(p) => (p.kind, p.title.as_str(), p.grid_pos),
            Item::Row(r) => ("row", r.title.as_str(), r.grid_pos),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TimeRange {
    pub(crate) from: String,
    pub(crate) to: &'static str,
}

/// A link in the dashboard's header, or a panel's data link.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::struct_excessive_bools)] // Grafana's model
pub(crate) struct DashboardLink {
    pub(crate) title: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) icon: &'static str,
    pub(crate) tooltip: String,
    pub(crate) url: String,
    pub(crate) tags: Vec<String>,
    pub(crate) as_dropdown: bool,
    pub(crate) target_blank: bool,
    pub(crate) include_vars: bool,
    pub(crate) keep_time: bool,
}

impl DashboardLink {
    /// A link to another site, opened in a new tab.
    pub(crate) fn external(title: impl Into<String>, tooltip: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            kind: "link",
            icon: "external link",
            tooltip: tooltip.into(),
            url: url.into(),
            tags: Vec::new(),
            as_dropdown: false,
            target_blank: true,
            include_vars: false,
            keep_time: false,
        }
    }

    /// A link to another dashboard of this Grafana, keeping the time range.
    pub(crate) fn dashboard(title: impl Into<String>, tooltip: impl Into<String>, url: impl Into<String>) -> Self {
        Self { icon: "dashboard", target_blank: false, keep_time: true, ..Self::external(title, tooltip, url) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Templating {
    pub(crate) list: Vec<Variable>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum VariableKind {
    Datasource,
    Constant,
    Custom,
    Query,
}

/// A template variable. `query` is always the string form: the schema
/// rejects the object form Grafana itself exports.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Variable {
    #[serde(rename = "type")]
    pub(crate) kind: VariableKind,
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) description: String,
    /// 0: label and value, 2: hidden.
    pub(crate) hide: u8,
    pub(crate) query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) datasource: Option<DatasourceRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) current: Option<VariableOption>,
    pub(crate) multi: bool,
    pub(crate) include_all: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) all_value: Option<&'static str>,
    /// 2: on time range change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh: Option<u8>,
    /// 1: alphabetical.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sort: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) regex: Option<&'static str>,
    pub(crate) skip_url_sync: bool,
}

impl Variable {
    pub(crate) fn new(kind: VariableKind, name: &'static str, label: &'static str, query: impl Into<String>) -> Self {
        Self {
            kind,
            name,
            label,
            description: String::new(),
            hide: 0,
            query: query.into(),
            datasource: None,
            current: None,
            multi: false,
            include_all: false,
            all_value: None,
            refresh: None,
            sort: None,
            regex: None,
            skip_url_sync: false,
        }
    }

    /// The `datasource` variable every query goes through.
    pub(crate) fn datasource() -> Self {
        Self::new(VariableKind::Datasource, "datasource", "Data source", "prometheus")
            .described("The Prometheus (or Thanos, Mimir) that scrapes the edgewatch exporters.")
    }

    pub(crate) fn described(mut self, text: &str) -> Self {
        text.clone_into(&mut self.description);
        self
    }

    /// Several values may be picked, all by default (`.*`).
    pub(crate) fn all_by_default(mut self) -> Self {
        self.multi = true;
        self.include_all = true;
        self.all_value = Some(".*");
        self.current = Some(VariableOption { text: "All".to_owned(), value: "$__all".to_owned() });
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct VariableOption {
    pub(crate) text: String,
    pub(crate) value: String,
}

/// Where queries go: the `datasource` variable, so one file serves any
/// Grafana (file provisioning does not resolve `__inputs`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DatasourceRef {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) uid: &'static str,
}

impl DatasourceRef {
    pub(crate) const fn prometheus() -> Self {
        Self { kind: "prometheus", uid: "${datasource}" }
    }

    const fn grafana() -> Self {
        Self { kind: "grafana", uid: "-- Grafana --" }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Annotations {
    pub(crate) list: Vec<Annotation>,
}

/// An annotation query: Grafana's own, or a `PromQL` one whose series become
/// markers on every time series panel.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Annotation {
    pub(crate) name: String,
    pub(crate) datasource: DatasourceRef,
    pub(crate) enable: bool,
    pub(crate) hide: bool,
    pub(crate) icon_color: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) built_in: Option<u8>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) step: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) title_format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text_format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tag_keys: Option<&'static str>,
}

impl Annotation {
    /// Grafana's own annotations (the ones users add by hand).
    pub(crate) fn built_in() -> Self {
        Self {
            name: "Annotations & Alerts".to_owned(),
            datasource: DatasourceRef::grafana(),
            enable: true,
            hide: true,
            icon_color: "rgba(0, 211, 255, 1)",
            built_in: Some(1),
            kind: Some("dashboard"),
            expr: None,
            step: None,
            title_format: None,
            text_format: None,
            tag_keys: None,
        }
    }

    /// Markers where the series of `expr` have samples.
    pub(crate) fn prometheus(name: &str, color: &'static str, expr: String) -> Self {
        Self {
            name: name.to_owned(),
            datasource: DatasourceRef::prometheus(),
            enable: true,
            hide: false,
            icon_color: color,
            built_in: None,
            kind: None,
            expr: Some(expr),
            step: Some("60s"),
            title_format: Some("{{alertname}}"),
            text_format: Some("{{customer}} {{slo}}{{probe}}: {{severity}}"),
            tag_keys: Some("severity,alert_kind"),
        }
    }
}

/// A top-level element of `panels`: a row header or a panel. Rows are never
/// collapsed, so their panels follow them at the top level.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum Item {
    Row(Row),
    Panel(Box<Panel>),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Row {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) id: u32,
    pub(crate) title: String,
    pub(crate) collapsed: bool,
    pub(crate) grid_pos: GridPos,
    pub(crate) panels: Vec<Panel>,
}

/// A panel's place on Grafana's 24-column grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GridPos {
    /// Height in grid rows (30 px each).
    pub h: u32,
    /// Width in columns, 1 to 24.
    pub w: u32,
    /// Column, 0 to 23.
    pub x: u32,
    /// Row.
    pub y: u32,
}

/// A panel: its kind decides `options` and `fieldConfig.defaults.custom`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Panel {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) id: u32,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) datasource: DatasourceRef,
    pub(crate) grid_pos: GridPos,
    pub(crate) targets: Vec<Target>,
    pub(crate) field_config: FieldConfigSource,
    pub(crate) options: crate::options::Options,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) transformations: Vec<Transformation>,
    /// A fixed time range for this panel (a budget burn-down over the SLO's period).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) time_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) interval: Option<&'static str>,
}

impl Panel {
    /// The panel's title.
    pub fn title(&self) -> &str {
        &self.title
    }
}

/// One query.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Target {
    pub(crate) ref_id: String,
    pub(crate) datasource: DatasourceRef,
    pub(crate) expr: String,
    pub(crate) legend_format: String,
    pub(crate) range: bool,
    pub(crate) instant: bool,
    pub(crate) format: TargetFormat,
    pub(crate) exemplar: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TargetFormat {
    TimeSeries,
    Table,
    Heatmap,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldConfigSource {
    pub(crate) defaults: FieldConfig,
    /// Always empty: the schema takes override values only as objects, which
    /// units and names are not, so tables name their columns by transformation.
    pub(crate) overrides: Vec<()>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) unit: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) decimals: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) no_value: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) color: Option<FieldColor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) thresholds: Option<Thresholds>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) links: Vec<DashboardLink>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) custom: Option<crate::options::Custom>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldColor {
    pub(crate) mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fixed_color: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Thresholds {
    pub(crate) mode: &'static str,
    pub(crate) steps: Vec<Step>,
}

impl Thresholds {
    /// `base` below the first bound, then each color from its bound up.
    pub(crate) fn absolute(base: &'static str, steps: &[(f64, &'static str)]) -> Self {
        let mut all = vec![Step { value: None, color: base }];
        all.extend(steps.iter().map(|&(v, color)| Step { value: Some(v), color }));
        Self { mode: "absolute", steps: all }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Step {
    /// `null` is minus infinity.
    pub(crate) value: Option<f64>,
    pub(crate) color: &'static str,
}

/// A data transformation.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "id", content = "options", rename_all = "camelCase")]
pub(crate) enum Transformation {
    /// Joins the frames of table queries on their common labels.
    Merge {},
    /// Hides, orders and renames columns.
    #[serde(rename_all = "camelCase")]
    Organize {
        exclude_by_name: std::collections::BTreeMap<String, bool>,
        index_by_name: std::collections::BTreeMap<String, u32>,
        rename_by_name: std::collections::BTreeMap<String, String>,
    },
    /// Sorts rows by a column.
    SortBy { sort: Vec<SortField> },
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SortField {
    pub(crate) field: String,
    pub(crate) desc: bool,
}
