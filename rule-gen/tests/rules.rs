//! Rendered rules, checked by the real promtool: they load with lint on, and
//! the alerts fire when, and only when, they should.

// Helpers outside #[test] functions: a failed unwrap is a failed test here.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use edgewatch_rule_gen::{Options, Target, render};

fn options() -> Options {
    Options {
        target: Target::Prometheus,
        catalog_name: "test".to_owned(),
        grafana_url: "https://grafana.example".to_owned(),
        scrape_interval: "15s".parse().unwrap(),
        ingest_silence: edgewatch_rule_gen::DEFAULT_INGEST_SILENCE,
        delivery: edgewatch_rule_gen::Delivery {
            receiver_url: "http://receiver.example:9818/api/v1/alertmanager".to_owned(),
            exporter_targets: vec!["exporter.example:9817".to_owned()],
            exporter_job: edgewatch_rule_gen::DEFAULT_EXPORTER_JOB.to_owned(),
            receiver_credentials_file: Some("/etc/alertmanager/edgewatch-receiver-token".to_owned()),
            alertmanager_url: "http://localhost:9093".to_owned(),
            fallback_pagerduty: Some(edgewatch_rule_gen::FallbackPagerDuty {
                routing_key_file: "/etc/alertmanager/pagerduty-routing-key".to_owned(),
                url: None,
            }),
            heartbeat_url: Some("https://heartbeat.example/ping/edgewatch".to_owned()),
            prometheus_url: Some("http://localhost:9090".to_owned()),
        },
    }
}

fn promtool() -> String {
    tool("promtool", "prometheus")
}

/// Writes every rendered file; returns the rule files.
fn write_all(dir: &Path, catalog: &edgewatch_catalog::Catalog) -> Vec<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    render(catalog, &options())
        .unwrap()
        .into_iter()
        .filter_map(|f| {
            let path = dir.join(&f.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, f.contents).unwrap();
            f.path.starts_with("rules").then_some(path)
        })
        .collect()
}

use edgewatch_test_kit::tool;

#[test]
fn alertmanager_and_scrape_files_pass_amtool_and_promtool() {
    let catalog =
        edgewatch_catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")).unwrap().catalog;
    let dir = std::env::temp_dir().join(format!("edgewatch-rules-am-{}", std::process::id()));
    write_all(&dir, &catalog);
    let check = |tool_name: &str, package: &str, args: &[&str], file: &str| {
        let out = Command::new(tool(tool_name, package)).args(args).arg(dir.join(file)).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{tool_name} {args:?} {file}:\n{text}");
    };
    check("amtool", "prometheus-alertmanager", &["check-config"], "alertmanager/alertmanager.example.yml");
    check("promtool", "prometheus", &["check", "config"], "prometheus/scrape-edgewatch.yml");
    // The whole example loads every rule file (paths relative to it).
    check("promtool", "prometheus", &["check", "config"], "prometheus/prometheus.example.yml");

    let am: serde_json::Value = edgewatch_catalog::yaml::from_str(
        &std::fs::read_to_string(dir.join("alertmanager/alertmanager.example.yml")).unwrap(),
    )
    .unwrap();
    // One group per customer (and incident), as the receiver keys incidents;
    // a route per severity, so the file does not grow with the catalog.
    assert_eq!(am["route"]["group_by"], serde_json::json!(["customer", "incident"]));
    let routes = am["route"]["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 5, "the heartbeat's, the fallback's, and a route per severity");
    // The heartbeat never reaches the receiver: its own route, first, and
    // no `continue`.
    assert_eq!(routes[0]["matchers"], serde_json::json!([r#"alertname="EdgewatchHeartbeat""#]));
    assert_eq!((&routes[0]["receiver"], routes[0].get("continue")), (&"edgewatch-heartbeat".into(), None));
    // edgewatch's own pages also go through Alertmanager's PagerDuty
    // notifier, then on to the receiver.
    assert_eq!(
        routes[1]["matchers"],
        serde_json::json!([r#"component=~"receiver|alertmanager""#, r#"severity="page""#])
    );
    assert_eq!((&routes[1]["receiver"], &routes[1]["continue"]), (&"edgewatch-fallback".into(), &true.into()));
    let fallback = am["receivers"].as_array().unwrap().iter().find(|r| r["name"] == "edgewatch-fallback").unwrap();
    assert_eq!(fallback["pagerduty_configs"][0]["routing_key_file"], "/etc/alertmanager/pagerduty-routing-key");
    assert_eq!(routes[2]["matchers"], serde_json::json!([r#"severity="page""#]));
    assert_eq!((&routes[2]["group_wait"], &routes[2]["group_interval"]), (&"5s".into(), &"1m".into()));
    assert_eq!(routes[2]["repeat_interval"], "4h");
    let webhook = &am["receivers"][0]["webhook_configs"][0];
    assert_eq!(webhook["url"], "http://receiver.example:9818/api/v1/alertmanager");
    assert_eq!(
        webhook["http_config"]["authorization"],
        serde_json::json!({"type": "Bearer", "credentials_file": "/etc/alertmanager/edgewatch-receiver-token"})
    );
    // Only echoes are inhibited: customers' no-data while the exporter is down.
    assert_eq!(am["inhibit_rules"][0]["source_matchers"], serde_json::json!([r#"alertname="EdgewatchExporterDown""#]));
    assert_eq!(am["inhibit_rules"][0]["equal"], serde_json::json!([]));
    let _ = std::fs::remove_dir_all(dir);
}

/// Renders `catalog`, writes `test` (a promtool test file whose `RULES`
/// stands for the rule files) beside the rules, and runs `promtool test rules`.
fn unit_test(name: &str, catalog: &str, test: &str) {
    let catalog = edgewatch_catalog::load_str("c.yaml", catalog).unwrap().catalog;
    let dir = std::env::temp_dir().join(format!("edgewatch-rules-{name}-{}", std::process::id()));
    let files = write_all(&dir, &catalog);
    assert!(!files.is_empty());
    let list = files.iter().map(|f| format!("'{}'", f.display())).collect::<Vec<_>>().join(", ");
    // The constants' groups in the order Prometheus' intervals make
    // effective: each customer's profile, the profiles' values, their join.
    let constants = edgewatch_rule_gen::constants_group_order(files.iter().map(PathBuf::as_path));
    let path = dir.join("test.yml");
    std::fs::write(&path, test.replace("RULES", &list).replace("CONSTANTS", &constants.join(", "))).unwrap();
    run(&["test", "rules"], &[path]);
    let _ = std::fs::remove_dir_all(dir);
}

fn run(args: &[&str], files: &[PathBuf]) -> String {
    let out = Command::new(promtool()).args(args).args(files).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn the_example_catalog_renders_rules_promtool_accepts() {
    let catalog =
        edgewatch_catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")).unwrap().catalog;
    let dir = std::env::temp_dir().join(format!("edgewatch-rules-example-{}", std::process::id()));
    let files = write_all(&dir, &catalog);
    run(&["check", "rules", "--lint-fatal"], &files);
    let _ = std::fs::remove_dir_all(dir);
}

/// The rule groups of an operator or Mimir file, as a plain rule file
/// (promtool knows neither wrapper nor Thanos' `partial_response_strategy`).
fn unwrap_groups(text: &str) -> String {
    let doc: serde_json::Value = edgewatch_catalog::yaml::from_str(text).unwrap();
    let mut groups = doc.get("spec").unwrap_or(&doc)["groups"].clone();
    for g in groups.as_array_mut().unwrap() {
        g.as_object_mut().unwrap().remove("partial_response_strategy");
    }
    edgewatch_catalog::yaml::to_string(&serde_json::json!({ "groups": groups })).unwrap()
}

#[test]
fn every_target_holds_rules_promtool_accepts() {
    let catalog =
        edgewatch_catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")).unwrap().catalog;
    let targets = [
        Target::PrometheusOperator {
            namespace: Some("monitoring".to_owned()),
            labels: [("release".to_owned(), "kube-prometheus-stack".to_owned())].into(),
        },
        Target::Mimir { namespace: "edgewatch".to_owned(), partial_response_strategy: Some("abort".to_owned()) },
    ];
    for target in targets {
        let files = render(&catalog, &Options { target: target.clone(), ..options() }).unwrap();
        let dir = std::env::temp_dir().join(format!("edgewatch-rules-target-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut plain = Vec::new();
        let rule_files =
            files.iter().filter(|f| f.path.starts_with("prometheus-operator") || f.path.starts_with("mimir"));
        for (i, f) in rule_files.enumerate() {
            let doc: serde_json::Value = edgewatch_catalog::yaml::from_str(&f.contents).unwrap();
            if let Target::PrometheusOperator { .. } = &target {
                assert_eq!(doc["apiVersion"], "monitoring.coreos.com/v1");
                assert_eq!(doc["kind"], "PrometheusRule");
                assert_eq!(doc["metadata"]["namespace"], "monitoring");
                assert_eq!(doc["metadata"]["labels"]["release"], "kube-prometheus-stack");
            } else {
                assert_eq!(doc["namespace"], "edgewatch");
                assert_eq!(doc["groups"][0]["partial_response_strategy"], "abort");
            }
            let path = dir.join(format!("{i}.yml"));
            std::fs::write(&path, unwrap_groups(&f.contents)).unwrap();
            plain.push(path);
        }
        run(&["check", "rules", "--lint-fatal"], &plain);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn example_catalog_snapshots() {
    let catalog =
        edgewatch_catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")).unwrap().catalog;
    for f in render(&catalog, &options()).unwrap() {
        let name = f.path.display().to_string().replace('/', "__");
        insta::assert_snapshot!(name, f.contents);
    }
}

#[test]
fn generated_unit_tests_pass_for_every_customer() {
    let catalog =
        edgewatch_catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")).unwrap().catalog;
    let dir = std::env::temp_dir().join(format!("edgewatch-rules-tests-{}", std::process::id()));
    write_all(&dir, &catalog);
    let tests: Vec<PathBuf> = std::fs::read_dir(dir.join("tests")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(
        tests.len(),
        10,
        "SLO, probe and certificate tests, and traffic tests, for each of the 4 profiles; the one shard's structural test; the pipeline's tests"
    );
    run(&["test", "rules"], &tests);
    let _ = std::fs::remove_dir_all(dir);
}

/// The output of `promtool test rules` on `tests`, and whether it passed.
fn promtool_test(tests: &[PathBuf]) -> (bool, String) {
    let out = Command::new(promtool()).args(["test", "rules"]).args(tests).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Customers whose values are the same share one profile: one rule file
/// and one pair of behaviour tests however many they are, and the
/// structural test checks each of them.
#[test]
fn customers_with_the_same_values_share_a_profile() {
    let mut y = String::from(
        "destinations:\n  log: {log: {path: '-'}}\ndefaults:\n  alerting: {routes: [{to: [log]}]}\n  slos:\n    availability: {objective: 99.9}\ncustomers:\n",
    );
    for i in 0..300 {
        let objective = if i == 7 { "\n    slos: {availability: {objective: 99.5}}" } else { "" };
        let _ =
            writeln!(y, "  - id: c{i:03}\n    name: \"Customer \\\"{i}\\\"\"\n    hosts: [c{i:03}.example]{objective}");
    }
    let catalog = edgewatch_catalog::load_str("catalog.yaml", &y).unwrap().catalog;
    let dir = std::env::temp_dir().join(format!("edgewatch-rules-profiles-{}", std::process::id()));
    write_all(&dir, &catalog);
    let profiles: Vec<PathBuf> =
        std::fs::read_dir(dir.join("rules/profiles")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(profiles.len(), 2, "{profiles:?}");
    // 300 customers: one shard under 500, but two shards past it.
    let shard = std::fs::read_to_string(dir.join("rules/customers/00.yml")).unwrap();
    assert_eq!(shard.matches("record: edgewatch:customer:info").count(), 300);
    let tests = std::fs::read_dir(dir.join("tests")).unwrap().count();
    assert_eq!(tests, 2 * 2 + 2, "two profiles' tests, the shard's structural test, the pipeline's");
    let (ok, said) = promtool_test(&[dir.join("tests/edgewatch-customers-00.yml")]);
    assert!(ok, "{said}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The issue's check: one customer's objective changed in a copy of the
/// rendered rules fails the generated tests, whether it is changed in its
/// profile's values or by moving the customer to another profile.
#[test]
fn a_changed_constant_in_the_rendered_rules_fails_the_generated_tests() {
    let catalog =
        edgewatch_catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")).unwrap().catalog;
    let dir = std::env::temp_dir().join(format!("edgewatch-rules-tamper-{}", std::process::id()));
    write_all(&dir, &catalog);
    let structural = dir.join("tests/edgewatch-customers-00.yml");
    let customers = dir.join("rules/customers/00.yml");
    let text = std::fs::read_to_string(&customers).unwrap();
    let profile_of = |id: &str| {
        let at = text.find(&format!("customer: {id}\n")).unwrap();
        let rest = &text[at..];
        let p = &rest[rest.find("profile: ").unwrap() + 9..];
        p[..p.find('\n').unwrap()].to_owned()
    };
    let (globex, hooli) = (profile_of("globex"), profile_of("hooli"));
    assert_ne!(globex, hooli);
    let (ok, said) = promtool_test(std::slice::from_ref(&structural));
    assert!(ok, "untouched: {said}");

    // Globex's availability objective, 99.95%, made 99.5% in its profile.
    let file = dir.join(format!("rules/profiles/{globex}.yml"));
    let values = std::fs::read_to_string(&file).unwrap();
    let objective = "record: profile_slo:objective:ratio\n    expr: vector(0.9995)\n";
    assert_eq!(values.matches(objective).count(), 1, "{values}");
    std::fs::write(&file, values.replace(objective, "record: profile_slo:objective:ratio\n    expr: vector(0.995)\n"))
        .unwrap();
    let behaviour = dir.join(format!("tests/{globex}.yml"));
    let (ok, said) = promtool_test(&[structural.clone(), behaviour]);
    assert!(!ok, "a changed objective passed: {said}");
    assert!(said.contains(r#"count_values without (customer) (\"value\", slo:objective:ratio)"#), "{said}");
    assert!(said.contains("globex: 16x the availability budget fires the fast burn alert"), "{said}");
    std::fs::write(&file, values).unwrap();

    // Globex moved to Hooli's profile, whose objective differs.
    let moved = text.replace(
        &format!("customer: globex\n      name: Globex Corporation\n      profile: {globex}"),
        &format!("customer: globex\n      name: Globex Corporation\n      profile: {hooli}"),
    );
    assert_ne!(moved, text);
    std::fs::write(&customers, moved).unwrap();
    let (ok, said) = promtool_test(&[structural]);
    assert!(!ok, "a customer in another profile passed: {said}");
    assert!(said.contains(r#"expr: "edgewatch:customer:info""#), "{said}");
    assert!(said.contains(r#"count_values without (customer) (\"value\", slo:objective:ratio)"#), "{said}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_group_order_given_to_promtool_covers_every_shared_group() {
    let catalog =
        edgewatch_catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")).unwrap().catalog;
    let mut shared: Vec<String> = render(&catalog, &options())
        .unwrap()
        .iter()
        .filter(|f| {
            f.path.starts_with("rules")
                && !f.path.starts_with("rules/profiles")
                && !f.path.starts_with("rules/customers")
        })
        .flat_map(|f| {
            let doc: serde_json::Value = edgewatch_catalog::yaml::from_str(&f.contents).unwrap();
            doc["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        })
        // The pipeline's group reads no recording: its tests order it alone.
        // The customers' constants come first, then the profiles' values
        // and their join: the generated tests give those in that order.
        .filter(|g| ![edgewatch_rule_gen::PIPELINE_GROUP, edgewatch_rule_gen::CONSTANTS_GROUP].contains(&g.as_str()))
        .collect();
    shared.sort();
    let mut order: Vec<String> = edgewatch_rule_gen::GROUP_ORDER.iter().map(|g| (*g).to_owned()).collect();
    order.sort();
    assert_eq!(shared, order);
}

#[test]
fn rendering_is_deterministic() {
    let catalog =
        edgewatch_catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")).unwrap().catalog;
    assert_eq!(render(&catalog, &options()).unwrap(), render(&catalog, &options()).unwrap());
}

const CATALOG: &str = "
destinations:
  log: {log: {path: '-'}}
customers:
  - id: shop
    hosts: [shop.example]
    slos:
      availability: {objective: 99.9, period: 28d}
    alerting:
      min_requests: 1000
      routes: [{to: [log]}]
    runbooks:
      default: https://runbooks.example/{{alert_kind}}
";

/// 99.9%: the fast tier's threshold is 14.4 × 0.1% = 1.44%, whatever the
/// period. Samples every 15s, as the rules' scrape interval.
const UNIT_TEST: &str = r#"
rule_files: [RULES]
evaluation_interval: 1m
# As Prometheus would: constants first, then what each group reads.
group_eval_order: [CONSTANTS, edgewatch-fast, edgewatch-sli, edgewatch-sli-long, edgewatch-traffic, edgewatch-slo-alerts]
tests:
  # 2% of 600 requests a minute fail: above 1.44% on every window.
  - interval: 15s
    input_series:
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="good"}', values: '0+147x480'}
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="bad"}', values: '0+3x480'}
    alert_rule_test:
      - eval_time: 20m
        alertname: EdgewatchErrorBudgetBurnFast
        exp_alerts:
          - exp_labels: {customer: shop, slo: availability, slo_kind: availability, severity: page, alert_kind: burn_rate_fast}
            exp_annotations:
              summary: "shop: the availability SLO is failing 2% of requests"
              description: "shop: 2% of requests failed the availability SLO over the last minutes or hour, and still fail now: more than 14.4 times what the objective (99.9%) allows. Over the last hour the budget burned 20.0x."
              runbook_url: "https://runbooks.example/burn_rate_fast"
              dashboard_url: "https://grafana.example/d/edgewatch-shop?var-slo=availability&from=now-6h&to=now"
      - {eval_time: 20m, alertname: EdgewatchNoData, exp_alerts: []}
  # Errors at half the budget leave half of it over the period.
  - interval: 1m
    input_series:
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="good"}', values: '0+1999x120'}
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="bad"}', values: '0+1x120'}
    promql_expr_test:
      # promtool 2.42 compares floats exactly; the sums carry float noise.
      - expr: round(slo:error_budget_remaining:ratio, 0.000001)
        eval_time: 60m
        exp_samples:
          - {labels: '{customer="shop",slo="availability",slo_kind="availability",period="28d"}', value: 0.5}
      - expr: round(slo:sli_error:ratio_period, 0.0000001)
        eval_time: 60m
        exp_samples:
          - {labels: '{customer="shop",slo="availability",slo_kind="availability",period="28d"}', value: 0.0005}
  # No errors: nothing fires.
  - interval: 15s
    input_series:
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="good"}', values: '0+150x480'}
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="bad"}', values: '0+0x480'}
      - {series: 'edgewatch_requests_total{customer="shop",host="shop.example",status_class="2xx",cache_status="hit"}', values: '0+150x480'}
      - {series: 'up{job="edgewatch-exporter",instance="exporter:9817"}', values: '1x480'}
    alert_rule_test:
      - {eval_time: 90m, alertname: EdgewatchErrorBudgetBurnFast, exp_alerts: []}
      - {eval_time: 90m, alertname: EdgewatchErrorBudgetBurnMedium, exp_alerts: []}
      - {eval_time: 90m, alertname: EdgewatchErrorBudgetBurnSlow, exp_alerts: []}
      - {eval_time: 90m, alertname: EdgewatchNoData, exp_alerts: []}
  # An hour at 0.5x, then 1% of 1200 requests a minute fail (10x): the slow
  # tier tickets, and says what it means (not "burning fast").
  - interval: 15s
    input_series:
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="good"}', values: '0+299.85x240 72261+297x559'}
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="bad"}', values: '0+0.15x240 39+3x559'}
    alert_rule_test:
      - {eval_time: 59m, alertname: EdgewatchErrorBudgetBurnSlow, exp_alerts: []}
      - eval_time: 190m
        alertname: EdgewatchErrorBudgetBurnSlow
        exp_alerts:
          - exp_labels: {customer: shop, slo: availability, slo_kind: availability, severity: ticket, alert_kind: burn_rate_slow}
            exp_annotations:
              summary: "shop: the availability SLO's error budget will not last its period"
              description: "shop: 1% of requests failed the availability SLO, outages left out: more than 3 times what the objective (99.9%) allows over the last 2 hours, or 1.5 times over the last 3 days, and still now. Find the steady source of errors: the budget runs out before the period ends."
              runbook_url: "https://runbooks.example/burn_rate_slow"
              dashboard_url: "https://grafana.example/d/edgewatch-shop?var-slo=availability&from=now-6h&to=now"
  # Half of the requests fail, but 10 a minute is below the floor of 1000
  # in any window the tiers read.
  - interval: 1m
    input_series:
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="good"}', values: '0+5x120'}
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="bad"}', values: '0+5x120'}
    alert_rule_test:
      - {eval_time: 90m, alertname: EdgewatchErrorBudgetBurnFast, exp_alerts: []}
      - {eval_time: 90m, alertname: EdgewatchErrorBudgetBurnSlow, exp_alerts: []}
  # Requests stop after 30 minutes while the exporter is scraped: no burn
  # alert, and one no-data alert for the customer within 10 minutes.
  - interval: 15s
    input_series:
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="good"}', values: '0+150x120 18000x120'}
      - {series: 'edgewatch_slo_requests_total{customer="shop",slo="availability",result="bad"}', values: '0x240'}
      - {series: 'edgewatch_requests_total{customer="shop",host="shop.example",status_class="2xx",cache_status="hit"}', values: '0+150x120 18000x120'}
      - {series: 'up{job="edgewatch-exporter",instance="exporter:9817"}', values: '1x240'}
    alert_rule_test:
      - {eval_time: 40m, alertname: EdgewatchErrorBudgetBurnFast, exp_alerts: []}
      - eval_time: 40m
        alertname: EdgewatchNoData
        exp_alerts:
          - exp_labels: {customer: shop, severity: ticket, alert_kind: no_data}
            exp_annotations:
              summary: "shop: no requests for 5 minutes"
              description: "shop: no request of this customer reached edgewatch in the last 5 minutes, while the exporter is up and the hour before had traffic. Check the customer's DNS and edge configuration, and whether its logs still arrive (the Logpush job and its secret, the tailed files)."
              runbook_url: "https://runbooks.example/no_data"
              dashboard_url: "https://grafana.example/d/edgewatch-shop?from=now-6h&to=now"
"#;

/// Origin failures, an attack after a quiet day, and a drop against last
/// week. Severities are the catalog's defaults: ticket, page, info.
const TRAFFIC_TEST: &str = r#"
rule_files: [RULES]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - {series: 'edgewatch_requests_total{customer="shop",host="shop.example",status_class="2xx",cache_status="hit"}', values: '0+600x40'}
      - {series: 'edgewatch_origin_errors_total{customer="shop",host="shop.example",kind="connection_timeout"}', values: '0+60x40'}
    alert_rule_test:
      - eval_time: 20m
        alertname: EdgewatchOriginErrors
        exp_alerts:
          - exp_labels: {customer: shop, severity: ticket, alert_kind: origin_errors}
            exp_annotations:
              summary: "shop: the origin failed 10% of requests"
              description: "shop: 10% of requests over the last 10 minutes failed at the origin (52x, unreachable or 5xx). Look at the kinds on the dashboard: connection errors point at the origin's network, timeouts at its load."
              runbook_url: "https://runbooks.example/origin_errors"
              dashboard_url: "https://grafana.example/d/edgewatch-shop?from=now-6h&to=now"
      - {eval_time: 20m, alertname: EdgewatchSuspectedAttack, exp_alerts: []}
  # A day with 1% blocked, then 20%.
  - interval: 1m
    input_series:
      - {series: 'edgewatch_requests_total{customer="shop",host="shop.example",status_class="2xx",cache_status="hit"}', values: '0+600x1470'}
      - {series: 'edgewatch_security_actions_total{customer="shop",host="shop.example",action="block"}', values: '0+6x1440 8760+120x30'}
    alert_rule_test:
      - {eval_time: 1430m, alertname: EdgewatchSuspectedAttack, exp_alerts: []}
      - eval_time: 1460m
        alertname: EdgewatchSuspectedAttack
        exp_alerts:
          - exp_labels: {customer: shop, severity: page, alert_kind: attack}
            exp_annotations:
              summary: "shop: 20% of requests blocked or challenged"
              description: "shop: security rules blocked or challenged 20% of requests over the last 10 minutes, three times the day's share. Look at the top offenders by IP, ASN, country, path and user agent, and consider a rule for the heaviest."
              runbook_url: "https://runbooks.example/attack"
              dashboard_url: "https://grafana.example/d/edgewatch-shop?from=now-6h&to=now"
  # A week at 600 a minute, then 100.
  - interval: 1m
    input_series:
      - {series: 'edgewatch_requests_total{customer="shop",host="shop.example",status_class="2xx",cache_status="hit"}', values: '0+600x10090 6054000+100x40'}
    alert_rule_test:
      - {eval_time: 10085m, alertname: EdgewatchTrafficDrop, exp_alerts: []}
      - eval_time: 10120m
        alertname: EdgewatchTrafficDrop
        exp_alerts:
          - exp_labels: {customer: shop, severity: info, alert_kind: traffic_anomaly}
            exp_annotations:
              summary: "shop: traffic dropped to 1.667 requests/s"
              description: "shop: requests fell below half of both the same time last week and the hour before. Check DNS, the customer's own changes, and whether logs still arrive."
              runbook_url: "https://runbooks.example/traffic_anomaly"
              dashboard_url: "https://grafana.example/d/edgewatch-shop?from=now-6h&to=now"
"#;

/// Two of three addresses failing, and a certificate with 10 days left.
const PROBE_TEST: &str = r#"
rule_files: [RULES]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - {series: 'edgewatch_probe_success{customer="shop",probe="home",ip="192.0.2.1"}', values: '1x3 0x20'}
      - {series: 'edgewatch_probe_success{customer="shop",probe="home",ip="192.0.2.2"}', values: '1x3 0x20'}
      - {series: 'edgewatch_probe_success{customer="shop",probe="home",ip="2001:db8::1"}', values: '1x23'}
      - {series: 'edgewatch_probe_tls_not_after_timestamp_seconds{customer="shop",probe="home"}', values: '864000x23'}
    alert_rule_test:
      - {eval_time: 4m, alertname: EdgewatchProbeDown, exp_alerts: []}
      - eval_time: 10m
        alertname: EdgewatchProbeDown
        exp_alerts:
          - exp_labels: {customer: shop, probe: home, severity: page, alert_kind: probe_down}
            exp_annotations:
              summary: "shop: probe home fails from 66.67% of its addresses"
              description: "shop: the home probe has failed from most of the addresses it probes for 3 minutes. Compare the addresses on the dashboard: one family (IPv4 or IPv6) or one address failing points at the network, all of them at the site."
              runbook_url: "https://runbooks.example/probe_down"
              dashboard_url: "https://grafana.example/d/edgewatch-shop?from=now-6h&to=now"
      - eval_time: 20m
        alertname: EdgewatchCertificateExpiring
        exp_alerts:
          - exp_labels: {customer: shop, probe: home, severity: ticket, alert_kind: cert_expiry_warning, incident: certificate}
            exp_annotations:
              summary: "shop: the certificate of home expires in 10.0 days"
              description: "shop: the certificate served to the home probe expires within 14 days. Check that renewal (ACME or the customer's upload) is running."
              runbook_url: "https://runbooks.example/cert_expiry_warning"
              dashboard_url: "https://grafana.example/d/edgewatch-shop?from=now-6h&to=now"
      - {eval_time: 20m, alertname: EdgewatchCertificateExpiryImminent, exp_alerts: []}
"#;

#[test]
fn probe_alerts_fire_on_most_addresses_failing_and_expiring_certificates() {
    unit_test("probes", CATALOG, PROBE_TEST);
}

#[test]
fn traffic_alerts_fire_on_origin_failures_attacks_and_drops() {
    unit_test("traffic", CATALOG, TRAFFIC_TEST);
}

#[test]
fn alerts_fire_when_and_only_when_they_should() {
    unit_test("unit", CATALOG, UNIT_TEST);
}

/// Alertmanager decides by severity (how soon, how often); the receiver
/// decides per customer from the catalog. So the routing is the same for
/// 3 customers as for 3,000, in any tiers, and one notification still
/// holds one customer's alerts.
#[test]
fn alertmanager_routing_does_not_grow_with_customers() {
    let am = |customers: usize| {
        let head = "destinations:\n  log: {log: {path: '-'}}\ndefaults:\n  alerting: {routes: [{to: [log]}]}\n  slos:\n    availability: {objective: 99.9}\ntiers:\n  gold: {alerting: {severity: {origin_errors: page}}}\n  silver: {}\ncustomers:\n";
        let y: String = std::iter::once(head.to_owned())
            .chain((0..customers).map(|i| {
                let tier = ["gold", "silver"][i % 2];
                format!("  - {{id: c{i:04}, tier: {tier}, hosts: [c{i:04}.example]}}\n")
            }))
            .collect();
        let catalog = edgewatch_catalog::load_str("c.yaml", &y).unwrap().catalog;
        render(&catalog, &options())
            .unwrap()
            .into_iter()
            .find(|f| f.path == Path::new("alertmanager/alertmanager.example.yml"))
            .unwrap()
            .contents
    };
    let small = am(3);
    assert_eq!(small, am(3_000));
    let config: serde_json::Value = edgewatch_catalog::yaml::from_str(&small).unwrap();
    assert_eq!(config["route"]["group_by"], serde_json::json!(["customer", "incident"]));
    // The heartbeat, the fallback page, and one route per severity.
    assert_eq!(config["route"]["routes"].as_array().unwrap().len(), 5);
}

/// With `dashboards: {customers: shared}`, the alerts link to the shared
/// customer dashboard with the customer set; the generated tests expect it.
#[test]
fn alerts_link_to_the_shared_dashboard_when_the_catalog_shares_one() {
    let mut catalog =
        edgewatch_catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")).unwrap().catalog;
    catalog.customer_dashboards = edgewatch_catalog::model::CustomerDashboards::Shared;
    let dir = std::env::temp_dir().join(format!("edgewatch-rules-shared-{}", std::process::id()));
    write_all(&dir, &catalog);
    let alerts = std::fs::read_to_string(dir.join("rules/edgewatch-alerts.yml")).unwrap();
    assert!(
        alerts.contains(
            "https://grafana.example/d/edgewatch_customer?var-customer={{ $labels.customer }}&{{ with $labels.slo }}"
        ),
        "{alerts}"
    );
    assert!(!alerts.contains("/d/edgewatch-"), "no link to a customer's own dashboard");
    // One profile's behaviour tests, which check the links of what fires.
    let tests: Vec<PathBuf> = std::fs::read_dir(dir.join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with("enterprise-")
                && !p.to_string_lossy().ends_with("-traffic.yml")
        })
        .take(1)
        .collect();
    let (ok, said) = promtool_test(&tests);
    assert!(ok, "{said}");
    let test = std::fs::read_to_string(&tests[0]).unwrap();
    assert!(test.contains("dashboard_url: https://grafana.example/d/edgewatch_customer?var-customer="), "{test}");
    let _ = std::fs::remove_dir_all(dir);
}
