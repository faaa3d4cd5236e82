//! Scenarios from raw exporter series, run by the real promtool against the
//! rules the catalog renders, so the recording rules are exercised along
//! with the alerts: a diurnal week and more of healthy traffic for every
//! SLO period, fresh starts, 10× and 5× burns, full outages and their
//! recovery, the exporter down, one customer's traffic stopping, and a
//! latency SLO no exporter counts.
//!
//! Traffic is drawn with Poisson noise from a fixed seed, so a run is
//! repeatable and the noise is what real traffic has. promtool refuses a
//! query over 10,000 samples: scenarios of days sample each minute and
//! evaluate every five (rules rendered for a 1m scrape), and each SLO
//! period gets a test group of its own.
//!
//! `detection_times` (ignored; `cargo test -p edgewatch-rule-gen --test
//! scenarios -- --ignored --nocapture`) measures when each tier first fires
//! for a range of burn rates: the table in docs/alerts.md.

// Helpers outside #[test] functions: a failed unwrap is a failed test here.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use edgewatch_rule_gen::{Options, Target, render};
use edgewatch_test_kit::tool;

/// A small, fast, repeatable generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A Poisson draw: Knuth's product for small means, the normal
    /// approximation (Box–Muller) for large ones.
    fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean < 30.0 {
            let limit = (-mean).exp();
            let (mut k, mut p) = (0u64, 1.0);
            loop {
                p *= self.uniform();
                if p <= limit {
                    return k;
                }
                k += 1;
            }
        }
        let (u1, u2) = (self.uniform().max(1e-12), self.uniform());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (mean + z * mean.sqrt()).round().max(0.0) as u64
    }
}

/// What one customer's traffic does, minute by minute (fractional minutes
/// allowed): requests per second, and the shares that fail the
/// availability SLO, are slower than the latency threshold, and failed at
/// the origin.
#[derive(Clone, Copy)]
struct Traffic {
    rps: fn(f64) -> f64,
    bad: fn(f64) -> f64,
    slow: fn(f64) -> f64,
    origin: fn(f64) -> f64,
    /// Draw counts with Poisson noise (else exact expectations).
    noisy: bool,
    /// Minutes after which the exporter stops being scraped (its series go
    /// stale).
    gone_after: Option<f64>,
}

fn zero(_: f64) -> f64 {
    0.0
}

/// A customer of the scenario catalog.
struct Customer {
    id: &'static str,
    period: &'static str,
    /// A latency SLO on edge TTFB (300ms threshold, 99%), besides 99.9% availability.
    latency: bool,
    /// Whether the exporter counts the latency SLO's events.
    measured: bool,
    traffic: Traffic,
}

impl Customer {
    fn new(id: &'static str, period: &'static str, traffic: Traffic) -> Self {
        Self { id, period, latency: false, measured: true, traffic }
    }

    fn with_latency(mut self) -> Self {
        self.latency = true;
        self
    }
}

fn catalog(customers: &[Customer]) -> edgewatch_catalog::Catalog {
    let mut y = String::from("destinations:\n  log: {log: {path: '-'}}\ncustomers:\n");
    for c in customers {
        let _ = write!(
            y,
            "  - id: {id}\n    hosts: [{id}.example]\n    slos:\n      availability: {{objective: 99.9, period: {p}}}\n",
            id = c.id,
            p = c.period
        );
        if c.latency {
            let _ = writeln!(
                y,
                "      latency: {{ttfb: {{source: edge_ttfb, threshold: 300ms, objective: 99, period: {}}}}}",
                c.period
            );
        }
        y.push_str("    alerting:\n      min_requests: 1000\n      routes: [{to: [log]}]\n");
    }
    edgewatch_catalog::load_str("scenario.yaml", &y).unwrap().catalog
}

/// The exporter's series for `c` over `minutes`, sampled every `step`
/// seconds, as Prometheus would have scraped them.
fn series(c: &Customer, step: u64, minutes: u64, rng: &mut Rng) -> Vec<(String, String)> {
    let t = c.traffic;
    let steps = minutes * 60 / step;
    let names = [
        format!(
            "edgewatch_slo_requests_total{{customer=\"{}\",slo=\"availability\",slo_kind=\"availability\",result=\"good\"}}",
            c.id
        ),
        format!(
            "edgewatch_slo_requests_total{{customer=\"{}\",slo=\"availability\",slo_kind=\"availability\",result=\"bad\"}}",
            c.id
        ),
        format!(
            "edgewatch_requests_total{{customer=\"{0}\",host=\"{0}.example\",status_class=\"2xx\",cache_status=\"hit\"}}",
            c.id
        ),
        format!(
            "edgewatch_origin_errors_total{{customer=\"{0}\",host=\"{0}.example\",kind=\"connection_timeout\"}}",
            c.id
        ),
        format!(
            "edgewatch_slo_requests_total{{customer=\"{}\",slo=\"ttfb\",slo_kind=\"latency\",result=\"good\"}}",
            c.id
        ),
        format!(
            "edgewatch_slo_requests_total{{customer=\"{}\",slo=\"ttfb\",slo_kind=\"latency\",result=\"bad\"}}",
            c.id
        ),
    ];
    // Exact expectations may be fractions: counters are floats.
    let mut totals = [0f64; 6];
    let mut values: Vec<String> = vec![String::new(); 6];
    for i in 0..=steps {
        let minute = (i * step) as f64 / 60.0;
        if t.gone_after.is_some_and(|g| minute > g) {
            for v in &mut values {
                v.push_str(if v.ends_with("stale") || v.ends_with('_') { " _" } else { " stale" });
            }
            continue;
        }
        if i > 0 {
            // The increment since the last sample: the traffic of the step
            // that ends here, at that step's start.
            let minute = ((i - 1) * step) as f64 / 60.0;
            let mean = (t.rps)(minute) * step as f64;
            let draw = |rng: &mut Rng, m: f64| if t.noisy { rng.poisson(m) as f64 } else { m };
            let n = draw(rng, mean);
            let share = |f: fn(f64) -> f64| (f)(minute).clamp(0.0, 1.0);
            let bad = draw(rng, n * share(t.bad)).min(n);
            let slow = draw(rng, n * share(t.slow)).min(n);
            let origin = draw(rng, n * share(t.origin)).min(n);
            for (k, add) in [n - bad, bad, n, origin, n - slow, slow].into_iter().enumerate() {
                totals[k] += add;
            }
        }
        for (v, total) in values.iter_mut().zip(totals) {
            if !v.is_empty() {
                v.push(' ');
            }
            // Six decimals: exact for whole counts, close for fractions.
            let text = format!("{total:.6}");
            v.push_str(text.trim_end_matches('0').trim_end_matches('.'));
        }
    }
    let keep = if c.latency && c.measured { 6 } else { 4 };
    let mut out: Vec<(String, String)> = names.into_iter().zip(values).take(keep).collect();
    let up: String = (0..=steps)
        .map(|i| if t.gone_after.is_some_and(|g| (i * step) as f64 / 60.0 > g) { "0" } else { "1" })
        .collect::<Vec<_>>()
        .join(" ");
    out.push((format!("up{{job=\"edgewatch-exporter\",instance=\"{}-exporter:9817\"}}", c.id), up));
    out
}

/// Renders the rules for `customers` with Prometheus scraping every
/// `scrape`; returns the folder and the rule files.
fn rules(name: &str, customers: &[Customer], scrape: &str) -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::temp_dir().join(format!("edgewatch-scenario-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = Options {
        target: Target::Prometheus,
        catalog_name: "scenario".to_owned(),
        grafana_url: "https://grafana.example".to_owned(),
        scrape_interval: scrape.parse().unwrap(),
        ingest_silence: edgewatch_rule_gen::DEFAULT_INGEST_SILENCE,
        delivery: edgewatch_rule_gen::Delivery {
            receiver_url: "http://receiver.example/api/v1/alertmanager".to_owned(),
            exporter_targets: vec!["exporter.example:9817".to_owned()],
            exporter_job: edgewatch_rule_gen::DEFAULT_EXPORTER_JOB.to_owned(),
            receiver_credentials_file: None,
            alertmanager_url: "http://localhost:9093".to_owned(),
            fallback_pagerduty: None,
            heartbeat_url: None,
            prometheus_url: None,
        },
    };
    let mut files = Vec::new();
    for f in render(&catalog(customers), &opts).unwrap() {
        let path = dir.join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, f.contents).unwrap();
        // The pipeline's alerts (edgewatch watching itself; its heartbeat
        // always fires) have tests of their own: tests/edgewatch-pipeline.yml.
        if f.path.starts_with("rules") && !f.path.ends_with(format!("{}.yml", edgewatch_rule_gen::PIPELINE_GROUP)) {
            files.push(path);
        }
    }
    (dir, files)
}

/// One promtool test group: the customers' series, and checks in promtool's
/// YAML (`alert_rule_test` and `promql_expr_test` entries).
struct Group<'a> {
    name: &'a str,
    customers: Vec<Customer>,
    step: u64,
    minutes: u64,
    checks: String,
}

/// Runs `groups` in one promtool test file against rules rendered for
/// `scrape`, evaluating every `every`; returns promtool's output and whether
/// it passed.
fn promtool(name: &str, scrape: &str, every: &str, groups: &[Group<'_>]) -> (bool, String) {
    // Groups may reuse a customer; the catalog has it once.
    let mut all: Vec<Customer> = Vec::new();
    for c in groups.iter().flat_map(|g| &g.customers) {
        if !all.iter().any(|a| a.id == c.id) {
            all.push(Customer {
                id: c.id,
                period: c.period,
                latency: c.latency,
                measured: c.measured,
                traffic: c.traffic,
            });
        }
    }
    let (dir, files) = rules(name, &all, scrape);
    // Constants first, then each group before those that read it, as
    // Prometheus' intervals make it: promtool's own order is chance.
    let order: Vec<String> = edgewatch_rule_gen::constants_group_order(files.iter().map(PathBuf::as_path))
        .into_iter()
        .chain(edgewatch_rule_gen::GROUP_ORDER.iter().map(|g| (*g).to_owned()))
        .collect();
    let mut test = format!(
        "rule_files: [{}]\nevaluation_interval: {every}\ngroup_eval_order: [{}]\ntests:\n",
        files.iter().map(|f| format!("'{}'", f.display())).collect::<Vec<_>>().join(", "),
        order.join(", ")
    );
    let mut rng = Rng(0x5EED_2026_1204);
    for g in groups {
        let _ = writeln!(test, "- name: '{}'\n  interval: {}s\n  input_series:", g.name, g.step);
        for c in &g.customers {
            for (series, values) in series(c, g.step, g.minutes, &mut rng) {
                let _ = writeln!(test, "  - series: '{series}'\n    values: '{values}'");
            }
        }
        test.push_str(&g.checks);
    }
    let path = dir.join("scenario.yml");
    std::fs::write(&path, test).unwrap();
    let out = Command::new(tool("promtool", "prometheus")).args(["test", "rules"]).arg(&path).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        let _ = std::fs::remove_dir_all(dir);
    }
    (out.status.success(), said)
}

fn pass(name: &str, scrape: &str, every: &str, groups: &[Group<'_>]) {
    let (ok, text) = promtool(name, scrape, every, groups);
    assert!(ok, "promtool test rules ({name}):\n{text}");
}

/// A `promql_expr_test` that at `at` exactly these alerts fire (labels as
/// `key="value"` lists, `alertname` first).
fn firing(at: &str, alerts: &[&str]) -> String {
    let name = alerts.first().map_or("", |a| a.split(',').next().unwrap_or(""));
    let samples: Vec<String> =
        alerts.iter().map(|a| format!("{{labels: 'ALERTS{{{a},alertstate=\"firing\"}}', value: 1}}")).collect();
    format!(
        "  - {{expr: 'ALERTS{{{name},alertstate=\"firing\"}}', eval_time: {at}, exp_samples: [{}]}}\n",
        samples.join(", ")
    )
}

/// No alert at all, not even pending, over the last `minutes` before `at`.
fn silent(at: &str, minutes: u64) -> String {
    format!("  - {{expr: 'count_over_time(ALERTS[{minutes}m])', eval_time: {at}, exp_samples: []}}\n")
}

/// Day (20 requests/s) and night (2/s), ten to one, changing smoothly: the
/// day peaks at noon of each day.
fn diurnal(minute: f64) -> f64 {
    let phase = (minute / 1440.0 - 0.5) * 2.0 * std::f64::consts::PI;
    let x = f64::midpoint(1.0, phase.cos()); // 1 at noon, 0 at midnight
    2.0 * 10f64.powf(x)
}

/// Half the availability budget (99.9%) and half the latency one (99%).
fn half_budget(_: f64) -> f64 {
    0.0005
}

fn half_latency_budget(_: f64) -> f64 {
    0.005
}

const HEALTHY: Traffic =
    Traffic { rps: diurnal, bad: half_budget, slow: half_latency_budget, origin: zero, noisy: true, gone_after: None };

#[test]
fn nine_days_of_healthy_diurnal_traffic_alert_nothing() {
    // The factors are the same for every period; the shortest (7d, where
    // the Workbook's slow tier ticketed at 0.23×) and the longest period
    // each get nine days, an availability and a latency SLO at half their
    // budgets, day and night. A group each: the period's own SLI reads all
    // nine days' samples, which must stay under promtool's 10,000.
    let groups: Vec<Group<'_>> = [("p7", "7d"), ("p90", "90d")]
        .iter()
        .map(|(id, period)| Group {
            name: period,
            customers: vec![Customer::new(id, period, HEALTHY).with_latency()],
            step: 60,
            minutes: 9 * 1440,
            checks: format!("  promql_expr_test:\n{}", silent("9d", 9 * 1440)),
        })
        .collect();
    pass("diurnal", "1m", "5m", &groups);
}

#[test]
fn exactly_one_times_the_budget_alerts_nothing_for_any_period() {
    fn at_budget(_: f64) -> f64 {
        0.001
    }
    let traffic = Traffic { rps: steady20, bad: at_budget, slow: zero, origin: zero, noisy: false, gone_after: None };
    // Three and a half days: the longest window (3d) full, and then some.
    let customers: Vec<Customer> = [("p7", "7d"), ("p14", "14d"), ("p28", "28d"), ("p30", "30d"), ("p90", "90d")]
        .iter()
        .map(|(id, period)| Customer::new(id, period, traffic))
        .collect();
    let groups = [Group {
        name: "1x for 7d to 90d",
        customers,
        step: 60,
        minutes: 84 * 60,
        checks: format!("  promql_expr_test:\n{}", silent("84h", 84 * 60)),
    }];
    pass("one-times", "1m", "5m", &groups);
}

#[test]
fn a_fresh_start_on_healthy_traffic_alerts_nothing() {
    // Prometheus starts with the exporter: every window holds minutes of
    // data. Healthy customers at 0.2× and 0.5× their budgets, busy and
    // quiet, with noise; the shipped 15s scrape.
    fn busy(_: f64) -> f64 {
        20.0
    }
    fn quiet(_: f64) -> f64 {
        0.5
    }
    fn fifth(_: f64) -> f64 {
        0.0002
    }
    fn fifth_latency(_: f64) -> f64 {
        0.002
    }
    let t = |rps, bad, slow| Traffic { rps, bad, slow, origin: zero, noisy: true, gone_after: None };
    let mut groups = Vec::new();
    // Five runs, each with its own draw of the noise.
    for run in ["run 1", "run 2", "run 3", "run 4", "run 5"] {
        groups.push(Group {
            name: run,
            customers: vec![
                Customer::new("busy-fifth", "7d", t(busy, fifth, fifth_latency)).with_latency(),
                Customer::new("busy-half", "28d", t(busy, half_budget, half_latency_budget)).with_latency(),
                Customer::new("quiet-half", "30d", t(quiet, half_budget, half_latency_budget)).with_latency(),
            ],
            step: 15,
            minutes: 90,
            checks: format!("  promql_expr_test:\n{}", silent("90m", 90)),
        });
    }
    pass("fresh", "15s", "15s", &groups);
}

fn steady20(_: f64) -> f64 {
    20.0
}

#[test]
fn a_ten_times_burn_is_ticketed_within_the_hour_and_a_five_times_latency_burn_within_six() {
    // Healthy for 3 hours, then 1% errors (10× a 99.9% objective) for 2h;
    // a latency SLO healthy for 6h, then 5% slower than 300ms (5× its 99%).
    fn ten_x_after_3h(m: f64) -> f64 {
        if m >= 180.0 { 0.01 } else { 0.0005 }
    }
    fn five_x_after_6h(m: f64) -> f64 {
        if m >= 360.0 { 0.05 } else { 0.005 }
    }
    let avail = Traffic {
        rps: steady20,
        bad: ten_x_after_3h,
        slow: half_latency_budget,
        origin: zero,
        noisy: true,
        gone_after: None,
    };
    let lat =
        Traffic { rps: steady20, bad: half_budget, slow: five_x_after_6h, origin: zero, noisy: true, gone_after: None };
    let slow_fires = |customers: &[&str], slo: &str, kind: &str, at: &str| {
        let alerts: Vec<String> = customers
            .iter()
            .map(|c| format!(r#"alertname="EdgewatchErrorBudgetBurnSlow",alert_kind="burn_rate_slow",customer="{c}",severity="ticket",slo="{slo}",slo_kind="{kind}""#))
            .collect();
        firing(at, &alerts.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let quiet_before = |at: &str| format!("  - {{expr: 'ALERTS', eval_time: {at}, exp_samples: []}}\n");
    let groups = [
        Group {
            name: "10x availability",
            customers: vec![Customer::new("burning", "30d", avail), Customer::new("seven", "7d", avail)],
            step: 15,
            minutes: 300,
            checks: format!(
                "  promql_expr_test:\n{}{}",
                quiet_before("179m"),
                slow_fires(&["burning", "seven"], "availability", "availability", "239m"),
            ),
        },
        Group {
            name: "5x latency",
            customers: vec![Customer::new("slowing", "28d", lat).with_latency()],
            step: 60,
            minutes: 720,
            checks: format!(
                "  promql_expr_test:\n{}{}",
                quiet_before("359m"),
                slow_fires(&["slowing"], "ttfb", "latency", "719m")
            ),
        },
    ];
    pass("burns", "15s", "1m", &groups);
}

/// A full outage: every request fails (at the edge and at the origin) from
/// minute 60 for `OUTAGE` minutes.
fn outage_bad(m: f64) -> f64 {
    if (60.0..60.0 + OUTAGE_MINUTES).contains(&m) { 1.0 } else { 0.0005 }
}

const OUTAGE_MINUTES: f64 = 2.0;

fn long_outage_bad(m: f64) -> f64 {
    if (60.0..70.0).contains(&m) { 1.0 } else { 0.0005 }
}

fn long_outage_origin(m: f64) -> f64 {
    if (60.0..70.0).contains(&m) { 1.0 } else { 0.0 }
}

fn outage_origin(m: f64) -> f64 {
    if (60.0..60.0 + OUTAGE_MINUTES).contains(&m) { 1.0 } else { 0.0 }
}

#[test]
fn a_full_outage_pages_within_a_minute_and_nothing_fires_after_recovery() {
    let short = Traffic {
        rps: steady20,
        bad: outage_bad,
        slow: half_latency_budget,
        origin: outage_origin,
        noisy: true,
        gone_after: None,
    };
    let long = Traffic { bad: long_outage_bad, origin: long_outage_origin, ..short };
    let bystander = Traffic { bad: half_budget, origin: zero, ..short };
    let fast = firing(
        "61m",
        &[
            r#"alertname="EdgewatchErrorBudgetBurnFast",alert_kind="burn_rate_fast",customer="shop",severity="page",slo="availability",slo_kind="availability""#,
        ],
    );
    // The 2-minute outage: paged at its first minute's evaluation, resolved
    // 3 minutes after recovery; nothing else fires, then or later.
    let short_checks = format!(
        "  promql_expr_test:\n{fast}  - {{expr: 'ALERTS', eval_time: 65m, exp_samples: []}}\n  - {{expr: 'count by (alertname, customer) (count_over_time(ALERTS{{alertstate=\"firing\"}}[90m]))', eval_time: 150m, exp_samples: [{{labels: '{{alertname=\"EdgewatchErrorBudgetBurnFast\",customer=\"shop\"}}', value: 1}}]}}\n{}",
        silent("150m", 85),
    );
    // The 10-minute outage: the origin alert joins after its 5 minutes; the
    // slower tiers, which leave outages out, never fire; all is quiet 3
    // minutes after recovery and stays so.
    let long_checks = format!(
        "  promql_expr_test:\n{fast}{}  - {{expr: 'ALERTS', eval_time: 73m, exp_samples: []}}\n  - {{expr: 'count by (alertname) (count_over_time(ALERTS{{alertstate=\"firing\"}}[100m]))', eval_time: 160m, exp_samples: [{{labels: '{{alertname=\"EdgewatchErrorBudgetBurnFast\"}}', value: 1}}, {{labels: '{{alertname=\"EdgewatchOriginErrors\"}}', value: 1}}]}}\n{}",
        firing(
            "69m",
            &[r#"alertname="EdgewatchOriginErrors",alert_kind="origin_errors",customer="shop",severity="ticket""#]
        ),
        silent("160m", 87),
    );
    let groups = [
        Group {
            name: "2-minute outage",
            customers: vec![Customer::new("shop", "28d", short), Customer::new("bystander", "28d", bystander)],
            step: 15,
            minutes: 150,
            checks: short_checks,
        },
        Group {
            name: "10-minute outage",
            customers: vec![Customer::new("shop", "28d", long), Customer::new("bystander", "28d", bystander)],
            step: 15,
            minutes: 160,
            checks: long_checks,
        },
    ];
    pass("outage", "15s", "15s", &groups);
}

#[test]
fn an_outage_right_after_a_fresh_start_is_the_fast_tier_s_alone() {
    // Prometheus started a minute before a 40-second outage: the slower
    // tiers' windows hold little else, and still nothing of the outage
    // reaches them; everything is quiet 3 minutes after recovery.
    fn fresh_outage(m: f64) -> f64 {
        if (1.0..1.0 + 40.0 / 60.0).contains(&m) { 1.0 } else { 0.0 }
    }
    let t =
        Traffic { rps: steady20, bad: fresh_outage, slow: zero, origin: fresh_outage, noisy: true, gone_after: None };
    let groups = [Group {
        name: "fresh outage",
        customers: vec![Customer::new("shop", "28d", t)],
        step: 15,
        minutes: 30,
        checks: format!(
            "  promql_expr_test:\n  - {{expr: 'count by (alertname) (count_over_time(ALERTS{{alertstate=\"firing\"}}[30m]))', eval_time: 30m, exp_samples: [{{labels: '{{alertname=\"EdgewatchErrorBudgetBurnFast\"}}', value: 1}}]}}\n{}",
            silent("30m", 25)
        ),
    }];
    pass("fresh-outage", "15s", "15s", &groups);
}

#[test]
fn the_exporter_down_is_one_alert_and_a_stopped_customer_is_one_alert() {
    fn stops_at_40m(m: f64) -> f64 {
        if (40.0..70.0).contains(&m) { 0.0 } else { 20.0 }
    }
    let healthy = Traffic {
        rps: steady20,
        bad: half_budget,
        slow: half_latency_budget,
        origin: zero,
        noisy: true,
        gone_after: None,
    };
    let gone = Traffic { gone_after: Some(30.0), ..healthy };
    let stopping = Traffic { rps: stops_at_40m, ..healthy };
    let groups = [
        // Scraping stops at 30m for every customer: one alert for the
        // exporter within 5 minutes, and no customer's no-data.
        Group {
            name: "exporter down",
            customers: vec![Customer::new("a", "28d", gone), Customer::new("b", "28d", gone)],
            step: 15,
            minutes: 60,
            checks: format!(
                "  promql_expr_test:\n{}  - {{expr: 'count_over_time(ALERTS{{alertname!=\"EdgewatchExporterDown\"}}[60m])', eval_time: 60m, exp_samples: []}}\n",
                firing(
                    "34m",
                    &[
                        r#"alertname="EdgewatchExporterDown",alert_kind="no_data",instance="a-exporter:9817",job="edgewatch-exporter",severity="page""#,
                        r#"alertname="EdgewatchExporterDown",alert_kind="no_data",instance="b-exporter:9817",job="edgewatch-exporter",severity="page""#,
                    ]
                ),
            ),
        },
        // b's requests stop at 40m and come back at 70m while the exporter
        // runs: one alert, for b only, within 10 minutes, with the same
        // labels pending and firing, resolved when requests return.
        Group {
            name: "traffic stops",
            customers: vec![Customer::new("a", "28d", healthy), Customer::new("b", "28d", stopping)],
            step: 15,
            minutes: 90,
            checks: format!(
                "  promql_expr_test:\n{}  - {{expr: 'ALERTS{{alertname=\"EdgewatchNoData\"}}', eval_time: 80m, exp_samples: []}}\n  - {{expr: 'group without (alertstate) (count_over_time(ALERTS[90m]))', eval_time: 90m, exp_samples: [{{labels: '{{alertname=\"EdgewatchNoData\",customer=\"b\",severity=\"ticket\",alert_kind=\"no_data\"}}', value: 1}}]}}\n",
                firing("49m", &[r#"alertname="EdgewatchNoData",alert_kind="no_data",customer="b",severity="ticket""#]),
            ),
        },
    ];
    pass("no-data", "15s", "15s", &groups);
}

#[test]
fn an_slo_no_exporter_counts_names_the_customer_and_the_slo() {
    let healthy = Traffic {
        rps: steady20,
        bad: half_budget,
        slow: half_latency_budget,
        origin: zero,
        noisy: true,
        gone_after: None,
    };
    let mut blind = Customer::new("blind", "28d", healthy).with_latency();
    blind.measured = false;
    let groups = [Group {
        name: "unmeasured",
        customers: vec![blind, Customer::new("seeing", "28d", healthy).with_latency()],
        step: 15,
        minutes: 20,
        checks: "  alert_rule_test:\n  - eval_time: 15m\n    alertname: EdgewatchSloUnmeasured\n    exp_alerts:\n    - exp_labels: {customer: blind, slo: ttfb, slo_kind: latency, severity: ticket, alert_kind: no_data, incident: config}\n      exp_annotations:\n        summary: 'blind: the ttfb SLO is measured by no exporter'\n        description: 'blind: requests flow, but no exporter counts the ttfb SLO''s events (edgewatch_slo_requests_total), so the SLO measures nothing and its burn-rate alerts cannot fire. The exporters run with another catalog than the rules, or an older edgewatch: deploy the same catalog and release to both.'\n        dashboard_url: 'https://grafana.example/d/edgewatch-blind?var-slo=ttfb&from=now-6h&to=now'\n        runbook_url: ''\n".to_owned(),
    }];
    pass("unmeasured", "15s", "15s", &groups);
}

/// The burn rates `detection_times` measures: customer id and multiple of
/// the budget (99.9%: 0.1% errors is 1×).
const BURNS: [(&str, f64); 9] = [
    ("b1-5", 1.5),
    ("b2", 2.0),
    ("b3", 3.0),
    ("b5", 5.0),
    ("b10", 10.0),
    ("b20", 20.0),
    ("b50", 50.0),
    ("b200", 200.0),
    ("b1000", 1000.0),
];

/// When the burns of `detection_times` start, in minutes (one measurement
/// runs at a time).
static BURN_START: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(60);

/// The error share of customer `id` at `minute`: half the budget before
/// [`BURN_START`], then its burn.
fn burn_of(id: &str, minute: f64) -> f64 {
    let b = BURNS.iter().find(|(c, _)| *c == id).map_or(0.5, |(_, b)| *b);
    let start = BURN_START.load(std::sync::atomic::Ordering::SeqCst) as f64;
    if minute < start { 0.0005 } else { (b * 0.001).min(1.0) }
}

/// One customer per burn rate, deterministic traffic (20 requests/s), the
/// burns starting at `start` minutes; promtool reports, per alert and
/// customer, the first time it fired, evaluating every `every` seconds.
fn first_fired(
    burns: &[&str],
    scrape: &str,
    step: u64,
    every: u64,
    start: u64,
    minutes: u64,
) -> Vec<(String, String, f64)> {
    BURN_START.store(start, std::sync::atomic::Ordering::SeqCst);
    // A `fn` per burn (Traffic holds plain function pointers).
    macro_rules! burn_fns {
        ($($name:ident => $id:literal),*) => {
            $(fn $name(m: f64) -> f64 { burn_of($id, m) })*
        };
    }
    burn_fns!(f1 => "b1-5", f2 => "b2", f3 => "b3", f4 => "b5", f5 => "b10", f6 => "b20", f7 => "b50", f8 => "b200", f9 => "b1000");
    let fns: [fn(f64) -> f64; 9] = [f1, f2, f3, f4, f5, f6, f7, f8, f9];
    let customers: Vec<Customer> = BURNS
        .iter()
        .zip(fns)
        .filter(|((id, _), _)| burns.contains(id))
        .map(|((id, _), bad)| {
            Customer::new(
                id,
                "30d",
                Traffic { rps: steady20, bad, slow: zero, origin: zero, noisy: false, gone_after: None },
            )
        })
        .collect();
    let checks = format!(
        "  promql_expr_test:\n  - {{expr: 'min by (alertname, customer) (min_over_time(timestamp(ALERTS{{alertstate=\"firing\"}})[{minutes}m:{every}s]))', eval_time: {minutes}m, exp_samples: []}}\n"
    );
    let group = Group { name: "detection", customers, step, minutes, checks };
    let (_, said) = promtool("detection", scrape, &format!("{every}s"), &[group]);
    // promtool prints what it got: `{alertname="…", customer="…"} 3.66E+03, …`.
    let got = said.lines().find_map(|l| l.trim().strip_prefix("got: ")).unwrap_or_default().to_owned();
    got.split(", {")
        .filter_map(|part| {
            let alert = part.split("alertname=\"").nth(1)?.split('"').next()?.to_owned();
            let customer = part.split("customer=\"").nth(1)?.split('"').next()?.to_owned();
            let value: f64 = part.split("} ").nth(1)?.trim().parse().ok()?;
            Some((alert, customer, value - (start * 60) as f64))
        })
        .collect()
}

#[test]
#[ignore = "a measurement (a few minutes): cargo test -p edgewatch-rule-gen --test scenarios -- --ignored --nocapture"]
fn detection_times() {
    // The fast tier at the shipped 15s scrape, evaluated every 15s, its
    // hour full of healthy traffic before the burn; the slower tiers, whose
    // windows do not depend on the scrape, evaluated every 5 minutes (within
    // promtool's sample limit) after three healthy days, so every window is
    // full when the burn starts.
    let all: Vec<&str> = BURNS.iter().map(|(id, _)| *id).collect();
    let mut fired = first_fired(&all, "15s", 15, 15, 60, 120);
    fired.retain(|(a, _, _)| a == "EdgewatchErrorBudgetBurnFast");
    let slower = first_fired(&all[3..], "1m", 60, 300, 3 * 1440, 4 * 1440);
    fired.extend(slower.into_iter().filter(|(a, _, _)| a != "EdgewatchErrorBudgetBurnFast"));
    // The lowest burns take days: three more days, for three customers only
    // (the period's sum reads every sample of the six days).
    let lowest = first_fired(&all[..3], "1m", 60, 300, 3 * 1440, 6 * 1440);
    fired.extend(lowest.into_iter().filter(|(a, _, _)| a != "EdgewatchErrorBudgetBurnFast"));
    println!("\n| burn | errors (99.9%) | fast (page) | medium (page) | slow (ticket) |\n|---|---|---|---|---|");
    for (id, b) in BURNS {
        let at = |alert: &str| {
            fired.iter().find(|(a, c, _)| a == alert && c == id).map_or("—".to_owned(), |(_, _, s)| {
                if *s < 120.0 {
                    format!("{s:.0} s")
                } else if *s < 3.0 * 3600.0 {
                    format!("{:.0} min", s / 60.0)
                } else {
                    format!("{:.1} h", s / 3600.0)
                }
            })
        };
        println!(
            "| {b}× | {} | {} | {} | {} |",
            format!("{:.2}%", (b * 0.1).min(100.0)).replace(".00%", "%"),
            at("EdgewatchErrorBudgetBurnFast"),
            at("EdgewatchErrorBudgetBurnMedium"),
            at("EdgewatchErrorBudgetBurnSlow")
        );
    }
}
