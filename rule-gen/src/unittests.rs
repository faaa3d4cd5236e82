//! promtool unit tests, generated for each alerting profile
//! (`tests/<profile>.yml`, target `prometheus`) on its first customer, and
//! one structural test of every customer's constants
//! (`tests/edgewatch-customers-<shard>.yml`). The profile's tests prove, on its
//! objectives, periods, traffic floor, severities and runbooks: each SLO's fast burn
//! fires, with its texts; nothing fires with no errors; nothing fires below
//! the traffic floor; with no traffic, no-data fires instead; a probe failing
//! from most of its addresses is down; certificates warn at 14 days and page
//! at 3; and a traffic drop against last week and the hour before is seen.

use std::collections::BTreeMap;

use edgewatch_catalog::Customer;
use edgewatch_catalog::model::{Slo, SloSpec};
use edgewatch_catalog::names::{AlertKind, SloKind, label, metric};
use serde::Serialize;

use crate::alerts::Links;
use crate::burn::Ratio;
use crate::constants::{CONSTANTS_GROUP, CUSTOMER_INFO, Profile, Shard, quoted};
use edgewatch_catalog::Duration;

#[derive(Debug, Serialize)]
pub(crate) struct TestFile {
    pub(crate) rule_files: Vec<String>,
    pub(crate) evaluation_interval: String,
    /// promtool runs groups in no fixed order unless told: in the order
    /// Prometheus' intervals make effective (constants, then each group
    /// before those that read it), so a result never depends on chance.
    pub(crate) group_eval_order: Vec<String>,
    pub(crate) tests: Vec<TestGroup>,
}

/// The groups in the order they feed each other: the profile's values,
/// their join onto the customer, then `shared`.
fn eval_order(profile: &str, shared: &[&str]) -> Vec<String> {
    [crate::constants::profile_group_name(profile), CONSTANTS_GROUP.to_owned()]
        .into_iter()
        .chain(shared.iter().map(|g| (*g).to_owned()))
        .collect()
}

#[derive(Debug, Serialize)]
pub(crate) struct TestGroup {
    pub(crate) name: String,
    pub(crate) interval: String,
    pub(crate) input_series: Vec<Series>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) promql_expr_test: Vec<ExprTest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) alert_rule_test: Vec<AlertTest>,
}

/// An expression and the samples it must give (`promql_expr_test`).
#[derive(Debug, Serialize)]
pub(crate) struct ExprTest {
    pub(crate) expr: String,
    pub(crate) eval_time: String,
    pub(crate) exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExpSample {
    pub(crate) labels: String,
    pub(crate) value: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Series {
    pub(crate) series: String,
    pub(crate) values: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct AlertTest {
    pub(crate) eval_time: String,
    pub(crate) alertname: &'static str,
    pub(crate) exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExpAlert {
    pub(crate) exp_labels: BTreeMap<String, String>,
    pub(crate) exp_annotations: BTreeMap<String, String>,
}

/// When the burn tests evaluate, in minutes from the start of their series.
const EVAL_MINUTES: u128 = 20;

/// How the SLO tests sample: one sample each scrape interval, as Prometheus
/// would scrape the exporter, for `minutes` minutes.
#[derive(Debug, Clone, Copy)]
struct Steps {
    /// The scrape interval, as promtool writes it.
    every: Duration,
    /// Samples a minute.
    per_minute: u128,
}

impl Steps {
    fn new(scrape: Duration) -> Self {
        let secs = u128::from((scrape.as_millis() / 1000).clamp(1, 60));
        // A scrape interval that does not divide a minute samples each second.
        let per_minute = if 60 % secs == 0 { 60 / secs } else { 60 };
        #[allow(clippy::cast_possible_truncation)] // at most 60
        let every = Duration::from_secs(60 / per_minute as u64);
        Self { every, per_minute }
    }

    fn interval(self) -> String {
        self.every.to_string()
    }

    /// `n` a minute, as a counter sampled each step for `minutes`, then
    /// `then` a minute for `more` minutes.
    fn counter(self, n: u128, minutes: u128, then: u128, more: u128) -> String {
        let (a, b) = (n / self.per_minute, then / self.per_minute);
        let steps = minutes * self.per_minute;
        if more == 0 {
            format!("0+{a}x{steps}")
        } else {
            format!("0+{a}x{steps} {}+{b}x{}", a * steps + b, more * self.per_minute - 1)
        }
    }
}

/// Go's `%.4g`, which `humanizePercentage` uses, for values from 1e-4 to 1e4.
fn go_g4(v: f64) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    #[allow(clippy::cast_possible_truncation)] // a small exponent
    let exp = v.abs().log10().floor() as i32;
    let decimals = usize::try_from((3 - exp).max(0)).unwrap_or(0);
    let s = format!("{v:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

fn counter(customer: &str, result: &str, values: String) -> Series {
    slo_counter(customer, "availability", SloKind::Availability, result, values)
}

/// The exporter's events of one SLO and result.
fn slo_counter(customer: &str, slo: &str, kind: SloKind, result: &str, values: String) -> Series {
    Series {
        series: format!(
            "{}{{customer=\"{customer}\",slo=\"{slo}\",slo_kind=\"{}\",result=\"{result}\"}}",
            metric::SLO_REQUESTS_TOTAL,
            kind.as_str()
        ),
        values,
    }
}

/// The prober's counters for `c`'s first probe, when `c` has a measured
/// probe SLO: `ok` and `failed` probes a minute.
fn probes(c: &Customer, st: Steps, ok: u128, failed: u128) -> Vec<Series> {
    let Some(probe) = c.probes.first() else { return Vec::new() };
    if !c.measured_slos().any(|s| s.kind() == SloKind::Probe) {
        return Vec::new();
    }
    [("success", ok), ("failure", failed)]
        .into_iter()
        .map(|(result, n)| Series {
            series: format!(
                "{}{{customer=\"{}\",probe=\"{}\",ip=\"192.0.2.1\",result=\"{result}\"}}",
                metric::PROBES_TOTAL,
                c.id,
                probe.name
            ),
            values: st.counter(n, 120, 0, 0),
        })
        .collect()
}

/// What an SLO counts, as its alert texts say.
fn events(slo: &Slo) -> &'static str {
    if slo.kind() == SloKind::Probe { "probes" } else { "requests" }
}

/// The exporter's events of each latency SLO of `c`: `per_minute`
/// requests, all at or under the threshold, but `slow` of them for the SLO
/// named.
fn latency(c: &Customer, st: Steps, per_minute: u128, slow: Option<(&str, u128)>) -> Vec<Series> {
    let mut out = Vec::new();
    for slo in c.slos.iter().filter(|s| s.kind() == SloKind::Latency) {
        let name = slo.name.as_str();
        let bad = slow.filter(|(n, _)| *n == name).map_or(0, |(_, n)| n);
        for (result, n) in [("good", per_minute - bad), ("bad", bad)] {
            out.push(slo_counter(c.id.as_str(), name, SloKind::Latency, result, st.counter(n, 120, 0, 0)));
        }
    }
    out
}

/// A test that a burn of a whole multiple of `slo`'s budget above the fast
/// tier's factor fires the fast alert, with its texts; `None` when no such
/// burn fits under 100% errors.
fn fast_burn(c: &Customer, slo: &Slo, st: Steps, outage: Duration, l: &Links) -> Option<TestGroup> {
    let id = c.id.as_str();
    let name = slo.name.as_str();
    let budget = Ratio::from_decimal(&slo.objective.complement_ratio());
    let budget_f: f64 = budget.decimal().parse().ok()?;
    // Requests a minute: whole requests each step for each result (a
    // multiple of the budget's denominator and of the steps a minute), and
    // enough that the outage window alone meets the floor.
    let unit = budget.den() * st.per_minute;
    let floor = c.slo_floor(slo);
    let outage_minutes = (u128::from(outage.as_millis()) / 60_000).max(1);
    let per_minute = unit * u128::from(floor).div_ceil(outage_minutes * unit).max(1) * 2;
    let burn: u128 = 16;
    let bad = budget.num() * burn * (per_minute / budget.den());
    if bad > per_minute {
        return None;
    }
    let fast = AlertKind::BurnRateFast;
    let exp_alerts = match c.alerting.severity_of(fast) {
        None => Vec::new(),
        Some(severity) => {
            let mut annotations: BTreeMap<String, String> = links(c, Some(name), fast, l).into_iter().collect();
            #[allow(clippy::cast_precision_loss)]
            let ratio = bad as f64 / per_minute as f64;
            let events = events(slo);
            annotations.insert(
                "summary".to_owned(),
                format!("{id}: the {name} SLO is failing {}% of {events}", go_g4(ratio * 100.0)),
            );
            annotations.insert(
                "description".to_owned(),
                format!(
                    "{id}: {}% of {events} failed the {name} SLO over the last minutes or hour, and still fail now: more than 14.4 times what the objective ({}%) allows. Over the last hour the budget burned {:.1}x.",
                    go_g4(ratio * 100.0),
                    go_g4(slo.objective.ratio().to_f64() * 100.0),
                    ratio / budget_f,
                ),
            );
            vec![ExpAlert {
                exp_labels: labels(c, name, slo.kind().as_str(), fast, severity.as_str()),
                exp_annotations: annotations,
            }]
        }
    };
    let (avail_bad, slow, probes_bad) = match slo.spec {
        SloSpec::Availability { .. } => (bad, None, 0),
        SloSpec::Latency { .. } => (0, Some((name, bad)), 0),
        SloSpec::Probe => (0, None, bad),
    };
    let whole = |n| st.counter(n, 120, 0, 0);
    Some(TestGroup {
        name: format!("{id}: {burn}x the {name} budget fires the fast burn alert"),
        interval: st.interval(),
        input_series: [
            vec![counter(id, "good", whole(per_minute - avail_bad)), counter(id, "bad", whole(avail_bad))],
            latency(c, st, per_minute, slow),
            probes(c, st, per_minute - probes_bad, probes_bad),
        ]
        .concat(),
        promql_expr_test: Vec::new(),
        alert_rule_test: vec![AlertTest {
            eval_time: format!("{EVAL_MINUTES}m"),
            alertname: "EdgewatchErrorBudgetBurnFast",
            exp_alerts,
        }],
    })
}

fn labels(c: &Customer, slo: &str, slo_kind: &str, kind: AlertKind, severity: &str) -> BTreeMap<String, String> {
    [
        (label::CUSTOMER, c.id.as_str()),
        (label::SLO, slo),
        (label::SLO_KIND, slo_kind),
        (label::SEVERITY, severity),
        (label::ALERT_KIND, kind.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The runbook and dashboard annotations of an alert of `kind`, about
/// `slo` when it has one.
fn links(c: &Customer, slo: Option<&str>, kind: AlertKind, l: &Links) -> [(String, String); 2] {
    let runbook = c.runbook_url(kind, slo).unwrap_or_default();
    let dashboard = format!(
        "{}/{}{}from=now-6h&to=now",
        l.grafana.trim_end_matches('/'),
        l.customer_dashboards.link(c.id.as_str()),
        slo.map(|s| format!("var-slo={s}&")).unwrap_or_default()
    );
    [("runbook_url".to_owned(), runbook), ("dashboard_url".to_owned(), dashboard)]
}

/// `edgewatch_requests_total` of `c`: `n` a minute for `minutes`, then
/// `then` a minute for `more`.
fn requests_total(c: &Customer, st: Steps, n: u128, minutes: u128, then: u128, more: u128) -> Series {
    Series {
        series: format!(
            "{}{{customer=\"{}\",host=\"test.{}.example\",status_class=\"2xx\",cache_status=\"hit\"}}",
            metric::REQUESTS_TOTAL,
            c.id,
            c.id
        ),
        values: st.counter(n, minutes, then, more),
    }
}

/// The exporter scraped all along, by `job`.
fn up(job: &str, st: Steps, minutes: u128) -> Series {
    Series {
        series: format!("up{{job=\"{job}\",instance=\"exporter.test:9817\"}}"),
        values: format!("1x{}", minutes * st.per_minute),
    }
}

/// The tests for `c`, or `None` without an availability SLO.
pub(crate) fn file(
    p: &Profile<'_>,
    l: &Links,
    windows: crate::burn::Windows,
    opts: &crate::Options,
    rule_files: Vec<String>,
) -> Option<TestFile> {
    let c = p.members[0];
    let job = opts.delivery.exporter_job.as_str();
    let slo = c.slos.iter().find(|s| matches!(s.spec, SloSpec::Availability { .. }))?;
    let budget = Ratio::from_decimal(&slo.objective.complement_ratio());
    let st = Steps::new(opts.scrape_interval);
    let id = c.id.as_str();
    let min = u128::from(c.alerting.min_requests);
    // Requests a minute for the quiet cases: enough for the floor over the
    // outage window, in whole requests each step.
    let unit = budget.den() * st.per_minute;
    let outage_minutes = (u128::from(windows.outage.as_millis()) / 60_000).max(1);
    let per_minute = unit * (min.div_ceil(outage_minutes * unit)).max(1) * 2;
    let mut tests = Vec::new();

    // Each SLO's fast burn, on its own.
    for slo in crate::constants::measured(c) {
        tests.extend(fast_burn(c, slo, st, windows.outage, l));
    }

    let quiet = |eval_time: &str, names: &[&'static str]| {
        names
            .iter()
            .map(|n| AlertTest { eval_time: eval_time.to_owned(), alertname: n, exp_alerts: Vec::new() })
            .collect::<Vec<_>>()
    };
    let burns = ["EdgewatchErrorBudgetBurnFast", "EdgewatchErrorBudgetBurnMedium", "EdgewatchErrorBudgetBurnSlow"];
    let mut all = burns.to_vec();
    all.push("EdgewatchNoData");
    let whole = |n| st.counter(n, 120, 0, 0);
    tests.push(TestGroup {
        name: format!("{id}: no errors, no alert"),
        interval: st.interval(),
        input_series: [
            vec![counter(id, "good", whole(per_minute)), counter(id, "bad", whole(0))],
            latency(c, st, per_minute, None),
            probes(c, st, per_minute, 0),
            vec![requests_total(c, st, per_minute, 120, 0, 0), up(job, st, 120)],
        ]
        .concat(),
        promql_expr_test: Vec::new(),
        alert_rule_test: quiet("90m", &all),
    });

    // Every request fails, but fewer come than the floor in any window.
    let low = (min.saturating_sub(1)) / 90 / st.per_minute * st.per_minute;
    if low > 0 {
        tests.push(TestGroup {
            name: format!("{id}: below the traffic floor, no burn alert"),
            interval: st.interval(),
            input_series: [
                vec![counter(id, "good", whole(0)), counter(id, "bad", whole(low))],
                latency(c, st, low, None),
                probes(c, st, u128::from(edgewatch_catalog::model::PROBE_FLOOR), 0),
            ]
            .concat(),
            promql_expr_test: Vec::new(),
            alert_rule_test: quiet("90m", &burns),
        });
    }

    // Requests stop after half an hour while the exporter is up: one no-data
    // alert for the customer (not one per SLO), within 10 minutes.
    let mut stopped = quiet("36m", &["EdgewatchNoData"]);
    stopped.extend(quiet("40m", &burns));
    let exp_alerts = expect(
        c,
        AlertKind::NoData,
        &[],
        [
            format!("{id}: no requests for 5 minutes"),
            format!(
                "{id}: no request of this customer reached edgewatch in the last 5 minutes, while the exporter is up and the hour before had traffic. Check the customer's DNS and edge configuration, and whether its logs still arrive (the Logpush job and its secret, the tailed files)."
            ),
        ],
        l,
    );
    stopped.push(AlertTest { eval_time: "40m".to_owned(), alertname: "EdgewatchNoData", exp_alerts });
    let stop = |n| st.counter(n, 30, 0, 30);
    tests.push(TestGroup {
        name: format!("{id}: requests stop, no burn alert, one no-data alert"),
        interval: st.interval(),
        input_series: [
            vec![counter(id, "good", stop(per_minute)), counter(id, "bad", stop(0))],
            vec![requests_total(c, st, per_minute, 30, 0, 30), up(job, st, 60)],
        ]
        .concat(),
        promql_expr_test: Vec::new(),
        alert_rule_test: stopped,
    });
    tests.extend(probe_alerts(c, l));

    // Samples come each scrape interval; evaluating each minute is enough
    // for these cases and keeps the file to seconds.
    let group_eval_order = eval_order(&p.id, &crate::GROUP_ORDER);
    with_info(&mut tests, c, &p.id);
    Some(TestFile { rule_files, evaluation_interval: "1m".to_owned(), group_eval_order, tests })
}

/// The labels of an alert of `kind` about the whole customer, plus `extra`.
fn kind_labels(c: &Customer, kind: AlertKind, severity: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    [(label::CUSTOMER, c.id.as_str()), (label::SEVERITY, severity), (label::ALERT_KIND, kind.as_str())]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The alert `kind` fires with these texts, if the customer's policy has it on.
fn expect(c: &Customer, kind: AlertKind, extra: &[(&str, &str)], texts: [String; 2], l: &Links) -> Vec<ExpAlert> {
    let Some(severity) = c.alerting.severity_of(kind) else { return Vec::new() };
    let mut annotations: BTreeMap<String, String> = links(c, None, kind, l).into_iter().collect();
    let [summary, description] = texts;
    annotations.insert("summary".to_owned(), summary);
    annotations.insert("description".to_owned(), description);
    vec![ExpAlert { exp_labels: kind_labels(c, kind, severity.as_str(), extra), exp_annotations: annotations }]
}

/// Probe down (two of three addresses failing) and certificate expiry (10
/// days left warns, 2 days left pages), on the customer's first probe.
fn probe_alerts(c: &Customer, l: &Links) -> Vec<TestGroup> {
    let Some(probe) = c.probes.first() else { return Vec::new() };
    let (id, p) = (c.id.as_str(), probe.name.as_str());
    let success = |ip: &str, values: &str| Series {
        series: format!("{}{{customer=\"{id}\",probe=\"{p}\",ip=\"{ip}\"}}", metric::PROBE_SUCCESS),
        values: values.to_owned(),
    };
    let not_after = |seconds: u64| Series {
        series: format!("{}{{customer=\"{id}\",probe=\"{p}\"}}", metric::PROBE_TLS_NOT_AFTER),
        values: format!("{seconds}x23"),
    };
    let on_probe = [(label::PROBE, p)];
    let cert = |days: &str, kind: AlertKind| {
        let description = match kind {
            AlertKind::CertExpiryWarning => format!(
                "{id}: the certificate served to the {p} probe expires within 14 days. Check that renewal (ACME or the customer's upload) is running."
            ),
            _ => format!(
                "{id}: the certificate served to the {p} probe expires within 3 days; browsers will refuse the site. Renew or upload a certificate now."
            ),
        };
        let labels = [(label::PROBE, p), (label::INCIDENT, "certificate")];
        expect(c, kind, &labels, [format!("{id}: the certificate of {p} expires in {days} days"), description], l)
    };
    vec![
        TestGroup {
            name: format!("{id}: probe {p} failing from two of three addresses is down"),
            interval: "1m".to_owned(),
            input_series: vec![
                success("192.0.2.1", "1x3 0x20"),
                success("192.0.2.2", "1x3 0x20"),
                success("2001:db8::1", "1x23"),
            ],
            promql_expr_test: Vec::new(),
            alert_rule_test: vec![
                AlertTest { eval_time: "4m".to_owned(), alertname: "EdgewatchProbeDown", exp_alerts: Vec::new() },
                AlertTest {
                    eval_time: "10m".to_owned(),
                    alertname: "EdgewatchProbeDown",
                    exp_alerts: expect(
                        c,
                        AlertKind::ProbeDown,
                        &on_probe,
                        [
                            format!("{id}: probe {p} fails from 66.67% of its addresses"),
                            format!(
                                "{id}: the {p} probe has failed from most of the addresses it probes for 3 minutes. Compare the addresses on the dashboard: one family (IPv4 or IPv6) or one address failing points at the network, all of them at the site."
                            ),
                        ],
                        l,
                    ),
                },
            ],
        },
        TestGroup {
            name: format!("{id}: a certificate with 10 days left warns"),
            interval: "1m".to_owned(),
            input_series: vec![not_after(10 * 86_400)],
            promql_expr_test: Vec::new(),
            alert_rule_test: vec![
                AlertTest {
                    eval_time: "20m".to_owned(),
                    alertname: "EdgewatchCertificateExpiring",
                    exp_alerts: cert("10.0", AlertKind::CertExpiryWarning),
                },
                AlertTest {
                    eval_time: "20m".to_owned(),
                    alertname: "EdgewatchCertificateExpiryImminent",
                    exp_alerts: Vec::new(),
                },
            ],
        },
        TestGroup {
            name: format!("{id}: a certificate with 2 days left pages"),
            interval: "1m".to_owned(),
            input_series: vec![not_after(2 * 86_400)],
            promql_expr_test: Vec::new(),
            alert_rule_test: vec![AlertTest {
                eval_time: "20m".to_owned(),
                alertname: "EdgewatchCertificateExpiryImminent",
                exp_alerts: cert("2.0", AlertKind::CertExpiryCritical),
            }],
        },
    ]
}

/// The traffic tests for `c` (`tests/<customer>-traffic.yml`): a week of
/// series, so they load only the traffic rules and the customer's constants.
pub(crate) fn traffic_file(p: &Profile<'_>, l: &Links, rule_files: Vec<String>) -> TestFile {
    let c = p.members[0];
    let mut tests = vec![traffic_drop(c, l)];
    with_info(&mut tests, c, &p.id);
    // Evaluating every 5m (the samples' spacing) keeps a week to seconds.
    TestFile {
        rule_files,
        evaluation_interval: "5m".to_owned(),
        group_eval_order: eval_order(&p.id, &["edgewatch-traffic", "edgewatch-traffic-alerts"]),
        tests,
    }
}

/// `c`'s `edgewatch:customer:info` in a series selector's syntax.
fn info_series(c: &Customer, profile: &str) -> String {
    let labels: Vec<String> =
        crate::constants::info_labels(c, profile).iter().map(|(k, v)| format!("{k}={}", quoted(v))).collect();
    format!("{CUSTOMER_INFO}{{{}}}", labels.join(","))
}

/// Gives each test `c`'s `edgewatch:customer:info`, which in Prometheus
/// comes from `rules/customers/<shard>.yml`: the behaviour tests load
/// only the profile's rules, and the structural test checks that file.
fn with_info(tests: &mut [TestGroup], c: &Customer, profile: &str) {
    let series = info_series(c, profile);
    for t in tests {
        let millis = |d: &str| d.parse::<Duration>().map_or(0, Duration::as_millis);
        let last = t.alert_rule_test.iter().map(|a| millis(&a.eval_time)).max().unwrap_or(0);
        let steps = last / millis(&t.interval).max(1) + 1;
        t.input_series.push(Series { series: series.clone(), values: format!("1x{steps}") });
    }
}

/// The constants of a shard's customers, on a few evaluations: each
/// customer's info names the profile the catalog gives it, and each
/// constant has each value on as many of the shard's customers as the
/// catalog says. A value changed in the rendered rules, for one customer or
/// a profile, fails it. The test loads only the shard's customers, so the
/// joins read only theirs.
pub(crate) fn structure_file(shard: &Shard<'_, '_>, rule_files: Vec<String>) -> TestFile {
    let at = "1m".to_owned();
    let info = ExprTest {
        expr: CUSTOMER_INFO.to_owned(),
        eval_time: at.clone(),
        exp_samples: shard.members.iter().map(|(c, p)| ExpSample { labels: info_series(c, &p.id), value: 1 }).collect(),
    };
    // The shard's profiles, in order of their first member here, with how
    // many of its customers each has.
    let mut profiles: Vec<(&Profile<'_>, u64)> = Vec::new();
    for (_, p) in &shard.members {
        match profiles.iter_mut().find(|(q, _)| q.id == p.id) {
            Some((_, n)) => *n += 1,
            None => profiles.push((p, 1)),
        }
    }
    // Profiles that share a value of a constant count together: the
    // customer-level series have no `profile`.
    let mut by_name: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    let mut runbooks = Vec::new();
    for &(p, members) in &profiles {
        for k in &p.constants {
            let value: f64 = k.value.parse().unwrap_or(f64::NAN);
            let labels: Vec<String> = k
                .labels()
                .cloned()
                .chain(std::iter::once(("value", value.to_string())))
                .map(|(l, v)| format!("{l}={}", quoted(&v)))
                .collect();
            *by_name.entry(k.name).or_default().entry(format!("{{{}}}", labels.join(","))).or_default() += members;
        }
        for labels in p.runbook_labels() {
            runbooks.push(ExpSample { labels, value: members });
        }
    }
    let mut tests: Vec<ExprTest> = vec![info];
    tests.extend(by_name.into_iter().map(|(name, counts)| ExprTest {
        expr: format!("count_values without ({}) (\"value\", {name})", label::CUSTOMER),
        eval_time: at.clone(),
        exp_samples: counts.into_iter().map(|(labels, value)| ExpSample { labels, value }).collect(),
    }));
    if !runbooks.is_empty() {
        tests.push(ExprTest {
            expr: format!("count without ({}, runbook_url) ({})", label::CUSTOMER, crate::constants::RUNBOOK),
            eval_time: at.clone(),
            exp_samples: runbooks,
        });
    }
    let group_eval_order = std::iter::once(crate::constants::shard_group_name(&shard.name))
        .chain(profiles.iter().map(|(p, _)| crate::constants::profile_group_name(&p.id)))
        .chain(std::iter::once(CONSTANTS_GROUP.to_owned()))
        .collect();
    TestFile {
        rule_files,
        evaluation_interval: "1m".to_owned(),
        group_eval_order,
        tests: vec![TestGroup {
            name: "every customer has its profile's constants".to_owned(),
            interval: "1m".to_owned(),
            input_series: Vec::new(),
            promql_expr_test: tests,
            alert_rule_test: Vec::new(),
        }],
    }
}

/// A week of steady traffic, then a fifth of it: the drop alert fires, on
/// traffic large enough for the customer's floor. Samples every 5m keep a
/// week cheap to evaluate.
fn traffic_drop(c: &Customer, l: &Links) -> TestGroup {
    let id = c.id.as_str();
    // Requests a minute: the hour around the drop must still meet the floor
    // (25 minutes at the full rate and 35 at a fifth make 32 minutes' worth),
    // and a multiple of 300 keeps the dropped rate a whole number per second.
    let floor = u128::from(c.alerting.min_requests);
    let per_minute = (floor.div_ceil(20).max(600)).div_ceil(300) * 300;
    let before = 5 * per_minute;
    let steps = 2030; // 7 days and 50 minutes of 5m steps
    let series = Series {
        series: format!(
            "{}{{customer=\"{id}\",host=\"test.{id}.example\",status_class=\"2xx\",cache_status=\"hit\"}}",
            metric::REQUESTS_TOTAL
        ),
        values: format!("0+{before}x{steps} {}+{per_minute}x20", steps * before + per_minute),
    };
    TestGroup {
        name: format!("{id}: traffic falling to a fifth of last week's and the hour before's is a drop"),
        interval: "5m".to_owned(),
        input_series: vec![series],
        promql_expr_test: Vec::new(),
        alert_rule_test: vec![
            AlertTest { eval_time: "10145m".to_owned(), alertname: "EdgewatchTrafficDrop", exp_alerts: Vec::new() },
            AlertTest {
                eval_time: "10185m".to_owned(),
                alertname: "EdgewatchTrafficDrop",
                exp_alerts: expect(
                    c,
                    AlertKind::TrafficAnomaly,
                    &[],
                    [
                        format!("{id}: traffic dropped to {} requests/s", per_minute / 300),
                        format!(
                            "{id}: requests fell below half of both the same time last week and the hour before. Check DNS, the customer's own changes, and whether logs still arrive."
                        ),
                    ],
                    l,
                ),
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::go_g4;

    #[test]
    fn formats_like_go_percent_4g() {
        assert_eq!(go_g4(2.0), "2");
        assert_eq!(go_g4(1.35), "1.35");
        assert_eq!(go_g4(99.95), "99.95");
        assert_eq!(go_g4(99.999), "100");
        assert_eq!(go_g4(0.0144), "0.0144");
        assert_eq!(go_g4(13.4444), "13.44");
    }
}
