//! From raw files to the [`Catalog`]: merge the files, apply `defaults` and
//! tiers to each customer, and check what only the effective values show.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::decode::{At, unknown_word_hint};
use crate::model::{
    Alerting, Catalog, Customer, CustomerDashboards, Destination, Exclude, Expect, HttpMethod, Probe, Route, Runbooks,
    Slo, SloSpec,
};
use crate::names::{AlertKind, LatencySource, SloKind};
use crate::raw::customer::RawCustomer;
use crate::raw::file::RawFile;
use crate::raw::probe::RawProbe;
use crate::raw::profile::{IpFamily, RawProfile, RawSlo};
use crate::report::{Origin, Report, Sources};
use crate::types::duration::Duration;
use crate::types::ident::Slug;
use crate::types::status::StatusMatcher;
use crate::validate;
use crate::yaml::Anchor;

/// Burn-rate alerts need this many requests in the long window by default.
pub(crate) const DEFAULT_MIN_REQUESTS: u64 = 1000;
/// SLO period when none is set anywhere.
pub(crate) const DEFAULT_PERIOD: Duration = Duration::from_secs(28 * 86_400);
const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// All files merged into one.
#[derive(Default)]
struct Merged {
    defaults: RawProfile,
    tiers: BTreeMap<Slug, RawProfile>,
    customers: Vec<RawCustomer>,
    destinations: BTreeMap<Slug, Destination>,
    declared_tiers: Vec<String>,
    declared_destinations: Vec<String>,
    templates: BTreeMap<String, String>,
    customer_dashboards: CustomerDashboards,
}

fn merge(files: Vec<RawFile>, sources: &Sources, report: &mut Report) -> Merged {
    let mut m = Merged::default();
    let mut defaults_from: Option<Origin> = None;
    let mut dashboards_from: Option<Origin> = None;
    let mut tier_from: BTreeMap<Slug, Origin> = BTreeMap::new();
    let mut dest_from: BTreeMap<Slug, Origin> = BTreeMap::new();
    let file_name = |o: &Origin| sources.files.get(o.file).map(|f| f.name.display().to_string()).unwrap_or_default();
    for file in files {
        // Sections that one file of the catalog may set.
        let mut once = |key: &str, from: &mut Option<Origin>, origin: Origin| {
            if let Some(first) = from {
                report
                    .error(origin, Anchor::Key, format!("`{key}` is set in more than one file"))
                    .hint(format!("keep one `{key}` section; the first is in {}", file_name(first)));
                return false;
            }
            *from = Some(origin);
            true
        };
        if let Some(d) = file.defaults
            && once("defaults", &mut defaults_from, d.origin)
        {
            m.defaults = d.value;
        }
        if let Some(d) = file.customer_dashboards
            && once("dashboards", &mut dashboards_from, d.origin)
        {
            m.customer_dashboards = d.value;
        }
        for (name, profile) in file.tiers {
            define_once(&mut m.tiers, &mut tier_from, name, profile, "tier", report, file_name);
        }
        for (name, dest) in file.destinations {
            define_once(&mut m.destinations, &mut dest_from, name, dest, "destination", report, file_name);
        }
        for (name, text) in file.templates {
            match m.templates.entry(name.value) {
                std::collections::btree_map::Entry::Occupied(e) => {
                    report.error(name.origin, Anchor::Key, format!("template `{}` is defined twice", e.key()));
                }
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(text);
                }
            }
        }
        m.customers.extend(file.customers);
        m.declared_tiers.extend(file.declared_tiers);
        m.declared_destinations.extend(file.declared_destinations);
    }
    m
}

/// Adds a named definition, or reports it when the name is already taken.
fn define_once<T>(
    defs: &mut BTreeMap<Slug, T>,
    origins: &mut BTreeMap<Slug, Origin>,
    name: At<Slug>,
    value: T,
    what: &str,
    report: &mut Report,
    file_name: impl Fn(&Origin) -> String,
) {
    if let Some(first) = origins.get(&name.value) {
        report
            .error(name.origin.clone(), Anchor::Key, format!("{what} `{}` is defined twice", name.value))
            .hint(format!("first defined in {}", file_name(first)));
    } else {
        origins.insert(name.value.clone(), name.origin);
        defs.insert(name.value, value);
    }
}

/// Builds the catalog; `None` when anything is wrong (the report says what).
pub(crate) fn resolve(files: Vec<RawFile>, sources: &Sources, report: &mut Report) -> Option<Catalog> {
    let m = merge(files, sources, report);
    validate::customers(&m.customers, &m.declared_tiers, sources, report);
    // Routes are checked where they are written, so a mistake in `defaults`
    // or a tier is reported once, whether or not a customer uses it.
    let layers = std::iter::once(&m.defaults).chain(m.tiers.values()).chain(m.customers.iter().map(|c| &c.profile));
    for profile in layers {
        check_routes(profile, &m, report);
    }
    let customers: Vec<Customer> = m.customers.iter().filter_map(|c| customer(c, &m, report)).collect();
    if report.has_errors() {
        return None;
    }
    Some(Catalog {
        customers,
        destinations: m.destinations,
        tiers: m.tiers.into_keys().collect(),
        templates: m.templates,
        customer_dashboards: m.customer_dashboards,
        index: crate::model::CustomerIndex::default(),
    })
}

fn customer(c: &RawCustomer, m: &Merged, report: &mut Report) -> Option<Customer> {
    let tier_profile = c.tier.as_ref().and_then(|t| m.tiers.get(t.value.as_str()));
    let mut profile = m.defaults.clone();
    if let Some(tier) = tier_profile {
        profile = profile.overlay(tier);
    }
    let profile = profile.overlay(&c.profile);

    let alerting = alerting(&profile, m);
    let slos = slos(c, &profile, &alerting, report);
    let probes = probes(c, &profile, report);
    let runbooks = Runbooks {
        default: profile.runbooks.get("default").map(|t| t.value.clone()),
        by_kind: profile
            .runbooks
            .iter()
            .filter_map(|(k, t)| Some((k.parse::<AlertKind>().ok()?, t.value.clone())))
            .collect(),
    };

    if c.probes.is_empty()
        && let Some(probe_slo) = &c.profile.slos.probe
        && probe_slo.enabled != Some(false)
    {
        report
            .warning(probe_slo.origin.clone(), Anchor::Key, "probe SLO without probes: it has nothing to measure")
            .hint("add `probes`, or remove the probe SLO");
    }
    if !c.claims_traffic {
        report
            .warning(
                c.origin.clone(),
                Anchor::Value,
                "customer has no hosts or zones, so no traffic will be counted for it",
            )
            .hint("list its host names under `hosts`");
    }
    if alerting.routes.is_empty() {
        report
            .warning(c.origin.clone(), Anchor::Value, "no alerting routes: this customer's alerts reach no destination")
            .hint("add `alerting.routes` here, in its tier or in `defaults`");
    }

    email_recipients(c, &alerting, m, report);

    let id = c.id.as_ref()?.value.clone();
    let name = c.name.clone().unwrap_or_else(|| id.to_string());
    Some(Customer {
        id,
        name,
        tier: c.tier.as_ref().map(|t| Slug(t.value.clone())),
        contacts: c.contacts.clone(),
        labels: c.labels.clone(),
        zones: c.zones.iter().map(|z| z.value.clone()).collect(),
        hosts: c.hosts.iter().map(|h| h.value.clone()).collect(),
        jira_project: c.jira_project.clone(),
        links: c.links.clone(),
        slos: slos?,
        probes: probes?,
        alerting,
        runbooks,
        mitigation: c.mitigation.clone(),
        statuspage_components: c.statuspage_components.clone(),
    })
}

/// A customer routed to an e-mail destination has a contact it writes to:
/// otherwise outreach would reach no one, and only the dead letter would
/// say so.
fn email_recipients(c: &RawCustomer, alerting: &Alerting, m: &Merged, report: &mut Report) {
    let routed: BTreeSet<&Slug> = alerting.routes.iter().flat_map(|r| &r.to).collect();
    for name in routed {
        let Some(Destination::Email(e)) = m.destinations.get(name.as_str()) else { continue };
        if !e.recipients(&c.contacts).is_empty() {
            continue;
        }
        let whom = if e.roles.is_empty() {
            "has no contacts".to_owned()
        } else {
            format!("has no contact whose role is {}", e.roles.join(" or "))
        };
        report
            .error(
                c.origin.clone(),
                Anchor::Value,
                format!("routed to e-mail destination `{name}`, but the customer {whom}: its mail would reach no one"),
            )
            .hint("add such a contact under `contacts`, or route this customer elsewhere");
    }
}

fn check_routes(profile: &RawProfile, m: &Merged, report: &mut Report) {
    for d in profile.alerting.routes.iter().flatten().flat_map(|r| &r.to) {
        if !m.declared_destinations.contains(&d.value) {
            let message = format!("route names undefined destination `{}`", d.value);
            let issue = report.error(d.origin.clone(), Anchor::Value, message);
            match unknown_word_hint(&d.value, m.declared_destinations.iter().map(String::as_str)) {
                Some(h) => issue.hint(h),
                None => issue.hint("define it under `destinations:`"),
            };
        }
    }
}

fn alerting(profile: &RawProfile, m: &Merged) -> Alerting {
    let a = &profile.alerting;
    // Undefined names were reported by `check_routes`.
    let routes = a
        .routes
        .iter()
        .flatten()
        .map(|r| Route {
            to: r
                .to
                .iter()
                .filter(|d| m.destinations.contains_key(d.value.as_str()))
                .map(|d| Slug(d.value.clone()))
                .collect(),
            severities: r.severities.clone(),
            alert_kinds: r.alert_kinds.clone(),
            approval: r.approval,
            escalate_after: r.escalate_after,
            update_every: r.update_every,
        })
        .collect();
    Alerting {
        min_requests: a.min_requests.as_ref().map_or(DEFAULT_MIN_REQUESTS, |n| n.value),
        severity: AlertKind::ALL
            .iter()
            .map(|k| (*k, a.severity.get(k).copied().unwrap_or(k.default_level())))
            .collect(),
        routes,
    }
}

fn slos(c: &RawCustomer, profile: &RawProfile, alerting: &Alerting, report: &mut Report) -> Option<Vec<Slo>> {
    let s = &profile.slos;
    let mut out = Vec::new();
    let mut ok = true;
    let named = s
        .availability
        .iter()
        .map(|slo| ("availability", slo))
        .chain(s.latency.iter().map(|(n, slo)| (n.as_str(), slo)))
        .chain(s.probe.iter().map(|slo| ("probe", slo)));
    for (name, raw) in named {
        if raw.enabled == Some(false) {
            continue;
        }
        // A probe SLO inherited from defaults applies to customers with probes.
        if raw.kind == SloKind::Probe && c.probes.is_empty() {
            continue;
        }
        match slo(c, name, raw, alerting, report) {
            Some(slo) => out.push(slo),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn slo(c: &RawCustomer, name: &str, raw: &RawSlo, alerting: &Alerting, report: &mut Report) -> Option<Slo> {
    let kind = raw.kind;
    let Some(objective) = &raw.objective else {
        if raw.written.contains(&"objective") {
            return None; // rejected where it was written
        }
        report
            .error(raw.origin.clone(), Anchor::Key, format!("{kind} SLO `{name}` has no objective"))
            .hint("set `objective` here, in the customer's tier, or in `defaults`");
        return None;
    };
    let spec = match kind {
        SloKind::Availability => {
            let exclude = raw.exclude.clone().unwrap_or_default();
            SloSpec::Availability {
                errors: raw.errors.clone().unwrap_or_else(|| vec![StatusMatcher::Class(5)]),
                exclude: Exclude {
                    hosts: exclude.hosts.unwrap_or_default(),
                    paths: exclude.paths.unwrap_or_default(),
                    statuses: exclude.statuses.unwrap_or_default(),
                },
            }
        }
        SloKind::Latency => {
            let Some(threshold) = &raw.threshold else {
                if raw.written.contains(&"threshold") {
                    return None;
                }
                report
                    .error(raw.origin.clone(), Anchor::Key, format!("latency SLO `{name}` has no threshold"))
                    .hint("set `threshold`, for instance `300ms`");
                return None;
            };
            SloSpec::Latency { source: raw.source.unwrap_or(LatencySource::EdgeTtfb), threshold: threshold.value }
        }
        SloKind::Probe => SloSpec::Probe,
    };
    // Request-based SLOs: at the traffic floor, the long window's error
    // budget must hold at least one whole request, or a single failure reads
    // as a burn far above any threshold.
    let budget = objective.value.complement_ratio();
    if kind != SloKind::Probe && !budget.times_at_least(alerting.min_requests, 1) {
        let needed = needed_requests(budget);
        report
            .error(
                objective.origin.clone(),
                Anchor::Value,
                format!(
                    "objective {} is too high to measure at alerting.min_requests = {}{}: its error budget is less than one request",
                    objective.value,
                    alerting.min_requests,
                    c.id.as_ref().map(|id| format!(" (customer `{}`)", id.value)).unwrap_or_default(),
                ),
            )
            .hint(format!("raise `alerting.min_requests` to at least {needed}, or lower the objective"));
        return None;
    }
    Some(Slo {
        name: Slug(name.to_owned()),
        spec,
        objective: objective.value,
        period: raw.period.as_ref().map_or(DEFAULT_PERIOD, |p| p.value),
    })
}

/// The smallest request count whose budget share is at least one request.
fn needed_requests(budget: crate::types::decimal::Decimal) -> String {
    let mut n: u64 = 1;
    while !budget.times_at_least(n, 1) && n < u64::MAX / 10 {
        n *= 10;
    }
    // Refine within the decade.
    let mut lo = n / 10;
    while lo + 1 < n {
        let mid = lo + (n - lo) / 2;
        if budget.times_at_least(mid, 1) {
            n = mid;
        } else {
            lo = mid;
        }
    }
    n.to_string()
}

fn probes(c: &RawCustomer, profile: &RawProfile, report: &mut Report) -> Option<Vec<Probe>> {
    let d = &profile.probe_defaults;
    let mut names = HashSet::new();
    let mut out = Vec::new();
    let mut ok = true;
    for p in &c.probes {
        match probe(&p.value, &p.origin, d, c, &mut names, report) {
            Some(probe) => out.push(probe),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn probe(
    p: &RawProbe,
    origin: &Origin,
    d: &crate::raw::profile::RawProbeDefaults,
    c: &RawCustomer,
    names: &mut HashSet<Slug>,
    report: &mut Report,
) -> Option<Probe> {
    let name = p.name.as_ref()?;
    if !names.insert(name.value.clone()) {
        report.error(name.origin.clone(), Anchor::Value, format!("duplicate probe name `{}`", name.value));
        return None;
    }
    let url = p.url.clone()?;
    let pick = |own: &Option<At<Duration>>, def: &Option<At<Duration>>, fallback: Duration| {
        own.as_ref().or(def.as_ref()).map_or((fallback, None), |a| (a.value, Some(a.origin.clone())))
    };
    let (interval, _) = pick(&p.interval, &d.interval, DEFAULT_PROBE_INTERVAL);
    let (timeout, timeout_at) = pick(&p.timeout, &d.timeout, DEFAULT_PROBE_TIMEOUT);
    // Ranges were checked where written; only the pair needs effective values.
    if timeout >= interval {
        report
            .error(
                timeout_at.unwrap_or_else(|| origin.clone()),
                Anchor::Value,
                format!("probe timeout {timeout} must be shorter than the interval {interval}"),
            )
            .hint("a probe that may run longer than its interval overlaps the next one");
        return None;
    }
    if let Some(host) = url.url().host_str() {
        let host = host.to_ascii_lowercase();
        let in_zone = c.zones.iter().any(|z| validate::in_zone(&host, z.value.as_str()));
        if !in_zone && !c.hosts.iter().any(|h| h.value.matches(&host)) {
            let url_at = Origin { file: origin.file, path: origin.path.key("url") };
            report
                .warning(
                    url_at,
                    Anchor::Value,
                    format!("probe host `{host}` is in none of this customer's hosts or zones"),
                )
                .hint("probe results still count, but request logs for this host will not be matched to the customer");
        }
    }
    Some(Probe {
        name: name.value.clone(),
        url,
        method: p.method.unwrap_or(HttpMethod::Get),
        headers: p.headers.clone(),
        body: p.body.clone(),
        expect: Expect {
            status: p.expect.status.clone().unwrap_or_else(|| vec![StatusMatcher::Class(2)]),
            body_matches: p.expect.body_matches.clone(),
            body_not_matches: p.expect.body_not_matches.clone(),
            headers: p.expect.headers.clone(),
        },
        interval,
        timeout,
        ip_families: p.ip_families.clone().or_else(|| d.ip_families.clone()).unwrap_or_else(|| vec![IpFamily::Ipv4]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_requests_is_exact() {
        let budget = |s: &str| s.parse::<crate::types::decimal::Percent>().unwrap().complement_ratio();
        assert_eq!(needed_requests(budget("99.9")), "1000");
        assert_eq!(needed_requests(budget("99.95")), "2000");
        assert_eq!(needed_requests(budget("99.999")), "100000");
        assert_eq!(needed_requests(budget("99.7")), "334");
    }
}
