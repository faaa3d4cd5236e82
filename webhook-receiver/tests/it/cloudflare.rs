//! `edgewatch mitigate`'s client of Cloudflare's rulesets API against the
//! contract fake: the entry point created when the zone has none, a rule
//! added once however often it is applied, removed by its id; the API's
//! refusals (a bad token, an expression that does not parse, a period it
//! does not take) named; rate limits waited out.

use std::time::{Duration, Instant};

use edgewatch_catalog::Secret;
use edgewatch_webhook_receiver::{Cloudflare, CloudflareError, Phase};
use serde_json::json;

use crate::fakes::cloudflare::CloudflareFake;

const TOKEN: &str = "cf-test-token";
const ZONE: &str = "023e105f4ecef8ad9ca31a8372d0c353";

fn client(fake: &CloudflareFake, token: &str) -> Cloudflare {
    Cloudflare::new(&fake.url(), Secret::new(token), Duration::from_secs(10)).unwrap()
}

fn custom(reference: &str, expression: &str) -> serde_json::Value {
    json!({"description": "edgewatch test", "expression": expression, "action": "block", "enabled": true, "ref": reference})
}

#[tokio::test]
async fn a_rule_is_added_once_and_removed_by_its_id() {
    let fake = CloudflareFake::start(TOKEN).await;
    let cf = client(&fake, TOKEN);
    let rule = custom("edgewatch-1-custom", "ip.src in {192.0.2.66} and not cf.client.bot");
    let first = cf.add(ZONE, Phase::Custom, &rule).await.unwrap();
    assert!(!first.already);
    let again = cf.add(ZONE, Phase::Custom, &rule).await.unwrap();
    assert_eq!((again.already, &again.rule_id, &again.ruleset_id), (true, &first.rule_id, &first.ruleset_id));
    let other = cf.add(ZONE, Phase::Custom, &custom("edgewatch-2-custom", "ip.src.asnum in {64496}")).await.unwrap();
    assert_eq!(other.ruleset_id, first.ruleset_id, "the second rule goes to the entry point the first created");
    assert_eq!(fake.rules(ZONE, "http_request_firewall_custom").len(), 2);
    assert!(cf.remove(ZONE, &first.ruleset_id, &first.rule_id).await.unwrap());
    assert!(!cf.remove(ZONE, &first.ruleset_id, &first.rule_id).await.unwrap(), "gone already");
    let left = fake.rules(ZONE, "http_request_firewall_custom");
    assert_eq!(left.len(), 1, "the other rule stays");
    assert_eq!(left[0]["ref"], "edgewatch-2-custom");
    let methods: Vec<String> = fake.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert!(!methods.iter().any(|m| m.starts_with("PUT")), "never a PUT that replaces a phase's rules: {methods:?}");
}

#[tokio::test]
async fn refusals_are_named_and_the_token_never_is() {
    let fake = CloudflareFake::start(TOKEN).await;
    let e =
        client(&fake, "wrong-token").add(ZONE, Phase::Custom, &custom("r", "ip.src in {192.0.2.1}")).await.unwrap_err();
    assert!(matches!(e, CloudflareError::Api { status: 403, .. }), "{e}");
    assert!(e.to_string().contains("Authentication error") && !e.to_string().contains("wrong-token"), "{e}");

    let cf = client(&fake, TOKEN);
    let e = cf.add(ZONE, Phase::Custom, &custom("r", "ip.geoip.asnum in {64496}")).await.unwrap_err();
    assert!(e.to_string().contains("filter parsing error") && e.to_string().contains("code 20021"), "{e}");
    let mut rl = json!({"description": "x", "expression": "true", "action": "block", "ref": "rl",
        "ratelimit": {"characteristics": ["ip.src", "cf.colo.id"], "period": 45, "requests_per_period": 100, "mitigation_timeout": 600}});
    let e = cf.add(ZONE, Phase::RateLimit, &rl).await.unwrap_err();
    assert!(e.to_string().contains("ratelimit.period"), "{e}");
    rl["ratelimit"]["period"] = json!(60);
    cf.add(ZONE, Phase::RateLimit, &rl).await.unwrap();
    assert_eq!(fake.rules(ZONE, "http_ratelimit").len(), 1);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out() {
    let fake = CloudflareFake::start(TOKEN).await;
    fake.rate_limit_next(2, 1);
    let started = Instant::now();
    client(&fake, TOKEN).add(ZONE, Phase::Custom, &custom("r", "ip.src in {192.0.2.1}")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(2), "waited Retry-After twice: {:?}", started.elapsed());
    assert_eq!(fake.rules(ZONE, "http_request_firewall_custom").len(), 1);
}
