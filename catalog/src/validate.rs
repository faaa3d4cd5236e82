//! Checks across customers: ids, hosts and zones are each claimed once, and
//! no wildcard of one customer covers another customer's hosts.

use std::collections::HashMap;

use crate::decode::unknown_word_hint;
use crate::raw::customer::RawCustomer;
use crate::report::{Report, Sources};
use crate::yaml::Anchor;

/// Where something was first claimed, for "already claimed by" hints.
fn first_claim(c: &RawCustomer, sources: &Sources) -> String {
    let id = c.id.as_ref().map_or("?", |i| i.value.as_str());
    let file = sources.files.get(c.origin.file).map(|f| f.name.display().to_string()).unwrap_or_default();
    format!("customer `{id}` ({file}, {})", c.origin.path)
}

pub(crate) fn customers(customers: &[RawCustomer], declared_tiers: &[String], sources: &Sources, report: &mut Report) {
    let mut ids: HashMap<&str, &RawCustomer> = HashMap::new();
    for c in customers {
        if let Some(id) = &c.id {
            if let Some(first) = ids.get(id.value.as_str()) {
                report.error(id.origin.clone(), Anchor::Value, format!("duplicate customer id `{}`", id.value)).hint(
                    format!("first used by {}; ids must be unique across the catalog", first_claim(first, sources)),
                );
            } else {
                ids.insert(id.value.as_str(), c);
            }
        }
        if let Some(tier) = &c.tier
            && !declared_tiers.contains(&tier.value)
        {
            let issue = report.error(tier.origin.clone(), Anchor::Value, format!("unknown tier `{}`", tier.value));
            match unknown_word_hint(&tier.value, declared_tiers.iter().map(String::as_str)) {
                Some(h) => issue.hint(h),
                None => issue.hint("define it under `tiers:`"),
            };
        }
    }
    hosts(customers, sources, report);
    zones(customers, sources, report);
}

fn hosts(customers: &[RawCustomer], sources: &Sources, report: &mut Report) {
    let mut exact: HashMap<String, usize> = HashMap::new();
    for (ci, c) in customers.iter().enumerate() {
        for h in &c.hosts {
            let name = h.value.to_string();
            match exact.get(&name) {
                Some(&first) if first == ci => {
                    report.warning(h.origin.clone(), Anchor::Value, format!("host `{name}` is listed twice"));
                }
                Some(&first) => {
                    report
                        .error(
                            h.origin.clone(),
                            Anchor::Value,
                            format!("host `{name}` is already claimed by another customer"),
                        )
                        .hint(format!(
                            "claimed first by {}; a request can belong to one customer only",
                            first_claim(&customers[first], sources)
                        ));
                }
                None => {
                    exact.insert(name, ci);
                }
            }
        }
    }
    // Wildcards covering someone else's host (or narrower wildcard).
    for (wi, w) in customers.iter().enumerate() {
        for wild in w.hosts.iter().filter(|h| h.value.is_wildcard()) {
            for (oi, other) in customers.iter().enumerate() {
                for h in other.hosts.iter().filter(|h| h.value != wild.value && wild.value.covers(&h.value)) {
                    if oi == wi {
                        report
                            .warning(
                                h.origin.clone(),
                                Anchor::Value,
                                format!("`{}` is already covered by `{}`", h.value, wild.value),
                            )
                            .hint("the narrower entry changes nothing; remove it");
                    } else {
                        report
                            .error(
                                wild.origin.clone(),
                                Anchor::Value,
                                format!("wildcard `{}` covers `{}`, a host of another customer", wild.value, h.value),
                            )
                            .hint(format!(
                                "`{}` belongs to {}; list this customer's hosts more narrowly",
                                h.value,
                                first_claim(other, sources)
                            ));
                    }
                }
            }
        }
    }
}

fn zones(customers: &[RawCustomer], sources: &Sources, report: &mut Report) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (ci, c) in customers.iter().enumerate() {
        for z in &c.zones {
            match seen.get(z.value.as_str()) {
                Some(&first) if first == ci => {
                    report.warning(z.origin.clone(), Anchor::Value, format!("zone `{}` is listed twice", z.value));
                }
                Some(&first) => {
                    report
                        .error(
                            z.origin.clone(),
                            Anchor::Value,
                            format!("zone `{}` is already claimed by another customer", z.value),
                        )
                        .hint(format!("claimed first by {}", first_claim(&customers[first], sources)));
                }
                None => {
                    seen.insert(z.value.as_str(), ci);
                }
            }
        }
        // A zone belongs to one customer, and so do the names in it.
        for other in customers.iter().enumerate().filter(|(oi, _)| *oi != ci).map(|(_, o)| o) {
            for h in &other.hosts {
                if let Some(z) = c.zones.iter().find(|z| in_zone(h.value.domain(), z.value.as_str())) {
                    report
                        .error(
                            h.origin.clone(),
                            Anchor::Value,
                            format!("host `{}` lies in zone `{}` of another customer", h.value, z.value),
                        )
                        .hint(format!("zone `{}` belongs to {}", z.value, first_claim(&customers[ci], sources)));
                }
            }
        }
        // A host outside every zone the customer names is likely a typo.
        if !c.zones.is_empty() {
            for h in &c.hosts {
                if !c.zones.iter().any(|z| in_zone(h.value.domain(), z.value.as_str())) {
                    report
                        .warning(
                            h.origin.clone(),
                            Anchor::Value,
                            format!("host `{}` is in none of this customer's zones", h.value),
                        )
                        .hint("add its zone under `zones`, or check the spelling");
                }
            }
        }
    }
}

/// Whether a DNS name is a zone's apex or lies below it.
pub(crate) fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.strip_suffix(zone).is_some_and(|rest| rest.ends_with('.'))
}
