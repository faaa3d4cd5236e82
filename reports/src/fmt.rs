//! How numbers, times and durations read in the Markdown and HTML formats:
//! both call these, so the same figure prints the same in each (a test
//! holds them to the JSON).

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A ratio as a percentage with `decimals` decimals (`99.953%`); `–` for none.
/// An incident's top offenders in one line: those the suggested rule
/// named (or else the heaviest three), each with its share of the
/// customer's refused or failed requests; "not recorded" when none.
pub(crate) fn offenders(list: &[crate::incidents::Offender]) -> String {
    let named: Vec<_> = list.iter().filter(|o| o.named).collect();
    let shown = if named.is_empty() { list.iter().take(3).collect() } else { named };
    if shown.is_empty() {
        return "not recorded".to_owned();
    }
    let one = |o: &crate::incidents::Offender| {
        let what = match o.dimension.as_str() {
            "ip" => "IP",
            "asn" => "AS",
            "user_agent" => "user agent",
            other => other,
        };
        // Offender values come from request logs: no line breaks or pipes in a table.
        let value: String = o.value.chars().map(|c| if c.is_control() || c == '|' { ' ' } else { c }).collect();
        format!("{what} {value} ({})", pct(Some(o.offending_share), 1))
    };
    shown.into_iter().map(one).collect::<Vec<_>>().join(", ")
}

pub(crate) fn pct(ratio: Option<f64>, decimals: usize) -> String {
    ratio.map_or_else(|| "–".to_owned(), |r| format!("{:.decimals$}%", r * 100.0))
}

/// An SLI: three decimals of a percent.
pub(crate) fn sli(ratio: Option<f64>) -> String {
    pct(ratio, 3)
}

/// A share of a budget: one decimal of a percent.
pub(crate) fn budget(ratio: Option<f64>) -> String {
    pct(ratio, 1)
}

/// An objective as the catalog writes it (`99.9%`).
pub(crate) fn objective(percent: f64) -> String {
    format!("{percent}%")
}

/// A count, rounded, with thousands separators (`1,234,567`).
pub(crate) fn count(n: f64) -> String {
    // Counts are far under 2^53.
    #[allow(clippy::cast_possible_truncation)]
    let n = n.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A request rate (`12.5/s`).
pub(crate) fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "–".to_owned(), |r| format!("{r:.1}/s"))
}

/// A latency in seconds, as milliseconds under a second (`120 ms`, `2.50 s`).
pub(crate) fn latency(s: Option<f64>) -> String {
    match s {
        None => "–".to_owned(),
        Some(s) if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        Some(s) => format!("{s:.2} s"),
    }
}

/// A time in the report's zone (`2026-11-03 14:05 CET`).
pub(crate) fn time(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

/// A duration in seconds, in words (`2d 3h`, `1h 5m`, `45m`, `30s`).
pub(crate) fn duration(seconds: f64) -> String {
    // Durations are whole seconds for display.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = seconds.max(0.0).round() as u64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// Days, one decimal (`41.5 days`).
pub(crate) fn days(d: Option<f64>) -> String {
    d.map_or_else(|| "–".to_owned(), |d| format!("{d:.1} days"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(count(1_234_567.4), "1,234,567");
        assert_eq!(count(999.0), "999");
        assert_eq!(sli(Some(0.999_534)), "99.953%");
        assert_eq!(budget(Some(1.2346)), "123.5%");
        assert_eq!(pct(None, 1), "–");
        assert_eq!(latency(Some(0.1204)), "120 ms");
        assert_eq!(latency(Some(2.5)), "2.50 s");
        assert_eq!(duration(3900.0), "1h 5m");
        assert_eq!(duration(187_200.0), "2d 4h");
        assert_eq!(objective(99.9), "99.9%");
    }
}
