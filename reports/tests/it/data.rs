//! The history the tests backfill: 35 days of the exporters' counters for
//! three customers, one sample every five minutes, with known outages and a
//! known latency degradation; and the truth computed from the same slots.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use edgewatch_catalog::names::{label, le_label, metric, recorded};

/// The first sample: 2025-12-28T00:00:00Z.
pub(crate) const T0: i64 = 1_766_880_000;
/// Seconds between samples.
pub(crate) const STEP: i64 = 300;
/// Days of history.
pub(crate) const DAYS: i64 = 35;
/// Samples after the first.
pub(crate) const SLOTS: i64 = DAYS * 86_400 / STEP;

/// Histogram bounds: the exporter's, with the SLO threshold (0.3 s) added.
pub(crate) const BOUNDS: [f64; 7] = [0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5];

pub(crate) const CUSTOMERS: [&str; 3] = ["steady", "breach", "quiet"];

/// Unix seconds of a UTC time `YYYY-MM-DDTHH:MM`.
pub(crate) fn at(s: &str) -> i64 {
    format!("{s}:00Z").parse::<jiff::Timestamp>().unwrap().as_second()
}

/// Requests in one slot, by what the exporter counts.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Slot {
    pub(crate) ok: u64,
    pub(crate) client_errors: u64,
    pub(crate) server_errors: u64,
    /// Requests per latency bucket (not cumulative): one per bound, then +Inf.
    pub(crate) latency: [u64; 8],
    pub(crate) block: u64,
    pub(crate) challenge: u64,
    pub(crate) log: u64,
    pub(crate) probe_ok: u64,
    pub(crate) probe_failed: u64,
}

impl Slot {
    pub(crate) fn requests(&self) -> u64 {
        self.ok + self.client_errors + self.server_errors
    }
    pub(crate) fn slow(&self) -> u64 {
        // Slower than 0.3 s: the buckets above it.
        self.latency[4..].iter().sum()
    }
}

/// `[from, to)` windows of a customer's outages, with the share that fails.
pub(crate) fn outages(customer: &str) -> Vec<(i64, i64, u64)> {
    match customer {
        "steady" => vec![
            (at("2026-01-14T10:00"), at("2026-01-14T10:20"), 100),
            (at("2026-01-20T15:00"), at("2026-01-20T15:05"), 10),
        ],
        "breach" => vec![
            (at("2025-12-31T23:00"), at("2026-01-01T01:00"), 100),
            (at("2026-01-09T02:00"), at("2026-01-09T05:00"), 50),
            (at("2026-01-25T12:00"), at("2026-01-25T14:00"), 100),
        ],
        _ => vec![],
    }
}

/// The latency degradation: `breach` answers 20% of its requests in over
/// 0.3 s on January 17 and 18.
pub(crate) fn degraded(customer: &str, end: i64) -> bool {
    customer == "breach" && end > at("2026-01-17T00:00") && end <= at("2026-01-19T00:00")
}

/// What `customer` served in the slot ending at `end` (covering `(end - STEP, end]`).
pub(crate) fn slot(customer: &str, end: i64) -> Slot {
    let minute_of_day = (end.rem_euclid(86_400)) / 60;
    // A diurnal shape: 8/s at night, up to 16/s mid-afternoon.
    let hour = minute_of_day / 60;
    let tri = 12 - (hour - 15).abs().min(12);
    let requests: u64 =
        if customer == "quiet" { u64::from(end % 3600 == 0) } else { u64::try_from(2400 + 200 * tri).unwrap() };
    let failing =
        outages(customer).iter().find(|(a, b, _)| end - STEP >= *a && end <= *b).map_or(0, |(_, _, share)| *share);
    let server_errors = requests * failing / 100;
    let client_errors = (requests - server_errors) / 50;
    let ok = requests - server_errors - client_errors;
    let slow = if degraded(customer, end) { requests / 5 } else { requests * 3 / 1000 };
    let (b03, b025, b01) = (requests / 500, requests * 25 / 1000, requests * 7 / 100);
    let mut latency = [0u64; 8];
    latency[1] = b01;
    latency[2] = b025;
    latency[3] = b03;
    latency[4] = slow * 2 / 3;
    latency[5] = slow - slow * 2 / 3;
    latency[0] = requests - b01 - b025 - b03 - slow;
    let attack = customer == "breach" && end > at("2026-01-22T00:00") && end <= at("2026-01-23T00:00");
    let (probe_ok, probe_failed) =
        if customer == "steady" { if failing == 100 { (0, 5) } else { (5, 0) } } else { (0, 0) };
    Slot {
        ok,
        client_errors,
        server_errors,
        latency,
        block: if customer == "quiet" {
            0
        } else if attack {
            500
        } else {
            5
        },
        challenge: if customer == "quiet" { 0 } else { 2 },
        log: if customer == "quiet" { 0 } else { 10 },
        probe_ok,
        probe_failed,
    }
}

/// The slots ending in `(from, to]`.
pub(crate) fn slots(customer: &str, from: i64, to: i64) -> impl Iterator<Item = Slot> + '_ {
    let first = (from - T0) / STEP + 1;
    let last = (to - T0) / STEP;
    (first..=last).map(move |k| slot(customer, T0 + k * STEP))
}

/// The exporter instance that counts `steady` and `breach` (`quiet`'s
/// series have no instance, like history from another source: reports
/// read them with `increase()` throughout).
pub(crate) const INSTANCE: &str = "exporter-a:9101";
/// The exporter restarts just after this sample: its counters start again
/// from zero, and its start time changes.
pub(crate) const RESTART: i64 = 1_769_061_600; // 2026-01-22T06:00:00Z
/// Rule-gen's recorded request rate exists for `steady` from then on.
pub(crate) const RULES_LOADED: i64 = 1_767_916_800; // 2026-01-09T00:00:00Z

/// When the steady customer's certificate expires.
pub(crate) const NOT_AFTER: i64 = 1_772_668_800; // 2026-03-05T00:00:00Z

/// Writes the history as OpenMetrics text for `promtool tsdb
/// create-blocks-from openmetrics`.
pub(crate) fn write_openmetrics(path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let all: Vec<(&str, Vec<Slot>)> =
        CUSTOMERS.iter().map(|c| (*c, (1..=SLOTS).map(|k| slot(c, T0 + k * STEP)).collect())).collect();
    let series = |out: &mut std::io::BufWriter<std::fs::File>,
                  name: &str,
                  labels: &str,
                  pick: &dyn Fn(&Slot) -> f64,
                  slots: &[Slot],
                  counter: bool| {
        let mut line = String::new();
        let mut total = 0.0;
        let exported = !labels.contains("\"quiet\"");
        let labels = if exported { format!("{labels},instance=\"{INSTANCE}\"") } else { labels.to_owned() };
        for (k, s) in std::iter::once(None).chain(slots.iter().map(Some)).enumerate() {
            let t = T0 + i64::try_from(k).unwrap() * STEP;
            if let Some(s) = s {
                if counter && exported && t - STEP == RESTART {
                    total = pick(s);
                } else if counter {
                    total += pick(s);
                } else {
                    total = pick(s);
                }
            }
            line.clear();
            let _ = writeln!(line, "{name}{{{labels}}} {total} {t}");
            out.write_all(line.as_bytes()).unwrap();
        }
    };
    let family = |out: &mut std::io::BufWriter<std::fs::File>, name: &str, kind: &str| {
        writeln!(out, "# TYPE {name} {kind}").unwrap();
    };
    let c = label::CUSTOMER;

    family(&mut out, metric::SLO_REQUESTS_TOTAL.trim_end_matches("_total"), "counter");
    for (id, slots) in &all {
        // Availability as an exporter from before `slo_kind` wrote it; the
        // latency SLO's verdicts as the exporter judges them (the histogram
        // below agrees: its buckets have the threshold).
        let availability: [&dyn Fn(&Slot) -> f64; 2] =
            [&|s| (s.ok + s.client_errors) as f64, &|s| s.server_errors as f64];
        let latency: [&dyn Fn(&Slot) -> f64; 2] = [&|s| (s.requests() - s.slow()) as f64, &|s| s.slow() as f64];
        let mut slos = vec![(format!("{}=\"availability\"", label::SLO), availability)];
        if *id != "quiet" {
            slos.push((format!("{}=\"ttfb\",{}=\"latency\"", label::SLO, label::SLO_KIND), latency));
        }
        for (slo, picks) in &slos {
            for (result, pick) in ["good", "bad"].into_iter().zip(picks) {
                let labels = format!("{c}=\"{id}\",{slo},{}=\"{result}\"", label::RESULT);
                series(&mut out, metric::SLO_REQUESTS_TOTAL, &labels, *pick, slots, true);
            }
        }
    }
    family(&mut out, metric::REQUESTS_TOTAL.trim_end_matches("_total"), "counter");
    for (id, slots) in &all {
        let classes: [(&str, &dyn Fn(&Slot) -> f64); 3] =
            [("2xx", &|s| s.ok as f64), ("4xx", &|s| s.client_errors as f64), ("5xx", &|s| s.server_errors as f64)];
        for (class, pick) in classes {
            let labels = format!(
                "{c}=\"{id}\",{}=\"www.{id}.example\",{}=\"{class}\",{}=\"miss\"",
                label::HOST,
                label::STATUS_CLASS,
                label::CACHE_STATUS
            );
            series(&mut out, metric::REQUESTS_TOTAL, &labels, pick, slots, true);
        }
    }
    family(&mut out, metric::EDGE_TTFB_SECONDS, "histogram");
    for (id, slots) in &all {
        let host = format!("{c}=\"{id}\",{}=\"www.{id}.example\"", label::HOST);
        for i in 0..=BOUNDS.len() {
            let le = BOUNDS.get(i).map_or_else(|| "+Inf".to_owned(), |b| le_label(*b));
            let pick = move |s: &Slot| s.latency[..=i].iter().sum::<u64>() as f64;
            series(
                &mut out,
                &format!("{}_bucket", metric::EDGE_TTFB_SECONDS),
                &format!("{host},le=\"{le}\""),
                &pick,
                slots,
                true,
            );
        }
        series(&mut out, &format!("{}_count", metric::EDGE_TTFB_SECONDS), &host, &|s| s.requests() as f64, slots, true);
        series(
            &mut out,
            &format!("{}_sum", metric::EDGE_TTFB_SECONDS),
            &host,
            &|s| s.requests() as f64 * 0.04,
            slots,
            true,
        );
    }
    family(&mut out, metric::SECURITY_ACTIONS_TOTAL.trim_end_matches("_total"), "counter");
    for (id, slots) in &all {
        let actions: [(&str, &dyn Fn(&Slot) -> f64); 3] = [
            ("block", &|s| s.block as f64),
            ("managed_challenge", &|s| s.challenge as f64),
            ("log", &|s| s.log as f64),
        ];
        for (action, pick) in actions {
            let labels = format!("{c}=\"{id}\",{}=\"www.{id}.example\",{}=\"{action}\"", label::HOST, label::ACTION);
            series(&mut out, metric::SECURITY_ACTIONS_TOTAL, &labels, pick, slots, true);
        }
    }
    family(&mut out, metric::PROBES_TOTAL.trim_end_matches("_total"), "counter");
    let steady = &all[0].1;
    for (result, pick) in [
        ("success", &(|s: &Slot| s.probe_ok as f64) as &dyn Fn(&Slot) -> f64),
        ("failure", &|s: &Slot| s.probe_failed as f64),
    ] {
        let labels = format!(
            "{c}=\"steady\",{}=\"home\",{}=\"192.0.2.10\",{}=\"{result}\"",
            label::PROBE,
            label::IP,
            label::RESULT
        );
        series(&mut out, metric::PROBES_TOTAL, &labels, pick, steady, true);
    }
    family(&mut out, metric::PROBE_TLS_NOT_AFTER, "gauge");
    #[allow(clippy::cast_precision_loss)]
    let not_after = NOT_AFTER as f64;
    series(
        &mut out,
        metric::PROBE_TLS_NOT_AFTER,
        &format!("{c}=\"steady\",{}=\"home\"", label::PROBE),
        &|_| not_after,
        steady,
        false,
    );
    // The exporter's own series, and the recorded request rate.
    family(&mut out, metric::EXPORTER_START_TIME_SECONDS, "gauge");
    let mut line = String::new();
    for k in 0..=SLOTS {
        let t = T0 + k * STEP;
        let started = if t > RESTART { RESTART + 1 } else { T0 - 3600 };
        let _ = writeln!(line, "{}{{instance=\"{INSTANCE}\"}} {started} {t}", metric::EXPORTER_START_TIME_SECONDS);
    }
    out.write_all(line.as_bytes()).unwrap();
    line.clear();
    family(&mut out, metric::EXPORTER_EXPIRED_HOSTS_TOTAL.trim_end_matches("_total"), "counter");
    for k in 0..=SLOTS {
        let _ =
            writeln!(line, "{}{{instance=\"{INSTANCE}\"}} 0 {}", metric::EXPORTER_EXPIRED_HOSTS_TOTAL, T0 + k * STEP);
    }
    out.write_all(line.as_bytes()).unwrap();
    line.clear();
    family(&mut out, recorded::REQUESTS_5M, "gauge");
    for (k, s) in steady.iter().enumerate() {
        let t = T0 + (i64::try_from(k).unwrap() + 1) * STEP;
        if t >= RULES_LOADED {
            let rate = s.requests() as f64 / 300.0;
            let _ = writeln!(line, "{}{{{c}=\"steady\"}} {rate} {t}", recorded::REQUESTS_5M);
        }
    }
    out.write_all(line.as_bytes()).unwrap();
    writeln!(out, "# EOF").unwrap();
    out.flush().unwrap();
}

/// The test's catalog.
pub(crate) const CATALOG: &str = "
defaults:
  slos:
    availability: {objective: 99.9, period: 30d, errors: [5xx]}
  alerting:
    min_requests: 1000
customers:
  - id: steady
    name: Steady Shop
    hosts: [www.steady.example]
    slos:
      latency:
        ttfb: {source: edge_ttfb, threshold: 300ms, objective: 99, period: 30d}
      probe: {objective: 99, period: 30d}
    probes:
      - name: home
        url: https://www.steady.example/
  - id: breach
    name: Breach Bank
    tier: gold
    hosts: [www.breach.example]
    slos:
      latency:
        ttfb: {source: edge_ttfb, threshold: 300ms, objective: 99, period: 30d}
  - id: quiet
    name: Quiet Blog
    hosts: [www.quiet.example]
tiers:
  gold: {}
";
