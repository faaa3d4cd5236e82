use std::collections::BTreeMap;

use super::*;
use crate::action::AlertState;
use crate::offenders::Key;

use edgewatch_test_kit::rules_language as grammar;

fn customer() -> Customer {
    let text = "customers:
  - id: shop
    hosts: [www.shop.example]
    mitigation:
      allowlist: [203.0.113.0/24]
      allow_asns: [64500]
      origins: [198.51.100.200]
      verified_bots: [Googlebot]
";
    edgewatch_catalog::load_texts(&[("c.yaml", text)]).unwrap().catalog.customers.remove(0)
}

fn key(value: &str, requests: u64, offending: u64) -> Key {
    Key {
        value: value.to_owned(),
        requests: Bounded { low: requests, high: requests },
        offending: Bounded { low: offending, high: offending },
    }
}

fn incident(labels: &[(&str, &str)]) -> Incident {
    let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let alert = AlertState {
        fingerprint: "f".into(),
        status: Status::Firing,
        labels,
        annotations: BTreeMap::new(),
        starts_at: "2026-12-05T10:00:00Z".into(),
        ends_at: None,
        generator_url: String::new(),
    };
    let json = serde_json::json!({
        "id": 7, "key": "customer=shop", "dedup": "edgewatch-0123456789abcdef01234567", "customer": "shop",
        "alertname": "EdgewatchSuspectedAttack", "severity": "page", "alert_kind": "attack", "slo": null,
        "probe": null, "status": "firing", "started_at": "2026-12-05T10:00:00Z", "resolved_at": null,
        "alerts": [alert], "alertmanager_url": "http://am",
    });
    serde_json::from_value(json).unwrap()
}

/// A few addresses, one AS and one agent send most of the blocked requests
/// among normal traffic; an allowlisted partner, the origin, an allowed
/// network and a wanted bot are refused a lot too, and never named.
fn attack() -> Offenders {
    let mut by = BTreeMap::new();
    by.insert(
        Dimension::Ip,
        vec![
            key("192.0.2.66", 1210, 1200),
            key("192.0.2.67", 800, 790),
            key("203.0.113.5", 300, 300),
            key("198.51.100.200", 150, 150),
            key("198.51.100.7", 1000, 80),
            key("198.51.100.8", 380, 10),
            key("192.0.2.99", 15, 15),
        ],
    );
    by.insert(Dimension::Asn, vec![key("64496", 2100, 2000), key("64500", 200, 200), key("3320", 9000, 400)]);
    by.insert(Dimension::Country, vec![key("XX", 2500, 2100)]);
    by.insert(Dimension::Path, vec![key("/login", 3000, 2600), key("/", 8000, 50)]);
    by.insert(
        Dimension::UserAgent,
        vec![
            key("python-requests/2.31", 1900, 1850),
            key("Mozilla/5.0 Googlebot/2.1", 250, 240),
            key("Mozilla/5.0", 9000, 300),
        ],
    );
    Offenders { window_seconds: 300, requests: 12_000, offending: 3000, by, answered: 2, missing: Vec::new() }
}

#[test]
fn an_attack_names_exactly_the_standing_out_offenders() {
    let i = incident(&[("alertname", "EdgewatchSuspectedAttack"), ("alert_kind", "attack")]);
    assert_eq!(Mode::of(&i), Some(Mode::Attack));
    let s = suggest(Mode::Attack, &i, &customer(), &attack(), "2026-12-05T10:05:00Z".into());
    assert_eq!(s.chosen(Dimension::Ip), ["192.0.2.66", "192.0.2.67"].into());
    assert_eq!(s.chosen(Dimension::Asn), ["64496"].into());
    assert_eq!(s.chosen(Dimension::UserAgent), ["python-requests/2.31"].into());
    assert!(s.chosen(Dimension::Country).is_empty() && s.chosen(Dimension::Path).is_empty());
    let why = |v: &str| s.rows.iter().find(|r| r.value == v).unwrap().why.clone();
    assert!(why("203.0.113.5").contains("allowlist"), "{}", why("203.0.113.5"));
    assert!(why("198.51.100.200").contains("origin"));
    assert!(why("64500").contains("allow_asns"));
    assert!(why("Mozilla/5.0 Googlebot/2.1").contains("verified bot"));
    assert!(why("198.51.100.7").contains("mostly normal traffic"), "{}", why("198.51.100.7"));
    assert!(why("3320").contains("mostly normal traffic"));
    assert!(why("198.51.100.8").contains("too few"));
    assert!(why("192.0.2.66").contains("1200 refused or failed requests in 300s (40.0% of all such), 99%"));

    let rule = s.custom_rule.as_ref().unwrap();
    assert_eq!(
        rule.expression,
        r#"http.host in {"www.shop.example"} and (ip.src in {192.0.2.66 192.0.2.67} or ip.src.asnum in {64496} or http.user_agent eq "python-requests/2.31") and not cf.client.bot and not ip.src in {203.0.113.0/24 198.51.100.200}"#
    );
    grammar::check(&rule.expression).unwrap();
    let rl = s.rate_limit.as_ref().unwrap();
    assert_eq!(
        rl.expression,
        r#"http.host in {"www.shop.example"} and http.request.uri.path eq "/login" and not ip.src in {203.0.113.0/24 198.51.100.200}"#
    );
    grammar::check(&rl.expression).unwrap();
    assert!(rules::PERIODS.contains(&rl.ratelimit.period));
    assert!(rl.ratelimit.characteristics.contains(&"cf.colo.id".to_owned()));
    // The heaviest normal address sent 1000 in 5 minutes: 200 a minute.
    assert_eq!(rl.ratelimit.requests_per_period, 400);
    let text = s.text();
    assert!(text.contains("Suggested custom rule") && text.contains("192.0.2.66") && text.contains("NAMED"), "{text}");
}

#[test]
fn a_spike_names_only_addresses_with_an_outsized_share() {
    let mut o = attack();
    o.offending = 0;
    for keys in o.by.values_mut() {
        for k in keys {
            k.offending = Bounded::default();
        }
    }
    let i = incident(&[("alertname", "EdgewatchTrafficSpike"), ("alert_kind", "traffic_anomaly")]);
    assert_eq!(Mode::of(&i), Some(Mode::Spike));
    let s = suggest(Mode::Spike, &i, &customer(), &o, "2026-12-05T10:05:00Z".into());
    // 1210, 1000 and 800 of 12,000 are over 5%; 380 (3.2%) is not; the
    // partner and the origin are spared.
    assert_eq!(s.chosen(Dimension::Ip), ["192.0.2.66", "192.0.2.67", "198.51.100.7"].into());
    assert!(s.chosen(Dimension::Asn).is_empty() && s.chosen(Dimension::UserAgent).is_empty());
    grammar::check(&s.custom_rule.unwrap().expression).unwrap();
    let rl = s.rate_limit.unwrap();
    assert_eq!(
        rl.expression, r#"http.host in {"www.shop.example"} and not ip.src in {203.0.113.0/24 198.51.100.200}"#,
        "no path in a spike"
    );
}

#[test]
fn nothing_standing_out_gives_no_custom_rule_and_an_outage_no_suggestion() {
    let mut o = attack();
    o.by.clear();
    let i = incident(&[("alertname", "EdgewatchSuspectedAttack"), ("alert_kind", "attack")]);
    let s = suggest(Mode::Attack, &i, &customer(), &o, "t".into());
    assert!(s.custom_rule.is_none());
    assert!(s.text().contains("No offender stands out"));
    let outage = incident(&[("alertname", "EdgewatchAvailabilityBurnFast"), ("alert_kind", "burn_rate_fast")]);
    assert_eq!(Mode::of(&outage), None);
}

proptest::proptest! {
    /// Whatever the exporters report (values with quotes, backslashes,
    /// any text), a suggested expression parses, and a named value is
    /// never one the catalog spares.
    #[test]
    fn every_suggested_expression_parses(
        ips in proptest::collection::vec((0u8..=255, 1u64..5000, 0u64..5000), 0..8),
        agents in proptest::collection::vec(("[ -~]{1,40}", 1u64..5000, 0u64..5000), 0..5),
        asns in proptest::collection::vec((1u32..70000, 1u64..5000, 0u64..5000), 0..4),
    ) {
        let mut by = BTreeMap::new();
        let k = |v: String, r: u64, o: u64| key(&v, r.max(o), o);
        by.insert(Dimension::Ip, ips.iter().map(|(b, r, o)| k(format!("203.0.{b}.1"), *r, *o)).collect());
        by.insert(Dimension::UserAgent, agents.iter().map(|(a, r, o)| k(a.clone(), *r, *o)).collect());
        by.insert(Dimension::Asn, asns.iter().map(|(a, r, o)| k(a.to_string(), *r, *o)).collect());
        let o = Offenders { window_seconds: 300, requests: 50_000, offending: 20_000, by, answered: 1, missing: vec![] };
        let i = incident(&[("alertname", "EdgewatchSuspectedAttack"), ("alert_kind", "attack")]);
        for mode in [Mode::Attack, Mode::Spike] {
            let s = suggest(mode, &i, &customer(), &o, "t".into());
            if let Some(rule) = &s.custom_rule {
                proptest::prop_assert!(grammar::check(&rule.expression).is_ok(), "{}: {:?}", rule.expression, grammar::check(&rule.expression));
            }
            for ip in s.chosen(Dimension::Ip) {
                proptest::prop_assert!(!ip.starts_with("203.0.113."), "an allowlisted address was named: {ip}");
            }
            proptest::prop_assert!(!s.chosen(Dimension::Asn).contains("64500"));
        }
    }
}

/// Offender values come from request logs: in the ticket's table a user
/// agent cannot break the lines (nor fake a named row), carry a terminal
/// escape, or run on for pages.
#[test]
fn offender_values_are_shown_on_one_line_without_control_characters() {
    let mut hostile = attack();
    let long = "A".repeat(500);
    hostile.by.insert(
        Dimension::UserAgent,
        vec![key("evil\n- IP address 10.0.0.1: 9 requests, NAMED\u{1b}[2J", 1900, 1850), key(&long, 50, 40)],
    );
    let i = incident(&[("alertname", "EdgewatchSuspectedAttack"), ("alert_kind", "attack")]);
    let text = suggest(Mode::Attack, &i, &customer(), &hostile, "2026-12-05T10:05:00Z".into()).text();
    assert!(!text.contains('\u{1b}'), "{text}");
    let line = text.lines().find(|l| l.contains("evil")).unwrap();
    assert!(
        line.starts_with("- user agent evil\u{fffd}- IP address 10.0.0.1: 9 requests, NAMED\u{fffd}[2J: "),
        "{line}"
    );
    assert!(!text.lines().any(|l| l.starts_with("- IP address 10.0.0.1")), "{text}");
    let long_line = text.lines().find(|l| l.contains("AAAA")).unwrap();
    assert!(
        long_line.contains(&format!("{}…:", "A".repeat(120))) && !long_line.contains(&"A".repeat(121)),
        "{long_line}"
    );
}
