//! A picture of a dashboard's layout (SVG, from grid positions and titles),
//! so a reader sees what a dashboard holds without running Grafana.

use std::fmt::Write as _;

use crate::model::Dashboard;

const COL: u32 = 50;
const ROW: u32 = 30;
const PAD: u32 = 4;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Fill color by panel kind.
fn fill(kind: &str) -> &'static str {
    match kind {
        "timeseries" => "#1f3b57",
        "stat" => "#1d4d3a",
        "table" => "#4a3b1f",
        "heatmap" => "#5a2a1f",
        "bargauge" => "#3d2a57",
        _ => "#2b2f36",
    }
}

/// The layout as an SVG image.
pub fn svg(dashboard: &Dashboard) -> String {
    let height = dashboard.layout().map(|(_, _, pos)| pos.y + pos.h).max().unwrap_or(1) * ROW + 40;
    let width = 24 * COL;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#111217\"/>\n\
         <text x=\"8\" y=\"26\" font-size=\"18\" fill=\"#e6e6e6\">{}</text>\n",
        escape(dashboard.title())
    );
    for (kind, title, pos) in dashboard.layout() {
        let (x, y) = (pos.x * COL, pos.y * ROW + 40);
        if kind == "row" {
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"15\" font-weight=\"bold\" fill=\"#9fb3c8\">▾ {}</text>",
                x + 6,
                y + 21,
                escape(title)
            );
            continue;
        }
        let (w, h) = (pos.w * COL - PAD, pos.h * ROW - PAD);
        let _ = writeln!(
            out,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"3\" fill=\"{}\" stroke=\"#3a3f47\"/>\n\
             <text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#e6e6e6\">{}</text>\n\
             <text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#8e959e\">{kind}</text>",
            fill(kind),
            x + 8,
            y + 18,
            escape(title),
            x + 8,
            y + h - 8,
        );
    }
    out.push_str("</svg>\n");
    out
}
