//! Settings that `defaults`, tiers and customers share, and how a more
//! specific layer overrides a more general one.
//!
//! Overlay rule: a key set in the more specific layer wins; mappings keyed by
//! name (latency SLOs, severities, runbooks) merge key by key; lists (routes,
//! error statuses) are replaced whole, never appended.

use std::collections::BTreeMap;

use crate::decode::{At, Cx, Decode, Fields, fields};
use crate::model::Approval;
use crate::names::{AlertKind, LatencySource, PolicyLevel, Severity, SloKind};
use crate::path::YamlPath;
use crate::types::decimal::Percent;
use crate::types::duration::Duration;
use crate::types::host::HostPattern;
use crate::types::ident::{Slug, decode_slug};
use crate::types::status::StatusMatcher;
use crate::types::template::UrlTemplate;
use crate::yaml::{Anchor, Value};

pub(crate) const PROFILE_KEYS: [&str; 4] = ["slos", "alerting", "probe_defaults", "runbooks"];

/// What `defaults`, a tier, or a customer may set for itself and below.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawProfile {
    pub(crate) slos: RawSlos,
    pub(crate) alerting: RawAlerting,
    pub(crate) probe_defaults: RawProbeDefaults,
    pub(crate) runbooks: BTreeMap<String, At<UrlTemplate>>,
}

impl RawProfile {
    /// Reads the profile keys of a struct whose other keys the caller reads.
    pub(crate) fn read(f: &Fields<'_>, cx: &mut Cx<'_>) -> Self {
        let runbooks = f.map::<At<UrlTemplate>>("runbooks", cx);
        for key in runbooks.keys() {
            if key != "default" && key.parse::<AlertKind>().is_err() {
                let names = std::iter::once("default").chain(AlertKind::ALL.iter().map(|k| k.as_str()));
                let issue = cx.error(&f.path("runbooks").key(key), Anchor::Key, format!("unknown runbook key `{key}`"));
                if let Some(h) = crate::decode::unknown_word_hint(key, names) {
                    issue.hint(h);
                }
            }
        }
        Self {
            slos: f.opt("slos", cx).unwrap_or_default(),
            alerting: f.opt("alerting", cx).unwrap_or_default(),
            probe_defaults: f.opt("probe_defaults", cx).unwrap_or_default(),
            runbooks,
        }
    }

    /// `over` on top of `self`.
    pub(crate) fn overlay(mut self, over: &Self) -> Self {
        self.slos = self.slos.overlay(&over.slos);
        self.alerting = self.alerting.overlay(&over.alerting);
        self.probe_defaults = self.probe_defaults.overlay(&over.probe_defaults);
        self.runbooks.extend(over.runbooks.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }
}

/// `slos:` — one availability SLO, latency SLOs by name, one probe SLO.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawSlos {
    pub(crate) availability: Option<RawSlo>,
    pub(crate) latency: BTreeMap<String, RawSlo>,
    pub(crate) probe: Option<RawSlo>,
}

impl Decode for RawSlos {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "slos", &["availability", "latency", "probe"])?;
        let availability = f
            .get("availability")
            .and_then(|v| RawSlo::decode_kind(v, &f.path("availability"), SloKind::Availability, cx));
        let probe = f.get("probe").and_then(|v| RawSlo::decode_kind(v, &f.path("probe"), SloKind::Probe, cx));
        let mut latency = BTreeMap::new();
        match f.get("latency") {
            Some(Value::Mapping(m)) => {
                for (k, v) in m {
                    let Value::String(name) = k else {
                        cx.type_error(&f.path("latency"), "SLO names as keys", k);
                        continue;
                    };
                    let path = f.path("latency").key(name);
                    let name_ok = match decode_slug(name.clone(), 63, &path, cx) {
                        Some(_) if matches!(name.as_str(), "availability" | "probe") => {
                            cx.error(&path, Anchor::Key, format!("a latency SLO cannot be called `{name}`"))
                                .hint("`availability` and `probe` name the other SLO kinds; try `ttfb` or `origin`");
                            false
                        }
                        Some(_) => true,
                        None => false,
                    };
                    if let Some(slo) = RawSlo::decode_kind(v, &path, SloKind::Latency, cx).filter(|_| name_ok) {
                        latency.insert(name.clone(), slo);
                    }
                }
            }
            Some(other) => {
                cx.type_error(&f.path("latency"), "a mapping of latency SLOs by name", other);
            }
            None => {}
        }
        Some(Self { availability, latency, probe })
    }
}

impl RawSlos {
    fn overlay(mut self, over: &Self) -> Self {
        self.availability = overlay_opt(self.availability, over.availability.as_ref());
        self.probe = overlay_opt(self.probe, over.probe.as_ref());
        for (name, slo) in &over.latency {
            let merged = match self.latency.remove(name) {
                Some(base) => base.overlay(slo),
                None => slo.clone(),
            };
            self.latency.insert(name.clone(), merged);
        }
        self
    }
}

fn overlay_opt(base: Option<RawSlo>, over: Option<&RawSlo>) -> Option<RawSlo> {
    match (base, over) {
        (Some(b), Some(o)) => Some(b.overlay(o)),
        (b, o) => o.cloned().or(b),
    }
}

/// One SLO as written; which keys apply depends on its kind.
#[derive(Debug, Clone)]
pub(crate) struct RawSlo {
    pub(crate) kind: SloKind,
    /// Where the SLO was last written (the most specific layer).
    pub(crate) origin: crate::report::Origin,
    pub(crate) enabled: Option<bool>,
    pub(crate) objective: Option<At<Percent>>,
    pub(crate) period: Option<At<Duration>>,
    /// Availability: statuses that count as errors.
    pub(crate) errors: Option<Vec<StatusMatcher>>,
    /// Availability: requests left out of the SLI entirely.
    pub(crate) exclude: Option<RawExclude>,
    /// Latency: which latency.
    pub(crate) source: Option<LatencySource>,
    /// Latency: requests at or under this are good.
    pub(crate) threshold: Option<At<Duration>>,
    /// Keys written in any layer, valid or not: a key whose value was
    /// rejected is not reported again as missing.
    pub(crate) written: Vec<&'static str>,
}

impl RawSlo {
    fn decode_kind(v: &Value, path: &YamlPath, kind: SloKind, cx: &mut Cx<'_>) -> Option<Self> {
        let (what, keys): (&'static str, &[&'static str]) = match kind {
            SloKind::Availability => ("availability SLO", &["enabled", "objective", "period", "errors", "exclude"]),
            SloKind::Latency => ("latency SLO", &["enabled", "objective", "period", "source", "threshold"]),
            SloKind::Probe => ("probe SLO", &["enabled", "objective", "period"]),
        };
        let f = fields(v, path, cx, what, keys)?;
        let objective = f.opt::<At<Percent>>("objective", cx).filter(|o| {
            if o.value.is_open_unit() {
                return true;
            }
            cx.error(
                &f.path("objective"),
                Anchor::Value,
                format!("objective must be above 0% and below 100%, got {}", o.value),
            )
            .hint("an objective of 100% leaves no error budget to alert on; typical objectives are 99.9 or 99.95");
            false
        });
        let period = f.opt::<At<Duration>>("period", cx).filter(|p| check_period(p.value, &f.path("period"), cx));
        let threshold = f.opt::<At<Duration>>("threshold", cx).filter(|t| {
            let ms = t.value.as_millis();
            if ms == 0 {
                cx.error(&f.path("threshold"), Anchor::Value, "latency threshold must be positive");
                return false;
            }
            if ms > 60_000 {
                cx.error(
                    &f.path("threshold"),
                    Anchor::Value,
                    format!("latency threshold {} is over the 60s the histograms cover", t.value),
                );
                return false;
            }
            true
        });
        let errors = f.opt::<Vec<StatusMatcher>>("errors", cx);
        if errors.as_ref().is_some_and(Vec::is_empty) {
            cx.error(&f.path("errors"), Anchor::Value, "an availability SLO needs at least one error status")
                .hint("the usual choice is `[5xx]`");
        }
        let written = keys.iter().copied().filter(|k| f.get(k).is_some()).collect();
        Some(Self {
            written,
            kind,
            origin: cx.origin(path),
            enabled: f.opt("enabled", cx),
            objective,
            period,
            errors,
            exclude: f.opt("exclude", cx),
            source: f.opt("source", cx),
            threshold,
        })
    }

    fn overlay(self, over: &Self) -> Self {
        let mut written = self.written;
        written.extend(&over.written);
        Self {
            written,
            kind: self.kind,
            origin: over.origin.clone(),
            enabled: over.enabled.or(self.enabled),
            objective: over.objective.clone().or(self.objective),
            period: over.period.clone().or(self.period),
            errors: over.errors.clone().or(self.errors),
            exclude: match (self.exclude, &over.exclude) {
                (Some(base), Some(o)) => Some(base.overlay(o)),
                (base, o) => o.clone().or(base),
            },
            source: over.source.or(self.source),
            threshold: over.threshold.clone().or(self.threshold),
        }
    }
}

/// SLO periods are whole days, long enough for the 3-day slow-burn window.
fn check_period(d: Duration, path: &YamlPath, cx: &mut Cx<'_>) -> bool {
    const DAY: u64 = 86_400_000;
    let ms = d.as_millis();
    if !ms.is_multiple_of(DAY) || !(7 * DAY..=90 * DAY).contains(&ms) {
        cx.error(path, Anchor::Value, format!("SLO period {d} must be a whole number of days from 7d to 90d"))
            .hint("common periods are 7d, 28d and 30d");
        return false;
    }
    true
}

/// Requests an availability SLO leaves out of both sides of its ratio.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct RawExclude {
    pub(crate) hosts: Option<Vec<HostPattern>>,
    pub(crate) paths: Option<Vec<String>>,
    pub(crate) statuses: Option<Vec<StatusMatcher>>,
}

impl RawExclude {
    fn overlay(self, over: &Self) -> Self {
        Self {
            hosts: over.hosts.clone().or(self.hosts),
            paths: over.paths.clone().or(self.paths),
            statuses: over.statuses.clone().or(self.statuses),
        }
    }
}

impl Decode for RawExclude {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "exclude", &["hosts", "paths", "statuses"])?;
        let paths: Option<Vec<At<String>>> = f.opt("paths", cx);
        for p in paths.iter().flatten() {
            if !p.value.starts_with('/') {
                cx.error(&p.origin.path, Anchor::Value, format!("path prefix `{}` must start with `/`", p.value));
            }
        }
        Some(Self {
            hosts: f.opt("hosts", cx),
            paths: paths.map(|ps| ps.into_iter().map(|p| p.value).collect()),
            statuses: f.opt("statuses", cx),
        })
    }
}

/// `alerting:` — severity policy, traffic floor and routes.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawAlerting {
    pub(crate) min_requests: Option<At<u64>>,
    pub(crate) severity: BTreeMap<AlertKind, PolicyLevel>,
    pub(crate) routes: Option<Vec<RawRoute>>,
}

impl Decode for RawAlerting {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "alerting", &["min_requests", "severity", "routes"])?;
        let min_requests = f.opt::<At<u64>>("min_requests", cx).filter(|n| {
            if n.value == 0 {
                cx.error(&f.path("min_requests"), Anchor::Value, "min_requests must be at least 1");
                return false;
            }
            true
        });
        let mut severity = BTreeMap::new();
        for (kind, level) in f.map::<PolicyLevel>("severity", cx) {
            if let Ok(k) = kind.parse::<AlertKind>() {
                severity.insert(k, level);
                continue;
            }
            let names = AlertKind::ALL.iter().map(|k| k.as_str());
            let issue = cx.error(&f.path("severity").key(&kind), Anchor::Key, format!("unknown alert kind `{kind}`"));
            if let Some(h) = crate::decode::unknown_word_hint(&kind, names) {
                issue.hint(h);
            }
        }
        Some(Self { min_requests, severity, routes: f.opt("routes", cx) })
    }
}

impl RawAlerting {
    fn overlay(mut self, over: &Self) -> Self {
        self.min_requests = over.min_requests.clone().or(self.min_requests);
        self.severity.extend(over.severity.iter().map(|(k, v)| (*k, *v)));
        self.routes = over.routes.clone().or(self.routes);
        self
    }
}

/// One route: which alerts go to which destinations.
#[derive(Debug, Clone)]
pub(crate) struct RawRoute {
    pub(crate) to: Vec<At<String>>,
    pub(crate) severities: Vec<Severity>,
    pub(crate) alert_kinds: Vec<AlertKind>,
    pub(crate) approval: Approval,
    pub(crate) escalate_after: Option<Duration>,
    pub(crate) update_every: Option<Duration>,
}

impl Decode for RawRoute {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let keys = ["to", "severities", "alert_kinds", "approval", "escalate_after", "update_every"];
        let f = fields(v, path, cx, "route", &keys)?;
        let to: Option<Vec<At<String>>> = f.req("to", cx);
        let severities = f.list("severities", cx);
        let alert_kinds = f.list("alert_kinds", cx);
        if to.as_ref().is_some_and(Vec::is_empty) {
            cx.error(&f.path("to"), Anchor::Value, "a route needs at least one destination");
        }
        let approval = f.opt("approval", cx).unwrap_or_default();
        let mut positive = |key: &str| {
            let d: Option<Duration> = f.opt(key, cx);
            if d.is_some_and(|d| d.as_millis() == 0) {
                cx.error(&f.path(key), Anchor::Value, format!("`{key}` must be above 0"));
                return None;
            }
            d
        };
        let (escalate_after, update_every) = (positive("escalate_after"), positive("update_every"));
        Some(Self { to: to?, severities, alert_kinds, approval, escalate_after, update_every })
    }
}

/// `probe_defaults:` — what probes get unless they say otherwise.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawProbeDefaults {
    pub(crate) interval: Option<At<Duration>>,
    pub(crate) timeout: Option<At<Duration>>,
    pub(crate) ip_families: Option<Vec<IpFamily>>,
}

impl Decode for RawProbeDefaults {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let f = fields(v, path, cx, "probe_defaults", &["interval", "timeout", "ip_families"])?;
        Some(Self {
            interval: probe_interval(&f, cx),
            timeout: probe_timeout(&f, cx),
            ip_families: ip_families(&f, cx),
        })
    }
}

/// A probe `interval`, from 1s to 1h.
pub(crate) fn probe_interval(f: &Fields<'_>, cx: &mut Cx<'_>) -> Option<At<Duration>> {
    f.opt::<At<Duration>>("interval", cx).filter(|d| {
        let ok = (1_000..=3_600_000).contains(&d.value.as_millis());
        if !ok {
            cx.error(&f.path("interval"), Anchor::Value, format!("probe interval {} must be from 1s to 1h", d.value));
        }
        ok
    })
}

/// A probe `timeout`, above zero and at most 60s.
pub(crate) fn probe_timeout(f: &Fields<'_>, cx: &mut Cx<'_>) -> Option<At<Duration>> {
    f.opt::<At<Duration>>("timeout", cx).filter(|d| {
        let ok = (1..=60_000).contains(&d.value.as_millis());
        if !ok {
            cx.error(
                &f.path("timeout"),
                Anchor::Value,
                format!("probe timeout {} must be above 0 and at most 60s", d.value),
            );
        }
        ok
    })
}

/// Probe `ip_families`: not empty; repeats are dropped.
pub(crate) fn ip_families(f: &Fields<'_>, cx: &mut Cx<'_>) -> Option<Vec<IpFamily>> {
    let mut families: Vec<IpFamily> = f.opt("ip_families", cx)?;
    if families.is_empty() {
        cx.error(&f.path("ip_families"), Anchor::Value, "a probe needs at least one IP family")
            .hint("`[ipv4]`, `[ipv6]` or both");
        return None;
    }
    families.sort_unstable();
    families.dedup();
    Some(families)
}

impl RawProbeDefaults {
    pub(crate) fn overlay(self, over: &Self) -> Self {
        Self {
            interval: over.interval.clone().or(self.interval),
            timeout: over.timeout.clone().or(self.timeout),
            ip_families: over.ip_families.clone().or(self.ip_families),
        }
    }
}

/// Which IP versions a probe uses; each family is probed separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpFamily {
    /// A records.
    Ipv4,
    /// AAAA records.
    Ipv6,
}

crate::decode::string_enum!(IpFamily, "IP family", { Ipv4 => "ipv4", Ipv6 => "ipv6" });

/// A slug-keyed map entry checked for a valid name.
pub(crate) fn slug_keys<T>(map: BTreeMap<String, T>, path: &YamlPath, cx: &mut Cx<'_>) -> Vec<(At<Slug>, T)> {
    map.into_iter()
        .filter_map(|(k, v)| {
            let p = path.key(&k);
            let slug = crate::types::ident::check_slug(&k, 63);
            if let Err(msg) = slug {
                let issue = cx.error(&p, Anchor::Key, msg);
                if let Some(h) = crate::types::ident::slug_hint(&k) {
                    issue.hint(h);
                }
                return None;
            }
            Some((At { value: Slug(k), origin: cx.origin(&p) }, v))
        })
        .collect()
}
