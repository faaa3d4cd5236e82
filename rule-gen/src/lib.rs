//! edgewatch rule-gen: Prometheus rules for every customer of the catalog.
//!
//! Output (target `prometheus`):
//!
//! - `rules/edgewatch-sli.yml`: SLI recording rules over every window and
//!   burn rates, shared by all customers (`by (customer, slo)`), and, in one
//!   group with the shortest windows it reads, the fast burn-rate alert;
//! - `rules/edgewatch-alerts.yml`: the other burn-rate tiers, no-data, and
//!   latency SLOs gone blind, shared;
//! - `rules/profiles/<profile>.yml`: the constants (objectives, budgets,
//!   thresholds with severities, traffic floors, runbook links) of each
//!   alerting profile, which customers with the same values share;
//!   `rules/customers/<shard>.yml`, each customer's profile; and
//!   `rules/edgewatch-constants.yml`, which gives each customer its
//!   profile's values;
//! - `alertmanager/routes.yml` and `alertmanager/alertmanager.example.yml`:
//!   a route per severity to the edgewatch receiver (with its bearer
//!   token's file), and inhibit rules;
//! - `prometheus/scrape-edgewatch.yml`: the scrape job for the exporters,
//!   and `prometheus/prometheus.example.yml`, a whole configuration that
//!   loads the rules, scrapes the exporters and alerts to Alertmanager;
//! - `rules/edgewatch-pipeline.yml`: alerts on edgewatch's own pipeline
//!   (inputs, batches, series, the receiver's outbox and destinations),
//!   routed to the NOC, and `tests/edgewatch-pipeline.yml`, their promtool
//!   tests;
//! - `tests/<profile>.yml` and `tests/<profile>-traffic.yml`: promtool unit
//!   tests of each profile's alerts, on its first customer, and
//!   `tests/edgewatch-customers-<shard>.yml`, structural tests of every
//!   customer's constants;
//! - `README.md`: which file goes where.
//!
//! The number of rules that query metrics does not grow with the catalog;
//! the constants grow with profiles, plus one `vector(1)` per customer.
//! Rendering is pure and deterministic: the same catalog gives the same
//! bytes.

mod alertmanager;
mod alerts;
mod burn;
mod constants;
mod pipeline;
mod probes;
mod readme;
mod rules;
mod sli;
mod traffic;
mod unittests;

use std::collections::BTreeSet;
use std::path::PathBuf;

use edgewatch_catalog::Catalog;
use edgewatch_catalog::names::{AlertKind, SloKind};

pub use edgewatch_catalog::OutputFile;

pub use crate::alertmanager::{DEFAULT_EXPORTER_JOB, Delivery, FallbackPagerDuty};
pub use crate::constants::{CONSTANTS_GROUP, CUSTOMERS_GROUP};
pub use crate::pipeline::{GROUP as PIPELINE_GROUP, RECEIVER_JOB};
use crate::rules::RuleFile;

/// The format rules are deployed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Plain rule files for Prometheus (`rule_files:`), Thanos Ruler or promtool.
    Prometheus,
    /// `PrometheusRule` objects (`monitoring.coreos.com/v1`) for prometheus-operator.
    PrometheusOperator {
        /// `metadata.namespace`, if any.
        namespace: Option<String>,
        /// `metadata.labels`, matched by the Prometheus' `ruleSelector`.
        labels: std::collections::BTreeMap<String, String>,
    },
    /// Ruler namespace files for Mimir or Cortex (`mimirtool rules load`).
    Mimir {
        /// The ruler namespace.
        namespace: String,
        /// Thanos-style `partial_response_strategy` on every group.
        partial_response_strategy: Option<String>,
    },
}

/// How to render.
#[derive(Debug, Clone)]
pub struct Options {
    /// The deployment format.
    pub target: Target,
    /// Names the catalog in file headers.
    pub catalog_name: String,
    /// Grafana's base URL, for dashboard links in alerts.
    pub grafana_url: String,
    /// How often Prometheus scrapes the exporters: the alert groups run at
    /// this interval, and the fast tier's windows are multiples of it.
    pub scrape_interval: edgewatch_catalog::Duration,
    /// How long an input that had batches the day before may accept none
    /// before `EdgewatchIngestStopped` ([`DEFAULT_INGEST_SILENCE`]).
    pub ingest_silence: edgewatch_catalog::Duration,
    /// The receiver and exporters, for the Alertmanager and scrape files.
    pub delivery: Delivery,
}

/// `Options::ingest_silence` unless set: 30 minutes.
pub const DEFAULT_INGEST_SILENCE: edgewatch_catalog::Duration = edgewatch_catalog::Duration::from_millis(30 * 60_000);

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot serialize {path}: {message}")]
pub struct RenderError {
    path: String,
    message: String,
}

fn yaml<T: serde::Serialize>(path: &str, header: &str, file: &T) -> Result<OutputFile, RenderError> {
    let body = edgewatch_catalog::yaml::to_string(file)
        .map_err(|e| RenderError { path: path.to_owned(), message: e.to_string() })?;
    Ok(OutputFile { path: PathBuf::from(path), contents: format!("{header}{body}") })
}

/// One rule set as the target deploys it.
fn wrap(name: &str, groups: Vec<rules::Group>, target: &Target, header: &str) -> Result<OutputFile, RenderError> {
    match target {
        Target::Prometheus => yaml(&format!("rules/{name}.yml"), header, &RuleFile { groups }),
        Target::PrometheusOperator { namespace, labels } => {
            let object = rules::PrometheusRule {
                api_version: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: rules::Metadata {
                    name: name.replace('/', "-"),
                    namespace: namespace.clone(),
                    labels: labels.clone(),
                },
                spec: RuleFile { groups },
            };
            yaml(&format!("prometheus-operator/{}.yaml", name.replace('/', "-")), header, &object)
        }
        Target::Mimir { namespace, partial_response_strategy } => {
            let groups = groups
                .into_iter()
                .map(|g| rules::Group { partial_response_strategy: partial_response_strategy.clone(), ..g })
                .collect();
            let file = rules::NamespaceFile { namespace: namespace.clone(), groups };
            yaml(&format!("mimir/{name}.yml"), header, &file)
        }
    }
}

/// The shared rule groups, each before the groups that read it: the order
/// Prometheus' intervals make effective, which promtool tests are given.
pub const GROUP_ORDER: [&str; 7] = [
    "edgewatch-fast",
    "edgewatch-sli",
    "edgewatch-sli-long",
    "edgewatch-traffic",
    "edgewatch-slo-alerts",
    "edgewatch-traffic-alerts",
    "edgewatch-probe-alerts",
];

/// The constants' groups of the rendered rule files at `paths`, in the
/// order Prometheus' intervals make effective, for promtool's
/// `group_eval_order`: the customers' shards, the profiles' values, then
/// their join. [`GROUP_ORDER`] follows them.
pub fn constants_group_order<'a>(paths: impl IntoIterator<Item = &'a std::path::Path>) -> Vec<String> {
    let (mut shards, mut profiles) = (Vec::new(), Vec::new());
    for path in paths {
        let (Some(folder), Some(stem)) = (path.parent(), path.file_stem()) else { continue };
        let stem = stem.to_string_lossy();
        if folder.ends_with("customers") {
            shards.push(constants::shard_group_name(&stem));
        } else if folder.ends_with("profiles") {
            profiles.push(constants::profile_group_name(&stem));
        }
    }
    shards.into_iter().chain(profiles).chain([CONSTANTS_GROUP.to_owned()]).collect()
}

/// The shared rule files, which the generated tests load.
const SHARED: [&str; 4] = ["edgewatch-sli", "edgewatch-alerts", "edgewatch-traffic", "edgewatch-probes"];

/// A profile's constants, and (target `prometheus`) its promtool tests
/// beside the plain rule files they test.
fn profile_files(
    p: &constants::Profile<'_>,
    opts: &Options,
    links: &alerts::Links,
    header: &str,
) -> Result<Vec<OutputFile>, RenderError> {
    let id = p.id.as_str();
    let mut files = vec![wrap(&format!("profiles/{id}"), vec![constants::profile_group(p)], &opts.target, header)?];
    if opts.target == Target::Prometheus {
        let own = [format!("../rules/profiles/{id}.yml"), format!("../rules/{CONSTANTS_GROUP}.yml")];
        let rule_files = SHARED.iter().map(|f| format!("../rules/{f}.yml")).chain(own.clone()).collect();
        let windows = burn::Windows::for_scrape(opts.scrape_interval);
        if let Some(test) = unittests::file(p, links, windows, opts, rule_files) {
            files.push(yaml(&format!("tests/{id}.yml"), header, &test)?);
        }
        let traffic_rules = std::iter::once("../rules/edgewatch-traffic.yml".to_owned()).chain(own).collect();
        let test = unittests::traffic_file(p, links, traffic_rules);
        files.push(yaml(&format!("tests/{id}-traffic.yml"), header, &test)?);
    }
    Ok(files)
}

/// Each customer's profile, the join that gives it the profile's values,
/// and (target `prometheus`) the structural test of both.
fn membership_files(
    catalog: &Catalog,
    profiles: &constants::Profiles<'_>,
    opts: &Options,
    header: &str,
) -> Result<Vec<OutputFile>, RenderError> {
    let mut files = vec![wrap(CONSTANTS_GROUP, vec![constants::constants_group(profiles)], &opts.target, header)?];
    for shard in profiles.shards(&catalog.customers) {
        let name = &shard.name;
        files.push(wrap(&format!("customers/{name}"), vec![constants::customers_group(&shard)], &opts.target, header)?);
        if opts.target == Target::Prometheus {
            let mut own: Vec<&str> = Vec::new();
            for (_, p) in &shard.members {
                if !own.contains(&p.id.as_str()) {
                    own.push(&p.id);
                }
            }
            let rule_files = [format!("../rules/customers/{name}.yml"), format!("../rules/{CONSTANTS_GROUP}.yml")]
                .into_iter()
                .chain(own.iter().map(|p| format!("../rules/profiles/{p}.yml")))
                .collect();
            let test = unittests::structure_file(&shard, rule_files);
            files.push(yaml(&format!("tests/{CUSTOMERS_GROUP}-{name}.yml"), header, &test)?);
        }
    }
    Ok(files)
}

/// Every profile's files, rendered on every core.
fn every_profile_files(
    profiles: &constants::Profiles<'_>,
    opts: &Options,
    links: &alerts::Links,
    header: &str,
) -> Result<Vec<OutputFile>, RenderError> {
    // Profiles' files are independent: rendered on every core (the order
    // is restored by the sort below, so the output does not change).
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(8);
    let chunk = profiles.list.len().div_ceil(threads).max(1);
    let rendered: Vec<Result<Vec<OutputFile>, RenderError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = profiles
            .list
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for p in part {
                        out.extend(profile_files(p, opts, links, header)?);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(RenderError {
                        path: "rules/profiles".to_owned(),
                        message: "a render thread panicked".to_owned(),
                    })
                })
            })
            .collect()
    });
    let mut files = Vec::new();
    for part in rendered {
        files.extend(part?);
    }
    Ok(files)
}

/// Every rule file for `catalog`, sorted by path.
pub fn render(catalog: &Catalog, opts: &Options) -> Result<Vec<OutputFile>, RenderError> {
    let header = format!(
        "# Generated by edgewatch rule-gen from {}. Do not edit: change the catalog and run `edgewatch render`.\n",
        opts.catalog_name
    );
    let latency = catalog.customers.iter().flat_map(|c| &c.slos).any(|s| s.kind() == SloKind::Latency);
    let probes = catalog.customers.iter().flat_map(constants::measured).any(|s| s.kind() == SloKind::Probe);
    let periods: BTreeSet<u64> =
        catalog.customers.iter().flat_map(constants::measured).map(|s| s.period.as_millis() / 86_400_000).collect();
    let slis = sli::Slis { latency, probes, periods: periods.into_iter().collect() };
    let links = alerts::Links { grafana: opts.grafana_url.clone(), customer_dashboards: catalog.customer_dashboards };
    let windows = burn::Windows::for_scrape(opts.scrape_interval);
    let pairs = burn::pairs(windows);
    let every_scrape = opts.scrape_interval.to_string();

    // The fast tier evaluates with the acute recordings it reads, in one
    // group: Prometheus runs a group's rules in order, so the alert sees
    // this evaluation's values, not the last one's.
    let mut fast = sli::acute(&slis, windows);
    let outage = windows.outage.to_string();
    fast.push(alerts::fast_burn(&pairs, &outage, &links));
    let mut sli_groups = vec![rules::Group {
        name: "edgewatch-fast".to_owned(),
        interval: Some(every_scrape.clone()),
        partial_response_strategy: None,
        rules: fast,
    }];
    let mut minute = sli::groups(&slis, windows);
    // The fast tier's hour pair is recorded each minute with the hour.
    if let Some(sli) = minute.iter_mut().find(|g| g.name == sli::MINUTE_GROUP) {
        sli.rules.extend(
            pairs
                .iter()
                .filter(|p| p.kind == AlertKind::BurnRateFast && !alerts::reads_acute(p, &outage))
                .map(alerts::hour_burn),
        );
    }
    sli_groups.extend(minute);

    // Shared rule sets, then each customer's files; the target decides how
    // each set is wrapped.
    let sets: Vec<(String, Vec<rules::Group>)> = vec![
        (SHARED[0].to_owned(), sli_groups),
        (SHARED[1].to_owned(), alerts::groups(&links, &pairs, "1m", &opts.delivery.exporter_job)),
        (SHARED[2].to_owned(), traffic::groups(&links, &windows.confirm.to_string())),
        (SHARED[3].to_owned(), probes::groups(&links, &every_scrape)),
    ];
    let mut files = Vec::new();
    for (name, groups) in sets {
        files.push(wrap(&name, groups, &opts.target, &header)?);
    }
    let job = &opts.delivery.exporter_job;
    let settings = pipeline::Settings { scrape: opts.scrape_interval, silence: opts.ingest_silence };
    files.push(wrap(pipeline::GROUP, vec![pipeline::group(catalog, job, settings)], &opts.target, &header)?);
    if opts.target == Target::Prometheus {
        let rules = format!("../rules/{}.yml", pipeline::GROUP);
        let tests = pipeline::tests(catalog, job, settings, rules);
        files.push(yaml(&format!("tests/{}.yml", pipeline::GROUP), &header, &tests)?);
    }
    let profiles = constants::profiles(&catalog.customers, &pairs)
        .map_err(|message| RenderError { path: "rules/profiles".to_owned(), message })?;
    files.extend(membership_files(catalog, &profiles, opts, &header)?);
    files.extend(every_profile_files(&profiles, opts, &links, &header)?);
    let am = alertmanager::config(&opts.delivery);
    files.push(yaml("alertmanager/alertmanager.example.yml", &header, &am)?);
    let fragment = alertmanager::Fragment {
        routes: am.route.routes,
        receivers: alertmanager::own_receivers(&opts.delivery),
        inhibit_rules: am.inhibit_rules,
    };
    files.push(yaml("alertmanager/routes.yml", &header, &fragment)?);
    let interval = opts.scrape_interval.to_string();
    files.push(yaml("prometheus/scrape-edgewatch.yml", &header, &alertmanager::scrape(&opts.delivery, &interval))?);
    if opts.target == Target::Prometheus {
        let prometheus = alertmanager::prometheus(&opts.delivery, &interval);
        files.push(yaml("prometheus/prometheus.example.yml", &header, &prometheus)?);
    }
    files.push(OutputFile { path: PathBuf::from("README.md"), contents: readme::text(opts) });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}
