//! Customers' constants, kept once per alerting profile.
//!
//! A customer's alerting behaviour is the shared rules plus its constants:
//! objectives, budgets, periods, traffic floors, burn thresholds with the
//! severity the catalog gives each tier, latency thresholds, the severity
//! of each alert kind, and runbook links. Customers whose constants are the
//! same but for who they are (id and name) share a *profile*, and the
//! values are written once per profile:
//!
//! - `rules/profiles/<profile>.yml`: the profile's values, as
//!   `profile_<constant>{profile=…}`, and its runbook links (one rule per
//!   link gives it to every member, the member's id filled in);
//! - `rules/customers/<shard>.yml`: one `edgewatch:customer:info` per
//!   customer, naming its profile: the only rule per customer, in shards of
//!   a few hundred customers (a stable hash of the id);
//! - `rules/edgewatch-constants.yml`: every customer-level constant, a join
//!   of the two, one rule per constant and SLO for the whole catalog.
//!
//! The shared rules read the customer-level constants by `customer` and
//! `slo`, as they always did. A tier or alert kind that is `off` has no
//! constant, so nothing to join.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use edgewatch_catalog::Customer;
use edgewatch_catalog::model::Slo;
use edgewatch_catalog::names::{AlertKind, SloKind, label};

use crate::burn::{Pair, Ratio, tier_name};
use crate::rules::{Group, Rule};
use crate::sli::{ERROR_BUDGET, PERIOD_DAYS};

pub(crate) use edgewatch_catalog::names::recorded::{
    ALERT_SEVERITY, BURN_THRESHOLD, CUSTOMER_INFO, CUSTOMER_MIN_REQUESTS, MIN_REQUESTS, OBJECTIVE, PROBE_SLO, RUNBOOK,
};

/// What the groups of customers' `edgewatch:customer:info` are named
/// after: `edgewatch-customers-<shard>`.
pub const CUSTOMERS_GROUP: &str = "edgewatch-customers";
/// Customers a shard of `edgewatch:customer:info` holds, about: small
/// enough that a structural test of one shard stays under promtool's
/// 10,000 samples a query, which a join over every customer would not.
const SHARD_SIZE: usize = 500;
/// The group that gives each customer its profile's constants.
pub const CONSTANTS_GROUP: &str = "edgewatch-constants";
/// How often the constants' groups run. Their values change only when the
/// rules are reloaded, but the join reads the other groups, so a customer's
/// constants (and its burn alerts) come within two intervals of a start or
/// a reload: every two minutes halved their cost at 10,000 customers and
/// made that four minutes, too long to be blind after a restart.
const CONSTANTS_INTERVAL: &str = "1m";
/// The label naming a customer's profile.
pub(crate) const PROFILE: &str = "profile";

/// Stands for the customer's id while a runbook template is filled for a
/// whole profile. Letters only, so percent-encoding leaves it as it is; a
/// customer id is lowercase, so it never looks like this.
const CUSTOMER_MARK: &str = "EdgewatchCustomerId";

/// Which SLOs the rules measure.
pub(crate) fn measured(c: &Customer) -> impl Iterator<Item = &Slo> {
    c.measured_slos()
}

/// The profile-level name of constant `name`.
pub(crate) fn profile_level(name: &str) -> String {
    format!("profile_{name}")
}

/// One value of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Constant {
    /// The customer-level name (`slo:objective:ratio`).
    pub(crate) name: &'static str,
    /// The labels that tell it from the profile's other constants of the
    /// same name: what the join selects on.
    pub(crate) key: Vec<(&'static str, String)>,
    /// Labels carried along (`severity`, `slo_kind`, `source`, `le`).
    pub(crate) extra: Vec<(&'static str, String)>,
    /// The value, as a `vector()` literal.
    pub(crate) value: String,
}

impl Constant {
    fn new(name: &'static str, value: impl Into<String>) -> Self {
        Self { name, key: Vec::new(), extra: Vec::new(), value: value.into() }
    }

    fn key(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.key.push((k, v.into()));
        self
    }

    fn extra(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.extra.push((k, v.into()));
        self
    }

    /// Its labels but the profile's, as the customer-level series has them.
    pub(crate) fn labels(&self) -> impl Iterator<Item = &(&'static str, String)> {
        self.key.iter().chain(&self.extra)
    }
}

/// A runbook link of a profile: `url` has `${1}` where the customer's id goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Runbook {
    kind: AlertKind,
    slo: Option<String>,
    url: String,
}

/// Customers whose constants are the same.
#[derive(Debug)]
pub(crate) struct Profile<'a> {
    /// The tier, then a hash of the values: the same values give the same
    /// id whatever else the catalog holds.
    pub(crate) id: String,
    pub(crate) constants: Vec<Constant>,
    runbooks: Vec<Runbook>,
    /// In catalog order; the first is the one the profile's tests use.
    pub(crate) members: Vec<&'a Customer>,
}

/// The catalog's profiles, and each customer's.
#[derive(Debug)]
pub(crate) struct Profiles<'a> {
    /// In order of their first member.
    pub(crate) list: Vec<Profile<'a>>,
    /// The index in `list` of each customer's profile, in catalog order.
    of_customer: Vec<usize>,
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The bytes a profile's id hashes: every value, each string after its
/// length, so that different values never give the same bytes. Written
/// out, not taken from `Debug`, whose form Rust does not promise to keep:
/// a profile's id must not change with the compiler that built edgewatch.
fn canonical(constants: &[Constant], runbooks: &[Runbook]) -> Vec<u8> {
    fn put(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    fn pairs(out: &mut Vec<u8>, pairs: &[(&str, String)]) {
        out.extend_from_slice(&(pairs.len() as u64).to_le_bytes());
        for (k, v) in pairs {
            put(out, k);
            put(out, v);
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(&(constants.len() as u64).to_le_bytes());
    for c in constants {
        put(&mut out, c.name);
        pairs(&mut out, &c.key);
        pairs(&mut out, &c.extra);
        put(&mut out, &c.value);
    }
    out.extend_from_slice(&(runbooks.len() as u64).to_le_bytes());
    for r in runbooks {
        put(&mut out, r.kind.as_str());
        match &r.slo {
            Some(slo) => {
                out.push(1);
                put(&mut out, slo);
            }
            None => out.push(0),
        }
        put(&mut out, &r.url);
    }
    out
}

/// The values of `c` that make its profile.
fn values(c: &Customer, pairs: &[Pair]) -> (Vec<Constant>, Vec<Runbook>) {
    let mut out = vec![Constant::new(CUSTOMER_MIN_REQUESTS, c.alerting.min_requests.to_string())];
    for slo in measured(c) {
        let name = slo.name.as_str();
        let budget = Ratio::from_decimal(&slo.objective.complement_ratio());
        let days = slo.period.as_millis() / 86_400_000;
        out.push(
            Constant::new(OBJECTIVE, slo.objective.ratio().to_string())
                .key(label::SLO, name)
                .extra("slo_kind", slo.kind().as_str()),
        );
        out.push(Constant::new(ERROR_BUDGET, budget.decimal()).key(label::SLO, name));
        out.push(Constant::new(PERIOD_DAYS, days.to_string()).key(label::SLO, name));
        out.push(Constant::new(MIN_REQUESTS, c.slo_floor(slo).to_string()).key(label::SLO, name));
        if slo.kind() == SloKind::Probe {
            out.push(Constant::new(PROBE_SLO, "1").key(label::SLO, name));
        }
        for pair in pairs {
            if let Some(severity) = c.alerting.severity_of(pair.kind) {
                out.push(
                    Constant::new(BURN_THRESHOLD, pair.factor.mul(budget).decimal())
                        .key(label::SLO, name)
                        .key("tier", tier_name(pair.kind))
                        .key("long", pair.long.clone())
                        .extra(label::SEVERITY, severity.as_str()),
                );
            }
        }
    }
    let mut runbooks = Vec::new();
    // `$` is the replacement's own sign in label_replace; the mark becomes
    // the customer label's value.
    let pattern = |url: String| url.replace('$', "$$").replace(CUSTOMER_MARK, "${1}");
    for kind in AlertKind::ALL {
        if let Some(severity) = c.alerting.severity_of(*kind) {
            out.push(
                Constant::new(ALERT_SEVERITY, "1")
                    .key(label::ALERT_KIND, kind.as_str())
                    .extra(label::SEVERITY, severity.as_str()),
            );
        }
        // A template that names the SLO gives each SLO its own link; the
        // alerts look theirs up by `slo` (`runbook`, in alerts.rs).
        if c.runbook_names_slo(*kind) {
            for slo in measured(c) {
                if let Some(url) = c.runbook_url_as(*kind, Some(slo.name.as_str()), CUSTOMER_MARK) {
                    runbooks.push(Runbook { kind: *kind, slo: Some(slo.name.to_string()), url: pattern(url) });
                }
            }
        } else if let Some(url) = c.runbook_url_as(*kind, None, CUSTOMER_MARK) {
            runbooks.push(Runbook { kind: *kind, slo: None, url: pattern(url) });
        }
    }
    (out, runbooks)
}

/// Groups the customers by profile. Fails only if two different profiles'
/// ids collide (a 48-bit hash: not expected in any catalog).
pub(crate) fn profiles<'a>(customers: &'a [Customer], pairs: &[Pair]) -> Result<Profiles<'a>, String> {
    let mut list: Vec<Profile<'a>> = Vec::new();
    let mut by_values: HashMap<(String, Vec<Constant>, Vec<Runbook>), usize> = HashMap::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut of_customer = Vec::with_capacity(customers.len());
    for c in customers {
        let tier = c.tier.as_ref().map_or("untiered", |t| t.as_str()).to_owned();
        let (constants, runbooks) = values(c, pairs);
        let key = (tier, constants, runbooks);
        let index = if let Some(&i) = by_values.get(&key) {
            list[i].members.push(c);
            i
        } else {
            let hash = fnv1a(&canonical(&key.1, &key.2)) >> 16;
            let id = format!("{}-{hash:012x}", key.0);
            if let Some(&other) = ids.get(&id) {
                return Err(format!(
                    "customers `{}` and `{}` differ but their profiles hash alike ({id})",
                    list[other].members[0].id, c.id
                ));
            }
            ids.insert(id.clone(), list.len());
            list.push(Profile { id, constants: key.1.clone(), runbooks: key.2.clone(), members: vec![c] });
            by_values.insert(key, list.len() - 1);
            list.len() - 1
        };
        of_customer.push(index);
    }
    Ok(Profiles { list, of_customer })
}

/// Some customers, each with its profile.
pub(crate) struct Shard<'p, 'a> {
    /// Two digits or more: `07`.
    pub(crate) name: String,
    /// In catalog order.
    pub(crate) members: Vec<(&'a Customer, &'p Profile<'a>)>,
}

impl<'a> Profiles<'a> {
    /// The customers in shards: a power of two of them, so that each holds
    /// about [`SHARD_SIZE`]; a customer's shard is a hash of its id, so it
    /// stays in it while the count of shards does (it doubles as the
    /// catalog does).
    pub(crate) fn shards<'p>(&'p self, customers: &'a [Customer]) -> Vec<Shard<'p, 'a>> {
        let count = customers.len().div_ceil(SHARD_SIZE).max(1).next_power_of_two();
        let width = (count - 1).to_string().len().max(2);
        let mut shards: Vec<Shard<'p, 'a>> =
            (0..count).map(|i| Shard { name: format!("{i:0width$}"), members: Vec::new() }).collect();
        for (c, &i) in customers.iter().zip(&self.of_customer) {
            #[allow(clippy::cast_possible_truncation)] // the remainder of a division by a usize
            let shard = (fnv1a(c.id.as_str().as_bytes()) % count as u64) as usize;
            shards[shard].members.push((c, &self.list[i]));
        }
        shards.retain(|s| !s.members.is_empty());
        shards
    }
}

impl Profile<'_> {
    /// The labels of each of its runbook links but the customer and the
    /// link itself, in a series selector's syntax.
    pub(crate) fn runbook_labels(&self) -> impl Iterator<Item = String> + '_ {
        self.runbooks.iter().map(|r| {
            let slo = r.slo.as_ref().map(|s| format!(",{}={}", label::SLO, quoted(s))).unwrap_or_default();
            format!("{{{}={},{PROFILE}={}{slo}}}", label::ALERT_KIND, quoted(r.kind.as_str()), quoted(&self.id))
        })
    }
}

/// The labels of `c`'s `edgewatch:customer:info`.
pub(crate) fn info_labels(c: &Customer, profile: &str) -> BTreeMap<&'static str, String> {
    [
        (label::CUSTOMER, c.id.to_string()),
        ("name", c.name.clone()),
        (label::TIER, c.tier.as_ref().map_or("none", |t| t.as_str()).to_owned()),
        (PROFILE, profile.to_owned()),
    ]
    .into()
}

/// The name of a profile's group.
pub(crate) fn profile_group_name(profile: &str) -> String {
    format!("edgewatch-profile-{profile}")
}

/// `s` as a double-quoted string of the query language.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(ch),
        }
    }
    out.push('"');
    out
}

/// A profile's values, and its runbook links for every member.
pub(crate) fn profile_group(p: &Profile<'_>) -> Group {
    let mut rules: Vec<Rule> = p
        .constants
        .iter()
        .map(|k| {
            k.labels()
                .fold(Rule::record(profile_level(k.name), format!("vector({})", k.value)), |r, (l, v)| r.label(l, v))
                .label(PROFILE, p.id.as_str())
        })
        .collect();
    let c = label::CUSTOMER;
    for r in &p.runbooks {
        let members = format!("group by ({c}, {PROFILE}) ({CUSTOMER_INFO}{{{PROFILE}={}}})", quoted(&p.id));
        let expr = format!("label_replace(\n  {members},\n  \"runbook_url\", {}, \"{c}\", \"(.+)\"\n)", quoted(&r.url));
        let rule = Rule::record(RUNBOOK, expr).label(label::ALERT_KIND, r.kind.as_str());
        rules.push(match &r.slo {
            Some(slo) => rule.label(label::SLO, slo.as_str()),
            None => rule,
        });
    }
    Group {
        name: profile_group_name(&p.id),
        interval: Some(CONSTANTS_INTERVAL.to_owned()),
        partial_response_strategy: None,
        rules,
    }
}

/// The name of a shard's group.
pub(crate) fn shard_group_name(shard: &str) -> String {
    format!("{CUSTOMERS_GROUP}-{shard}")
}

/// One `edgewatch:customer:info` per customer of `shard`, in catalog order.
pub(crate) fn customers_group(shard: &Shard<'_, '_>) -> Group {
    let rules = shard
        .members
        .iter()
        .map(|(c, p)| {
            info_labels(c, &p.id).into_iter().fold(Rule::record(CUSTOMER_INFO, "vector(1)"), |r, (k, v)| r.label(k, v))
        })
        .collect();
    Group {
        name: shard_group_name(&shard.name),
        interval: Some(CONSTANTS_INTERVAL.to_owned()),
        partial_response_strategy: None,
        rules,
    }
}

/// Each constant for every customer: its profile's value, joined by
/// `profile`. A profile has one constant of a name per key, so the join is
/// one-to-many; one rule per name and key serves every profile. The result
/// has no `profile` label: the series are the ones the shared rules,
/// dashboards and reports always read.
pub(crate) fn constants_group(profiles: &Profiles<'_>) -> Group {
    // A constant's name and key, and the labels each join carries.
    type Join = (&'static str, Vec<(&'static str, String)>);
    let mut joins: BTreeMap<Join, BTreeSet<&'static str>> = BTreeMap::new();
    for k in profiles.list.iter().flat_map(|p| &p.constants) {
        joins.entry((k.name, k.key.clone())).or_default().extend(k.labels().map(|(l, _)| *l));
    }
    let c = label::CUSTOMER;
    let rules = joins
        .into_iter()
        .map(|((name, key), carried)| {
            let selector: Vec<String> = key.iter().map(|(l, v)| format!("{l}={}", quoted(v))).collect();
            let carried: Vec<&str> = carried.into_iter().collect();
            // The key again as the rule's labels: the same values the join
            // carries, and what tells the rules apart (promtool's lint).
            let rule = key.iter().fold(Rule::record(name, String::new()), |r, (l, v)| r.label(l, v.as_str()));
            // One aggregation keeps the customer and what the join carried
            // (dropping the info's `name`, `tier` and `profile`): a `group
            // by` of the members before the join would be a second pass over
            // every customer, for each of the catalog's constants.
            let by: Vec<&str> = std::iter::once(c).chain(carried.iter().copied()).collect();
            Rule {
                expr: format!(
                    "max by ({}) (\n  {CUSTOMER_INFO}\n  * on ({PROFILE}) group_left ({})\n  {}{}\n)",
                    by.join(", "),
                    carried.join(", "),
                    profile_level(name),
                    if selector.is_empty() { String::new() } else { format!("{{{}}}", selector.join(",")) }
                ),
                ..rule
            }
        })
        .collect();
    Group {
        name: CONSTANTS_GROUP.to_owned(),
        interval: Some(CONSTANTS_INTERVAL.to_owned()),
        partial_response_strategy: None,
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values that run together the same way (a key's label and value, a
    /// constant's name and value, a runbook with or without an SLO) still
    /// give different bytes to hash.
    #[test]
    fn the_bytes_a_profile_id_hashes_tell_every_value_apart() {
        let c = |name, key: (&'static str, &str), value: &str| Constant::new(name, value).key(key.0, key.1);
        let runbook = |slo: Option<&str>, url: &str| Runbook {
            kind: AlertKind::ProbeDown,
            slo: slo.map(str::to_owned),
            url: url.to_owned(),
        };
        let distinct = [
            canonical(&[c(OBJECTIVE, ("slo", "ab"), "0.9")], &[]),
            canonical(&[c(OBJECTIVE, ("slo", "a"), "b0.9")], &[]),
            canonical(&[c(OBJECTIVE, ("slo", "ab"), "0.9").extra("slo_kind", "latency")], &[]),
            canonical(&[c(OBJECTIVE, ("slo", "ab"), "0.9")], &[runbook(None, "https://r/x")]),
            canonical(&[c(OBJECTIVE, ("slo", "ab"), "0.9")], &[runbook(Some(""), "https://r/x")]),
            canonical(&[c(ERROR_BUDGET, ("slo", "ab"), "0.9")], &[]),
            canonical(&[], &[]),
        ];
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            canonical(&[c(OBJECTIVE, ("slo", "ab"), "0.9")], &[]),
            distinct[0],
            "the same values, the same bytes"
        );
    }
}
