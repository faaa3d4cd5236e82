//! The issue's "Show": the real Prometheus (Debian's 2.42) holding 35 days
//! of history that the test backfills with `promtool tsdb
//! create-blocks-from openmetrics`, for a customer that met its objectives,
//! one that breached them (outages, a latency degradation, an attack) and
//! one under the traffic floor. The reports' SLIs, budgets, traffic,
//! probes and incident budgets equal the truth computed from the generated
//! slots, to 0.01 percentage points; the three formats agree; the JSON
//! validates against its schema; the HTML renders in headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edgewatch_reports::incidents::{
    BoxFuture, IncidentAlert, IncidentError, IncidentLink, LinkKind, Offender, RemediationNote, Severity,
};
use edgewatch_reports::model::{BudgetStatus, Report, SloReport};
use edgewatch_reports::{Format, Incident, IncidentSource, Period, PeriodSpec, Prometheus, Selection};
use edgewatch_test_kit::{PrometheusProcess, scratch_dir, tool};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::data::{self, Slot, at};

/// 0.01 percentage points, as a ratio.
const TOLERANCE: f64 = 1e-4;

/// One backfill at a time: promtool preallocates a 512 MiB chunk segment
/// while it writes a block, and two at once ran a small CI disk out of space.
static BACKFILL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Backfills the history into a fresh TSDB and starts Prometheus on it.
fn start(dir: &Path) -> PrometheusProcess {
    let started = Instant::now();
    // A panic in the other test's backfill poisons the lock; its guard
    // still serialises, so take it either way.
    let one_at_a_time = BACKFILL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let text = dir.join("history.om");
    data::write_openmetrics(&text);
    let tsdb = dir.join("tsdb");
    let out = Command::new(tool("promtool", "prometheus"))
        .args(["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h"])
        .arg(&text)
        .arg(&tsdb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&text).unwrap();
    drop(one_at_a_time);
    eprintln!("backfilled in {:.1}s", started.elapsed().as_secs_f64());
    let prom = PrometheusProcess::start(dir, &tsdb);
    eprintln!("Prometheus ready after {:.1}s", started.elapsed().as_secs_f64());
    prom
}

/// The incidents the test knows: one per outage, with links and notes.
#[derive(Debug)]
struct Known;

impl IncidentSource for Known {
    fn name(&self) -> &'static str {
        "test"
    }

    fn incidents<'a>(
        &'a self,
        customer: &'a str,
        _from: Timestamp,
        _to: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Incident>, IncidentError>> {
        let list = data::outages(customer)
            .into_iter()
            .enumerate()
            .map(|(n, (a, b, share))| {
                let (start, end) = (Timestamp::from_second(a).unwrap(), Timestamp::from_second(b).unwrap());
                Incident {
                    id: format!("{customer}-{n}"),
                    title: format!("{customer}: {share}% of requests failed"),
                    start,
                    end: Some(end),
                    severity: if share == 100 { Severity::Page } else { Severity::Ticket },
                    alerts: std::iter::once(IncidentAlert {
                        name: "EdgewatchErrorBudgetBurnFast".to_owned(),
                        kind: Some("burn_rate_fast".to_owned()),
                        slo: Some("availability".to_owned()),
                        start,
                        end: Some(end),
                    })
                    // The partial outage came with blocked requests: an
                    // attack alert, ten minutes in.
                    .chain((share == 50).then(|| IncidentAlert {
                        name: "EdgewatchSuspectedAttack".to_owned(),
                        kind: Some("attack".to_owned()),
                        slo: None,
                        start: Timestamp::from_second(a + 600).unwrap(),
                        end: Some(end),
                    }))
                    .collect(),
                    links: vec![IncidentLink {
                        kind: LinkKind::Ticket,
                        title: format!("NOC-{}", 100 + n),
                        url: format!("https://jira.example/browse/NOC-{}", 100 + n),
                    }],
                    remediation: vec![RemediationNote {
                        at: end,
                        author: "ada@noc.example".to_owned(),
                        text: "Rolled the origin pool back to the previous release.".to_owned(),
                    }],
                    // Ticketed two minutes in (four for partial outages); the
                    // partial outage reopened once.
                    ticketed: Some(Timestamp::from_second(a + if share == 100 { 120 } else { 240 }).unwrap()),
                    reopened: u32::from(share == 50),
                    // What the receiver read from the exporters for the
                    // attack: two named, one not.
                    offenders: if share == 50 { attackers() } else { Vec::new() },
                }
            })
            .collect();
        Box::pin(async move { Ok(list) })
    }
}

/// The partial outage's top offenders.
fn attackers() -> Vec<Offender> {
    let o = |dimension: &str, value: &str, offending: f64, offending_share: f64, named: bool| Offender {
        dimension: dimension.to_owned(),
        value: value.to_owned(),
        offending,
        offending_share,
        request_share: offending_share / 10.0,
        named,
    };
    vec![
        o("ip", "192.0.2.66", 4100.0, 0.41, true),
        o("asn", "64496", 5200.0, 0.52, true),
        o("path", "/login", 9000.0, 0.9, false),
    ]
}

/// Requests and bad requests of `slots` for an SLO kind.
fn truth<'a>(slots: impl Iterator<Item = Slot> + 'a, kind: &str) -> (f64, f64) {
    slots.fold((0.0, 0.0), |(n, b), s| match kind {
        "availability" => (n + s.requests() as f64, b + s.server_errors as f64),
        "ttfb" => (n + s.requests() as f64, b + s.slow() as f64),
        "probe" => (n + (s.probe_ok + s.probe_failed) as f64, b + s.probe_failed as f64),
        other => panic!("no truth for {other}"),
    })
}

fn close(what: &str, got: Option<f64>, want: f64, tolerance: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: no value, want {want}"));
    assert!((got - want).abs() <= tolerance, "{what}: got {got}, want {want} (±{tolerance})");
}

fn check_slo(customer: &str, s: &SloReport, from: i64, to: i64) {
    let (n, bad) = truth(data::slots(customer, from, to), &s.name);
    let what = format!("{customer}/{}", s.name);
    assert!((s.requests - n).abs() < 0.5, "{what}: requests {} vs {n}", s.requests);
    assert!((s.bad - bad).abs() < 0.5, "{what}: bad {} vs {bad}", s.bad);
    close(&format!("{what} SLI"), s.sli, 1.0 - bad / n, TOLERANCE);
    let budget = 1.0 - s.objective / 100.0;
    close(&format!("{what} budget consumed"), s.budget.consumed, bad / (budget * n), TOLERANCE);
    close(&format!("{what} budget remaining"), s.budget.remaining, 1.0 - bad / (budget * n), TOLERANCE);
    for d in &s.daily {
        let day_from = d.date.to_zoned(TimeZone::UTC).unwrap().timestamp().as_second();
        let (dn, db) = truth(data::slots(customer, day_from, day_from + 86_400), &s.name);
        if dn > 0.0 {
            close(&format!("{what} SLI on {}", d.date), d.sli, 1.0 - db / dn, TOLERANCE);
        }
    }
}

#[test]
fn reports_equal_the_truth_of_the_backfilled_history() {
    let started = Instant::now();
    let dir = scratch_dir("report-history");
    let prom = start(&dir);
    let catalog = edgewatch_catalog::load_str("catalog.yaml", data::CATALOG).unwrap().catalog;
    let now: Timestamp = "2026-02-02T09:30:00Z".parse().unwrap();
    let spec = PeriodSpec::Range { from: "2026-01-01".parse().unwrap(), to: "2026-01-31".parse().unwrap() };
    let period = Period::resolve(&spec, &TimeZone::UTC, now).unwrap();
    let (from, to) = (at("2026-01-01T00:00"), at("2026-02-01T00:00"));
    let client = Prometheus::new(&prom.url(), Duration::from_secs(30)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ids = data::CUSTOMERS.iter().map(|c| (*c).to_owned()).collect();
    let query_started = Instant::now();
    let reports = runtime
        .block_on(edgewatch_reports::build(&catalog, &client, &Known, &Selection::Ids(ids), &period, now))
        .unwrap();
    eprintln!("3 reports in {:.2}s", query_started.elapsed().as_secs_f64());
    let [steady, breach, quiet] = &reports[..] else { panic!("three reports") };

    // SLIs and budgets, for the period and each day.
    for r in &reports {
        assert_eq!(r.period.days, 31.0);
        for s in &r.slos {
            check_slo(&r.customer.id, s, from, to);
        }
    }
    let statuses = |r: &Report| r.slos.iter().map(|s| (s.name.clone(), s.budget.status, s.met)).collect::<Vec<_>>();
    assert_eq!(
        statuses(steady),
        [
            ("availability".to_owned(), BudgetStatus::Ok, Some(true)),
            ("ttfb".to_owned(), BudgetStatus::Ok, Some(true)),
            ("probe".to_owned(), BudgetStatus::Ok, Some(true)),
        ]
    );
    assert_eq!(
        statuses(breach),
        [
            ("availability".to_owned(), BudgetStatus::Breached, Some(false)),
            ("ttfb".to_owned(), BudgetStatus::Breached, Some(false)),
        ]
    );
    assert_eq!(statuses(quiet), [("availability".to_owned(), BudgetStatus::InsufficientData, None)]);
    assert!((quiet.slos[0].requests - 744.0).abs() < 1e-6, "one request an hour: {}", quiet.slos[0].requests);

    // Traffic, peak rate, status mix, security.
    for r in &reports {
        let id = r.customer.id.as_str();
        let slots: Vec<Slot> = data::slots(id, from, to).collect();
        let requests: f64 = slots.iter().map(|s| s.requests() as f64).sum();
        assert!((r.traffic.requests - requests).abs() < 0.5, "{id} requests");
        let peak = slots.iter().map(|s| s.requests() as f64 / 300.0).fold(0.0, f64::max);
        close(&format!("{id} peak"), r.traffic.peak_rate, peak, 1e-6);
        let errors: f64 = slots.iter().map(|s| s.server_errors as f64).sum();
        close(&format!("{id} 5xx"), r.traffic.status_classes.get("5xx").copied(), errors, 0.5);
        let mitigated: f64 = slots.iter().map(|s| (s.block + s.challenge) as f64).sum();
        assert!(
            (r.security.mitigated - mitigated).abs() < 0.5,
            "{id} mitigated {} vs {mitigated}",
            r.security.mitigated
        );
        assert!(!r.security.by_action.contains_key("log"), "log does not mitigate");
    }

    // Probes and the certificate.
    let probe = &steady.probes[0];
    let probes: Vec<Slot> = data::slots("steady", from, to).collect();
    let failed: f64 = probes.iter().map(|s| s.probe_failed as f64).sum();
    assert!((probe.failures - failed).abs() < 0.5 && failed == 20.0, "four slots of five failed probes");
    close("certificate days left", probe.certificate_days_left, (data::NOT_AFTER - to) as f64 / 86_400.0, 1e-9);

    check_incidents(&reports, from, to);
    assert_eq!(steady.incidents.items.iter().map(|i| i.postmortem).collect::<Vec<_>>(), [true, false]);
    assert!(breach.incidents.items.iter().all(|i| i.postmortem));

    // Latency percentiles agree with Prometheus' own histogram_quantile.
    let degraded_day = &breach.latency[0].daily[16];
    assert_eq!(degraded_day.date.to_string(), "2026-01-17");
    for (q, got) in
        [(0.5, degraded_day.percentiles.p50), (0.9, degraded_day.percentiles.p90), (0.99, degraded_day.percentiles.p99)]
    {
        let want = runtime.block_on(client.instant(
            &format!("histogram_quantile({q}, sum by (le) (increase(edgewatch_edge_ttfb_seconds_bucket{{customer=\"breach\"}}[86400001ms])))"),
            Timestamp::from_second(at("2026-01-18T00:00")).unwrap(),
        ));
        close(&format!("p{q}"), got, want.unwrap()[0].value, 1e-9);
    }
    assert!(degraded_day.percentiles.p90.unwrap() > 0.3, "the degradation shows in p90");

    formats(&dir, &reports);
    noc_review(&reports);
    browser(&dir, breach);
    drop(prom);
    std::fs::remove_dir_all(&dir).unwrap();
    let elapsed = started.elapsed();
    eprintln!("whole test in {:.1}s", elapsed.as_secs_f64());
    assert!(elapsed < Duration::from_secs(60), "the test took {elapsed:?}");
}

/// Markdown snapshot, JSON against its schema, and the same figures in all three.
fn formats(dir: &Path, reports: &[Report]) {
    let written =
        edgewatch_reports::write_all(&dir.join("out"), reports, &[Format::Html, Format::Markdown, Format::Json])
            .unwrap();
    assert_eq!(written.len(), 9);
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for r in reports {
        let json = edgewatch_reports::json(r);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", r.customer.id);
        assert!(
            &serde_json::from_str::<Report>(&json).unwrap() == r,
            "{}: the JSON does not read back as the report",
            r.customer.id
        );

        let (md, html) = (edgewatch_reports::markdown(r), edgewatch_reports::html(r));
        insta::assert_snapshot!(format!("markdown_{}", r.customer.id), md);
        for figure in figures(r) {
            assert!(md.contains(&figure), "{}: Markdown lacks {figure}", r.customer.id);
            assert!(html.contains(&figure), "{}: HTML lacks {figure}", r.customer.id);
        }
        assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("url("), "self-contained");
    }
    // A report whose schema lost a field fails validation (the schema is strict).
    let mut value: serde_json::Value = serde_json::from_str(&edgewatch_reports::json(&reports[0])).unwrap();
    value["slos"][0].as_object_mut().unwrap().remove("sli");
    assert!(!validator.is_valid(&value));
    value["slos"][0]["sli"] = serde_json::json!(0.5);
    value["slos"][0]["surprise"] = serde_json::json!(1);
    assert!(!validator.is_valid(&value));
}

/// Each outage is one incident of its customer, with its true times, and
/// the budget it consumed, from Prometheus over its own window (the one
/// starting before the period counts from the period's start).
fn check_incidents(reports: &[Report], from: i64, to: i64) {
    for r in reports {
        let id = r.customer.id.as_str();
        let outages: Vec<_> = data::outages(id).into_iter().filter(|(a, b, _)| *a < to && *b > from).collect();
        assert_eq!(r.incidents.items.len(), outages.len(), "{id} incidents");
        assert!(r.incidents.available);
        let availability = &r.slos[0];
        let allowed = availability.budget.allowed;
        for (item, (a, b, _)) in r.incidents.items.iter().zip(&outages) {
            assert_eq!(
                (item.start.as_second(), item.end.map(Timestamp::as_second)),
                (*a, Some(*b)),
                "{id} {}",
                item.id
            );
            let (_, bad) = truth(data::slots(id, (*a).max(from), (*b).min(to)), "availability");
            let got = item.budget.iter().find(|x| x.slo == "availability").unwrap();
            assert!((got.bad - bad).abs() < 0.5, "{id} {}: bad {} vs {bad}", item.id, got.bad);
            close(&format!("{id} {} consumed", item.id), got.consumed, bad / allowed, TOLERANCE);
            assert_eq!(item.postmortem, bad / allowed > 0.2, "{id} {}", item.id);
            assert_eq!(item.duration_seconds, (b - a) as f64);
        }
    }
}

/// The same history with a real receiver store as the incident source:
/// each outage's burn alert was notified to a receiver firing at its start
/// and resolved at its end, and a remediation recorded on it. The report's
/// incidents have the outages' true times and budgets, and the notes.
#[test]
fn a_real_receiver_store_gives_the_incidents_their_true_times_and_budgets() {
    use edgewatch_webhook_receiver::{History, NewNote, NoteKind, Notes, ReportIncidents};

    let dir = scratch_dir("report-history-store");
    let prom = start(&dir);
    let catalog = edgewatch_catalog::load_str("catalog.yaml", data::CATALOG).unwrap().catalog;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = dir.join("receiver");
    runtime.block_on(notify_outages(&store, &catalog));
    let notes = Notes::open(&store).unwrap();
    let recorded = History::open(&store).unwrap().incidents(None, 0, i64::MAX).unwrap();
    assert_eq!(recorded.len(), 5, "one incident per outage: {recorded:#?}");
    for r in &recorded {
        let note = NewNote::new(NoteKind::Remediation, "ada@noc.example", "Rolled the origin pool back.").unwrap();
        notes.add(r.id, &note).unwrap();
    }

    let now: Timestamp = "2026-02-02T09:30:00Z".parse().unwrap();
    let spec = PeriodSpec::Range { from: "2026-01-01".parse().unwrap(), to: "2026-01-31".parse().unwrap() };
    let period = Period::resolve(&spec, &TimeZone::UTC, now).unwrap();
    let client = Prometheus::new(&prom.url(), Duration::from_secs(30)).unwrap();
    let source = ReportIncidents::open(&store, &catalog).unwrap();
    let ids = data::CUSTOMERS.iter().map(|c| (*c).to_owned()).collect();
    let reports = runtime
        .block_on(edgewatch_reports::build(&catalog, &client, &source, &Selection::Ids(ids), &period, now))
        .unwrap();
    check_incidents(&reports, at("2026-01-01T00:00"), at("2026-02-01T00:00"));
    for i in reports.iter().flat_map(|r| &r.incidents.items) {
        let by: Vec<_> = i.remediation.iter().map(|n| n.author.as_str()).collect();
        assert_eq!(by, ["ada@noc.example"], "{}", i.id);
        assert_eq!(i.alerts[0].kind.as_deref(), Some("burn_rate_fast"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Notifies a receiver with its store in `store` of every outage: the burn
/// alert firing at its start, then resolved at its end. The receiver
/// reopens an incident only within an hour of its news of resolution, so
/// each outage of a customer is one incident when the window is a second.
async fn notify_outages(store: &Path, catalog: &edgewatch_catalog::Catalog) {
    let config = edgewatch_webhook_receiver::Config::parse(&format!(
        "data_dir: '{}'\nincidents: {{reopen_window: 1s}}\n",
        store.display()
    ))
    .unwrap();
    let receiver = edgewatch_webhook_receiver::Receiver::build(&config, catalog.clone(), &|_| None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{}", listener.local_addr().unwrap(), edgewatch_webhook_receiver::WEBHOOK_PATH);
    let server = tokio::spawn(async move { axum::serve(listener, receiver.router()).await });
    let client = edgewatch_test_kit::http_client();
    for (c, customer) in data::CUSTOMERS.iter().enumerate() {
        for (n, (a, b, share)) in data::outages(customer).into_iter().enumerate() {
            let severity = if share == 100 { "page" } else { "ticket" };
            let time = |s: i64| Timestamp::from_second(s).unwrap().to_string();
            for (status, ends) in [("firing", b + 3600), ("resolved", b)] {
                let body = format!(
                    r#"{{"version":"4","groupKey":"g","status":"{status}","receiver":"edgewatch","externalURL":"http://am","alerts":[{{"status":"{status}","labels":{{"alertname":"EdgewatchErrorBudgetBurnFast","alert_kind":"burn_rate_fast","customer":"{customer}","slo":"availability","severity":"{severity}"}},"annotations":{{}},"startsAt":"{}","endsAt":"{}","fingerprint":"{c:08x}{n:08x}"}}]}}"#,
                    time(a),
                    time(ends)
                );
                let answer = client.post(&url).body(body).send().await.unwrap();
                assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
            }
            // Past the reopen window, as the receiver's clock counts it.
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
    }
    server.abort();
}

/// The NOC review of the three: sorted by budget consumed, the incidents'
/// figures, the customer under the floor; valid JSON; the same figures in
/// Markdown and HTML.
fn noc_review(reports: &[Report]) {
    let now: Timestamp = "2026-02-02T09:30:00Z".parse().unwrap();
    let review = edgewatch_reports::review(reports, now).unwrap();
    let order: Vec<&str> = review.customers.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(order, ["breach", "steady", "quiet"]);
    let (breach, steady) = (&review.customers[0], &review.customers[1]);
    assert_eq!((breach.status, breach.worst_slo.as_deref()), (BudgetStatus::Breached, Some("availability")));
    assert_eq!(breach.budget_consumed, reports[1].slos[0].budget.consumed);
    assert_eq!((steady.status, steady.incidents, steady.postmortems), (BudgetStatus::Ok, 2, 1));
    assert_eq!(review.under_floor, ["quiet"]);
    let s = &review.summary;
    assert_eq!((s.customers, s.breached, s.ok, s.insufficient_data), (3, 1, 1, 1));
    // The partial outage also had an attack alert: 6 alerts in 5 incidents.
    assert_eq!((s.incidents, s.postmortems, s.reopened, s.alerts_per_incident), (5, 4, 1, Some(1.2)));
    // ...which the breached customer's security section lists.
    let attacks: Vec<_> =
        reports[1].security.attacks.iter().map(|a| (a.alert.as_str(), a.incident.as_str(), a.end.is_some())).collect();
    assert_eq!(attacks, [("EdgewatchSuspectedAttack", "breach-1", true)]);
    assert_eq!(reports[1].security.attacks[0].offenders, attackers(), "the incident's recorded top offenders");
    assert!(reports[0].security.attacks.is_empty() && reports[2].security.attacks.is_empty());
    // Ticketed at 2 minutes (full outages) or 4 (partial); resolved after 20m, 5m, 2h, 3h, 2h.
    assert_eq!((s.time_to_ticket.median, s.time_to_ticket.worst), (Some(120.0), Some(240.0)));
    assert_eq!((s.time_to_resolve.median, s.time_to_resolve.worst), (Some(7200.0), Some(10_800.0)));

    let schema_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(schema_dir.join(name)).unwrap()).unwrap()
    };
    let report_schema = read("report.schema.json");
    let registry = jsonschema::Registry::new()
        .add(report_schema["$id"].as_str().unwrap(), report_schema.clone())
        .unwrap()
        .prepare()
        .unwrap();
    let validator = jsonschema::options().with_registry(&registry).build(&read("noc-review.schema.json")).unwrap();
    let json = edgewatch_reports::noc_json(&review);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(serde_json::from_str::<edgewatch_reports::NocReview>(&json).unwrap() == review);

    let (md, html) = (edgewatch_reports::noc_markdown(&review), edgewatch_reports::noc_html(&review));
    insta::assert_snapshot!("noc_review_markdown", md);
    for r in &review.customers {
        let figure = r.budget_consumed.map_or("–".to_owned(), |c| format!("{:.1}%", c * 100.0));
        assert!(md.contains(&figure) && html.contains(&figure), "{}: {figure}", r.id);
    }
    assert!(!html.contains("<script") && html.contains("<svg"));
}

/// The figures every format shows, printed as the reports print them.
fn figures(r: &Report) -> Vec<String> {
    let pct = |v: Option<f64>, d: usize| v.map_or("–".to_owned(), |v| format!("{:.d$}%", v * 100.0));
    let count = |v: f64| {
        let digits = format!("{:.0}", v.round());
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    };
    let mut out = vec![count(r.traffic.requests), count(r.security.mitigated)];
    for s in &r.slos {
        out.extend([pct(s.sli, 3), pct(s.budget.consumed, 1), pct(s.budget.remaining, 1), count(s.requests)]);
        out.push(s.budget.status.as_str().to_owned());
    }
    for i in &r.incidents.items {
        for b in i.budget.iter().filter(|b| b.bad > 0.0) {
            out.push(format!("{} {}", b.slo, pct(b.consumed, 1)));
        }
    }
    out
}

/// The HTML in headless Chromium: a screenshot with charts, not blank.
fn browser(dir: &Path, report: &Report) {
    let html = dir.join("report.html");
    std::fs::write(&html, edgewatch_reports::html(report)).unwrap();
    let png = dir.join("report.png");
    let profile = dir.join("chromium-profile");
    let out = Command::new(tool("chromium", "chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1000,3200",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(png.is_file(), "chromium made no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = bytes.chunks(channels).collect();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    let white = pixels.iter().filter(|p| p[..3] == [255, 255, 255]).count();
    let of = |rgb: [u8; 3]| pixels.iter().filter(|p| p[..3] == rgb).count();
    assert_eq!((info.width, info.height), (1000, 3200));
    assert!(colours.len() > 200, "{} colours: blank?", colours.len());
    assert!(white < pixels.len() * 97 / 100, "almost all white");
    // The charts' colours: the SLI lines, the 5xx bars, the breached status.
    assert!(of([0x15, 0x65, 0xc0]) > 200, "SLI and burn-down lines");
    assert!(of([0xc6, 0x28, 0x28]) > 200, "5xx bars, objective lines, breached badges");
    assert!(of([0x2e, 0x7d, 0x32]) > 200, "2xx bars");
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-sample.png");
    std::fs::copy(&png, &keep).unwrap();
    eprintln!("screenshot: {}", keep.display());
}
