//! The synthetic prober: every probe of the catalog runs on its own task,
//! every `interval`, with first runs spread over the interval, and its
//! results become the `edgewatch_probe_*` series of `/metrics`.
//!
//! [`target`] builds each request once; [`run`] makes one run (resolve,
//! connect, TLS, request, checks, timings); [`check`] judges the response;
//! [`tls`] holds the trust and reads certificates; [`metrics`] keeps the
//! results and writes them.

mod check;
mod metrics;
mod run;
mod target;
mod tls;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use edgewatch_catalog::Catalog;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

pub(crate) use self::metrics::Metrics;
use self::run::Outcome;
use self::target::Target;
use self::tls::Trust;
use crate::BuildError;
use crate::config::ProbesConfig;

/// The catalog's probes, ready to run, and their latest results.
#[derive(Debug)]
pub(crate) struct Prober {
    targets: Vec<Arc<Target>>,
    /// `None` when nothing runs.
    trust: Option<Trust>,
    metrics: Mutex<Metrics>,
}

impl Prober {
    /// Builds every probe of the catalog, reading header secrets through
    /// `env`; none when `probes.enabled` is false.
    pub(crate) fn build(
        config: &ProbesConfig,
        catalog: &Catalog,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, BuildError> {
        let count: usize = catalog.customers.iter().map(|c| c.probes.len()).sum();
        if !config.enabled {
            if count > 0 {
                tracing::info!(probes = count, "Probes are disabled by the exporter configuration.");
            }
            return Ok(Self::none());
        }
        let trust = Trust::new(config.ca_file.as_deref())
            .map_err(|message| BuildError::ProbeCaFile { path: config.ca_file.clone().unwrap_or_default(), message })?;
        let mut probes: Vec<(&str, &edgewatch_catalog::model::Probe)> =
            catalog.customers.iter().flat_map(|c| c.probes.iter().map(move |p| (c.id.as_str(), p))).collect();
        // Exposition order: by customer, then probe.
        probes.sort_unstable_by(|a, b| (a.0, a.1.name.as_str()).cmp(&(b.0, b.1.name.as_str())));
        let mut targets = Vec::with_capacity(probes.len());
        for (index, (customer, probe)) in probes.iter().enumerate() {
            targets.push(Arc::new(Target::build(customer, probe, index, env)?));
        }
        let metrics = Metrics::new(targets.iter().map(|t| (t.customer.clone(), t.probe.clone())));
        Ok(Self { targets, trust: Some(trust), metrics: Mutex::new(metrics) })
    }

    /// A prober with nothing to run.
    pub(crate) fn none() -> Self {
        Self { targets: Vec::new(), trust: None, metrics: Mutex::new(Metrics::default()) }
    }

    /// The results; a panic elsewhere while holding them leaves values still
    /// worth serving, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Metrics> {
        self.metrics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts every probe on its own task.
    pub(crate) fn spawn(self: &Arc<Self>) -> Tasks {
        if !self.targets.is_empty() {
            let customers = {
                let mut ids: Vec<&str> = self.targets.iter().map(|t| t.customer.as_str()).collect();
                ids.dedup();
                ids.len()
            };
            tracing::info!(probes = self.targets.len(), customers, "Prober started.");
        }
        let tasks = self.targets.iter().map(|t| tokio::spawn(schedule(Arc::clone(self), Arc::clone(t)))).collect();
        Tasks(tasks)
    }
}

/// The probes' tasks; [`Tasks::stop`] ends them.
#[derive(Debug)]
pub(crate) struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    pub(crate) fn stop(self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Runs `target` every interval, forever. A run ends before the next starts
/// (the catalog keeps the timeout below the interval, and a late run delays
/// the next rather than overlapping it).
async fn schedule(prober: Arc<Prober>, target: Arc<Target>) {
    let Some(trust) = prober.trust.clone() else { return };
    let offset = first_run_offset(&target.customer, &target.probe, target.interval);
    let mut ticks = tokio::time::interval_at(Instant::now() + offset, target.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let outcomes = run::run(&target, &trust).await;
        let before = prober.lock().record(target.index, &outcomes, std::time::Instant::now());
        log(&target, &outcomes, &before);
    }
}

/// Where in its interval a probe first runs: a hash of its identity, so
/// that a thousand probes do not fire at once and a restart keeps each
/// probe's phase.
pub(crate) fn first_run_offset(customer: &str, probe: &str, interval: Duration) -> Duration {
    // FNV-1a: tiny, and stable across Rust and crate versions.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in customer.bytes().chain([0]).chain(probe.bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let span = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(hash % span)
}

/// A change (first result, failure after success, recovery) is logged at
/// info; a repeat at debug. Reasons never hold request header values.
fn log(target: &Target, outcomes: &[Outcome], before: &[Option<bool>]) {
    for (o, before) in outcomes.iter().zip(before.iter().copied()) {
        let (customer, probe, ip, status) = (target.customer.as_str(), target.probe.as_str(), o.ip, o.status);
        match (&o.failure, before) {
            (Some(reason), Some(false)) => {
                tracing::debug!(customer, probe, %ip, status, %reason, "Probe failed again.");
            }
            (Some(reason), _) => tracing::info!(customer, probe, %ip, status, %reason, "Probe failed."),
            (None, Some(false)) => tracing::info!(customer, probe, %ip, status, "Probe recovered."),
            (None, _) => tracing::debug!(customer, probe, %ip, status, "Probe succeeded."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_runs_spread_over_the_interval() {
        let interval = Duration::from_secs(60);
        let mut per_second = [0u32; 60];
        for i in 0..1000 {
            let offset = first_run_offset(&format!("customer{}", i % 37), &format!("probe-{i}"), interval);
            assert!(offset < interval);
            per_second[usize::try_from(offset.as_secs()).unwrap()] += 1;
        }
        // 1,000 probes over 60 seconds: about 17 a second, never a pile-up.
        let (min, max) = (per_second.iter().min().unwrap(), per_second.iter().max().unwrap());
        assert!(*min >= 3 && *max <= 40, "uneven spread: {per_second:?}");
        assert_eq!(
            first_run_offset("acme", "home", interval),
            first_run_offset("acme", "home", interval),
            "deterministic"
        );
        assert_ne!(first_run_offset("acme", "home", interval), first_run_offset("acme", "homf", interval));
        assert_ne!(first_run_offset("ac", "mehome", interval), first_run_offset("acme", "home", interval));
        assert_eq!(first_run_offset("acme", "home", Duration::ZERO), Duration::ZERO);
    }
}
