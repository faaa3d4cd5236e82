//! Scheduled reports, run by `edgewatch receiver` beside the webhook when
//! `receiver.yml` has a `reports:` section: at each schedule's time, the
//! reports of the period just ended, from Prometheus and the receiver's
//! own store, into a folder; old report files are deleted after the
//! retention. A report that exists is not written again, so a receiver
//! that was down at the time writes the latest period's reports when it
//! starts (older missed periods: `edgewatch report` by hand).
//!
//! A schedule with `mail:` then mails each report through a catalog
//! `email` destination: a customer's to its contacts (by the destination's
//! roles), the NOC review to `mail.noc`. A `<report>.mailed` file beside
//! the report records what was sent (or refused for good), so each is
//! mailed once; a relay that fails for a while is tried again at the next
//! run, five minutes later.
//!
//! Receivers sharing a PostgreSQL store take turns: one runs the schedules
//! at a time (its turn lasts [`TURN`] and is renewed as it goes; another
//! takes over once it lapses), and the store records each schedule's run
//! and each report mailed, so a receiver taking over neither writes nor
//! mails again what another did. The files are in the folder of the
//! receiver that wrote them.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Context as _;
use edgewatch_catalog::Catalog;
use edgewatch_reports::schedule::{Config, Schedule};
use edgewatch_reports::{Format, Period, Prometheus, Selection};
use jiff::Timestamp;

use edgewatch_webhook_receiver::ReportIncidents as StoreIncidents;
use edgewatch_webhook_receiver::{Config as ReceiverConfig, MailError, Mailer, SharedWork};

/// Where a schedule's reports are mailed.
struct Mail {
    mailer: Mailer,
    /// Who gets the NOC review.
    noc: Vec<String>,
}

struct Job {
    schedule: Schedule,
    customers: Selection,
    noc: bool,
    formats: Vec<Format>,
    mail: Option<Mail>,
}

/// One report to mail: its files, and to whom.
struct Letter {
    /// The first file's name without its extension (`acme-2026-W48`): the
    /// `Message-ID` and the `.mailed` record.
    stem: String,
    to: Vec<String>,
    subject: String,
    files: Vec<PathBuf>,
}

/// The schedules of one receiver.
pub(crate) struct Scheduler {
    catalog: Catalog,
    prom: Prometheus,
    /// The receiver's store, read for incidents.
    incidents: StoreIncidents,
    /// Turns and records shared with the receivers of the same store.
    work: SharedWork,
    out: PathBuf,
    retention: std::time::Duration,
    jobs: Vec<Job>,
}

/// How long a failed run waits before it is tried again.
const RETRY: std::time::Duration = std::time::Duration::from_secs(300);

/// The shared work the schedules are, among receivers sharing a store.
const JOB: &str = "scheduled-reports";
/// How long a turn at the schedules lasts unless renewed (at each
/// schedule and each mail): a receiver that died is taken over after it.
const TURN: std::time::Duration = std::time::Duration::from_secs(900);

/// Another receiver of the same store runs the schedules now.
#[derive(Debug)]
struct NotOurTurn;

impl std::fmt::Display for NotOurTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("another receiver of the store runs the scheduled reports now")
    }
}

impl std::error::Error for NotOurTurn {}

impl Scheduler {
    /// The schedules of `config` (validated), over the store `receiver`
    /// names; the store's and the mail destinations' secrets are read
    /// through `env`.
    pub(crate) fn new(
        config: &Config,
        receiver: &ReceiverConfig,
        catalog: Catalog,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let schedules = config.schedules().context("reports.schedules")?;
        let mut jobs = Vec::new();
        for (i, (c, schedule)) in config.schedules.iter().zip(schedules).enumerate() {
            let mut formats = c.formats.clone();
            formats.sort_unstable();
            formats.dedup();
            let mail = match &c.mail {
                Some(m) => {
                    let Some(edgewatch_catalog::model::Destination::Email(email)) =
                        catalog.destinations.get(m.via.as_str())
                    else {
                        anyhow::bail!("reports.schedules[{i}].mail.via: `{}` is not an email destination", m.via);
                    };
                    let mailer = Mailer::build(&m.via, email, env, config.timeout.to_std())
                        .with_context(|| format!("reports.schedules[{i}].mail"))?;
                    Some(Mail { mailer, noc: m.noc.clone() })
                }
                None => None,
            };
            jobs.push(Job {
                schedule,
                customers: c.customers.clone().map_or(Selection::All, Selection::Ids),
                noc: c.noc,
                formats,
                mail,
            });
        }
        // Opened (and on SQLite created) first, so that it can be read.
        let work = SharedWork::connect(receiver, env)
            .with_context(|| format!("cannot open the receiver store {}", receiver.store_label()))?;
        let incidents = StoreIncidents::connect(receiver, env, &catalog)
            .with_context(|| format!("cannot read the receiver store {}", receiver.store_label()))?;
        Ok(Self {
            catalog,
            prom: Prometheus::new(&config.prometheus_url, config.timeout.to_std())?,
            work,
            incidents,
            out: config.out.clone().unwrap_or_else(|| receiver.data_dir.join("reports")),
            retention: config.retention.to_std(),
            jobs,
        })
    }

    /// Takes or renews this receiver's turn at the schedules; the error
    /// [`NotOurTurn`] when another has it.
    fn take_turn(&self) -> anyhow::Result<()> {
        if self.work.take_turn(JOB, TURN)? { Ok(()) } else { Err(NotOurTurn.into()) }
    }

    /// Writes the reports due at `now` that are not written yet, and mails
    /// them; the paths written.
    pub(crate) async fn run_due(&self, now: Timestamp) -> anyhow::Result<Vec<PathBuf>> {
        let mut all = Vec::new();
        for (i, job) in self.jobs.iter().enumerate() {
            let period = job.schedule.latest_due(now)?;
            // Done (written, and mailed when it mails) by this receiver or
            // another of the store.
            let run = format!("reports: schedule {i}, {}", period.label);
            if self.work.done(&run)?.is_some() {
                continue;
            }
            self.take_turn()?;
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
            if !wanted.iter().all(|name| self.out.join(name).is_file()) {
                all.extend(self.write(i, job, &period, ids.clone(), now).await?);
            }
            if let Some(mail) = &job.mail {
                self.mail(job, mail, &period, &ids).await?;
            }
            self.work.record_done(&run, &format!("by {} at {now}", self.out.display()))?;
        }
        Ok(all)
    }

    /// Writes the reports of `job` for `period`; the paths written.
    async fn write(
        &self,
        i: usize,
        job: &Job,
        period: &Period,
        ids: Vec<String>,
        now: Timestamp,
    ) -> anyhow::Result<Vec<PathBuf>> {
        // The NOC review needs every customer's report.
        let selection = if job.noc { Selection::All } else { job.customers.clone() };
        let reports =
            edgewatch_reports::build(&self.catalog, &self.prom, &self.incidents, &selection, period, now).await?;
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
        tracing::info!(schedule = i, period = %period.label, files = files.len(), "Scheduled reports written.");
        Ok(files)
    }

    /// Mails the reports of `job` for `period` not mailed yet: each
    /// customer's of `ids` to its contacts, the NOC review to `mail.noc`.
    /// A relay failing for a while is an error (the run is tried again);
    /// a refusal for good is recorded and logged, not retried.
    async fn mail(&self, job: &Job, mail: &Mail, period: &Period, ids: &[String]) -> anyhow::Result<()> {
        let files = |name: &dyn Fn(Format) -> String| -> Vec<PathBuf> {
            job.formats.iter().map(|f| self.out.join(name(*f))).collect()
        };
        let mut letters = Vec::new();
        for id in ids {
            let Some(customer) = self.catalog.customer(id) else { continue };
            letters.push(Letter {
                stem: format!("{id}-{}", period.label),
                to: mail.mailer.contacts(customer),
                subject: format!("{}: service report, {}", customer.name, period.label),
                files: files(&|f| edgewatch_reports::customer_file_name(id, &period.label, f)),
            });
        }
        if job.noc && !mail.noc.is_empty() {
            letters.push(Letter {
                stem: format!("noc-review-{}", period.label),
                to: mail.noc.clone(),
                subject: format!("NOC review, {}", period.label),
                files: files(&|f| edgewatch_reports::review_file_name(&period.label, f)),
            });
        }
        let mut failed = 0;
        for letter in letters {
            let record = self.out.join(format!("{}.mailed", letter.stem));
            let mailed = format!("mailed: {}", letter.stem);
            if record.exists() || letter.to.is_empty() || !letter.files.iter().all(|f| f.is_file()) {
                continue;
            }
            if self.work.done(&mailed)?.is_some() {
                continue;
            }
            self.take_turn()?;
            // The Markdown report is the text, when written; else a line.
            let text = match letter.files.iter().find(|f| f.extension().is_some_and(|e| e == "md")) {
                Some(md) => std::fs::read_to_string(md).with_context(|| format!("cannot read {}", md.display()))?,
                None => format!("{}: attached.\n", letter.subject),
            };
            let id = format!("report.{}", letter.stem);
            let done = match mail.mailer.send_report(&letter.to, &id, &letter.subject, &text, &letter.files).await {
                Ok(()) => format!("sent to {} at {}\n", letter.to.join(", "), Timestamp::now()),
                Err(MailError::Send { reason, retry: true }) => {
                    tracing::warn!(report = %letter.stem, error = %reason, "A scheduled report could not be mailed; tried again at the next run.");
                    failed += 1;
                    continue;
                }
                Err(e) => {
                    tracing::error!(report = %letter.stem, error = %e, "A scheduled report was refused; it is not mailed again.");
                    format!("refused: {e}\n")
                }
            };
            self.work.record_done(&mailed, done.trim_end())?;
            std::fs::write(&record, done).with_context(|| format!("cannot write {}", record.display()))?;
        }
        anyhow::ensure!(failed == 0, "{failed} scheduled report(s) could not be mailed yet");
        Ok(())
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
            let ours = path.extension().is_some_and(|e| ["html", "md", "json", "mailed"].iter().any(|x| e == *x));
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
                    // What was done is kept as long as the files.
                    if let Err(e) = self.work.forget_done(self.retention) {
                        tracing::warn!(error = %e, "The records of old scheduled reports could not be removed.");
                    }
                    let next = self.next_due(now).unwrap_or(now);
                    // At most an hour at a time: a clock that jumps is seen.
                    std::time::Duration::try_from(next.duration_since(now))
                        .unwrap_or_default()
                        .min(std::time::Duration::from_secs(3600))
                }
                Err(e) if e.is::<NotOurTurn>() => {
                    tracing::debug!(retry_in_s = RETRY.as_secs(), "Another receiver runs the scheduled reports.");
                    RETRY
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
    use std::path::Path;

    use super::*;

    const CATALOG: &str =
        "customers:\n  - id: acme\n    hosts: [acme.example]\n  - id: shop\n    hosts: [shop.example]\n";

    fn config(yaml: &str) -> Config {
        edgewatch_catalog::yaml::from_str(yaml).unwrap()
    }

    /// A receiver's configuration with its SQLite store in `data`.
    fn on_sqlite(data: &Path) -> ReceiverConfig {
        ReceiverConfig { data_dir: data.to_owned(), ..ReceiverConfig::default() }
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
        let scheduler = Scheduler::new(&cfg, &on_sqlite(&data), catalog, &|_| None).unwrap();
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

    /// Two customers with contacts, an `email` destination to `smtp`, and a
    /// weekly schedule that mails their reports and the NOC review.
    fn mailing(
        smtp: &edgewatch_test_kit::smtp::SmtpServer,
        prometheus: &edgewatch_test_kit::PrometheusProcess,
    ) -> (Catalog, Config) {
        let catalog = format!(
            "destinations:
  mail: {{email: {{host: localhost, port: {}, username: reports, password: 'env:SMTP_PASSWORD', ca_file: '{}', from: reports@edge.example, from_name: Edge NOC, roles: [technical]}}}}
customers:
  - id: acme
    name: Acme Retail
    hosts: [acme.example]
    contacts: [{{name: Ada Byron, email: ada@acme.example, role: technical}}, {{name: Bill Payer, email: bill@acme.example, role: billing}}]
  - id: shop
    hosts: [shop.example]
    contacts: [{{name: Sam Shop, email: sam@shop.example, role: Technical}}]
",
            smtp.port,
            smtp.ca_file.display()
        );
        let catalog = edgewatch_catalog::load_str("c.yaml", &catalog).unwrap().catalog;
        let cfg = config(&format!(
            "prometheus_url: {}\nschedules:\n  - {{every: week, noc: true, formats: [md, html], mail: {{via: mail, noc: [noc@edge.example]}}}}\n",
            prometheus.url()
        ));
        assert_eq!(cfg.validate(&catalog, "reports"), Vec::<String>::new());
        (catalog, cfg)
    }

    /// Two receivers sharing a PostgreSQL store, both running the weekly
    /// schedule at the same time: one of them writes the week's reports
    /// and mails each once; the other writes and mails nothing, then or
    /// later, and neither does a second run.
    #[test]
    fn receivers_sharing_a_store_write_and_mail_each_report_once() {
        let dir = edgewatch_test_kit::scratch_dir("scheduled-reports-shared");
        let prometheus = edgewatch_test_kit::PrometheusProcess::start(&dir, &dir.join("tsdb"));
        let smtp = edgewatch_test_kit::smtp::SmtpServer::start("scheduled-reports-shared", "reports", "smtp-secret");
        let postgres = edgewatch_test_kit::postgres::PostgresServer::start("scheduled-reports-shared");
        let (catalog, cfg) = mailing(&smtp, &prometheus);
        let env = |k: &str| (k == "SMTP_PASSWORD").then(|| "smtp-secret".to_owned());
        let receiver = |name: &str| ReceiverConfig {
            store: Some(postgres.url()),
            data_dir: dir.join(name),
            ..ReceiverConfig::default()
        };
        let (a, b) = (receiver("a"), receiver("b"));
        let runtime = super::super::runtime::tokio().unwrap();
        let schedulers = [&a, &b].map(|r| Scheduler::new(&cfg, r, catalog.clone(), &env).unwrap());
        let at = "2026-11-30T07:00:00Z".parse::<Timestamp>().unwrap();

        let (first, second) =
            runtime.block_on(async { tokio::join!(schedulers[0].run_due(at), schedulers[1].run_due(at)) });
        // The one whose turn it was not: told so, or it found the run done.
        let outcomes = [first, second].map(|r| match r {
            Ok(written) => written.len(),
            Err(e) => {
                assert!(e.is::<NotOurTurn>(), "{e:#}");
                0
            }
        });
        let mut sorted = outcomes;
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 6], "one receiver wrote the 3 reports in 2 formats: {outcomes:?}");
        let by = usize::from(outcomes[1] == 6);
        assert!(![&a, &b][1 - by].data_dir.join("reports/acme-2026-W48.md").exists());
        let mailed = || {
            let mut subjects: Vec<String> = smtp.wait_for(3).iter().map(|m| m.header("Subject").to_owned()).collect();
            subjects.sort();
            subjects
        };
        let week = ["Acme Retail: service report, 2026-W48", "NOC review, 2026-W48", "shop: service report, 2026-W48"];
        assert_eq!(mailed(), week);

        // Later runs of either, the week done: nothing written or mailed.
        let later = "2026-11-30T09:00:00Z".parse::<Timestamp>().unwrap();
        for scheduler in &schedulers {
            assert_eq!(runtime.block_on(scheduler.run_due(later)).unwrap(), Vec::<PathBuf>::new());
        }
        assert_eq!(mailed(), week);
        drop((prometheus, postgres));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A schedule with `mail:` mails each customer's report to its
    /// contacts (by the destination's roles) and the NOC review to
    /// `mail.noc`, through a real SMTP server (STARTTLS, a login): the
    /// Markdown as the text, every format attached; once, also across
    /// runs; a relay failing for a while fails the run, and the next run
    /// mails what is left.
    #[test]
    fn scheduled_reports_are_mailed_once_to_the_contacts_and_the_noc() {
        let dir = edgewatch_test_kit::scratch_dir("scheduled-reports-mail");
        let prometheus = edgewatch_test_kit::PrometheusProcess::start(&dir, &dir.join("tsdb"));
        let smtp = edgewatch_test_kit::smtp::SmtpServer::start("scheduled-reports", "reports", "smtp-secret");
        let data = dir.join("data");
        drop(edgewatch_webhook_receiver::DeadLetters::open(&data).unwrap());
        let (catalog, cfg) = mailing(&smtp, &prometheus);
        let env = |k: &str| (k == "SMTP_PASSWORD").then(|| "smtp-secret".to_owned());
        let scheduler = Scheduler::new(&cfg, &on_sqlite(&data), catalog, &env).unwrap();
        let runtime = super::super::runtime::tokio().unwrap();
        let at = |t: &str| t.parse::<Timestamp>().unwrap();

        runtime.block_on(scheduler.run_due(at("2026-11-30T07:00:00Z"))).unwrap();
        let mails = smtp.wait_for(3);
        let mut got: Vec<(Vec<String>, &str, Vec<String>)> =
            mails.iter().map(|m| (m.to.clone(), m.header("Subject"), m.attachments.clone())).collect();
        got.sort();
        assert_eq!(
            got,
            [
                (
                    vec!["ada@acme.example".to_owned()],
                    "Acme Retail: service report, 2026-W48",
                    vec!["acme-2026-W48.html".to_owned(), "acme-2026-W48.md".to_owned()]
                ),
                (
                    vec!["noc@edge.example".to_owned()],
                    "NOC review, 2026-W48",
                    vec!["noc-review-2026-W48.html".to_owned(), "noc-review-2026-W48.md".to_owned()]
                ),
                (
                    vec!["sam@shop.example".to_owned()],
                    "shop: service report, 2026-W48",
                    vec!["shop-2026-W48.html".to_owned(), "shop-2026-W48.md".to_owned()]
                ),
            ]
        );
        let acme = mails.iter().find(|m| m.to == ["ada@acme.example"]).unwrap();
        let md = std::fs::read_to_string(data.join("reports/acme-2026-W48.md")).unwrap();
        assert_eq!(acme.body.trim_end(), md.trim_end(), "the Markdown report is the text");
        assert!(acme.tls && acme.login.as_deref() == Some("reports"));
        assert_eq!(acme.header("Message-ID"), "<report.acme-2026-W48@edge.example>");

        // Once: a later run mails nothing more.
        runtime.block_on(scheduler.run_due(at("2026-11-30T09:00:00Z"))).unwrap();
        assert_eq!(smtp.mails().len(), 3);

        // The next week, the relay fails for a while: the run fails, and
        // the next one mails what is left, each report once.
        smtp.fail_next(1, 451, "4.3.0 try again later");
        let failed = runtime.block_on(scheduler.run_due(at("2026-12-07T07:00:00Z"))).unwrap_err();
        assert!(format!("{failed:#}").contains("1 scheduled report(s) could not be mailed yet"), "{failed:#}");
        runtime.block_on(scheduler.run_due(at("2026-12-07T07:05:00Z"))).unwrap();
        // Seven in all: the first week's three, the refused one, and this
        // week's three. The relay's record of a mail may lag its answer
        // (`SmtpServer::wait_for`), so waiting for fewer could stop before
        // the last one is seen.
        let week: Vec<_> = smtp
            .wait_for(7)
            .into_iter()
            .filter(|m| m.code == 250 && m.header("Subject").ends_with("2026-W49"))
            .collect();
        assert_eq!(week.len(), 3, "each of the week's reports once");
        assert!(data.join("reports/acme-2026-W49.mailed").is_file());
        drop(prometheus);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
