//! Alerts on traffic itself, shared by every customer: origin failures,
//! anomalies against last week and the last hour, and suspected attacks.
//! Each waits for the customer's traffic floor over the last hour, and takes
//! its severity from the customer's policy (no constant, no alert).

use edgewatch_catalog::names::{AlertKind, alertname, label, metric};

use crate::alerts::{Links, kind_alert};
use crate::constants::CUSTOMER_MIN_REQUESTS;
use crate::rules::{Group, Rule};

/// Share of requests the origin failed that makes an alert.
pub(crate) const ORIGIN_ERROR_SHARE: &str = "0.05";
/// A drop below this fraction, or a spike above this multiple, of both last
/// week and the last hour is an anomaly.
pub(crate) const DROP_BELOW: &str = "0.5";
pub(crate) const SPIKE_ABOVE: &str = "3";
/// Blocked or challenged share that, at three times its daily baseline,
/// suggests an attack; and the same for 4xx.
pub(crate) const MITIGATED_SHARE: &str = "0.1";
pub(crate) const CLIENT_ERROR_SHARE: &str = "0.2";

use edgewatch_catalog::names::recorded::{
    CLIENT_ERRORS_1D, CLIENT_ERRORS_10M, CLIENT_ERRORS_RATE_10M, MITIGATED_1D, MITIGATED_10M, MITIGATED_RATE_10M,
    ORIGIN_ERRORS_10M, REQUESTS_1H, REQUESTS_5M, REQUESTS_10M, client_errors_ratio, mitigated_ratio,
    origin_errors_ratio, requests_rate,
};

/// The windows `edgewatch-traffic` records request rates over.
const TRAFFIC_WINDOWS: [&str; 3] = ["5m", "10m", "1h"];

fn by_customer(expr: &str) -> String {
    format!("sum by ({}) ({expr})", label::CUSTOMER)
}

fn reqs(w: &str) -> String {
    by_customer(&format!("rate({}[{w}])", metric::REQUESTS_TOTAL))
}

/// `part` over `total`, both per customer; absent without requests.
fn share(part: &str, total: &str) -> String {
    format!("{part}\n/\n({total} > 0)")
}

fn origin_errors(w: &str) -> String {
    by_customer(&format!("rate({}[{w}])", metric::ORIGIN_ERRORS_TOTAL))
}

fn mitigated(w: &str) -> String {
    by_customer(&format!(
        "rate({}{{{}=~\"{}\"}}[{w}])",
        metric::SECURITY_ACTIONS_TOTAL,
        label::ACTION,
        edgewatch_catalog::names::MITIGATING_ACTIONS
    ))
}

fn client_errors(w: &str) -> String {
    by_customer(&format!("rate({}{{{}=\"4xx\"}}[{w}])", metric::REQUESTS_TOTAL, label::STATUS_CLASS))
}

/// The day's share from the recorded 10m rates: their sums over the day
/// (each request in ten of them, above and below alike), where `rate()`
/// over a day of raw counters would read every scrape of every host series.
fn day_share(part: &str) -> String {
    share(&format!("sum_over_time({part}[1d])"), &format!("sum_over_time({REQUESTS_10M}[1d])"))
}

/// Each raw counter is read once a window; the rules after the request
/// rates read them recorded (a group evaluates its rules in order).
fn recordings() -> Vec<Rule> {
    vec![
        Rule::record(REQUESTS_5M, reqs("5m")),
        Rule::record(REQUESTS_10M, reqs("10m")),
        Rule::record(REQUESTS_1H, reqs("1h")),
        Rule::record(MITIGATED_RATE_10M, mitigated("10m")),
        Rule::record(CLIENT_ERRORS_RATE_10M, client_errors("10m")),
        Rule::record(ORIGIN_ERRORS_10M, share(&origin_errors("10m"), REQUESTS_10M)),
        Rule::record(MITIGATED_10M, share(MITIGATED_RATE_10M, REQUESTS_10M)),
        Rule::record(MITIGATED_1D, day_share(MITIGATED_RATE_10M)),
        Rule::record(CLIENT_ERRORS_10M, share(CLIENT_ERRORS_RATE_10M, REQUESTS_10M)),
        Rule::record(CLIENT_ERRORS_1D, day_share(CLIENT_ERRORS_RATE_10M)),
    ]
}

/// The shares over `w` (the fast tier's confirm window), which say a
/// trouble still goes on, so an alert ends minutes after its cause and none
/// starts after it from a 10-minute window that still holds it. Recorded
/// each minute with the other traffic rates: every scrape interval, these
/// reads of every host's raw counters cost more than all the traffic alerts
/// together, for alerts that wait five or ten minutes anyway. The request
/// rate they share is recorded first, unless the 10m-and-longer rates
/// include that window already (a series has one writer).
fn acute(w: &str) -> Vec<Rule> {
    let mut rules = Vec::new();
    let total = if TRAFFIC_WINDOWS.contains(&w) {
        reqs(w)
    } else {
        rules.push(Rule::record(requests_rate(w), reqs(w)));
        requests_rate(w)
    };
    rules.extend([
        Rule::record(origin_errors_ratio(w), share(&origin_errors(w), &total)),
        Rule::record(mitigated_ratio(w), share(&mitigated(w), &total)),
        Rule::record(client_errors_ratio(w), share(&client_errors(w), &total)),
    ]);
    rules
}

/// `expr` for customers with enough traffic over the last hour.
fn guarded(expr: &str) -> String {
    let c = label::CUSTOMER;
    format!("  (\n{expr}\n  )\n  and on ({c})\n  ({REQUESTS_1H} * 3600 >= on ({c}) {CUSTOMER_MIN_REQUESTS})")
}

/// The traffic recordings and alerts, each minute: the alerts hold for
/// five or ten minutes, and read rates recorded each minute.
pub(crate) fn groups(links: &Links, confirm: &str) -> Vec<Group> {
    let c = label::CUSTOMER;
    // The recorded rates, a week and ten minutes back: a raw `rate()` over
    // them would read an hour of every host series every evaluation.
    let week = format!("{REQUESTS_10M} offset 1w");
    let hour_before = format!("{REQUESTS_1H} offset 10m");
    let alerts = vec![
        kind_alert(
            "EdgewatchOriginErrors",
            AlertKind::OriginErrors,
            &guarded(&format!(
                "{ORIGIN_ERRORS_10M} > {ORIGIN_ERROR_SHARE}\nand on ({c})\n{} > {ORIGIN_ERROR_SHARE}",
                origin_errors_ratio(confirm)
            )),
            "5m",
            [
                "{{ $labels.customer }}: the origin failed {{ $value | humanizePercentage }} of requests",
                "{{ $labels.customer }}: {{ $value | humanizePercentage }} of requests over the last 10 minutes failed at the origin (52x, unreachable or 5xx). Look at the kinds on the dashboard: connection errors point at the origin's network, timeouts at its load.",
            ],
            links,
        ),
        kind_alert(
            "EdgewatchTrafficDrop",
            AlertKind::TrafficAnomaly,
            &guarded(&format!(
                "{REQUESTS_10M} < {DROP_BELOW} * {week}\nand on ({c})\n{REQUESTS_10M} < {DROP_BELOW} * {hour_before}"
            )),
            "10m",
            [
                "{{ $labels.customer }}: traffic dropped to {{ $value | humanize }} requests/s",
                "{{ $labels.customer }}: requests fell below half of both the same time last week and the hour before. Check DNS, the customer's own changes, and whether logs still arrive.",
            ],
            links,
        ),
        kind_alert(
            alertname::TRAFFIC_SPIKE,
            AlertKind::TrafficAnomaly,
            &guarded(&format!(
                "{REQUESTS_10M} > {SPIKE_ABOVE} * {week}\nand on ({c})\n{REQUESTS_10M} > {SPIKE_ABOVE} * {hour_before}"
            )),
            "10m",
            [
                "{{ $labels.customer }}: traffic rose to {{ $value | humanize }} requests/s",
                "{{ $labels.customer }}: requests rose above three times both the same time last week and the hour before. Check the top offenders (/api/v1/top) before assuming a campaign or a launch.",
            ],
            links,
        ),
        kind_alert(
            "EdgewatchSuspectedAttack",
            AlertKind::Attack,
            &guarded(&format!(
                "{MITIGATED_10M} > {MITIGATED_SHARE}\nand on ({c})\n{MITIGATED_10M} > 3 * {MITIGATED_1D}\nand on ({c})\n{} > {MITIGATED_SHARE}",
                mitigated_ratio(confirm)
            )),
            "5m",
            [
                "{{ $labels.customer }}: {{ $value | humanizePercentage }} of requests blocked or challenged",
                "{{ $labels.customer }}: security rules blocked or challenged {{ $value | humanizePercentage }} of requests over the last 10 minutes, three times the day's share. Look at the top offenders by IP, ASN, country, path and user agent, and consider a rule for the heaviest.",
            ],
            links,
        ),
        kind_alert(
            "EdgewatchClientErrorSurge",
            AlertKind::Attack,
            &guarded(&format!(
                "{CLIENT_ERRORS_10M} > {CLIENT_ERROR_SHARE}\nand on ({c})\n{CLIENT_ERRORS_10M} > 3 * {CLIENT_ERRORS_1D}\nand on ({c})\n{} > {CLIENT_ERROR_SHARE}",
                client_errors_ratio(confirm)
            )),
            "5m",
            [
                "{{ $labels.customer }}: {{ $value | humanizePercentage }} of requests answered with 4xx",
                "{{ $labels.customer }}: 4xx answers rose to {{ $value | humanizePercentage }} of requests over the last 10 minutes, three times the day's share: scanning, credential stuffing, or a broken client release.",
            ],
            links,
        ),
    ];
    vec![
        Group {
            name: "edgewatch-traffic".to_owned(),
            interval: Some("1m".to_owned()),
            partial_response_strategy: None,
            rules: recordings().into_iter().chain(acute(confirm)).collect(),
        },
        Group {
            name: "edgewatch-traffic-alerts".to_owned(),
            interval: Some("1m".to_owned()),
            partial_response_strategy: None,
            rules: alerts,
        },
    ]
}
