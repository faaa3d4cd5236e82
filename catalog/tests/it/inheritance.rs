//! Merging files and layering defaults, tiers and customers.

use edgewatch_catalog::model::SloSpec;
use edgewatch_catalog::names::{AlertKind, Severity};
use edgewatch_catalog::{StatusMatcher, load, load_str};

use crate::TempDir;

const BASE: &str = "
destinations:
  log: {log: {path: '-'}}
defaults:
  slos:
    availability: {objective: 99.9, errors: [5xx, 429]}
    latency:
      ttfb: {threshold: 300ms, objective: 99}
  alerting:
    routes: [{to: [log]}]
tiers:
  gold:
    slos:
      availability: {objective: 99.95}
    alerting:
      min_requests: 2000
      severity: {burn_rate_slow: page}
";

fn with_customer(customer: &str) -> edgewatch_catalog::Catalog {
    let yaml = format!("{BASE}customers:\n{customer}");
    match load_str("catalog.yaml", &yaml) {
        Ok(l) => l.catalog,
        Err(e) => panic!("{}", edgewatch_catalog::render(&e.diagnostics)),
    }
}

#[test]
fn keys_override_one_by_one_and_lists_are_replaced() {
    let c = with_customer(
        "  - id: a
    tier: gold
    hosts: [a.example]
    slos:
      availability: {errors: [503]}
",
    );
    let a = &c.customers[0];
    let avail = &a.slos[0];
    assert_eq!(avail.objective.to_string(), "99.95%", "objective from the tier");
    match &avail.spec {
        SloSpec::Availability { errors, .. } => assert_eq!(errors, &[StatusMatcher::Code(503)], "list replaced"),
        other => panic!("{other:?}"),
    }
    assert_eq!(a.alerting.min_requests, 2000);
    assert_eq!(a.alerting.severity_of(AlertKind::BurnRateSlow), Some(Severity::Page));
    assert_eq!(a.alerting.severity_of(AlertKind::BurnRateFast), Some(Severity::Page), "built-in default");
    assert_eq!(a.alerting.routes.len(), 1, "routes from defaults");
}

#[test]
fn an_inherited_slo_can_be_switched_off() {
    let c = with_customer(
        "  - id: a
    hosts: [a.example]
    slos:
      latency:
        ttfb: {enabled: false}
",
    );
    let names: Vec<_> = c.customers[0].slos.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["availability"]);
}

#[test]
fn the_traffic_floor_check_uses_the_effective_values() {
    // 99.99% needs 10000 requests; the tier's 2000 is not enough.
    let yaml = format!(
        "{BASE}customers:\n  - id: a\n    tier: gold\n    hosts: [a.example]\n    slos:\n      availability: {{objective: 99.99}}\n"
    );
    let err = load_str("c.yaml", &yaml).unwrap_err();
    let d = err.errors().next().unwrap();
    assert!(d.message.contains("min_requests = 2000"), "{d}");
    assert_eq!(d.hint.as_deref(), Some("raise `alerting.min_requests` to at least 10000, or lower the objective"));
}

#[test]
fn a_folder_merges_its_files_in_name_order() {
    let dir = TempDir::new("merge");
    dir.write("00-shared.yaml", BASE)
        .write("customers/b.yaml", "customers:\n  - id: b\n    hosts: [b.example]\n")
        .write("customers/a.yml", "customers:\n  - id: a\n    hosts: [a.example]\n")
        .write("customers/.hidden.yaml", "not: [valid")
        .write("README.md", "not yaml");
    let c = load(&dir.0).unwrap().catalog;
    let ids: Vec<_> = c.customers.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn definitions_split_across_files_must_not_repeat() {
    let dir = TempDir::new("repeat");
    dir.write("a.yaml", BASE)
        .write("b.yaml", "defaults: {}\ntiers:\n  gold: {}\ndestinations:\n  log: {log: {path: x.jsonl}}\n");
    let err = load(&dir.0).unwrap_err();
    let messages: Vec<_> = err.errors().map(|d| (d.line, d.message.clone())).collect();
    assert_eq!(
        messages,
        [
            (Some(1), "`defaults` is set in more than one file".to_owned()),
            (Some(3), "tier `gold` is defined twice".to_owned()),
            (Some(5), "destination `log` is defined twice".to_owned()),
        ]
    );
}

#[test]
fn merge_keys_and_anchors_are_understood() {
    let yaml = "
destinations:
  log: {log: {path: '-'}}
defaults:
  alerting: {routes: [{to: [log]}]}
customers:
  - &common
    id: a
    hosts: [a.example]
    slos:
      availability: {objective: 99.5}
  - <<: *common
    id: b
    hosts: [b.example]
";
    let c = load_str("c.yaml", yaml).unwrap().catalog;
    assert_eq!(c.customers[1].slos[0].objective.to_string(), "99.5%");
}
