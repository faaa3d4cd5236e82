//! Inline SVG charts for the HTML report, drawn from typed values: a line
//! chart (the SLI per day against the objective, the budget burning down,
//! latency percentiles) and a stacked bar chart (traffic by status class).
//! No script, no external asset: each chart is one `<svg>` element.

use std::fmt::Write as _;

use edgewatch_catalog::html::escape;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 40.0;

/// The vertical axis: its range and how its ticks read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Axis {
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) format: fn(f64) -> String,
}

impl Axis {
    /// An axis from 0 (or below, for values under 0) up to the largest value, rounded up to a round number.
    pub(crate) fn fitting(values: impl Iterator<Item = f64>, format: fn(f64) -> String) -> Self {
        let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
        for v in values.filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        Self { min: lo, max: nice(hi), format }
    }

    /// An axis from `max` down to 0 or, below 0, to a round number at or
    /// under `min` whose four ticks are round too.
    pub(crate) fn down_to(min: f64, max: f64, format: fn(f64) -> String) -> Self {
        if min >= 0.0 {
            return Self { min: 0.0, max, format };
        }
        let step = nice((max - min) / 4.0);
        Self { min: max - 4.0 * step, max, format }
    }

    fn y(&self, v: f64) -> f64 {
        let span = (self.max - self.min).max(f64::MIN_POSITIVE);
        let clamped = v.clamp(self.min, self.max);
        TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (clamped - self.min) / span)
    }
}

/// The smallest of 1, 2, 2.5, 5 × 10^k at or above `v`.
pub(crate) fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|n| *n >= v * 0.999_999).unwrap_or(10.0 * magnitude)
}

/// A line of a [`LineChart`].
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) name: String,
    pub(crate) color: &'static str,
    /// One per x label; `None` leaves a gap.
    pub(crate) points: Vec<Option<f64>>,
}

/// A dashed horizontal line (an objective).
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    pub(crate) value: f64,
    pub(crate) label: String,
}

/// Lines over the days of the period.
#[derive(Debug, Clone)]
pub(crate) struct LineChart {
    pub(crate) title: String,
    pub(crate) x_labels: Vec<String>,
    pub(crate) lines: Vec<Line>,
    pub(crate) axis: Axis,
    pub(crate) reference: Option<Reference>,
}

/// A series of a [`BarChart`], stacked in order from the bottom.
#[derive(Debug, Clone)]
pub(crate) struct Stack {
    pub(crate) name: String,
    pub(crate) color: &'static str,
    pub(crate) values: Vec<f64>,
}

/// Stacked bars, one per day.
#[derive(Debug, Clone)]
pub(crate) struct BarChart {
    pub(crate) title: String,
    pub(crate) x_labels: Vec<String>,
    pub(crate) stacks: Vec<Stack>,
    pub(crate) format: fn(f64) -> String,
}

fn x_at(i: usize, n: usize) -> f64 {
    let plot = WIDTH - LEFT - RIGHT;
    // Indices of a period's days are small.
    #[allow(clippy::cast_precision_loss)]
    let (i, n) = (i as f64, n.max(1) as f64);
    LEFT + plot * (i + 0.5) / n
}

fn frame(out: &mut String, title: &str, axis: &Axis, x_labels: &[String], legend: &[(&str, &str)]) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{t}" class="chart"><title>{t}</title><text x="{LEFT}" y="16" class="chart-title">{t}</text>"#,
        t = escape(title)
    );
    let mut x = WIDTH - RIGHT;
    for (name, color) in legend.iter().rev() {
        // About 6.5 units per character at the legend's size.
        #[allow(clippy::cast_precision_loss)]
        let w = 6.5 * name.chars().count() as f64 + 18.0;
        x -= w;
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="8" width="10" height="10" fill="{color}"/><text x="{:.1}" y="17" class="legend">{}</text>"#,
            x + 13.0,
            escape(name)
        );
    }
    for k in 0..=4 {
        let v = axis.min + (axis.max - axis.min) * f64::from(k) / 4.0;
        let y = axis.y(v);
        let _ = write!(
            out,
            r#"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escape(&(axis.format)(v))
        );
    }
    let every = x_labels.len().div_ceil(10).max(1);
    for (i, label) in x_labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"#,
            x_at(i, x_labels.len()),
            HEIGHT - BOTTOM + 16.0,
            escape(label)
        );
    }
}

impl LineChart {
    /// The chart as an `<svg>` element.
    pub(crate) fn svg(&self) -> String {
        let mut out = String::new();
        let legend: Vec<(&str, &str)> = self.lines.iter().map(|l| (l.name.as_str(), l.color)).collect();
        frame(&mut out, &self.title, &self.axis, &self.x_labels, &legend);
        if let Some(r) = &self.reference {
            let y = self.axis.y(r.value);
            let _ = write!(
                out,
                r#"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" class="reference"/><text x="{:.1}" y="{:.1}" class="reference-label" text-anchor="end">{}</text>"#,
                WIDTH - RIGHT,
                WIDTH - RIGHT - 4.0,
                y - 4.0,
                escape(&r.label)
            );
        }
        let n = self.x_labels.len();
        for line in &self.lines {
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (i, p) in line.points.iter().enumerate() {
                match p {
                    Some(v) if v.is_finite() => {
                        if let Some(run) = runs.last_mut() {
                            run.push((x_at(i, n), self.axis.y(*v)));
                        }
                    }
                    _ => runs.push(Vec::new()),
                }
            }
            for run in runs.iter().filter(|r| !r.is_empty()) {
                let points: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(
                    out,
                    r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
                    points.join(" "),
                    line.color
                );
                for (x, y) in run {
                    let _ = write!(out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="{}"/>"#, line.color);
                }
            }
        }
        out.push_str("</svg>");
        out
    }
}

impl BarChart {
    /// The chart as an `<svg>` element.
    pub(crate) fn svg(&self) -> String {
        let n = self.x_labels.len();
        let totals: Vec<f64> =
            (0..n).map(|i| self.stacks.iter().map(|s| s.values.get(i).copied().unwrap_or(0.0)).sum()).collect();
        let axis = Axis::fitting(totals.iter().copied(), self.format);
        let mut out = String::new();
        let legend: Vec<(&str, &str)> = self.stacks.iter().map(|s| (s.name.as_str(), s.color)).collect();
        frame(&mut out, &self.title, &axis, &self.x_labels, &legend);
        // Day counts are small.
        #[allow(clippy::cast_precision_loss)]
        let width = ((WIDTH - LEFT - RIGHT) / n.max(1) as f64 * 0.7).max(1.0);
        for i in 0..n {
            let mut base = 0.0;
            for s in &self.stacks {
                let v = s.values.get(i).copied().unwrap_or(0.0).max(0.0);
                if v > 0.0 {
                    let (top, bottom) = (axis.y(base + v), axis.y(base));
                    let _ = write!(
                        out,
                        r#"<rect x="{:.1}" y="{top:.1}" width="{width:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                        x_at(i, n) - width / 2.0,
                        (bottom - top).max(0.5),
                        s.color,
                        escape(&s.name),
                        escape(&(self.format)(v))
                    );
                }
                base += v;
            }
        }
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_and_text_is_escaped() {
        assert_eq!(nice(7.3), 10.0);
        assert_eq!(nice(0.21), 0.25);
        assert_eq!(nice(1200.0), 2000.0);
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn lines_break_at_missing_points() {
        let chart = LineChart {
            title: "t".into(),
            x_labels: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            lines: vec![Line { name: "x".into(), color: "#000", points: vec![Some(1.0), Some(2.0), None, Some(1.0)] }],
            axis: Axis::fitting([2.0].into_iter(), |v| format!("{v}")),
            reference: Some(Reference { value: 1.5, label: "objective".into() }),
        };
        let svg = chart.svg();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
