//! Scheduled reports, run by `edgewatch receiver` beside the webhook when
//! `receiver.yml` has a `reports:` section: at each schedule's time, the
//! reports of the period just ended, from Prometheus and the receiver's
//! own store, into a folder; old report files are deleted after the
//! retention. A report that exists is not written again, so a receiver
//! that was down at the time writes the latest period's reports when it
//! starts (older missed periods: `edgewatch report` by hand).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;
use edgewatch_catalog::Catalog;
use edgewatch_reports::schedule::{Config, Schedule};
use edgewatch_reports::{Format, Period, Prometheus, Selection};
use jiff::Timestamp;

use edgewatch_webhook_receiver::ReportIncidents as StoreIncidents;

/// Where written reports go next. Today the folder is the only
/// destination, and this says so in the log; e-mail delivery plugs in here.
pub(crate) trait Deliver: Send + Sync {
    /// The files of `period` just written for schedule `job`.
    fn written(&self, job: usize, period: &Period, files: &[PathBuf]);
}

/// The folder only: a log line per run.
struct FolderOnly;

impl Deliver for FolderOnly {
    fn written(&self, job: usize, period: &Period, files: &[PathBuf]) {
        tracing::info!(schedule = job, period = %period.label, files = files.len(), "Scheduled reports written.");
    }
}

struct Job {
    schedule: Schedule,
    customers: Selection,
    noc: bool,
    formats: Vec<Format>,
}

/// The schedules of one receiver.
pub(crate) struct Scheduler {
    catalog: Catalog,
    prom: Prometheus,
    store_dir: PathBuf,
    out: PathBuf,
    retention: std::time::Duration,
    jobs: Vec<Job>,
    deliver: Box<dyn Deliver>,
}

/// How long a failed run waits before it is tried again.
const RETRY: std::time::Duration = std::time::Duration::from_secs(300);

impl Scheduler {
    /// The schedules of `config` (validated), over the store in `data_dir`.
    pub(crate) fn new(config: &Config, data_dir: &Path, catalog: Catalog) -> anyhow::Result<Self> {
        let schedules = config.schedules().context("reports.schedules")?;
        let jobs = config
            .schedules
            .iter()
            .zip(schedules)
            .map(|(c, schedule)| {
                let mut formats = c.formats.clone();
                formats.sort_unstable();
                formats.dedup();
                Job {
                    schedule,
                    customers: c.customers.clone().map_or(Selection::All, Selection::Ids),
                    noc: c.noc,
                    formats,
                }
            })
            .collect();
        Ok(Self {
            catalog,
            prom: Prometheus::new(&config.prometheus_url, config.timeout.to_std())?,
            store_dir: data_dir.to_owned(),
            out: config.out.clone().unwrap_or_else(|| data_dir.join("reports")),
            retention: config.retention.to_std(),
            jobs,
            deliver: Box::new(FolderOnly),
        })
    }

    /// Writes the reports due at `now` that are not written yet; the paths
    /// written.
    pub(crate) async fn run_due(&self, now: Timestamp) -> anyhow::Result<Vec<PathBuf>> {
        let mut all = Vec::new();
        for (i, job) in self.jobs.iter().enumerate() {
            let period = job.schedule.latest_due(now)?;
            let ids: Vec<String> = match &job.customers {
                Selection::All => self.catalog.customers.iter().map(|c| c.id.as_str().to_owned()).collect(),
                Selection::Ids(ids) => ids.clone(),
            };
            let mut wanted: Vec<String> = Vec::new();
            for f in &job.formats {
                wanted.extend(ids.iter().map(|id| edgewatch_reports::customer_file_name(id, &period.label, *f)));
                if job.noc {
                    wanted.push(edgewatch_reports::review_file_name(&period.label, *f));
                }
            }
            if wanted.iter().all(|name| self.out.join(name).is_file()) {
                continue;
            }
            let store = StoreIncidents::open(&self.store_dir, &self.catalog)
                .with_context(|| format!("cannot read the receiver store {}", self.store_dir.display()))?;
            // The NOC review needs every customer's report.
            let selection = if job.noc { Selection::All } else { job.customers.clone() };
            let reports = edgewatch_reports::build(&self.catalog, &self.prom, &store, &selection, &period, now).await?;
            // Rendering a thousand reports takes seconds of CPU: off the
            // threads that answer webhooks.
            let (out, formats, noc) = (self.out.clone(), job.formats.clone(), job.noc);
            let files = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<PathBuf>> {
                let chosen: Vec<_> = reports.iter().filter(|r| ids.contains(&r.customer.id)).cloned().collect();
                let mut files = edgewatch_reports::write_all(&out, &chosen, &formats)?;
                if noc && let Some(review) = edgewatch_reports::review(&reports, now) {
                    files.extend(edgewatch_reports::write_review(&out, &review, &formats)?);
                }
                Ok(files)
            })
            .await
            .context("the report writer stopped")??;
            self.deliver.written(i, &period, &files);
            all.extend(files);
        }
        Ok(all)
    }

    /// When the next report falls due after `now`.
    fn next_due(&self, now: Timestamp) -> Option<Timestamp> {
        self.jobs.iter().filter_map(|j| j.schedule.next_due(now).ok()).min()
    }

    /// Deletes the report files in the folder last changed before the
    /// retention; how many.
    pub(crate) fn prune(&self, now: SystemTime) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.out) else { return 0 };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let ours = path.extension().is_some_and(|e| ["html", "md", "json"].iter().any(|x| e == *x));
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > self.retention);
            if ours && old && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    /// Runs until `stop` completes: at start (catching up on the latest
    /// period), then at each time a report falls due.
    pub(crate) async fn run(self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let now = Timestamp::now();
            let wait = match self.run_due(now).await {
                Ok(_) => {
                    let removed = self.prune(SystemTime::now());
                    if removed > 0 {
                        tracing::info!(removed, "Old scheduled reports removed.");
                    }
                    let next = self.next_due(now).unwrap_or(now);
                    // At most an hour at a time: a clock that jumps is seen.
                    std::time::Duration::try_from(next.duration_since(now))
                        .unwrap_or_default()
                        .min(std::time::Duration::from_secs(3600))
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), retry_in_s = RETRY.as_secs(), "Scheduled reports failed.");
                    RETRY
                }
            };
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(wait.max(std::time::Duration::from_secs(1))) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str =
        "customers:\n  - id: acme\n    hosts: [acme.example]\n  - id: shop\n    hosts: [shop.example]\n";

    fn config(yaml: &str) -> Config {
        edgewatch_catalog::yaml::from_str(yaml).unwrap()
    }

    /// The weekly schedule against a real, empty Prometheus and an empty
    /// store: at Monday 06:00 in Paris the week just ended is written once
    /// (every customer and the NOC review, in each format); before that
    /// time, the week before; files past the retention are removed, and
    /// nothing else in the folder.
    #[test]
    fn due_reports_are_written_once_and_old_ones_removed() {
        let dir = edgewatch_test_kit::scratch_dir("scheduled-reports");
        let prometheus = edgewatch_test_kit::PrometheusProcess::start(&dir, &dir.join("tsdb"));
        let data = dir.join("data");
        drop(edgewatch_webhook_receiver::DeadLetters::open(&data).unwrap());
        let catalog = edgewatch_catalog::load_str("c.yaml", CATALOG).unwrap().catalog;
        let cfg = config(&format!(
            "prometheus_url: {}\ntimezone: Europe/Paris\nretention: 30d\nschedules:\n  - {{every: week, at: '06:00', noc: true, formats: [md, json]}}\n",
            prometheus.url()
        ));
        assert!(cfg.validate(&catalog, "reports").is_empty());
        let scheduler = Scheduler::new(&cfg, &data, catalog).unwrap();
        let runtime = super::super::runtime::tokio().unwrap();
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        let written = runtime.block_on(scheduler.run_due(at("2026-11-30T05:00:00Z"))).unwrap();
        let names = |paths: &[PathBuf]| {
            let mut n: Vec<String> =
                paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
            n.sort();
            n
        };
        assert_eq!(
            names(&written),
            [
                "acme-2026-W48.json",
                "acme-2026-W48.md",
                "noc-review-2026-W48.json",
                "noc-review-2026-W48.md",
                "shop-2026-W48.json",
                "shop-2026-W48.md"
            ]
        );
        assert!(runtime.block_on(scheduler.run_due(at("2026-11-30T09:00:00Z"))).unwrap().is_empty(), "once");
        let before = runtime.block_on(scheduler.run_due(at("2026-11-30T04:59:00Z"))).unwrap();
        assert!(names(&before).iter().all(|n| n.contains("2026-W47")) && before.len() == 6, "{before:?}");
        drop(prometheus);

        let out = data.join("reports");
        let old = out.join("acme-2025-W01.md");
        std::fs::write(&old, "old").unwrap();
        std::fs::write(out.join("README.txt"), "kept").unwrap();
        let long_ago = SystemTime::now() - std::time::Duration::from_secs(40 * 86_400);
        std::fs::File::options().write(true).open(&old).unwrap().set_modified(long_ago).unwrap();
        std::fs::File::options().write(true).open(out.join("README.txt")).unwrap().set_modified(long_ago).unwrap();
        assert_eq!(scheduler.prune(SystemTime::now()), 1);
        assert!(!old.exists() && out.join("README.txt").exists() && out.join("acme-2026-W48.md").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
