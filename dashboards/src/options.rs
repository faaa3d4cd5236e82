//! Panel options and custom field settings of the panel kinds edgewatch
//! draws: what the panel plugins' own schemas require, nothing more.

use serde::Serialize;

/// A panel's `options`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum Options {
    TimeSeries(TimeSeriesOptions),
    Stat(StatOptions),
    Table(TableOptions),
    Heatmap(HeatmapOptions),
    BarGauge(BarGaugeOptions),
    Text(TextOptions),
}

/// A panel's `fieldConfig.defaults.custom`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum Custom {
    Graph(GraphFieldConfig),
    Table(TableFieldConfig),
    Heatmap(HeatmapFieldConfig),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::struct_field_names)] // Grafana's names
pub(crate) struct Legend {
    pub(crate) display_mode: &'static str,
    pub(crate) placement: &'static str,
    pub(crate) show_legend: bool,
    pub(crate) calcs: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Tooltip {
    pub(crate) mode: &'static str,
    pub(crate) sort: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TimeSeriesOptions {
    pub(crate) legend: Legend,
    pub(crate) tooltip: Tooltip,
}

impl TimeSeriesOptions {
    /// A table legend on the right with the last and max values: what a
    /// NOC reads when several series share a panel.
    pub(crate) fn table_legend() -> Self {
        Self {
            legend: Legend {
                display_mode: "table",
                placement: "right",
                show_legend: true,
                calcs: vec!["lastNotNull", "max"],
            },
            tooltip: Tooltip { mode: "multi", sort: "desc" },
        }
    }

    pub(crate) fn list_legend() -> Self {
        Self {
            legend: Legend { display_mode: "list", placement: "bottom", show_legend: true, calcs: Vec::new() },
            tooltip: Tooltip { mode: "multi", sort: "desc" },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Stacking {
    pub(crate) mode: &'static str,
    pub(crate) group: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ThresholdsStyle {
    pub(crate) mode: &'static str,
}

/// Custom field settings of time series panels.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphFieldConfig {
    pub(crate) draw_style: &'static str,
    pub(crate) line_interpolation: &'static str,
    pub(crate) line_width: u8,
    pub(crate) fill_opacity: u8,
    pub(crate) show_points: &'static str,
    pub(crate) span_nulls: bool,
    pub(crate) stacking: Stacking,
    pub(crate) thresholds_style: ThresholdsStyle,
}

impl GraphFieldConfig {
    pub(crate) fn lines() -> Self {
        Self {
            draw_style: "line",
            line_interpolation: "linear",
            line_width: 1,
            fill_opacity: 10,
            show_points: "never",
            span_nulls: false,
            stacking: Stacking { mode: "none", group: "A" },
            thresholds_style: ThresholdsStyle { mode: "off" },
        }
    }

    pub(crate) fn stacked(mut self, mode: &'static str) -> Self {
        self.stacking.mode = mode;
        self.fill_opacity = 60;
        self
    }

    /// Draws the thresholds as dashed lines: an SLO's limit on its graph.
    pub(crate) fn threshold_lines(mut self) -> Self {
        self.thresholds_style.mode = "dashed";
        self
    }

    pub(crate) fn steps(mut self) -> Self {
        self.line_interpolation = "stepAfter";
        self
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReduceOptions {
    pub(crate) values: bool,
    pub(crate) calcs: Vec<&'static str>,
    pub(crate) fields: &'static str,
}

impl ReduceOptions {
    pub(crate) fn last() -> Self {
        Self { values: false, calcs: vec!["lastNotNull"], fields: "" }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatOptions {
    pub(crate) graph_mode: &'static str,
    pub(crate) color_mode: &'static str,
    pub(crate) justify_mode: &'static str,
    pub(crate) text_mode: &'static str,
    pub(crate) wide_layout: bool,
    pub(crate) show_percent_change: bool,
    pub(crate) percent_change_color_mode: &'static str,
    pub(crate) orientation: &'static str,
    pub(crate) reduce_options: ReduceOptions,
}

impl StatOptions {
    /// The last value of each series, named, colored by thresholds.
    pub(crate) fn last_value() -> Self {
        Self {
            graph_mode: "area",
            color_mode: "value",
            justify_mode: "auto",
            text_mode: "value_and_name",
            wide_layout: true,
            show_percent_change: false,
            percent_change_color_mode: "standard",
            orientation: "auto",
            reduce_options: ReduceOptions::last(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SortBy {
    #[serde(rename = "displayName")]
    pub(crate) display_name: String,
    pub(crate) desc: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TableOptions {
    pub(crate) frame_index: u32,
    pub(crate) show_header: bool,
    pub(crate) cell_height: &'static str,
    pub(crate) sort_by: Vec<SortBy>,
}

/// Custom field settings of table panels. No `cellOptions`: the default
/// (`auto`) is what edgewatch wants, and the schema's `oneOf` cannot tell it
/// from the other kinds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TableFieldConfig {
    pub(crate) align: &'static str,
    pub(crate) inspect: bool,
    pub(crate) filterable: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BarGaugeOptions {
    pub(crate) display_mode: &'static str,
    pub(crate) value_mode: &'static str,
    pub(crate) name_placement: &'static str,
    pub(crate) show_unfilled: bool,
    pub(crate) sizing: &'static str,
    pub(crate) min_viz_width: u32,
    pub(crate) min_viz_height: u32,
    pub(crate) max_viz_height: u32,
    pub(crate) legend: Legend,
    pub(crate) reduce_options: ReduceOptions,
    pub(crate) orientation: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HeatmapColor {
    pub(crate) mode: &'static str,
    pub(crate) scheme: &'static str,
    pub(crate) fill: &'static str,
    pub(crate) scale: &'static str,
    pub(crate) exponent: f64,
    pub(crate) steps: u32,
    pub(crate) reverse: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HeatmapYAxis {
    pub(crate) unit: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct RowsFrame {
    pub(crate) layout: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Show {
    pub(crate) show: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HeatmapTooltip {
    pub(crate) mode: &'static str,
    #[serde(rename = "yHistogram")]
    pub(crate) y_histogram: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Color {
    pub(crate) color: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HeatmapOptions {
    /// The exporter's buckets are the cells: nothing to calculate.
    pub(crate) calculate: bool,
    pub(crate) color: HeatmapColor,
    pub(crate) rows_frame: RowsFrame,
    pub(crate) show_value: &'static str,
    pub(crate) y_axis: HeatmapYAxis,
    pub(crate) legend: Show,
    pub(crate) tooltip: HeatmapTooltip,
    pub(crate) exemplars: Color,
}

impl HeatmapOptions {
    pub(crate) fn buckets(unit: &'static str) -> Self {
        Self {
            calculate: false,
            color: HeatmapColor {
                mode: "scheme",
                scheme: "Oranges",
                fill: "dark-orange",
                scale: "exponential",
                exponent: 0.5,
                steps: 64,
                reverse: false,
            },
            rows_frame: RowsFrame { layout: "le" },
            show_value: "never",
            y_axis: HeatmapYAxis { unit },
            legend: Show { show: true },
            tooltip: HeatmapTooltip { mode: "single", y_histogram: true },
            exemplars: Color { color: "rgba(255,0,255,0.7)" },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HideFrom {
    pub(crate) tooltip: bool,
    pub(crate) legend: bool,
    pub(crate) viz: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScaleDistribution {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
}

/// Custom field settings of heatmap panels.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HeatmapFieldConfig {
    pub(crate) hide_from: HideFrom,
    pub(crate) scale_distribution: ScaleDistribution,
}

/// The options of a text panel: Markdown.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TextOptions {
    pub(crate) mode: &'static str,
    pub(crate) content: String,
}
