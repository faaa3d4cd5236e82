//! `up --demo`: synthetic Logpush traffic for every host of the catalog
//! (a realistic mix of statuses, cache verdicts and latencies, timestamps
//! of now), and after a healthy warm-up a full outage of one customer, so
//! an incident opens and resolves within minutes.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use edgewatch_catalog::Catalog;
use edgewatch_catalog::HostPattern;

/// The demo's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Script {
    /// Healthy traffic before the outage.
    pub warmup: Duration,
    /// How long the outage lasts.
    pub outage: Duration,
}

impl Default for Script {
    fn default() -> Self {
        Self { warmup: Duration::from_secs(180), outage: Duration::from_secs(120) }
    }
}

/// A small repeatable generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    #[allow(clippy::cast_precision_loss)] // 53 bits
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A customer's traffic: its hosts and requests per second.
struct Site {
    id: String,
    hosts: Vec<String>,
    per_second: f64,
}

/// A host name a pattern takes (a wildcard gets `www.`).
fn host_of(p: &HostPattern) -> String {
    if p.is_wildcard() { format!("www.{}", p.domain()) } else { p.domain().to_owned() }
}

/// The customer the outage hits: the one whose traffic floor is lowest (so
/// the fewest requests page), the first of those.
fn victim(catalog: &Catalog) -> Option<&edgewatch_catalog::Customer> {
    catalog.customers.iter().filter(|c| !c.hosts.is_empty()).min_by_key(|c| c.alerting.min_requests)
}

/// One Logpush line.
fn line(out: &mut String, host: &str, failing: bool, now_ns: u128, rng: &mut Rng, n: u64) {
    let r = rng.unit();
    let (status, origin) = if failing {
        (503, 503)
    } else if r < 0.90 {
        (200, 200)
    } else if r < 0.95 {
        (304, 304)
    } else if r < 0.999_8 {
        (404, 404)
    } else {
        (502, 502)
    };
    let cache = match rng.unit() {
        x if x < 0.7 => "hit",
        x if x < 0.95 => "miss",
        _ => "dynamic",
    };
    // Mostly fast, a long tail; during an outage, the origin's timeouts.
    let ttfb = if failing { 3000.0 + 2000.0 * rng.unit() } else { 15.0 + 120.0 * rng.unit().powi(3) };
    let origin_ms = if cache == "hit" { 0.0 } else { ttfb * 0.8 };
    let ip = format!("198.51.100.{}", 1 + rng.next() % 200);
    let _ = writeln!(
        out,
        r#"{{"ClientRequestHost":"{host}","EdgeResponseStatus":{status},"OriginResponseStatus":{origin},"CacheCacheStatus":"{cache}","EdgeTimeToFirstByteMs":{ttfb:.0},"OriginResponseDurationMs":{origin_ms:.0},"EdgeResponseBytes":{},"EdgeEndTimestamp":{now_ns},"RayID":"{n:016x}","ClientIP":"{ip}","ClientCountry":"de","ClientRequestPath":"/","SecurityAction":""}}"#,
        500 + rng.next() % 20_000
    );
}

/// Pushes traffic to `url` until aborted, saying its steps on `say`.
pub(crate) async fn run(
    script: Script,
    catalog: Catalog,
    scrape: edgewatch_catalog::Duration,
    url: String,
    prometheus: Option<String>,
    client: reqwest::Client,
    say: tokio::sync::mpsc::UnboundedSender<String>,
) {
    let victim_id = victim(&catalog).map(|c| c.id.to_string());
    // The outage customer sends enough for its floor within the fast
    // tier's outage window (20 scrapes), half as much again.
    let window = scrape.as_secs_f64() * 20.0;
    #[allow(clippy::cast_precision_loss)] // a request count
    let sites: Vec<Site> = catalog
        .customers
        .iter()
        .filter(|c| !c.hosts.is_empty())
        .map(|c| {
            let floor = c.alerting.min_requests as f64 * 1.5 / window.max(1.0);
            let per_second = if Some(c.id.to_string()) == victim_id { floor.max(20.0) } else { 20.0 };
            Site { id: c.id.to_string(), hosts: c.hosts.iter().map(host_of).collect(), per_second }
        })
        .collect();
    let Some(victim_id) = victim_id else {
        let _ = say.send("the catalog has no customer with hosts: no traffic to send".to_owned());
        return;
    };
    let _ = say.send(format!(
        "healthy traffic for {} customers; {victim_id} goes down {}s after Prometheus scrapes the exporter and has the objectives, for {}s",
        sites.len(),
        script.warmup.as_secs(),
        script.outage.as_secs()
    ));
    // The script's clock starts once Prometheus has the exporter's series:
    // a Prometheus that starts slowly (a busy machine) would otherwise see
    // too little of the warm-up, and the outage too late or not at all.
    let mut clock: Option<Instant> = None;
    let far = Instant::now() + Duration::from_secs(365 * 86_400);
    let (mut down_at, mut up_at) = (far, far);
    let mut ticks = 0u64;
    let (mut said_down, mut said_up) = (false, false);
    let mut rng = Rng(0x005E_ED0F_ED6E);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut owed: Vec<f64> = vec![0.0; sites.len()];
    let mut n = 0u64;
    loop {
        tick.tick().await;
        let now = Instant::now();
        ticks += 1;
        // Every 2 s (8 ticks) until Prometheus has scraped once.
        if clock.is_none() && ticks % 8 == 1 {
            let ready = match &prometheus {
                Some(p) => scraped(&client, p, &victim_id).await,
                None => true,
            };
            if ready {
                clock = Some(now);
                (down_at, up_at) = (now + script.warmup, now + script.warmup + script.outage);
                let _ = say.send(format!(
                    "Prometheus scrapes the exporter and has the objectives: {victim_id} goes down in {}s",
                    script.warmup.as_secs()
                ));
            }
        }
        let failing_now = now >= down_at && now < up_at;
        if failing_now && !said_down {
            said_down = true;
            let _ = say.send(format!("{victim_id} is down: every request answers 503"));
        }
        if now >= up_at && !said_up {
            said_up = true;
            let _ = say.send(format!("{victim_id} is back"));
        }
        let now_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let mut body = String::new();
        for (site, owe) in sites.iter().zip(owed.iter_mut()) {
            *owe += site.per_second / 4.0;
            let failing = failing_now && site.id == victim_id;
            while *owe >= 1.0 {
                *owe -= 1.0;
                n += 1;
                #[allow(clippy::cast_possible_truncation)] // an index below the length
                let host = &site.hosts[(rng.next() % site.hosts.len() as u64) as usize];
                line(&mut body, host, failing, now_ns, &mut rng, n);
            }
        }
        if let Err(e) = client.post(&url).body(body).send().await {
            tracing::debug!(error = %e, "demo push failed");
        }
    }
}

/// Whether Prometheus at `base` has scraped the exporter and has the
/// objectives of `victim`, the customer the outage hits: constants join
/// recordings of other groups (a profile's group each), which take up to
/// two evaluation intervals after a start, so another customer's may be
/// there a minute before the victim's (and an outage then passes without
/// an alert). One customer's constants come from one evaluation: its error
/// budget there means its burn thresholds and traffic floor are too.
async fn scraped(client: &reqwest::Client, base: &str, victim: &str) -> bool {
    let url = format!("{base}/api/v1/query");
    let query = format!(
        r#"count(up{{job="edgewatch-exporter"}} == 1) and on () count({}{{customer="{victim}"}})"#,
        edgewatch_catalog::names::recorded::ERROR_BUDGET
    );
    let Ok(resp) = client.get(url).query(&[("query", query)]).send().await else {
        return false;
    };
    let Ok(doc) = resp.json::<serde_json::Value>().await else { return false };
    doc["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()).is_some_and(|v| v >= 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_logpush_json_with_the_host_and_a_failure_when_down() {
        let mut rng = Rng(1);
        let mut out = String::new();
        line(&mut out, "www.shop.example", true, 1_700_000_000_000_000_000, &mut rng, 7);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["ClientRequestHost"], "www.shop.example");
        assert_eq!(v["EdgeResponseStatus"], 503);
        assert_eq!(v["RayID"], "0000000000000007");
    }
}
