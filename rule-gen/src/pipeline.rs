//! edgewatch watching itself: alerts on its own pipeline
//! (`rules/edgewatch-pipeline.yml`), from the metrics the exporter and the
//! receiver export about themselves, and their promtool tests
//! (`tests/edgewatch-pipeline.yml`): each fires on its fault, stays quiet
//! when healthy, and quiet right after a start.
//!
//! None carries a `customer` label, so the receiver sends them to its
//! `unrouted` destinations (the NOC's), never to a customer's. A customer's
//! own traffic stopping is that customer's no-data alert, not one of these:
//! they look at inputs, batches, series and the receiver's outbox, not at
//! customers' requests.

use std::collections::BTreeMap;

use edgewatch_catalog::names::{RENDERED_RULE_GROUPS, label, metric};
use edgewatch_catalog::{Catalog, Duration};

use crate::rules::{Group, Rule};
use crate::unittests::{AlertTest, ExpAlert, Series, TestFile, TestGroup};

/// The rule group, and its file under `rules/`.
pub const GROUP: &str = "edgewatch-pipeline";

/// The scrape job of the receiver in the example Prometheus configuration.
pub const RECEIVER_JOB: &str = "edgewatch-receiver";

/// The scrape job of Alertmanager in the example Prometheus configuration.
pub(crate) const ALERTMANAGER_JOB: &str = "alertmanager";

/// The always-firing alert a dead man's switch watches.
pub(crate) const HEARTBEAT: &str = edgewatch_catalog::names::alertname::HEARTBEAT;

/// The components whose pages Alertmanager also sends itself (the
/// fallback route), since the receiver may be what is down.
pub(crate) const FALLBACK_COMPONENTS: &str = "receiver|alertmanager";

/// Where each alert's runbook is.
const RUNBOOKS: &str = "https://github.com/edgewatch/edgewatch/blob/main/docs/alerts.md";

/// What the pipeline alerts are rendered with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Prometheus' scrape interval.
    pub(crate) scrape: Duration,
    /// No batch accepted on an input for this long, while the same time a
    /// day before had some, is `EdgewatchIngestStopped`.
    pub(crate) silence: Duration,
}
/// The share of malformed lines that is a fault.
const MALFORMED_SHARE: f64 = 0.01;
/// The ingest lag (90th percentile) that is a fault, in seconds.
const LAG_SECONDS: u32 = 600;
/// The oldest pending action's age that is a stall, in seconds.
const STALLED_SECONDS: u32 = 900;
/// SQLite WAL pages left uncopied that are held back: the receiver's
/// commits copy the WAL themselves past this many (64 MB), so only a
/// reader holding it back keeps it above.
const WAL_BEHIND_PAGES: u32 = 16_000;

/// One pipeline alert.
struct Check {
    name: &'static str,
    component: &'static str,
    /// `page`, `ticket`, or `none` for the heartbeat (no receiver route).
    severity: &'static str,
    /// Empty: none.
    for_: String,
    expr: String,
    summary: &'static str,
    description: String,
}

impl Check {
    fn rule(&self) -> Rule {
        let rule = Rule::alert(self.name, self.expr.clone());
        let rule = if self.for_.is_empty() { rule } else { rule.for_(self.for_.clone()) };
        rule.label(label::SEVERITY, self.severity)
            .label("component", self.component)
            .annotation("summary", self.summary)
            .annotation("description", self.description.clone())
            .annotation("runbook_url", format!("{RUNBOOKS}#{}", self.name.to_ascii_lowercase()))
    }

    /// The alert as promtool expects it with `labels` (its templates
    /// filled in from them).
    fn expected(&self, labels: &[(&str, &str)]) -> ExpAlert {
        let fill = |text: &str| {
            labels.iter().fold(text.to_owned(), |t, (k, v)| {
                t.replace(&format!("{{{{ with $labels.{k} }}}} {{{{ . }}}}{{{{ end }}}}"), &format!(" {v}"))
                    .replace(&format!("{{{{ $labels.{k} }}}}"), v)
            })
        };
        let mut exp_labels: BTreeMap<String, String> =
            labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        exp_labels.insert(label::SEVERITY.to_owned(), self.severity.to_owned());
        exp_labels.insert("component".to_owned(), self.component.to_owned());
        let rule = self.rule();
        let exp_annotations = rule.annotations.iter().map(|(k, v)| (k.clone(), fill(v))).collect();
        ExpAlert { exp_labels, exp_annotations }
    }
}

/// The longest probe interval of the catalog, in minutes, if it has probes.
fn longest_probe_minutes(catalog: &Catalog) -> Option<u64> {
    catalog.customers.iter().flat_map(|c| &c.probes).map(|p| p.interval.as_millis().div_ceil(60_000)).max()
}

/// The checks for the exporters (scrape job `job`), the receiver and
/// Alertmanager, and the heartbeat. Whether a page can reach anyone (the
/// receiver down, Alertmanager's webhooks failing) is judged over 20
/// scrapes and fires after 8 more (5 and 2 minutes at 15 s).
fn checks(catalog: &Catalog, job: &str, s: Settings) -> Vec<Check> {
    let mut all = exporter(catalog, job, s.silence);
    all.extend(receiver(s.scrape));
    all.extend(alertmanager(s.scrape));
    all.extend(prometheus());
    all
}

/// `n` scrapes, as Prometheus writes a duration.
fn scrapes(scrape: Duration, n: u64) -> String {
    Duration::from_millis(scrape.as_millis().saturating_mul(n)).to_string()
}

/// Alertmanager's check, and the heartbeat.
fn alertmanager(scrape: Duration) -> Vec<Check> {
    let w = scrapes(scrape, 20);
    vec![
        Check {
            name: "EdgewatchNotificationsFailing",
            component: "alertmanager",
            severity: "page",
            for_: scrapes(scrape, 8),
            expr: format!(
                "  sum by (job, instance) (rate(alertmanager_notifications_failed_total{{integration=\"webhook\"}}[{w}]))\n/\n  sum by (job, instance) (rate(alertmanager_notifications_total{{integration=\"webhook\"}}[{w}]))\n> 0.5"
            ),
            summary: "edgewatch: Alertmanager fails to deliver to the receiver",
            description: format!(
                "Alertmanager {{{{ $labels.instance }}}} failed more than half of its webhook notifications over {w}: the edgewatch receiver (or the heartbeat's dead man's switch) does not take them, so tickets and pages are not opened. This page also goes through Alertmanager's own PagerDuty notifier. Check the receiver (EdgewatchReceiverDown), its bearer token file, and Alertmanager's log."
            ),
        },
        Check {
            name: HEARTBEAT,
            component: "prometheus",
            severity: "none",
            for_: String::new(),
            expr: "vector(1)".to_owned(),
            summary: "edgewatch: the alerting pipeline is alive",
            description: "Always firing while Prometheus evaluates rules and Alertmanager sends: a dead man's switch that stops hearing it knows the pipeline is down. Alertmanager routes it to the heartbeat receiver only, never to the edgewatch receiver.".to_owned(),
        },
    ]
}

/// Prometheus evaluating the rendered rules: a group whose evaluations
/// fail records or alerts nothing (the burn alerts of every customer can
/// go blind with it), and a group that takes most of its interval makes
/// every alert it holds late, and skips evaluations once it takes longer.
/// One failure or one skip is not a fault: each must recur for the alert
/// to fire.
/// Read from Prometheus' own metrics, whatever job scrapes it.
fn prometheus() -> Vec<Check> {
    vec![
        Check {
            name: "EdgewatchRulesFailing",
            component: "prometheus",
            severity: "page",
            for_: "10m".to_owned(),
            expr: format!(
                "sum by (job, instance, rule_group) (increase(prometheus_rule_evaluation_failures_total{{{RENDERED_RULE_GROUPS}}}[5m])) > 0"
            ),
            summary: "edgewatch: Prometheus fails to evaluate the rule group {{ $labels.rule_group }}",
            description: "Prometheus {{ $labels.instance }} has failed evaluations of {{ $labels.rule_group }} in every 5 minutes for 10 minutes: what the group records is missing and its alerts cannot fire, for every customer. The reason is in Prometheus' log (`Evaluating rule failed`) and on its /rules page: a query over its limits, or series that clash after a change to the rules.".to_owned(),
        },
        Check {
            name: "EdgewatchRulesBehind",
            component: "prometheus",
            severity: "ticket",
            for_: "15m".to_owned(),
            expr: format!(
                "  sum by (job, instance, rule_group) (increase(prometheus_rule_group_iterations_missed_total{{{RENDERED_RULE_GROUPS}}}[10m])) > 0\nor\n  avg_over_time(prometheus_rule_group_last_duration_seconds{{{RENDERED_RULE_GROUPS}}}[15m])\n  > 0.5 * prometheus_rule_group_interval_seconds{{{RENDERED_RULE_GROUPS}}}"
            ),
            summary: "edgewatch: Prometheus falls behind evaluating {{ $labels.rule_group }}",
            description: "Prometheus {{ $labels.instance }} takes over half of the interval of {{ $labels.rule_group }} to evaluate it, or skips evaluations of it, for 15 minutes: the alerts of the group come late (the fast burn tier's page by up to an interval more), and skipped evaluations leave gaps. Prometheus is short of CPU for the catalog: give it cores, or split the customers between Prometheus servers. docs/performance.md says what evaluation costs at 10,000 customers; the health dashboard shows each group's evaluation time.".to_owned(),
        },
    ]
}

/// The exporters' checks.
fn exporter(catalog: &Catalog, job: &str, silence: Duration) -> Vec<Check> {
    let batches = format!("edgewatch_exporter_batches_total{{job=\"{job}\"");
    let by_input = "job, instance, input";
    let mut checks = vec![
        Check {
            name: "EdgewatchIngestStopped",
            component: "exporter",
            severity: "ticket",
            for_: "5m".to_owned(),
            expr: format!(
                "  sum by ({by_input}) (increase({batches},result=\"ok\"}}[{silence}])) == 0\nand\n  sum by ({by_input}) (increase({batches},result=\"ok\"}}[{silence}] offset 1d)) > 0"
            ),
            summary: "edgewatch: input {{ $labels.input }} accepts nothing",
            description: format!(
                "The exporter {{{{ $labels.instance }}}} accepted no batch on input {{{{ $labels.input }}}} for {silence}, while the same time a day before it did: logs stopped arriving (a Logpush job disabled or failing, its secret rotated, a tailed file moved), and every customer counted from this input looks idle. Check the input's refused batches, the Logpush job's status, and the exporter's log."
            ),
        },
        Check {
            name: "EdgewatchBatchesRefused",
            component: "exporter",
            severity: "ticket",
            for_: "10m".to_owned(),
            expr: format!(
                "sum by ({by_input}, result) (increase({batches},result!~\"ok|validation\"}}[10m])) >= 1"
            ),
            summary: "edgewatch: input {{ $labels.input }} refuses or loses batches ({{ $labels.result }})",
            description: "The exporter {{ $labels.instance }} has refused or lost batches on input {{ $labels.input }} for 10 minutes, as `{{ $labels.result }}`: unauthorized (the push secret or header changed), too_large (a batch above the body limit), or malformed (not the configured format), or read errors and lines lost on rotation for a tailed file. Those requests are not counted.".to_owned(),
        },
        Check {
            name: "EdgewatchMalformedLines",
            component: "exporter",
            severity: "ticket",
            for_: "15m".to_owned(),
            expr: format!(
                "  sum by ({by_input}) (rate(edgewatch_exporter_lines_total{{job=\"{job}\",result=\"malformed\"}}[15m]))\n/\n  sum by ({by_input}) (rate(edgewatch_exporter_lines_total{{job=\"{job}\"}}[15m]))\n> {MALFORMED_SHARE}"
            ),
            summary: "edgewatch: input {{ $labels.input }} reads over 1% malformed lines",
            description: "More than 1% of the lines the exporter {{ $labels.instance }} read on input {{ $labels.input }} over 15 minutes were malformed: the log format or its fields changed (a Logpush job's field list, an nginx log_format), and those requests are not counted. Compare a line with the input's format in exporter.yml.".to_owned(),
        },
        Check {
            name: "EdgewatchSeriesOverflow",
            component: "exporter",
            severity: "ticket",
            for_: "10m".to_owned(),
            expr: format!(
                "max by (job, instance, overflowing_customer) (\n  label_replace(increase(edgewatch_exporter_overflow_total{{job=\"{job}\"}}[15m]), \"overflowing_customer\", \"$1\", \"{c}\", \"(.+)\")\n) > 0",
                c = label::CUSTOMER
            ),
            summary: "edgewatch: requests of {{ $labels.overflowing_customer }} counted as other",
            description: "The exporter {{ $labels.instance }} counts requests of {{ $labels.overflowing_customer }} under its host=\"other\" (`hosts_per_customer`, `batch_hosts`) or, past `max_series`, under the exporter-wide customer=\"other\" (edgewatch_exporter_overflow_total says which). Its SLOs stay exact, their counters are the customer's whatever the cap; per-host views lose detail, and past `max_series` its traffic and no-data alerts see less of its traffic than it has. Raise the cap in exporter.yml's `limits`, or list the customer's hosts with wildcards.".to_owned(),
        },
        Check {
            name: "EdgewatchIngestLagHigh",
            component: "exporter",
            severity: "ticket",
            for_: "15m".to_owned(),
            expr: format!(
                "histogram_quantile(0.9, sum by ({by_input}, le) (rate(edgewatch_exporter_ingest_lag_seconds_bucket{{job=\"{job}\"}}[10m]))) > {LAG_SECONDS}"
            ),
            summary: "edgewatch: input {{ $labels.input }} counts requests over 10 minutes late",
            description: format!(
                "Nine in ten requests reach the exporter {{{{ $labels.instance }}}} on input {{{{ $labels.input }}}} more than {LAG_SECONDS} s after they ended: alerts on them come that much later. Check the Logpush job's backlog, the network to the exporter, and whether the exporter keeps up (its CPU, `edgewatch_exporter_batches_total`)."
            ),
        },
    ];
    if let Some(minutes) = longest_probe_minutes(catalog) {
        // Twice the longest interval: a probe due in the window ran.
        let window = (minutes * 2).max(10);
        checks.push(Check {
            name: "EdgewatchProberStalled",
            component: "exporter",
            severity: "ticket",
            for_: "5m".to_owned(),
            expr: format!(
                "sum by (job, instance) (increase({}{{job=\"{job}\"}}[{window}m])) == 0",
                metric::PROBES_TOTAL
            ),
            summary: "edgewatch: the prober of {{ $labels.instance }} ran no probe",
            description: format!(
                "The exporter {{{{ $labels.instance }}}} ran no probe in {window} minutes, twice the longest probe interval: the prober itself is stuck, not a target down (a failing probe still counts). Check the exporter's log and restart it."
            ),
        });
    }
    checks
}

/// The receiver's checks.
fn receiver(scrape: Duration) -> Vec<Check> {
    let r = RECEIVER_JOB;
    vec![
        Check {
            name: "EdgewatchReceiverDown",
            component: "receiver",
            severity: "page",
            for_: scrapes(scrape, 8),
            expr: format!("  (up{{job=\"{r}\"}} == 0)\nor\n  absent(up{{job=\"{r}\"}})"),
            summary: "edgewatch: the receiver is not scraped",
            description: format!(
                "Prometheus has not scraped the edgewatch receiver{{{{ with $labels.instance }}}} {{{{ . }}}}{{{{ end }}}}, or has no target of job {r}: if it is down, Alertmanager's notifications go nowhere, and no ticket or page is opened. Check the receiver process, its port and database. Alertmanager's fallback route pages without it (docs/alerts.md)."
            ),
        },
        Check {
            name: "EdgewatchDeadLetters",
            component: "receiver",
            severity: "ticket",
            for_: "5m".to_owned(),
            expr: format!("max by (job, instance) (edgewatch_receiver_dead_letters{{job=\"{r}\"}}) > 0"),
            summary: "edgewatch: the receiver holds dead letters",
            description: "The receiver {{ $labels.instance }} holds actions that failed for good (a ticket or page refused): `edgewatch receiver dead-letters list` says which and why; fix the cause, then `dead-letters replay`.".to_owned(),
        },
        Check {
            name: "EdgewatchOutboxStalled",
            component: "receiver",
            severity: "page",
            for_: "5m".to_owned(),
            expr: format!(
                "max by (job, instance) (edgewatch_receiver_outbox_oldest_pending_age_seconds{{job=\"{r}\"}}) > {STALLED_SECONDS}"
            ),
            summary: "edgewatch: tickets and pages wait over 15 minutes",
            description: "The oldest action the receiver {{ $labels.instance }} has to deliver has waited more than 15 minutes: tickets and pages are late. A destination is failing or rate-limiting (see EdgewatchDestinationFailing and the receiver's log), or the deliverer is stuck.".to_owned(),
        },
        Check {
            name: "EdgewatchDestinationFailing",
            component: "receiver",
            severity: "page",
            for_: "5m".to_owned(),
            expr: format!(
                "  sum by (job, instance, destination) (increase(edgewatch_receiver_actions_total{{job=\"{r}\",outcome=~\"retried|dead\"}}[15m])) > 0\nunless\n  sum by (job, instance, destination) (increase(edgewatch_receiver_actions_total{{job=\"{r}\",outcome=\"delivered\"}}[15m])) > 0"
            ),
            summary: "edgewatch: every delivery to {{ $labels.destination }} fails",
            description: "Every attempt of the receiver {{ $labels.instance }} to deliver to {{ $labels.destination }} failed for 15 minutes: its tickets or pages do not arrive. The reason is in the receiver's log and in `edgewatch receiver dead-letters list` (a revoked token, a changed project, the service down).".to_owned(),
        },
        Check {
            name: "EdgewatchReceiverWalHeldBack",
            component: "receiver",
            severity: "ticket",
            for_: "15m".to_owned(),
            expr: format!(
                "max by (job, instance) ({}{{job=\"{r}\"}}) > {WAL_BEHIND_PAGES}",
                metric::RECEIVER_WAL_PAGES_BEHIND
            ),
            summary: "edgewatch: the receiver's SQLite WAL is not copied back",
            description: "The receiver {{ $labels.instance }} has left over 64 MB of its SQLite store's WAL uncopied into receiver.db for 15 minutes: a reader's long transaction holds every copy back, and receiver.db-wal grows until it ends. Look for a long-running `edgewatch` command on the store (a report, `incidents`), or another process with receiver.db open (`fuser receiver.db`).".to_owned(),
        },
        Check {
            name: "EdgewatchReceiverStoreBusy",
            component: "receiver",
            severity: "ticket",
            for_: "15m".to_owned(),
            expr: format!(
                "sum by (job, instance) (rate({}_count{{job=\"{r}\"}}[5m])) > 0",
                metric::RECEIVER_CONNECTION_WAIT_SECONDS
            ),
            summary: "edgewatch: the receiver waits for PostgreSQL connections",
            description: "For 15 minutes, operations of the receiver {{ $labels.instance }} have found all 16 of its PostgreSQL connections busy and waited for one: the database answers slower than notifications and deliveries come. An operation that waits 10 s fails, and Alertmanager is answered 503 and retries. Look at the database's load and slow statements, and at the receivers sharing it (the health dashboard's \"PostgreSQL store: connections\").".to_owned(),
        },
    ]
}

/// The pipeline's rule group, every scrape interval (whether a page can
/// reach anyone is judged in scrapes).
pub(crate) fn group(catalog: &Catalog, job: &str, s: Settings) -> Group {
    Group {
        name: GROUP.to_owned(),
        interval: Some(s.scrape.to_string()),
        partial_response_strategy: None,
        rules: checks(catalog, job, s).iter().map(Check::rule).collect(),
    }
}

/// A series of `name{labels}` with promtool `values`.
fn series(name: &str, labels: &[(&str, &str)], values: impl Into<String>) -> Series {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    Series { series: format!("{name}{{{}}}", labels.join(",")), values: values.into() }
}

/// One test: `input` series, evaluated at `at` minutes; `firing` the label
/// sets expected to fire (the rest must stay quiet).
fn case(check: &Check, what: &str, input: Vec<Series>, at: u64, firing: &[&[(&str, &str)]]) -> TestGroup {
    TestGroup {
        name: format!("{}: {what}", check.name),
        interval: "1m".to_owned(),
        input_series: input,
        promql_expr_test: Vec::new(),
        alert_rule_test: vec![AlertTest {
            eval_time: format!("{at}m"),
            alertname: check.name,
            exp_alerts: firing.iter().map(|l| check.expected(l)).collect(),
        }],
    }
}

/// The promtool tests of every check: instance `broken` has the fault and
/// fires; `healthy` works and stays quiet; `started` has just started and
/// stays quiet.
pub(crate) fn tests(catalog: &Catalog, job: &str, s: Settings, rule_file: String) -> TestFile {
    let groups = checks(catalog, job, s).iter().filter_map(|check| case_of(check, catalog, job, s.silence)).collect();
    TestFile {
        rule_files: vec![rule_file],
        evaluation_interval: "1m".to_owned(),
        group_eval_order: vec![GROUP.to_owned()],
        tests: groups,
    }
}

/// Prometheus' `rule_group` values in the tests of its checks: four
/// rendered groups and one of somebody else's.
const RULE_GROUPS: [&str; 5] = [
    "/etc/prometheus/rules/edgewatch-sli.yml;edgewatch-fast",
    "/etc/prometheus/rules/edgewatch-sli.yml;edgewatch-sli",
    "/etc/prometheus/rules/edgewatch-alerts.yml;edgewatch-slo-alerts",
    "/etc/prometheus/rules/edgewatch-traffic.yml;edgewatch-traffic",
    "/etc/prometheus/rules/node.yml;node",
];

/// The labels of a Prometheus series about rule group `g`.
fn about_group(g: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("job", "prometheus"), ("instance", "prometheus:9090"), ("rule_group", g)]
}

/// The test of `check`.
#[allow(clippy::too_many_lines)] // one case per check, side by side
fn case_of(check: &Check, catalog: &Catalog, job: &str, silence: Duration) -> Option<TestGroup> {
    let (broken, healthy, started) = ("broken:9817", "healthy:9817", "started:9817");
    let j = if check.component == "receiver" { RECEIVER_JOB } else { job };
    let l = |instance: &'static str, more: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = vec![("job", j), ("instance", instance)];
        v.extend_from_slice(more);
        v
    };
    let (cf, ok) = (("input", "cf"), ("result", "ok"));
    let batches = "edgewatch_exporter_batches_total";
    let lines = "edgewatch_exporter_lines_total";
    match check.name {
        "EdgewatchIngestStopped" => {
            // Evaluated `s` + 30 minutes after the second day's batches
            // stop at minute 1500, `s` the silence in minutes.
            let s = silence.as_millis().div_ceil(60_000);
            let at = 1500 + s + 30;
            let night = 1378 - s; // the idle night's increasing steps after it
            Some(case(
                check,
                "a day of batches, then none; steady batches; a start; an idle night, as the night before",
                vec![
                    series(batches, &l(broken, &[cf, ok]), format!("0+10x1500 15000+0x{}", s + 30)),
                    series(batches, &l(healthy, &[cf, ok]), format!("0+10x{at}")),
                    series(batches, &l(started, &[cf, ok]), format!("_x1500 0+0x{}", s + 30)),
                    // Idle from minute 60 to `s` + 121 the first night, and
                    // from 1500 on the second: the same window of both.
                    series(
                        batches,
                        &l("idle:9817", &[cf, ok]),
                        format!("0+10x60 600+0x{} 600+10x{night} {}+0x{}", s + 60, 600 + 10 * night, s + 29),
                    ),
                ],
                at,
                &[&l(broken, &[cf])],
            ))
        }
        "EdgewatchBatchesRefused" => {
            let unauthorized = ("result", "unauthorized");
            Some(case(
                check,
                "refused batches for 20 minutes; validation uploads only; one refusal at start",
                vec![
                    series(batches, &l(broken, &[cf, unauthorized]), "0+1x40"),
                    series(batches, &l(healthy, &[cf, ("result", "validation")]), "0+1x40"),
                    series(batches, &l(healthy, &[cf, ok]), "0+10x40"),
                    series(batches, &l(started, &[cf, unauthorized]), "1+0x40"),
                ],
                40,
                &[&l(broken, &[cf, unauthorized])],
            ))
        }
        "EdgewatchMalformedLines" => {
            let malformed = ("result", "malformed");
            Some(case(
                check,
                "5% malformed; 0.1% malformed; a start",
                vec![
                    series(lines, &l(broken, &[cf, ok]), "0+95x40"),
                    series(lines, &l(broken, &[cf, malformed]), "0+5x40"),
                    series(lines, &l(healthy, &[cf, ok]), "0+999x40"),
                    series(lines, &l(healthy, &[cf, malformed]), "0+1x40"),
                    series(lines, &l(started, &[cf, ok]), "_x39 0"),
                    series(lines, &l(started, &[cf, malformed]), "_x39 50"),
                ],
                40,
                &[&l(broken, &[cf])],
            ))
        }
        "EdgewatchSeriesOverflow" => {
            let name = "edgewatch_exporter_overflow_total";
            Some(case(
                check,
                "overflow growing; an old overflow that stopped; a start",
                vec![
                    series(name, &l(broken, &[(label::CUSTOMER, "acme"), ("label", "host")]), "0+5x40"),
                    series(name, &l(healthy, &[(label::CUSTOMER, "acme"), ("label", "host")]), "7+0x40"),
                    series(name, &l(started, &[(label::CUSTOMER, "acme"), ("label", "host")]), "_x39 3"),
                ],
                40,
                &[&l(broken, &[("overflowing_customer", "acme")])],
            ))
        }
        "EdgewatchIngestLagHigh" => {
            let name = "edgewatch_exporter_ingest_lag_seconds_bucket";
            // `broken`: every request 10 to 30 minutes late; `healthy`:
            // every one within 5 minutes; `started`: one sample.
            let mut input = Vec::new();
            for (le, late, timely) in [
                ("300", "0+0x50", "0+10x50"),
                ("600", "0+0x50", "0+10x50"),
                ("1800", "0+10x50", "0+10x50"),
                ("+Inf", "0+10x50", "0+10x50"),
            ] {
                input.push(series(name, &l(broken, &[cf, ("le", le)]), late));
                input.push(series(name, &l(healthy, &[cf, ("le", le)]), timely));
                input.push(series(name, &l(started, &[cf, ("le", le)]), "_x49 10"));
            }
            Some(case(check, "requests 10 to 30 minutes late; timely; a start", input, 50, &[&l(broken, &[cf])]))
        }
        "EdgewatchProberStalled" => {
            let window = longest_probe_minutes(catalog).map_or(10, |m| (m * 2).max(10));
            let probe =
                [(label::CUSTOMER, "acme"), (label::PROBE, "home"), ("ip", "192.0.2.1"), (label::RESULT, "success")];
            let (ran, stop) = (window + 10, 2 * window + 20);
            Some(case(
                check,
                "probes, then none; probes all along; a start",
                vec![
                    series(metric::PROBES_TOTAL, &l(broken, &probe), format!("0+1x{ran} {ran}+0x{}", window + 9)),
                    series(metric::PROBES_TOTAL, &l(healthy, &probe), format!("0+1x{stop}")),
                    series(metric::PROBES_TOTAL, &l(started, &probe), format!("_x{} 0", stop - 1)),
                ],
                stop,
                &[&l(broken, &[])],
            ))
        }
        "EdgewatchReceiverDown" => Some(case(
            check,
            "the receiver down; up; a start",
            vec![
                series("up", &l(broken, &[]), "0x10"),
                series("up", &l(healthy, &[]), "1x10"),
                series("up", &l(started, &[]), "_x9 1"),
            ],
            10,
            &[&l(broken, &[])],
        )),
        "EdgewatchDeadLetters" => {
            let name = "edgewatch_receiver_dead_letters";
            Some(case(
                check,
                "dead letters held; none; a start",
                vec![
                    series(name, &l(broken, &[]), "2x10"),
                    series(name, &l(healthy, &[]), "0x10"),
                    series(name, &l(started, &[]), "_x9 0"),
                ],
                10,
                &[&l(broken, &[])],
            ))
        }
        "EdgewatchOutboxStalled" => {
            let name = "edgewatch_receiver_outbox_oldest_pending_age_seconds";
            Some(case(
                check,
                "an action waiting ever longer; actions going out; a start",
                vec![
                    series(name, &l(broken, &[]), "0+60x25"),
                    series(name, &l(healthy, &[]), "0 2 0 1 0 3 0 0 2 0 0 1 0 0 4 0 0 1 0 0 2 0 0 1 0 0"),
                    series(name, &l(started, &[]), "_x24 0"),
                ],
                25,
                &[&l(broken, &[])],
            ))
        }
        "EdgewatchDestinationFailing" => {
            let name = "edgewatch_receiver_actions_total";
            let (jira, pd) = (("destination", "noc-jira"), ("destination", "noc-pagerduty"));
            Some(case(
                check,
                "every attempt retried; some delivered; a start",
                vec![
                    series(name, &l(broken, &[jira, ("outcome", "retried")]), "0+1x30"),
                    series(name, &l(broken, &[jira, ("outcome", "delivered")]), "5+0x30"),
                    series(name, &l(healthy, &[pd, ("outcome", "retried")]), "0+1x30"),
                    series(name, &l(healthy, &[pd, ("outcome", "delivered")]), "0+3x30"),
                    series(name, &l(started, &[pd, ("outcome", "retried")]), "_x29 1"),
                ],
                30,
                &[&l(broken, &[jira])],
            ))
        }
        "EdgewatchReceiverWalHeldBack" => {
            let name = metric::RECEIVER_WAL_PAGES_BEHIND;
            Some(case(
                check,
                "the WAL held back, ever larger; copied back as it comes; a start",
                vec![
                    series(name, &l(broken, &[]), "0+2000x25"),
                    series(name, &l(healthy, &[]), "0 900 0 1200 0 0 15000 0 300 0x5 20000 0x9"),
                    series(name, &l(started, &[]), "_x24 0"),
                ],
                25,
                &[&l(broken, &[])],
            ))
        }
        "EdgewatchReceiverStoreBusy" => {
            let name = format!("{}_count", metric::RECEIVER_CONNECTION_WAIT_SECONDS);
            Some(case(
                check,
                "waits all along; a burst of waits; a start",
                vec![
                    series(&name, &l(broken, &[]), "0+3x25"),
                    series(&name, &l(healthy, &[]), "0 0 40 80 80+0x21"),
                    series(&name, &l(started, &[]), "_x24 0"),
                ],
                25,
                &[&l(broken, &[])],
            ))
        }
        "EdgewatchNotificationsFailing" => {
            let (failed, total) = ("alertmanager_notifications_failed_total", "alertmanager_notifications_total");
            let am = |instance: &'static str| {
                vec![("job", ALERTMANAGER_JOB), ("instance", instance), ("integration", "webhook")]
            };
            Some(case(
                check,
                "every webhook failing; none failing; a start",
                vec![
                    series(failed, &am(broken), "0+2x20"),
                    series(total, &am(broken), "0+2x20"),
                    series(failed, &am(healthy), "0+0x20"),
                    series(total, &am(healthy), "0+5x20"),
                    series(failed, &am(started), "_x19 3"),
                    series(total, &am(started), "_x19 3"),
                ],
                20,
                &[&[("job", ALERTMANAGER_JOB), ("instance", broken)]],
            ))
        }
        "EdgewatchRulesFailing" => {
            let name = "prometheus_rule_evaluation_failures_total";
            let [fast, sli, slo, _, other] = RULE_GROUPS;
            Some(case(
                check,
                "a group failing every evaluation; one failure, then none; another group failing; a start",
                vec![
                    series(name, &about_group(fast), "0+4x20"),
                    series(name, &about_group(sli), "0 1 1+0x19"),
                    series(name, &about_group(other), "0+4x20"),
                    series(name, &about_group(slo), "_x19 0"),
                ],
                20,
                &[&about_group(fast)],
            ))
        }
        "EdgewatchRulesBehind" => {
            let [fast, sli, slo, traffic, other] = RULE_GROUPS;
            let (missed, took, every) = (
                "prometheus_rule_group_iterations_missed_total",
                "prometheus_rule_group_last_duration_seconds",
                "prometheus_rule_group_interval_seconds",
            );
            Some(case(
                check,
                "a group over half its interval; a group skipping evaluations; one slow and one skipped evaluation; another group slow; a start",
                vec![
                    // The fast group: 9 s of its 15 s, no evaluation skipped yet.
                    series(took, &about_group(fast), "9x40"),
                    series(every, &about_group(fast), "15x40"),
                    series(missed, &about_group(fast), "0x40"),
                    // The SLI group: a third of its minute as last scraped,
                    // but an evaluation skipped now and then.
                    series(took, &about_group(sli), "20x40"),
                    series(every, &about_group(sli), "60x40"),
                    series(missed, &about_group(sli), "0+0.5x40"),
                    // The SLO alerts: quick, one evaluation of 50 s and
                    // one skipped, at minute 25.
                    series(took, &about_group(slo), "2x24 50 2x15"),
                    series(every, &about_group(slo), "60x40"),
                    series(missed, &about_group(slo), "0x24 1x15"),
                    series(took, &about_group(other), "40x40"),
                    series(every, &about_group(other), "15x40"),
                    series(missed, &about_group(other), "0+1x40"),
                    series(took, &about_group(traffic), "_x39 59"),
                    series(every, &about_group(traffic), "_x39 60"),
                    series(missed, &about_group(traffic), "_x39 0"),
                ],
                40,
                &[&about_group(fast), &about_group(sli)],
            ))
        }
        HEARTBEAT => Some(case(check, "fires from the start, on nothing", Vec::new(), 1, &[&[]])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every check has its promtool test (promtool runs them in
    /// `tests/rules.rs`); the prober's only when the catalog has probes.
    #[test]
    fn every_check_has_a_test() {
        let with_probe = "customers:\n  - id: acme\n    hosts: [acme.example]\n    probes: [{name: home, url: 'https://acme.example/', interval: 20m}]\n";
        let without = "customers:\n  - id: acme\n    hosts: [acme.example]\n";
        let settings = Settings { scrape: "15s".parse().unwrap(), silence: "30m".parse().unwrap() };
        for (text, n) in [(with_probe, 16), (without, 15)] {
            let catalog = edgewatch_catalog::load_str("c.yaml", text).unwrap().catalog;
            let file = tests(&catalog, "edgewatch-exporter", settings, "r.yml".to_owned());
            let names: Vec<&str> = file.tests.iter().flat_map(|t| &t.alert_rule_test).map(|a| a.alertname).collect();
            let checks: Vec<&str> = checks(&catalog, "edgewatch-exporter", settings).iter().map(|c| c.name).collect();
            assert_eq!((names.len(), &names), (n, &checks));
        }
        // The prober's window is twice the longest interval.
        let catalog = edgewatch_catalog::load_str("c.yaml", with_probe).unwrap().catalog;
        let prober = checks(&catalog, "x", settings).into_iter().find(|c| c.name == "EdgewatchProberStalled").unwrap();
        assert!(prober.expr.contains("[40m]"), "{}", prober.expr);
    }
}
