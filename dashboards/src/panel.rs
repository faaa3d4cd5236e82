//! Panel constructors: a panel kind with the defaults edgewatch wants, then
//! chained settings. Placement and ids come later, from [`crate::layout`].

use crate::model::{
    DashboardLink, DatasourceRef, FieldColor, FieldConfig, FieldConfigSource, GridPos, Panel, Target, TargetFormat,
    Thresholds, Transformation,
};
use crate::options::{
    BarGaugeOptions, Custom, GraphFieldConfig, HeatmapFieldConfig, HeatmapOptions, HideFrom, Legend, Options,
    ReduceOptions, ScaleDistribution, StatOptions, TableFieldConfig, TableOptions, TimeSeriesOptions,
};

/// One query of a panel.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    expr: String,
    legend: String,
    format: TargetFormat,
    instant: bool,
}

/// Per-second rate of a counter over Grafana's rate interval.
pub(crate) fn rate(selector: &str) -> String {
    format!("rate({selector}[$__rate_interval])")
}

/// A range query drawn as series named by `legend` (`{{label}}` templates).
pub(crate) fn series(expr: impl Into<String>, legend: impl Into<String>) -> Query {
    Query { expr: expr.into(), legend: legend.into(), format: TargetFormat::TimeSeries, instant: false }
}

/// An instant query whose labels become table columns.
pub(crate) fn table_rows(expr: impl Into<String>) -> Query {
    Query { expr: expr.into(), legend: String::new(), format: TargetFormat::Table, instant: true }
}

/// Histogram buckets as heatmap cells.
pub(crate) fn buckets(expr: impl Into<String>) -> Query {
    Query { expr: expr.into(), legend: "{{le}}".to_owned(), format: TargetFormat::Heatmap, instant: false }
}

fn targets(queries: Vec<Query>) -> Vec<Target> {
    queries
        .into_iter()
        .zip(b'A'..=b'Z')
        .map(|(q, letter)| Target {
            ref_id: char::from(letter).to_string(),
            datasource: DatasourceRef::prometheus(),
            expr: q.expr,
            legend_format: q.legend,
            range: !q.instant,
            instant: q.instant,
            format: q.format,
            exemplar: false,
        })
        .collect()
}

fn panel(kind: &'static str, title: &str, description: &str, queries: Vec<Query>, options: Options) -> Panel {
    Panel {
        kind,
        id: 0,
        title: title.to_owned(),
        description: description.to_owned(),
        datasource: DatasourceRef::prometheus(),
        grid_pos: GridPos { h: 8, w: 12, x: 0, y: 0 },
        targets: targets(queries),
        field_config: FieldConfigSource { defaults: FieldConfig::default(), overrides: Vec::new() },
        options,
        transformations: Vec::new(),
        time_from: None,
        interval: None,
    }
}

impl Panel {
    pub(crate) fn timeseries(title: &str, description: &str, unit: &'static str, queries: Vec<Query>) -> Self {
        let mut p =
            panel("timeseries", title, description, queries, Options::TimeSeries(TimeSeriesOptions::list_legend()));
        p.field_config.defaults.unit = Some(unit);
        p.field_config.defaults.color = Some(FieldColor { mode: "palette-classic", fixed_color: None });
        p.field_config.defaults.custom = Some(Custom::Graph(GraphFieldConfig::lines()));
        p
    }

    pub(crate) fn stat(title: &str, description: &str, unit: &'static str, queries: Vec<Query>) -> Self {
        let mut p = panel("stat", title, description, queries, Options::Stat(StatOptions::last_value()));
        p.field_config.defaults.unit = Some(unit);
        p.field_config.defaults.color = Some(FieldColor { mode: "thresholds", fixed_color: None });
        p.field_config.defaults.thresholds = Some(Thresholds::absolute("text", &[]));
        p
    }

    pub(crate) fn table(title: &str, description: &str, queries: Vec<Query>) -> Self {
        let mut p = panel(
            "table",
            title,
            description,
            queries,
            Options::Table(TableOptions { frame_index: 0, show_header: true, cell_height: "sm", sort_by: Vec::new() }),
        );
        p.field_config.defaults.custom =
            Some(Custom::Table(TableFieldConfig { align: "auto", inspect: false, filterable: false }));
        p
    }

    pub(crate) fn heatmap(title: &str, description: &str, unit: &'static str, query: Query) -> Self {
        let mut p = panel("heatmap", title, description, vec![query], Options::Heatmap(HeatmapOptions::buckets(unit)));
        p.field_config.defaults.custom = Some(Custom::Heatmap(HeatmapFieldConfig {
            hide_from: HideFrom { tooltip: false, legend: false, viz: false },
            scale_distribution: ScaleDistribution { kind: "linear" },
        }));
        p
    }

    /// Horizontal bars, one per series, colored by thresholds.
    pub(crate) fn bars(title: &str, description: &str, unit: &'static str, queries: Vec<Query>) -> Self {
        let mut p = panel(
            "bargauge",
            title,
            description,
            queries,
            Options::BarGauge(BarGaugeOptions {
                display_mode: "gradient",
                value_mode: "color",
                name_placement: "auto",
                show_unfilled: true,
                sizing: "auto",
                min_viz_width: 8,
                min_viz_height: 16,
                max_viz_height: 300,
                legend: Legend { display_mode: "list", placement: "bottom", show_legend: false, calcs: Vec::new() },
                reduce_options: ReduceOptions::last(),
                orientation: "horizontal",
            }),
        );
        p.field_config.defaults.unit = Some(unit);
        p.field_config.defaults.color = Some(FieldColor { mode: "thresholds", fixed_color: None });
        p
    }

    /// Width and height on the grid.
    pub(crate) fn size(mut self, w: u32, h: u32) -> Self {
        self.grid_pos.w = w;
        self.grid_pos.h = h;
        self
    }

    pub(crate) fn thresholds(mut self, t: Thresholds) -> Self {
        self.field_config.defaults.thresholds = Some(t);
        self
    }

    pub(crate) fn range(mut self, min: Option<f64>, max: Option<f64>) -> Self {
        self.field_config.defaults.min = min;
        self.field_config.defaults.max = max;
        self
    }

    pub(crate) fn decimals(mut self, d: u8) -> Self {
        self.field_config.defaults.decimals = Some(d);
        self
    }

    pub(crate) fn no_value(mut self, text: &'static str) -> Self {
        self.field_config.defaults.no_value = Some(text);
        self
    }

    /// Changes the time series' drawing.
    pub(crate) fn graph(mut self, f: impl FnOnce(GraphFieldConfig) -> GraphFieldConfig) -> Self {
        if let Some(Custom::Graph(g)) = self.field_config.defaults.custom.take() {
            self.field_config.defaults.custom = Some(Custom::Graph(f(g)));
        }
        self
    }

    pub(crate) fn table_legend(mut self) -> Self {
        if matches!(self.options, Options::TimeSeries(_)) {
            self.options = Options::TimeSeries(TimeSeriesOptions::table_legend());
        }
        self
    }

    /// A link on every value: a table row opens what it names.
    pub(crate) fn data_link(mut self, link: DashboardLink) -> Self {
        self.field_config.defaults.links.push(link);
        self
    }

    pub(crate) fn transform(mut self, t: Transformation) -> Self {
        self.transformations.push(t);
        self
    }

    /// Table rows sorted by a column, highest first.
    pub(crate) fn sorted_desc(mut self, column: &str) -> Self {
        if let Options::Table(t) = &mut self.options {
            t.sort_by = vec![crate::options::SortBy { display_name: column.to_owned(), desc: true }];
        }
        self
    }

    /// A fixed relative time range (`30d`) instead of the dashboard's.
    pub(crate) fn over(mut self, range: String) -> Self {
        self.time_from = Some(range);
        self
    }
}
