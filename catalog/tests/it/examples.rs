//! The example catalog in `examples/catalog` loads cleanly, and each customer
//! gets what its tier and `defaults` say, with its own overrides on top.

use edgewatch_catalog::model::SloSpec;
use edgewatch_catalog::names::{AlertKind, Severity, SloKind};
use edgewatch_catalog::{Catalog, Duration};

use crate::crate_path;

fn example() -> Catalog {
    let loaded = edgewatch_catalog::load(&crate_path("../examples/catalog")).unwrap();
    assert!(loaded.warnings.is_empty(), "{}", edgewatch_catalog::render(&loaded.warnings));
    loaded.catalog
}

#[test]
fn loads_without_warnings() {
    let c = example();
    assert_eq!(c.summary().to_string(), "4 customers, 8 hosts, 10 SLOs, 4 probes, 4 destinations");
}

#[test]
fn effective_catalog_snapshot() {
    insta::assert_yaml_snapshot!("example_catalog", example());
}

#[test]
fn customers_inherit_from_tier_then_defaults() {
    let c = example();
    let slo = |customer: &str, name: &str| {
        c.customer(customer).unwrap().slos.iter().find(|s| s.name.as_str() == name).cloned()
    };
    let days = |d: u64| Duration::from_secs(d * 86_400);

    // acme-retail: own objective, period from the enterprise tier.
    let acme = slo("acme-retail", "availability").unwrap();
    assert_eq!(acme.objective.to_string(), "99.99%");
    assert_eq!(acme.period, days(30));
    // globex: enterprise objective; its own ttfb threshold over the tier's objective.
    assert_eq!(slo("globex", "availability").unwrap().objective.to_string(), "99.95%");
    let ttfb = slo("globex", "ttfb").unwrap();
    assert_eq!(ttfb.objective.to_string(), "99%");
    assert!(matches!(ttfb.spec, SloSpec::Latency { threshold, .. } if threshold == Duration::from_millis(800)));
    // initech: business tier latency with its 7d period; defaults' availability.
    assert_eq!(slo("initech", "ttfb").unwrap().period, days(7));
    assert_eq!(slo("initech", "availability").unwrap().objective.to_string(), "99.9%");
    // initech: switched the inherited probe SLO off; its own probe timeout.
    let initech = c.customer("initech").unwrap();
    assert!(initech.slos.iter().all(|s| s.kind() != SloKind::Probe));
    assert_eq!(initech.probes[0].timeout, Duration::from_secs(20));
    assert_eq!(initech.probes[0].interval, Duration::from_secs(120));
    // hooli: no probes, so the probe SLO from defaults does not apply.
    let hooli = c.customer("hooli").unwrap();
    assert!(hooli.slos.iter().all(|s| s.kind() != SloKind::Probe));
    assert_eq!(hooli.alerting.severity_of(AlertKind::BurnRateFast), Some(Severity::Ticket));
    assert_eq!(hooli.alerting.severity_of(AlertKind::Attack), None);
}

#[test]
fn routes_pick_destinations_by_severity() {
    let c = example();
    let acme = c.customer("acme-retail").unwrap();
    let to = |kind, sev| {
        acme.alerting.destinations_for(kind, sev).into_iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(
        to(AlertKind::BurnRateFast, Severity::Page),
        ["noc-pagerduty", "enterprise-jira", "noc-jira", "audit-log"]
    );
    assert_eq!(to(AlertKind::BurnRateSlow, Severity::Ticket), ["enterprise-jira", "noc-jira", "audit-log"]);
    assert_eq!(to(AlertKind::TrafficAnomaly, Severity::Info), ["audit-log"]);
}

#[test]
fn a_route_can_match_alert_kinds() {
    let c = example();
    let hooli = c.customer("hooli").unwrap();
    let to = |kind| {
        hooli
            .alerting
            .destinations_for(kind, Severity::Ticket)
            .into_iter()
            .map(edgewatch_catalog::Slug::as_str)
            .collect::<Vec<_>>()
    };
    assert_eq!(to(AlertKind::OriginErrors), ["noc-jira", "noc-pagerduty", "audit-log"]);
    assert_eq!(to(AlertKind::NoData), ["noc-jira", "audit-log"]);
}

#[test]
fn runbooks_render_per_kind_with_a_default() {
    let c = example();
    let acme = c.customer("acme-retail").unwrap();
    let render = |kind: AlertKind| {
        let template = acme.runbooks.for_kind(kind).unwrap();
        template.render(|var| match var {
            "customer" => Some("acme-retail".to_owned()),
            "alert_kind" => Some(kind.as_str().to_owned()),
            "slo" => Some("availability".to_owned()),
            _ => None,
        })
    };
    assert_eq!(render(AlertKind::BurnRateFast), "https://wiki.acme-retail.example/edge/availability-fast-burn");
    assert_eq!(render(AlertKind::OriginErrors), "https://runbooks.edgewatch.example/alerts/origin_errors");
    assert_eq!(render(AlertKind::ProbeDown), "https://runbooks.edgewatch.example/probes?customer=acme-retail");
}

#[test]
fn a_runbook_that_names_the_slo_links_each_slo_to_its_own_page() {
    let c = example();
    let acme = c.customer("acme-retail").unwrap();
    // The `{{slo}}` of `burn_rate_fast` is the alert's SLO, not always `availability`.
    assert_eq!(
        acme.runbook_url(AlertKind::BurnRateFast, Some("ttfb")).as_deref(),
        Some("https://wiki.acme-retail.example/edge/ttfb-fast-burn")
    );
    assert_eq!(
        acme.runbook_url(AlertKind::BurnRateFast, Some("availability")).as_deref(),
        Some("https://wiki.acme-retail.example/edge/availability-fast-burn")
    );
    assert!(acme.runbook_names_slo(AlertKind::BurnRateFast));
    assert!(!acme.runbook_names_slo(AlertKind::OriginErrors));
    assert_eq!(
        acme.runbook_url(AlertKind::OriginErrors, None).as_deref(),
        Some("https://runbooks.edgewatch.example/alerts/origin_errors")
    );
}

#[test]
fn texts_in_memory_load_as_the_folder_does() {
    // The example folder's files, in the path order a folder is read in.
    let mut files = Vec::new();
    for name in [
        "customers/acme.yaml",
        "customers/globex.yaml",
        "customers/hooli.yaml",
        "customers/initech.yaml",
        "defaults.yaml",
        "destinations.yaml",
    ] {
        let text = std::fs::read_to_string(crate_path("../examples/catalog").join(name)).unwrap();
        files.push((name, text));
    }
    let texts: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let from_texts = edgewatch_catalog::load_texts(&texts).unwrap();
    assert!(from_texts.warnings.is_empty());
    assert_eq!(serde_json::to_value(&from_texts.catalog).unwrap(), serde_json::to_value(example()).unwrap());

    // Diagnostics name each text as given, across texts.
    let twice = edgewatch_catalog::load_texts(&[("a.yaml", &files[4].1), ("b.yaml", &files[4].1)]).unwrap_err();
    let errors: Vec<String> = twice.errors().map(ToString::to_string).collect();
    assert!(errors.iter().any(|e| e.starts_with("b.yaml:") && e.contains("a.yaml")), "{errors:#?}");
}
