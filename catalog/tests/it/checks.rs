//! Individual checks, each on the smallest catalog that shows it.

use edgewatch_catalog::model::SloSpec;
use edgewatch_catalog::{Diagnostic, load, load_str};

use crate::TempDir;

const DEST: &str = "destinations:\n  log: {log: {path: '-'}}\n";

/// Every diagnostic as `line: message`.
fn diagnostics(yaml: &str) -> Vec<String> {
    let all: Vec<Diagnostic> = match load_str("c.yaml", yaml) {
        Ok(l) => l.warnings,
        Err(e) => e.diagnostics,
    };
    all.iter().map(|d| format!("{}: {}: {}", d.line.unwrap_or(0), d.severity_word(), d.message)).collect()
}

trait Word {
    fn severity_word(&self) -> &'static str;
}

impl Word for Diagnostic {
    fn severity_word(&self) -> &'static str {
        if self.is_error() { "error" } else { "warning" }
    }
}

#[test]
fn exclusions_merge_key_by_key() {
    let yaml = format!(
        "{DEST}defaults:
  alerting: {{routes: [{{to: [log]}}]}}
  slos:
    availability: {{objective: 99, exclude: {{paths: [/healthz]}}}}
customers:
  - id: a
    hosts: [a.example]
    slos:
      availability: {{exclude: {{statuses: [429]}}}}
"
    );
    let c = load_str("c.yaml", &yaml).unwrap().catalog;
    let SloSpec::Availability { exclude, .. } = &c.customers[0].slos[0].spec else { panic!() };
    assert_eq!(exclude.paths, ["/healthz"]);
    assert_eq!(exclude.statuses.len(), 1);
}

#[test]
fn routes_and_probe_ranges_are_checked_even_when_no_customer_uses_them() {
    let yaml = format!(
        "{DEST}defaults:
  alerting: {{routes: [{{to: [lgo]}}]}}
  probe_defaults: {{interval: 2h, timeout: 0s}}
"
    );
    assert_eq!(
        diagnostics(&yaml),
        [
            "4: error: route names undefined destination `lgo`",
            "5: error: probe interval 2h must be from 1s to 1h",
            "5: error: probe timeout 0s must be above 0 and at most 60s",
        ]
    );
}

#[test]
fn zones_count_for_probes_and_belong_to_one_customer() {
    let yaml = format!(
        "{DEST}defaults:
  alerting: {{routes: [{{to: [log]}}]}}
customers:
  - id: a
    zones: [a.example]
    probes: [{{name: home, url: 'https://www.a.example/'}}]
  - id: b
    hosts: [shop.a.example]
"
    );
    assert_eq!(diagnostics(&yaml), ["10: error: host `shop.a.example` lies in zone `a.example` of another customer"]);
}

#[test]
fn customers_that_claim_no_traffic_or_probe_nothing_are_warned_about() {
    let yaml = format!(
        "{DEST}defaults:
  alerting: {{routes: [{{to: [log]}}]}}
customers:
  - id: a
    hosts: []
    slos:
      probe: {{objective: 99}}
"
    );
    assert_eq!(
        diagnostics(&yaml),
        [
            "6: warning: customer has no hosts or zones, so no traffic will be counted for it",
            "9: warning: probe SLO without probes: it has nothing to measure",
        ]
    );
}

#[test]
fn probe_lists_and_headers_are_checked() {
    let yaml = format!(
        "{DEST}defaults:
  alerting: {{routes: [{{to: [log]}}]}}
customers:
  - id: a
    hosts: [a.example]
    probes:
      - name: p
        url: https://a.example/
        ip_families: []
        expect:
          headers: {{Content-Type: json, content-type: html, 'bad name': x}}
      - name: q
        url: https://a.example/
        ip_families: [ipv6, ipv4, ipv6]
"
    );
    assert_eq!(
        diagnostics(&yaml),
        [
            "11: error: a probe needs at least one IP family",
            "13: error: header `content-type` is listed twice (names are case-insensitive)",
            "13: error: `bad name` is not a valid HTTP header name",
        ]
    );
    let ok = yaml.replace("        ip_families: []\n", "").replace(", content-type: html, 'bad name': x", "");
    let c = load_str("c.yaml", &ok).unwrap().catalog;
    let families: Vec<_> = c.customers[0].probes[1].ip_families.iter().map(ToString::to_string).collect();
    assert_eq!(families, ["ipv4", "ipv6"]);
    assert!(c.customers[0].probes[0].expect.headers.contains_key("content-type"));
}

#[test]
fn urls_never_carry_credentials() {
    let yaml = format!(
        "{DEST}defaults:
  runbooks: {{default: 'https://user:pw@runbooks.example/{{{{alert_kind}}}}'}}
customers:
  - id: a
    hosts: [a.example]
    links: [{{title: x, url: 'https://u:p@a.example/'}}]
"
    );
    let d: Vec<_> = diagnostics(&yaml).into_iter().filter(|m| m.contains("error")).collect();
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d.iter().all(|m| m.contains("URLs must not carry credentials")), "{d:?}");
    assert!(d.iter().all(|m| !m.contains("pw") && !m.contains("u:p")), "{d:?}");
}

#[test]
fn jira_custom_field_ids_are_checked() {
    let yaml = "destinations:
  j:
    jira:
      deployment: data_center
      url: https://jira.example/
      project: NOC
      issue_type: Task
      auth: {bearer: env:PAT}
      custom_fields: {10010: x, priority_x: y}
";
    assert_eq!(
        diagnostics(yaml),
        [
            "9: error: custom field ids are strings like `customfield_10010`, found the number `10010`",
            "9: error: `priority_x` is not a Jira custom field id",
        ]
    );
}

#[test]
fn a_tier_is_called_a_tier_even_when_named_defaults() {
    let d = diagnostics("tiers:\n  defaults: {slo: {}}\n");
    assert_eq!(d, ["2: error: unknown key `slo` in tier"]);
}

#[test]
fn folders_read_yaml_extensions_in_any_case() {
    let dir = TempDir::new("case");
    dir.write("A.YAML", "customers:\n  - id: a\n    hosts: [a.example]\n").write("b.Yml", DEST);
    let loaded = load(&dir.0).unwrap();
    assert_eq!(loaded.catalog.customers.len(), 1);
    assert_eq!(loaded.catalog.destinations.len(), 1);
}

/// A warning repeated for many customers of one file shows ten times with
/// positions, then once with a count: locating each would read the file up
/// to it, and 10,000 of them took minutes.
#[test]
fn a_warning_repeated_for_many_customers_is_counted_after_ten() {
    let yaml: String = std::iter::once("customers:\n".to_owned())
        .chain((0..25).map(|i| format!("  - {{id: c{i:02}, hosts: [c{i:02}.example]}}\n")))
        .collect();
    let got = diagnostics(&yaml);
    let located =
        got.iter().filter(|d| d.ends_with("warning: no alerting routes: this customer's alerts reach no destination"));
    assert_eq!(
        located.map(|d| d.split(':').next().unwrap().to_owned()).collect::<Vec<_>>(),
        (2..12).map(|l| l.to_string()).collect::<Vec<_>>()
    );
    assert!(
        got.contains(
            &"0: warning: no alerting routes: this customer's alerts reach no destination: also at 15 more places (customers[10], customers[11], customers[12], …)"
                .to_owned()
        ),
        "{got:#?}"
    );
    assert_eq!(got.len(), 11, "{got:#?}");
}

#[test]
fn the_customer_dashboards_are_each_unless_the_catalog_shares_one() {
    use edgewatch_catalog::model::CustomerDashboards;
    let customer = "customers:\n  - {id: a, hosts: [a.example], alerting: {routes: [{to: [log]}]}}\n";
    let each = load_str("c.yaml", &format!("{DEST}{customer}")).unwrap().catalog;
    assert_eq!(each.customer_dashboards, CustomerDashboards::Each);
    let shared = load_str("c.yaml", &format!("{DEST}dashboards: {{customers: shared}}\n{customer}")).unwrap().catalog;
    assert_eq!(shared.customer_dashboards, CustomerDashboards::Shared);
    assert_eq!(
        diagnostics(&format!("{DEST}dashboards: {{customers: sharde}}\n{customer}")),
        ["3: error: unknown dashboard layout `sharde`"]
    );
    assert_eq!(
        diagnostics(&format!("{DEST}dashboards: {{customer: shared}}\n{customer}")),
        ["3: error: unknown key `customer` in dashboards"]
    );

    // Set once in a folder of files.
    let dir = TempDir::new("dashboards-twice");
    dir.write("a.yaml", &format!("{DEST}dashboards: {{customers: shared}}\n{customer}"))
        .write("b.yaml", "dashboards: {customers: each}\n");
    let err = load(&dir.0).unwrap_err();
    assert!(
        err.diagnostics.iter().any(|d| d.message == "`dashboards` is set in more than one file"),
        "{:?}",
        err.diagnostics
    );
}
