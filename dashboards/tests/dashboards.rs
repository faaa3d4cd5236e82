//! The example catalog's dashboards: snapshots, stable uids that the alerts'
//! links resolve to, a sane grid, queries the real promtool parses, and the
//! Kubernetes and provisioning outputs.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::Command;

use edgewatch_catalog::model::CustomerDashboards;
use edgewatch_catalog::names;
use edgewatch_dashboards::{Dashboard, Options, Target, dashboards, picture, render, to_json};
use edgewatch_test_kit::{example_catalog, scratch_dir, tool};

fn files_target() -> Target {
    Target::Files {
        dashboards_dir: "/var/lib/grafana/dashboards/edgewatch".to_owned(),
        prometheus_url: "http://prometheus:9090".to_owned(),
        alertmanager_url: "http://alertmanager:9093".to_owned(),
    }
}

fn options(target: Target) -> Options {
    Options {
        target,
        catalog_name: "examples/catalog".to_owned(),
        grafana_url: "https://grafana.example/".to_owned(),
        scrape_interval: "30s".parse().unwrap(),
    }
}

fn example_dashboards() -> Vec<Dashboard> {
    dashboards(&example_catalog(), &options(files_target())).unwrap()
}

fn json(d: &Dashboard) -> serde_json::Value {
    serde_json::from_str(&to_json(d).unwrap()).unwrap()
}

#[test]
fn example_files_match_their_snapshots() {
    for f in render(&example_catalog(), &options(files_target())).unwrap() {
        let name = f.path.to_str().unwrap().replace('/', "__");
        insta::assert_snapshot!(name, f.contents);
    }
}

#[test]
fn uids_are_unique_stable_and_what_the_alerts_link_to() {
    let catalog = example_catalog();
    let boards = example_dashboards();
    assert_eq!(boards.len(), catalog.customers.len() + 2, "one per customer, the NOC overview and the health one");
    let uids: BTreeSet<&str> = boards.iter().map(Dashboard::uid).collect();
    assert_eq!(uids.len(), boards.len(), "uids are unique");
    for uid in &uids {
        assert!(uid.len() <= 40 && uid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{uid}");
    }
    for (c, d) in catalog.customers.iter().zip(&boards) {
        assert_eq!(d.uid(), names::dashboard_uid(c.id.as_str()));
    }
    assert_eq!(boards[boards.len() - 2].uid(), names::NOC_DASHBOARD_UID);
    assert_eq!(boards.last().unwrap().uid(), "edgewatch_health");
    // Same catalog, same bytes.
    let again = example_dashboards();
    for (a, b) in boards.iter().zip(&again) {
        assert_eq!(to_json(a).unwrap(), to_json(b).unwrap());
    }
}

#[test]
fn the_slo_variable_lists_what_alert_links_select() {
    // Alerts link to `/d/edgewatch-<customer>?var-slo=<slo>`: every SLO the
    // rules measure is a value of the dashboard's `slo` variable.
    let catalog = example_catalog();
    for (c, d) in catalog.customers.iter().zip(example_dashboards()) {
        let doc = json(&d);
        let vars = doc["templating"]["list"].as_array().unwrap();
        let slo = vars.iter().find(|v| v["name"] == "slo").unwrap();
        let values: Vec<&str> = slo["query"].as_str().unwrap().split(',').collect();
        for s in c.measured_slos() {
            assert!(values.contains(&s.name.as_str()), "{}: {} missing from {values:?}", c.id, s.name);
        }
        let customer = vars.iter().find(|v| v["name"] == "customer").unwrap();
        assert_eq!(customer["query"], c.id.as_str());
        assert_eq!(customer["hide"], 2, "the customer is fixed, not a choice");
    }
}

#[test]
fn panels_fit_the_grid_without_overlapping() {
    for d in example_dashboards() {
        let cells: Vec<_> = d.layout().map(|(_, title, g)| (title.to_owned(), g)).collect();
        for (title, g) in &cells {
            assert!(g.w >= 1 && g.x + g.w <= 24 && g.h >= 1, "{}: {title} {g:?}", d.uid());
        }
        for (i, (ta, a)) in cells.iter().enumerate() {
            for (tb, b) in &cells[i + 1..] {
                let apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{}: {ta} overlaps {tb}", d.uid());
            }
        }
    }
}

#[test]
fn customer_dashboards_have_every_section_the_noc_reads() {
    let boards = example_dashboards();
    let acme = json(&boards[0]);
    let rows: Vec<&str> = acme["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(rows, ["Service level objectives", "Traffic", "Latency", "Origin and cache", "Security", "Probes"]);
    let titles: Vec<&str> = boards[0].panels().map(edgewatch_dashboards::Panel::title).collect();
    for t in [
        "Attainment over the period",
        "Error budget left",
        "Burn rate",
        "Error budget burn-down",
        "Firing alerts",
        "Requests by status class",
        "Edge time to first byte",
        "Origin response time",
        "Edge time to first byte, distribution",
        "Origin errors",
        "Cache status",
        "Share blocked or challenged",
        "Probe success by address",
        "Probe phase timings",
        "Certificate days left",
        "Last status code",
    ] {
        assert!(titles.contains(&t), "acme lacks {t}: {titles:?}");
    }
    // The origin latency SLO's 1s threshold is drawn on the origin graph.
    let origin = acme["panels"].as_array().unwrap().iter().find(|p| p["title"] == "Origin response time").unwrap();
    let steps = &origin["fieldConfig"]["defaults"]["thresholds"]["steps"];
    assert_eq!(steps[1]["value"], 1.0, "{steps}");
    assert_eq!(origin["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"], "dashed");
    // The burn-down spans acme's 30d period.
    let burn = acme["panels"].as_array().unwrap().iter().find(|p| p["title"] == "Error budget burn-down").unwrap();
    assert_eq!(burn["timeFrom"], "30d");
    // Links: NOC, runbooks, Jira projects from the routes, the customer's own.
    let links: Vec<&str> = acme["links"].as_array().unwrap().iter().map(|l| l["url"].as_str().unwrap()).collect();
    assert!(links.contains(&"/d/edgewatch_noc"), "{links:?}");
    assert!(links.contains(&"https://wiki.acme-retail.example/edge/availability-fast-burn"), "{links:?}");
    assert!(links.contains(&"https://jira.edgewatch.example/browse/ACME"), "{links:?}");
    assert!(links.contains(&"https://edgewatch-noc.atlassian.example/browse/ACME"), "{links:?}");
    assert!(links.contains(&"https://status.acme-retail.example/"), "{links:?}");
    // Every query goes through the datasource variable.
    for p in acme["panels"].as_array().unwrap().iter().filter(|p| p["type"] != "row" && p["type"] != "text") {
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
    }
    assert!(acme.get("__inputs").is_none());
    // A customer without probes has no probe row.
    let probeless = example_catalog().customers.iter().position(|c| c.probes.is_empty());
    if let Some(i) = probeless {
        assert!(!boards[i].panels().any(|p| p.title() == "Probe success by address"));
    }
}

/// The customer dashboard's "Error share" panel, as JSON.
fn error_share(d: &Dashboard) -> serde_json::Value {
    json(d)["panels"].as_array().unwrap().iter().find(|p| p["title"] == "Error share").unwrap().clone()
}

#[test]
fn the_error_share_is_what_the_availability_slo_counts_as_bad() {
    // Hooli's availability SLO counts 429 as a failure: its dashboard must
    // show the share that SLO judges bad, not 5xx alone.
    let catalog = example_catalog();
    let i = catalog.customers.iter().position(|c| c.id.as_str() == "hooli").unwrap();
    let panel = error_share(&example_dashboards()[i]);
    let targets = panel["targets"].as_array().unwrap();
    let slo = targets
        .iter()
        .find(|t| {
            t["expr"]
                .as_str()
                .unwrap()
                .contains(r#"edgewatch_slo_requests_total{customer="$customer", slo="availability", result="bad"}"#)
        })
        .unwrap_or_else(|| panic!("no SLO series in {targets:#?}"));
    assert!(slo["legendFormat"].as_str().unwrap().contains("availability"), "{slo}");
    // Divided by every request the same SLO judged, not by all requests.
    assert!(
        slo["expr"]
            .as_str()
            .unwrap()
            .contains(r#"edgewatch_slo_requests_total{customer="$customer", slo="availability"}"#),
        "{slo}"
    );
    // 5xx and 4xx stay as context.
    let legends: Vec<&str> = targets.iter().map(|t| t["legendFormat"].as_str().unwrap()).collect();
    assert!(legends.contains(&"5xx") && legends.contains(&"4xx"), "{legends:?}");
    assert!(panel["description"].as_str().unwrap().contains("5xx, 429"), "{}", panel["description"]);

    // A customer without an availability SLO has only the context series.
    let yaml = "customers:
  - id: plain
    hosts: [plain.example]
    slos:
      latency:
        ttfb: {threshold: 300ms, objective: 99}
";
    let catalog = edgewatch_catalog::load_str("c.yaml", yaml).unwrap().catalog;
    let boards = dashboards(&catalog, &options(files_target())).unwrap();
    let panel = error_share(&boards[0]);
    let exprs: Vec<&str> = panel["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap()).collect();
    assert_eq!(exprs.len(), 2, "{exprs:?}");
    assert!(exprs.iter().all(|e| !e.contains(names::metric::SLO_REQUESTS_TOTAL)), "{exprs:?}");
}

#[test]
fn the_noc_overview_sorts_customers_by_worst_burn_and_links_to_them() {
    let boards = example_dashboards();
    let noc = json(&boards[boards.len() - 2]);
    let table =
        noc["panels"].as_array().unwrap().iter().find(|p| p["title"] == "Customers, worst burn rate first").unwrap();
    assert_eq!(table["options"]["sortBy"][0]["displayName"], "Worst burn 1h");
    assert_eq!(table["options"]["sortBy"][0]["desc"], true);
    let link = table["fieldConfig"]["defaults"]["links"][0]["url"].as_str().unwrap();
    assert_eq!(link, "/d/edgewatch-${__data.fields.customer}?${__url_time_range}");
    let renamed = &table["transformations"][1]["options"]["renameByName"];
    for col in ["Worst burn 1h", "Worst burn 6h", "Budget left %", "Pages", "Tickets", "Requests/s"] {
        assert!(renamed.as_object().unwrap().values().any(|v| v == col), "{col} missing: {renamed}");
    }
    assert!(noc["panels"].as_array().unwrap().iter().any(|p| p["title"] == "Customers without data"));
    let tiers = noc["templating"]["list"].as_array().unwrap().iter().find(|v| v["name"] == "tier").unwrap();
    assert_eq!(tiers["query"], "business,enterprise,standard");
}

/// Grafana's variables, replaced by what they expand to.
fn expand(query: &str) -> String {
    query
        .replace("$__rate_interval", "5m")
        .replace("$__range", "1h")
        .replace("$customer", "acme-retail")
        .replace("$host", ".*")
        .replace("$slo", ".*")
        .replace("$tier", ".*")
}

#[test]
fn every_query_parses_with_promtool() {
    queries_parse("dashboard-queries", example_dashboards());
}

/// Every query of `boards`, its variables expanded, passes `promtool check
/// rules`.
fn queries_parse(name: &str, boards: Vec<Dashboard>) {
    let mut rules = Vec::new();
    for d in boards {
        for q in d.queries().into_iter().chain(d.variable_selectors()) {
            assert!(!expand(q).contains('$'), "{}: unexpanded variable in {q}", d.uid());
            rules.push(
                serde_json::json!({"record": format!("edgewatch:dashboard_query:{}", rules.len()), "expr": expand(q)}),
            );
        }
    }
    assert!(rules.len() > 40, "{} queries", rules.len());
    let dir = scratch_dir(name);
    let file = dir.join("queries.yml");
    let doc = serde_json::json!({"groups": [{"name": "dashboard-queries", "rules": rules}]});
    std::fs::write(&file, serde_json::to_string(&doc).unwrap()).unwrap();
    let out = Command::new(tool("promtool", "prometheus")).args(["check", "rules"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn kubernetes_targets_wrap_the_same_dashboards() {
    let catalog = example_catalog();
    let boards = example_dashboards();
    let sidecar = render(&catalog, &options(Target::Sidecar { namespace: Some("monitoring".to_owned()) })).unwrap();
    assert_eq!(sidecar.len(), boards.len(), "only ConfigMaps: no provisioning files");
    for (f, d) in sidecar.iter().zip({
        let mut sorted: Vec<_> = boards.iter().collect();
        sorted.sort_by_key(|d| {
            format!("edgewatch-dashboard-{}", d.uid().trim_start_matches("edgewatch").trim_start_matches(['-', '_']))
        });
        sorted
    }) {
        let cm: serde_json::Value = edgewatch_catalog::yaml::from_str(&f.contents).unwrap();
        assert_eq!(cm["kind"], "ConfigMap");
        assert_eq!(cm["metadata"]["namespace"], "monitoring");
        assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
        let name = cm["metadata"]["name"].as_str().unwrap();
        assert!(
            name.len() <= 63 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}"
        );
        let embedded = cm["data"][format!("{}.json", d.uid())].as_str().unwrap();
        assert_eq!(embedded, to_json(d).unwrap());
    }
    let acme = sidecar.iter().find(|f| f.path.ends_with("edgewatch-dashboard-acme-retail.yaml")).unwrap();
    let cm: serde_json::Value = edgewatch_catalog::yaml::from_str(&acme.contents).unwrap();
    assert_eq!(cm["metadata"]["annotations"]["k8s-sidecar-target-directory"], "enterprise");

    let operator = render(
        &catalog,
        &options(Target::GrafanaOperator {
            namespace: None,
            instance_selector: [("dashboards".to_owned(), "grafana".to_owned())].into(),
        }),
    )
    .unwrap();
    let noc = operator.iter().find(|f| f.path.ends_with("edgewatch-dashboard-noc.yaml")).unwrap();
    let obj: serde_json::Value = edgewatch_catalog::yaml::from_str(&noc.contents).unwrap();
    assert_eq!(obj["apiVersion"], "grafana.integreatly.org/v1beta1");
    assert_eq!(obj["kind"], "GrafanaDashboard");
    assert_eq!(obj["spec"]["uid"], names::NOC_DASHBOARD_UID);
    assert_eq!(obj["spec"]["folder"], "noc");
    assert_eq!(obj["spec"]["instanceSelector"]["matchLabels"]["dashboards"], "grafana");
    let embedded: serde_json::Value = serde_json::from_str(obj["spec"]["json"].as_str().unwrap()).unwrap();
    assert_eq!(embedded["uid"], names::NOC_DASHBOARD_UID);
}

#[test]
fn a_grafana_url_that_is_not_one_is_refused() {
    let mut opts = options(files_target());
    opts.grafana_url = "grafana:3000".to_owned();
    let err = render(&example_catalog(), &opts).unwrap_err();
    assert_eq!(err.to_string(), "Grafana URL `grafana:3000` is not an absolute http(s) URL");
    // Served under a path: links between dashboards keep it.
    opts.grafana_url = "https://noc.example/grafana/".to_owned();
    let d = dashboards(&example_catalog(), &opts).unwrap();
    let acme = json(&d[0]);
    assert_eq!(acme["links"][0]["url"], "/grafana/d/edgewatch_noc");
}

/// The README's picture is the example's real layout. `EDGEWATCH_BLESS=1`
/// rewrites it.
#[test]
fn the_readme_picture_is_up_to_date() {
    let path = edgewatch_test_kit::examples().join("../docs/images/dashboard-acme-retail.svg");
    let svg = picture::svg(&example_dashboards()[0]);
    if std::env::var_os("EDGEWATCH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &svg).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == svg,
        "{} is stale; run `EDGEWATCH_BLESS=1 cargo test -p edgewatch-dashboards`",
        path.display()
    );
}

/// The health dashboard shows every metric edgewatch exports about itself
/// (what the pipeline alerts fire on), and Prometheus' rule evaluation
/// times of the generated groups.
#[test]
fn the_health_dashboard_reads_what_edgewatch_says_about_itself() {
    let health = example_dashboards().pop().unwrap();
    let queries = health.queries().join("\n");
    for m in names::metric::EXPORTER_SELF.iter().chain(names::metric::RECEIVER_SELF) {
        assert!(queries.contains(m), "the health dashboard does not show {m}");
    }
    for m in [
        "prometheus_rule_group_last_duration_seconds",
        "prometheus_rule_group_interval_seconds",
        "prometheus_rule_evaluation_failures_total",
        "prometheus_rule_group_iterations_missed_total",
    ] {
        assert!(
            queries.contains(&format!("{m}{{{}}}", names::RENDERED_RULE_GROUPS)),
            "the health dashboard does not show {m}"
        );
    }
}

fn shared_catalog() -> edgewatch_catalog::Catalog {
    let mut catalog = example_catalog();
    catalog.customer_dashboards = CustomerDashboards::Shared;
    catalog
}

/// `dashboards: {customers: shared}`: one customer dashboard, the customer
/// picked from the recorded ones, with every section a customer's own has,
/// and the NOC overview linking to it with the customer set.
#[test]
fn a_shared_customer_dashboard_stands_for_every_customer() {
    let boards = dashboards(&shared_catalog(), &options(files_target())).unwrap();
    let uids: Vec<&str> = boards.iter().map(Dashboard::uid).collect();
    assert_eq!(uids, [names::SHARED_CUSTOMER_DASHBOARD_UID, names::NOC_DASHBOARD_UID, "edgewatch_health"]);
    let shared = json(&boards[0]);
    let vars = shared["templating"]["list"].as_array().unwrap();
    let customer = vars.iter().find(|v| v["name"] == "customer").unwrap();
    assert_eq!(customer["type"], "query");
    assert_eq!(customer["query"], "label_values(edgewatch:customer:info, customer)");
    let slo = vars.iter().find(|v| v["name"] == "slo").unwrap();
    assert_eq!(slo["query"], "label_values(slo:objective:ratio{customer=\"$customer\"}, slo)");
    // The same sections and panels as acme's own dashboard (acme has probes).
    let own = &example_dashboards()[0];
    let titles = |d: &Dashboard| d.panels().map(|p| p.title().to_owned()).collect::<Vec<_>>();
    assert_eq!(titles(&boards[0]), titles(own));
    // Every query is about the picked customer.
    for q in boards[0].queries() {
        assert!(q.contains("$customer"), "{q}");
    }
    let noc = json(&boards[1]);
    let table =
        noc["panels"].as_array().unwrap().iter().find(|p| p["title"] == "Customers, worst burn rate first").unwrap();
    let link = table["fieldConfig"]["defaults"]["links"][0]["url"].as_str().unwrap();
    assert_eq!(link, "/d/edgewatch_customer?var-customer=${__data.fields.customer}&${__url_time_range}");
    queries_parse("shared-dashboard-queries", boards);

    // As files: the shared dashboard in `customers/`, none per customer.
    let files = render(&shared_catalog(), &options(files_target())).unwrap();
    let boards: Vec<String> =
        files.iter().map(|f| f.path.display().to_string()).filter(|p| p.starts_with("grafana/dashboards/")).collect();
    assert_eq!(
        boards,
        [
            "grafana/dashboards/customers/edgewatch_customer.json",
            "grafana/dashboards/noc/edgewatch_health.json",
            "grafana/dashboards/noc/edgewatch_noc.json"
        ]
    );
    let shared = files.iter().find(|f| f.path.ends_with("edgewatch_customer.json")).unwrap();
    insta::assert_snapshot!("shared_customer_dashboard", shared.contents);
}
