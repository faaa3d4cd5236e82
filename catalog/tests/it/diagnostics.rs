//! A broken catalog (a folder of two files) is reported in full, in one run,
//! with the right file, line and column for each mistake.

use std::collections::BTreeSet;

use edgewatch_catalog::DiagnosticSeverity;

use crate::{crate_path, render_relative};

/// Line and column of the diagnostic whose message contains `needle`.
fn position(rejected: &edgewatch_catalog::Rejected, needle: &str) -> (usize, usize) {
    let d = rejected
        .diagnostics
        .iter()
        .find(|d| d.message.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}` in {:?}", rejected.diagnostics));
    (d.line.unwrap(), d.column.unwrap())
}

fn broken() -> edgewatch_catalog::Rejected {
    edgewatch_catalog::load(&crate_path("tests/fixtures/broken")).unwrap_err()
}

#[test]
fn every_mistake_in_both_files_is_reported_in_one_run() {
    let rejected = broken();
    insta::assert_snapshot!("broken_folder", render_relative(&rejected.diagnostics));

    let errors: Vec<_> = rejected.errors().collect();
    let files: BTreeSet<_> = errors.iter().map(|d| d.file.file_name().unwrap().to_owned()).collect();
    assert_eq!(files.len(), 2, "errors from both files: {files:?}");
    assert!(errors.len() >= 8, "at least eight mistakes, got {}", errors.len());
    assert!(errors.iter().all(|d| d.line.is_some() && d.column.is_some()), "every error has a position");
}

/// The places a person checks against the file, one per kind of mistake.
#[test]
fn positions_point_at_the_offending_text() {
    let rejected = broken();
    let at = |needle: &str| {
        let d =
            rejected.diagnostics.iter().find(|d| d.message.contains(needle)).unwrap_or_else(|| panic!("no `{needle}`"));
        (d.file.file_name().unwrap().to_str().unwrap().to_owned(), d.line.unwrap(), d.column.unwrap())
    };
    let f = |name: &str, line, col| (name.to_owned(), line, col);
    assert_eq!(at("unknown key `objectve`"), f("shared.yaml", 5, 7));
    assert_eq!(at("`28 days` is not a duration"), f("shared.yaml", 6, 15));
    assert_eq!(at("undefined destination `pagerduty-noc`"), f("shared.yaml", 9, 14));
    assert_eq!(at("inline secret"), f("shared.yaml", 23, 20));
    assert_eq!(at("`noc` is not a Jira project key"), f("shared.yaml", 28, 16));
    assert_eq!(at("duplicate customer id `acme`"), f("customers.yaml", 19, 9));
    assert_eq!(at("host `www.acme.example` is already claimed"), f("customers.yaml", 14, 13));
    assert_eq!(at("wildcard `*.acme.example` covers `api.acme.example`"), f("customers.yaml", 4, 31));
    assert_eq!(at("`100.5` is over 100%"), f("customers.yaml", 7, 20));
    assert_eq!(at("too high to measure"), f("customers.yaml", 17, 20));
    assert_eq!(at("latency threshold must be positive"), f("customers.yaml", 10, 22));
    assert_eq!(at("`ACME Corp` is not a valid id"), f("customers.yaml", 22, 9));
}

#[test]
fn diagnostics_are_sorted_by_file_and_line() {
    let rejected = broken();
    let keys: Vec<_> = rejected.diagnostics.iter().map(|d| (d.file.clone(), d.line, d.column)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn an_inline_secret_never_appears_in_any_output() {
    let rejected = broken();
    let secret = "R0ut1ngK3yTh4tSh0uldN0tB3H3r3";
    assert!(!render_relative(&rejected.diagnostics).contains(secret));
    assert!(!serde_json::to_string(&rejected.diagnostics).unwrap().contains(secret));
    assert!(!format!("{rejected:?}").contains(secret));
}

#[test]
fn json_form_carries_file_position_path_and_hint() {
    let rejected = broken();
    let d = rejected.diagnostics.iter().find(|d| d.message.contains("objectve")).unwrap();
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(json["line"], 5);
    assert_eq!(json["column"], 7);
    assert_eq!(json["severity"], "error");
    assert_eq!(json["path"], "defaults.slos.availability.objectve");
    assert_eq!(json["hint"], "did you mean `objective`?");
}

#[test]
fn warnings_alone_do_not_reject() {
    let yaml = "customers:\n  - id: solo\n";
    let loaded = edgewatch_catalog::load_str("solo.yaml", yaml).unwrap();
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    assert!(loaded.warnings.iter().all(|w| w.severity == DiagnosticSeverity::Warning));
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let err = edgewatch_catalog::load_str("bad.yaml", "customers:\n  - id: acme\n    hosts: [a.example\n").unwrap_err();
    let d = &err.diagnostics[0];
    assert!(d.line.is_some(), "{d}");
    let dup = edgewatch_catalog::load_str("dup.yaml", "customers:\n  - id: a\n    id: b\n").unwrap_err();
    assert_eq!(dup.diagnostics[0].line, Some(3), "{}", dup.diagnostics[0]);
    assert!(dup.diagnostics[0].message.contains("duplicate key `id`"));
}

#[test]
fn a_missing_catalog_is_an_error_naming_the_path() {
    let err = edgewatch_catalog::load(std::path::Path::new("/nonexistent/catalog")).unwrap_err();
    let text = edgewatch_catalog::render(&err.diagnostics);
    assert!(text.starts_with("/nonexistent/catalog: error: cannot read catalog:"), "{text}");
}

/// Mitigation settings: networks, AS numbers, the Cloudflare zone and bot
/// names are checked where they are written; valid ones reach the model.
#[test]
fn mitigation_settings_are_checked_at_their_position() {
    let text = "customers:
  - id: shop
    hosts: [www.shop.example]
    mitigation:
      cloudflare_zone: 023e105f4ecef8ad9ca31a8372d0c353
      allowlist: [203.0.113.0/24, 192.0.2.7, '2001:db8::/32']
      allow_asns: [64496, AS64511]
      origins: [198.51.100.10]
      verified_bots: [Googlebot]
  - id: bad
    hosts: [www.bad.example]
    mitigation:
      cloudflare_zone: NOT-A-ZONE
      allowlist: [203.0.113.9/24, example.com]
      allow_asns: [0]
      verified_bots: [a]
      firewall: on
";
    let rejected = edgewatch_catalog::load_texts(&[("c.yaml", text)]).unwrap_err();
    let at = |needle: &str| position(&rejected, needle);
    assert_eq!(at("`NOT-A-ZONE` is not a Cloudflare id"), (13, 24));
    assert_eq!(at("has host bits set: the network is `203.0.113.0/24`"), (14, 19));
    assert_eq!(at("`example.com` is not an IP address"), (14, 35));
    assert_eq!(at("an AS number"), (15, 20));
    assert_eq!(at("`a` would match too many user agents"), (16, 23));
    assert_eq!(at("unknown key `firewall`"), (17, 7));

    let good = edgewatch_catalog::load_texts(&[("c.yaml", &text[..text.find("  - id: bad").unwrap()])]).unwrap();
    let m = &good.catalog.customers[0].mitigation;
    assert_eq!(
        m.cloudflare_zone.as_ref().map(edgewatch_catalog::CloudflareId::as_str),
        Some("023e105f4ecef8ad9ca31a8372d0c353")
    );
    let nets: Vec<String> = m.allowlist.iter().map(ToString::to_string).collect();
    assert_eq!(nets, ["203.0.113.0/24", "192.0.2.7", "2001:db8::/32"]);
    assert_eq!(m.allow_asns.iter().map(|a| a.0).collect::<Vec<_>>(), [64496, 64511]);
    assert!(m.origins[0].contains(&"198.51.100.10".parse().unwrap()));
    assert_eq!(m.verified_bots, ["Googlebot"]);
}

/// The e-mail destination: its relay, port, login, addresses and roles are
/// checked where they are written, and a customer it would write to needs
/// a contact it writes to; a valid one reaches the model with its
/// defaults (STARTTLS on 587).
#[test]
fn email_destinations_are_checked_at_their_position() {
    let text = "destinations:
  mail:
    email: {host: smtp.example.net, password: 'env:SMTP_PASSWORD', from: noc@edge.example, roles: [technical]}
  bad:
    email: {host: 'smtp://x', port: 70000, security: ssl, from: nobody, username: bot}
customers:
  - id: shop
    hosts: [www.shop.example]
    contacts: [{name: Bill Payer, email: bill@shop.example, role: billing}]
    alerting: {routes: [{to: [mail]}]}
";
    let rejected = edgewatch_catalog::load_texts(&[("c.yaml", text)]).unwrap_err();
    let at = |needle: &str| position(&rejected, needle);
    assert_eq!(at("a `password` without a `username`"), (3, 37));
    assert_eq!(at("`smtp://x` is not a host name"), (5, 19));
    assert_eq!(at("port 70000 is outside 1 to 65535"), (5, 37));
    assert_eq!(at("unknown SMTP security `ssl`"), (5, 54));
    assert_eq!(at("`nobody`"), (5, 65));
    assert_eq!(at("a `username` without a `password`"), (5, 73));
    assert_eq!(
        at("routed to e-mail destination `mail`, but the customer has no contact whose role is technical"),
        (7, 5)
    );

    // Without `bad`, with a login, and a contact of the role.
    let good = format!("{}{}", &text[..text.find("  bad:").unwrap()], &text[text.find("customers:").unwrap()..])
        .replace(", password:", ", username: noc, password:")
        .replace("role: billing", "role: Technical");
    let loaded = edgewatch_catalog::load_texts(&[("c.yaml", &good)])
        .unwrap_or_else(|e| panic!("{}", edgewatch_catalog::render(&e.diagnostics)));
    let Some(edgewatch_catalog::model::Destination::Email(e)) = loaded.catalog.destinations.values().next() else {
        panic!("{:?}", loaded.catalog.destinations)
    };
    assert_eq!((e.port, e.security), (587, edgewatch_catalog::model::SmtpSecurity::Starttls));
    let to = e.recipients(&loaded.catalog.customers[0].contacts);
    assert_eq!(
        to.iter().map(|c| c.email.as_str()).collect::<Vec<_>>(),
        ["bill@shop.example"],
        "roles match without case"
    );
}

/// Ids other parts use are refused where they are written: the exporters'
/// `unknown` and `other`, and `noc-review`, whose report files would be the
/// NOC review's.
#[test]
fn reserved_customer_ids_are_refused() {
    for id in ["other", "noc-review"] {
        let text = format!("customers:\n  - id: {id}\n    hosts: [www.x.example]\n");
        let rejected = edgewatch_catalog::load_texts(&[("c.yaml", &text)]).unwrap_err();
        let d = rejected.diagnostics.iter().find(|d| d.message.contains("is reserved")).unwrap();
        assert_eq!(
            (d.message.as_str(), d.line, d.column),
            (&*format!("customer id `{id}` is reserved"), Some(2), Some(9))
        );
    }
}
